"""Both notifier kinds pass the config contract (teampulse.testing): wrong values are refused naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from teampulse.testing import ConfigContract


class TestAlertmanagerConfigContract(ConfigContract):
    kind = "alertmanager"
    section = "notifiers"
    bad_values = (
        ("url", "alertmanager:9093"),
        ("resend_seconds", -1),
        ("max_retries", 11),
        ("max_retries", 1.5),
        ("bearer_token_env", "NO_SUCH_VARIABLE_SET"),
    )

    @pytest.fixture
    def options(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        monkeypatch.setenv("AM_CONTRACT_TOKEN", "tok-contract")
        return {
            "url": "http://127.0.0.1:9093",
            "labels": {"env": "test"},
            "resend_seconds": 60,
            "max_retries": 2,
            "bearer_token_env": "AM_CONTRACT_TOKEN",
        }


class TestWebhookNotifierConfigContract(ConfigContract):
    kind = "webhook"
    section = "notifiers"
    bad_values = (
        ("url", "ftp://hooks.example.com/teampulse"),
        ("repeat_seconds", 0.5),
        ("timeout_seconds", 0),
    )

    @pytest.fixture
    def options(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        monkeypatch.setenv("HOOK_CONTRACT_SECRET", "whsec-contract")
        return {
            "url": "https://hooks.example.com/teampulse?token=abc",
            "secret_env": "HOOK_CONTRACT_SECRET",
            "repeat_seconds": 3600,
        }
