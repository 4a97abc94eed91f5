"""The plugin, through the real `jira` client, against the Jira emulator in Cloud and Data Center modes."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from teampulse_jira import JiraSource, create
from teampulse_jira.client import Transport
from teampulse_jira.config import parse_settings
from teampulse_jira.source import MAX_REWINDS, MAX_STALE_PAGES, _Collection
from teampulse_jira_emulator import Credentials, Dataset, EmulatorServer, Faults
from teampulse_jira_emulator.model import to_ms

from teampulse import (
    Batch,
    PluginConfig,
    SourceError,
    Sprint,
    StatusCategory,
    TeamInfo,
    WorkItem,
    WorkItemRemoved,
    WorkItemsCovered,
)
from teampulse.testing import RecordingContext, free_port

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
N_ISSUES = 240
LONG_HISTORY = 130  # more than Cloud's 100-history cap inside search results
LONG_KEYS = ("PAY-1", "PAY-101", "PAY-201")
MEMBERS = ("bob@example.com", "chen@example.com")
TOKEN = "t0ken-s3cret"
MODES = ["cloud", "datacenter"]


def context(
    teams: list[TeamInfo],
    cursor: Mapping[str, Any] | None = None,
    now: datetime = NOW,
    history_from: datetime | None = None,
) -> RecordingContext:
    """Return a collection's context; without history_from, the source reads its own window only."""
    return RecordingContext(teams, cursor, now, name="jira", history_from=history_from or now)


def build_dataset() -> tuple[Dataset, dict[str, str]]:
    """Two projects; PAY has N_ISSUES issues with histories, one with a very long one."""
    ds = Dataset(now=NOW)
    ds.add_user("maria@example.com", "Maria Manager", "Europe/Berlin")
    for email in MEMBERS:
        ds.add_user(email, email.split("@")[0].title(), "UTC")
    ds.add_project("PAY", "Payments", lead="maria@example.com")
    ds.add_project("OPS", "Operations")
    sprint = ds.add_sprint("PAY Sprint 9", 1, NOW - timedelta(days=5), NOW + timedelta(days=9), "active")
    keys: dict[str, str] = {}
    start = NOW - timedelta(days=20)
    for i in range(N_ISSUES):
        at = start + timedelta(minutes=97 * i)
        key = ds.create_issue(
            "PAY",
            f"Task {i}",
            assignee=MEMBERS[i % 2],
            duedate=(NOW + timedelta(days=i % 10)).date() if i % 3 == 0 else None,
            sprint_ids=(sprint.id,) if i % 4 == 0 else (),
            at=at,
        )
        ds.transition(key, "In Progress", at=at + timedelta(minutes=5), author="maria@example.com")
        if i % 5 == 0:
            ds.transition(key, "Done", at=at + timedelta(minutes=30), author=MEMBERS[i % 2])
        keys[str(ds.issue(key).id)] = key
    for long_key in LONG_KEYS:  # on three different pages
        at = start + timedelta(minutes=97 * (int(long_key.split("-")[1]) - 1) + 10)
        for n in range(LONG_HISTORY):
            ds.transition(
                long_key, "In Review" if n % 2 == 0 else "In Progress", at=at + timedelta(seconds=n)
            )
    return ds, keys


@pytest.fixture(params=MODES)
def jira(request):
    ds, keys = build_dataset()
    faults = Faults()
    server = EmulatorServer(ds, mode=request.param, faults=faults).start()
    try:
        yield server, ds, keys, faults
    finally:
        server.stop()


def make_source(url: str, monkeypatch, **options: Any) -> tuple[JiraSource, list[float]]:
    monkeypatch.setenv("JIRA_TEST_TOKEN", TOKEN)
    table = {"plugin": "jira", "url": url, "email": "maria@example.com", "token_env": "JIRA_TEST_TOKEN"}
    table.update({"page_size": 20, **options})
    source = create(PluginConfig(name="jira", section="sources", options=table))
    sleeps: list[float] = []
    source.sleep = sleeps.append
    return source, sleeps


def team(jql: str | None = "project = PAY") -> TeamInfo:
    return TeamInfo(name="payments", manager="maria@example.com", members=MEMBERS, jql=jql)


