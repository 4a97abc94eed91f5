"""The engine: a pure function of the store and a time, giving one snapshot per team.

Same store and `as_of`, same snapshots: `collect`, `check`, `--as-of` replays and
backfill all call `evaluate`.
"""

from __future__ import annotations

import copy
import statistics
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .config import SCAN_DAYS, Config, Team
from .kinds import SignalKind
from .model import ACTION_KINDS, StatusCategory
from .people import (
    COVERAGE_WINDOW,
    DAY,
    LOOKAHEAD,
    TRAILING,
    Conflict,
    PeopleHistory,
    PeopleView,
    SignalCache,
)
from .plugin_signals import PluginEvents, TeamSignals
from .pseudonym import Pseudonymiser
from .states import TeamState
from .store import ChangeRow, ItemRow, SignalRow, Store

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


@dataclass
class _Item:
    """One work item's history, replayable at any time."""

    created: float
    status_at: list[float]
    status: list[str]
    due_at: list[float]
    due: list[str | None]
    started: float | None
    done: list[float]  # times it entered done
    sprint_adds: list[tuple[float, str]]
    sprints: dict[str, tuple[float | None, float | None]]
    assignee_at: list[float] = field(default_factory=list)
    assignee: list[str | None] = field(default_factory=list)

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


def _build_item(row: ItemRow, changes: Sequence[ChangeRow]) -> _Item:
    status_changes = [c for c in changes if c.field == "status"]
    due_changes = [c for c in changes if c.field == "duedate"]
    first_status = status_changes[0].from_value if status_changes else row.status
    status_at = [row.created] + [c.at for c in status_changes]
    status = [first_status or TODO] + [c.to_value or TODO for c in status_changes]
    first_due = due_changes[0].from_value if due_changes else row.due
    due_at = [row.created] + [c.at for c in due_changes]
    due = [first_due or None] + [c.to_value or None for c in due_changes]
    done = [c.at for c in status_changes if c.to_value == DONE]
    if row.status == DONE and not done and row.done_at is not None:
        done = [row.done_at]
    adds: list[tuple[float, str]] = []
    for c in changes:
        if c.field == "sprint":
            before = {s.strip() for s in (c.from_value or "").split(",") if s.strip()}
            after = {s.strip() for s in (c.to_value or "").split(",") if s.strip()}
            adds.extend((c.at, s) for s in sorted(after - before))
    sprints = {str(s["id"]): (s.get("start"), s.get("end")) for s in row.sprints}
    assignee_changes = [c for c in changes if c.field == "assignee"]
    first_assignee = assignee_changes[0].from_value if assignee_changes else row.assignee
    assignee_at = [row.created] + [c.at for c in assignee_changes]
    assignees = [first_assignee] + [c.to_value for c in assignee_changes]
    return _Item(
        row.created,
        status_at,
        status,
        due_at,
        due,
        row.started_at,
        done,
        adds,
        sprints,
        assignee_at,
        assignees,
    )


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


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


@dataclass
class _Day:
    at: float
    values: dict[str, float]
    facts: dict[str, float] = field(default_factory=dict)
    share_of: float = float(MIN_ITEMS_FOR_SHARE)  # what the shares of open work are taken of


