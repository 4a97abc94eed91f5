"""Declared config keys: each key's type, default and meaning, written once.

The core reads its tables (teampulse.config) and plugins read theirs (PluginConfig.parse)
through these declarations, and the key tables of docs/configuration.md and of the plugins'
READMEs are rendered from them (teampulse.doctables).
"""

from __future__ import annotations

import copy
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any, Final, Generic, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from .errors import ConfigError
from .timeutil import parse_duration, parse_hours, parse_zone

__all__ = [
    "REQUIRED",
    "Boolean",
    "Duration",
    "Email",
    "Hours",
    "ListOf",
    "Number",
    "Secret",
    "Setting",
    "Settings",
    "Text",
    "TimeZone",
    "Url",
    "ValueType",
    "Whole",
]

T = TypeVar("T")
SCOPES = ("source", "team", "both")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Required:
    """The default of a key that must be given."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()


def _shown(value: float) -> str:
    """Return a number for a message, short whatever its size (TOML integers are unbounded)."""
    if isinstance(value, float) or abs(value) < 10**30:
        return repr(value)
    return "a huge number"


class ValueType(Generic[T]):
    """How a key's value is read: `parse` returns it or raises ConfigError(key, reason).

    Subclass it for a value with rules of its own; `describe` is its type in the docs.
    """

    missing = "is required"  # the reason when a required key is absent

    def parse(self, value: Any, key: str) -> T:
        """Return the value read, or raise ConfigError naming `key`."""
        raise NotImplementedError

    def resolve(self, value: T, key: str) -> Any:
        """Return the value once every key is read (secrets come from the environment here)."""
        return value

    def describe(self) -> str:
        """Return the type as the docs name it."""
        raise NotImplementedError


@dataclass(frozen=True)
class Text(ValueType[str]):
    """A string: non-empty unless `empty_ok`; one of `choices`, or matching `pattern`, when given."""

    what: str = "a non-empty string"
    choices: tuple[str, ...] = ()
    pattern: str | None = None  # the whole value must match
    empty_ok: bool = False
    blank_ok: bool = True  # whitespace alone counts as a value

    def parse(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(key, "must be a string" if self.empty_ok else f"must be {self.what}")
        if self.choices and value not in self.choices:
            raise ConfigError(key, f"must be one of {', '.join(self.choices)}")
        if not self.empty_ok and (not value or (not self.blank_ok and not value.strip())):
            raise ConfigError(key, f"must be {self.what}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ConfigError(key, f"must be {self.what}")
        return value

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(f"`{c}`" for c in self.choices)
        return "string"


@dataclass(frozen=True)
class Number(ValueType[float]):
    """A finite number, within the bounds given."""

    minimum: float | None = None
    maximum: float | None = None

    def parse(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, "must be a number")
        if not math.isfinite(value if isinstance(value, float) else 0.0) or abs(value) > sys.float_info.max:
            raise ConfigError(key, "must be a finite number")  # nan, inf, or hundreds of digits
        lo, hi = self.minimum, self.maximum
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            if lo is not None and hi is not None:
                bound = f"between {lo} and {hi}"
            else:
                bound = f"at least {lo}" if lo is not None else f"at most {hi}"
            raise ConfigError(key, f"must be {bound}, got {_shown(value)}")
        return float(value)

    def describe(self) -> str:
        return _bounded("number", self.minimum, self.maximum)


@dataclass(frozen=True)
class Whole(ValueType[int]):
    """A whole number (2.0 counts as 2), within the bounds given."""

    minimum: int | None = None
    maximum: int | None = None
    what: str | None = None  # replaces "a whole number of at least ..." in messages

    def _what(self) -> str:
        if self.what is not None:
            return self.what
        lo, hi = self.minimum, self.maximum
        bound = " and ".join(
            part
            for part in (
                f"at least {lo}" if lo is not None else "",
                f"at most {hi}" if hi is not None else "",
            )
            if part
        )
        return f"a whole number of {bound}" if bound else "a whole number"

    def parse(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"must be {self._what()}")
        if isinstance(value, float):
            if not value.is_integer():  # also inf and nan
                raise ConfigError(key, f"must be {self._what()}")
            value = int(value)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise ConfigError(key, f"must be {self._what()}, got {_shown(value)}")
        return value

    def describe(self) -> str:
        return _bounded("whole number", self.minimum, self.maximum)


def _bounded(name: str, lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{name}, {lo} to {hi}"
    if lo is not None:
        return f"{name}, at least {lo}"
    return f"{name}, at most {hi}" if hi is not None else name


@dataclass(frozen=True)
class Boolean(ValueType[bool]):
    """true or false."""

    def parse(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(key, "must be true or false")
        return value

    def describe(self) -> str:
        return "boolean"


@dataclass(frozen=True)
class Duration(ValueType[timedelta]):
    """A positive duration written "90s", "15m", "2h", "7d" or "1w"."""

    minimum: str | None = None  # e.g. "90d"
    why: str | None = None  # said after the minimum in its message

    def parse(self, value: Any, key: str) -> timedelta:
        if not isinstance(value, str):
            raise ConfigError(key, 'must be a duration string like "15m" or "2d"')
        try:
            result = parse_duration(value)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None
        if result <= timedelta(0):
            raise ConfigError(key, "must be positive")
        if self.minimum is not None and result < parse_duration(self.minimum):
            why = f" ({self.why})" if self.why else ""
            raise ConfigError(key, f"must be at least {self.minimum}{why}")
        return result

    def describe(self) -> str:
        return f"duration, at least {self.minimum}" if self.minimum else "duration"


@dataclass(frozen=True)
class TimeZone(ValueType[ZoneInfo]):
    """An IANA time zone name such as Europe/Berlin."""

    def parse(self, value: Any, key: str) -> ZoneInfo:
        if not isinstance(value, str):
            raise ConfigError(key, "must be an IANA time zone name")
        try:
            return parse_zone(value)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None

    def describe(self) -> str:
        return "time zone"


@dataclass(frozen=True)
class Hours(ValueType[tuple[time, time]]):
    """Working hours written "09:00-17:00"."""

    def parse(self, value: Any, key: str) -> tuple[time, time]:
        if not isinstance(value, str):
            raise ConfigError(key, 'must be a string like "09:00-17:00"')
        try:
            return parse_hours(value)
        except ValueError as exc:
            raise ConfigError(key, str(exc)) from None

    def describe(self) -> str:
        return '"HH:MM-HH:MM"'


@dataclass(frozen=True)
class Email(ValueType[str]):
    """An e-mail address, compared without regard to case."""

    def parse(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(key, "must be an e-mail address")
        if not _EMAIL.match(value):
            raise ConfigError(key, f"must be an e-mail address, got {value[:80]!r}")
        return value.strip().lower()

    def describe(self) -> str:
        return "e-mail address"


@dataclass(frozen=True)
class Url(ValueType[str]):
    """An http(s) URL with a host."""

    what: str = "an http(s) URL"

    def parse(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be {self.what}")
        try:
            parts = urlsplit(value)
        except ValueError:  # an unclosed IPv6 bracket
            raise ConfigError(key, f"must be {self.what}") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(key, f"must be {self.what}")
        return value

    def describe(self) -> str:
        return "URL"


@dataclass(frozen=True)
class Secret(ValueType[str]):
    """The name of an environment variable; the value read is the variable's content.

    The variable is read after every other key, so a typo elsewhere is reported first.
    """

    missing = "is required (the name of an environment variable)"

    def parse(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise ConfigError(key, "must name an environment variable")
        return value

    def resolve(self, value: str, key: str) -> str:
        try:
            secret = os.environ.get(value)
        except ValueError:  # a name holding "=" or a NUL
            secret = None
        if not secret:
            raise ConfigError(key, f"environment variable {value[:60]} is not set")
        return secret

    def describe(self) -> str:
        return "environment variable name"


@dataclass(frozen=True)
class ListOf(ValueType[list[Any]]):
    """A list whose items are each read by `item`; their errors name `KEY[N]`."""

    item: ValueType[Any]
    plural: str = "values"  # "must be a list of <plural>"
    empty: str | None = None  # the reason when the list is empty; None: an empty list is fine

    def parse(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise ConfigError(key, f"must be a list of {self.plural}")
        if not value and self.empty is not None:
            raise ConfigError(key, self.empty)
        return [self.item.parse(v, f"{key}[{n}]") for n, v in enumerate(value)]

    def describe(self) -> str:
        return f"list of {self.plural}"


@dataclass(frozen=True)
class Setting:
    """One key: its type, its default as written in TOML, and what it means.

    `default` is REQUIRED for a key that must be given, None for an optional key without a
    value, else what a user would write (`"15m"`, `0.2`, `[1, 5]`): it is read by `type` like
    any value, so a default cannot break its own rules. `scope` says where the key is set:
    in the source's table ("source"), in a team's `[teams.sources.NAME]` table ("team"), or
    in both, the team's value winning ("both").
    """

    name: str
    type: ValueType[Any]
    default: Any = REQUIRED
    description: str = ""
    missing: str | None = None  # the reason when absent, if not the type's
    shown: str | None = None  # the docs' default when it is not a literal ("the team's jql")
    scope: str = "source"
    value: Any = field(init=False, repr=False, compare=False)  # the default, read

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"{self.name}: scope must be one of {', '.join(SCOPES)}")
        read = (
            None
            if self.default is None or self.default is REQUIRED
            else self.type.parse(self.default, self.name)
        )
        object.__setattr__(self, "value", read)

    @property
    def required(self) -> bool:
        """Tell whether the key must be given."""
        return self.default is REQUIRED

    def read(self, table: Mapping[str, Any], key: str) -> Any:
        """Return the key's value in `table` (its default when absent), read by its type."""
        if self.name not in table:
            if self.required:
                raise ConfigError(key, self.missing or self.type.missing)
            # A fresh copy: a list or table one reader changes must stay the default for the next.
            return copy.deepcopy(self.value)
        return self.type.parse(table[self.name], key)

    def default_text(self) -> str:
        """Return the default as the docs show it."""
        if self.shown is not None:
            return self.shown
        if self.required:
            return "required"
        if self.default is None:
            return "none"
        return f"`{toml_literal(self.default)}`"


