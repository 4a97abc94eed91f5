"""End to end: a team's pressure alert reaches a receiver through a real Alertmanager, then resolves.

Jira emulator, calendars and survey of the demo organisation -> `teampulse serve` (interval 2s)
with the "alertmanager" notifier -> Alertmanager -> this test's webhook receiver. When the shipped rules file exists, a
real Prometheus also scrapes serve, evaluates dashboards/rules/teampulse.rules.yml and sends to
the same Alertmanager, and the rule-based alert must arrive and resolve the same way. One
leadership action, recorded through the actions API, resolves both.

Alertmanager judges an alert by its own wall clock (an alert whose `endsAt` has passed is
resolved, and the notifier stamps `endsAt` from serve's clock), so serve runs on the real clock
and the organisation is generated up to the real time (support.wall_clock_now). It is the demo
organisation that tests/test_dates.py checks at every weekday, a month end and the DST changes:
the verdict this test relies on (payments fires) does not depend on the day it runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import wall_clock_now
from teampulse_demo.demo import TOKEN_ENV, write_demo_config
from teampulse_demo.people import write_people_data
from teampulse_jira_emulator import EmulatorServer, generate_organisation

from teampulse.testing import free_port, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "dashboards" / "rules" / "teampulse.rules.yml"
ALERT = "ProcessPressureWithoutLeadership"
API_TOKEN = "e2e-actions-token"


class Receiver:
    """Alertmanager's webhook_config target: keeps every alert of every notification."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with receiver.cond:
                    receiver.alerts.extend(body["alerts"])
                    receiver.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float,
        what: str,
        diagnose: Callable[[], str],
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for alert in self.alerts:
                    if predicate(alert):
                        return alert
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(a["labels"], a["status"]) for a in self.alerts]
                    raise AssertionError(
                        f"{what} did not reach the receiver within {timeout:g} s; it got {seen}. {diagnose()}"
                    )
                self.cond.wait(min(left, 0.5))


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        return bytes(r.read())


