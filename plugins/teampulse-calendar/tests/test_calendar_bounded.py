"""Bounded work for every calendar: RRULEs validated, nesting refused, size and time budgets.

A 185-byte file with `RRULE:FREQ=DAILY;INTERVAL=0` looped for ever; a VEVENT nested in a
VEVENT escaped the expansion guard (61 s of CPU, 1 GB). Each such calendar must now be a
problem naming the file and the line, and the others must go on.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
import teampulse_calendar
from dateutil.rrule import rrulestr
from teampulse_calendar import expand
from teampulse_calendar.budget import Budget, BudgetExceeded
from teampulse_calendar.caldav_source import _batch as caldav_batch
from teampulse_calendar.config import CommonSettings, parse_ics
from teampulse_calendar.horizon import horizon
from teampulse_calendar.ics_source import IcsSource
from teampulse_calendar.parse import MAX_DEPTH, parse_calendar, rule_problem, structure_problem

from teampulse import PluginConfig

DATA = Path(__file__).parent / "data"
KEPT = "the calendar is not used (what it said before is kept)"


def calendar(*events: str, head: str = "") -> str:
    """Return a calendar of the given VEVENT bodies (each without BEGIN/END lines)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//teampulse//tests//EN"]
    lines += head.splitlines()
    for body in events:
        lines += ["BEGIN:VEVENT", *body.splitlines(), "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def event(uid: str, rule: str | None = None, start: str = "20260310T100000Z") -> str:
    out = f"UID:{uid}\nDTSTART:{start}\nDURATION:PT1H\nSUMMARY:Planning\n"
    return out + (f"RRULE:{rule}\n" if rule else "")


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, newline="")


def source(base: Path, clock=None, **options) -> IcsSource:  # type: ignore[no-untyped-def]
    settings = parse_ics(
        PluginConfig("calendars", "sources", {"plugin": "ics", "paths": ["cal/*.ics"], **options}, base)
    )
    return (
        IcsSource(settings, base, "calendars", clock=clock)
        if clock
        else IcsSource(settings, base, "calendars")
    )


def owners(batches) -> set[str]:  # type: ignore[no-untyped-def]
    return {e.owner for events in batches for e in events}


# ---- RRULE validation ----


def test_interval_0_is_a_problem_naming_file_and_line_and_the_rest_goes_on(
    new_ctx, collect, tmp_path
) -> None:
    write(
        tmp_path / "cal", "bob@example.com.ics", calendar(event("loop", "FREQ=DAILY;INTERVAL=0"), event("ok"))
    )
    write(tmp_path / "cal", "chen@example.com.ics", calendar(event("chen-ok")))
    batches, ctx = collect(source(tmp_path), new_ctx())
    assert ctx.problems == [
        "calendar #1 (cal/*.ics): line 9: RRULE is invalid (INTERVAL must be a whole number of at least 1); "
        "event skipped"
    ]
    ids = {e.id for events in batches for e in events}
    assert ids == {"ok|2026-03-10T10:00:00Z", "chen-ok|2026-03-10T10:00:00Z"}


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number of at least 1"),
        ("FREQ=DAILY;INTERVAL=-2", "INTERVAL must be a whole number of at least 1"),
        ("FREQ=DAILY;COUNT=0", "COUNT must be a whole number of at least 1"),
        ("FREQ=WEEKLY;UNTIL=20240331;COUNT=-1", "COUNT must be a whole number of at least 1"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20260401T000000Z", "COUNT and UNTIL may not both be given"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR values must be 0 to 23"),
        ("FREQ=DAILY;BYMINUTE=60", "BYMINUTE values must be 0 to 59"),
        ("FREQ=DAILY;BYSECOND=61", "BYSECOND values must be 0 to 60"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH values must be 1 to 12"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY values must be 1 to 31 or -31 to -1"),
        ("FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY values must be 1 to 366 or -366 to -1"),
        ("FREQ=YEARLY;BYWEEKNO=54", "BYWEEKNO values must be 1 to 53 or -53 to -1"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS values must be 1 to 366 or -366 to -1"),
        ("FREQ=MONTHLY;BYDAY=54MO", "BYDAY numbers must be 1 to 53"),
        ("INTERVAL=2", "FREQ is missing"),
        ("FREQ=DAILY;INTERVAL=1;INTERVAL=0", "INTERVAL appears more than once"),
        ("FREQ=DAILY;BYFOO=1", "a part has an unknown name"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "no month of BYMONTH has a day of BYMONTHDAY: it never occurs"),
        ("FREQ=MINUTELY;BYMONTH=4,6;BYMONTHDAY=31", "no month of BYMONTH has a day of BYMONTHDAY: it never occurs"),
    ],
)  # fmt: skip
def test_rules_breaking_rfc_5545_are_problems_and_the_event_is_skipped(rule: str, problem: str) -> None:
    problems: list[str] = []
    parsed = parse_calendar(calendar(event("bad", rule), event("good")), problems.append)
    assert problems == [f"line 9: RRULE is invalid ({problem}); event skipped"]
    assert parsed is not None and list(parsed.series) == ["good"]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("FREQ=DAILY;INTERVAL=x", "INTERVAL must be a whole number of at least 1"),
        ("FREQ=MONTHLY;BYDAY=9XX", "BYDAY values must be weekdays (MO...SU), optionally numbered"),
        ("FREQ=WEEKLY;WKST=XX", "WKST must be a weekday (MO...SU)"),
        ("FREQ=DAILY;UNTIL=tomorrow", "UNTIL must be a date or a date-time"),
    ],
)
def test_rules_icalendar_already_refuses_keep_its_message_and_are_checked_too(
    rule: str, problem: str
) -> None:
    problems: list[str] = []
    parsed = parse_calendar(calendar(event("bad", rule), event("good")), problems.append)
    [message] = problems
    assert message.startswith("line 9: RRULE is invalid (") and message.endswith("); event skipped")
    assert parsed is not None and list(parsed.series) == ["good"]
    assert rule_problem(rule) == problem


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;WKST=SU",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;BYDAY=+2TU;COUNT=10",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "freq=daily;until=20260401",
        "FREQ=YEARLY;BYYEARDAY=-1;BYSETPOS=1,-1;BYHOUR=0;BYMINUTE=0;BYSECOND=60",
        "FREQ=DAILY;X-NAME=1;",
    ],
)
def test_valid_rules_pass(rule: str) -> None:
    assert rule_problem(rule) is None


