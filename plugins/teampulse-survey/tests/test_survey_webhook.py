"""survey-webhook: signature, replay window and validation of deliveries, without a server."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from teampulse_survey import SurveyWebhookSource, create_webhook, sign

from teampulse import ConfigError, PersonSignal, PluginConfig, WebhookRejected

SECRET = "whsec-test-0123456789"
NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
OPTIONS = {
    "secret_env": "SURVEY_WEBHOOK_SECRET",
    "scale": [1, 5],
    "questions": {"support": "support", "wellbeing": "wellbeing", "load": "workload"},
    "invert": ["workload"],
}
RESPONSE = {
    "id": "resp-001",
    "submitted_at": "2026-03-16T11:58:00Z",
    "team": "payments",
    "answers": {"support": 4, "wellbeing": 2, "load": 5, "comment": "my lead ignores me"},
}


@pytest.fixture
def source(monkeypatch: pytest.MonkeyPatch, ctx: Any) -> SurveyWebhookSource:
    monkeypatch.setenv("SURVEY_WEBHOOK_SECRET", SECRET)
    src = create_webhook(PluginConfig("pulse-hook", "sources", OPTIONS))
    assert list(src.collect(ctx)) == []  # learns the teams, yields nothing
    return src


def deliver(
    src: SurveyWebhookSource, payload: Any, timestamp: str | None = None, now: datetime = NOW
) -> list[PersonSignal]:
    body = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
    headers = {"x-teampulse-signature": sign(SECRET.encode(), body, timestamp)}
    if timestamp is not None:
        headers["x-teampulse-timestamp"] = timestamp
    events = src.receive(body, headers, now)
    return [ev for ev in events if isinstance(ev, PersonSignal)]


def rejected(src: SurveyWebhookSource, payload: Any, **kw: Any) -> tuple[int, str]:
    with pytest.raises(WebhookRejected) as err:
        deliver(src, payload, **kw)
    return err.value.status, str(err.value)


def test_survey_webhook_signed_delivery_becomes_a_response(source: SurveyWebhookSource) -> None:
    [ev] = deliver(source, RESPONSE)
    assert ev.id == "webhook|resp-001"
    assert ev.kind == "survey_response" and ev.team == "payments" and ev.person is None
    assert ev.start == ev.end == datetime(2026, 3, 16, 11, 58, tzinfo=UTC)
    assert dict(ev.attrs) == {"scores": {"support": 0.75, "wellbeing": 0.25, "workload": 0.0}}
    assert "ignores" not in repr(ev)


def test_survey_webhook_signature_is_github_style_hmac_sha256(source: SurveyWebhookSource) -> None:
    body = json.dumps(RESPONSE).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(SECRET.encode(), body) == f"sha256={digest}"
    stamped = hmac.new(SECRET.encode(), b"1773662400." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET.encode(), body, "1773662400") == f"sha256={stamped}"
    # Upper-case hex, as some senders write it, is the same signature.
    assert source.receive(body, {"x-teampulse-signature": f"sha256={digest.upper()}"}, NOW)


def test_survey_webhook_a_list_and_a_retry_give_the_same_ids(source: SurveyWebhookSource) -> None:
    second = RESPONSE | {"id": 1002, "team": "Search", "answers": {"support": 3}}
    events = deliver(source, [RESPONSE, second])
    assert [(ev.id, ev.team) for ev in events] == [
        ("webhook|resp-001", "payments"),
        ("webhook|1002", "search"),
    ]
    assert [ev.id for ev in deliver(source, [RESPONSE, second])] == [ev.id for ev in events]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing X-Teampulse-Signature"),
        ({"x-teampulse-signature": "deadbeef"}, "X-Teampulse-Signature must be sha256=<hex HMAC-SHA256>"),
        ({"x-teampulse-signature": "sha256=" + "0" * 64}, "bad signature"),
        ({"x-teampulse-signature": "sha256=é"}, "bad signature"),
    ],
)
def test_survey_webhook_bad_signatures_are_401(
    source: SurveyWebhookSource, headers: dict[str, str], message: str
) -> None:
    with pytest.raises(WebhookRejected) as err:
        source.receive(json.dumps(RESPONSE).encode(), headers, NOW)
    assert (err.value.status, str(err.value)) == (401, message)


def test_survey_webhook_wrong_secret_or_changed_body_is_401(source: SurveyWebhookSource) -> None:
    body = json.dumps(RESPONSE).encode()
    with pytest.raises(WebhookRejected) as err:
        source.receive(body, {"x-teampulse-signature": sign(b"other-secret", body)}, NOW)
    assert err.value.status == 401
    with pytest.raises(WebhookRejected) as err:
        source.receive(body + b" ", {"x-teampulse-signature": sign(SECRET.encode(), body)}, NOW)
    assert err.value.status == 401


def test_survey_webhook_timestamp_is_signed_and_limits_replays(source: SurveyWebhookSource) -> None:
    ts = str(int(NOW.timestamp()) - 60)
    assert deliver(source, RESPONSE, timestamp=ts)
    # 5 minutes later the same signed delivery is too old.
    assert rejected(source, RESPONSE, timestamp=ts, now=NOW + timedelta(minutes=5)) == (
        401,
        "X-Teampulse-Timestamp is more than 5 minutes old (a replay?)",
    )
    assert rejected(source, RESPONSE, timestamp=str(int(NOW.timestamp()) + 400))[0] == 401
    assert rejected(source, RESPONSE, timestamp="12.5") == (401, "X-Teampulse-Timestamp must be unix seconds")
    # A fresh timestamp with a signature made for another one does not pass.
    body = json.dumps(RESPONSE).encode()
    headers = {
        "x-teampulse-signature": sign(SECRET.encode(), body, ts),
        "x-teampulse-timestamp": str(int(ts) + 1),
    }
    with pytest.raises(WebhookRejected, match="bad signature"):
        source.receive(body, headers, NOW)
    # Nor does dropping the header and moving the timestamp into the body.
    stamped = f"{ts}.".encode() + body
    with pytest.raises(WebhookRejected) as err:
        source.receive(stamped, {"x-teampulse-signature": sign(SECRET.encode(), body, ts)}, NOW)
    assert (err.value.status, str(err.value)) == (400, "the body is not JSON")


def test_survey_webhook_require_timestamp(monkeypatch: pytest.MonkeyPatch, ctx: Any) -> None:
    monkeypatch.setenv("SURVEY_WEBHOOK_SECRET", SECRET)
    src = create_webhook(PluginConfig("pulse-hook", "sources", OPTIONS | {"require_timestamp": True}))
    list(src.collect(ctx))
    assert rejected(src, RESPONSE) == (401, "missing X-Teampulse-Timestamp (require_timestamp is on)")
    assert deliver(src, RESPONSE, timestamp=str(int(NOW.timestamp())))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "the body is not JSON"),
        (b"\xff\xfe", "the body is not JSON"),
        ([], "the body is an empty list"),
        ("a string", "the body: must be a JSON object"),
        ([RESPONSE, 3], "[1]: must be a JSON object"),
        (RESPONSE | {"id": None}, "id: is required (a string: the response or delivery id)"),
        (RESPONSE | {"id": "x" * 201}, "id: must be at most 200 printable characters"),
        (RESPONSE | {"id": "a\nb"}, "id: must be at most 200 printable characters"),
        (
            {k: v for k, v in RESPONSE.items() if k != "submitted_at"},
            "submitted_at: is required (an ISO 8601 time)",
        ),
        (RESPONSE | {"submitted_at": "last tuesday"}, "submitted_at: is not an ISO 8601 time"),
        (
            RESPONSE | {"submitted_at": "2026-03-16T13:00:00Z"},
            "submitted_at: is in the future (a time zone mistake?)",
        ),
        (RESPONSE | {"team": ""}, "team: is required (a configured team's name)"),
        (RESPONSE | {"team": "marketing"}, "team: unknown team 'marketing'"),
        (RESPONSE | {"answers": [4]}, "answers: is required (an object of question -> number)"),
        (RESPONSE | {"answers": {"support": 6}}, "answers.support: is outside the scale 1..5"),
        (RESPONSE | {"answers": {"support": 0.5}}, "answers.support: is outside the scale 1..5"),
        (RESPONSE | {"answers": {"support": "great"}}, "answers.support: is not a number on the scale 1..5"),
        (RESPONSE | {"answers": {"support": True}}, "answers.support: is not a number"),
        (RESPONSE | {"answers": {"support": [4]}}, "answers.support: is not a number"),
        (
            RESPONSE | {"answers": {"comment": "hi"}},
            "answers: answers none of the configured questions (support, wellbeing, load)",
        ),
        ([RESPONSE, RESPONSE | {"answers": {"load": 9}}], "[1].answers.load: is outside the scale 1..5"),
        ([RESPONSE, RESPONSE], "[1].id: appears twice in the delivery"),
        # Once errors the plugin let through, for the server to turn into a 400.
        (b"[" * 100_000 + b"]" * 100_000, "the body is nested too deeply"),
        (b'{"id": ' + b"9" * 5000 + b"}", "the body holds a number too long to read"),
        (RESPONSE | {"answers": {"support": 10**400}}, "answers.support: is outside the scale 1..5"),
        (
            RESPONSE | {"submitted_at": "0001-01-01T00:00:00+05:00"},
            "submitted_at: is outside the years 1 to 9999 in UTC",
        ),
    ],
)
def test_survey_webhook_validation_errors_are_400_naming_the_field(
    source: SurveyWebhookSource, payload: Any, message: str
) -> None:
    assert rejected(source, payload) == (400, message)


def test_survey_webhook_before_the_teams_are_known_asks_for_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SURVEY_WEBHOOK_SECRET", SECRET)
    src = create_webhook(PluginConfig("pulse-hook", "sources", OPTIONS))
    # Authentication still comes first.
    with pytest.raises(WebhookRejected) as err:
        src.receive(b"{}", {}, NOW)
    assert err.value.status == 401
    assert rejected(src, RESPONSE)[0] == 503


def test_survey_webhook_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SURVEY_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match="environment variable SURVEY_WEBHOOK_SECRET is not set"):
        create_webhook(PluginConfig("pulse-hook", "sources", OPTIONS))
    monkeypatch.setenv("SURVEY_WEBHOOK_SECRET", SECRET)
    src = create_webhook(PluginConfig("pulse-hook", "sources", OPTIONS))
    assert SECRET not in repr(src) and SECRET not in repr(src.settings)
    with pytest.raises(ConfigError, match=r"sources\.pulse-hook\.paths: unknown key"):
        create_webhook(PluginConfig("pulse-hook", "sources", OPTIONS | {"paths": ["x"]}))
