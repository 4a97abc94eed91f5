"""The SQLite store: events upserted by (source, id) with each source's cursor, atomically."""

from __future__ import annotations

import hmac
import itertools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from .errors import TeampulseError
from .model import (
    Event,
    LeadershipAction,
    PersonSignal,
    SignalsReplaced,
    StatusCategory,
    WorkItem,
    WorkItemRemoved,
    WorkItemsCovered,
)

SCHEMA_VERSION = 8
# How long a write waits for another process's write transaction before giving up. A sync's
# batches commit in milliseconds, so a store held for longer is held by something else (a
# second `serve`, a `collect` beside it, a backup tool): say so instead of failing at once.
BUSY_TIMEOUT_SECONDS = 30.0
# FULL: every commit fsyncs the write-ahead log before it returns, so what the store
# acknowledged (a webhook delivery answered 202, an action answered 201, a sync batch with its
# cursor) survives a power loss or an OS crash, not only a process crash (NORMAL's promise in
# WAL mode). It costs one fsync per commit; a sync commits once per page of 100 issues.
SYNCHRONOUS = "FULL"
_BY_TIME = itemgetter(1, 0)


def _script(db: sqlite3.Connection, script: str) -> None:
    # executescript() would commit the migration's transaction half-way.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE work_items (
            source TEXT NOT NULL, team TEXT NOT NULL, id TEXT NOT NULL,
            key TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
            status TEXT NOT NULL, due TEXT, assignee TEXT, sprints TEXT,
            started_at REAL, done_at REAL, removed_at REAL,
            PRIMARY KEY (source, team, id)
        );
        CREATE INDEX work_items_team ON work_items (team, done_at);
        CREATE TABLE changes (
            source TEXT NOT NULL, item_id TEXT NOT NULL, id TEXT NOT NULL,
            at REAL NOT NULL, field TEXT NOT NULL, from_value TEXT, to_value TEXT, author TEXT,
            PRIMARY KEY (source, item_id, id)
        );
        CREATE TABLE signals (
            source TEXT NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL,
            person TEXT, team TEXT, start REAL NOT NULL, end REAL NOT NULL, attrs TEXT,
            PRIMARY KEY (source, id)
        );
        CREATE INDEX signals_time ON signals (kind, start);
        CREATE TABLE actions (
            source TEXT NOT NULL, id TEXT NOT NULL, team TEXT NOT NULL, kind TEXT NOT NULL,
            at REAL NOT NULL, person TEXT, note TEXT,
            PRIMARY KEY (source, id)
        );
        CREATE INDEX actions_team ON actions (team, at);
        CREATE TABLE cursors (source TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated REAL NOT NULL);
        CREATE TABLE source_runs (
            source TEXT PRIMARY KEY, last_attempt REAL, last_success REAL, last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0, errors_total INTEGER NOT NULL DEFAULT 0,
            duration REAL, events_total INTEGER NOT NULL DEFAULT 0
        );
        """,
    )


def _v2(db: sqlite3.Connection) -> None:
    # Meetings carry their attendees (pseudonyms) so one row serves every calendar that shows it.
    db.execute("ALTER TABLE signals ADD COLUMN people TEXT")
    db.execute("ALTER TABLE source_runs ADD COLUMN problems INTEGER NOT NULL DEFAULT 0")


def _v3(db: sqlite3.Connection) -> None:
    # A work item's history moves into its row as one JSON array: the source sends the full
    # history with every item anyway, and one row per change cost a third of a sync's CPU.
    db.execute("ALTER TABLE work_items ADD COLUMN history TEXT")
    db.execute(
        """UPDATE work_items SET history = (
               SELECT json_group_array(json_array(c.id, c.at, c.field, c.from_value, c.to_value))
               FROM (SELECT * FROM changes c WHERE c.source = work_items.source AND c.item_id = work_items.id
                     ORDER BY c.at, c.id) c)"""
    )
    db.execute("DROP TABLE changes")


def _v4(db: sqlite3.Connection) -> None:
    # When the current run of failures began: retries must not restart the TeampulseSourceDown clock.
    db.execute("ALTER TABLE source_runs ADD COLUMN failing_since REAL")
    db.execute(
        "UPDATE source_runs SET failing_since = COALESCE(last_success, last_attempt) WHERE consecutive_failures > 0"
    )


def _v5(db: sqlite3.Connection) -> None:
    # Whose calendar a signal came from, so a re-read calendar can replace what it said before.
    db.execute("ALTER TABLE signals ADD COLUMN owner TEXT")
    db.execute("CREATE INDEX signals_owner ON signals (source, owner, kind, start)")


def _v6(db: sqlite3.Connection) -> None:
    # From when each calendar has data: before that, the people side is unknown, not empty.
    db.execute(
        """CREATE TABLE coverage (
               source TEXT NOT NULL, owner TEXT NOT NULL, kind TEXT NOT NULL, start REAL NOT NULL,
               PRIMARY KEY (source, owner, kind))"""
    )
    # A store from before coverage was recorded has data from its earliest stored signal on.
    db.execute(
        """INSERT INTO coverage (source, owner, kind, start)
           SELECT source, owner, kind, MIN(start) FROM signals
           WHERE owner IS NOT NULL AND kind IN ('meeting', 'time_off') GROUP BY source, owner, kind"""
    )


def _v7(db: sqlite3.Connection) -> None:
    # Facts about the store itself; first the fingerprint of the key its pseudonyms were made with.
    db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _v8(db: sqlite3.Connection) -> None:
    # What each write changed, in commit order, so the engine re-reads only what a cycle touched:
    # a work item (team, source, item), a team's actions or team-wide signals (team), a person's
    # signals (person); a row with none of them says everything changed.
    db.execute(
        """CREATE TABLE changelog (
               seq INTEGER PRIMARY KEY AUTOINCREMENT, team TEXT, person TEXT, source TEXT, item TEXT)"""
    )
    # Who each signal is about (its person and its people), so one team's signals are read by
    # its people instead of scanning every team's.
    db.execute(
        """CREATE TABLE signal_people (
               person TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL,
               PRIMARY KEY (person, source, id)) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX signal_people_signal ON signal_people (source, id)")
    db.execute(
        """INSERT OR IGNORE INTO signal_people (person, source, id)
           SELECT person, source, id FROM signals WHERE person IS NOT NULL"""
    )
    db.execute(
        """INSERT OR IGNORE INTO signal_people (person, source, id)
           SELECT j.value, s.source, s.id FROM signals s, json_each(s.people) j WHERE s.people IS NOT NULL"""
    )
    db.execute("CREATE INDEX signals_team ON signals (team) WHERE team IS NOT NULL")
    db.execute("CREATE INDEX signals_id ON signals (id)")  # every source's row of one id


