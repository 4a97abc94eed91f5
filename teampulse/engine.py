"""The engine: a pure function of the store and a time, giving one snapshot per team.

Same store and `as_of`, same snapshots: `collect`, `check`, `--as-of` replays and
backfill all call `evaluate`.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from types import MappingProxyType
from typing import Any, NamedTuple

from .config import PRESSURE_COMPONENTS, SCAN_DAYS, Config, Team
from .kinds import SignalKind
from .model import ACTION_KINDS, StatusCategory
from .people import (
    COVERAGE_WINDOW,
    DAY,
    LOOKAHEAD,
    TRAILING,
    Conflict,
    PeopleHistory,
    PeopleRead,
    PeopleView,
)
from .plugin_signals import TeamSignals, plugin_sources
from .pseudonym import Pseudonymiser
from .states import TeamState
from .store import Store
from .team_data import FLOOR_MARGIN, ItemHistory, TeamData

WEEK = 7 * DAY
# Fewer changes than this in a week cannot read as a high after-hours share.
MIN_CHANGES_FOR_SHARE = 10
# Shares of open work are taken of at least this many items, so one item due in a team with
# four open ones is not a crunch.
MIN_ITEMS_FOR_SHARE = 10
# A share of open work must move by at least this many items to count: one or two items
# slipping is ordinary noise, whatever share of a small board they are.
MIN_EFFECT_ITEMS = 3
# Work in progress per person must also rise by this share of its usual level: a team that
# usually holds four items each is not in a crunch at five.
WIP_RELATIVE_EFFECT = 0.5
# The normal band reaches this many robust standard deviations (1.4826 x MAD) above the
# median, and at least to the team's 90th percentile, so regular peaks (sprint starts) are normal.
BAND_SIGMAS = 2.0
BAND_QUANTILE = 0.9
# An episode ends once pressure has been back within the normal this many days in a row.
END_DAYS = 3
# A 1:1 cadence is kept while the next 1:1 is at most this late (a meeting moved by a day).
CADENCE_SLACK = 1 * DAY
TODO, IN_PROGRESS, DONE = StatusCategory.TODO, StatusCategory.IN_PROGRESS, StatusCategory.DONE
# Someone carrying this many times the team's work in progress per person is overloaded:
# taking work off them is a leadership action (workload_rebalanced).
OVERLOAD_FACTOR = 1.5
# The page draws this many days of each team's pressure and support.
TREND_DAYS = 60
# Kinds that answer pressure by themselves. 1:1s answer it through the cadence with the people
# carrying the load; time off merely not booked over is no answer.
ANSWERING_KINDS = frozenset(ACTION_KINDS) - {"one_on_one", "time_off_protected"}


@dataclass(frozen=True)
class Normal:
    """A component's normal: the team's own centre and band over the reference window."""

    centre: float
    top: float  # the top of the normal band: up to here the component adds nothing
    width: float  # beyond the top, how much further it counts in full

    def score(self, value: float) -> float:
        """Return 0 within the band, rising to 1 one width beyond its top."""
        if self.width <= 0:
            return 0.0
        return min(max((value - self.top) / self.width, 0.0), 1.0)


@dataclass(frozen=True)
class Component:
    """One component of the pressure index at `as_of`."""

    name: str
    value: float
    norm: float  # the team's normal (median over the reference window)
    score: float  # 0 within the normal band, 1 far beyond it
    weight: float
    top: float = 0.0  # the top of the normal band


@dataclass(frozen=True)
class TrendPoint:
    """One day of a team's trend: pressure against its normal band, and people support."""

    day: date  # the calendar day in the team's time zone
    at: datetime  # the time of day the engine judged it (as_of's time of day)
    pressure: float | None  # None while the team was learning: no normal to judge against
    baseline: float | None  # the team's normal pressure (median over the reference window)
    band_top: float | None  # up to here pressure is within the normal: min(baseline + rise, high)
    support: float | None  # None: no people data covered that day
    episode: bool  # inside a pressure episode


@dataclass(frozen=True)
class RecentAction:
    """A leadership action recorded by hand (CLI or API): its kind and time, never its note."""

    kind: str
    at: datetime


@dataclass(frozen=True)
class TeamSnapshot:
    """Everything the engine says about a team at one time."""

    team: str
    as_of: datetime
    members: int
    available: int
    on_leave: int
    open_items: int
    throughput: int
    completed_total: int
    in_progress: int
    overdue: int
    due_soon: int
    wip_per_person: float
    cycle_time_p50: float | None
    cycle_time_p85: float | None
    scope_added: int
    after_hours_ratio: float
    pressure: float
    baseline: float
    components: tuple[Component, ...]
    elevated: bool  # in a pressure episode
    episode_start: datetime | None  # the episode's onset: the first day out of the normal
    episode_from: Mapping[str, float]  # the facts the day before the onset
    actions_since_episode: Mapping[str, int]
    actions_total: Mapping[str, int]
    pressure_unmatched: bool
    people: PeopleView
    time_off_overridden: tuple[Conflict, ...]  # conflicts under pressure, trailing 7 days
    carriers: int = 0  # members holding work in progress now (not on leave)
    carriers_met: int = 0  # of those, how many keep a 1:1 cadence with their manager into the episode
    state: TeamState = TeamState.CALM
    learning: bool = False  # less history than the reference window: no normal yet
    history_start: datetime | None = None  # the team's first work item
    out_of_normal: bool = False  # today's pressure is out of the team's normal
    answered_by: tuple[str, ...] = ()  # what answered the episode: action kinds, "one_on_one_cadence"
    answers: int = 0  # actions since the onset that answer it (recorded, moved dates, rebalancing, ...)
    cycle_times: tuple[float, ...] = ()  # seconds, of each item completed in the trailing 28 days
    timezone: str = "UTC"  # the team's IANA time zone, for showing its days
    learned_at: datetime | None = None  # when the team's first day is judged (history + reference window)
    trend: tuple[TrendPoint, ...] = ()  # the last TREND_DAYS days, oldest first, the last one as_of
    recent_actions: tuple[RecentAction, ...] = ()  # recorded in the last 14 days, oldest first

    @property
    def support(self) -> float | None:
        """Return the people-support index (0..1), None without people data."""
        return self.people.support

    def facts(self) -> dict[str, float]:
        """Return the numbers of this snapshot by name (for signals and JSON)."""
        return {
            "members": self.members,
            "available": self.available,
            "on_leave": self.on_leave,
            "open_items": self.open_items,
            "throughput": self.throughput,
            "completed_total": self.completed_total,
            "in_progress": self.in_progress,
            "overdue": self.overdue,
            "due_soon": self.due_soon,
            "wip_per_person": self.wip_per_person,
            "scope_added": self.scope_added,
            "after_hours_ratio": self.after_hours_ratio,
            "pressure": self.pressure,
            "baseline": self.baseline,
            **({"support": self.people.support} if self.people.support is not None else {}),
        }

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "team": self.team,
            "as_of": _iso(self.as_of),
            **self.facts(),
            "cycle_time_p50_seconds": self.cycle_time_p50,
            "cycle_time_p85_seconds": self.cycle_time_p85,
            "components": [
                {
                    "name": c.name,
                    "value": c.value,
                    "norm": c.norm,
                    "top": c.top,
                    "score": c.score,
                    "weight": c.weight,
                }
                for c in self.components
            ],
            "state": str(self.state),
            "learning": self.learning,
            "history_start": _iso(self.history_start),
            "people_known": self.people.known,
            "out_of_normal": self.out_of_normal,
            "answered_by": list(self.answered_by),
            "carriers": self.carriers,
            "carriers_with_one_on_one": self.carriers_met,
            "elevated": self.elevated,
            "episode_start": _iso(self.episode_start),
            "actions_since_episode": dict(self.actions_since_episode),
            "actions_total": dict(self.actions_total),
            "pressure_unmatched": self.pressure_unmatched,
            "people": {
                "known": self.people.known,
                "support": self.people.support,
                "support_components": self.people.support_components,
                "one_on_one_coverage": self.people.coverage,
                "members_on_leave": self.people.members_on_leave if self.people.visible else None,
                "time_off_conflicts": self.people.time_off_conflicts if self.people.visible else None,
                "after_hours_meeting_hours": self.people.after_hours_meeting_hours,
                "survey_responses": self.people.survey_responses,
                "survey_scores": self.people.survey_scores,
                "survey_response_rate": self.people.survey_response_rate,
            },
            "time_off_overridden": len(self.time_off_overridden),
        }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    pos = q * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def _is_after_hours(t: float, team: Team) -> bool:
    local = datetime.fromtimestamp(t, team.timezone)
    if local.weekday() >= 5:
        return True
    start, end = team.working_hours
    clock = local.time()
    return clock < start or clock >= end


