"""Whole changelogs where a search cut them: Cloud's bulkfetch, Data Center's issue changelog."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from teampulse import SourceError

from .client import Transport

__all__ = [
    "BULKFETCH_MAX_HISTORIES",
    "BULKFETCH_MAX_ISSUES",
    "CHANGELOG_PAGE",
    "Changelogs",
    "split_truncated",
]

BULKFETCH_MAX_ISSUES = 1000
BULKFETCH_MAX_HISTORIES = 10000  # histories per bulkfetch page: the documented maximum
CHANGELOG_PAGE = 100


def split_truncated(page: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """Split a page into issues with complete changelogs and those the search truncated."""
    complete: list[Any] = []
    truncated: list[Any] = []
    for issue in page:
        log = issue.get("changelog") or {}
        total = log.get("total")
        if isinstance(total, int) and total > len(log.get("histories") or ()):
            truncated.append(issue)
        else:
            complete.append(issue)
    return complete, truncated


class Changelogs:
    """Fetch the histories a search left out; `endpoint` says whether issue/{id}/changelog exists."""

    def __init__(self, transport: Transport, endpoint: bool = True) -> None:
        self.transport = transport
        self.endpoint = endpoint  # older Data Center lacks issue/{id}/changelog

    def bulkfetch(self, ids: list[str]) -> dict[str, list[Any]]:
        """Return the whole histories of up to any number of issues, 1,000 a request (Cloud)."""
        result: dict[str, list[Any]] = {}
        wanted = set(ids)
        tokens: set[str] = set()
        for at in range(0, len(ids), BULKFETCH_MAX_ISSUES):
            body: dict[str, Any] = {
                "issueIdsOrKeys": ids[at : at + BULKFETCH_MAX_ISSUES],
                "maxResults": BULKFETCH_MAX_HISTORIES,
            }
            while True:
                # The client does not wrap this Cloud-only v3 endpoint. No fieldIds filter: change
                # ids carry the item's index within its history, which a filter would shift.
                reply = _dict(
                    self.transport,
                    self.transport.post("changelog", "changelog/bulkfetch", body, api="3"),
                )
                for log in reply.get("issueChangeLogs") or ():
                    issue_id = str(log.get("issueId"))
                    if issue_id in wanted:
                        result.setdefault(issue_id, []).extend(log.get("changeHistories") or ())
                token = reply.get("nextPageToken")
                if not token:
                    break
                text = str(token)
                if text in tokens:
                    raise SourceError(
                        f"{self.transport.host}: changelog: the server sent the same page token twice"
                    )
                tokens.add(text)
                body = {**body, "nextPageToken": text}
        return result

    def issues(self, truncated: Sequence[Any]) -> dict[str, list[Any]]:
        """Fetch, issue by issue, the changelogs a Data Center search truncated (rare: it sends all)."""
        result: dict[str, list[Any]] = {}
        for issue in truncated:
            histories = self.issue(str(issue["id"]))
            if histories is not None:
                result[issue["id"]] = histories
        return result

    def issue(self, issue_id: str) -> list[Any] | None:
        """Page through issue/{id}/changelog, or expand the issue where that endpoint is missing."""
        get = self.transport.get
        if self.endpoint:
            histories: list[Any] = []
            start = 0
            while True:
                params = {"startAt": start, "maxResults": CHANGELOG_PAGE}
                reply = get("changelog", f"issue/{issue_id}/changelog", params, missing_ok=True)
                if reply is None:
                    break
                page = _dict(self.transport, reply)
                values = page.get("values", page.get("histories")) or []
                histories.extend(values)
                start += len(values)
                total = page.get("total")
                if not values or page.get("isLast") is True or (isinstance(total, int) and start >= total):
                    return histories
        reply = get(
            "changelog", f"issue/{issue_id}", {"fields": "status", "expand": "changelog"}, missing_ok=True
        )
        if reply is None:
            return None  # the issue is gone: keep what the search returned
        # The issue exists, so the 404 above meant the endpoint is missing on this server.
        self.endpoint = False
        return list((_dict(self.transport, reply).get("changelog") or {}).get("histories") or [])


def _dict(transport: Transport, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SourceError(f"{transport.host}: changelog: unexpected reply")
    return value
