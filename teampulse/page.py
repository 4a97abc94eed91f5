"""The team page at `/`: who needs attention, why and what to do, with 60-day trends; no person named.

Plain HTML and inline SVG: no script, so it reads the same in any browser, printed, or with
scripts off. Every date is the team's own calendar day ("Fri 27 Nov"), every number says of what.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from urllib.parse import quote
from zoneinfo import ZoneInfo

from .alerts import what_rose
from .config import Config
from .engine import TeamSnapshot, TrendPoint
from .exporter import ExportState
from .states import TeamState

OVERVIEW_UID = "teampulse-overview"
TEAM_UID = "teampulse-team"
HEALTH_UID = "teampulse-health"


@dataclass(frozen=True)
class DashboardUids:
    """The UIDs of the three shipped dashboards as imported (a mixin.toml may change them)."""

    overview: str = OVERVIEW_UID
    team: str = TEAM_UID
    health: str = HEALTH_UID

    @classmethod
    def of(cls, config: Config) -> DashboardUids:
        """Return the UIDs the config's settings give."""
        return cls(config.dashboards_overview_uid, config.dashboards_team_uid, config.dashboards_health_uid)


# What the page calls each action kind, in a manager's words.
ACTION_WORDS = {
    "one_on_one": "1:1",
    "team_check_in": "team check-in",
    "recognition": "recognition",
    "deadline_renegotiated": "deadline moved",
    "workload_rebalanced": "work rebalanced",
    "time_off_protected": "time off protected",
    "survey_follow_up": "survey follow-up",
    "recorded": "action recorded",
    "one_on_one_cadence": "1:1s kept up",
}


def _e(text: object) -> str:
    return html.escape(str(text))


def plural(n: int, one: str, many: str | None = None) -> str:
    """Return "1 alert", "2 alerts": the count with the right form of the noun."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def day_words(value: datetime, tz: tzinfo, year_of: datetime | None = None) -> str:
    """Return a time as the calendar day in `tz`, "Fri 27 Nov"; the year only if not `year_of`'s."""
    local = value.astimezone(tz)
    text = f"{local:%a} {local.day} {local:%b}"
    if year_of is not None and local.year != year_of.astimezone(tz).year:
        text += f" {local.year}"
    return text


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return UTC


def _days_since(snap: TeamSnapshot) -> str:
    if snap.episode_start is None:
        return ""
    return plural(max((snap.as_of - snap.episode_start).days, 0), "day")


# How urgently each state asks for a look: the badge's words and the section's colour.
_BADGE = {
    TeamState.UNANSWERED: ("attention", "Needs attention"),
    TeamState.IN_GRACE: ("watch", "Under pressure: time to act"),
    TeamState.ELEVATED: ("watch", "Under pressure, not judged"),
    TeamState.ANSWERED: ("answered", "Under pressure, answered"),
    TeamState.LEARNING: ("learning", "Learning its normal"),
    TeamState.CALM: ("calm", "Calm"),
}


def _needs_attention(snap: TeamSnapshot) -> bool:
    return snap.state is TeamState.UNANSWERED or bool(snap.time_off_overridden)


def _badge(snap: TeamSnapshot) -> tuple[str, str]:
    if snap.state is TeamState.ELEVATED and snap.people.known:
        return "watch", "Easing"
    if _needs_attention(snap):
        return _BADGE[TeamState.UNANSWERED]
    return _BADGE[snap.state]


def _order(snap: TeamSnapshot) -> tuple[int, float, str]:
    """Sort key: teams needing attention first, then under pressure, answered, learning, calm."""
    rank = {"attention": 0, "watch": 1, "answered": 2, "learning": 3, "calm": 4}[_badge(snap)[0]]
    return rank, -snap.pressure, snap.team


def _answers(snap: TeamSnapshot) -> str:
    parts = [ACTION_WORDS.get(k, k.replace("_", " ")) for k in snap.answered_by if k != "one_on_one_cadence"]
    if "one_on_one_cadence" in snap.answered_by:
        parts.append(f"1:1s kept up with {snap.carriers_met} of the {snap.carriers} people carrying the load")
    return ", ".join(parts)


