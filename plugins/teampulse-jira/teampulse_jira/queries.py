"""Combined JQL: many teams' queries in one search, cut into batches only where its length demands.

Length limits. Atlassian documents that a JQL "too large to be encoded as a query parameter"
must be sent with POST (search/jql on Cloud, search on Data Center) without saying how large
that is: proxies and servers commonly refuse URLs past 2-8 KB (Tomcat, under Data Center,
takes 8 KB of request headers by default). A JQL longer than GET_MAX_JQL_CHARS therefore goes
in a POST body. A POSTed JQL has no documented maximum either, but Jira Cloud fails queries
with thousands of operands inside its search engine ("the range starts around the few
thousands of operands", JRACLOUD-84010): a combined query holds at most MAX_JQL_CHARS
characters of teams' JQL (about a thousand `project = KEY` teams, one operand each), and an id
list at most MAX_IDS operands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from typing import TypeVar

from .timeparse import format_jql

__all__ = [
    "GET_MAX_JQL_CHARS",
    "MAX_IDS",
    "MAX_JQL_CHARS",
    "ORDER",
    "batches",
    "either",
    "full_query",
    "ids_in",
    "incremental_query",
]

T = TypeVar("T")

GET_MAX_JQL_CHARS = 1_500  # URL-encoded, with the other parameters, well under 4 KB
MAX_JQL_CHARS = 20_000
MAX_IDS = 500
ORDER = " ORDER BY updated ASC, key ASC"
# What a team adds to a combined query besides its own JQL: "(...) OR ", and room for the
# time conditions and id lists the query wraps around the teams.
TEAM_OVERHEAD = 6
RESERVE = 2_000


def either(bases: Iterable[str]) -> str:
    """Return `(jql_1) OR (jql_2) ...`."""
    return " OR ".join(f"({base})" for base in bases)


def _group(bases: Sequence[str]) -> str:
    """Return the teams' JQL as one operand: `(jql)`, or `((jql_1) OR (jql_2) ...)`."""
    return either(bases) if len(bases) == 1 else f"({either(bases)})"


def _date(moment: datetime, zone: tzinfo) -> str:
    return f'"{format_jql(moment, zone)}"'


def incremental_query(groups: Sequence[tuple[Sequence[str], datetime]], zone: tzinfo) -> str:
    """Return the query for teams' changes: per group of teams, their JQL updated since its moment."""
    parts = [f"{_group(bases)} AND updated >= {_date(since, zone)}" for bases, since in groups]
    where = parts[0] if len(parts) == 1 else " OR ".join(f"({part})" for part in parts)
    return where + ORDER


def full_query(bases: Sequence[str], since: datetime, zone: tzinfo) -> str:
    """Return a first sync's query: the teams' issues updated since `since`, and every open one."""
    return f"{_group(bases)} AND (updated >= {_date(since, zone)} OR statusCategory != Done)" + ORDER


def ids_in(ids: Iterable[int]) -> str:
    """Return `id in (...)` for a non-empty set of issue ids."""
    return f"id in ({', '.join(str(i) for i in sorted(ids))})"


def batches(
    items: Sequence[T], length: Callable[[T], int], limit: int = MAX_JQL_CHARS - RESERVE
) -> list[list[T]]:
    """Cut items, in order, into runs whose lengths (plus the per-team overhead) stay within limit."""
    out: list[list[T]] = []
    current: list[T] = []
    size = 0
    for item in items:
        cost = length(item) + TEAM_OVERHEAD
        if current and size + cost > limit:
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += cost
    if current:
        out.append(current)
    return out
