"""The team page of `teampulse demo`, rendered by headless Chromium.

The demo runs with its clock at the fixed time NOW (its organisation is generated up to it):
only Chromium reads the page, and it does not judge the time the page was computed for.
Set TEAMPULSE_SCREENSHOTS=docs to write the screenshots into docs/ (see docs/page.md).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import http_get, teampulse_at, wait_until

CHROMIUM = shutil.which("chromium-headless-shell") or shutil.which("chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic", "--enable-logging=stderr", "--v=0"]  # fmt: skip
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
TOKEN = "page-test-token"
NOTE = "Thanked them for the weekend release"
ROOT = Path(__file__).resolve().parent.parent


def _chromium(url: str, tmp_path: Path, *extra: str) -> tuple[str, str]:
    assert CHROMIUM, "make test installs chromium-headless-shell"
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *extra, url],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return result.stdout, result.stderr


GRAFANA = "http://grafana.example:3000"


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def _pixels(png: Path) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB or RGBA PNG (what Chromium writes) into rows of RGB(A) bytes."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, channels, rows


def _count(png: Path, rgb: tuple[int, int, int]) -> int:
    """Count the pixels of exactly this colour."""
    width, channels, rows = _pixels(png)
    want = bytes(rgb)
    return sum(1 for row in rows for x in range(width) if row[x * channels : x * channels + 3] == want)


def _keep(shot: Path, name: str) -> None:
    """Copy a screenshot into the folder TEAMPULSE_SCREENSHOTS names (docs/ to update the docs)."""
    folder = os.environ.get("TEAMPULSE_SCREENSHOTS")
    if folder:
        target = Path(folder) if Path(folder).is_absolute() else ROOT / folder
        shutil.copyfile(shot, target / name)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if k != "TEAMPULSE_PSEUDONYM_KEY"}
    env["TEAMPULSE_API_TOKEN"] = TOKEN
    proc = subprocess.Popen(
        teampulse_at(NOW, "demo", "--port", "0", "--dir", str(folder), "--dashboards-url", GRAFANA),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+/", line)
    assert match, line + (proc.stderr.read() if proc.stderr else "")
    url = match.group(0)
    # A recognition with a note for the calm team: the page must list it without the note.
    request = urllib.request.Request(
        url + "api/v1/actions",
        data=json.dumps({"team": "data", "kind": "recognition", "note": NOTE}).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 201
    wait_until(lambda: b"recognition (Wed 25 Nov)" in http_get(url), 60, "the action on the page")
    yield url, folder
    proc.terminate()
    proc.wait(timeout=20)


def _section(dom: str, team: str) -> str:
    start = dom.index(f'id="team-{team}"')
    return dom[start : dom.index("</section>", start)]


def _svg(section: str, kind: str) -> str:
    start = section.index(f'<svg class="chart {kind}"')
    return section[start : section.index("</svg>", start)]


def _points(svg: str, css: str) -> int:
    return sum(len(p.split()) for p in re.findall(rf'<polyline class="{css}" points="([^"]+)"', svg))


def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The check below can fail: a page with a script error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('x'); missing();</script></body></html>")
    _, log = _chromium(page.as_uri(), tmp_path, "--dump-dom")
    assert _console_errors(log)


def test_pixel_count_can_fail(tmp_path: Path) -> None:
    """The colour count below reads real pixels: a page without the colour has none of it."""
    page = tmp_path / "plain.html"
    page.write_text('<html><body style="background:#fff"><p style="color:#000">nothing red</p></body></html>')
    shot = tmp_path / "plain.png"
    _chromium(page.as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=400,300")
    assert _count(shot, (207, 34, 46)) == 0 and _count(shot, (255, 255, 255)) > 100_000


def test_team_page_puts_the_team_needing_attention_first(demo: tuple[str, Path], tmp_path: Path) -> None:
    dom, log = _chromium(demo[0], tmp_path, "--dump-dom")
    assert _console_errors(log) == []
    assert "<script" not in dom  # the page works without JavaScript
    order = re.findall(r'<section class="team (\w+)" id="team-(\w+)"', dom)
    assert order[0] == ("attention", "payments")
    assert [css for css, _ in order] == sorted(
        (css for css, _ in order), key=["attention", "watch", "answered", "learning", "calm"].index
    )
    payments = _section(dom, "payments")
    assert re.search(
        r"Under pressure since \w{3} \d{1,2} \w{3} \(\d+ days\), with no leadership answer yet\.", payments
    )
    assert "What to do:</b> Book 1:1s with the people carrying the load" in payments
    assert "and answered: deadline moved" in _section(dom, "platform")
    assert re.search(r"<p class=\"summary\">4 teams: 2 need attention, .*2 alerts firing\.</p>", dom)
    assert re.search(r"\d of \d people not on leave had a 1:1 in the last 14 days\.", payments)
    # plain days, no timestamps, no command lines, nobody named, no note
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d\d:\d\d:\d\d", dom)
    assert "alert(s)" not in dom and "teampulse action" not in dom and "`" not in dom
    assert not re.search(r"[\w.+-]+@[\w-]+\.", dom)
    assert NOTE not in dom and "weekend" not in dom
    assert "recognition (Wed 25 Nov)." in _section(dom, "data")
    # the demo's teams live in several zones; each section says whose days it shows
    assert "Days are in the team's time zone, Europe/Berlin; as of Wed 25 Nov." in payments


def test_trends_are_drawn_for_sixty_days(demo: tuple[str, Path], tmp_path: Path) -> None:
    dom, _ = _chromium(demo[0], tmp_path, "--dump-dom")
    for team in ("payments", "mobile", "platform", "data"):
        section = _section(dom, team)
        pressure, support = _svg(section, "pressure"), _svg(section, "support")
        assert 'data-days="60"' in pressure and 'role="img"' in pressure
        judged = _points(pressure, "pressure")
        band = re.findall(r'<polygon class="band" points="([^"]+)"', pressure)
        learning = re.findall(r'<rect class="learn"[^>]*width="([\d.]+)"', pressure)
        # the demo's history is shorter than 60 days plus the reference window: its first days are learning
        assert 30 < judged < 60 and learning and "learning its normal" in pressure
        assert band and sum(len(b.split()) for b in band) == 2 * judged
        assert _points(support, "support") == 60
        ticks = re.findall(r'<text class="tick"[^>]*>(\w{3} \d{1,2} \w{3})</text>', pressure)
        assert len(ticks) == 4 and ticks[-1] == "Wed 25 Nov"
        for label in (">0<", ">0.5<", ">1<", ">pressure<"):
            assert label in pressure
        title = re.search(r"<title[^>]*>([^<]+)</title>", pressure)
        assert title and title.group(1).startswith(f"Process pressure of {team}, ")
    assert "Out of its normal since Tue 17 Nov." in _svg(_section(dom, "payments"), "pressure")


def test_each_team_links_to_its_dashboard(demo: tuple[str, Path], tmp_path: Path) -> None:
    dom, _ = _chromium(demo[0], tmp_path, "--dump-dom")
    links = re.findall(r'<a class="dash" href="([^"]+)"', dom)
    teams = re.findall(r'data-team="(\w+)"', dom)
    assert len(teams) == 4 and links == [f"{GRAFANA}/d/teampulse-team/?var-team={t}" for t in teams]


def test_one_team_page_and_an_unknown_team(demo: tuple[str, Path], tmp_path: Path) -> None:
    dom, _ = _chromium(demo[0] + "?team=platform", tmp_path, "--dump-dom")
    assert re.findall(r'id="team-(\w+)"', dom) == ["platform"]
    assert "0 alerts firing" in dom  # platform's own: the others' alerts are not counted here
    with pytest.raises(urllib.error.HTTPError) as missing:
        http_get(demo[0] + "?team=nobody")
    assert missing.value.code == 404


def test_screenshots(demo: tuple[str, Path], tmp_path: Path) -> None:
    shot = tmp_path / "team-page.png"
    _, log = _chromium(
        demo[0], tmp_path, f"--screenshot={shot}", "--window-size=1200,1500", "--hide-scrollbars"
    )
    assert _console_errors(log) == []
    # the charts are painted: the pressure line, the normal band and the support line in their colours
    assert _count(shot, (207, 34, 46)) > 500  # pressure (and the red badges and borders)
    assert _count(shot, (218, 251, 225)) > 5_000  # the normal band
    assert _count(shot, (9, 105, 218)) > 300  # support
    _keep(shot, "team-page.png")
    detail = tmp_path / "team-page-detail.png"
    _chromium(demo[0] + "?team=payments", tmp_path, f"--screenshot={detail}", "--window-size=1000,820", "--hide-scrollbars")  # fmt: skip
    assert _count(detail, (218, 251, 225)) > 5_000
    _keep(detail, "team-page-detail.png")