def toml_literal(value: Any) -> str:
    """Return a value written as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return (
            "{ " + ", ".join(f"{k} = {toml_literal(v)}" for k, v in value.items()) + " }" if value else "{}"
        )
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")


Check = Callable[[Mapping[str, Any], str], None]


class Settings:
    """An ordered table of declared keys; groups of keys compose: Settings(OWN, COMMON).

    `checks` are rules between keys ("username needs password_env"): each gets the values
    read and the key prefix, and raises ConfigError; they run before secrets are read.
    """

    def __init__(self, *parts: Setting | Settings, checks: Sequence[Check] = ()) -> None:
        self.keys: dict[str, Setting] = {}
        self.checks: list[Check] = [c for part in parts if isinstance(part, Settings) for c in part.checks]
        self.checks += checks
        for part in parts:
            for setting in part if isinstance(part, Settings) else (part,):
                if setting.name in self.keys:
                    raise ValueError(f"{setting.name} is declared twice")
                self.keys[setting.name] = setting

    def __iter__(self) -> Iterator[Setting]:
        return iter(self.keys.values())

    def __getitem__(self, name: str) -> Setting:
        return self.keys[name]

    def __contains__(self, name: object) -> bool:
        return name in self.keys

    def default(self, name: str) -> Any:
        """Return a key's default, read by its type (for dataclass defaults)."""
        return self.keys[name].value

    def names(self, *scopes: str) -> list[str]:
        """Return the names of the keys set in these scopes (all keys without any)."""
        return [s.name for s in self if not scopes or s.scope in scopes]

    def check_keys(
        self, table: Mapping[str, Any], prefix: str, ignore: Iterable[str] = (), scopes: Sequence[str] = ()
    ) -> None:
        """Reject a key not declared (a typo must not pass silently)."""
        known = self.names(*scopes)
        skip = set(ignore)
        for key in table:
            if key in skip or key in known:
                continue
            if key in self.keys and scopes and self.keys[key].scope == "team":
                raise ConfigError(
                    prefix + str(key), "is set per team: put it in the team's [teams.sources.NAME] table"
                )
            what = f"known: {', '.join(sorted(known))}" if known else "none is known here"
            raise ConfigError(prefix + str(key), f"unknown key ({what})")

    def parse(self, table: Mapping[str, Any], prefix: str = "", ignore: Iterable[str] = ()) -> dict[str, Any]:
        """Return every source-level key's value, defaults applied; errors name `prefix + key`.

        Unknown keys are refused first, then each key is read in declared order, then the
        checks between keys run; secrets are read from the environment last.
        """
        scopes = ("source", "both")
        self.check_keys(table, prefix, ignore, scopes)
        chosen = [s for s in self if s.scope in scopes]
        values = {s.name: s.read(table, prefix + s.name) for s in chosen}
        for check in self.checks:
            check(values, prefix)
        for s in chosen:
            if values[s.name] is not None:
                values[s.name] = s.type.resolve(values[s.name], prefix + s.name)
        return values

    def parse_team(self, table: Mapping[str, Any], prefix: str, source: Mapping[str, Any]) -> dict[str, Any]:
        """Return a team's per-team values: its own, else the source's (scope "both"), else the default."""
        team_keys = self.names("team", "both")
        for key in table:
            if key not in team_keys:
                what = (
                    f"per-team keys: {', '.join(team_keys)}"
                    if team_keys
                    else "this source has no per-team keys"
                )
                raise ConfigError(prefix + str(key), f"unknown key ({what})")
        values: dict[str, Any] = {}
        for s in self:
            if s.scope == "source":
                continue
            if s.name in table:
                values[s.name] = s.type.resolve(s.type.parse(table[s.name], prefix + s.name), prefix + s.name)
            elif s.scope == "both" and s.name in source:
                values[s.name] = source[s.name]
            else:
                values[s.name] = copy.deepcopy(s.value)
        return values

    def markdown(self) -> str:
        """Return the keys as a Markdown table: key, type, default, (per team,) meaning."""
        per_team = any(s.scope != "source" for s in self)
        head = ["key", "type", "default", *(["per team"] if per_team else []), "meaning"]
        rows = [_row(head), _row(["---"] * len(head))]
        for s in self:
            team = {"source": "no", "team": "only", "both": "yes"}[s.scope]
            cells = [f"`{s.name}`", s.type.describe(), s.default_text(), *([team] if per_team else [])]
            rows.append(_row([*cells, s.description]))
        return "\n".join(rows) + "\n"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
