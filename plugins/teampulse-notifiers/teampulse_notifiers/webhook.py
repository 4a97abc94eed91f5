"""The "webhook" notifier: a signed JSON POST to any URL, only when something changed.

The signature follows what teampulse-survey accepts on its inbound webhook:
`X-Teampulse-Signature: sha256=<hex HMAC-SHA256 of f"{timestamp}.{body}">` with the unix
seconds in `X-Teampulse-Timestamp`, so a teampulse receiver and a teampulse sender agree.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from teampulse import AlertState, Number, PluginConfig, Secret, Setting, Settings

from .delivery import DELIVERY, HttpUrl, Poster, RetryPolicy, ca_file_option, host_of, retry_policy

__all__ = [
    "DELIVERY_HEADER",
    "MAX_SKEW_SECONDS",
    "SETTINGS",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WEBHOOK",
    "WebhookNotifier",
    "WebhookSettings",
    "parse_webhook_settings",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "X-Teampulse-Signature"
TIMESTAMP_HEADER = "X-Teampulse-Timestamp"
DELIVERY_HEADER = "X-Teampulse-Delivery"
MAX_SKEW_SECONDS = 300
VERSION = 1

Key = tuple[str, tuple[tuple[str, str], ...]]

SETTINGS = Settings(
    Setting(
        "url",
        HttpUrl(allow_query=True),
        description="Where to POST. It may carry a query (some services put a token there); messages and "
        "logs name only its host.",
    ),
    Setting(
        "secret_env",
        Secret(),
        description="Environment variable holding the shared secret that signs every delivery.",
    ),
    Setting(
        "repeat_seconds",
        Number(1),
        4 * 3600,
        "While anything fires and nothing changed, the current picture is sent again after this long.",
        shown="`14400` (4 h)",
    ),
)
WEBHOOK = Settings(SETTINGS, DELIVERY)
KEYS = tuple(WEBHOOK.names())


def sign(secret: bytes, body: bytes, timestamp: str) -> str:
    """Return the X-Teampulse-Signature value: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">."""
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify(
    secret: bytes, body: bytes, headers: Mapping[str, str], now: float | None = None, max_skew: float = 300
) -> bool:
    """Check a delivery on the receiving side: signature and a timestamp within `max_skew` seconds.

    `headers` may use any case. Compare in constant time; reject old timestamps (replays).
    """
    folded = {k.lower(): v for k, v in headers.items()}
    timestamp = folded.get(TIMESTAMP_HEADER.lower(), "").strip()
    given = folded.get(SIGNATURE_HEADER.lower(), "").strip().lower()
    if not timestamp.isdigit() or not given.startswith("sha256="):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > max_skew:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp).encode(), given.encode())


@dataclass(frozen=True)
class WebhookSettings:
    """A validated `[notifiers.NAME]` table with plugin = "webhook"."""

    name: str
    url: str
    secret: bytes = field(repr=False)
    repeat_seconds: float = SETTINGS.default("repeat_seconds")
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    ca_file: str | None = None

    def __repr__(self) -> str:
        # Only the host: many webhook URLs carry a token in their path or query.
        return f"WebhookSettings(name={self.name!r}, host={host_of(self.url)!r})"


def parse_webhook_settings(config: PluginConfig) -> WebhookSettings:
    """Validate the table and read the secret from the environment; raise ConfigError."""
    values = config.parse(WEBHOOK)
    return WebhookSettings(
        name=config.name,
        url=values["url"],
        secret=values["secret_env"].encode(),
        repeat_seconds=values["repeat_seconds"],
        policy=retry_policy(values),
        ca_file=ca_file_option(config),
    )


def _key(alert: AlertState) -> Key:
    return alert.alert, tuple(sorted((k, str(v)) for k, v in alert.labels.items()))


def _entry(alert: AlertState, status: str, since: str | None) -> dict[str, Any]:
    return {
        "alert": alert.alert,
        "labels": {k: str(v) for k, v in alert.labels.items()},
        "severity": alert.severity,
        "status": status,
        "since": since,
        "summary": alert.summary,
        "description": alert.description,
        "evidence": _plain(alert.evidence),
    }


def _plain(value: Any) -> Any:
    """Evidence as JSON: mappings and sequences as objects and lists, the rest as is or str."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


class WebhookNotifier:
    """POSTs the firing alerts and new resolutions when the picture changed."""

    def __init__(self, settings: WebhookSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.poster = Poster(
            settings.url, f"notifier {settings.name} (webhook)", settings.policy, settings.ca_file
        )
        self._firing: dict[Key, str | None] = {}  # alert -> since, as last delivered
        self._last_delivery: float | None = None
        self.deliveries = 0

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.settings!r})"

    def body(self, alerts: Sequence[AlertState], now: float) -> dict[str, Any] | None:
        """Return the delivery due now, or None when nothing changed and no repeat is due."""
        entries: list[dict[str, Any]] = []
        changed = False
        seen: set[Key] = set()
        for alert in alerts:
            key = _key(alert)
            seen.add(key)
            if alert.firing:
                entries.append(_entry(alert, "firing", alert.since))
                if key not in self._firing or self._firing[key] != alert.since:
                    changed = True
            elif key in self._firing:
                entries.append(_entry(alert, "resolved", self._firing[key]))
                changed = True
        for key, since in self._firing.items():
            if key not in seen:  # the team or source left the config
                changed = True
                entries.append(
                    {
                        "alert": key[0],
                        "labels": dict(key[1]),
                        "severity": "",
                        "status": "resolved",
                        "since": since,
                        "summary": f"{key[0]} is no longer evaluated",
                        "description": "Its team or source is no longer in teampulse's config.",
                        "evidence": {},
                    }
                )
        firing = any(e["status"] == "firing" for e in entries)
        repeat = (
            firing
            and self._last_delivery is not None
            and now - self._last_delivery >= self.settings.repeat_seconds
        )
        if not (changed or repeat):
            return None
        return {"version": VERSION, "alerts": entries}

    def notify(self, alerts: Sequence[AlertState]) -> None:
        """Deliver when something changed; raise DeliveryError when the receiver fails."""
        now = self.clock()
        body = self.body(alerts, now)
        if body is None:
            return
        data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        timestamp = str(int(now))
        headers = {
            SIGNATURE_HEADER: sign(self.settings.secret, data, timestamp),
            TIMESTAMP_HEADER: timestamp,
            # The same content gives the same key, so a receiver can drop a repeat it already took.
            DELIVERY_HEADER: hashlib.sha256(data).hexdigest()[:32],
        }
        self.poster.post(data, headers)
        self._last_delivery = now
        self.deliveries += 1
        self._firing = {
            (e["alert"], tuple(sorted(e["labels"].items()))): e["since"]
            for e in body["alerts"]
            if e["status"] == "firing"
        }