def run(source: JiraSource, cursor: Mapping[str, Any] | None = None, now: datetime = NOW, **kw: Any):
    ctx = context(kw.get("teams", [team()]), cursor, now)
    batches = list(source.collect(ctx))
    return batches, ctx


def items_of(batches: list[Batch]) -> list[WorkItem]:
    return [e for b in batches for e in b.events if isinstance(e, WorkItem)]


def committed(*runs: list[Batch]) -> Mapping[str, Any] | None:
    """Return the cursor the store holds after these collections (a quiet one commits none)."""
    cursors = [b.cursor for batches in runs for b in batches if b.cursor is not None]
    return cursors[-1] if cursors else None


def search_count(server: EmulatorServer) -> int:
    stats = server.stats
    return stats.count("search/jql") if server.cloud else stats.count("/search")


def test_first_sync_pages_through_every_issue_exactly_once(jira, monkeypatch):
    server, ds, keys, _ = jira
    source, sleeps = make_source(server.url, monkeypatch)
    batches, ctx = run(source)
    items = items_of(batches)
    counts = Counter(item.id for item in items)
    assert set(counts) == set(keys) and max(counts.values()) == 1
    assert search_count(server) == math.ceil(N_ISSUES / 20)
    for endpoint in ("serverInfo", "myself", "/status", "/field"):
        assert server.stats.count(endpoint) == 1, endpoint
    assert server.stats.count("bulkfetch") == (1 if server.cloud else 0)
    assert server.stats.count("issue/") == 0  # nothing per issue
    assert not sleeps
    # Every page is its own batch (Cloud: plus the held-back truncated issues at the end), and
    # the cursor never passes an issue not yet emitted.
    with_events = [b for b in batches if any(isinstance(e, WorkItem) for e in b.events)]
    assert len(with_events) == math.ceil(N_ISSUES / 20) + (1 if server.cloud else 0)
    emitted: set[str] = set()
    for batch in with_events:
        emitted.update(e.id for e in batch.events)
        position = datetime.fromisoformat(batch.cursor["teams"]["payments"]["updated"])
        assert all(i.updated >= position for i in items if i.id not in emitted)
    assert position == max(i.updated for i in items)
    # Progress every few pages, without keys or addresses.
    assert ctx.progress_messages and all(
        re.fullmatch(r"team payments: \d+ issues, page \d+", m) for m in ctx.progress_messages
    )

    by_key = {item.key: item for item in items}
    sample = by_key["PAY-6"]  # i = 5: done, no due date; i % 4 != 0: no sprint
    assert sample.status_category is StatusCategory.DONE and sample.due is None and sample.sprints == ()
    assert sample.assignee == "chen@example.com"
    assert [(c.field, c.from_value, c.to_value) for c in sample.changes] == [
        ("status", "new", "indeterminate"),
        ("status", "indeterminate", "done"),
    ]
    assert sample.changes[0].author is None  # authors are not read: no per-person activity trail
    assert sample.changes[0].at == NOW - timedelta(days=20) + timedelta(minutes=97 * 5 + 5)
    in_sprint = by_key["PAY-13"]  # i = 12: in the sprint, due in 2 days
    assert in_sprint.sprints == (
        Sprint(str(ds.sprints[1].id), "active", NOW - timedelta(days=5), NOW + timedelta(days=9)),
    )
    assert in_sprint.due == (NOW + timedelta(days=2)).date()
    assert in_sprint.created.tzinfo is not None


def test_full_changelogs_beyond_the_cloud_cap(jira, monkeypatch):
    server, _ds, _keys, _ = jira
    source, _ = make_source(server.url, monkeypatch)
    items = items_of(run(source)[0])
    for key in LONG_KEYS:
        long_item = next(i for i in items if i.key == key)
        status_changes = [c for c in long_item.changes if c.field == "status"]
        assert len(status_changes) == LONG_HISTORY + 2  # and "In Progress" and "Done" before
        assert [c.at for c in long_item.changes] == sorted(c.at for c in long_item.changes)
        assert len({c.id for c in long_item.changes}) == len(long_item.changes)
    # Held back across pages, the three truncated changelogs come in one request.
    assert server.stats.count("bulkfetch") == (1 if server.cloud else 0)
    assert len(items) == N_ISSUES


