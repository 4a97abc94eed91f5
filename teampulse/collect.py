"""Run every configured source once: sources -> pseudonymiser -> store."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .config import Config
from .errors import ConfigError, SourceError
from .kinds import Notifier, PluginConfig
from .model import (
    Change,
    Event,
    LeadershipAction,
    PersonSignal,
    SignalsReplaced,
    Source,
    TeamInfo,
    WorkItem,
)
from .plugins import Registry
from .pseudonym import Pseudonymiser
from .store import Store, StoreLocked

log = logging.getLogger("teampulse.collect")


@dataclass
class RunContext:
    """The CollectContext the core hands each source."""

    name: str
    teams: Sequence[TeamInfo]
    cursor: Mapping[str, Any] | None
    now: datetime
    history_from: datetime
    on_progress: Callable[[str], None] | None = None
    problems: list[str] = field(default_factory=list)
    elsewhere: Collection[str] = frozenset()  # configured teams another instance serves

    def progress(self, message: str) -> None:
        """Report progress on a long collection."""
        log.info("source %s: %s", self.name, message)
        if self.on_progress:
            self.on_progress(message)

    def problem(self, message: str) -> None:
        """Record bad input the source skipped."""
        # The report carries it to the caller, which shows each once (`collect` prints it,
        # `serve` counts it in teampulse_source_problems and /healthz); a warning here too
        # printed every problem twice. `-v` still shows each as it happens.
        log.info("source %s: %s", self.name, message)
        self.problems.append(message)


@dataclass
class SourceResult:
    """What one source's collection did."""

    source: str
    events: int = 0
    batches: int = 0
    error: str | None = None
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


@dataclass
class CollectReport:
    """What one collection of every source did."""

    results: list[SourceResult] = field(default_factory=list)

    @property
    def failed(self) -> list[SourceResult]:
        """Return the sources that failed."""
        return [r for r in self.results if r.error]

    @property
    def problems(self) -> list[str]:
        """Return every source's skipped-input messages, prefixed with the source."""
        return [f"source {r.source}: {p}" for r in self.results for p in r.problems]


def _build(
    config: Config, tables: Mapping[str, PluginConfig], kinds: Mapping[str, Any], what: str
) -> dict[str, Any]:
    """Create one object per configured table from its kind; errors name the file and key."""
    built: dict[str, Any] = {}
    for name, table in tables.items():
        kind_name = table.options["plugin"]
        kind = kinds.get(kind_name)
        if kind is None:
            known = ", ".join(sorted(kinds)) or "none installed"
            raise ConfigError(
                f"{table.section}.{name}.plugin",
                f"unknown {what} kind {kind_name!r} (installed: {known})",
                str(config.path),
            )
        try:
            built[name] = kind.create(table)
        except ConfigError as exc:
            raise exc.with_path(str(config.path)) from None
    return built


def build_sources(config: Config, registry: Registry) -> dict[str, Source]:
    """Create every configured source."""
    return _build(config, config.sources, registry.sources, "source")


def build_notifiers(config: Config, registry: Registry) -> dict[str, Notifier]:
    """Create every configured notifier."""
    return _build(config, config.notifiers, registry.notifiers, "notifier")


class Pseudonymise:
    """Replace every person identifier in an event by its pseudonym.

    Change authors are not pseudonymised because the store never writes them: no metric
    needs them, and what no metric needs is not kept.
    """

    def __init__(self, pseudonym: Pseudonymiser) -> None:
        self.p = pseudonym

    def change(self, c: Change) -> Change:
        if c.field == "assignee":
            return Change(c.id, c.at, c.field, self.p(c.from_value), self.p(c.to_value))
        return c  # the store never writes authors, so only assignees need replacing

    def __call__(self, ev: Event) -> Event:
        if isinstance(ev, WorkItem):
            changes = ev.changes
            for c in changes:  # a plain loop: any() over a generator costs more, once per issue
                if c.field == "assignee":
                    changes = tuple(map(self.change, changes))
                    break
            # Positional construction: this runs once per synced issue, and replace() is slow.
            return WorkItem(
                ev.id, ev.key, ev.team, ev.created, ev.updated, ev.status_category, ev.due,
                self.p(ev.assignee), ev.sprints, changes,
            )  # fmt: skip
        if isinstance(ev, PersonSignal):
            return replace(
                ev,
                id=self.p.ident(ev.id),
                person=self.p(ev.person),
                people=tuple(self.p.many(ev.people)),
                owner=self.p(ev.owner),
            )
        if isinstance(ev, SignalsReplaced):
            return replace(ev, owner=self.p(ev.owner) or "")
        if isinstance(ev, LeadershipAction):
            return replace(ev, id=self.p.ident(ev.id), person=self.p(ev.person))
        return ev


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Run the generational GC less often while pages of JSON turn into events.

    A sync allocates millions of short-lived, acyclic objects; with the default thresholds
    the collector walks the young generation every 700 of them, a fifth of a sync's CPU.
    Memory stays bounded by a page, so fewer collections cost nothing real.
    """
    old = gc.get_threshold()
    gc.set_threshold(50_000, old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def collect_all(
    config: Config,
    store: Store,
    sources: Mapping[str, Source],
    pseudonym: Pseudonymiser,
    now: datetime,
    on_progress: Callable[[str], None] | None = None,
    elsewhere: Collection[str] = frozenset(),
) -> CollectReport:
    """Collect every source; one failing source does not stop the others.

    `elsewhere` names the configured teams that another instance serves (sources skip their input).
    """
    with _bulk_allocation():
        return _collect_all(config, store, sources, pseudonym, now, on_progress, elsewhere)


def _collect_all(
    config: Config,
    store: Store,
    sources: Mapping[str, Source],
    pseudonym: Pseudonymiser,
    now: datetime,
    on_progress: Callable[[str], None] | None,
    elsewhere: Collection[str],
) -> CollectReport:
    report = CollectReport()
    scrub = Pseudonymise(pseudonym)
    locked: StoreLocked | None = None
    for name, source in sources.items():
        result = SourceResult(source=name)
        if locked is not None:
            # Another process holds the store: the other sources would only wait as long again.
            result.error = str(locked)
            report.results.append(result)
            continue
        started = time.time()
        ctx = RunContext(
            name=name,
            teams=config.team_infos(name),  # each with its settings for this source
            cursor=store.cursor(name),
            now=now,
            history_from=now - config.history(),
            on_progress=on_progress,
            elsewhere=elsewhere,
        )
        try:
            for batch in source.collect(ctx):
                events = [scrub(ev) for ev in batch.events]
                store.apply_batch(name, events, batch.cursor, time.time())
                result.events += len(events)
                result.batches += 1
        except SourceError as exc:
            result.error = str(exc)
        except StoreLocked as exc:
            # The batches committed so far stay (each with its cursor); the run failed.
            locked = exc
            result.error = str(exc)
        except ConfigError as exc:
            result.error = str(exc.with_path(str(config.path)))
        except Exception as exc:  # a plugin bug must not take the other sources down
            log.exception("source %s crashed", name)
            result.error = f"{type(exc).__name__}: {exc}"
        result.seconds = time.time() - started
        result.problems = ctx.problems
        if result.error:
            log.info("source %s failed: %s", name, result.error)
        report.results.append(result)
        if locked is None:
            try:
                store.record_run(name, started, time.time(), result.error, result.events, len(ctx.problems))
            except StoreLocked as exc:
                locked = exc
                result.error = result.error or str(exc)
    if locked is None:
        try:
            store.prune(now.timestamp() - config.retention.total_seconds())
        except StoreLocked as exc:
            log.info("prune skipped: %s", exc)
    return report
