"""Run a source's collection as the core does, and keep what it yielded and reported."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from teampulse.errors import ConfigError, SourceError
from teampulse.model import Batch, Event, Source

from .context import RecordingContext

__all__ = ["Run", "collect", "collect_cycles"]


@dataclass
class Run:
    """One collection: the batches a source yielded, what it reported, and how it ended."""

    context: RecordingContext
    batches: list[Batch] = field(default_factory=list)
    error: SourceError | ConfigError | None = None  # how the collection failed, as the core reports it
    stopped: bool = False  # cut short after `limit` batches, as a process that died would be

    @property
    def events(self) -> list[Event]:
        """Return every event of every batch, in order."""
        return [ev for batch in self.batches for ev in batch.events]

    @property
    def problems(self) -> list[str]:
        """Return the problems the source reported."""
        return self.context.problems

    @property
    def cursors(self) -> list[Mapping[str, Any]]:
        """Return the cursors the batches carried, in order (batches without one left out)."""
        return [batch.cursor for batch in self.batches if batch.cursor is not None]

    @property
    def cursor(self) -> Mapping[str, Any] | None:
        """Return the cursor the store holds after this run, as it hands it back (through JSON).

        That is the last cursor a batch carried, or else the one the collection started from.
        """
        cursors = self.cursors
        if not cursors:
            return self.context.cursor
        return json_round_trip(cursors[-1])

    def next_context(self, now: datetime | None = None) -> RecordingContext:
        """Return the context of the next collection, from this run's cursor."""
        return self.context.next(self.cursor, now)


def json_round_trip(cursor: Mapping[str, Any]) -> dict[str, Any]:
    """Return a cursor as the store gives it back; fail clearly when JSON cannot hold it."""
    try:
        text = json.dumps(cursor, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"the cursor cannot be stored as JSON ({exc}): {cursor!r}") from None
    loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise AssertionError(f"the cursor must be a mapping, not {type(cursor).__name__}: {cursor!r}")
    return loaded


def collect(source: Source, context: RecordingContext | None = None, *, limit: int | None = None) -> Run:
    """Collect once, as the core does: a SourceError or ConfigError ends the run and is kept in `error`.

    Any other exception is a crash and propagates. With `limit`, the collection stops after that
    many batches: the batches so far count as committed, as when a process dies mid-way.
    """
    run = Run(context or RecordingContext())
    batches: Iterator[Batch] | None = None
    try:
        batches = iter(source.collect(run.context))
        for batch in batches:
            run.batches.append(batch)
            if limit is not None and len(run.batches) >= limit:
                run.stopped = True
                break
    except (SourceError, ConfigError) as exc:
        run.error = exc
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # runs the source's own clean-up (connections), as leaving the loop does
    return run


def collect_cycles(
    source: Source, context: RecordingContext | None = None, count: int = 2, every: timedelta = timedelta(0)
) -> list[Run]:
    """Collect `count` times, each from the cursor the one before left, `every` later than it."""
    runs = [collect(source, context)]
    while len(runs) < count:
        previous = runs[-1]
        runs.append(collect(source, previous.next_context(previous.context.now + every)))
    return runs
