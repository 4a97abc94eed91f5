"""Call the signals plugins register: with the time judged and their source's stored events."""

from __future__ import annotations

import inspect
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType

from .config import Config
from .errors import TeampulseError
from .kinds import SignalContext, SignalKind
from .model import PersonSignal

__all__ = ["TeamSignals", "plugin_sources", "takes_context"]


def takes_context(compute: object) -> bool | None:
    """Tell whether `compute` takes (team, facts, ctx): True, (team, facts): False, neither: None."""
    try:
        signature = inspect.signature(compute)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    for arity, answer in ((3, True), (2, False)):
        try:
            signature.bind(*([None] * arity))
        except TypeError:
            continue
        return answer
    return None


class _EventsAt:
    """The events of one team's signal source, as a compute judging `at` may read them."""

    def __init__(self, events: Sequence[PersonSignal], starts: Sequence[float], at: float) -> None:
        self._events = events
        self._starts = starts
        self._at = at

    def signals(self, kind: str | None = None, since: datetime | None = None) -> Sequence[PersonSignal]:
        """Return the PersonSignals that began after `since` and by the time judged, oldest first."""
        lo = bisect_right(self._starts, since.timestamp()) if since is not None else 0
        hi = bisect_right(self._starts, self._at)
        return tuple(e for e in self._events[lo:hi] if kind is None or e.kind == kind)


def plugin_sources(config: Config, signals: Sequence[SignalKind]) -> dict[str, list[str]]:
    """Return, per source kind a signal reads (SignalKind.source), the configured sources of that kind."""
    names: dict[str, list[str]] = {s.source: [] for s in signals if s.source}
    for name, table in config.sources.items():
        kind = table.options.get("plugin")
        if kind in names:
            names[kind].append(name)
    return {kind: sorted(sources) for kind, sources in names.items()}


class TeamSignals:
    """One team's plugin signals of one side, called for any day of the replay."""

    def __init__(
        self, signals: Sequence[SignalKind], team: str, events: Mapping[str, Sequence[PersonSignal]]
    ) -> None:
        self.signals = list(signals)
        self.team = team
        self._events = events
        self._starts = {kind: [e.start.timestamp() for e in rows] for kind, rows in events.items()}
        self._context = {s.name: takes_context(s.compute) for s in self.signals}

    def values(self, facts: Mapping[str, float], at: float) -> list[tuple[SignalKind, float]]:
        """Return each signal's value at `at`, within [0, 1]; one with nothing to say is left out."""
        out = []
        for s in self.signals:
            got = self._call(s, MappingProxyType(facts), at)
            if got is None:
                continue
            try:
                value = float(got)
            except (TypeError, ValueError):
                raise TeampulseError(f"signal {s.name}: compute returned {got!r}, not a number") from None
            if math.isfinite(value):  # NaN says nothing: it must not poison the whole index
                out.append((s, min(max(value, 0.0), 1.0)))
        return out

    def _call(self, signal: SignalKind, facts: Mapping[str, float], at: float) -> float | None:
        if not self._context[signal.name]:
            return signal.compute(self.team, facts)  # type: ignore[call-arg]
        rows = self._events.get(signal.source or "", ())
        starts = self._starts.get(signal.source or "", [])
        ctx = SignalContext(datetime.fromtimestamp(at, UTC), _EventsAt(rows, starts, at))
        return signal.compute(self.team, facts, ctx)  # type: ignore[call-arg]
