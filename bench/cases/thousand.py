"""The thousand-team case: 1,000 teams, 10,000 people, 1,000,000 work items, 500,000 meetings.

The store is built directly (bench/bigstore.py); the teams' Jira is the emulator, with a few
issues a team, so the measured collection cycle is a quiet one, as most are. Measured: peak
memory of evaluating a subset of the teams with and without the history (the work done); one
evaluation; one collection cycle (quiet collect, evaluation, exposition) against the interval;
/metrics latency for 50 scrapers at once, idle and during that cycle; series per team.

The subset's evaluation, run against the whole store, gives the cost per team. When serving
every team would not fit the time left (`budget`), `serve` runs with the subset configured,
and what scales with the teams is extrapolated and labelled so; a row says that it happened.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bigstore import Organisation, write
from bench.child import call
from bench.emulator import Emulator, sparse_args
from bench.jira_requests import per_team
from bench.measure import timed
from bench.table import Row, compare, info
from bench.teampulse_side import check
from bench.workspace import PSEUDONYM_KEY, write_config
from teampulse.app import Runtime
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store

SUBSET = 50  # teams evaluated with and without their history, and served when all would not fit
SCRAPERS = 50
# Seconds between the scrapers' waves during the cycle: some ten waves, one a second at most.
SCRAPE_INTERVAL = (1.0, 5.0)
IDLE_WAVES = 2  # waves of scrapes with no collection running
OM_WAVES = 1  # waves asking as Prometheus does: each scrape renders the exposition anew
P99_MS = 25.0
SERIES_PER_TEAM = 40
# "Peak memory bounded by open work, not history": adding the history (some 17 times the
# open work) may raise the peak of the same teams' evaluation by a quarter at most.
HISTORY_MEMORY_AT_MOST = 1.25
# Serving is two evaluations and a quiet collection, slowed by the scrapers beside them.
SERVE_MARGIN = 1.5


def _say(message: str) -> None:
    print(f"  thousand: {message}", file=sys.stderr, flush=True)


@dataclass
class Measured:
    """What one run of the case measured, for the rows."""

    teams: int
    subset: int
    built: dict[str, int]
    build_seconds: float
    first_sync: dict[str, Any]
    without: dict[str, Any]
    with_history: dict[str, Any]
    served: dict[str, Any]
    projected: float
    remaining: float


def run(params: dict[str, Any]) -> list[Row]:
    """Measure: params teams, budget (seconds this case may take)."""
    started = time.perf_counter()
    teams, budget = int(params["teams"]), float(params["budget"])
    org = Organisation(teams=teams, people=10, items=teams * 1000, meetings=teams * 500)
    subset = min(teams, SUBSET)
    name = f"{teams:,} teams"
    with Emulator(*sparse_args(teams, org.people, 3)) as emulator, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        specs = org.specs()
        config = write_config(folder, specs, emulator.url)
        sub_config = write_config(folder, specs[:subset], emulator.url, name="subset.toml")
        now = datetime.now(UTC)
        pseudonym = Pseudonymiser(PSEUDONYM_KEY.encode())

        _say(f"{name}: writing open work and calendars")
        with Store(folder / "bench.db") as store, timed() as build_open:
            built = write(store, pseudonym, org, now, "open", _say)
        built["open_items"] = built["work_items"]
        _say(f"{name}: evaluating {subset} teams without history")
        without = call("bench.serving:evaluate", config=str(sub_config))
        _say(f"{name}: writing the history")
        with Store(folder / "bench.db") as store, timed() as build_history:
            built["work_items"] += write(store, pseudonym, org, now, "history", _say)["work_items"]
        _say(f"{name}: evaluating {subset} teams with history")
        with_history = call("bench.serving:evaluate", config=str(sub_config))

        _say(f"{name}: first sync from Jira of {subset} teams (setup)")
        first = _first_sync(sub_config, emulator)
        per_team_s = with_history["wall"] / subset
        first_per_team = first["wall"] / subset
        # Two evaluations, the other teams' first sync, and the OpenMetrics scrapes' renderings.
        om_per_team = with_history["openmetrics"] / subset
        projected = SERVE_MARGIN * (
            2 * per_team_s * teams
            + first_per_team * (teams - subset)
            + OM_WAVES * SCRAPERS * om_per_team * teams
        )
        remaining = budget - (time.perf_counter() - started)
        full = teams == subset or projected <= remaining
        if full and teams != subset:
            _say(f"{name}: first sync from Jira of the other teams (setup)")
            first = _first_sync(config, emulator)
        elif not full:
            _say(
                f"{name}: serving all would take some {projected:.0f} s, {remaining:.0f} s are left: serving {subset}"
            )
        served = call(
            "bench.serving:serve",
            config=str(config if full else sub_config),
            jira_url=emulator.url,
            clients=SCRAPERS,
            interval=min(
                max(per_team_s * (teams if full else subset) / 10, SCRAPE_INTERVAL[0]), SCRAPE_INTERVAL[1]
            ),
            idle_waves=IDLE_WAVES,
            om_waves=OM_WAVES,
        )
    measured = Measured(
        teams,
        subset,
        built,
        build_open.wall + build_history.wall,
        first,
        without,
        with_history,
        served,
        projected,
        remaining,
    )
    return _rows(measured, name)


def _first_sync(config: Path, emulator: Emulator) -> dict[str, Any]:
    runtime = Runtime.open(str(config))
    try:
        emulator.reset()
        with timed() as span:
            check(runtime.collect())
        return {"wall": span.wall, "stats": emulator.stats()}
    finally:
        runtime.close()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _s(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def _rows(m: Measured, name: str) -> list[Row]:
    served = m.served
    served_teams = int(served["teams"])
    scale = m.teams / served_teams
    # What was measured on fewer teams than the case has says so in its name.
    at = f" (measured at {served_teams:,} teams)" if scale != 1 else ""
    times = f" (extrapolated ×{scale:g} from {served_teams:,} teams)" if scale != 1 else ""
    evaluation, cycle = served["evaluation"], served["cycle"]
    idle, during, prometheus = served["idle_scrapes"], served["scrapes"], served["prometheus_scrapes"]
    gil = served["gil_wait"]
    exposition = served["series"]
    in_cycle = cycle["wall"] - cycle["collect"]
    families = ", ".join(f"{family} {n}" for family, n in exposition["families"].items())
    return [
        info(
            f"{name}: store built",
            m.build_seconds,
            "s",
            f"{m.built['work_items']:,} work items ({m.built['open_items']:,} open), {m.built['meetings']:,} meetings, {m.built['time_off']:,} "
            "time off, pseudonymised and written through Store.apply_batch",
        ),
        compare(
            f"{name}: served in full within the time left",
            m.projected,
            "s",
            "time left",
            m.remaining,
            at_most=1.0,
            cause=(
                f"two evaluations at {m.with_history['wall'] / m.subset * 1000:.0f} ms per team (measured on "
                f"{m.subset} teams against the whole store), the other teams' first sync and {SCRAPERS * OM_WAVES} "
                f"OpenMetrics renderings at {m.with_history['openmetrics'] / m.subset * 1000:.1f} ms per team, "
                f"×{SERVE_MARGIN:g} for the scrapers: serve ran with {served_teams:,} teams; rows marked so are "
                "extrapolated"
                if scale != 1
                else "every team served"
            ),
        ),
        info(
            f"{name}: evaluation (engine + exposition){times}",
            evaluation["wall"] * scale,
            "s",
            f"CPU {evaluation['cpu'] * scale:.0f} s; {evaluation['wall'] / served_teams * 1000:.0f} ms per team",
        ),
        compare(
            f"{name}: collection cycle (quiet collect + evaluation){times}",
            cycle["wall"] * scale,
            "s",
            "interval",
            served["interval"],
            at_most=1.0,
            cause=(
                f"the first cycle after the start: collect {_s(cycle['collect'] * scale)}, evaluation and "
                f"exposition {_s(in_cycle * scale)} ({in_cycle / served_teams * 1000:.0f} ms per team) while "
                f"{SCRAPERS} scrapers scraped"
                + (
                    f"; {served['cycles'] - 1} more cycle(s) ran back to back while they scraped, median "
                    + _s(statistics.median(served["later_cycle_wall"]) * scale)
                    if served["later_cycle_wall"]
                    else ""
                )
            ),
        ),
        info(
            # Not scaled: a quiet collection's requests need not grow with the teams.
            f"{name}: quiet collection requests{at}",
            served["requests"]["total"],
            "requests",
            per_team(served["requests"]["by_endpoint"], served_teams),
        ),
        compare(
            f"{name}: peak memory evaluating {m.subset} teams",
            m.with_history["peak_mib"],
            "MiB",
            "same without history",
            m.without["peak_mib"],
            at_most=HISTORY_MEMORY_AT_MOST,
            cause=(
                f"the history changed it by {round(m.with_history['peak_mib'] - m.without['peak_mib']):+d} MiB; the process "
                f"held {m.with_history['base_mib']:.0f} MiB before evaluating, the rest is the evaluation's"
            ),
        ),
        info(
            f"{name}: peak memory of serve{at}",
            served["peak_mib"],
            "MiB",
            f"evaluation, cycles and scrapes; the evaluation alone {evaluation['peak_mib']:.0f} MiB",
        ),
        compare(
            f"{name}: /metrics p99, {SCRAPERS} scrapers during collection{at}",
            during["p99_ms"],
            "ms",
            "target",
            P99_MS,
            at_most=1.0,
            cause=(
                f"{during['count']:,} scrapes of the cached text ({during['bytes'] / 1e6:.2f} MB gzipped), {SCRAPERS} at "
                f"once: p50 {_ms(during['p50_ms'])}, {during['errors']} failed; with no collection running, "
                f"p99 {_ms(idle['p99_ms'])} and p50 {_ms(idle['p50_ms'])}. The collector's thread holds "
                f"the GIL: a thread asking for it during the cycle waited {_ms(gil['p99_ms'])} at p99, "
                f"{_ms(gil['max_ms'])} at most"
            ),
        ),
        compare(
            f"{name}: /metrics p99, {SCRAPERS} scrapers asking as Prometheus does{at}",
            prometheus["p99_ms"],
            "ms",
            "target",
            P99_MS,
            at_most=1.0,
            cause=(
                f"OpenMetrics, gzipped, {prometheus['bytes'] / 1e6:.2f} MB a scrape: rendered "
                f"({served['openmetrics_render'] * 1000:.0f} ms) and compressed once per cycle, in the "
                f"collector's thread; {prometheus['count']} scrapes in "
                f"{OM_WAVES} wave(s), with no collection running: "
                f"p50 {_ms(prometheus['p50_ms'])}, {prometheus['errors']} failed"
            ),
        ),
        compare(
            f"{name}: series per team (the most of any team)",
            exposition["max"],
            "series",
            "target",
            SERIES_PER_TEAM,
            at_most=1.0,
            cause=(
                f"mean {exposition['mean']:.1f}, in {exposition['family_count']} metrics, the most {families}; "
                f"{exposition['other']} series of no team"
            ),
        ),
    ]
