"""Load and validate the TOML config; every error names the file, the key and the reason."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .errors import ConfigError
from .kinds import PluginConfig
from .model import TeamInfo
from .timeutil import parse_duration, parse_hours, parse_zone

CONFIG_ENV = "TEAMPULSE_CONFIG"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$")

# How many days back the engine replays to find episodes; each has a reference window behind it.
SCAN_DAYS = 90
# The window of 1:1 coverage, and how far back a 1:1 cadence is looked for.
COVERAGE_DAYS = 14

# Components of the process pressure index and their default weights (docs/configuration.md).
PRESSURE_COMPONENTS: dict[str, float] = {
    "wip_per_person": 0.30,
    "overdue_share": 0.20,
    "due_soon_share": 0.15,
    "scope_added_share": 0.10,
    "after_hours_share": 0.10,
    "capacity_on_leave": 0.15,
}
# The smallest rise of each component above the team's normal that counts at all (in the
# component's unit), so ordinary noise does not read as a crunch. Work in progress and the
# shares of open work must also rise by at least three items (engine.MIN_EFFECT_ITEMS).
PRESSURE_FLOORS: dict[str, float] = {
    "wip_per_person": 0.5,
    "overdue_share": 0.05,
    "due_soon_share": 0.10,
    "scope_added_share": 0.05,
    "after_hours_share": 0.10,
    "capacity_on_leave": 0.20,  # one of five away (a day off) is normal life
}


@dataclass(frozen=True)
class Team:
    """A configured team."""

    name: str
    manager: str
    members: tuple[str, ...]
    jql: str | None
    timezone: ZoneInfo
    working_hours: tuple[time, time]

    def info(self) -> TeamInfo:
        """Return what sources see of this team."""
        return TeamInfo(name=self.name, manager=self.manager, members=self.members, jql=self.jql)


@dataclass(frozen=True)
class PressureSettings:
    """How the process pressure index is built."""

    weights: Mapping[str, float]
    limits: Mapping[str, float]  # configured norms; components without one use their baseline
    floors: Mapping[str, float]
    saturation: float = 2.0  # a component counts in full at this multiple of its norm
    reference: timedelta = timedelta(days=28)


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of the alerts; defaults documented in docs/configuration.md."""

    rise: float = 0.2
    high: float = 0.6
    grace: timedelta = timedelta(days=2)
    min_actions: int = 1
    source_down_after: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Config:
    """A validated config."""

    path: Path
    state: Path
    timezone: ZoneInfo
    working_hours: tuple[time, time]
    min_group_size: int
    interval: timedelta
    retention: timedelta
    survey_window: timedelta
    dashboards_url: str | None
    teams: tuple[Team, ...]
    sources: Mapping[str, PluginConfig]
    notifiers: Mapping[str, PluginConfig]
    pressure: PressureSettings
    alerts: AlertSettings
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def history(self) -> timedelta:
        """Return how far back the engine reads: the scan, a reference window before it, a 1:1 window."""
        return timedelta(days=SCAN_DAYS + COVERAGE_DAYS + 1) + self.pressure.reference

    def team(self, name: str) -> Team | None:
        """Return the team of that name."""
        return next((t for t in self.teams if t.name == name), None)


def resolve_path(path: str | os.PathLike[str] | None) -> Path:
    """Return the config path from --config or TEAMPULSE_CONFIG."""
    if path is None:
        env = os.environ.get(CONFIG_ENV)
        if not env:
            raise ConfigError("--config", f"no config given (use --config FILE or set {CONFIG_ENV})")
        path = env
    return Path(path)


def load(path: str | os.PathLike[str] | None) -> Config:
    """Read and validate a config file."""
    resolved = resolve_path(path)
    try:
        text = resolved.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config", "file not found", str(resolved)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", f"cannot be read: {exc}", str(resolved)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"not valid TOML: {exc}", str(resolved)) from None
    try:
        return parse(data, resolved)
    except ConfigError as exc:
        raise exc.with_path(str(resolved)) from None


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(key, "must be a table")
    return value


def _unknown(table: Mapping[str, Any], prefix: str, known: set[str]) -> None:
    for key in table:
        if key not in known:
            raise ConfigError(f"{prefix}{key}", f"unknown key (known: {', '.join(sorted(known))})")


def _duration(table: Mapping[str, Any], key: str, prefix: str, default: timedelta) -> timedelta:
    value = table.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ConfigError(prefix + key, 'must be a duration string like "15m" or "2d"')
    try:
        result = parse_duration(value)
    except ValueError as exc:
        raise ConfigError(prefix + key, str(exc)) from None
    if result <= timedelta(0):
        raise ConfigError(prefix + key, "must be positive")
    return result