# Migrations in order; MIGRATIONS[n] takes a store from version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8]

KEY_FINGERPRINT = "pseudonym_key_fingerprint"
# What a new key cannot re-pseudonymise: every row a source wrote (ids and people are keyed
# hashes of what the source said) and every cursor, so the sources read it all again.
_SOURCE_TABLES = ("work_items", "signals", "coverage", "cursors")


class KeyMismatch(TeampulseError):
    """The pseudonym key is not the one the store was written with."""


@dataclass(frozen=True)
class ActionRow:
    """A stored leadership action, as `action list` shows it."""

    id: str
    source: str
    team: str
    kind: str
    at: float
    note: str | None

    @property
    def removable(self) -> bool:
        """Whether `action remove` may delete it (a source's actions come back with the source)."""
        return self.source in ("recorded", "api")


@dataclass(frozen=True)
class ItemRow:
    """A stored work item, as the engine reads it."""

    source: str
    id: str
    created: float
    status: str
    due: str | None
    assignee: str | None
    sprints: list[dict[str, Any]]
    started_at: float | None
    done_at: float | None
    history: str | None = None  # JSON: [[change id, at, field, from, to], ...] oldest first


@dataclass(frozen=True)
class ChangeRow:
    """A stored change."""

    item_id: str
    at: float
    field: str
    from_value: str | None
    to_value: str | None
    author: str | None


@dataclass(frozen=True)
class SignalRow:
    """A stored people signal."""

    id: str
    person: str | None
    team: str | None
    start: float
    end: float
    attrs: dict[str, Any]
    people: tuple[str, ...]


@dataclass(frozen=True)
class SourceRun:
    """A source's health as last recorded."""

    source: str
    last_attempt: float | None
    last_success: float | None
    last_error: str | None
    consecutive_failures: int
    errors_total: int
    duration: float | None
    events_total: int
    problems: int = 0
    failing_since: float | None = None


def _epoch(value: Any) -> float:
    return float(value.timestamp())


def _item_times(item: WorkItem, entries: list[list[Any]]) -> tuple[float | None, float | None]:
    """Return (first move to in progress, last move to done) from the time-sorted history."""
    started: float | None = None
    done: float | None = None
    for _id, at, fld, _from, to in entries:
        if fld == "status":
            if to == StatusCategory.IN_PROGRESS and started is None:
                started = at
            elif to == StatusCategory.DONE:
                done = at
    if item.status_category != StatusCategory.DONE:
        done = None
    elif done is None:
        # Created done or history lost: the last update is the best estimate.
        done = _epoch(item.updated)
    return started, done


# How far the change log reaches back: a reader further behind reads everything again.
CHANGELOG_KEEP = 100_000
_TRIMMED = "changelog_trimmed"
_ITEM_COLUMNS = (
    "source, team, id, key, created, updated, status, due, assignee, sprints, started_at, done_at, history"
)
_SIGNAL_COLUMNS = "source, id, kind, person, team, start, end, attrs, people, owner"
_CHUNK = 500  # keys per IN (...) query
# (source, team, id) keys per VALUES table: three variables each, under the 999 variables of
# SQLite builds before 3.32.
_KEY_CHUNK = 300
_ITEM_COLUMNS_OF_W = ", ".join(f"w.{column.strip()}" for column in _ITEM_COLUMNS.split(","))
_MOMENT_TYPES = (datetime, type(None))


@dataclass(frozen=True)
class StoreChanges:
    """What the store's writers changed after a point of its change log."""

    seq: int  # the last change read: pass it to the next changes_since
    everything: bool  # the log does not reach back that far (or a rekey): read everything again
    teams: frozenset[str]  # teams whose actions or team-wide signals changed
    persons: frozenset[str]  # people (pseudonyms) whose signals changed
    items: frozenset[tuple[str, str, str]]  # (team, source, id) of work items written or removed


