"""The team page at `/`: each team's state in plain words, no person named."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from .exporter import ExportState


def _words(snap_pressure: float, baseline: float) -> str:
    if snap_pressure >= 0.6:
        return "high"
    if snap_pressure >= baseline + 0.2:
        return "rising"
    if snap_pressure >= 0.3:
        return "moderate"
    return "calm"


def render_page(state: ExportState) -> str:
    """Return the HTML page of teams and their state."""
    alerts = {(a.alert, a.labels.get("team")): a for a in state.alerts if a.firing}
    rows = []
    snapshots = sorted(state.snapshots, key=lambda s: (not s.pressure_unmatched, -s.pressure, s.team))
    for s in snapshots:
        alert = alerts.get(("ProcessPressureWithoutLeadership", s.team))
        if alert:
            verdict = f'<p class="alert"><strong>Pressure without leadership.</strong> {html.escape(alert.description)}</p>'
        elif s.episode_start is not None:
            since = s.episode_start.strftime("%Y-%m-%d")
            acted = sum(s.actions_since_episode.values())
            verdict = (
                f'<p class="ok">Pressure elevated since {since}; '
                f"{acted} leadership action(s) since then answer it.</p>"
            )
        else:
            verdict = '<p class="ok">Pressure is at the team\'s normal level.</p>'
        rows.append(
            f"""<section class="team" id="team-{html.escape(s.team)}">
<h2>{html.escape(s.team)} <span class="state">{_words(s.pressure, s.baseline)}</span></h2>
<p>Process pressure <b>{s.pressure:.2f}</b> (baseline {s.baseline:.2f}).
{s.in_progress} items in progress ({s.wip_per_person:.1f} per available person),
{s.overdue} overdue, {s.due_soon} due within 7 days, {s.throughput} completed in the last 7 days.</p>
{verdict}
</section>"""
        )
    down = [a for a in state.alerts if a.firing and a.alert == "TeampulseSourceDown"]
    sources = "".join(
        f'<p class="alert">Source {html.escape(a.labels.get("source", ""))} is failing: '
        f"{html.escape(a.description)}</p>"
        for a in down
    )
    stamp = datetime.fromtimestamp(state.collected_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>teampulse</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
.team {{ border: 1px solid #ddd; border-radius: 6px; padding: 0 1rem; margin: 1rem 0; }}
.alert {{ color: #a00; }} .ok {{ color: #060; }} .state {{ font-size: 0.7em; color: #666; }}
</style></head>
<body><h1>teampulse</h1>
<p>Process pressure beside people support, per team. Values computed at {stamp};
metrics at <a href="/metrics">/metrics</a>.</p>
{sources}
{"".join(rows) or "<p>No teams evaluated yet.</p>"}
</body></html>
"""