def headline(snap: TeamSnapshot, tz: tzinfo) -> str:
    """Return the one line that says where the team stands (plain text)."""
    since = day_words(snap.episode_start, tz, snap.as_of) if snap.episode_start else ""
    state = snap.state
    if state is TeamState.UNANSWERED:
        line = f"Under pressure since {since} ({_days_since(snap)}), with no leadership answer yet."
    elif state is TeamState.IN_GRACE:
        line = f"Under pressure since {since}: still within the grace period, so there is time to respond."
    elif state is TeamState.ELEVATED and not snap.people.known:
        line = (
            f"Under pressure since {since}, but no calendar covers the last 14 days, "
            "so whether leadership answered cannot be judged."
        )
    elif state is TeamState.ELEVATED:
        line = f"Pressure is back within its normal after an episode that began {since}."
    elif state is TeamState.ANSWERED:
        line = f"Under pressure since {since}, and answered: {_answers(snap)}."
    elif state is TeamState.LEARNING:
        until = day_words(snap.learned_at, tz, snap.as_of) if snap.learned_at else "its first work item"
        line = f"Learning this team's normal: pressure is judged from {until}."
    else:
        line = "Pressure is within the team's own normal."
    if snap.time_off_overridden:
        line = "A meeting or work landed on someone's time off. " + (
            line if state is not TeamState.CALM else ""
        )
    return line.strip()


def _todo(snap: TeamSnapshot) -> list[str]:
    """Return what the manager can do, in their words (no command lines)."""
    todo = []
    if snap.state is TeamState.UNANSWERED:
        missing = snap.carriers - snap.carriers_met
        ones = (
            f"book 1:1s with the people carrying the load ({missing} of the {snap.carriers} are overdue for one)"
            if snap.people.has_calendars and missing
            else "book 1:1s with the people carrying the load"
        )
        todo.append(
            f"{ones[0].upper()}{ones[1:]}, move a deadline or take work out of the sprint, or hand work from "
            "overloaded people to others. If you already acted, record the action you took."
        )
    elif snap.state is TeamState.IN_GRACE:
        todo.append(
            "Check in with the people carrying the load: a 1:1, a moved deadline or rebalanced work answers it."
        )
    elif snap.state is TeamState.ELEVATED and not snap.people.known:
        todo.append(
            "Make sure the team's calendars are shared with teampulse, so its people side can be read."
        )
    if snap.time_off_overridden:
        todo.append(
            "Move the meeting off the time off, or hand the work to someone else or move its due date; "
            "then record that you protected the time off."
        )
    return todo


def _why(snap: TeamSnapshot) -> str:
    parts = []
    if snap.time_off_overridden:
        parts.append(
            f"{plural(len(snap.time_off_overridden), 'meeting or assignment', 'meetings or assignments')} "
            "over a member's time off (the last 7 days or the next 14), booked under pressure or over "
            "work of theirs that falls due then."
        )
    rose = what_rose(snap)[:3]
    if rose and not snap.learning:
        parts.append("Above the team's normal: " + "; ".join(rose) + ".")
    return " ".join(parts)


def _work_words(s: TeamSnapshot) -> str:
    return (
        f"{plural(s.in_progress, 'item')} in progress ({s.wip_per_person:.1f} per available person), "
        f"{s.overdue} overdue, {s.due_soon} due within 7 days, {s.throughput} completed in the last 7 days."
    )


