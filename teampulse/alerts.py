"""Evaluate the alerts from the engine's snapshots and the sources' health."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .config import Config
from .engine import MIN_ITEMS_FOR_SHARE, Component, TeamSnapshot
from .kinds import AlertState
from .people import DAY, LOOKAHEAD, TRAILING
from .states import TeamState
from .store import SourceRun
from .timeutil import from_epoch, iso

PRESSURE_ALERT = "ProcessPressureWithoutLeadership"
TIME_OFF_ALERT = "TimeOffOverriddenUnderPressure"
SOURCE_DOWN_ALERT = "TeampulseSourceDown"

# --- The alerts' words -------------------------------------------------------------------------
# The engine (here) and the shipped Prometheus rules (teampulse.mixin) say the same thing:
# both build their summaries and descriptions from these, the engine with its numbers, the rules
# with Prometheus templates in their place.
PRESSURE_SUMMARY = "Process pressure on team {team} rose without a leadership action"
TIME_OFF_SUMMARY = "Time off on team {team} was overridden under pressure"
SOURCE_DOWN_SUMMARY = "teampulse source {source} has not collected for over {after}"
# What the time-off alert covers: the conflicts of the past week and those already booked ahead.
TIME_OFF_WINDOW = f"in the last {TRAILING / DAY:.0f} days or already booked in the next {LOOKAHEAD / DAY:.0f}"
PRESSURE_REMEDY = (
    "To clear it: hold 1:1s with the people carrying the load, move a deadline or take an item out of "
    "the sprint, rebalance work, or record what was done with `teampulse action add`."
)
TIME_OFF_REMEDY = (
    "Nobody is named here: their manager can see it in the calendar. To clear it: move the meeting off "
    "the time off, hand the work to someone else or move its due date, then record "
    "`teampulse action add --kind time_off_protected`."
)
SOURCE_DOWN_REMEDY = (
    "Its metrics are stale until it recovers: check `teampulse_source_errors_total`, the URL, the "
    "credentials in the environment and the source's rate limit."
)


def pressure_opening(team: str, pressure: str, baseline: str, rise: str, high: str) -> str:
    """Return the first words of the pressure alert's description, the numbers given as text."""
    return (
        f"Process pressure on {team} is {pressure} against a baseline of {baseline} "
        f"(out of the team's own normal at +{rise} above it or at {high})"
    )


def time_off_description(what: str, team: str, pressure: str, baseline: str, first: str | None = None) -> str:
    """Return the time-off alert's description, the numbers given as text."""
    return (
        f"{what} over a member's time off on team {team} ({TIME_OFF_WINDOW})"
        + (f", the first at {first}" if first else "")
        + ", under elevated pressure or with work assigned to them falling due during it "
        f"(process pressure now {pressure}, baseline {baseline}). {TIME_OFF_REMEDY}"
    )


_FACT_FOR = {
    "wip_per_person": ("work in progress per available person", "wip_per_person", "{:.1f}"),
    "overdue_share": ("overdue items", "overdue", "{:.0f}"),
    "due_soon_share": ("items due within 7 days", "due_soon", "{:.0f}"),
    "scope_added_share": ("items added to the running sprint (7 days)", "scope_added", "{:.0f}"),
    "after_hours_share": ("after-hours share of activity", "after_hours_ratio", "{:.0%}"),
    "capacity_on_leave": ("members on leave", "on_leave", "{:.0f}"),
}
# Shares of open work are shown as item counts: the normal is converted at today's board size.
_SHARE_COMPONENTS = {"overdue_share", "due_soon_share", "scope_added_share"}


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"


def _normal_of(snap: TeamSnapshot, c: Component, fmt: str) -> str:
    """Say a component's normal in the unit its fact is shown in."""
    if c.name in _SHARE_COMPONENTS:
        scale = max(snap.open_items, MIN_ITEMS_FOR_SHARE)
        return f"normal {c.norm * scale:.0f}, up to {c.top * scale:.0f}"
    if c.name == "capacity_on_leave":
        return f"normal {c.norm * snap.members:.0f}, up to {c.top * snap.members:.0f}"
    return f"normal {fmt.format(c.norm)}, up to {fmt.format(c.top)}"


