"""The source's cursor: per team, the sync position, its issue ids and projects, the last reconciliation.

Format (JSON-safe, versioned):
    {"v": 3,
     "teams": {"payments": {"jql": "3f2a9c1e0b7d", "updated": "2026-03-15T12:00:00+00:00",
                            "ids": "7ps.1.2.1b", "reconciled": "2026-03-15T00:00:00+00:00",
                            "projects": ["10000"]}},
     "recent": {"5d41402abc4b": {"10042": 1773662400000}}}
`ids` is the set of issue ids, sorted, as base-36 deltas joined by "." (about 3 bytes an issue),
in one or more such runs joined by "|" (the ids each page added, merged now and then);
`projects` the ids of the projects those issues are in; `recent`, per combined query (a digest of
its teams), the issues it read within the overlap window with their `updated` (epoch ms), so the
next cycle's re-read of that window skips them while they are unchanged.

Version 2 had no `projects` and no `recent`: it reads as version 3 with both empty (the next
cycle re-reads its overlap window once). Version 1 keeps its ids but syncs every team afresh.
"""

from __future__ import annotations

import hashlib
import itertools
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "VERSION",
    "TeamCursor",
    "decode_ids",
    "domain_digest",
    "dump_recent",
    "encode_ids",
    "jql_digest",
    "load_recent",
    "load_teams",
]

VERSION = 3
HEALED = frozenset({2})  # read whole: what they lack starts empty
LEGACY = frozenset({1})  # read for their ids, then synced afresh


def encode_ids(ids: Iterable[int]) -> str:
    """Encode a set of integer ids compactly."""
    values = sorted(ids)
    if not values:
        return ""
    # A sync encodes every id several times (TeamCursor.add merges runs): the deltas come from
    # C code and the common ones (under 36 * 36) from a table.
    small = _SMALL
    return ".".join(
        [
            small[delta] if 0 <= delta < _SMALL_LIMIT else _b36(delta)
            for delta in map(operator.sub, values, [0, *values[:-1]])
        ]
    )


def decode_ids(text: str) -> set[int]:
    """Decode what encode_ids wrote, or several such runs joined by "|"."""
    result: set[int] = set()
    for run in text.split("|"):
        if run:
            result.update(itertools.accumulate(map(int, run.split("."), itertools.repeat(36))))
    return result


def _b36(value: int) -> str:
    if value < 36:
        return "0123456789abcdefghijklmnopqrstuvwxyz"[value]
    digits = []
    while value:
        value, rest = divmod(value, 36)
        digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[rest])
    return "".join(reversed(digits))


_SMALL_LIMIT = 36 * 36
_SMALL = [_b36(value) for value in range(_SMALL_LIMIT)]


def jql_digest(jql: str) -> str:
    """Return a short digest of a team's JQL, so a changed query starts a fresh sync."""
    return hashlib.sha256(jql.encode()).hexdigest()[:12]


