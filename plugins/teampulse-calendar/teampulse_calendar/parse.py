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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import icalendar

from .windows_zones import resolve_zone

__all__ = ["ParsedCalendar", "Series", "parse_calendar", "structure_problem"]

# Properties whose damage changes what an event means to us; damage elsewhere is ignored.
_TIME_PROPS = ("DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID")
_BEGIN_EVENT = re.compile(r"^BEGIN:VEVENT\s*$", re.IGNORECASE)
_END_EVENT = re.compile(r"^END:VEVENT\s*$", re.IGNORECASE)
# A BEGIN or END line; folded continuation lines start with a space, so never match.
_MARK = re.compile(r"^(BEGIN|END):([A-Za-z0-9-]{1,40})[ \t]*$", re.IGNORECASE)
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


def structure_problem(text: str) -> str | None:
    """Return what breaks the BEGIN/END nesting of RFC 5545 (by line), or None when it holds.

    icalendar reads a file cut short (no END:VCALENDAR) as an empty calendar and an END that
    names another component as closing the open one. Read whole, such a file would replace
    the stored calendar with what survived the cut, so every BEGIN must meet its own END.
    """
    stack: list[tuple[str, int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        mark = _MARK.match(line)
        if mark is None:
            continue
        verb, name = mark.group(1).upper(), mark.group(2).upper()
        if verb == "BEGIN":
            stack.append((name, number))
        elif not stack:
            return f"line {number}: END:{name} without a BEGIN:{name}"
        elif stack[-1][0] != name:
            opened, at = stack[-1]
            return f"line {number}: END:{name} does not match BEGIN:{opened} of line {at}"
        else:
            stack.pop()
    if stack:
        name, at = stack[-1]  # the innermost: where the cut fell
        return f"line {at}: BEGIN:{name} never ends (no END:{name}: the file is cut short?)"
    return None


def parse_calendar(text: str, report: Report) -> ParsedCalendar | None:
    """Parse one iCalendar text; report broken events by line and keep the others.

    Returns None, with one problem, when the text is not a whole calendar: its events must
    then not replace what the calendar said before.
    """
    if "BEGIN:VCALENDAR" not in text[:4096].upper():
        report("line 1: not an iCalendar file (no BEGIN:VCALENDAR)")
        return None
    unbalanced = structure_problem(text)
    if unbalanced is not None:
        report(f"{unbalanced}; {_KEPT}")
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
        begin = lines.begin(index)
        broken = [(p, m) for p, m in _errors(event) if p.upper() in _TIME_PROPS]
        if broken:
            for prop, message in broken:
                report(
                    f"{_where(lines.prop(begin, prop))}{prop} is invalid ({_safe(message)}); event skipped"
                )
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
