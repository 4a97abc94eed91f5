"""The key tables of docs/configuration.md and of the plugins' READMEs are the declarations'."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from teampulse import config, doctables
from teampulse.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "configuration.md"
PLUGINS = sorted(
    p.parent for p in ROOT.glob("plugins/*/teampulse_*/__init__.py") if p.parent.name != "teampulse_demo"
)
FIX = "python -m teampulse.doctables --write"


def _blocks(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in doctables._BLOCK.finditer(text)]


def _stray_key_tables(text: str) -> list[str]:
    """Return the header of every key table outside a rendered block: a key documented by hand."""
    blocks = _blocks(text)
    return [
        m.group(0)
        for m in re.finditer(r"^\| (key|component) \|.*$", text, re.M)
        if not any(a <= m.start() < b for a, b in blocks)
    ]


def _declared(package: str) -> dict[str, Settings]:
    """Return the Settings each module of a plugin package declares, by `module:NAME`."""
    found: dict[str, Settings] = {}
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, Settings):
                found[f"{info.name}:{name}"] = value
    return found


def test_configuration_md_tables_are_the_declarations() -> None:
    assert doctables.stale(DOC) == [], f"renew them: {FIX} docs/configuration.md"


def test_every_core_declaration_is_in_configuration_md() -> None:
    documented = set(doctables.references(DOC.read_text()))
    declared = {f"teampulse.config:{n}" for n, v in vars(config).items() if isinstance(v, Settings)}
    assert declared == {
        "teampulse.config:SETTINGS",
        "teampulse.config:TEAM",
        "teampulse.config:PRESSURE",
        "teampulse.config:ALERTS",
    }
    assert declared | {"teampulse.config:COMPONENTS"} == documented


def test_configuration_md_documents_no_key_by_hand() -> None:
    assert _stray_key_tables(DOC.read_text()) == []


@pytest.mark.parametrize("package", PLUGINS, ids=lambda p: p.name)
def test_plugin_readme_tables_are_the_declarations(package: Path) -> None:
    readme = package.parent / "README.md"
    text = readme.read_text()
    assert doctables.stale(readme) == [], f"renew them: {FIX} {readme.relative_to(ROOT)}"
    assert _stray_key_tables(text) == []
    shown = {s.name for ref in doctables.references(text) for s in doctables._lookup(ref)}
    declared = {s.name for group in _declared(package.name).values() for s in group}
    assert declared, f"{package.name} declares no keys"
    assert declared - shown == set(), f"keys of {package.name} missing from its README"


def test_the_check_fails_when_a_doc_and_the_code_disagree(tmp_path: Path) -> None:
    doc = tmp_path / "configuration.md"
    text = DOC.read_text()
    doc.write_text(text.replace('| `interval` | duration | `"15m"` |', '| `interval` | duration | `"10m"` |'))
    assert doctables.stale(doc) == ["teampulse.config:SETTINGS"]
    assert doctables.main([str(doc)]) == 1
    assert doctables.main(["--write", str(doc)]) == 0
    assert doc.read_text() == text
    assert doctables.main([str(doc)]) == 0
