"""The store's change log: what each write changed, for evaluations that read only that again."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from support import NOW, Items

from teampulse import store as store_mod
from teampulse.model import LeadershipAction, PersonSignal, SignalsReplaced, WorkItemRemoved
from teampulse.store import Store

H = timedelta(hours=1)


def _meeting(ident: str, people: tuple[str, ...], owner: str = "p_m", hours: int = 0) -> PersonSignal:
    start = NOW + hours * H
    return PersonSignal(ident, "meeting", start, start + H, person=people[0], people=people, owner=owner)


def test_each_write_logs_what_it_changed_and_nothing_else(tmp_path: Path, items: Items) -> None:
    store = Store(tmp_path / "s.db")
    assert store.change_seq() == 0
    item = items.make(started=NOW - H)
    store.apply_batch("jira", [item], {"n": 1}, 0)
    first = store.changes_since(0)
    assert first.items == {("payments", "jira", item.id)} and not first.teams and not first.persons
    # the same item again (a re-read page, a retried batch): no write, nothing logged
    store.apply_batch("jira", [item], {"n": 2}, 0)
    assert store.changes_since(first.seq).seq == first.seq
    store.apply_batch("jira", [WorkItemRemoved(item.id, "payments", NOW)], None, 0)
    removed = store.changes_since(first.seq)
    assert removed.items == {("payments", "jira", item.id)}
    action = LeadershipAction("a1", "payments", "recorded", NOW, None)
    store.add_action(action)
    store.add_action(action)
    assert store.changes_since(removed.seq).teams == {"payments"}
    seq = store.change_seq()
    assert store.remove_action("a1")
    gone = store.changes_since(seq)
    assert gone.teams == {"payments"} and not gone.everything


def test_a_calendar_read_again_logs_only_what_it_changed(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    window = SignalsReplaced("p_m", ("meeting", "time_off"), NOW - 24 * H, NOW + 24 * H)
    one, two = _meeting("one", ("p_m", "p_a")), _meeting("two", ("p_m", "p_b"), hours=2)
    store.apply_batch("ics", [window, one, two], None, 0)
    seq = store.change_seq()
    store.apply_batch("ics", [window, one, two], None, 0)  # every cycle reads the calendar whole
    assert store.changes_since(seq).seq == seq
    assert [r.id for r in store.signals("meeting", 0, (NOW + 24 * H).timestamp())] == ["one", "two"]
    store.apply_batch("ics", [window, one], None, 0)  # "two" was cancelled
    cancelled = store.changes_since(seq)
    assert cancelled.persons == {"p_m", "p_b"} and not cancelled.items
    assert [r.id for r in store.signals("meeting", 0, (NOW + 24 * H).timestamp())] == ["one"]
    assert store.people_signals(["meeting"], ["p_b"]) == {"meeting": []}


def test_a_meeting_two_calendars_show_logs_nothing_read_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    window = SignalsReplaced("p_m", ("meeting",), NOW - 24 * H, NOW + 24 * H)
    theirs = SignalsReplaced("p_a", ("meeting",), NOW - 24 * H, NOW + 24 * H)
    one_on_one = _meeting("1on1", ("p_m", "p_a"))
    store.apply_batch("ics", [window, one_on_one], None, 0)
    store.apply_batch("ics", [theirs, replace(one_on_one, owner="p_a")], None, 0)
    seq = store.change_seq()
    # the next cycle reads both calendars again: the row changes hands twice, and nothing else
    store.apply_batch("ics", [window, one_on_one], None, 0)
    store.apply_batch("ics", [theirs, replace(one_on_one, owner="p_a")], None, 0)
    assert store.changes_since(seq).seq == seq
    assert [r.id for r in store.signals("meeting", 0, (NOW + 24 * H).timestamp())] == ["1on1"]


def test_a_row_of_the_same_id_from_another_source_logs_both_sides(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.apply_batch("ics", [_meeting("same", ("p_m", "p_a"))], None, 0)
    seq = store.change_seq()
    # another calendar source says the same meeting has other people: which row counts may change
    store.apply_batch("caldav", [_meeting("same", ("p_x", "p_y"))], None, 0)
    assert store.changes_since(seq).persons == {"p_m", "p_a", "p_x", "p_y"}
    rows = store.people_signals(["meeting"], ["p_a"])["meeting"]
    assert [r.people for r in rows] == [("p_x", "p_y"), ("p_m", "p_a")]  # each source's row, by source


def test_prune_and_rekey_are_logged(tmp_path: Path, items: Items) -> None:
    store = Store(tmp_path / "s.db")
    old = items.make(created=NOW - 300 * 24 * H, started=NOW - 299 * 24 * H, done=NOW - 298 * 24 * H)
    store.apply_batch("jira", [old, items.make()], None, 0)
    store.apply_batch("ics", [_meeting("old", ("p_m", "p_a"), hours=-300 * 24)], None, 0)
    seq = store.change_seq()
    store.prune((NOW - 100 * 24 * H).timestamp())
    pruned = store.changes_since(seq)
    assert pruned.items == {("payments", "jira", old.id)} and pruned.persons == {"p_m", "p_a"}
    assert store.people_signals(["meeting"], ["p_a"]) == {"meeting": []}
    store.rekey("another")
    assert store.changes_since(pruned.seq).everything


def test_a_reader_behind_the_kept_log_reads_everything_again(
    tmp_path: Path, items: Items, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(store_mod, "CHANGELOG_KEEP", 3)
    store = Store(tmp_path / "s.db")
    store.apply_batch("jira", [items.make() for _ in range(5)], None, 0)
    early = store.changes_since(0)
    assert len(early.items) == 5 and not early.everything
    store.prune(0.0)  # prune trims the log to its last CHANGELOG_KEEP changes
    assert store.changes_since(0).everything
    assert not store.changes_since(early.seq).everything  # a reader that kept up loses nothing
    assert store.change_seq() == early.seq
