"""`teampulse serve`: collect on a schedule, serve cached metrics, the team page and the API."""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import hmac
import json
import logging
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .app import Runtime
from .compression import accepts_gzip
from .engine import EvaluationCache
from .errors import TeampulseError, WebhookRejected
from .exporter import ExportState, Rendering
from .model import ACTION_KINDS
from .page import _STYLE, DashboardUids, render_page
from .sharding import TeamElsewhere
from .timeutil import iso, parse_time
from .webconfig import WebConfig

log = logging.getLogger("teampulse.serve")
API_TOKEN_ENV = "TEAMPULSE_API_TOKEN"
MAX_BODY = 64 * 1024
# The actions API's JSON is a flat object: deeper nesting is refused before it is parsed.
MAX_JSON_DEPTH = 16
# A cycle running longer than max(this many intervals, STUCK_FLOOR) makes /healthz say "stuck".
STUCK_INTERVALS = 3
STUCK_FLOOR = 600.0
# The page is static HTML with inline SVG and one inline <style>: no script, no frame, no form.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()}'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)
# The earliest time an action may carry (the store counts in Unix seconds).
EARLIEST_ACTION = datetime(1970, 1, 1, tzinfo=UTC)


class BadRequest(Exception):
    """A request to answer with a 4xx and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class Service:
    """The cached state and the collection loop behind the HTTP server."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # Cycles evaluate what changed since the last one, with a full replay's numbers.
        runtime.evaluation_cache = runtime.evaluation_cache or EvaluationCache()
        self.lock = threading.Lock()
        self.state = ExportState(sources=list(runtime.config.sources))
        self.rendering = Rendering.of(self.state)
        self.cycles = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._problems: dict[str, int] = {}
        # Monotonic; tests swap it. When the running collection cycle began (None between cycles).
        self.clock: Callable[[], float] = time.monotonic
        self.cycle_started: float | None = None
        self._walked_at: float | None = None  # clock() of the last full garbage collection
        interval = runtime.config.interval.total_seconds()
        self.stuck_after = max(STUCK_INTERVALS * interval, STUCK_FLOOR)

    def collecting_for(self) -> float | None:
        """Seconds the running collection cycle has taken so far, None between cycles."""
        started = self.cycle_started
        return None if started is None else max(0.0, self.clock() - started)

    def refresh(self, collect: bool = True) -> None:
        """Collect (optionally), evaluate and swap in the new cached exposition."""
        with self._collector_paused():
            self._refresh(collect)

    def _refresh(self, collect: bool) -> None:
        started = time.time()
        if collect:
            report = self.runtime.collect()
            self.last_error = "; ".join(f"{r.source}: {r.error}" for r in report.failed) or None
            self._log_problem_changes({r.source: len(r.problems) for r in report.results})
        state = self.runtime.state(started=started)
        if collect:
            self.runtime.notify(state)
        # Both formats, plain and gzipped, here in the collector's thread: a scrape sends bytes.
        rendering = Rendering.of(state)
        with self.lock:
            self.state, self.rendering = state, rendering
            self.cycles += 1

    @contextlib.contextmanager
    def _collector_paused(self) -> Iterator[None]:
        """Keep Python's cyclic garbage collector out of a cycle, and what the cycle kept out of its walks.

        The collector walks what it tracks now and then, holding the GIL while every scrape
        waits: a walk of the young objects took 50 ms during a 1,000-team cycle, one of
        everything 363 ms (244 at 200 teams). A cycle leaves no reference cycles behind (a test
        checks), so reference counting frees what it drops: the collector is off while it runs,
        and what it kept is frozen out of later walks (gc.freeze). Once a day everything is
        walked, in case.
        """
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            now = self.clock()
            if self._walked_at is None or now - self._walked_at >= FULL_COLLECTION_EVERY:
                gc.unfreeze()
                found = gc.collect()
                if found:
                    log.debug("full garbage collection: %d unreachable objects", found)
                self._walked_at = now
            gc.freeze()
            if was_enabled:
                gc.enable()

    @property
    def metrics(self) -> bytes:
        """The served 0.0.4 text, without the cache age."""
        return self.rendering.text

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
            self.cycle_started = self.clock()
            try:
                self.refresh()
            except Exception:
                log.exception("collection cycle failed")
            finally:
                self.cycle_started = None
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
        # A reply's last segment would wait for the client's delayed ACK of the one before.
        disable_nagle_algorithm = True
        # A client that connects and then says nothing gives up its thread after this long.
        timeout = CLIENT_TIMEOUT
        _replied = False
        _unread = False
        _hold_headers = False
        _held = b""

        def version_string(self) -> str:
            return "teampulse"  # no Python version: nothing for a scanner to match

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", getattr(self, "command", None), getattr(self, "path", "").split("?")[0])

        def send_response(self, code: int, message: str | None = None) -> None:
            self._replied = True
            super().send_response(code, message)

        def end_headers(self) -> None:
            # On every reply, the base class's own error pages included.
            for name, value in SECURITY_HEADERS:
                self.send_header(name, value)
            super().end_headers()

        def handle_one_request(self) -> None:
            """Answer one request; anything unexpected is a 500 and one log line, not a traceback."""
            self._replied = False
            try:
                super().handle_one_request()
            except (ConnectionError, TimeoutError, ssl.SSLError):
                self.close_connection = True  # the client went away or stalled: nobody to answer
            except Exception as exc:
                self.close_connection = True
                path = getattr(self, "path", "").split("?")[0][:200]
                # The type only: an exception's text may carry input (a name, a secret).
                log.error("%s %s failed: %s", getattr(self, "command", "?"), path, type(exc).__name__)
                if not self._replied:
                    with contextlib.suppress(OSError):
                        self._json(500, {"error": "internal error (logged)"}, indent=None)

        def _send(
            self, status: int, body: bytes | tuple[bytes, ...], content_type: str, encoding: str | None = None
        ) -> None:
            parts = body if isinstance(body, tuple) else (body,)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if encoding:
                self.send_header("Content-Encoding", encoding)
            if self.path.split("?", 1)[0] == "/metrics":
                self.send_header("Vary", "Accept, Accept-Encoding")
            self.send_header("Content-Length", str(sum(len(part) for part in parts)))
            self.send_header("Cache-Control", "no-store")
            if self.close_connection:
                self.send_header("Connection", "close")
            self._hold_headers = True
            try:
                self.end_headers()
            finally:
                self._hold_headers = False
            head, self._held = self._held, b""
            _send_all(self.connection, (head, *parts) if self.command != "HEAD" else (head,))

        def flush_headers(self) -> None:
            # _send sends the headers with the body in one system call: each call gives up the
            # GIL and waits to get it back while the collector evaluates.
            if self._hold_headers:
                buffered: list[bytes] = self.__dict__.get("_headers_buffer", [])
                self._held += b"".join(buffered)
                buffered.clear()
            else:
                super().flush_headers()

        def _json(self, status: int, data: Any, indent: int | None = 2) -> None:
            self._send(status, json.dumps(data, indent=indent).encode() + b"\n", "application/json")

        def _refuse(self, exc: BadRequest) -> None:
            # The body may be left unread: do not read it as the next request, and read what
            # is left before closing (finish), or the close resets and the reply can be lost.
            self.close_connection = True
            self._unread = True
            self._json(exc.status, {"error": str(exc)})

        def finish(self) -> None:
            super().finish()
            if self._unread:
                _linger(self.connection)

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
                state, rendering = service.state, service.rendering
            if path == "/metrics":
                # OpenMetrics when the scraper asks for it (Prometheus does), else the 0.0.4 text;
                # gzipped when it accepts that (Prometheus does), a tenth of the bytes.
                gzip = accepts_gzip(self.headers.get("Accept-Encoding"))
                parts, content_type = rendering.scrape(self.headers.get("Accept"), gzip=gzip)
                self._send(200, parts, content_type, encoding="gzip" if gzip else None)
            elif path == "/healthz":
                self._healthz(state)
            elif path == "/":
                config = service.runtime.config
                team = parse_qs(urlsplit(self.path).query).get("team", [None])[0]
                uids = DashboardUids.of(config)
                page = render_page(state, config.dashboards_url, config.timezone.key, team, uids)
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

        def _healthz(self, state: ExportState) -> None:
            # "degraded" (a source failed, or skipped input, in its last run) still answers
            # 200: a liveness probe would restart teampulse for a bad calendar file or a Jira
            # outage, and a restart fixes neither. The sources' state is in the body (and in
            # teampulse_source_up / _problems); 503 until the first evaluation, and when the
            # collection cycle has run for longer than service.stuck_after ("stuck"): a
            # thread that hangs cannot be stopped from inside, a restart is what frees it.
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
            collecting = service.collecting_for()
            stuck = collecting is not None and collecting > service.stuck_after
            status = "stuck" if stuck else ("degraded" if degraded else "ok") if started else "starting"
            body: dict[str, Any] = {
                "status": status,
                "collected_at": iso(datetime.fromtimestamp(state.collected_at, UTC)),
                "collecting_for_seconds": None if collecting is None else int(collecting),
                "stuck_after_seconds": int(service.stuck_after),
                "sources": sources,
            }
            self._json(200 if started and not stuck else 503, body)

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
            if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
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
                if since is not None:
                    since.astimezone(UTC)
                rows = service.runtime.list_actions(team, since)
            except TeamElsewhere as exc:
                self._json(409, {"error": str(exc)})
                return
            except (ValueError, OverflowError) as exc:
                self._json(
                    400, {"error": str(exc) if isinstance(exc, ValueError) else "since is out of range"}
                )
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
            try:
                body = _action_body(self._body())
                team, kind, at, note = _action(body)
                # Validated above in full: nothing is stored for a request that then fails.
                ident = service.runtime.record_action(team, kind, at, note, source="api")
            except BadRequest as exc:
                self._refuse(exc)
                return
            except TeamElsewhere as exc:  # a team of another shard: 409 names it
                self._json(409, {"error": str(exc)})
                return
            except ValueError as exc:
                self._json(400, {"error": str(exc)})
                return
            service.trigger()
            self._json(HTTPStatus.CREATED, {"id": ident, "team": team, "kind": kind, "at": iso(at)})

        def _body(self) -> bytes:
            """Read the body its Content-Length announces; BadRequest for anything else."""
            text = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding"):
                raise BadRequest(411, "send the body with a Content-Length, not chunked")
            if text is None or not text.strip():
                raise BadRequest(
                    411, f"a body of at most {MAX_BODY // 1024} KiB with a Content-Length is required"
                )
            text = text.strip()
            if not text.isascii() or not text.isdigit():
                raise BadRequest(400, "Content-Length must be a number of bytes")
            if len(text) > 12 or int(text) > MAX_BODY:
                raise BadRequest(413, f"the body is over {MAX_BODY // 1024} KiB")
            length = int(text)
            if length == 0:
                raise BadRequest(400, "the body is empty")
            body = self.rfile.read(length)
            if len(body) < length:
                raise BadRequest(400, "the body is shorter than its Content-Length")
            return body

        def _webhook(self, name: str) -> None:
            source = service.runtime.sources.get(name)
            receive = getattr(source, "receive", None)
            if receive is None:
                self._json(404, {"error": f"no webhook source named {name!r}"})
                return
            try:
                body = self._body()
            except BadRequest as exc:
                self._refuse(exc)
                return
            try:
                events = receive(body, {k.lower(): v for k, v in self.headers.items()}, datetime.now(UTC))
            except WebhookRejected as exc:
                self._json(exc.status, {"error": str(exc)})
                return
            except Exception as exc:
                # The plugin should have said WebhookRejected(400, why); the delivery is still bad
                # input, not a server error. Its type only: the text may quote the body.
                log.warning("webhook %s: a delivery failed to parse: %s", name, type(exc).__name__)
                self._json(400, {"error": "the delivery could not be read"})
                return
            # A team that another shard serves: nothing of the delivery is stored here (its
            # sender retries the whole delivery at the right shard).
            runtime = service.runtime
            elsewhere = sorted(
                {t for ev in events if (t := getattr(ev, "team", None)) in runtime.other_teams}
            )
            if elsewhere:
                self._json(409, {"error": str(runtime.selection.elsewhere(elsewhere[0]))})
                return
            service.runtime.store_events(name, events)
            service.trigger()
            self._json(HTTPStatus.ACCEPTED, {"stored": len(events)})

    return Handler


