"""One team's stored data as the engine reads it: loaded once, then kept up to date by the store's change log.

A team's data is what its evaluations at any time near `as_of` read: the work items not done
before the replay's window (parsed once), its leadership actions, and the people signals about
its manager and members (meetings, time off, time zones, survey responses, plugin sources'
events). Nothing here depends on the time evaluated but the window's floor: each use filters by
its own `as_of`, so one TeamData serves a cycle and the next, and a replay of any later time.
"""

from __future__ import annotations

import itertools
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace

import orjson

from .config import Team
from .model import PersonSignal, StatusCategory
from .pseudonym import Pseudonymiser
from .store import ItemRow, SignalRow, Store

DAY = 86400.0
TODO, DONE = StatusCategory.TODO, StatusCategory.DONE
# Items done up to this long before the replay's window are still held, so a later evaluation
# at a slightly earlier time (a clock step back) needs no reload.
FLOOR_MARGIN = 7 * DAY
PEOPLE_KINDS = ("meeting", "time_off", "timezone", "survey_response")
_versions = itertools.count(1)  # every change of any team's data gets a new number: keys never repeat


Bounds = tuple[float | None, float | None]  # a sprint's start and end


@dataclass(slots=True)
class ItemHistory:
    """One work item's history, replayable at any time."""

    created: float
    status_at: tuple[float, ...]
    status: tuple[str, ...]
    due_at: tuple[float, ...]
    due: tuple[str | None, ...]
    started: float | None
    done: tuple[float, ...]  # times it entered done
    # (when, sprint id, (its start, its end)) of each time the item was added to a sprint
    sprint_adds: tuple[tuple[float, str, Bounds], ...]
    assignee_at: tuple[float, ...] = ()
    assignee: tuple[str | None, ...] = ()
    # What a change said it changed from, beside the values above (a capped or edited history
    # need not chain): due date and assignee changes', in order; sprint changes whole.
    due_from: tuple[str | None, ...] = ()
    assignee_from: tuple[str | None, ...] = ()
    sprint_moves: tuple[tuple[float, str | None, str | None], ...] = ()
    other_at: tuple[float, ...] = ()  # when any other field changed

    def change_times(self) -> list[float]:
        """Return when each of the item's changes happened."""
        return [
            *self.status_at[1:],
            *self.due_at[1:],
            *self.assignee_at[1:],
            *(m[0] for m in self.sprint_moves),
            *self.other_at,
        ]

    def assignee_on(self, t: float) -> str | None:
        if not self.assignee_at:
            return None
        return self.assignee[max(bisect_right(self.assignee_at, t) - 1, 0)]

    def status_on(self, t: float) -> str | None:
        if t < self.created:
            return None
        return self.status[bisect_right(self.status_at, t) - 1]

    def due_on(self, t: float) -> str | None:
        return self.due[bisect_right(self.due_at, t) - 1]


def build_item(row: ItemRow, shared: dict[Bounds, Bounds] | None = None) -> ItemHistory:
    """Parse a stored item and its history (oldest change first) into its replayable history."""
    status_at: list[float] = [row.created]
    status: list[str] = []
    done: list[float] = []
    due_at: list[float] = [row.created]
    due: list[str | None] = []
    due_from: list[str | None] = []
    assignee_at: list[float] = [row.created]
    assignee: list[str | None] = []
    assignee_from: list[str | None] = []
    sprint_moves: list[tuple[float, str | None, str | None]] = []
    other_at: list[float] = []
    intern = sys.intern
    for _id, at, fld, frm, to in orjson.loads(row.history) if row.history else ():
        # Values repeat across a team's items (statuses, people, dates, sprints): one copy each.
        frm = intern(frm) if isinstance(frm, str) else frm
        to = intern(to) if isinstance(to, str) else to
        if fld == "status":
            if not status:
                status.append(frm or TODO)
            status_at.append(at)
            status.append(to or TODO)
            if to == DONE:
                done.append(at)
        elif fld == "duedate":
            if not due:
                due.append(frm or None)
            due_at.append(at)
            due.append(to or None)
            due_from.append(frm)
        elif fld == "assignee":
            if not assignee:
                assignee.append(frm)
            assignee_at.append(at)
            assignee.append(to)
            assignee_from.append(frm)
        elif fld == "sprint":
            sprint_moves.append((at, frm, to))
        else:
            other_at.append(at)
    if not status:
        status.append(intern(row.status) if row.status else TODO)
    if not due:
        due.append(row.due or None)
    if not assignee:
        assignee.append(row.assignee)
    if row.status == DONE and not done and row.done_at is not None:
        done = [row.done_at]
    sprints = {}
    for sprint in row.sprints:
        bounds = (sprint.get("start"), sprint.get("end"))
        # One copy of a sprint's (start, end) for all its items, when `shared` keeps them.
        sprints[str(sprint["id"])] = shared.setdefault(bounds, bounds) if shared is not None else bounds
    adds: list[tuple[float, str, Bounds]] = []
    for at, frm, to in sprint_moves:
        before = {s.strip() for s in (frm or "").split(",") if s.strip()}
        after = {s.strip() for s in (to or "").split(",") if s.strip()}
        adds.extend((at, s, sprints.get(s, (None, None))) for s in sorted(after - before))
    return ItemHistory(
        row.created,
        tuple(status_at),
        tuple(status),
        tuple(due_at),
        tuple(due),
        row.started_at,
        tuple(done),
        tuple(adds),
        tuple(assignee_at),
        tuple(assignee),
        tuple(due_from),
        tuple(assignee_from),
        tuple(sprint_moves),
        tuple(other_at),
    )


