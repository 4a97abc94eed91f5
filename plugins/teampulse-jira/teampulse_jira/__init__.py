"""teampulse-jira: work items from Jira Cloud and Data Center, as a teampulse source plugin."""

from __future__ import annotations

from collections.abc import Callable

from teampulse import PluginConfig, SourceKind, hookimpl

from .config import JiraSettings, parse_settings
from .source import JiraSource

__all__ = ["JiraSettings", "JiraSource", "create", "register_sources"]
__version__ = "0.1.0"


def create(config: PluginConfig) -> JiraSource:
    """Validate a `[sources.NAME]` table with plugin = "jira" and build the source."""
    return JiraSource(parse_settings(config))


@hookimpl
def register_sources(register: Callable[[SourceKind], None]) -> None:
    """Register the "jira" source kind."""
    register(
        SourceKind(
            name="jira",
            create=create,
            description="Jira Cloud and Data Center issues: status, due dates, assignees, sprints, history",
        )
    )
