"""Deterministic data generators: a small organisation for the demo and tests, and a bulk set for benchmarks.

`generate_organisation` builds teams of people with Jira projects, two-week sprints and about
60 days of history in which work moves To Do -> In Progress -> (In Review) -> Done at working
hours in each team's time zone, with due dates (some moved later), reassignments and items
added to running sprints.

Who is under pressure: the first team, **payments** (project PAY, Europe/Berlin), is in a
crunch over its last ~5 days: work in progress roughly doubles (completions stall and extra
urgent items start), several items are overdue and several more are due within two days,
urgent items are added to the running sprint after it started, and a fair share of its recent
transitions happen after hours (19:00-23:00 local); nobody moves a date or hands work over
during it (management only). The second team, **platform**, has the same crunch, but its due
dates still move later and work still changes hands (its lead answers the pressure; the demo's
calendars add the 1:1s). Every other team is calm: steady arrival and completion, due dates
met, work at working hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .dataset import Dataset
from .model import DEFAULT_STATUSES, ChangeItem, History, Issue, Sprint, User, to_ms
from .names import COMPONENTS, FIRST_NAMES, LAST_NAMES, OBJECTS, VERBS, ascii_slug

TEAM_SPECS = (
    ("payments", "PAY", "Payments", "Europe/Berlin"),
    ("platform", "PLAT", "Platform", "Europe/London"),
    ("mobile", "MOB", "Mobile", "America/New_York"),
    ("data", "DATA", "Data", "Asia/Kolkata"),
    ("search", "SRCH", "Search", "Europe/Madrid"),
    ("growth", "GROW", "Growth", "America/Chicago"),
    ("identity", "IDN", "Identity", "Europe/Warsaw"),
    ("billing", "BILL", "Billing", "Australia/Sydney"),
)
REMOTE_ZONES = ("America/Sao_Paulo", "Asia/Tokyo", "Europe/Lisbon", "Africa/Lagos", "America/Los_Angeles")
PRESSURED_TEAM = "payments"
# Under the same crunch, but its lead answers it: due dates move later during the crunch.
ANSWERED_TEAM = "platform"
CRUNCH_DAYS = 10


@dataclass(frozen=True)
class OrgTeam:
    """A team: its Jira project, its manager and members (e-mails, manager not a member), its zone."""

    name: str
    project_key: str
    manager_email: str
    member_emails: tuple[str, ...]
    timezone: str


@dataclass
class Organisation:
    """A generated organisation: the Jira data and who is in which team."""

    dataset: Dataset
    teams: list[OrgTeam]
    now: datetime
    seed: int
    people: dict[str, str] = field(default_factory=dict)  # e-mail -> display name
    timezones: dict[str, str] = field(default_factory=dict)  # e-mail -> IANA zone
    pressured_team: str = PRESSURED_TEAM

    def team(self, name: str) -> OrgTeam:
        """Return the team with this name."""
        return next(t for t in self.teams if t.name == name)


def make_people(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """Return `count` unique (display name, e-mail) pairs."""
    pairs = [(f, la) for f in FIRST_NAMES for la in LAST_NAMES]
    rng.shuffle(pairs)
    chosen: list[tuple[str, str]] = []
    used_first: set[str] = set()
    emails: set[str] = set()
    for first, last in pairs:
        if len(chosen) == count:
            break
        if first in used_first and len(used_first) < len(FIRST_NAMES):
            continue
        email = f"{ascii_slug(first)}.{ascii_slug(last)}@demo.example"
        if email in emails:
            continue
        used_first.add(first)
        emails.add(email)
        chosen.append((f"{first} {last}", email))
    return chosen


def local_time(day: date, hour: float, tz: ZoneInfo) -> datetime:
    minutes = round(hour * 60)
    return datetime.combine(day, time(minutes // 60 % 24, minutes % 60), tzinfo=tz).astimezone(UTC)


def _work_time(rng: random.Random, day: date, tz: ZoneInfo) -> datetime:
    return local_time(day, rng.uniform(9.25, 16.75), tz)


def _after_hours(rng: random.Random, day: date, tz: ZoneInfo) -> datetime:
    return local_time(day, rng.uniform(19.0, 22.9), tz)


def add_workdays(day: date, n: int) -> date:
    while n > 0 or day.weekday() >= 5:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def make_summary(rng: random.Random) -> str:
    return f"{rng.choice(VERBS)} {rng.choice(OBJECTS).format(c=rng.choice(COMPONENTS))}"


Event = tuple[datetime, str, object]


@dataclass
class _Plan:
    created: datetime
    summary: str
    issuetype: str
    status: str
    assignee: str | None
    reporter: str
    duedate: date | None
    events: list[Event]


class _Capacity:
    """A team's work-in-progress limit: a start waits until someone finishes, as a pull system does."""

    def __init__(self, limit: int, tz: ZoneInfo, unlimited_after: datetime) -> None:
        self.limit = limit
        self.tz = tz
        self.unlimited_after = unlimited_after
        self.busy: list[tuple[datetime, datetime]] = []

    def admit(self, rng: random.Random, start: datetime) -> datetime:
        """Return the first moment from `start` at which the team has room for one more item."""
        while start < self.unlimited_after:
            running = [end for begin, end in self.busy if begin <= start < end]
            if len(running) < self.limit:
                break
            start = max(
                start, _work_time(rng, min(running).astimezone(self.tz).date(), self.tz), min(running)
            )
        return start

    def hold(self, start: datetime, end: datetime) -> None:
        """Record an item in progress from start to end."""
        self.busy.append((start, end))