def test_an_invalid_exrule_skips_the_event() -> None:
    problems: list[str] = []
    body = event("bad", "FREQ=DAILY") + "EXRULE:FREQ=DAILY;INTERVAL=0\n"
    parsed = parse_calendar(calendar(body, event("good")), problems.append)
    assert problems == [
        "line 10: EXRULE is invalid (INTERVAL must be a whole number of at least 1); event skipped"
    ]
    assert parsed is not None and list(parsed.series) == ["good"]


def test_a_folded_rule_is_read_as_icalendar_reads_it() -> None:
    problems: list[str] = []
    text = calendar(event("good")).replace(
        "SUMMARY:Planning", "SUMMARY:Planning\r\nRRULE:FREQ=DAILY;INTER\r\n VAL=0"
    )
    parse_calendar(text, problems.append)
    assert problems == [
        "line 9: RRULE is invalid (INTERVAL must be a whole number of at least 1); event skipped"
    ]


ZONE = """BEGIN:VTIMEZONE
TZID:Custom/Zone
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:{rule}
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE"""


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("FREQ=YEARLY;INTERVAL=0;BYMONTH=10;BYDAY=-1SU", "INTERVAL must be a whole number of at least 1"),
        ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=28", "a time zone's rule must be FREQ=YEARLY"),
    ],
)
def test_a_time_zone_with_an_unbounded_rule_is_not_used(rule: str, problem: str) -> None:
    problems: list[str] = []
    body = "UID:z\nDTSTART;TZID=Custom/Zone:20260310T100000\nDTEND;TZID=Custom/Zone:20260310T110000\n"
    assert parse_calendar(calendar(body, head=ZONE.format(rule=rule)), problems.append) is None
    assert problems == [f"line 8: RRULE of a time zone is invalid ({problem}); {KEPT}"]


# ---- nesting ----


def test_a_vevent_nested_in_a_vevent_is_a_problem_and_the_others_go_on(new_ctx, collect, tmp_path) -> None:
    nested = (
        event("outer") + "BEGIN:VEVENT\n" + event("inner", "FREQ=SECONDLY", "19900101T000000Z") + "END:VEVENT"
    )
    write(tmp_path / "cal", "bob@example.com.ics", calendar(nested))
    write(tmp_path / "cal", "chen@example.com.ics", calendar(event("chen-ok")))
    batches, ctx = collect(source(tmp_path), new_ctx())
    assert ctx.problems == [
        f"calendar #1 (cal/*.ics): line 9: BEGIN:VEVENT inside VEVENT of line 4 (RFC 5545 does not nest it there); {KEPT}"
    ]
    assert owners(batches) == {"chen@example.com"}


