"""`teampulse serve`: collect on a schedule, serve cached metrics, the team page and the API."""

from __future__ import annotations

import hmac
import json
import logging
import os
import signal
import socket
import ssl
import threading
import time
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .app import Runtime
from .errors import TeampulseError, WebhookRejected
from .exporter import ExportState, exposition, render
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
        self._problems: dict[str, int] = {}

    def refresh(self, collect: bool = True) -> None:
        """Collect (optionally), evaluate and swap in the new cached exposition."""
        started = time.time()
        if collect:
            report = self.runtime.collect()
            self.last_error = "; ".join(f"{r.source}: {r.error}" for r in report.failed) or None
            self._log_problem_changes({r.source: len(r.problems) for r in report.results})
        state = self.runtime.state(started=started)
        if collect:
            self.runtime.notify(state)
        body = render(state)
        with self.lock:
            self.state, self.metrics = state, body
            self.cycles += 1

    def _log_problem_changes(self, problems: dict[str, int]) -> None:
        # Once when a source's count of skipped inputs changes, not the same lines every cycle.
        for source, count in problems.items():
            if count != self._problems.get(source, 0):
                what = "1 input" if count == 1 else f"{count} inputs"
                log.warning("source %s: %s skipped (run `teampulse collect` to list them)", source, what)
        self._problems = problems

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
        # A client that connects and then says nothing gives up its thread after this long.
        timeout = CLIENT_TIMEOUT

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
                # OpenMetrics when the scraper asks for it (Prometheus does), else the 0.0.4 text.
                body, content_type = exposition(state, self.headers.get("Accept"), cached=metrics)
                self._send(200, body, content_type)
            elif path == "/healthz":
                # "degraded" (a source failed, or skipped input, in its last run) still answers
                # 200: a liveness probe would restart teampulse for a bad calendar file or a Jira
                # outage, and a restart fixes neither. The sources' state is in the body (and in
                # teampulse_source_up / _problems); 503 only until the first evaluation.
                runs = {r.source: r for r in state.runs}
                sources = {}
                for name in state.sources:
                    run = runs.get(name)
                    sources[name] = {
                        "up": bool(run and run.consecutive_failures == 0),
                        "problems": run.problems if run else 0,
                        "consecutive_failures": run.consecutive_failures if run else 0,
                        "last_success": (
                            iso(datetime.fromtimestamp(run.last_success, UTC))
                            if run and run.last_success
                            else None
                        ),
                        "last_error": run.last_error if run else None,
                    }
                degraded = any(not s["up"] or s["problems"] for s in sources.values())
                started = service.cycles > 0
                self._json(
                    200 if started else 503,
                    {
                        "status": ("degraded" if degraded else "ok") if started else "starting",
                        "collected_at": iso(datetime.fromtimestamp(state.collected_at, UTC)),
                        "sources": sources,
                    },
                )
            elif path == "/":
                config = service.runtime.config
                team = parse_qs(urlsplit(self.path).query).get("team", [None])[0]
                page = render_page(state, config.dashboards_url, config.timezone.key, team)
                known = team is None or any(s.team == team for s in state.snapshots)
                self._send(200 if known else 404, page.encode(), "text/html; charset=utf-8")
            elif path == "/favicon.ico":
                self._send(204, b"", "image/x-icon")
            elif path == "/api/v1/teams":
                self._json(200, [s.to_json() for s in state.snapshots])
            elif path == "/api/v1/alerts":
                self._json(200, [a.__dict__ | {"labels": dict(a.labels)} for a in state.alerts if a.firing])
            elif path == "/api/v1/actions":
                self._list_actions()
            else:
                self._json(404, {"error": "not found"})

        def _token_ok(self) -> bool:
            """Answer 403/401 unless the actions API is on and the request carries its token."""
            token = os.environ.get(API_TOKEN_ENV)
            if not token:
                self._json(403, {"error": f"the actions API is off: set {API_TOKEN_ENV} to turn it on"})
                return False
            # With basic auth on (--web-config), Authorization carries it; the token then
            # comes in X-Teampulse-Token.
            given = self.headers.get("X-Teampulse-Token") or self.headers.get(
                "Authorization", ""
            ).removeprefix("Bearer ")
            if not hmac.compare_digest(given.encode(), token.encode()):
                self._json(401, {"error": "missing or wrong bearer token"})
                return False
            return True

        def _list_actions(self) -> None:
            # Behind the token: notes are free text and may name people.
            if not self._token_ok():
                return
            query = parse_qs(urlsplit(self.path).query)
            team = query.get("team", [None])[0]
            try:
                since = parse_time(query["since"][0]) if "since" in query else None
                rows = service.runtime.list_actions(team, since)
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(
                200,
                [
                    {
                        "id": r.id,
                        "team": r.team,
                        "kind": r.kind,
                        "at": iso(datetime.fromtimestamp(r.at, UTC)),
                        "source": r.source,
                        "note": r.note,
                        "removable": r.removable,
                    }
                    for r in rows
                ],
            )

        def do_DELETE(self) -> None:
            if not self._authorised():
                return
            path = self.path.split("?", 1)[0]
            ident = path.removeprefix("/api/v1/actions/")
            if ident == path or not ident or "/" in ident:
                self._json(404, {"error": "not found"})
                return
            if not self._token_ok():
                return
            if not service.runtime.remove_action(ident):
                self._json(404, {"error": f"no action recorded by hand or through the API has id {ident!r}"})
                return
            service.trigger()
            self._json(200, {"removed": ident})

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
            if not self._token_ok():
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


