"""The alertmanager notifier's resend and resolve rules, retries and config, against a recorder."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import pytest
import teampulse_notifiers
from teampulse_notifiers import AlertmanagerNotifier, DeliveryError
from teampulse_notifiers.alertmanager import parse_alertmanager_settings

from teampulse import ConfigError, NotifierKind, PluginConfig
from teampulse.testing import free_port


def _config(**options: Any) -> PluginConfig:
    return PluginConfig("am", "notifiers", {"plugin": "alertmanager", **options})


def _notifier(url: str, clock: Any, **options: Any) -> AlertmanagerNotifier:
    notifier = AlertmanagerNotifier(parse_alertmanager_settings(_config(url=url, **options)), clock)
    notifier.poster.sleep = lambda seconds: None  # no real backoff in tests
    return notifier


def _sent(receiver: Any, n: int) -> list[dict[str, Any]]:
    return list(receiver.deliveries[n].json())


def test_registers_both_kinds() -> None:
    kinds: list[NotifierKind] = []
    teampulse_notifiers.register_notifiers(kinds.append)
    assert [k.name for k in kinds] == ["alertmanager", "webhook"]


def test_posts_to_api_v2_under_a_route_prefix(receiver: Any, clock: Any, pressure: Any) -> None:
    notifier = _notifier(receiver.url + "/alertmanager/", clock)
    notifier.notify([pressure(True)])
    assert receiver.deliveries[0].path == "/alertmanager/api/v2/alerts"
    assert receiver.deliveries[0].headers["Content-Type"] == "application/json"
    assert "Authorization" not in receiver.deliveries[0].headers


def test_firing_every_cycle_resolved_once(receiver: Any, clock: Any, pressure: Any) -> None:
    notifier = _notifier(receiver.url, clock, resend_seconds=0)
    notifier.notify([pressure(True), pressure(False, team="platform")])
    assert [a["labels"]["team"] for a in _sent(receiver, 0)] == ["payments"]
    clock.advance(60)
    notifier.notify([pressure(True), pressure(False, team="platform")])
    assert receiver.count() == 2  # re-sent, or Alertmanager would expire it at endsAt
    clock.advance(60)
    notifier.notify([pressure(False), pressure(False, team="platform")])
    resolved = _sent(receiver, 2)
    assert len(resolved) == 1
    assert resolved[0]["startsAt"] == "2026-03-14T09:00:00Z"  # remembered from when it fired
    ends = datetime.fromisoformat(resolved[0]["endsAt"].replace("Z", "+00:00"))
    assert ends.timestamp() == pytest.approx(clock.now, abs=0.01)  # endsAt = now: resolved
    clock.advance(60)
    notifier.notify([pressure(False), pressure(False, team="platform")])
    assert receiver.count() == 3  # a resolution goes once; nothing firing, nothing sent


def test_resend_seconds_spaces_unchanged_alerts(receiver: Any, clock: Any, pressure: Any) -> None:
    notifier = _notifier(receiver.url, clock, resend_seconds=300)
    notifier.notify([pressure(True)])
    clock.advance(120)
    notifier.notify([pressure(True), pressure(True, team="mobile")])  # a new alert goes at once, alone
    assert [a["labels"]["team"] for a in _sent(receiver, 1)] == ["mobile"]
    clock.advance(200)
    notifier.notify([pressure(True), pressure(True, team="mobile")])
    assert [a["labels"]["team"] for a in _sent(receiver, 2)] == ["payments"]
    clock.advance(10)
    notifier.notify([pressure(True, since="2026-03-16T08:00:00Z"), pressure(True, team="mobile")])
    assert [a["startsAt"] for a in _sent(receiver, 3)] == ["2026-03-16T08:00:00Z"]  # a new episode


def test_ends_at_follows_the_observed_cycle(receiver: Any, clock: Any, pressure: Any) -> None:
    notifier = _notifier(receiver.url, clock, resend_seconds=0)
    assert notifier.ends_after() == 3600  # before the cycle is known
    for _ in range(3):
        notifier.notify([pressure(True)])
        clock.advance(900)
    assert notifier.ends_after() == 2700  # 3 x a 15-minute serve interval
    fixed = _notifier(receiver.url, clock, ends_after_seconds=7200)
    assert fixed.ends_after() == 7200


def test_restart_forgets_and_vanished_alerts_resolve(receiver: Any, clock: Any, pressure: Any) -> None:
    first = _notifier(receiver.url, clock)
    first.notify([pressure(True)])
    restarted = _notifier(receiver.url, clock)  # a new process knows nothing was firing
    restarted.notify([pressure(False)])
    assert receiver.count() == 1
    # A team that left the config while its alert fired is resolved, not left to expire.
    first.notify([])
    gone = _sent(receiver, 1)
    assert (
        gone[0]["labels"]["team"] == "payments" and "no longer evaluated" in gone[0]["annotations"]["summary"]
    )
    assert first.firing == frozenset()


def test_retries_5xx_then_delivers(receiver: Any, clock: Any, pressure: Any) -> None:
    receiver.statuses = [503, 500]
    waits: list[float] = []
    notifier = _notifier(receiver.url, clock, max_retries=2, retry_backoff_seconds=0.5)
    notifier.poster.sleep = waits.append
    notifier.notify([pressure(True)])
    assert receiver.count() == 3 and waits == [0.5, 1.0]
    assert len(notifier.firing) == 1


def test_gives_up_after_bounded_retries_and_tries_again_next_cycle(
    receiver: Any, clock: Any, pressure: Any
) -> None:
    receiver.statuses = [502, 502, 502]
    notifier = _notifier(receiver.url, clock, max_retries=2, resend_seconds=600)
    with pytest.raises(DeliveryError, match=r"cannot deliver to 127\.0\.0\.1:\d+ \(HTTP 502: .*3 attempts"):
        notifier.notify([pressure(True)])
    assert notifier.firing == frozenset()
    clock.advance(5)
    notifier.notify([pressure(True)])  # not held back by resend_seconds: it never arrived
    assert receiver.count() == 4 and len(notifier.firing) == 1


def test_4xx_is_not_retried_and_names_host_and_status(
    receiver: Any, clock: Any, pressure: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AM_TOKEN", "tok-secret-123")
    receiver.statuses = [400]
    notifier = _notifier(receiver.url, clock, bearer_token_env="AM_TOKEN")
    with pytest.raises(DeliveryError) as err:
        notifier.notify([pressure(True)])
    host = receiver.url.removeprefix("http://")
    assert str(err.value) == (
        f"notifier am (Alertmanager): {host} refused the delivery with HTTP 400: no such route: bad things"
    )
    assert err.value.status == 400 and receiver.count() == 1
    assert receiver.deliveries[0].headers["Authorization"] == "Bearer tok-secret-123"
    assert "tok-secret" not in repr(notifier) + repr(notifier.settings)


def test_connection_refused_is_clear(clock: Any, pressure: Any) -> None:
    port = free_port()  # nothing listens there: connections are refused
    notifier = _notifier(f"http://127.0.0.1:{port}", clock, max_retries=1)
    with pytest.raises(DeliveryError, match=rf"cannot deliver to 127\.0\.0\.1:{port} \(connection refused"):
        notifier.notify([pressure(True)])


def test_basic_auth_header(receiver: Any, clock: Any, pressure: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AM_PASSWORD", "pa:ss")
    notifier = _notifier(receiver.url, clock, username="tp", password_env="AM_PASSWORD")
    notifier.notify([pressure(True)])
    header = receiver.deliveries[0].headers["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")) == b"tp:pa:ss"


def test_a_redirect_is_refused(receiver: Any, clock: Any, pressure: Any) -> None:
    receiver.statuses = [307]
    notifier = _notifier(receiver.url, clock)
    with pytest.raises(DeliveryError, match="HTTP 307, a redirect"):
        notifier.notify([pressure(True)])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "notifiers.am.url: is required"),
        ({"url": "alertmanager:9093"}, "notifiers.am.url: must be an http:// or https:// URL"),
        ({"url": "http://u:p@am:9093"}, "notifiers.am.url: must not hold credentials"),
        ({"url": "http://am:99999"}, "notifiers.am.url: has a port outside 0..65535"),
        ({"url": "http://am:http"}, "notifiers.am.url: has a port outside 0..65535"),
        ({"url": "http://[::1/"}, "notifiers.am.url: must be an http:// or https:// URL"),
        ({"url": "http://am", "colour": "red"}, "notifiers.am.colour: unknown key"),
        ({"url": "http://am", "username": "u"}, "notifiers.am.password_env: is required with username"),
        ({"url": "http://am", "password_env": "X"}, "notifiers.am.username: is required with password_env"),
        (
            {"url": "http://am", "bearer_token_env": "T", "username": "u"},
            "notifiers.am.bearer_token_env: use either",
        ),
        (
            {"url": "http://am", "bearer_token_env": "TP_UNSET_VAR"},
            "environment variable TP_UNSET_VAR is not set",
        ),
        (
            {"url": "http://am", "resend_seconds": 600, "ends_after_seconds": 300},
            "notifiers.am.ends_after_seconds: must be longer than resend_seconds (600)",
        ),
        ({"url": "http://am", "labels": {"team": "x"}}, "notifiers.am.labels.team: is set by teampulse"),
        ({"url": "http://am", "labels": {"a-b": "x"}}, "notifiers.am.labels.a-b: is not a valid"),
        (
            {"url": "http://am", "max_retries": 50},
            "notifiers.am.max_retries: must be a whole number from 0 to 10",
        ),
        ({"url": "http://am", "timeout_seconds": "5"}, "notifiers.am.timeout_seconds: must be a number"),
    ],
)
def test_config_errors_name_the_key(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_alertmanager_settings(_config(**options))
    assert message in str(err.value)


def test_default_generator_url_is_the_teampulse_page() -> None:
    settings = parse_alertmanager_settings(_config(url="http://am:9093"))
    assert settings.generator_url.startswith("http://") and settings.generator_url.endswith(":9469/")
    assert settings.endpoint == "http://am:9093/api/v2/alerts"