class _Changes:
    """The changes of one write transaction, logged once each when it commits."""

    def __init__(self) -> None:
        self.rows: set[tuple[str | None, str | None, str | None, str | None]] = set()

    def item(self, team: str, source: str, ident: str) -> None:
        self.rows.add((team, None, source, ident))

    def items(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Log work item rows (_ITEM_COLUMNS: source, team, id first) as item() does each."""
        self.rows.update([(row[1], None, row[0], row[2]) for row in rows])

    def team(self, team: str | None) -> None:
        if team is not None:
            self.rows.add((team, None, None, None))

    def signal(self, row: Sequence[Any]) -> None:
        """Log a signal row as _SIGNAL_COLUMNS orders it: its people and its team."""
        self.team(row[4])
        for person in _signal_persons(row):
            self.rows.add((None, person, None, None))

    def everything(self) -> None:
        self.rows.add((None, None, None, None))

    def write(self, db: sqlite3.Connection) -> None:
        rows: list[tuple[str | None, ...]] = sorted(self.rows, key=_sort_key)
        db.executemany("INSERT INTO changelog (team, person, source, item) VALUES (?, ?, ?, ?)", rows)


def _cursor_text(cursor: Mapping[str, Any]) -> str:
    """Return a cursor as stored: JSON, keys sorted, that reads back as the same cursor.

    A sync commits its whole cursor with every page, and a source's cursor may carry every id
    it holds (hundreds of KiB): json.dumps takes a millisecond for that, orjson a fiftieth.
    Where orjson's JSON would not read back equal (NaN, tuples, keys that are not strings,
    integers past 64 bits, a mapping that is not a dict), json writes it, as it always did.
    """
    try:
        text = orjson.dumps(cursor, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError: what only json can write, or cannot be written
        return json.dumps(cursor, sort_keys=True)
    if orjson.loads(text) != cursor:
        return json.dumps(cursor, sort_keys=True)
    return text.decode()


def _sprints_json(sprints: tuple[Any, ...], memo: dict[tuple[Any, ...], str]) -> str:
    """Return a work item's sprints as stored (JSON), each distinct tuple of sprints made once."""
    # Only sprints of the model's types share a text: equal values of other types (True and 1)
    # need not store alike.
    if not all(type(s.id) is str and type(s.state) is str and _plain_moment(s) for s in sprints):
        return _sprints_text(sprints)
    text = memo.get(sprints)
    if text is None:
        text = memo[sprints] = _sprints_text(sprints)
    return text


def _plain_moment(sprint: Any) -> bool:
    return type(sprint.start) in _MOMENT_TYPES and type(sprint.end) in _MOMENT_TYPES


def _sprints_text(sprints: tuple[Any, ...]) -> str:
    return orjson.dumps(
        [
            {
                "id": s.id,
                "state": s.state,
                "start": s.start.timestamp() if s.start else None,
                "end": s.end.timestamp() if s.end else None,
            }
            for s in sprints
        ]
    ).decode()


def _sort_key(row: tuple[str | None, ...]) -> tuple[str, ...]:
    # Unpacked, not a generator: a sync's batch logs every item it wrote.
    team, person, source, item = row
    return (team or "", person or "", source or "", item or "")


def _signal_persons(row: Sequence[Any]) -> set[str]:
    """Return who a signal row (_SIGNAL_COLUMNS) is about: its person and its people."""
    persons = {str(p) for p in orjson.loads(row[8])} if row[8] else set()
    if row[3] is not None:
        persons.add(row[3])
    return persons