def _number(
    table: Mapping[str, Any], key: str, prefix: str, default: float, lo: float, hi: float | None = None
) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(prefix + key, "must be a number")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ConfigError(prefix + key, f"must be {bound}, got {value}")
    return float(value)


def _zone(value: Any, key: str) -> ZoneInfo:
    if not isinstance(value, str):
        raise ConfigError(key, "must be an IANA time zone name")
    try:
        return parse_zone(value)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


def _hours(value: Any, key: str) -> tuple[time, time]:
    if not isinstance(value, str):
        raise ConfigError(key, 'must be a string like "09:00-17:00"')
    try:
        return parse_hours(value)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None


def _email(value: Any, key: str) -> str:
    if not isinstance(value, str) or not _EMAIL.match(value):
        raise ConfigError(
            key,
            f"must be an e-mail address, got {value!r}"
            if isinstance(value, str)
            else "must be an e-mail address",
        )
    return value.strip().lower()


def parse(data: Mapping[str, Any], path: Path) -> Config:
    """Validate parsed TOML; raises ConfigError naming the key."""
    _unknown(data, "", {"settings", "teams", "sources", "notifiers", "pressure", "alerts"})
    settings = _table(data, "settings")
    _unknown(
        settings,
        "settings.",
        {
            "state",
            "timezone",
            "working_hours",
            "min_group_size",
            "interval",
            "retention",
            "survey_window",
            "dashboards_url",
        },
    )
    base = path.parent
    state_raw = settings.get("state", "teampulse.db")
    if not isinstance(state_raw, str) or not state_raw:
        raise ConfigError("settings.state", "must be a file name")
    state = Path(state_raw).expanduser()
    if not state.is_absolute():
        state = base / state
    if not state.parent.is_dir():
        # Creating it would hide a typo or an unmounted volume behind a fresh, empty store:
        # every baseline relearned, every recorded action gone, nothing said.
        raise ConfigError("settings.state", f"the folder {state.parent} does not exist (create it first)")
    tz = _zone(settings.get("timezone", "UTC"), "settings.timezone")
    hours = _hours(settings.get("working_hours", "09:00-17:00"), "settings.working_hours")
    min_group = settings.get("min_group_size", 5)
    if isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 1:
        raise ConfigError("settings.min_group_size", "must be a whole number of at least 1")
    interval = _duration(settings, "interval", "settings.", timedelta(minutes=15))
    retention = _duration(settings, "retention", "settings.", timedelta(days=400))
    survey_window = _duration(settings, "survey_window", "settings.", timedelta(days=28))
    dashboards_url = settings.get("dashboards_url")
    if dashboards_url is not None and (
        not isinstance(dashboards_url, str) or not dashboards_url.startswith(("http://", "https://"))
    ):
        raise ConfigError("settings.dashboards_url", "must be the http(s) address of your Grafana")
    if retention < timedelta(days=90):
        raise ConfigError("settings.retention", "must be at least 90d (the engine replays 90 days)")

    teams_raw = data.get("teams", [])
    if not isinstance(teams_raw, list) or not all(isinstance(t, dict) for t in teams_raw):
        raise ConfigError("teams", "must be an array of tables ([[teams]])")
    if not teams_raw:
        raise ConfigError("teams", "at least one [[teams]] table is required")
    teams: list[Team] = []
    for i, t in enumerate(teams_raw):
        prefix = f"teams[{i}]."
        _unknown(t, prefix, {"name", "manager", "members", "jql", "timezone", "working_hours"})
        name = t.get("name")
        if not isinstance(name, str) or not _TEAM_NAME.match(name):
            raise ConfigError(prefix + "name", "must be a short name (letters, digits, space . _ -)")
        if any(x.name == name for x in teams):
            raise ConfigError(prefix + "name", f"team {name!r} is defined twice")
        manager = _email(t.get("manager"), prefix + "manager")
        members_raw = t.get("members")
        if members_raw is None:
            raise ConfigError(
                prefix + "members", "is required: the members' e-mail addresses, the manager not included"
            )
        if not isinstance(members_raw, list):
            raise ConfigError(prefix + "members", "must be a list of e-mail addresses")
        if not members_raw:
            # Every people figure is per member; with none, each would be empty or divide by zero.
            raise ConfigError(
                prefix + "members", "is empty: list the team's members, the manager not included"
            )
        members = tuple(_email(m, f"{prefix}members[{j}]") for j, m in enumerate(members_raw))
        if len(set(members)) != len(members):
            raise ConfigError(prefix + "members", "lists someone twice")
        _check_membership(teams, manager, members, prefix)
        jql = t.get("jql")
        if jql is not None and (not isinstance(jql, str) or not jql.strip()):
            raise ConfigError(prefix + "jql", "must be a non-empty JQL string")
        teams.append(
            Team(
                name=name,
                manager=manager,
                members=members,
                jql=jql,
                timezone=_zone(t["timezone"], prefix + "timezone") if "timezone" in t else tz,
                working_hours=(
                    _hours(t["working_hours"], prefix + "working_hours") if "working_hours" in t else hours
                ),
            )
        )

    sources = _plugin_tables(data, "sources", base)
    notifiers = _plugin_tables(data, "notifiers", base)
    pressure = _pressure(_table(data, "pressure"))
    alerts = _alerts(_table(data, "alerts"))
    if not sources:
        # Nothing would ever be collected: every team would stay unknown and no alert could fire,
        # which looks the same as calm.
        raise ConfigError(
            "sources", "none configured: add a [sources.NAME] table (see docs/configuration.md)"
        )
    return Config(
        path=path,
        state=state,
        timezone=tz,
        working_hours=hours,
        min_group_size=min_group,
        interval=interval,
        retention=retention,
        survey_window=survey_window,
        dashboards_url=dashboards_url.rstrip("/") if dashboards_url else None,
        teams=tuple(teams),
        sources=sources,
        notifiers=notifiers,
        pressure=pressure,
        alerts=alerts,
        raw=data,
    )


