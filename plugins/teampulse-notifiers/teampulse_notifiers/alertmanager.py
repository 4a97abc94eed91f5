"""The "alertmanager" notifier: teampulse's own alerts POSTed to Alertmanager's API v2.

Alertmanager forgets a firing alert at its `endsAt` unless the client sends it again, so a
firing alert is re-sent every cycle (at most every `resend_seconds`) with `endsAt` a few
cycles ahead, as Prometheus does. A resolution is sent once, with `endsAt` = now, for every
label set this process sent as firing. That set lives in memory: after a restart nothing is
sent for an alert that resolved while teampulse was down, and Alertmanager resolves it by
itself when the last `endsAt` it got passes.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from teampulse import (
    AlertState,
    ConfigError,
    Number,
    PluginConfig,
    Secret,
    Setting,
    Settings,
    Text,
    ValueType,
)

from .delivery import DELIVERY, HttpUrl, Poster, RetryPolicy, ca_file_option, host_of, retry_policy

__all__ = [
    "ALERTMANAGER",
    "DEFAULT_RUNBOOK_BASE",
    "SETTINGS",
    "AlertmanagerNotifier",
    "AlertmanagerSettings",
    "parse_alertmanager_settings",
]

DEFAULT_RUNBOOK_BASE = "https://github.com/teampulse/teampulse/blob/main/docs/runbook.md"
DEFAULT_PORT = 9469  # teampulse serve's default --listen port
FIRST_ENDS_AFTER = 3600.0  # endsAt horizon before the serve interval is known
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED = {"alertname", "severity", "team", "source"}

Key = tuple[tuple[str, str], ...]


class Labels(ValueType[dict[str, str]]):
    """A table of label = "value", teampulse's own labels excluded."""

    def parse(self, value: Any, key: str) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ConfigError(key, 'must be a table of label = "value"')
        for name, text in value.items():
            where = f"{key}.{name}"
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ConfigError(where, "is not a valid Prometheus label name")
            if name in _RESERVED:
                raise ConfigError(where, "is set by teampulse and cannot be overridden")
            if not isinstance(text, str) or not text:
                raise ConfigError(where, "must be a non-empty string")
        return dict(value)

    def describe(self) -> str:
        return 'table of label = "value"'


def _ends_after_resend(values: Mapping[str, Any], prefix: str) -> None:
    ends_after, resend = values["ends_after_seconds"], values["resend_seconds"]
    if ends_after is not None and ends_after <= resend:
        raise ConfigError(
            prefix + "ends_after_seconds",
            f"must be longer than resend_seconds ({resend:g}), or Alertmanager resolves "
            "firing alerts between two sends",
        )


def _one_way_to_log_in(values: Mapping[str, Any], prefix: str) -> None:
    username, password, bearer = values["username"], values["password_env"], values["bearer_token_env"]
    if bearer is not None and (username or password is not None):
        raise ConfigError(
            prefix + "bearer_token_env", "use either a bearer token or username/password_env, not both"
        )
    if password is not None and not username:
        raise ConfigError(prefix + "username", "is required with password_env")
    if username and password is None:
        raise ConfigError(prefix + "password_env", "is required with username")


