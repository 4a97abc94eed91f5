"""The webhook notifier against a local receiver: signature, schema, change-only delivery."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jsonschema
import pytest
from teampulse_notifiers import DeliveryError, WebhookNotifier, verify
from teampulse_notifiers.webhook import parse_webhook_settings

from teampulse import ConfigError, PluginConfig
from teampulse.testing import free_port

SECRET = "hook-secret-0123456789"

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "alerts"],
    "properties": {
        "version": {"const": 1},
        "alerts": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "alert",
                    "labels",
                    "severity",
                    "status",
                    "since",
                    "summary",
                    "description",
                    "evidence",
                ],
                "properties": {
                    "alert": {"type": "string", "minLength": 1},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "severity": {"type": "string"},
                    "status": {"enum": ["firing", "resolved"]},
                    "since": {"type": ["string", "null"], "format": "date-time"},
                    "summary": {"type": "string"},
                    "description": {"type": "string"},
                    "evidence": {"type": "object"},
                },
            },
        },
    },
}


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def _hook(url: str, clock: Any, **options: Any) -> WebhookNotifier:
    config = PluginConfig(
        "hook", "notifiers", {"plugin": "webhook", "url": url, "secret_env": "HOOK_SECRET", **options}
    )
    notifier = WebhookNotifier(parse_webhook_settings(config), clock)
    notifier.poster.sleep = lambda seconds: None
    return notifier


def test_signed_delivery_with_the_documented_body(
    receiver: Any, clock: Any, pressure: Any, source_down: Any
) -> None:
    hook = _hook(receiver.url + "/hooks/teampulse", clock)
    hook.notify([pressure(True), pressure(False, team="platform"), source_down(True)])
    d = receiver.deliveries[0]
    assert d.path == "/hooks/teampulse"
    timestamp = d.headers["X-Teampulse-Timestamp"]
    assert timestamp == str(int(clock.now))
    # The signature, recomputed here from the documented recipe, not with the plugin's code.
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + d.body, hashlib.sha256).hexdigest()
    assert d.headers["X-Teampulse-Signature"] == f"sha256={expected}"
    assert verify(SECRET.encode(), d.body, d.headers, now=clock.now)
    assert not verify(b"another-secret", d.body, d.headers, now=clock.now)
    assert not verify(SECRET.encode(), d.body + b" ", d.headers, now=clock.now)
    assert not verify(SECRET.encode(), d.body, d.headers, now=clock.now + 301)  # a replay
    assert d.headers["X-Teampulse-Delivery"] == hashlib.sha256(d.body).hexdigest()[:32]

    body = d.json()
    jsonschema.validate(body, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert [(a["alert"], a["labels"], a["status"]) for a in body["alerts"]] == [
        ("ProcessPressureWithoutLeadership", {"team": "payments"}, "firing"),
        ("TeampulseSourceDown", {"source": "jira"}, "firing"),
    ]
    first = body["alerts"][0]
    assert first["since"] == "2026-03-14T09:00:00Z" and first["severity"] == "warning"
    assert first["evidence"]["components"]["wip_per_person"]["value"] == 3.1
    assert SECRET not in d.body.decode() and SECRET not in repr(hook)
    assert "/hooks/teampulse" not in repr(hook)  # webhook paths often hold a token


def test_sent_only_when_something_changed(receiver: Any, clock: Any, pressure: Any) -> None:
    hook = _hook(receiver.url, clock, repeat_seconds=3600)
    hook.notify([pressure(False)])
    assert receiver.count() == 0  # nothing firing, nothing resolved
    hook.notify([pressure(True)])
    for _ in range(5):
        clock.advance(60)
        hook.notify([pressure(True)])
    assert receiver.count() == 1  # unchanged: no resend
    clock.advance(60)
    hook.notify([pressure(True), pressure(True, team="mobile")])
    assert receiver.count() == 2  # a new firing alert: both are in the delivery
    assert [a["labels"]["team"] for a in receiver.deliveries[1].json()["alerts"]] == ["payments", "mobile"]
    clock.advance(3600)
    hook.notify([pressure(True), pressure(True, team="mobile")])
    assert receiver.count() == 3  # the repeat while firing


def test_a_resolution_is_sent_once(receiver: Any, clock: Any, pressure: Any) -> None:
    hook = _hook(receiver.url, clock)
    hook.notify([pressure(True), pressure(True, team="mobile")])
    clock.advance(60)
    hook.notify([pressure(False), pressure(True, team="mobile")])
    alerts = receiver.deliveries[1].json()["alerts"]
    assert [(a["labels"]["team"], a["status"], a["since"]) for a in alerts] == [
        ("payments", "resolved", "2026-03-14T09:00:00Z"),
        ("mobile", "firing", "2026-03-14T09:00:00Z"),
    ]
    jsonschema.validate(receiver.deliveries[1].json(), SCHEMA)
    clock.advance(60)
    hook.notify([pressure(False), pressure(True, team="mobile")])
    assert receiver.count() == 2


def test_retry_carries_the_same_delivery_key(receiver: Any, clock: Any, pressure: Any) -> None:
    receiver.statuses = [503]
    hook = _hook(receiver.url, clock)
    hook.notify([pressure(True)])
    first, retry = receiver.deliveries
    assert first.body == retry.body
    for header in ("X-Teampulse-Delivery", "X-Teampulse-Signature", "X-Teampulse-Timestamp"):
        assert first.headers[header] == retry.headers[header]


def test_receiver_down_raises_a_clear_error_and_is_retried_next_cycle(
    receiver: Any, clock: Any, pressure: Any
) -> None:
    port = free_port()  # nothing listens there: connections are refused
    hook = _hook(f"http://127.0.0.1:{port}/hook", clock, max_retries=1)
    with pytest.raises(DeliveryError) as err:
        hook.notify([pressure(True)])
    assert str(err.value) == (
        f"notifier hook (webhook): cannot deliver to 127.0.0.1:{port} "
        "(connection refused; gave up after 2 attempts)"
    )
    # Nothing was recorded as delivered: the next cycle sends it again.
    hook.poster.url = receiver.url
    hook.notify([pressure(True)])
    assert receiver.count() == 1


def test_4xx_names_the_host_and_status(receiver: Any, clock: Any, pressure: Any) -> None:
    receiver.statuses = [401]
    hook = _hook(receiver.url, clock)
    with pytest.raises(DeliveryError, match=r"127\.0\.0\.1:\d+ refused the delivery with HTTP 401") as err:
        hook.notify([pressure(True)])
    assert SECRET not in str(err.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"secret_env": None}, "notifiers.hook.secret_env: is required"),
        ({"secret_env": "TP_UNSET_VAR"}, "environment variable TP_UNSET_VAR is not set"),
        ({"repeat_seconds": 0}, "notifiers.hook.repeat_seconds: must be at least 1"),
        ({"url": "ftp://x"}, "notifiers.hook.url: must be an http:// or https:// URL"),
        ({"headers": {}}, "notifiers.hook.headers: unknown key"),
        ({"ca_file": "no-such-ca.pem"}, "notifiers.hook.ca_file: no such file"),
        ({"url": "https://hooks.example/x#frag"}, "notifiers.hook.url: must not have a query or a fragment"),
    ],
)
def test_config_errors_name_the_key(options: dict[str, Any], message: str) -> None:
    table = {"plugin": "webhook", "url": "https://hooks.example/x", "secret_env": "HOOK_SECRET", **options}
    table = {k: v for k, v in table.items() if v is not None}
    with pytest.raises(ConfigError) as err:
        parse_webhook_settings(PluginConfig("hook", "notifiers", table))
    assert message in str(err.value)
