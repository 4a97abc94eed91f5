"""`/healthz` of the real `teampulse serve`: a source that failed or skipped input shows.

The sources' state is in the body; the status code stays 200 once serving ("degraded" is not
dead: a liveness probe must not restart teampulse over a bad calendar file).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import KEY, NOW, free_port, start_serve, wait_until

CALENDARS = Path(__file__).resolve().parents[1] / "plugins/teampulse-calendar/tests/data/team"
CONFIG = """
[settings]
state = "state.db"
interval = "1s"

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"]

[sources.calendars]
plugin = "ics"
paths = ["calendars/*.ics"]

[sources.pulse]
plugin = "survey-csv"
paths = ["pulse.csv"]
[sources.pulse.questions]
q_support = "support"
"""
GOOD_ROW = "2026-03-12T09:00:00Z,payments,4\n"
# A name typed where a number belongs: skipped, and never repeated anywhere.
BAD_ROW = "2026-03-12T09:05:00Z,payments,ask Bob Miller\n"


def _health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    (tmp_path / "teampulse.toml").write_text(CONFIG)
    (tmp_path / "pulse.csv").write_text("submitted_at,team,q_support\n" + GOOD_ROW + BAD_ROW)
    port = free_port()
    env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY)
    proc = start_serve(tmp_path / "teampulse.toml", port, env, at=NOW)
    try:
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_healthz_shows_a_failed_source_and_skipped_input_then_recovers(served: tuple[str, Path]) -> None:
    url, folder = served
    wait_until(lambda: all(s["last_success"] or s["last_error"] for s in _health(url)[1]["sources"].values()),
               what="both sources to have run")  # fmt: skip
    status, body = _health(url)
    assert status == 200, body
    assert body["status"] == "degraded"
    calendars, pulse = body["sources"]["calendars"], body["sources"]["pulse"]
    assert calendars["up"] is False and calendars["consecutive_failures"] >= 1
    assert calendars["last_error"] == 'paths "calendars/*.ics": no file matches; no calendar read'
    assert calendars["last_success"] is None
    assert pulse == pulse | {"up": True, "problems": 1, "consecutive_failures": 0, "last_error": None}
    assert pulse["last_success"]
    assert "Bob" not in json.dumps(body)

    # Both inputs fixed: the next collections make it ok again, without a restart.
    shutil.copytree(CALENDARS, folder / "calendars")
    (folder / "pulse.csv").write_text("submitted_at,team,q_support\n" + GOOD_ROW)

    def ok() -> bool:
        return _health(url)[1]["status"] == "ok"

    wait_until(ok, timeout=60, what="/healthz to say ok")
    status, body = _health(url)
    assert status == 200
    assert all(s["up"] and s["problems"] == 0 for s in body["sources"].values()), body
