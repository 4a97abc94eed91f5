"""teampulse-notifiers: teampulse's alerts to Alertmanager (API v2) and to a signed webhook."""

from __future__ import annotations

from collections.abc import Callable

from teampulse import NotifierKind, PluginConfig, hookimpl

from .alertmanager import AlertmanagerNotifier, AlertmanagerSettings, parse_alertmanager_settings
from .delivery import DeliveryError
from .webhook import WebhookNotifier, WebhookSettings, parse_webhook_settings, sign, verify

__all__ = [
    "AlertmanagerNotifier",
    "AlertmanagerSettings",
    "DeliveryError",
    "WebhookNotifier",
    "WebhookSettings",
    "create_alertmanager",
    "create_webhook",
    "register_notifiers",
    "sign",
    "verify",
]
__version__ = "0.1.0"


def create_alertmanager(config: PluginConfig) -> AlertmanagerNotifier:
    """Validate a `[notifiers.NAME]` table with plugin = "alertmanager" and build the notifier."""
    return AlertmanagerNotifier(parse_alertmanager_settings(config))


def create_webhook(config: PluginConfig) -> WebhookNotifier:
    """Validate a `[notifiers.NAME]` table with plugin = "webhook" and build the notifier."""
    return WebhookNotifier(parse_webhook_settings(config))


@hookimpl
def register_notifiers(register: Callable[[NotifierKind], None]) -> None:
    """Register the "alertmanager" and "webhook" notifier kinds."""
    register(
        NotifierKind(
            name="alertmanager",
            create=create_alertmanager,
            description="Alertmanager API v2: firing alerts every cycle, resolutions once",
        )
    )
    register(
        NotifierKind(
            name="webhook",
            create=create_webhook,
            description="JSON POST signed with HMAC-SHA256, sent when an alert fires or resolves",
        )
    )
