"""`teampulse backfill`: 60 days of history that Prometheus answers range queries over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import free_port, start_prometheus

from teampulse.demo import TOKEN_ENV, write_demo_config
from teampulse.jira_emulator import EmulatorServer, generate_organisation


def test_backfilled_history_is_queryable_in_prometheus(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    org = generate_organisation(seed=11, now=now)
    env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY="backfill-key-0123456789", **{TOKEN_ENV: "t"})
    with EmulatorServer(org.dataset, mode="cloud") as emulator:
        config = write_demo_config(tmp_path, emulator.url, list(org.teams))
        collected = subprocess.run(
            [sys.executable, "-m", "teampulse.cli", "collect", "--config", str(config), "--quiet"],
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
    data = tmp_path / "data"
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(out), str(data)],
                   check=True, capture_output=True)  # fmt: skip
    port = free_port()
    # the blocks become the data folder of a Prometheus that scrapes nothing
    prom = start_prometheus(
        tmp_path, port, "global:\n  scrape_interval: 1m\n", "--storage.tsdb.retention.time=400d"
    )
    try:
        query = urllib.parse.urlencode({
            "query": 'teampulse_process_pressure{team="payments"}',
            "start": start.timestamp(), "end": end.timestamp(), "step": "86400",
        })  # fmt: skip
        deadline = time.time() + 30
        values: list = []
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/query_range?{query}", timeout=5
                ) as r:
                    body = json.loads(r.read())
                if body["data"]["result"]:
                    values = body["data"]["result"][0]["values"]
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert len(values) == 61, len(values)
        # the crunch shows at the end of the history, not at its start
        assert float(values[-1][1]) > float(values[0][1]) + 0.3
    finally:
        prom.terminate()
        prom.wait(timeout=20)


def test_backfill_refuses_an_inverted_range(basic_config: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "backfill", "--config", str(basic_config), "--from", "2026-03-10",
         "--to", "2026-03-01", "--output", str(basic_config.parent / "x.om")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--to must not be before --from" in result.stderr
    assert not (basic_config.parent / "x.om").exists()
