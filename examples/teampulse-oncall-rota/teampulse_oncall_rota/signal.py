"""The "on_call_off_hours" signal: how light the team's on-call keeps its evenings, nights and weekends."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from teampulse import SignalContext, SignalKind

from .source import KIND, LONGEST_SHIFT

__all__ = ["LIMIT_HOURS", "SIGNAL", "WINDOW", "off_hours_kept_light"]

WINDOW = timedelta(days=7)
# Off-hours on call per member and week at which the part is 0: a weekly rota of four people,
# each carrying a week's 128 hours outside 09:00-17:00 on weekdays once a month.
LIMIT_HOURS = 32.0


def off_hours_kept_light(team: str, facts: Mapping[str, float], ctx: SignalContext) -> float | None:
    """Support: 1 without on-call outside working hours in the last 7 days, 0 at LIMIT_HOURS per member.

    A shift counts for the part of it inside the 7 days, its off-hours spread evenly over it.
    A team with no shift in the window or the longest shift before it says nothing (None).
    """
    since = ctx.at - WINDOW
    shifts = ctx.events.signals(kind=KIND, since=since - LONGEST_SHIFT)
    if not shifts:
        return None
    hours = 0.0
    for shift in shifts:
        length = (shift.end - shift.start).total_seconds()
        inside = (min(shift.end, ctx.at) - max(shift.start, since)).total_seconds()
        if length > 0 and inside > 0:
            hours += float(shift.attrs.get("off_hours_seconds", 0.0)) * inside / length / 3600
    # Rounded as the engine rounds its indexes: a metric's value, not a float's last digits.
    return round(1.0 - min(hours / max(facts["members"], 1.0) / LIMIT_HOURS, 1.0), 6)


SIGNAL = SignalKind(
    name="on_call_off_hours",
    side="support",
    weight=0.1,
    compute=off_hours_kept_light,
    description="On-call kept light outside working hours (1 the lightest), from the oncall-rota shifts",
    source="oncall-rota",
)
