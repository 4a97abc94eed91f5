"""Transport to Jira: the `jira` client wrapped in our own retry policy and one-line errors."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import orjson
import requests
from jira import JIRA, JIRAError
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest

from teampulse import SourceError

from .config import JiraSettings

__all__ = [
    "BACKOFF_BASE_SECONDS",
    "CONNECT_TIMEOUT_SECONDS",
    "Rejected",
    "ServerInfo",
    "Transport",
    "retry_after_seconds",
]

T = TypeVar("T")
BACKOFF_BASE_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 5.0  # a reachable server accepts within this; the read timeout is settable
NOT_JSON = "the reply is not JSON (a proxy's login or maintenance page, or not a Jira server?)"
RETRY_STATUSES = (429, 503)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_ISSUE_KEY = re.compile(r"\b[A-Z][A-Z0-9_]+-\d+\b")
_QUOTED_VALUE = re.compile(r"(value\s+)'[^']*'", re.IGNORECASE)


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Parse a Retry-After header (delay in seconds or an HTTP date) into seconds from now."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class Rejected:
    """A request Jira refused with 400 (a JQL it rejects), returned where the caller asked for it."""

    detail: str  # Jira's message, masked as in every SourceError


@dataclass(frozen=True)
class ServerInfo:
    """What serverInfo says, kept for the life of the process."""

    deployment_type: str
    version: tuple[int, ...]


class _WholeBody(HTTPAdapter):
    """requests' HTTP adapter, reading a reply's body in one read instead of 10 KiB steps.

    Search pages are hundreds of KiB: `Response.content` reads them 10 KiB at a time through
    urllib3's stream, a third of the CPU a page costs in the client. Reading the body here, as
    `content` would (iter_content: the same decoding and the same exceptions), leaves it ready.
    """

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        response = super().send(request, stream, timeout, verify, cert, proxies)
        if not stream and response.raw is not None and response.status_code != 0:
            response._content = b"".join(response.iter_content(None)) or b""
            # as `content` leaves it: a later iter_content gives these bytes, not the spent stream
            setattr(response, "_content_consumed", True)  # noqa: B010
        return response


def _server_text(exc: JIRAError) -> str:
    # The server's own words help with a bad JQL, but must not carry an address, an issue key
    # or a person's name (Jira quotes the offending value) into a log.
    text = " ".join(str(exc.text or "").split())[:200]
    text = _QUOTED_VALUE.sub(r"\1'…'", _EMAIL.sub("<e-mail>", text))
    return _ISSUE_KEY.sub("<key>", text)


class Transport:
    """Every request to one Jira server, with retries, a request count and SourceErrors."""

    def __init__(
        self,
        settings: JiraSettings,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.host = settings.host
        self.sleep = sleep
        self.clock = clock
        self.rng = rng
        self.monotonic = monotonic
        self.requests = 0
        # Seconds this transport (one collection cycle) lost to failed requests and retry
        # waits; past settings.cycle_budget_seconds, a failure is not retried.
        self.lost = 0.0
        self.info: ServerInfo | None = None  # what serverInfo said (or what the caller knew)
        self._client: JIRA | None = None

    @property
    def client(self) -> JIRA:
        """Return the connected client."""
        if self._client is None:
            raise RuntimeError("Transport.connect() first")
        return self._client

    def connect(self, known: ServerInfo | None = None) -> ServerInfo:
        """Build the client; its constructor reads serverInfo (Cloud or Data Center) unless known."""
        s = self.settings
        auth: dict[str, Any] = {"basic_auth": (s.email, s.token)} if s.email else {"token_auth": s.token}

        def build() -> JIRA:
            try:
                return JIRA(
                    server=s.url,
                    max_retries=0,  # the client's own retries ignore long Retry-After; ours honour it
                    timeout=(min(CONNECT_TIMEOUT_SECONDS, s.timeout_seconds), s.timeout_seconds),
                    get_server_info=known is None,
                    **auth,
                )
            except (KeyError, TypeError) as exc:
                raise SourceError(
                    f"{self.host}: serverInfo reply lacks versionNumbers: not a Jira server?"
                ) from exc

        if known is not None:
            client = _whole_bodies(build())  # no request: the client only learns what `known` holds
            client.deploymentType = known.deployment_type
            client._version = known.version
            self._client = client
            self.info = known
            return known
        client = _whole_bodies(self.call("serverInfo", build))
        self._client = client
        version = tuple(v for v in getattr(client, "_version", ()) if isinstance(v, int))
        self.info = ServerInfo(str(client.deploymentType or ""), version)
        return self.info

    def close(self) -> None:
        """Release the HTTP connections."""
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def call(
        self,
        what: str,
        request: Callable[[], T],
        missing_ok: bool = False,
        rejected_ok: bool = False,
        forbidden_ok: bool = False,
    ) -> T | Any:
        """Run one request with the retry policy; `what` names it in messages (never a key or a name).

        With missing_ok, a 404 returns None instead of failing; with forbidden_ok, a 403 does;
        with rejected_ok, a 400 returns Rejected.
        """
        s = self.settings
        attempt = 0
        while True:
            self.requests += 1
            started = self.monotonic()
            try:
                return request()
            except JIRAError as exc:
                status = exc.status_code
                if (missing_ok and status == 404) or (forbidden_ok and status == 403):
                    return None
                if rejected_ok and status == 400:
                    return Rejected(_server_text(exc))
                delay, reason = self._retry_delay(what, exc, attempt)
            except requests.exceptions.SSLError as exc:
                raise SourceError(f"{self.host}: {what}: TLS error: {type(exc).__name__}") from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                delay = self._backoff(attempt)
                reason = self._connection_problem(exc)
            except ValueError:
                # JSON that does not parse (requests' and orjson's errors are ValueErrors). With
                # status 200 this is most often a proxy's login or maintenance page in front of
                # Jira, gone a moment later: retried like a 5xx. A url that is not Jira at all
                # fails once the retries or the budget are spent.
                delay = self._backoff(attempt)
                reason = NOT_JSON
            self.lost += self.monotonic() - started
            if attempt >= s.max_retries:
                raise SourceError(f"{self.host}: {what}: {reason}, gave up after {attempt} retries")
            if self.lost + delay > s.cycle_budget_seconds:
                raise SourceError(
                    f"{self.host}: {what}: {reason}, gave up after {attempt} retries: this cycle spent "
                    f"its time budget for failures, cycle_budget_seconds ({s.cycle_budget_seconds:g} s); "
                    "what was synced is kept and the next cycle goes on"
                )
            self.sleep(delay)
            self.lost += delay
            attempt += 1

    def _retry_delay(self, what: str, exc: JIRAError, attempt: int) -> tuple[float, str]:
        status = exc.status_code
        s = self.settings
        if status is None:
            raise SourceError(f"{self.host}: {what}: no reply") from exc
        if status in RETRY_STATUSES:
            headers = exc.response.headers if exc.response is not None else {}
            wait = retry_after_seconds(headers.get("Retry-After"), self.clock())
            label = "rate limited (HTTP 429)" if status == 429 else "unavailable (HTTP 503)"
            if wait is not None:
                if wait > s.max_retry_wait_seconds:
                    raise SourceError(
                        f"{self.host}: {what}: {label}, server asks to retry after {wait:.0f} s, "
                        f"more than max_retry_wait_seconds ({s.max_retry_wait_seconds:.0f} s)"
                    ) from exc
                return wait, label
            return self._backoff(attempt), label
        if status >= 500:
            return self._backoff(attempt), f"server error (HTTP {status})"
        if status == 401:
            raise SourceError(
                f"{self.host}: {what}: authentication failed (HTTP 401): check the e-mail and "
                f"the token in ${s.token_env}"
            ) from exc
        if status == 403:
            raise SourceError(f"{self.host}: {what}: access denied (HTTP 403)") from exc
        if status == 404:
            raise SourceError(
                f"{self.host}: {what}: not found (HTTP 404): is the url a Jira server?"
            ) from exc
        detail = _server_text(exc)
        raise SourceError(
            f"{self.host}: {what}: rejected (HTTP {status}){': ' + detail if detail else ''}"
        ) from exc

    def _backoff(self, attempt: int) -> float:
        # Full-size exponential steps with jitter, so many instances do not retry in lockstep.
        base = min(self.settings.max_retry_wait_seconds, BACKOFF_BASE_SECONDS * 2**attempt)
        return base * (0.5 + self.rng() / 2)

    def _connection_problem(self, exc: Exception) -> str:
        text = str(exc)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"no connection within {min(CONNECT_TIMEOUT_SECONDS, self.settings.timeout_seconds):g} s"
        if isinstance(exc, requests.exceptions.Timeout):
            return f"no reply within {self.settings.timeout_seconds:g} s"
        if "refused" in text:
            return "connection refused"
        if "resolve" in text or "Name or service not known" in text or "getaddrinfo" in text:
            return "host name does not resolve"
        return "cannot connect"

    # Endpoints the client does not wrap, or wraps as slow Resource objects: go through its
    # session, so authentication, timeout and error raising stay the client's.

    def get(
        self,
        what: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        api: str | None = None,
        missing_ok: bool = False,
        forbidden_ok: bool = False,
    ) -> Any:
        """GET a REST path (relative to /rest/api/2, or /rest/api/{api}) and return its JSON."""
        client = self.client
        url = client._get_url(path) if api is None else client._get_url(path, base=_base(api))
        return self.call(
            what,
            lambda: client._session.get(url, params=params).json(),
            missing_ok=missing_ok,
            forbidden_ok=forbidden_ok,
        )

    def get_page(self, what: str, path: str, params: dict[str, Any], *, rejected_ok: bool = False) -> Any:
        """GET a search page through the client's session and decode it with orjson.

        Search pages are most of a sync's bytes; orjson decodes them in about a third of the
        time json takes, and the request still goes through the client (auth, errors).
        """
        client = self.client
        url = client._get_url(path)
        return self.call(
            what,
            lambda: orjson.loads(client._session.get(url, params=params).content),
            rejected_ok=rejected_ok,
        )

    def post_page(self, what: str, path: str, body: dict[str, Any], *, rejected_ok: bool = False) -> Any:
        """POST a search (a JQL too long for a URL) and decode the page with orjson."""
        client = self.client
        url = client._get_url(path)
        data = orjson.dumps(body)
        return self.call(
            what,
            lambda: orjson.loads(client._session.post(url, data=data).content),
            rejected_ok=rejected_ok,
        )

    def post(self, what: str, path: str, body: dict[str, Any], *, api: str | None = None) -> Any:
        """POST a JSON body to a REST path and return the JSON reply (decoded with orjson).

        Its one caller, changelog/bulkfetch, reads up to 10,000 histories a reply: orjson as
        for search pages.
        """
        client = self.client
        url = client._get_url(path) if api is None else client._get_url(path, base=_base(api))
        data = json.dumps(body)
        return self.call(what, lambda: orjson.loads(client._session.post(url, data=data).content))


def _whole_bodies(client: JIRA) -> JIRA:
    """Mount the one-read adapter on the client's session, for both schemes."""
    session = client._session
    for prefix in ("https://", "http://"):
        session.mount(prefix, _WholeBody())
    return client


def _base(api: str) -> str:
    return "{server}/rest/api/" + api + "/{path}"