def test_changelog_endpoint_or_expanded_issue_fallback(jira, monkeypatch):
    server, _ds, keys, _ = jira
    source, _ = make_source(server.url, monkeypatch)
    transport = Transport(source.settings)
    transport.connect()
    try:
        collection = _Collection(source, transport, context([team()]))
        collection._prepare()
        issue_id = next(iter(keys))
        histories = collection._dc_changelog(issue_id)
        assert histories is not None and len(histories) == LONG_HISTORY + 2
        # Cloud has issue/{id}/changelog (two pages of 100); this Data Center version lacks it.
        assert source.changelog_endpoint is server.cloud
        assert server.stats.count("issue/{issueIdOrKey}/changelog") == (2 if server.cloud else 1)
        assert collection._dc_changelog("999999") is None  # a deleted issue: nothing to add
    finally:
        transport.close()


def test_a_429_with_retry_after_mid_sync_is_waited_out(jira, monkeypatch):
    server, _ds, keys, faults = jira
    faults.rate_limit(every=4, retry_after=7, path="search", count=1)
    source, sleeps = make_source(server.url, monkeypatch)
    items = items_of(run(source)[0])
    assert sleeps == [7.0]
    assert sorted(i.id for i in items) == sorted(keys)
    assert server.stats.snapshot()["by_status"]["429"] == 1


def test_a_503_then_success(jira, monkeypatch):
    server, _ds, _keys, faults = jira
    faults.unavailable(every=1, retry_after=2, path="myself", count=1)
    faults.not_json(status=502, every=2, path="search", count=1)  # a proxy's HTML error page
    source, sleeps = make_source(server.url, monkeypatch)
    items = items_of(run(source)[0])
    assert sleeps[0] == 2.0  # Retry-After honoured
    assert len(sleeps) == 2 and 1.0 <= sleeps[1] <= 2.0  # then backoff with jitter for the 502
    assert len(items) == N_ISSUES


def test_a_retry_after_longer_than_the_cap_fails_clearly(jira, monkeypatch):
    server, _ds, _keys, faults = jira
    faults.rate_limit(every=1, retry_after=900, path="search")
    source, sleeps = make_source(server.url, monkeypatch, max_retry_wait_seconds=300)
    with pytest.raises(SourceError) as err:
        run(source)
    message = str(err.value)
    assert "127.0.0.1" in message and "900 s" in message and "max_retry_wait_seconds" in message
    assert "\n" not in message and not sleeps


def test_retries_are_bounded(jira, monkeypatch):
    server, _ds, _keys, faults = jira
    faults.unavailable(every=1, retry_after=1, path="status")
    source, sleeps = make_source(server.url, monkeypatch, max_retries=3)
    with pytest.raises(SourceError, match=r"status: unavailable \(HTTP 503\), gave up after 3 retries"):
        run(source)
    assert sleeps == [1.0, 1.0, 1.0]


def test_a_non_json_reply_names_the_host(jira, monkeypatch):
    server, _ds, _keys, faults = jira
    faults.not_json(status=200, path="myself")
    source, sleeps = make_source(server.url, monkeypatch, max_retries=2)
    with pytest.raises(SourceError) as err:
        run(source)
    host = server.url.removeprefix("http://")
    assert str(err.value) == (
        f"{host}: myself: the reply is not JSON (a proxy's login or maintenance page, or not a Jira "
        "server?), gave up after 2 retries"
    )
    assert len(sleeps) == 2


def test_a_dropped_connection_is_retried(jira, monkeypatch):
    server, _ds, _keys, faults = jira
    faults.drop(every=1, path="field", count=1)
    source, sleeps = make_source(server.url, monkeypatch)
    assert len(items_of(run(source)[0])) == N_ISSUES
    assert len(sleeps) == 1


