"""The people side of the engine: 1:1s, time off, after-hours meetings, surveys, support.

Reads the signals of docs/signals.md (teampulse/model.py, PersonSignal) for one team.
Every person here is a pseudonym; nothing leaves this module but team-level numbers,
and person-derived numbers only for teams of at least `min_group_size` members.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from .config import Config, Team
from .pseudonym import Pseudonymiser
from .store import SignalRow, Store

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


def _once(rows: list[SignalRow]) -> list[SignalRow]:
    """Keep one row per id: the same meeting may come from two sources (ics and CalDAV)."""
    return list({row.id: row for row in rows}.values())


class SignalCache:
    """The people signals every team's evaluation at one time reads, loaded once."""

    def __init__(self, store: Store, config: Config, as_of: float) -> None:
        horizon = as_of + LOOKAHEAD
        self.meetings = _once([m for m in store.signals("meeting", 0, horizon) if m.start <= horizon])
        self.time_off = _once(store.signals("time_off", as_of - 120 * DAY, as_of + 60 * DAY))
        self.timezones = store.signals("timezone", 0, as_of + DAY)
        window = config.survey_window.total_seconds()
        self.responses = store.signals("survey_response", as_of - window, as_of)
        # From when each person's calendar was read whole; empty for a process-only install.
        self.calendar_from = store.coverage("meeting")


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


class PeopleHistory:
    """A team's people signals, loaded once per evaluation."""

    def __init__(
        self, config: Config, team: Team, signals: SignalCache, pseudonym: Pseudonymiser | None, as_of: float
    ) -> None:
        self.config = config
        self.team = team
        self.as_of = as_of
        p = pseudonym or (lambda x: x)
        self.manager = p(team.manager)
        self.members: list[str] = [m for m in (p(x) for x in team.members) if m]
        member_set = set(self.members)
        people = member_set | {self.manager}
        self.meetings: list[SignalRow] = [m for m in signals.meetings if people & set(m.people)]
        self.leave = [(r.person, r.start, r.end) for r in signals.time_off if r.person in member_set]
        self.zones: dict[str, ZoneInfo] = {}
        for row in signals.timezones:
            if row.person and (row.person in member_set or row.person == self.manager):
                try:
                    self.zones[row.person] = ZoneInfo(str(row.attrs.get("tz")))
                except (KeyError, ValueError):
                    continue
        # The manager's calendar shows every 1:1; without it, every member's calendar must be read.
        starts = signals.calendar_from
        covered_from = starts.get(self.manager) if self.manager else None
        if covered_from is None and self.members and all(m in starts for m in self.members):
            covered_from = max(starts[m] for m in self.members)
        self.calendar_from = covered_from
        self.has_calendars = covered_from is not None and covered_from <= as_of - COVERAGE_WINDOW
        # No data is not "no leadership": with calendars configured, a team they do not cover
        # yet is not judged. A process-only install judges by Jira and recorded actions alone.
        self.known = self.has_calendars or not starts
        self.responses = [r for r in signals.responses if r.team == team.name]
        self.member_set = member_set

    def on_leave(self, t: float) -> set[str]:
        """Return the members on leave at `t`."""
        return {person for person, s, e in self.leave if s <= t < e and person}

    def one_on_ones(self, since: float, until: float) -> list[tuple[float, str]]:
        """Return (time, member) of the manager's 1:1s with a member in [since, until]."""
        found = []
        for m in self.meetings:
            if not (since < m.start <= until) or self.manager not in m.people:
                continue
            others = [p for p in m.people if p != self.manager and p in self.member_set]
            if len(others) != 1:
                continue
            if len(m.people) == 2 or (m.attrs.get("category") == "one_on_one" and len(m.people) <= 3):
                found.append((m.start, others[0]))
        return found

    def check_ins(self, since: float, until: float) -> list[float]:
        """Return the times of team check-ins the manager held with at least two members."""
        return [
            m.start
            for m in self.meetings
            if since < m.start <= until
            and m.attrs.get("category") == "check_in"
            and self.manager in m.people
            and len(self.member_set & set(m.people)) >= 2
        ]

    def meeting_conflicts(self, since: float, until: float) -> list[Conflict]:
        """Return meetings a member attends during their own time off."""
        out = []
        for m in self.meetings:
            # An occurrence of a series set up long before was not booked over the time off.
            if not (since < m.start <= until) or m.attrs.get("recurring"):
                continue
            for person, s, e in self.leave:
                if person in m.people and m.start < e and m.end > s:
                    out.append(Conflict(m.start, person, "meeting", s, e))
        return out

    def after_hours_hours(self, since: float, until: float) -> float:
        """Return the mean after-hours meeting hours per member in [since, until]."""
        if not self.members:
            return 0.0
        total = 0.0
        for m in self.meetings:
            if not (since < m.start <= until):
                continue
            for person in self.member_set & set(m.people):
                tz = self.zones.get(person, self.team.timezone)
                total += _after_hours_seconds(m.start, m.end, tz, self.team.working_hours)
        return total / 3600.0 / len(self.members)

    def view(
        self,
        assignments: Sequence[tuple[float, str]],
        recorded_recent: int,
        elevated_at: Callable[[float], bool],
        extra: Sequence[tuple[str, float, float]] = (),
    ) -> PeopleView:
        """Return the team's people side at `as_of`.

        `assignments`: (time, pseudonym) of work assigned to someone; `recorded_recent`:
        recorded leadership actions in the last 14 days; `elevated_at(t)`: whether the team
        was under elevated process pressure at t; `extra`: the plugins' support signals that
        had something to say at `as_of`, as (name, weight, value).
        """
        t = self.as_of
        cfg = self.config
        visible = len(self.members) >= cfg.min_group_size
        away = self.on_leave(t)
        eligible = [m for m in self.members if m not in away]
        ones = self.one_on_ones(t - COVERAGE_WINDOW, t)
        covered = {person for _at, person in ones if person in eligible}
        coverage = (len(covered) / len(eligible) if eligible else 1.0) if self.has_calendars else None

        conflicts = self.meeting_conflicts(t - TRAILING, t + LOOKAHEAD)
        for at, person in assignments:
            if t - TRAILING < at <= t:
                conflicts += [
                    Conflict(at, person, "assignment", s, e)
                    for p, s, e in self.leave
                    if p == person and s <= at < e
                ]
        after_hours = self.after_hours_hours(t - TRAILING, t) if self.has_calendars else None

        dims: dict[str, list[float]] = {}
        for r in self.responses:
            for dim, score in dict(r.attrs.get("scores") or {}).items():
                if isinstance(score, int | float):
                    dims.setdefault(str(dim), []).append(float(score))
        n = len(self.responses)
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
        people_data = self.has_calendars or bool(scores) or bool(plugin_parts)
        if coverage is not None and visible:
            parts["one_on_one_coverage"] = coverage
        if self.has_calendars and visible:
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
            has_calendars=self.has_calendars,
            known=self.known,
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
