"""The detector's evaluation (`make eval`): its generator's truth holds, and the quick form meets the targets.

The generator tests read the Jira data straight from the `Dataset`; the evaluation test runs
bench/eval_detector.py's quick form (one team of each kind, 30 replayed days) and prints its
table when a target is missed.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest
from teampulse_demo.organisations import (
    ANSWERED,
    CALM,
    CRUNCH_KINDS,
    DEADLINES,
    KINDS,
    NEW,
    NO_ONE_ON_ONES,
    ONE_ON_ONES,
    QUIET_KINDS,
    REBALANCE,
    RECENT,
    UNANSWERED,
    UNTIL_ONSET,
    WEEKLY,
    EvalOrganisation,
    TeamTruth,
    generate_evaluation_organisation,
)
from teampulse_jira_emulator import Dataset
from teampulse_jira_emulator.model import from_ms

ROOT = Path(__file__).resolve().parent.parent
END = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _load_harness() -> ModuleType:
    path = ROOT / "bench" / "eval_detector.py"
    spec = importlib.util.spec_from_file_location("eval_detector", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def org() -> EvalOrganisation:
    return generate_evaluation_organisation(seed=1, end=END)


# ---------------------------------------------------------------- the generator


def _fingerprint(ds: Dataset) -> list[tuple[object, ...]]:
    return [
        (i.key, i.status.name, i.assignee.email if i.assignee else None, i.duedate, i.updated) for i in ds
    ]


def test_same_seed_and_end_same_organisation(org: EvalOrganisation) -> None:
    again = generate_evaluation_organisation(seed=1, end=END)
    assert _fingerprint(again.dataset) == _fingerprint(org.dataset)
    assert again.truth == org.truth
    assert again.calendars == org.calendars
    assert _fingerprint(generate_evaluation_organisation(seed=2, end=END).dataset) != _fingerprint(
        org.dataset
    )


def test_the_organisation_has_several_teams_of_each_kind(org: EvalOrganisation) -> None:
    truth = list(org.truth.values())
    kinds = [t.kind for t in truth]
    assert all(kinds.count(kind) >= 2 for kind in KINDS), kinds
    assert {t.load for t in truth if t.kind == CALM} == {1, 2, 3, 4}
    assert {t.members for t in truth} == {4, 5, 6, 7, 8}
    assert all(len(org.team(t.team).member_emails) == t.members for t in truth)
    assert len({t.timezone for t in truth}) >= 6
    # Most managers hold weekly 1:1s; some hold none; some let them lapse at the onset.
    cadences = [t.one_on_ones for t in truth]
    assert cadences.count(WEEKLY) > len(truth) / 2 and NO_ONE_ON_ONES in cadences and UNTIL_ONSET in cadences
    people = [e for team in org.teams for e in (team.manager_email, *team.member_emails)]
    assert len(people) == len(set(people))


def test_one_zone_changes_time_inside_the_replay_window(org: EvalOrganisation) -> None:
    first = org.end - org.replay_days * DAY
    changing = {
        t.team
        for t in org.truth.values()
        if first.astimezone(ZoneInfo(t.timezone)).utcoffset()
        != org.end.astimezone(ZoneInfo(t.timezone)).utcoffset()
    }
    assert changing & {t.team for t in org.truth.values() if t.kind == CALM}
    assert changing & {t.team for t in org.truth.values() if t.kind == UNANSWERED}


def test_history_lengths(org: EvalOrganisation) -> None:
    window = org.end - org.replay_days * DAY
    for t in org.truth.values():
        if t.kind == NEW:
            assert window < t.history_start < org.end - 14 * DAY, t
        elif t.kind == RECENT:
            assert org.end - 62 * DAY <= t.history_start <= org.end - 39 * DAY, t
        else:
            assert t.history_start <= org.end - 150 * DAY, t
        if t.crunch:
            assert t.onset is not None and t.crunch_end is not None and t.factor is not None
            assert window < t.onset and t.crunch_end <= org.end
            assert 8 <= round((t.crunch_end - t.onset) / DAY) <= 20
            assert 1.7 <= t.factor <= 2.5


def _spans(ds: Dataset, project: str, end: datetime) -> list[tuple[datetime, datetime]]:
    """Return when each of a project's items was in progress, from its changelog."""
    spans = []
    for issue in ds:
        if issue.project.key != project:
            continue
        start: datetime | None = None
        for history in issue.histories:
            for kind, _old, new in history.items:
                if kind != "status":
                    continue
                at = from_ms(history.created)
                doing = new.category_key == "indeterminate"
                if doing and start is None:
                    start = at
                elif not doing and start is not None:
                    spans.append((start, at))
                    start = None
        if start is not None:
            spans.append((start, end + DAY))
    return spans


