"""`teampulse serve`: the actions API, TLS and basic auth from --web-config."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from support import BASIC, KEY, free_port, start_serve


def _start(
    tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    config = tmp_path / "teampulse.toml"
    config.write_text(BASIC)
    port = free_port()
    proc = start_serve(
        config, port, dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY, **(env or {})), *extra, quiet=False
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert f":{port}/" in line, line + (proc.stderr.read() if proc.stderr else "")
    return proc, port


def _request(url: str, data: dict | None = None, headers: dict[str, str] | None = None, context=None):  # type: ignore[no-untyped-def]
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[str]:
    proc, port = _start(tmp_path, env={"TEAMPULSE_API_TOKEN": "s3cret-token"})
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_actions_api_records_an_action(api: str) -> None:
    status, _ = _request(api + "/api/v1/actions", {"team": "payments", "kind": "one_on_one"})
    assert status == 401
    status, _ = _request(
        api + "/api/v1/actions", {"team": "payments", "kind": "one_on_one"}, {"Authorization": "Bearer wrong"}
    )
    assert status == 401
    status, body = _request(
        api + "/api/v1/actions",
        {"team": "nobody", "kind": "one_on_one"},
        {"Authorization": "Bearer s3cret-token"},
    )
    assert status == 400 and b"unknown team" in body
    status, body = _request(
        api + "/api/v1/actions",
        {"team": "payments", "kind": "vibes"},
        {"Authorization": "Bearer s3cret-token"},
    )
    assert status == 400 and b"kind must be one of" in body
    status, body = _request(
        api + "/api/v1/actions",
        {"team": "payments", "kind": "recognition", "note": "shipped the release"},
        {"Authorization": "Bearer s3cret-token"},
    )
    assert status == 201, body
    deadline = time.time() + 10
    while time.time() < deadline:
        _, metrics = _request(api + "/metrics")
        if b'teampulse_leadership_actions_total{kind="recognition",team="payments"} 1.0' in metrics:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(metrics.decode())
    assert b"shipped the release" not in metrics


def _pair(port: int, accept: str) -> tuple[http.client.HTTPResponse, bytes, http.client.HTTPResponse, bytes]:
    """Scrape once gzipped and once plain on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/metrics", headers={"Accept": accept, "Accept-Encoding": "gzip"})
        packed = connection.getresponse()
        packed_body = packed.read()
        connection.request("GET", "/metrics", headers={"Accept": accept})
        plain = connection.getresponse()
        return packed, packed_body, plain, plain.read()
    finally:
        connection.close()


def test_metrics_are_gzipped_for_a_scraper_that_accepts_it(api: str) -> None:
    # Prometheus sends Accept-Encoding: gzip; curl and a browser may not.
    port = int(api.rsplit(":", 1)[1])
    age = re.compile(rb"^teampulse_cache_age_seconds \S+$", re.M)
    stamp = re.compile(rb"^teampulse_collection_timestamp_seconds (\S+)$", re.M)
    for accept in ("text/plain;version=0.0.4", "application/openmetrics-text;version=1.0.0"):
        for _attempt in range(20):  # a collection cycle may end between the two scrapes: again
            packed, packed_body, plain, plain_body = _pair(port, accept)
            reader = zlib.decompressobj(16 + zlib.MAX_WBITS)  # one gzip member, whole
            unpacked = reader.decompress(packed_body)
            assert reader.eof and not reader.unused_data
            if stamp.findall(unpacked) == stamp.findall(plain_body):
                break
        assert packed.status == plain.status == 200
        assert packed.getheader("Content-Encoding") == "gzip" and plain.getheader("Content-Encoding") is None
        assert "Accept-Encoding" in (packed.getheader("Vary") or "")
        assert int(packed.getheader("Content-Length") or 0) == len(packed_body) < len(plain_body)
        # the same exposition but for the cache age, computed at each scrape
        assert age.sub(b"", unpacked) == age.sub(b"", plain_body)
        assert b"teampulse_team_members" in unpacked
        assert unpacked.endswith(b"# EOF\n") == ("openmetrics" in accept)


def test_actions_api_is_off_without_a_token(tmp_path: Path) -> None:
    proc, port = _start(tmp_path)
    try:
        status, body = _request(f"http://127.0.0.1:{port}/api/v1/actions", {"team": "payments"})
        assert status == 403 and b"TEAMPULSE_API_TOKEN" in body
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_web_config_serves_tls_with_basic_auth(tmp_path: Path) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    hashed = bcrypt.hashpw(b"pa55word", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\nbasic_auth_users:\n  prom: '{hashed}'\n"
    )
    proc, port = _start(tmp_path, "--web-config", str(web))
    context = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
    url = f"https://127.0.0.1:{port}/metrics"
    good = "Basic " + base64.b64encode(b"prom:pa55word").decode()
    bad = "Basic " + base64.b64encode(b"prom:nope").decode()
    # A client that connects and never starts its handshake blocks nobody, nor stopping.
    idle = socket.create_connection(("127.0.0.1", port))
    try:
        assert _request(url, context=context)[0] == 401
        assert _request(url, headers={"Authorization": bad}, context=context)[0] == 401
        status, body = _request(url, headers={"Authorization": good}, context=context)
        assert status == 200 and b"teampulse_build_info" in body
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
    finally:
        idle.close()
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("basic_auth_users:\n  prom: plaintext\n", "basic_auth_users.prom: must be a bcrypt hash"),
        ("http_server_config:\n  http2: false\n", "http_server_config: not supported by teampulse"),
        (
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: RequireAndVerifyClientCert\n",
            "tls_server_config.client_auth_type: RequireAndVerifyClientCert requires client_ca_file",
        ),
    ],
)
def test_bad_web_config_is_one_line_exit_2(tmp_path: Path, text: str, message: str) -> None:
    web = tmp_path / "web.yml"
    web.write_text(text)
    config = tmp_path / "teampulse.toml"
    config.write_text(BASIC)
    result = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "serve", "--config", str(config), "--web-config", str(web)],
        capture_output=True, text=True, env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY),
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{web}: {message}" in result.stderr
    assert result.stderr.count("\n") == 1


def test_stopping_does_not_wait_for_an_idle_client(tmp_path: Path) -> None:
    proc, port = _start(tmp_path)
    with socket.create_connection(("127.0.0.1", port)) as idle:  # connects and says nothing
        time.sleep(0.5)  # its handler thread is waiting for a request line
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
        assert idle.recv(1) == b""  # closed by the exit, not left hanging


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_cleanly_on_sigint_and_sigterm_even_started_in_the_background(
    tmp_path: Path, stop: signal.Signals
) -> None:
    config = tmp_path / "teampulse.toml"
    config.write_text(BASIC)
    port = free_port()
    # A shell that starts a job in the background leaves SIGINT ignored in it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "teampulse.cli", "serve", "--config", str(config), "--listen", f"127.0.0.1:{port}"],
        env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    assert proc.stdout is not None and f":{port}/" in proc.stdout.readline()
    proc.send_signal(stop)
    assert proc.wait(timeout=10) == 130  # the store closed on the way out
    assert proc.stderr is not None and "Traceback" not in proc.stderr.read()
