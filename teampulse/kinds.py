"""What plugins register: source kinds, notifier kinds and index signals."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .errors import ConfigError
from .model import Source

# The getters below are named after the types they return, which hides the builtins
# inside the class body.
_Str = str
_Bool = bool

__all__ = [
    "AlertState",
    "Notifier",
    "NotifierKind",
    "PluginConfig",
    "SignalKind",
    "SourceKind",
]


@dataclass(frozen=True)
class PluginConfig:
    """One `[sources.NAME]` or `[notifiers.NAME]` table, with typed getters.

    Every getter raises ConfigError naming the key, so users see
    `teampulse.toml: sources.jira.url: must be a string`.
    """

    name: _Str
    section: _Str  # "sources" or "notifiers"
    options: Mapping[str, Any]
    base_dir: Path = field(default_factory=Path.cwd)

    def key(self, key: _Str) -> _Str:
        """Return the dotted config key for messages."""
        return f"{self.section}.{self.name}.{key}"

    def str(self, key: _Str, default: _Str | None = None) -> _Str:
        """Return a string option; required when no default is given."""
        value = self.options.get(key, default)
        if value is None:
            raise ConfigError(self.key(key), "is required")
        if not isinstance(value, str) or not value:
            raise ConfigError(self.key(key), "must be a non-empty string")
        return value

    def optional_str(self, key: _Str) -> _Str | None:
        """Return a string option or None."""
        if key not in self.options:
            return None
        return self.str(key)

    def number(self, key: _Str, default: float, minimum: float | None = None) -> float:
        """Return a number option."""
        value = self.options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(self.key(key), "must be a number")
        if minimum is not None and value < minimum:
            raise ConfigError(self.key(key), f"must be at least {minimum}")
        return float(value)

    def bool(self, key: _Str, default: _Bool) -> _Bool:
        """Return a boolean option."""
        value = self.options.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(self.key(key), "must be true or false")
        return value

    def str_list(self, key: _Str, default: Sequence[_Str] | None = None) -> list[_Str]:
        """Return a list of strings."""
        value = self.options.get(key, default)
        if value is None:
            raise ConfigError(self.key(key), "is required")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(self.key(key), "must be a list of strings")
        return list(value)

    def secret(self, key: _Str, required: _Bool = True) -> _Str | None:
        """Read a secret from the environment variable that option `key` names."""
        env_name = self.options.get(key)
        if env_name is None:
            if required:
                raise ConfigError(self.key(key), "is required (the name of an environment variable)")
            return None
        if not isinstance(env_name, str) or not env_name:
            raise ConfigError(self.key(key), "must name an environment variable")
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(self.key(key), f"environment variable {env_name} is not set")
        return value

    def path(self, value: _Str) -> Path:
        """Resolve a path relative to the config file."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def check_keys(self, allowed: Sequence[_Str]) -> None:
        """Reject keys the plugin does not know (a typo must not pass silently)."""
        for key in self.options:
            if key != "plugin" and key not in allowed:
                raise ConfigError(self.key(key), f"unknown key (known: {', '.join(sorted(allowed))})")


@dataclass(frozen=True)
class SourceKind:
    """A kind of source a plugin provides, e.g. "jira" or "ics"."""

    name: str
    create: Callable[[PluginConfig], Source]  # validates the table; raises ConfigError
    description: str = ""


@dataclass(frozen=True)
class AlertState:
    """One alert as the engine evaluated it, for notifiers."""

    alert: str
    labels: Mapping[str, str]
    severity: str
    firing: bool
    since: str | None  # ISO 8601
    summary: str
    description: str
    evidence: Mapping[str, Any]


class Notifier(Protocol):
    """A configured alert sink."""

    def notify(self, alerts: Sequence[AlertState]) -> None:
        """Deliver the current state of every alert (firing and resolved)."""


@dataclass(frozen=True)
class NotifierKind:
    """A kind of alert sink, e.g. "alertmanager" or "webhook"."""

    name: str
    create: Callable[[PluginConfig], Notifier]
    description: str = ""


@dataclass(frozen=True)
class SignalKind:
    """An extra component of the pressure or the support index.

    `compute(team, facts)` gets the team name and the engine's numbers for it
    (the keys of TeamSnapshot.facts()) and returns a value in [0, 1], or None
    when it has nothing to say; it then counts with `weight` in the index.
    """

    name: str
    side: str  # "pressure" or "support"
    weight: float
    compute: Callable[[str, Mapping[str, float]], float | None]
    description: str = ""