def _people_words(snap: TeamSnapshot) -> str:
    p = snap.people
    if p.support is None:
        parts = ["No people data: no calendar covers the last 14 days and no survey result is shown."]
    else:
        parts = []
    if not p.visible:
        parts.append("Figures about individuals are hidden: the team is too small to keep them anonymous.")
    else:
        if p.coverage is not None:
            parts.append(
                f"{p.covered} of {plural(p.eligible, 'person', 'people')} not on leave had a 1:1 "
                "in the last 14 days."
            )
        if p.members_on_leave:
            parts.append(f"{p.members_on_leave} of {snap.members} on leave today.")
        if p.after_hours_meeting_hours:
            parts.append(
                f"{p.after_hours_meeting_hours:.1f} hours of meetings outside working hours per person "
                "in the last 7 days."
            )
    if p.survey_scores:
        scores = ", ".join(f"{d} {v * 100:.0f}" for d, v in sorted(p.survey_scores.items()))
        parts.append(
            f"Pulse survey, {plural(p.survey_responses, 'response')}, out of 100 where 100 is the best "
            f"answer: {scores}."
        )
    elif p.survey_responses:
        parts.append(f"Pulse survey: {plural(p.survey_responses, 'response')}, too few to show scores.")
    return " ".join(parts)


def _actions_words(snap: TeamSnapshot, tz: tzinfo) -> str:
    if not snap.recent_actions:
        return "None recorded in the last 14 days."
    return (
        ", ".join(
            f"{ACTION_WORDS.get(a.kind, a.kind.replace('_', ' '))} ({day_words(a.at, tz, snap.as_of)})"
            for a in reversed(snap.recent_actions)  # newest first
        )
        + "."
    )


# The charts: a 0..1 scale over the trend's days, drawn in a fixed coordinate box that scales.
W, H = 460, 170
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 10, 24


def _x(i: int, n: int) -> float:
    return LEFT + (W - LEFT - RIGHT) * i / max(n - 1, 1)


def _y(v: float) -> float:
    return TOP + (H - TOP - BOTTOM) * (1.0 - min(max(v, 0.0), 1.0))


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """Return the [first, last] indices of each run of True."""
    out, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - 1))
            start = None
    return out


def _span(a: int, b: int, n: int, css: str) -> str:
    """Return a full-height rectangle over days a..b (half a day either side, within the plot)."""
    half = (W - LEFT - RIGHT) / max(n - 1, 1) / 2
    x0, x1 = max(_x(a, n) - half, LEFT), min(_x(b, n) + half, W - RIGHT)
    return f'<rect class="{css}" x="{x0:.1f}" y="{TOP}" width="{x1 - x0:.1f}" height="{H - TOP - BOTTOM}"/>'


def _line(values: Sequence[float | None], css: str) -> str:
    """Return a polyline per run of known values (a single known day is a dot)."""
    n = len(values)
    out = []
    for a, b in _runs([v is not None for v in values]):
        pts = [(_x(i, n), _y(v)) for i in range(a, b + 1) if (v := values[i]) is not None]
        if len(pts) == 1:
            out.append(f'<circle class="{css}" cx="{pts[0][0]:.1f}" cy="{pts[0][1]:.1f}" r="2"/>')
        else:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(f'<polyline class="{css}" points="{points}"/>')
    return "".join(out)


