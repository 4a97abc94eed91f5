"""Evaluation that follows the changes: cycles with a kept EvaluationCache give a full replay's numbers.

Every comparison is value by value: each snapshot whole (dataclasses.asdict: every figure, the
people view, the components, the trend) and the rendered exposition. The times are fixed.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support import KEY
from teampulse_demo.demo import TOKEN_ENV, write_demo_config
from teampulse_demo.people import write_people_data
from teampulse_jira_emulator import EmulatorServer, generate_organisation

from teampulse import config as config_mod
from teampulse.app import Runtime
from teampulse.collect import Pseudonymise
from teampulse.engine import EvaluationCache, TeamSnapshot, evaluate
from teampulse.exporter import ExportState, render
from teampulse.kinds import SignalContext, SignalKind
from teampulse.model import (
    Change,
    Event,
    LeadershipAction,
    PersonSignal,
    SignalsReplaced,
    Sprint,
    StatusCategory,
    WorkItem,
    WorkItemRemoved,
)
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store

D = timedelta(days=1)
P = Pseudonymiser(KEY.encode())
SCRUB = Pseudonymise(P)
TODO, DOING, DONE = StatusCategory.TODO, StatusCategory.IN_PROGRESS, StatusCategory.DONE
NOW = datetime(2026, 3, 16, 11, 0, tzinfo=UTC)  # a Monday, in working hours: days move every cycle
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata")


def _exported(snapshots: list[TeamSnapshot]) -> tuple[list[dict[str, Any]], bytes]:
    """Return every snapshot whole and the exposition rendered from them."""
    return [dataclasses.asdict(s) for s in snapshots], render(
        ExportState(snapshots=snapshots, collected_at=0.0)
    )


def _same_as_full_replay(
    cfg: config_mod.Config,
    store: Store,
    cache: EvaluationCache,
    at: datetime,
    signals: dict[str, SignalKind] | None = None,
    with_trend: bool = True,
) -> list[TeamSnapshot]:
    kept = evaluate(cfg, store, at, P, signals, with_trend=with_trend, cache=cache)
    full = evaluate(cfg, store, at, P, signals, with_trend=with_trend)
    mine, theirs = _exported(kept), _exported(full)
    for a, b in zip(mine[0], theirs[0], strict=True):
        assert a == b, next(f"{a['team']}: {k}" for k in a if a[k] != b[k])
    assert mine[1] == theirs[1]
    return kept


# -- a generated organisation ------------------------------------------------------------------


def _email(team: int, k: int) -> str:
    return f"t{team:02d}p{k}@org.example"


def _config(folder: Path, teams: int, extra: str = "", settings: str = "") -> config_mod.Config:
    lines = [
        "[settings]",
        'state = "org.db"',
        'timezone = "UTC"',
        'working_hours = "09:00-17:00"',
        settings,
        "",
    ]
    for t in range(teams):
        members = ", ".join(f'"{_email(t, k)}"' for k in range(1, 7))
        lines += [
            "[[teams]]",
            f'name = "team{t:02d}"',
            f'manager = "{_email(t, 0)}"',
            f"members = [{members}]",
            f'jql = "project = T{t}"',
            f'timezone = "{ZONES[t % len(ZONES)]}"',
            "",
        ]
    lines += ["[sources.calendars]", 'plugin = "ics"', 'paths = ["calendars/*.ics"]', ""]
    path = folder / "teampulse.toml"
    path.write_text("\n".join(lines) + extra)
    return config_mod.load(path)


def _working(rng: random.Random, day: date, zone: str) -> datetime:
    local = datetime.combine(day, time(9), ZoneInfo(zone)) + timedelta(minutes=rng.randrange(0, 8 * 60))
    return local.astimezone(UTC)


def _team_events(team: int, now: datetime, days: int, seed: int) -> list[Event]:
    """A team's year of work and its calendars up to `now` (and a little after), deterministic."""
    rng = random.Random(seed * 1000 + team)
    zone = ZONES[team % len(ZONES)]
    people = [_email(team, k) for k in range(7)]
    manager, members = people[0], people[1:]
    out: list[Event] = []
    first = now.date() - days * D
    n = 0
    crunch = team % 3 == 0  # a third of the teams pile up late work in the last weeks
    for back in range(days, 0, -1):
        day = now.date() - back * D
        if day.weekday() >= 5:
            continue
        for _ in range(rng.choice((1, 2, 2, 3)) + (2 if crunch and back < 20 else 0)):
            n += 1
            created = _working(rng, day, zone)
            owner = rng.choice(members)
            sprint = (day - first).days // 14
            start = datetime.combine(first + sprint * 14 * D, time(0), UTC)
            changes = [
                Change(f"{n}-a", created + timedelta(minutes=1), "assignee", None, owner),
                Change(f"{n}-s", created + timedelta(minutes=2), "sprint", None, str(sprint)),
            ]
            due = None
            if rng.random() < 0.5:
                due = day + rng.randint(2, 12) * D
                changes.append(
                    Change(f"{n}-d", created + timedelta(minutes=3), "duedate", None, due.isoformat())
                )
            status = TODO
            # work moves in working hours, mostly: a few things happen at night
            started = max(_working(rng, day + rng.randint(0, 3) * D, zone), created + timedelta(minutes=30))
            if started < now and rng.random() < 0.95:
                changes.append(Change(f"{n}-p", started, "status", TODO, DOING))
                status = DOING
                if rng.random() < 0.2:
                    other = rng.choice(members)
                    changes.append(Change(f"{n}-r", started + timedelta(hours=5), "assignee", owner, other))
                    owner = other
                if due is not None and rng.random() < 0.2:
                    moved = due + rng.randint(2, 6) * D
                    changes.append(
                        Change(f"{n}-m", started + D, "duedate", due.isoformat(), moved.isoformat())
                    )
                    due = moved
                took = rng.randint(0, 9 if not crunch or back > 20 else 40) * D
                done = max(_working(rng, started.date() + took, zone), started + timedelta(hours=1))
                if done < now:
                    changes.append(Change(f"{n}-f", done, "status", DOING, DONE))
                    status = DONE
            changes = [c for c in changes if c.at < now]
            out.append(
                WorkItem(
                    f"{team}-{n}",
                    f"T{team}-{n}",
                    f"team{team:02d}",
                    created,
                    max(c.at for c in changes),
                    status,
                    due,
                    owner,
                    (Sprint(str(sprint), "active", start, start + 14 * D),),
                    tuple(changes),
                )
            )
    cal_from, cal_to = now - 140 * D, now + 14 * D
    for person in people:
        out.append(SignalsReplaced(person, ("meeting", "time_off"), cal_from, cal_to))
        out.append(
            PersonSignal(
                f"tz|{person}",
                "timezone",
                now - 2 * D,
                now - 2 * D,
                person=person,
                attrs={"tz": zone if rng.random() < 0.8 else "Europe/London"},
            )
        )
    for k, member in enumerate(members):
        if team % 4 == 3 and k < 3:
            continue  # some 1:1s never happen
        weekday = k % 5
        day = cal_from.date()
        while datetime.combine(day, time(0), UTC) < cal_to:
            if day.weekday() == weekday:
                at = _working(rng, day, zone)
                out.append(
                    PersonSignal(
                        f"1on1-{team}-{k}|{day}",
                        "meeting",
                        at,
                        at + timedelta(minutes=30),
                        person=manager,
                        people=(manager, member),
                        attrs={"category": "one_on_one", "recurring": True},
                        owner=manager,
                    )
                )
            day += D
    for week in range(22):
        at = _working(rng, cal_from.date() + week * 7 * D, zone)
        out.append(
            PersonSignal(
                f"checkin-{team}|{week}",
                "meeting",
                at,
                at + timedelta(hours=1),
                person=manager,
                people=tuple(people),
                attrs={"category": "check_in"},
                owner=manager,
            )
        )
        late = at.replace(hour=19)  # after hours somewhere
        who = tuple(rng.sample(people, 3))
        out.append(
            PersonSignal(
                f"late-{team}|{week}",
                "meeting",
                late,
                late + timedelta(hours=1),
                person=who[0],
                people=who,
                attrs={"category": "meeting"},
                owner=manager,
            )
        )
    for k, member in enumerate(members):
        off = datetime.combine(now.date() - rng.randint(-10, 100) * D, time(0), UTC)
        out.append(
            PersonSignal(
                f"off-{team}-{k}", "time_off", off, off + rng.randint(1, 8) * D, person=member, owner=member
            )
        )
        if k == 0:  # a meeting booked over it
            at = off + timedelta(hours=10)
            out.append(
                PersonSignal(
                    f"over-{team}",
                    "meeting",
                    at,
                    at + timedelta(hours=1),
                    person=manager,
                    people=(manager, member, members[1]),
                    attrs={"category": "meeting"},
                    owner=manager,
                )
            )
    for week in range(12):
        at = now - week * 7 * D - D
        for r in range(rng.randint(3, 7)):
            out.append(
                PersonSignal(
                    f"pulse-{team}-{week}-{r}",
                    "survey_response",
                    at,
                    at,
                    team=f"team{team:02d}",
                    attrs={"scores": {"support": rng.random(), "wellbeing": rng.random()}},
                )
            )
    if team % 2:
        out.append(
            LeadershipAction(f"act-{team}", f"team{team:02d}", "recorded", now - rng.randint(1, 30) * D, None)
        )
    return out


