"""The fewest requests a sync needs (the API minimum), and where a sync spent more."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PAGE = 100  # Cloud serves at most 100 issues per search page when fields are asked for
BULKFETCH = 1000  # changelog/bulkfetch takes up to 1,000 issues, of any project...
BULKFETCH_HISTORIES = 10_000  # ...and returns at most 10,000 change histories a page
# Once per sync: serverInfo (Cloud or Data Center), myself (the time zone of JQL dates),
# status (status categories), field (the sprint field).
FIXED = {"serverInfo": 1, "myself": 1, "status": 1, "field": 1}


@dataclass(frozen=True)
class Minimum:
    """The fewest requests that read every team's issues with whole changelogs."""

    pages: int
    bulkfetch: int

    @property
    def total(self) -> int:
        """Return every request counted."""
        return sum(FIXED.values()) + self.pages + self.bulkfetch

    def by_endpoint(self) -> dict[str, int]:
        """Return the minimum per endpoint, named as `short()` names them."""
        return {**FIXED, "search/jql": self.pages, "changelog/bulkfetch": self.bulkfetch}


def minimum(issues_per_team: Iterable[int], capped: int, capped_histories: int) -> Minimum:
    """Return the minimum for teams of these sizes, `capped` issues having cut changelogs.

    One search over every team's issues (their JQL joined with OR; the teams here share no
    issue), 100 issues a page; the cut changelogs (`capped_histories` entries in all) in as
    few bulkfetch pages as they fit.
    """
    pages = max(1, math.ceil(sum(issues_per_team) / PAGE))
    bulk = max(math.ceil(capped / BULKFETCH), math.ceil(capped_histories / BULKFETCH_HISTORIES))
    return Minimum(pages, bulk)


def short(endpoint: str) -> str:
    """Return "search/jql" for "GET /rest/api/2/search/jql"."""
    path = endpoint.split(" ", 1)[-1]
    parts = path.split("/", 4)
    return parts[4] if len(parts) == 5 and path.startswith("/rest/api/") else path


def by_short(by_endpoint: Mapping[str, int]) -> dict[str, int]:
    """Return the emulator's counts keyed by short endpoint names."""
    counts: dict[str, int] = {}
    for endpoint, n in by_endpoint.items():
        counts[short(endpoint)] = counts.get(short(endpoint), 0) + int(n)
    return counts


def excess(by_endpoint: Mapping[str, int], least: Minimum) -> str:
    """Return the requests per endpoint against its minimum, those most past it first."""
    made = by_short(by_endpoint)
    wanted = least.by_endpoint()
    rows = sorted(
        ((made.get(name, 0) - wanted.get(name, 0), name) for name in {*made, *wanted}),
        key=lambda row: (-row[0], row[1]),
    )
    return "; ".join(f"{name} {made.get(name, 0):,} (minimum {wanted.get(name, 0):,})" for _, name in rows)


def per_team(by_endpoint: Mapping[str, int], teams: int) -> str:
    """Return a cycle's requests as per-team rates and once-per-cycle counts."""
    made = by_short(by_endpoint)
    each = [f"{name} {n / teams:.2g} per team" for name, n in sorted(made.items()) if n >= teams]
    once = [f"{name} {n}" for name, n in sorted(made.items()) if n < teams]
    return "; ".join(each + (["once: " + ", ".join(once)] if once else []))
