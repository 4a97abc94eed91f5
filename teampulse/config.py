"""Load and validate the TOML config; every error names the file, the key and the reason."""

from __future__ import annotations

import os
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
from .settings import (
    Duration,
    Email,
    Hours,
    ListOf,
    Number,
    Setting,
    Settings,
    Text,
    TimeZone,
    Url,
    ValueType,
    Whole,
)

CONFIG_ENV = "TEAMPULSE_CONFIG"
_TEAM_NAME = r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}"
_UID = r"[A-Za-z0-9_-]{1,40}"  # Grafana's dashboard UIDs

# How many days back the engine replays to find episodes; each has a reference window behind it.
SCAN_DAYS = 90
# The window of 1:1 coverage, and how far back a 1:1 cadence is looked for.
COVERAGE_DAYS = 14


@dataclass(frozen=True)
class Component:
    """A component of the process pressure index, with its default weight and minimum effect.

    The minimum effect (`floor`) is the smallest rise above the team's normal that counts at
    all, in the component's unit, so ordinary noise does not read as a crunch. Work in
    progress and the shares of open work must also rise by at least three items
    (engine.MIN_EFFECT_ITEMS).
    """

    name: str
    weight: float
    floor: float
    measures: str
    floor_note: str = ""  # said after the floor in the docs


class Components(tuple[Component, ...]):
    """The components of the pressure index, rendered as the docs' table."""

    def markdown(self) -> str:
        """Return the components as a Markdown table."""
        rows = ["| component | measures | weight | minimum effect (`floors`) |", "| --- | --- | --- | --- |"]
        rows += [
            f"| `{c.name}` | {c.measures} | {c.weight:.2f} | {c.floor:.2f}{c.floor_note} |" for c in self
        ]
        return "\n".join(rows) + "\n"


COMPONENTS = Components(
    (
        Component(
            "wip_per_person",
            0.30,
            0.5,
            "items in progress held by members not on leave, per member not on leave",
            " per person, 3 items, and half its usual level",
        ),
        Component(
            "overdue_share",
            0.20,
            0.05,
            "open items past their due date / open items (at least 10)",
            ", and 3 items",
        ),
        Component(
            "due_soon_share",
            0.15,
            0.10,
            "open items due within 7 days / open items (at least 10)",
            ", and 3 items",
        ),
        Component(
            "scope_added_share",
            0.10,
            0.05,
            "items added to a running sprint after it started (7 days) / open items (at least 10)",
            ", and 3 items",
        ),
        Component(
            "after_hours_share",
            0.10,
            0.10,
            "work-item changes outside working hours / changes (7 days; at least 10 in the denominator)",
        ),
        # One of five away (a day off) is normal life.
        Component(
            "capacity_on_leave",
            0.15,
            0.20,
            "members on leave / members",
            " (one of five away is normal life)",
        ),
    )
)
PRESSURE_COMPONENTS: dict[str, float] = {c.name: c.weight for c in COMPONENTS}
PRESSURE_FLOORS: dict[str, float] = {c.name: c.floor for c in COMPONENTS}


@dataclass(frozen=True)
class ComponentValues(ValueType[dict[str, float]]):
    """A table of component = number, for `[pressure.weights]`, `.limits` and `.floors`."""

    positive: bool = False

    def parse(self, value: Any, key: str) -> dict[str, float]:
        if not isinstance(value, dict):
            raise ConfigError(key, "must be a table of component = number")
        out: dict[str, float] = {}
        for comp, number in value.items():
            where = f"{key}.{comp}"
            if comp not in PRESSURE_COMPONENTS:
                raise ConfigError(where, f"unknown component (known: {', '.join(PRESSURE_COMPONENTS)})")
            out[comp] = Number(0.0).parse(number, where)
            if self.positive and out[comp] <= 0:
                raise ConfigError(where, "must be positive")
        return out

    def describe(self) -> str:
        return "table of component = number"


@dataclass(frozen=True)
class SourceTables(ValueType[dict[str, dict[str, Any]]]):
    """A team's `[teams.sources.NAME]` tables: its settings for each source."""

    def parse(self, value: Any, key: str) -> dict[str, dict[str, Any]]:
        if not isinstance(value, dict):
            raise ConfigError(key, "must be a table of [teams.sources.NAME] tables")
        for name, table in value.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{key}.{name}", "must be a table")
        return value

    def describe(self) -> str:
        return "table per source"


