"""Name what the rules and the dashboards both read: the alerts and the thresholds in force."""

from __future__ import annotations

from ..alerts import PRESSURE_ALERT, SOURCE_DOWN_ALERT, TIME_OFF_ALERT
from ..exporter import THRESHOLDS

__all__ = [
    "ALERT_NAMES",
    "GRACE",
    "HIGH",
    "MIN_ACTIONS",
    "PRESSURE_ALERT",
    "RISE",
    "SOURCE_DOWN_AFTER",
    "SOURCE_DOWN_ALERT",
    "TIME_OFF_ALERT",
    "pressure_threshold",
]

ALERT_NAMES = (PRESSURE_ALERT, TIME_OFF_ALERT, SOURCE_DOWN_ALERT)

# The thresholds in force, as teampulse exports them from its config: read, never baked in, so
# a config change needs no rebuild.
RISE = THRESHOLDS["rise"][0]
HIGH = THRESHOLDS["high"][0]
GRACE = THRESHOLDS["grace_seconds"][0]
MIN_ACTIONS = THRESHOLDS["min_actions"][0]
SOURCE_DOWN_AFTER = THRESHOLDS["source_down_after_seconds"][0]


def pressure_threshold(matchers: str) -> str:
    """Return the level at which the engine calls pressure elevated, for series matching `matchers`.

    The baseline plus alerts.rise, at most alerts.high, for teams with a baseline: the recording
    rule team:teampulse_process_pressure_threshold:ratio, spelled out for dashboards that must
    work without the rules loaded. The thresholds are the instance's (no `team` label), so each
    team's baseline meets those of the instance that serves it: on every label but `team`.
    """
    base = f"teampulse_process_pressure_baseline_ratio{{{matchers}}}"
    by_instance = "ignoring (team) group_left"
    return f"{base} + {by_instance} {RISE} < {by_instance} {HIGH} or 0 * {base} + {by_instance} {HIGH}"