@dataclass(slots=True)
class _Day:
    at: float
    values: tuple[float, ...]  # the pressure components', in PRESSURE_COMPONENTS' order
    facts: dict[str, float] = field(default_factory=dict)
    share_of: float = float(MIN_ITEMS_FOR_SHARE)  # what the shares of open work are taken of


# A day computed before is reused at another time when nothing it reads moved in between: no
# item, leave or window edge within this margin of either time (float rounding of t - WEEK).
_MARGIN = 1.0


class _TeamHistory:
    """A team's items and the members' time off, replayed day by day.

    Built from the items an evaluation reads (TeamData.read_items) and depends on the time
    evaluated through them alone: one history serves every time that reads the same items.
    """

    def __init__(
        self, team: Team, items: list[ItemHistory], leave: Sequence[tuple[str, float, float]]
    ) -> None:
        self.team = team
        self.items = items
        # Every count below is over a window that ends at the day judged, so changes after
        # as_of are never counted and need not be left out here.
        self.all_changes = sorted(t for i in items for t in i.change_times())
        self.after_hours = [t for t in self.all_changes if _is_after_hours(t, team)]
        self.done_times = sorted(t for i in items for t in i.done)
        self.cycle = sorted(
            (i.done[-1], i.done[-1] - i.started)
            for i in items
            if i.done and i.started and i.started <= i.done[-1]
        )
        self.adds = sorted(add for i in items for add in i.sprint_adds)
        self.add_times = [a[0] for a in self.adds]
        self.members = len(team.members)
        self._wip: dict[str | None, tuple[list[float], list[float]]] | None = None
        self.leave = list(leave)
        self.reassignments = [
            (at, was)
            for i in items
            for at, was in zip(i.assignee_at[1:], i.assignee_from, strict=True)
            if was
        ]
        self.assignments = sorted(
            ((at, to) for i in items for at, to in zip(i.assignee_at[1:], i.assignee[1:], strict=True) if to),
            key=itemgetter(0),
        )
        self.assigned_at = [at for at, _p in self.assignments]
        self.due_moves = [
            (at, was, to)
            for i in items
            for at, was, to in zip(i.due_at[1:], i.due_from, i.due[1:], strict=True)
        ]
        self.sprint_removals = [move for i in items for move in i.sprint_moves]
        self._pieces: list[tuple[float, float, bool, str | None]] | None = None
        self._piece_ends: list[float] = []
        self._breaks: array[float] | None = None
        self._derived: list[tuple[str, float]] | None = None
        self._week_before: dict[str, str] = {}  # due date -> the date a week before it

    def _count(self, times: Sequence[float], lo: float, hi: float) -> int:
        return bisect_right(times, hi) - bisect_right(times, lo)

    def _open_pieces(self) -> list[tuple[float, float, bool, str | None]]:
        """Cut each item's history into pieces of constant status and due date, open ones only.

        Each is (end, start, in progress, due date), by end: a piece counts on the days in
        [start, end); the last piece of an item never ends.
        """
        if self._pieces is None:
            pieces = []
            for item in self.items:
                points = sorted({*item.status_at, *item.due_at})
                for index, start in enumerate(points):
                    status = item.status_on(start)
                    if status is None or status == DONE:
                        continue
                    end = points[index + 1] if index + 1 < len(points) else math.inf
                    pieces.append((end, start, status == IN_PROGRESS, item.due_on(start)))
            pieces.sort(key=itemgetter(0))
            self._pieces = pieces
            self._piece_ends = [p[0] for p in pieces]
        return self._pieces

    def _open_work(self, times: Sequence[float]) -> tuple[list[int], list[int], list[int], list[int]]:
        """Count open, in-progress, overdue and due-soon items at each of `times` (ascending).

        Each piece of an item's history adds to a run of days at once (difference arrays), so
        the cost grows with the pieces still open at the first of `times`, not with items
        times days: a team of thousands of open items replays 90 days quickly, and one day
        costs about its open work.
        """
        n = len(times)
        dates = [datetime.fromtimestamp(t, self.team.timezone).date().isoformat() for t in times]
        diffs = [[0] * (n + 1) for _ in range(4)]
        opened, wip, overdue, soon = diffs
        pieces = self._open_pieces()
        for end, start, in_progress, due in pieces[bisect_right(self._piece_ends, times[0]) :]:
            lo = bisect_left(times, start)
            hi = bisect_left(times, end) if end != math.inf else n
            if lo >= hi:
                continue
            opened[lo] += 1
            opened[hi] -= 1
            if in_progress:
                wip[lo] += 1
                wip[hi] -= 1
            if due is not None:
                week_before = self._week_before.get(due)
                if week_before is None:
                    week_before = (date.fromisoformat(due) - timedelta(days=7)).isoformat()
                    self._week_before[due] = week_before
                late = bisect_right(dates, due)  # first day whose date is past the due date
                near = bisect_right(dates, week_before)  # first day within 7 days of it
                a, b = max(lo, late), hi
                if a < b:
                    overdue[a] += 1
                    overdue[b] -= 1
                a, b = max(lo, near), min(hi, late)
                if a < b:
                    soon[a] += 1
                    soon[b] -= 1
        result = []
        for diff in diffs:
            running, counts = 0, []
            for k in range(n):
                running += diff[k]
                counts.append(running)
            result.append(counts)
        return result[0], result[1], result[2], result[3]

    def _break_times(self) -> array[float]:
        """Return every time at which a day's process-side values may change as its time moves.

        The bounds of each piece of an item's history (status, due date, assignee), the members'
        time off, and each change, completion and sprint addition entering and leaving the
        trailing week. Between two of these (and within one local date) nothing _day reads moves.
        """
        if self._breaks is None:
            points: set[float] = set()
            for item in self.items:
                points.update(item.status_at, item.due_at, item.assignee_at)
            for _person, start, end in self.leave:
                points.update((start, end))
            for times in (self.add_times, self.all_changes, self.done_times):
                points.update(times)
                points.update(t + WEEK for t in times)
            self._breaks = array("d", sorted(points))  # kept between cycles: 8 bytes a time
        return self._breaks

    def _unchanged(self, was: float, now: float) -> bool:
        """Tell whether a day judged at `was` reads the same as one judged at `now`."""
        if was == now:
            return True
        lo, hi = min(was, now), max(was, now)
        breaks = self._break_times()
        if bisect_left(breaks, lo - _MARGIN) != bisect_right(breaks, hi + _MARGIN):
            return False
        tz = self.team.timezone
        return datetime.fromtimestamp(was, tz).date() == datetime.fromtimestamp(now, tz).date()

    def series(
        self, times: Sequence[float], before: Sequence[_Day] = (), moved: Sequence[tuple[float, float]] = ()
    ) -> tuple[list[_Day], int]:
        """Return the process-side values at each of `times` (ascending), and how many were computed.

        `before`: days given at other times by this history, or by one that differs from it by
        items whose influence spans `moved` (_influence); each is reused for the nearest time
        at or after it when nothing it reads moved in between.
        """
        out: list[_Day | None] = [None] * len(times)
        if before:
            was = [d.at for d in before]
            for k, t in enumerate(times):
                j = bisect_right(was, t) - 1
                if j < 0 or not self._unchanged(was[j], t):
                    continue
                lo, hi = was[j] - _MARGIN, t + _MARGIN
                if any(start <= hi and lo <= end for start, end in moved):
                    continue
                d = before[j]
                out[k] = _Day(t, d.values, d.facts, d.share_of)
        todo = [k for k, d in enumerate(out) if d is None]
        if todo:
            opened, wip, overdue, soon = self._open_work([times[k] for k in todo])
            for n, k in enumerate(todo):
                out[k] = self._day(times[k], opened[n], wip[n], overdue[n], soon[n])
        return [d for d in out if d is not None], len(todo)

    def moved_since(self, before: _TeamHistory) -> list[tuple[float, float]] | None:
        """Return where days of `before` may differ from this history's: the influence of each
        item one has and the other not (None: anything may, the time off differs)."""
        if before.leave != self.leave or before.members != self.members:
            return None
        mine = {id(i) for i in self.items}
        theirs = {id(i) for i in before.items}
        return [
            _influence(i)
            for items, other in ((self.items, theirs), (before.items, mine))
            for i in items
            if id(i) not in other
        ]

    def _day(self, t: float, open_items: int, wip: int, overdue: int, due_soon: int) -> _Day:
        away = {person for person, s, e in self.leave if s <= t < e}
        on_leave = min(len(away), self.members)
        available = max(self.members - on_leave, 1)
        # Work parked with someone on leave is carried by nobody: a week off or a public
        # holiday does not raise the load of the people at work.
        index = self._wip_index() if away else {}
        carried = max(wip - sum(_covering(index.get(person), t) for person in away), 0)
        lo = t - WEEK
        scope_added = 0
        for at, _sprint, (start, end) in self.adds[
            bisect_right(self.add_times, lo) : bisect_right(self.add_times, t)
        ]:
            if start is not None and at > start and (end is None or at < end):
                scope_added += 1
        changes = self._count(self.all_changes, lo, t)
        after = self._count(self.after_hours, lo, t)
        denominator = max(open_items, MIN_ITEMS_FOR_SHARE)
        by_name = {
            "wip_per_person": carried / available,
            "overdue_share": overdue / denominator,
            "due_soon_share": due_soon / denominator,
            "scope_added_share": scope_added / denominator,
            "after_hours_share": after / max(changes, MIN_CHANGES_FOR_SHARE),
            "capacity_on_leave": on_leave / self.members if self.members else 0.0,
        }
        values = tuple(by_name[name] for name in PRESSURE_COMPONENTS)
        facts = {
            "members": float(self.members),
            "available": float(available),
            "on_leave": float(on_leave),
            "open_items": float(open_items),
            "in_progress": float(wip),
            "overdue": float(overdue),
            "due_soon": float(due_soon),
            "throughput": float(self._count(self.done_times, lo, t)),
            "scope_added": float(scope_added),
            "after_hours_ratio": after / changes if changes else 0.0,
            "wip_per_person": carried / available,
        }
        return _Day(t, values, facts, float(denominator))

    def derived_actions(self, until: float) -> list[tuple[str, float]]:
        """Return the leadership actions visible in the work items' history, as (kind, at)."""
        if self._derived is None:
            found: list[tuple[str, float]] = []
            for at, before, after in self.due_moves:
                if before and after and after > before:
                    found.append(("deadline_renegotiated", at))
            for at, before, after in self.sprint_removals:
                removed = {s.strip() for s in (before or "").split(",") if s.strip()} - {
                    s.strip() for s in (after or "").split(",") if s.strip()
                }
                if removed:
                    found.append(("deadline_renegotiated", at))
            for at, person in self.reassignments:
                if self._overloaded_or_away(person, at):
                    found.append(("workload_rebalanced", at))
            self._derived = found
            # Read only here: a history kept between cycles does not keep them.
            self.due_moves, self.sprint_removals, self.reassignments = [], [], []
        return [(kind, at) for kind, at in self._derived if at <= until]

    def due_during(self, person: str, start: float, end: float, t: float) -> bool:
        """Tell whether open work assigned to `person` at `t` falls due within [start, end]."""
        first = datetime.fromtimestamp(start, self.team.timezone).date().isoformat()
        last = datetime.fromtimestamp(end - 1, self.team.timezone).date().isoformat()
        for item in self.items:
            if item.status_on(t) not in (None, DONE) and item.assignee_on(t) == person:
                due = item.due_on(t)
                if due is not None and first <= due <= last:
                    return True
        return False

    def _overloaded_or_away(self, person: str, t: float) -> bool:
        """Tell whether work taken from `person` at `t` relieved an overloaded or absent person."""
        if any(p == person and s <= t < e for p, s, e in self.leave):
            return True
        just_before = t - 1.0
        index = self._wip_index()
        team = _covering(index.get(None), just_before)
        theirs = _covering(index.get(person), just_before)
        return theirs >= 2 and theirs >= OVERLOAD_FACTOR * team / max(self.members, 1)

    def holders(self, t: float) -> set[str]:
        """Return who holds work in progress at `t` (the assignees of the items in progress)."""
        return {who for who, spans in self._wip_index().items() if who is not None and _covering(spans, t)}

    def _wip_index(self) -> dict[str | None, tuple[list[float], list[float]]]:
        """Index when each person (and, under None, the team) held each item in progress."""
        if self._wip is not None:
            return self._wip
        spans: dict[str | None, list[tuple[float, float]]] = {}
        for item in self.items:
            points = sorted({*item.status_at, *item.assignee_at})
            for index, start in enumerate(points):
                if item.status_on(start) != IN_PROGRESS:
                    continue
                end = points[index + 1] if index + 1 < len(points) else float("inf")
                spans.setdefault(None, []).append((start, end))
                holder = item.assignee_on(start)
                if holder is not None:
                    spans.setdefault(holder, []).append((start, end))
        self._wip = {who: (sorted(a for a, _ in s), sorted(b for _, b in s)) for who, s in spans.items()}
        return self._wip