SETTINGS = Settings(
    Setting(
        "state",
        Text(what="a file name"),
        "teampulse.db",
        "the SQLite store, relative to the config file; its folder must exist",
    ),
    Setting(
        "timezone",
        TimeZone(),
        "UTC",
        "IANA zone for teams without their own (dates of due items, working hours)",
    ),
    Setting(
        "working_hours",
        Hours(),
        "09:00-17:00",
        "outside these, and on weekends, activity counts as after hours",
    ),
    Setting("min_group_size", Whole(minimum=1), 5, "anonymity threshold for person-derived aggregates"),
    Setting("interval", Duration(), "15m", "how often `serve` collects"),
    Setting(
        "retention",
        Duration(minimum="90d", why="the engine replays 90 days"),
        "400d",
        "events older than this are pruned (the engine replays 90 days)",
    ),
    Setting("survey_window", Duration(), "28d", "a team's survey scores are the responses of this window"),
    Setting(
        "dashboards_url",
        Url(what="the http(s) address of your Grafana"),
        None,
        "your Grafana's address: the team page and the alerts link to the dashboards there",
    ),
    *(
        Setting(
            f"dashboards_{name}_uid",
            Text(what="a Grafana dashboard UID (letters, digits, - and _, at most 40)", pattern=_UID),
            default,
            f"the UID of the {what} dashboard in that Grafana, for the team page's links: "
            "the `{name}_uid` of your mixin.toml, if it changes it".replace("{name}", name),
        )
        for name, default, what in (
            ("overview", "teampulse-overview", "organisation overview"),
            ("team", "teampulse-team", "team detail"),
            ("health", "teampulse-health", "teampulse health"),
        )
    ),
)
TEAM = Settings(
    Setting(
        "name",
        Text(what="a short name (letters, digits, space . _ -)", pattern=_TEAM_NAME),
        description="a short name; it is the `team` label (letters, digits, space, `.`, `_`, `-`)",
        missing="is required: a short name (letters, digits, space . _ -)",
    ),
    Setting(
        "manager",
        Email(),
        description="the manager's e-mail address",
        missing="is required: the manager's e-mail address",
    ),
    Setting(
        "members",
        ListOf(
            Email(), "e-mail addresses", empty="is empty: list the team's members, the manager not included"
        ),
        description="the reports' e-mail addresses (the manager not included); at least one",
        missing="is required: the members' e-mail addresses, the manager not included",
    ),
    Setting(
        "jql", Text(what="a non-empty JQL string", blank_ok=False), None, "the team's work items in Jira"
    ),
    Setting(
        "timezone", TimeZone(), None, "the team's own zone (dates of due items)", shown="`settings.timezone`"
    ),
    Setting("working_hours", Hours(), None, "the team's own working hours", shown="`settings.working_hours`"),
    Setting(
        "sources",
        SourceTables(),
        {},
        "the team's settings for source NAME: `[teams.sources.NAME]`, with the keys that source takes per team",
        shown="none",
    ),
)
PRESSURE = Settings(
    Setting(
        "saturation",
        Number(1.01),
        2.0,
        "a component counts in full one band width beyond its normal band (with `limits`: at this multiple of the limit)",
    ),
    Setting("reference", Duration(), "28d", "the team's normal is learned over this window"),
    Setting(
        "weights", ComponentValues(), {}, "the weight of each component, any subset", shown="the table below"
    ),
    Setting(
        "limits",
        ComponentValues(positive=True),
        {},
        "absolute norms instead of the team's own history",
        shown="none",
    ),
    Setting(
        "floors",
        ComponentValues(),
        {},
        "the minimum effect of a component, in its own unit",
        shown="the table below",
    ),
)
ALERTS = Settings(
    Setting(
        "rise",
        Number(0.01, 1.0),
        0.2,
        "pressure this far above the baseline is out of the normal: an episode starts that day (its onset)",
    ),
    Setting(
        "high",
        Number(0.01, 1.0),
        0.6,
        "pressure at or above this is out of the normal whatever the baseline (chronic pressure)",
    ),
    Setting(
        "grace",
        Duration(),
        "2d",
        "an episode must hold this long, and pressure be out of the normal today, before the alert fires",
    ),
    Setting(
        "min_actions",
        Whole(minimum=1),
        1,
        "moved deadlines, rebalanced work, check-ins or recorded actions since the onset that answer it",
    ),
    Setting("source_down_after", Duration(), "1h", "a source failing this long fires `TeampulseSourceDown`"),
)
SECTIONS = ("settings", "teams", "sources", "notifiers", "pressure", "alerts")


