"""The demo's people side: one calendar per person and a pulse survey, written as files.

Calendars are plain iCalendar in UTC with X-WR-TIMEZONE, as Google exports them, and the time
off of one person in the Exchange way (X-MICROSOFT-CDO-BUSYSTATUS:OOF). The stories:

- payments (the management-only crunch): weekly 1:1s stop when the crunch begins; late calls.
- platform (the same crunch, answered): 1:1s go on, and the lead holds extra ones in the crunch.
- mobile (the anniversary): a release item is due today and its owner has the day off for an
  anniversary; the manager booked a release sync over it.
- data: calm; only three survey responses, below the anonymity threshold.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from teampulse_jira_emulator import Organisation, OrgTeam
from teampulse_jira_emulator.generate import CRUNCH_DAYS


@dataclass
class CalendarEvent:
    """One VEVENT of a generated calendar (times aware, or dates for all-day entries)."""

    uid: str
    start: datetime | date
    end: datetime | date
    summary: str
    organizer: str | None = None
    attendees: tuple[str, ...] = ()
    rrule: str | None = None
    transparent: bool = False
    categories: str | None = None
    oof: bool = False


@dataclass
class _Calendars:
    zones: dict[str, str]
    events: dict[str, list[CalendarEvent]] = field(default_factory=dict)

    def add(self, event: CalendarEvent, owners: Iterable[str]) -> None:
        for owner in owners:
            self.events.setdefault(owner, []).append(event)


def _stamp(value: datetime | date) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _fold(line: str) -> str:
    # RFC 5545 3.1: lines longer than 75 octets are folded with CRLF and a space.
    out, raw = [], line.encode()
    while len(raw) > 75:
        cut = 75
        while (raw[cut] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            cut -= 1
        out.append(raw[:cut].decode())
        raw = b" " + raw[cut:]
    out.append(raw.decode())
    return "\r\n".join(out)


def render_calendar(owner_zone: str, events: list[CalendarEvent], now: datetime) -> str:
    """Return an iCalendar file of these events, in UTC with the owner's X-WR-TIMEZONE."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//teampulse//demo calendars//EN",
             "CALSCALE:GREGORIAN", f"X-WR-TIMEZONE:{owner_zone}"]  # fmt: skip
    for ev in events:
        lines += ["BEGIN:VEVENT", f"UID:{ev.uid}", f"DTSTAMP:{_stamp(now)}"]
        if isinstance(ev.start, datetime):
            lines += [f"DTSTART:{_stamp(ev.start)}", f"DTEND:{_stamp(ev.end)}"]
        else:
            lines += [f"DTSTART;VALUE=DATE:{_stamp(ev.start)}", f"DTEND;VALUE=DATE:{_stamp(ev.end)}"]
        if ev.rrule:
            lines.append(f"RRULE:{ev.rrule}")
        lines.append(f"SUMMARY:{ev.summary}")
        if ev.organizer:
            lines.append(f"ORGANIZER:mailto:{ev.organizer}")
        for person in ev.attendees:
            lines.append(f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:{person}")
        if ev.transparent:
            lines.append("TRANSP:TRANSPARENT")
        if ev.categories:
            lines.append(f"CATEGORIES:{ev.categories}")
        if ev.oof:
            lines.append("X-MICROSOFT-CDO-BUSYSTATUS:OOF")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"


def local_time(day: date, clock: time, zone: str) -> datetime:
    return datetime.combine(day, clock, ZoneInfo(zone)).astimezone(UTC)


def _weekday_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _uid(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:20] + "@demo.example"


def _team_calendars(cal: _Calendars, team: OrgTeam, now: datetime, index: int) -> None:
    zone = team.timezone
    today = now.astimezone(ZoneInfo(zone)).date()
    start = today - timedelta(days=60)
    crunch_start = today - timedelta(days=CRUNCH_DAYS)
    everyone = (team.manager_email, *team.member_emails)
    # Daily stand-up: the team check-in.
    first = _weekday_on_or_after(start, 0)
    standup = CalendarEvent(_uid(team.name, "standup"), local_time(first, time(9, 30), zone),
                     local_time(first, time(9, 45), zone), f"{team.name} daily stand-up", team.manager_email,
                     everyone, "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")  # fmt: skip
    cal.add(standup, everyone)
    for n, member in enumerate(team.member_emails):
        day = _weekday_on_or_after(start, n % 5)
        rule = "FREQ=WEEKLY"
        if team.name == "payments":
            # The manager lets the 1:1s lapse when the crunch begins.
            rule += f";UNTIL={_stamp(local_time(crunch_start - timedelta(days=1), time(23, 0), zone))}"
        one = CalendarEvent(_uid(team.name, "1:1", member), local_time(day, time(10 + n % 4, 0), zone),
                     local_time(day, time(10 + n % 4, 30), zone), "1:1", team.manager_email,
                     (team.manager_email, member), rule)  # fmt: skip
        cal.add(one, (team.manager_email, member))
    if team.name == "platform":
        # The lead answers the crunch: a 1:1 with each person carrying the load.
        for n, member in enumerate(team.member_emails):
            day = today - timedelta(days=1 + n % 3)
            if day.weekday() >= 5:
                day -= timedelta(days=2)
            extra = CalendarEvent(_uid(team.name, "crunch 1:1", member), local_time(day, time(15, 0), zone),
                           local_time(day, time(15, 30), zone), "1:1 - crunch plan", team.manager_email,
                           (team.manager_email, member))  # fmt: skip
            cal.add(extra, (team.manager_email, member))
    if team.name == "payments":
        # Late calls during the crunch, after everyone's working hours.
        for k in range(1, CRUNCH_DAYS):
            day = today - timedelta(days=k)
            if day.weekday() < 5:
                late = CalendarEvent(_uid(team.name, "late", str(k)), local_time(day, time(19, 30), zone),
                              local_time(day, time(21, 0), zone), "release war room", team.manager_email,
                              everyone)  # fmt: skip
                cal.add(late, everyone)
    # Past time off: a week of holiday as an all-day transparent entry, Google style.
    away = team.member_emails[index % len(team.member_emails)]
    holiday = today - timedelta(days=25)
    cal.add(CalendarEvent(_uid(team.name, "holiday", away), holiday, holiday + timedelta(days=5), "Vacation",
                   transparent=True, categories="Vacation"), (away,))  # fmt: skip


def _anniversary(cal: _Calendars, org: Organisation, team: OrgTeam, now: datetime) -> str:
    """Book the mobile release sync over a member's anniversary day off; return the member."""
    member = team.member_emails[1]
    today = now.astimezone(ZoneInfo(team.timezone)).date()
    cal.add(CalendarEvent(_uid(team.name, "anniversary", member), today, today + timedelta(days=1),
                   "Day off: 30th wedding anniversary", oof=True, transparent=True), (member,))  # fmt: skip
    sync = CalendarEvent(_uid(team.name, "release sync"), local_time(today, time(11, 0), team.timezone),
                  local_time(today, time(12, 0), team.timezone), "Release sync", team.manager_email,
                  (team.manager_email, member, team.member_emails[2]))  # fmt: skip
    cal.add(sync, (team.manager_email, member, team.member_emails[2]))
    # The release it depends on is due today and sits with the person on their day off.
    ds = org.dataset
    key = ds.create_issue(team.project_key, "Release 4.2", status="To Do", assignee=member,
                          duedate=today, at=now - timedelta(days=12))  # fmt: skip
    ds.transition(key, "In Progress", at=now - timedelta(days=6))
    return member


def write_people_data(org: Organisation, folder: Path, now: datetime) -> dict[str, Path]:
    """Write calendars/<e-mail>.ics and surveys/pulse.csv for the organisation."""
    cal = _Calendars(zones=dict(org.timezones))
    for index, team in enumerate(org.teams):
        _team_calendars(cal, team, now, index)
    mobile = next((t for t in org.teams if t.name == "mobile"), None)
    if mobile is not None:
        _anniversary(cal, org, mobile, now)
    calendars = folder / "calendars"
    calendars.mkdir(parents=True, exist_ok=True)
    for person, events in sorted(cal.events.items()):
        zone = org.timezones.get(person, "UTC")
        (calendars / f"{person}.ics").write_text(render_calendar(zone, events, now), newline="")
    surveys = folder / "surveys"
    surveys.mkdir(parents=True, exist_ok=True)
    answers = {"payments": (2, 2, 5), "platform": (4, 4, 4), "mobile": (4, 3, 3), "data": (5, 4, 2)}
    counts = {"payments": 6, "platform": 6, "mobile": 5, "data": 3}
    with (surveys / "pulse.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["submitted_at", "team", "q_support", "q_wellbeing", "q_workload", "comment"])
        for team in org.teams:
            support, wellbeing, workload = answers.get(team.name, (4, 4, 3))
            for k in range(counts.get(team.name, 5)):
                at = (now - timedelta(days=2 + k, hours=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
                writer.writerow(
                    [at, team.name, max(1, support - k % 2), wellbeing, workload, "free text, never stored"]
                )
    return {"calendars": calendars, "surveys": surveys}
