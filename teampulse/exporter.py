"""Render the engine's snapshots as Prometheus metrics, once per collection cycle."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from . import __version__
from .alerts import PRESSURE_ALERT, SOURCE_DOWN_ALERT
from .compression import GzipPrefix, gzip_prefix, gzip_tail
from .engine import TeamSnapshot
from .kinds import AlertState
from .negotiation import qualities
from .states import TeamState
from .store import SourceRun

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
CACHE_AGE_HELP = "Seconds since the served values were computed."

# The runbook the shipped rules link to (they read it from teampulse_links_info, so a
# deployment that hosts its own copy changes it here, not in every generated file).
RUNBOOK_URL = "https://github.com/teampulse/teampulse/blob/main/docs/runbook.md"

# Cycle-time buckets in seconds, from a day to the 28-day window: fixed, so histograms of every
# team and instance add up. Six, not more: each bucket is a series per team (a budget of 40).
HOUR, DAY, WEEK = 3600.0, 86400.0, 7 * 86400.0
CYCLE_TIME_BUCKETS = (DAY, 2 * DAY, 4 * DAY, WEEK, 2 * WEEK, 4 * WEEK)
CYCLE_TIME_WINDOW_DAYS = 28  # the engine's window for recent cycle times

# The 0..1 indices got their `_ratio` names; the old names are served for one more release.
DEPRECATED = {
    "teampulse_process_pressure": "teampulse_process_pressure_ratio",
    "teampulse_process_pressure_baseline": "teampulse_process_pressure_baseline_ratio",
    "teampulse_people_support": "teampulse_people_support_ratio",
}

# Each threshold an alert's evidence names (teampulse.alerts), as the gauge that exports it.
THRESHOLDS: dict[str, tuple[str, str]] = {
    "rise": (
        "teampulse_alert_pressure_rise_ratio",
        f"Threshold in force (alerts.rise): pressure this far above the team's baseline is out of its "
        f"normal and starts an episode of {PRESSURE_ALERT}.",
    ),
    "high": (
        "teampulse_alert_pressure_high_ratio",
        "Threshold in force (alerts.high): pressure at or above this is out of the team's normal "
        "whatever its baseline.",
    ),
    "grace_seconds": (
        "teampulse_alert_grace_seconds",
        f"Threshold in force (alerts.grace): how long an episode holds before {PRESSURE_ALERT} can fire.",
    ),
    "min_actions": (
        "teampulse_alert_min_actions",
        f"Threshold in force (alerts.min_actions): leadership actions since the onset that answer an "
        f"episode of {PRESSURE_ALERT}.",
    ),
    "source_down_after_seconds": (
        "teampulse_alert_source_down_after_seconds",
        f"Threshold in force (alerts.source_down_after): {SOURCE_DOWN_ALERT} fires after this long "
        "without a successful collection of the source.",
    ),
}


@dataclass
class ExportState:
    """What one collection cycle produced, for the exporter."""

    snapshots: Sequence[TeamSnapshot] = ()
    runs: Sequence[SourceRun] = ()
    alerts: Sequence[AlertState] = ()
    sources: Sequence[str] = ()
    collected_at: float = field(default_factory=time.time)
    duration: float = 0.0
    # Running totals since start, per configured notifier (set by Runtime.notify).
    notifications: Mapping[str, int] = field(default_factory=dict)
    notification_failures: Mapping[str, int] = field(default_factory=dict)
    dashboards_url: str | None = None  # settings.dashboards_url, for teampulse_links_info
    shard: tuple[int, int] | None = None  # (I, N) under `--shard I/N`, for teampulse_shard_info


def _gauge(name: str, doc: str, labels: Sequence[str] = ("team",)) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _cycle_buckets(cycles: Sequence[float]) -> list[tuple[str, float]]:
    """Return cumulative bucket counts of cycle times, +Inf last."""
    return [(floatToGoString(b), float(sum(1 for c in cycles if c <= b))) for b in CYCLE_TIME_BUCKETS] + [
        ("+Inf", float(len(cycles)))
    ]


class SnapshotCollector(Collector):
    """Build fresh metric families from an ExportState on every collect."""

    def __init__(self, state: ExportState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        """Yield every teampulse metric family."""
        s = self.state
        per_team: list[tuple[str, str, str]] = [
            ("teampulse_process_throughput", "Work items completed in the trailing 7 days.", "throughput"),
            ("teampulse_work_items_in_progress", "Work items in an in-progress status now.", "in_progress"),
            ("teampulse_work_items_overdue", "Open work items past their due date now.", "overdue"),
            ("teampulse_work_items_due_soon", "Open work items due within the next 7 days.", "due_soon"),
            ("teampulse_work_items_open", "Work items not done now.", "open_items"),
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
                "teampulse_process_activity_outside_working_time_ratio",
                "Share (0..1) of work-item changes made outside the team's working hours, trailing 7 days.",
                "after_hours_ratio",
            ),
            (
                "teampulse_process_pressure_ratio",
                "Process pressure index (0..1): 0 with every component within the team's normal.",
                "pressure",
            ),
            (
                "teampulse_process_pressure_baseline_ratio",
                "The team's median process pressure (0..1) over the reference window before the current episode.",
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
            old = next((o for o, new in DEPRECATED.items() if new == name), None)
            if old:
                yield _deprecated(old, g)

        learning = _gauge(
            "teampulse_team_learning",
            "1 while the team has less history than the reference window (no normal yet, no episode), else 0.",
        )
        # One series for the state the team is in, not one per state: five zeros a team would
        # be a sixth of its series budget.
        state = _gauge(
            "teampulse_team_state",
            "Always 1, labelled with the team's current state: one of "
            + ", ".join(str(one) for one in TeamState)
            + " (elevated: an episode not judged, for want of people data or while easing).",
            ("team", "state"),
        )
        for snap in s.snapshots:
            learning.add_metric([snap.team], 1.0 if snap.learning else 0.0)
            state.add_metric([snap.team, str(snap.state)], 1.0)
        yield learning
        yield state

        yield from self._people()

        completed = CounterMetricFamily(
            "teampulse_work_items_completed", "Work items the team completed, all time.", labels=["team"]
        )
        for snap in s.snapshots:
            completed.add_metric([snap.team], float(snap.completed_total))
        yield completed

        cycle = HistogramMetricFamily(
            "teampulse_cycle_time_seconds",
            "Cycle time (first move to in progress until done) of the work items completed in the "
            f"trailing {CYCLE_TIME_WINDOW_DAYS} days: a window, not a running total, so take "
            "histogram_quantile() of the buckets as they are (summed over teams), not of their rate().",
            labels=["team"],
        )
        for snap in s.snapshots:
            # One observation per item completed in the trailing 28 days.
            cycle.add_metric([snap.team], _cycle_buckets(snap.cycle_times), float(sum(snap.cycle_times)))
        yield cycle

        comp = _gauge(
            "teampulse_process_pressure_component_ratio",
            "Each pressure component's score (0..1): 0 within the team's normal, 1 at saturation.",
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
            f"1 while {PRESSURE_ALERT} holds for the team, else 0.",
        )
        for snap in s.snapshots:
            unmatched.add_metric([snap.team], 1.0 if snap.pressure_unmatched else 0.0)
        yield unmatched

        actions = CounterMetricFamily(
            "teampulse_leadership_actions",
            "Leadership actions by kind, recorded or seen in the sources, all time.",
            labels=["team", "kind"],
        )
        for snap in s.snapshots:
            for kind, n in sorted(snap.actions_total.items()):
                actions.add_metric([snap.team, kind], float(n))
        yield actions

        yield from self._thresholds()
        yield from self._self_metrics()

    def _people(self) -> Iterator[Metric]:
        """Yield the people side; person-derived numbers only for teams at the anonymity threshold."""
        s = self.state
        support = _gauge(
            "teampulse_people_support_ratio",
            "People-support index (0..1): how well the team's people side is looked after; absent without people data.",
        )
        parts = _gauge(
            "teampulse_people_support_component_ratio",
            "Each part of the people-support index (0..1).",
            ("team", "component"),
        )
        coverage = _gauge(
            "teampulse_one_on_one_coverage_ratio",
            "Share (0..1) of members not on leave who had a 1:1 with their manager in the last 14 days.",
        )
        conflicts = _gauge(
            "teampulse_time_off_conflicts",
            "Meetings or assignments that landed on a member's time off, trailing 7 days.",
        )
        on_leave = _gauge("teampulse_members_on_leave", "Team members on leave now.")
        available = _gauge("teampulse_members_available", "Team members not on leave now.")
        after_hours = _gauge(
            "teampulse_meeting_outside_working_time_seconds",
            "Meeting time outside each member's working hours, trailing 7 days, mean per member.",
        )
        overridden = _gauge(
            "teampulse_time_off_overridden",
            "Meetings or assignments on a member's time off in the last 7 days or already booked in the "
            "next 14, under elevated pressure or with the work falling due during it "
            "(TimeOffOverriddenUnderPressure fires above 0).",
        )
        score = _gauge(
            "teampulse_survey_score_ratio",
            "Mean survey score per dimension (0..1) in the survey window; only with at least "
            "min_group_size responses.",
            ("team", "dimension"),
        )
        responses = _gauge("teampulse_survey_responses", "Survey responses in the survey window.")
        rate = _gauge(
            "teampulse_survey_response_rate_ratio",
            "Survey responses per team member in the survey window (0..1).",
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
                    after_hours.add_metric(team, p.after_hours_meeting_hours * HOUR)
            overridden.add_metric(team, float(len(snap.time_off_overridden)))
            for dim, value in sorted((p.survey_scores or {}).items()):
                score.add_metric([snap.team, dim], value)
            responses.add_metric(team, float(p.survey_responses))
            if p.survey_response_rate is not None:
                rate.add_metric(team, p.survey_response_rate)
        yield from (support, _deprecated("teampulse_people_support", support), parts, coverage, conflicts)
        yield from (on_leave, available, after_hours, overridden, score, responses, rate)

    def _thresholds(self) -> Iterator[Metric]:
        """Yield the thresholds in force, as the alerts' evidence names them: the instance's, or per source.

        The pressure thresholds come from the config, the same for every team: one series each,
        not one per team (the rules match them on every label but `team`).
        """
        families = {
            key: GaugeMetricFamily(name, doc, labels=["source"] if key == "source_down_after_seconds" else [])
            for key, (name, doc) in THRESHOLDS.items()
        }
        seen: set[str] = set()
        for alert in self.state.alerts:
            per_source = alert.alert == SOURCE_DOWN_ALERT
            for key, value in alert.evidence.get("thresholds", {}).items():
                if key not in families:
                    continue
                if per_source:
                    if (source := alert.labels.get("source")) is not None:
                        families[key].add_metric([source], float(value))
                elif key not in seen:
                    seen.add(key)
                    families[key].add_metric([], float(value))
        yield from families.values()

    def _self_metrics(self) -> Iterator[Metric]:
        s = self.state
        runs = {r.source: r for r in s.runs}
        up = _gauge("teampulse_source_up", "1 if the source's last collection succeeded, else 0.", ["source"])
        last = _gauge(
            "teampulse_source_last_success_timestamp_seconds",
            "When the source last collected successfully.",
            ["source"],
        )
        failing = _gauge(
            "teampulse_source_failing_since_timestamp_seconds",
            "When the source's current run of failed collections began (absent while it collects).",
            ["source"],
        )
        duration = _gauge(
            "teampulse_source_sync_duration_seconds",
            "How long the source's last collection took.",
            ["source"],
        )
        errors = CounterMetricFamily(
            "teampulse_source_errors", "Failed collections of the source, all time.", labels=["source"]
        )
        events = CounterMetricFamily(
            "teampulse_source_events",
            "Events the source delivered to the store, all time.",
            labels=["source"],
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
            if run and run.consecutive_failures and run.failing_since is not None:
                failing.add_metric([name], run.failing_since)
            if run and run.duration is not None:
                duration.add_metric([name], run.duration)
            errors.add_metric([name], float(run.errors_total if run else 0))
            events.add_metric([name], float(run.events_total if run else 0))
        yield from (up, last, failing, duration, errors, events, problems)

        sent = CounterMetricFamily(
            "teampulse_notifications",
            "Deliveries of the alerts' state to the notifier (one per collection cycle) since teampulse started, "
            "failed ones included.",
            labels=["notifier"],
        )
        failed = CounterMetricFamily(
            "teampulse_notification_failures",
            "Deliveries to the notifier that failed since teampulse started.",
            labels=["notifier"],
        )
        for name in sorted(s.notifications):
            sent.add_metric([name], float(s.notifications[name]))
            failed.add_metric([name], float(s.notification_failures.get(name, 0)))
        yield from (sent, failed)

        info = GaugeMetricFamily(
            "teampulse_build_info", "teampulse's version (always 1).", labels=["version"]
        )
        info.add_metric([__version__], 1.0)
        yield info
        links = GaugeMetricFamily(
            "teampulse_links_info",
            "Where the runbook and the Grafana dashboards live (always 1); the shipped rules read their "
            "links from these labels.",
            labels=["runbook_url", "dashboards_url"],
        )
        links.add_metric([RUNBOOK_URL, s.dashboards_url or ""], 1.0)
        yield links
        shard = GaugeMetricFamily(
            "teampulse_shard_info",
            "The shard of the teams this instance serves under --shard I/N (always 1; absent without "
            "--shard): shard is I, shards is N.",
            labels=["shard", "shards"],
        )
        if s.shard is not None:
            shard.add_metric([str(s.shard[0]), str(s.shard[1])], 1.0)
        yield shard
        stamp = GaugeMetricFamily(
            "teampulse_collection_timestamp_seconds",
            "When the served values were computed (the last collection and evaluation).",
        )
        stamp.add_metric([], s.collected_at)
        yield stamp
        took = GaugeMetricFamily(
            "teampulse_collection_duration_seconds", "How long the last collection and evaluation took."
        )
        took.add_metric([], s.duration)
        yield took


def _deprecated(old: str, new: GaugeMetricFamily) -> GaugeMetricFamily:
    """Return a copy of a gauge under its old name, its HELP pointing at the new one."""
    g = GaugeMetricFamily(old, f"Deprecated: use {new.name} (the same value; removed in the next release).")
    for sample in new.samples:
        g.add_sample(old, dict(sample.labels), sample.value)
    return g


class _CacheAge(Collector):
    """The served values' age, computed at scrape time."""

    def __init__(self, state: ExportState, now: float) -> None:
        self.state, self.now = state, now

    def collect(self) -> Iterator[Metric]:
        """Yield teampulse_cache_age_seconds."""
        age = GaugeMetricFamily("teampulse_cache_age_seconds", CACHE_AGE_HELP)
        age.add_metric([], max(self.now - self.state.collected_at, 0.0))
        yield age


