"""Parse iCalendar text into series of events, reporting what is broken by line number.

A broken event is reported and left out; the rest of the calendar is kept. Messages name
lines, property names and time-zone ids only: never a UID (UIDs often embed an e-mail
address), a title or an attendee.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import icalendar
from icalendar.parser.content_line import NEWLINE, UFOLD, Contentline

from .budget import Budget
from .windows_zones import resolve_zone

__all__ = ["MAX_DEPTH", "ParsedCalendar", "Series", "parse_calendar", "rule_problem", "structure_problem"]

# Properties whose damage changes what an event means to us; damage elsewhere is ignored.
_TIME_PROPS = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")
_BEGIN_EVENT = re.compile(r"^BEGIN:VEVENT\s*$", re.IGNORECASE)
_END_EVENT = re.compile(r"^END:VEVENT\s*$", re.IGNORECASE)
# Said of a calendar not used: its batch would replace what it said before with less.
_KEPT = "the calendar is not used (what it said before is kept)"

Report = Callable[[str], None]


@dataclass
class Series:
    """The components of one UID in one calendar: the master and its overrides."""

    uid: str
    line: int  # the first BEGIN:VEVENT of the series, for messages
    components: list[icalendar.Component] = field(default_factory=list)
    unknown_zone: bool = False  # a TZID that could not be resolved: times read as UTC


@dataclass
class ParsedCalendar:
    """What a calendar holds that matters here."""

    series: dict[str, Series] = field(default_factory=dict)
    timezones: list[icalendar.Component] = field(default_factory=list)
    x_wr_timezone: str | None = None
    zone_votes: Counter[str] = field(default_factory=Counter)

    @property
    def zone(self) -> str | None:
        """Return the calendar's own IANA zone: X-WR-TIMEZONE, else the most used TZID."""
        if self.x_wr_timezone:
            found = resolve_zone(self.x_wr_timezone)
            if found:
                return found
        for name, _count in self.zone_votes.most_common():
            if name != "UTC":
                return name
        for tz in self.timezones:
            found = resolve_zone(str(tz.get("TZID", ""))) or resolve_zone(str(tz.get("X-LIC-LOCATION", "")))
            if found and found != "UTC":
                return found
        return None

    def merge(self, other: ParsedCalendar) -> None:
        """Add another resource of the same calendar (CalDAV keeps one event per resource)."""
        for uid, s in other.series.items():
            if uid in self.series:
                self.series[uid].components.extend(s.components)
                self.series[uid].unknown_zone |= s.unknown_zone
            else:
                self.series[uid] = s
        known = {str(t.get("TZID")) for t in self.timezones}
        self.timezones.extend(t for t in other.timezones if str(t.get("TZID")) not in known)
        self.x_wr_timezone = self.x_wr_timezone or other.x_wr_timezone
        self.zone_votes.update(other.zone_votes)


class _Lines:
    """Find line numbers in the raw text for messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.begins = [i + 1 for i, line in enumerate(self.lines) if _BEGIN_EVENT.match(line)]

    def begin(self, index: int) -> int:
        """Return the line of the index-th BEGIN:VEVENT (1-based), or 0 when unknown."""
        return self.begins[index] if index < len(self.begins) else 0

    def prop(self, begin: int, name: str) -> int:
        """Return the line of property `name` in the event that starts at `begin`, else `begin`."""
        if begin <= 0:
            return 0
        head = re.compile(rf"^{re.escape(name)}[;:]", re.IGNORECASE)
        for i in range(begin, len(self.lines)):
            line = self.lines[i]
            if _END_EVENT.match(line):
                break
            if head.match(line):
                return i + 1
        return begin


def _where(line: int) -> str:
    return f"line {line}: " if line else ""


def _errors(component: Any) -> list[tuple[str, str]]:
    """Return icalendar's per-property parse errors of a component."""
    return [(str(p), str(m)) for p, m in getattr(component, "errors", []) or []]


def _uid(component: icalendar.Component) -> str:
    uid = component.get("UID")
    if uid is not None and str(uid).strip():
        return str(uid).strip()
    # Without a UID the same entry cannot be matched across calendars; a digest of its
    # content at least keeps repeated collections of the same file stable.
    try:
        raw = component.to_ical()
    except Exception:
        raw = repr(sorted(component.keys())).encode()
    return "sha1:" + hashlib.sha1(raw, usedforsecurity=False).hexdigest()


def _start(component: icalendar.Component) -> date | datetime | None:
    prop: Any = component.get("DTSTART")
    if prop is None:
        return None
    if isinstance(prop, list):
        raise ValueError("DTSTART appears more than once")
    value = prop.dt
    if not isinstance(value, date):
        raise ValueError("DTSTART is not a date or a date-time")
    return value


