"""`teampulse backfill`: the engine's snapshots for past times, as timestamped OpenMetrics."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TextIO

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector

from .alerts import evaluate_alerts
from .app import Runtime
from .exporter import ExportState, SnapshotCollector

# Per-team history only: the health of the sources, the notifiers and the process is about now.
_SKIP_LABELS = {"source", "version", "notifier"}
_SKIP_NAMES = {
    "teampulse_collection_timestamp_seconds",
    "teampulse_collection_duration_seconds",
    "teampulse_links_info",
}


def stderr_progress(
    every: float = 5.0, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
) -> Callable[[int, int], None]:
    """Return an on_progress callback that writes "evaluated N/M steps" to stderr.

    It writes at each tenth of the run and at least every `every` seconds, so a long run shows
    it is alive and a short one stays quiet but for a few lines.
    """
    last = clock()

    def report(done: int, total: int) -> None:
        nonlocal last
        now = clock()
        tenth = done * 10 // total > (done - 1) * 10 // total
        if tenth or now - last >= every:
            last = now
            print(
                f"teampulse: backfill: evaluated {done}/{total} steps ({done * 100 // total}%)",
                file=stream or sys.stderr,
                flush=True,
            )

    return report


class _Frozen(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


def backfill(
    runtime: Runtime,
    start: datetime,
    end: datetime,
    step: timedelta,
    on_progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """Evaluate every `step` from `start` to `end` and return OpenMetrics with timestamps."""
    if step <= timedelta(0):
        raise ValueError("--step must be positive")
    if end < start:
        raise ValueError("--to must not be before --from")
    times = []
    t = start
    while t <= end:
        times.append(t)
        t += step
    families: dict[str, Metric] = {}
    for n, at in enumerate(times, 1):
        snapshots = runtime.evaluate(at, with_trend=False)
        # The alerts carry the thresholds in force, which the dashboards draw beside the history.
        state = ExportState(snapshots=snapshots, alerts=evaluate_alerts(runtime.config, snapshots, [], at))
        for family in SnapshotCollector(state).collect():
            if family.name in _SKIP_NAMES:
                continue
            target = families.get(family.name)
            if target is None:
                target = families[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
            for sample in family.samples:
                if _SKIP_LABELS & set(sample.labels):
                    continue
                target.add_sample(sample.name, dict(sample.labels), sample.value, timestamp=at.timestamp())
        if on_progress:
            on_progress(n, len(times))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Frozen([f for f in families.values() if f.samples]))
    return bytes(generate_latest(registry))