def render(state: ExportState, openmetrics: bool = False, now: float | None = None) -> bytes:
    """Render the state as Prometheus text (or OpenMetrics) exposition; with `now`, add the cache age."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(state))
    if now is not None:
        registry.register(_CacheAge(state, now))
    return bytes(generate_openmetrics(registry) if openmetrics else generate_latest(registry))


def age_lines(state: ExportState, now: float | None = None) -> bytes:
    """Render the cache age, computed at scrape time, to append to the cached bytes."""
    age = max((now if now is not None else time.time()) - state.collected_at, 0.0)
    return (
        f"# HELP teampulse_cache_age_seconds {CACHE_AGE_HELP}\n"
        "# TYPE teampulse_cache_age_seconds gauge\n"
        f"teampulse_cache_age_seconds {age:.3f}\n"
    ).encode()


def wants_openmetrics(accept: str | None) -> bool:
    """Return whether an Accept header prefers OpenMetrics to the 0.0.4 text format."""
    best = qualities(accept)
    om = best.get("application/openmetrics-text", 0.0)
    text = max(best.get("text/plain", 0.0), best.get("*/*", 0.0), best.get("text/*", 0.0))
    return om > 0 and om >= text


def exposition(
    state: ExportState, accept: str | None, cached: bytes | None = None, now: float | None = None
) -> tuple[bytes, str]:
    """Return the body and content type of a scrape: OpenMetrics when asked for, else 0.0.4 text.

    `cached` is the state's 0.0.4 rendering; OpenMetrics is rendered once per state. `serve`
    sends a Rendering's parts instead, made once per cycle.
    """
    now = now if now is not None else time.time()
    if wants_openmetrics(accept):
        return openmetrics_without_eof(state) + age_lines(state, now) + b"# EOF\n", OPENMETRICS_CONTENT_TYPE
    body = cached if cached is not None else render(state)
    return body + age_lines(state, now), TEXT_CONTENT_TYPE


@dataclass(frozen=True)
class Rendering:
    """One state's exposition in both formats, plain and gzip-started: made once per cycle, sent per scrape."""

    state: ExportState
    text: bytes
    openmetrics: bytes  # without its `# EOF`, which follows the cache age
    text_gzip: GzipPrefix
    openmetrics_gzip: GzipPrefix

    @classmethod
    def of(cls, state: ExportState) -> Rendering:
        """Render and compress a state's exposition in both formats."""
        text, openmetrics = render(state), openmetrics_without_eof(state)
        return cls(state, text, openmetrics, gzip_prefix(text), gzip_prefix(openmetrics))

    def scrape(
        self, accept: str | None, gzip: bool = False, now: float | None = None
    ) -> tuple[tuple[bytes, ...], str]:
        """Return a scrape's body as parts to send in turn, and its content type; gzipped when `gzip`."""
        now = now if now is not None else time.time()
        if wants_openmetrics(accept):
            body, prefix = self.openmetrics, self.openmetrics_gzip
            tail, content_type = age_lines(self.state, now) + b"# EOF\n", OPENMETRICS_CONTENT_TYPE
        else:
            body, prefix = self.text, self.text_gzip
            tail, content_type = age_lines(self.state, now), TEXT_CONTENT_TYPE
        if gzip:
            return (prefix.data, gzip_tail(prefix, tail)), content_type
        return (body, tail), content_type


