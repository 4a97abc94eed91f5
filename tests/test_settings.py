"""The declared settings: one vocabulary of types and messages, defaults read once, keys checked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from teampulse import config
from teampulse.errors import ConfigError
from teampulse.kinds import PluginConfig
from teampulse.settings import (
    Boolean,
    Duration,
    Email,
    ListOf,
    Number,
    Secret,
    Setting,
    Settings,
    Text,
    TimeZone,
    Url,
    Whole,
)


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        (Number(0.01, 1.0), 3, "must be between 0.01 and 1.0, got 3"),
        (Number(1), 0, "must be at least 1, got 0"),
        (Number(), "5", "must be a number"),
        (Number(), True, "must be a number"),
        (Number(), float("nan"), "must be a finite number"),
        (Number(), float("inf"), "must be a finite number"),
        (Number(), 10**400, "must be a finite number"),
        (Whole(1), 0, "must be a whole number of at least 1, got 0"),
        (Whole(1, 5000), 2.5, "must be a whole number of at least 1 and at most 5000"),
        (Whole(0, 10, what="a whole number from 0 to 10"), 50, "must be a whole number from 0 to 10, got 50"),
        (Whole(), float("inf"), "must be a whole number"),
        (Text(), "", "must be a non-empty string"),
        (Text(what="a non-empty JQL string", blank_ok=False), "  ", "must be a non-empty JQL string"),
        (Text(choices=("auto", "cloud")), "server", "must be one of auto, cloud"),
        (Boolean(), "yes", "must be true or false"),
        (Duration(), "soon", "not a duration: 'soon'"),
        (Duration(), 15, 'must be a duration string like "15m" or "2d"'),
        (Duration(), "0s", "must be positive"),
        (Duration(), "9" * 20 + "d", "too long a duration"),
        (
            Duration(minimum="90d", why="the engine replays 90 days"),
            "30d",
            "must be at least 90d (the engine",
        ),
        (TimeZone(), "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        (TimeZone(), "Europe", "unknown time zone 'Europe'"),
        (Email(), "maria", "must be an e-mail address, got 'maria'"),
        (Url(), "http://[::1", "must be an http(s) URL"),
        (ListOf(Email(), "e-mail addresses"), "a@b.co", "must be a list of e-mail addresses"),
    ],
)
def test_each_type_refuses_in_one_line_naming_the_key(kind: Any, value: Any, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        kind.parse(value, "t.k")
    assert info.value.key == "t.k"
    assert info.value.reason.startswith(reason), info.value.reason
    assert "\n" not in str(info.value)


def test_a_list_names_the_item_at_fault() -> None:
    with pytest.raises(ConfigError) as info:
        ListOf(Email(), "e-mail addresses").parse(["a@b.co", "nope"], "teams[0].members")
    assert (info.value.key, info.value.reason) == (
        "teams[0].members[1]",
        "must be an e-mail address, got 'nope'",
    )


def test_whole_numbers_written_as_floats_count() -> None:
    assert Whole(1).parse(100.0, "k") == 100
    assert isinstance(Whole(1).parse(100.0, "k"), int)


def test_a_default_is_read_by_its_own_type_when_declared() -> None:
    assert Setting("grace", Duration(), "2d").value == timedelta(days=2)
    with pytest.raises(ConfigError, match="grace: must be positive"):
        Setting("grace", Duration(), "0s")
    with pytest.raises(ValueError, match="scope"):
        Setting("x", Text(), None, scope="everywhere")


def test_a_key_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Settings(Setting("a", Text(), None), Settings(Setting("a", Number(), 1)))


def _user_needs_password(values: Mapping[str, Any], prefix: str) -> None:
    if bool(values["user"]) != (values["password_env"] is not None):
        raise ConfigError(prefix + "user", "goes with password_env")


GROUP = Settings(
    Setting("url", Url()),
    Setting("token_env", Secret()),
    Setting("retries", Whole(0), 3),
    Setting("user", Text(), None),
    Setting("password_env", Secret(), None),
    Setting("zone", Text(), "UTC", scope="both"),
    Setting("query", Text(), None, scope="team"),
    checks=(_user_needs_password,),
)


def _parse(table: Mapping[str, Any]) -> dict[str, Any]:
    return GROUP.parse(table, "sources.x.", ignore=("plugin",))


def test_parse_applies_defaults_and_reads_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TP_TEST_TOKEN", "s3cret")
    values = _parse({"plugin": "x", "url": "https://h.example", "token_env": "TP_TEST_TOKEN"})
    assert values == {
        "url": "https://h.example",
        "token_env": "s3cret",
        "retries": 3,
        "user": None,
        "password_env": None,
        "zone": "UTC",
    }


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ({"token_env": "TP_UNSET"}, "sources.x.url", "is required"),
        ({"url": "https://h"}, "sources.x.token_env", "is required (the name of an environment variable)"),
        (
            {"url": "https://h", "token_env": "TP_UNSET", "retires": 1},
            "sources.x.retires",
            "unknown key (known:",
        ),
        ({"url": "https://h", "token_env": "TP_UNSET", "query": "q"}, "sources.x.query", "is set per team"),
        # A typo elsewhere, and a rule between keys, are said before an unset variable.
        (
            {"url": "https://h", "token_env": "TP_UNSET", "retries": -1},
            "sources.x.retries",
            "must be a whole",
        ),
        (
            {"url": "https://h", "token_env": "TP_UNSET", "user": "u"},
            "sources.x.user",
            "goes with password_env",
        ),
        (
            {"url": "https://h", "token_env": "TP_UNSET"},
            "sources.x.token_env",
            "environment variable TP_UNSET",
        ),
    ],
)
def test_parse_refuses_in_a_fixed_order(table: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(table)
    assert info.value.key == key
    assert info.value.reason.startswith(reason), info.value.reason


def test_a_team_gets_its_own_value_else_the_sources_else_the_default() -> None:
    source = {"zone": "Europe/Berlin"}
    assert GROUP.parse_team({"query": "q"}, "teams[0].sources.x.", source) == {
        "zone": "Europe/Berlin",
        "query": "q",
    }
    assert GROUP.parse_team({"zone": "Asia/Tokyo"}, "teams[0].sources.x.", source) == {
        "zone": "Asia/Tokyo",
        "query": None,
    }
    with pytest.raises(ConfigError) as info:
        GROUP.parse_team({"retries": 1}, "teams[0].sources.x.", source)
    assert (info.value.key, info.value.reason) == (
        "teams[0].sources.x.retries",
        "unknown key (per-team keys: zone, query)",
    )


def test_the_markdown_table_shows_type_default_and_scope() -> None:
    rows = GROUP.markdown().splitlines()
    assert rows[0] == "| key | type | default | per team | meaning |"
    assert "| `retries` | whole number, at least 0 | `3` | no |  |" in rows
    assert "| `query` | string | none | only |  |" in rows
    assert "| `url` | URL | required | no |  |" in rows


# -- PluginConfig: the declarations for plugins, and the getters kept for those without -----------


def test_plugin_config_parse_hands_each_team_its_settings() -> None:
    team = PluginConfig("x", "teams[1].sources", {"zone": "Asia/Tokyo", "query": "q"})
    table = PluginConfig(
        "x", "sources", {"plugin": "x", "url": "https://h", "token_env": "PATH"}, teams={"b": team}
    )
    values = table.parse(GROUP)
    assert values["retries"] == 3
    assert table.team_settings("b") == {"zone": "Asia/Tokyo", "query": "q"}
    assert table.team_settings("a") == {"zone": "UTC", "query": None}  # a team without a table


def test_plugin_config_without_declarations_hands_the_table_as_written() -> None:
    team = PluginConfig("x", "teams[0].sources", {"anything": 1})
    table = PluginConfig("x", "sources", {"plugin": "x"}, teams={"a": team})
    assert table.team_settings("a") == {"anything": 1}
    assert table.team_settings("b") == {}


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda c: c.str("missing"), "is required"),
        (lambda c: c.str("empty"), "must be a non-empty string"),
        (lambda c: c.number("low", 1, 1), "must be at least 1, got 0"),
        (lambda c: c.number("huge", 1), "must be a finite number"),
        (lambda c: c.bool("low", False), "must be true or false"),
        (lambda c: c.str_list("empty"), "must be a list of strings"),
        (lambda c: c.secret("missing"), "is required (the name of an environment variable)"),
        (lambda c: c.secret("unset"), "environment variable TP_UNSET_ANYWHERE is not set"),
        (lambda c: c.check_keys(["low"]), "unknown key (known: low)"),
    ],
)
def test_the_old_getters_speak_the_same_vocabulary(call: Any, reason: str) -> None:
    table = PluginConfig(
        "x", "sources", {"plugin": "x", "empty": "", "low": 0, "huge": 10**400, "unset": "TP_UNSET_ANYWHERE"}
    )
    with pytest.raises(ConfigError) as info:
        call(table)
    assert info.value.reason == reason or info.value.reason.startswith(reason), info.value.reason
    assert info.value.key.startswith("sources.x.")


# -- the core's declarations -----------------------------------------------------------------------


def test_the_config_dataclasses_take_their_defaults_from_the_declarations(basic_config: Path) -> None:
    cfg = config.load(basic_config)
    assert cfg.alerts == config.AlertSettings()
    assert {k: getattr(cfg.alerts, k) for k in config.ALERTS.names()} == {
        s.name: s.value for s in config.ALERTS
    }
    assert cfg.pressure.saturation == config.PRESSURE.default("saturation") == 2.0
    assert cfg.pressure.reference == config.PRESSURE.default("reference") == timedelta(days=28)
    assert cfg.pressure.weights == config.PRESSURE_COMPONENTS
    assert cfg.pressure.floors == config.PRESSURE_FLOORS
    for setting in config.SETTINGS:
        if setting.name not in ("state", "dashboards_url"):
            assert getattr(cfg, setting.name) == setting.value, setting.name
    assert cfg.interval == timedelta(minutes=15) and cfg.retention == timedelta(days=400)


def test_every_core_section_is_declared() -> None:
    # Each table the parser reads is a declaration, so nothing it accepts is undocumented.
    assert set(config.SECTIONS) == {"settings", "teams", "sources", "notifiers", "pressure", "alerts"}
    assert config.SETTINGS.names() == [
        "state", "timezone", "working_hours", "min_group_size", "interval", "retention", "survey_window",
        "dashboards_url", "dashboards_overview_uid", "dashboards_team_uid", "dashboards_health_uid",
    ]  # fmt: skip
    assert config.TEAM.names() == [
        "name",
        "manager",
        "members",
        "jql",
        "timezone",
        "working_hours",
        "sources",
    ]
    assert config.ALERTS.names() == ["rise", "high", "grace", "min_actions", "source_down_after"]
    assert config.PRESSURE.names() == ["saturation", "reference", "weights", "limits", "floors"]
