"""A real Prometheus scrapes `teampulse serve` over TLS with basic auth while idle clients hang on.

One web-config file serves both: teampulse's --web-config and Prometheus' own
--web.config.file (exporter-toolkit), so a file teampulse takes is one Prometheus takes too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import bcrypt
from support import BASIC, KEY, free_port, start_prometheus, wait_until

PASSWORD = "scrape-pa55word"


def test_prometheus_scrapes_over_tls_with_basic_auth_while_idle_clients_hold_connections(
    tmp_path: Path,
) -> None:
    assert shutil.which("prometheus"), "make test installs prometheus"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tmp_path / "tls.key"),
         "-out", str(tmp_path / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {tmp_path}/tls.crt\n  key_file: {tmp_path}/tls.key\n"
        f"  min_version: TLS12\nbasic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    (tmp_path / "teampulse.toml").write_text(BASIC)
    port = free_port()
    log = tmp_path / "serve.log"
    serve = subprocess.Popen(
        [sys.executable, "-m", "teampulse.cli", "serve", "--config", str(tmp_path / "teampulse.toml"),
         "--listen", f"127.0.0.1:{port}", "--web-config", str(web)],
        env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY), stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
    )  # fmt: skip
    context = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))
    idle: list[socket.socket] = []
    prometheus = None
    try:
        assert serve.stdout is not None and f"https://127.0.0.1:{port}/" in serve.stdout.readline(), (
            log.read_text()
        )
        # One client connects and never starts its handshake; another finishes it and says nothing.
        idle.append(socket.create_connection(("127.0.0.1", port)))
        idle.append(
            context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
        )

        folder = tmp_path / "prometheus"
        folder.mkdir()
        (folder / "password").write_text(PASSWORD + "\n")
        config = (
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: teampulse\n    scheme: https\n    scrape_timeout: 1s\n"
            f"    basic_auth:\n      username: prometheus\n      password_file: {folder}/password\n"
            f"    tls_config:\n      ca_file: {tmp_path}/tls.crt\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        )
        prom_port = free_port()
        # Prometheus' own web server reads the very same file.
        prometheus = start_prometheus(folder, prom_port, config, f"--web.config.file={web}")
        auth = "Basic " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()

        def query(expr: str) -> list[dict]:  # type: ignore[type-arg]
            url = f"https://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            request = urllib.request.Request(url, headers={"Authorization": auth})
            with urllib.request.urlopen(request, timeout=5, context=context) as reply:
                return list(json.loads(reply.read())["data"]["result"])

        wait_until(lambda: [r["value"][1] for r in query('up{job="teampulse"}')] == ["1"], 60,
                   "Prometheus to scrape teampulse over TLS with basic auth")  # fmt: skip
        assert query('teampulse_build_info{job="teampulse"}')
        # Both idle clients are still connected: they blocked nobody.
        for sock in idle:
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError, ssl.SSLWantReadError):  # nothing to read: open
                assert sock.recv(1) != b""  # b"" would mean serve closed it
        assert serve.poll() is None
        assert "Traceback" not in log.read_text()
    finally:
        for sock in idle:
            sock.close()
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=30)
        serve.terminate()
        serve.wait(timeout=30)