_OPENMETRICS_CACHE: tuple[ExportState, bytes] | None = None
_OPENMETRICS_LOCK = threading.Lock()


def openmetrics_without_eof(state: ExportState) -> bytes:
    """Return the state's OpenMetrics rendering without its `# EOF`, rendered once per state.

    Prometheus asks for OpenMetrics; rendering it at every scrape cost 75 ms for 50 teams, so
    50 scrapers at once waited seconds. The cache age, the one value that changes between
    scrapes, is appended after it (its lines are the same in both formats).
    """
    global _OPENMETRICS_CACHE
    with _OPENMETRICS_LOCK:
        if _OPENMETRICS_CACHE is not None and _OPENMETRICS_CACHE[0] is state:
            return _OPENMETRICS_CACHE[1]
    body = render(state, openmetrics=True).removesuffix(b"# EOF\n")
    with _OPENMETRICS_LOCK:
        _OPENMETRICS_CACHE = (state, body)
    return body


def metric_names() -> list[str]:
    """Return every metric family name the exporter can produce."""
    state = ExportState()
    return [m.name for m in SnapshotCollector(state).collect()]


def series_names() -> set[str]:
    """Return every series name the exporter can produce (counters with _total, histograms' parts)."""
    names = {"teampulse_cache_age_seconds"}
    for m in SnapshotCollector(ExportState()).collect():
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(m.type, ("",))
        names |= {m.name + s for s in suffixes}
    return names
