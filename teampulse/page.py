"""The team page at `/`: each team's state in plain words, no person named."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import quote

from .alerts import what_rose
from .engine import TeamSnapshot
from .exporter import ExportState
from .kinds import AlertState
from .states import TeamState

OVERVIEW_UID = "teampulse-overview"
TEAM_UID = "teampulse-team"
HEALTH_UID = "teampulse-health"


def _e(text: object) -> str:
    return html.escape(str(text))


_CSS = {
    TeamState.UNANSWERED: "alert",
    TeamState.ANSWERED: "answered",
    TeamState.IN_GRACE: "watch",
    TeamState.ELEVATED: "watch",
    TeamState.LEARNING: "learning",
    TeamState.CALM: "calm",
}


def _level(snap: TeamSnapshot) -> tuple[str, str]:
    if snap.time_off_overridden and snap.state is not TeamState.UNANSWERED:
        return "alert", f"time off overridden; {snap.state.words}"
    return _CSS[snap.state], snap.state.words


def _date(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%a %d %b %Y") if value else ""


def _people_words(snap: TeamSnapshot) -> str:
    p = snap.people
    if p.support is None:
        parts = [
            "People support: <b>no data</b> (no calendar covers the last 14 days and no survey is shown)."
        ]
    else:
        parts = [f"People support <b>{p.support:.2f}</b>."]
    if not p.visible:
        parts.append("Person-level figures are hidden: the team is below the anonymity threshold.")
    else:
        if p.coverage is not None:
            parts.append(f"{p.covered} of {p.eligible} people not on leave had a 1:1 in the last 14 days.")
        if p.members_on_leave:
            parts.append(f"{p.members_on_leave} on leave.")
        if p.after_hours_meeting_hours:
            parts.append(f"{p.after_hours_meeting_hours:.1f} h of after-hours meetings per person this week.")
    if p.survey_scores:
        scores = ", ".join(f"{d} {v:.0%}" for d, v in sorted(p.survey_scores.items()))
        parts.append(f"Pulse survey ({p.survey_responses} responses): {scores}.")
    elif p.survey_responses:
        parts.append(f"Pulse survey: {p.survey_responses} responses, too few to show scores.")
    return " ".join(parts)


def _answers(snap: TeamSnapshot) -> str:
    parts = [kind.replace("_", " ") for kind in snap.answered_by if kind != "one_on_one_cadence"]
    if "one_on_one_cadence" in snap.answered_by:
        parts.append(f"a 1:1 cadence with {snap.carriers_met} of {snap.carriers} people carrying the load")
    return ", ".join(parts)


def _verdict(snap: TeamSnapshot, alerts: dict[tuple[str, str], AlertState]) -> str:
    out = []
    since = _date(snap.episode_start)
    state = snap.state
    pressure = alerts.get(("ProcessPressureWithoutLeadership", snap.team))
    if pressure:
        out.append(
            f'<p class="verdict alert"><strong>Pressure rose without a leadership action</strong> '
            f"since {since}. {_e(pressure.description)}</p>"
        )
    elif state is TeamState.LEARNING:
        start = _date(snap.history_start) or "no work items yet"
        out.append(
            f'<p class="verdict learning">Learning this team\'s normal: its history begins {_e(start)}, '
            "less than the reference window. No episode starts until then.</p>"
        )
    elif state is TeamState.ANSWERED:
        out.append(
            f'<p class="verdict answered">Pressure out of its normal since {since}, answered by '
            f"{_e(_answers(snap))}.</p>"
        )
    elif state is TeamState.IN_GRACE:
        out.append(
            f'<p class="verdict watch">Pressure out of its normal since {since}: within the grace period, '
            "leadership has time to answer.</p>"
        )
    elif state is TeamState.ELEVATED:
        why = (
            "no calendar data covers the last 14 days for this team, so the people side is unknown"
            if not snap.people.known
            else "pressure is back within its normal while the episode closes"
        )
        out.append(
            f'<p class="verdict watch">Pressure out of its normal since {since}; not judged: {why}.</p>'
        )
    else:
        out.append(
            '<p class="verdict calm">Pressure is within the team\'s own normal: nothing to answer.</p>'
        )
    rose = what_rose(snap)
    if rose and not pressure:
        out.append(f'<p class="rose">Above the normal: {_e("; ".join(rose))}.</p>')
    time_off = alerts.get(("TimeOffOverriddenUnderPressure", snap.team))
    if time_off:
        out.append(
            f'<p class="verdict alert"><strong>Time off overridden.</strong> {_e(time_off.description)}</p>'
        )
    return "\n".join(out)


def _pressure_words(s: TeamSnapshot) -> str:
    if s.learning:
        return "Process pressure: <b>not judged yet</b> (learning)"
    return f"Process pressure <b>{s.pressure:.2f}</b> against its baseline of {s.baseline:.2f}"


def render_page(state: ExportState, dashboards: str | None = None) -> str:
    """Return the HTML page of teams and their state."""
    alerts = {(a.alert, a.labels.get("team", "")): a for a in state.alerts if a.firing}
    snapshots = sorted(
        state.snapshots,
        key=lambda s: (
            not (s.pressure_unmatched or s.time_off_overridden),
            not s.elevated,
            s.learning,
            -s.pressure,
            s.team,
        ),
    )
    sections = []
    for s in snapshots:
        css, words = _level(s)
        link = (
            f' <a class="dash" href="{_e(dashboards)}/d/{TEAM_UID}/?var-team={quote(s.team)}">Team dashboard</a>'
            if dashboards
            else ""
        )
        sections.append(
            f"""<section class="team {css}" id="team-{_e(s.team)}" data-team="{_e(s.team)}">
