"""The engine: process-side numbers, the pressure index, its baseline and episodes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from support import NOW, Items

from teampulse import config
from teampulse.alerts import pressure_alert
from teampulse.engine import evaluate_team
from teampulse.model import LeadershipAction
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store

D = timedelta(days=1)


def _setup(basic_config: Path) -> tuple[config.Config, Store]:
    cfg = config.load(basic_config)
    return cfg, Store(cfg.state)


def _calm_history(items: Items, crunch: bool) -> list:
    """Sixty days of a team that keeps about four items in progress; optionally a crunch."""
    out = []
    for day in range(70, 0, -1):
        start = NOW - day * D
        # one item a day, started the day it is created, done four days later
        out.append(items.make(created=start - D, started=start, done=start + 4 * D if day > 4 else None))
    if crunch:
        for k in range(12):
            # started in the last three days, due yesterday: overdue work piling up
            out.append(
                items.make(
                    created=NOW - 10 * D,
                    started=NOW - timedelta(days=3, hours=k),
                    due=(NOW - D).date(),
                )
            )
    return out


def test_process_numbers_from_transitions(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    done_a = items.make(created=NOW - 20 * D, started=NOW - 6 * D, done=NOW - 2 * D)
    done_b = items.make(created=NOW - 30 * D, started=NOW - 12 * D, done=NOW - 10 * D)
    wip = items.make(created=NOW - 5 * D, started=NOW - 4 * D, due=(NOW + 3 * D).date())
    late = items.make(created=NOW - 5 * D, due=(NOW - 2 * D).date())
    future = items.make(created=NOW + D)  # not yet there at as_of
    store.apply_batch("jira", [done_a, done_b, wip, late, future], None, 0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)
    assert snap.throughput == 1  # only done_a in the trailing 7 days
    assert snap.completed_total == 2
    assert snap.in_progress == 1
    assert snap.open_items == 2
    assert snap.overdue == 1
    assert snap.due_soon == 1
    assert snap.wip_per_person == pytest.approx(1 / 4)
    # cycle time runs from the first move to in progress, not from creation
    assert snap.cycle_time_p50 == pytest.approx((3 * D).total_seconds())  # median of 4 and 2 days


def test_calm_team_sits_near_zero(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", _calm_history(items, crunch=False), None, 0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)
    assert snap.pressure < 0.1
    assert not snap.elevated
    assert snap.episode_start is None
    assert not snap.pressure_unmatched


def test_crunch_raises_pressure_above_baseline_and_fires_after_grace(
    basic_config: Path, items: Items
) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", _calm_history(items, crunch=True), None, 0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)
    assert snap.baseline < 0.1  # the baseline comes from history before the crunch
    assert snap.pressure > snap.baseline + cfg.alerts.rise
    assert snap.episode_start is not None
    assert NOW - snap.episode_start >= cfg.alerts.grace
    assert snap.pressure_unmatched
    assert snap.episode_from["in_progress"] < snap.in_progress

    # the same replay one day into the crunch: elevated, but still within the grace period
    early = evaluate_team(cfg, cfg.teams[0], store, NOW - 2 * D)
    assert early.elevated and not early.pressure_unmatched


def test_leadership_action_answers_the_episode(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", _calm_history(items, crunch=True), None, 0)
    store.add_action(LeadershipAction("x", "payments", "one_on_one", NOW - D))
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)
    assert snap.elevated
    assert snap.actions_since_episode == {"one_on_one": 1}
    assert not snap.pressure_unmatched
    # a 1:1 recorded by hand is an explicit answer, and the alert's text counts it
    assert snap.answered_by == ("one_on_one",) and snap.answers == 1
    assert "Answers since the onset: 1 " in pressure_alert(cfg, snap).description


def test_due_date_moved_later_counts_as_renegotiation(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    history = _calm_history(items, crunch=True)
    moved = items.make(
        created=NOW - 10 * D,
        due=(NOW + 10 * D).date(),
        due_moves=((NOW - D, (NOW - D).date(), (NOW + 10 * D).date()),),
    )
    store.apply_batch("jira", [*history, moved], None, 0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)
    assert snap.actions_since_episode.get("deadline_renegotiated") == 1
    assert not snap.pressure_unmatched


def test_same_store_same_answer(basic_config: Path, items: Items) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", _calm_history(items, crunch=True), None, 0)
    a = evaluate_team(cfg, cfg.teams[0], store, NOW).to_json()
    b = evaluate_team(cfg, cfg.teams[0], store, NOW).to_json()
    assert a == b


def test_members_on_leave_reduce_capacity(basic_config: Path, items: Items) -> None:
    from teampulse.model import PersonSignal

    cfg, store = _setup(basic_config)
    store.apply_batch("jira", _calm_history(items, crunch=False), None, 0)
    p = Pseudonymiser(b"test-key-0123456789abcdef")
    leave = PersonSignal("l1", "time_off", NOW - 30 * D, NOW + 30 * D, person=p("bob@example.com"))
    store.apply_batch("cal", [leave], None, 0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW, pseudonym=p)
    assert snap.on_leave == 1
    assert snap.available == 3


def test_work_taken_from_an_overloaded_person_counts_as_rebalancing(basic_config: Path, items: Items) -> None:
    import dataclasses

    from teampulse.model import Change

    cfg, store = _setup(basic_config)
    history = _calm_history(items, crunch=True)  # the crunch's twelve items all sit with bob
    crunch_item = history[-1]
    moved = dataclasses.replace(
        crunch_item,
        assignee="chen@example.com",
        changes=(
            *crunch_item.changes,
            Change("r1", NOW - D, "assignee", "bob@example.com", "chen@example.com"),
        ),
    )
    calm_item = history[10]  # bob held one item then: handing it over is no rebalancing
    handed = dataclasses.replace(
        calm_item,
        changes=(
            *calm_item.changes,
            Change(
                "r2", NOW - 60 * D + timedelta(hours=1), "assignee", "dana@example.com", "bob@example.com"
            ),
        ),
    )
    store.apply_batch("jira", [*history[:-1], moved], None, 0)
    store.apply_batch("jira", [handed], None, 0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)
    assert snap.actions_since_episode == {"workload_rebalanced": 1}
    assert snap.actions_total.get("workload_rebalanced") == 1
    assert not snap.pressure_unmatched


def _long_history(items: Items, days: int, crunch: bool) -> list:
    """A calm team of one item a day over `days` days (so its whole trend is judged); optionally a crunch."""
    out = [
        items.make(
            created=NOW - (day + 1) * D, started=NOW - day * D, done=NOW - (day - 4) * D if day > 4 else None
        )
        for day in range(days, 0, -1)
    ]
    if crunch:
        out += [
            items.make(created=NOW - 10 * D, started=NOW - timedelta(days=3, hours=k), due=(NOW - D).date())
            for k in range(12)
        ]
    return out


def test_trend_is_the_replay_of_the_last_sixty_days(basic_config: Path, items: Items) -> None:
    from teampulse.engine import TREND_DAYS

    cfg, store = _setup(basic_config)
    store.apply_batch("jira", _long_history(items, 110, crunch=True), None, 0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)
    assert TREND_DAYS == 60 and len(snap.trend) == 60
    assert [p.day for p in snap.trend] == [(NOW - k * D).date() for k in range(59, -1, -1)]
    last = snap.trend[-1]
    assert (last.pressure, last.baseline) == (snap.pressure, snap.baseline)
    assert last.band_top == pytest.approx(min(snap.baseline + cfg.alerts.rise, cfg.alerts.high))
    assert last.episode and not snap.trend[0].episode
    # each day is what an evaluation on that day says: the numbers are the replay's own
    for back in (1, 2, 5, 20, 59):
        then = evaluate_team(cfg, cfg.teams[0], store, NOW - back * D)
        point = snap.trend[-1 - back]
        assert (point.pressure, point.baseline, point.episode) == (
            then.pressure,
            then.baseline,
            then.elevated,
        )
    # the crunch leaves the band; the calm weeks before sit inside it
    assert last.pressure is not None and last.pressure > last.band_top
    assert all(
        p.pressure is not None and p.band_top is not None and p.pressure < p.band_top for p in snap.trend[:40]
    )
    assert all(p.support is None for p in snap.trend)  # no calendar, no survey: no people data


def test_trend_of_a_learning_team_has_no_pressure_or_band_before_its_normal(
    basic_config: Path, items: Items
) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", _long_history(items, 40, crunch=False), None, 0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)
    judged = [p for p in snap.trend if p.pressure is not None]
    assert snap.learned_at is not None and snap.history_start is not None
    assert snap.learned_at - snap.history_start == cfg.pressure.reference
    assert judged and all(p.at >= snap.learned_at for p in judged)
    assert all(p.band_top is None and p.baseline is None for p in snap.trend if p.pressure is None)
    assert len(judged) < 60 - 20  # 40 days of history, 28 of them learning


def test_trend_days_are_the_team_zone_calendar_days(write_config, items: Items) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from support import BASIC

    cfg = config.load(
        write_config(BASIC.replace('jql = "project = PAY"', 'jql = "x"\ntimezone = "Pacific/Auckland"'))
    )
    store = Store(cfg.state)
    store.apply_batch("jira", _long_history(items, 30, crunch=False), None, 0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)  # Mon 16 Mar 12:00 UTC is Tue 17 Mar 01:00 there
    assert snap.timezone == "Pacific/Auckland"
    assert snap.trend[-1].day == date(2026, 3, 17) and snap.trend[0].day == date(2026, 1, 17)


def test_recent_actions_are_the_recorded_ones_of_the_last_fourteen_days(
    basic_config: Path, items: Items
) -> None:
    cfg, store = _setup(basic_config)
    store.apply_batch("jira", _long_history(items, 40, crunch=False), None, 0)
    store.add_action(LeadershipAction("a", "payments", "recognition", NOW - 3 * D, note="thanks, Bob"))
    store.add_action(LeadershipAction("b", "payments", "one_on_one", NOW - 20 * D))
    store.add_action(LeadershipAction("c", "payments", "recorded", NOW + D))  # not yet at as_of
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW)
    assert [(a.kind, a.at) for a in snap.recent_actions] == [("recognition", NOW - 3 * D)]
    assert not hasattr(snap.recent_actions[0], "note")


def test_support_trend_is_the_people_view_of_each_day(write_config, items: Items) -> None:  # type: ignore[no-untyped-def]
    from support import KEY

    from teampulse.model import PersonSignal, SignalsReplaced

    p = Pseudonymiser(KEY.encode())
    manager, members = "maria@example.com", [f"m{k}@example.com" for k in range(5)]
    cfg = config.load(
        write_config(
            f"""
            [settings]
            state = "state.db"
            min_group_size = 5
            [[teams]]
            name = "payments"
            manager = "{manager}"
            members = {members!r}
            [sources.calendars]
            plugin = "ics"
            paths = ["calendars/*.ics"]
            """.replace("'", '"')
        )
    )
    store = Store(cfg.state)
    store.apply_batch(
        "ics", [SignalsReplaced(p(manager), ("meeting", "time_off"), NOW - 120 * D, NOW + 14 * D)], None, 0
    )

    def meeting(uid: str, start, hours: float, people: list[str], **attrs: object) -> PersonSignal:  # type: ignore[no-untyped-def]
        return PersonSignal(uid, "meeting", start, start + timedelta(hours=hours), person=p(people[0]),
                            people=tuple(p.many(people)), attrs=dict(attrs))  # fmt: skip

    signals: list[PersonSignal] = []
    for week in range(12):  # weekly 1:1s with three members that stop three weeks ago
        for k in range(3):
            if week >= 3:
                signals.append(
                    meeting(f"1on1-{week}-{k}", NOW - week * 7 * D + k * D, 0.5, [manager, members[k]])
                )
    for week in range(8):  # an evening meeting most weeks, a check-in every other week
        signals.append(meeting(f"late-{week}", NOW - week * 7 * D - timedelta(hours=5), 2, members))
        if week % 2:
            signals.append(
                meeting(f"check-{week}", NOW - week * 7 * D, 1, [manager, *members], category="check_in")
            )
    signals.append(PersonSignal("off", "time_off", NOW - 2 * D, NOW + 5 * D, person=p(members[4])))
    signals.append(meeting("over-off", NOW - D, 1, [manager, members[4]]))  # booked over the time off
    signals += [
        PersonSignal(f"r{k}", "survey_response", NOW - k * 2 * D, NOW - k * 2 * D, team="payments",
                     attrs={"scores": {"support": 0.3 + 0.01 * k, "wellbeing": 0.6}})
        for k in range(40)
    ]  # fmt: skip
    store.apply_batch("ics", signals, None, 0)
    store.apply_batch("jira", _long_history(items, 110, crunch=True), None, 0)
    store.add_action(LeadershipAction("a", "payments", "recognition", NOW - 10 * D))

    snap = evaluate_team(cfg, cfg.teams[0], store, NOW, pseudonym=p)
    supports = [point.support for point in snap.trend]
    assert snap.trend[-1].support == snap.support is not None
    assert len(set(supports)) > 5  # it moves with the 1:1s, the evening meetings and the survey
    for back in (1, 2, 3, 6, 13, 14, 22, 40, 59):
        then = evaluate_team(cfg, cfg.teams[0], store, NOW - back * D, pseudonym=p)
        assert snap.trend[-1 - back].support == then.support, back