@dataclass(frozen=True)
class Team:
    """A configured team."""

    name: str
    manager: str
    members: tuple[str, ...]
    jql: str | None
    timezone: ZoneInfo
    working_hours: tuple[time, time]
    # The team's [teams.sources.NAME] tables as written; each source checks its own.
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def info(self, settings: Mapping[str, Any] | None = None) -> TeamInfo:
        """Return what a source sees of this team, with the team's settings for that source."""
        return TeamInfo(
            name=self.name, manager=self.manager, members=self.members, jql=self.jql, settings=settings or {}
        )


@dataclass(frozen=True)
class PressureSettings:
    """How the process pressure index is built."""

    weights: Mapping[str, float]
    limits: Mapping[str, float]  # configured norms; components without one use their baseline
    floors: Mapping[str, float]
    # The defaults come from the declarations; each is an immutable value.
    saturation: float = PRESSURE.default("saturation")
    reference: timedelta = PRESSURE.default("reference")  # noqa: RUF009


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of the alerts; defaults documented in docs/configuration.md."""

    # The defaults come from the declarations; each is an immutable value.
    rise: float = ALERTS.default("rise")
    high: float = ALERTS.default("high")
    grace: timedelta = ALERTS.default("grace")  # noqa: RUF009
    min_actions: int = ALERTS.default("min_actions")
    source_down_after: timedelta = ALERTS.default("source_down_after")  # noqa: RUF009


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
    # The dashboards' UIDs in that Grafana (settings.dashboards_*_uid).
    dashboards_overview_uid: str = "teampulse-overview"
    dashboards_team_uid: str = "teampulse-team"
    dashboards_health_uid: str = "teampulse-health"

    def history(self) -> timedelta:
        """Return how far back the engine reads: the scan, a reference window before it, a 1:1 window."""
        return timedelta(days=SCAN_DAYS + COVERAGE_DAYS + 1) + self.pressure.reference

    def team(self, name: str) -> Team | None:
        """Return the team of that name."""
        return next((t for t in self.teams if t.name == name), None)

    def team_infos(self, source: str) -> list[TeamInfo]:
        """Return what a source sees of the teams, each with its settings for that source."""
        table = self.sources.get(source)
        return [t.info(table.team_settings(t.name) if table else None) for t in self.teams]


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
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise ConfigError("config", "not valid TOML: values nested too deeply", str(resolved)) from None
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


def _state_path(raw: str, base: Path) -> Path:
    """Return the store's path, relative to the config file; its folder must exist."""
    try:
        state = Path(raw).expanduser()
    except RuntimeError:  # "~name/..." of a user this system does not know
        raise ConfigError("settings.state", f"{raw!r} names the home folder of an unknown user") from None
    if not state.is_absolute():
        state = base / state
    try:
        folder_found = state.parent.is_dir()
    except OSError as exc:  # a name too long, say
        raise ConfigError(
            "settings.state", f"the folder {state.parent} cannot be read: {exc.strerror}"
        ) from None
    if not folder_found:
        # Creating it would hide a typo or an unmounted volume behind a fresh, empty store:
        # every baseline relearned, every recorded action gone, nothing said.
        raise ConfigError("settings.state", f"the folder {state.parent} does not exist (create it first)")
    return state