def test_an_unreachable_url_gives_a_source_error(monkeypatch):
    port = free_port()
    source, sleeps = make_source(f"http://127.0.0.1:{port}", monkeypatch, max_retries=2)
    with pytest.raises(SourceError) as err:
        run(source)
    assert str(err.value) == f"127.0.0.1:{port}: serverInfo: connection refused, gave up after 2 retries"
    assert len(sleeps) == 2


@pytest.mark.parametrize("mode", MODES)
def test_bad_credentials_are_reported_without_the_token(mode, monkeypatch):
    ds, _ = build_dataset()
    credentials = Credentials(basic={"maria@example.com": "another"}, bearer=frozenset({"other"}))
    with EmulatorServer(ds, mode=mode, credentials=credentials) as server:
        source, _ = make_source(server.url, monkeypatch)
        with pytest.raises(SourceError, match="authentication failed") as err:
            run(source)
        assert TOKEN not in str(err.value) and "$JIRA_TEST_TOKEN" in str(err.value)
        # A bearer token (no e-mail) that the server accepts.
        monkeypatch.setenv("JIRA_TEST_TOKEN", "other")
        bearer = JiraSource(
            parse_settings(
                PluginConfig("jira", "sources", {"url": server.url, "token_env": "JIRA_TEST_TOKEN"})
            )
        )
        assert len(items_of(run(bearer)[0])) == N_ISSUES


def test_a_bad_jql_is_a_one_line_error(jira, monkeypatch):
    server, _ds, _keys, _ = jira
    source, _ = make_source(server.url, monkeypatch)
    with pytest.raises(SourceError, match=r"search: rejected \(HTTP 400\)"):
        run(source, teams=[team("project = = PAY")])


def test_second_sync_fetches_only_what_changed(jira, monkeypatch):
    server, ds, _keys, _ = jira
    source, _ = make_source(server.url, monkeypatch)
    first, _ = run(source)
    cursor = first[-1].cursor
    later = NOW + timedelta(hours=2)
    ds.set_now(later - timedelta(minutes=5))  # changed a few minutes before the sync
    changed = ["PAY-17", "PAY-100", "PAY-202"]
    ds.transition(changed[0], "Done")
    ds.set_due_date(changed[1], (later + timedelta(days=3)).date())
    ds.reassign(changed[2], "maria@example.com")
    ds.set_now(later)
    server.stats.reset()
    second, _ = run(source, cursor=cursor, now=later)
    items = items_of(second)
    # The newest issue of the first sync lies within the overlap window: read again, but
    # skipped, since it has not changed.
    assert {i.key for i in items} == set(changed)
    assert search_count(server) == 1
    assert server.stats.total == 1  # the server's settings are kept for the process
    by_key = {i.key: i for i in items}
    assert by_key["PAY-17"].status_category is StatusCategory.DONE
    assert by_key["PAY-202"].assignee == "maria@example.com"
    assert by_key["PAY-202"].changes[-1].to_value == "maria@example.com"
    assert by_key["PAY-100"].changes[-1].field == "duedate"
    # A third sync with nothing new re-reads only the overlap window (all changed just before
    # `later`), where nothing changed since: one search, nothing stored, no cursor to commit.
    server.stats.reset()
    third, _ = run(source, cursor=second[-1].cursor, now=later + timedelta(hours=1))
    assert third == []
    assert server.stats.total == 1
    # A new process reads the server's settings first: serverInfo, myself, status, field.
    server.stats.reset()
    fresh, _ = make_source(server.url, monkeypatch)
    assert run(fresh, cursor=second[-1].cursor, now=later + timedelta(hours=1))[0] == []
    assert server.stats.total == 5


def test_a_restart_resumes_from_the_committed_cursor(jira, monkeypatch):
    server, _ds, keys, _ = jira
    source, _ = make_source(server.url, monkeypatch)
    ctx = context([team()])
    seen: set[str] = set()
    committed = None
    for number, batch in enumerate(source.collect(ctx)):
        seen.update(e.id for e in batch.events if isinstance(e, WorkItem))
        committed = batch.cursor
        if number == 4:
            break  # the process dies after five committed pages
    rest, _ = run(source, cursor=committed)
    assert seen | {i.id for i in items_of(rest)} == set(keys)


