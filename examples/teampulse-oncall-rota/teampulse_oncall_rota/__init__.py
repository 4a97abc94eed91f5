"""teampulse-oncall-rota: on-call shifts from a CSV file, and the off-hours load they carry.

Built from `teampulse plugins new oncall-rota --kind source`, then given a signal
(docs/writing-a-plugin.md tells how).
"""

from __future__ import annotations

from teampulse import PluginConfig, RegisterSignal, RegisterSource, SourceKind, hookimpl

from .hours import off_hours_seconds
from .signal import LIMIT_HOURS, SIGNAL, off_hours_kept_light
from .source import KIND, SETTINGS, OncallRotaSettings, OncallRotaSource, parse_settings

__all__ = [
    "KIND",
    "LIMIT_HOURS",
    "SETTINGS",
    "SIGNAL",
    "OncallRotaSettings",
    "OncallRotaSource",
    "create",
    "off_hours_kept_light",
    "off_hours_seconds",
    "register_signals",
    "register_sources",
]


def create(config: PluginConfig) -> OncallRotaSource:
    """Validate a `[sources.NAME]` table with plugin = "oncall-rota" and build the source."""
    return OncallRotaSource(parse_settings(config))


@hookimpl
def register_sources(register: RegisterSource) -> None:
    """Register the "oncall-rota" source kind."""
    register(
        SourceKind(
            name="oncall-rota",
            create=create,
            description="On-call shifts from a CSV file (person,start,end), as people signals",
        )
    )


@hookimpl
def register_signals(register: RegisterSignal) -> None:
    """Register the "on_call_off_hours" support signal, which reads the shifts stored."""
    register(SIGNAL)