<h2>{_e(s.team)} <span class="state">{_e(words)}</span>{link}</h2>
<p>{_pressure_words(s)}:
{s.in_progress} items in progress ({s.wip_per_person:.1f} per available person), {s.overdue} overdue,
{s.due_soon} due within 7 days, {s.throughput} completed in the last 7 days.</p>
<p>{_people_words(s)}</p>
{_verdict(s, alerts)}
</section>"""
        )
    down = [a for a in state.alerts if a.firing and a.alert == "TeampulseSourceDown"]
    sources = "".join(
        f'<p class="verdict alert">Source {_e(a.labels.get("source", ""))} is failing: {_e(a.description)}</p>'
        for a in down
    )
    firing = sum(1 for a in state.alerts if a.firing)
    stamp = datetime.fromtimestamp(state.collected_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    nav = (
        f' · <a href="{_e(dashboards)}/d/{OVERVIEW_UID}/">Organisation dashboard</a>'
        f' · <a href="{_e(dashboards)}/d/{HEALTH_UID}/">teampulse health</a>'
        if dashboards
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>teampulse: teams</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #1f2328; }}
.team {{ border: 1px solid #d0d7de; border-left-width: 6px; border-radius: 6px; padding: 0.2rem 1rem; margin: 1rem 0; }}
.team.alert {{ border-left-color: #cf222e; }} .team.answered {{ border-left-color: #bf8700; }}
.team.watch {{ border-left-color: #0969da; }} .team.calm {{ border-left-color: #1a7f37; }}
.team.learning {{ border-left-color: #8c959f; }}
.verdict.alert {{ color: #a40e26; }} .verdict.answered {{ color: #7d4e00; }} .verdict.calm {{ color: #116329; }}
.verdict.watch {{ color: #0550ae; }} .verdict.learning {{ color: #57606a; }}
.state {{ font-size: 0.65em; font-weight: normal; color: #57606a; margin-left: 0.5rem; }}
.dash {{ font-size: 0.6em; font-weight: normal; margin-left: 0.75rem; }}
</style></head>
<body><h1>teampulse</h1>
<p>Process pressure beside people support, per team: {len(state.snapshots)} teams, {firing} alert(s) firing.
Computed at {stamp} · <a href="/metrics">metrics</a>{nav}</p>
{sources}
{"".join(sections) or "<p>No teams evaluated yet.</p>"}
</body></html>
"""
