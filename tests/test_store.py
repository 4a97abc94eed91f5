"""The store: idempotent upserts, cursors committed with their events, migrations."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from support import NOW

from teampulse.errors import TeampulseError
from teampulse.model import LeadershipAction, WorkItemRemoved
from teampulse.store import SCHEMA_VERSION, Store


def test_upsert_is_idempotent(tmp_path: Path, items) -> None:
    store = Store(tmp_path / "s.db")
    item = items.make(started=NOW, done=NOW)
    for _ in range(3):
        store.apply_batch("jira", [item], {"n": 1}, 0)
    assert store.counts()["work_items"] == 1
    assert store.counts()["changes"] == 2
    assert store.completed_total("payments", NOW.timestamp()) == 1


def test_cursor_is_committed_with_its_events_or_not_at_all(tmp_path: Path, items) -> None:
    store = Store(tmp_path / "s.db")
    store.apply_batch("jira", [items.make()], {"page": 1}, 0)

    bad = [items.make(), "not an event"]
    with pytest.raises(TypeError):
        store.apply_batch("jira", bad, {"page": 2}, 0)  # type: ignore[list-item]
    assert store.cursor("jira") == {"page": 1}
    assert store.counts()["work_items"] == 1


def test_a_failure_inside_the_transaction_rolls_back(tmp_path: Path, items) -> None:
    store = Store(tmp_path / "s.db")
    broken = dataclasses.replace(items.make(), team=None)  # violates NOT NULL inside the transaction
    with pytest.raises(sqlite3.IntegrityError):
        store.apply_batch("jira", [items.make(), broken], {"page": 9}, 0)
    assert store.cursor("jira") is None
    assert store.counts()["work_items"] == 0


def test_removed_items_disappear_and_may_come_back(tmp_path: Path, items) -> None:
    store = Store(tmp_path / "s.db")
    item = items.make()
    store.apply_batch("jira", [item], None, 0)
    store.apply_batch("jira", [WorkItemRemoved(item.id, item.team, NOW)], None, 0)
    assert store.team_items("payments", 0, NOW.timestamp()) == []
    store.apply_batch("jira", [item], None, 0)
    assert len(store.team_items("payments", 0, NOW.timestamp())) == 1


def test_schema_version_and_newer_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    assert Store(path).schema_version() == SCHEMA_VERSION
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(TeampulseError, match="newer"):
        Store(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_text("hello, this is not sqlite" * 100)
    with pytest.raises(TeampulseError, match="not a usable teampulse store"):
        Store(path)


def test_actions_and_prune(tmp_path: Path, items) -> None:
    store = Store(tmp_path / "s.db")
    store.add_action(LeadershipAction("a1", "payments", "one_on_one", NOW))
    store.add_action(LeadershipAction("a1", "payments", "one_on_one", NOW))
    assert [kind for kind, _at, _p in store.actions("payments", 0, NOW.timestamp())] == ["one_on_one"]
    old = items.make(started=NOW.replace(year=2024), done=NOW.replace(year=2024))
    store.apply_batch("jira", [old, items.make()], None, 0)
    removed = store.prune(NOW.replace(year=2025).timestamp())
    assert removed == 1  # the old item, its history with it
    assert store.counts()["work_items"] == 1


def test_a_version_1_store_is_migrated(tmp_path: Path) -> None:
    from support import NOW

    from teampulse.model import PersonSignal
    from teampulse.store import MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    db.execute("COMMIT")
    db.execute("INSERT INTO signals VALUES ('ics', 'old', 'time_off', 'p_1', NULL, 0, 1, NULL)")
    db.execute(
        "INSERT INTO work_items (source, team, id, key, created, updated, status) "
        "VALUES ('jira', 'payments', '1', 'PAY-1', 0, 20, 'done')"
    )
    db.execute("INSERT INTO changes VALUES ('jira', '1', 'b', 20, 'status', 'indeterminate', 'done', 'p_9')")
    db.execute("INSERT INTO changes VALUES ('jira', '1', 'a', 10, 'status', 'new', 'indeterminate', 'p_9')")
    db.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION == 8
    # version 8 indexes who each stored signal is about
    assert [r.id for r in store.people_signals(["time_off"], ["p_1"])["time_off"]] == ["old"]
    store.bind_key("f1")  # a store from before fingerprints adopts its first key
    assert store.meta("pseudonym_key_fingerprint") == "f1"
    meeting = PersonSignal("m", "meeting", NOW, NOW, people=("p_1", "p_2"))
    store.apply_batch("ics", [meeting], None, 0)
    assert [r.people for r in store.signals("meeting", 0, NOW.timestamp() + 1)] == [("p_1", "p_2")]
    assert [r.id for r in store.signals("time_off", 0, 1)] == ["old"]
    rows = store.team_items("payments", 0, 100)
    history = store.item_changes(rows)[("jira", "1")]
    assert [(c.at, c.to_value, c.author) for c in history] == [
        (10, "indeterminate", None),
        (20, "done", None),
    ]
    assert store.counts()["changes"] == 2


def test_failing_since_survives_retries(tmp_path: Path) -> None:
    from datetime import timedelta

    from support import basic_config_text

    from teampulse import config
    from teampulse.alerts import source_alerts

    path = tmp_path / "t.toml"
    # the one source of this config is jira (in place of the basic config's calendars)
    path.write_text(basic_config_text().split("[sources.")[0] + '[sources.jira]\nplugin = "jira"\n')
    cfg = config.load(path)
    store = Store(tmp_path / "s.db")
    start = NOW.timestamp()
    for minutes in range(0, 70, 10):  # a source that never worked, retried every 10 minutes
        store.record_run("jira", start + minutes * 60, start + minutes * 60 + 1, "refused", 0)
    [run] = store.source_runs()
    assert run.failing_since == start and run.consecutive_failures == 7
    [alert] = source_alerts(cfg, store.source_runs(), NOW + timedelta(minutes=61))
    assert alert.firing and alert.since is not None
    [early] = source_alerts(cfg, store.source_runs(), NOW + timedelta(minutes=59))
    assert not early.firing
    store.record_run("jira", start + 4000, start + 4001, None, 3)
    assert store.source_runs()[0].failing_since is None


def test_a_re_read_calendar_replaces_what_it_said(tmp_path: Path) -> None:
    from datetime import timedelta

    from teampulse.model import PersonSignal, SignalsReplaced

    store = Store(tmp_path / "s.db")
    window = SignalsReplaced(
        "p_bob", ("meeting", "time_off"), NOW - timedelta(days=30), NOW + timedelta(days=14)
    )
    sync = PersonSignal("sync", "meeting", NOW, NOW + timedelta(hours=1), people=("p_bob",), owner="p_bob")
    shared = PersonSignal(
        "shared", "meeting", NOW, NOW + timedelta(hours=1), people=("p_bob", "p_eve"), owner="p_eve"
    )
    store.apply_batch("ics", [sync, shared], None, 0)
    # bob's calendar again, the sync cancelled: it goes; what eve's calendar said stays
    store.apply_batch("ics", [window], None, 0)
    assert [r.id for r in store.signals("meeting", 0, NOW.timestamp() + 86400)] == ["shared"]
    # another source's rows are never touched
    store.apply_batch("caldav", [sync], None, 0)
    store.apply_batch("ics", [window], None, 0)
    assert sorted(r.id for r in store.signals("meeting", 0, NOW.timestamp() + 86400)) == ["shared", "sync"]


def test_a_calendar_read_whole_records_from_when_it_covers(tmp_path: Path) -> None:
    from datetime import timedelta

    from teampulse.model import SignalsReplaced

    store = Store(tmp_path / "s.db")
    assert store.coverage("meeting") == {}
    first = SignalsReplaced("p_1", ("meeting", "time_off"), NOW - timedelta(days=130), NOW)
    later = SignalsReplaced("p_1", ("meeting", "time_off"), NOW - timedelta(days=35), NOW + timedelta(days=1))
    store.apply_batch("ics", [first], None, 0)
    store.apply_batch("ics", [later], None, 0)  # a later, shorter read does not shrink what is covered
    assert store.coverage("meeting") == {"p_1": (NOW - timedelta(days=130)).timestamp()}
    assert store.coverage("survey_response") == {}


def test_first_created_is_where_a_team_history_begins(tmp_path: Path, items) -> None:
    store = Store(tmp_path / "s.db")
    assert store.first_created() == {}
    early = items.make(created=NOW.replace(year=2025))
    store.apply_batch("jira", [early, items.make()], None, 0)
    assert store.first_created() == {"payments": NOW.replace(year=2025).timestamp()}
