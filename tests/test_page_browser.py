"""The team page of `teampulse demo`, rendered by headless Chromium.

The demo runs with its clock at the fixed time NOW (its organisation is generated up to it):
only Chromium reads the page, and it does not judge the time the page was computed for.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import teampulse_at

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic", "--enable-logging=stderr", "--v=0"]  # fmt: skip
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday


def _chromium(url: str, tmp_path: Path, *extra: str) -> tuple[str, str]:
    assert CHROMIUM, "make test installs chromium-headless-shell"
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *extra, url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return result.stdout, result.stderr


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if k != "TEAMPULSE_PSEUDONYM_KEY"}
    proc = subprocess.Popen(
        teampulse_at(NOW, "demo", "--port", "0", "--dir", str(folder)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert match, line + (proc.stderr.read() if proc.stderr else "")
    yield match.group(0)
    proc.terminate()
    proc.wait(timeout=20)


def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The check below can fail: a page with a script error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('x'); missing();</script></body></html>")
    _, log = _chromium(page.as_uri(), tmp_path, "--dump-dom")
    assert _console_errors(log)


def test_team_page_renders_the_firing_team_without_console_errors(demo: str, tmp_path: Path) -> None:
    dom, log = _chromium(demo, tmp_path, "--dump-dom")
    assert _console_errors(log) == []
    assert '<section class="team alert" id="team-payments"' in dom
    assert "Pressure rose without a leadership action" in dom
    assert 'id="team-platform"' in dom and "answered by" in dom
    # the firing team comes first
    assert dom.index('id="team-payments"') < dom.index('id="team-data"')
    assert "@demo.example" not in dom  # nobody named


def test_screenshot(demo: str, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    _, log = _chromium(demo, tmp_path, f"--screenshot={shot}", "--window-size=1200,1400", "--hide-scrollbars")
    assert shot.exists() and shot.stat().st_size > 10_000
    assert _console_errors(log) == []
