"""teampulse-calendar: meetings, time off and time zones from iCalendar files, URLs and CalDAV."""

from __future__ import annotations

from collections.abc import Callable

from teampulse import ConfigError, PluginConfig, SourceKind, hookimpl

from .caldav_source import CaldavSource, caldav_available
from .config import parse_caldav, parse_ics
from .ics_source import IcsSource

__all__ = ["CaldavSource", "IcsSource", "create_caldav", "create_ics", "register_sources"]
__version__ = "0.1.0"


def create_ics(config: PluginConfig) -> IcsSource:
    """Validate a `[sources.NAME]` table with plugin = "ics" and build the source."""
    return IcsSource(parse_ics(config), config.base_dir, config.name)


def create_caldav(config: PluginConfig) -> CaldavSource:
    """Validate a `[sources.NAME]` table with plugin = "caldav" and build the source."""
    settings = parse_caldav(config)
    if not caldav_available():
        raise ConfigError(
            config.key("plugin"),
            "the caldav kind needs the caldav client: pip install 'teampulse-calendar[caldav]'",
        )
    return CaldavSource(settings, config.name)


@hookimpl
def register_sources(register: Callable[[SourceKind], None]) -> None:
    """Register the "ics" and "caldav" source kinds."""
    register(
        SourceKind(
            name="ics",
            create=create_ics,
            description="iCalendar files and secret iCal URLs, one per person: meetings, time off, time zone",
        )
    )
    register(
        SourceKind(
            name="caldav",
            create=create_caldav,
            description="CalDAV calendars, one per person: meetings, time off, time zone",
        )
    )
