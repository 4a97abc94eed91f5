"""The people side of the engine: 1:1s, time off, after-hours meetings, surveys, support.

Reads the signals of docs/signals.md (teampulse/model.py, PersonSignal) for one team.
Every person here is a pseudonym; nothing leaves this module but team-level numbers,
and person-derived numbers only for teams of at least `min_group_size` members.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from .config import Config, Team
from .team_data import Meeting, TeamData

DAY = 86400.0
COVERAGE_WINDOW = 14 * DAY
TRAILING = 7 * DAY
# A meeting already booked over coming time off is caught before it happens.
LOOKAHEAD = 14 * DAY
# After this many after-hours meeting hours a week per member, that part of support is 0.
AFTER_HOURS_LIMIT_HOURS = 4.0
SUPPORT_WEIGHTS: dict[str, float] = {
    "one_on_one_coverage": 0.35,
    "time_off_respected": 0.20,
    "after_hours_meetings": 0.15,
    "survey": 0.15,
    "recent_actions": 0.15,
}


@dataclass(frozen=True)
class Conflict:
    """A meeting or an assignment that landed on a member's time off."""

    at: float
    person: str  # pseudonym; never exported
    kind: str  # "meeting" or "assignment"
    leave_start: float
    leave_end: float


@dataclass
class PeopleView:
    """A team's people side at one time."""

    visible: bool  # the team is large enough to show person-derived numbers
    has_calendars: bool  # calendar data covers the last 14 days: 1:1s and time off can be read
    known: bool  # the people side can be judged: calendars cover it, or none is configured at all
    members_on_leave: int
    coverage: float | None
    covered: int
    eligible: int
    time_off_conflicts: int
    conflicts: list[Conflict]
    after_hours_meeting_hours: float | None
    survey_responses: int
    survey_scores: dict[str, float] | None
    survey_response_rate: float | None
    support: float | None  # None: no people data (no calendar covers the time, no survey shown)
    support_components: dict[str, float]
    actions: list[tuple[str, float, str | None]] = field(default_factory=list)  # derived (kind, at, person)


def _working(t: float, tz: ZoneInfo, hours: tuple[time, time]) -> bool:
    local = datetime.fromtimestamp(t, tz)
    return local.weekday() < 5 and hours[0] <= local.time() < hours[1]


def _after_hours_seconds(start: float, end: float, tz: ZoneInfo, hours: tuple[time, time]) -> float:
    """Return how much of [start, end) falls outside working hours, in 15-minute steps."""
    step = 900.0
    total = 0.0
    t = start
    while t < end:
        chunk = min(step, end - t)
        if not _working(t + chunk / 2, tz, hours):
            total += chunk
        t += chunk
    return total


@dataclass(frozen=True)
class PeopleRead:
    """What a team's people side reads at one time; equal keys, equal PeopleHistory."""

    key: tuple[object, ...]
    meetings: list[Meeting]
    leave: list[tuple[str, float, float]]
    zones: tuple[tuple[str, str], ...]
    covered_from: float | None
    any_calendar: bool

    @classmethod
    def at(cls, data: TeamData, as_of: float, calendar_from: Mapping[str, float]) -> PeopleRead:
        """Return what an evaluation at `as_of` reads of the team's people signals."""
        meetings_key, meetings = data.meetings_at(as_of + LOOKAHEAD)
        member_set = set(data.members)
        rows = data.leave_once(as_of - 120 * DAY, as_of + 60 * DAY)
        leave = [(r.person, r.start, r.end) for r in rows if r.person in member_set]
        # Each person's zone as their calendar last said it (a later row wins).
        zones = tuple(
            (row.person, str(row.attrs.get("tz")))
            for row in data.timezones
            if row.person and row.start <= as_of + DAY and row.end >= 0
        )
        # The manager's calendar shows every 1:1; without it, every member's calendar must be read.
        covered_from = calendar_from.get(data.manager) if data.manager else None
        if covered_from is None and data.members and all(m in calendar_from for m in data.members):
            covered_from = max(calendar_from[m] for m in data.members)
        # No data is not "no leadership": with calendars configured, a team they do not cover
        # yet is not judged. A process-only install judges by Jira and recorded actions alone.
        any_calendar = bool(calendar_from)
        key = (data.people_version, meetings_key, tuple(leave), zones, covered_from, any_calendar)
        return cls(key, meetings, leave, zones, covered_from, any_calendar)