# After refusing a body unread, read (and drop) at most this much for at most this long.
LINGER_BYTES = 1024 * 1024
LINGER_SECONDS = 2.0


def _send_all(connection: socket.socket, chunks: tuple[bytes, ...]) -> None:
    """Send the chunks in turn, gathered into as few system calls as the socket takes, uncopied."""
    if isinstance(connection, ssl.SSLSocket):  # no sendmsg over TLS
        for chunk in chunks:
            connection.sendall(chunk)
        return
    views = [memoryview(chunk) for chunk in chunks if chunk]
    while views:
        sent = connection.sendmsg(views)
        while views and sent >= len(views[0]):
            sent -= len(views[0])
            views.pop(0)
        if views:
            views[0] = views[0][sent:]


def _linger(connection: socket.socket) -> None:
    """Drain what the client still sends, bounded, so that closing does not reset the reply."""
    with contextlib.suppress(OSError, ValueError):
        if not isinstance(connection, ssl.SSLSocket):
            connection.shutdown(socket.SHUT_WR)  # the reply is complete: tell the client
        connection.settimeout(LINGER_SECONDS)
        left = LINGER_BYTES
        while left > 0 and (chunk := connection.recv(min(65536, left))):
            left -= len(chunk)


def _json_depth(body: bytes) -> int:
    """Return how deeply a JSON text nests arrays and objects (strings skipped), in one pass."""
    brackets = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _action_body(body: bytes) -> dict[str, Any]:
    if _json_depth(body) > MAX_JSON_DEPTH:
        raise BadRequest(400, f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, an integer of 5,000 digits
        raise BadRequest(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "the body must be a JSON object")
    return data


def _action(body: dict[str, Any]) -> tuple[str, str, datetime, str | None]:
    """Check every field of an action before anything is stored."""
    team, kind, note = body.get("team"), body.get("kind", "recorded"), body.get("note")
    if not isinstance(team, str) or not team:
        raise BadRequest(400, "team must be a team's name (a string)")
    if not isinstance(kind, str) or kind not in ACTION_KINDS:
        raise BadRequest(400, f"kind must be one of {', '.join(ACTION_KINDS)}")
    if note is not None and not isinstance(note, str):
        raise BadRequest(400, "note must be a string")
    given = body.get("at")
    if given is None or given == "":
        return team, kind, datetime.now(UTC), note
    if not isinstance(given, str):
        raise BadRequest(400, "at must be an ISO 8601 time (a string), e.g. 2026-03-15T12:00:00Z")
    try:
        at = parse_time(given)
        utc = at.astimezone(UTC)  # year 1 at +05:00 is before anything a datetime holds
    except ValueError as exc:
        raise BadRequest(400, f"at must be an ISO 8601 time: {exc}") from None
    except OverflowError:
        raise BadRequest(400, "at must be an ISO 8601 time after 1970-01-01 and not in the future") from None
    if utc < EARLIEST_ACTION:
        raise BadRequest(400, "at must be an ISO 8601 time after 1970-01-01")
    return team, kind, at, note


# A client gets this long to finish the TLS handshake, and then to send each request.
CLIENT_TIMEOUT = 30.0
# Connections served at once, in all and from one address (serve --max-connections, and
# --max-connections-per-client; behind a reverse proxy every client has the proxy's address).
MAX_CONNECTIONS = 64
MAX_CONNECTIONS_PER_CLIENT = 16
SWITCH_INTERVAL = 0.0001  # seconds; Python's default is 0.005
FULL_COLLECTION_EVERY = 86400.0  # seconds between full garbage collections in serve


class _Server(ThreadingHTTPServer):
    """One thread per connection; with TLS, the handshake runs there too, with a timeout.

    Wrapping the listening socket would run every handshake in the accept loop, untimed: one
    client that connects and says nothing would block every other client, and stopping.
    """

    daemon_threads = True
    block_on_close = False  # stopping does not wait for clients (a scraper's open connection)
    request_queue_size = 128  # the listen backlog (socketserver's default is 5)
    ssl_context: ssl.SSLContext | None = None
    web: WebConfig | None = None

    def __init__(
        self,
        *args: Any,
        max_connections: int = MAX_CONNECTIONS,
        per_client: int = MAX_CONNECTIONS_PER_CLIENT,
        **kwargs: Any,
    ) -> None:
        # At most this many connections have a thread; the next ones get a 503 straight away.
        self.connection_slots = threading.BoundedSemaphore(max_connections)
        # And at most `per_client` of them come from one address (0: no such limit), so that
        # one client holding idle connections cannot take every slot from the others.
        self.per_client = per_client
        self._by_client: dict[str, int] = {}
        self._by_client_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._take_client_slot(client_address):
            self._turn_away(request)
            return
        if not self.connection_slots.acquire(blocking=False):
            self._give_client_slot(client_address)
            self._turn_away(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:  # no thread started (none left): its slots are free again
            self.connection_slots.release()
            self._give_client_slot(client_address)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()
            self._give_client_slot(client_address)

    def _take_client_slot(self, client_address: Any) -> bool:
        if self.per_client <= 0:
            return True
        client = str(client_address[0])
        with self._by_client_lock:
            held = self._by_client.get(client, 0)
            if held >= self.per_client:
                return False
            self._by_client[client] = held + 1
        return True

    def _give_client_slot(self, client_address: Any) -> None:
        if self.per_client <= 0:
            return
        client = str(client_address[0])
        with self._by_client_lock:
            held = self._by_client.get(client, 0) - 1
            if held > 0:
                self._by_client[client] = held
            else:
                self._by_client.pop(client, None)  # the table holds only addresses connected now

    def _turn_away(self, request: socket.socket) -> None:
        # In the accept loop: never wait on this client. Over TLS there is no plain reply to
        # give before a handshake, so the connection is just closed.
        if self.ssl_context is None:
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(_BUSY)
                request.shutdown(socket.SHUT_WR)
                request.recv(65536)  # what already came: closing on unread input would reset
        self.shutdown_request(request)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is not None:
            context = self.ssl_context
            if self.web is not None:
                self.web.refresh()  # a renewed certificate is used without a restart
                context = self.web.ssl_context or context
            request.settimeout(CLIENT_TIMEOUT)
            try:
                request = context.wrap_socket(request, server_side=True)
            except (OSError, ValueError):
                return  # a failed or abandoned handshake: nothing to answer; the socket is closed
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One log line through the teampulse logger, never a traceback on stderr."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | ssl.SSLError):
            log.debug("client went away: %s", type(exc).__name__)
        else:
            log.error("request failed: %s", type(exc).__name__)


# A connection over the cap gets this, without its request being read.
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nServer: teampulse\r\nRetry-After: 1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 44\r\nConnection: close\r\n"
    + "".join(f"{k}: {v}\r\n" for k, v in SECURITY_HEADERS).encode()
    + b'\r\n{"error": "too many connections; retry"}\n'
)


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


def listen(
    runtime: Runtime,
    host: str,
    port: int,
    web: WebConfig | None = None,
    max_connections: int = MAX_CONNECTIONS,
    per_client: int = MAX_CONNECTIONS_PER_CLIENT,
) -> tuple[_Server, Service]:
    """Bind the address before anything slow runs; raises TeampulseError when it cannot."""
    # The collector's thread holds the GIL while it evaluates; a scrape waiting for it would
    # wait out the 5 ms switch interval at each of its reads and writes (p99 274 ms for 50
    # scrapers at once). Waiters are served within 0.1 ms; with nobody waiting it costs nothing.
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
    service = Service(runtime)
    server_class = _IPv6Server if ":" in host else _Server
    try:
        httpd = server_class(
            (host, port), make_handler(service, web), max_connections=max_connections, per_client=per_client
        )
    except OSError as exc:
        # Port in use, an address not on this machine, a name that does not resolve.
        raise TeampulseError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    httpd.ssl_context = web.ssl_context if web else None
    httpd.web = web
    return httpd, service


def run(
    httpd: _Server,
    service: Service,
    web: WebConfig | None = None,
    ready: threading.Event | None = None,
) -> None:
    """Evaluate, start collecting and serve on a bound server until interrupted."""
    stopped = _stop_on_signals(httpd) if threading.current_thread() is threading.main_thread() else []
    try:
        service.start()
        scheme = "https" if web and web.ssl_context else "http"
        host, actual = httpd.server_address[0], httpd.server_address[1]
        print(f"teampulse serving on {scheme}://{_url_host(str(host))}:{actual}/", flush=True)
        if ready:
            ready.set()
        httpd.serve_forever(poll_interval=0.2)
        if stopped:
            raise KeyboardInterrupt  # stopped by a signal: the command exits 130
    finally:
        service.stop()
        httpd.server_close()


def _stop_on_signals(httpd: _Server) -> list[int]:
    """Stop serving cleanly (store closed, exit 130) on SIGINT and SIGTERM; return the signals seen.

    A shell that starts serve in the background leaves SIGINT ignored, so Python installs no
    handler for it; SIGTERM (`kill`, `docker stop`) would end the process without cleaning up.
    The handler only asks the accept loop to end: an exception raised wherever the signal
    lands can be lost on the way (a request being handed to its thread).
    """
    seen: list[int] = []

    def stop(signum: int, frame: object) -> None:
        if not seen:
            # shutdown() waits for the loop to end, so it cannot run in the loop's own thread.
            threading.Thread(target=httpd.shutdown, name="teampulse-stop", daemon=True).start()
        seen.append(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    return seen


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(
    runtime: Runtime,
    host: str,
    port: int,
    web: WebConfig | None = None,
    ready: threading.Event | None = None,
    max_connections: int = MAX_CONNECTIONS,
    per_client: int = MAX_CONNECTIONS_PER_CLIENT,
) -> None:
    """Serve until interrupted."""
    httpd, service = listen(runtime, host, port, web, max_connections, per_client)
    run(httpd, service, web, ready)
