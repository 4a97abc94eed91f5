"""A real Prometheus scrapes `teampulse serve` fed by the Jira emulator.

The organisation ends at the fixed time NOW and serve runs with its clock at NOW (time-machine): only
Prometheus reads serve's values, and it judges numbers, not the time they were computed for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import free_port, http_get, scrape_config, start_prometheus, start_serve, wait_until
from teampulse_demo.demo import TOKEN_ENV, write_demo_config
from teampulse_jira_emulator import EmulatorServer, generate_organisation

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    org = generate_organisation(seed=5, now=NOW)
    with EmulatorServer(org.dataset, mode="cloud") as emulator:
        path = write_demo_config(tmp_path, emulator.url, list(org.teams), interval="1h")
        port = free_port()
        env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY="e2e-key-0123456789abc", **{TOKEN_ENV: "t"})
        proc = start_serve(path, port, env, at=NOW)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: b'teampulse_source_up{source="jira"} 1.0' in http_get(url + "/metrics"))
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def test_prometheus_scrapes_every_process_metric(served: str, tmp_path: Path) -> None:
    assert shutil.which("prometheus"), "make test installs prometheus"
    port = free_port()
    target = served.removeprefix("http://")
    prom = start_prometheus(tmp_path, port, scrape_config(target), "--web.enable-lifecycle")
    api = f"http://127.0.0.1:{port}/api/v1/query?query="

    def query(expr: str) -> list[dict]:  # type: ignore[type-arg]
        body = json.loads(http_get(api + urllib.parse.quote(expr)))
        assert body["status"] == "success"
        return list(body["data"]["result"])

    try:
        wait_until(lambda: len(query("teampulse_process_pressure_ratio")) == 4)
        for metric in (
            "teampulse_process_throughput",
            "teampulse_work_items_completed_total",
            "teampulse_work_items_in_progress",
            "teampulse_work_items_overdue",
            "teampulse_work_items_due_soon",
            "teampulse_process_pressure_baseline_ratio",
            "teampulse_pressure_unmatched",
        ):
            assert {r["metric"]["team"] for r in query(metric)} == {
                "payments",
                "platform",
                "mobile",
                "data",
            }, metric
        crunch = query(
            'teampulse_process_pressure_ratio{team="payments"} - teampulse_process_pressure_baseline_ratio'
        )
        assert float(crunch[0]["value"][1]) > 0.2
        assert query('up{job="teampulse"}')[0]["value"][1] == "1"
        # only bounded, team-level labels reach Prometheus
        series = json.loads(
            http_get(
                f"http://127.0.0.1:{port}/api/v1/series?match[]=" + urllib.parse.quote('{job="teampulse"}')
            )
        )
        labels = {k for s in series["data"] for k in s}
        assert labels <= {
            "__name__",
            "job",
            "instance",
            "team",
            "source",
            "version",
            "le",
            "state",
            "component",
            "kind",
            "notifier",
            "runbook_url",  # teampulse_links_info: one series, no person in it
            "dashboards_url",
        }
        # Prometheus asked for OpenMetrics and got it: its metadata names counters by their
        # family (the 0.0.4 text format would have named them with _total)
        meta = json.loads(http_get(f"http://127.0.0.1:{port}/api/v1/metadata"))["data"]
        assert meta["teampulse_leadership_actions"][0]["type"] == "counter"
        assert "teampulse_leadership_actions_total" not in meta
    finally:
        try:
            urllib.request.urlopen(
                urllib.request.Request(f"http://127.0.0.1:{port}/-/quit", method="POST"), timeout=5
            )
        except OSError:
            prom.terminate()
        prom.wait(timeout=20)


def test_team_page_and_health(served: str) -> None:
    page = http_get(served + "/").decode()
    assert "payments" in page
    # the crunching team is flagged (the page's own wording is tested in test_page_browser.py)
    assert "Needs attention" in page or "Pressure rose without a leadership action" in page
    assert not re.search(r"[\w.+-]+@[\w-]+\.\w", page)  # no e-mail address (CSS has @media)
    health = json.loads(http_get(served + "/healthz"))
    assert health["status"] == "ok" and set(health["sources"]) == {"jira"}
    assert health["sources"]["jira"]["up"] is True
