"""Load plugins from entry points and collect what they register."""

from __future__ import annotations

import importlib.metadata
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import TeampulseError
from .kinds import NotifierKind, SignalKind, SourceKind

ENTRY_POINT_GROUP = "teampulse"
SIDES = ("pressure", "support")

__all__ = [
    "PluginInfo",
    "PluginManager",
    "Registry",
    "get_plugin_manager",
    "load_registry",
    "plugin_list",
]


@dataclass
class PluginInfo:
    """One loaded plugin, for `teampulse plugins`."""

    name: str
    version: str | None  # its distribution's version
    hooks: list[str]
    sources: list[str] = field(default_factory=list)
    notifiers: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    package: str | None = None  # the distribution it came from ("teampulse-jira")


@dataclass
class Registry:
    """Everything the loaded plugins registered, by name."""

    sources: dict[str, SourceKind] = field(default_factory=dict)
    notifiers: dict[str, NotifierKind] = field(default_factory=dict)
    signals: dict[str, SignalKind] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # "sources:jira" -> plugin name


class PluginManager(pluggy.PluginManager):
    """pluggy's plugin manager, which also records the distribution each plugin was loaded from."""

    def __init__(self) -> None:
        super().__init__("teampulse")
        self.add_hookspecs(hookspecs)
        # Plugin name -> (distribution name, version), recorded as each entry point loads:
        # pluggy keeps this only for load_setuptools_entrypoints, which cannot name the plugin
        # that fails to import nor take the TEAMPULSE_PLUGINS allow-list.
        self.distributions: dict[str, tuple[str, str]] = {}


class _Refused(TeampulseError):
    """A registration refused by the core: its message names the plugin already."""


_pm: PluginManager | None = None


def _allow_list() -> set[str] | None:
    raw = os.environ.get("TEAMPULSE_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def get_plugin_manager() -> PluginManager:
    """Return the plugin manager, loading entry points once."""
    global _pm
    if _pm is not None:
        return _pm
    pm = PluginManager()
    allowed = _allow_list()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if allowed is not None and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must name itself
            raise TeampulseError(f"plugin {ep.name}: cannot be loaded: {exc}") from exc
        pm.register(module, name=ep.name)
        if ep.dist is not None:
            pm.distributions[ep.name] = (ep.dist.metadata["Name"], ep.dist.version)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise TeampulseError(f"plugin {getattr(exc, 'plugin', '?')}: {exc}") from exc
    _pm = pm
    return pm


def reset_plugin_manager(pm: PluginManager | None = None) -> None:
    """Forget the loaded plugins (tests use this to register their own)."""
    global _pm
    _pm = pm


def _distribution(pm: pluggy.PluginManager, name: str, plugin: object) -> tuple[str, str] | None:
    if isinstance(pm, PluginManager) and name in pm.distributions:
        return pm.distributions[name]
    for p, dist in pm.list_plugin_distinfo():  # loaded by pluggy's own load_setuptools_entrypoints
        if p is plugin:
            return str(dist.project_name), str(dist.version)
    return None


def _per_plugin(pm: pluggy.PluginManager, hook: str) -> Iterator[tuple[str, pluggy.HookCaller]]:
    """Yield (plugin name, a caller of that plugin's implementation alone), in pluggy's call order.

    Every call still goes through pluggy (its tracing, hook-call monitoring and wrappers), while
    what `register` receives is known to come from that plugin, so an error can name it. One
    call of the whole hook cannot tell which implementation called `register`, and hook-call
    monitoring sees a hook call, not each implementation's.
    """
    caller: pluggy.HookCaller = getattr(pm.hook, hook)
    # pluggy calls the list from its end (tryfirst last in the list, trylast first).
    impls = [i for i in reversed(caller.get_hookimpls()) if not (i.wrapper or i.hookwrapper)]
    for impl in impls:
        others = [i.plugin for i in impls if i is not impl]
        yield impl.plugin_name, pm.subset_hook_caller(hook, remove_plugins=others)


def _check_signal(owner: str, signal: SignalKind) -> None:
    """Refuse a signal the engine would misread: an unknown side, a bad weight or signature."""
    # Imported here: every command line start loads the plugins (for their commands), and
    # only the commands that evaluate need the engine's modules.
    from .config import PRESSURE_COMPONENTS
    from .people import SUPPORT_WEIGHTS
    from .plugin_signals import takes_context

    where = f"plugin {owner}: signal {signal.name!r}"
    if signal.side not in SIDES:
        raise _Refused(f"{where}: side must be one of {', '.join(SIDES)}, got {signal.side!r}")
    weight = signal.weight
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or weight <= 0
    ):
        raise _Refused(f"{where}: weight must be a positive number, got {weight!r}")
    if signal.name in PRESSURE_COMPONENTS or signal.name in SUPPORT_WEIGHTS:
        raise _Refused(f"{where}: the name of a built-in component")
    if takes_context(signal.compute) is None:
        raise _Refused(f"{where}: compute must take (team, facts, ctx) or (team, facts)")


def load_registry(pm: pluggy.PluginManager | None = None) -> Registry:
    """Call every register_* hook through pluggy and index the results by name."""
    pm = pm or get_plugin_manager()
    registry = Registry()

    def adder(table: dict[str, Any], section: str, expected: type, owner: str) -> Callable[[object], None]:
        def add(kind: object) -> None:
            if not isinstance(kind, expected):
                raise _Refused(f"plugin {owner}: registered {kind!r}, expected a {expected.__name__}")
            if isinstance(kind, SignalKind):
                _check_signal(owner, kind)
            name = kind.name  # type: ignore[attr-defined]
            if name in table:
                raise _Refused(
                    f"plugin {owner}: {section} kind {name!r} is already registered by "
                    f"{registry.owners[f'{section}:{name}']}"
                )
            table[name] = kind
            registry.owners[f"{section}:{name}"] = owner

        return add

    for hook, table, section, expected in (
        ("register_sources", registry.sources, "sources", SourceKind),
        ("register_notifiers", registry.notifiers, "notifiers", NotifierKind),
        ("register_signals", registry.signals, "signals", SignalKind),
    ):
        for owner, call in _per_plugin(pm, hook):
            try:
                call(register=adder(table, section, expected, owner))
            except _Refused:
                raise
            except Exception as exc:  # whatever the plugin raised itself must name the plugin
                raise TeampulseError(f"plugin {owner}: {hook}: {type(exc).__name__}: {exc}") from exc
    for name, signal in registry.signals.items():
        if signal.source is not None and signal.source not in registry.sources:
            raise TeampulseError(
                f"plugin {registry.owners[f'signals:{name}']}: signal {name!r} reads source kind "
                f"{signal.source!r}, which no loaded plugin registers"
            )
    return registry


def plugin_list(pm: pluggy.PluginManager | None = None) -> list[PluginInfo]:
    """Describe the installed plugins, their versions, hooks and what they register."""
    pm = pm or get_plugin_manager()
    registry = load_registry(pm)
    infos = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        hooks = sorted(h.name for h in (pm.get_hookcallers(plugin) or []))
        dist = _distribution(pm, name, plugin)
        info = PluginInfo(
            name=name,
            version=dist[1] if dist else None,
            hooks=hooks,
            package=dist[0] if dist else None,
        )
        for key, owner in registry.owners.items():
            if owner == name:
                section, kind = key.split(":", 1)
                getattr(info, section).append(kind)
        infos.append(info)
    return sorted(infos, key=lambda i: i.name)
