"""Evaluation organisations: teams whose truth is known, to measure the detector against.

`generate_evaluation_organisation(seed, end)` builds an organisation of teams of 4-8 members
(deterministic for a seed and `end`; the real clock is never read): their Jira work items in a
`Dataset`, every person's calendar (`CalendarEvent`s, written as calendars/<e-mail>.ics), and
the ground truth of each team (`TeamTruth`). Kinds of team:

- **calm**: a steady normal load (1, 2, 3 or 4 items in progress per person) with two-week
  sprints whose planned items start in the sprint's first days, and ordinary noise: an item
  slipping 1-2 days past its due date now and then, a member away a whole week (all-day OOF;
  their work handed over the day before), sick days, a public holiday (time off in the whole
  team's calendars, nobody works), a busy week with ~20% more work in progress, a due date
  moved or an item handed over now and then.
- **new**: a calm team whose history starts inside the replay window (less than 28 days of
  history at first); **recent**: one whose history starts 40-60 days before the end.
- **crunch_unanswered**, **crunch_answered**, **crunch_one_on_ones**: a calm team until its
  onset (inside the replay window), then for 8-20 days work in progress rises to `factor`
  (1.7-2.5) times its normal per person: completions stall, urgent items start and join the
  running sprint, due within days (most work already in flight gets a due date at the onset
  too), so they fall overdue; a third of the transitions happen after hours, and one member
  carries 2.2 times the team's mean work in progress. Unanswered: the manager has no 1:1s, or
  the weekly 1:1s stop at the onset (and resume after the crunch); no due date moves and no
  work changes hands. Answered: 1-2 days after the onset due dates move later and/or work is
  taken from the most loaded person, and the manager holds a few extra 1:1s. Answered by 1:1s:
  the manager's weekly 1:1 with every member simply goes on.

Established teams have 165-185 days of history, so each of the last 60 days (30 with `quick`,
which makes one team of each kind) has a full 28-day reference window and a 90-day scan
behind it. A calm team and an unanswered crunch live in a zone whose daylight saving time
changes inside the replay window. A crunch's `onset` is 09:00 local on its first day; its
`crunch_end` is 09:00 local on the day completions resume.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from teampulse_jira_emulator.dataset import Dataset
from teampulse_jira_emulator.generate import OrgTeam, add_workdays, local_time, make_people, make_summary
from teampulse_jira_emulator.model import DEFAULT_STATUSES

from .people import CalendarEvent, render_calendar

CALM, NEW, RECENT = "calm", "new", "recent"
UNANSWERED, ANSWERED, ONE_ON_ONES = "crunch_unanswered", "crunch_answered", "crunch_one_on_ones"
KINDS = (CALM, NEW, RECENT, UNANSWERED, ANSWERED, ONE_ON_ONES)
QUIET_KINDS = (CALM, NEW, RECENT)
CRUNCH_KINDS = (UNANSWERED, ANSWERED, ONE_ON_ONES)
# 1:1 cadences of a manager.
WEEKLY, NO_ONE_ON_ONES, UNTIL_ONSET = "weekly", "none", "weekly_until_onset"
# What an answered crunch's lead does.
DEADLINES, REBALANCE = "deadlines_moved", "work_rebalanced"

REPLAY_DAYS = 60
QUICK_REPLAY_DAYS = 30
HOT_SHARE = 2.2  # in a crunch one member carries this many times the team's mean work in progress

TEAM_NAMES = (
    "atlas", "beacon", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
    "kestrel", "lumen", "meridian", "nimbus", "onyx", "prism", "quartz", "raven", "sierra", "tundra",
)  # fmt: skip
ZONES = (
    "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Europe/London", "America/Los_Angeles",
    "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo", "Europe/Madrid", "America/Chicago",
    "Asia/Singapore", "Pacific/Auckland",
)  # fmt: skip
# Zones with daylight saving time: transitions in March, April, September, October, November.
DST_ZONES = (
    "Europe/Berlin", "America/New_York", "Australia/Sydney", "Pacific/Auckland", "America/Santiago",
    "Europe/London", "America/Chicago",
)  # fmt: skip


@dataclass(frozen=True)
class TeamTruth:
    """What is true of a team, for scoring the detector."""

    team: str
    kind: str
    load: int  # the team's normal items in progress per person
    members: int
    timezone: str
    history_start: datetime  # the first work item
    one_on_ones: str  # WEEKLY, NO_ONE_ON_ONES or UNTIL_ONSET
    onset: datetime | None = None  # crunches: 09:00 local on the first day of the crunch
    crunch_end: datetime | None = None  # crunches: 09:00 local on the day completions resume
    factor: float | None = None  # crunches: work in progress per person, times the normal load
    answers: tuple[str, ...] = ()  # answered crunches: DEADLINES and/or REBALANCE
    answered_at: datetime | None = None  # answered crunches: when the lead acted

    @property
    def crunch(self) -> bool:
        """Tell whether the team has a crunch."""
        return self.kind in CRUNCH_KINDS


@dataclass
class EvalOrganisation:
    """A generated evaluation organisation: Jira data, calendars, teams and their truth."""

    dataset: Dataset
    teams: list[OrgTeam]
    truth: dict[str, TeamTruth]
    calendars: dict[str, list[CalendarEvent]]  # e-mail -> the events in their calendar
    timezones: dict[str, str]  # e-mail -> IANA zone
    end: datetime
    seed: int
    replay_days: int

    def team(self, name: str) -> OrgTeam:
        """Return the team with this name."""
        return next(t for t in self.teams if t.name == name)

    def write_calendars(self, folder: Path) -> Path:
        """Write calendars/<e-mail>.ics under `folder` and return the calendars folder."""
        out = folder / "calendars"
        out.mkdir(parents=True, exist_ok=True)
        for person, events in sorted(self.calendars.items()):
            text = render_calendar(self.timezones.get(person, "UTC"), events, self.end)
            (out / f"{person}.ics").write_text(text, newline="")
        return out


@dataclass(frozen=True)
class _Spec:
    kind: str
    load: int
    members: int
    one_on_ones: str
    answers: tuple[str, ...] = ()


def _layout(rng: random.Random, quick: bool) -> list[_Spec]:
    """Return the teams of an organisation, before names, zones and dates."""

    def size() -> int:
        return rng.randint(4, 8)

    def load() -> int:
        return rng.randint(1, 4)

    if quick:
        return [
            _Spec(CALM, 2, 6, NO_ONE_ON_ONES),
            _Spec(NEW, load(), size(), WEEKLY),
            _Spec(RECENT, load(), size(), NO_ONE_ON_ONES),
            _Spec(UNANSWERED, load(), size(), UNTIL_ONSET),
            _Spec(ANSWERED, load(), size(), WEEKLY, (DEADLINES, REBALANCE)),
            _Spec(ONE_ON_ONES, load(), size(), WEEKLY),
        ]
    sizes = [4, 5, 6, 7, 8]
    rng.shuffle(sizes)
    return [
        *(_Spec(CALM, n, sizes[n - 1], WEEKLY) for n in (1, 2, 3, 4)),
        _Spec(CALM, rng.randint(2, 3), sizes[4], NO_ONE_ON_ONES),
        _Spec(NEW, load(), size(), WEEKLY),
        _Spec(NEW, load(), size(), NO_ONE_ON_ONES),
        _Spec(RECENT, load(), size(), WEEKLY),
        _Spec(RECENT, load(), size(), WEEKLY),
        _Spec(UNANSWERED, load(), size(), NO_ONE_ON_ONES),
        _Spec(UNANSWERED, load(), size(), UNTIL_ONSET),
        _Spec(UNANSWERED, load(), size(), UNTIL_ONSET),
        _Spec(ANSWERED, load(), size(), WEEKLY, (DEADLINES,)),
        _Spec(ANSWERED, load(), size(), NO_ONE_ON_ONES, (REBALANCE,)),
        _Spec(ANSWERED, load(), size(), WEEKLY, (DEADLINES, REBALANCE)),
        _Spec(ONE_ON_ONES, load(), size(), WEEKLY),
        _Spec(ONE_ON_ONES, load(), size(), WEEKLY),
    ]


def _dst_zone(rng: random.Random, first: datetime, last: datetime) -> str:
    """Return a zone whose UTC offset changes between `first` and `last` (a wider window if none)."""
    zones = list(DST_ZONES)
    rng.shuffle(zones)
    for start in (first, last - timedelta(days=200)):
        for zone in zones:
            tz = ZoneInfo(zone)
            if start.astimezone(tz).utcoffset() != last.astimezone(tz).utcoffset():
                return zone
    return zones[0]


def _workday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _workdays_before(day: date, n: int) -> date:
    while n > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass
class _Item:
    created: datetime
    assignee: str | None  # at creation
    reporter: str
    issuetype: str
    due: date | None  # at creation
    started: datetime
    planned_done: date
    holder: str
    urgent: bool
    sprint: int  # index into the team's sprints
    sprint_added: datetime
    events: list[tuple[datetime, str, object]] = field(default_factory=list)
    stall_decided: bool = False
    done: datetime | None = None


class _TeamSim:
    """One team's work day by day: a pull system that starts work whenever someone is below target."""

    def __init__(
        self,
        rng: random.Random,
        spec: _Spec,
        team: OrgTeam,
        end: datetime,
        history_start: date,
        window_start: date,
        onset: date | None,
        crunch_days: int,
        factor: float,
    ) -> None:
        self.rng = rng
        self.spec = spec
        self.team = team
        self.tz = ZoneInfo(team.timezone)
        self.end = end
        self.end_day = end.astimezone(self.tz).date()
        # Simulated past the end, so the backlog at the end holds the work planned for later.
        self.sim_end = self.end_day + timedelta(days=45)
        self.start_day = history_start
        self.start_at = local_time(history_start, 8.0, self.tz)
        self.members = list(team.member_emails)
        self.onset = onset
        self.crunch_end = onset + timedelta(days=crunch_days) if onset else None
        self.factor = factor
        offset = rng.random()
        self.share = {m: ((k + 0.5) / len(self.members) + offset) % 1.0 for k, m in enumerate(self.members)}
        self.hot = rng.choice(self.members)
        self.rebalanced = False
        self.items: list[_Item] = []
        self.wip: dict[str, list[_Item]] = {m: [] for m in self.members}
        self.calendar: list[tuple[CalendarEvent, tuple[str, ...]]] = []
        self.answered_at: datetime | None = None
        # An answered crunch's lead acts one or two days after the onset (a weekday: onsets are Mon-Thu).
        self.answer_day: date | None = None
        if onset is not None and spec.answers:
            later = onset + timedelta(days=rng.randint(1, 2))
            self.answer_day = later if later.weekday() < 5 else onset + timedelta(days=1)
        self._sprints(history_start)
        self._noise(window_start)

    # --------------------------------------------------------- set-up

    def _sprints(self, history_start: date) -> None:
        """Two-week sprints: each closes on a Monday at 10:00 local, is planned until 11:00, then starts."""
        anchor = _monday(history_start)
        if self.spec.kind != NEW:
            anchor -= timedelta(days=7 * self.rng.randint(0, 1))
        self.sprint_days: list[date] = []
        day = anchor
        while day <= self.sim_end + timedelta(days=14):
            self.sprint_days.append(day)
            day += timedelta(days=14)
        self.sprint_starts = [local_time(d, 11.0, self.tz) for d in self.sprint_days]
        self.sprint_ends = [local_time(d + timedelta(days=14), 10.0, self.tz) for d in self.sprint_days]

    def _sprint_index(self, moment: datetime) -> int:
        """Return the sprint running at `moment`, or the one about to start (during planning)."""
        for k, end in enumerate(self.sprint_ends):
            if moment < end:
                return k
        return len(self.sprint_ends) - 1

    def _quiet(self, day: date, margin: int) -> bool:
        """Tell whether `day` is clear of the crunch by `margin` days on both sides."""
        if self.onset is None or self.crunch_end is None:
            return True
        return not (self.onset - timedelta(days=margin) <= day <= self.crunch_end + timedelta(days=margin))

    def _noise(self, window_start: date) -> None:
        """Place the public holiday, the weeks away, sick days and the busy week."""
        rng = self.rng
        first = max(window_start, self.start_day + timedelta(days=5))
        last = self.end_day - timedelta(days=2)
        weekdays = [
            first + timedelta(days=k)
            for k in range((last - first).days + 1)
            if (first + timedelta(days=k)).weekday() < 5 and self._quiet(first + timedelta(days=k), 4)
        ]
        self.holiday: date | None = rng.choice(weekdays) if weekdays else None
        self.away: dict[str, set[date]] = {m: set() for m in self.members}
        self.vacations: list[tuple[str, date]] = []  # (member, Monday)
        mondays = [
            d
            for d in weekdays
            if d.weekday() == 0
            and self._quiet(d + timedelta(days=4), 5)
            and self._quiet(d, 5)
            and d + timedelta(days=5) <= last
        ]
        if self.spec.kind != NEW and mondays:
            self.vacations.append((rng.choice(self.members), rng.choice(mondays)))
        # Earlier in the history, about one week away every five weeks.
        day = _monday(self.start_day) + timedelta(days=21)
        while day + timedelta(days=7) < window_start:
            if self._quiet(day, 5):
                self.vacations.append((rng.choice(self.members), day))
            day += timedelta(days=7 * rng.randint(4, 6))
        for member, monday in self.vacations:
            self.away[member] |= {monday + timedelta(days=k) for k in range(5)}
        self.sick: list[tuple[str, date]] = []
        pool = [d for d in weekdays if d != self.holiday]
        for _ in range(rng.randint(2, 3) if pool else 0):
            member, day = rng.choice(self.members), rng.choice(pool)
            if day not in self.away[member]:
                self.sick.append((member, day))
                self.away[member].add(day)
        busy = [d for d in mondays if self._quiet(d + timedelta(days=4), 6) and self._quiet(d, 6)]
        self.busy_week: date | None = rng.choice(busy) if busy and self.spec.kind != NEW else None

    # --------------------------------------------------------- the simulation

    def _working(self, day: date) -> bool:
        return day.weekday() < 5 and day != self.holiday

    def _next_workday(self, day: date) -> date:
        day += timedelta(days=1)
        while not self._working(day):
            day += timedelta(days=1)
        return day

    def _in_crunch(self, day: date) -> bool:
        return self.onset is not None and self.crunch_end is not None and self.onset <= day < self.crunch_end

    def _late(self, day: date, hour: float) -> datetime:
        """Return a moment at `hour` local, now and then an evening one (in a crunch a third of the time)."""
        if self._in_crunch(day) and day != self.onset and self.rng.random() < 0.35:
            return local_time(day, self.rng.uniform(19.0, 22.75), self.tz)
        if self.rng.random() < 0.03:  # someone finishing something in the evening
            return local_time(day, self.rng.uniform(18.0, 21.0), self.tz)
        return local_time(day, hour, self.tz)

    def _target(self, member: str, day: date) -> int:
        load = float(self.spec.load)
        if self._in_crunch(day):
            n = len(self.members)
            # Once work is rebalanced the most loaded person stops taking on more than a fair share.
            skew = (n - HOT_SHARE) / (n - 1)
            if member == self.hot:
                skew = 1.0 if self.rebalanced else HOT_SHARE
            load *= self.factor * skew
        else:
            first = max((s for s in self.sprint_days if s <= day), default=day)
            position = sum(1 for k in range((day - first).days) if (first + timedelta(days=k)).weekday() < 5)
            load *= 1.2 if position < 2 else 1.0 if position < 5 else 0.93  # the sprint-start burst
            if self.busy_week is not None and self.busy_week <= day < self.busy_week + timedelta(days=5):
                load *= 1.2
        return math.floor(load + self.share[member])

    def _leaving_soon(self, member: str, day: date) -> bool:
        """Tell whether a week away begins within the next two working days (no new work then)."""
        following = self._next_workday(day)
        return any(
            m == member and (monday == following or monday == self._next_workday(following))
            for m, monday in self.vacations
        )

    def run(self) -> None:
        day = self.start_day
        while day <= self.sim_end:
            if self._working(day):
                self._day(day)
            day += timedelta(days=1)

    def _day(self, day: date) -> None:
        rng = self.rng
        if day == self.onset:
            # The deadline: most work in flight without a due date gets one within days.
            for item in [i for w in self.wip.values() for i in w]:
                if _due_now(item) is None and rng.random() < 0.6:
                    at = local_time(day, rng.uniform(9.0, 9.2), self.tz)
                    item.events.append((at, "due", add_workdays(day, rng.randint(1, 4))))
        if day == self.answer_day:
            self._answer(day)
        members = list(self.members)
        rng.shuffle(members)
        for member in members:
            if day in self.away[member]:
                continue
            for item in list(self.wip[member]):
                if item.planned_done > day:
                    continue
                if self._in_crunch(day) and not item.stall_decided:
                    item.stall_decided = True
                    if rng.random() < 0.75 and self.crunch_end is not None:
                        item.planned_done = add_workdays(self.crunch_end, rng.randint(0, 3))
                        continue
                self._complete(item, day)
            target = 0 if self._leaving_soon(member, day) else self._target(member, day)
            while len(self.wip[member]) < target:
                self._start(member, day)
        for member, monday in self.vacations:
            if self._next_workday(day) == monday or (day < monday and self._next_workday(day) > monday):
                for item in list(self.wip[member]):
                    self._hand_over(item, day, rng.uniform(16.0, 16.75), exclude=member)
        if self._quiet(day, 2) and rng.random() < 0.08:
            loaded = [m for m in self.members if len(self.wip[m]) >= 2 and day not in self.away[m]]
            if loaded:
                giver = rng.choice(loaded)
                self._hand_over(rng.choice(self.wip[giver]), day, rng.uniform(14.0, 16.0), exclude=giver)

    def _hand_over(self, item: _Item, day: date, hour: float, exclude: str) -> None:
        present = [m for m in self.members if m != exclude and day not in self.away[m]]
        if not present:
            return
        taker = min(present, key=lambda m: (len(self.wip[m]), self.members.index(m)))
        self.wip[item.holder].remove(item)
        item.events.append((local_time(day, hour, self.tz), "assign", taker))
        item.holder = taker
        self.wip[taker].append(item)

    def _start(self, member: str, day: date) -> None:
        rng = self.rng
        crunch = self._in_crunch(day)
        hour = rng.uniform(9.25, 11.0) if crunch and day == self.onset else rng.uniform(11.0, 12.5)
        started = self._late(day, hour)
        urgent = crunch or rng.random() < 0.12
        sprint = self._sprint_index(started)
        if urgent:
            created = local_time(day, rng.uniform(8.0, hour - 0.25), self.tz)
            created = max(created, self.start_at)
            added = created + timedelta(minutes=5)
            sprint = self._sprint_index(added)
        else:
            # Planned work waits in the backlog until its sprint's planning takes it in.
            planning = local_time(self.sprint_days[sprint], rng.uniform(10.05, 10.9), self.tz)
            created = planning - timedelta(days=rng.uniform(1.0, 35.0))
            created = max(created, self.start_at + timedelta(minutes=rng.randint(0, 40)))
            added = max(planning, created + timedelta(minutes=5))
        load = self.spec.load
        cycle = rng.randint(max(1, round(load * 1.1)), max(2, round(load * 2.9)))
        planned_done = add_workdays(day, cycle)
        due: date | None = None
        if crunch:
            due = add_workdays(day, rng.randint(0, 3))
            planned_done = (
                add_workdays(self.crunch_end, rng.randint(0, 4))
                if self.crunch_end is not None and rng.random() < 0.7
                else planned_done
            )
        elif rng.random() < 0.4:
            slips = rng.random() < 0.08  # due a day or two before it is done
            due = (
                _workdays_before(planned_done, rng.randint(1, 2))
                if slips
                else add_workdays(planned_done, rng.randint(1, 4))
            )
            due = max(due, day)
        assignee = member if rng.random() < 0.7 else None
        item = _Item(
            created=created,
            assignee=assignee,
            reporter=self.team.manager_email if rng.random() < 0.6 else rng.choice(self.members),
            issuetype="Bug"
            if urgent and rng.random() < 0.6
            else rng.choice(("Story", "Task", "Task", "Bug")),
            due=due,
            started=started,
            planned_done=planned_done,
            holder=member,
            urgent=urgent,
            sprint=sprint,
            sprint_added=added,
            stall_decided=crunch,
        )
        if assignee is None:
            item.events.append((started - timedelta(minutes=5), "assign", member))
        item.events.append((started, "status", "In Progress"))
        if due is not None and not crunch and rng.random() < 0.04 and cycle >= 2:
            # Now and then a due date is moved later halfway through.
            middle = add_workdays(day, cycle // 2)
            if self._quiet(middle, 2) and middle < planned_done:
                item.events.append(
                    (
                        local_time(middle, rng.uniform(10.0, 16.0), self.tz),
                        "due",
                        add_workdays(due, rng.randint(2, 5)),
                    )
                )
        self.items.append(item)
        self.wip[member].append(item)

    def _complete(self, item: _Item, day: date) -> None:
        rng = self.rng
        done = max(self._late(day, rng.uniform(9.5, 11.0)), item.started + timedelta(hours=1))
        if rng.random() < 0.5:
            before = _workdays_before(day, 1)
            review = local_time(before, rng.uniform(10.0, 16.5), self.tz)
            if item.started + timedelta(hours=1) < review < done:
                item.events.append((review, "status", "In Review"))
        item.events.append((done, "status", "Closed" if rng.random() < 0.15 else "Done"))
        item.done = done
        self.wip[item.holder].remove(item)

    def _answer(self, day: date) -> None:
        """The lead answers the crunch: due dates later and/or work off the most loaded person."""
        rng = self.rng
        at = local_time(day, 9.1, self.tz)
        self.answered_at = at
        if REBALANCE in self.spec.answers:
            hot = max(self.members, key=lambda m: (len(self.wip[m]), m == self.hot))
            mean = sum(len(w) for w in self.wip.values()) / len(self.members)
            for item in list(self.wip[hot])[: max(1, min(3, len(self.wip[hot]) - math.ceil(mean)))]:
                self._hand_over(item, day, 9.1 + rng.uniform(0.0, 0.3), exclude=hot)
            self.rebalanced = True
        if DEADLINES in self.spec.answers:
            soon = day + timedelta(days=7)
            open_items = [i for w in self.wip.values() for i in w if _due_now(i) is not None]
            open_items.sort(key=lambda i: (_due_now(i) or soon, i.started))
            for item in open_items[: rng.randint(2, 4)]:
                current = _due_now(item)
                if current is not None and current <= soon:
                    later = add_workdays(max(current, day), rng.randint(5, 10))
                    item.events.append((at + timedelta(minutes=rng.randint(5, 60)), "due", later))
        # A few 1:1s about the crunch: with the most loaded person and one or two others.
        people = [
            self.hot,
            *rng.sample([m for m in self.members if m != self.hot], k=min(2, len(self.members) - 1)),
        ]
        for k, person in enumerate(people):
            meet_day = _workday_on_or_after(day + timedelta(days=k // 2))
            start = local_time(meet_day, 15.0 + 0.5 * (k % 2), self.tz)
            event = CalendarEvent(
                _uid(self.team.name, "crunch 1:1", person), start, start + timedelta(minutes=30),
                "1:1 - crunch plan", self.team.manager_email, (self.team.manager_email, person),
            )  # fmt: skip
            self.calendar.append((event, (self.team.manager_email, person)))

    # --------------------------------------------------------- calendars

    def calendars(self, one_on_ones: str, onset: datetime | None) -> None:
        """Add the team's stand-ups, plannings, 1:1s and time off."""
        team, rng = self.team, self.rng
        everyone = (team.manager_email, *team.member_emails)
        first = _workday_on_or_after(self.start_day)
        start = local_time(first, 9.5, self.tz)
        standup = CalendarEvent(_uid(team.name, "standup"), start, start + timedelta(minutes=15),
                                f"{team.name} daily stand-up", team.manager_email, everyone,
                                "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")  # fmt: skip
        self.calendar.append((standup, everyone))
        planning = self.sprint_starts[0] - timedelta(hours=1)
        self.calendar.append((CalendarEvent(_uid(team.name, "planning"), planning, planning + timedelta(hours=1),
                                            "Sprint planning", team.manager_email, everyone,
                                            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"), everyone))  # fmt: skip
        if one_on_ones in (WEEKLY, UNTIL_ONSET):
            for n, member in enumerate(team.member_emails):
                day = self.start_day + timedelta(days=3)
                day += timedelta(days=(n % 5 - day.weekday()) % 7)
                begin = local_time(day, 13.0 + n % 3, self.tz)
                rule = "FREQ=WEEKLY"
                if one_on_ones == UNTIL_ONSET and onset is not None and self.crunch_end is not None:
                    rule += f";UNTIL={(onset - timedelta(minutes=1)).strftime('%Y%m%dT%H%M%SZ')}"
                    # They resume a few days after the crunch.
                    again = self.crunch_end + timedelta(days=2)
                    again += timedelta(days=(n % 5 - again.weekday()) % 7)
                    resumed = local_time(again, 13.0 + n % 3, self.tz)
                    self.calendar.append((CalendarEvent(_uid(team.name, "1:1 again", member), resumed,
                                                        resumed + timedelta(minutes=30), "1:1", team.manager_email,
                                                        (team.manager_email, member), "FREQ=WEEKLY"),
                                          (team.manager_email, member)))  # fmt: skip
                self.calendar.append((CalendarEvent(_uid(team.name, "1:1", member), begin,
                                                    begin + timedelta(minutes=30), "1:1", team.manager_email,
                                                    (team.manager_email, member), rule),
                                      (team.manager_email, member)))  # fmt: skip
        if (
            self.spec.kind == UNANSWERED
            and self.onset is not None
            and self.crunch_end is not None
            and rng.random() < 0.5
        ):
            # Late calls in the crunch: process, after everyone's working hours.
            day = self.onset + timedelta(days=1)
            while day < self.crunch_end:
                if day.weekday() < 5:
                    late = local_time(day, 19.5, self.tz)
                    self.calendar.append((CalendarEvent(_uid(team.name, "war room", str(day)), late,
                                                        late + timedelta(minutes=90), "release war room",
                                                        team.manager_email, everyone), everyone))  # fmt: skip
                day += timedelta(days=1)
        for member, monday in self.vacations:
            self.calendar.append((CalendarEvent(_uid(team.name, "vacation", member, str(monday)), monday,
                                                monday + timedelta(days=5), "Vacation", transparent=True,
                                                oof=True), (member,)))  # fmt: skip
        for member, day in self.sick:
            self.calendar.append((CalendarEvent(_uid(team.name, "sick", member, str(day)), day,
                                                day + timedelta(days=1), "Sick day", transparent=True, oof=True),
                                  (member,)))  # fmt: skip
        if self.holiday is not None:
            for person in everyone:
                self.calendar.append((CalendarEvent(_uid(team.name, "holiday", person), self.holiday,
                                                    self.holiday + timedelta(days=1), "Public holiday",
                                                    transparent=True, oof=True), (person,)))  # fmt: skip

    # --------------------------------------------------------- into the dataset

    def apply(self, ds: Dataset, sprint_ids: list[int]) -> None:
        key = self.team.project_key
        for item in sorted((i for i in self.items if i.created <= self.end), key=lambda i: i.created):
            events = list(item.events)
            events.append((item.sprint_added, "sprint", sprint_ids[item.sprint]))
            # Work still open when its sprint closes moves to the next one.
            finish = item.done or self.end
            for k in range(item.sprint, len(self.sprint_ends) - 1):
                if self.sprint_ends[k] >= finish:
                    break
                events.append((self.sprint_ends[k] + timedelta(minutes=1), "sprint", sprint_ids[k + 1]))
            issue = ds.create_issue(
                key, make_summary(self.rng), issuetype=item.issuetype, status="To Do", assignee=item.assignee,
                reporter=item.reporter, duedate=item.due, at=item.created,
            )  # fmt: skip
            for moment, kind, value in sorted(events, key=lambda e: e[0]):
                if moment > self.end:
                    continue
                current = ds.issue(issue)
                author = current.assignee.email if current.assignee else None
                if kind == "status":
                    ds.transition(issue, str(value), at=moment, author=author)
                elif kind == "assign":
                    ds.reassign(issue, str(value), at=moment, author=self.team.manager_email)
                elif kind == "due":
                    ds.set_due_date(issue, value if isinstance(value, date) else None, at=moment)
                elif kind == "sprint":
                    ds.add_to_sprint(issue, int(str(value)), at=moment, author=author)


def _due_now(item: _Item) -> date | None:
    dues = [v for _t, kind, v in item.events if kind == "due" and isinstance(v, date)]
    return dues[-1] if dues else item.due


def _uid(*parts: str) -> str:
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:20] + "@eval.example"


def generate_evaluation_organisation(seed: int, end: datetime, quick: bool = False) -> EvalOrganisation:
    """Generate an evaluation organisation (deterministic for `seed`, `end` and `quick`)."""
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    rng = random.Random(f"teampulse-eval-{seed}-{quick}")
    replay = QUICK_REPLAY_DAYS if quick else REPLAY_DAYS
    specs = _layout(rng, quick)
    names = list(TEAM_NAMES)
    rng.shuffle(names)
    zones = list(ZONES)
    rng.shuffle(zones)
    window_first = end - timedelta(days=replay)
    dst_zone = _dst_zone(rng, window_first, end)
    # One quiet team and one unanswered crunch live in the zone that changes time in the window.
    dst_teams = {next(k for k, s in enumerate(specs) if s.kind == CALM),
                 next(k for k, s in enumerate(specs) if s.kind == UNANSWERED)}  # fmt: skip
    ds = Dataset(DEFAULT_STATUSES, now=end)
    people = make_people(rng, sum(s.members + 1 for s in specs))
    org = EvalOrganisation(ds, [], {}, {}, {}, end, seed, replay)
    for index, spec in enumerate(specs):
        name = names[index]
        zone = dst_zone if index in dst_teams else zones[index % len(zones)]
        tz = ZoneInfo(zone)
        group = people[: spec.members + 1]
        people = people[spec.members + 1 :]
        for display, email in group:
            ds.add_user(email, display, zone)
            org.timezones[email] = zone
        team = OrgTeam(name, name[:4].upper(), group[0][1], tuple(e for _d, e in group[1:]), zone)
        org.teams.append(team)
        ds.add_project(team.project_key, name.title(), lead=team.manager_email)
        end_day = end.astimezone(tz).date()
        window_start = window_first.astimezone(tz).date()
        if spec.kind == NEW:
            # A new team starts on a Monday with its first sprint.
            back = rng.randint(21, 27) if quick else rng.randint(30, 40)
            history_start = _monday(end_day - timedelta(days=back - 6))
        elif spec.kind == RECENT:
            history_start = _workday_on_or_after(end_day - timedelta(days=rng.randint(40, 60)))
        else:
            history_start = _workday_on_or_after(end_day - timedelta(days=rng.randint(165, 185)))
        onset: date | None = None
        crunch_days = 0
        factor = 1.0
        if spec.kind in CRUNCH_KINDS:
            if quick:
                earliest, latest, crunch_days = 24, 16, rng.randint(8, 12)
            else:
                earliest, latest, crunch_days = 50, 18, rng.randint(8, 20)
            candidates = [
                end_day - timedelta(days=k)
                for k in range(latest, earliest + 1)
                if (end_day - timedelta(days=k)).weekday() < 4 and k - crunch_days >= 1
            ]
            onset = rng.choice(candidates)
            factor = round(rng.uniform(1.7, 2.5), 2)
        sim = _TeamSim(
            random.Random(rng.random()),
            spec,
            team,
            end,
            history_start,
            window_start,
            onset,
            crunch_days,
            factor,
        )
        sim.run()
        sprint_ids = []
        for k, (start, finish) in enumerate(zip(sim.sprint_starts, sim.sprint_ends, strict=True)):
            state = "closed" if finish <= end else "active" if start <= end else "future"
            sprint = ds.add_sprint(f"{team.project_key} Sprint {k + 1}", index + 1, start, finish, state,
                                   complete=finish if state == "closed" else None)  # fmt: skip
            sprint_ids.append(sprint.id)
        sim.apply(ds, sprint_ids)
        onset_at = local_time(onset, 9.0, tz) if onset else None
        sim.calendars(spec.one_on_ones, onset_at)
        for event, owners in sim.calendar:
            for owner in owners:
                org.calendars.setdefault(owner, []).append(event)
        first_item = min((i.created for i in sim.items), default=sim.start_at)
        org.truth[name] = TeamTruth(
            team=name,
            kind=spec.kind,
            load=spec.load,
            members=spec.members,
            timezone=zone,
            history_start=first_item,
            one_on_ones=spec.one_on_ones,
            onset=onset_at,
            crunch_end=local_time(sim.crunch_end, 9.0, tz) if sim.crunch_end else None,
            factor=factor if onset else None,
            answers=spec.answers,
            answered_at=sim.answered_at,
        )
    return org