class _TeamHistory:
    """A team's items and signals, replayed day by day."""

    def __init__(
        self, team: Team, store: Store, pseudonym: Pseudonymiser | None, as_of: float, days: int
    ) -> None:
        self.team = team
        since = as_of - (days + 1) * DAY
        rows = store.team_items(team.name, since, as_of)
        changes = store.item_changes(rows)
        self.items = [_build_item(r, changes.get((r.source, r.id), [])) for r in rows]
        self.all_changes = sorted(c.at for cs in changes.values() for c in cs if c.at <= as_of)
        self.after_hours = sorted(t for t in self.all_changes if _is_after_hours(t, team))
        self.done_times = sorted(t for i in self.items for t in i.done if t <= as_of)
        self.cycle = sorted(
            (i.done[-1], i.done[-1] - i.started)
            for i in self.items
            if i.done and i.started and i.started <= i.done[-1]
        )
        self.adds = sorted(
            (t, s, i.sprints.get(s, (None, None))) for i in self.items for t, s in i.sprint_adds
        )
        self.add_times = [a[0] for a in self.adds]
        self.members = len(team.members)
        self._wip: dict[str | None, tuple[list[float], list[float]]] | None = None
        members = set(pseudonym.many(list(team.members))) if pseudonym else set()
        self.leave = [
            (row.person, row.start, row.end)
            for row in store.signals("time_off", since, as_of)
            if row.person in members
        ]
        self.reassignments = [
            (c.at, c.from_value)
            for cs in changes.values()
            for c in cs
            if c.field == "assignee" and c.from_value
        ]
        self.assignments = [
            (c.at, c.to_value) for cs in changes.values() for c in cs if c.field == "assignee" and c.to_value
        ]
        self.due_moves = [
            (c.at, c.from_value, c.to_value) for cs in changes.values() for c in cs if c.field == "duedate"
        ]
        self.sprint_removals = [
            (c.at, c.from_value, c.to_value) for cs in changes.values() for c in cs if c.field == "sprint"
        ]

    def _count(self, times: Sequence[float], lo: float, hi: float) -> int:
        return bisect_right(times, hi) - bisect_right(times, lo)

    def _open_work(self, times: Sequence[float]) -> tuple[list[int], list[int], list[int], list[int]]:
        """Count open, in-progress, overdue and due-soon items at each of `times` (ascending).

        Each item's history is cut into pieces of constant status and due date, and each piece
        adds to a run of days at once (difference arrays), so the cost grows with the changes,
        not with items times days: a team of thousands of open items replays 90 days quickly.
        """
        n = len(times)
        dates = [datetime.fromtimestamp(t, self.team.timezone).date().isoformat() for t in times]
        diffs = [[0] * (n + 1) for _ in range(4)]
        opened, wip, overdue, soon = diffs

        def add(diff: list[int], lo: int, hi: int) -> None:
            if lo < hi:
                diff[lo] += 1
                diff[hi] -= 1

        for item in self.items:
            points = sorted({*item.status_at, *item.due_at})
            for index, start in enumerate(points):
                status = item.status_on(start)
                if status is None or status == DONE:
                    continue
                lo = bisect_left(times, start)
                hi = bisect_left(times, points[index + 1]) if index + 1 < len(points) else n
                if lo >= hi:
                    continue
                add(opened, lo, hi)
                if status == IN_PROGRESS:
                    add(wip, lo, hi)
                due = item.due_on(start)
                if due is not None:
                    late = bisect_right(dates, due)  # first day whose date is past the due date
                    week_before = (date.fromisoformat(due) - timedelta(days=7)).isoformat()
                    near = bisect_right(dates, week_before)  # first day within 7 days of it
                    add(overdue, max(lo, late), hi)
                    add(soon, max(lo, near), min(hi, late))
        result = []
        for diff in diffs:
            running, counts = 0, []
            for k in range(n):
                running += diff[k]
                counts.append(running)
            result.append(counts)
        return result[0], result[1], result[2], result[3]

    def series(self, times: Sequence[float]) -> list[_Day]:
        """Return the process-side values at each of `times` (ascending)."""
        opened, wip, overdue, soon = self._open_work(times)
        return [self._day(t, opened[k], wip[k], overdue[k], soon[k]) for k, t in enumerate(times)]

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
        values = {
            "wip_per_person": carried / available,
            "overdue_share": overdue / denominator,
            "due_soon_share": due_soon / denominator,
            "scope_added_share": scope_added / denominator,
            "after_hours_share": after / max(changes, MIN_CHANGES_FOR_SHARE),
            "capacity_on_leave": on_leave / self.members if self.members else 0.0,
        }
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
        found: list[tuple[str, float]] = []
        for at, before, after in self.due_moves:
            if at <= until and before and after and after > before:
                found.append(("deadline_renegotiated", at))
        for at, before, after in self.sprint_removals:
            removed = {s.strip() for s in (before or "").split(",") if s.strip()} - {
                s.strip() for s in (after or "").split(",") if s.strip()
            }
            if at <= until and removed:
                found.append(("deadline_renegotiated", at))
        for at, person in self.reassignments:
            if at <= until and self._overloaded_or_away(person, at):
                found.append(("workload_rebalanced", at))
        return found

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


def _covering(index: tuple[list[float], list[float]] | None, t: float) -> int:
    """Count the [start, end) spans of a sorted index that contain `t`."""
    if index is None:
        return 0
    starts, ends = index
    return bisect_right(starts, t) - bisect_right(ends, t)


def _normal(past: Sequence[float], centre: float, effect: float, saturation: float) -> Normal:
    """Return the normal of a component from its values over the reference window.

    `centre` is their median; `effect` the smallest rise that counts at all (a few items, not
    one or two): the band is at least that wide above the median, and wider for a team whose
    values vary.
    """
    if not past:
        return Normal(0.0, effect, effect * (saturation - 1.0))
    spread = 1.4826 * _median([abs(v - centre) for v in past])
    top = max(centre + BAND_SIGMAS * spread, _quantile(list(past), BAND_QUANTILE) or 0.0, centre + effect)
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