def test_deleted_and_moved_issues_are_removed_after_reconciliation(jira, monkeypatch):
    server, ds, keys, _ = jira
    source, _ = make_source(server.url, monkeypatch)
    first, _ = run(source)
    by_key = {v: k for k, v in keys.items()}
    later = NOW + timedelta(hours=1)
    ds.set_now(later)
    ds.delete_issue("PAY-3")
    ds.move_issue("PAY-4", "OPS")
    # Before reconcile_hours have passed, incremental sync cannot see them go.
    second, _ = run(source, cursor=first[-1].cursor, now=later)
    assert not [e for b in second for e in b.events if isinstance(e, WorkItemRemoved)]
    server.stats.reset()
    much_later = NOW + timedelta(hours=25)
    ds.set_now(much_later)
    third, _ = run(source, cursor=committed(first, second), now=much_later)
    removed = [e for b in third for e in b.events if isinstance(e, WorkItemRemoved)]
    assert sorted(r.id for r in removed) == sorted([by_key["PAY-3"], by_key["PAY-4"]])
    assert all(r.team == "payments" and r.at == much_later for r in removed)
    # One incremental page, then the id listing: one page of up to 5,000 on Cloud; Data Center
    # pages at the server's maximum (100 in the emulator, 1,000 by default in Jira).
    assert search_count(server) == 1 + (1 if server.cloud else math.ceil((N_ISSUES - 2) / 100))
    cursor = third[-1].cursor["teams"]["payments"]
    assert cursor["reconciled"] == much_later.isoformat()
    # Known ids shrank, so the next reconciliation does not report them again.
    fourth, _ = run(source, cursor=third[-1].cursor, now=much_later + timedelta(hours=25))
    assert not [e for b in fourth for e in b.events if isinstance(e, WorkItemRemoved)]


def test_teams_without_jql_are_skipped_and_a_changed_jql_starts_over(jira, monkeypatch):
    server, _ds, keys, _ = jira
    source, _ = make_source(server.url, monkeypatch)
    first, _ = run(source, teams=[team(), TeamInfo("nojql", "maria@example.com", ())])
    assert set(first[-1].cursor["teams"]) == {"payments"}
    narrower = team("project = PAY AND status = Done")
    second, _ = run(source, cursor=first[-1].cursor, teams=[narrower])
    removed = {e.id for b in second for e in b.events if isinstance(e, WorkItemRemoved)}
    done = {i.id for i in items_of(second)}
    assert done and all(i.status_category is StatusCategory.DONE for i in items_of(second))
    assert removed == set(keys) - done


def test_data_center_legacy_sprint_strings(monkeypatch):
    ds, _keys = build_dataset()
    with EmulatorServer(ds, mode="datacenter", sprint_format="legacy") as server:
        source, _ = make_source(server.url, monkeypatch)
        items = {i.key: i for i in items_of(run(source)[0])}
    assert items["PAY-5"].sprints == (
        Sprint(str(ds.sprints[1].id), "active", NOW - timedelta(days=5), NOW + timedelta(days=9)),
    )
    assert items["PAY-5"].assignee == "bob@example.com"


def test_forced_deployment_overrides_server_info(monkeypatch):
    ds, _keys = build_dataset()
    with EmulatorServer(ds, mode="cloud") as server:
        source, _ = make_source(server.url, monkeypatch, deployment="datacenter")
        with pytest.raises(SourceError, match=r"search: rejected \(HTTP 410\)"):
            run(source)
        source, _ = make_source(server.url, monkeypatch, deployment="cloud")
        assert len(items_of(run(source)[0])) == N_ISSUES