SETTINGS = Settings(
    Setting(
        "url",
        HttpUrl(),
        description="Alertmanager's base URL; alerts go to `<url>/api/v2/alerts`. No credentials in it.",
    ),
    Setting(
        "generator_url",
        HttpUrl(),
        None,
        "The `generatorURL` of every alert: the teampulse page. Set it when `serve` listens elsewhere "
        "or sits behind a proxy.",
        shown=f"`http://<this host's FQDN>:{DEFAULT_PORT}/`",
    ),
    Setting(
        "runbook_base",
        Text(),
        DEFAULT_RUNBOOK_BASE,
        "`runbook_url` is `<runbook_base>#<alert name in lower case>`, the anchor of the alert's "
        "section in docs/runbook.md (the shipped rules use the same URLs). Point it at your own copy.",
    ),
    Setting(
        "dashboard_url",
        Text(),
        None,
        "Adds a `dashboard_url` annotation; `{team}` and `{source}` are replaced by the alert's label "
        "(URL-quoted). An alert without that label (a source alert for a `{team}` URL) gets none.",
    ),
    Setting(
        "labels",
        Labels(),
        {},
        'Extra static labels on every alert, e.g. `{ origin = "teampulse", env = "prod" }`. '
        "`alertname`, `team`, `source` and `severity` are teampulse's and cannot be overridden.",
    ),
    Setting(
        "resend_seconds",
        Number(0),
        60,
        "A firing alert that did not change is re-sent every cycle, but not more often than this "
        "(Prometheus' `--rules.alert.resend-delay` default). A new alert, a new episode (another "
        "`startsAt`) and a resolution go at once.",
    ),
    Setting(
        "ends_after_seconds",
        Number(1),
        None,
        "How far ahead of now a firing alert's `endsAt` is set. By default 3 x the longest gap "
        "between the last notifications (the serve interval, as observed; at least 3 x "
        "`resend_seconds`), and 1 hour until two cycles were seen. Must be longer than "
        "`resend_seconds`.",
        shown="3 x the serve interval",
    ),
    Setting("username", Text(), None, "HTTP basic auth with `password_env`."),
    Setting("password_env", Secret(), None, "The environment variable holding the basic auth password."),
    Setting(
        "bearer_token_env",
        Secret(),
        None,
        "`Authorization: Bearer <token>` from the named environment variable (not with basic auth).",
    ),
    checks=(_ends_after_resend, _one_way_to_log_in),
)
ALERTMANAGER = Settings(SETTINGS, DELIVERY)
KEYS = tuple(ALERTMANAGER.names())


@dataclass(frozen=True)
class AlertmanagerSettings:
    """A validated `[notifiers.NAME]` table with plugin = "alertmanager"."""

    name: str
    url: str  # the Alertmanager base URL, e.g. http://alertmanager:9093
    generator_url: str
    runbook_base: str
    dashboard_url: str | None = None  # may hold {team} or {source}
    labels: Mapping[str, str] = field(default_factory=dict)
    resend_seconds: float = SETTINGS.default("resend_seconds")
    ends_after_seconds: float | None = None  # None: 3x the observed cycle, 1 h at first
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    authorization: str | None = field(default=None, repr=False)
    ca_file: str | None = None

    def __repr__(self) -> str:
        # Authorization holds a password or token: never in a log line or a traceback.
        auth = "set" if self.authorization else "none"
        return f"AlertmanagerSettings(name={self.name!r}, host={host_of(self.url)!r}, auth={auth})"

    @property
    def endpoint(self) -> str:
        """The API v2 alerts URL under the base URL (which may carry a route prefix)."""
        return self.url.rstrip("/") + "/api/v2/alerts"


def parse_alertmanager_settings(config: PluginConfig) -> AlertmanagerSettings:
    """Validate the table and read secrets from the environment; raise ConfigError."""
    values = config.parse(ALERTMANAGER)
    return AlertmanagerSettings(
        name=config.name,
        url=values["url"],
        generator_url=values["generator_url"] or f"http://{socket.getfqdn()}:{DEFAULT_PORT}/",
        runbook_base=values["runbook_base"].split("#", 1)[0],
        dashboard_url=values["dashboard_url"],
        labels=values["labels"],
        resend_seconds=values["resend_seconds"],
        ends_after_seconds=values["ends_after_seconds"],
        policy=retry_policy(values),
        authorization=_authorization(values),
        ca_file=ca_file_option(config),
    )


