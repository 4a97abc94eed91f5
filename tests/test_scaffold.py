"""`teampulse plugins new`: its names and files, and docs/writing-a-plugin.md run on a fresh virtualenv.

The guide's marked commands run as one shell script in a new virtualenv that sees the installed
teampulse (a .pth file pointing at this interpreter's site-packages) but none of the generated
plugins until the script installs them. The one change made to them: `pip install` runs
offline, without dependencies or build isolation, since the test must not reach a package index.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

import teampulse
from teampulse.cli import main
from teampulse.scaffold import KINDS, ScaffoldError, names, plan, write_plugin

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "writing-a-plugin.md"
RUN = "<!-- run by tests/test_scaffold.py -->"
OUTPUT = "<!-- output checked by tests/test_scaffold.py -->"
BIN = Path(sys.executable).parent
# What the guide's steps must go on doing, whatever their wording: each kind generated,
# installed, listed with its version, and tested.
PLUGINS = {"leave": "source", "chat": "notifier", "backlog": "signal"}
HOOKS = {"source": "register_sources", "notifier": "register_notifiers", "signal": "register_signals"}


def marked(text: str, mark: str) -> list[str]:
    """Return the fenced blocks that follow `mark`, in order."""
    return re.findall(re.escape(mark) + r"\n```\w*\n(.*?)```", text, re.S)


def offline(line: str) -> str:
    """Return a guide's command as the test runs it: pip installs from the folder alone."""
    return re.sub(r"^pip install ", "python -m pip install --no-deps --no-build-isolation ", line)


def fresh_venv(folder: Path) -> Path:
    """Make a virtualenv that sees the installed teampulse, pytest and pip; return its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # addsitedir, not a bare path: the editable installs there are .pth files themselves.
    core = sysconfig.get_path("purelib")
    (Path(purelib) / "teampulse-core.pth").write_text(f"import site; site.addsitedir({core!r})\n")
    # The command pip writes for teampulse's console script, for this interpreter.
    launcher = folder / "bin" / "teampulse"
    launcher.write_text(f"#!{python}\nimport sys\nfrom teampulse.cli import main\nsys.exit(main())\n")
    launcher.chmod(0o755)
    return folder / "bin"


def clean_env(bin_dir: Path) -> dict[str, str]:
    """Return the environment of a shell in the fresh virtualenv, offline, with no setting of ours leaking in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEAMPULSE_", "PYTEST_", "PIP_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(bin_dir.parent),
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONWARNINGS="ignore:Editable installation",
    )
    return env


@pytest.mark.slow
def test_the_guide_runs_on_a_fresh_virtualenv_and_prints_what_it_shows(tmp_path: Path) -> None:
    guide = GUIDE.read_text()
    steps = marked(guide, RUN)
    script = "\n".join(offline(line) for step in steps for line in step.splitlines())
    for name, kind in PLUGINS.items():
        assert f"teampulse plugins new {name} --kind {kind}" in script
        assert f"python -m pip install --no-deps --no-build-isolation -e ./teampulse-{name}" in script
    assert "teampulse collect --config sample/teampulse.toml" in script

    bin_dir = fresh_venv(tmp_path / "venv")
    work = tmp_path / "work"
    work.mkdir()
    ran = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=work, env=clean_env(bin_dir), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = ran.stdout
    assert ran.returncode == 0, f"the guide's steps failed:\n{out[-6000:]}\n{ran.stderr[-4000:]}"

    for block in marked(guide, OUTPUT):
        assert block in out, f"the guide shows output its commands did not print:\n{block}"
    for name, kind in PLUGINS.items():
        assert f"{name} 0.1.0 (teampulse-{name})\n  hooks: {HOOKS[kind]}\n" in out
    # Each generated plugin's own tests ran, and passed (a failure would have stopped the script).
    assert len(re.findall(r"^=+ \d+ passed in ", out, re.M)) == len(PLUGINS)
    assert 'teampulse_members_on_leave{team="payments"} 1.0' in out
    # The venv saw the core without the plugins: they came from the guide's installs, into it.
    installed = {p.name for p in (tmp_path / "venv").rglob("__editable__*.pth")}
    assert {f"__editable__.teampulse_{name}-0.1.0.pth" for name in PLUGINS} <= installed


