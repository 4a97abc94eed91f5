"""Build a large organisation's store directly, through the Store API: far faster than through Jira.

The events are what the Jira and calendar sources would yield, pseudonymised as a collection
pseudonymises them, and written with Store.apply_batch, so the store holds what a real
collection of such an organisation would leave. Each team: a manager and members; work items
created over the last year (started, often reassigned or re-dated, then done within days, a
few left in the backlog); weekly 1:1s with each member, a weekly check-in and other meetings
over the calendar window; a few days off per person.

`write(..., part="open")` writes the present (open work, calendars), `part="history"` the work
done, so the same organisation can be evaluated with and without its history.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bench.workspace import TeamSpec, person_email, project_key, team_name
from teampulse.collect import Pseudonymise
from teampulse.model import Change, Event, PersonSignal, SignalsReplaced, Sprint, StatusCategory, WorkItem
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store

DAY = 86_400.0
YEAR = 365 * DAY
BACK = 133 * DAY  # the calendar source's first window: as far back as the engine replays
AHEAD = 14 * DAY
BACKLOG = 0.03  # share of items never started
WORK_SOURCE = "generated"  # not a configured source: its rows only feed the engine
CALENDAR_SOURCE = "calendar"


@dataclass(frozen=True)
class Organisation:
    """The sizes of a generated organisation (people per team includes its manager)."""

    teams: int = 1000
    people: int = 10
    items: int = 1_000_000
    meetings: int = 500_000
    seed: int = 11

    def specs(self) -> list[TeamSpec]:
        """Return the teams as configured: one Jira project each."""
        return [
            TeamSpec(
                team_name(t),
                person_email(t, 0),
                tuple(person_email(t, k) for k in range(1, self.people)),
                f"project = {project_key(t)}",
            )
            for t in range(self.teams)
        ]


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _working(rng: random.Random, ts: float) -> float:
    """Return a time in working hours (09-17 UTC, a weekday) on or after ts's day."""
    day = ts - ts % DAY
    weekday = int(day // DAY + 3) % 7  # 1970-01-01 was a Thursday
    if weekday >= 5:
        day += (7 - weekday) * DAY
    return day + 9 * 3600 + rng.random() * 8 * 3600


@dataclass
class _Plan:
    created: float
    started: float | None
    done: float | None
    changes: list[tuple[float, str, str | None, str | None]]
    assignee: str
    due: date | None
    sprint: int


def _plans(org: Organisation, team: int, now: float) -> Iterator[_Plan]:
    """Yield the team's work items, oldest first (deterministic for the seed and `now`)."""
    todo, doing, done_ = (str(StatusCategory.TODO), str(StatusCategory.IN_PROGRESS), str(StatusCategory.DONE))
    rng = random.Random(org.seed * 1_000_003 + team)
    members = [person_email(team, k) for k in range(1, org.people)] or [person_email(team, 0)]
    count = org.items // org.teams + (1 if team < org.items % org.teams else 0)
    for created_raw in sorted(now - rng.random() * YEAR for _ in range(count)):
        created = min(_working(rng, created_raw), now - 60)
        owner = rng.choice(members)
        sprint = int((created - (now - YEAR)) // (14 * DAY))
        changes: list[tuple[float, str, str | None, str | None]] = [
            (created + 60, "assignee", None, owner),
            (created + 120, "sprint", None, str(team * 100 + sprint)),
        ]
        due: date | None = None
        if rng.random() < 0.4:
            due = _at(created + rng.uniform(3, 15) * DAY).date()
            changes.append((created + 180, "duedate", None, due.isoformat()))
        started = done = None
        if rng.random() >= BACKLOG:
            started = _working(rng, created + rng.uniform(0, 5) * DAY)
            done = _working(rng, started + rng.uniform(0.5, 12) * DAY)
            if started < now:
                changes.append((started, "status", todo, doing))
                if rng.random() < 0.2:
                    other = rng.choice(members)
                    changes.append((started + rng.uniform(0, 2) * DAY, "assignee", owner, other))
                    owner = other
                if due is not None and rng.random() < 0.15:
                    moved = due + timedelta(days=rng.randint(2, 7))
                    changes.append(
                        (started + rng.uniform(0, 3) * DAY, "duedate", due.isoformat(), moved.isoformat())
                    )
                    due = moved
            else:
                started = None
            if done < now and started is not None:
                changes.append((done, "status", doing, done_))
            else:
                done = None
        yield _Plan(created, started, done, [c for c in changes if c[0] < now], owner, due, sprint)


def _work_items(org: Organisation, team: int, now: float, done: bool) -> Iterator[WorkItem]:
    name, key = team_name(team), project_key(team)
    for n, plan in enumerate(_plans(org, team, now)):
        if (plan.done is not None) != done:
            continue
        status = (
            StatusCategory.DONE
            if plan.done is not None
            else StatusCategory.IN_PROGRESS
            if plan.started is not None
            else StatusCategory.TODO
        )
        start = now - YEAR + plan.sprint * 14 * DAY
        sprint = Sprint(
            str(team * 100 + plan.sprint),
            "closed" if start + 14 * DAY <= now else "active",
            _at(start),
            _at(start + 14 * DAY),
        )
        changes = tuple(
            Change(f"{n}-{i}", _at(at), fld, frm, to) for i, (at, fld, frm, to) in enumerate(plan.changes)
        )
        updated = max([plan.created, *(c[0] for c in plan.changes)])
        yield WorkItem(
            str(team * 10_000_000 + n),
            f"{key}-{n + 1}",
            name,
            _at(plan.created),
            _at(updated),
            status,
            plan.due,
            plan.assignee,
            (sprint,),
            changes,
        )


def _calendar(org: Organisation, team: int, now: float) -> Iterator[PersonSignal | SignalsReplaced]:
    """Yield the team's calendar window: each person's replaced window, meetings, time off."""
    rng = random.Random(org.seed * 7_000_001 + team)
    people = [person_email(team, k) for k in range(org.people)]
    manager, members = people[0], people[1:]
    start, end = now - BACK, now + AHEAD
    for person in people:
        yield SignalsReplaced(person, ("meeting", "time_off"), _at(start), _at(end))
    wanted = org.meetings // org.teams + (1 if team < org.meetings % org.teams else 0)
    weeks = int((end - start) // (7 * DAY))
    made = 0

    def meeting(
        uid: str, at: float, minutes: int, organizer: str, who: list[str], category: str, recurring: bool
    ) -> PersonSignal:
        return PersonSignal(
            id=f"{uid}|{_at(at).isoformat()}",
            kind="meeting",
            start=_at(at),
            end=_at(at + minutes * 60),
            person=organizer,
            people=tuple(who),
            attrs={"category": category, "recurring": recurring},
            owner=organizer,
        )

    series = [
        (f"t{team}-1on1-{m}@bench", [manager, member], "one_on_one", 30) for m, member in enumerate(members)
    ]
    series.append((f"t{team}-checkin@bench", people, "check_in", 30))
    for week in range(weeks):
        for uid, who, category, minutes in series:
            if made >= wanted:
                break
            at = _working(rng, start + week * 7 * DAY + rng.randint(0, 4) * DAY)
            yield meeting(uid, at, minutes, manager, who, category, True)
            made += 1
    n = 0
    while made < wanted:
        who = rng.sample(people, rng.randint(2, min(5, len(people))))
        at = _working(rng, start + rng.random() * (end - start))
        yield meeting(f"t{team}-m{n}@bench", at, rng.choice((30, 45, 60)), who[0], who, "meeting", False)
        made += 1
        n += 1
    for person in people:
        first = start + rng.random() * (end - start - 5 * DAY)
        first -= first % DAY
        yield PersonSignal(
            id=f"t{team}-off|{person}",
            kind="time_off",
            start=_at(first),
            end=_at(first + rng.randint(1, 5) * DAY),
            person=person,
            owner=person,
        )


def write(
    store: Store,
    pseudonym: Pseudonymiser,
    org: Organisation,
    now: datetime,
    part: str,
    on_progress: Callable[[str], None] | None = None,
    batch_events: int = 20_000,
) -> dict[str, int]:
    """Write the organisation's "open" part (open work, calendars) or its "history" (work done).

    Return how many events of each kind went in.
    """
    if part not in ("open", "history"):
        raise ValueError(f"part must be 'open' or 'history', not {part!r}")
    scrub = Pseudonymise(pseudonym)
    store.bind_key(pseudonym.fingerprint)
    ts = now.timestamp()
    counts = {"work_items": 0, "meetings": 0, "time_off": 0}
    pending: dict[str, list[Event]] = {WORK_SOURCE: [], CALENDAR_SOURCE: []}
    tenth = max(1, org.teams // 10)

    def flush() -> None:
        for source, events in pending.items():
            if events:
                store.apply_batch(source, events, None, ts)
                events.clear()

    for team in range(org.teams):
        for item in _work_items(org, team, ts, done=part == "history"):
            pending[WORK_SOURCE].append(scrub(item))
            counts["work_items"] += 1
        if part == "open":
            for event in _calendar(org, team, ts):
                pending[CALENDAR_SOURCE].append(scrub(event))
                if isinstance(event, PersonSignal):
                    counts["meetings" if event.kind == "meeting" else "time_off"] += 1
        if sum(len(events) for events in pending.values()) >= batch_events:
            flush()
        if on_progress and (team + 1) % tenth == 0 and team + 1 < org.teams:
            on_progress(f"{part}: {team + 1:,} of {org.teams:,} teams")
    flush()
    return counts
