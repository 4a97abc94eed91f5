"""Unit tests: config validation, plugin registration and the retry policy's arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
import teampulse_jira
from teampulse_jira.client import retry_after_seconds
from teampulse_jira.config import parse_settings

from teampulse import ConfigError, PluginConfig, SourceKind


def config(**options):
    return PluginConfig(name="jira", section="sources", options={"plugin": "jira", **options})


@pytest.fixture(autouse=True)
def token(monkeypatch):
    monkeypatch.setenv("JIRA_TEST_TOKEN", "s3cret-token")


def test_minimal_config_applies_the_documented_defaults():
    s = parse_settings(config(url="https://example.atlassian.net/", token_env="JIRA_TEST_TOKEN"))
    assert s.url == "https://example.atlassian.net" and s.email is None and s.token == "s3cret-token"
    assert (s.deployment, s.page_size, s.overlap_seconds, s.history_days) == ("auto", 100, 600, 90)
    assert (s.max_retries, s.max_retry_wait_seconds, s.timeout_seconds, s.reconcile_hours) == (5, 300, 20, 24)
    assert s.cycle_budget_seconds == 60
    assert "s3cret" not in repr(s)


@pytest.mark.parametrize(
    ("options", "key", "reason"),
    [
        ({"token_env": "JIRA_TEST_TOKEN"}, "sources.jira.url", "is required"),
        ({"url": "example.atlassian.net", "token_env": "JIRA_TEST_TOKEN"}, "sources.jira.url", "http(s) URL"),
        ({"url": "https://x"}, "sources.jira.token_env", "is required"),
        ({"url": "https://x", "token_env": "NOT_SET_ANYWHERE"}, "sources.jira.token_env", "is not set"),
        (
            {"url": "https://x", "token_env": "JIRA_TEST_TOKEN", "page_size": 0},
            "sources.jira.page_size",
            "at least",
        ),
        (
            {"url": "https://x", "token_env": "JIRA_TEST_TOKEN", "page_size": 2.5},
            "sources.jira.page_size",
            "whole",
        ),
        (
            {"url": "https://x", "token_env": "JIRA_TEST_TOKEN", "deployment": "server"},
            "sources.jira.deployment",
            "",
        ),
        (
            {"url": "https://x", "token_env": "JIRA_TEST_TOKEN", "max_retries": "3"},
            "sources.jira.max_retries",
            "",
        ),
        (
            {"url": "https://x", "token_env": "JIRA_TEST_TOKEN", "emial": "a@b.c"},
            "sources.jira.emial",
            "unknown",
        ),
        (
            {"url": "https://x", "token_env": "JIRA_TEST_TOKEN", "email": ""},
            "sources.jira.email",
            "non-empty",
        ),
    ],
)
def test_config_errors_name_the_key(options, key, reason):
    with pytest.raises(ConfigError) as err:
        parse_settings(config(**options))
    assert err.value.key == key
    assert reason in str(err.value)
    assert "s3cret" not in str(err.value)


def test_plugin_registers_the_jira_source_kind():
    kinds: list[SourceKind] = []
    teampulse_jira.register_sources(kinds.append)
    assert [k.name for k in kinds] == ["jira"]
    source = kinds[0].create(
        config(url="https://x.example", email="bot@example.com", token_env="JIRA_TEST_TOKEN")
    )
    assert isinstance(source, teampulse_jira.JiraSource)


def test_entry_point_is_installed():
    from importlib.metadata import entry_points

    assert any(ep.name == "jira" and ep.value == "teampulse_jira" for ep in entry_points(group="teampulse"))


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 3, 15, 12, tzinfo=UTC).timestamp()
    assert retry_after_seconds("7", now) == 7
    assert retry_after_seconds(" 0 ", now) == 0
    assert (
        retry_after_seconds(format_datetime(datetime(2026, 3, 15, 12, 1, 30, tzinfo=UTC), usegmt=True), now)
        == 90
    )
    assert retry_after_seconds("Sun, 15 Mar 2026 11:00:00 GMT", now) == 0
    assert retry_after_seconds(None, now) is None and retry_after_seconds("soon", now) is None


def test_server_messages_lose_addresses_keys_and_quoted_values():
    from jira import JIRAError
    from teampulse_jira.client import _server_text

    exc = JIRAError(
        "The value 'bob.smith' does not exist for the field 'assignee'. Issue PAY-12 and mail bob@example.com."
    )
    assert _server_text(exc) == (
        "The value '…' does not exist for the field 'assignee'. Issue <key> and mail <e-mail>."
    )
