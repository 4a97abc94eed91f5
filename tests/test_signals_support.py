"""Plugin signals: the support side honoured, the day judged and the source's events up to it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from plugin_dist import env_with, write_distribution
from prometheus_client.parser import text_string_to_metric_families
from support import KEY, NOW, Items

from teampulse import PersonSignal, SignalContext, SignalKind
from teampulse.collect import Pseudonymise
from teampulse.config import SCAN_DAYS, Config, load
from teampulse.engine import TeamSnapshot, evaluate_team
from teampulse.exporter import ExportState, render
from teampulse.people import SUPPORT_WEIGHTS
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store

D = timedelta(days=1)
H = timedelta(hours=1)
P = Pseudonymiser(KEY.encode())
SCRUB = Pseudonymise(P)
MEMBERS = [f"m{k}@example.com" for k in range(1, 6)]

CONFIG = f"""
[settings]
state = "state.db"
min_group_size = 5

[[teams]]
name = "payments"
manager = "maria@example.com"
members = {json.dumps(MEMBERS)}

[[teams]]
name = "search"
manager = "sam@example.com"
members = ["s1@example.com", "s2@example.com"]

[sources.pager]
plugin = "oncall"
path = "pages.json"

[sources.calendars]
plugin = "ics"
paths = ["calendars/*.ics"]
"""


def _page(ident: str, at: datetime, **who: object) -> PersonSignal:
    return PersonSignal(ident, "page", at, at, **who)  # type: ignore[arg-type]


def _store(cfg: Config, source: str, events: list[PersonSignal]) -> None:
    with Store(cfg.state) as store:
        store.apply_batch(source, [SCRUB(e) for e in events], None, 0)


@pytest.fixture
def cfg(write_config: Callable[..., Path], items: Items) -> Config:
    config = load(write_config(CONFIG))
    with Store(config.state) as store:
        # work since long ago, so that every day of the replay is judged
        store.apply_batch("jira", [SCRUB(items.make(created=NOW - 200 * D))], None, 0)
    return config


def _snap(cfg: Config, *signals: SignalKind, at: datetime = NOW) -> TeamSnapshot:
    with Store(cfg.state) as store:
        return evaluate_team(cfg, cfg.teams[0], store, at, P, {s.name: s for s in signals})


def _survey(n: int, score: float) -> list[PersonSignal]:
    return [
        PersonSignal(f"r{k}", "survey_response", NOW - k * H, NOW - k * H, team="payments",
                     attrs={"scores": {"support": score, "wellbeing": score}})
        for k in range(n)
    ]  # fmt: skip


def _metrics(snap: TeamSnapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = render(ExportState(snapshots=[snap])).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _constant(value: float | None) -> Callable[[str, Mapping[str, float], SignalContext], float | None]:
    return lambda team, facts, ctx: value


def test_a_support_signal_joins_the_support_index_and_its_metrics(cfg: Config) -> None:
    _store(cfg, "survey", _survey(6, 0.8))
    without = _snap(cfg)
    assert without.people.support_components == {"survey": pytest.approx(0.8), "recent_actions": 0.0}
    rest = SignalKind("on_call_rest", "support", 0.3, _constant(0.2))
    snap = _snap(cfg, rest)
    survey = without.people.support_components["survey"]
    assert snap.people.support_components == {"survey": survey, "recent_actions": 0.0, "on_call_rest": 0.2}
    expected = (0.15 * survey + 0.15 * 0.0 + 0.3 * 0.2) / (0.15 + 0.15 + 0.3)
    assert snap.support == round(expected, 6) != without.support
    assert snap.trend[-1].support == snap.support
    assert snap.pressure == without.pressure  # the support side only
    assert snap.to_json()["people"]["support_components"]["on_call_rest"] == 0.2
    metrics = _metrics(snap)
    team = (("team", "payments"),)
    assert metrics[("teampulse_people_support_ratio", team)] == round(expected, 6)
    component = (("component", "on_call_rest"), ("team", "payments"))
    assert metrics[("teampulse_people_support_component_ratio", component)] == 0.2
    assert ("teampulse_process_pressure_component_ratio", component) not in metrics


def test_a_support_signal_with_nothing_to_say_is_as_if_absent(cfg: Config) -> None:
    _store(cfg, "survey", _survey(6, 0.8))
    without = _snap(cfg)
    for value in (None, float("nan")):
        snap = _snap(cfg, SignalKind("on_call_rest", "support", 0.3, _constant(value)))
        assert (snap.support, snap.people.support_components) == (
            without.support,
            without.people.support_components,
        )


def test_a_support_signal_alone_gives_a_team_its_support_index(cfg: Config) -> None:
    assert _snap(cfg).support is None  # no calendar covers it, no survey: no data, not 0
    snap = _snap(cfg, SignalKind("on_call_rest", "support", 0.45, _constant(0.6)))
    # it is people data: recorded actions (none here) count beside it
    assert snap.people.support_components == {"on_call_rest": 0.6, "recent_actions": 0.0}
    assert snap.support == round(0.45 * 0.6 / (0.45 + SUPPORT_WEIGHTS["recent_actions"]), 6)


def test_a_support_signal_needs_a_team_at_the_anonymity_threshold(cfg: Config) -> None:
    with Store(cfg.state) as store:
        rest = SignalKind("on_call_rest", "support", 0.3, _constant(0.6))
        small = evaluate_team(cfg, cfg.teams[1], store, NOW, P, {"on_call_rest": rest})
    assert (small.support, small.people.support_components) == (None, {})


def test_old_style_signals_still_work_on_both_sides(cfg: Config) -> None:
    load = SignalKind(
        "pager_load", "pressure", 0.5, lambda team, facts: 1.0 if facts["members"] == 5 else 0.0
    )
    rest = SignalKind("pager_rest", "support", 0.15, lambda team, facts: 0.4)
    snap = _snap(cfg, load, rest)
    assert {c.name: c.score for c in snap.components}["pager_load"] == 1.0
    assert snap.people.support_components["pager_rest"] == 0.4


PAGES = [
    _page("p1", NOW - 40 * D, team="payments"),
    _page("p2", NOW - 20 * D, person=MEMBERS[0]),  # about one of its people, no team said
    _page("p3", NOW - 9 * D, people=("maria@example.com", "x@example.com")),  # its manager among others
    _page("p4", NOW - 2 * D, team="payments", person=MEMBERS[1]),
    _page("p5", NOW - 2 * D + H, team="search", person="s1@example.com"),  # another team's
    _page("p6", NOW + 3 * D, team="payments"),  # later than any day judged
]


def _stored_pages(cfg: Config) -> None:
    _store(cfg, "pager", PAGES)
    # the same kind of event from a source of another kind is not the signal's source
    _store(cfg, "calendars", [_page("c1", NOW - 3 * D, team="payments")])


def test_compute_gets_each_day_judged_and_the_events_known_by_then(cfg: Config) -> None:
    _stored_pages(cfg)
    seen: list[tuple[datetime, list[datetime]]] = []

    def record(team: str, facts: Mapping[str, float], ctx: SignalContext) -> float | None:
        seen.append((ctx.at, [e.start for e in ctx.events.signals()]))
        assert all(e.kind == "page" for e in ctx.events.signals(kind="page"))
        assert ctx.events.signals(kind="meeting") == ()
        return None

    _snap(cfg, SignalKind("pager_load", "pressure", 0.1, record, source="oncall"))
    # every day replayed, at as_of's time of day, the last one as_of itself
    assert [at for at, _ in seen] == [NOW - k * D for k in range(SCAN_DAYS, -1, -1)]
    mine = [p.start for p in PAGES if p.id in {"p1", "p2", "p3", "p4", "p6"}]
    for at, starts in seen:
        assert starts == [s for s in mine if s <= at]
    assert seen[-1][1] == [NOW - 40 * D, NOW - 20 * D, NOW - 9 * D, NOW - 2 * D]


def test_since_limits_the_events_and_people_stay_pseudonyms(cfg: Config) -> None:
    _stored_pages(cfg)
    got: dict[datetime, tuple[PersonSignal, ...]] = {}

    def week(team: str, facts: Mapping[str, float], ctx: SignalContext) -> float | None:
        got[ctx.at] = tuple(ctx.events.signals(since=ctx.at - 7 * D))
        return 1.0 - len(got[ctx.at]) / 7

    snap = _snap(cfg, SignalKind("quiet", "support", 0.2, week, source="oncall"))
    (last,) = got[NOW]  # p4 alone: p3 is 9 days old, p5 another team's, p6 later
    assert (last.start, last.team, last.person) == (NOW - 2 * D, "payments", P(MEMBERS[1]))
    assert snap.people.support_components["quiet"] == pytest.approx(6 / 7)
    # called for each day of the page's trend too, with that day's own week of pages
    assert sorted(got) == [point.at for point in snap.trend]
    for at, events in got.items():
        assert all(at - 7 * D < e.start <= at for e in events)
    assert sum(1 for events in got.values() if events) == 7 + 7 + 7 + 3  # p1, p2, p3, p4 a week each


def test_the_support_trend_moves_with_each_days_signal(cfg: Config) -> None:
    _stored_pages(cfg)

    def paged(team: str, facts: Mapping[str, float], ctx: SignalContext) -> float:
        return 0.0 if ctx.events.signals(since=ctx.at - 7 * D) else 1.0

    snap = _snap(cfg, SignalKind("quiet", "support", 0.15, paged, source="oncall"))
    starts = [NOW - 40 * D, NOW - 20 * D, NOW - 9 * D, NOW - 2 * D]
    for point in snap.trend:
        value = 0.0 if any(point.at - 7 * D < s <= point.at for s in starts) else 1.0
        assert point.support == round(0.15 * value / 0.30, 6), point.day


ONCALL = """
import json
from datetime import datetime, timedelta

