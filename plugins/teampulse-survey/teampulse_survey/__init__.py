"""teampulse-survey: pulse survey responses from CSV exports and a signed webhook."""

from __future__ import annotations

from collections.abc import Callable

from teampulse import PluginConfig, SourceKind, hookimpl

from .csvsource import CsvSettings, SurveyCsvSource, parse_csv_settings
from .scoring import Scoring
from .webhook import SurveyWebhookSource, WebhookSettings, parse_webhook_settings, sign

__all__ = [
    "CsvSettings",
    "Scoring",
    "SurveyCsvSource",
    "SurveyWebhookSource",
    "WebhookSettings",
    "create_csv",
    "create_webhook",
    "register_sources",
    "sign",
]
__version__ = "0.1.0"


def create_csv(config: PluginConfig) -> SurveyCsvSource:
    """Validate a table with plugin = "survey-csv" and build the source."""
    return SurveyCsvSource(parse_csv_settings(config))


def create_webhook(config: PluginConfig) -> SurveyWebhookSource:
    """Validate a table with plugin = "survey-webhook" and build the source."""
    return SurveyWebhookSource(parse_webhook_settings(config))


@hookimpl
def register_sources(register: Callable[[SourceKind], None]) -> None:
    """Register the "survey-csv" and "survey-webhook" source kinds."""
    register(
        SourceKind(
            name="survey-csv",
            create=create_csv,
            description="Pulse survey responses from CSV exports (Google Forms, Microsoft Forms, Typeform)",
        )
    )
    register(
        SourceKind(
            name="survey-webhook",
            create=create_webhook,
            description="Pulse survey responses POSTed to serve, signed with HMAC-SHA256",
        )
    )