@pytest.mark.parametrize("mode", MODES)
def test_hidden_addresses_are_learnt_with_one_user_search_per_member(mode, monkeypatch):
    from teampulse_jira_emulator.render import Renderer

    shown = Renderer.user

    def without_email(self, user):
        rendered = shown(self, user)
        if rendered is None:
            return None
        # Cloud hides addresses by users' privacy settings; show only the manager's.
        return {k: v for k, v in rendered.items() if k != "emailAddress" or "maria" in str(v)}

    monkeypatch.setattr(Renderer, "user", without_email)
    ds, _ = build_dataset()
    with EmulatorServer(ds, mode=mode) as server:
        source, _ = make_source(server.url, monkeypatch)
        items = items_of(run(source)[0])
        assert {i.assignee for i in items} == set(MEMBERS)
        if mode == "cloud":
            # One page of the site's users maps maria (her address shows); bob and chen are looked up.
            assert server.stats.count("users/search") == 1
            assert server.stats.count("user/search") == 2
        else:
            # bob, chen and maria: authors are not read, so maria's shown address is never met
            assert server.stats.count("user/search") == 3
        assert {c.author for i in items for c in i.changes} == {None}
        # Learnt for the life of the process: the next collection asks nobody.
        server.stats.reset()
        run(source)
        assert server.stats.count("user/search") == 0
        # A fresh process that meets someone outside the team keeps a Jira identifier for them.
        ds.add_user("dora@example.com", "Dora Outside")
        ds.set_now(NOW + timedelta(hours=1))
        ds.reassign("PAY-7", "dora@example.com")
        fresh, _ = make_source(server.url, monkeypatch)
        later = {i.key: i for i in items_of(run(fresh, now=NOW + timedelta(hours=1))[0])}
        dora = ds.user("dora@example.com")
        assert later["PAY-7"].assignee == "jira:" + (dora.account_id if mode == "cloud" else dora.key)


def test_data_center_paging_survives_rows_moving_during_the_sync(monkeypatch):
    ds, keys = build_dataset()
    with EmulatorServer(ds, mode="datacenter") as server:
        source, _ = make_source(server.url, monkeypatch)
        ctx = context([team()])
        got: dict[str, WorkItem] = {}
        for number, batch in enumerate(source.collect(ctx)):
            got.update((e.id, e) for e in batch.events if isinstance(e, WorkItem))
            if number == 2:
                # Issues read on the first pages change or vanish: later rows move up.
                ds.set_now(NOW + timedelta(minutes=1))
                ds.transition("PAY-2", "Done")
                ds.transition("PAY-8", "Done")
                ds.delete_issue("PAY-9")
    deleted = next(i for i, k in keys.items() if k == "PAY-9")
    assert set(got) == set(keys)  # nothing skipped (PAY-9 was read before it went)
    by_key = {i.key: i for i in got.values()}
    assert by_key["PAY-2"].status_category is StatusCategory.DONE  # its new state, read again
    assert deleted in got


def test_first_sync_reaches_back_as_far_as_the_core_reads(jira, monkeypatch):
    server, ds, keys, _ = jira
    source, _ = make_source(server.url, monkeypatch, history_days=10)
    # history_days alone: issues done before ten days ago and not touched since are not read
    short = {i.key for i in items_of(run(source)[0])}
    done_early = {
        k for k in keys.values()
        if ds.issue(k).status.category[1] == "done" and ds.issue(k).updated < to_ms(NOW - timedelta(days=10))
    }  # fmt: skip
    assert done_early and not short & done_early
    # the core asks for history from 30 days back: the first sync reads the whole history
    ctx = context([team()], history_from=NOW - timedelta(days=30))
    batches = list(source.collect(ctx))
    assert {i.key for i in items_of(batches)} == set(keys.values())
    # and it tells the core from when the team's history is whole
    covered = [e for b in batches for e in b.events if isinstance(e, WorkItemsCovered)]
    assert covered == [WorkItemsCovered(team="payments", start=NOW - timedelta(days=30))]


# -- the cycle's time budget: a hung or odd Jira holds a cycle for a bounded time --

# The emulator delays a "hung" reply this long; the client's read timeout (1 s) fires first.
HANG_MS = 10_000


def test_an_html_page_with_status_200_is_retried_like_a_5xx(jira, monkeypatch):
    server, _ds, keys, faults = jira
    # A proxy's login or maintenance page, served with 200, on the first search page.
    faults.not_json(status=200, path="search", count=1)
    source, sleeps = make_source(server.url, monkeypatch)
    source.rng = lambda: 0.0
    items = items_of(run(source)[0])
    assert sorted(i.id for i in items) == sorted(keys)
    assert sleeps == [1.0]  # one backoff step, as for a 502


