"""The stories of tests/scenarios.py through the real plugins, and three paths that must agree.

The engine (in process), `teampulse check` and the shipped Prometheus rules (a real
Prometheus scraping `teampulse serve`) must name the same firing alerts, and those must be
the stories' verdicts (tests/scenarios.py).

Every path runs at the fixed time NOW: `collect --as-of`, `action add --at`, `check --as-of`,
the engine's `as_of`, and serve with its clock at NOW (only Prometheus reads serve's values, and it
judges numbers, not times). tests/test_dates.py runs the same stories at other dates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import scenarios
import yaml
from support import free_port, scrape_config, start_prometheus, start_serve
from teampulse_jira_emulator import EmulatorServer

from teampulse.app import Runtime

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "dashboards" / "rules" / "teampulse.rules.yml"
KEY = "scenario-key-0123456789abcdef"
TOKEN = "SCENARIO_JIRA_TOKEN"
STORY_ALERTS = {"ProcessPressureWithoutLeadership", "TimeOffOverriddenUnderPressure"}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday


def _env() -> dict[str, str]:
    return dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY, **{TOKEN: "t"})


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", *args], capture_output=True, text=True, env=_env()
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, EmulatorServer]]:
    folder = tmp_path_factory.mktemp("scenarios")
    built = scenarios.build(folder, NOW)
    with EmulatorServer(built.dataset, mode="cloud") as server:
        config = folder / "teampulse.toml"
        config.write_text(scenarios.config_text(server.url, TOKEN))
        collected = _run("collect", "--config", str(config), "--as-of", NOW.isoformat(), "--quiet")
        assert collected.returncode == 0, collected.stderr
        for team, kind, at in built.recorded:
            added = _run(
                "action",
                "add",
                "--config",
                str(config),
                "--team",
                team,
                "--kind",
                kind,
                "--at",
                at.isoformat(),
            )
            assert added.returncode == 0, added.stderr
        yield config, server


@pytest.fixture(scope="module")
def engine_verdict(world: tuple[Path, EmulatorServer]) -> set[tuple[str, str]]:
    config, _ = world
    old = dict(os.environ)
    os.environ.update(_env())
    try:
        runtime = Runtime.open(str(config))
        state = runtime.state(as_of=NOW)
        runtime.close()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return {(a.alert, a.labels["team"]) for a in state.alerts if a.firing and a.alert in STORY_ALERTS}


def test_the_engine_reads_each_story_right(engine_verdict: set[tuple[str, str]]) -> None:
    assert engine_verdict == scenarios.EXPECTED


def test_check_agrees_with_the_engine(world: tuple[Path, EmulatorServer], engine_verdict) -> None:  # type: ignore[no-untyped-def]
    config, _ = world
    result = _run("check", "--config", str(config), "--as-of", NOW.isoformat(), "--format", "json")
    assert result.returncode == 1, result.stderr
    firing = {(a["alert"], a["team"]) for a in json.loads(result.stdout) if a["alert"] in STORY_ALERTS}
    assert firing == engine_verdict
    text = _run("check", "--config", str(config), "--as-of", NOW.isoformat())
    assert "FIRING ProcessPressureWithoutLeadership deploy-mgr" in text.stdout


def test_prometheus_rules_agree_with_the_engine(
    world: tuple[Path, EmulatorServer], engine_verdict: set[tuple[str, str]], tmp_path: Path
) -> None:
    config, _ = world
    serve_port, prom_port = free_port(), free_port()
    serve = start_serve(config, serve_port, _env(), at=NOW)
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in STORY_ALERTS:
                rule["for"] = (
                    "0s"  # the grace lives in the engine; the rule's `for` only absorbs scrape jitter
                )
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    prom = start_prometheus(tmp_path, prom_port, scrape_config(f"127.0.0.1:{serve_port}", "rules.yml"))
    query = urllib.parse.quote('ALERTS{alertstate="firing"}')
    firing: set[tuple[str, str]] = set()
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{prom_port}/api/v1/query?query={query}", timeout=5
                ) as r:
                    result = json.loads(r.read())["data"]["result"]
                firing = {
                    (s["metric"]["alertname"], s["metric"].get("team", ""))
                    for s in result
                    if s["metric"]["alertname"] in STORY_ALERTS
                }
                if firing == engine_verdict:
                    break
            except OSError:
                pass
            time.sleep(0.5)
    finally:
        serve.terminate()
        prom.terminate()
        serve.wait(timeout=20)
        prom.wait(timeout=20)
    assert firing == engine_verdict
