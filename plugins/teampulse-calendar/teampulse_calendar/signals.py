"""Turn one person's calendar into meeting, time_off and timezone signals."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

import icalendar

from teampulse import Event, PersonSignal, SignalsReplaced, TeamInfo

from .budget import Budget
from .config import CommonSettings, is_email
from .expand import Occurrence, expand
from .parse import ParsedCalendar

__all__ = ["Attendance", "calendar_signals", "fallback_zone"]

Report = Callable[[str], None]
# Attendees that are not people: rooms, equipment and mailing lists.
_NOT_PEOPLE = {"ROOM", "RESOURCE", "GROUP"}


def _email(prop: object) -> str | None:
    """Return the lower-cased e-mail address of an ORGANIZER or ATTENDEE value, or None."""
    params = getattr(prop, "params", {}) or {}
    candidates = [str(params.get("EMAIL", "")), str(prop)]
    for raw in candidates:
        value = raw.strip()
        if value.lower().startswith("mailto:"):
            value = value[7:]
        value = value.strip().lower()
        if is_email(value):
            return value
    return None


def _list(value: object) -> list[object]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Attendance:
    """Who an occurrence involves, as the owner's calendar says."""

    organizer: str | None
    people: tuple[str, ...]  # attending and not declined, organizer and owner included
    owner_declined: bool
    alone: bool  # nobody but the owner


def attendance(component: icalendar.Component, owner: str) -> Attendance:
    """Read ORGANIZER and ATTENDEE lines relative to the calendar's owner."""
    organizer = _email(component.get("ORGANIZER")) if component.get("ORGANIZER") is not None else None
    people = {owner}
    declined: set[str] = set()
    owner_declined = False
    for attendee in _list(component.get("ATTENDEE")):
        params = getattr(attendee, "params", {}) or {}
        if str(params.get("CUTYPE", "INDIVIDUAL")).upper() in _NOT_PEOPLE:
            continue
        email = _email(attendee)
        if email is None:
            continue
        if str(params.get("PARTSTAT", "")).upper() == "DECLINED":
            declined.add(email)
            if email == owner:
                owner_declined = True
            continue
        people.add(email)
    if organizer and organizer not in declined:
        people.add(organizer)
    return Attendance(organizer, tuple(sorted(people)), owner_declined, people == {owner})


def _text(component: icalendar.Component, name: str) -> str:
    value = component.get(name)
    return str(value).strip().upper() if value is not None else ""


def _categories(component: icalendar.Component) -> list[str]:
    out: list[str] = []
    for prop in _list(component.get("CATEGORIES")):
        cats = getattr(prop, "cats", None)
        if cats is not None:
            out.extend(str(c) for c in cats)
        else:
            out.extend(str(prop).split(","))
    return out


def fallback_zone(owner: str, teams: Sequence[TeamInfo], default: str) -> str:
    """Return the zone for a calendar that names none: its team's, else the source's default."""
    for team in teams:
        if owner == team.manager.lower() or owner in (m.lower() for m in team.members):
            zone = team.settings.get("timezone") if team.settings else None
            if zone:
                return str(zone)
    return default


def calendar_signals(
    owner: str,
    parsed: ParsedCalendar,
    now: datetime,
    settings: CommonSettings,
    fallback: str,
    report: Report,
    budget: Budget | None = None,
) -> list[PersonSignal]:
    """Return the signals of one person's calendar (meetings, time off, their time zone)."""
    zone_name = parsed.zone
    zone: tzinfo = ZoneInfo(zone_name or fallback)
    lo, hi = now - settings.back, now + settings.ahead
    out: dict[str, PersonSignal] = {}
    occurrences = expand(parsed, lo, hi, zone, settings.max_instances, report, budget)
    for signal in _signals(owner, occurrences, settings):
        out.setdefault(signal.id, signal)  # a duplicated entry in one file is one signal
    if zone_name:
        out[f"tz|{owner}"] = PersonSignal(
            id=f"tz|{owner}", kind="timezone", start=now, end=now, person=owner, attrs={"tz": zone_name}
        )
    return list(out.values())


def replacing(
    owner: str, now: datetime, settings: CommonSettings, signals: list[PersonSignal]
) -> list[Event]:
    """Return the batch for one calendar read whole: it replaces what it said before."""
    window = SignalsReplaced(owner, ("meeting", "time_off"), now - settings.back, now + settings.ahead)
    return [window, *(replace(s, owner=owner) for s in signals)]


def _signals(
    owner: str, occurrences: Iterable[Occurrence], settings: CommonSettings
) -> Iterator[PersonSignal]:
    classifier = settings.classifier
    for occ in occurrences:
        c = occ.component
        if _text(c, "STATUS") == "CANCELLED":
            continue
        who = attendance(c, owner)
        if who.owner_declined:
            continue
        title = str(c.get("SUMMARY", ""))
        away = (
            _text(c, "X-MICROSOFT-CDO-BUSYSTATUS") == "OOF"
            or _text(c, "X-MICROSOFT-CDO-INTENDEDSTATUS") == "OOF"
            or _text(c, "X-GOOGLE-EVENT-TYPE") == "OUTOFOFFICE"
            or ((occ.all_day or who.alone) and classifier.is_absence(title, _categories(c)))
        )
        if away:
            yield PersonSignal(
                id=f"{occ.uid}|{occ.key}|{owner}", kind="time_off", start=occ.start, end=occ.end, person=owner
            )
            continue
        if occ.all_day:
            continue  # birthdays, holidays of other countries, reminders: markers, not meetings
        if who.alone and _text(c, "TRANSP") == "TRANSPARENT":
            continue  # a private "free" block occupies nobody's time
        yield PersonSignal(
            id=f"{occ.uid}|{occ.key}",
            kind="meeting",
            start=occ.start,
            end=occ.end,
            person=who.organizer or owner,
            people=who.people,
            attrs={"category": classifier.category(title), "recurring": occ.recurring},
        )
