"""Combined searches store exactly what per-team syncing stores, whatever happens to the issues.

Seven teams over three projects, some told apart by project alone (routed locally), some by
other fields (routed with Jira's help), overlapping so that an issue can belong to several.
Each cycle, issues are created, moved through statuses, reassigned, moved between projects
(so between teams) and deleted; after each, the store the combined sync left must equal the
one that syncing each team on its own, from scratch, leaves.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from teampulse_jira import JiraSource, create
from teampulse_jira_emulator import Dataset, EmulatorServer

from teampulse import Batch, PluginConfig, TeamInfo
from teampulse.collect import Pseudonymise
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store
from teampulse.testing import RecordingContext

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
HISTORY = NOW - timedelta(days=400)  # both syncs read every issue
KEY = b"routing-test-key-0123456789abcdef"
PEOPLE = ("bob@example.com", "chen@example.com", "dora@example.com", "zed@example.com")
STATUSES = ("To Do", "In Progress", "In Review", "Done")
TEAMS = (
    TeamInfo("alpha", "maria@example.com", ("bob@example.com",), jql="project = A"),
    TeamInfo("beta", "maria@example.com", ("chen@example.com",), jql="project = B ORDER BY rank"),
    TeamInfo("both", "maria@example.com", ("dora@example.com",), jql='project in (a, "Bravo")'),
    TeamInfo("notc", "maria@example.com", (), jql="NOT project = C"),
    # Not told by the project alone: Jira says which issues are theirs.
    TeamInfo(
        "mine", "maria@example.com", ("bob@example.com",), jql='project = A AND assignee = "bob@example.com"'
    ),
    TeamInfo("open", "maria@example.com", (), jql="project in (A, B) AND statusCategory != Done"),
    TeamInfo("cee", "maria@example.com", ("chen@example.com",), jql='project = C AND status != "Done"'),
)
CYCLES = 7


def build() -> Dataset:
    ds = Dataset(now=NOW)
    ds.add_user("maria@example.com", "Maria Manager")
    for email in PEOPLE:
        ds.add_user(email, email.split("@")[0].title())
    for key, name in (("A", "Alpha"), ("B", "Bravo"), ("C", "Charlie")):
        ds.add_project(key, name)
    rng = random.Random(3)
    start = NOW - timedelta(days=30)
    for n in range(36):
        at = start + timedelta(hours=17 * n)
        key = ds.create_issue("ABC"[n % 3], f"Task {n}", assignee=rng.choice(PEOPLE), at=at)
        for step, status in enumerate(STATUSES[1 : 1 + n % 4], start=1):
            ds.transition(key, status, at=at + timedelta(hours=step))
    # Past Cloud's 100 histories in a search: held for a bulkfetch, then routed like the rest.
    for n in range(105):
        ds.transition(
            "A-1", "In Review" if n % 2 else "In Progress", at=start + timedelta(hours=2, minutes=n)
        )
    return ds


def change(ds: Dataset, rng: random.Random, since: datetime, until: datetime) -> None:
    """Make a few changes of every kind at moments between `since` and `until`."""
    moments = sorted(since + (until - since) * rng.uniform(0.05, 0.95) for _ in range(8))
    at = iter(moments)
    keys = sorted(issue.key for issue in ds)
    for _ in range(rng.randint(1, 2)):
        ds.create_issue(rng.choice("ABC"), "New task", assignee=rng.choice(PEOPLE), at=next(at))
    for key in rng.sample(keys, 2):
        ds.transition(key, rng.choice(STATUSES), at=next(at))
    ds.reassign(rng.choice(keys), rng.choice(PEOPLE), at=next(at))
    moved = rng.choice(keys)
    ds.move_issue(moved, rng.choice([p for p in "ABC" if p != ds.issue(moved).project.key]), at=next(at))
    gone = rng.choice([k for k in keys if ds.find(k) is not None and ds.issue(k).key != ds.issue(moved).key])
    ds.delete_issue(gone)


def source(url: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> JiraSource:
    monkeypatch.setenv("JIRA_ROUTING_TOKEN", "t0ken")
    table = {"plugin": "jira", "url": url, "email": "maria@example.com", "token_env": "JIRA_ROUTING_TOKEN"}
    made = create(PluginConfig(name="jira", section="sources", options={**table, "page_size": 7, **options}))
    made.sleep = lambda _seconds: None
    return made


def apply(store: Store, batches: Iterable[Batch]) -> None:
    scrub = Pseudonymise(Pseudonymiser(KEY))
    for batch in batches:
        store.apply_batch("jira", [scrub(ev) for ev in batch.events], batch.cursor, 0.0)


def items(store: Store) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Every work item the store holds (not removed), by team and issue id."""
    rows = store._db.execute(
        """SELECT team, id, key, created, updated, status, due, assignee, sprints, started_at, done_at,
                  history FROM work_items WHERE removed_at IS NULL"""
    )
    return {(row[0], row[1]): tuple(row) for row in rows}


def per_team(url: str, monkeypatch: pytest.MonkeyPatch, now: datetime) -> Iterator[Batch]:
    """What syncing each team on its own, from scratch, yields (every team's people known)."""
    for team in TEAMS:
        # The others without JQL: not synced, but their people are people this source knows.
        others = [replace(t, jql=None) for t in TEAMS if t is not team]
        ctx = RecordingContext([team, *others], None, now, name="jira", history_from=HISTORY)
        yield from source(url, monkeypatch).collect(ctx)
        assert not ctx.problems


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_the_combined_sync_stores_what_per_team_syncing_stores(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = build()
    rng = random.Random(11)
    with EmulatorServer(ds, mode=mode) as server, Store(":memory:") as store:
        combined = source(server.url, monkeypatch, reconcile_hours=0)
        now = NOW
        routed = 0
        for cycle in range(CYCLES):
            if cycle:
                later = now + timedelta(minutes=rng.randint(20, 90))
                change(ds, rng, now, later)
                now = later
            ds.set_now(now)
            ctx = RecordingContext(TEAMS, store.cursor("jira"), now, name="jira", history_from=HISTORY)
            apply(store, combined.collect(ctx))
            assert not ctx.problems
            with Store(":memory:") as reference:
                apply(reference, per_team(server.url, monkeypatch, now))
                want = items(reference)
            assert items(store) == want, f"cycle {cycle}"
            routed += sum(1 for team, _ in want if team in ("mine", "open", "cee"))
        assert routed  # the teams routed with Jira's help did hold issues
        # Issues in several teams, moves between them and deletions all happened.
        memberships: dict[str, int] = {}
        for _team, ident in items(store):
            memberships[ident] = memberships.get(ident, 0) + 1
        assert max(memberships.values()) >= 3