class PeopleHistory:
    """A team's people signals compiled for evaluations near one time: viewed at any day of its trend.

    Built from TeamData at `as_of`; `key` is equal for two times whose evaluations read the same
    signals (the same time off, time zones, calendars' coverage and meetings), so one compiled
    history serves cycle after cycle until something it reads changes.
    """

    def __init__(self, config: Config, team: Team, data: TeamData, read: PeopleRead) -> None:
        self.config = config
        self.team = team
        self.manager = data.manager
        self.members = list(data.members)
        self.member_set = set(self.members)
        self.key = read.key
        meetings = read.meetings
        self.meetings: list[Meeting] = meetings
        self.starts = [m.start for m in meetings]
        self.leave = read.leave
        self.zones: dict[str, ZoneInfo] = {}
        for person, name in read.zones:
            try:
                self.zones[person] = ZoneInfo(name)
            except (KeyError, ValueError):
                continue
        self.calendar_from = read.covered_from
        self.any_calendar = read.any_calendar
        self.responses = data.responses
        manager = self.manager
        self._one: list[str | None] = []
        self._check_in: list[bool] = []
        for m in meetings:
            one = None
            if manager in m.people:
                others = [q for q in m.people if q != manager and q in self.member_set]
                if len(others) == 1 and (
                    len(m.people) == 2 or (m.category == "one_on_one" and len(m.people) <= 3)
                ):
                    one = others[0]
            self._one.append(one)
            self._check_in.append(
                m.category == "check_in" and manager in m.people and len(self.member_set & set(m.people)) >= 2
            )
        self._one_at = [m.start for m, one in zip(meetings, self._one, strict=True) if one is not None]
        self._check_in_at = [m.start for m, yes in zip(meetings, self._check_in, strict=True) if yes]
        self._conflicts: dict[int, list[Conflict]] = {}
        self._after_hours: dict[int, float] = {}

    def has_calendars(self, t: float) -> bool:
        """Tell whether calendar data covers the 14 days before `t`."""
        return self.calendar_from is not None and self.calendar_from <= t - COVERAGE_WINDOW

    def known(self, t: float) -> bool:
        """Tell whether the people side can be judged at `t`: calendars cover it, or none is configured."""
        return self.has_calendars(t) or not self.any_calendar

    def on_leave(self, t: float) -> set[str]:
        """Return the members on leave at `t`."""
        return {person for person, s, e in self.leave if s <= t < e and person}

    def _range(self, since: float, until: float) -> range:
        """Return the indices of the meetings that began in (since, until]."""
        return range(bisect_right(self.starts, since), bisect_right(self.starts, until))

    def one_on_ones(self, since: float, until: float) -> list[tuple[float, str]]:
        """Return (time, member) of the manager's 1:1s with a member in (since, until]."""
        out = []
        for i in self._range(since, until):
            one = self._one[i]
            if one is not None:
                out.append((self.starts[i], one))
        return out

    def count_one_on_ones(self, until: float) -> int:
        """Return how many 1:1s the manager held with a member up to `until` (after time 0)."""
        return bisect_right(self._one_at, until) - bisect_right(self._one_at, 0.0)

    def check_ins(self, since: float, until: float) -> list[float]:
        """Return the times of team check-ins the manager held with at least two members."""
        return [self.starts[i] for i in self._range(since, until) if self._check_in[i]]

    def count_check_ins(self, until: float) -> int:
        """Return how many check-ins the manager held up to `until` (after time 0)."""
        return bisect_right(self._check_in_at, until) - bisect_right(self._check_in_at, 0.0)

    def meeting_conflicts(self, since: float, until: float) -> list[Conflict]:
        """Return meetings a member attends during their own time off."""
        out = []
        for i in self._range(since, until):
            found = self._conflicts.get(i)
            if found is None:
                m = self.meetings[i]
                # An occurrence of a series set up long before was not booked over the time off.
                found = (
                    []
                    if m.recurring
                    else [
                        Conflict(m.start, person, "meeting", s, e)
                        for person, s, e in self.leave
                        if person in m.people and m.start < e and m.end > s
                    ]
                )
                self._conflicts[i] = found
            out += found
        return out

    def after_hours_hours(self, since: float, until: float) -> float:
        """Return the mean after-hours meeting hours per member in (since, until]."""
        if not self.members:
            return 0.0
        total = 0.0
        for i in self._range(since, until):
            seconds = self._after_hours.get(i)
            if seconds is None:
                m = self.meetings[i]
                seconds = 0.0
                for person in self.member_set & set(m.people):
                    tz = self.zones.get(person, self.team.timezone)
                    seconds += _after_hours_seconds(m.start, m.end, tz, self.team.working_hours)
                self._after_hours[i] = seconds
            total += seconds
        return total / 3600.0 / len(self.members)

    def _responses(self, t: float) -> list[int]:
        window = self.config.survey_window.total_seconds()
        return [i for i, r in enumerate(self.responses) if r.end >= t - window and r.start <= t]

    def signature(
        self,
        t: float,
        assignments: Sequence[tuple[float, str]],
        assigned_at: Sequence[float],
        recorded_recent: int,
        elevated_at: Callable[[float], bool],
        extra: Sequence[tuple[str, float, float]] = (),
    ) -> tuple[object, ...]:
        """Return what view() reads at `t`: two times with equal signatures have equal views.

        The meetings in each of its windows (by their bounds' positions among the starts), who
        is on leave, the time off that began in the last 14 days and whether pressure was
        elevated then, the responses in the survey window, the assignments of the last 7 days.
        """
        starts = self.starts
        return (
            bisect_right(starts, t - COVERAGE_WINDOW),
            bisect_right(starts, t - TRAILING),
            bisect_right(starts, t),
            bisect_right(starts, t + LOOKAHEAD),
            tuple(i for i, (_p, s, e) in enumerate(self.leave) if s <= t < e),
            tuple(
                (i, elevated_at(s))
                for i, (_p, s, _e) in enumerate(self.leave)
                if t - COVERAGE_WINDOW <= s <= t
            ),
            self.has_calendars(t),
            tuple(self._responses(t)),
            tuple(assignments[bisect_right(assigned_at, t - TRAILING) : bisect_right(assigned_at, t)]),
            recorded_recent,
            tuple(extra),
        )

    def view(
        self,
        t: float,
        assignments: Sequence[tuple[float, str]],
        assigned_at: Sequence[float],
        recorded_recent: int,
        elevated_at: Callable[[float], bool],
        extra: Sequence[tuple[str, float, float]] = (),
    ) -> PeopleView:
        """Return the team's people side at `t`.

        `assignments`: (time, pseudonym) of work assigned to someone, by time (`assigned_at`
        their times); `recorded_recent`: recorded leadership actions in the 14 days before `t`;
        `elevated_at(s)`: whether the team was under elevated process pressure at s; `extra`:
        the plugins' support signals that had something to say at `t`, as (name, weight, value).
        """
        cfg = self.config
        has_calendars = self.has_calendars(t)
        visible = len(self.members) >= cfg.min_group_size
        away = self.on_leave(t)
        eligible = [m for m in self.members if m not in away]
        ones = self.one_on_ones(t - COVERAGE_WINDOW, t)
        covered = {person for _at, person in ones if person in eligible}
        coverage = (len(covered) / len(eligible) if eligible else 1.0) if has_calendars else None

        conflicts = self.meeting_conflicts(t - TRAILING, t + LOOKAHEAD)
        lo, hi = bisect_right(assigned_at, t - TRAILING), bisect_right(assigned_at, t)
        for at, person in assignments[lo:hi]:
            conflicts += [
                Conflict(at, person, "assignment", s, e)
                for p, s, e in self.leave
                if p == person and s <= at < e
            ]
        after_hours = self.after_hours_hours(t - TRAILING, t) if has_calendars else None

        responses = [self.responses[i] for i in self._responses(t)]
        dims: dict[str, list[float]] = {}
        for r in responses:
            for dim, score in dict(r.attrs.get("scores") or {}).items():
                if isinstance(score, int | float):
                    dims.setdefault(str(dim), []).append(float(score))
        n = len(responses)
        shown = n >= cfg.min_group_size
        scores = {d: sum(v) / len(v) for d, v in dims.items()} if shown else None
        rate = min(n / len(self.members), 1.0) if self.members and n else (0.0 if self.members else None)

        actions: list[tuple[str, float, str | None]] = [("one_on_one", at, p) for at, p in ones]
        actions += [("team_check_in", at, None) for at in self.check_ins(t - COVERAGE_WINDOW, t)]
        conflicted = {
            (c.person, c.leave_start) for c in self.meeting_conflicts(t - COVERAGE_WINDOW, t + LOOKAHEAD)
        }
        conflicted |= {(c.person, c.leave_start) for c in conflicts}
        for person, s, _end in self.leave:
            # Time off that began under pressure and that nobody booked over was protected.
            if t - COVERAGE_WINDOW <= s <= t and elevated_at(s) and (person, s) not in conflicted:
                actions.append(("time_off_protected", s, person))

        parts: dict[str, float] = {}
        weights = dict(SUPPORT_WEIGHTS)
        # A plugin's support signal reads people's events: it is person-derived, so it counts
        # only for teams at the anonymity threshold, and then it is people data by itself.
        plugin_parts = [(name, w, v) for name, w, v in extra if visible]
        people_data = has_calendars or bool(scores) or bool(plugin_parts)
        if coverage is not None and visible:
            parts["one_on_one_coverage"] = coverage
        if has_calendars and visible:
            parts["time_off_respected"] = 1.0 / (1.0 + len(conflicts))
        if after_hours is not None and visible:
            parts["after_hours_meetings"] = 1.0 - min(after_hours / AFTER_HOURS_LIMIT_HOURS, 1.0)
        if scores:
            wanted = [scores[d] for d in ("support", "wellbeing") if d in scores]
            if wanted:
                parts["survey"] = sum(wanted) / len(wanted)
        if people_data:
            recent = recorded_recent + len(actions)
            parts["recent_actions"] = min(recent / 2.0, 1.0)
        for name, w, value in plugin_parts:
            parts[name] = value
            weights[name] = w
        weight = sum(weights[k] for k in parts)
        support = sum(weights[k] * v for k, v in parts.items()) / weight if parts else None
        return PeopleView(
            visible=visible,
            has_calendars=has_calendars,
            known=self.known(t),
            members_on_leave=len(away),
            coverage=coverage if visible else None,
            covered=len(covered),
            eligible=len(eligible),
            time_off_conflicts=len(conflicts),
            conflicts=conflicts,
            after_hours_meeting_hours=after_hours if visible else None,
            survey_responses=n,
            survey_scores=scores,
            survey_response_rate=rate,
            support=round(support, 6) if support is not None else None,
            support_components=parts,
            actions=actions,
        )
