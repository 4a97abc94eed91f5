"""The exposition passes `promtool check metrics`, negotiates OpenMetrics, and says what each number is.

The demo organisation (seed 7, calendars and survey) is collected once at the fixed time NOW;
`teampulse collect` and a `teampulse serve` whose clock starts at NOW (support.start_serve) are
checked with the real promtool.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from support import free_port, start_serve, wait_until
from teampulse_demo.demo import TOKEN_ENV, write_demo_config
from teampulse_demo.people import write_people_data
from teampulse_jira_emulator import EmulatorServer, generate_organisation

from teampulse.app import Runtime
from teampulse.exporter import DEPRECATED, ExportState, render, wants_openmetrics
from teampulse.states import TeamState

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday: the demo's crunch is on
KEY = "promtool-key-0123456789abc"
# What Prometheus 2.42 sends when it scrapes.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@dataclass
class Demo:
    """The demo organisation collected into a store at NOW."""

    config: Path
    env: dict[str, str]
    collected: str  # `teampulse collect`'s stdout


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    """Run `promtool check metrics` on an exposition."""
    return subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("promtool")
    org = generate_organisation(seed=7, now=NOW)
    write_people_data(org, folder, org.now)
    env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY, **{TOKEN_ENV: "t"})
    with EmulatorServer(org.dataset, mode="cloud") as emulator:
        config = write_demo_config(folder, emulator.url, list(org.teams), interval="1h", people=True)
        result = subprocess.run(
            [sys.executable, "-m", "teampulse.cli", "collect", "--config", str(config), "--as-of",
             NOW.isoformat(), "--quiet"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        yield Demo(config, env, result.stdout)


def _open(config: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """Open the demo's store (in-process) with its environment."""
    monkeypatch.setenv("TEAMPULSE_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv(TOKEN_ENV, "t")
    return Runtime.open(str(config))


def test_collect_output_passes_promtool(demo: Demo) -> None:
    result = promtool_check(demo.collected)
    assert result.returncode == 0 and not result.stdout + result.stderr, result.stdout + result.stderr
    # the names promtool used to reject are gone, their replacements there
    assert "teampulse_after_hours_meeting_hours" not in demo.collected
    assert "teampulse_after_hours_process_activity_ratio" not in demo.collected
    assert 'quantile="' not in demo.collected
    assert re.search(
        r'^teampulse_meeting_outside_working_time_seconds\{team="payments"\} \d', demo.collected, re.M
    )
    assert re.search(
        r'^teampulse_process_activity_outside_working_time_ratio\{team="payments"\} ', demo.collected, re.M
    )


def test_promtool_rejects_what_the_exporter_used_to_serve() -> None:
    # The check above can fail: promtool flags the old unit and the quantile gauge.
    old = (
        "# HELP teampulse_after_hours_meeting_hours x\n# TYPE teampulse_after_hours_meeting_hours gauge\n"
        'teampulse_after_hours_meeting_hours{team="a"} 1\n'
        "# HELP teampulse_cycle_time_seconds x\n# TYPE teampulse_cycle_time_seconds gauge\n"
        'teampulse_cycle_time_seconds{team="a",quantile="0.5"} 1\n'
    )
    result = promtool_check(old)
    assert result.returncode != 0
    assert "base unit" in result.stderr and "quantile" in result.stderr


def test_ratios_deprecated_names_and_help(demo: Demo) -> None:
    families = {f.name: f for f in text_string_to_metric_families(demo.collected)}
    for old, new in DEPRECATED.items():
        assert families[old].documentation.startswith(f"Deprecated: use {new} "), old
        assert not families[new].documentation.startswith("Deprecated"), new
        assert {tuple(sorted(s.labels.items())): s.value for s in families[old].samples} == {
            tuple(sorted(s.labels.items())): s.value for s in families[new].samples
        }, old
        assert families[new].samples, new
    for family in families.values():
        # HELP says what the number is; the cache's age is a metric of its own
        assert "cache" not in family.documentation.lower(), family.name
        assert len(family.documentation) > 10, family.name
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples), family.name
    # every 0..1 gauge is a _ratio (or served under a deprecated name beside one)
    for family in families.values():
        if "(0..1)" in family.documentation:
            assert family.name.endswith("_ratio"), family.name


