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