def _axes(points: Sequence[TrendPoint], tz: tzinfo, label: str) -> str:
    """Return the 0..1 scale with its gridlines, the axis label and a few date ticks."""
    n = len(points)
    out = [
        f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}"/>'
    ]
    for v, text in ((0.0, "0"), (0.5, "0.5"), (1.0, "1")):
        out.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{_y(v):.1f}" y2="{_y(v):.1f}"/>')
        out.append(f'<text class="tick" x="{LEFT - 5}" y="{_y(v) + 4:.1f}" text-anchor="end">{text}</text>')
    mid = (TOP + H - BOTTOM) / 2
    out.append(
        f'<text class="axis" x="11" y="{mid:.1f}" text-anchor="middle" transform="rotate(-90 11 {mid:.1f})">'
        f"{_e(label)}</text>"
    )
    ticks = sorted({0, n // 3, 2 * n // 3, n - 1}) if n else []
    for i in ticks:
        anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
        x = _x(i, n) - (4 if i == 0 else 0)
        out.append(
            f'<line class="grid" x1="{_x(i, n):.1f}" x2="{_x(i, n):.1f}" y1="{H - BOTTOM}" y2="{H - BOTTOM + 4}"/>'
        )
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{H - 6}" text-anchor="{anchor}">{_e(_pointday(points[i], tz))}</text>'
        )
    return "".join(out)


def _pointday(point: TrendPoint, tz: tzinfo) -> str:
    return f"{point.day:%a} {point.day.day} {point.day:%b}"


def _svg(kind: str, team: str, summary: str, body: str, n: int) -> str:
    ident = f"{kind}-{quote(team, safe='')}"
    return (
        f'<svg class="chart {kind}" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{_e(ident)}" '
        f'data-days="{n}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{_e(ident)}">{_e(summary)}</title>{body}</svg>'
    )


def pressure_summary(snap: TeamSnapshot, tz: tzinfo) -> str:
    """Return the pressure chart's text: what it shows, in one or two sentences."""
    points = snap.trend
    judged = [p for p in points if p.pressure is not None]
    first, last = points[0], points[-1]
    span = f"{_pointday(first, tz)} to {_pointday(last, tz)}"
    if not judged:
        return f"Process pressure of {snap.team}, {span}: not judged yet, the team's normal is being learned."
    start, end = judged[0], judged[-1]
    text = f"Process pressure of {snap.team}, {span}: {start.pressure:.2f} on {_pointday(start, tz)}"
    text += f", {end.pressure:.2f} on {_pointday(end, tz)}"
    if end.band_top is not None:
        text += f", against a normal band up to {end.band_top:.2f}"
    peak = max(judged, key=lambda p: p.pressure or 0.0)
    text += f"; highest {peak.pressure:.2f} on {_pointday(peak, tz)}."
    if len(judged) < len(points):
        text += f" Learning the normal before {_pointday(judged[0], tz)}."
    if snap.episode_start is not None:
        text += f" Out of its normal since {day_words(snap.episode_start, tz, snap.as_of)}."
    return text


def support_summary(snap: TeamSnapshot, tz: tzinfo) -> str:
    """Return the support chart's text."""
    points = snap.trend
    known = [p for p in points if p.support is not None]
    span = f"{_pointday(points[0], tz)} to {_pointday(points[-1], tz)}"
    if not known:
        return f"People support of {snap.team}, {span}: no people data."
    start, end = known[0], known[-1]
    low = min(known, key=lambda p: p.support if p.support is not None else 1.0)
    return (
        f"People support of {snap.team}, {span}: {start.support:.2f} on {_pointday(start, tz)}, "
        f"{end.support:.2f} on {_pointday(end, tz)}; lowest {low.support:.2f} on {_pointday(low, tz)}."
    )


def pressure_chart(snap: TeamSnapshot, tz: tzinfo) -> str:
    """Return the pressure trend: the normal band, the baseline, episodes, learning days, pressure."""
    points = snap.trend
    n = len(points)
    body = [_axes(points, tz, "pressure")]
    body += [_span(a, b, n, "learn") for a, b in _runs([p.pressure is None for p in points])]
    body += [_span(a, b, n, "episode") for a, b in _runs([p.episode for p in points])]
    for a, b in _runs([p.band_top is not None for p in points]):
        top = [f"{_x(i, n):.1f},{_y(points[i].band_top or 0.0):.1f}" for i in range(a, b + 1)]
        bottom = [f"{_x(i, n):.1f},{_y(0.0):.1f}" for i in range(b, a - 1, -1)]
        body.append(f'<polygon class="band" points="{" ".join(top + bottom)}"/>')
    learning = _runs([p.pressure is None for p in points])
    if learning and learning[0][1] - learning[0][0] >= n // 4:
        a, b = learning[0]
        body.append(
            f'<text class="note" x="{(_x(a, n) + _x(b, n)) / 2:.1f}" y="{_y(0.5):.1f}" text-anchor="middle">'
            "learning its normal</text>"
        )
    body.append(_line([p.baseline for p in points], "baseline"))
    body.append(_line([p.pressure for p in points], "pressure"))
    if points and points[-1].pressure is not None:
        body.append(f'<circle class="now" cx="{_x(n - 1, n):.1f}" cy="{_y(points[-1].pressure):.1f}" r="3"/>')
    return _svg("pressure", snap.team, pressure_summary(snap, tz), "".join(body), n)


def support_chart(snap: TeamSnapshot, tz: tzinfo) -> str:
    """Return the people-support trend (0..1, higher is better)."""
    points = snap.trend
    n = len(points)
    body = [_axes(points, tz, "support")]
    values = [p.support for p in points]
    if all(v is None for v in values):
        body.append(
            f'<text class="note" x="{(LEFT + W - RIGHT) / 2:.1f}" y="{_y(0.5):.1f}" text-anchor="middle">'
            "no people data: no calendar or survey covers these days</text>"
        )
    body.append(_line(values, "support"))
    if values and values[-1] is not None:
        body.append(f'<circle class="now support" cx="{_x(n - 1, n):.1f}" cy="{_y(values[-1]):.1f}" r="3"/>')
    return _svg("support", snap.team, support_summary(snap, tz), "".join(body), n)


def _charts(snap: TeamSnapshot, tz: tzinfo) -> str:
    if not snap.trend:
        return ""
    days = plural(len(snap.trend), "day")
    now_p = "not judged yet" if snap.learning else f"{snap.pressure:.2f} now, normal up to {_band_now(snap)}"
    now_s = f"{snap.support:.2f} now" if snap.support is not None else "no data now"
    return f"""<div class="charts">
<figure>{pressure_chart(snap, tz)}
<figcaption><b>Process pressure</b>, last {days} ({now_p}). 0 = within the team's normal, 1 = far beyond it.
<span class="key"><i class="k-pressure"></i>pressure <i class="k-band"></i>normal band <i class="k-baseline"></i>baseline
<i class="k-episode"></i>episode</span></figcaption></figure>
<figure>{support_chart(snap, tz)}
<figcaption><b>People support</b>, last {days} ({now_s}). 1:1s, time off respected, after-hours
meetings, survey and leadership actions; 1 = all in place.</figcaption></figure>
</div>"""


def _band_now(snap: TeamSnapshot) -> str:
    top = snap.trend[-1].band_top if snap.trend else None
    return f"{top:.2f}" if top is not None else "unknown"


def _dashboard(dashboards: str | None, team: str, uid: str) -> str:
    if not dashboards:
        return ""
    return (
        f'<a class="dash" href="{_e(dashboards)}/d/{quote(uid)}/?var-team={quote(team)}">'
        "Team dashboard in Grafana</a>"
    )


def _section(snap: TeamSnapshot, dashboards: str | None, uids: DashboardUids = DashboardUids()) -> str:
    tz = _zone(snap.timezone)
    css, badge = _badge(snap)
    why = _why(snap)
    todo = "".join(f'<p class="todo"><b>What to do:</b> {_e(t)}</p>' for t in _todo(snap))
    pressure = (
        "Process pressure not judged yet (learning)."
        if snap.learning
        else f"Process pressure {snap.pressure:.2f}, its normal {snap.baseline:.2f}."
    )
    return f"""<section class="team {css}" id="team-{_e(snap.team)}" data-team="{_e(snap.team)}" data-state="{_e(snap.state)}">
<header><h2><a href="/?team={quote(snap.team)}">{_e(snap.team)}</a></h2> <span class="badge {css}">{_e(badge)}</span> {_dashboard(dashboards, snap.team, uids.team)}</header>
<p class="headline">{_e(headline(snap, tz))}</p>
{f'<p class="why"><b>Why:</b> {_e(why)}</p>' if why else ""}
{todo}
{_charts(snap, tz)}
<dl class="facts">
<dt>Work</dt><dd>{_e(pressure)} {_e(_work_words(snap))}</dd>
<dt>People</dt><dd>{_e(_people_words(snap))}</dd>
<dt>Recorded actions</dt><dd class="actions">{_e(_actions_words(snap, tz))}</dd>
</dl>
<p class="zone">Days are in the team's time zone, {_e(snap.timezone)}; as of {_e(day_words(snap.as_of, tz))}.</p>
</section>"""


def _overview(snapshots: Sequence[TeamSnapshot]) -> str:
    rows = []
    for s in snapshots:
        css, badge = _badge(s)
        rows.append(
            f'<li class="{css}"><a href="#team-{_e(s.team)}">{_e(s.team)}</a> '
            f'<span class="badge {css}">{_e(badge)}</span> {_e(headline(s, _zone(s.timezone)))}</li>'
        )
    return f'<ul class="overview">{"".join(rows)}</ul>'


def _sources(state: ExportState, tz: tzinfo) -> str:
    runs = {r.source: r for r in state.runs}
    out = []
    for a in state.alerts:
        if not (a.firing and a.alert == "TeampulseSourceDown"):
            continue
        name = a.labels.get("source", "")
        run = runs.get(name)
        last = (
            f"last read {_stamp(run.last_success, tz)}"
            if run and run.last_success
            else "never read successfully"
        )
        failures = plural(run.consecutive_failures, "time") if run else "repeatedly"
        out.append(
            f'<p class="banner">The data source <b>{_e(name)}</b> has failed {_e(failures)} in a row ({_e(last)}): '
            "figures that come from it are out of date. Whoever runs teampulse can see why in its log.</p>"
        )
    return "".join(out)


def _stamp(epoch: float, tz: tzinfo) -> str:
    value = datetime.fromtimestamp(epoch, tz)
    return f"{day_words(value, tz)}, {value:%H:%M} {value.tzname()}"


def _summary(snapshots: Sequence[TeamSnapshot], firing: int) -> str:
    counts: dict[str, int] = {}
    for s in snapshots:
        counts[_badge(s)[0]] = counts.get(_badge(s)[0], 0) + 1
    words = [
        ("attention", "needs attention", "need attention"),
        ("watch", "is under pressure", "are under pressure"),
        ("answered", "is under pressure and answered", "are under pressure and answered"),
        ("learning", "is learning its normal", "are learning their normal"),
        ("calm", "is calm", "are calm"),
    ]
    parts = [f"{counts[k]} {one if counts[k] == 1 else many}" for k, one, many in words if counts.get(k)]
    text = f"{plural(len(snapshots), 'team')}: " + ", ".join(parts) + "." if snapshots else "No teams yet."
    return text + f" {plural(firing, 'alert')} firing."


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 64rem; margin: 1.5rem auto; padding: 0 1rem; color: #1f2328;
  line-height: 1.4; }
