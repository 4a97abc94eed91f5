"""Expand each series into its occurrences inside a bounded window, in bounded time."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import icalendar
import recurring_ical_events

from .budget import Budget
from .horizon import horizon
from .parse import ParsedCalendar, Series

__all__ = ["MAX_RULE_STEPS", "Occurrence", "expand", "rule_steps"]

# dateutil walks a rule from DTSTART, one step per period, before it reaches the window:
# a FREQ=MINUTELY rule that began in 1990 takes minutes. Rules estimated above this many
# steps are reported and skipped instead (about half a second of work each).
MAX_RULE_STEPS = 100_000
_PERIOD_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}
_ORDER = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
# The unit each BYxxx part enumerates, to tell whether it multiplies the steps or filters them.
_BY_UNIT = {
    "BYMONTH": "MONTHLY",
    "BYWEEKNO": "WEEKLY",
    "BYYEARDAY": "DAILY",
    "BYMONTHDAY": "DAILY",
    "BYDAY": "DAILY",
    "BYHOUR": "HOURLY",
    "BYMINUTE": "MINUTELY",
    "BYSECOND": "SECONDLY",
}
# Years past the window's end that dateutil still searches for a rule's next date: enough
# for the slack below and a zone's offset, and a rule no date satisfies stops there.
_HORIZON_YEARS = 1
# Slack around the window for floating and all-day times, whose offset is applied afterwards.
_SLACK = timedelta(days=2)

Report = Callable[[str], None]


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a series, with its times in UTC."""

    uid: str
    component: icalendar.Component  # the occurrence's own properties (overrides applied)
    start: datetime
    end: datetime
    all_day: bool
    key: str  # the occurrence in ids: UTC "2026-03-02T09:00:00Z", or the date for all-day ones
    recurring: bool = False  # one of a series (RRULE/RDATE), not a one-off booking


def _to_utc(value: date | datetime, zone: tzinfo, unknown_zone: bool) -> datetime:
    """Return a UTC time: dates start at midnight in `zone`, floating times are in `zone`."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0), zone).astimezone(UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC if unknown_zone else zone).astimezone(UTC)
    return value.astimezone(UTC)


def rule_steps(component: icalendar.Component, until: datetime) -> int:
    """Estimate how many steps dateutil takes to expand the component's RRULEs up to `until`."""
    rules = component.get("RRULE")
    if rules is None:
        return 0
    prop: Any = component.get("DTSTART")
    start = prop.dt
    if isinstance(start, datetime):
        begin = start if start.tzinfo else start.replace(tzinfo=UTC)
    else:
        begin = datetime.combine(start, time(0), UTC)
    seconds = max((until - begin).total_seconds(), 0.0)
    total = 0
    for rule in rules if isinstance(rules, list) else [rules]:
        total += _steps(rule, seconds)
    return total


def _steps(rule: Any, seconds: float) -> int:
    freq = str((rule.get("FREQ") or ["DAILY"])[0]).upper()
    if freq not in _PERIOD_SECONDS:
        return 0
    interval = int((rule.get("INTERVAL") or [1])[0])
    if interval < 1:
        return MAX_RULE_STEPS * 1000  # dateutil never ends such a rule (parse reports it first)
    steps = seconds / (_PERIOD_SECONDS[freq] * interval) + 1
    level = _ORDER.index(freq)
    for part, unit in _BY_UNIT.items():
        values = rule.get(part)
        if values and _ORDER.index(unit) > level:
            steps *= len(values) if isinstance(values, list) else 1
    count = rule.get("COUNT")
    if count:
        steps = min(steps, float(count[0]) * 32)  # a counted rule stops; filters may skip some steps
    return int(steps)


def _fix_date_until(component: icalendar.Component, zone: tzinfo) -> None:
    """Read a date-only UNTIL on a date-time rule as the end of that day, as Google means it.

    RFC 5545 wants UNTIL to have DTSTART's type; dateutil reads a date as its midnight and
    so drops the last occurrence that Google's own UI shows.
    """
    start: Any = component.get("DTSTART")
    if start is None or not isinstance(start.dt, datetime):
        return
    rules = component.get("RRULE")
    for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
        until = rule.get("UNTIL")
        if not until or isinstance(until[0], datetime):
            continue
        end_of_day = datetime.combine(until[0], time(23, 59, 59))
        if start.dt.tzinfo is None:
            rule["UNTIL"] = [end_of_day]
        else:
            rule["UNTIL"] = [end_of_day.replace(tzinfo=zone).astimezone(UTC)]