def _ready(url: str) -> bool:
    return _get(url) is not None


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _start(stack: ExitStack, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stack.callback(_stop, proc)
    return proc


def _stderr(proc: subprocess.Popen[str]) -> str:
    """The last lines a stopped (or still running) process wrote, for failure messages."""
    if proc.poll() is None:
        return "(still running)"
    return (proc.stderr.read() if proc.stderr else "")[-1500:]


def _team_alert(team: str, status: str, from_rules: bool) -> Callable[[dict[str, Any]], bool]:
    def match(alert: dict[str, Any]) -> bool:
        labels = alert["labels"]
        # Prometheus adds the scrape's job and instance; the notifier sends the engine's labels only.
        return (
            labels.get("alertname") == ALERT
            and labels.get("team") == team
            and alert["status"] == status
            and ("job" in labels) == from_rules
        )

    return match


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as s:
        yield s


def test_pressure_alert_fires_and_resolves_through_alertmanager(tmp_path: Path, stack: ExitStack) -> None:
    started = time.monotonic()
    am_binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert am_binary, "make test installs prometheus-alertmanager"
    try:
        import teampulse_notifiers  # noqa: F401
    except ImportError:
        pytest.fail("the notifier plugin is not installed: pip install -e plugins/teampulse-notifiers")

    receiver = Receiver()
    stack.callback(receiver.close)

    # Alertmanager: everything to the receiver, resolutions included, no waiting.
    am_port = free_port()
    (tmp_path / "am.yml").write_text(
        "route:\n  receiver: test\n  group_by: ['alertname', 'team', 'job']\n"
        "  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n"
        f"receivers:\n  - name: test\n    webhook_configs:\n      - url: '{receiver.url}'\n"
        "        send_resolved: true\n"
    )
    am = _start(
        stack,
        [
            am_binary,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
    )
    am_url = f"http://127.0.0.1:{am_port}"
    wait_until(lambda: _ready(am_url + "/-/ready"), 15, "Alertmanager to be ready")

    # The Jira emulator, calendars and survey of the demo organisation (`teampulse demo`'s,
    # seed 7), up to the real time; payments is the crunching team.
    org = generate_organisation(seed=7, now=wall_clock_now())
    assert "payments" in [t.name for t in org.teams]
    write_people_data(org, tmp_path, org.now)
    emulator = stack.enter_context(EmulatorServer(org.dataset, mode="cloud"))
    serve_port = free_port()
    serve_url = f"http://127.0.0.1:{serve_port}"
    config = write_demo_config(tmp_path, emulator.url, list(org.teams), interval="2s", people=True)
    with config.open("a") as f:
        f.write(
            f'\n[notifiers.am]\nplugin = "alertmanager"\nurl = "{am_url}"\n'
            f'generator_url = "{serve_url}/"\nresend_seconds = 5\n'
        )
    env = dict(
        os.environ,
        TEAMPULSE_PSEUDONYM_KEY="e2e-key-0123456789abc",
        TEAMPULSE_API_TOKEN=API_TOKEN,
        **{TOKEN_ENV: "t"},
    )
    env.pop("TEAMPULSE_PLUGINS", None)
    serve = _start(
        stack,
        [
            sys.executable,
            "-m",
            "teampulse.cli",
            "serve",
            "--config",
            str(config),
            "--listen",
            f"127.0.0.1:{serve_port}",
        ],
        env,
    )
    wait_until(
        lambda: b'teampulse_pressure_unmatched{team="payments"} 1.0' in _get(serve_url + "/metrics"),
        30,
        "serve to collect and show payments' pressure unmatched",
    )

    procs = {"serve": serve, "Alertmanager": am}

    def diagnose() -> str:
        return "; ".join(f"{name} stderr: {_stderr(proc)}" for name, proc in procs.items())

    # Prometheus with the shipped rules, when they exist (`for` shortened to 0s for a test).
    with_rules = RULES.is_file()
    if with_rules:
        rules = yaml.safe_load(RULES.read_text())
        for group in rules["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["for"] = "0s"
        (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
        prom_port = free_port()
        (tmp_path / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "rule_files: ['rules.yml']\n"
            f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n"
            "scrape_configs:\n  - job_name: teampulse\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{serve_port}']\n"
        )
        procs["Prometheus"] = _start(
            stack,
            [
                shutil.which("prometheus") or "prometheus",
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
        )

    # Firing: the engine's alert, sent by the notifier.
    fired = receiver.wait_for(
        _team_alert("payments", "firing", False), 20, "the notifier's firing alert", diagnose
    )
    assert fired["labels"] == {"alertname": ALERT, "team": "payments", "severity": "warning"}
    notes = fired["annotations"]
    assert notes["summary"] == "Process pressure on team payments rose without a leadership action"
    assert notes["description"].startswith("Process pressure on payments is ")
    assert "Answers since the onset: 0" in notes["description"]
    assert notes["runbook_url"].endswith("docs/runbook.md#processpressurewithoutleadership")
    assert fired["generatorURL"] == serve_url + "/"
    assert "@" not in json.dumps(fired)  # nobody's address reaches an alert

    if with_rules:
        ruled = receiver.wait_for(
            _team_alert("payments", "firing", True), 25, "the Prometheus rule's firing alert", diagnose
        )
        assert ruled["labels"]["severity"] == "warning" and ruled["labels"]["job"] == "teampulse"
        assert ruled["annotations"]["summary"] == notes["summary"]
        assert ruled["annotations"]["description"].startswith("Process pressure on payments is 0.")
        assert ruled["annotations"]["runbook_url"] == notes["runbook_url"]

    # A leadership action clears it: the next cycle resolves the engine's alert and the metric.
    request = urllib.request.Request(
        serve_url + "/api/v1/actions",
        data=json.dumps({"team": "payments", "kind": "one_on_one", "note": "agreed a plan"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.status == 201

    resolved = receiver.wait_for(
        _team_alert("payments", "resolved", False), 20, "the notifier's resolution", diagnose
    )
    assert resolved["startsAt"] == fired["startsAt"]
    assert resolved["annotations"]["runbook_url"] == notes["runbook_url"]
    if with_rules:
        receiver.wait_for(
            _team_alert("payments", "resolved", True), 20, "the Prometheus rule's resolution", diagnose
        )
    held = json.loads(_get(am_url + "/api/v2/alerts?active=true"))
    assert not [
        a for a in held if a["labels"].get("team") == "payments" and a["labels"]["alertname"] == ALERT
    ]
    assert time.monotonic() - started < 60, f"took {time.monotonic() - started:.0f} s"
