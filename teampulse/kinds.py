"""What plugins register: source kinds, notifier kinds and index signals."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from .errors import ConfigError
from .model import PersonSignal, Source
from .settings import Boolean, ListOf, Number, Secret, Settings, Text

# The getters below are named after the types they return, which hides the builtins
# inside the class body.
_Str = str
_Bool = bool

__all__ = [
    "AlertState",
    "Notifier",
    "NotifierKind",
    "PluginConfig",
    "SignalCompute",
    "SignalContext",
    "SignalKind",
    "SourceKind",
    "StoredEvents",
]


@dataclass(frozen=True)
class PluginConfig:
    """One `[sources.NAME]` or `[notifiers.NAME]` table: read it with `parse(SETTINGS)`.

    `parse` reads the keys a plugin declares (teampulse.settings), and each team's
    `[teams.sources.NAME]` table against the keys declared per team. The typed getters
    below read one key at a time, for plugins that declare nothing. Errors name the key,
    so users see `teampulse.toml: sources.jira.url: must be an http(s) URL`.
    """

    name: _Str
    section: _Str  # "sources" or "notifiers"; "teams[N].sources" for a team's table
    options: Mapping[str, Any]
    base_dir: Path = field(default_factory=Path.cwd)
    # Each team's [teams.sources.NAME] table, by team name.
    teams: Mapping[_Str, PluginConfig] = field(default_factory=dict)
    # Filled by parse: each team's per-team values, and (under None) those of a team without a table.
    _team_values: dict[_Str | None, dict[_Str, Any]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def parse(self, settings: Settings) -> dict[_Str, Any]:
        """Return the table's values by key, defaults applied; raise ConfigError naming the key.

        Unknown keys are refused, each key is read by its declared type in declared order,
        and secrets are read from the environment last. Each team's table is checked against
        the keys declared per team; its values reach the source as TeamInfo.settings.
        """
        values = settings.parse(self.options, self.key(""), ignore=("plugin",))
        self._team_values.clear()
        self._team_values[None] = settings.parse_team({}, self.key(""), values)
        for team, table in self.teams.items():
            self._team_values[team] = settings.parse_team(table.options, table.key(""), values)
        return values

    def team_settings(self, team: _Str) -> Mapping[_Str, Any]:
        """Return a team's settings for this source (TeamInfo.settings).

        After `parse`: the keys declared per team, with the team's values, else the source's,
        else the defaults. A plugin that declares nothing gets the team's table as written.
        """
        if self._team_values:
            return self._team_values.get(team, self._team_values[None])
        table = self.teams.get(team)
        return dict(table.options) if table is not None else {}

    def key(self, key: _Str) -> _Str:
        """Return the dotted config key for messages."""
        return f"{self.section}.{self.name}.{key}"

    def str(self, key: _Str, default: _Str | None = None) -> _Str:
        """Return a string option; required when no default is given."""
        value = self.options.get(key, default)
        if value is None:
            raise ConfigError(self.key(key), "is required")
        return Text().parse(value, self.key(key))

    def optional_str(self, key: _Str) -> _Str | None:
        """Return a string option or None."""
        if key not in self.options:
            return None
        return self.str(key)

    def number(self, key: _Str, default: float, minimum: float | None = None) -> float:
        """Return a number option."""
        return Number(minimum).parse(self.options.get(key, default), self.key(key))

    def bool(self, key: _Str, default: _Bool) -> _Bool:
        """Return a boolean option."""
        return Boolean().parse(self.options.get(key, default), self.key(key))

    def str_list(self, key: _Str, default: Sequence[_Str] | None = None) -> list[_Str]:
        """Return a list of strings."""
        value = self.options.get(key, default)
        if value is None:
            raise ConfigError(self.key(key), "is required")
        return ListOf(Text(empty_ok=True), "strings").parse(value, self.key(key))

    def secret(self, key: _Str, required: _Bool = True) -> _Str | None:
        """Read a secret from the environment variable that option `key` names."""
        env_name = self.options.get(key)
        if env_name is None:
            if required:
                raise ConfigError(self.key(key), Secret.missing)
            return None
        secret = Secret()
        return secret.resolve(secret.parse(env_name, self.key(key)), self.key(key))

    def path(self, value: _Str) -> Path:
        """Resolve a path relative to the config file."""
        try:
            p = Path(value).expanduser()
        except RuntimeError:  # "~name/..." of a user this system does not know: taken as written
            p = Path(value)
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


class StoredEvents(Protocol):
    """Read-only: what a signal's source stored about one team, up to the time judged."""

    def signals(self, kind: str | None = None, since: datetime | None = None) -> Sequence[PersonSignal]:
        """Return the PersonSignals that began after `since` and by the time judged, oldest first.

        Only `kind` when given. They are the source's events as stored: about the team (`team`)
        or one of its people (`person`, `people`: pseudonyms, as every stored person is).
        """
        ...


@dataclass(frozen=True)
class SignalContext:
    """What `compute(team, facts, ctx)` gets beside the team's numbers."""

    at: datetime  # the time judged (UTC): the day evaluated, in a replay or a backfill too
    events: StoredEvents  # what the signal's source stored; nothing after `at`


SignalCompute: TypeAlias = (
    Callable[[str, Mapping[str, float], SignalContext], float | None]
    | Callable[[str, Mapping[str, float]], float | None]
)


@dataclass(frozen=True)
class SignalKind:
    """An extra component of the pressure or the people-support index (docs/plugins.md).

    `compute(team, facts, ctx)` gets the team name, the engine's numbers for it on the day
    judged and a SignalContext (that time, and the events stored by the sources of kind
    `source`); it returns a value in [0, 1] (pressure: 1 is the most; support: 1 is the best),
    or None when it has nothing to say. The value counts with `weight` beside the built-in
    parts of its side. `compute(team, facts)`, without the context, is still called as such.
    """

    name: str
    side: str  # "pressure" or "support"
    weight: float
    compute: SignalCompute
    description: str = ""
    source: str | None = None  # the source kind whose stored events ctx.events reads
