"""Config validation: every error names the file, the key and the reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import BASIC, KEY

from teampulse import config
from teampulse.errors import ConfigError

# A team with everything required, for cases whose error lies elsewhere.
TEAM = "[[teams]]\nname = 'x'\nmanager = 'a@b.co'\nmembers = ['b@b.co']\n"


def test_basic_config_loads_with_defaults(basic_config: Path) -> None:
    cfg = config.load(basic_config)
    assert cfg.state == basic_config.parent / "state.db"
    assert [t.name for t in cfg.teams] == ["payments"]
    assert cfg.teams[0].members[0] == "bob@example.com"
    assert cfg.min_group_size == 5
    assert cfg.alerts.grace.days == 2
    assert cfg.pressure.weights["wip_per_person"] == pytest.approx(0.3)
    assert list(cfg.sources) == ["calendars"]


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        ('[settings]\ntimezone = "Mars/Olympus"\n', "settings.timezone", "unknown time zone"),
        ("[settings]\nmin_group_size = 0\n", "settings.min_group_size", "at least 1"),
        ('[settings]\nworking_hours = "17:00-09:00"\n', "settings.working_hours", "end after"),
        ("[settings]\nstaet = 1\n", "settings.staet", "unknown key"),
        ("[[teams]]\nname = 'x'\nmanager = 'not-an-email'\n", "teams[0].manager", "e-mail"),
        (
            "[[teams]]\nname = 'x'\nmanager = 'a@b.co'\nmembers = ['a@b.co', 'a@b.co']\n",
            "teams[0].members",
            "twice",
        ),
        (
            TEAM + "[sources.j]\nurl = 'x'\n",
            "sources.j.plugin",
            "required",
        ),
        (TEAM + "[alerts]\nrise = 3\n", "alerts.rise", "between"),
        (TEAM + "[alerts]\ngrace = 'soon'\n", "alerts.grace", "duration"),
        (
            TEAM + "[pressure.weights]\nvibes = 1\n",
            "pressure.weights.vibes",
            "unknown",
        ),
        ("", "teams", "at least one"),
    ],
)
def test_bad_values_name_file_key_and_reason(write_config, body: str, key: str, reason: str) -> None:
    path = write_config(body)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert reason in message


def test_broken_toml_names_the_line(write_config) -> None:
    path = write_config("[settings\nstate = 1\n")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(path) in str(info.value)
    assert "line 1" in str(info.value)


def test_missing_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.toml")
    monkeypatch.delenv("TEAMPULSE_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TEAMPULSE_CONFIG"):
        config.load(None)


def test_config_from_environment(basic_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMPULSE_CONFIG", str(basic_config))
    assert config.load(None).teams[0].name == "payments"


def _collect(config_path: Path) -> subprocess.CompletedProcess[str]:
    """Run `teampulse collect` as a user does."""
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "collect", "--config", str(config_path), "--quiet"],
        capture_output=True,
        text=True,
        env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY),
        timeout=60,
    )


SECOND_TEAM = """
[[teams]]
name = "search"
manager = "sam@example.com"
members = ["tom@example.com", "uma@example.com"]
"""
NO_SOURCES = BASIC[: BASIC.index("[sources.calendars]")]


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        pytest.param(
            BASIC.replace(
                'members = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"]\n',
                "",
            ),
            "teams[0].members",
            "is required",
            id="no-members-key",
        ),
        pytest.param(
            BASIC.replace(
                '["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"]', "[]"
            ),
            "teams[0].members",
            "is empty",
            id="members-empty",
        ),
        pytest.param(
            BASIC + SECOND_TEAM.replace('"uma@example.com"', '"uma@example.com", "Chen@Example.COM"'),
            "teams[1].members[2]",
            "is also a member of team 'payments'",
            id="member-in-two-teams",
        ),
        pytest.param(
            BASIC.replace('["bob@example.com"', '["MARIA@example.com", "bob@example.com"'),
            "teams[0].members[0]",
            "is the team's manager",
            id="manager-among-members",
        ),
        pytest.param(NO_SOURCES, "sources", "none configured", id="no-sources"),
        pytest.param(
            BASIC.replace('state = "state.db"', 'state = "missing/state.db"'),
            "settings.state",
            "does not exist",
            id="state-folder-missing",
        ),
    ],
)
def test_silently_accepted_configs_are_one_line_and_exit_2(
    write_config, body: str, key: str, reason: str
) -> None:
    path = write_config(body)
    result = _collect(path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"teampulse: error: {path}: {key}: "), result.stderr
    assert reason in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "@" not in result.stderr  # people are named by position, never by address
    assert not (path.parent / "missing").exists()  # the store's folder is not created


def test_a_manager_may_lead_two_teams_or_belong_to_another(write_config) -> None:
    # A manager counts in no team's figures, so leading two teams, or leading one and being a
    # member of another (a lead in their director's team), counts nobody twice.
    two = SECOND_TEAM.replace('"sam@example.com"', '"Maria@example.com"')
    assert [t.manager for t in config.load(write_config(BASIC + two)).teams] == ["maria@example.com"] * 2
    lead = SECOND_TEAM.replace('"uma@example.com"', '"uma@example.com", "maria@example.com"')
    assert config.load(write_config(BASIC + lead)).teams[1].members[-1] == "maria@example.com"
