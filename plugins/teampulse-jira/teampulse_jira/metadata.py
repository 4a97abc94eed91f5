"""What a collection needs to know about the server before it searches, kept for the process.

serverInfo (Cloud or Data Center), myself (the time zone JQL dates are read in), status (status
id -> category) and field (the sprint field) change rarely: a process reads them once and again
when they are older than MAX_AGE, so a quiet cycle costs its search alone. A status id that
the kept list does not know makes the collection read the list again (see the source).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .client import ServerInfo
from .translate import SPRINT_SCHEMA

__all__ = ["MAX_AGE", "ServerFacts", "sprint_field", "zone"]

MAX_AGE = timedelta(hours=6)


@dataclass
class ServerFacts:
    """The server's settings as last read, and when (the collection's time)."""

    info: ServerInfo
    zone: tzinfo
    statuses: list[Any]
    fields: list[Any]
    read_at: datetime

    def fresh(self, now: datetime) -> bool:
        """Say whether these facts may serve a collection at `now`."""
        return self.read_at <= now < self.read_at + MAX_AGE


def zone(name: object) -> tzinfo:
    """Return the time zone a `myself` reply names, UTC if none or unknown."""
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def sprint_field(fields: Sequence[Any]) -> str | None:
    """Return the id of the Sprint custom field in a `field` reply, if any."""
    return next(
        (
            str(f["id"])
            for f in fields
            if isinstance(f, Mapping) and (f.get("schema") or {}).get("custom") == SPRINT_SCHEMA and "id" in f
        ),
        None,
    )
