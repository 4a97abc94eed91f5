"""Running searches: a small result cache, Cloud's snapshot paging, and signed opaque page tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections import OrderedDict
from typing import Any

from .dataset import Dataset
from .jql import Context, JqlError, compile_query, parse
from .model import Issue


class TokenError(ValueError):
    """A page token that this server did not issue, or issued for another request."""


class PageTokens:
    """Opaque page tokens: signed JSON, so a client cannot forge or reuse one for another query."""

    def __init__(self, secret: bytes | None = None) -> None:
        """Use a random secret unless one is given."""
        self._secret = secret or os.urandom(16)

    def encode(self, payload: dict[str, Any]) -> str:
        """Return a token carrying the payload."""
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        mac = hmac.new(self._secret, raw, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(mac + raw).decode().rstrip("=")

    def decode(self, token: str) -> dict[str, Any]:
        """Return the payload of a token, or raise TokenError."""
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError) as exc:
            raise TokenError("bad encoding") from exc
        mac, raw = blob[:12], blob[12:]
        if len(mac) < 12 or not hmac.compare_digest(
            mac, hmac.new(self._secret, raw, hashlib.sha256).digest()[:12]
        ):
            raise TokenError("bad signature")
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise TokenError("bad payload") from exc
        if not isinstance(payload, dict):
            raise TokenError("bad payload")
        return payload


def fingerprint(*parts: object) -> str:
    """Return a short stable digest of request parameters, to bind a token to its request."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Searcher:
    """Run JQL over a dataset, caching results per (query, viewer, data version) and keeping snapshots."""

    def __init__(self, dataset: Dataset, ttl: float = 30.0, size: int = 32) -> None:
        """Cache up to `size` result lists for `ttl` seconds."""
        self.dataset = dataset
        self.ttl = ttl
        self.size = size
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple[Any, ...], tuple[float, list[Issue]]] = OrderedDict()
        self._snapshots: OrderedDict[str, tuple[float, list[int]]] = OrderedDict()
        self._next_snapshot = 0

    def run(self, jql: str, ctx: Context) -> list[Issue]:
        """Return the issues matching `jql`, in order; JqlError for a query Jira would reject."""
        # The second keeps relative dates ("-5m", now()) honest on a wall clock; mutations bump the version.
        key = (jql, ctx.tz.key, id(ctx.user), self.dataset.version, int(ctx.now.timestamp()))
        now = time.monotonic()
        with self._lock:
            hit = self._results.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                self._results.move_to_end(key)
                return hit[1]
        with self.dataset.lock:
            compiled = compile_query(jql, ctx)
            issues = compiled.run(list(self.dataset.issues.values()))
        with self._lock:
            self._results[key] = (now, issues)
            while len(self._results) > self.size:
                self._results.popitem(last=False)
        return issues

    def snapshot(self, issues: list[Issue]) -> str:
        """Keep the ids of a result list so later pages see the same order; return its id."""
        with self._lock:
            self._next_snapshot += 1
            snap_id = str(self._next_snapshot)
            self._snapshots[snap_id] = (time.monotonic(), [i.id for i in issues])
            while len(self._snapshots) > self.size * 4:
                self._snapshots.popitem(last=False)
            return snap_id

    def from_snapshot(self, snap_id: str) -> list[int] | None:
        """Return a kept id list, or None once it has expired."""
        with self._lock:
            found = self._snapshots.get(snap_id)
            return None if found is None else found[1]


def bounded(jql: str) -> bool:
    """Say whether a query restricts the search (Cloud's search/jql refuses unbounded ones)."""
    try:
        return parse(jql).where is not None
    except JqlError:
        return True  # let the search itself report the syntax error
