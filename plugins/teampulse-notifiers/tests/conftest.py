"""Fixtures: a recording HTTP receiver on loopback and a real Alertmanager routing to it."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from teampulse import AlertState
from teampulse.testing import free_port


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers with `statuses` in turn (then 200)."""

    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    answer: bytes = b"{}"
    cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, predicate: Callable[[Delivery], bool], timeout: float, what: str) -> Delivery:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for d in self.deliveries:
                    if predicate(d):
                        return d
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [d.body[:300] for d in self.deliveries]
                    raise AssertionError(f"no delivery with {what} within {timeout:g} s; got {seen}")
                self.cond.wait(left)

    def count(self) -> int:
        with self.cond:
            return len(self.deliveries)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.cond:
                status = rec.statuses.pop(0) if rec.statuses else 200
                rec.deliveries.append(Delivery(self.path, dict(self.headers.items()), body))
                rec.cond.notify_all()
            answer = rec.answer if status < 300 else b"no such route: bad things"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@dataclass
class Alertmanager:
    url: str
    proc: subprocess.Popen[bytes]

    def alerts(self, query: str = "") -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts{query}", timeout=5) as r:
            return list(json.loads(r.read()))


def am_config(webhook_url: str) -> str:
    return f"""\
route:
  receiver: test
  group_by: ['alertname', 'team', 'source']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: '{webhook_url}'
        send_resolved: true
"""


def start_alertmanager(tmp_path: Path, webhook_url: str, extra: Sequence[str] = ()) -> Alertmanager:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert binary, "make test installs prometheus-alertmanager"
    folder = tmp_path / f"am-{free_port()}"
    folder.mkdir()
    (folder / "am.yml").write_text(am_config(webhook_url))
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'am.yml'}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    am = Alertmanager(f"http://127.0.0.1:{port}", proc)
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(am.url + "/-/ready", timeout=1) as r:
                if r.status == 200:
                    return am
        except urllib.error.HTTPError as exc:
            if exc.code == 401:  # up, behind basic auth
                return am
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_alertmanager(am)
            err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            raise AssertionError(f"Alertmanager did not become ready on {am.url}: {err}")
        time.sleep(0.1)


def stop_alertmanager(am: Alertmanager) -> None:
    if am.proc.poll() is None:
        am.proc.terminate()
        try:
            am.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            am.proc.kill()
            am.proc.wait(timeout=5)


@pytest.fixture
def start_am(tmp_path: Path, receiver: Receiver) -> Iterator[Callable[..., Alertmanager]]:
    """start_am(*extra_args): a fresh Alertmanager routing to the receiver's /am; stopped after the test."""
    started: list[Alertmanager] = []

    def start(*extra: str) -> Alertmanager:
        am = start_alertmanager(tmp_path, receiver.url + "/am", extra)
        started.append(am)
        return am

    yield start
    for am in started:
        stop_alertmanager(am)


@pytest.fixture
def alertmanager(start_am: Callable[..., Alertmanager]) -> Alertmanager:
    return start_am()


def _pressure(firing: bool, team: str = "payments", since: str = "2026-03-14T09:00:00Z") -> AlertState:
    """A ProcessPressureWithoutLeadership state as the engine makes it."""
    return AlertState(
        alert="ProcessPressureWithoutLeadership",
        labels={"team": team},
        severity="warning",
        firing=firing,
        since=since if firing else None,
        summary=f"Process pressure on team {team} rose without a leadership action"
        if firing
        else f"Process pressure on team {team} is matched or normal",
        description=f"Process pressure on {team} is 0.71 against a baseline of 0.20.",
        evidence={"pressure": 0.71, "baseline": 0.2, "components": {"wip_per_person": {"value": 3.1}}},
    )


def _source_down(firing: bool) -> AlertState:
    return AlertState(
        alert="TeampulseSourceDown",
        labels={"source": "jira"},
        severity="critical",
        firing=firing,
        since="2026-03-16T10:00:00Z" if firing else None,
        summary="teampulse source jira is failing" if firing else "teampulse source jira is up",
        description="Source jira has failed 4 times in a row.",
        evidence={"consecutive_failures": 4},
    )


class Clock:
    """A settable clock for the notifiers."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def pressure() -> Callable[..., AlertState]:
    """Build a ProcessPressureWithoutLeadership state: pressure(firing, team=..., since=...)."""
    return _pressure


@pytest.fixture
def source_down() -> Callable[[bool], AlertState]:
    """Build a TeampulseSourceDown state: source_down(firing)."""
    return _source_down


@pytest.fixture
def clock() -> Clock:
    return Clock()
