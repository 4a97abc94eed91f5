"""Read the submission times that survey tools write into their exports."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo

__all__ = ["OutOfRange", "parse_submitted"]

# Google Forms' own download: "2026/03/15 10:12:44 AM GMT+1" (the offset may be absent,
# "GMT", "GMT+5:30" or "GMT-0500").
_YMD = re.compile(
    r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
    r"(?: ?(?P<ampm>[AaPp][Mm]))?(?: ?(?P<zone>(?:GMT|UTC)(?:[+-]\d{1,2}(?::?\d{2})?)?))?$"
)
# US month-first dates: Google Sheets "3/15/2026 10:12:44", Microsoft Forms "3/15/26 10:12:44",
# with or without seconds and AM/PM. Day-first exports need `time_format`.
_MDY = re.compile(
    r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4}|\d{2})[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?"
    r"(?: ?(?P<ampm>[AaPp][Mm]))?(?: ?(?P<zone>(?:GMT|UTC)(?:[+-]\d{1,2}(?::?\d{2})?)?))?$"
)
_OFFSET = re.compile(r"^(?:GMT|UTC)(?:(?P<sign>[+-])(?P<h>\d{1,2}):?(?P<m>\d{2})?)?$")


def _zone(text: str | None, default: tzinfo) -> tzinfo:
    if text is None:
        return default
    match = _OFFSET.match(text)
    if match is None:
        raise ValueError("bad offset")
    if not match["sign"]:
        return UTC
    minutes = int(match["h"]) * 60 + int(match["m"] or 0)
    if minutes > 18 * 60:
        raise ValueError("offset out of range")
    return timezone(timedelta(minutes=minutes if match["sign"] == "+" else -minutes))


def _from_match(match: re.Match[str], default: tzinfo) -> datetime:
    year = int(match["y"])
    if year < 100:
        year += 2000
    hour = int(match["H"])
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range")
        hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
    return datetime(
        year,
        int(match["m"]),
        int(match["d"]),
        hour,
        int(match["M"]),
        int(match["S"] or 0),
        tzinfo=_zone(match["zone"], default),
    )


class OutOfRange(ValueError):
    """A time that exists in its zone but not in UTC's years 1 to 9999."""


def _aware(value: datetime, default: tzinfo) -> datetime:
    if value.tzinfo is None:
        # fold=0: a wall time repeated when clocks go back is read as its first occurrence.
        value = value.replace(tzinfo=default)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise OutOfRange("is outside the years 1 to 9999 in UTC") from None


def parse_submitted(text: str, default: tzinfo, formats: Sequence[str] = ()) -> datetime:
    """Return a submission time in UTC; naive times are read in `default`; raise ValueError.

    With `formats` (strptime patterns) only those are tried; otherwise ISO 8601 and the
    formats of Google Forms, Google Sheets, Microsoft Forms and Typeform exports.
    """
    value = " ".join(text.split())
    if not value:
        raise ValueError("empty")
    if formats:
        for fmt in formats:
            try:
                parsed = datetime.strptime(value, fmt)
            except ValueError:
                continue
            return _aware(parsed, default)
        raise ValueError("matches no time_format")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        return _aware(parsed, default)
    for pattern in (_YMD, _MDY):
        match = pattern.match(value)
        if match:
            return _aware(_from_match(match, default), default)
    raise ValueError("not a known time format")