def test_meeting_time_is_exported_in_seconds(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = _open(demo.config, monkeypatch)
    try:
        snap = next(s for s in runtime.evaluate(NOW) if s.team == "payments")
    finally:
        runtime.close()
    hours = snap.people.after_hours_meeting_hours
    assert hours is not None and hours > 0
    line = re.search(
        r'^teampulse_meeting_outside_working_time_seconds\{team="payments"\} (\S+)$', demo.collected, re.M
    )
    assert line and float(line.group(1)) == pytest.approx(hours * 3600)


def test_thresholds_in_force_are_exported(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the config's, one series each for the instance, not one per team
    assert re.findall(r"^teampulse_alert_pressure_rise_ratio(\S*) (\S+)$", demo.collected, re.M) == [
        ("", "0.2")
    ]
    assert re.search(
        r'^teampulse_alert_source_down_after_seconds\{source="jira"\} 3600.0$', demo.collected, re.M
    )
    # a config change reaches the exported thresholds (and so the rules and dashboards) directly
    changed = tmp_path / "changed.toml"
    changed.write_text(
        demo.config.read_text().replace('state = "demo.db"', f'state = "{demo.config.parent / "demo.db"}"')
        + '\n[alerts]\nrise = 0.25\nhigh = 0.7\ngrace = "3d"\nmin_actions = 2\nsource_down_after = "30m"\n'
    )
    runtime = _open(changed, monkeypatch)
    try:
        text = render(runtime.state(as_of=NOW)).decode()
    finally:
        runtime.close()
    for line in (
        "teampulse_alert_pressure_rise_ratio 0.25",
        "teampulse_alert_pressure_high_ratio 0.7",
        "teampulse_alert_grace_seconds 259200.0",
        "teampulse_alert_min_actions 2.0",
        'teampulse_alert_source_down_after_seconds{source="jira"} 1800.0',
    ):
        assert line in text, line
    assert promtool_check(text).returncode == 0


def test_cycle_time_is_a_histogram_that_adds_up_across_teams(demo: Demo) -> None:
    families = {f.name: f for f in text_string_to_metric_families(demo.collected)}
    cycle = families["teampulse_cycle_time_seconds"]
    assert cycle.type == "histogram"
    teams = {s.labels["team"] for s in cycle.samples}
    assert teams == {"payments", "platform", "mobile", "data"}
    for team in teams:
        buckets = [
            (float(s.labels["le"]), s.value)
            for s in cycle.samples
            if s.name.endswith("_bucket") and s.labels["team"] == team
        ]
        counts = [v for _le, v in sorted(buckets)]
        assert counts == sorted(counts), team  # cumulative
        count = next(s.value for s in cycle.samples if s.name.endswith("_count") and s.labels["team"] == team)
        assert counts[-1] == count
    assert sum(s.value for s in cycle.samples if s.name.endswith("_count")) > 0


def _get(url: str, accept: str | None = None) -> tuple[str, str]:
    headers = {"Accept": accept} if accept else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        return r.headers["Content-Type"], r.read().decode()


def test_served_metrics_pass_promtool_and_openmetrics_is_negotiated(demo: Demo) -> None:
    port = free_port()
    proc = start_serve(demo.config, port, demo.env, at=NOW)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until(lambda: 'teampulse_source_up{source="jira"} 1.0' in _get(url)[1], 60, "serve to collect")
        content_type, text = _get(url)
        assert content_type.startswith("text/plain; version=0.0.4")
        result = promtool_check(text)
        assert result.returncode == 0 and not result.stdout + result.stderr, result.stdout + result.stderr
        assert "# TYPE teampulse_cache_age_seconds gauge" in text

        content_type, om = _get(url, PROMETHEUS_ACCEPT)
        assert content_type.startswith("application/openmetrics-text; version=1.0.0")
        assert om.endswith("# EOF\n") and om.count("# EOF") == 1
        families = {f.name: f for f in parse_openmetrics(om)}  # strict: raises on anything malformed
        assert "teampulse_cache_age_seconds" in families
        assert families["teampulse_leadership_actions"].type == "counter"
        assert {f.name for f in text_string_to_metric_families(text)} <= set(families) | {
            # the 0.0.4 parser names counters with _total; OpenMetrics names the family without
            f.name + "_total"
            for f in families.values()
        }
        # an explicit preference for the text format wins
        assert _get(url, "text/plain;version=0.0.4,application/openmetrics-text;q=0.5")[0].startswith(
            "text/plain"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_accept_header_negotiation() -> None:
    assert wants_openmetrics(PROMETHEUS_ACCEPT)
    assert wants_openmetrics("application/openmetrics-text")
    assert not wants_openmetrics(None)
    assert not wants_openmetrics("*/*")
    assert not wants_openmetrics("text/plain")
    assert not wants_openmetrics("application/openmetrics-text;q=0")
    assert not wants_openmetrics("text/plain;q=0.9,application/openmetrics-text;q=0.5")


class _Alertmanager(BaseHTTPRequestHandler):
    """Takes what the alertmanager notifier POSTs, as Alertmanager's API v2 does."""

    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_notifier_deliveries_and_failures_are_counted(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Alertmanager)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    closed = free_port()  # nothing listens here
    config = tmp_path / "notify.toml"
    config.write_text(
        demo.config.read_text().replace('state = "demo.db"', f'state = "{demo.config.parent / "demo.db"}"')
        + f'\n[notifiers.am]\nplugin = "alertmanager"\nurl = "http://127.0.0.1:{receiver.server_port}"\n'
        'generator_url = "http://teampulse.example/"\n'
        f'\n[notifiers.down]\nplugin = "alertmanager"\nurl = "http://127.0.0.1:{closed}"\n'
        'generator_url = "http://teampulse.example/"\nmax_retries = 0\n'
    )
    runtime = _open(config, monkeypatch)
    try:
        before = render(ExportState()).decode()
        assert "teampulse_notifications_total{" not in before
        for _cycle in range(2):
            state = runtime.state(as_of=NOW)
            failures = runtime.notify(state)
        text = render(state).decode()
    finally:
        runtime.close()
        receiver.shutdown()
    assert _Alertmanager.received, "the firing alerts reached the receiver"
    assert len(failures) == 1 and "notifier down" in failures[0]
    for line in (
        'teampulse_notifications_total{notifier="am"} 2.0',
        'teampulse_notification_failures_total{notifier="am"} 0.0',
        'teampulse_notifications_total{notifier="down"} 2.0',
        'teampulse_notification_failures_total{notifier="down"} 2.0',
    ):
        assert line in text, line
    assert promtool_check(text).returncode == 0


def _series_by_team(text: str) -> dict[str, Counter[str]]:
    """Return each team's series, counted by family."""
    found: dict[str, Counter[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "team" in sample.labels:
                found.setdefault(sample.labels["team"], Counter())[family.name] += 1
    return found


def test_a_team_costs_a_bounded_number_of_series_and_its_state_is_one(demo: Demo) -> None:
    by_team = _series_by_team(demo.collected)
    assert sorted(by_team) == ["data", "mobile", "payments", "platform"]
    for team, families in by_team.items():
        # the state the team is in, not a 0 for each of the others
        assert families["teampulse_team_state"] == 1, team
        assert families["teampulse_cycle_time_seconds"] == 9, team  # 6 buckets, +Inf, _sum, _count
        assert not any(name.startswith("teampulse_alert_") for name in families), team
        # At most: 28 families of one series (3 of them the deprecated names), the indices'
        # components (6 pressure, 5 support without plugins), the histogram's 9, the 8 action
        # kinds and a series per configured survey dimension (3 here). docs/metrics.md counts them.
        assert sum(families.values()) <= 28 + 6 + 5 + 9 + 8 + 3, (team, families.most_common(8))
        assert sum(1 for n in families.values() if n == 1) <= 28, (team, families)
    states = re.findall(r'^teampulse_team_state\{state="(\w+)",team="(\w+)"\} 1\.0$', demo.collected, re.M)
    assert len(states) == 4 and {state for state, _team in states} <= {str(one) for one in TeamState}
