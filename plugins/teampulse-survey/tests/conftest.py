"""Fixtures of the survey plugin's tests: a collection context and the bundled exports."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from teampulse import PersonSignal, PluginConfig, TeamInfo

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
TEAMS = (
    TeamInfo("payments", "maria@example.com", ("bob@example.com", "chen@example.com")),
    TeamInfo("search", "sam@example.com", ("dana@example.com",)),
)


@dataclass
class Ctx:
    """A CollectContext that keeps what the source reports."""

    name: str = "pulse"
    teams: Sequence[TeamInfo] = TEAMS
    cursor: Mapping[str, Any] | None = None
    now: datetime = NOW
    problems: list[str] = field(default_factory=list)
    progressed: list[str] = field(default_factory=list)

    def progress(self, message: str) -> None:
        self.progressed.append(message)

    def problem(self, message: str) -> None:
        self.problems.append(message)


def run_csv(options: dict[str, Any], base: Path = DATA) -> tuple[list[PersonSignal], list[str]]:
    """Build a survey-csv source from options, collect once; return events and problems."""
    from teampulse_survey import create_csv

    source = create_csv(PluginConfig("pulse", "sources", options, base))
    ctx = Ctx()
    events: list[PersonSignal] = []
    for batch in source.collect(ctx):
        for ev in batch.events:
            assert isinstance(ev, PersonSignal)
            events.append(ev)
    return events, ctx.problems


@pytest.fixture
def collect_csv() -> Callable[..., tuple[list[PersonSignal], list[str]]]:
    """Return run_csv, so tests need no import from this file."""
    return run_csv


@pytest.fixture
def ctx() -> Ctx:
    """Return a fresh collection context with the teams payments and search."""
    return Ctx()
