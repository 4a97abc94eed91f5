"""`teampulse backfill`: 60 days of history that Prometheus answers range queries over."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import NOW as SUPPORT_NOW
from support import Items, free_port, http_get, start_prometheus, wait_until
from teampulse_demo.demo import TOKEN_ENV, write_demo_config
from teampulse_jira_emulator import EmulatorServer, generate_organisation

from teampulse.app import Runtime
from teampulse.backfill import backfill, stderr_progress

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a fixed Wednesday: the history ends here
MAX_BLOCK = "720h"  # 30 days a block, as docs/metrics.md tells promtool


def test_backfilled_history_is_queryable_in_prometheus(tmp_path: Path) -> None:
    now = NOW
    org = generate_organisation(seed=11, now=now)
    env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY="backfill-key-0123456789", **{TOKEN_ENV: "t"})
    with EmulatorServer(org.dataset, mode="cloud") as emulator:
        config = write_demo_config(tmp_path, emulator.url, list(org.teams))
        collected = subprocess.run(
            [sys.executable, "-m", "teampulse.cli", "collect", "--config", str(config), "--as-of",
             now.isoformat(), "--quiet"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert collected.returncode == 0, collected.stderr
    start = (now - timedelta(days=60)).replace(hour=0, minute=0)
    end = now.replace(hour=0, minute=0)
    out = tmp_path / "history.om"
    result = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "backfill", "--config", str(config), "--from", start.isoformat(),
         "--to", end.isoformat(), "--step", "1d", "--output", str(out)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.rstrip().endswith("# EOF")
    assert "@" not in text and "source=" not in text
    # its HELP says what each number is, never that it was "served from the cache"
    assert "cache" not in "".join(line for line in text.splitlines() if line.startswith("# HELP")).lower()
    data = tmp_path / "data"
    # the documented command (docs/metrics.md): a few large blocks, not one per two hours
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", f"--max-block-duration={MAX_BLOCK}",
                    str(out), str(data)], check=True, capture_output=True)  # fmt: skip
    blocks = [d for d in data.iterdir() if d.is_dir() and (d / "meta.json").exists()]
    assert 1 <= len(blocks) <= 4, len(blocks)
    port = free_port()
    # the blocks become the data folder of a Prometheus that scrapes nothing
    prom = start_prometheus(
        tmp_path, port, "global:\n  scrape_interval: 1m\n", "--storage.tsdb.retention.time=400d"
    )
    try:
        learning = _range(port, 'teampulse_team_learning{team="payments"}', start, end)
        assert len(learning) == 61, len(learning)
        # the history begins about 70 days before NOW: the first days are learning the normal
        flags = [float(v) for _t, v in learning]
        assert flags[0] == 1.0 and flags[-1] == 0.0 and flags == sorted(flags, reverse=True)
        # pressure is exported from the first day judged on, not as a misleading 0 before it
        values = _range(port, 'teampulse_process_pressure_ratio{team="payments"}', start, end)
        assert len(values) == flags.count(0.0), (len(values), flags)
        assert values[0][0] == learning[flags.index(0.0)][0]
        # the crunch shows at the end of the history, not at its start
        assert float(values[-1][1]) > float(values[0][1]) + 0.3
    finally:
        prom.terminate()
        prom.wait(timeout=20)


def test_backfill_reports_progress(basic_config: Path, items: Items) -> None:
    runtime = Runtime.open(str(basic_config))
    try:
        runtime.store.apply_batch("jira", [items.make(started=SUPPORT_NOW - timedelta(days=3))], None, 0)
        out = io.StringIO()
        frozen = stderr_progress(every=5.0, stream=out, clock=lambda: 0.0)  # no time passes
        start = SUPPORT_NOW - timedelta(days=20)
        data = backfill(runtime, start, SUPPORT_NOW, timedelta(hours=1), on_progress=frozen)
    finally:
        runtime.close()
    assert data.endswith(b"# EOF\n")
    lines = out.getvalue().splitlines()
    # 481 steps: a line at each tenth, the last at the end
    assert lines[0] == "teampulse: backfill: evaluated 49/481 steps (10%)"
    assert lines[-1] == "teampulse: backfill: evaluated 481/481 steps (100%)"
    assert len(lines) == 10
    # and at least every `every` seconds on a slow run
    ticks = iter(range(0, 10_000, 6))
    slow = io.StringIO()
    report = stderr_progress(every=5.0, stream=slow, clock=lambda: float(next(ticks)))
    for n in range(1, 31):
        report(n, 1000)
    assert len(slow.getvalue().splitlines()) == 30


def test_backfill_refuses_an_inverted_range(basic_config: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "backfill", "--config", str(basic_config), "--from", "2026-03-10",
         "--to", "2026-03-01", "--output", str(basic_config.parent / "x.om")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--to must not be before --from" in result.stderr
    assert not (basic_config.parent / "x.om").exists()


def _range(port: int, query: str, start: datetime, end: datetime) -> list:
    """Return a daily range query's values, once Prometheus has loaded the blocks."""
    params = urllib.parse.urlencode(
        {"query": query, "start": start.timestamp(), "end": end.timestamp(), "step": "86400"}
    )
    result: list = []

    def answered() -> bool:
        result[:] = json.loads(http_get(f"http://127.0.0.1:{port}/api/v1/query_range?{params}"))["data"][
            "result"
        ]
        return bool(result)

    wait_until(answered, 30, f"Prometheus to answer {query}")
    return list(result[0]["values"])
