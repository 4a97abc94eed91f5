"""Shared fixtures of the calendar plugin's tests: a collection context and the team."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support import find_ics_corpus

from teampulse import PersonSignal, SignalsReplaced, TeamInfo

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The reference corpus; its absence fails the test (CI has it: nothing is skipped)."""
    found = find_ics_corpus()
    assert found is not None, "../shared/reference/ics-corpus is missing"
    return found


NOW = datetime(2026, 3, 16, 12, tzinfo=UTC)
TEAM = TeamInfo(
    name="payments",
    manager="maria@example.com",
    members=("bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"),
)


@dataclass
class Ctx:
    """A CollectContext that records progress and problems."""

    name: str = "calendars"
    teams: list[TeamInfo] = field(default_factory=lambda: [TEAM])
    cursor: Any = None
    now: datetime = NOW
    history_from: datetime | None = None
    problems: list[str] = field(default_factory=list)
    progressed: list[str] = field(default_factory=list)

    def progress(self, message: str) -> None:
        self.progressed.append(message)

    def problem(self, message: str) -> None:
        self.problems.append(message)


def run(source: Any, ctx: Ctx | None = None) -> tuple[list[list[PersonSignal]], Ctx]:
    """Collect a source; return the events of each batch and the context."""
    ctx = ctx or Ctx()
    batches = []
    for batch in source.collect(ctx):
        if not batch.events:
            # the last batch only says that the long history was read (the first collection's)
            assert batch.cursor == {"history": "read"}
            continue
        assert batch.cursor is None  # every collection reads every calendar afresh
        window, *events = batch.events
        # every calendar read whole replaces what it said before in the store
        assert isinstance(window, SignalsReplaced) and window.kinds == ("meeting", "time_off")
        assert all(isinstance(e, PersonSignal) and e.owner == window.owner for e in events)
        batches.append(events)
    return batches, ctx


# The root tests/conftest.py shadows this module's name for imports, so helpers are fixtures.
@pytest.fixture
def new_ctx() -> type[Ctx]:
    return Ctx


@pytest.fixture
def team() -> TeamInfo:
    return TEAM


@pytest.fixture
def collect():
    return run