from teampulse import Batch, PersonSignal, SignalKind, SourceKind, hookimpl


class Pages:
    def __init__(self, path):
        self.path = path

    def collect(self, ctx):
        pages = json.loads(self.path.read_text())
        yield Batch(events=[
            PersonSignal(id=p["id"], kind="page", start=datetime.fromisoformat(p["at"]),
                         end=datetime.fromisoformat(p["at"]), team=p["team"])
            for p in pages if datetime.fromisoformat(p["at"]) <= ctx.now
        ])


def seen(team, facts, ctx):
    # one hundredth per page known by the day judged: the metric says how many it saw
    return len(ctx.events.signals(kind="page")) / 100


@hookimpl
def register_sources(register):
    register(SourceKind(name="oncall", create=lambda config: Pages(config.path(config.str("path")))))


@hookimpl
def register_signals(register):
    register(SignalKind(name="pages_seen", side="support", weight=0.15, compute=seen, source="oncall"))
"""


def test_a_replay_reads_only_the_events_stored_up_to_each_day(tmp_path: Path) -> None:
    plugins = write_distribution(tmp_path / "site", "tp-oncall", "0.3.0", "oncall", "tp_oncall", ONCALL)
    work = tmp_path / "work"
    (work / "calendars").mkdir(parents=True)
    config = work / "teampulse.toml"
    config.write_text(
        CONFIG.replace('[sources.calendars]\nplugin = "ics"\npaths = ["calendars/*.ics"]\n', "")
    )
    page_days = [30, 21, 20, 12, 5, 1]
    pages = [{"id": f"p{d}", "team": "payments", "at": (NOW - d * D).isoformat()} for d in page_days]
    (work / "pages.json").write_text(json.dumps(pages))
    env = env_with(plugins, TEAMPULSE_PSEUDONYM_KEY=KEY, TEAMPULSE_PLUGINS="oncall")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "teampulse.cli", *args, "--config", str(config)],
            env=env, capture_output=True, text=True,
        )  # fmt: skip

    collected = run("collect", "--as-of", NOW.isoformat(), "--quiet")
    assert collected.returncode == 0, collected.stderr
    now = {
        s.labels.get("component"): s.value
        for family in text_string_to_metric_families(collected.stdout)
        if family.name == "teampulse_people_support_component_ratio"
        for s in family.samples
        if s.labels["team"] == "payments"
    }
    assert now == {"pages_seen": 0.06, "recent_actions": 0.0}

    out = tmp_path / "history.om"
    start = NOW - 25 * D
    replayed = run(
        "backfill", "--from", start.isoformat(), "--to", NOW.isoformat(), "--step", "1d", "--output", str(out)
    )
    assert replayed.returncode == 0, replayed.stderr
    # promtool reads it (tests/test_backfill.py); here each sample line: NAME{LABELS} VALUE TIMESTAMP
    series = 'teampulse_people_support_component_ratio{component="pages_seen",team="payments"}'
    history = {
        datetime.fromtimestamp(float(at), NOW.tzinfo): float(value)
        for name, value, at in (
            line.split(" ") for line in out.read_text().splitlines() if line.startswith(series)
        )
    }
    days = [start + k * D for k in range(26)]
    assert history == {day: sum(1 for d in page_days if NOW - d * D <= day) / 100 for day in days}
    assert len(set(history.values())) == 6  # each page shows from its own day on, never before
