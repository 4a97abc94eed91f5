"""What each cycle costs in requests, counted by the emulator: searches follow the changes, not the teams.

A quiet cycle is one search whatever the number of teams; a first sync pages through every
team's issues once (one combined search, not one per team); a cycle after a few changes costs
a search and a few routing searches; a request budget cuts a cycle without losing anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from teampulse_jira import JiraSource, create
from teampulse_jira.cursor import decode_ids, encode_ids
from teampulse_jira.metadata import MAX_AGE
from teampulse_jira.queries import GET_MAX_JQL_CHARS
from teampulse_jira.search import Searcher
from teampulse_jira_emulator import Dataset, EmulatorServer, Stats
from teampulse_jira_emulator.model import CATEGORY_INDETERMINATE, Status

from teampulse import Batch, PluginConfig, SourceError, TeamInfo, WorkItem, WorkItemRemoved, WorkItemsCovered
from teampulse.collect import Pseudonymise
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store
from teampulse.testing import RecordingContext

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
HISTORY = NOW - timedelta(days=400)
PAGE = 100  # the emulator's largest page, as Cloud's with fields
PROJECTS = 40
PER_PROJECT = 30
LONG = ("P00-1", "P07-3", "P21-5")  # more than Cloud's 100 histories in a search
MODES = ["cloud", "datacenter"]


def key(n: int) -> str:
    return f"P{n:02d}"


def person(n: int) -> str:
    return f"p{n:02d}@example.com"


def build() -> Dataset:
    """PROJECTS projects of PER_PROJECT issues, changed over two months; one person per project."""
    ds = Dataset(now=NOW)
    for n in range(PROJECTS):
        ds.add_user(person(n), f"Person {n}")
        ds.add_project(key(n), f"Project {n}")
    start = NOW - timedelta(days=60)
    for i in range(PER_PROJECT):
        for n in range(PROJECTS):
            at = start + timedelta(minutes=(i * PROJECTS + n) * 70)
            issue = ds.create_issue(key(n), "Work", assignee=person(n), at=at)
            ds.transition(issue, "In Progress", at=at + timedelta(minutes=20))
            if i % 3 == 0:
                ds.transition(issue, "Done", at=at + timedelta(minutes=40))
    for issue in LONG:
        for n in range(110):
            ds.transition(issue, "In Review" if n % 2 else "In Progress", at=start + timedelta(seconds=n + 1))
    return ds


def teams(count: int = 50) -> list[TeamInfo]:
    """One project-only team per project; past PROJECTS, teams that only Jira can route."""
    out = []
    for n in range(count):
        project = n % PROJECTS
        jql = (
            f"project = {key(project)}"
            if n < PROJECTS
            else f"project = {key(project)} AND statusCategory != Done"
        )
        out.append(TeamInfo(f"team{n:02d}", person(project), (), jql=jql))
    return out


@pytest.fixture(params=MODES)
def jira(request: pytest.FixtureRequest) -> Iterator[tuple[EmulatorServer, Dataset]]:
    ds = build()
    with EmulatorServer(ds, mode=request.param) as server:
        yield server, ds


def make(url: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> JiraSource:
    monkeypatch.setenv("JIRA_REQUESTS_TOKEN", "t0ken")
    table = {"plugin": "jira", "url": url, "email": "bot@example.com", "token_env": "JIRA_REQUESTS_TOKEN"}
    source = create(
        PluginConfig(name="jira", section="sources", options={**table, "page_size": PAGE, **options})
    )
    source.sleep = lambda _seconds: None
    return source


class Synced:
    """A source, its store and its clock: one collection after another, as the core runs them."""

    def __init__(self, source: JiraSource, server: EmulatorServer, team_list: Sequence[TeamInfo]) -> None:
        self.source = source
        self.server = server
        self.teams = list(team_list)
        self.store = Store(":memory:")
        self.scrub = Pseudonymise(Pseudonymiser(b"requests-test-key-0123456789"))
        self.now = NOW

    def cycle(self, minutes: float = 0) -> tuple[list[Batch], Stats, RecordingContext]:
        """Collect `minutes` after the last collection; return its batches, requests and context."""
        self.now += timedelta(minutes=minutes)
        self.server.dataset.set_now(self.now)
        self.server.stats.reset()
        ctx = RecordingContext(
            self.teams, self.store.cursor("jira"), self.now, name="jira", history_from=HISTORY
        )
        batches = []
        for batch in self.source.collect(ctx):
            batches.append(batch)
            self.store.apply_batch("jira", [self.scrub(ev) for ev in batch.events], batch.cursor, 0.0)
        assert not ctx.problems
        return batches, self.server.stats, ctx

    def items(self) -> dict[tuple[str, str], tuple[Any, ...]]:
        rows = self.store._db.execute(
            "SELECT team, id, key, updated, status, assignee, history FROM work_items WHERE removed_at IS NULL"
        )
        return {(row[0], row[1]): tuple(row) for row in rows}


def searches(stats: Stats) -> int:
    """Return the issue searches counted (not user searches)."""
    endpoints = stats.snapshot()["by_endpoint"]
    return sum(
        n for e, n in endpoints.items() if e.endswith(("/search/jql", "/api/2/search", "/api/3/search"))
    )


def emitted(batches: list[Batch]) -> list[WorkItem]:
    return [e for b in batches for e in b.events if isinstance(e, WorkItem)]


def test_a_quiet_cycle_of_50_teams_is_one_search(jira, monkeypatch):
    server, _ds = jira
    synced = Synced(make(server.url, monkeypatch), server, teams(50))
    synced.cycle()
    for minutes in (15, 15):
        batches, stats, _ = synced.cycle(minutes)
        # Nothing changed: one combined search, whose re-read overlap window is skipped.
        assert searches(stats) == 1 and stats.total == 1, stats.snapshot()
        assert not [e for b in batches for e in b.events]
    # The second quiet cycle moved no position either (the first moved the teams synced on
    # their own up to what the combined search read): nothing to commit.
    assert batches == []


def test_a_first_sync_pages_through_the_issues_once(jira, monkeypatch):
    server, _ds = jira
    synced = Synced(make(server.url, monkeypatch), server, teams(PROJECTS))
    batches, stats, _ = synced.cycle()
    issues = PROJECTS * PER_PROJECT
    assert len({i.id for i in emitted(batches)}) == issues
    pages = searches(stats)
    changelogs = stats.count("changelog")
    # The API minimum: every issue once, a page at a time, and the cut changelogs in one request.
    # On Data Center each page reads the last row of the page before again (rows that moved
    # up are caught so): at the server's largest page, a row less of new issues a page.
    per_page = PAGE if server.cloud else PAGE - 1
    least = math.ceil(issues / per_page) + (1 if server.cloud else 0)
    assert pages + changelogs <= least * 1.02, stats.snapshot()
    if server.cloud:
        assert changelogs == 1  # three cut changelogs, one bulkfetch
    # Besides: serverInfo, myself, status, field. Every user met is a configured person whose
    # address the issues show, so nobody is looked up.
    assert stats.total == 4 + pages + changelogs, stats.snapshot()


def test_a_cycle_after_a_few_changes_costs_a_few_requests(jira, monkeypatch):
    server, ds = jira
    synced = Synced(make(server.url, monkeypatch), server, teams(50))
    synced.cycle()
    synced.cycle(15)
    before = synced.items()
    at = synced.now + timedelta(minutes=5)
    ds.transition("P03-5", "Done", at=at)  # team03's and team43's (open): team43 lets it go
    ds.transition("P05-2", "To Do", at=at)  # team05's and team45's, still open
    ds.reassign("P11-7", person(12), at=at)  # team11's alone
    moved = ds.move_issue("P02-6", key(6), at=at)  # from team02 and team42 to team06 and team46
    ds.create_issue(key(8), "New", assignee=person(8), at=at)  # for team08 and team48
    batches, stats, _ = synced.cycle(15)
    # The combined search, then rounds of routing searches shared by the whole page: "in any
    # team you were not expected in?", "in the team you were stored under?", "in a team
    # holding your project?". Far below a search per team (50).
    assert searches(stats) <= 4 and stats.total == searches(stats), stats.snapshot()
    changed = {i.key for i in emitted(batches)}
    assert changed == {"P03-5", "P05-2", "P11-7", moved, f"{key(8)}-{PER_PROJECT + 1}"}
    removed = {(e.team, e.id) for b in batches for e in b.events if isinstance(e, WorkItemRemoved)}
    moved_id = str(ds.issue(moved).id)
    done_id = str(ds.issue("P03-5").id)
    assert removed == {("team02", moved_id), ("team42", moved_id), ("team43", done_id)}
    after = synced.items()
    assert {t for t, i in after if i == moved_id} == {"team06", "team46"}
    assert {t for t, i in after if i == done_id} == {"team03"}
    assert len(after) == len(before) + 2 - 1  # the new issue in two teams; P03-5 left team43
    # And nothing changed since: a quiet cycle again.
    _, stats, _ = synced.cycle(15)
    assert stats.total == 1


def test_a_request_budget_cuts_a_cycle_and_the_next_goes_on(jira, monkeypatch):
    server, _ds = jira
    whole = Synced(make(server.url, monkeypatch), server, teams(PROJECTS))
    whole.cycle()
    budgeted = Synced(make(server.url, monkeypatch, max_requests_per_cycle=6), server, teams(PROJECTS))
    cycles = 0
    messages = []
    while True:
        batches, stats, ctx = budgeted.cycle()
        cycles += 1
        messages += ctx.progress_messages
        # No page is asked for past the budget; a page already read is finished (its changelogs, people).
        assert searches(stats) <= 6 and stats.total <= 6 + 2, stats.snapshot()
        if searches(stats) <= 1 and not emitted(batches):
            break
        assert cycles < 20
    assert cycles >= 3 and any("max_requests_per_cycle = 6" in m for m in messages)
    assert budgeted.items() == whole.items()


def test_teams_due_together_are_reconciled_over_several_cycles(monkeypatch):
    ds = build()
    with EmulatorServer(ds, mode="cloud") as server:
        # A tenth of the budget is one listing page: one team's listing a cycle.
        synced = Synced(make(server.url, monkeypatch, max_requests_per_cycle=10), server, teams(4))
        synced.cycle()
        gone = {n: str(ds.issue(f"{key(n)}-2").id) for n in range(4)}
        for n in range(4):
            ds.delete_issue(f"{key(n)}-2")
        synced.now += timedelta(hours=24)
        removed = []
        for _ in range(4):
            batches, stats, _ = synced.cycle(15)
            assert searches(stats) == 2  # the changes, one listing
            removed.append(
                {(e.team, e.id) for b in batches for e in b.events if isinstance(e, WorkItemRemoved)}
            )
        assert removed == [{(f"team{n:02d}", gone[n])} for n in range(4)]
        _, stats, _ = synced.cycle(15)
        assert stats.total == 1  # all reconciled: none due for a day


def test_many_project_teams_share_one_clause(jira, monkeypatch):
    server, _ds = jira
    many = [
        TeamInfo(f"t{n:04d}", "m@example.com", (), jql=f"project in ({key(n % PROJECTS)})")
        for n in range(1000)
    ]
    synced = Synced(make(server.url, monkeypatch), server, many)
    synced.cycle()
    # 1,000 teams, one search: `project in (P00, ..., P39)`, routed by each issue's project.
    _, stats, _ = synced.cycle(15)
    assert stats.total == 1
    assert len(synced.items()) == 1000 * PER_PROJECT


def test_a_long_combined_query_is_posted_and_cut_in_two(monkeypatch):
    ds = Dataset(now=NOW)
    for n in range(1100):
        ds.add_project(f"P{n:04d}", f"Project {n}")
    for n in range(5):
        ds.create_issue("P0000", f"Task {n}", at=NOW - timedelta(days=n + 1))
    # Every team but the first takes every issue; no two can share a clause.
    many = [TeamInfo(f"t{n:04d}", "m@example.com", (), jql=f"project != P{n:04d}") for n in range(1100)]
    with EmulatorServer(ds, mode="cloud") as server:
        synced = Synced(make(server.url, monkeypatch), server, many)
        batches, stats, _ = synced.cycle()
        assert len(emitted(batches)) == 5 * 1099
        # Past GET_MAX_JQL_CHARS the JQL goes in a POST body; past MAX_JQL_CHARS, two searches.
        assert (
            stats.count("POST /rest/api/2/search/jql") == 2 and stats.count("GET /rest/api/2/search/jql") == 0
        )
        _, stats, _ = synced.cycle(15)
        assert stats.snapshot()["by_endpoint"] == {"POST /rest/api/2/search/jql": 2}
        # A short one stays a GET.
        small = Synced(make(server.url, monkeypatch), server, many[:3])
        small.cycle()
        assert server.stats.count("GET /rest/api/2/search/jql") == 1
    assert len(" OR ".join(f"({t.jql})" for t in many[:3])) < GET_MAX_JQL_CHARS


def test_a_new_team_syncs_afresh_while_the_others_stay_incremental(jira, monkeypatch):
    server, _ds = jira
    synced = Synced(make(server.url, monkeypatch), server, teams(PROJECTS - 1))
    synced.cycle()
    synced.teams = teams(PROJECTS)  # team39 joins
    batches, stats, _ = synced.cycle(15)
    covered = [e for b in batches for e in b.events if isinstance(e, WorkItemsCovered)]
    assert covered == [WorkItemsCovered(team="team39", start=HISTORY)]
    assert {i.team for i in emitted(batches)} == {"team39"}
    assert len(emitted(batches)) == PER_PROJECT
    assert searches(stats) == 2  # the others' changes (none), then the new team's first sync
    _, stats, _ = synced.cycle(15)
    assert stats.total == 1


def test_a_team_whose_jql_jira_refuses_is_left_out_and_named(monkeypatch):
    ds = build()
    with EmulatorServer(ds, mode="cloud") as server:
        bad = TeamInfo("broken", "m@example.com", (), jql="project = NOPE")
        synced = Synced(make(server.url, monkeypatch), server, [*teams(4), bad])
        with pytest.raises(SourceError) as err:
            synced.cycle()
        assert "search: rejected (HTTP 400) for team broken" in str(err.value) and "\n" not in str(err.value)
        # The other teams were synced, committed with their cursor.
        assert {team for team, _ in synced.items()} == {"team00", "team01", "team02", "team03"}
        assert set(synced.store.cursor("jira")["teams"]) == {"team00", "team01", "team02", "team03"}


@pytest.mark.parametrize("mode", MODES)
def test_routing_searches_find_issues_deleted_since_the_page(mode, monkeypatch):
    from teampulse_jira.client import Transport

    ds = build()
    with EmulatorServer(ds, mode=mode) as server:
        source = make(server.url, monkeypatch)
        transport = Transport(source.settings)
        transport.connect()
        try:
            searcher = Searcher(transport, server.cloud, 100)
            ids = {ds.issue(k).id for k in ("P01-1", "P01-2", "P02-1", "P01-3")}
            gone = ds.issue("P01-2").id
            ds.delete_issue("P01-2")  # Jira refuses a JQL naming it

            def where(_ids: set[int]) -> str:
                return "project = P01"

            matched, vanished = searcher.matching("route", where, ids)
        finally:
            transport.close()
    assert matched == {ds.issue("P01-1").id, ds.issue("P01-3").id} and vanished == {gone}


def test_server_settings_are_read_again_when_old_or_when_a_status_is_new(monkeypatch):
    ds = build()
    with EmulatorServer(ds, mode="cloud") as server:
        synced = Synced(make(server.url, monkeypatch), server, teams(2))
        synced.cycle()
        # A status added while the process runs: its first change makes the list be read again.
        ds.add_status(Status("10100", "Blocked", CATEGORY_INDETERMINATE))
        ds.transition("P00-2", "Blocked", at=synced.now + timedelta(minutes=5))
        batches, stats, _ = synced.cycle(15)
        assert stats.count("/status") == 1 and stats.count("serverInfo") == 0
        [item] = emitted(batches)
        assert item.changes[-1].to_value == "indeterminate"
        _, stats, _ = synced.cycle(MAX_AGE.total_seconds() / 60)
        assert {e: stats.count(e) for e in ("serverInfo", "myself", "/status", "/field")} == dict.fromkeys(
            ("serverInfo", "myself", "/status", "/field"), 1
        )


@pytest.mark.parametrize("mode", MODES)
def test_a_version_2_cursor_goes_on_incrementally(mode, monkeypatch):
    ds = build()
    with EmulatorServer(ds, mode=mode) as server:
        synced = Synced(make(server.url, monkeypatch), server, teams(PROJECTS))
        synced.cycle()
        v3 = synced.store.cursor("jira")
        assert v3 is not None and v3["v"] == 3
        # What version 2 wrote: no projects, no skip list, each id set in one run.
        v2 = {
            "v": 2,
            "teams": {
                name: {
                    **{k: v for k, v in entry.items() if k != "projects"},
                    "ids": encode_ids(decode_ids(entry["ids"])),
                }
                for name, entry in v3["teams"].items()
            },
        }
        synced.store.apply_batch("jira", [], v2, 0.0)
        batches, stats, _ = synced.cycle(15)
        # No first sync again: one search; the overlap window is read once more (no skip list yet).
        assert searches(stats) == 1 and not [
            e for b in batches for e in b.events if isinstance(e, WorkItemsCovered)
        ]
        assert 0 < len(emitted(batches)) < 10
        healed: Mapping[str, Any] | None = synced.store.cursor("jira")
        assert healed is not None and healed["v"] == 3
        assert {n: decode_ids(t["ids"]) for n, t in healed["teams"].items()} == {
            n: decode_ids(t["ids"]) for n, t in v3["teams"].items()
        }
        _, stats, _ = synced.cycle(15)
        assert stats.total == 1
