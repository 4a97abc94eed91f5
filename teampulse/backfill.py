"""`teampulse backfill`: the engine's snapshots for past times, as timestamped OpenMetrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector

from .app import Runtime
from .exporter import ExportState, SnapshotCollector

# Per-team history only: the health of the sources and the process is about now.
_SKIP_LABELS = {"source", "version"}
_SKIP_NAMES = {"teampulse_collection_timestamp_seconds", "teampulse_collection_duration_seconds"}


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
        state = ExportState(snapshots=runtime.evaluate(at), sources=[])
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