def parse(data: Mapping[str, Any], path: Path) -> Config:
    """Validate parsed TOML; raises ConfigError naming the key."""
    _unknown(data, "", set(SECTIONS))
    settings = SETTINGS.parse(_table(data, "settings"), "settings.")
    base = path.parent
    state = _state_path(settings["state"], base)
    tz: ZoneInfo = settings["timezone"]
    hours: tuple[time, time] = settings["working_hours"]
    teams = _teams(data, tz, hours)
    sources = _plugin_tables(data, "sources", base, teams)
    notifiers = _plugin_tables(data, "notifiers", base, [])
    pressure = _pressure(PRESSURE.parse(_table(data, "pressure"), "pressure."))
    alerts = AlertSettings(**ALERTS.parse(_table(data, "alerts"), "alerts."))
    if not sources:
        # Nothing would ever be collected: every team would stay unknown and no alert could fire,
        # which looks the same as calm.
        raise ConfigError(
            "sources", "none configured: add a [sources.NAME] table (see docs/configuration.md)"
        )
    dashboards_url = settings["dashboards_url"]
    return Config(
        path=path,
        state=state,
        timezone=tz,
        working_hours=hours,
        min_group_size=settings["min_group_size"],
        interval=settings["interval"],
        retention=settings["retention"],
        survey_window=settings["survey_window"],
        dashboards_url=dashboards_url.rstrip("/") if dashboards_url else None,
        dashboards_overview_uid=settings["dashboards_overview_uid"],
        dashboards_team_uid=settings["dashboards_team_uid"],
        dashboards_health_uid=settings["dashboards_health_uid"],
        teams=tuple(teams),
        sources=sources,
        notifiers=notifiers,
        pressure=pressure,
        alerts=alerts,
        raw=data,
    )


def _teams(data: Mapping[str, Any], tz: ZoneInfo, hours: tuple[time, time]) -> list[Team]:
    teams_raw = data.get("teams", [])
    if not isinstance(teams_raw, list) or not all(isinstance(t, dict) for t in teams_raw):
        raise ConfigError("teams", "must be an array of tables ([[teams]])")
    if not teams_raw:
        raise ConfigError("teams", "at least one [[teams]] table is required")
    teams: list[Team] = []
    for i, t in enumerate(teams_raw):
        prefix = f"teams[{i}]."
        v = TEAM.parse(t, prefix)
        name = v["name"]
        if any(x.name == name for x in teams):
            raise ConfigError(prefix + "name", f"team {name!r} is defined twice")
        members = tuple(v["members"])
        if len(set(members)) != len(members):
            raise ConfigError(prefix + "members", "lists someone twice")
        _check_membership(teams, v["manager"], members, prefix)
        teams.append(
            Team(
                name=name,
                manager=v["manager"],
                members=members,
                jql=v["jql"],
                timezone=v["timezone"] or tz,
                working_hours=v["working_hours"] or hours,
                sources=v["sources"],
            )
        )
    return teams


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


def _plugin_tables(
    data: Mapping[str, Any], section: str, base: Path, teams: list[Team]
) -> dict[str, PluginConfig]:
    result: dict[str, PluginConfig] = {}
    for name, table in _table(data, section).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{section}.{name}", "must be a table")
        plugin = table.get("plugin")
        if not isinstance(plugin, str) or not plugin:
            kind = "source, e.g. jira" if section == "sources" else "notifier, e.g. webhook"
            raise ConfigError(f"{section}.{name}.plugin", f"is required (the kind of {kind})")
        per_team = {
            t.name: PluginConfig(
                name=name, section=f"teams[{i}].sources", options=t.sources[name], base_dir=base
            )
            for i, t in enumerate(teams)
            if name in t.sources
        }
        result[name] = PluginConfig(name=name, section=section, options=table, base_dir=base, teams=per_team)
    for i, t in enumerate(teams):
        for name in t.sources:
            if name not in result:
                known = ", ".join(sorted(result)) or "none"
                raise ConfigError(
                    f"teams[{i}].sources.{name}", f"no source of that name (configured: {known})"
                )
    return result


def _pressure(values: Mapping[str, Any]) -> PressureSettings:
    weights = PRESSURE_COMPONENTS | values["weights"]
    if sum(weights.values()) <= 0:
        raise ConfigError("pressure.weights", "at least one weight must be positive")
    return PressureSettings(
        weights=weights,
        limits=values["limits"],
        floors=PRESSURE_FLOORS | values["floors"],
        saturation=values["saturation"],
        reference=values["reference"],
    )
