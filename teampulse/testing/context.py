"""A CollectContext for tests: fixed time and teams, and a record of what the source reported."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from teampulse.model import TeamInfo

__all__ = ["DEFAULT_HISTORY", "NOW", "TEAMS", "RecordingContext"]

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)  # a Monday, noon UTC
# How far back the core reads with a default config (90 scanned days, a 28-day reference
# window, a 14-day 1:1 window and a day): a first collection reaches back this far.
DEFAULT_HISTORY = timedelta(days=133)
TEAMS: tuple[TeamInfo, ...] = (
    TeamInfo(
        name="payments",
        manager="maria@example.com",
        members=("bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"),
    ),
    TeamInfo(name="search", manager="sam@example.com", members=("fay@example.com", "gus@example.com")),
)


class RecordingContext:
    """What the core hands a source for one collection, keeping every problem and progress message.

    Defaults: the teams TEAMS, the time NOW, no cursor (a first collection) and a history that
    reaches back DEFAULT_HISTORY, as the core's default config does.
    """

    def __init__(
        self,
        teams: Sequence[TeamInfo] = TEAMS,
        cursor: Mapping[str, Any] | None = None,
        now: datetime = NOW,
        name: str = "source",
        history_from: datetime | None = None,
        elsewhere: Collection[str] = (),
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (the core hands sources UTC times)")
        self.teams: Sequence[TeamInfo] = tuple(teams)
        self.cursor: Mapping[str, Any] | None = cursor
        self.now: datetime = now
        self.name: str = name
        self.history_from: datetime = history_from if history_from is not None else now - DEFAULT_HISTORY
        self.elsewhere: Collection[str] = frozenset(elsewhere)
        self.problems: list[str] = []
        self.progress_messages: list[str] = []

    def __repr__(self) -> str:
        teams = [t.name for t in self.teams]
        return f"RecordingContext(name={self.name!r}, teams={teams!r}, now={self.now.isoformat()!r})"

    def progress(self, message: str) -> None:
        """Record a progress message."""
        self.progress_messages.append(message)

    def problem(self, message: str) -> None:
        """Record bad input the source skipped."""
        self.problems.append(message)

    def next(self, cursor: Mapping[str, Any] | None, now: datetime | None = None) -> RecordingContext:
        """Return the context of the next collection: the same source and teams, from `cursor`.

        `now` defaults to this collection's time; the history keeps its length, as the core's does.
        """
        at = now or self.now
        history_from = at - (self.now - self.history_from)
        return RecordingContext(self.teams, cursor, at, self.name, history_from, self.elsewhere)
