"""The naive peer: what Jira exporters do, with the `jira` client the Jira plugin also uses.

One `enhanced_search_issues(jql, expand="changelog")` per team, every page of it, every cycle:
nothing is remembered between cycles but the client (its session and field cache). It asks for
the fields teampulse asks for (an exporter of the same metrics needs no more; the client's
default, every field, costs it several times the CPU), keeps the issues as the client returns
them and computes nothing from them, so its CPU is a floor for such an exporter. Like most
exporters it reads changelogs as the search returns them: Cloud's cut at the newest 100
entries is not topped up (teampulse fetches the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jira import JIRA

from bench.floor import FIELDS


@dataclass
class Fetched:
    """What one cycle of the peer read, per team query."""

    issues: dict[str, list[Any]] = field(default_factory=dict)

    def count(self) -> int:
        """Return the issues read."""
        return sum(len(found) for found in self.issues.values())


class NaivePeer:
    """A naive exporter's collection: everything, one query per team, every cycle."""

    def __init__(
        self,
        url: str,
        fields: str | None = FIELDS,
        email: str = "bench@bench.example",
        token: str = "bench-token",
    ) -> None:
        self.url = url
        self.fields = fields  # None: the client's default, every field
        self.auth = (email, token)
        self.client: JIRA | None = None

    def cycle(self, queries: Sequence[str]) -> Fetched:
        """Fetch every issue of every query with its changelog (connecting on the first cycle)."""
        if self.client is None:
            self.client = JIRA(server=self.url, basic_auth=self.auth)
        fetched = Fetched()
        for jql in queries:
            # maxResults=0: every page (100 issues each), as exporters that want "everything" ask.
            found = self.client.enhanced_search_issues(
                jql, fields=self.fields, expand="changelog", maxResults=0
            )
            fetched.issues[jql] = list(found)
        return fetched

    def close(self) -> None:
        """Release the client's connections."""
        if self.client is not None:
            self.client.close()
            self.client = None


def cut_changelog(issue: Any) -> int:
    """Return how many entries the issue's changelog has if Cloud cut it in the search, else 0."""
    log = issue.raw.get("changelog") or {}
    total = int(log.get("total", 0))
    return total if total > len(log.get("histories", [])) else 0
