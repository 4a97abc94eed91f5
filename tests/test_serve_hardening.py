"""`teampulse serve` holds: every request gets a reply, bad input a 4xx, never a traceback.

The server runs in this process (listen() and run() in a thread) so that a test can swap a
part (a webhook that raises, a collection that hangs, the collector's clock) and read stderr.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import json
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import calendar_workdir, wait_until

from teampulse import server as server_mod
from teampulse.app import Runtime
from teampulse.server import Service, _Server, listen, run

TOKEN = "s3cret-token"
SECRET = "whsec-hardening"
WEBHOOK = """
[sources.hook]
plugin = "survey-webhook"
secret_env = "HARDENING_WEBHOOK_SECRET"
scale = [1, 5]
[sources.hook.questions]
q_support = "support"
"""


@dataclass
class Served:
    port: int
    httpd: _Server
    service: Service
    runtime: Runtime

    def raw(self, data: bytes) -> bytes:
        """Send bytes, close the sending side, return everything the server answers."""
        return raw(self.port, data)

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        lines = [f"POST {path} HTTP/1.1", "Host: localhost", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return status_of(self.raw(("\r\n".join(lines) + "\r\n\r\n").encode() + body))

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        lines = [
            f"GET {path} HTTP/1.1",
            "Host: localhost",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        return status_of(self.raw(("\r\n".join(lines) + "\r\n\r\n").encode()))


def raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        # The server may answer and close before it has read everything (a refused body): the
        # reply is still there to read, so a failed send or shutdown is not the end.
        with contextlib.suppress(OSError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def status_of(reply: bytes) -> tuple[int, bytes]:
    """The status code and the whole reply; 0 for no reply (a dropped connection)."""
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
    return (int(match.group(1)) if match else 0), reply


def headers_of(reply: bytes) -> dict[str, str]:
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head)}


@pytest.fixture
def serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Served]]:
    monkeypatch.setenv("TEAMPULSE_API_TOKEN", TOKEN)
    monkeypatch.setenv("HARDENING_WEBHOOK_SECRET", SECRET)
    calendar_workdir(tmp_path)
    config = tmp_path / "teampulse.toml"
    config.write_text(config.read_text() + WEBHOOK)
    started: list[tuple[Served, threading.Thread]] = []

    def start(prepare: Callable[[Served], None] | None = None) -> Served:
        runtime = Runtime.open(str(config))
        httpd, service = listen(runtime, "127.0.0.1", 0)
        served = Served(int(httpd.server_address[1]), httpd, service, runtime)
        if prepare:
            prepare(served)
        ready = threading.Event()
        thread = threading.Thread(target=run, args=(httpd, service, None, ready), daemon=True)
        thread.start()
        assert ready.wait(30)
        started.append((served, thread))
        return served

    yield start
    for served, thread in started:
        served.httpd.shutdown()
        thread.join(30)
        served.runtime.close()


@pytest.fixture
def served(serving: Callable[..., Served]) -> Served:
    return serving()


AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
DEEP = b'{"team": "payments", "note": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"team": "payments", "at": 5}', b"at must be"),
        (b'{"team": "payments", "at": "0001-01-01T00:00:00+05:00"}', b"at must be"),
        (b'{"team": "payments", "at": "9999-12-31T23:59:59-05:00"}', b"in the future"),
        (b'{"team": "payments", "at": "9999-12-31"}', b"in the future"),
        (b'{"team": "payments", "at": "1969-07-20T20:17:00Z"}', b"at must be"),
        (b'{"team": ["payments"]}', b"team must be"),
        (b'{"kind": "one_on_one"}', b"team must be"),
        (b'{"team": "payments", "kind": ["one_on_one"]}', b"kind must be"),
        (b'{"team": "payments", "note": 5}', b"note must be"),
        (DEEP[:60_000] + b"]" * 10, b"JSON"),
        (b'{"team": "payments", "at": "2026-03-10", "x": ' + b"[" * 40 + b"]" * 40 + b"}", b"nested"),
        (b"[1]", b"JSON object"),
        (b"\xff\xfe{", b"JSON"),
        (b"1" * 5000, b"JSON"),
    ],
)
def test_bad_actions_get_400_and_store_nothing(served: Served, body: bytes, says: bytes) -> None:
    status, reply = served.post("/api/v1/actions", body, AUTH)
    assert status == 400, reply
    assert says in reply
    assert served.runtime.list_actions() == []


def test_an_action_deeper_than_the_limit_is_refused_even_when_small(served: Served) -> None:
    status, reply = served.post("/api/v1/actions", DEEP[:60_000], AUTH)
    assert status == 400, reply


@pytest.mark.parametrize(
    ("length", "expected"),
    [("abc", 400), ("-1", 400), ("1e3", 400), ("99999999999999999999", 413), ("70000", 413), ("", 411)],
)
@pytest.mark.parametrize("path", ["/api/v1/actions", "/api/v1/webhooks/hook"])
def test_a_bad_content_length_gets_4xx(served: Served, path: str, length: str, expected: int) -> None:
    # On webhooks, before the signature is checked.
    request = f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {length}\r\n\r\n"
    status, reply = status_of(served.raw(request.encode() + b"{}"))
    assert status == expected, reply


def test_a_body_shorter_than_its_content_length_gets_400(served: Served) -> None:
    request = f"POST /api/v1/actions HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n"
    status, reply = status_of(served.raw(request.encode() + b'{"team": "payments"}'))
    assert status == 400 and b"shorter" in reply
    assert served.runtime.list_actions() == []


def _signed(body: bytes) -> dict[str, str]:
    import hmac

    return {"X-Teampulse-Signature": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}


def test_a_webhook_that_raises_gets_400_and_one_log_line(
    serving: Callable[..., Served], capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(body: bytes, headers: Any, now: Any) -> Any:
        raise OverflowError("Bob Miller's answer is too big")

    served = serving(lambda s: setattr(s.runtime.sources["hook"], "receive", broken))
    caplog.set_level(logging.INFO, logger="teampulse")
    status, reply = served.post("/api/v1/webhooks/hook", b"{}", _signed(b"{}"))
    assert status == 400, reply
    lines = [
        r.getMessage() for r in caplog.records if r.name == "teampulse.serve" and r.levelno >= logging.WARNING
    ]
    assert len(lines) == 1 and "OverflowError" in lines[0] and "Bob" not in lines[0], lines
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "1", "team": "payments", "submitted_at": "2026-03-10T09:00:00Z", "answers": '
        + b"[" * 30_000
        + b"]" * 30_000
        + b"}",
        b'{"id": "1", "team": "payments", "submitted_at": "2026-03-10T09:00:00Z", "answers": {"q_support": 1'
        + b"0" * 400
        + b"}}",
        b'{"id": "1", "team": "payments", "submitted_at": "0001-01-01T00:00:00+05:00", "answers": {"q_support": 3}}',
        b'{"id": "1", "team": "payments", "submitted_at": "9999-12-31T23:59:59-05:00", "answers": {"q_support": 3}}',
        b'{"id": "1", "team": "payments", "submitted_at": "2026-03-10T09:00:00Z", "answers": {"q_support": NaN}}',
        b'{"id": "1", "team": "payments", "submitted_at": "2026-03-10T09:00:00Z", "answers": {"q_support": 1e309}}',
    ],
)
def test_signed_webhook_bodies_that_break_parsing_get_400(
    served: Served, body: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    status, reply = served.post("/api/v1/webhooks/hook", body, _signed(body))
    assert status == 400, reply
    assert "Traceback" not in capfd.readouterr().err


def test_an_unexpected_error_answers_500_in_one_line(
    served: Served,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("bob@example.com broke the page")

    monkeypatch.setattr(server_mod, "render_page", broken)
    caplog.set_level(logging.INFO, logger="teampulse")
    status, reply = served.get("/")
    assert status == 500, reply
    body = reply.split(b"\r\n\r\n", 1)[1]
    assert json.loads(body) == {"error": "internal error (logged)"}
    assert body.strip().count(b"\n") == 0
    lines = [
        r.getMessage() for r in caplog.records if r.name == "teampulse.serve" and r.levelno >= logging.WARNING
    ]
    assert len(lines) == 1 and "RuntimeError" in lines[0] and "\n" not in lines[0]
    assert "bob@example.com" not in lines[0]
    assert "Traceback" not in capfd.readouterr().err
    assert served.get("/metrics")[0] == 200  # and it goes on serving


def test_a_client_that_disconnects_prints_no_traceback(
    served: Served, capfd: pytest.CaptureFixture[str]
) -> None:
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except ConnectionResetError:
        served.httpd.handle_error(None, ("127.0.0.1", 1))
    try:
        raise ValueError("something else")
    except ValueError:
        served.httpd.handle_error(None, ("127.0.0.1", 1))
    assert "Traceback" not in capfd.readouterr().err


SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n\r\n",
        b"GET /nowhere HTTP/1.1\r\n\r\n",
        b"POST /api/v1/actions HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"GET / x HTTP/1.1\r\n\r\n",
        b"BREW / HTTP/1.1\r\n\r\n",
    ],
)
def test_every_reply_carries_the_security_headers_and_no_version(
    served: Served, request_bytes: bytes
) -> None:
    status, reply = status_of(served.raw(request_bytes))
    assert status, reply
    headers = headers_of(reply)
    assert headers | SECURITY == headers, headers
    assert headers["server"] == "teampulse"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_the_page_is_allowed_its_own_style_and_nothing_else(served: Served) -> None:
    status, reply = served.get("/")
    assert status == 200
    policy = headers_of(reply)["content-security-policy"]
    style = re.search(rb"<style>(.*?)</style>", reply, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1)).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy
    assert "script-src" not in policy and "unsafe-inline" not in policy


def test_over_the_connection_cap_a_client_gets_503_at_once(serving: Callable[..., Served]) -> None:
    served = serving(lambda s: setattr(s.httpd, "connection_slots", threading.BoundedSemaphore(1)))
    assert served.httpd.request_queue_size >= 128
    idle = socket.create_connection(("127.0.0.1", served.port))
    try:
        wait_until(lambda: served.httpd.connection_slots._value == 0, 10, "the idle client to hold the slot")
        # Turned away before its request is read: a client that has sent nothing yet gets it
        # whole (one that has sent a request may see a reset instead, also without waiting).
        with socket.create_connection(("127.0.0.1", served.port), timeout=20) as sock:
            status, reply = status_of(b"".join(iter(lambda: sock.recv(65536), b"")))
        assert status == 503, reply
        assert headers_of(reply)["retry-after"]
    finally:
        idle.close()
    wait_until(lambda: served.get("/metrics")[0] == 200, 30, "the slot to come back")


def test_one_address_cannot_take_every_connection_slot(serving: Callable[..., Served]) -> None:
    served = serving(lambda s: setattr(s.httpd, "per_client", 2))
    assert _Server.__init__.__kwdefaults__ == {"max_connections": 64, "per_client": 16}
    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(2)]
    try:
        wait_until(
            lambda: served.httpd._by_client.get("127.0.0.1") == 2, 10, "both idle clients to hold a slot"
        )
        with socket.create_connection(("127.0.0.1", served.port), timeout=20) as sock:
            status, reply = status_of(b"".join(iter(lambda: sock.recv(65536), b"")))
        assert status == 503, reply
        # Another address (all of 127.0.0.0/8 is this machine) is still served.
        with socket.create_connection(
            ("127.0.0.1", served.port), timeout=20, source_address=("127.0.0.2", 0)
        ) as sock:
            sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            status, reply = status_of(b"".join(iter(lambda: sock.recv(65536), b"")))
        assert status in (200, 503) and b"too many connections" not in reply, reply
    finally:
        for sock in idle:
            sock.close()
    wait_until(lambda: served.get("/metrics")[0] == 200, 30, "the slots to come back")
    wait_until(lambda: served.httpd._by_client == {}, 30, "the table to hold only connected addresses")


def test_healthz_says_when_the_collector_is_stuck(serving: Callable[..., Served]) -> None:
    clock = [1000.0]
    release = threading.Event()
    entered = threading.Event()

    def prepare(s: Served) -> None:
        real = s.runtime.collect

        def hanging(*args: Any, **kwargs: Any) -> Any:
            entered.set()
            release.wait(60)
            return real(*args, **kwargs)

        s.runtime.collect = hanging  # type: ignore[method-assign]
        s.service.clock = lambda: clock[0]

    served = serving(prepare)
    try:
        assert entered.wait(30)
        status, reply = served.get("/healthz")
        assert status == 200, reply
        limit = served.service.stuck_after
        assert limit >= 600  # 3 x the interval (15 min by default), at least 10 min
        clock[0] += limit + 1
        status, reply = served.get("/healthz")
        body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
        assert status == 503, body
        assert body["status"] == "stuck" and body["collecting_for_seconds"] == int(limit + 1)
    finally:
        release.set()

    def healthy() -> bool:
        status, reply = served.get("/healthz")
        return status == 200 and json.loads(reply.split(b"\r\n\r\n", 1)[1])["status"] != "stuck"

    wait_until(healthy, 30, "the collector to finish its cycle")


@pytest.mark.parametrize("size", [70_000, 300_000])
def test_a_refused_body_sent_in_full_still_gets_its_reply(served: Served, size: int) -> None:
    # Closing a socket with unread input resets it, and the client can lose the reply: the
    # server reads (a bounded amount of) what is left before it closes.
    for _ in range(5):
        status, reply = served.post("/api/v1/actions", b"x" * size, AUTH)
        assert status == 413, reply


def test_serve_cycles_leave_no_garbage_for_the_collector_and_keep_it_out_of_their_way(
    served: Served,
) -> None:
    # serve freezes what a cycle keeps (gc.freeze): Python's full collections, which held the
    # GIL for a quarter of a second at 200 teams while scrapes waited, no longer walk it. That
    # is only safe while a cycle leaves no reference cycles behind, which nothing else frees.
    service = served.service
    wait_until(lambda: service.cycles >= 2, what="the first collection cycle")
    gc.unfreeze()
    gc.collect()
    for _ in range(3):
        service.refresh()
        assert gc.get_freeze_count() > 0  # what the cycle kept is out of the collector's sight
    gc.unfreeze()
    assert gc.collect() == 0
