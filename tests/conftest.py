"""Shared fixtures: configs on disk, a pseudonym key, work-item builders."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from support import BASIC, KEY, Items


@pytest.fixture(autouse=True)
def pseudonym_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEAMPULSE_PSEUDONYM_KEY", KEY)
    return KEY


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(body: str, name: str = "teampulse.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body))
        return path

    return write


@pytest.fixture
def basic_config(write_config: Callable[..., Path]) -> Path:
    return write_config(BASIC)


@pytest.fixture
def items() -> Items:
    return Items()
