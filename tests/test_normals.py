"""Each team's own normal: learning, busy-but-steady teams, noise, onsets, ends and leadership cadence."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support import KEY, NOW, Items

from teampulse import config
from teampulse.alerts import pressure_alert, time_off_alert
from teampulse.collect import Pseudonymise
from teampulse.engine import TeamSnapshot, evaluate_team
from teampulse.exporter import ExportState, render
from teampulse.kinds import SignalKind
from teampulse.model import LeadershipAction, PersonSignal, SignalsReplaced, WorkItem, WorkItemsCovered
from teampulse.pseudonym import Pseudonymiser
from teampulse.states import TeamState
from teampulse.store import Store

D = timedelta(days=1)
P = Pseudonymiser(KEY.encode())
MANAGER = "maria@example.com"
MEMBERS = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"]
SCRUB = Pseudonymise(P)


def _setup(basic_config: Path) -> tuple[config.Config, Store]:
    cfg = config.load(basic_config)
    return cfg, Store(cfg.state)


def _steady(
    items: Items, per_day: float, days: int, hold: int = 4, seed: int = 1, jitter: float = 0.0
) -> list[WorkItem]:
    """A team that starts `per_day` items a day (each held `hold` days) for `days` days up to NOW."""
    rng = random.Random(seed)
    out = []
    for back in range(days, 0, -1):
        start = NOW - back * D
        n = max(0, round(per_day + rng.uniform(-jitter, jitter)))
        for k in range(n):
            who = MEMBERS[(back + k) % len(MEMBERS)]
            done = start + hold * D
            out.append(
                items.make(
                    created=start - timedelta(hours=2),
                    started=start + timedelta(minutes=k),
                    done=done if done <= NOW else None,
                    assignee=who,
                )
            )
    return out


def _crunch(items: Items, onset: datetime, days: int, per_day: int = 3) -> list[WorkItem]:
    """Work that starts from `onset` on, never finishes and falls due at once: a deadline crunch."""
    out = []
    for d in range(days):
        for k in range(per_day):
            at = onset + d * D + timedelta(hours=k)
            if at <= NOW:
                out.append(
                    items.make(
                        created=at - D,
                        started=at,
                        due=(at + D).date(),
                        assignee=MEMBERS[(d + k) % len(MEMBERS)],
                    )
                )
    return out


def _snap(cfg: config.Config, store: Store, at: datetime = NOW, **kw) -> TeamSnapshot:  # type: ignore[no-untyped-def]
    return evaluate_team(cfg, cfg.teams[0], store, at, pseudonym=P, **kw)


@pytest.mark.parametrize("load", [1, 2, 3, 4])
def test_a_busy_but_steady_team_is_calm_whatever_its_load(
    basic_config: Path, items: Items, load: int
) -> None:
    cfg, store = _setup(basic_config)
    # `load` items in progress per person, with day-to-day noise, for 150 days
    store.apply_batch("jira", _steady(items, load, 150, jitter=0.6, seed=load), None, 0)
    for day in range(30):
        snap = _snap(cfg, store, NOW - day * D)
        assert snap.state is TeamState.CALM, (day, snap.components)
        assert snap.pressure < 0.2


def test_two_items_slipping_a_day_is_noise(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    history = _steady(items, 1, 150)
    late = [items.make(created=NOW - 9 * D, started=NOW - 8 * D, due=(NOW - D).date()) for _ in range(2)]
    store.apply_batch("jira", [*history, *late], None, 0)
    snap = _snap(cfg, store)
    assert snap.overdue == 2
    assert snap.state is TeamState.CALM
    assert not [c for c in snap.components if c.name == "overdue_share" and c.score > 0]


def test_a_team_with_less_history_than_the_reference_window_is_learning(
    basic_config: Path, items: Items
) -> None:
    cfg, store = _setup(basic_config)
    # history begins 20 days ago, and the last 8 days look like a crunch
    store.apply_batch("jira", [*_steady(items, 1, 20), *_crunch(items, NOW - 8 * D, 8)], None, 0)
    snap = _snap(cfg, store)
    assert snap.learning and snap.state is TeamState.LEARNING
    assert snap.episode_start is None and not snap.pressure_unmatched
    assert snap.history_start is not None and (NOW - snap.history_start).days in (20, 21)
    exposition = render(ExportState(snapshots=[snap])).decode()
    assert 'teampulse_team_learning{team="payments"} 1.0' in exposition
    assert 'teampulse_team_state{state="learning",team="payments"} 1.0' in exposition
    assert "learning its normal" in pressure_alert(cfg, snap).description


def test_a_team_is_learning_until_a_reference_window_after_its_history_was_read_whole(
    basic_config: Path, items: Items
) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", _steady(items, 1, 150), None, 0)
    assert not _snap(cfg, store).learning
    # the source read only the last 20 days whole: items done before then were not read
    store.apply_batch("jira", [WorkItemsCovered("payments", NOW - 20 * D)], None, 0)
    assert _snap(cfg, store).learning
    assert not _snap(cfg, store, NOW + 9 * D).learning


def test_a_crunch_soon_after_history_begins_starts_at_its_true_onset(
    basic_config: Path, items: Items
) -> None:
    cfg, store = _setup(basic_config)
    # the cold start: 45 days of history, a crunch for the last 10; the onset is not day one
    onset = NOW - 10 * D
    store.apply_batch("jira", [*_steady(items, 1, 45), *_crunch(items, onset, 10)], None, 0)
    snap = _snap(cfg, store)
    assert snap.state is TeamState.UNANSWERED
    assert snap.episode_start is not None
    assert abs((snap.episode_start - onset).total_seconds()) <= 2 * D.total_seconds()
    assert snap.baseline < 0.1


def test_a_long_crunch_never_becomes_the_normal(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    onset = NOW - 45 * D  # longer than the reference window
    store.apply_batch("jira", [*_steady(items, 1, 150), *_crunch(items, onset, 45)], None, 0)
    snap = _snap(cfg, store)
    assert snap.elevated and snap.pressure_unmatched
    assert snap.episode_start is not None
    assert abs((snap.episode_start - onset).total_seconds()) <= 2 * D.total_seconds()


def test_an_episode_ends_once_pressure_is_back_for_a_few_days(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    history = _steady(items, 1, 150)
    # a crunch from 20 to 10 days ago whose work was then finished
    burst = []
    for d in range(10):
        for k in range(3):
            at = NOW - (20 - d) * D + timedelta(hours=k)
            burst.append(items.make(created=at - D, started=at, done=NOW - 9 * D))
    store.apply_batch("jira", [*history, *burst], None, 0)
    during = _snap(cfg, store, NOW - 12 * D)
    assert during.elevated and during.episode_start is not None
    after = _snap(cfg, store)
    assert after.state is TeamState.CALM and after.episode_start is None


def test_a_signal_that_returns_none_is_as_if_absent(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", [*_steady(items, 1, 150), *_crunch(items, NOW - 6 * D, 6)], None, 0)
    silent = SignalKind("oncall_pages", "pressure", 0.5, lambda team, facts: None)
    without = _snap(cfg, store)
    with_none = _snap(cfg, store, signals={"oncall_pages": silent})
    assert with_none.pressure == without.pressure
    assert with_none.episode_start == without.episode_start
    assert with_none.to_json()["components"] == without.to_json()["components"]


def _calendars(store: Store, start: datetime, meetings: list[PersonSignal]) -> None:
    """The manager's calendar read whole from `start` on, with these meetings."""
    window = SignalsReplaced(P(MANAGER), ("meeting", "time_off"), start, NOW + 14 * D)
    store.apply_batch("ics", [window, *meetings], None, 0)


