"""The command line against the Jira emulator, through the real plugin and `jira` client."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from teampulse_demo.demo import TOKEN_ENV, write_demo_config
from teampulse_jira_emulator import EmulatorServer, FaultRule, Organisation, generate_organisation

# A fixed time (a Wednesday): the organisation is generated up to it, and every collection
# and check runs as of it (`--as-of`), whatever the day the test runs on.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
AS_OF = NOW.isoformat()


@pytest.fixture(scope="module")
def org() -> Organisation:
    return generate_organisation(seed=3, now=NOW)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env[TOKEN_ENV] = "t0ken"
    env["TEAMPULSE_PSEUDONYM_KEY"] = "cli-test-key-0123456789"
    return env


def _teampulse(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", *args],
        capture_output=True,
        text=True,
        env=_env(),
        check=check,
    )


@pytest.fixture(params=["cloud", "datacenter"])
def emulator(request: pytest.FixtureRequest, org: Organisation) -> Iterator[EmulatorServer]:
    with EmulatorServer(org.dataset, mode=request.param) as server:
        yield server


def _config(tmp_path: Path, url: str, org: Organisation, extra: str = "") -> Path:
    path = write_demo_config(tmp_path, url, list(org.teams))
    path.write_text(path.read_text() + extra)
    return path


def test_collect_prints_every_process_metric_for_every_team(
    tmp_path: Path, emulator: EmulatorServer, org: Organisation
) -> None:
    path = _config(tmp_path, emulator.url, org)
    result = _teampulse("collect", "--config", str(path), "--as-of", AS_OF)
    assert result.returncode == 0, result.stderr
    for metric in (
        "teampulse_process_throughput",
        "teampulse_work_items_completed_total",
        "teampulse_work_items_in_progress",
        "teampulse_work_items_overdue",
        "teampulse_work_items_due_soon",
        "teampulse_process_pressure_ratio",
        "teampulse_process_pressure_baseline_ratio",
    ):
        for team in org.teams:
            assert f'{metric}{{team="{team.name}"}}' in result.stdout, (metric, team.name)
    assert 'teampulse_source_up{source="jira"} 1.0' in result.stdout
    # the two crunching teams read as elevated against their own baselines, the others calm
    data = json.loads(
        _teampulse("collect", "--config", str(path), "--as-of", AS_OF, "--format", "json").stdout
    )
    teams = {t["team"]: t for t in data["teams"]}
    for name in ("payments", "platform"):
        assert teams[name]["pressure"] > teams[name]["baseline"] + 0.2, name
    assert all(teams[name]["pressure"] < 0.3 for name in ("mobile", "data"))
    # platform's lead moved due dates during the crunch; payments' did nothing
    assert teams["platform"]["actions_since_episode"].get("deadline_renegotiated", 0) >= 1
    assert teams["payments"]["actions_since_episode"] == {}


def test_second_sync_fetches_only_what_changed(tmp_path: Path, org: Organisation) -> None:
    with EmulatorServer(org.dataset, mode="cloud") as server:
        path = _config(tmp_path, server.url, org)
        path.write_text(path.read_text().replace('token_env = "', 'page_size = 20\ntoken_env = "'))
        assert _teampulse("collect", "--config", str(path), "--as-of", AS_OF, "--quiet").returncode == 0
        first = server.stats.count("search/jql")
        server.stats.reset()
        assert _teampulse("collect", "--config", str(path), "--as-of", AS_OF, "--quiet").returncode == 0
        second = server.stats.count("search/jql")
    assert first > 2 * len(org.teams)  # many pages the first time
    assert second <= len(org.teams)  # one page per team: only the overlap window


def _store_counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return {
            "items": con.execute("SELECT COUNT(*) FROM work_items").fetchone()[0],
            "cursors": con.execute("SELECT COUNT(*) FROM cursors").fetchone()[0],
        }
    finally:
        con.close()


def test_killed_mid_sync_then_restarted_ends_with_the_same_numbers(tmp_path: Path, org: Organisation) -> None:
    with EmulatorServer(org.dataset, mode="cloud") as server:
        server.faults.add(FaultRule(kind="latency", latency_ms=120, path="search"))
        clean = tmp_path / "clean"
        crashed = tmp_path / "crashed"
        clean.mkdir()
        crashed.mkdir()
        for folder in (clean, crashed):
            p = _config(folder, server.url, org)
            p.write_text(p.read_text().replace('token_env = "', 'page_size = 10\ntoken_env = "'))

        reference = _teampulse(
            "collect",
            "--config",
            str(clean / "teampulse.toml"),
            "--as-of",
            AS_OF,
            "--format",
            "json",
            "--quiet",
        )
        assert reference.returncode == 0, reference.stderr

        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "teampulse.cli",
                "collect",
                "--config",
                str(crashed / "teampulse.toml"),
                "--as-of",
                AS_OF,
                "--quiet",
            ],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        db = crashed / "demo.db"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if db.exists() and _store_counts(db)["items"] >= 30:
                    break
            except sqlite3.OperationalError:
                pass  # the file exists before its schema is committed
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = _store_counts(db)
        assert partial["items"] > 0
        assert partial["cursors"] == 1

        again = _teampulse(
            "collect",
            "--config",
            str(crashed / "teampulse.toml"),
            "--as-of",
            AS_OF,
            "--format",
            "json",
            "--quiet",
        )
        assert again.returncode == 0, again.stderr
    ref_teams = json.loads(reference.stdout)["teams"]
    got_teams = json.loads(again.stdout)["teams"]
    assert partial["items"] < _store_counts(clean / "demo.db")["items"]  # it really was killed mid-sync
    assert got_teams == ref_teams
    assert _store_counts(db)["items"] == _store_counts(clean / "demo.db")["items"]


def test_unreachable_jira_is_one_line_and_exit_2(tmp_path: Path, org: Organisation) -> None:
    path = _config(tmp_path, "http://127.0.0.1:9", org)
    path.write_text(path.read_text().replace('token_env = "', 'max_retries = 1\ntoken_env = "'))
    result = _teampulse("collect", "--config", str(path), "--quiet")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "127.0.0.1:9" in lines[0]
    assert "Traceback" not in result.stderr


def test_collect_refuses_a_future_as_of(tmp_path: Path, org: Organisation) -> None:
    # a cursor must never move past the present: the year 9999 is in the future on any day
    path = _config(tmp_path, "http://127.0.0.1:9", org)
    result = _teampulse("collect", "--config", str(path), "--as-of", "9999-01-01", "--quiet")
    assert result.returncode == 2
    assert "--as-of" in result.stderr and "must not be in the future" in result.stderr
    assert not (tmp_path / "demo.db").exists()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[settings\n", "not valid TOML"),
        ('[[teams]]\nname = "x"\nmanager = "nobody"\n', "teams[0].manager"),
        (
            '[[teams]]\nname = "x"\nmanager = "a@b.co"\nmembers = ["b@b.co"]\n[sources.j]\nplugin = "jiraa"\n',
            "unknown source kind 'jiraa'",
        ),
        (
            '[[teams]]\nname = "x"\nmanager = "a@b.co"\nmembers = ["b@b.co"]\n[sources.j]\nplugin = "jira"\n',
            "sources.j.url",
        ),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body)
    for command in ("collect", "check"):
        result = _teampulse(command, "--config", str(path))
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr
        assert str(path) in result.stderr and expected in result.stderr
        assert "Traceback" not in result.stderr


def test_missing_pseudonym_key_is_a_clear_error(tmp_path: Path, org: Organisation) -> None:
    path = _config(tmp_path, "http://127.0.0.1:9", org)
    env = _env()
    del env["TEAMPULSE_PSEUDONYM_KEY"]
    result = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "collect", "--config", str(path)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2
    assert "TEAMPULSE_PSEUDONYM_KEY" in result.stderr


def test_check_fires_for_the_crunch_and_an_action_clears_it(tmp_path: Path, org: Organisation) -> None:
    with EmulatorServer(org.dataset, mode="cloud") as server:
        path = _config(tmp_path, server.url, org)
        assert _teampulse("collect", "--config", str(path), "--as-of", AS_OF, "--quiet").returncode in (0, 1)
    crunch = org.teams[0].name
    result = _teampulse("check", "--config", str(path), "--as-of", AS_OF, "--format", "json")
    assert result.returncode == 1, result.stdout + result.stderr
    alerts = json.loads(result.stdout)
    assert [a["team"] for a in alerts if a["alert"] == "ProcessPressureWithoutLeadership"] == [crunch]
    alert = alerts[0]
    assert set(alert) == {"alert", "team", "severity", "since", "summary", "description", "evidence"}
    # what rose, against the team's own normal, since the onset
    assert "(normal " in alert["description"] and "out of its normal since" in alert["description"]
    assert alert["evidence"]["state"] == "unanswered" and alert["since"] == alert["evidence"]["episode_start"]
    added = _teampulse(
        "action", "add", "--config", str(path), "--team", crunch, "--kind", "one_on_one", "--at", AS_OF
    )
    assert added.returncode == 0, added.stderr
    cleared = _teampulse("check", "--config", str(path), "--as-of", AS_OF, "--format", "json")
    assert cleared.returncode == 0, cleared.stdout
    assert json.loads(cleared.stdout) == []


def test_check_reports_a_source_that_stays_down(tmp_path: Path, org: Organisation) -> None:
    path = _config(tmp_path, "http://127.0.0.1:9", org)
    text = path.read_text().replace('token_env = "', 'max_retries = 0\ntoken_env = "')
    path.write_text(text + '\n[alerts]\nsource_down_after = "1s"\n')
    assert _teampulse("collect", "--config", str(path), "--quiet").returncode == 2
    time.sleep(1.2)
    result = _teampulse("check", "--config", str(path), "--offline", "--format", "json")
    assert result.returncode == 1, result.stderr
    down = [a for a in json.loads(result.stdout) if a["alert"] == "TeampulseSourceDown"]
    assert len(down) == 1
    assert down[0]["source"] == "jira" and down[0]["team"] is None and down[0]["severity"] == "critical"
    assert "127.0.0.1:9" in down[0]["description"]
