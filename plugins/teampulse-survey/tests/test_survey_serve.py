"""survey-webhook through the real `teampulse serve`: signed deliveries in, idempotent storage.

serve's clock starts at the fixed time NOW (support.teampulse_at): the responses are dated
just before it and the signed timestamps are NOW (fresh) or NOW - 600 s (stale), whatever the day.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import teampulse_at

from teampulse.testing import free_port

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
SECRET = "whsec-serve-test-secret"
KEY = "test-key-0123456789abcdef"
CONFIG = """
[settings]
state = "state.db"
timezone = "UTC"
min_group_size = 2

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com", "chen@example.com", "dana@example.com"]

[sources.pulse-hook]
plugin = "survey-webhook"
secret_env = "SURVEY_WEBHOOK_SECRET"
scale = [1, 5]
invert = ["workload"]
[sources.pulse-hook.questions]
support = "support"
load = "workload"
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    (tmp_path / "teampulse.toml").write_text(CONFIG)
    port = free_port()
    proc = subprocess.Popen(
        teampulse_at(
            NOW, "serve", "--config", str(tmp_path / "teampulse.toml"), "--listen", f"127.0.0.1:{port}"
        ),
        env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY, SURVEY_WEBHOOK_SECRET=SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f":{port}/" in line, line + (proc.stderr.read() if proc.stderr else "")
        yield f"http://127.0.0.1:{port}", tmp_path / "state.db"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def signed(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    message = f"{timestamp}.".encode() + body if timestamp else body
    headers = {
        "X-Teampulse-Signature": "sha256=" + hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    }
    if timestamp:
        headers["X-Teampulse-Timestamp"] = timestamp
    return headers


def deliver(url: str, payload: Any, timestamp: str | None = None) -> tuple[int, dict[str, Any]]:
    body = json.dumps(payload).encode()
    deadline = time.time() + 15
    while True:
        status, reply = post(url, body, signed(body, timestamp))
        # 503 until the first collection has handed the source the configured teams.
        if status != 503 or time.time() > deadline:
            return status, reply
        time.sleep(0.1)


def stored(db: Path) -> list[tuple[str, str, str]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT id, team, attrs FROM signals WHERE source = 'pulse-hook' ORDER BY id"
        ).fetchall()
    finally:
        con.close()


def teams(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + "/api/v1/teams", timeout=10) as r:
        return {t["team"]: t for t in json.loads(r.read())}


def test_survey_webhook_through_serve(server: tuple[str, Path]) -> None:
    base, db = server
    url = base + "/api/v1/webhooks/pulse-hook"
    at = (NOW - timedelta(minutes=1)).isoformat()
    first = {
        "id": "resp-1",
        "submitted_at": at,
        "team": "payments",
        "answers": {"support": 4, "load": 2, "comment": "please stop the Friday deploys"},
    }

    assert deliver(url, first) == (202, {"stored": 1})
    # A sender's retry of the same delivery is stored once.
    assert deliver(url, first) == (202, {"stored": 1})
    rows = stored(db)
    # stored once, under a keyed hash of "webhook|resp-1" (ids never reach the store as sent)
    assert [r[1] for r in rows] == ["payments"] and rows[0][0].startswith("i_")
    assert json.loads(rows[0][2]) == {"scores": {"support": 0.75, "workload": 0.75}}

    body = json.dumps(first).encode()
    status, reply = post(url, body, {"X-Teampulse-Signature": "sha256=" + "0" * 64})
    assert (status, reply) == (401, {"error": "bad signature"})
    status, _ = post(url, body, {})
    assert status == 401
    status, reply = post(url, b"{oops", signed(b"{oops"))
    assert (status, reply) == (400, {"error": "the body is not JSON"})
    assert deliver(url, first | {"team": "marketing"}) == (400, {"error": "team: unknown team 'marketing'"})
    assert deliver(url, first | {"answers": {"support": 9}}) == (
        400,
        {"error": "answers.support: is outside the scale 1..5"},
    )
    assert len(stored(db)) == 1

    # With one response the team's survey scores stay hidden (min_group_size = 2).
    deadline = time.time() + 10
    while teams(base)["payments"]["people"]["survey_responses"] != 1 and time.time() < deadline:
        time.sleep(0.2)
    people = teams(base)["payments"]["people"]
    assert people["survey_responses"] == 1 and people["survey_scores"] is None

    # The timestamped variant: f"{timestamp}.{body}" is signed.
    second = {"id": "resp-2", "submitted_at": at, "team": "Payments", "answers": {"support": 2, "load": 5}}
    # serve's clock started at NOW seconds ago: well within the 300 s the signature may be old
    assert deliver(url, second, timestamp=str(int(NOW.timestamp()))) == (202, {"stored": 1})
    stale = str(int(NOW.timestamp()) - 600)
    assert deliver(url, second, timestamp=stale)[0] == 401
    assert len({r[0] for r in stored(db)}) == 2  # two responses, each stored once

    deadline = time.time() + 10
    while teams(base)["payments"]["people"]["survey_responses"] != 2 and time.time() < deadline:
        time.sleep(0.2)
    people = teams(base)["payments"]["people"]
    assert people["survey_responses"] == 2
    assert people["survey_scores"] == {"support": 0.5, "workload": 0.375}

    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        metrics = r.read()
    assert b"Friday" not in metrics
    for f in db.parent.glob("state.db*"):  # the database and its journal, if any
        assert b"Friday" not in f.read_bytes()