def _chunks(keys: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


def _write_items(db: sqlite3.Connection, items: Sequence[tuple[Any, ...]], log: _Changes) -> None:
    """Upsert work items; an item whose row would not change is not written and not logged."""
    latest: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    for row in items:
        latest[(row[0], row[1], row[2])] = row  # the last of a batch wins, as in order
    stored: dict[tuple[str, str, str], tuple[Any, ...]] = {}
    keys = list(latest)
    # One query for the whole batch, whatever teams it spans (a combined search's page holds
    # items of many): the keys as a VALUES table, each looked up by the primary key. CROSS JOIN
    # keeps VALUES the outer loop; (source, team, id) IN (VALUES ...) would scan the table.
    for start in range(0, len(keys), _KEY_CHUNK):
        chunk = keys[start : start + _KEY_CHUNK]
        marks = ", ".join("(?, ?, ?)" for _ in chunk)
        for row in db.execute(
            f"""SELECT {_ITEM_COLUMNS_OF_W}, w.removed_at FROM (VALUES {marks}) AS k
                CROSS JOIN work_items AS w ON w.source = k.column1 AND w.team = k.column2 AND w.id = k.column3""",
            [part for key in chunk for part in key],
        ):
            stored[(row[0], row[1], row[2])] = tuple(row)
    changed = [row for key, row in latest.items() if stored.get(key) != (*row, None)]
    db.executemany(
        f"""INSERT INTO work_items ({_ITEM_COLUMNS}, removed_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
            ON CONFLICT (source, team, id) DO UPDATE SET key=excluded.key,
                created=excluded.created, updated=excluded.updated, status=excluded.status,
                due=excluded.due, assignee=excluded.assignee, sprints=excluded.sprints,
                started_at=excluded.started_at, done_at=excluded.done_at,
                history=excluded.history, removed_at=NULL""",
        changed,
    )
    log.items(changed)


def _stored_signals(
    db: sqlite3.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[Any, ...]]:
    by_source: dict[str, list[str]] = {}
    for source, ident in keys:
        by_source.setdefault(source, []).append(ident)
    found: dict[tuple[str, str], tuple[Any, ...]] = {}
    for source, idents in by_source.items():
        for chunk in _chunks(idents):
            marks = ", ".join("?" for _ in chunk)
            for row in db.execute(
                f"SELECT {_SIGNAL_COLUMNS} FROM signals WHERE source = ? AND id IN ({marks})",
                (source, *chunk),
            ):
                found[(row[0], row[1])] = tuple(row)
    return found


def _write_signals(
    db: sqlite3.Connection,
    signals: Sequence[tuple[Any, ...]],
    replaced: Sequence[tuple[Any, ...]],
    log: _Changes,
) -> None:
    """Drop what re-read windows no longer say, then upsert the signals that changed.

    The same rows as deleting each window and inserting the batch, but a signal said again
    unchanged is neither rewritten nor logged: a calendar read whole every cycle changes nothing.
    """
    doomed: dict[tuple[str, str], tuple[Any, ...]] = {}
    for window in replaced:
        for row in db.execute(
            f"""SELECT {_SIGNAL_COLUMNS} FROM signals
                WHERE source = ? AND owner = ? AND kind = ? AND start >= ? AND start <= ?""",
            window,
        ):
            doomed[(row[0], row[1])] = tuple(row)
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in signals:
        latest[(row[0], row[1])] = row
    stored = _stored_signals(db, [key for key in latest if key not in doomed])
    stored.update(doomed)
    gone = [key for key in doomed if key not in latest]
    changed = [row for key, row in latest.items() if stored.get(key) != row]
    # Whose calendar said it (the owner) is not logged: a meeting two calendars show, read from
    # each in turn, changes owner every cycle and nothing else. (Only a plugin's events carry
    # it to the engine, and those are read again every evaluation.)
    shown = [row for row in changed if (stored.get((row[0], row[1])) or ())[:9] != row[:9]]
    for key in gone:
        log.signal(doomed[key])
    # Another source's row of the same id may be the one that counts (or stop being): its
    # people's data changed too.
    touched = {*gone, *((row[0], row[1]) for row in shown)}
    for chunk in _chunks(sorted({ident for _source, ident in touched})):
        marks = ", ".join("?" for _ in chunk)
        for row in db.execute(f"SELECT {_SIGNAL_COLUMNS} FROM signals WHERE id IN ({marks})", tuple(chunk)):
            if (row[0], row[1]) not in touched:
                log.signal(row)
    db.executemany("DELETE FROM signals WHERE source = ? AND id = ?", gone)
    db.executemany("DELETE FROM signal_people WHERE source = ? AND id = ?", gone)
    db.executemany(
        f"INSERT OR REPLACE INTO signals ({_SIGNAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", changed
    )
    db.executemany("DELETE FROM signal_people WHERE source = ? AND id = ?", [row[:2] for row in changed])
    db.executemany(
        "INSERT OR IGNORE INTO signal_people (person, source, id) VALUES (?, ?, ?)",
        [(person, row[0], row[1]) for row in changed for person in _signal_persons(row)],
    )
    for row in shown:
        log.signal(row)
        old = stored.get((row[0], row[1]))
        if old is not None:
            log.signal(old)


def _write_actions(db: sqlite3.Connection, actions: Sequence[tuple[Any, ...]], log: _Changes) -> None:
    latest = {(row[0], row[1]): row for row in actions}
    changed = []
    for key, row in latest.items():
        old = db.execute("SELECT * FROM actions WHERE source = ? AND id = ?", key).fetchone()
        if old is None or tuple(old) != row:
            changed.append(row)
            log.team(row[2])
            if old is not None:
                log.team(old[2])
    db.executemany("INSERT OR REPLACE INTO actions VALUES (?, ?, ?, ?, ?, ?, ?)", changed)


def _trim_changelog(db: sqlite3.Connection, keep: int) -> None:
    """Forget all but the last `keep` changes, remembering how far the log was cut."""
    last = db.execute("SELECT MAX(seq) FROM changelog").fetchone()[0]
    if last is not None and last > keep:
        cut = int(last) - keep
        if db.execute("DELETE FROM changelog WHERE seq <= ?", (cut,)).rowcount:
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (_TRIMMED, str(cut)))


def _person_signal(r: Sequence[Any]) -> PersonSignal:
    """Return a PersonSignal from (id, kind, start, end, person, team, attrs, people, owner)."""
    return PersonSignal(
        id=r[0],
        kind=r[1],
        start=datetime.fromtimestamp(r[2], UTC),
        end=datetime.fromtimestamp(r[3], UTC),
        person=r[4],
        team=r[5],
        attrs=MappingProxyType(json.loads(r[6]) if r[6] else {}),
        people=tuple(json.loads(r[7] or "[]")),
        owner=r[8],
    )


class StoreLocked(TeampulseError):
    """Another process held the store's write lock for longer than BUSY_TIMEOUT_SECONDS."""


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "database is locked" in text or "database is busy" in text