def what_rose(snap: TeamSnapshot) -> list[str]:
    """Return, strongest first, the components above the team's normal with the normal beside."""
    rose = sorted((c for c in snap.components if c.score > 0), key=lambda c: c.score * c.weight, reverse=True)
    facts = snap.facts()
    parts = []
    for c in rose:
        label, fact, fmt = _FACT_FOR.get(c.name, (c.name, "", "{:.2f}"))
        now = facts.get(fact, c.value) if fact else c.value
        parts.append(f"{label} {fmt.format(now)} ({_normal_of(snap, c, fmt)})")
    return parts


def _missing(snap: TeamSnapshot) -> str:
    """Say in numbers which leadership answers are missing since the episode began."""
    if snap.episode_start is None:
        return ""
    days = _days((snap.as_of - snap.episode_start).total_seconds())
    parts = []
    if snap.people.has_calendars and snap.carriers:
        missing = snap.carriers - snap.carriers_met
        if missing:
            parts.append(
                f"no 1:1 cadence with {missing} of the {snap.carriers} people carrying the load "
                f"(none in the last 14 days, or none since the onset when one was due) in {days}"
            )
    if not snap.actions_since_episode.get("deadline_renegotiated"):
        parts.append("no due date moved later and no item taken out of the sprint")
    if not snap.actions_since_episode.get("workload_rebalanced"):
        parts.append("no work taken off an overloaded or absent person")
    return ("Missing: " + "; ".join(parts) + ". ") if parts else ""


def pressure_thresholds(config: Config) -> dict[str, float]:
    """Return the thresholds the pressure alert is judged with, by the name the exporter gives them."""
    return {
        "rise": config.alerts.rise,
        "high": config.alerts.high,
        "grace_seconds": config.alerts.grace.total_seconds(),
        "min_actions": float(config.alerts.min_actions),
    }


