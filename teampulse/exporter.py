"""Render the engine's snapshots as Prometheus metrics, once per collection cycle."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from . import __version__
from .engine import TeamSnapshot
from .kinds import AlertState
from .states import TeamState
from .store import SourceRun

CACHED = " Served from the cache of the last collection (see teampulse_collection_timestamp_seconds)."


@dataclass
class ExportState:
    """What one collection cycle produced, for the exporter."""

    snapshots: Sequence[TeamSnapshot] = ()
    runs: Sequence[SourceRun] = ()
    alerts: Sequence[AlertState] = ()
    sources: Sequence[str] = ()
    collected_at: float = field(default_factory=time.time)
    duration: float = 0.0


def _gauge(name: str, doc: str, labels: Sequence[str] = ("team",)) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc + CACHED, labels=list(labels))


class SnapshotCollector(Collector):
    """Build fresh metric families from an ExportState on every collect."""

    def __init__(self, state: ExportState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        """Yield every teampulse metric family."""
        s = self.state
        per_team: list[tuple[str, str, str]] = [
            ("teampulse_process_throughput", "Work items completed in the trailing 7 days.", "throughput"),
            ("teampulse_work_items_in_progress", "Work items in an in-progress status.", "in_progress"),
            ("teampulse_work_items_overdue", "Open work items past their due date.", "overdue"),
            ("teampulse_work_items_due_soon", "Open work items due within the next 7 days.", "due_soon"),
            ("teampulse_work_items_open", "Work items not done.", "open_items"),
            (
                "teampulse_work_in_progress_per_available_person",
                "Work items in progress per team member not on leave.",
                "wip_per_person",
            ),
            (
                "teampulse_sprint_scope_added_items",
                "Work items added to a running sprint after it started, trailing 7 days.",
                "scope_added",
            ),
            (
                "teampulse_after_hours_process_activity_ratio",
                "Share of work-item changes made outside working hours, trailing 7 days (0..1).",
                "after_hours_ratio",
            ),
            ("teampulse_process_pressure", "Process pressure index (0..1).", "pressure"),
            (
                "teampulse_process_pressure_baseline",
                "The team's median process pressure over the reference window before the current episode (0..1).",
                "baseline",
            ),
            ("teampulse_team_members", "Configured team members (the manager not included).", "members"),
        ]
        # A learning team has no normal yet: its pressure is absent, not a misleading 0.
        judged = {"pressure", "baseline"}
        for name, doc, fact in per_team:
            g = _gauge(name, doc)
            for snap in s.snapshots:
                if not (snap.learning and fact in judged):
                    g.add_metric([snap.team], float(snap.facts()[fact]))
            yield g

        learning = _gauge(
            "teampulse_team_learning",
            "1 while the team has less history than the reference window (no normal yet, no episode), else 0.",
        )
        state = _gauge(
            "teampulse_team_state",
            "1 for the team's current state, 0 for the others: learning, calm, in_grace, answered, "
            "unanswered, elevated (an episode not judged: no people data, or easing).",
            ("team", "state"),
        )
        for snap in s.snapshots:
            learning.add_metric([snap.team], 1.0 if snap.learning else 0.0)
            for one in TeamState:
                state.add_metric([snap.team, str(one)], 1.0 if snap.state is one else 0.0)
        yield learning
        yield state

        yield from self._people()

        completed = CounterMetricFamily(
            "teampulse_work_items_completed", "Work items completed, all time." + CACHED, labels=["team"]
        )
        for snap in s.snapshots:
            completed.add_metric([snap.team], float(snap.completed_total))
        yield completed

        cycle = _gauge(
            "teampulse_cycle_time_seconds",
            "Cycle time (first move to in progress until done) of items completed in the trailing 28 days.",
            ("team", "quantile"),
        )
        for snap in s.snapshots:
            for q, v in (("0.5", snap.cycle_time_p50), ("0.85", snap.cycle_time_p85)):
                if v is not None:
                    cycle.add_metric([snap.team, q], v)
        yield cycle

        comp = _gauge(
            "teampulse_process_pressure_component_ratio",
            "Each pressure component's score: 0 at the team's norm, 1 at saturation (0..1).",
            ("team", "component"),
        )
        for snap in s.snapshots:
            if not snap.learning:
                for c in snap.components:
                    comp.add_metric([snap.team, c.name], c.score)
        yield comp

        episode = _gauge(
            "teampulse_pressure_episode_start_timestamp_seconds",
            "When the team's current pressure episode began (absent when not elevated).",
        )
        for snap in s.snapshots:
            if snap.episode_start is not None:
                episode.add_metric([snap.team], snap.episode_start.timestamp())
        yield episode

        unmatched = _gauge(
            "teampulse_pressure_unmatched",
            "1 while ProcessPressureWithoutLeadership holds for the team, else 0.",
        )
        for snap in s.snapshots:
            unmatched.add_metric([snap.team], 1.0 if snap.pressure_unmatched else 0.0)
        yield unmatched

        actions = CounterMetricFamily(
            "teampulse_leadership_actions",
            "Leadership actions by kind, recorded or seen in the sources, all time." + CACHED,
            labels=["team", "kind"],
        )
        for snap in s.snapshots:
            for kind, n in sorted(snap.actions_total.items()):
                actions.add_metric([snap.team, kind], float(n))
        yield actions

        yield from self._self_metrics()

    def _people(self) -> Iterator[Metric]:
        """Yield the people side; person-derived numbers only for teams at the anonymity threshold."""
        s = self.state
        support = _gauge("teampulse_people_support", "People-support index (0..1).")
        parts = _gauge(
            "teampulse_people_support_component_ratio",
            "Each part of the people-support index (0..1).",
            ("team", "component"),
        )
        coverage = _gauge(
            "teampulse_one_on_one_coverage_ratio",
            "Share of members not on leave who had a 1:1 with their manager in the last 14 days (0..1).",
        )
        conflicts = _gauge(
            "teampulse_time_off_conflicts",
            "Meetings or assignments that landed on a member's time off, trailing 7 days.",
        )
        on_leave = _gauge("teampulse_members_on_leave", "Team members on leave now.")
        available = _gauge("teampulse_members_available", "Team members not on leave.")
        after_hours = _gauge(
            "teampulse_after_hours_meeting_hours",
            "Meeting time outside each member's working hours, trailing 7 days, mean per member (hours).",
        )
        overridden = _gauge(
            "teampulse_time_off_overridden",
            "Time-off conflicts under elevated pressure, trailing 7 days (TimeOffOverriddenUnderPressure).",
        )
        score = _gauge(
            "teampulse_survey_score_ratio",
            "Mean survey score per dimension in the survey window (0..1); only with at least "
            "min_group_size responses.",
            ("team", "dimension"),
        )
        responses = _gauge("teampulse_survey_responses", "Survey responses in the survey window.")
        rate = _gauge(
            "teampulse_survey_response_rate_ratio",
            "Survey responses per team member in the window, at most 1.",
        )
        for snap in s.snapshots:
            p, team = snap.people, [snap.team]
            if p.support is not None:  # absent, not 0, for a team without people data
                support.add_metric(team, p.support)
            for name, value in sorted(p.support_components.items()):
                parts.add_metric([snap.team, name], value)
            if p.visible:
                if p.coverage is not None:
                    coverage.add_metric(team, p.coverage)
                conflicts.add_metric(team, float(p.time_off_conflicts))
                on_leave.add_metric(team, float(p.members_on_leave))
                available.add_metric(team, float(snap.available))
                if p.after_hours_meeting_hours is not None:
                    after_hours.add_metric(team, p.after_hours_meeting_hours)
            overridden.add_metric(team, float(len(snap.time_off_overridden)))
            for dim, value in sorted((p.survey_scores or {}).items()):
                score.add_metric([snap.team, dim], value)
            responses.add_metric(team, float(p.survey_responses))
            if p.survey_response_rate is not None:
                rate.add_metric(team, p.survey_response_rate)
        yield from (support, parts, coverage, conflicts, on_leave, available, after_hours, overridden)
        yield from (score, responses, rate)

    def _self_metrics(self) -> Iterator[Metric]:
        s = self.state
        runs = {r.source: r for r in s.runs}
        up = _gauge("teampulse_source_up", "1 if the source's last collection succeeded.", ["source"])
        last = _gauge(
            "teampulse_source_last_success_timestamp_seconds",
            "When the source last collected successfully.",
            ["source"],
        )
        duration = _gauge(
            "teampulse_source_sync_duration_seconds",
            "How long the source's last collection took.",
            ["source"],
        )
        errors = CounterMetricFamily(
            "teampulse_source_errors", "Failed collections of the source." + CACHED, labels=["source"]
        )
        events = CounterMetricFamily(
            "teampulse_source_events", "Events the source delivered to the store." + CACHED, labels=["source"]
        )
        problems = _gauge(
            "teampulse_source_problems",
            "Bad inputs (files, lines, rows) the source skipped in its last collection.",
            ["source"],
        )
        for name in s.sources:
            run = runs.get(name)
            problems.add_metric([name], float(run.problems if run else 0))
            up.add_metric([name], 1.0 if run and run.consecutive_failures == 0 and run.last_success else 0.0)
            if run and run.last_success:
                last.add_metric([name], run.last_success)
            if run and run.duration is not None:
                duration.add_metric([name], run.duration)
            errors.add_metric([name], float(run.errors_total if run else 0))
            events.add_metric([name], float(run.events_total if run else 0))
        yield from (up, last, duration, errors, events, problems)

        info = GaugeMetricFamily(
            "teampulse_build_info", "teampulse's version (always 1).", labels=["version"]
        )
        info.add_metric([__version__], 1.0)
        yield info
        stamp = GaugeMetricFamily(
            "teampulse_collection_timestamp_seconds", "When the cached values were computed."
        )
        stamp.add_metric([], s.collected_at)
        yield stamp
        took = GaugeMetricFamily(
            "teampulse_collection_duration_seconds", "How long the last collection and evaluation took."
        )
        took.add_metric([], s.duration)
        yield took


def render(state: ExportState, openmetrics: bool = False) -> bytes:
    """Render the state as Prometheus text (or OpenMetrics) exposition."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(state))
    return generate_openmetrics(registry) if openmetrics else generate_latest(registry)


def age_lines(state: ExportState, now: float | None = None) -> bytes:
    """Render the cache age, computed at scrape time, to append to the cached bytes."""
    age = max((now if now is not None else time.time()) - state.collected_at, 0.0)
    return (
        b"# HELP teampulse_cache_age_seconds Seconds since the served values were computed.\n"
        b"# TYPE teampulse_cache_age_seconds gauge\n" + f"teampulse_cache_age_seconds {age:.3f}\n".encode()
    )


def metric_names() -> list[str]:
    """Return every metric family name the exporter can produce."""
    state = ExportState()
    return [m.name for m in SnapshotCollector(state).collect()]