def _team_sprints(ds: Dataset, key: str, board: int, now: datetime, days: int, tz: ZoneInfo) -> list[Sprint]:
    local_now = now.astimezone(tz).date()
    anchor = local_now - timedelta(days=8)
    anchor -= timedelta(days=anchor.weekday())  # Monday: the active sprint is 8-14 days old
    first = -(days // 14 + 2)
    sprints: list[Sprint] = []
    for k in range(first, 2):
        start = local_time(anchor + timedelta(days=14 * k), 9.0, tz)
        end = local_time(
            anchor + timedelta(days=14 * (k + 1)), 9.0, tz
        )  # back to back, so one is always running
        state = "closed" if end <= now else "active" if start <= now else "future"
        name = f"{key} Sprint {k - first + 1}"
        sprints.append(
            ds.add_sprint(name, board, start, end, state, complete=end if state == "closed" else None)
        )
    return sprints


def _plan_team(
    rng: random.Random,
    team: OrgTeam,
    sprints: list[Sprint],
    now: datetime,
    days: int,
    crunch: bool,
    answered: bool = False,
) -> list[_Plan]:
    tz = ZoneInfo(team.timezone)
    members = list(team.member_emails)
    crunch_start = now - timedelta(days=CRUNCH_DAYS)
    today = now.astimezone(tz).date()
    starts = [datetime.fromtimestamp((s.start or 0) / 1000, UTC) for s in sprints]
    ends = [datetime.fromtimestamp((s.end or 0) / 1000, UTC) for s in sprints]
    plans: list[_Plan] = []
    # The crunch is exactly a team working beyond its usual limit.
    capacity = _Capacity(round(1.5 * len(members)), tz, crunch_start if crunch else now + timedelta(days=30))
    # Start early so the window opens in a steady state rather than an empty board.
    day = (now - timedelta(days=days + 10)).astimezone(tz).date()
    arrivals_per_day = max(1.0, len(members) / 2.7)
    while day <= today:
        if day.weekday() < 5:
            for _ in range(_poisson(rng, arrivals_per_day)):
                created = _work_time(rng, day, tz)
                if created <= now:
                    plans.append(_plan_issue(rng, team, members, tz, created, starts, ends, sprints, now, crunch,
                                             crunch_start, capacity, answered))  # fmt: skip
        day += timedelta(days=1)
    if crunch:
        plans.extend(_crunch_extras(rng, team, members, tz, now, starts, ends, sprints, today))
    if crunch and answered:
        _renegotiate(rng, plans, tz, now)
    return plans


def _renegotiate(rng: random.Random, plans: list[_Plan], tz: ZoneInfo, now: datetime) -> None:
    """Move two open items' due dates a week later, two days into the answered team's crunch."""
    at = _work_time(rng, add_workdays((now - timedelta(days=3)).astimezone(tz).date(), 0), tz)
    moved = 0
    for plan in plans:
        done = max((t for t, kind, _v in plan.events if kind == "status"), default=now)
        dues = [v for _t, kind, v in plan.events if kind == "due" and isinstance(v, date)]
        current = dues[-1] if dues else plan.duedate
        if moved < 2 and current is not None and plan.created < at < done and at <= now:
            plan.events.append((at, "due", add_workdays(current, 5)))
            moved += 1


def _poisson(rng: random.Random, mean: float) -> int:
    count, threshold, product = 0, pow(2.718281828, -mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _sprint_index(moment: datetime, starts: list[datetime], ends: list[datetime]) -> int | None:
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if start <= moment < end:
            return index
    return None


def _plan_issue(
    rng: random.Random,
    team: OrgTeam,
    members: list[str],
    tz: ZoneInfo,
    created: datetime,
    starts: list[datetime],
    ends: list[datetime],
    sprints: list[Sprint],
    now: datetime,
    crunch: bool,
    crunch_start: datetime,
    capacity: _Capacity,
    answered: bool = False,
) -> _Plan:
    events: list[Event] = []
    assignee = rng.choice(members) if rng.random() < 0.7 else None
    current = _sprint_index(created, starts, ends)
    urgent = rng.random() < 0.25
    # Urgent work joins the running sprint (scope added after start); the rest waits for the next one.
    sprint_index = (
        current if urgent and current is not None else (current + 1 if current is not None else None)
    )
    start_day = created.astimezone(tz).date()
    if sprint_index is not None and sprint_index < len(sprints):
        events.append(
            (created + timedelta(minutes=rng.randint(1, 30)), "sprint_add", sprints[sprint_index].id)
        )
    if urgent:
        start_day = add_workdays(start_day, rng.randint(0, 2))
    elif sprint_index is not None and sprint_index < len(sprints):
        # Planned work is ready when its sprint starts; the WIP limit spreads the starts out.
        start_day = add_workdays(
            max(start_day, starts[sprint_index].astimezone(tz).date()), rng.randint(0, 2)
        )
    start = capacity.admit(rng, max(_work_time(rng, start_day, tz), created + timedelta(minutes=45)))
    doing = _work_time(rng, add_workdays(start.astimezone(tz).date(), rng.randint(2, 5)), tz)
    review = doing if rng.random() < 0.5 else None
    done = doing
    if review is not None:
        done = _work_time(rng, add_workdays(doing.astimezone(tz).date(), rng.randint(1, 2)), tz)
    done = max(done, start + timedelta(hours=2))
    capacity.hold(start, done)
    if crunch and crunch_start <= done <= now and rng.random() < 0.8:
        done = now + timedelta(days=3)  # completions stall in the crunch
        if review is not None and review >= crunch_start:
            review = now + timedelta(days=2)
    owner = assignee or rng.choice(members)
    if assignee is None:
        events.append((start - timedelta(minutes=5), "assign", owner))
    events.append((start, "status", "In Progress"))
    if review is not None and review < done:
        events.append((review, "status", "In Review"))
    # A team managed only as process hands nothing over and moves no date in its crunch.
    management_only = crunch and not answered
    if rng.random() < 0.12:
        other = rng.choice([m for m in members if m != owner] or members)
        handover = start + (done - start) / 2
        if not (management_only and handover >= crunch_start):
            events.append((handover, "assign", other))
            owner = other
    events.append((done, "status", "Closed" if rng.random() < 0.15 else "Done"))
    due: date | None = None
    if rng.random() < 0.35:
        # Calm teams set due dates with slack, so they are met.
        due = add_workdays(done.astimezone(tz).date(), rng.randint(1, 5))
        if crunch and done > now:
            due = add_workdays(now.astimezone(tz).date(), rng.randint(1, 6))
        if rng.random() < 0.25:
            moved_at = created + (start - created) / 2
            later = add_workdays(due, rng.randint(2, 5))
            if not (management_only and moved_at >= crunch_start):
                events.append((moved_at, "due", later))
    # Work still open when its sprint ends rolls over into the next sprint.
    index = sprint_index
    while index is not None and index + 1 < len(sprints) and ends[index] < min(done, now):
        index += 1
        events.append((ends[index - 1] + timedelta(minutes=10), "sprint_add", sprints[index].id))
    if crunch:
        events = [(_maybe_after_hours(rng, t, tz, crunch_start, now), kind, v) for t, kind, v in events]
    return _Plan(
        created,
        make_summary(rng),
        rng.choice(("Story", "Task", "Task", "Bug")),
        "Backlog" if rng.random() < 0.2 else "To Do",
        assignee,
        team.manager_email if rng.random() < 0.6 else rng.choice(members),
        due,
        events,
    )


def _maybe_after_hours(
    rng: random.Random, moment: datetime, tz: ZoneInfo, crunch_start: datetime, now: datetime
) -> datetime:
    if crunch_start <= moment <= now and rng.random() < 0.35:
        late = _after_hours(rng, moment.astimezone(tz).date(), tz)
        if late <= now:
            return late
    return moment


def _crunch_extras(
    rng: random.Random,
    team: OrgTeam,
    members: list[str],
    tz: ZoneInfo,
    now: datetime,
    starts: list[datetime],
    ends: list[datetime],
    sprints: list[Sprint],
    today: date,
) -> list[_Plan]:
    plans: list[_Plan] = []
    active = _sprint_index(now, starts, ends)
    for n in range(max(8, 2 * len(members))):
        created = _work_time(
            rng, add_workdays(today - timedelta(days=CRUNCH_DAYS + 6), rng.randint(0, 3)), tz
        )
        # The urgent work lands in the crunch's first working days: that is its onset.
        start_day = add_workdays(today - timedelta(days=CRUNCH_DAYS), rng.randint(0, 2))
        start = _after_hours(rng, start_day, tz) if n % 3 == 0 else _work_time(rng, start_day, tz)
        if start > now:
            start = now - timedelta(hours=rng.randint(2, 20))
        owner = rng.choice(members)
        events: list[Event] = []
        if active is not None:
            # Pulled into the running sprint after it started: scope added.
            events.append((start - timedelta(minutes=20), "sprint_add", sprints[active].id))
        events.append((start, "status", "In Progress"))
        if n % 4 == 1:
            events.append((start + timedelta(hours=rng.randint(3, 9)), "status", "In Review"))
        # Half overdue, half due within two days.
        due = (
            today - timedelta(days=rng.randint(1, 3))
            if n % 2 == 0
            else today + timedelta(days=rng.randint(0, 2))
        )
        plans.append(
            _Plan(created, make_summary(rng), "Bug" if n % 2 else "Task", "To Do", owner, team.manager_email, due,
                  [(t, k, v) for t, k, v in events if t <= now])
        )  # fmt: skip
    return plans


def _apply(ds: Dataset, key: str, plan: _Plan, now: datetime) -> None:
    for moment, kind, value in sorted(plan.events, key=lambda e: e[0]):
        if moment > now:
            continue
        issue = ds.issue(key)
        author = (issue.assignee.email if issue.assignee else None) if kind != "due" else None
        if kind == "status":
            ds.transition(key, str(value), at=moment, author=author)
        elif kind == "assign":
            ds.reassign(key, str(value), at=moment, author=author)
        elif kind == "due":
            ds.set_due_date(key, value if isinstance(value, date) else None, at=moment, author=author)
        elif kind == "sprint_add":
            ds.add_to_sprint(key, int(str(value)), at=moment, author=author)


def generate_organisation(
    seed: int = 7, now: datetime | None = None, teams: int = 4, people_per_team: int = 6, days: int = 60
) -> Organisation:
    """Generate an organisation (deterministic for a seed and `now`); the first team is in a crunch."""
    if now is None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    rng = random.Random(seed)
    ds = Dataset(DEFAULT_STATUSES, now=now)
    people = make_people(rng, teams * (people_per_team + 1))
    org = Organisation(ds, [], now, seed)
    for index in range(teams):
        name, key, project_name, zone = (
            TEAM_SPECS[index]
            if index < len(TEAM_SPECS)
            else (f"team{index}", f"T{index}", f"Team {index}", "UTC")
        )
        group = people[index * (people_per_team + 1) : (index + 1) * (people_per_team + 1)]
        emails: list[str] = []
        for position, (display, email) in enumerate(group):
            # One remote member per team works from another zone.
            person_zone = REMOTE_ZONES[index % len(REMOTE_ZONES)] if position == people_per_team else zone
            ds.add_user(email, display, person_zone)
            org.people[email] = display
            org.timezones[email] = person_zone
            emails.append(email)
        team = OrgTeam(name, key, emails[0], tuple(emails[1:]), zone)
        org.teams.append(team)
        ds.add_project(key, project_name, lead=team.manager_email)
        sprints = _team_sprints(ds, key, index + 1, now, days, ZoneInfo(zone))
        plans = _plan_team(
            random.Random(rng.random()),
            team,
            sprints,
            now,
            days,
            crunch=name in (PRESSURED_TEAM, ANSWERED_TEAM),
            answered=name == ANSWERED_TEAM,
        )
        for plan in sorted(plans, key=lambda p: p.created):
            issue_key = ds.create_issue(
                key, plan.summary, issuetype=plan.issuetype, status=plan.status, assignee=plan.assignee,
                reporter=plan.reporter, duedate=plan.duedate, at=plan.created,
            )  # fmt: skip
            _apply(ds, issue_key, plan, now)
    return org


# ---------------------------------------------------------------- bulk


def generate_bulk(
    n_issues: int, seed: int = 1, now: datetime | None = None, projects: int = 10, hidden_emails: int = 0
) -> Dataset:
    """Generate a large dataset fast: 3-8 histories per issue, ~1% with more than 100 (Cloud's cap).

    `hidden_emails` N > 0: every Nth user hides the address from user objects (privacy setting).
    """
    if now is None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    rng = random.Random(seed)
    ds = Dataset(DEFAULT_STATUSES, now=now)
    users: list[User] = []
    for index, (display, email) in enumerate(make_people(rng, min(200, len(FIRST_NAMES) * len(LAST_NAMES)))):
        zone = REMOTE_ZONES[index % len(REMOTE_ZONES)] if index % 7 == 0 else "UTC"
        hidden = hidden_emails > 0 and index % hidden_emails == 0
        users.append(ds.add_user(email, display, zone, email_visible=not hidden))
    todo, doing, review, done = (ds.status(n) for n in ("To Do", "In Progress", "In Review", "Done"))
    now_ms = to_ms(now)
    year_ms = 365 * 86_400_000
    day_ms = 86_400_000
    project_list = []
    sprint_lists: list[list[Sprint]] = []
    for p in range(projects):
        key = f"P{chr(65 + p // 26 % 26)}{chr(65 + p % 26)}"
        project_list.append(ds.add_project(key, f"Bulk project {p + 1}"))
        sprints: list[Sprint] = []
        for k in range(27):
            start = now - timedelta(days=365 - 14 * k)
            end = start + timedelta(days=14)
            state = "closed" if end <= now else "active" if start <= now else "future"
            sprints.append(ds.add_sprint(f"{key} Sprint {k + 1}", p + 1, start, end, state,
                                         complete=end if state == "closed" else None))  # fmt: skip
        sprint_lists.append(sprints)
    next_history = ds.new_history_id
    randint, random_, choice = rng.randint, rng.random, rng.choice
    created_times = sorted(now_ms - randint(day_ms, year_ms) for _ in range(n_issues))
    summaries = [make_summary(rng) for _ in range(200)]
    for created in created_times:
        p = randint(0, projects - 1)
        project = project_list[p]
        assignee = choice(users)
        issue = Issue(ds.new_issue_id(), project, project.next_number, choice(summaries), "Task", todo, created,
                      reporter=choice(users), assignee=assignee)  # fmt: skip
        histories: list[History] = []
        t = created
        sprint_index = min(26, (created - (now_ms - year_ms)) // (14 * day_ms))
        sprint = sprint_lists[p][sprint_index]
        t += randint(60_000, 7_200_000)
        histories.append(History(next_history(), t, assignee, (("sprint", (), (sprint,)),)))
        issue.sprints = (sprint,)
        flapping = random_() < 0.01
        steps = randint(101, 180) if flapping else randint(2, 7)
        status = todo
        for step in range(steps):
            t += randint(600_000, 2 * day_ms)
            if t >= now_ms:
                break
            items: tuple[ChangeItem, ...]
            if status is todo:
                items = (("status", todo, doing),)
                status = doing
            elif status is doing and (flapping or random_() < 0.5) and step < steps - 1:
                items = (("status", doing, review),)
                status = review
            elif status is review and flapping and step < steps - 1:
                items = (("status", review, doing),)  # review sent it back
                status = doing
            elif status is not done and step >= steps - 2:
                items = (("status", status, done), ("resolution", None, "Done"))
                status = done
                issue.resolution, issue.resolutiondate = "Done", t
            elif random_() < 0.5:
                other = choice(users)
                items = (("assignee", issue.assignee, other),)
                issue.assignee = other
            else:
                new_due = date.fromtimestamp((t + randint(2, 20) * day_ms) / 1000).isoformat()
                items = (("duedate", issue.duedate, new_due),)
                issue.duedate = new_due
            histories.append(History(next_history(), t, issue.assignee, items))
        issue.status = status
        issue.histories = histories
        issue.updated = histories[-1].created if histories else created
        ds.load(issue)
    return ds