def _replay(
    config: Config,
    team: Team,
    days: Sequence[_Day],
    history_from: float,
    judged_from: float,
    extra: TeamSignals,
) -> _Course:
    """Replay pressure over `days`: normals from each day's reference window, and episodes.

    A day is judged only with a whole reference window of the team's history behind it. The
    reference is the last `reference` days outside any episode, so weeks of crunch never
    become the normal, during the episode or after it.
    """
    settings = config.pressure
    ref_days = max(int(settings.reference.total_seconds() // DAY), 1)
    weights = dict(settings.weights)
    pressures: list[float] = []
    episode: list[bool] = []
    out: list[bool] = []
    components: list[Component] = []
    baseline = 0.0
    onset: int | None = None
    frozen: list[int] = []
    back = 0
    baselines: list[float | None] = []
    for i, d in enumerate(days):
        if d.at < judged_from:
            pressures.append(0.0)
            episode.append(False)
            out.append(False)
            baselines.append(None)
            continue
        if onset is not None:
            ref = frozen
        else:
            ref = []
            j = i - 1
            while j >= 0 and len(ref) < ref_days and days[j].at >= history_from:
                if not episode[j]:
                    ref.append(j)
                j -= 1
        components = []
        for name, w in weights.items():
            value = d.values[name]
            if name in settings.limits:
                limit = settings.limits[name]
                normal = Normal(limit, limit, limit * (settings.saturation - 1.0))
            else:
                past = [days[j].values[name] for j in ref]
                centre = _median(past)
                normal = _normal(past, centre, _effect(config, name, d, centre), settings.saturation)
            components.append(Component(name, value, normal.centre, normal.score(value), w, normal.top))
        # A signal with nothing to say that day leaves the index as if it were absent.
        for s, value in extra.values(d.facts, d.at):
            components.append(Component(s.name, value, 0.0, value, s.weight))
        total = sum(c.weight for c in components)
        pressure = sum(c.score * c.weight for c in components) / total if total else 0.0
        pressures.append(pressure)
        baseline = _median([pressures[j] for j in ref])
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
    return _Course(pressures, episode, out, components, baseline, onset, baselines)


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


class TrendSignals:
    """The survey responses every team's support trend reads, loaded once per evaluation."""

    def __init__(self, store: Store, config: Config, as_of: float) -> None:
        since = as_of - TREND_DAYS * DAY - config.survey_window.total_seconds()
        self.responses = store.signals("survey_response", since, as_of)


def _support_trend(
    config: Config,
    team: Team,
    cache: SignalCache,
    people: PeopleHistory,
    pseudonym: Pseudonymiser | None,
    history: _TeamHistory,
    recorded: Sequence[tuple[str, float, str | None]],
    elevated_at: Callable[[float], bool],
    responses: Sequence[SignalRow],
    times: Sequence[float],
    extras: Sequence[Sequence[tuple[str, float, float]]],
) -> list[float | None]:
    """Return people support at each of `times`, as the view at that time reads it.

    A view reads only the signals within 14 days either side of its time (1:1s and check-ins of
    the last 14 days, conflicts up to 14 days ahead), so each day gets a copy of the cache cut to
    the team and to those days: 60 small views, not 60 evaluations. `extras` holds each time's
    plugin support signals as (name, weight, value).
    """
    members = people.member_set | {people.manager}
    meetings = sorted(people.meetings, key=lambda m: m.start)
    starts = [m.start for m in meetings]
    window = config.survey_window.total_seconds()
    base = copy.copy(cache)
    base.time_off = [r for r in cache.time_off if r.person in people.member_set]
    base.timezones = [r for r in cache.timezones if r.person in members]
    mine = [r for r in responses if r.team == team.name]
    recorded_at = [at for _kind, at, _p in recorded]
    out: list[float | None] = []
    for t, extra in zip(times, extras, strict=True):
        day = copy.copy(base)
        day.meetings = meetings[
            bisect_right(starts, t - max(COVERAGE_WINDOW, TRAILING)) : bisect_right(starts, t + LOOKAHEAD)
        ]
        day.responses = [r for r in mine if r.end >= t - window and r.start <= t]
        recent = bisect_right(recorded_at, t) - bisect_left(recorded_at, t - COVERAGE_WINDOW)
        view = PeopleHistory(config, team, day, pseudonym, t).view(
            history.assignments, recent, elevated_at, extra
        )
        out.append(view.support)
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
    cache: SignalCache | None = None,
    starts: Mapping[str, float] | None = None,
    trend_signals: TrendSignals | None = None,
    with_trend: bool = True,
    plugin_events: PluginEvents | None = None,
) -> TeamSnapshot:
    """Return one team's snapshot at `as_of`; `starts` as history_starts() gives them.

    `signals` are the plugins' (SignalKind); `plugin_events` what their sources stored up to
    `as_of` (loaded here when not given).
    """
    t_end = as_of.timestamp()
    ref_days = max(int(config.pressure.reference.total_seconds() // DAY), 1)
    span = SCAN_DAYS + ref_days
    history = _TeamHistory(team, store, pseudonym, t_end, span)
    days = history.series([t_end - k * DAY for k in range(span, -1, -1)])
    first = (starts if starts is not None else history_starts(store)).get(team.name)
    first = first if first is not None and first <= t_end else None
    # The first day judged has a whole reference window of the team's own history behind it.
    learned_at = first + ref_days * DAY if first is not None else float("inf")
    learning = t_end < learned_at
    # The series' first `ref_days` days are only the reference of the first scanned day.
    judged_from = max(learned_at, days[ref_days].at)
    kinds = list((signals or {}).values())
    if plugin_events is None:
        plugin_events = PluginEvents(store, config, kinds, t_end)
    events = plugin_events.team(team, pseudonym)
    extra = TeamSignals([s for s in kinds if s.side == "pressure"], team.name, events)
    helps = TeamSignals([s for s in kinds if s.side == "support"], team.name, events)

    def support_signals(d: _Day) -> list[tuple[str, float, float]]:
        return [(s.name, s.weight, value) for s, value in helps.values(d.facts, d.at)]

    course = _replay(config, team, days, first if first is not None else t_end, judged_from, extra)
    last = days[-1]
    onset = days[course.onset].at if course.onset is not None else None

    def elevated_at(t: float) -> bool:
        index = len(course.episode) - 1 - round((t_end - t) / DAY)
        return 0 <= index < len(course.episode) and course.episode[index]

    recorded = store.actions(team.name, 0.0, t_end)
    cache = cache or SignalCache(store, config, t_end)
    people = PeopleHistory(config, team, cache, pseudonym, t_end)
    recent = sum(1 for _kind, at, _p in recorded if at >= t_end - COVERAGE_WINDOW)
    view = people.view(history.assignments, recent, elevated_at, support_signals(last))
    # Every leadership action up to as_of, from every side that can see one, as (kind, at, answers).
    actions = [(kind, at, True) for kind, at, _p in recorded]
    actions += [(kind, at, kind in ANSWERING_KINDS) for kind, at in history.derived_actions(t_end)]
    one_on_ones = people.one_on_ones(0.0, t_end)
    actions += [("one_on_one", at, False) for at, _p in one_on_ones]
    actions += [("team_check_in", at, True) for at in people.check_ins(0.0, t_end)]
    actions += [(kind, at, False) for kind, at, _p in view.actions if kind == "time_off_protected"]
    totals = dict(Counter(kind for kind, _at, _answers in actions))
    since = [(kind, answers) for kind, at, answers in actions if onset is not None and at >= onset]
    since_counts = dict(Counter(kind for kind, _answers in since))
    answering = Counter(kind for kind, answers in since if answers)

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
    holding = {i.assignee_on(t_end) for i in history.items if i.status_on(t_end) == IN_PROGRESS}
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
        responses = (trend_signals or TrendSignals(store, config, t_end)).responses
        earlier = days[-TREND_DAYS:-1]
        supports = _support_trend(
            config,
            team,
            cache,
            people,
            pseudonym,
            history,
            recorded,
            elevated_at,
            responses,
            [d.at for d in earlier],
            [support_signals(d) for d in earlier],
        )
        trend = _trend(config, team, days, course, [*supports, view.support])
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
        completed_total=store.completed_total(team.name, t_end),
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
    starts = store.first_created()
    for team, covered in store.coverage("work_items").items():
        if team in starts:
            starts[team] = max(starts[team], covered)
    return starts


def evaluate(
    config: Config,
    store: Store,
    as_of: datetime,
    pseudonym: Pseudonymiser | None = None,
    signals: Mapping[str, SignalKind] | None = None,
    with_trend: bool = True,
) -> list[TeamSnapshot]:
    """Return every configured team's snapshot at `as_of`.

    `with_trend=False` leaves the snapshots' `trend` empty: replays that draw no page (backfill,
    the detector evaluation) save the support trend's 59 people views per team.
    """
    cache = SignalCache(store, config, as_of.timestamp())
    starts = history_starts(store)
    trend = TrendSignals(store, config, as_of.timestamp()) if with_trend else None
    events = PluginEvents(store, config, list((signals or {}).values()), as_of.timestamp())
    return [
        evaluate_team(
            config, team, store, as_of, pseudonym, signals, cache, starts, trend, with_trend, events
        )
        for team in config.teams
    ]
