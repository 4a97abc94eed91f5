"""Fuzzing the ics source with grammar-aware iCalendar text: nothing escapes, every input ends.

The fast form (in `make test`) tries a few hundred inputs, the same ones on every run, and
asserts no timing: the inputs known to be slow are checked for the budget's problem instead.
The long form (`make fuzz`) sets TEAMPULSE_FUZZ_EXAMPLES (e.g. 20000), measures each input
and prints the inputs tried, the failures and the slowest input.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from teampulse_calendar.config import CommonSettings, IcsSettings
from teampulse_calendar.ics_source import IcsSource

from teampulse.testing import RecordingContext

EXAMPLES = int(os.environ.get("TEAMPULSE_FUZZ_EXAMPLES", "300"))
LONG = "TEAMPULSE_FUZZ_EXAMPLES" in os.environ
LABEL = "calendar #1 (cal/*.ics)"
OWNER = "bob@example.com"
NOW = datetime(2026, 3, 16, 12, tzinfo=UTC)

# ---- strategies: content lines as real calendars have them, and the ways they break ----

DATES = st.sampled_from(["20260310", "20260316", "19900101", "20251231", "99991231", "00010101", "2026XX17"])
TIMES = st.sampled_from(["T100000Z", "T100000", "", "T250000", "T000000Z"])
STAMP = st.builds(lambda d, t: d + t, DATES, TIMES)
FREQ = st.sampled_from(
    ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "SOMETIMES", ""]
)
NUMBER = st.sampled_from(["0", "1", "2", "-1", "7", "53", "366", "999999999", "x", "", "+3"])
LIST = st.lists(NUMBER, min_size=1, max_size=3).map(",".join)
DAY = st.builds(
    lambda sign, n, wd: sign + n + wd,
    st.sampled_from(["", "+", "-"]),
    st.sampled_from(["", "1", "5", "53", "0"]),
    st.sampled_from(["MO", "TU", "SU", "XX"]),
)
PART = st.one_of(
    FREQ.map(lambda f: f"FREQ={f}"),
    NUMBER.map(lambda n: f"INTERVAL={n}"),
    NUMBER.map(lambda n: f"COUNT={n}"),
    STAMP.map(lambda s: f"UNTIL={s}"),
    st.lists(DAY, min_size=1, max_size=3).map(lambda d: "BYDAY=" + ",".join(d)),
    st.builds(
        lambda name, values: f"{name}={values}",
        st.sampled_from(
            ["BYMONTH", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE", "BYSECOND", "BYSETPOS"]
        ),
        LIST,
    ),
    st.sampled_from(["WKST=MO", "WKST=XX", "X-FOO=1", "BYFOO=2", ""]),
)
RULE = st.builds(lambda freq, parts: ";".join([f"FREQ={freq}", *parts]), FREQ, st.lists(PART, max_size=5))
PROPERTY = st.one_of(
    STAMP.map(lambda s: f"DTSTART:{s}"),
    STAMP.map(lambda s: f"DTSTART;TZID=W. Europe Standard Time:{s}"),
    STAMP.map(lambda s: f"DTSTART;VALUE=DATE:{s[:8]}"),
    STAMP.map(lambda s: f"DTEND:{s}"),
    st.sampled_from(["DURATION:PT1H", "DURATION:P1D", "DURATION:-PT5M", "DURATION:xx"]),
    RULE.map(lambda r: f"RRULE:{r}"),
    RULE.map(lambda r: f"EXRULE:{r}"),
    STAMP.map(lambda s: f"RDATE:{s}"),
    STAMP.map(lambda s: f"EXDATE:{s}"),
    STAMP.map(lambda s: f"RECURRENCE-ID;RANGE=THISANDFUTURE:{s}"),
    st.sampled_from(
        ["UID:a", "UID:b", "UID:maria@example.com-1", "SUMMARY:Bob / Maria 1:1", "SUMMARY:Vacation"]
    ),
    st.sampled_from(["STATUS:CANCELLED", "TRANSP:TRANSPARENT", "X-MICROSOFT-CDO-BUSYSTATUS:OOF"]),
    st.sampled_from(
        ["ORGANIZER:mailto:maria@example.com", "ATTENDEE;PARTSTAT=DECLINED:mailto:bob@example.com"]
    ),
    st.text(max_size=30).map(lambda t: f"DESCRIPTION:{t}"),
)
NAMES = st.sampled_from(["VEVENT", "VALARM", "VTODO", "VTIMEZONE", "STANDARD", "X-BOX", "VCALENDAR", "VEV"])


@st.composite
def component(draw: st.DrawFn, depth: int = 0) -> list[str]:
    """A component with properties and, sometimes, components nested where they may not be."""
    name = draw(st.sampled_from(["VEVENT"] * 4 + ["VTIMEZONE"])) if depth == 0 else draw(NAMES)
    body = draw(st.lists(PROPERTY, max_size=8))
    if name in ("VTIMEZONE", "STANDARD"):
        body += [
            "TZID:Custom/Zone",
            "TZOFFSETFROM:+0200",
            "TZOFFSETTO:+0100",
            draw(RULE.map(lambda r: f"RRULE:{r}")),
        ]
    if depth < 2 and draw(st.booleans()):
        body += draw(component(depth + 1))
    begin = draw(st.sampled_from([f"BEGIN:{name}", f"BEGIN;X-A=1:{name}", f"begin:{name.lower()}"]))
    return [begin, *body, f"END:{name}"]


@st.composite
def calendars(draw: st.DrawFn) -> str:
    """A calendar text: grammatical, folded, cut short, salted with garbage, or random bytes."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=300)).decode("latin-1")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//fuzz//EN"]
    for comp in draw(st.lists(component(), max_size=4)):
        lines += comp
    lines.append("END:VCALENDAR")
    if draw(st.booleans()):  # fold some lines, as exporters do
        at = draw(st.integers(0, len(lines) - 1))
        cut = draw(st.integers(1, max(1, len(lines[at]) - 1)))
        lines[at] = lines[at][:cut] + "\r\n " + lines[at][cut:]
    text = "\r\n".join(lines) + "\r\n"
    mode = draw(st.integers(0, 5))
    if mode == 0:  # cut short, as a failed copy leaves it
        text = text[: draw(st.integers(0, len(text)))]
    elif mode == 1:  # garbage somewhere
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=20)) + text[at:]
    return text