def _wip_per_person(org: EvalOrganisation, t: TeamTruth, first: date, last: date) -> list[float]:
    """Return work in progress per member at 15:00 local on each working day from first to last."""
    spans = _spans(org.dataset, org.team(t.team).project_key, org.end)
    tz = ZoneInfo(t.timezone)
    out = []
    day = first
    while day <= last:
        at = datetime(day.year, day.month, day.day, 15, tzinfo=tz)
        if day.weekday() < 5 and at <= org.end:
            out.append(sum(1 for s, e in spans if s <= at < e) / t.members)
        day += DAY
    return out


def _local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def test_quiet_teams_work_near_their_declared_load(org: EvalOrganisation) -> None:
    for t in org.truth.values():
        if t.kind not in QUIET_KINDS:
            continue
        first = max(
            _local_day(org.end - org.replay_days * DAY, t.timezone), _local_day(t.history_start, t.timezone)
        )
        series = _wip_per_person(org, t, first + 3 * DAY, _local_day(org.end, t.timezone))
        assert 0.75 * t.load <= statistics.median(series) <= 1.25 * t.load, (t.team, t.load, series)
        # Sprint starts, busy weeks and time off move it, but never like a crunch.
        assert max(series) <= 1.6 * t.load + 0.5, (t.team, t.load, series)


def test_a_crunch_raises_work_in_progress_by_its_factor(org: EvalOrganisation) -> None:
    for t in org.truth.values():
        if not t.crunch:
            continue
        assert t.onset is not None and t.crunch_end is not None and t.factor is not None
        onset = _local_day(t.onset, t.timezone)
        before = _wip_per_person(org, t, onset - 28 * DAY, onset - DAY)
        during = _wip_per_person(org, t, onset + DAY, _local_day(t.crunch_end, t.timezone) - DAY)
        normal = statistics.median(before)
        assert 0.8 * t.load <= normal <= 1.25 * t.load, (t.team, t.load, before)
        ratio = statistics.median(during) / t.load
        assert 0.8 * t.factor <= ratio <= 1.25 * t.factor, (t.team, t.factor, ratio, during)


def _changes(ds: Dataset, project: str, field: str) -> Iterator[tuple[datetime, object, object]]:
    for issue in ds:
        if issue.project.key == project:
            for history in issue.histories:
                for kind, old, new in history.items:
                    if kind == field:
                        yield from_ms(history.created), old, new


def test_only_answered_crunches_move_dates_or_work_in_the_crunch(org: EvalOrganisation) -> None:
    for t in org.truth.values():
        if not t.crunch:
            continue
        assert t.onset is not None and t.crunch_end is not None
        project = org.team(t.team).project_key
        lo, hi = t.onset - DAY, t.crunch_end
        moved = [
            at
            for at, old, new in _changes(org.dataset, project, "duedate")
            if lo <= at <= hi and old and new and str(new) > str(old)
        ]
        handed = [
            at for at, old, _new in _changes(org.dataset, project, "assignee") if lo <= at <= hi and old
        ]
        if t.kind == ANSWERED:
            assert t.answered_at is not None and t.onset < t.answered_at <= t.onset + 3 * DAY
            assert bool(moved) == (DEADLINES in t.answers) and bool(handed) == (REBALANCE in t.answers), t
            assert all(t.onset < at <= t.onset + 3 * DAY for at in moved + handed), t
        else:
            assert not moved and not handed, t


def test_rebalancing_takes_work_from_an_overloaded_person(org: EvalOrganisation) -> None:
    """The first hand-over relieves someone with at least 2 items and 1.5 times the team's mean."""
    for t in org.truth.values():
        if t.kind != ANSWERED or REBALANCE not in t.answers:
            continue
        assert t.onset is not None and t.crunch_end is not None
        project = org.team(t.team).project_key
        handed = sorted(
            (at, old)
            for at, old, _new in _changes(org.dataset, project, "assignee")
            if t.onset <= at <= t.crunch_end and old
        )
        at, giver = handed[0]
        holding: dict[object, int] = {}
        for issue in org.dataset:
            if issue.project.key != project:
                continue
            state = org.dataset.state_at(issue, at - timedelta(seconds=1))
            if state["exists"] and state["status"].category_key == "indeterminate":  # type: ignore[attr-defined]
                holding[state["assignee"]] = holding.get(state["assignee"], 0) + 1
        mine, total = holding.get(giver, 0), sum(holding.values())
        assert mine >= 2 and mine >= 1.5 * total / t.members, (t.team, mine, total, t.members)


