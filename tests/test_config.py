"""Config validation: every error names the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from teampulse import config
from teampulse.errors import ConfigError


def test_basic_config_loads_with_defaults(basic_config: Path) -> None:
    cfg = config.load(basic_config)
    assert cfg.state == basic_config.parent / "state.db"
    assert [t.name for t in cfg.teams] == ["payments"]
    assert cfg.teams[0].members[0] == "bob@example.com"
    assert cfg.min_group_size == 5
    assert cfg.alerts.grace.days == 2
    assert cfg.pressure.weights["wip_per_person"] == pytest.approx(0.3)


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
            "[[teams]]\nname = 'x'\nmanager = 'a@b.co'\n[sources.j]\nurl = 'x'\n",
            "sources.j.plugin",
            "required",
        ),
        ("[[teams]]\nname = 'x'\nmanager = 'a@b.co'\n[alerts]\nrise = 3\n", "alerts.rise", "between"),
        ("[[teams]]\nname = 'x'\nmanager = 'a@b.co'\n[alerts]\ngrace = 'soon'\n", "alerts.grace", "duration"),
        (
            "[[teams]]\nname = 'x'\nmanager = 'a@b.co'\n[pressure.weights]\nvibes = 1\n",
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