h1 { margin: 0 0 0.25rem; font-size: 1.6rem; }
.summary { font-size: 1.15rem; margin: 0.25rem 0; }
.meta, .zone { color: #57606a; font-size: 0.85rem; }
.overview { list-style: none; padding: 0; margin: 1rem 0; border: 1px solid #d0d7de; border-radius: 6px; }
.overview li { padding: 0.4rem 0.75rem; border-left: 6px solid #d0d7de; }
.overview li + li { border-top: 1px solid #eaeef2; }
.overview a { font-weight: 600; margin-right: 0.4rem; }
.team { border: 1px solid #d0d7de; border-left-width: 6px; border-radius: 6px; padding: 0.3rem 1rem 0.5rem;
  margin: 1.25rem 0; }
.team header { display: flex; align-items: baseline; gap: 0.75rem; flex-wrap: wrap; margin-top: 0.4rem; }
.team h2 { margin: 0; font-size: 1.35rem; } .team h2 a { color: inherit; text-decoration: none; }
.attention { border-left-color: #cf222e !important; } .watch { border-left-color: #bf8700 !important; }
.answered { border-left-color: #0969da !important; } .calm { border-left-color: #1a7f37 !important; }
.learning { border-left-color: #8c959f !important; }
.badge { font-size: 0.8rem; padding: 0.1rem 0.5rem; border-radius: 1rem; color: #fff; white-space: nowrap; }
.badge.attention { background: #cf222e; } .badge.watch { background: #9a6700; }
.badge.answered { background: #0969da; } .badge.calm { background: #1a7f37; } .badge.learning { background: #6e7781; }
.dash { margin-left: auto; font-size: 0.9rem; }
.headline { font-size: 1.1rem; font-weight: 600; margin: 0.5rem 0; }
.why, .todo { margin: 0.35rem 0; }
.todo { background: #fff8c5; padding: 0.35rem 0.6rem; border-radius: 4px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; margin: 0.6rem 0; }
figure { margin: 0; } figcaption { font-size: 0.8rem; color: #57606a; }
svg.chart { width: 100%; height: auto; display: block; font-family: system-ui, sans-serif; }
.plot { fill: #fff; stroke: #d0d7de; } .grid { stroke: #eaeef2; stroke-width: 1; }
.tick { font-size: 11px; fill: #57606a; } .axis { font-size: 11px; fill: #57606a; }
.note { font-size: 11px; fill: #57606a; }
.band { fill: #dafbe1; } .episode { fill: #ffebe9; } .learn { fill: #f6f8fa; }
.baseline { fill: none; stroke: #1a7f37; stroke-width: 1.2; stroke-dasharray: 4 3; }
polyline.pressure { fill: none; stroke: #cf222e; stroke-width: 2; } circle.pressure, .now { fill: #cf222e; }
polyline.support { fill: none; stroke: #0969da; stroke-width: 2; } circle.support, .now.support { fill: #0969da; }
.key { white-space: nowrap; margin-left: 0.3rem; }
.key i { display: inline-block; width: 0.9rem; height: 0.6rem; margin: 0 0.2rem 0 0.5rem; vertical-align: middle; }
.k-pressure { border-top: 2px solid #cf222e; height: 0 !important; } .k-band { background: #dafbe1; }
.k-baseline { border-top: 2px dashed #1a7f37; height: 0 !important; } .k-episode { background: #ffebe9; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 0.75rem; margin: 0.5rem 0; }
.facts dt { font-weight: 600; color: #57606a; } .facts dd { margin: 0; }
.banner { background: #ffebe9; border: 1px solid #ff8182; border-radius: 6px; padding: 0.5rem 0.75rem; }
@media (max-width: 44rem) { .charts { grid-template-columns: 1fr; } }
"""


def render_page(
    state: ExportState,
    dashboards: str | None = None,
    timezone: str = "UTC",
    team: str | None = None,
    uids: DashboardUids = DashboardUids(),
) -> str:
    """Return the HTML page of teams: who needs attention first, each with its trends.

    `timezone` is the organisation's (settings.timezone), for the page's own time stamp;
    each team's days are in the team's zone. With `team`, only that team (a page to link to).
    `dashboards` is Grafana's address and `uids` the dashboards' there.
    """
    tz = _zone(timezone)
    snapshots = sorted((s for s in state.snapshots if team is None or s.team == team), key=_order)
    shown = {s.team for s in snapshots}
    # A page of one team counts that team's alerts; the source alerts concern every team.
    firing = sum(1 for a in state.alerts if a.firing and a.labels.get("team", "") in shown | {""})
    nav = (
        f' · <a href="{_e(dashboards)}/d/{quote(uids.overview)}/">Organisation dashboard</a>'
        f' · <a href="{_e(dashboards)}/d/{quote(uids.health)}/">teampulse health</a>'
        if dashboards
        else ""
    )
    sections = "\n".join(_section(s, dashboards, uids) for s in snapshots)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>teampulse: teams</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_STYLE}</style></head>
<body><header><h1>teampulse</h1>
<p class="summary">{_e(_summary(snapshots, firing))}</p>
<p class="meta">Process pressure beside people support, per team. Figures as of {_e(_stamp(state.collected_at, tz))}
· <a href="/metrics">metrics</a>{nav}</p></header>
{_sources(state, tz)}
{_overview(snapshots) if len(snapshots) > 1 else ""}
{sections or (f"<p>No team named {_e(team)}.</p>" if team else "<p>No teams evaluated yet.</p>")}
{'<p><a href="/">All teams</a></p>' if team else ""}
</body></html>
"""
