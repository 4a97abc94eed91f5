"""The kit's pytest plugin (entry point pytest11 "teampulse-testing"): fixtures for plugin tests.

Loaded in every pytest run where teampulse is installed, so it only adds fixtures, all named
teampulse_*, and never changes how tests are collected or run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from teampulse.model import TeamInfo

from .context import NOW, TEAMS, RecordingContext
from .registration import registered
from .running import collect

if TYPE_CHECKING:
    from teampulse.plugins import PluginManager

__all__ = [
    "teampulse_collect",
    "teampulse_context",
    "teampulse_now",
    "teampulse_register",
    "teampulse_teams",
]


@pytest.fixture
def teampulse_now() -> datetime:
    """The collection time of the kit's contexts and of the contract suite (override to move it)."""
    return NOW


@pytest.fixture
def teampulse_teams() -> Sequence[TeamInfo]:
    """The configured teams of the kit's contexts and of the contract suite (override to change them)."""
    return TEAMS


@pytest.fixture
def teampulse_context(teampulse_teams: Sequence[TeamInfo], teampulse_now: datetime) -> RecordingContext:
    """A first collection's context, with teampulse_teams at teampulse_now."""
    return RecordingContext(teampulse_teams, None, teampulse_now)


@pytest.fixture
def teampulse_collect() -> Callable[..., object]:
    """teampulse.testing.collect, for tests that take their helpers as fixtures."""
    return collect


@pytest.fixture
def teampulse_register() -> Iterator[Callable[..., PluginManager]]:
    """Register a plugin for this test: teampulse_register(plugin, name=None, alone=False)."""
    with ExitStack() as stack:

        def register(plugin: object, name: str | None = None, alone: bool = False) -> PluginManager:
            return stack.enter_context(registered(plugin, name, alone))

        yield register
