"""The hooks a teampulse plugin can implement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("teampulse")
hookimpl = HookimplMarker("teampulse")

Register = Callable[[Any], None]


@hookspec
def register_sources(register: Register) -> None:
    """Register source kinds: call register(SourceKind(...)) for each."""


@hookspec
def register_notifiers(register: Register) -> None:
    """Register alert sinks: call register(NotifierKind(...)) for each."""


@hookspec
def register_signals(register: Register) -> None:
    """Register extra pressure or support components: register(SignalKind(...))."""
