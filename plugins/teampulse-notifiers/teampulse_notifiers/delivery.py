"""One HTTP POST with bounded retries, and error messages that name the host, never a secret."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from teampulse import (
    ConfigError,
    Number,
    PluginConfig,
    Setting,
    Settings,
    TeampulseError,
    Text,
    ValueType,
    Whole,
)

__all__ = [
    "DELIVERY",
    "DeliveryError",
    "HttpUrl",
    "Poster",
    "RetryPolicy",
    "ca_file_option",
    "host_of",
    "retry_policy",
]

USER_AGENT = "teampulse-notifiers/0.1.0"
_BODY_SHOWN = 200  # characters of a refusal's body quoted in the message


class DeliveryError(TeampulseError):
    """A notification could not be delivered; the message names the host and the status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


def host_of(url: str) -> str:
    """Return host[:port] of a URL, without any user information."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


@dataclass(frozen=True)
class HttpUrl(ValueType[str]):
    """An http:// or https:// URL without credentials, and without a query unless allowed."""

    allow_query: bool = False

    def parse(self, value: Any, key: str) -> str:
        url = Text().parse(value, key)
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError:  # an unclosed IPv6 bracket
            raise ConfigError(key, "must be an http:// or https:// URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(key, "must be an http:// or https:// URL")
        try:
            parts.port  # noqa: B018 - urllib checks the port only when asked
        except ValueError:
            raise ConfigError(key, "has a port outside 0..65535") from None
        if parts.username is not None or parts.password is not None:
            raise ConfigError(key, "must not hold credentials; use username/password_env or bearer_token_env")
        if parts.fragment or (parts.query and not self.allow_query):
            raise ConfigError(key, "must not have a query or a fragment")
        return url

    def describe(self) -> str:
        return "URL"


# The keys of both notifier kinds about delivering.
DELIVERY = Settings(
    Setting("timeout_seconds", Number(0.1), 10, "Connect and read timeout of one POST."),
    Setting(
        "max_retries",
        Whole(0, 10, what="a whole number from 0 to 10"),
        2,
        "Retries of a POST after HTTP 5xx, 429, a timeout or a connection failure, waiting "
        "`retry_backoff_seconds`, then twice that, ... (at most 10 s per wait).",
    ),
    Setting("retry_backoff_seconds", Number(0), 1, "The first wait between retries."),
    Setting(
        "ca_file",
        Text(),
        None,
        "A PEM bundle to verify an `https://` receiver with (relative to the config file).",
        shown="system CAs",
    ),
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to try one delivery."""

    attempts: int = DELIVERY.default("max_retries") + 1  # 1 + retries
    backoff: float = DELIVERY.default("retry_backoff_seconds")  # first wait; doubles each retry
    max_wait: float = 10.0
    timeout: float = DELIVERY.default("timeout_seconds")


def ca_file_option(config: PluginConfig) -> str | None:
    """Return the absolute path of the optional `ca_file` (PEM bundle to verify https with)."""
    value = config.optional_str("ca_file")
    if value is None:
        return None
    path = config.path(value)
    try:
        found = path.is_file()
    except OSError as exc:  # a name too long
        raise ConfigError(config.key("ca_file"), f"cannot be read: {exc.strerror}") from None
    if not found:
        raise ConfigError(config.key("ca_file"), f"no such file: {path}")
    try:  # as the Poster will load it: a file that is no PEM bundle fails here, naming the key
        ssl.create_default_context(cafile=str(path))
    except OSError as exc:  # ssl.SSLError included
        reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        raise ConfigError(
            config.key("ca_file"), f"{path} is not a PEM bundle of CA certificates ({reason})"
        ) from None
    return str(path)


def retry_policy(values: Mapping[str, Any]) -> RetryPolicy:
    """Return the policy of a notifier's values (read with a Settings holding DELIVERY)."""
    return RetryPolicy(
        attempts=values["max_retries"] + 1,
        backoff=values["retry_backoff_seconds"],
        timeout=values["timeout_seconds"],
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it could hand credentials to another host."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Poster:
    """POSTs bodies to one URL; retries 5xx, 429 and connection failures with backoff."""

    url: str
    what: str  # e.g. "notifier am (Alertmanager)"; starts every message
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    ca_file: str | None = None
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if self.ca_file:
            context = ssl.create_default_context(cafile=self.ca_file)
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)
        self.host = host_of(self.url)

    def __repr__(self) -> str:
        return f"Poster({self.what!r}, host={self.host!r})"

    def post(self, body: bytes, headers: Mapping[str, str]) -> int:
        """POST the body; return the 2xx status or raise DeliveryError."""
        last = ""
        for attempt in range(1, self.policy.attempts + 1):
            if attempt > 1:
                self.sleep(min(self.policy.backoff * 2 ** (attempt - 2), self.policy.max_wait))
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            )
            try:
                with self._opener.open(request, timeout=self.policy.timeout) as response:
                    response.read()
                    return int(response.status)
            except urllib.error.HTTPError as exc:
                status = exc.code
                detail = _short(exc)
                if 300 <= status < 400:
                    where = host_of(exc.headers.get("Location", "")) if exc.headers.get("Location") else "?"
                    raise DeliveryError(
                        f"{self.what}: {self.host} answered HTTP {status}, a redirect to {where}; "
                        "set the url to the final address",
                        status,
                    ) from None
                if status == 429 or status >= 500:
                    last = f"HTTP {status}{detail}"
                    continue
                raise DeliveryError(
                    f"{self.what}: {self.host} refused the delivery with HTTP {status}{detail}", status
                ) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                last = _reason(exc)
                continue
        tries = f"{self.policy.attempts} attempt" + ("s" if self.policy.attempts != 1 else "")
        raise DeliveryError(f"{self.what}: cannot deliver to {self.host} ({last}; gave up after {tries})")


def _short(exc: urllib.error.HTTPError) -> str:
    try:
        text = exc.read(_BODY_SHOWN + 1).decode("utf-8", "replace")
    except Exception:
        return ""
    text = " ".join(text.split())
    if not text:
        return ""
    if len(text) > _BODY_SHOWN:
        text = text[:_BODY_SHOWN] + "..."
    return f": {text}"


def _reason(exc: BaseException) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "host name not found"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error: {getattr(reason, 'reason', None) or reason}"
    text = str(getattr(reason, "strerror", None) or reason) or type(reason).__name__
    return text