def domain_digest(teams: Iterable[tuple[str, str]]) -> str:
    """Return a short digest of the (name, JQL digest) pairs a combined query serves."""
    text = "\n".join(f"{name}\t{digest}" for name, digest in sorted(teams))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class TeamCursor:
    """One team's sync state while a collection runs.

    The encoded ids are kept as runs: the ids a page adds are encoded once, as a run of their
    own, so a cursor committed with every page costs about the page's ids, not the team's (a
    combined search adds a few ids to many teams on each page). A run is merged into the one
    before it once that is no larger, so there are about log2(ids) runs and each id is encoded
    about log2(ids) times in all; a removal encodes the whole set again (removals are rare).
    """

    jql: str
    updated: datetime | None = None
    ids: set[int] = field(default_factory=set)
    reconciled: datetime | None = None
    projects: set[str] = field(default_factory=set)
    _runs: list[str] | None = None  # None: encode the whole set again
    _sizes: list[int] = field(default_factory=list)  # ids per run

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-safe form."""
        if self._runs is None:
            self._runs = [encode_ids(self.ids)] if self.ids else []
            self._sizes = [len(self.ids)] if self.ids else []
        return {
            "jql": self.jql,
            "updated": self.updated.isoformat() if self.updated else None,
            "ids": "|".join(self._runs),
            "reconciled": self.reconciled.isoformat() if self.reconciled else None,
            "projects": sorted(self.projects),
        }

    def add(self, ids: Iterable[int]) -> None:
        """Add emitted issue ids."""
        new = {i for i in ids if i not in self.ids}
        if not new:
            return
        self.ids.update(new)
        runs, sizes = self._runs, self._sizes
        if runs is None:
            return
        runs.append(encode_ids(new))
        sizes.append(len(new))
        while len(runs) >= 2 and sizes[-2] <= sizes[-1]:
            merged = decode_ids(runs[-2]) | decode_ids(runs[-1])
            runs[-2:] = [encode_ids(merged)]
            sizes[-2:] = [len(merged)]

    def discard(self, ids: Iterable[int]) -> None:
        """Forget removed issue ids."""
        before = len(self.ids)
        self.ids.difference_update(ids)
        if len(self.ids) != before:
            self._runs = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TeamCursor:
        """Read one team's entry; a malformed entry starts the team afresh."""
        try:
            projects = raw.get("projects") or []
            runs = str(raw.get("ids") or "").split("|")
            return cls(
                jql=str(raw["jql"]),
                updated=datetime.fromisoformat(raw["updated"]) if raw.get("updated") else None,
                ids=decode_ids(str(raw.get("ids") or "")),
                reconciled=datetime.fromisoformat(raw["reconciled"]) if raw.get("reconciled") else None,
                projects={str(p) for p in projects} if isinstance(projects, list) else set(),
                _runs=[run for run in runs if run],
                _sizes=[run.count(".") + 1 for run in runs if run],
            )
        except (KeyError, TypeError, ValueError):
            return cls(jql="")


def _version(cursor: Mapping[str, Any] | None) -> int | None:
    """Return a cursor's version if this source reads it, else None."""
    if not cursor:
        return None
    version = cursor.get("v")
    return version if isinstance(version, int) and version in LEGACY | HEALED | {VERSION} else None


def load_teams(cursor: Mapping[str, Any] | None) -> dict[str, TeamCursor]:
    """Read the per-team state from a committed cursor (None or an unknown version: nothing).

    A version-1 cursor was written while a Jira user's identity could depend on the order users
    were met in (one person stored under two pseudonyms): its teams keep their known ids (for
    reconciliation) but lose their JQL digest, so the next sync reads each team's window afresh
    and every re-read item is stored again under the stable identities.
    """
    version = _version(cursor)
    if version is None or cursor is None or not isinstance(cursor.get("teams"), Mapping):
        return {}
    teams = {
        str(name): TeamCursor.from_json(raw)
        for name, raw in cursor["teams"].items()
        if isinstance(raw, Mapping)
    }
    if version in LEGACY:
        for tc in teams.values():
            tc.jql = ""
    return teams


def load_recent(cursor: Mapping[str, Any] | None) -> dict[str, dict[int, int]]:
    """Read the issues each combined query read within its overlap window (nothing before version 3)."""
    if _version(cursor) != VERSION or cursor is None:
        return {}
    raw = cursor.get("recent")
    result: dict[str, dict[int, int]] = {}
    if not isinstance(raw, Mapping):
        return result
    for digest, entries in raw.items():
        if not isinstance(entries, Mapping):
            continue
        try:
            result[str(digest)] = {int(ident): int(ms) for ident, ms in entries.items()}
        except (TypeError, ValueError):
            continue
    return result


def dump_recent(recent: Mapping[str, Mapping[int, int]]) -> dict[str, dict[str, int]]:
    """Return the JSON-safe form of load_recent's mapping."""
    return {digest: {str(i): ms for i, ms in sorted(entries.items())} for digest, entries in recent.items()}
