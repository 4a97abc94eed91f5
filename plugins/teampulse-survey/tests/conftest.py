"""Fixtures of the survey plugin's tests: a collection context and the bundled exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from teampulse import PersonSignal, PluginConfig, TeamInfo
from teampulse.testing import NOW, RecordingContext

DATA = Path(__file__).parent / "data"
TEAMS = (
    TeamInfo("payments", "maria@example.com", ("bob@example.com", "chen@example.com")),
    TeamInfo("search", "sam@example.com", ("dana@example.com",)),
)


def new_context() -> RecordingContext:
    """Return a first collection's context at NOW with the teams payments and search."""
    return RecordingContext(TEAMS, None, NOW, name="pulse")


def run_csv(options: dict[str, Any], base: Path = DATA) -> tuple[list[PersonSignal], list[str]]:
    """Build a survey-csv source from options, collect once; return events and problems."""
    from teampulse_survey import create_csv

    source = create_csv(PluginConfig("pulse", "sources", options, base))
    ctx = new_context()
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
def ctx() -> RecordingContext:
    """Return a fresh collection context with the teams payments and search."""
    return new_context()


@pytest.fixture
def new_ctx() -> Callable[[], RecordingContext]:
    """Return the maker of fresh contexts like `ctx`, for tests that collect many times."""
    return new_context
