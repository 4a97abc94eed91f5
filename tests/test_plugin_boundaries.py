"""First-party plugins use only the public API of the core, exactly as a third party would."""

from __future__ import annotations

import ast
from pathlib import Path

import teampulse

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(ROOT.glob("plugins/*/teampulse_*"))


def test_there_are_first_party_plugins() -> None:
    assert {p.name for p in PACKAGES} >= {"teampulse_jira", "teampulse_calendar", "teampulse_survey",
                                         "teampulse_notifiers", "teampulse_demo"}  # fmt: skip


# The demo runs the application itself, as the command line does (a store, the server, the
# plugins); the source, notifier and signal plugins use the public API only.
APPLICATION = {"teampulse.app", "teampulse.server", "teampulse.plugins", "teampulse.pseudonym"}


def test_plugins_import_only_the_public_api() -> None:
    offences = []
    for package, path in ((p, f) for p in PACKAGES for f in p.rglob("*.py")):
        if package.name == "teampulse_demo":
            offences += [
                f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import ..."
                for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.ImportFrom)
                and node.level == 0
                and (node.module or "").startswith("teampulse.")
                and node.module not in APPLICATION
            ]
            continue
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


def test_the_core_holds_neither_the_emulator_nor_the_demo() -> None:
    # `pip install teampulse` gets what packages.find includes under teampulse/.
    core = {p.relative_to(ROOT / "teampulse").as_posix() for p in (ROOT / "teampulse").rglob("*.py")}
    assert not [name for name in core if "emulator" in name or "demo" in name]
    for path in (ROOT / "teampulse").rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {
            n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0
        } | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in imported if m.startswith(("teampulse_demo", "teampulse_jira_emulator"))}, path