class Store:
    """One SQLite file; safe to share between the collector and the web threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise self._locked() from None
            raise TeampulseError(f"{path}: not a usable teampulse store: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise TeampulseError(f"{path}: not a usable teampulse store: {exc}") from None

    def _locked(self) -> StoreLocked:
        return StoreLocked(
            f"{self.path}: the store is locked by another process (waited {BUSY_TIMEOUT_SECONDS:g} s "
            "for its write to end): is a second teampulse writing to the same state file?"
        )

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one write transaction."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    raise self._locked() from None
                raise
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise TeampulseError(
                f"{self.path}: store schema {version} is newer than this teampulse ({SCHEMA_VERSION})"
            )
        while version < SCHEMA_VERSION:
            with self.transaction() as db:
                MIGRATIONS[version](db)
                version += 1
                db.execute(f"PRAGMA user_version = {version}")

    def schema_version(self) -> int:
        """Return the schema version of the file."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- the store itself --------------------------------------------------------------

    def meta(self, name: str) -> str | None:
        """Return a fact about the store (None when unset)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def bind_key(self, fingerprint: str) -> None:
        """Record the key's fingerprint on first use; refuse a store written with another key."""
        # Read first: a bound store needs no write lock (so a busy store fails a cycle's writes,
        # reported per source, rather than this check).
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (KEY_FINGERPRINT,)).fetchone()
        if row is None:
            with self.transaction() as db:
                row = db.execute("SELECT value FROM meta WHERE name = ?", (KEY_FINGERPRINT,)).fetchone()
                if row is None:
                    # A new store, or one from before fingerprints: its first key is its key.
                    db.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (KEY_FINGERPRINT, fingerprint))
                    return
        if not hmac.compare_digest(str(row[0]), fingerprint):
            raise KeyMismatch(
                f"{self.path}: TEAMPULSE_PSEUDONYM_KEY is not the key this store was written with "
                f"(store key {row[0]}, given {fingerprint}): every person and event would be "
                "counted again under new pseudonyms. Use the store's key, or change keys with "
                "`teampulse rekey`"
            )

    def backup(self, target: Path) -> None:
        """Copy the store, consistently, to `target` (replacing it)."""
        tmp = target.with_name(target.name + ".tmp")
        tmp.unlink(missing_ok=True)
        with self._lock:
            copy = sqlite3.connect(str(tmp))
            try:
                self._db.backup(copy)
            finally:
                copy.close()
        tmp.replace(target)

    def rekey(self, fingerprint: str) -> dict[str, int]:
        """Start over under a new key: drop what the sources wrote, keep actions recorded by hand.

        Return how many rows went per table. All or nothing.
        """
        gone: dict[str, int] = {}
        with self.transaction() as db:
            for table in _SOURCE_TABLES:
                gone[table] = db.execute(f"DELETE FROM {table}").rowcount
            # A source's actions come back with the source; those recorded by hand (by the CLI
            # or the API, with no person) hold nothing keyed and stay.
            gone["actions"] = db.execute(
                "DELETE FROM actions WHERE source NOT IN ('recorded', 'api')"
            ).rowcount
            db.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (KEY_FINGERPRINT, fingerprint)
            )
            db.execute("DELETE FROM signal_people")
            log = _Changes()
            log.everything()
            log.write(db)
        return gone

    # -- writing -------------------------------------------------------------------------

    def apply_batch(
        self, source: str, events: Sequence[Event], cursor: Mapping[str, Any] | None, now: float
    ) -> None:
        """Store events and the cursor that follows them in one transaction."""
        items: list[tuple[Any, ...]] = []
        removed: list[tuple[Any, ...]] = []
        signals: list[tuple[Any, ...]] = []
        replaced: list[tuple[Any, ...]] = []
        actions: list[tuple[Any, ...]] = []
        covered: list[tuple[Any, ...]] = []
        sprint_memo: dict[tuple[Any, ...], str] = {}  # a page's items share a few sprints
        for ev in events:
            if isinstance(ev, WorkItem):
                sprints = _sprints_json(ev.sprints, sprint_memo) if ev.sprints else None
                # Authors are not kept: no metric needs them (privacy by construction).
                entries = [[c.id, c.at.timestamp(), c.field, c.from_value, c.to_value] for c in ev.changes]
                entries.sort(key=_BY_TIME)
                history = orjson.dumps(entries).decode() if entries else None
                started, done = _item_times(ev, entries)
                items.append(
                    (
                        source,
                        ev.team,
                        ev.id,
                        ev.key,
                        _epoch(ev.created),
                        _epoch(ev.updated),
                        str(ev.status_category),
                        ev.due.isoformat() if ev.due else None,
                        ev.assignee,
                        sprints,
                        started,
                        done,
                        history,
                    )
                )
            elif isinstance(ev, WorkItemRemoved):
                removed.append((_epoch(ev.at), source, ev.team, ev.id))
            elif isinstance(ev, PersonSignal):
                signals.append(
                    (
                        source,
                        ev.id,
                        ev.kind,
                        ev.person,
                        ev.team,
                        _epoch(ev.start),
                        _epoch(ev.end),
                        json.dumps(dict(ev.attrs), sort_keys=True) if ev.attrs else None,
                        json.dumps(list(ev.people)) if ev.people else None,
                        ev.owner,
                    )
                )
            elif isinstance(ev, SignalsReplaced):
                for kind in ev.kinds:
                    replaced.append((source, ev.owner, kind, _epoch(ev.start), _epoch(ev.end)))
            elif isinstance(ev, LeadershipAction):
                actions.append((source, ev.id, ev.team, ev.kind, _epoch(ev.at), ev.person, ev.note))
            elif isinstance(ev, WorkItemsCovered):
                covered.append((source, ev.team, "work_items", _epoch(ev.start)))
            else:
                raise TypeError(f"not an event: {type(ev).__name__}")
        with self.transaction() as db:
            log = _Changes()
            _write_items(db, items, log)
            for row in removed:
                if db.execute(
                    "UPDATE work_items SET removed_at = ? WHERE source = ? AND team = ? AND id = ?", row
                ).rowcount:
                    log.item(row[2], row[1], row[3])
            _write_signals(db, signals, replaced, log)
            # A window read whole is covered: keep the earliest start each owner's data reaches.
            db.executemany(
                """INSERT INTO coverage (source, owner, kind, start) VALUES (?, ?, ?, ?)
                   ON CONFLICT (source, owner, kind) DO UPDATE SET start = MIN(start, excluded.start)""",
                [row[:4] for row in replaced] + covered,
            )
            _write_actions(db, actions, log)
            if cursor is not None:
                db.execute(
                    "INSERT OR REPLACE INTO cursors VALUES (?, ?, ?)", (source, _cursor_text(cursor), now)
                )
            log.write(db)

    def cursor(self, source: str) -> dict[str, Any] | None:
        """Return the last committed cursor of a source."""
        with self._lock:
            row = self._db.execute("SELECT cursor FROM cursors WHERE source = ?", (source,)).fetchone()
        return json.loads(row[0]) if row else None

    def record_run(
        self, source: str, started: float, finished: float, error: str | None, events: int, problems: int = 0
    ) -> None:
        """Record the outcome of one collection of a source."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO source_runs (source) VALUES (?)", (source,))
            if error is None:
                db.execute(
                    """UPDATE source_runs SET last_attempt=?, last_success=?, last_error=NULL,
                       consecutive_failures=0, duration=?, events_total=events_total+?, problems=?,
                       failing_since=NULL WHERE source=?""",
                    (started, finished, finished - started, events, problems, source),
                )
            else:
                db.execute(
                    """UPDATE source_runs SET last_attempt=?, last_error=?,
                       consecutive_failures=consecutive_failures+1, errors_total=errors_total+1,
                       duration=?, events_total=events_total+?, problems=?,
                       failing_since=COALESCE(failing_since, ?) WHERE source=?""",
                    (started, error, finished - started, events, problems, started, source),
                )

    def source_runs(self) -> list[SourceRun]:
        """Return every source's recorded health."""
        with self._lock:
            rows = self._db.execute(
                """SELECT source, last_attempt, last_success, last_error, consecutive_failures,
                   errors_total, duration, events_total, problems, failing_since
                   FROM source_runs ORDER BY source"""
            ).fetchall()
        return [SourceRun(*row) for row in rows]

    def add_action(self, action: LeadershipAction, source: str = "recorded") -> None:
        """Store one leadership action (idempotent by id)."""
        self.apply_batch(source, [action], None, 0.0)

    def remove_action(self, ident: str) -> bool:
        """Delete an action recorded by hand or through the API; return whether one went."""
        with self.transaction() as db:
            log = _Changes()
            for (team,) in db.execute(
                "SELECT team FROM actions WHERE id = ? AND source IN ('recorded', 'api')", (ident,)
            ).fetchall():
                log.team(team)
            n = db.execute(
                "DELETE FROM actions WHERE id = ? AND source IN ('recorded', 'api')", (ident,)
            ).rowcount
            log.write(db)
        return n > 0

    def prune(self, before: float) -> int:
        """Delete events older than `before`; return how many rows went."""
        with self.transaction() as db:
            log = _Changes()
            for row in db.execute(f"SELECT {_SIGNAL_COLUMNS} FROM signals WHERE end < ?", (before,)):
                log.signal(row)
            db.execute(
                """DELETE FROM signal_people WHERE (source, id) IN
                   (SELECT source, id FROM signals WHERE end < ?)""",
                (before,),
            )
            n = db.execute("DELETE FROM signals WHERE end < ?", (before,)).rowcount
            for (team,) in db.execute("SELECT DISTINCT team FROM actions WHERE at < ?", (before,)):
                log.team(team)
            n += db.execute("DELETE FROM actions WHERE at < ?", (before,)).rowcount
            gone = "done_at < ? OR removed_at < ?"
            for team, source, ident in db.execute(
                f"SELECT team, source, id FROM work_items WHERE {gone}", (before, before)
            ):
                log.item(team, source, ident)
            n += db.execute(f"DELETE FROM work_items WHERE {gone}", (before, before)).rowcount
            log.write(db)
            _trim_changelog(db, CHANGELOG_KEEP)
        return n

    # -- reading -------------------------------------------------------------------------

    def team_items(self, team: str, since: float, until: float) -> list[ItemRow]:
        """Return a team's items that existed by `until` and were not done before `since`."""
        with self._lock:
            rows = self._db.execute(
                """SELECT source, id, created, status, due, assignee, sprints, started_at, done_at, history
                   FROM work_items WHERE team = ? AND removed_at IS NULL AND created <= ?
                   AND (done_at IS NULL OR done_at >= ?)""",
                (team, until, since),
            ).fetchall()
        return [
            ItemRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else [], r[7], r[8], r[9])
            for r in rows
        ]

    def team_items_by_id(self, team: str, keys: Iterable[tuple[str, str]]) -> list[ItemRow]:
        """Return these (source, id) of a team's items as team_items would (not the removed ones)."""
        by_source: dict[str, list[str]] = {}
        for source, ident in keys:
            by_source.setdefault(source, []).append(ident)
        rows = []
        with self._lock:
            for source, idents in sorted(by_source.items()):
                for chunk in _chunks(sorted(idents)):
                    marks = ", ".join("?" for _ in chunk)
                    rows += self._db.execute(
                        f"""SELECT source, id, created, status, due, assignee, sprints, started_at, done_at,
                                   history
                            FROM work_items WHERE team = ? AND source = ? AND removed_at IS NULL
                            AND id IN ({marks})""",
                        (team, source, *chunk),
                    ).fetchall()
        return [
            ItemRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else [], r[7], r[8], r[9])
            for r in rows
        ]

    def completed_before(self, team: str, before: float) -> int:
        """Return how many of a team's items were done before `before` (not at it)."""
        with self._lock:
            row = self._db.execute(
                """SELECT COUNT(*) FROM work_items
                   WHERE team = ? AND removed_at IS NULL AND done_at < ?""",
                (team, before),
            ).fetchone()
        return int(row[0])

    def change_seq(self) -> int:
        """Return the last change logged (0 before any)."""
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM changelog").fetchone()
            trimmed = self._db.execute("SELECT value FROM meta WHERE name = ?", (_TRIMMED,)).fetchone()
        return max(int(row[0] or 0), int(trimmed[0]) if trimmed else 0)

    def changes_since(self, seq: int) -> StoreChanges:
        """Return what was written after change `seq` (change_seq() or a StoreChanges' seq)."""
        teams: set[str] = set()
        persons: set[str] = set()
        items: set[tuple[str, str, str]] = set()
        everything = False
        with self._lock:
            self._db.execute("BEGIN")  # one snapshot: the marker and the rows after it agree
            try:
                trimmed = self._db.execute("SELECT value FROM meta WHERE name = ?", (_TRIMMED,)).fetchone()
                rows = self._db.execute(
                    "SELECT seq, team, person, source, item FROM changelog WHERE seq > ? ORDER BY seq", (seq,)
                ).fetchall()
            finally:
                self._db.execute("COMMIT")
        if trimmed is not None and seq < int(trimmed[0]):
            everything = True  # changes after seq were forgotten
        last = seq
        for at, team, person, source, item in rows:
            last = at
            if item is not None:
                items.add((team, source, item))
            elif team is not None:
                teams.add(team)
            elif person is not None:
                persons.add(person)
            else:
                everything = True
        if trimmed is not None:
            last = max(last, int(trimmed[0]))
        return StoreChanges(last, everything, frozenset(teams), frozenset(persons), frozenset(items))

    def people_signals(
        self, kinds: Sequence[str], persons: Iterable[str], team: str | None = None
    ) -> dict[str, list[SignalRow]]:
        """Return, per kind, the signals about any of `persons` (their person or one of their
        people) or about `team`, each id with every source's row for it, ordered by start, id, source."""
        persons = sorted(set(persons))
        if not kinds or not (persons or team is not None):
            return {}
        kind_marks = ", ".join("?" for _ in kinds)
        ids: set[str] = set()
        with self._lock:
            for chunk in _chunks(persons):
                marks = ", ".join("?" for _ in chunk)
                ids.update(
                    r[0]
                    for r in self._db.execute(
                        f"SELECT DISTINCT id FROM signal_people WHERE person IN ({marks})", tuple(chunk)
                    )
                )
            if team is not None:
                ids.update(r[0] for r in self._db.execute("SELECT id FROM signals WHERE team = ?", (team,)))
            rows: list[Any] = []
            for chunk in _chunks(sorted(ids)):
                marks = ", ".join("?" for _ in chunk)
                # "+kind": look the rows up by id, not by scanning every signal of the kind.
                rows += self._db.execute(
                    f"""SELECT kind, id, person, team, start, end, attrs, people, source FROM signals
                        WHERE id IN ({marks}) AND +kind IN ({kind_marks})""",
                    (*chunk, *kinds),
                ).fetchall()
        rows.sort(key=lambda r: (r[4], r[1], r[8]))
        out: dict[str, list[SignalRow]] = {kind: [] for kind in kinds}
        for r in rows:
            out[r[0]].append(
                SignalRow(
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    json.loads(r[6]) if r[6] else {},
                    tuple(json.loads(r[7] or "[]")),
                )
            )
        return out

    def item_changes(self, items: Iterable[ItemRow]) -> dict[tuple[str, str], list[ChangeRow]]:
        """Return the changes of these items, oldest first, keyed by (source, item id)."""
        result: dict[tuple[str, str], list[ChangeRow]] = {}
        for item in items:
            entries = orjson.loads(item.history) if item.history else []
            result[(item.source, item.id)] = [
                ChangeRow(item.id, at, fld, frm, to, None) for _id, at, fld, frm, to in entries
            ]
        return result

    def first_created(self, team: str | None = None) -> dict[str, float]:
        """Return, per team (or for `team` alone), when its earliest stored work item was created."""
        with self._lock:
            if team is None:
                rows = self._db.execute(
                    "SELECT team, MIN(created) FROM work_items WHERE removed_at IS NULL GROUP BY team"
                ).fetchall()
            else:
                rows = self._db.execute(
                    """SELECT team, MIN(created) FROM work_items WHERE team = ? AND removed_at IS NULL
                       GROUP BY team""",
                    (team,),
                ).fetchall()
        return {str(r[0]): float(r[1]) for r in rows}

    def coverage(self, kind: str) -> dict[str, float]:
        """Return, per owner, from when some source has read its `kind` data whole.

        Owners are pseudonyms for calendars (kind "meeting"), team names for "work_items".
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT owner, MIN(start) FROM coverage WHERE kind = ? GROUP BY owner", (kind,)
            ).fetchall()
        return {str(r[0]): float(r[1]) for r in rows}

    def completed_total(self, team: str, until: float) -> int:
        """Return how many of a team's items were done by `until`."""
        with self._lock:
            row = self._db.execute(
                """SELECT COUNT(*) FROM work_items
                   WHERE team = ? AND removed_at IS NULL AND done_at <= ?""",
                (team, until),
            ).fetchone()
        return int(row[0])

    def actions(self, team: str, since: float, until: float) -> list[tuple[str, float, str | None]]:
        """Return a team's leadership actions as (kind, at, person)."""
        with self._lock:
            rows = self._db.execute(
                """SELECT kind, at, person FROM actions WHERE team = ? AND at >= ? AND at <= ?
                   ORDER BY at, kind, source, id""",
                (team, since, until),
            ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def list_actions(self, team: str | None = None, since: float = 0.0) -> list[ActionRow]:
        """Return leadership actions, newest first, optionally of one team."""
        sql = "SELECT id, source, team, kind, at, note FROM actions WHERE at >= ?"
        args: list[Any] = [since]
        if team is not None:
            sql += " AND team = ?"
            args.append(team)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY at DESC, id", args).fetchall()
        return [ActionRow(*row) for row in rows]

    def signals(self, kind: str, since: float, until: float) -> list[SignalRow]:
        """Return the signals of a kind that overlap [since, until]."""
        with self._lock:
            rows = self._db.execute(
                """SELECT id, person, team, start, end, attrs, people FROM signals
                   WHERE kind = ? AND end >= ? AND start <= ? ORDER BY start, id, source""",
                (kind, since, until),
            ).fetchall()
        return [
            SignalRow(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                json.loads(r[5]) if r[5] else {},
                tuple(json.loads(r[6] or "[]")),
            )
            for r in rows
        ]

    def source_signals(self, sources: Sequence[str], until: float) -> list[PersonSignal]:
        """Return the people signals these sources stored that began by `until`, oldest first."""
        if not sources:
            return []
        marks = ", ".join("?" for _ in sources)
        with self._lock:
            rows = self._db.execute(
                f"""SELECT id, kind, start, end, person, team, attrs, people, owner FROM signals
                    WHERE source IN ({marks}) AND start <= ? ORDER BY start, id, source""",
                (*sources, until),
            ).fetchall()
        return [_person_signal(r) for r in rows]

    def team_source_signals(
        self, sources: Sequence[str], persons: Iterable[str], team: str
    ) -> list[tuple[str, PersonSignal]]:
        """Return (source, event) of these sources' events about `persons` or `team`, by start, id, source."""
        if not sources:
            return []
        source_marks = ", ".join("?" for _ in sources)
        keys: set[tuple[str, str]] = set()
        with self._lock:
            for chunk in _chunks(sorted(set(persons))):
                marks = ", ".join("?" for _ in chunk)
                keys.update(
                    (r[0], r[1])
                    for r in self._db.execute(
                        f"""SELECT source, id FROM signal_people
                            WHERE person IN ({marks}) AND source IN ({source_marks})""",
                        (*chunk, *sources),
                    )
                )
            keys.update(
                (r[0], r[1])
                for r in self._db.execute(
                    f"SELECT source, id FROM signals WHERE team = ? AND source IN ({source_marks})",
                    (team, *sources),
                )
            )
            rows: list[Any] = []
            for source, idents in itertools.groupby(sorted(keys), key=itemgetter(0)):
                for chunk in _chunks([ident for _s, ident in idents]):
                    marks = ", ".join("?" for _ in chunk)
                    rows += self._db.execute(
                        f"""SELECT id, kind, start, end, person, team, attrs, people, owner, source
                            FROM signals WHERE source = ? AND id IN ({marks})""",
                        (source, *chunk),
                    ).fetchall()
        rows.sort(key=lambda r: (r[2], r[0], r[9]))
        return [(r[9], _person_signal(r)) for r in rows]

    def counts(self) -> dict[str, int]:
        """Return row counts per table (for tests and diagnostics)."""
        with self._lock:
            counts = {
                t: int(self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in ("work_items", "signals", "actions", "cursors")
            }
            row = self._db.execute(
                "SELECT COALESCE(SUM(json_array_length(history)), 0) FROM work_items"
            ).fetchone()
            counts["changes"] = int(row[0])
            return counts