def _one_on_one(member: str, at: datetime) -> PersonSignal:
    return PersonSignal(
        f"1on1|{member}|{at.isoformat()}",
        "meeting",
        at,
        at + timedelta(minutes=30),
        person=P(MANAGER),
        people=(P(MANAGER), P(member)),
        attrs={"category": "one_on_one"},
    )


def _weekly(until: datetime) -> list[PersonSignal]:
    """Weekly 1:1s with every member (one a weekday) from 60 days ago until `until`."""
    out = []
    for n, member in enumerate(MEMBERS):
        at = NOW - 60 * D + n * D + timedelta(hours=2)
        while at <= until:
            out.append(_one_on_one(member, at))
            at += 7 * D
    return out


def _crunch_with_calendars(
    basic_config: Path, items: Items, onset: datetime, calendars_from: datetime, meetings: list[PersonSignal]
) -> tuple[config.Config, TeamSnapshot]:
    """A steady team in a crunch since `onset`, its manager's calendar read from `calendars_from`."""
    cfg, store = _setup(basic_config)
    days = round((NOW - onset) / D)
    history = [SCRUB(i) for i in (*_steady(items, 1, 150), *_crunch(items, onset, days))]
    store.apply_batch("jira", history, None, 0)
    _calendars(store, calendars_from, meetings)
    return cfg, _snap(cfg, store)