def test_html_pages_without_end_stop_when_the_cycle_budget_is_spent(jira, monkeypatch):
    server, _ds, _keys, faults = jira
    faults.not_json(status=200, path="myself")
    source, sleeps = make_source(server.url, monkeypatch, cycle_budget_seconds=5, max_retries=20)
    source.rng = lambda: 0.0  # backoff steps of 1, 2, 4, ... seconds
    with pytest.raises(SourceError) as err:
        run(source)
    message = str(err.value)
    # 1 + 2 s waited; a third wait of 4 s would pass the 5 s budget: given up, not after 20 retries.
    assert sleeps == [1.0, 2.0]
    assert "myself: the reply is not JSON" in message and "gave up after 2 retries" in message
    assert "cycle_budget_seconds (5 s)" in message and "\n" not in message


def test_a_hung_jira_is_given_up_on_within_the_budget(jira, monkeypatch):
    server, _ds, _keys, faults = jira
    source, sleeps = make_source(
        server.url, monkeypatch, timeout_seconds=1, cycle_budget_seconds=1.5, max_retries=3
    )
    healthy, _ = run(source)
    requests_when_healthy = source.last_requests
    faults.latency(HANG_MS, path="search")  # every search now hangs
    with pytest.raises(SourceError) as err:
        run(source)
    message = str(err.value)
    assert "search: no reply within 1 s" in message and "cycle_budget_seconds (1.5 s)" in message
    # The first search hung for the read timeout (1 s); a retry after at least 1 s more would
    # pass the 1.5 s budget: no wait, no second search (3 retries were allowed).
    assert sleeps == []
    assert source.last_requests < requests_when_healthy
    assert len(items_of(healthy)) == N_ISSUES


def test_a_budget_spent_mid_sync_keeps_the_pages_already_synced(jira, monkeypatch):
    server, _ds, _keys, faults = jira
    source, sleeps = make_source(server.url, monkeypatch, timeout_seconds=1, cycle_budget_seconds=1.5)
    ctx = context([team()])
    got: list[WorkItem] = []
    cursors = []
    with pytest.raises(SourceError, match="cycle_budget_seconds"):
        for batch in source.collect(ctx):
            got.extend(e for e in batch.events if isinstance(e, WorkItem))
            cursors.append(batch.cursor)
            if got and not faults.rules():
                faults.latency(HANG_MS, path="search")  # Jira hangs after the first page
    # The page read before the hang came with its cursor, so the core committed it.
    assert 0 < len(got) < N_ISSUES and cursors[-1] is not None
    assert sleeps == []


def test_data_center_paging_without_total_ends(monkeypatch):
    # Some servers and proxies leave `total` out; the row each page re-reads always comes
    # back, so only a page with nothing past it may end the search (it looped for ever).
    ds, keys = build_dataset()
    faults = Faults()
    faults.no_total(path="search")
    with EmulatorServer(ds, mode="datacenter", faults=faults, page_size_max=7) as server:
        source, _ = make_source(server.url, monkeypatch, page_size=7)
        assert {i.key for i in items_of(run(source)[0])} == set(keys.values())
        # ceil(N / 6) pages of 7 rows, one of which re-read, plus the last one with nothing new
        assert search_count(server) <= math.ceil(N_ISSUES / 6) + 2


def test_data_center_paging_that_ignores_start_at_fails_clearly(monkeypatch):
    ds, _keys = build_dataset()
    faults = Faults()
    faults.stuck_paging(path="search")
    with EmulatorServer(ds, mode="datacenter", faults=faults, page_size_max=7) as server:
        source, _ = make_source(server.url, monkeypatch, page_size=7)
        with pytest.raises(SourceError) as err:
            run(source)
        host = server.url.removeprefix("http://")
        assert str(err.value) == (
            f"{host}: search: the server sent the same rows again and again "
            "(does something between teampulse and Jira drop startAt?)"
        )
        # it gave up after the rewinds allowed for moving rows, and a few pages more
        assert search_count(server) <= 2 * MAX_REWINDS + MAX_STALE_PAGES + 3