def _check_membership(teams: list[Team], manager: str, members: tuple[str, ...], prefix: str) -> None:
    """Refuse a member counted twice: in two teams, or as their own team's manager.

    A member's leave, meetings and work count in their team's figures; listed in two teams
    they would count fully in both, and two teams that differ by one person let their
    figures be subtracted to single that person out. A manager is not counted in those
    figures, so one person may manage several teams, or manage one and be a member of another.
    """
    for j, member in enumerate(members):
        where = f"{prefix}members[{j}]"
        if member == manager:
            raise ConfigError(where, "is the team's manager: list the manager only as manager")
        other = next((t.name for t in teams if member in t.members), None)
        if other is not None:
            raise ConfigError(
                where,
                f"is also a member of team {other!r}: a person counts in one team (list them in the one they mostly work in)",
            )


def _plugin_tables(data: Mapping[str, Any], section: str, base: Path) -> dict[str, PluginConfig]:
    result: dict[str, PluginConfig] = {}
    for name, table in _table(data, section).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{section}.{name}", "must be a table")
        plugin = table.get("plugin")
        if not isinstance(plugin, str) or not plugin:
            raise ConfigError(f"{section}.{name}.plugin", "is required (the kind of source, e.g. jira)")
        result[name] = PluginConfig(name=name, section=section, options=table, base_dir=base)
    return result


def _pressure(table: Mapping[str, Any]) -> PressureSettings:
    _unknown(table, "pressure.", {"weights", "limits", "floors", "saturation", "reference"})
    weights = dict(PRESSURE_COMPONENTS)
    limits: dict[str, float] = {}
    floors = dict(PRESSURE_FLOORS)
    for key, target in (("weights", weights), ("limits", limits), ("floors", floors)):
        sub = _table(table, key) if key in table else {}
        for comp in sub:
            if comp not in PRESSURE_COMPONENTS:
                raise ConfigError(
                    f"pressure.{key}.{comp}",
                    f"unknown component (known: {', '.join(PRESSURE_COMPONENTS)})",
                )
            target[comp] = _number(sub, comp, f"pressure.{key}.", 0.0, 0.0)
    if sum(weights.values()) <= 0:
        raise ConfigError("pressure.weights", "at least one weight must be positive")
    for comp, value in limits.items():
        if value <= 0:
            raise ConfigError(f"pressure.limits.{comp}", "must be positive")
    saturation = _number(table, "saturation", "pressure.", 2.0, 1.01)
    reference = _duration(table, "reference", "pressure.", timedelta(days=28))
    return PressureSettings(weights, limits, floors, saturation, reference)


def _alerts(table: Mapping[str, Any]) -> AlertSettings:
    _unknown(table, "alerts.", {"rise", "high", "grace", "min_actions", "source_down_after"})
    min_actions = table.get("min_actions", 1)
    if isinstance(min_actions, bool) or not isinstance(min_actions, int) or min_actions < 1:
        raise ConfigError("alerts.min_actions", "must be a whole number of at least 1")
    return AlertSettings(
        rise=_number(table, "rise", "alerts.", 0.2, 0.01, 1.0),
        high=_number(table, "high", "alerts.", 0.6, 0.01, 1.0),
        grace=_duration(table, "grace", "alerts.", timedelta(days=2)),
        min_actions=min_actions,
        source_down_after=_duration(table, "source_down_after", "alerts.", timedelta(hours=1)),
    )
