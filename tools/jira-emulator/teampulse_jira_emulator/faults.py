"""Injected faults: rate limiting (429), unavailability (503), non-JSON replies, latency, dropped connections, stuck paging."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# no_total: a reply leaves out `total`, as some servers and proxies do. stuck_paging: a Data
# Center search ignores startAt and leaves out `total`, as a proxy that drops the query's
# paging would; the same first page comes back for ever.
KINDS = ("rate_limit", "unavailable", "not_json", "latency", "drop", "no_total", "stuck_paging")
# Kinds that change how a request is answered rather than answering it instead.
ALTERING = ("no_total", "stuck_paging")


@dataclass
class FaultRule:
    """One fault: what happens, to which requests (path prefix), how often and how many times.

    `every` = N hits every Nth matching request; `per_second` (rate_limit only) runs a token
    bucket of that many requests per second instead; `count` stops the rule after that many
    hits (None: forever). `path` matches the full path or the part after /rest/api/{2,3}/.
    """

    kind: str
    every: int = 1
    per_second: float = 0.0
    count: int | None = None
    path: str = ""
    retry_after: int = 1
    status: int = 200
    latency_ms: int = 0
    reason: str = ""
    seen: int = field(default=0, repr=False)
    hits: int = field(default=0, repr=False)
    _tokens: float = field(default=-1.0, repr=False)
    _last: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        """Check the rule makes sense."""
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.every < 1:
            raise ValueError("every must be at least 1")
        if self.kind == "not_json" and self.status not in (200, 502):
            raise ValueError("not_json status must be 200 or 502")

    def matches(self, path: str) -> bool:
        """Say whether the rule applies to a request path."""
        if not self.path:
            return True
        wanted = self.path.lstrip("/")
        full = path.lstrip("/")
        if full.startswith(wanted):
            return True
        parts = full.split("/", 3)
        return len(parts) == 4 and parts[0] == "rest" and parts[1] == "api" and parts[3].startswith(wanted)

    def limit(self) -> int:
        """Return the advertised request limit (X-RateLimit-Limit)."""
        return max(1, math.ceil(self.per_second)) if self.per_second else self.every

    def public(self) -> dict[str, Any]:
        """Return the rule as JSON-ready data."""
        data = asdict(self)
        for private in ("_tokens", "_last"):
            data.pop(private)
        return data


@dataclass(frozen=True)
class Fault:
    """A fault decided for one request, with the headers to send."""

    kind: str
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    latency_ms: int = 0


class Faults:
    """The set of active fault rules; safe to change at run time from any thread."""

    def __init__(
        self, rules: list[FaultRule] | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        """Start with these rules (none by default).

        `clock` returns the time a 429's X-RateLimit-Reset counts from (default: the wall
        clock, as Jira's); a test passes a fixed one.
        """
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = list(rules or [])
        self._clock = clock or _wall_clock

    def add(self, rule: FaultRule) -> FaultRule:
        """Add a rule and return it."""
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        """Return the active rules."""
        with self._lock:
            return list(self._rules)

    def rate_limit(
        self,
        every: int = 1,
        per_second: float = 0.0,
        retry_after: int = 1,
        path: str = "",
        count: int | None = None,
        reason: str = "",
    ) -> FaultRule:
        """Answer 429 every Nth request, or beyond a token bucket of `per_second` requests per second."""
        return self.add(
            FaultRule("rate_limit", every=every, per_second=per_second, retry_after=retry_after, path=path,
                      count=count, reason=reason)
        )  # fmt: skip

    def unavailable(
        self, every: int = 1, retry_after: int = 1, path: str = "", count: int | None = None
    ) -> FaultRule:
        """Answer 503 with Retry-After every Nth request."""
        return self.add(
            FaultRule("unavailable", every=every, retry_after=retry_after, path=path, count=count)
        )

    def not_json(
        self, status: int = 200, every: int = 1, path: str = "", count: int | None = None
    ) -> FaultRule:
        """Answer an HTML error page (status 200 or 502) instead of JSON."""
        return self.add(FaultRule("not_json", every=every, status=status, path=path, count=count))

    def latency(self, ms: int, every: int = 1, path: str = "", count: int | None = None) -> FaultRule:
        """Delay matching replies by `ms` milliseconds."""
        return self.add(FaultRule("latency", every=every, latency_ms=ms, path=path, count=count))

    def drop(self, every: int = 1, path: str = "", count: int | None = None) -> FaultRule:
        """Close the connection without any reply."""
        return self.add(FaultRule("drop", every=every, path=path, count=count))

    def no_total(self, path: str = "", count: int | None = None) -> FaultRule:
        """Leave `total` out of matching replies."""
        return self.add(FaultRule("no_total", path=path, count=count))

    def stuck_paging(self, path: str = "", count: int | None = None) -> FaultRule:
        """Ignore startAt and leave `total` out: the first page for ever."""
        return self.add(FaultRule("stuck_paging", path=path, count=count))

    def configure(self, body: Any) -> None:
        """Apply a JSON body of POST /_emulator/faults: {"clear": bool, "rules": [rule, ...]} or one rule."""
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        rules = body.get("rules")
        if rules is None and "kind" in body:
            rules = [body]
        known = {
            "kind",
            "every",
            "per_second",
            "count",
            "path",
            "retry_after",
            "status",
            "latency_ms",
            "reason",
        }
        parsed: list[FaultRule] = []
        for raw in rules or []:
            if not isinstance(raw, dict) or set(raw) - known:
                raise ValueError(f"bad fault rule {raw!r}; known keys: {', '.join(sorted(known))}")
            parsed.append(FaultRule(**raw))
        with self._lock:
            if body.get("clear"):
                self._rules.clear()
            self._rules.extend(parsed)

    def decide(self, path: str, now: float | None = None) -> list[Fault]:
        """Return the faults that hit this request (latency first, then at most one failure)."""
        moment = time.monotonic() if now is None else now
        decided: list[Fault] = []
        failed = False
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(path):
                    continue
                if rule.kind != "latency" and failed:
                    continue
                fault = self._apply(rule, moment, self._clock)
                if fault is None:
                    continue
                decided.append(fault)
                failed = failed or rule.kind != "latency"
                if rule.count is not None and rule.hits >= rule.count:
                    self._rules.remove(rule)
        return decided

    @staticmethod
    def _apply(rule: FaultRule, moment: float, clock: Callable[[], datetime]) -> Fault | None:
        if rule.kind == "rate_limit" and rule.per_second > 0:
            capacity = float(rule.limit())
            if rule._tokens < 0:
                rule._tokens, rule._last = capacity, moment
            rule._tokens = min(capacity, rule._tokens + max(0.0, moment - rule._last) * rule.per_second)
            rule._last = moment
            if rule._tokens >= 1:
                rule._tokens -= 1
                return None
            wait = max(1, math.ceil((1 - rule._tokens) / rule.per_second))
            rule.hits += 1
            return _rate_limited(rule, wait, 0, clock())
        rule.seen += 1
        if rule.seen % rule.every:
            return None
        rule.hits += 1
        if rule.kind == "rate_limit":
            return _rate_limited(rule, rule.retry_after, 0, clock())
        if rule.kind == "unavailable":
            return Fault("unavailable", 503, (("Retry-After", str(rule.retry_after)),))
        if rule.kind == "not_json":
            return Fault("not_json", rule.status)
        if rule.kind == "latency":
            return Fault("latency", latency_ms=rule.latency_ms)
        if rule.kind in ALTERING:
            return Fault(rule.kind)
        return Fault("drop")


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _rate_limited(rule: FaultRule, wait: int, remaining: int, now: datetime) -> Fault:
    wait = max(wait, rule.retry_after if rule.per_second <= 0 else 1)
    reset = now + timedelta(seconds=wait)
    # Atlassian: the request time plus Retry-After, as yyyy-MM-ddTHH:mmZ.
    headers = (
        ("Retry-After", str(wait)),
        ("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%MZ")),
        ("X-RateLimit-Limit", str(rule.limit())),
        ("X-RateLimit-Remaining", str(remaining)),
        (
            "RateLimit-Reason",
            rule.reason or ("jira-burst-based" if rule.per_second else "jira-quota-global-based"),
        ),
    )
    return Fault("rate_limit", 429, headers)
