"""docs/testing.md: its example plugin passes the contract suite, and its test output is what pytest prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
FILE = re.compile(r"<!-- file: (\S+) -->\n```python\n(.*?)```", re.DOTALL)


def test_the_example_plugin_passes_the_contract(tmp_path: Path) -> None:
    text = DOC.read_text()
    files = dict(FILE.findall(text))
    assert set(files) == {"teampulse_actions.py", "test_actions_contract.py"}
    for name, code in files.items():
        (tmp_path / name).write_text(code)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "test_actions_contract.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.findall(r"^(test_actions_contract\.py::\S+) PASSED", done.stdout, re.MULTILINE)
    shown = re.findall(r"^(test_actions_contract\.py::\S+) PASSED$", text, re.MULTILINE)
    assert passed == shown and len(shown) == 11


def test_the_example_fails_the_contract_when_its_cursor_runs_ahead(tmp_path: Path) -> None:
    files = dict(FILE.findall(DOC.read_text()))
    plugin = files["teampulse_actions.py"]
    faulty = plugin.replace(
        '            yield Batch(events, {"lines": dict(read)})',
        '            yield Batch([], {"lines": dict(read)})\n            yield Batch(events)',
    )
    assert faulty != plugin
    (tmp_path / "teampulse_actions.py").write_text(faulty)
    (tmp_path / "test_actions_contract.py").write_text(files["test_actions_contract.py"])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_actions_contract.py",
         "-k", "restart"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-4000:]
    assert "left another store than one whole collection" in done.stdout
