"""The team page at `/`: each team's state in plain words, no person named."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from urllib.parse import quote

from .engine import TeamSnapshot
from .exporter import ExportState
from .kinds import AlertState

OVERVIEW_UID = "teampulse-overview"
TEAM_UID = "teampulse-team"
HEALTH_UID = "teampulse-health"


def _e(text: object) -> str:
    return html.escape(str(text))


def _level(snap: TeamSnapshot) -> tuple[str, str]:
    if snap.pressure_unmatched:
        return "alert", "pressure without leadership"
    if snap.time_off_overridden:
        return "alert", "time off overridden"
    if snap.elevated:
        return "answered", "under pressure, answered"
    if snap.pressure >= 0.3:
        return "watch", "moderate pressure"
    return "calm", "calm"


def _date(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%a %d %b %Y") if value else ""


def _people_words(snap: TeamSnapshot) -> str:
    p = snap.people
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


def _verdict(snap: TeamSnapshot, alerts: dict[tuple[str, str], AlertState]) -> str:
    out = []
    pressure = alerts.get(("ProcessPressureWithoutLeadership", snap.team))
    if pressure:
        out.append(
            f'<p class="verdict alert"><strong>Pressure rose without a leadership action</strong> '
            f"since {_date(snap.episode_start)}. {_e(pressure.description)}</p>"
        )
    elif snap.episode_start is not None:
        acted = ", ".join(
            f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(snap.actions_since_episode.items())
        )
        answer = f"answered by {acted}" if acted else "within its grace period; no leadership action yet"
        out.append(
            f'<p class="verdict answered">Pressure elevated since {_date(snap.episode_start)}, {_e(answer)}.</p>'
        )
    else:
        out.append(
            '<p class="verdict calm">Pressure is at the team\'s own normal level: nothing to answer.</p>'
        )
    time_off = alerts.get(("TimeOffOverriddenUnderPressure", snap.team))
    if time_off:
        out.append(
            f'<p class="verdict alert"><strong>Time off overridden.</strong> {_e(time_off.description)}</p>'
        )
    return "\n".join(out)


def render_page(state: ExportState, dashboards: str | None = None) -> str:
    """Return the HTML page of teams and their state."""
    alerts = {(a.alert, a.labels.get("team", "")): a for a in state.alerts if a.firing}
    snapshots = sorted(
        state.snapshots,
        key=lambda s: (
            not (s.pressure_unmatched or s.time_off_overridden),
            not s.elevated,
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
<p>Process pressure <b>{s.pressure:.2f}</b> against its baseline of {s.baseline:.2f}:
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
.verdict.alert {{ color: #a40e26; }} .verdict.answered {{ color: #7d4e00; }} .verdict.calm {{ color: #116329; }}
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
