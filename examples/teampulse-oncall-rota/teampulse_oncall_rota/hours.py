"""Time outside working hours: evenings, nights and weekends, in a team's own zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["off_hours_seconds"]


def _overlap(start: datetime, end: datetime, lo: datetime, hi: datetime) -> float:
    """Return the seconds [start, end) and [lo, hi) share."""
    # In UTC: two times of one zone subtract as wall-clock times, and a day of a DST change
    # would count 24 hours.
    shared = min(end, hi).astimezone(UTC) - max(start, lo).astimezone(UTC)
    return max(shared.total_seconds(), 0.0)


def off_hours_seconds(start: datetime, end: datetime, zone: ZoneInfo, hours: tuple[time, time]) -> float:
    """Return the seconds of [start, end) outside `hours` on weekdays, or at a weekend, in `zone`."""
    total = 0.0
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    while day <= last:
        whole = _overlap(
            start,
            end,
            datetime.combine(day, time(), zone),
            datetime.combine(day + timedelta(days=1), time(), zone),
        )
        if day.weekday() >= 5:
            total += whole
        else:
            work = datetime.combine(day, hours[0], zone), datetime.combine(day, hours[1], zone)
            total += whole - _overlap(start, end, *work)
        day += timedelta(days=1)
    return total