def _calendar_for(series: Series, parsed: ParsedCalendar, zone: tzinfo) -> icalendar.Calendar:
    for component in series.components:
        _fix_date_until(component, zone)
    cal = icalendar.Calendar()
    if parsed.x_wr_timezone:
        # recurring-ical-events applies X-WR-TIMEZONE (via x-wr-timezone): Google writes
        # UTC times that recur in the calendar's local time.
        cal.add("X-WR-TIMEZONE", parsed.x_wr_timezone)
    for tz in parsed.timezones:
        cal.add_component(tz)
    for component in series.components:
        cal.add_component(component)
    return cal


def expand(
    parsed: ParsedCalendar,
    lo: datetime,
    hi: datetime,
    zone: tzinfo,
    max_instances: int,
    report: Report,
    budget: Budget | None = None,
) -> Iterator[Occurrence]:
    """Yield the occurrences overlapping [lo, hi]; report bad series and the cap.

    Never raises but BudgetExceeded (not an Exception), which the budget's checks raise
    between series and between occurrences.
    """
    count = 0
    for series in parsed.series.values():
        if budget is not None:
            budget.check()
        steps = max((rule_steps(c, hi) for c in series.components), default=0)
        if steps > MAX_RULE_STEPS:
            report(
                f"line {series.line}: RRULE repeats too often to expand "
                f"(about {steps:,} steps before the window); event skipped"
            )
            continue
        if _outside(series, lo - _SLACK, hi + _SLACK):
            continue
        try:
            with warnings.catch_warnings(), horizon(hi.year + _HORIZON_YEARS):
                warnings.simplefilter("ignore")  # library notes on guessed zones are not ours to log
                found = list(
                    _series_occurrences(series, parsed, lo, hi, zone, max_instances - count + 1, budget)
                )
            for occurrence in found:
                count += 1
                if count > max_instances:
                    report(
                        f"more than {max_instances} occurrences in the window (max_instances); the rest skipped"
                    )
                    return
                yield occurrence
        except Exception as exc:  # recurring-ical-events raises many kinds on malformed rules
            report(f"line {series.line}: cannot expand the event ({type(exc).__name__}); event skipped")


def _naive_utc(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, time(0))
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _outside(series: Series, lo: datetime, hi: datetime) -> bool:
    """Tell cheaply whether a series without recurrence lies wholly outside [lo, hi].

    Most of a long-lived calendar is single events in the past; building a query for each
    would cost more than parsing the file.
    """
    try:
        lo_n, hi_n = _naive_utc(lo), _naive_utc(hi)
        for component in series.components:
            if component.get("RRULE") is not None or component.get("RDATE") is not None:
                return False
            start: Any = component.get("DTSTART")
            end: Any = component.get("DTEND")
            duration: Any = component.get("DURATION")
            first = _naive_utc(start.dt)
            last = _naive_utc(end.dt) if end is not None else first
            if duration is not None and end is None:
                last = first + duration.dt
            if first <= hi_n and max(first, last) >= lo_n:
                return False
    except Exception:
        return False  # let the full expansion decide, and report
    return True


def _series_occurrences(
    series: Series,
    parsed: ParsedCalendar,
    lo: datetime,
    hi: datetime,
    zone: tzinfo,
    limit: int,
    budget: Budget | None = None,
) -> Iterator[Occurrence]:
    # The window is widened and cut again below: floating and all-day times get their
    # offset only once converted, and the library compares them without one.
    span_lo, span_hi = lo - _SLACK, hi + _SLACK
    query = recurring_ical_events.of(_calendar_for(series, parsed, zone))
    for ser in query.series:
        for occ in ser.between(span_lo, span_hi):
            if budget is not None:
                budget.check()
            all_day = not isinstance(occ.start, datetime)
            start = _to_utc(occ.start, zone, series.unknown_zone)
            end = _to_utc(occ.end, zone, series.unknown_zone) if occ.end is not None else start
            if end < start:
                end = start
            if not (start <= hi and (end > lo or start >= lo)):
                continue
            key = occ.start.isoformat() if all_day else start.strftime("%Y-%m-%dT%H:%M:%SZ")
            recurring = any(
                c.get("RRULE") is not None or c.get("RDATE") is not None for c in series.components
            )
            yield Occurrence(series.uid, occ.as_component(False), start, end, all_day, key, recurring)
            limit -= 1
            if limit <= 0:
                return