def _write(store: Store, events: list[Event]) -> None:
    """Store events as collections would: work items from "jira", people from "calendars", actions by hand."""
    for source, kinds in (
        ("jira", (WorkItem, WorkItemRemoved)),
        ("calendars", (PersonSignal, SignalsReplaced)),
    ):
        batch = [SCRUB(e) for e in events if isinstance(e, kinds)]
        for start in range(0, len(batch), 500):
            store.apply_batch(source, batch[start : start + 500], None, 0)
    for e in events:
        if isinstance(e, LeadershipAction):
            store.add_action(SCRUB(e))


@pytest.fixture(scope="module")
def organisation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A store of 24 teams (one more configured: it has no data yet) with 200 days of history."""
    folder = tmp_path_factory.mktemp("org")
    teams = 24
    _config(folder, teams)
    with Store(folder / "org.db") as store:
        store.bind_key(P.fingerprint)
        for t in range(teams):
            _write(store, _team_events(t, NOW, 200, seed=1))
    yield folder, teams


def _copy(folder: Path, tmp_path: Path, teams: int) -> tuple[config_mod.Config, Store]:
    (tmp_path / "org.db").write_bytes((folder / "org.db").read_bytes())
    cfg = _config(tmp_path, teams + 1)  # team{teams} is configured before it has any data
    return cfg, Store(cfg.state)


def _item(
    team: str,
    ident: str,
    created: datetime,
    changes: list[tuple[datetime, str, Any, Any]],
    status: StatusCategory,
    due: date | None = None,
    who: str | None = None,
) -> WorkItem:
    return WorkItem(
        ident,
        ident.upper(),
        team,
        created,
        max([created, *(c[0] for c in changes)]),
        status,
        due,
        who,
        (),
        tuple(Change(f"{ident}-{n}", *c) for n, c in enumerate(changes)),
    )


def test_cycles_give_a_full_replays_numbers(organisation: tuple[Path, int], tmp_path: Path) -> None:
    folder, teams = organisation
    cfg, store = _copy(folder, tmp_path, teams)
    cache = EvaluationCache()
    at = NOW
    _same_as_full_replay(cfg, store, cache, at)
    # A quarter of an hour later, nothing stored since: days judged at the new time of day.
    at += timedelta(minutes=15)
    _same_as_full_replay(cfg, store, cache, at)
    assert cache.stats["teams_read"] == 0 and cache.stats["items_read"] == 0

    # New work today, an item done, one back-dated into the past, one deleted, a history rewritten.
    a, b = _email(1, 1), _email(2, 2)
    _write(
        store,
        [
            _item(
                "team01",
                "new-1",
                at - timedelta(hours=2),
                [(at - timedelta(hours=1), "status", TODO, DOING)],
                DOING,
                (at + 2 * D).date(),
                a,
            ),
            _item(
                "team01",
                "old-1",
                at - 50 * D,
                [(at - 49 * D, "status", TODO, DOING)],
                DOING,
                (at - 20 * D).date(),
                a,
            ),
            _item(
                "team02",
                "2-5",
                at - 190 * D,
                [(at - 189 * D, "status", TODO, DOING), (at - 30 * D, "status", DOING, DONE)],
                DONE,
                None,
                b,
            ),
            WorkItemRemoved("2-7", "team02", at),
            WorkItemRemoved("3-9", "team03", at - 40 * D),
        ],
    )
    at += timedelta(minutes=15)
    _same_as_full_replay(cfg, store, cache, at)
    assert cache.stats["teams_read"] == 0
    assert 1 <= cache.stats["items_read"] <= 5

    # People: a 1:1 today, time off back-dated and ahead, a survey, an action recorded and one removed.
    m0, m1 = _email(4, 0), _email(4, 1)
    _write(
        store,
        [
            PersonSignal(
                "extra-1on1",
                "meeting",
                at - timedelta(hours=1),
                at - timedelta(minutes=30),
                person=m0,
                people=(m0, m1),
                attrs={"category": "one_on_one"},
                owner=m0,
            ),
            PersonSignal("off-late", "time_off", at - 9 * D, at - 2 * D, person=m1, owner=m1),
            PersonSignal(
                "off-ahead", "time_off", at + 2 * D, at + 9 * D, person=_email(5, 2), owner=_email(5, 2)
            ),
            PersonSignal(
                "pulse-x",
                "survey_response",
                at - D,
                at - D,
                team="team06",
                attrs={"scores": {"support": 0.1, "wellbeing": 0.2}},
            ),
            LeadershipAction("act-new", "team07", "recorded", at - timedelta(minutes=5), None),
        ],
    )
    assert store.remove_action(next(r.id for r in store.list_actions("team01")))
    at += timedelta(minutes=15)
    _same_as_full_replay(cfg, store, cache, at)
    assert cache.stats["teams_read"] == 0

    # A calendar read again: its 1:1s of the last weeks cancelled; the new team's history arrives.
    manager = _email(8, 0)
    _write(store, [SignalsReplaced(manager, ("meeting",), at - 30 * D, at + 14 * D)])
    _write(store, _team_events(teams, NOW, 120, seed=2))
    at += timedelta(hours=9)  # the evening: after the working day
    _same_as_full_replay(cfg, store, cache, at)

    # Events older than the retention go, the next day comes.
    store.prune((at - 110 * D).timestamp())
    for hours in (1, 24, 24 * 3):
        _same_as_full_replay(cfg, store, cache, at + timedelta(hours=hours))


def test_a_quiet_cycle_computes_little(organisation: tuple[Path, int], tmp_path: Path) -> None:
    folder, teams = organisation
    cfg, store = _copy(folder, tmp_path, teams)
    cache = EvaluationCache()
    night = NOW.replace(hour=1)  # nothing happens at this time of day in most teams' zones
    _same_as_full_replay(cfg, store, cache, night)
    assert cache.stats["days_computed"] == cache.stats["days"] > 0  # the first cycle computes every day
    _same_as_full_replay(cfg, store, cache, night + timedelta(minutes=15))
    stats = cache.stats
    assert stats["teams_read"] == stats["items_read"] == stats["people_read"] == 0
    # Only the days whose time moved over an event (the Sydney and Kolkata teams' working day) are computed.
    assert stats["days_computed"] < stats["days"] / 2
    assert stats["views_computed"] < stats["views"] / 2
    assert stats["replayed"] < stats["days"] / 2


def test_a_replay_of_the_past_reads_no_future_and_leaves_none(
    organisation: tuple[Path, int], tmp_path: Path
) -> None:
    folder, teams = organisation
    cfg, store = _copy(folder, tmp_path, teams)
    cache = EvaluationCache()
    _same_as_full_replay(cfg, store, cache, NOW)
    # Back in time with the same cache (check --as-of, backfill): what was stored after is not read...
    for back in (timedelta(hours=3), 2 * D, 10 * D, 45 * D):
        _same_as_full_replay(cfg, store, cache, NOW - back, with_trend=False)
    # ... and the cache is not left with it: now again, the numbers of now.
    _same_as_full_replay(cfg, store, cache, NOW + timedelta(minutes=1))


def test_a_backfill_a_day_at_a_time_reuses_yesterdays_days(
    organisation: tuple[Path, int], tmp_path: Path
) -> None:
    folder, teams = organisation
    cfg, store = _copy(folder, tmp_path, teams)
    cache = EvaluationCache()
    start = NOW - 20 * D
    _same_as_full_replay(cfg, store, cache, start, with_trend=False)
    _same_as_full_replay(cfg, store, cache, start + D, with_trend=False)
    # yesterday's days are today's, but for the new one (and teams whose items left the window)
    assert cache.stats["days_computed"] < cache.stats["days"] / 4


def test_another_config_starts_over(organisation: tuple[Path, int], tmp_path: Path) -> None:
    folder, teams = organisation
    cfg, store = _copy(folder, tmp_path, teams)
    cache = EvaluationCache()
    _same_as_full_replay(cfg, store, cache, NOW)
    # weights, thresholds, membership, min_group_size: a new config is another engine
    weights = _config(
        tmp_path, teams + 1, "\n[pressure.weights]\nwip_per_person = 0.5\noverdue_share = 0.5\n"
    )
    group = _config(tmp_path, teams + 1, settings="min_group_size = 8")
    fewer = _config(tmp_path, teams - 3)
    for other in (weights, group, fewer):
        _same_as_full_replay(other, store, cache, NOW + timedelta(minutes=15))
        assert cache.stats["teams_read"] == len(other.teams)


def test_a_rekeyed_store_is_read_again(organisation: tuple[Path, int], tmp_path: Path) -> None:
    folder, teams = organisation
    cfg, store = _copy(folder, tmp_path, teams)
    cache = EvaluationCache()
    _same_as_full_replay(cfg, store, cache, NOW)
    store.rekey("another-key")
    _same_as_full_replay(cfg, store, cache, NOW + timedelta(minutes=15))
    assert cache.stats["everything_changed"] == 1


def test_plugin_signals_are_asked_every_day_as_without_a_cache(
    organisation: tuple[Path, int], tmp_path: Path
) -> None:
    folder, teams = organisation
    cfg, store = _copy(folder, tmp_path, teams)
    seen: list[tuple[str, float]] = []

    def load(team: str, facts: Any, ctx: SignalContext) -> float | None:
        seen.append((team, ctx.at.timestamp()))
        events = ctx.events.signals(since=ctx.at - 7 * D)
        # what it reads of an event: its kind, people and whose calendar said it
        mine = [e for e in events if e.kind == "meeting" and e.owner == e.person]
        return min(len(mine) / 5.0, 1.0) if team != "team03" else None

    signals = {
        "load": SignalKind("load", "pressure", 0.2, load, source="ics"),
        "quiet": SignalKind(
            "quiet", "support", 0.1, lambda team, facts: 0.5 if facts["open_items"] else None
        ),
    }
    cache = EvaluationCache()
    manager, member = _email(1, 0), _email(1, 1)
    shared = PersonSignal(
        "shared", "meeting", NOW - D, NOW - D + timedelta(hours=1), person=manager, people=(manager, member)
    )
    for n, at in enumerate((NOW, NOW + timedelta(minutes=15), NOW + timedelta(minutes=30), NOW + D)):
        # both calendars show the meeting: whichever was read last says it
        _write(store, [dataclasses.replace(shared, owner=(manager, member)[n % 2])])
        _same_as_full_replay(cfg, store, cache, at, signals)
        assert seen and all(t <= at.timestamp() for _team, t in seen)
        seen.clear()


def test_the_demo_organisation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    org = generate_organisation(seed=11, now=now)
    write_people_data(org, tmp_path, now)
    monkeypatch.setenv(TOKEN_ENV, "t")
    with EmulatorServer(org.dataset, mode="cloud") as emulator:
        path = write_demo_config(tmp_path, emulator.url, list(org.teams), people=True)
        runtime = Runtime.open(str(path))
        try:
            report = runtime.collect(now=now)
            assert not report.failed
            cfg, store, cache = runtime.config, runtime.store, EvaluationCache()
            team = cfg.teams[0]
            at = now
            for step in range(4):
                kept = evaluate(cfg, store, at, P, runtime.registry.signals, cache=cache)
                full = evaluate(cfg, store, at, P, runtime.registry.signals)
                assert _exported(kept) == _exported(full), step
                # the next cycle's news: a Jira item of today, a back-dated one, a 1:1
                runtime.store_events(
                    "jira",
                    [
                        _item(
                            team.name,
                            f"demo-{step}",
                            at - timedelta(hours=1),
                            [],
                            TODO,
                            None,
                            team.members[0],
                        ),
                        _item(
                            team.name,
                            f"demo-old-{step}",
                            at - 30 * D,
                            [(at - 29 * D, "status", TODO, DOING)],
                            DOING,
                            (at - 9 * D).date(),
                            team.members[1],
                        ),
                        PersonSignal(
                            f"demo-1on1-{step}",
                            "meeting",
                            at - timedelta(hours=2),
                            at - timedelta(hours=1),
                            person=team.manager,
                            people=(team.manager, team.members[2]),
                            attrs={"category": "one_on_one"},
                        ),
                    ],
                )
                at += timedelta(minutes=15) if step < 2 else 2 * D
        finally:
            runtime.close()
