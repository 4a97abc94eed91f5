"""Wire config, plugins, store, engine and exporter into one collection cycle."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import config as config_mod
from .alerts import evaluate_alerts
from .collect import CollectReport, Pseudonymise, build_notifiers, build_sources, collect_all
from .config import Config
from .engine import EvaluationCache, TeamSnapshot, evaluate
from .exporter import ExportState
from .kinds import Notifier
from .model import Event, LeadershipAction, Source
from .plugins import Registry, load_registry
from .pseudonym import Pseudonymiser, key_from_env
from .sharding import Selection, StoreClaim, claim_store
from .store import ActionRow, Store
from .timeutil import utcnow

log = logging.getLogger("teampulse")
# Clocks drift: an action "now" on a laptop a few minutes ahead is not in the future.
FUTURE_SLACK = timedelta(minutes=5)


@dataclass
class Runtime:
    """A loaded config with its plugins, sources and store."""

    config: Config
    registry: Registry
    sources: dict[str, Source]
    store: Store
    pseudonym: Pseudonymiser
    notifiers: dict[str, Notifier]
    # Deliveries and failures per notifier since start, for the exporter's counters.
    notifications: Counter[str] = field(default_factory=Counter)
    notification_failures: Counter[str] = field(default_factory=Counter)
    # The teams this process serves (--shard, --teams), the configured teams it does not serve,
    # and its claim on the store (sharding.claim_store).
    selection: Selection = field(default_factory=Selection)
    other_teams: frozenset[str] = frozenset()
    claim: StoreClaim | None = None
    # Each team's data and last replay, kept between the evaluations of now when set (serve
    # keeps one: a cycle computes what changed since the last); one-shot commands keep nothing.
    evaluation_cache: EvaluationCache | None = None

    @classmethod
    def open(cls, path: str | None, selection: Selection | None = None) -> Runtime:
        """Load the config (only the selection's teams), the plugins and the store; raises TeampulseError."""
        selection = selection or Selection()
        whole = config_mod.load(path)
        config = selection.apply(whole)
        others = frozenset(t.name for t in whole.teams) - {t.name for t in config.teams}
        registry = load_registry()
        sources = build_sources(config, registry)
        notifiers = build_notifiers(config, registry)
        key = key_from_env(required=True)
        assert key is not None
        pseudonym = Pseudonymiser(key)
        claim = claim_store(config.state, selection)
        try:
            store = Store(config.state)
        except BaseException:
            claim.release()
            raise
        try:
            store.bind_key(pseudonym.fingerprint)
        except BaseException:
            store.close()
            claim.release()
            raise
        runtime = cls(config, registry, sources, store, pseudonym, notifiers)
        runtime.selection, runtime.other_teams, runtime.claim = selection, others, claim
        return runtime

    def close(self) -> None:
        """Close the store and give up its claim."""
        self.store.close()
        if self.claim is not None:
            self.claim.release()

    def collect(
        self, now: datetime | None = None, on_progress: Callable[[str], None] | None = None
    ) -> CollectReport:
        """Collect every source into the store."""
        # A long-running `serve` must not write under its old key into a store rekeyed since.
        self.store.bind_key(self.pseudonym.fingerprint)
        return collect_all(
            self.config,
            self.store,
            self.sources,
            self.pseudonym,
            now or utcnow(),
            on_progress,
            self.other_teams,
        )

    def prime_webhooks(self) -> None:
        """Collect the webhook sources first, so they know the teams before deliveries arrive."""
        hooks = {name: s for name, s in self.sources.items() if hasattr(s, "receive")}
        if hooks:
            collect_all(self.config, self.store, hooks, self.pseudonym, utcnow(), elsewhere=self.other_teams)

    def store_events(self, source: str, events: Sequence[Event]) -> None:
        """Pseudonymise and store events that arrived outside a collection (webhooks)."""
        scrub = Pseudonymise(self.pseudonym)
        self.store.apply_batch(source, [scrub(ev) for ev in events], None, time.time())

    def evaluate(self, as_of: datetime | None = None, with_trend: bool = True) -> list[TeamSnapshot]:
        """Return every team's snapshot at `as_of` (with_trend=False: without the page's trends).

        An evaluation of now uses `evaluation_cache` when one is kept (serve's cycles); a given
        `as_of` (check --as-of, backfill) is a replay of its own, kept apart from it.
        """
        return self._snapshots(as_of or utcnow(), with_trend, live=as_of is None)

    def _snapshots(self, as_of: datetime, with_trend: bool, live: bool) -> list[TeamSnapshot]:
        cache = self.evaluation_cache if live else None
        return evaluate(
            self.config, self.store, as_of, self.pseudonym, self.registry.signals, with_trend, cache
        )

    def state(
        self, as_of: datetime | None = None, started: float | None = None, with_trend: bool = True
    ) -> ExportState:
        """Evaluate and return what the exporter serves."""
        started = started if started is not None else time.time()
        live = as_of is None
        as_of = as_of or utcnow()
        snapshots = self._snapshots(as_of, with_trend, live)
        runs = self.store.source_runs()
        return ExportState(
            snapshots=snapshots,
            runs=runs,
            alerts=evaluate_alerts(self.config, snapshots, runs, as_of),
            sources=list(self.config.sources),
            collected_at=time.time(),
            duration=time.time() - started,
            dashboards_url=self.config.dashboards_url,
            shard=(self.selection.shard.index, self.selection.shard.count) if self.selection.shard else None,
        )

    def notify(self, state: ExportState) -> list[str]:
        """Send every alert's state to every notifier; return one line per failure."""
        failures = []
        for name, notifier in self.notifiers.items():
            self.notifications[name] += 1
            try:
                notifier.notify(list(state.alerts))
            except Exception as exc:  # one broken sink must not stop the others or the exporter
                self.notification_failures[name] += 1
                failures.append(f"notifier {name}: {type(exc).__name__}: {exc}")
                log.warning("notifier %s failed: %s", name, exc)
        state.notifications = {name: self.notifications[name] for name in self.notifiers}
        state.notification_failures = {name: self.notification_failures[name] for name in self.notifiers}
        return failures

    def record_action(
        self,
        team: str,
        kind: str,
        at: datetime,
        note: str | None,
        source: str = "recorded",
        now: datetime | None = None,
    ) -> str:
        """Store a leadership action recorded by hand; return its id."""
        if team in self.other_teams:
            raise self.selection.elsewhere(team)
        if self.config.team(team) is None:
            raise ValueError(f"unknown team {team!r}")
        if at > (now or utcnow()) + FUTURE_SLACK:
            # An action dated ahead would answer every episode until then, unseen.
            raise ValueError(f"{at.isoformat()} is in the future: record an action once it happened")
        ident = hashlib.sha256(f"{team}|{kind}|{at.isoformat()}|{note or ''}".encode()).hexdigest()[:16]
        self.store.add_action(LeadershipAction(id=ident, team=team, kind=kind, at=at, note=note), source)
        return ident

    def list_actions(self, team: str | None = None, since: datetime | None = None) -> list[ActionRow]:
        """Return the stored leadership actions, newest first."""
        if team is not None and team in self.other_teams:
            raise self.selection.elsewhere(team)
        if team is not None and self.config.team(team) is None:
            raise ValueError(f"unknown team {team!r}")
        return self.store.list_actions(team, since.timestamp() if since else 0.0)

    def remove_action(self, ident: str) -> bool:
        """Delete an action recorded by hand or through the API; return whether it existed."""
        return self.store.remove_action(ident)
