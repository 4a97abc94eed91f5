"""The "survey-webhook" source: responses POSTed to `teampulse serve`, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from teampulse import (
    Batch,
    Boolean,
    CollectContext,
    Event,
    PersonSignal,
    PluginConfig,
    Secret,
    Setting,
    Settings,
    WebhookRejected,
)

from .scoring import SCORING, AnswerError, Scoring, scoring_from
from .timeparse import OutOfRange, parse_submitted

__all__ = [
    "MAX_SKEW",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WEBHOOK",
    "WEBHOOK_OWN",
    "SurveyWebhookSource",
    "WebhookSettings",
    "parse_webhook_settings",
    "sign",
]

WEBHOOK_OWN = Settings(
    Setting(
        "secret_env",
        Secret(),
        description="Name of the environment variable with the shared secret (never in the file, never in "
        "`repr` or messages).",
    ),
    Setting("require_timestamp", Boolean(), False, "Refuse deliveries without `X-Teampulse-Timestamp`."),
)
WEBHOOK = Settings(WEBHOOK_OWN, SCORING)
WEBHOOK_KEYS = tuple(WEBHOOK.names())
SIGNATURE_HEADER = "x-teampulse-signature"
TIMESTAMP_HEADER = "x-teampulse-timestamp"
MAX_SKEW = timedelta(minutes=5)  # oldest signed timestamp accepted, and latest submitted_at ahead
MAX_ID = 200
_UNIX_SECONDS = re.compile(r"^\d{1,12}$")


def sign(secret: bytes, body: bytes, timestamp: str | None = None) -> str:
    """Return the X-Teampulse-Signature value for a body (and timestamp, when sent)."""
    message = timestamp.encode("ascii") + b"." + body if timestamp is not None else body
    return "sha256=" + hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WebhookSettings:
    """A validated `[sources.NAME]` table with plugin = "survey-webhook"."""

    secret: bytes
    scoring: Scoring
    require_timestamp: bool = False

    def __repr__(self) -> str:
        # The secret must never reach a log line or a traceback.
        return f"WebhookSettings(require_timestamp={self.require_timestamp!r})"


def parse_webhook_settings(config: PluginConfig) -> WebhookSettings:
    """Validate the table and read the secret from the environment; raise ConfigError."""
    values = config.parse(WEBHOOK)
    return WebhookSettings(
        secret=values["secret_env"].encode(),
        scoring=scoring_from(values, config),
        require_timestamp=values["require_timestamp"],
    )


class SurveyWebhookSource:
    """Take signed deliveries; collect() only learns the configured teams."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        # Configured team names by folded name; None until the first collection hands
        # them over (receive() gets no context of its own).
        self._teams: Mapping[str, str] | None = None
        self._elsewhere: Mapping[str, str] = {}

    def __repr__(self) -> str:
        return "SurveyWebhookSource()"

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        """Yield nothing: deliveries arrive through `teampulse serve`."""
        self._teams = {t.name.casefold(): t.name for t in ctx.teams}
        # A delivery for a team another instance serves keeps its name: serve answers 409
        # naming that instance's shard, rather than "unknown team".
        self._elsewhere = {name.casefold(): name for name in ctx.elsewhere}
        yield from ()

    def receive(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Sequence[Event]:
        """Check the signature, then parse one delivery of one response or a list of them."""
        self._authenticate(body, headers, now)
        teams = self._teams
        if teams is None:
            raise WebhookRejected(503, "not ready: the configured teams are not loaded yet; retry shortly")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WebhookRejected(400, "the body is not JSON") from None
        except ValueError:  # an integer over Python's 4,300-digit limit
            raise WebhookRejected(400, "the body holds a number too long to read") from None
        except RecursionError:
            raise WebhookRejected(400, "the body is nested too deeply") from None
        if isinstance(data, list):
            if not data:
                raise WebhookRejected(400, "the body is an empty list")
            items, prefix = data, "[{}]."
        else:
            items, prefix = [data], ""
        events: list[Event] = []
        ids: set[str] = set()
        for n, item in enumerate(items):
            where = prefix.format(n)
            event = self._response(item, where, teams, now)
            if event.id in ids:
                raise WebhookRejected(400, f"{where}id: appears twice in the delivery")
            ids.add(event.id)
            events.append(event)
        return events

    def _authenticate(self, body: bytes, headers: Mapping[str, str], now: datetime) -> None:
        given = headers.get(SIGNATURE_HEADER, "").strip()
        if not given:
            raise WebhookRejected(401, "missing X-Teampulse-Signature")
        if not given.startswith("sha256="):
            raise WebhookRejected(401, "X-Teampulse-Signature must be sha256=<hex HMAC-SHA256>")
        timestamp = headers.get(TIMESTAMP_HEADER)
        if timestamp is not None:
            timestamp = timestamp.strip()
            if not _UNIX_SECONDS.match(timestamp):
                raise WebhookRejected(401, "X-Teampulse-Timestamp must be unix seconds")
        elif self.settings.require_timestamp:
            raise WebhookRejected(401, "missing X-Teampulse-Timestamp (require_timestamp is on)")
        expected = sign(self.settings.secret, body, timestamp)
        # Without a timestamp the body alone is signed. A captured f"{ts}.{body}" cannot
        # pass as an untimed body: it starts with digits and a dot, which no JSON object or
        # list does, so it fails below as malformed.
        if not hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace")):
            raise WebhookRejected(401, "bad signature")
        if timestamp is not None:
            age = now.timestamp() - int(timestamp)
            if age > MAX_SKEW.total_seconds():
                raise WebhookRejected(401, "X-Teampulse-Timestamp is more than 5 minutes old (a replay?)")
            if age < -MAX_SKEW.total_seconds():
                raise WebhookRejected(
                    401, "X-Teampulse-Timestamp is more than 5 minutes ahead (check the clock)"
                )

    def _response(self, item: Any, where: str, teams: Mapping[str, str], now: datetime) -> PersonSignal:
        if not isinstance(item, dict):
            raise WebhookRejected(400, f"{where.rstrip('.') or 'the body'}: must be a JSON object")
        ident = item.get("id")
        if isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        if not isinstance(ident, str) or not ident.strip():
            raise WebhookRejected(400, f"{where}id: is required (a string: the response or delivery id)")
        if len(ident) > MAX_ID or not ident.isprintable():
            raise WebhookRejected(400, f"{where}id: must be at most {MAX_ID} printable characters")
        scoring = self.settings.scoring
        submitted_text = item.get("submitted_at")
        if not isinstance(submitted_text, str):
            raise WebhookRejected(400, f"{where}submitted_at: is required (an ISO 8601 time)")
        try:
            submitted = parse_submitted(submitted_text, scoring.tz, scoring.time_formats)
        except OutOfRange as exc:
            raise WebhookRejected(400, f"{where}submitted_at: {exc}") from None
        except ValueError:
            raise WebhookRejected(400, f"{where}submitted_at: is not an ISO 8601 time") from None
        if submitted > now + MAX_SKEW:
            raise WebhookRejected(400, f"{where}submitted_at: is in the future (a time zone mistake?)")
        team_text = item.get("team")
        if not isinstance(team_text, str) or not team_text.strip():
            raise WebhookRejected(400, f"{where}team: is required (a configured team's name)")
        key = " ".join(team_text.split()).casefold()
        team = teams.get(key) or self._elsewhere.get(key)
        if team is None:
            shown = team_text if len(team_text) <= 40 else team_text[:40] + "..."
            raise WebhookRejected(400, f"{where}team: unknown team {shown!r}")
        answers_in = item.get("answers")
        if not isinstance(answers_in, dict):
            raise WebhookRejected(400, f"{where}answers: is required (an object of question -> number)")
        answers: dict[str, float] = {}
        # Only configured questions are read: anything else (a comment) is never looked at.
        for question in scoring.questions:
            try:
                value = scoring.answer(answers_in.get(question))
            except AnswerError as exc:
                raise WebhookRejected(400, f"{where}answers.{question}: {exc}") from None
            if value is not None:
                answers[question] = value
        if not answers:
            known = ", ".join(scoring.questions)
            raise WebhookRejected(400, f"{where}answers: answers none of the configured questions ({known})")
        return PersonSignal(
            id=f"webhook|{ident}",
            kind="survey_response",
            start=submitted,
            end=submitted,
            team=team,
            attrs={"scores": scoring.scores(answers)},
        )
