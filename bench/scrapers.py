"""Many Prometheus-like scrapers of /metrics at once, from a child process; report their latencies.

Every scraper keeps its connection open and scrapes at the same ticks (`--interval`), so each
tick is `--clients` requests at once; a scrape still running at a tick skips it, as Prometheus
does. It runs until its stdin closes, or for `--waves` ticks, then prints one JSON line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

# What Prometheus 2.42 sends (OpenMetrics first), and the plain 0.0.4 text format alone.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
TEXT_ACCEPT = "text/plain;version=0.0.4"


class Scraper(threading.Thread):
    """One scraper: a kept-alive connection, one GET /metrics per tick."""

    def __init__(self, host: str, port: int, accept: str, ticks: Ticks) -> None:
        super().__init__(daemon=True)
        self.host, self.port, self.accept, self.ticks = host, port, accept, ticks
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.bytes = 0

    def run(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while (tick := self.ticks.next()) is not None:
            wait = tick - time.perf_counter()
            if wait > 0 and self.ticks.stopped.wait(wait):
                break
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(self.host, self.port, timeout=300)
                connection.request(
                    "GET", "/metrics", headers={"Accept": self.accept, "Accept-Encoding": "gzip"}
                )
                reply = connection.getresponse()
                body = reply.read()
                if reply.status == 200:
                    self.latencies.append(time.perf_counter() - started)
                    self.bytes = len(body)
                else:
                    self.errors.append(f"HTTP {reply.status}")
                if reply.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(type(exc).__name__)
                if connection is not None:
                    connection.close()
                connection = None
            self.ticks.done(self, time.perf_counter())
        if connection is not None:
            connection.close()


class Ticks:
    """The shared tick schedule: every `interval` seconds from the start, `waves` of them at most."""

    def __init__(self, interval: float, waves: int | None) -> None:
        self.start = time.perf_counter()
        self.interval = interval
        self.waves = waves
        self.stopped = threading.Event()
        self._next: dict[Scraper, int] = {}
        self._lock = threading.Lock()

    def next(self) -> float | None:
        """Return the time of the calling scraper's next tick, None once stopped or past the waves."""
        me = threading.current_thread()
        assert isinstance(me, Scraper)
        with self._lock:
            index = self._next.setdefault(me, 0)
        if self.stopped.is_set() or (self.waves is not None and index >= self.waves):
            return None
        return self.start + index * self.interval

    def done(self, scraper: Scraper, at: float) -> None:
        """Move the scraper to the first tick after `at` (ticks missed while it waited are skipped)."""
        with self._lock:
            self._next[scraper] = max(self._next[scraper] + 1, math.ceil((at - self.start) / self.interval))


def summary(latencies: list[float]) -> dict[str, Any]:
    """Return the count and the p50, p99 and max latencies, in milliseconds."""
    ordered = sorted(latencies)

    def quantile(q: float) -> float | None:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000 if ordered else None

    return {
        "count": len(ordered),
        "p50_ms": quantile(0.5),
        "p99_ms": quantile(0.99),
        "max_ms": ordered[-1] * 1000 if ordered else None,
    }


def main(argv: list[str] | None = None) -> int:
    """Scrape until stdin closes (or for --waves ticks); print the latencies as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.scrapers", description=__doc__)
    parser.add_argument("url", help="the server's base URL")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--waves", type=int, help="stop after this many ticks instead of at stdin's end")
    parser.add_argument("--accept", default=TEXT_ACCEPT)
    args = parser.parse_args(argv)
    where = urlsplit(args.url)
    ticks = Ticks(args.interval, args.waves)
    scrapers = [
        Scraper(where.hostname or "127.0.0.1", where.port or 80, args.accept, ticks)
        for _ in range(args.clients)
    ]
    print("ready", flush=True)
    for scraper in scrapers:
        scraper.start()
    if args.waves is None:
        sys.stdin.read()
        ticks.stopped.set()
    for scraper in scrapers:
        scraper.join()
    latencies = [t for s in scrapers for t in s.latencies]
    errors = [e for s in scrapers for e in s.errors]
    result = summary(latencies) | {
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "bytes": max((s.bytes for s in scrapers), default=0),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
