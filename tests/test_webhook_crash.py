"""kill -9 during a webhook burst: every delivery `serve` acknowledged (202) is in the store.

A process crash is what a test can cause; a power loss cannot be simulated here. The store
commits acknowledged writes with `synchronous=FULL` (the WAL is fsynced before the reply), which
is what makes "acknowledged means stored" hold across a power loss too (SQLite's documentation
of WAL mode); this test checks the process-crash half of that promise through the black box.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import free_port, teampulse_at

from teampulse.pseudonym import Pseudonymiser

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SECRET = "whsec-crash-test-secret"
KEY = "crash-test-key-0123456789abcdef"
SENDERS = 4
KILL_AFTER = 120  # acknowledged deliveries before the kill; the senders go on until it lands
CONFIG = """
[settings]
state = "state.db"
timezone = "UTC"

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com", "chen@example.com"]

[sources.pulse-hook]
plugin = "survey-webhook"
secret_env = "SURVEY_WEBHOOK_SECRET"
scale = [1, 5]
[sources.pulse-hook.questions]
support = "support"
"""


def _post(url: str, ident: str) -> int | None:
    """Deliver one signed response; return the status, or None when the connection broke."""
    body = json.dumps(
        {
            "id": ident,
            "submitted_at": (NOW - timedelta(minutes=1)).isoformat(),
            "team": "payments",
            "answers": {"support": 4},
        }
    ).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", "X-Teampulse-Signature": signature}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def test_kill_9_during_a_webhook_burst_loses_no_acknowledged_delivery(tmp_path: Path) -> None:
    (tmp_path / "teampulse.toml").write_text(CONFIG)
    port = free_port()
    proc = subprocess.Popen(
        teampulse_at(
            NOW, "serve", "--config", str(tmp_path / "teampulse.toml"), "--listen", f"127.0.0.1:{port}"
        ),
        env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY, SURVEY_WEBHOOK_SECRET=SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/api/v1/webhooks/pulse-hook"
    acknowledged: list[str] = []
    tried = 0
    lock = threading.Lock()
    enough = threading.Event()
    try:
        assert proc.stdout is not None and f":{port}/" in proc.stdout.readline()
        # Until the first collection has handed the source its teams, serve answers 503.
        while _post(url, "warm-up") != 202:
            pass
        acknowledged.append("warm-up")

        def sender(n: int) -> None:
            nonlocal tried
            k = 0
            while True:
                ident = f"s{n}-{k}"
                k += 1
                with lock:
                    tried += 1
                status = _post(url, ident)
                if status is None:
                    return  # the server is gone
                assert status == 202, status
                with lock:
                    acknowledged.append(ident)
                    if len(acknowledged) >= KILL_AFTER:
                        enough.set()

        threads = [threading.Thread(target=sender, args=(n,), daemon=True) for n in range(SENDERS)]
        for t in threads:
            t.start()
        assert enough.wait(60), "the burst did not reach the kill point"
        os.kill(proc.pid, signal.SIGKILL)  # mid-burst: other deliveries are in flight
        proc.wait(timeout=10)
        for t in threads:
            t.join(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    db = sqlite3.connect(tmp_path / "state.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = {row[0] for row in db.execute("SELECT id FROM signals WHERE source = 'pulse-hook'")}
    finally:
        db.close()
    pseudonym = Pseudonymiser(KEY.encode())
    lost = [a for a in acknowledged if pseudonym.ident(f"webhook|{a}") not in ids]
    print(f"webhook burst, kill -9: tried {tried + 1}, acknowledged {len(acknowledged)}, lost {len(lost)}")
    assert len(acknowledged) >= KILL_AFTER
    assert lost == []
