"""The exact signals of hand-made Exchange, Google and Thunderbird calendars."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import teampulse_calendar

from teampulse import PersonSignal, PluginConfig, SignalsReplaced, TeamInfo

DATA = Path(__file__).parent / "data"
BOB, MARIA, CHEN, DANA, EVE = (f"{n}@example.com" for n in ("bob", "maria", "chen", "dana", "eve"))
EXCH = "040000008200E00074C5B7101A82E00800000000"


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def source(pattern: str = "team/*.ics", **options):
    config = PluginConfig("calendars", "sources", {"plugin": "ics", "paths": [pattern], **options}, DATA)
    return teampulse_calendar.create_ics(config)


def by_owner(batches: list[list[PersonSignal]]) -> dict[str, list[PersonSignal]]:
    out = {}
    for events in batches:
        (tz,) = [e for e in events if e.kind == "timezone"]
        out[tz.person] = sorted(events, key=lambda e: (e.kind, e.start, e.id))
    return out


def meetings(events: list[PersonSignal]) -> list[tuple[str, str, str, str, tuple[str, ...], str]]:
    return [
        (
            e.id,
            e.start.strftime("%Y-%m-%dT%H:%MZ"),
            e.end.strftime("%H:%MZ"),
            e.person,
            e.people,
            e.attrs["category"],
        )
        for e in events
        if e.kind == "meeting"
    ]


@pytest.fixture
def signals(new_ctx) -> dict[str, list[PersonSignal]]:
    ctx = new_ctx()
    batches = [
        [e for e in b.events if isinstance(e, PersonSignal)] for b in source().collect(ctx) if b.events
    ]
    assert ctx.problems == []
    assert len(batches) == 3  # one batch per calendar
    return by_owner(batches)


def test_every_signal_is_timezone_aware_and_carries_no_title(signals) -> None:
    for events in signals.values():
        for e in events:
            assert e.start.tzinfo is not None and e.end.tzinfo is not None
            assert e.end >= e.start
            assert set(e.attrs) <= {"category", "recurring", "tz"}
            assert e.team is None


def test_exchange_export_with_windows_zone_names_and_no_vtimezone(signals) -> None:
    bob = signals[BOB]
    one = (BOB, MARIA)
    assert meetings(bob) == [
        (f"{EXCH}10A3|2026-02-10T09:00:00Z", "2026-02-10T09:00Z", "09:30Z", MARIA, one, "one_on_one"),
        (f"{EXCH}10A3|2026-02-17T09:00:00Z", "2026-02-17T09:00Z", "09:30Z", MARIA, one, "one_on_one"),
        (f"{EXCH}10A3|2026-02-24T09:00:00Z", "2026-02-24T09:00Z", "09:30Z", MARIA, one, "one_on_one"),
        (f"{EXCH}10A3|2026-03-03T09:00:00Z", "2026-03-03T09:00Z", "09:30Z", MARIA, one, "one_on_one"),
        (f"{EXCH}10A3|2026-03-10T09:00:00Z", "2026-03-10T09:00Z", "09:30Z", MARIA, one, "one_on_one"),
        # "Eastern Standard Time": 14:00 in New York is 18:00 UTC, after hours in Berlin.
        (f"{EXCH}10A4|2026-03-12T18:00:00Z", "2026-03-12T18:00Z", "19:00Z", EVE, (BOB, EVE), "meeting"),
        (f"{EXCH}10A3|2026-03-17T09:00:00Z", "2026-03-17T09:00Z", "09:30Z", MARIA, one, "one_on_one"),
        # Booked over Bob's day off; the room is not a person; Chen has not answered yet.
        (
            f"{EXCH}10A2|2026-03-18T13:00:00Z",
            "2026-03-18T13:00Z",
            "14:00Z",
            MARIA,
            (BOB, CHEN, MARIA),
            "meeting",
        ),
        (f"{EXCH}10A3|2026-03-24T09:00:00Z", "2026-03-24T09:00Z", "09:30Z", MARIA, one, "one_on_one"),
    ]
    # The declined "Budget review" (10A5) is not Bob's meeting.
    assert not any("10A5" in e.id for e in bob)
    (off,) = [e for e in bob if e.kind == "time_off"]
    # X-MICROSOFT-CDO-BUSYSTATUS:OOF on an all-day entry: the whole day in Berlin (CET).
    assert (off.id, off.person, off.start, off.end) == (
        f"{EXCH}10A1|2026-03-18|{BOB}",
        BOB,
        z("2026-03-17T23:00:00Z"),
        z("2026-03-18T23:00:00Z"),
    )
    (tz,) = [e for e in bob if e.kind == "timezone"]
    assert (tz.id, tz.start, tz.end, dict(tz.attrs)) == (
        f"tz|{BOB}",
        z("2026-03-16T12:00:00Z"),
        z("2026-03-16T12:00:00Z"),
        {"tz": "Europe/Berlin"},
    )


def test_google_export_with_x_wr_timezone_date_until_exdate_and_moved_occurrence(signals) -> None:
    maria = signals[MARIA]
    uid = "7kq0m1on1bob@google.com"
    ones = [(m[0], m[1]) for m in meetings(maria) if m[0].startswith(uid)]
    assert ones == [
        (f"{uid}|2026-02-16T09:00:00Z", "2026-02-16T09:00Z"),
        # 2026-02-23 is an EXDATE; 2026-03-09 moved to Tuesday 14:00 Berlin by RECURRENCE-ID.
        (f"{uid}|2026-03-02T09:00:00Z", "2026-03-02T09:00Z"),
        (f"{uid}|2026-03-10T13:00:00Z", "2026-03-10T13:00Z"),
        (f"{uid}|2026-03-16T09:00:00Z", "2026-03-16T09:00Z"),
        (f"{uid}|2026-03-23T09:00:00Z", "2026-03-23T09:00Z"),
        # UNTIL=20260330 (a date) includes that Monday, and 10:00 Berlin is 08:00 UTC
        # after the switch to summer time: the rule recurs in local time, not in UTC.
        (f"{uid}|2026-03-30T08:00:00Z", "2026-03-30T08:00Z"),
    ]
    assert {m[5] for m in meetings(maria) if m[0].startswith(uid)} == {"one_on_one"}
    syncs = [m for m in meetings(maria) if m[0].startswith("teamsync")]
    assert [m[1] for m in syncs] == [
        "2026-02-12T08:00Z", "2026-02-19T08:00Z", "2026-02-26T08:00Z", "2026-03-05T08:00Z",
        "2026-03-12T08:00Z", "2026-03-19T08:00Z", "2026-03-26T08:00Z",
    ]  # fmt: skip
    # a weekly team sync is a process meeting, not a leadership check-in
    assert {(m[3], m[4], m[5]) for m in syncs} == {(MARIA, (BOB, CHEN, DANA, MARIA), "meeting")}
    assert not any(e.id.startswith("cancelled-4711") for e in maria)
    (off,) = [e for e in maria if e.kind == "time_off"]
    assert (off.id, off.start, off.end) == (
        f"ooo-20260320@google.com|2026-03-20T08:00:00Z|{MARIA}",
        z("2026-03-20T08:00:00Z"),
        z("2026-03-20T16:00:00Z"),
    )
    assert not any(e.id.startswith("ooo-") for e in maria if e.kind == "meeting")
    assert [dict(e.attrs) for e in maria if e.kind == "timezone"] == [{"tz": "Europe/Berlin"}]


def test_shared_meeting_has_one_id_in_both_calendars(signals) -> None:
    in_maria = [e for e in signals[MARIA] if e.id.startswith("shared-planning")]
    in_chen = [e for e in signals[CHEN] if e.id.startswith("shared-planning")]
    # the same meeting, told by two calendars (each names itself as the owner)
    assert [replace(e, owner=None) for e in in_maria] == [replace(e, owner=None) for e in in_chen]
    assert (in_maria[0].owner, in_chen[0].owner) == (MARIA, CHEN)
    (m,) = in_maria
    assert m.id == "shared-planning-8812@google.com|2026-03-11T13:00:00Z"
    assert m.people == (BOB, CHEN, DANA, MARIA) and m.person == MARIA


def test_thunderbird_calendar_vacation_floating_and_after_hours(signals) -> None:
    chen = signals[CHEN]
    assert meetings(chen) == [
        ("shared-planning-8812@google.com|2026-03-11T13:00:00Z", "2026-03-11T13:00Z", "14:00Z", MARIA,
         (BOB, CHEN, DANA, MARIA), "meeting"),
        ("c0ffee-deploy-window|2026-03-17T19:00:00Z", "2026-03-17T19:00Z", "20:30Z", MARIA,
         (BOB, CHEN, MARIA), "meeting"),
        # Floating 09:00 is 09:00 in Chen's own zone (London, GMT in March).
        ("c0ffee-pairing-1|2026-03-19T09:00:00Z", "2026-03-19T09:00Z", "10:00Z", CHEN, (CHEN, DANA), "meeting"),
    ]  # fmt: skip
    (off,) = [e for e in chen if e.kind == "time_off"]
    assert (off.id, off.start, off.end) == (
        f"c0ffee-vacation-2026|2026-03-23|{CHEN}",
        z("2026-03-23T00:00:00Z"),
        z("2026-03-26T00:00:00Z"),
    )
    # The all-day offsite and the transparent birthday are neither meetings nor time off.
    assert not any("offsite" in e.id or "birthday" in e.id for e in chen)
    assert [dict(e.attrs) for e in chen if e.kind == "timezone"] == [{"tz": "Europe/London"}]


def test_window_is_bounded_by_days_back_and_days_ahead(new_ctx) -> None:
    bob = source("team/bob@example.com.ics", days_back=7, days_ahead=2)
    events = [e for b in bob.collect(new_ctx()) for e in b.events if isinstance(e, PersonSignal)]
    starts = sorted(e.start for e in events if e.kind == "meeting")
    # The window is 03-09T12:00Z .. 03-18T12:00Z.
    assert starts == [z("2026-03-10T09:00:00Z"), z("2026-03-12T18:00:00Z"), z("2026-03-17T09:00:00Z")]
    assert [e.kind for e in events if e.kind == "time_off"] == ["time_off"]  # overlaps the window's end


def test_calendars_of_people_in_no_team_are_skipped(new_ctx) -> None:
    ctx = new_ctx(teams=[TeamInfo(name="t", manager=CHEN, members=(DANA,))])
    batches = [b for b in source().collect(ctx) if b.events]
    assert len(batches) == 1 and ctx.problems == []
    assert ctx.progress_messages == ["2 calendar(s) of people in no configured team skipped"]


def test_max_instances_caps_a_calendar_and_says_so(new_ctx) -> None:
    ctx = new_ctx()
    events = [
        e
        for b in source("team/maria@example.com.ics", max_instances=5).collect(ctx)
        for e in b.events
        if isinstance(e, PersonSignal)
    ]
    assert len([e for e in events if e.kind != "timezone"]) == 5
    # A glob naming one person's file is shown without the address.
    assert ctx.problems == [
        "calendar #1 (team/<e-mail>.ics): more than 5 occurrences in the window (max_instances); the rest skipped"
    ]


def test_the_first_collection_reaches_back_as_far_as_the_core_reads(new_ctx) -> None:
    # The window reaches 35 days back by default; the core asks for history from 74 days back.
    far = z("2026-01-01T12:00:00Z")
    first = list(source().collect(new_ctx(history_from=far)))
    windows = [e for b in first for e in b.events if isinstance(e, SignalsReplaced)]
    assert windows and all(w.start == far for w in windows)
    assert first[-1].events == [] and first[-1].cursor == {"history": "read"}
    # once the history was read (the cursor says so), each collection re-reads only days_back
    later = list(source().collect(new_ctx(history_from=far, cursor=first[-1].cursor)))
    windows = [e for b in later for e in b.events if isinstance(e, SignalsReplaced)]
    assert windows and all(w.start == z("2026-02-09T12:00:00Z") for w in windows)
