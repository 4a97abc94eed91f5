"""Parse and format times, dates and durations the way the config and CLI accept them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "15m", "2h", "7d" or "1w" into a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 2h, 7d, 1w)")
    try:
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    except OverflowError:  # past timedelta's 999,999,999 days
        raise ValueError(f"too long a duration: {text!r}") from None


def parse_time(text: str, default_tz: tzinfo = UTC) -> datetime:
    """Parse an ISO 8601 time or date (a date means its midnight) into an aware datetime."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), default_tz)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time or date: {text!r} (e.g. 2026-03-15T12:00:00Z)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    return value


def parse_zone(name: str) -> ZoneInfo:
    """Return the IANA time zone of that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder ("Europe"), a name too long
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)") from None


def parse_hours(text: str) -> tuple[time, time]:
    """Parse working hours "09:00-17:00"."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ValueError(f"not working hours: {text!r} (use e.g. 09:00-17:00)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if not (0 <= h1 < 24 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60):
        raise ValueError(f"not working hours: {text!r}")
    start = time(h1, m1)
    end = time(23, 59, 59) if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError(f"working hours must end after they start: {text!r}")
    return start, end


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def from_epoch(value: float) -> datetime:
    """Return an aware UTC datetime."""
    return datetime.fromtimestamp(value, UTC)


def iso(value: datetime | None) -> str | None:
    """Format as ISO 8601 UTC with a Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
