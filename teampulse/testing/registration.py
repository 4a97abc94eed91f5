"""Install a plugin into teampulse's plugin manager for one test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from teampulse.plugins import PluginManager

__all__ = ["registered"]


@contextmanager
def registered(plugin: object, name: str | None = None, alone: bool = False) -> Iterator[PluginManager]:
    """Make `plugin` (a module or an object with hook implementations) a loaded plugin, then restore.

    Inside the block the core sees a plugin manager holding the installed plugins and this one
    (replacing an installed plugin of the same name or object); with `alone`, this one only.
    Its hooks are checked as at start-up: a misspelt hook raises pluggy.PluginValidationError.
    The manager that was in use before comes back afterwards, untouched.
    """
    # Imported here: pytest imports the kit at start-up, and the plugin machinery (with the
    # config and engine modules it reads) is for the tests that ask for it.
    from teampulse.plugins import PluginManager, get_plugin_manager, reset_plugin_manager

    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    previous = get_plugin_manager()
    pm = PluginManager()
    if not alone:
        for other in previous.get_plugins():
            other_name = previous.get_name(other)
            if other is not plugin and other_name != name and other_name is not None:
                pm.register(other, name=other_name)
                if other_name in previous.distributions:
                    pm.distributions[other_name] = previous.distributions[other_name]
    pm.register(plugin, name=name)
    pm.check_pending()
    reset_plugin_manager(pm)
    try:
        yield pm
    finally:
        reset_plugin_manager(previous)
