"""The data generators: determinism, realistic shape, the payments crunch, and consistent histories."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from teampulse_jira_emulator import Dataset, Organisation, generate_bulk, generate_organisation
from teampulse_jira_emulator.model import Issue, from_ms

NOW = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def org() -> Organisation:
    return generate_organisation(seed=7, now=NOW)


def _fingerprint(ds: Dataset) -> list[tuple[object, ...]]:
    return [
        (
            i.key,
            i.status.name,
            i.assignee.email if i.assignee else None,
            i.duedate,
            i.updated,
            len(i.histories),
        )
        for i in ds
    ]


def test_same_seed_same_data(org: Organisation) -> None:
    again = generate_organisation(seed=7, now=NOW)
    assert _fingerprint(again.dataset) == _fingerprint(org.dataset)
    assert _fingerprint(generate_organisation(seed=8, now=NOW).dataset) != _fingerprint(org.dataset)


def test_teams_people_and_zones(org: Organisation) -> None:
    assert [t.name for t in org.teams] == ["payments", "platform", "mobile", "data"]
    assert org.pressured_team == "payments" and org.teams[0].project_key == "PAY"
    emails = [e for t in org.teams for e in (t.manager_email, *t.member_emails)]
    assert len(emails) == len(set(emails)) == 28
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+@demo\.example", e) for e in emails)
    assert all(len(t.member_emails) == 6 and t.manager_email not in t.member_emails for t in org.teams)
    assert len(set(org.timezones.values())) > len(org.teams)  # some people work from other zones
    assert all(" " in org.people[e] for e in emails)
    assert org.dataset.user(emails[0]).display_name == org.people[emails[0]]


def _wip(ds: Dataset, project: str, at: datetime) -> int:
    count = 0
    for issue in ds:
        if issue.project.key != project:
            continue
        state = ds.state_at(issue, at)
        if state["exists"] and state["status"].category_key == "indeterminate":  # type: ignore[attr-defined]
            count += 1
    return count


def test_payments_and_platform_are_in_a_crunch_and_the_others_are_calm(org: Organisation) -> None:
    ds = org.dataset
    for team in org.teams:
        key = team.project_key
        now_wip = _wip(ds, key, NOW)
        before = sorted(_wip(ds, key, NOW - timedelta(days=d)) for d in range(8, 30))
        baseline = before[len(before) // 2]
        open_items = [i for i in ds if i.project.key == key and i.status.category_key != "done"]
        overdue = [i for i in open_items if i.duedate and i.duedate < NOW.date().isoformat()]
        due_soon = [i for i in open_items if i.duedate and NOW.date().isoformat() <= i.duedate
                    <= (NOW + timedelta(days=2)).date().isoformat()]  # fmt: skip
        late = _after_hours_transitions(ds, key, team.timezone, NOW - timedelta(days=5))
        if team.name in ("payments", "platform"):
            assert now_wip >= 1.8 * baseline, (team.name, now_wip, baseline)
            assert len(overdue) >= 3 and len(due_soon) >= 3
            assert late >= 3
        else:
            assert 0.5 * baseline <= now_wip <= 1.5 * baseline + 1, (team.name, now_wip, baseline)
            assert len(overdue) <= 1 and late == 0
        assert baseline >= 3


def _after_hours_transitions(ds: Dataset, key: str, zone: str, since: datetime) -> int:
    tz = ZoneInfo(zone)
    count = 0
    for issue in ds:
        for history in issue.histories:
            local = from_ms(history.created).astimezone(tz)
            if (
                issue.project.key == key
                and from_ms(history.created) >= since
                and history.items[0][0] == "status"
            ):
                count += local.hour >= 19 or local.hour < 7 or local.weekday() >= 5
    return count


def test_histories_replay_to_the_current_state(org: Organisation) -> None:
    """Walking each history forward from the first `from` values ends at the current fields."""
    ds = org.dataset
    statuses = {s.name: 0 for s in ds.statuses}
    for issue in ds:
        _replay(issue)
        statuses[issue.status.name] += 1
        created = [h.created for h in issue.histories]
        assert created == sorted(created) and all(c >= issue.created for c in created)
        assert issue.updated == max([issue.created, *created])
        assert (issue.resolutiondate is not None) == (issue.status.category_key == "done")
    assert (
        all(n > 0 for n in statuses.values() if n is not None)
        and len([n for n in statuses.values() if n]) >= 5
    )
    moved = [h for i in ds for h in i.histories for it in h.items if it[0] == "duedate" and it[1] and it[2]]
    reassigned = [h for i in ds for h in i.histories for it in h.items if it[0] == "assignee" and it[1]]
    rollovers = [h for i in ds for h in i.histories for it in h.items if it[0] == "sprint" and it[1]]
    assert moved and reassigned and rollovers


def _replay(issue: Issue) -> None:
    state: dict[str, object] = {}
    for history in issue.histories:
        for kind, old, new in history.items:
            if kind in state:
                assert state[kind] == old, (issue.key, kind)
            state[kind] = new
    current = {
        "status": issue.status,
        "assignee": issue.assignee,
        "duedate": issue.duedate,
        "sprint": issue.sprints,
    }
    for kind, value in state.items():
        if kind in current:
            assert current[kind] == value, (issue.key, kind)


def test_scope_added_to_running_sprints(org: Organisation) -> None:
    ds = org.dataset
    active = [s for s in ds.sprints.values() if s.state == "active"]
    assert len(active) == len(org.teams)
    added_late = 0
    for issue in ds:
        for history in issue.histories:
            for kind, old, new in history.items:
                if kind == "sprint":
                    added = [s for s in new if s not in old]
                    added_late += any(s.start is not None and history.created > s.start + 3_600_000 and not old
                                      for s in added)  # fmt: skip
    assert added_late >= 5


def test_bulk_dataset_shape_and_speed() -> None:
    started = time.monotonic()
    ds = generate_bulk(5000, seed=2, now=NOW, projects=4)
    assert time.monotonic() - started < 3
    counts = [len(i.histories) for i in ds]
    assert len(ds) == 5000 and len(ds.projects) == 4
    assert 3 <= sum(counts) / len(counts) <= 8
    assert 0.003 < sum(c > 100 for c in counts) / len(counts) < 0.03
    for issue in ds:
        _replay(issue)
    assert _fingerprint(generate_bulk(500, seed=2, now=NOW)) == _fingerprint(
        generate_bulk(500, seed=2, now=NOW)
    )
