"""A Jira user is one person whatever the order users are met in: team order, restarts, old stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from teampulse_jira import JiraSource, create
from teampulse_jira_emulator import Dataset, EmulatorServer

from teampulse import PluginConfig, TeamInfo
from teampulse.collect import Pseudonymise
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store
from teampulse.testing import RecordingContext

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
TOKEN = "t0ken-s3cret"
KEY = b"identity-test-key-0123456789"
# Two teams; bob and dan hide their addresses (Cloud's privacy setting), so only a look-up
# maps their ids. zed (address shown) and yan (hidden) are in no configured team.
TEAMS = {
    "payments": ("PAY", "maria@example.com", ("bob@example.com", "chen@example.com")),
    "ops": ("OPS", "olga@example.com", ("dan@example.com", "eve@example.com")),
}
HIDDEN = {"bob@example.com", "dan@example.com", "yan@example.com"}
OUTSIDERS = ("zed@example.com", "yan@example.com")
# Each project's issues pass between its own people, the other team's and outsiders.
ROTATION = {
    "PAY": ("dan@example.com", "zed@example.com", "bob@example.com", "yan@example.com", "chen@example.com"),
    "OPS": ("bob@example.com", "yan@example.com", "dan@example.com", "zed@example.com", "eve@example.com"),
}
ISSUES = 18


def build() -> Dataset:
    ds = Dataset(now=NOW)
    people = [e for _, manager, members in TEAMS.values() for e in (manager, *members)] + list(OUTSIDERS)
    for email in people:
        ds.add_user(email, email.split("@")[0].title(), email_visible=email not in HIDDEN)
    start = NOW - timedelta(days=20)
    for project, manager, _members in TEAMS.values():
        ds.add_project(project, project.title(), lead=manager)
        rotation = ROTATION[project]
        for i in range(ISSUES):
            at = start + timedelta(hours=7 * i)
            key = ds.create_issue(project, f"Task {i}", assignee=rotation[i % 5], at=at)
            # The change items name earlier assignees by id only, on pages before their objects.
            for step in (1, 2):
                ds.reassign(key, rotation[(i + step) % 5], at=at + timedelta(minutes=step))
    return ds


def teams(order: tuple[str, ...]) -> list[TeamInfo]:
    return [
        TeamInfo(name=name, manager=TEAMS[name][1], members=TEAMS[name][2], jql=f"project = {TEAMS[name][0]}")
        for name in order
    ]


def source(url: str, monkeypatch: pytest.MonkeyPatch) -> JiraSource:
    monkeypatch.setenv("JIRA_TEST_TOKEN", TOKEN)
    table = {
        "plugin": "jira",
        "url": url,
        "email": "maria@example.com",
        "token_env": "JIRA_TEST_TOKEN",
        "page_size": 5,
    }
    made = create(PluginConfig(name="jira", section="sources", options=table))
    made.sleep = lambda _seconds: None
    return made


def sync(
    store: Store, src: JiraSource, order: tuple[str, ...], stop_after: int | None = None, now: datetime = NOW
) -> None:
    """Collect into a store through the core's pseudonymiser; stop after N batches (a restart)."""
    scrub = Pseudonymise(Pseudonymiser(KEY))
    ctx = RecordingContext(teams(order), store.cursor("jira"), now, name="jira", history_from=now)
    for number, batch in enumerate(src.collect(ctx), start=1):
        store.apply_batch("jira", [scrub(ev) for ev in batch.events], batch.cursor, 0.0)
        if stop_after is not None and number >= stop_after:
            return


def stored(store: Store) -> list[tuple[Any, ...]]:
    """Every stored item's assignee and assignee history (pseudonyms), by team and id."""
    rows = store._db.execute("SELECT team, id, assignee, history FROM work_items ORDER BY team, id")
    return [
        (team, ident, assignee, [e for e in orjson.loads(history or "[]") if e[2] == "assignee"])
        for team, ident, assignee, history in rows
    ]


def expected_pseudonyms(ds: Dataset, cloud: bool) -> dict[str, str]:
    """The one pseudonym of each user: configured people by address, others by their Jira id."""
    p = Pseudonymiser(KEY)
    configured = {e for _, manager, members in TEAMS.values() for e in (manager, *members)}
    result = {}
    for email, user in ds.users.items():
        ident = user.account_id if cloud else user.key
        result[email] = p(email if email in configured else "jira:" + ident) or ""
    return result


def pseudonyms(rows: list[tuple[Any, ...]]) -> set[str]:
    found = {row[2] for row in rows if row[2]}
    for row in rows:
        for entry in row[3]:
            found.update(v for v in entry[3:5] if v)
    return found


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_order_and_restarts_never_split_a_person(mode, tmp_path: Path, monkeypatch):
    ds = build()
    with EmulatorServer(ds, mode=mode) as server:
        with Store(tmp_path / "forward.db") as forward:
            sync(forward, source(server.url, monkeypatch), ("payments", "ops"))
            want = stored(forward)
        with Store(tmp_path / "backward.db") as backward:
            sync(backward, source(server.url, monkeypatch), ("ops", "payments"))
            assert stored(backward) == want
        with Store(tmp_path / "restarted.db") as restarted:
            # A process that stops after two pages, then a fresh one (it knows nobody) goes on.
            sync(restarted, source(server.url, monkeypatch), ("payments", "ops"), stop_after=2)
            sync(restarted, source(server.url, monkeypatch), ("payments", "ops"))
            assert stored(restarted) == want
    assert len(want) == 2 * ISSUES
    expected = expected_pseudonyms(ds, mode == "cloud")
    met = pseudonyms(want)
    # One pseudonym per user: every stored one is a user's only pseudonym, each assignee appears.
    assignees = {email for rotation in ROTATION.values() for email in rotation}
    assert met == {expected[email] for email in assignees}
    assert len(met) == len(assignees) == 6


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_a_store_with_split_identities_heals_on_the_next_sync(mode, tmp_path: Path, monkeypatch):
    ds = build()
    with EmulatorServer(ds, mode=mode) as server, Store(tmp_path / "old.db") as store:
        sync(store, source(server.url, monkeypatch), ("payments", "ops"))
        healthy = stored(store)
        # What an older version wrote: a member stored under their Jira id, with a version-1 cursor.
        bob = ds.user("bob@example.com")
        split = Pseudonymiser(KEY)("jira:" + (bob.account_id if mode == "cloud" else bob.name))
        good = Pseudonymiser(KEY)("bob@example.com")
        store._db.execute(
            "UPDATE work_items SET assignee = ?, history = REPLACE(history, ?, ?)", (split, good, split)
        )
        cursor = store.cursor("jira")
        assert cursor is not None
        store.apply_batch("jira", [], {**cursor, "v": 1}, 0.0)
        assert stored(store) != healthy
        # An incremental sync an hour later, in a fresh process: every item is read again.
        sync(store, source(server.url, monkeypatch), ("payments", "ops"), now=NOW + timedelta(hours=1))
        assert stored(store) == healthy
