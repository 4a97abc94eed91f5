"""First-party plugins use only the public API of the core, exactly as a third party would."""

from __future__ import annotations

import ast
from pathlib import Path

import teampulse

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(ROOT.glob("plugins/*/teampulse_*"))


def test_there_are_first_party_plugins() -> None:
    assert {p.name for p in PACKAGES} >= {"teampulse_jira", "teampulse_calendar", "teampulse_survey",
                                         "teampulse_notifiers"}  # fmt: skip


def test_plugins_import_only_the_public_api() -> None:
    offences = []
    for path in (f for package in PACKAGES for f in package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.startswith("teampulse.") or (
                    node.module == "teampulse" and any(a.name not in teampulse.__all__ for a in node.names)
                ):
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import ...")
            elif isinstance(node, ast.Import):
                offences += [
                    f"{path.relative_to(ROOT)}:{node.lineno}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("teampulse.")
                ]
    assert offences == []


def test_plugins_register_through_entry_points() -> None:
    for package in PACKAGES:
        pyproject = (package.parent / "pyproject.toml").read_text()
        assert "[project.entry-points.teampulse]" in pyproject, package.name