# A client gets this long to finish the TLS handshake, and then to send each request.
CLIENT_TIMEOUT = 30.0


class _Server(ThreadingHTTPServer):
    """One thread per connection; with TLS, the handshake runs there too, with a timeout.

    Wrapping the listening socket would run every handshake in the accept loop, untimed: one
    client that connects and says nothing would block every other client, and stopping.
    """

    daemon_threads = True
    block_on_close = False  # stopping does not wait for clients (a scraper's open connection)
    ssl_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is not None:
            request.settimeout(CLIENT_TIMEOUT)
            try:
                request = self.ssl_context.wrap_socket(request, server_side=True)
            except (OSError, ValueError):
                return  # a failed or abandoned handshake: nothing to answer; the socket is closed
        super().finish_request(request, client_address)


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


def listen(runtime: Runtime, host: str, port: int, web: WebConfig | None = None) -> tuple[_Server, Service]:
    """Bind the address before anything slow runs; raises TeampulseError when it cannot."""
    service = Service(runtime)
    server_class = _IPv6Server if ":" in host else _Server
    try:
        httpd = server_class((host, port), make_handler(service, web))
    except OSError as exc:
        # Port in use, an address not on this machine, a name that does not resolve.
        raise TeampulseError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    httpd.ssl_context = web.ssl_context if web else None
    return httpd, service


def run(
    httpd: _Server,
    service: Service,
    web: WebConfig | None = None,
    ready: threading.Event | None = None,
) -> None:
    """Evaluate, start collecting and serve on a bound server until interrupted."""
    if threading.current_thread() is threading.main_thread():
        _stop_on_signals()
    try:
        service.start()
        scheme = "https" if web and web.ssl_context else "http"
        host, actual = httpd.server_address[0], httpd.server_address[1]
        print(f"teampulse serving on {scheme}://{_url_host(str(host))}:{actual}/", flush=True)
        if ready:
            ready.set()
        httpd.serve_forever(poll_interval=0.2)
    finally:
        service.stop()
        httpd.server_close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Stop cleanly (store closed, exit 130) on SIGINT and SIGTERM, whatever the parent set.

    A shell that starts serve in the background leaves SIGINT ignored, so Python installs no
    handler for it; SIGTERM (`kill`, `docker stop`) would end the process without cleaning up.
    """
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(
    runtime: Runtime, host: str, port: int, web: WebConfig | None = None, ready: threading.Event | None = None
) -> None:
    """Serve until interrupted."""
    httpd, service = listen(runtime, host, port, web)
    run(httpd, service, web, ready)
