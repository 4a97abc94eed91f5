"""The hooks a teampulse plugin can implement (docs/plugins.md has one section per hook)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker, HookspecMarker

from .kinds import NotifierKind, SignalKind, SourceKind

if TYPE_CHECKING:
    import click

__all__ = [
    "RegisterNotifier",
    "RegisterSignal",
    "RegisterSource",
    "hookimpl",
    "hookspec",
]

hookspec = HookspecMarker("teampulse")
hookimpl = HookimplMarker("teampulse")

# What each register_* hook gets: call it once per kind the plugin provides.
RegisterSource = Callable[[SourceKind], None]
RegisterNotifier = Callable[[NotifierKind], None]
RegisterSignal = Callable[[SignalKind], None]
# Before the callbacks were typed per hook; kept so that plugins annotated with it still import.
Register = Callable[[Any], None]


@hookspec
def register_sources(register: RegisterSource) -> None:
    """Register the kinds of source the plugin provides.

    `register`: call it with a SourceKind for each; its name is what a `[sources.NAME]` table's
    `plugin` key names. A name another plugin registered already stops teampulse at start-up.
    """


@hookspec
def register_notifiers(register: RegisterNotifier) -> None:
    """Register the kinds of alert sink the plugin provides.

    `register`: call it with a NotifierKind for each; its name is what a `[notifiers.NAME]`
    table's `plugin` key names.
    """


@hookspec
def register_signals(register: RegisterSignal) -> None:
    """Register extra components of the pressure or the people-support index.

    `register`: call it with a SignalKind for each; its `side` ("pressure" or "support") says
    which index it joins, with its `weight`, and its `source` which source kind's stored events
    its `compute` reads.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the `teampulse` command line.

    `cli`: the `teampulse` click group; decorate with @cli.command(), or call cli.add_command().
    """
