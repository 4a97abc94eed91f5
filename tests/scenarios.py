"""The stories teampulse exists for (the anniversary, the deployment) as fixture data: a Jira emulator dataset and calendar files.

Six teams, each a manager and five members, with 45 days of calm history:

- anniv-mgr: a release is due today; its owner has the day off for an anniversary and the
  manager booked a release sync over it. Expect TimeOffOverriddenUnderPressure.
- anniv-lead: the same, but the lead moved the due date and held a 1:1 before. Expect nothing.
- deploy-mgr: a member is away for months; the rest carry his work (work in progress per
  available person climbs) and nobody acts. Expect ProcessPressureWithoutLeadership.
- deploy-lead: the same, but his work is reassigned, the lead holds weekly 1:1s with the people
  carrying it and records a support action. Expect nothing.
- calm: nothing happens and nobody acts. Expect nothing: no pressure, nothing to answer.
- crunch-1on1: a deadline crunch, answered by the lead's regular weekly 1:1s. Expect nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from teampulse_demo.people import CalendarEvent, render_calendar
from teampulse_jira_emulator import Dataset

TEAMS = ("anniv-mgr", "anniv-lead", "deploy-mgr", "deploy-lead", "calm", "crunch-1on1")
EXPECTED = {
    ("TimeOffOverriddenUnderPressure", "anniv-mgr"),
    ("ProcessPressureWithoutLeadership", "deploy-mgr"),
}
D = timedelta(days=1)


def manager(team: str) -> str:
    return f"lead.{team}@scenario.example"


def members(team: str) -> list[str]:
    return [f"m{i}.{team}@scenario.example" for i in range(1, 6)]


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


def _workdays(day: date, n: int) -> date:
    while n > 0:
        day += D
        if day.weekday() < 5:
            n -= 1
    return day


@dataclass
class Built:
    dataset: Dataset
    calendars: Path
    now: datetime
    recorded: list[tuple[str, str, datetime]]  # (team, kind, at) to record with `teampulse action add`


class _Builder:
    def __init__(self, now: datetime, folder: Path) -> None:
        self.now = now
        self.today = now.date()
        self.ds = Dataset(now=now)
        self.events: dict[str, list[CalendarEvent]] = {}
        self.folder = folder
        self.recorded: list[tuple[str, str, datetime]] = []

    def meet(
        self, uid: str, start: datetime, minutes: int, people: list[str], title: str, rrule: str | None = None
    ):
        ev = CalendarEvent(
            uid, start, start + timedelta(minutes=minutes), title, people[0], tuple(people), rrule
        )
        for person in people:
            self.events.setdefault(person, []).append(ev)

    def away(self, person: str, first: date, days: int, title: str) -> None:
        ev = CalendarEvent(
            f"off-{person}-{first}", first, first + days * D, title, transparent=True, oof=True
        )
        self.events.setdefault(person, []).append(ev)

    def item(self, project: str, who: str | None, created: datetime, started: datetime | None,
             done: datetime | None = None, due: date | None = None) -> str:  # fmt: skip
        key = self.ds.create_issue(project, "work", assignee=who, duedate=due, at=created)
        if started is not None and started <= self.now:
            self.ds.transition(key, "In Progress", at=started)
        if done is not None and done <= self.now:
            self.ds.transition(key, "Done", at=done)
        return key

    def team(self, team: str, project: str, skip: str | None = None, skip_from: date | None = None) -> None:
        for person in (manager(team), *members(team)):
            self.ds.add_user(person, person.split("@")[0].replace(".", " ").title(), "UTC")
        self.ds.add_project(project, team, lead=manager(team))
        people = members(team)
        for back in range(45, 0, -1):
            day = self.today - back * D
            if day.weekday() >= 5:
                continue
            owner = people[back % 5]
            if skip and owner == skip and skip_from and day >= skip_from:
                owner = people[(back + 1) % 5]
            self.item(project, owner, _at(day, 9), _at(day, 9, 30), _at(_workdays(day, 3), 15))

    def write(self) -> Path:
        calendars = self.folder / "calendars"
        calendars.mkdir(parents=True, exist_ok=True)
        # Everyone's calendar is connected, also the ones with nothing in them: an empty
        # calendar says "no meetings", a missing one says "unknown".
        for team in TEAMS:
            for person in (manager(team), *members(team)):
                self.events.setdefault(person, [])
        for person, events in self.events.items():
            (calendars / f"{person}.ics").write_text(render_calendar("UTC", events, self.now), newline="")
        return calendars


def build(folder: Path, now: datetime) -> Built:
    """Build every scenario's Jira data and calendars at `now`."""
    b = _Builder(now, folder)
    today = b.today

    # The anniversary, managed as process only.
    b.team("anniv-mgr", "ANM")
    m = members("anniv-mgr")
    b.item("ANM", m[0], now - 12 * D, now - 6 * D, due=today)
    b.away(m[0], today, 1, "Day off: 30th wedding anniversary")
    b.meet("anm-sync", _at(today, 10), 60, [manager("anniv-mgr"), m[0], m[1]], "Release sync")

    # The anniversary, led: the date moved and a 1:1 agreed the plan.
    b.team("anniv-lead", "ANL")
    m = members("anniv-lead")
    release = b.item("ANL", m[0], now - 12 * D, now - 6 * D, due=today)
    b.ds.set_due_date(release, _workdays(today, 5), at=now - 3 * D)
    b.away(m[0], today, 1, "Day off: 30th wedding anniversary")
    b.meet("anl-plan", _at(today - 2 * D, 10), 30, [manager("anniv-lead"), m[0]], "1:1")

    # The deployment: a member away for months, the rest carry his work.
    for team, project, led in (("deploy-mgr", "DPM", False), ("deploy-lead", "DPL", True)):
        m = members(team)
        left = today - 20 * D
        b.team(team, project, skip=m[4], skip_from=left)
        b.away(m[4], left, 90, "Deployment")
        his = [b.item(project, m[4], now - 30 * D, now - 22 * D) for _ in range(2)]
        for back in range(20, 0, -1):
            day = today - back * D
            if day.weekday() < 5:
                b.item(project, m[back % 4], _at(day, 11), _at(day, 11, 30))  # never finished
        if led:
            for n, key in enumerate(his):
                b.ds.reassign(key, m[n], at=_at(left + 2 * D, 10))
            for n, person in enumerate(m[:4]):
                first = left + (n + 1) * D
                b.meet(f"dpl-1on1-{n}", _at(first, 14), 30, [manager(team), person], "1:1", "FREQ=WEEKLY")
            b.recorded.append((team, "recorded", now - D))

    # Calm: nothing to answer.
    b.team("calm", "CLM")

    # A crunch answered by regular 1:1s.
    b.team("crunch-1on1", "CRN")
    m = members("crunch-1on1")
    for back in range(5, 0, -1):
        day = today - back * D
        for k in range(3):
            b.item("CRN", m[(back + k) % 5], _at(day, 10 + k), _at(day, 10 + k, 30), due=today - D)
    for n, person in enumerate(m):
        first = today - (40 - n) * D
        b.meet(f"crn-1on1-{n}", _at(first, 13), 30, [manager("crunch-1on1"), person], "1:1", "FREQ=WEEKLY")

    return Built(b.ds, b.write(), now, b.recorded)


def config_text(jira_url: str, token_env: str) -> str:
    """Return the scenario config: one team per story, Jira and calendar sources."""
    keys = {"anniv-mgr": "ANM", "anniv-lead": "ANL", "deploy-mgr": "DPM", "deploy-lead": "DPL",
            "calm": "CLM", "crunch-1on1": "CRN"}  # fmt: skip
    lines = ["[settings]", 'state = "scenarios.db"', 'timezone = "UTC"', 'interval = "1h"', ""]
    for team in TEAMS:
        people = ", ".join(f'"{p}"' for p in members(team))
        lines += ["[[teams]]", f'name = "{team}"', f'manager = "{manager(team)}"', f"members = [{people}]",
                  f'jql = "project = {keys[team]}"', ""]  # fmt: skip
    lines += ["[sources.jira]", 'plugin = "jira"', f'url = "{jira_url}"', 'email = "bot@scenario.example"',
              f'token_env = "{token_env}"', "", "[sources.calendars]", 'plugin = "ics"',
              'paths = ["calendars/*.ics"]', ""]  # fmt: skip
    return "\n".join(lines)
