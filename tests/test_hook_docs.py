"""Every hook is documented in docs/plugins.md and exercised by a test."""

from __future__ import annotations

import inspect
from pathlib import Path

from teampulse import hookspecs

ROOT = Path(__file__).resolve().parent.parent


def _hooks() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "teampulse_spec")
    ]


def test_there_are_hooks() -> None:
    assert set(_hooks()) >= {"register_sources", "register_notifiers", "register_signals"}


def test_every_hook_has_a_docs_section() -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for hook in _hooks():
        assert f"\n## {hook}\n" in docs, f"{hook} is not documented in docs/plugins.md"


def test_every_hook_is_tested() -> None:
    tests = "".join(
        p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != Path(__file__).name
    )
    for hook in _hooks():
        assert f"def {hook}(" in tests, f"no test implements {hook}"