def _influence(item: ItemHistory) -> tuple[float, float]:
    """Return the span of times at which an item can count in a day's values.

    From its first point in time to its last, plus a week for the trailing counts; for ever
    when it ends open (it counts as open work from then on).
    """
    points = [*item.status_at, *item.due_at, *item.assignee_at, *item.done]
    events = [*item.change_times(), *item.done, *(a[0] for a in item.sprint_adds)]
    start = min(points + events)
    if item.status[-1] != DONE:
        return start, math.inf
    return start, max(max(points), max(events, default=start) + WEEK)


def _covering(index: tuple[list[float], list[float]] | None, t: float) -> int:
    """Count the [start, end) spans of a sorted index that contain `t`."""
    if index is None:
        return 0
    starts, ends = index
    return bisect_right(starts, t) - bisect_right(ends, t)


def _median_sorted(values: Sequence[float]) -> float:
    """Return the median of sorted values as statistics.median does (0.0 for none)."""
    n = len(values)
    if not n:
        return 0.0
    if n % 2:
        return float(values[n // 2])
    return float((values[n // 2 - 1] + values[n // 2]) / 2)


def _normal(past: Sequence[float], centre: float, effect: float, saturation: float) -> Normal:
    """Return the normal of a component from its values over the reference window, sorted.

    `centre` is their median; `effect` the smallest rise that counts at all (a few items, not
    one or two): the band is at least that wide above the median, and wider for a team whose
    values vary.
    """
    if not past:
        return Normal(0.0, effect, effect * (saturation - 1.0))
    spread = 1.4826 * _median_sorted(sorted([abs(v - centre) for v in past]))
    pos = BAND_QUANTILE * (len(past) - 1)  # the quantile of _quantile, on values already sorted
    lo = int(pos)
    hi = min(lo + 1, len(past) - 1)
    quantile = past[lo] + (past[hi] - past[lo]) * (pos - lo)
    top = max(centre + BAND_SIGMAS * spread, quantile or 0.0, centre + effect)
    return Normal(centre, top, max(effect, BAND_SIGMAS * spread) * (saturation - 1.0))


_SHARES_OF_OPEN_WORK = frozenset({"overdue_share", "due_soon_share", "scope_added_share"})


def _effect(config: Config, name: str, day: _Day, centre: float) -> float:
    """Return the smallest rise of a component that counts, on this day."""
    floor = config.pressure.floors.get(name, 0.0)
    if name in _SHARES_OF_OPEN_WORK:
        return max(floor, MIN_EFFECT_ITEMS / max(day.share_of, 1.0))
    if name == "wip_per_person":
        return max(floor, MIN_EFFECT_ITEMS / max(day.facts["available"], 1.0), centre * WIP_RELATIVE_EFFECT)
    return floor


class _DayInputs(NamedTuple):
    """What one day's replay reads of that day (besides the days before it)."""

    judged: bool  # a whole reference window of history behind it
    history: bool  # within the team's history: may be a later day's reference
    values: tuple[float, ...]  # the components' values (_Day.values)
    share_of: float
    available: float | None
    plugin: tuple[tuple[str, float, float], ...]  # the pressure signals' (name, weight, value)


@dataclass
class _Course:
    """The team's pressure replayed day by day, with its episode."""

    pressures: list[float]
    episode: list[bool]  # each day: inside an episode
    out: list[bool]  # each day: pressure out of the normal
    components: list[Component]  # on the last day
    baseline: float  # on the last day
    onset: int | None  # index of the current episode's first day
    baselines: list[float | None] = field(default_factory=list)  # each day's; None before judged_from
    # What each day's replay read, and where the replay stood after it: a later replay reuses
    # the days whose reads did not change.
    inputs: list[_DayInputs] = field(default_factory=list)
    states: list[tuple[int | None, list[int], int]] = field(default_factory=list)
    computed: int = 0  # how many days this replay judged anew (the others were the last one's)


def _replay(
    config: Config,
    team: Team,
    days: Sequence[_Day],
    history_from: float,
    judged_from: float,
    extra: TeamSignals,
    before: _Course | None = None,
) -> _Course:
    """Replay pressure over `days`: normals from each day's reference window, and episodes.

    A day is judged only with a whole reference window of the team's history behind it. The
    reference is the last `reference` days outside any episode, so weeks of crunch never
    become the normal, during the episode or after it.

    `before`: the last replay of days at the same places. A day reads its own inputs, the
    replay's state before it (the episode), and of the days before it those its reference walk
    reaches (their inputs, pressure and whether they were in an episode): when none of these
    changed, its outcome is the last replay's and it is not computed again.
    """
    settings = config.pressure
    ref_days = max(int(settings.reference.total_seconds() // DAY), 1)
    weights = dict(settings.weights)
    position = {name: k for k, name in enumerate(PRESSURE_COMPONENTS)}  # in a day's values
    inputs: list[_DayInputs] = []
    for d in days:
        judged = d.at >= judged_from
        # A signal with nothing to say that day leaves the index as if it were absent.
        plugin = (
            tuple((s.name, s.weight, value) for s, value in extra.values(d.facts, d.at)) if judged else ()
        )
        values = d.values
        inputs.append(
            _DayInputs(judged, d.at >= history_from, values, d.share_of, d.facts.get("available"), plugin)
        )
    old = before if before is not None and len(before.inputs) == len(inputs) else None
    pressures: list[float] = []
    episode: list[bool] = []
    out: list[bool] = []
    baselines: list[float | None] = []
    states: list[tuple[int | None, list[int], int]] = []
    components: list[Component] = []
    onset: int | None = None
    frozen: list[int] = []
    back = 0
    baseline = 0.0
    dirty: list[bool] = []  # each day: its inputs or its outcome differ from the last replay's
    last_dirty = -1
    computed = 0
    for i, d in enumerate(days):
        day = inputs[i]
        same_inputs = old is not None and old.inputs[i] == day
        if not day.judged:
            pressures.append(0.0)
            episode.append(False)
            out.append(False)
            baselines.append(None)
            states.append((onset, frozen, back))
            dirty.append(not same_inputs)
            if not same_inputs:
                last_dirty = i
            continue
        if onset is not None:
            ref, reads_from = frozen, -1
        else:
            ref = []
            j = i - 1
            while j >= 0 and len(ref) < ref_days and days[j].at >= history_from:
                if not episode[j]:
                    ref.append(j)
                j -= 1
            reads_from = max(j, 0)  # the walk read every day from here to i - 1
        if (
            old is not None
            and same_inputs
            and (old.states[i - 1] if i else (None, [], 0)) == (onset, frozen, back)
            and (not any(dirty[j] for j in ref) if reads_from < 0 else last_dirty < reads_from)
        ):
            pressure, base, is_out = old.pressures[i], old.baselines[i], old.out[i]
            onset, frozen, back = old.states[i]
            pressures.append(pressure)
            baselines.append(base)
            baseline = base if base is not None else 0.0
            out.append(is_out)
            episode.append(old.episode[i])
            states.append((onset, frozen, back))
            dirty.append(False)
            if i == len(days) - 1:
                components = old.components
            continue
        computed += 1
        scores: list[tuple[str, float, float, float, float, float]] = []
        for name, w in weights.items():
            k = position[name]
            value = d.values[k]
            if name in settings.limits:
                limit = settings.limits[name]
                normal = Normal(limit, limit, limit * (settings.saturation - 1.0))
            else:
                past = sorted([days[j].values[k] for j in ref])
                centre = _median_sorted(past)
                normal = _normal(past, centre, _effect(config, name, d, centre), settings.saturation)
            scores.append((name, value, normal.centre, normal.score(value), w, normal.top))
        for name, weight, value in day.plugin:
            scores.append((name, value, 0.0, value, weight, 0.0))
        total = sum(c[4] for c in scores)
        pressure = sum(c[3] * c[4] for c in scores) / total if total else 0.0
        if i == len(days) - 1:
            components = [Component(*c) for c in scores]
        pressures.append(pressure)
        baseline = _median_sorted(sorted([pressures[j] for j in ref]))
        baselines.append(baseline)
        is_out = pressure >= baseline + config.alerts.rise or pressure >= config.alerts.high
        out.append(is_out)
        if onset is None and is_out:
            onset, frozen, back = i, ref, 0
        elif onset is not None:
            back = 0 if is_out else back + 1
            if back >= END_DAYS:
                onset = None
        episode.append(onset is not None)
        states.append((onset, frozen, back))
        changed = (
            old is None
            or not same_inputs
            or (pressure, baseline, is_out, episode[-1])
            != (old.pressures[i], old.baselines[i], old.out[i], old.episode[i])
        )
        dirty.append(changed)
        if changed:
            last_dirty = i
    return _Course(pressures, episode, out, components, baseline, onset, baselines, inputs, states, computed)


def _cadence(times: Sequence[float], onset: float, t: float) -> str:
    """Say how a 1:1 cadence with one person carries into an episode that began at `onset`.

    "met": a 1:1 since the onset. "pending": one before it whose next is not due yet (weekly
    by default, the person's own interval up to 14 days, a day of slack), so a weekly cadence
    is not read as silence in the episode's first days. "missed": none when one was due.
    """
    if not times:
        return "missed"
    last = times[-1]
    if last >= onset:
        return "met"
    interval = last - times[-2] if len(times) >= 2 else WEEK
    interval = min(max(interval, WEEK), COVERAGE_WINDOW)
    return "pending" if t - last <= interval + CADENCE_SLACK else "missed"


class _Views:
    """People views by what they read: one whose inputs the last evaluation saw is reused.

    Of the trend's days only the support is kept; the view at as_of whole.
    """

    def __init__(self) -> None:
        self.of: PeopleHistory | None = None
        self.last: dict[tuple[object, ...], float | None] = {}
        self.now: dict[tuple[object, ...], float | None] = {}
        self.last_view: tuple[tuple[object, ...], PeopleView] | None = None

    def begin(self, people: PeopleHistory) -> None:
        """Start an evaluation that reads `people`: keep the last one's views if it read the same."""
        if self.of is not people:
            self.now, self.last_view = {}, None
        self.of, self.last, self.now = people, self.now, {}

    def end(self) -> None:
        """End an evaluation: what it did not ask again is not kept."""
        self.last = {}

    def view(
        self,
        people: PeopleHistory,
        history: _TeamHistory,
        t: float,
        recent: int,
        elevated_at: Callable[[float], bool],
        extra: Sequence[tuple[str, float, float]],
        stats: Counter[str],
    ) -> PeopleView:
        """Return the people view at `t`, reused when the last one read the same."""
        signature = people.signature(t, history.assignments, history.assigned_at, recent, elevated_at, extra)
        stats["views"] += 1
        if self.last_view is not None and self.last_view[0] == signature:
            return self.last_view[1]
        found = people.view(t, history.assignments, history.assigned_at, recent, elevated_at, extra)
        stats["views_computed"] += 1
        self.last_view = (signature, found)
        return found

    def support(
        self,
        people: PeopleHistory,
        history: _TeamHistory,
        t: float,
        recent: int,
        elevated_at: Callable[[float], bool],
        extra: Sequence[tuple[str, float, float]],
        stats: Counter[str],
    ) -> float | None:
        """Return the support of the people view at `t`, reused when its signature was seen."""
        signature = people.signature(t, history.assignments, history.assigned_at, recent, elevated_at, extra)
        stats["views"] += 1
        if signature in self.now:
            found = self.now[signature]
        elif signature in self.last:
            found = self.last[signature]
        else:
            found = people.view(
                t, history.assignments, history.assigned_at, recent, elevated_at, extra
            ).support
            stats["views_computed"] += 1
        self.now[signature] = found
        return found


@dataclass
class _Memo:
    """What one team's last evaluation computed, for the next one to reuse."""

    history_key: object = None
    history: _TeamHistory | None = None
    days: list[_Day] = field(default_factory=list)  # the last series, from `history`
    course: _Course | None = None
    people: PeopleHistory | None = None
    views: _Views = field(default_factory=_Views)


def _support_trend(
    people: PeopleHistory,
    history: _TeamHistory,
    recorded_at: Sequence[float],
    elevated_at: Callable[[float], bool],
    times: Sequence[float],
    extras: Sequence[Sequence[tuple[str, float, float]]],
    views: _Views,
    stats: Counter[str],
) -> list[float | None]:
    """Return people support at each of `times`, as the view at that time reads it.

    A view reads only the signals within 14 days either side of its time (1:1s and check-ins of
    the last 14 days, conflicts up to 14 days ahead), so each day is a small view, not an
    evaluation, and one whose inputs did not change since the last evaluation is not computed
    again. `extras` holds each time's plugin support signals as (name, weight, value).
    """
    out: list[float | None] = []
    for t, extra in zip(times, extras, strict=True):
        recent = bisect_right(recorded_at, t) - bisect_left(recorded_at, t - COVERAGE_WINDOW)
        out.append(views.support(people, history, t, recent, elevated_at, extra, stats))
    return out


def _trend(
    config: Config, team: Team, days: Sequence[_Day], course: _Course, supports: Sequence[float | None]
) -> tuple[TrendPoint, ...]:
    """Return the last TREND_DAYS days of the replay, with each day's support, as the page draws them.

    Pressure, baseline and episodes are the replay's own: nothing is recomputed.
    """
    shown = range(len(days) - TREND_DAYS, len(days))
    points = []
    for k, support in zip(shown, supports, strict=True):
        base = course.baselines[k]  # None: not judged yet (learning), so no band and no pressure
        top = min(base + config.alerts.rise, config.alerts.high) if base is not None else None
        points.append(
            TrendPoint(
                day=datetime.fromtimestamp(days[k].at, team.timezone).date(),
                at=datetime.fromtimestamp(days[k].at, UTC),
                pressure=round(course.pressures[k], 6) if base is not None else None,
                baseline=round(base, 6) if base is not None else None,
                band_top=round(top, 6) if top is not None else None,
                support=support,
                episode=course.episode[k],
            )
        )
    return tuple(points)


def evaluate_team(
    config: Config,
    team: Team,
    store: Store,
    as_of: datetime,
    pseudonym: Pseudonymiser | None = None,
    signals: Mapping[str, SignalKind] | None = None,
    cache: EvaluationCache | None = None,
    starts: Mapping[str, float] | None = None,
    with_trend: bool = True,
    calendar_from: Mapping[str, float] | None = None,
) -> TeamSnapshot:
    """Return one team's snapshot at `as_of`; `starts` as history_starts() gives them.

    `signals` are the plugins' (SignalKind). `cache`: an EvaluationCache prepared for this
    store, config, pseudonymiser and signals, whose kept data and days this evaluation reuses;
    without one the team's data is read, replayed whole and dropped. Either way, the same
    numbers. `calendar_from`: store.coverage("meeting"), read here when not given.
    """
    if cache is None:
        cache = EvaluationCache(keep=False)
        cache.prepare(config, store, pseudonym, signals)
    if starts is None:
        starts = cache.starts(store)
    if calendar_from is None:
        calendar_from = store.coverage("meeting")
    data, memo = cache.team(store, team, as_of.timestamp())
    try:
        return _evaluate(config, team, as_of, data, memo, signals, starts, calendar_from, with_trend, cache)
    finally:
        cache.done(team.name)


def _evaluate(
    config: Config,
    team: Team,
    as_of: datetime,
    data: TeamData,
    memo: _Memo,
    signals: Mapping[str, SignalKind] | None,
    starts: Mapping[str, float],
    calendar_from: Mapping[str, float],
    with_trend: bool,
    cache: EvaluationCache,
) -> TeamSnapshot:
    stats = cache.stats
    t_end = as_of.timestamp()
    ref_days = max(int(config.pressure.reference.total_seconds() // DAY), 1)
    span = SCAN_DAYS + ref_days
    since = t_end - (span + 1) * DAY
    leave = data.leave_between(since, t_end)
    key = (data.items_key(t_end, since), leave)
    moved: list[tuple[float, float]] | None = []
    if memo.history is None or memo.history_key != key:
        history = _TeamHistory(team, data.read_items(t_end, since), leave)
        # Days of the last history stay good where no item it gained or lost counts.
        moved = history.moved_since(memo.history) if memo.history is not None else None
        memo.history, memo.history_key = history, key
        stats["histories_built"] += 1
    history = memo.history
    sampled = [t_end - k * DAY for k in range(span, -1, -1)]
    days, computed = history.series(sampled, memo.days if moved is not None else (), moved or ())
    memo.days = days
    stats["days"] += len(days)
    stats["days_computed"] += computed
    first = starts.get(team.name)
    first = first if first is not None and first <= t_end else None
    # The first day judged has a whole reference window of the team's own history behind it.
    learned_at = first + ref_days * DAY if first is not None else float("inf")
    learning = t_end < learned_at
    # The series' first `ref_days` days are only the reference of the first scanned day.
    judged_from = max(learned_at, days[ref_days].at)
    kinds = list((signals or {}).values())
    events = data.plugin_events(cache.plugin_sources)
    extra = TeamSignals([s for s in kinds if s.side == "pressure"], team.name, events)
    helps = TeamSignals([s for s in kinds if s.side == "support"], team.name, events)

    def support_signals(d: _Day) -> list[tuple[str, float, float]]:
        return [(s.name, s.weight, value) for s, value in helps.values(d.facts, d.at)]

    history_from = first if first is not None else t_end
    course = _replay(config, team, days, history_from, judged_from, extra, memo.course)
    memo.course = course
    stats["replayed"] += course.computed
    last = days[-1]
    onset = days[course.onset].at if course.onset is not None else None

    def elevated_at(t: float) -> bool:
        index = len(course.episode) - 1 - round((t_end - t) / DAY)
        return 0 <= index < len(course.episode) and course.episode[index]

    recorded = data.actions_until(t_end)
    recorded_at = [at for _kind, at, _p in recorded]
    read = PeopleRead.at(data, t_end, calendar_from)
    if memo.people is None or memo.people.key != read.key:
        memo.people = PeopleHistory(config, team, data, read)
        stats["people_built"] += 1
    people = memo.people
    memo.views.begin(people)
    recent = sum(1 for _kind, at, _p in recorded if at >= t_end - COVERAGE_WINDOW)
    view = memo.views.view(people, history, t_end, recent, elevated_at, support_signals(last), stats)
    # Every leadership action up to as_of, from every side that can see one, as (kind, at, answers).
    actions = [(kind, at, True) for kind, at, _p in recorded]
    actions += [(kind, at, kind in ANSWERING_KINDS) for kind, at in history.derived_actions(t_end)]
    one_on_ones = people.one_on_ones(0.0, t_end)
    actions += [("one_on_one", at, False) for at, _p in one_on_ones]
    actions += [("team_check_in", at, True) for at in people.check_ins(0.0, t_end)]
    actions += [(kind, at, False) for kind, at, _p in view.actions if kind == "time_off_protected"]
    totals = dict(Counter(kind for kind, _at, _answers in actions))
    since_onset = [(kind, answers) for kind, at, answers in actions if onset is not None and at >= onset]
    since_counts = dict(Counter(kind for kind, _answers in since_onset))
    answering = Counter(kind for kind, answers in since_onset if answers)

    # A recorded protection clears the conflicts the alert showed when it was recorded: those
    # of the past week and those already booked in the next two weeks.
    protections = [at for kind, at, _p in recorded if kind == "time_off_protected"]
    overridden = tuple(
        c
        for c in view.conflicts
        if (
            course.episode[-1]
            or elevated_at(c.at)
            or history.due_during(c.person, c.leave_start, c.leave_end, t_end)
        )
        and not any(c.at - LOOKAHEAD <= at <= c.at + TRAILING for at in protections)
    )

    # The people carrying the load: members holding work in progress now, not on leave.
    member_set = set(people.members)
    away = people.on_leave(t_end)
    holding = history.holders(t_end)
    carriers: set[str] = {p for p in holding if p in member_set and p not in away} or (member_set - away)
    cadence_of: dict[str, str] = {}
    if onset is not None:
        times: dict[str, list[float]] = {}
        for at, person in one_on_ones:
            if at > t_end - 2 * COVERAGE_WINDOW:
                times.setdefault(person, []).append(at)
        cadence_of = {p: _cadence(sorted(times.get(p, [])), onset, t_end) for p in carriers}
    met = {p for p, how in cadence_of.items() if how != "missed"}
    held_since = sum(1 for how in cadence_of.values() if how == "met")
    missed = len(carriers) - len(met)
    # The cadence carries into the episode when at most one carrier in four missed a 1:1 that
    # fell due, and those that fell due mostly happened: 1:1s that stopped at the onset do not.
    cadence = bool(carriers) and view.known and missed <= len(carriers) // 4 and held_since >= missed
    answered_by = tuple(sorted(answering)) if sum(answering.values()) >= config.alerts.min_actions else ()
    if cadence:
        answered_by += ("one_on_one_cadence",)

    held = onset is not None and t_end - onset >= config.alerts.grace.total_seconds()
    out_now = course.out[-1]
    if learning:
        state = TeamState.LEARNING
    elif onset is None:
        state = TeamState.CALM
    elif not held:
        state = TeamState.IN_GRACE
    elif answered_by:
        state = TeamState.ANSWERED
    elif not view.known or not out_now:
        state = TeamState.ELEVATED
    else:
        state = TeamState.UNANSWERED
    recent_cycles = [c for done, c in history.cycle if t_end - 28 * DAY < done <= t_end]

    trend: tuple[TrendPoint, ...] = ()
    if with_trend:
        earlier = days[-TREND_DAYS:-1]
        supports = _support_trend(
            people,
            history,
            recorded_at,
            elevated_at,
            [d.at for d in earlier],
            [support_signals(d) for d in earlier],
            memo.views,
            stats,
        )
        trend = _trend(config, team, days, course, [*supports, view.support])
    memo.views.end()
    recent_actions = tuple(
        RecentAction(kind, datetime.fromtimestamp(at, UTC))
        for kind, at, _p in recorded
        if at >= t_end - COVERAGE_WINDOW
    )
    return TeamSnapshot(
        team=team.name,
        as_of=as_of,
        members=history.members,
        available=int(last.facts["available"]),
        on_leave=int(last.facts["on_leave"]),
        open_items=int(last.facts["open_items"]),
        throughput=int(last.facts["throughput"]),
        completed_total=data.completed_total(t_end),
        in_progress=int(last.facts["in_progress"]),
        overdue=int(last.facts["overdue"]),
        due_soon=int(last.facts["due_soon"]),
        wip_per_person=last.facts["wip_per_person"],
        cycle_time_p50=_quantile(recent_cycles, 0.5),
        cycle_time_p85=_quantile(recent_cycles, 0.85),
        cycle_times=tuple(recent_cycles),
        scope_added=int(last.facts["scope_added"]),
        after_hours_ratio=last.facts["after_hours_ratio"],
        pressure=round(course.pressures[-1], 6),
        baseline=round(course.baseline, 6),
        components=tuple(course.components),
        elevated=onset is not None,
        episode_start=datetime.fromtimestamp(onset, UTC) if onset is not None else None,
        episode_from=(dict(days[max(course.onset - 1, 0)].facts) if course.onset is not None else {}),
        actions_since_episode=since_counts,
        actions_total=totals,
        pressure_unmatched=state is TeamState.UNANSWERED,
        people=view,
        time_off_overridden=overridden,
        carriers=len(carriers) if onset is not None else 0,
        carriers_met=len(met),
        state=state,
        learning=learning,
        history_start=datetime.fromtimestamp(first, UTC) if first is not None else None,
        out_of_normal=out_now,
        answered_by=answered_by,
        answers=sum(answering.values()),
        timezone=team.timezone.key,
        learned_at=datetime.fromtimestamp(learned_at, UTC) if first is not None else None,
        trend=trend,
        recent_actions=recent_actions,
    )


def history_starts(store: Store) -> dict[str, float]:
    """Return where each team's history begins: its first work item, or later where a source
    says it read the team's work whole from (before that, items done were not read)."""
    return _with_coverage(store.first_created(), store)


def _with_coverage(starts: dict[str, float], store: Store) -> dict[str, float]:
    for team, covered in store.coverage("work_items").items():
        if team in starts:
            starts[team] = max(starts[team], covered)
    return starts


_NO_SIGNALS: Mapping[str, SignalKind] = MappingProxyType({})


class EvaluationCache:
    """What evaluations keep between cycles: each team's stored data and its last replay.

    `prepare` reads the store's change log and reads again only what the writes since touched
    (work items one by one; a team's actions and people signals whole). Each team's evaluation
    then reuses every day, replay step and people view whose inputs did not change (the days of
    `_TeamHistory.series`, the replay of `_replay`, the views of `PeopleHistory.signature`): the
    same numbers as an evaluation without a cache, at any `as_of` (tests/test_incremental.py).
    With `keep=False` nothing is kept: each team's data is read, evaluated and dropped, so
    memory holds one team's open work and replay window at a time.
    """

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.stats: Counter[str] = Counter()  # what the last evaluation computed and reused
        self._bound: tuple[object, ...] | None = None
        self._seq: int | None = None
        self._data: dict[str, TeamData] = {}
        self._memos: dict[str, _Memo] = {}
        self._first: dict[str, float] | None = None
        self._teams: dict[str, Team] = {}
        self._persons: dict[str, set[str]] = {}
        self.plugin_sources: dict[str, list[str]] = {}
        self._all_sources: list[str] = []
        self._window = 0.0
        self._pseudonym: Pseudonymiser | None = None

    def prepare(
        self,
        config: Config,
        store: Store,
        pseudonym: Pseudonymiser | None,
        signals: Mapping[str, SignalKind] | None,
    ) -> None:
        """Bind to what evaluations read and bring the kept data up to the store's last write.

        Another config, store, pseudonymiser or set of signals than the last call's starts over.
        """
        signals = signals if signals else _NO_SIGNALS
        bound = (config, store, pseudonym, signals)
        if self._bound is None or any(a is not b for a, b in zip(bound, self._bound, strict=True)):
            self._bound = bound
            self._forget_all()
            self._pseudonym = pseudonym
            self._teams = {t.name: t for t in config.teams}
            p = pseudonym or (lambda x: x)
            self._persons = {}
            for t in config.teams:
                for person in {p(m) for m in (*t.members, t.manager)}:
                    if person is not None:
                        self._persons.setdefault(person, set()).add(t.name)
            self.plugin_sources = plugin_sources(config, list(signals.values()))
            self._all_sources = sorted({s for sources in self.plugin_sources.values() for s in sources})
            ref_days = max(int(config.pressure.reference.total_seconds() // DAY), 1)
            self._window = (SCAN_DAYS + ref_days + 1) * DAY
        self.stats = Counter()
        if not self.keep:
            return
        if self._seq is None:
            self._seq = store.change_seq()  # before any read: what is written after is read again
            return
        changes = store.changes_since(self._seq)
        self._seq = changes.seq
        if changes.everything:
            self._forget_all()
            self._seq = changes.seq
            self.stats["everything_changed"] += 1
            return
        touched: dict[str, list[tuple[str, str]]] = {}
        for team, source, ident in changes.items:
            touched.setdefault(team, []).append((source, ident))
        for name, keys in touched.items():
            if name not in self._teams:
                continue
            if self._first is not None:
                self._first.pop(name, None)
                self._first.update(store.first_created(name))
            data = self._data.get(name)
            if data is not None:
                data.touch_items(store, keys)
                self.stats["items_read"] += len(keys)
        reread = {t for t in changes.teams if t in self._teams}
        for person in changes.persons:
            reread |= self._persons.get(person, set())
        for name in reread:
            data = self._data.get(name)
            if data is not None:
                data.load_actions(store)
                data.load_people(store)
                self.stats["people_read"] += 1

    def _forget_all(self) -> None:
        self._seq = None
        self._data.clear()
        self._memos.clear()
        self._first = None

    def starts(self, store: Store) -> dict[str, float]:
        """Return history_starts(store), from what is kept when the cache keeps."""
        if not self.keep:
            return history_starts(store)
        if self._first is None:
            self._first = store.first_created()
        return _with_coverage(dict(self._first), store)

    def team(self, store: Store, team: Team, as_of: float) -> tuple[TeamData, _Memo]:
        """Return a team's data (read when not kept, or kept from too late a time) and its memo."""
        assert self._bound is not None, "prepare() first"
        since = as_of - self._window
        data = self._data.get(team.name)
        memo = self._memos.get(team.name)
        if data is None or memo is None or since < data.floor:
            floor = since - FLOOR_MARGIN if self.keep else since
            data = TeamData(store, team, self._pseudonym, self._all_sources, floor)
            memo = _Memo()
            self._data[team.name], self._memos[team.name] = data, memo
            self.stats["teams_read"] += 1
        elif data.sources:
            data.load_events(store)
        return data, memo

    def done(self, name: str) -> None:
        """End a team's evaluation: without keeping, drop what it read."""
        if not self.keep:
            self._data.pop(name, None)
            self._memos.pop(name, None)


def evaluate(
    config: Config,
    store: Store,
    as_of: datetime,
    pseudonym: Pseudonymiser | None = None,
    signals: Mapping[str, SignalKind] | None = None,
    with_trend: bool = True,
    cache: EvaluationCache | None = None,
) -> list[TeamSnapshot]:
    """Return every configured team's snapshot at `as_of`.

    `with_trend=False` leaves the snapshots' `trend` empty: replays that draw no page (backfill,
    the detector evaluation) save the support trend's 59 people views per team. `cache`: kept
    between calls (serve's cycles), so each evaluation computes what changed since the last.
    """
    cache = cache if cache is not None else EvaluationCache(keep=False)
    cache.prepare(config, store, pseudonym, signals)
    starts = cache.starts(store)
    calendar_from = store.coverage("meeting")
    return [
        evaluate_team(
            config, team, store, as_of, pseudonym, signals, cache, starts, with_trend, calendar_from
        )
        for team in config.teams
    ]
