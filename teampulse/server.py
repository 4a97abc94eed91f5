"""`teampulse serve`: collect on a schedule, serve cached metrics, the team page and the API."""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
import time
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .app import Runtime
from .errors import WebhookRejected
from .exporter import ExportState, age_lines, render
from .model import ACTION_KINDS
from .page import render_page
from .timeutil import iso, parse_time
from .webconfig import WebConfig

log = logging.getLogger("teampulse.serve")
API_TOKEN_ENV = "TEAMPULSE_API_TOKEN"
MAX_BODY = 64 * 1024


class Service:
    """The cached state and the collection loop behind the HTTP server."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.lock = threading.Lock()
        self.state = ExportState(sources=list(runtime.config.sources))
        self.metrics = render(self.state)
        self.cycles = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self, collect: bool = True) -> None:
        """Collect (optionally), evaluate and swap in the new cached exposition."""
        started = time.time()
        if collect:
            report = self.runtime.collect()
            self.last_error = "; ".join(f"{r.source}: {r.error}" for r in report.failed) or None
        state = self.runtime.state(started=started)
        if collect:
            self.runtime.notify(state)
        body = render(state)
        with self.lock:
            self.state, self.metrics = state, body
            self.cycles += 1

    def start(self) -> None:
        """Evaluate what the store has, then collect on a schedule in the background."""
        self.runtime.prime_webhooks()
        self.refresh(collect=False)
        self._thread = threading.Thread(target=self._loop, name="teampulse-collector", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        interval = self.runtime.config.interval.total_seconds()
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:
                log.exception("collection cycle failed")
            self._wake.wait(interval)
            self._wake.clear()

    def trigger(self) -> None:
        """Run the next cycle now (after a recorded action)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the loop."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=30)


def make_handler(service: Service, web: WebConfig | None = None) -> type[BaseHTTPRequestHandler]:
    """Return a request handler class bound to a service."""
    web = web or WebConfig()

    class Handler(BaseHTTPRequestHandler):
        server_version = "teampulse"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.command, self.path.split("?")[0])

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data, indent=2).encode() + b"\n", "application/json")

        def do_HEAD(self) -> None:
            self.do_GET()

        def _authorised(self) -> bool:
            assert web is not None
            if web.authorised(self.headers.get("Authorization")):
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="teampulse"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def do_GET(self) -> None:
            if not self._authorised():
                return
            path = self.path.split("?", 1)[0]
            with service.lock:
                state, metrics = service.state, service.metrics
            if path == "/metrics":
                self._send(200, metrics + age_lines(state), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/healthz":
                runs = {r.source: r for r in state.runs}
                healthy = service.cycles > 0
                self._json(
                    200 if healthy else 503,
                    {
                        "status": "ok" if healthy else "starting",
                        "collected_at": iso(datetime.fromtimestamp(state.collected_at, UTC)),
                        "sources": {
                            name: {"up": bool(runs.get(name) and runs[name].consecutive_failures == 0)}
                            for name in state.sources
                        },
                    },
                )
            elif path == "/":
                page = render_page(state, service.runtime.config.dashboards_url)
                self._send(200, page.encode(), "text/html; charset=utf-8")
            elif path == "/favicon.ico":
                self._send(204, b"", "image/x-icon")
            elif path == "/api/v1/teams":
                self._json(200, [s.to_json() for s in state.snapshots])
            elif path == "/api/v1/alerts":
                self._json(200, [a.__dict__ | {"labels": dict(a.labels)} for a in state.alerts if a.firing])
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            if not self._authorised():
                return
            path = self.path.split("?", 1)[0]
            if path.startswith("/api/v1/webhooks/"):
                self._webhook(path.removeprefix("/api/v1/webhooks/"))
                return
            if path != "/api/v1/actions":
                self._json(404, {"error": "not found"})
                return
            token = os.environ.get(API_TOKEN_ENV)
            if not token:
                self._json(403, {"error": f"the actions API is off: set {API_TOKEN_ENV} to turn it on"})
                return
            # With basic auth on (--web-config), Authorization carries it; the token then
            # comes in X-Teampulse-Token.
            given = self.headers.get("X-Teampulse-Token") or self.headers.get(
                "Authorization", ""
            ).removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), token.encode()):
                self._json(401, {"error": "missing or wrong bearer token"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self._json(400, {"error": "a JSON body of at most 64 KiB is required"})
                return
            try:
                body = json.loads(self.rfile.read(length))
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                team, kind = body.get("team"), body.get("kind", "recorded")
                if kind not in ACTION_KINDS:
                    raise ValueError(f"kind must be one of {', '.join(ACTION_KINDS)}")
                at = parse_time(body["at"]) if body.get("at") else datetime.now(UTC)
                note = body.get("note")
                if note is not None and not isinstance(note, str):
                    raise ValueError("note must be a string")
                ident = service.runtime.record_action(str(team), kind, at, note, source="api")
            except (ValueError, KeyError, json.JSONDecodeError) as exc:
                self._json(400, {"error": str(exc)})
                return
            service.trigger()
            self._json(HTTPStatus.CREATED, {"id": ident, "team": team, "kind": kind, "at": iso(at)})

        def _webhook(self, name: str) -> None:
            source = service.runtime.sources.get(name)
            receive = getattr(source, "receive", None)
            if receive is None:
                self._json(404, {"error": f"no webhook source named {name!r}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                self._json(400, {"error": "a body of at most 64 KiB is required"})
                return
            body = self.rfile.read(length)
            try:
                events = receive(body, {k.lower(): v for k, v in self.headers.items()}, datetime.now(UTC))
            except WebhookRejected as exc:
                self._json(exc.status, {"error": str(exc)})
                return
            service.runtime.store_events(name, events)
            service.trigger()
            self._json(HTTPStatus.ACCEPTED, {"stored": len(events)})

    return Handler


def serve(
    runtime: Runtime, host: str, port: int, web: WebConfig | None = None, ready: threading.Event | None = None
) -> None:
    """Serve until interrupted."""
    service = Service(runtime)
    service.start()
    httpd = ThreadingHTTPServer((host, port), make_handler(service, web))
    httpd.daemon_threads = True
    scheme = "http"
    if web and web.ssl_context:
        httpd.socket = web.ssl_context.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    actual = httpd.server_address[1]
    print(f"teampulse serving on {scheme}://{host}:{actual}/", flush=True)
    if ready:
        ready.set()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        service.stop()
        httpd.server_close()
