"""The source's cursor: per team, the sync position, the known issue ids and the last reconciliation.

Format (JSON-safe, versioned):
    {"v": 2, "teams": {"payments": {"jql": "3f2a9c1e0b7d", "updated": "2026-03-15T12:00:00+00:00",
                                    "ids": "7ps.1.2.1b", "reconciled": "2026-03-15T00:00:00+00:00"}}}
`ids` is the sorted set of issue ids, as base-36 deltas joined by "." (about 3 bytes an issue).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["VERSION", "TeamCursor", "decode_ids", "encode_ids", "jql_digest", "load_teams"]

VERSION = 2
LEGACY = frozenset({1})  # older cursor versions read for their ids, then synced afresh


def encode_ids(ids: Iterable[int]) -> str:
    """Encode a set of integer ids compactly."""
    out = []
    previous = 0
    for value in sorted(ids):
        out.append(_b36(value - previous))
        previous = value
    return ".".join(out)


def decode_ids(text: str) -> set[int]:
    """Decode what encode_ids wrote."""
    result: set[int] = set()
    value = 0
    if text:
        for part in text.split("."):
            value += int(part, 36)
            result.add(value)
    return result


def _b36(value: int) -> str:
    if value < 36:
        return "0123456789abcdefghijklmnopqrstuvwxyz"[value]
    digits = []
    while value:
        value, rest = divmod(value, 36)
        digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[rest])
    return "".join(reversed(digits))


def jql_digest(jql: str) -> str:
    """Return a short digest of a team's JQL, so a changed query starts a fresh sync."""
    return hashlib.sha256(jql.encode()).hexdigest()[:12]


@dataclass
class TeamCursor:
    """One team's sync state while a collection runs."""

    jql: str
    updated: datetime | None = None
    ids: set[int] = field(default_factory=set)
    reconciled: datetime | None = None
    _encoded: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-safe form, re-encoding the id set only when it changed."""
        if self._encoded is None:
            self._encoded = encode_ids(self.ids)
        return {
            "jql": self.jql,
            "updated": self.updated.isoformat() if self.updated else None,
            "ids": self._encoded,
            "reconciled": self.reconciled.isoformat() if self.reconciled else None,
        }

    def add(self, ids: Iterable[int]) -> None:
        """Add emitted issue ids."""
        before = len(self.ids)
        self.ids.update(ids)
        if len(self.ids) != before:
            self._encoded = None

    def discard(self, ids: Iterable[int]) -> None:
        """Forget removed issue ids."""
        self.ids.difference_update(ids)
        self._encoded = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TeamCursor:
        """Read one team's entry; a malformed entry starts the team afresh."""
        try:
            return cls(
                jql=str(raw["jql"]),
                updated=datetime.fromisoformat(raw["updated"]) if raw.get("updated") else None,
                ids=decode_ids(str(raw.get("ids") or "")),
                reconciled=datetime.fromisoformat(raw["reconciled"]) if raw.get("reconciled") else None,
                _encoded=str(raw.get("ids") or ""),
            )
        except (KeyError, TypeError, ValueError):
            return cls(jql="")


def load_teams(cursor: Mapping[str, Any] | None) -> dict[str, TeamCursor]:
    """Read the per-team state from a committed cursor (None or an unknown version: nothing).

    A version-1 cursor was written while a Jira user's identity could depend on the order users
    were met in (one person stored under two pseudonyms): its teams keep their known ids (for
    reconciliation) but lose their JQL digest, so the next sync reads each team's window afresh
    and every re-read item is stored again under the stable identities.
    """
    if (
        not cursor
        or cursor.get("v") not in LEGACY | {VERSION}
        or not isinstance(cursor.get("teams"), Mapping)
    ):
        return {}
    teams = {
        str(name): TeamCursor.from_json(raw)
        for name, raw in cursor["teams"].items()
        if isinstance(raw, Mapping)
    }
    if cursor.get("v") != VERSION:
        for tc in teams.values():
            tc.jql = ""
    return teams
