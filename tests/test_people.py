"""The people side of the engine: 1:1 coverage, time off, after hours, surveys, thresholds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from support import KEY, NOW, Items

from teampulse import config
from teampulse.alerts import time_off_alert
from teampulse.collect import Pseudonymise
from teampulse.engine import evaluate_team
from teampulse.model import LeadershipAction, PersonSignal, SignalsReplaced
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store

D = timedelta(days=1)
H = timedelta(hours=1)
P = Pseudonymiser(KEY.encode())
MANAGER = "maria@example.com"
MEMBERS = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com", "fay@example.com"]

FIVE = f"""
[settings]
state = "state.db"
timezone = "UTC"
min_group_size = 5

[[teams]]
name = "payments"
manager = "{MANAGER}"
members = {MEMBERS!r}

[sources.calendars]
plugin = "ics"
paths = ["calendars/*.ics"]
""".replace("'", '"')


def _meeting(
    uid: str, start: datetime, hours: float, people: list[str], category: str = "meeting"
) -> PersonSignal:
    return PersonSignal(
        f"{uid}|{start.isoformat()}",
        "meeting",
        start,
        start + timedelta(hours=hours),
        person=P(people[0]),
        people=tuple(P.many(people)),
        attrs={"category": category},
    )


def _leave(person: str, start: datetime, end: datetime) -> PersonSignal:
    return PersonSignal(f"off|{start.isoformat()}|{person}", "time_off", start, end, person=P(person))


def _survey(n: int, support: float = 0.75) -> list[PersonSignal]:
    return [
        PersonSignal(f"r{i}", "survey_response", NOW - i * H, NOW - i * H, team="payments",
                     attrs={"scores": {"support": support, "wellbeing": 0.5}})
        for i in range(n)
    ]  # fmt: skip


@pytest.fixture
def setup(write_config) -> tuple[config.Config, Store]:  # type: ignore[no-untyped-def]
    cfg = config.load(write_config(FIVE))
    store = Store(cfg.state)
    # The manager's calendar was read whole from four months back: the people side is known.
    window = SignalsReplaced(P(MANAGER), ("meeting", "time_off"), NOW - 120 * D, NOW + 14 * D)
    store.apply_batch("ics", [window], None, 0)
    return cfg, store


def _snap(cfg: config.Config, store: Store, at: datetime = NOW):  # type: ignore[no-untyped-def]
    return evaluate_team(cfg, cfg.teams[0], store, at, pseudonym=P)


def test_one_on_one_coverage_counts_members_not_on_leave(setup) -> None:  # type: ignore[no-untyped-def]
    cfg, store = setup
    monday = NOW.replace(hour=10)
    store.apply_batch("ics", [
        _meeting("a", monday - 2 * D, 0.5, [MANAGER, "bob@example.com"]),
        _meeting("b", monday - 3 * D, 0.5, [MANAGER, "chen@example.com"]),
        _meeting("c", monday - 20 * D, 0.5, [MANAGER, "dana@example.com"]),  # too long ago
        _meeting("d", monday - D, 1, [MANAGER, "dana@example.com", "eli@example.com", "chen@example.com"], "check_in"),
        _leave("fay@example.com", NOW - 30 * D, NOW + 60 * D),  # away for months
    ], None, 0)  # fmt: skip
    snap = _snap(cfg, store)
    assert snap.people.members_on_leave == 1
    assert snap.people.coverage == pytest.approx(2 / 4)
    assert snap.actions_total["one_on_one"] == 3
    assert snap.actions_total["team_check_in"] == 1
    assert snap.available == 4


def test_same_meeting_from_two_calendars_counts_once(setup) -> None:  # type: ignore[no-untyped-def]
    cfg, store = setup
    m = _meeting("a", NOW - D, 0.5, [MANAGER, "bob@example.com"])
    store.apply_batch("ics", [m], None, 0)
    store.apply_batch("ics", [m], None, 0)
    assert _snap(cfg, store).actions_total["one_on_one"] == 1


def test_after_hours_meetings_in_each_persons_zone(setup) -> None:  # type: ignore[no-untyped-def]
    cfg, store = setup
    tuesday = NOW + D
    zone = PersonSignal("tz|bob", "timezone", NOW, NOW, person=P("bob@example.com"),
                        attrs={"tz": "America/New_York"})  # fmt: skip
    # Monday 14:00-16:00 UTC: within working hours in UTC and in New York (10:00-12:00 EDT)
    store.apply_batch("ics", [zone, _meeting("day", NOW.replace(hour=14), 2, [MANAGER, *MEMBERS])], None, 0)
    assert _snap(cfg, store, tuesday).people.after_hours_meeting_hours == pytest.approx(0.0)
    # Monday 19:00-21:00 UTC: after hours for the four in UTC, 15:00-17:00 for bob in New York
    store.apply_batch("ics", [_meeting("late", NOW.replace(hour=19), 2, [MANAGER, *MEMBERS])], None, 0)
    assert _snap(cfg, store, tuesday).people.after_hours_meeting_hours == pytest.approx(4 * 2 / 5)


def test_survey_score_only_at_the_anonymity_threshold(setup) -> None:  # type: ignore[no-untyped-def]
    cfg, store = setup
    store.apply_batch("csv", _survey(4), None, 0)
    snap = _snap(cfg, store)
    assert snap.people.survey_responses == 4
    assert snap.people.survey_scores is None
    store.apply_batch("csv", _survey(5), None, 0)
    snap = _snap(cfg, store)
    assert snap.people.survey_scores == {"support": 0.75, "wellbeing": 0.5}
    assert "survey" in snap.people.support_components


def test_small_team_shows_no_person_derived_numbers(write_config) -> None:  # type: ignore[no-untyped-def]
    cfg = config.load(write_config(FIVE.replace(', "fay@example.com"', "")))
    store = Store(cfg.state)
    window = SignalsReplaced(P(MANAGER), ("meeting", "time_off"), NOW - 120 * D, NOW + 14 * D)
    store.apply_batch("ics", [window, _meeting("a", NOW - D, 0.5, [MANAGER, "bob@example.com"])], None, 0)
    snap = _snap(cfg, store)
    assert not snap.people.visible
    assert snap.people.coverage is None
    assert snap.people.after_hours_meeting_hours is None
    assert set(snap.people.support_components) == {"recent_actions"}


def test_no_calendar_covering_the_time_is_no_data_not_no_leadership(write_config) -> None:  # type: ignore[no-untyped-def]
    cfg = config.load(write_config(FIVE))
    store = Store(cfg.state)
    # Calendars are configured (another team's was read), but this manager's calendar only from
    # five days ago: the last 14 days are not covered.
    other = SignalsReplaced(P("someone@example.com"), ("meeting",), NOW - 120 * D, NOW + 14 * D)
    mine = SignalsReplaced(P(MANAGER), ("meeting", "time_off"), NOW - 5 * D, NOW + 14 * D)
    store.apply_batch(
        "ics", [other, mine, _meeting("a", NOW - D, 0.5, [MANAGER, "bob@example.com"])], None, 0
    )
    snap = _snap(cfg, store)
    assert not snap.people.known and not snap.people.has_calendars
    assert snap.people.coverage is None
    assert snap.people.support is None  # "no data", never 0
    assert "teampulse_people_support_ratio{" not in _exposition(snap)
    # Ten days later the manager's calendar covers the window: the same data now counts.
    later = _snap(cfg, store, NOW + 10 * D)
    assert later.people.known and later.people.support is not None


def _exposition(snap) -> str:  # type: ignore[no-untyped-def]
    from teampulse.exporter import ExportState, render

    return render(ExportState(snapshots=[snap])).decode()


def _anniversary(store: Store, items: Items, leader: bool) -> None:
    """A release due today; chen has the day off for an anniversary."""
    day_off = NOW.replace(hour=0)
    release = items.make(created=NOW - 20 * D, started=NOW - 10 * D, assignee="chen@example.com",
                         due=(NOW + 14 * D).date() if leader else NOW.date(),
                         due_moves=((NOW - 3 * D, NOW.date(), (NOW + 14 * D).date()),) if leader else ())  # fmt: skip
    signals: list = [_leave("chen@example.com", day_off, day_off + D)]
    if leader:
        signals.append(_meeting("plan", NOW - 4 * D, 0.5, [MANAGER, "chen@example.com"]))
    else:
        signals.append(
            _meeting("sync", NOW.replace(hour=9), 1, [MANAGER, "chen@example.com", "bob@example.com"])
        )
    scrub = Pseudonymise(P)  # what the collector does at the boundary
    store.apply_batch("jira", [scrub(release)], None, 0)
    store.apply_batch("ics", signals, None, 0)  # built with pseudonyms already


def test_anniversary_manager_books_over_the_day_off(setup, items: Items) -> None:  # type: ignore[no-untyped-def]
    cfg, store = setup
    _anniversary(store, items, leader=False)
    snap = _snap(cfg, store, NOW.replace(hour=12))
    assert len(snap.time_off_overridden) == 1
    alert = time_off_alert(cfg, snap)
    assert alert.firing
    assert "1 meeting booked over a member's time off" in alert.description
    assert "chen" not in alert.description
    # recording that the time off was put right clears it
    store.add_action(LeadershipAction("fix", "payments", "time_off_protected", NOW.replace(hour=11)))
    assert not time_off_alert(cfg, _snap(cfg, store, NOW.replace(hour=12))).firing


def test_anniversary_leader_moves_the_date(setup, items: Items) -> None:  # type: ignore[no-untyped-def]
    cfg, store = setup
    _anniversary(store, items, leader=True)
    snap = _snap(cfg, store, NOW.replace(hour=12))
    assert snap.time_off_overridden == ()
    assert not time_off_alert(cfg, snap).firing
    assert snap.actions_total["deadline_renegotiated"] == 1