def _authorization(values: Mapping[str, Any]) -> str | None:
    """Return the Authorization header of the values (their secrets read already)."""
    if values["bearer_token_env"] is not None:
        return f"Bearer {values['bearer_token_env']}"
    if values["username"]:
        pair = f"{values['username']}:{values['password_env']}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
    return None


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AlertmanagerNotifier:
    """Sends the engine's alerts to Alertmanager; remembers what it sent as firing."""

    def __init__(self, settings: AlertmanagerSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.poster = Poster(
            settings.endpoint,
            f"notifier {settings.name} (Alertmanager)",
            settings.policy,
            settings.ca_file,
        )
        self._firing: dict[Key, str] = {}  # label set -> the startsAt it was sent with
        self._sent_at: dict[Key, float] = {}  # label set -> when it was last sent
        self._calls: deque[float] = deque(maxlen=6)

    def __repr__(self) -> str:
        return f"AlertmanagerNotifier({self.settings!r})"

    @property
    def firing(self) -> frozenset[Key]:
        """The label sets sent as firing and not yet sent as resolved."""
        return frozenset(self._firing)

    def ends_after(self) -> float:
        """Seconds from now to a firing alert's endsAt."""
        if self.settings.ends_after_seconds is not None:
            return self.settings.ends_after_seconds
        calls = list(self._calls)
        if len(calls) < 2:
            return max(FIRST_ENDS_AFTER, 3 * self.settings.resend_seconds)
        cycle = max(b - a for a, b in pairwise(calls))
        return max(3 * cycle, 3 * self.settings.resend_seconds, 10.0)

    def labels(self, alert: AlertState) -> dict[str, str]:
        """The Alertmanager label set of an alert: alertname, team or source, severity."""
        return {
            **self.settings.labels,
            **{k: str(v) for k, v in alert.labels.items()},
            "alertname": alert.alert,
            "severity": alert.severity,
        }

    def annotations(self, alert: AlertState) -> dict[str, str]:
        """summary, description, runbook_url and (when configured) dashboard_url."""
        result = {
            "summary": alert.summary,
            "description": alert.description,
            "runbook_url": f"{self.settings.runbook_base}#{alert.alert.lower()}",
        }
        if self.settings.dashboard_url:
            url = self.settings.dashboard_url
            for name, value in alert.labels.items():
                url = url.replace("{" + name + "}", urllib.parse.quote(str(value), safe=""))
            if not re.search(r"\{[a-z_]+\}", url):  # a placeholder this alert has no label for
                result["dashboard_url"] = url
        return result

    def payload(self, alerts: Sequence[AlertState], now: float) -> list[dict[str, Any]]:
        """Return the postableAlerts due now (does not change what is remembered)."""
        return [item for _, _, item in self._due(alerts, now)]

    def _due(self, alerts: Sequence[AlertState], now: float) -> list[tuple[Key, bool, dict[str, Any]]]:
        due: list[tuple[Key, bool, dict[str, Any]]] = []
        seen: set[Key] = set()
        ends = _iso(now + self.ends_after())
        for alert in alerts:
            labels = self.labels(alert)
            key: Key = tuple(sorted(labels.items()))
            seen.add(key)
            if alert.firing:
                starts = alert.since or self._firing.get(key) or _iso(now)
                fresh = self._firing.get(key) != starts
                resend = now - self._sent_at.get(key, float("-inf")) >= self.settings.resend_seconds
                if fresh or resend:
                    due.append((key, True, self._postable(labels, self.annotations(alert), starts, ends)))
            elif key in self._firing:
                item = self._postable(labels, self.annotations(alert), self._firing[key], _iso(now))
                due.append((key, False, item))
        # An alert that vanished (its team or source left the config) is resolved too.
        for key, starts in self._firing.items():
            if key not in seen:
                labels = dict(key)
                annotations = {
                    "summary": f"{labels['alertname']} is no longer evaluated",
                    "description": "Its team or source is no longer in teampulse's config.",
                    "runbook_url": f"{self.settings.runbook_base}#{labels['alertname'].lower()}",
                }
                due.append((key, False, self._postable(labels, annotations, starts, _iso(now))))
        return due

    def _postable(
        self, labels: Mapping[str, str], annotations: Mapping[str, str], starts: str, ends: str
    ) -> dict[str, Any]:
        return {
            "labels": dict(labels),
            "annotations": dict(annotations),
            "startsAt": starts,
            "endsAt": ends,
            "generatorURL": self.settings.generator_url,
        }

    def notify(self, alerts: Sequence[AlertState]) -> None:
        """POST the firing alerts due for a (re)send and the new resolutions; raise DeliveryError."""
        now = self.clock()
        self._calls.append(now)
        due = self._due(alerts, now)
        if not due:
            return
        headers = {"Authorization": self.settings.authorization} if self.settings.authorization else {}
        self.poster.post(json.dumps([item for _, _, item in due]).encode(), headers)
        # Only now, after Alertmanager took them: a failed POST is sent again next cycle.
        for key, firing, item in due:
            if firing:
                self._firing[key] = item["startsAt"]
                self._sent_at[key] = now
            else:
                self._firing.pop(key, None)
                self._sent_at.pop(key, None)
