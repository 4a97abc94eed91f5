"""A store held by another writer (one line and exit 2 for commands, a failed source run for serve); durable writes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import KEY, calendar_workdir

import teampulse.store as store_mod
from teampulse import Batch, LeadershipAction
from teampulse.cli import main
from teampulse.collect import collect_all
from teampulse.config import load
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store, StoreLocked

AT = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real wait is 30 s; the tests wait a twentieth of a second for the other writer.
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_SECONDS", 0.05)


class Holder:
    """A second connection, as another process would hold it: a write transaction left open."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.db.execute("ROLLBACK")
        self.db.close()


def action(n: int) -> LeadershipAction:
    return LeadershipAction(id=f"a{n}", team="payments", kind="recorded", at=AT)


def test_a_write_to_a_held_store_waits_then_fails_in_one_line(tmp_path: Path, short_wait: None):
    path = tmp_path / "state.db"
    Store(path).close()
    holder = Holder(path)
    try:
        with Store(path) as store:  # opening and reading need no write lock
            with pytest.raises(StoreLocked, match=r"state\.db: the store is locked by another process"):
                store.add_action(action(1))
            holder.release()
            store.add_action(action(2))  # once the other writer is gone, writes go through
            assert [a.id for a in store.list_actions()] == ["a2"]
    finally:
        holder.db.close()


def test_a_new_store_held_by_another_process_fails_in_one_line(tmp_path: Path, short_wait: None):
    path = tmp_path / "state.db"
    holder = Holder(path)  # creates the file and holds it before any schema exists
    try:
        with pytest.raises(StoreLocked, match="the store is locked by another process"):
            Store(path)
    finally:
        holder.release()


def test_the_busy_timeout_is_set_on_the_connection(tmp_path: Path):
    with Store(tmp_path / "state.db") as store:
        timeout_ms = store._db.execute("PRAGMA busy_timeout").fetchone()[0]
    assert timeout_ms == 30_000


class Writer:
    """A source that yields two batches of actions."""

    def __init__(self) -> None:
        self.runs = 0

    def collect(self, ctx: object) -> Iterator[Batch]:
        self.runs += 1
        yield Batch([action(10)], {"n": 1})
        yield Batch([action(11)], {"n": 2})


def test_a_source_run_into_a_held_store_fails_the_cycle_without_raising(tmp_path: Path, short_wait: None):
    # What a `serve` cycle calls: the report says the sources failed; nothing raises.
    folder = calendar_workdir(tmp_path)
    config = load(str(folder / "teampulse.toml"))
    pseudonym = Pseudonymiser(KEY.encode())
    with Store(config.state) as store:
        store.bind_key(pseudonym.fingerprint)
        holder = Holder(config.state)
        first, second = Writer(), Writer()
        try:
            report = collect_all(config, store, {"one": first, "two": second}, pseudonym, AT)
        finally:
            holder.release()
        assert [(r.source, "locked by another process" in (r.error or "")) for r in report.results] == [
            ("one", True),
            ("two", True),
        ]
        assert second.runs == 0  # the next source does not wait as long again
        # The next cycle, with the store free, collects.
        report = collect_all(config, store, {"one": first}, pseudonym, AT)
        assert not report.failed and store.cursor("one") == {"n": 2}


def test_collect_with_a_held_store_says_so_in_one_line_and_exits_2(tmp_path: Path, short_wait: None):
    folder = calendar_workdir(tmp_path)
    config = str(folder / "teampulse.toml")
    runner = CliRunner()
    first = runner.invoke(main, ["collect", "--config", config, "--quiet"])
    assert first.exit_code in (0, 1), first.stderr
    holder = Holder(folder / "state.db")
    try:
        result = runner.invoke(main, ["collect", "--config", config, "--quiet"])
    finally:
        holder.release()
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("teampulse: error: ")
    assert "state.db: the store is locked by another process" in lines[0]


def test_acknowledged_writes_are_fsynced_before_they_return(tmp_path: Path):
    # synchronous=FULL in WAL mode: a commit (a webhook delivery, an action) survives a power
    # loss, not only a process crash. (2 is FULL; NORMAL, 1, loses the last commits on power loss.)
    with Store(tmp_path / "state.db") as store:
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