@pytest.mark.parametrize(
    ("inner", "problem"),
    [
        # icalendar reads a BEGIN with parameters, or folded over two lines, as a BEGIN
        ("BEGIN;X-A=1:VEVENT\nUID:i\nEND;X-A=1:VEVENT", "line 9: BEGIN:VEVENT inside VEVENT of line 4"),
        ("BEGIN:VEV\n ENT\nUID:i\nEND:VEVENT", "line 9: BEGIN:VEVENT inside VEVENT of line 4"),
        ("begin:vevent\nUID:i\nend:vevent", "line 9: BEGIN:VEVENT inside VEVENT of line 4"),
        ("BEGIN:X-BOX\nBEGIN:VEVENT\nEND:VEVENT\nEND:X-BOX", "line 10: BEGIN:VEVENT inside X-BOX of line 9"),
        ("BEGIN:VCALENDAR\nEND:VCALENDAR", "line 9: BEGIN:VCALENDAR inside VEVENT of line 4"),
        ("BEGIN:VTIMEZONE\nEND:VTIMEZONE", "line 9: BEGIN:VTIMEZONE inside VEVENT of line 4"),
        ("BEGIN:STANDARD\nEND:STANDARD", "line 9: BEGIN:STANDARD inside VEVENT of line 4"),
    ],
)
def test_nesting_rfc_5545_does_not_allow_is_refused(inner: str, problem: str) -> None:
    text = calendar(event("outer") + inner)
    assert structure_problem(text) == f"{problem} (RFC 5545 does not nest it there)"


def test_alarms_and_x_components_inside_an_event_are_fine() -> None:
    body = event("e") + "BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT5M\nEND:VALARM\nBEGIN:X-NOTE\nEND:X-NOTE"
    assert structure_problem(calendar(body)) is None


def test_components_nested_too_deep_are_refused() -> None:
    opening = "".join(f"BEGIN:X-L{i}\n" for i in range(MAX_DEPTH))
    closing = "".join(f"END:X-L{i}\n" for i in reversed(range(MAX_DEPTH)))
    text = calendar(event("e") + opening + closing)
    assert (
        structure_problem(text)
        == f"line {4 + 5 + MAX_DEPTH - 2}: components nested more than {MAX_DEPTH} deep"
    )


# ---- size budget ----


def test_a_calendar_over_max_bytes_is_a_problem_and_the_others_go_on(new_ctx, collect, tmp_path) -> None:
    big = calendar(*(event(f"e{i}") for i in range(60)))
    write(tmp_path / "cal", "bob@example.com.ics", big)
    write(tmp_path / "cal", "chen@example.com.ics", calendar(event("chen-ok")))
    batches, ctx = collect(source(tmp_path, max_bytes=4096), new_ctx())
    assert ctx.problems == [
        f"calendar #1 (cal/*.ics): {len(big.encode()):,} bytes, more than 4,096 (max_bytes); skipped"
    ]
    assert owners(batches) == {"chen@example.com"}


def test_max_bytes_and_max_seconds_default_and_are_validated() -> None:
    common = teampulse_calendar.create_ics(
        PluginConfig("calendars", "sources", {"plugin": "ics", "paths": ["x"]}, DATA)
    ).settings.common
    assert (common.max_bytes, common.max_seconds) == (10 * 1024 * 1024, 10)
    for key, value in (("max_bytes", 10), ("max_bytes", 2.5), ("max_seconds", 0)):
        with pytest.raises(teampulse_calendar.ConfigError) as err:
            teampulse_calendar.create_ics(
                PluginConfig("calendars", "sources", {"plugin": "ics", "paths": ["x"], key: value}, DATA)
            )
        assert err.value.key == f"sources.calendars.{key}"


# ---- time budget ----


class Ticking:
    """A clock that moves on by `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_calendar_over_its_time_budget_is_a_problem_and_the_others_go_on(
    new_ctx, collect, tmp_path
) -> None:
    # 400 events: 400 checks while parsing and 800 while expanding; 1 s each on this clock.
    write(tmp_path / "cal", "bob@example.com.ics", calendar(*(event(f"e{i}") for i in range(400))))
    write(tmp_path / "cal", "chen@example.com.ics", calendar(event("chen-ok")))
    batches, ctx = collect(source(tmp_path, clock=Ticking(1.0), max_seconds=100), new_ctx())
    assert ctx.problems == [f"calendar #1 (cal/*.ics): took more than 100 s to read (max_seconds); {KEPT}"]
    assert owners(batches) == {"chen@example.com"}


# A rule that no date satisfies and that the static checks do not see: dateutil walks every
# day up to the year 9999 looking for one (about 5 s), unless the horizon stops it.
NEVER = "FREQ=DAILY;BYYEARDAY=366;BYMONTH=1"
# Rules no date satisfies, each of which dateutil alone walks up to the year 9999 (a SECONDLY
# one is refused before, for its steps before the window).
IMPOSSIBLE = [
    NEVER,
    "FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1",
    "FREQ=MONTHLY;BYWEEKNO=1;BYMONTH=7",
    "FREQ=WEEKLY;BYWEEKNO=1;BYMONTH=7",
    "FREQ=HOURLY;BYWEEKNO=1;BYMONTH=7",
    "FREQ=MINUTELY;BYWEEKNO=1;BYMONTH=7",
    "FREQ=MONTHLY;BYDAY=5MO;BYMONTH=2;BYMONTHDAY=1",
    "FREQ=DAILY;BYYEARDAY=-366;BYMONTH=12;BYDAY=MO",
]


@pytest.fixture
def no_horizon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let dateutil search up to the year 9999 again, as it does on its own."""
    monkeypatch.setattr(expand, "_HORIZON_YEARS", 9999)