def _one_on_ones(org: EvalOrganisation, t: TeamTruth) -> list[tuple[datetime, str | None]]:
    team = org.team(t.team)
    return [
        (e.start, e.rrule)
        for e in org.calendars.get(team.manager_email, [])
        if isinstance(e.start, datetime) and len(e.attendees) == 2 and "1:1" in e.summary
    ]


def test_calendars_hold_the_one_on_ones_the_truth_says(org: EvalOrganisation) -> None:
    for t in org.truth.values():
        ones = _one_on_ones(org, t)
        if t.one_on_ones == NO_ONE_ON_ONES and t.kind != ANSWERED:
            assert not ones, t
        elif t.one_on_ones == WEEKLY:
            series = [rule for _start, rule in ones if rule]
            assert len(series) == t.members and all("UNTIL" not in r for r in series), t
        elif t.one_on_ones == UNTIL_ONSET:
            assert t.onset is not None and t.crunch_end is not None
            for start, rule in ones:
                assert rule is not None and (start >= t.crunch_end or "UNTIL" in rule), t
                if "UNTIL" in rule:
                    until = datetime.strptime(rule.split("UNTIL=")[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                    assert until < t.onset, t
        if t.kind == ANSWERED:
            extra = [start for start, rule in ones if rule is None]
            assert extra and all(t.onset and t.crunch_end and t.onset < s < t.crunch_end for s in extra), t
        if t.kind in (UNANSWERED, ONE_ON_ONES):
            assert all(rule for _start, rule in ones), t


def test_every_team_calendar_shows_the_public_holiday(org: EvalOrganisation) -> None:
    for team in org.teams:
        days = [
            {e.start for e in org.calendars[p] if e.summary == "Public holiday" and e.oof}
            for p in (team.manager_email, *team.member_emails)
        ]
        assert all(len(d) == 1 for d in days) and len(set.union(*days)) == 1, team.name
        away = [e for p in team.member_emails for e in org.calendars[p] if e.summary == "Vacation"]
        if org.truth[team.name].kind != NEW:
            assert away and all(e.oof and (e.end - e.start).days == 5 for e in away), team.name  # type: ignore[operator]


# ---------------------------------------------------------------- the quick evaluation


@pytest.fixture(scope="module")
def result() -> object:
    return _load_harness().run(seed=1, quick=True)


@pytest.mark.slow
def test_the_quick_evaluation_covers_each_kind(result) -> None:  # type: ignore[no-untyped-def]
    assert sorted(o.truth.kind for o in result.outcomes) == sorted(KINDS)
    assert all(o.days for o in result.outcomes)
    assert "targets:" in result.table() and "recall" in result.table()


@pytest.mark.slow
def test_no_page_on_calm_new_or_recent_teams(result) -> None:  # type: ignore[no-untyped-def]
    paged = {o.name: o.pages for o in result.of(*QUIET_KINDS) if o.pages}
    assert not paged, f"pages on calm/new/recent teams: {paged}\n{result.table()}"


@pytest.mark.slow
def test_every_unanswered_crunch_is_paged_within_grace_and_a_day(result) -> None:  # type: ignore[no-untyped-def]
    late = [o.name for o in result.of(UNANSWERED) if not o.paged_in_time(result.grace)]
    assert not late, f"not paged within grace + 1 day of onset: {late}\n{result.table()}"


@pytest.mark.slow
def test_no_answered_crunch_is_paged(result) -> None:  # type: ignore[no-untyped-def]
    paged = {o.name: o.pages for o in result.of(ANSWERED, ONE_ON_ONES) if o.pages}
    assert not paged, f"answered crunches paged: {paged}\n{result.table()}"


@pytest.mark.slow
def test_the_engine_finds_each_crunch_within_two_days_of_its_onset(result) -> None:  # type: ignore[no-untyped-def]
    errors = {o.name: o.onset_error() for o in result.of(*CRUNCH_KINDS)}
    wrong = {name: e for name, e in errors.items() if e is None or e > 2.0}
    assert not wrong, f"onset errors in days (None: no episode in the crunch): {wrong}\n{result.table()}"


@pytest.mark.slow
def test_every_page_falls_inside_an_unanswered_crunch(result) -> None:  # type: ignore[no-untyped-def]
    false = [(o.name, f"{first:%m-%d}") for o, (first, _last) in result.false_pages()]
    assert not false, f"pages outside an unanswered crunch: {false}\n{result.table()}"