def _events(calendars: Iterable[icalendar.Component]) -> Iterable[icalendar.Component]:
    for cal in calendars:
        yield from cal.walk("VEVENT")


# Where RFC 5545 (with RFC 7953's availability) lets a component stand: the names of its
# possible parents when nested. Other components (X- and IANA names, RFC 9073's VLOCATION,
# PARTICIPANT...) may stand inside any component. At the top of a file anything may stand
# (icalendar's own test files hold bare VEVENTs); what is read is what a VCALENDAR holds.
_PARENTS = {
    "VCALENDAR": frozenset({""}),
    "VEVENT": frozenset({"VCALENDAR"}),
    "VTODO": frozenset({"VCALENDAR"}),
    "VJOURNAL": frozenset({"VCALENDAR"}),
    "VFREEBUSY": frozenset({"VCALENDAR"}),
    "VTIMEZONE": frozenset({"VCALENDAR"}),
    "VAVAILABILITY": frozenset({"VCALENDAR"}),
    "AVAILABLE": frozenset({"VAVAILABILITY"}),
    "STANDARD": frozenset({"VTIMEZONE"}),
    "DAYLIGHT": frozenset({"VTIMEZONE"}),
    "VALARM": frozenset({"VEVENT", "VTODO"}),
}
# Real calendars nest three deep (VCALENDAR, VEVENT, VALARM); deeper is an attack on recursion.
MAX_DEPTH = 8
# Names of the content lines the scan looks at (after icalendar's own splitting and unfolding).
_SCANNED = frozenset({"BEGIN", "END", "RRULE", "EXRULE"})
_NAME_HEAD = re.compile(r"[^:;]*")
_COMPONENT_NAME = re.compile(r"^[A-Z0-9-]{1,40}$")
_RULE_HOLDERS = frozenset({"VEVENT", "STANDARD", "DAYLIGHT"})
_FREQS = frozenset({"SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
_WEEKDAYS = frozenset({"SU", "MO", "TU", "WE", "TH", "FR", "SA"})
_BYDAY = re.compile(r"^([+-]?)([0-9]{1,2})?([A-Z]{2})$")
_UNTIL = re.compile(r"^[0-9]{8}(T[0-9]{6}Z?)?$")
# BYxxx part: (lowest, highest, whether a sign (counting from the end) is allowed; 0 never is).
_BY_RANGES = {
    "BYSECOND": (0, 60, False),
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}


def rule_problem(value: str) -> str | None:
    """Return what makes an RRULE value break RFC 5545 (never quoting it), or None.

    dateutil loops for ever on INTERVAL=0 and fails late, or oddly, on values out of range;
    a rule is checked before anything expands it.
    """
    parts: dict[str, str] = {}
    for piece in value.split(";"):
        if not piece.strip():
            continue
        name, sep, part = piece.partition("=")
        name = name.strip().upper()
        if not sep or not name:
            return "a part is not NAME=VALUE"
        if name in parts:
            return f"{name} appears more than once"
        parts[name] = part.strip().upper()
    for name, part in parts.items():
        problem = _part_problem(name, part)
        if problem:
            return problem
    if "FREQ" not in parts:
        return "FREQ is missing"
    if "COUNT" in parts and "UNTIL" in parts:
        return "COUNT and UNTIL may not both be given"
    if "BYMONTH" in parts and "BYMONTHDAY" in parts and not _some_day(parts["BYMONTH"], parts["BYMONTHDAY"]):
        # dateutil would look for such a day up to the year 9999, one period at a time
        return "no month of BYMONTH has a day of BYMONTHDAY: it never occurs"
    return None


_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _some_day(months: str, days: str) -> bool:
    """Tell whether some month of BYMONTH has some day of BYMONTHDAY (both already in range)."""
    longest = max(_MONTH_DAYS[int(m) - 1] for m in months.split(","))
    return any(abs(int(d)) <= longest for d in days.split(","))


def _whole(text: str) -> int | None:
    if not text or len(text) > 9:
        return None
    sign = text[0] in "+-"
    digits = text[1:] if sign else text
    if not digits.isascii() or not digits.isdigit():
        return None
    return int(text)


def _part_problem(name: str, part: str) -> str | None:
    if name == "FREQ":
        return None if part in _FREQS else "FREQ must be SECONDLY to YEARLY"
    if name in ("INTERVAL", "COUNT"):
        number = _whole(part)
        ok = number is not None and number >= 1 and part[0] not in "+-"
        return None if ok else f"{name} must be a whole number of at least 1"
    if name == "UNTIL":
        return None if _UNTIL.match(part) else "UNTIL must be a date or a date-time"
    if name == "WKST":
        return None if part in _WEEKDAYS else "WKST must be a weekday (MO...SU)"
    values = part.split(",")
    if name == "BYDAY":
        for item in values:
            found = _BYDAY.match(item)
            if not found or found.group(3) not in _WEEKDAYS:
                return "BYDAY values must be weekdays (MO...SU), optionally numbered"
            if found.group(2) is not None and not 1 <= int(found.group(2)) <= 53:
                return "BYDAY numbers must be 1 to 53"
            if found.group(1) and found.group(2) is None:
                return "BYDAY values must be weekdays (MO...SU), optionally numbered"
        return None
    if name in _BY_RANGES:
        low, high, signed = _BY_RANGES[name]
        for item in values:
            number = _whole(item)
            if number is None or (item[0] in "+-" and not signed) or not low <= abs(number) <= high:
                also = f" or -{high} to -{low}" if signed else ""
                return f"{name} values must be {low} to {high}{also}"
        return None
    if name.startswith("X-"):
        return None
    return "a part has an unknown name"


@dataclass
class _Scan:
    """What the scan of the raw text found: the fatal problem, and each event's broken rules."""

    problem: str | None = None
    event_lines: list[int] = field(default_factory=list)  # the BEGIN:VEVENT line of each event
    bad_rules: dict[int, list[str]] = field(default_factory=dict)  # event index -> messages


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (first physical line number, unfolded line) as icalendar splits and unfolds them.

    The text is unfolded with icalendar's own expressions, so that no line is seen here
    otherwise than icalendar's parser will see it.
    """
    removed: list[tuple[int, int]] = []  # (offset in the unfolded text, line breaks removed there)
    shift = 0

    def drop(fold: re.Match[str]) -> str:
        nonlocal shift
        removed.append((fold.start() - shift, fold.group(0).count("\n")))
        shift += fold.end() - fold.start()
        return ""

    unfolded = UFOLD.sub(drop, text)
    start = folded = k = 0
    for breaks, sep in enumerate([*NEWLINE.finditer(unfolded), None]):
        end = sep.start() if sep is not None else len(unfolded)
        while k < len(removed) and removed[k][0] <= start:
            folded += removed[k][1]
            k += 1
        yield 1 + breaks + folded, unfolded[start:end]
        if sep is None:
            return
        start = sep.end()


def _shown(name: str) -> str:
    """Return a component name for a message: a name, never some other text of the file."""
    return name if _COMPONENT_NAME.match(name) else "(not a component name)"


def _scan(text: str) -> _Scan:
    """Check the components' nesting and the recurrence rules, the way icalendar will read them.

    The lines are split, unfolded and named exactly as icalendar's parser does (a BEGIN
    folded over two lines, or with parameters, is still a BEGIN), so what icalendar builds
    is what was checked. A VEVENT inside a VEVENT would escape every guard on the outer
    one's expansion; a cut or mismatched END would replace a stored calendar with a part.
    """
    found = _Scan()
    stack: list[tuple[str, int]] = []
    for number, line in _logical_lines(text):
        head = _NAME_HEAD.match(line)
        crude = re.sub(r"[ \t]+", "", head.group(0) if head else "").upper()
        if crude not in _SCANNED:
            continue
        try:
            name, _params, value = Contentline(line).parts()
        except Exception:
            continue  # icalendar skips (or refuses) such a line too
        verb = name.upper()
        if verb in ("RRULE", "EXRULE"):
            holder = stack[-1][0] if stack else ""
            if holder not in _RULE_HOLDERS:
                continue  # not expanded here: VTODO, VJOURNAL, X- components
            problem = rule_problem(value)
            if problem is None and holder != "VEVENT" and not _yearly(value):
                problem = "a time zone's rule must be FREQ=YEARLY"
            if problem is None:
                continue
            if holder == "VEVENT":
                found.bad_rules.setdefault(len(found.event_lines) - 1, []).append(
                    f"line {number}: {verb} is invalid ({problem}); event skipped"
                )
            else:
                found.problem = f"line {number}: {verb} of a time zone is invalid ({problem})"
                return found
            continue
        comp = value.upper()
        if verb == "BEGIN":
            parent = stack[-1] if stack else ("", 0)
            allowed = _PARENTS.get(comp)
            if len(stack) >= MAX_DEPTH:
                found.problem = f"line {number}: components nested more than {MAX_DEPTH} deep"
                return found
            if stack and allowed is not None and parent[0] not in allowed:
                found.problem = (
                    f"line {number}: BEGIN:{_shown(comp)} inside {_shown(parent[0])} of line {parent[1]} "
                    "(RFC 5545 does not nest it there)"
                )
                return found
            stack.append((comp, number))
            if comp == "VEVENT":
                found.event_lines.append(number)
        elif not stack:
            found.problem = f"line {number}: END:{_shown(comp)} without a BEGIN:{_shown(comp)}"
            return found
        elif stack[-1][0].strip() != comp.strip():
            opened, at = stack[-1]
            opened = _shown(opened)
            found.problem = f"line {number}: END:{_shown(comp)} does not match BEGIN:{opened} of line {at}"
            return found
        else:
            stack.pop()
    if stack:
        name, at = stack[-1]  # the innermost: where the cut fell
        name = _shown(name)
        found.problem = f"line {at}: BEGIN:{name} never ends (no END:{name}: the file is cut short?)"
    return found


def _yearly(value: str) -> bool:
    return any(
        piece.partition("=")[0].strip().upper() == "FREQ"
        and piece.partition("=")[2].strip().upper() == "YEARLY"
        for piece in value.split(";")
    )


def structure_problem(text: str) -> str | None:
    """Return what breaks the nesting of RFC 5545 (by line), or None when it holds.

    icalendar reads a file cut short (no END:VCALENDAR) as an empty calendar and an END that
    names another component as closing the open one. Read whole, such a file would replace
    the stored calendar with what survived the cut, so every BEGIN must meet its own END,
    and each component must stand where RFC 5545 puts it (no VEVENT inside a VEVENT).
    """
    return _scan(text).problem


def parse_calendar(text: str, report: Report, budget: Budget | None = None) -> ParsedCalendar | None:
    """Parse one iCalendar text; report broken events by line and keep the others.

    Returns None, with one problem, when the text is not a whole calendar: its events must
    then not replace what the calendar said before.
    """
    if "BEGIN:VCALENDAR" not in text[:4096].upper():
        report("line 1: not an iCalendar file (no BEGIN:VCALENDAR)")
        return None
    scan = _scan(text)
    if scan.problem is not None:
        report(f"{scan.problem}; {_KEPT}")
        return None
    try:
        with warnings.catch_warnings():
            # icalendar warns when it guesses a vendor-prefixed TZID; the guess is what we want.
            warnings.simplefilter("ignore")
            calendars = icalendar.Calendar.from_ical(text, multiple=True)
    except Exception as exc:  # icalendar raises ValueError and a few others on malformed text
        report(f"not a readable iCalendar file: {_unquoted(exc)}; {_KEPT}")
        return None
    lines = _Lines(text)
    parsed = ParsedCalendar()
    unknown_reported: set[str] = set()
    for cal in calendars:
        if parsed.x_wr_timezone is None and cal.get("X-WR-TIMEZONE"):
            parsed.x_wr_timezone = str(cal.get("X-WR-TIMEZONE"))
        parsed.timezones.extend(cal.walk("VTIMEZONE"))
    for index, event in enumerate(_events(calendars)):
        if budget is not None:
            budget.check()
        begin = lines.begin(index)
        broken = [(p, m) for p, m in _errors(event) if p.upper() in _TIME_PROPS]
        if broken:
            for prop, message in broken:
                report(
                    f"{_where(lines.prop(begin, prop))}{prop} is invalid ({_safe(message)}); event skipped"
                )
            continue
        if index in scan.bad_rules:
            for message in scan.bad_rules[index]:
                report(message)
            continue
        try:
            start = _start(event)
        except Exception as exc:
            report(f"{_where(lines.prop(begin, 'DTSTART'))}{_safe(exc)}; event skipped")
            continue
        if start is None:
            report(f"{_where(begin)}event without DTSTART; skipped")
            continue
        uid = _uid(event)
        series = parsed.series.get(uid)
        if series is None:
            series = parsed.series[uid] = Series(uid=uid, line=begin)
        series.components.append(event)
        tzid = event["DTSTART"].params.get("TZID")
        if isinstance(start, datetime) and tzid:
            if start.tzinfo is None:
                series.unknown_zone = True
                if tzid not in unknown_reported:
                    unknown_reported.add(tzid)
                    report(
                        f"{_where(lines.prop(begin, 'DTSTART'))}unknown time zone {_safe(tzid)!r} "
                        "(no VTIMEZONE, not an IANA or Windows name); read as UTC"
                    )
            else:
                zone = resolve_zone(tzid) or getattr(start.tzinfo, "key", None)
                if zone:
                    parsed.zone_votes[str(zone)] += 1
    return parsed


def _unquoted(value: object) -> str:
    """Return a parser's message without what it quotes: that can be any line, a title included."""
    return _safe(re.sub(r"'[^']*'|\"[^\"]*\"", "(...)", str(value)))


def _safe(value: object) -> str:
    """Return a short, single-line version of an error text for a message."""
    text = " ".join(str(value).split())
    # Parser messages may quote the offending value; keep only a short prefix of it and
    # drop anything that looks like an address.
    text = re.sub(r"\S+@\S+", "<address>", text)
    return text[:120]