@dataclass(frozen=True, slots=True)
class Held:
    """A stored item as held: what decides whether an evaluation reads it, and its history."""

    created: float
    done_at: float | None
    item: ItemHistory


@dataclass(frozen=True, slots=True)
class Meeting:
    """A stored meeting, as the people side reads it."""

    id: str
    start: float
    end: float
    people: tuple[str, ...]
    category: str | None
    recurring: bool


def _meeting(row: SignalRow) -> Meeting:
    category = row.attrs.get("category")
    return Meeting(
        row.id,
        row.start,
        row.end,
        tuple(sys.intern(person) for person in row.people),
        sys.intern(category) if isinstance(category, str) else None,
        bool(row.attrs.get("recurring")),
    )


class TeamData:
    """What the store holds about one team, as its evaluations read it."""

    def __init__(
        self,
        store: Store,
        team: Team,
        pseudonym: Pseudonymiser | None,
        sources: Sequence[str],
        floor: float,
    ) -> None:
        self.team = team
        p = pseudonym or (lambda x: x)
        self.manager = p(team.manager)
        self.members: list[str] = [m for m in (p(x) for x in team.members) if m]
        # Whose signals are the team's: its members and manager (as a plugin's events see them).
        self.persons: frozenset[str] = frozenset(
            q for q in (p(m) for m in (*team.members, team.manager)) if q is not None
        )
        # Without a pseudonymiser the process side sees no one on leave (work items name no one).
        self.leave_persons = frozenset(self.members) if pseudonym is not None else frozenset()
        self.sources = tuple(sources)  # the plugin sources whose events the team's signals read
        self.floor = floor
        self.load_items(store)
        self.load_actions(store)
        self.load_people(store)

    # -- work items --------------------------------------------------------------------

    def load_items(self, store: Store) -> None:
        """Read the team's items not done before the floor, and how many were."""
        rows = store.team_items(self.team.name, self.floor, 1e18)
        self._sprints: dict[Bounds, Bounds] = {}  # each sprint's (start, end), shared by its items
        self.items = {(r.source, r.id): _held(r, self._sprints) for r in rows}
        self.done_before_floor = store.completed_before(self.team.name, self.floor)
        self._items_changed()

    def touch_items(self, store: Store, keys: Sequence[tuple[str, str]]) -> None:
        """Read these items again (written or removed since)."""
        rows = {(r.source, r.id): r for r in store.team_items_by_id(self.team.name, keys)}
        for key in keys:
            row = rows.get(key)
            if row is None or (row.done_at is not None and row.done_at < self.floor):
                self.items.pop(key, None)
            else:
                self.items[key] = _held(row, self._sprints)
        # An item done before the floor may have come, gone or changed: count those again.
        self.done_before_floor = store.completed_before(self.team.name, self.floor)
        self._items_changed()

    def _items_changed(self) -> None:
        self.items_version = next(_versions)
        held = list(self.items.values())
        self.created_sorted = sorted(h.created for h in held)
        self.done_sorted = sorted(h.done_at for h in held if h.done_at is not None)

    def items_key(self, as_of: float, since: float) -> tuple[int, int, int]:
        """Return a key equal for two (as_of, since) exactly when read_items gives the same items."""
        return (
            self.items_version,
            bisect_right(self.created_sorted, as_of),
            bisect_left(self.done_sorted, since),
        )

    def read_items(self, as_of: float, since: float) -> list[ItemHistory]:
        """Return the items an evaluation at `as_of` reads: created by then, not done before `since`."""
        return [
            h.item
            for h in self.items.values()
            if h.created <= as_of and (h.done_at is None or h.done_at >= since)
        ]

    def completed_total(self, as_of: float) -> int:
        """Return how many of the team's items were done by `as_of` (not before the floor)."""
        return self.done_before_floor + bisect_right(self.done_sorted, as_of)

    # -- actions -------------------------------------------------------------------------

    def load_actions(self, store: Store) -> None:
        """Read the team's leadership actions, every one, oldest first."""
        self.actions = store.actions(self.team.name, 0.0, 1e18)
        self.action_times = [at for _kind, at, _p in self.actions]

    def actions_until(self, as_of: float) -> list[tuple[str, float, str | None]]:
        """Return the actions up to `as_of`, oldest first."""
        return self.actions[: bisect_right(self.action_times, as_of)]

    # -- people signals --------------------------------------------------------------------

    def load_people(self, store: Store) -> None:
        """Read the signals about the team's people, and its plugin sources' events."""
        rows = store.people_signals(PEOPLE_KINDS, self.persons, self.team.name)
        member_set = set(self.members)
        people = member_set | {self.manager}
        # Each id with every source's row for it: which one counts depends on the time (below).
        versions: dict[str, list[Meeting]] = {}
        for row in rows.get("meeting", []):
            versions.setdefault(row.id, []).append(_meeting(row))
        self.meetings: list[Meeting] = []
        self.contested: dict[str, list[Meeting]] = {}
        for ident, found in versions.items():
            if len(found) == 1:
                if people & set(found[0].people):
                    self.meetings.append(replace(found[0], id=""))  # only a contested id is looked at
            else:
                self.contested[ident] = found
        self.meetings.sort(key=lambda m: m.start)
        self.time_off = rows.get("time_off", [])
        self.timezones = [r for r in rows.get("timezone", []) if r.person in people]
        self.responses = [r for r in rows.get("survey_response", []) if r.team == self.team.name]
        self.people_version = next(_versions)
        self.load_events(store)

    def load_events(self, store: Store) -> None:
        """Read the events about the team or its people that the plugin sources stored.

        Read again for every evaluation (TeamData.sources are few, when any): an event hands
        its plugin whose calendar said it (owner), which the change log does not follow.
        """
        events = store.team_source_signals(self.sources, self.persons, self.team.name) if self.sources else []
        self.events = [
            (source, e)
            for source, e in events
            if e.team == self.team.name or e.person in self.persons or self.persons.intersection(e.people)
        ]

    def meetings_at(self, horizon: float) -> tuple[tuple[object, ...], list[Meeting]]:
        """Return the team's meetings as an evaluation reading up to `horizon` sees them, by start, and a key.

        The same meeting may come from two sources: the row that counts is the last (by start,
        id, source) of those that began by `horizon`, as when every meeting up to then is read.
        """
        if not self.contested:
            return (), self.meetings
        people = set(self.members) | {self.manager}
        chosen = []
        for found in self.contested.values():
            shown = [m for m in found if m.start <= horizon]
            if shown and people & set(shown[-1].people):
                chosen.append(shown[-1])
        key = tuple(sorted((m.id, m.start) for m in chosen))
        return key, sorted([*self.meetings, *chosen], key=lambda m: m.start)

    def leave_between(self, since: float, until: float) -> tuple[tuple[str, float, float], ...]:
        """Return (person, start, end) of the members' time off overlapping [since, until], every row."""
        return tuple(
            (r.person, r.start, r.end)
            for r in self.time_off
            if r.end >= since and r.start <= until and r.person is not None and r.person in self.leave_persons
        )

    def leave_once(self, since: float, until: float) -> list[SignalRow]:
        """Return the time off overlapping [since, until], one row per id (the last one)."""
        rows = [r for r in self.time_off if r.end >= since and r.start <= until]
        return list({r.id: r for r in rows}.values())

    def plugin_events(self, by_kind: dict[str, list[str]]) -> dict[str, list[PersonSignal]]:
        """Return the team's events per plugin source kind (`by_kind`: kind -> its sources)."""
        out = {}
        for kind, sources in by_kind.items():
            wanted = set(sources)
            out[kind] = [e for source, e in self.events if source in wanted]
        return out


def _held(row: ItemRow, sprints: dict[Bounds, Bounds]) -> Held:
    # The raw history is parsed once: the held item does not keep it.
    return Held(row.created, row.done_at, build_item(row, sprints))