def pressure_alert(config: Config, snap: TeamSnapshot) -> AlertState:
    """Return the ProcessPressureWithoutLeadership state of a team."""
    what = "; ".join(what_rose(snap)[:4]) or "nothing is above the team's normal today"
    since = iso(snap.episode_start)
    held = (snap.as_of - snap.episode_start).total_seconds() if snap.episode_start else 0.0
    answering = snap.answers
    need = config.alerts.min_actions
    firing = snap.state is TeamState.UNANSWERED
    summary = PRESSURE_SUMMARY.format(team=snap.team) if firing else f"Team {snap.team} is {snap.state.words}"
    if snap.state is TeamState.LEARNING:
        description = (
            f"Team {snap.team} has less history than the reference window "
            f"({config.pressure.reference.days} days) since its first work item "
            f"({iso(snap.history_start) or 'none yet'}): teampulse is learning its normal and starts no episode."
        )
    else:
        description = (
            pressure_opening(
                snap.team,
                f"{snap.pressure:.2f}",
                f"{snap.baseline:.2f}",
                f"{config.alerts.rise:.2f}",
                f"{config.alerts.high:.2f}",
            )
            + (f", out of its normal since {since} ({_days(held)}). " if since else ", within its normal. ")
            + f"What rose: {what}. "
        )
        if since:
            description += (
                f"Answers since the onset: {answering} (at least {need} needed"
                + (", none recorded" if answering == 0 else "")
                + f"); 1:1 cadence kept with {snap.carriers_met} of {snap.carriers} people carrying the load. "
            )
            if not snap.people.known:
                description += (
                    "No calendar data covers the last 14 days for this team, so the people side is unknown "
                    "and nothing is paged. "
                )
            elif firing:
                description += _missing(snap) + PRESSURE_REMEDY
    return AlertState(
        alert=PRESSURE_ALERT,
        labels={"team": snap.team},
        severity="warning",
        firing=firing,
        since=since if firing else None,
        summary=summary,
        description=description.strip(),
        evidence={
            "state": str(snap.state),
            "pressure": snap.pressure,
            "baseline": snap.baseline,
            "episode_start": since,
            "people_known": snap.people.known,
            "components": {
                c.name: {"value": round(c.value, 4), "norm": round(c.norm, 4), "top": round(c.top, 4)}
                for c in snap.components
            },
            "rose": [c.name for c in snap.components if c.score > 0],
            "before": dict(snap.episode_from),
            "now": snap.facts(),
            "actions_since_episode": dict(snap.actions_since_episode),
            "answered_by": list(snap.answered_by),
            "min_actions": need,
            "thresholds": pressure_thresholds(config),
            "carriers": snap.carriers,
            "carriers_with_one_on_one": snap.carriers_met,
        },
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def time_off_alert(config: Config, snap: TeamSnapshot) -> AlertState:
    """Return the TimeOffOverriddenUnderPressure state of a team."""
    conflicts = sorted(snap.time_off_overridden, key=lambda c: c.at)
    firing = bool(conflicts)
    meetings = sum(1 for c in conflicts if c.kind == "meeting")
    assignments = len(conflicts) - meetings
    first = iso(from_epoch(conflicts[0].at)) if conflicts else None
    # A meeting booked over coming time off fires now, not when it happens.
    since = iso(min(from_epoch(conflicts[0].at), snap.as_of)) if conflicts else None
    what = ", ".join(
        part
        for part in (
            _count(meetings, "meeting") + " booked" if meetings else "",
            _count(assignments, "work item") + " assigned" if assignments else "",
        )
        if part
    )
    description = (
        time_off_description(
            f"{what[0].upper()}{what[1:]}", snap.team, f"{snap.pressure:.2f}", f"{snap.baseline:.2f}", first
        )
        if firing
        else f"No time off on team {snap.team} was overridden under pressure ({TIME_OFF_WINDOW})."
    )
    return AlertState(
        alert=TIME_OFF_ALERT,
        labels={"team": snap.team},
        severity="warning",
        firing=firing,
        since=since,
        summary=TIME_OFF_SUMMARY.format(team=snap.team)
        if firing
        else f"Time off on team {snap.team} is respected",
        description=description,
        evidence={
            "meetings_over_time_off": meetings,
            "assignments_during_time_off": assignments,
            "first": first,
            "pressure": snap.pressure,
            "baseline": snap.baseline,
        },
    )


def source_alerts(config: Config, runs: Sequence[SourceRun], now: datetime) -> list[AlertState]:
    """Return a TeampulseSourceDown state per configured source."""
    limit = config.alerts.source_down_after.total_seconds()
    by_name = {r.source: r for r in runs}
    alerts = []
    for name in config.sources:
        run = by_name.get(name)
        failing_since: float | None = None
        if run and run.consecutive_failures:
            # Down since the last success, or since the first failure for a source that never worked.
            failing_since = run.last_success if run.last_success is not None else run.failing_since
        down = failing_since is not None and now.timestamp() - failing_since >= limit
        last = iso(from_epoch(run.last_success)) if run and run.last_success else "never"
        alerts.append(
            AlertState(
                alert=SOURCE_DOWN_ALERT,
                labels={"source": name},
                severity="critical",
                firing=down,
                since=iso(from_epoch(failing_since)) if down and failing_since else None,
                summary=(
                    SOURCE_DOWN_SUMMARY.format(source=name, after=f"{limit / 3600:g} h")
                    if down
                    else f"teampulse source {name} is up"
                ),
                description=(
                    f"Source {name} has failed {run.consecutive_failures if run else 0} times in a row; "
                    f"last success: {last}; last error: {run.last_error if run else 'none'}. "
                    + SOURCE_DOWN_REMEDY
                ),
                evidence={
                    "consecutive_failures": run.consecutive_failures if run else 0,
                    "last_success": last,
                    "thresholds": {"source_down_after_seconds": limit},
                },
            )
        )
    return alerts


def evaluate_alerts(
    config: Config, snapshots: Sequence[TeamSnapshot], runs: Sequence[SourceRun], now: datetime
) -> list[AlertState]:
    """Return the state of every alert, firing or not."""
    return (
        [pressure_alert(config, s) for s in snapshots]
        + [time_off_alert(config, s) for s in snapshots]
        + source_alerts(config, runs, now)
    )