def test_a_weekly_1on1_cadence_with_the_people_carrying_the_load_answers_a_crunch(
    basic_config: Path, items: Items
) -> None:
    cfg, snap = _crunch_with_calendars(basic_config, items, NOW - 5 * D, NOW - 130 * D, _weekly(NOW))
    assert snap.state is TeamState.ANSWERED
    assert "one_on_one_cadence" in snap.answered_by
    assert snap.carriers == snap.carriers_met == 4
    assert not pressure_alert(cfg, snap).firing


def test_1on1s_that_lapse_when_the_crunch_begins_do_not_answer_it(basic_config: Path, items: Items) -> None:
    onset = NOW - 8 * D
    cfg, snap = _crunch_with_calendars(basic_config, items, onset, NOW - 130 * D, _weekly(onset - D))
    assert snap.state is TeamState.UNANSWERED
    assert snap.carriers_met < snap.carriers
    alert = pressure_alert(cfg, snap)
    assert alert.firing and "no 1:1 cadence with" in alert.description


def test_before_the_calendars_cover_the_time_the_people_side_is_unknown(
    basic_config: Path, items: Items
) -> None:
    # calendars first read five days ago
    cfg, snap = _crunch_with_calendars(basic_config, items, NOW - 8 * D, NOW - 5 * D, [])
    assert snap.elevated and not snap.people.known
    assert snap.state is TeamState.ELEVATED and not snap.pressure_unmatched
    alert = pressure_alert(cfg, snap)
    assert not alert.firing and "people side is unknown" in alert.description
    assert snap.people.support is None


def test_what_rose_lists_only_what_rose_with_the_normal(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", [*_steady(items, 1, 150), *_crunch(items, NOW - 6 * D, 6)], None, 0)
    snap = _snap(cfg, store)
    alert = pressure_alert(cfg, snap)
    assert alert.firing
    rose = alert.description.split("What rose: ")[1].split(". ")[0]
    assert "work in progress per available person" in rose and "(normal " in rose
    assert "members on leave" not in rose and "after-hours" not in rose
    assert set(alert.evidence["rose"]) == {c.name for c in snap.components if c.value > c.top}


def test_time_off_protected_clears_a_meeting_still_ahead(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", [SCRUB(i) for i in _steady(items, 1, 150)], None, 0)
    leave_start = (NOW + 5 * D).replace(hour=0)
    leave = PersonSignal("off|chen", "time_off", leave_start, leave_start + D, person=P("chen@example.com"))
    booked = PersonSignal(
        "sync|ahead",
        "meeting",
        leave_start + timedelta(hours=10),
        leave_start + timedelta(hours=11),
        person=P(MANAGER),
        people=(P(MANAGER), P("chen@example.com"), P("bob@example.com")),
    )
    _calendars(store, NOW - 130 * D, [leave, booked])
    # chen's work falls due during the day off, so the meeting over it is an alert
    release = items.make(
        created=NOW - 10 * D, started=NOW - 5 * D, due=leave_start.date(), assignee="chen@example.com"
    )
    store.apply_batch("jira", [SCRUB(release)], None, 0)
    assert time_off_alert(cfg, _snap(cfg, store)).firing
    # recorded now, before the meeting: the alert says this clears it, and it does
    store.add_action(LeadershipAction("p1", "payments", "time_off_protected", NOW))
    assert not time_off_alert(cfg, _snap(cfg, store)).firing
