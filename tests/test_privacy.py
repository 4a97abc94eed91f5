"""Privacy by construction: no e-mail or name of the demo's people in metrics, logs or the store.

The demo runs with its clock at the fixed time NOW, so it builds the same organisation as the
test does, whatever the day.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from support import http_get, teampulse_at
from teampulse_jira_emulator import generate_organisation

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday


def test_demo_leaks_no_email_or_name(tmp_path: Path) -> None:
    org = generate_organisation(seed=7, now=NOW)  # the demo's own organisation
    folder = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k != "TEAMPULSE_PSEUDONYM_KEY"}
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            teampulse_at(NOW, "-vv", "demo", "--port", "0", "--dir", str(folder)),
            stdout=subprocess.PIPE, stderr=log, text=True, env=env,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            url = re.search(r"http://127\.0\.0\.1:\d+/", line)
            assert url, line + log_path.read_text()
            base = url.group(0)
            exposed = {
                "metrics": http_get(base + "metrics"),
                "page": http_get(base),
                "teams": http_get(base + "api/v1/teams"),
                "alerts": http_get(base + "api/v1/alerts"),
            }
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    exposed["log"] = log_path.read_bytes() + (proc.stdout.read().encode() if proc.stdout else b"")
    store = b"".join(p.read_bytes() for p in folder.glob("demo.db*"))
    assert len(store) > 10_000  # the store really was written
    exposed["store"] = store
    assert b"teampulse_process_pressure_ratio" in exposed["metrics"]

    needles: set[bytes] = set()
    for email, name in org.people.items():
        needles |= {email.encode(), email.split("@")[0].encode(), name.encode()}
        needles |= {part.encode() for part in name.split() if len(part) >= 6}
    assert len(needles) > 20
    for where, blob in exposed.items():
        lowered = blob.lower()
        found = sorted(n.decode() for n in needles if n.lower() in lowered)
        assert not found, f"{where} contains {found[:5]}"
    # and no e-mail address at all anywhere in what is exposed
    for where in ("metrics", "page", "teams", "alerts", "log"):
        assert not re.search(rb"[\w.+-]+@[\w-]+\.[\w.]+", exposed[where]), where
