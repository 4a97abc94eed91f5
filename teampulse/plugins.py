"""Load plugins from entry points and collect what they register."""

from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass, field

import pluggy

from . import hookspecs
from .errors import TeampulseError
from .kinds import NotifierKind, SignalKind, SourceKind

ENTRY_POINT_GROUP = "teampulse"

__all__ = ["PluginInfo", "Registry", "get_plugin_manager", "load_registry", "plugin_list"]


@dataclass
class PluginInfo:
    """One loaded plugin, for `teampulse plugins`."""

    name: str
    version: str | None
    hooks: list[str]
    sources: list[str] = field(default_factory=list)
    notifiers: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)


@dataclass
class Registry:
    """Everything the loaded plugins registered, by name."""

    sources: dict[str, SourceKind] = field(default_factory=dict)
    notifiers: dict[str, NotifierKind] = field(default_factory=dict)
    signals: dict[str, SignalKind] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # "sources:jira" -> plugin name


_pm: pluggy.PluginManager | None = None


def _allow_list() -> set[str] | None:
    raw = os.environ.get("TEAMPULSE_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def get_plugin_manager() -> pluggy.PluginManager:
    """Return the plugin manager, loading entry points once."""
    global _pm
    if _pm is not None:
        return _pm
    pm = pluggy.PluginManager("teampulse")
    pm.add_hookspecs(hookspecs)
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
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise TeampulseError(f"plugin {getattr(exc, 'plugin', '?')}: {exc}") from exc
    _pm = pm
    return pm


def reset_plugin_manager(pm: pluggy.PluginManager | None = None) -> None:
    """Forget the loaded plugins (tests use this to register their own)."""
    global _pm
    _pm = pm


def _version(pm: pluggy.PluginManager, plugin: object) -> str | None:
    for p, dist in pm.list_plugin_distinfo():
        if p is plugin:
            return str(dist.version)
    return None


def load_registry(pm: pluggy.PluginManager | None = None) -> Registry:
    """Call every register_* hook and index the results by name."""
    pm = pm or get_plugin_manager()
    registry = Registry()

    for plugin in pm.get_plugins():
        owner = pm.get_name(plugin) or repr(plugin)

        def add(table: dict, section: str, kind: object, expected: type, owner: str = owner) -> None:
            if not isinstance(kind, expected):
                raise TeampulseError(f"plugin {owner}: registered {kind!r}, expected a {expected.__name__}")
            name = kind.name  # type: ignore[attr-defined]
            if name in table:
                raise TeampulseError(
                    f"plugin {owner}: {section} kind {name!r} is already registered by "
                    f"{registry.owners[f'{section}:{name}']}"
                )
            table[name] = kind
            registry.owners[f"{section}:{name}"] = owner

        for hook, table, section, expected in (
            (pm.hook.register_sources, registry.sources, "sources", SourceKind),
            (pm.hook.register_notifiers, registry.notifiers, "notifiers", NotifierKind),
            (pm.hook.register_signals, registry.signals, "signals", SignalKind),
        ):
            impls = [i for i in hook.get_hookimpls() if i.plugin is plugin]
            for impl in impls:
                impl.function(register=lambda k, t=table, s=section, e=expected: add(t, s, k, e))
    return registry


def plugin_list(pm: pluggy.PluginManager | None = None) -> list[PluginInfo]:
    """Describe the installed plugins, their hooks and what they register."""
    pm = pm or get_plugin_manager()
    registry = load_registry(pm)
    infos = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        hooks = sorted(h.name for h in (pm.get_hookcallers(plugin) or []))
        info = PluginInfo(name=name, version=_version(pm, plugin), hooks=hooks)
        for key, owner in registry.owners.items():
            if owner == name:
                section, kind = key.split(":", 1)
                getattr(info, section).append(kind)
        infos.append(info)
    return sorted(infos, key=lambda i: i.name)
