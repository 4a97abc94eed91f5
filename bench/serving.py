"""What a thousand-team `serve` does, measured in a fresh process (run through bench/child.py).

`evaluate` times one evaluation and notes its peak memory. `serve` does what `teampulse serve`
does (listen, evaluate, then a collection cycle), with scrapers hitting /metrics during the
cycle, and reports the cycle, the scrape latencies and the exposition.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

from bench.emulator import reset, stats
from bench.measure import peak_mib, reset_peak, rss_mib, timed
from bench.scrapers import PROMETHEUS_ACCEPT, TEXT_ACCEPT
from bench.workspace import ROOT
from teampulse.app import Runtime
from teampulse.exporter import render
from teampulse.server import listen

# Cycles follow each other while the scrapers scrape, for some ten of their waves at least:
# a cycle of a fraction of a second alone would see one wave.
MAX_CYCLES = 100
_TEAM = re.compile(rb'team="((?:[^"\\]|\\.)*)"')


class Lateness(threading.Thread):
    """Sleep 1 ms at a time and note how late each wake-up is: how long a thread waits for the GIL."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="lateness")
        self.stopped = threading.Event()
        self.late: list[float] = []

    def run(self) -> None:
        while not self.stopped.is_set():
            before = time.perf_counter()
            time.sleep(0.001)
            self.late.append(time.perf_counter() - before - 0.001)

    def summary(self) -> dict[str, float]:
        """Return the p99 and the longest wait past the 1 ms, in milliseconds."""
        ordered = sorted(self.late) or [0.0]
        return {"p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000, "max_ms": ordered[-1] * 1000}


def _say(message: str) -> None:
    print(f"  thousand: {message}", file=sys.stderr, flush=True)


def series(body: bytes) -> dict[str, Any]:
    """Return the exposition's series: per team (max, mean), those of no team, and the families
    of the team with the most."""
    per_team: Counter[bytes] = Counter()
    families: dict[bytes, Counter[bytes]] = {}
    other = 0
    for line in body.splitlines():
        if not line or line.startswith(b"#"):
            continue
        found = _TEAM.search(line)
        if found:
            team = found.group(1)
            per_team[team] += 1
            families.setdefault(team, Counter())[line.split(b"{", 1)[0].split(b" ", 1)[0]] += 1
        else:
            other += 1
    counts = list(per_team.values())
    top = per_team.most_common(1)[0][0] if per_team else b""
    biggest = families.get(top, Counter()).most_common(4)
    return {
        "teams": len(counts),
        "max": max(counts, default=0),
        "mean": sum(counts) / max(1, len(counts)),
        "other": other,
        "bytes": len(body),
        "families": {name.decode(): n for name, n in biggest},
        "family_count": len(families.get(top, ())),
    }


def evaluate(config: str) -> dict[str, Any]:
    """Open the store and evaluate every configured team once; return seconds and peak memory."""

    runtime = Runtime.open(config)
    try:
        base = rss_mib()
        reset_peak()
        with timed() as span:
            state = runtime.state()
            render(state)
        peak = peak_mib()
        # What one scrape asking for OpenMetrics costs (rendered per scrape), to plan the waves.
        with timed() as om:
            render(state, openmetrics=True)
        return {
            "wall": span.wall,
            "cpu": span.cpu,
            "peak_mib": peak,
            "base_mib": base,
            "teams": len(state.snapshots),
            "openmetrics": om.wall,
        }
    finally:
        runtime.close()


def _scrapers(
    url: str, clients: int, interval: float, accept: str, waves: int | None
) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "bench.scrapers",
        url,
        "--clients",
        str(clients),
        "--interval",
        str(interval),
        "--accept",
        accept,
    ]
    if waves is not None:
        command += ["--waves", str(waves)]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.readline()  # "ready"
    return process


def _result(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    out = process.stdout.read()  # to its end: the scrapers print their result as they exit
    process.wait()
    return dict(json.loads(out.strip().splitlines()[-1]))


def serve(
    config: str, jira_url: str, clients: int, interval: float, idle_waves: int, om_waves: int
) -> dict[str, Any]:
    """Listen, evaluate, then run one collection cycle while `clients` scrapers scrape; report it."""

    runtime = Runtime.open(config)
    # Every scraper comes from 127.0.0.1: the per-address limit must let all of them in.
    httpd, service = listen(runtime, "127.0.0.1", 0, max_connections=4 * clients, per_client=2 * clients)
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    server: threading.Thread | None = None
    try:
        reset_peak()
        _say("serve: the first evaluation")
        # What service.start() does before the loop begins: evaluate what the store has.
        with timed() as evaluation:
            service.refresh(collect=False)
        evaluation_peak = peak_mib()
        exposition = series(service.metrics)
        with timed() as om:
            render(service.state, openmetrics=True)
        server = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        server.start()

        _say(f"serve: {idle_waves} waves of {clients} scrapes with no collection running")
        idle = _result(_scrapers(url, clients, 1.0, TEXT_ACCEPT, idle_waves))
        _say(f"serve: collection cycles, {clients} scrapers every {interval:g} s")
        reset(jira_url)
        scrapers = _scrapers(url, clients, interval, TEXT_ACCEPT, None)
        cycles: list[dict[str, Any]] = []

        def run_cycles() -> None:
            # Turns of the collector loop (Service._loop), back to back, each timed in this thread.
            started = time.perf_counter()
            while not cycles or (len(cycles) < MAX_CYCLES and time.perf_counter() - started < 10 * interval):
                wall, cpu = time.perf_counter(), time.thread_time()
                service.refresh()
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                collect = next((r.duration or 0.0 for r in service.state.runs if r.source == "jira"), 0.0)
                cycles.append({"wall": wall, "cpu": cpu, "collect": collect, "requests": stats(jira_url),
                               "error": service.last_error})  # fmt: skip
                reset(jira_url)

        collector = threading.Thread(target=run_cycles, name="teampulse-collector")
        lateness = Lateness()
        lateness.start()
        collector.start()
        collector.join()
        lateness.stopped.set()
        assert scrapers.stdin is not None
        scrapers.stdin.close()
        during = _result(scrapers)

        _say(f"serve: {om_waves} wave(s) of {clients} scrapes asking as Prometheus does (OpenMetrics)")
        prometheus = _result(_scrapers(url, clients, 1.0, PROMETHEUS_ACCEPT, om_waves))
        return {
            "evaluation": {"wall": evaluation.wall, "cpu": evaluation.cpu, "peak_mib": evaluation_peak},
            "cycle": cycles[0],
            "cycles": len(cycles),
            "later_cycle_wall": [c["wall"] for c in cycles[1:]],
            "requests": cycles[0]["requests"],
            "idle_scrapes": idle,
            "scrapes": during,
            "prometheus_scrapes": prometheus,
            "openmetrics_render": om.wall,
            "gil_wait": lateness.summary(),
            "series": exposition,
            "peak_mib": peak_mib(),
            "teams": len(service.state.snapshots),
            "interval": runtime.config.interval.total_seconds(),
        }
    finally:
        if server is not None:
            httpd.shutdown()  # waits for serve_forever: only once it runs
        httpd.server_close()
        runtime.close()