def test_rules_no_date_satisfies_stop_at_the_horizon_and_the_rest_goes_on(new_ctx, collect, tmp_path) -> None:
    # Each rule alone walks dateutil to the year 9999 (0.3 to 9 s); all of them together
    # must fit in a budget of 5 s, and every other event is kept.
    events = [event(f"never{i}", rule) for i, rule in enumerate(IMPOSSIBLE)]
    write(tmp_path / "cal", "bob@example.com.ics", calendar(*events, event("ok", "FREQ=WEEKLY;COUNT=2")))
    batches, ctx = collect(source(tmp_path, max_seconds=5), new_ctx())
    assert ctx.problems == []
    # DTSTART is the first occurrence of every series, whether its rule matches it or not.
    firsts = {f"never{i}|2026-03-10T10:00:00Z" for i in range(len(IMPOSSIBLE))}
    assert {e.id for events in batches for e in events} == firsts | {
        "ok|2026-03-10T10:00:00Z",
        "ok|2026-03-17T10:00:00Z",
    }


def test_the_horizon_stops_the_search_for_a_next_date_in_this_thread_only() -> None:
    rule = rrulestr("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", dtstart=datetime(2029, 3, 1))
    seen: list[object] = []

    def elsewhere() -> None:
        seen.append(next(iter(rule), None))

    with horizon(2030):
        assert next(iter(rule), None) is None  # 2032 is past the horizon
        other = threading.Thread(target=elsewhere)
        other.start()
        other.join()
    assert seen == [datetime(2032, 2, 29)]
    assert next(iter(rule), None) == datetime(2032, 2, 29)


def test_the_watchdog_stops_a_library_loop_in_a_collector_thread(
    new_ctx, collect, tmp_path, no_horizon
) -> None:
    write(tmp_path / "cal", "bob@example.com.ics", calendar(event("never", NEVER)))
    write(tmp_path / "cal", "chen@example.com.ics", calendar(event("chen-ok")))
    result: dict[str, object] = {}

    def run() -> None:  # as `teampulse serve` collects: not in the main thread
        result["out"] = collect(source(tmp_path, max_seconds=0.2), new_ctx())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    batches, ctx = result["out"]  # type: ignore[misc]
    assert ctx.problems == [f"calendar #1 (cal/*.ics): took more than 0.2 s to read (max_seconds); {KEPT}"]
    assert owners(batches) == {"chen@example.com"}


def test_the_watchdog_never_fires_after_the_work_is_done() -> None:
    budget = Budget(0.05)
    with budget.enforced():
        pass
    threading.Event().wait(0.2)  # past the deadline: nothing may arrive here
    assert not budget.expired


def test_an_expired_budget_stays_expired() -> None:
    clock = Ticking(1.0)
    budget = Budget(1.5, clock)
    budget.check()  # 2.0 <= 2.5
    with pytest.raises(BudgetExceeded):
        budget.check()
    clock.step = -10.0  # even a clock going back does not revive it
    with pytest.raises(BudgetExceeded):
        budget.check()


def test_caldav_calendars_have_the_same_guards(new_ctx, no_horizon) -> None:
    ctx = new_ctx()
    settings = CommonSettings(max_seconds=0.2)
    nested = event("outer") + "BEGIN:VEVENT\nUID:i\nEND:VEVENT"
    texts = [calendar(event("fine")), calendar(nested), calendar(event("never", NEVER))]
    assert (
        caldav_batch(ctx, "bob@example.com", texts, "calendar #1 (sources.caldav)", ctx.now, settings) is None
    )
    assert ctx.problems == [
        "calendar #1 (sources.caldav): resource #2: line 9: BEGIN:VEVENT inside VEVENT of line 4 "
        f"(RFC 5545 does not nest it there); {KEPT}",
        f"calendar #1 (sources.caldav): took more than 0.2 s to read (max_seconds); {KEPT}",
    ]
