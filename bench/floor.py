"""The decode floor: json.loads of every reply a first sync must read, fetched apart from it."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.jira_requests import BULKFETCH, BULKFETCH_HISTORIES, PAGE, Minimum, minimum

# What the Jira source asks a search for (teampulse_jira.source.SEARCH_FIELDS and the sprint field).
FIELDS = "status,created,updated,duedate,assignee,resolutiondate,customfield_10020"
AUTH = {
    "Authorization": "Basic YmVuY2hAYmVuY2guZXhhbXBsZTpiZW5jaC10b2tlbg==",
    "Content-Type": "application/json",
}


@dataclass
class Floor:
    """The replies of one first sync and what they hold."""

    bodies: list[bytes] = field(default_factory=list)
    issues_per_team: list[int] = field(default_factory=list)
    cut: list[int] = field(default_factory=list)  # per cut changelog, its entries

    @property
    def issues(self) -> int:
        """Return the issues the searches returned."""
        return sum(self.issues_per_team)

    def minimum(self) -> Minimum:
        """Return the API minimum of reading these issues whole."""
        return minimum(self.issues_per_team, len(self.cut), sum(self.cut))

    def seconds(self, repeats: int = 3) -> float:
        """Return the CPU seconds of json.loads over every reply, each reply's best of `repeats`.

        The best of several is a property of the replies, not of what else the machine did.
        """
        total = 0.0
        for body in self.bodies:
            best = float("inf")
            for _ in range(repeats):
                started = time.process_time()
                json.loads(body)
                best = min(best, time.process_time() - started)
            total += best
        return total


def _request(url: str, body: dict[str, Any] | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=AUTH, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=120) as reply:
        return bytes(reply.read())


def fetch(url: str, queries: Sequence[str]) -> Floor:
    """Read every team's issues with changelogs, and the cut changelogs in bulk, keeping the bodies."""
    floor = Floor()
    cut_ids: list[str] = []
    for jql in queries:
        token: str | None = None
        count = 0
        while True:
            params = {
                "jql": f"{jql} ORDER BY updated ASC",
                "fields": FIELDS,
                "expand": "changelog",
                "maxResults": str(PAGE),
            }
            if token:
                params["nextPageToken"] = token
            body = _request(f"{url}/rest/api/3/search/jql?{urllib.parse.urlencode(params)}")
            floor.bodies.append(body)
            page = json.loads(body)
            count += len(page["issues"])
            for issue in page["issues"]:
                log = issue.get("changelog") or {}
                if log.get("total", 0) > len(log.get("histories", [])):
                    floor.cut.append(int(log["total"]))
                    cut_ids.append(str(issue["id"]))
            token = page.get("nextPageToken")
            if page.get("isLast", not token) or not token:
                break
        floor.issues_per_team.append(count)
    for at in range(0, len(cut_ids), BULKFETCH):
        request: dict[str, Any] = {
            "issueIdsOrKeys": cut_ids[at : at + BULKFETCH],
            "maxResults": BULKFETCH_HISTORIES,
        }
        while True:
            body = _request(f"{url}/rest/api/3/changelog/bulkfetch", request)
            floor.bodies.append(body)
            token = json.loads(body).get("nextPageToken")
            if not token:
                break
            request = {**request, "nextPageToken": token}
    return floor
