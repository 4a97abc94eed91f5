"""teampulse as the benchmarks drive it: a Runtime over a config, its store writes timed."""

from __future__ import annotations

import time
from typing import Any

from bench.measure import Span, timed
from teampulse.app import Runtime
from teampulse.collect import CollectReport

# A first sync larger than a collection's request budget (max_requests_per_cycle) ends in the
# collections after it: the full sync is every collection until the store holds every issue.
MAX_CYCLES = 10


class StoreTimer:
    """Count the CPU seconds a runtime's store spends in apply_batch (its writes)."""

    def __init__(self, runtime: Runtime) -> None:
        self.cpu = 0.0
        original = runtime.store.apply_batch

        def apply_batch(*args: Any, **kwargs: Any) -> None:
            started = time.process_time()
            try:
                original(*args, **kwargs)
            finally:
                self.cpu += time.process_time() - started

        # The instance attribute shadows the method for collect_all, which calls store.apply_batch.
        setattr(runtime.store, "apply_batch", apply_batch)  # noqa: B010


def check(report: CollectReport) -> None:
    """Raise when a source failed: a failed sync's figures would measure the failure."""
    if report.failed:
        raise RuntimeError("; ".join(f"source {r.source}: {r.error}" for r in report.failed))


def full_sync(runtime: Runtime, issues: int) -> tuple[Span, int]:
    """Collect until the store holds `issues` work items; return the collections' time and count."""
    total = Span()
    for cycle in range(1, MAX_CYCLES + 1):
        with timed() as span:
            check(runtime.collect())
        total.wall += span.wall
        total.cpu += span.cpu
        stored = runtime.store.counts()["work_items"]
        if stored >= issues:
            return total, cycle
    raise RuntimeError(f"after {MAX_CYCLES} collections the store holds {stored:,} of {issues:,} issues")