@pytest.mark.parametrize("kind", KINDS)
def test_generated_code_uses_only_the_public_api_and_passes_lint(tmp_path: Path, kind: str) -> None:
    folder, written = write_plugin("on-call", kind, tmp_path)
    assert folder == tmp_path / "teampulse-on-call"
    assert sorted(p.relative_to(folder).as_posix() for p in written) == sorted(plan(names("on-call", kind)))
    offences = []
    for path in written:
        where = path.relative_to(folder)
        text = path.read_text()
        if re.search(r"\{\{\w+\}\}", text):
            offences.append(f"{where}: a template token is left")
        if path.suffix != ".py":
            continue
        in_tests = where.parts[0] == "tests"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                module = node.module
                if module == "teampulse":
                    fine = {a.name for a in node.names} <= set(teampulse.__all__)
                else:
                    fine = not module.startswith("teampulse.") or (in_tests and module == "teampulse.testing")
                if not fine:
                    offences.append(f"{where}:{node.lineno}: from {module} import ...")
            elif isinstance(node, ast.Import):
                offences += [
                    f"{where}:{node.lineno}: import {a.name}" for a in node.names if "teampulse" in a.name
                ]
    assert offences == []
    # The plugin's own ruff settings (in its pyproject.toml), as its author would run them.
    for args in (["check", "--no-cache", "."], ["format", "--no-cache", "--check", "."]):
        linted = subprocess.run([BIN / "ruff", *args], cwd=folder, capture_output=True, text=True)
        assert linted.returncode == 0, linted.stdout + linted.stderr


def test_generated_code_type_checks(tmp_path: Path) -> None:
    targets = []
    for kind in KINDS:
        folder, _ = write_plugin(f"typed-{kind}", kind, tmp_path)
        targets += [folder / f"teampulse_typed_{kind}", folder / "tests" / f"test_typed_{kind}.py"]
    # With the generated [tool.mypy]; MYPYPATH: an editable teampulse is invisible to mypy.
    checked = subprocess.run(
        [BIN / "mypy", "--config-file", folder / "pyproject.toml", "--cache-dir", tmp_path / "cache", *targets],
        cwd=tmp_path, env=dict(os.environ, MYPYPATH=str(ROOT)), capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_names_become_the_distribution_the_package_and_the_signal() -> None:
    n = names("on-call2", "signal")
    assert (n.name, n.dist, n.module, n.snake, n.Class) == (
        "on-call2",
        "teampulse-on-call2",
        "teampulse_on_call2",
        "on_call2",
        "OnCall2",
    )


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("OnCall", "use lowercase letters, digits and single hyphens, beginning with a letter"),
        ("on_call", "use lowercase letters, digits and single hyphens"),
        ("2fa", "beginning with a letter"),
        ("on--call", "single hyphens"),
        ("on-call-", "single hyphens"),
        ("", "use lowercase letters"),
        ("teampulse-oncall", "leave out the teampulse prefix (`teampulse plugins new oncall`"),
        ("jira", "an installed plugin is already called jira"),
    ],
)
def test_a_name_that_cannot_be_a_plugins_is_one_line_and_writes_nothing(
    tmp_path: Path, name: str, why: str
) -> None:
    result = CliRunner().invoke(main, ["plugins", "new", name, "--kind", "source", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"teampulse: error: plugin name {name!r}: ")
    assert why in result.output and result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "teampulse-shifts"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = CliRunner().invoke(
        main, ["plugins", "new", "shifts", "--kind", "notifier", "--dir", str(tmp_path)]
    )
    assert (result.exit_code, result.output) == (
        2,
        f"teampulse: error: {target} already exists: nothing was written (choose another --dir or name)\n",
    )
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    with pytest.raises(ScaffoldError, match="kind 'webhook': use one of source, notifier, signal"):
        write_plugin("shifts", "webhook", tmp_path / "elsewhere")


def test_new_writes_the_plugin_and_says_what_to_do_next(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["plugins", "new", "shifts", "--kind", "signal", "--dir", str(tmp_path / "new")]
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / "new" / "teampulse-shifts"
    assert (folder / "teampulse_shifts" / "signal.py").is_file()
    assert f"pip install -e {folder}" in result.output and "python -m pytest" in result.output


def test_plugins_alone_still_lists_the_plugins() -> None:
    listed = CliRunner().invoke(main, ["plugins"])
    assert listed.exit_code == 0
    assert "jira " in listed.output and "  hooks: register_sources\n" in listed.output
    assert CliRunner().invoke(main, ["plugins", "--format", "json"]).output.lstrip().startswith("[")


def test_the_example_was_built_from_the_scaffold() -> None:
    # examples/teampulse-oncall-rota keeps the generated layout and packaging.
    example = ROOT / "examples" / "teampulse-oncall-rota"
    generated = plan(names("oncall-rota", "source"))
    kept = {
        "pyproject.toml",
        ".gitignore",
        "teampulse_oncall_rota/py.typed",
        "teampulse_oncall_rota/source.py",
    }
    assert kept <= set(generated)
    for path in kept:
        assert (example / path).is_file(), path
    pyproject = (example / "pyproject.toml").read_text()
    assert '[project.entry-points.teampulse]\noncall-rota = "teampulse_oncall_rota"' in pyproject