# ---- the run ----


@dataclass
class Tally:
    tried: int = 0
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    slowest_input: str = ""


def _source(max_seconds: float) -> IcsSource:
    common = CommonSettings(max_seconds=max_seconds)
    return IcsSource(IcsSettings(paths=("cal/*.ics",), urls={}, common=common), base_dir=os.getcwd())  # type: ignore[arg-type]


def _collect_one(source: IcsSource, text: str) -> list[str]:
    ctx = RecordingContext(teams=(), name="calendars")
    source._batch(ctx, OWNER, text, LABEL, NOW, source.settings.common)  # type: ignore[arg-type]
    return ctx.problems


def test_fuzzed_calendars_never_raise_and_problems_name_the_file() -> None:
    source = _source(10.0)
    tally = Tally()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(calendars())
    def fuzz(text: str) -> None:
        tally.tried += 1
        started = time.perf_counter() if LONG else 0.0
        try:
            problems = _collect_one(source, text)
        except BaseException as exc:  # BudgetExceeded included: it must never escape
            tally.failures.append(f"{type(exc).__name__}: {text[:200]!r}")
            return
        if LONG:
            spent = time.perf_counter() - started
            if spent > tally.slowest:
                tally.slowest, tally.slowest_input = spent, text[:300]
        for message in problems:
            if not message.startswith(f"{LABEL}: ") or "\n" in message or "@" in message:
                tally.failures.append(f"bad message {message[:120]!r} for {text[:200]!r}")

    fuzz()
    if LONG:
        print(
            f"\nics fuzz: {tally.tried} inputs tried, {len(tally.failures)} failures, "
            f"slowest {tally.slowest:.2f} s: {tally.slowest_input!r}"
        )
        # generous: the budget (10 s) cuts any calendar, plus one step of work
        assert tally.slowest < float(os.environ.get("TEAMPULSE_FUZZ_MAX_SECONDS", "12"))
    assert tally.failures == []
    assert tally.tried == EXAMPLES


# Inputs fuzzing found slow before the fixes (seconds to forever). Each is now refused by a
# check, or stops at the horizon inside a budget of 1 s (dateutil alone walked them to 9999).
SLOW_RULES = [
    ("FREQ=DAILY;INTERVAL=0", "RRULE is invalid (INTERVAL must be a whole number of at least 1)"),
    ("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "RRULE is invalid (no month of BYMONTH has a day of BYMONTHDAY"),
    ("FREQ=SECONDLY;BYMONTH=4;BYMONTHDAY=31;COUNT=5", "RRULE is invalid (no month of BYMONTH"),
]
NEVER_RULES = [
    "FREQ=DAILY;BYYEARDAY=366;BYMONTH=1",
    "FREQ=HOURLY;BYWEEKNO=1;BYMONTH=7",
    "FREQ=MINUTELY;BYYEARDAY=-366;BYMONTH=12",
]


@pytest.mark.parametrize(("rule", "problem"), SLOW_RULES)
def test_known_slow_inputs_are_stopped_with_a_problem(rule: str, problem: str) -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\n"
        f"DTSTART:20260301T100000Z\r\nDURATION:PT1H\r\nRRULE:{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    [message] = _collect_one(_source(0.2), text)
    assert message.startswith(f"{LABEL}: ") and problem in message


@pytest.mark.parametrize("rule", NEVER_RULES)
def test_rules_no_date_satisfies_end_at_the_horizon_without_a_problem(rule: str) -> None:
    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\n"
        f"DTSTART:20260301T100000Z\r\nDURATION:PT1H\r\nRRULE:{rule}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert _collect_one(_source(1.0), text) == []


def test_a_nested_vevent_is_stopped_with_a_problem() -> None:
    text = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260301T100000Z\r\n"
        "BEGIN:VEVENT\r\nUID:b\r\nDTSTART:19900101T000000Z\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert _collect_one(_source(0.2), text) == [
        f"{LABEL}: line 5: BEGIN:VEVENT inside VEVENT of line 2 (RFC 5545 does not nest it there); "
        "the calendar is not used (what it said before is kept)"
    ]
