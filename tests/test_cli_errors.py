"""Every command, given bad input, answers in one line and exits 2: never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import KEY, calendar_workdir


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return calendar_workdir(tmp_path)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield int(s.getsockname()[1])


def _run(
    args: list[str], cwd: Path, key: str | None = KEY, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMPULSE_")}
    if key is not None:
        env["TEAMPULSE_PSEUDONYM_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, input=stdin,
    )  # fmt: skip


def _one_line_exit_2(result: subprocess.CompletedProcess[str], *words: str, progress: bool = False) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    if progress:  # progress lines, then the error
        lines = [line for line in lines if "error" in line]
    assert len(lines) == 1 and lines[0].startswith("teampulse: error: "), result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


CFG = ["--config", "teampulse.toml"]
FUTURE = "2999-01-01"

# (command line, words the message must carry)
CASES: list[tuple[list[str], tuple[str, ...]]] = [
    (["collect", "--config", "missing.toml"], ("missing.toml",)),
    (["collect", *CFG, "--as-of", "yesterday"], ("--as-of",)),
    (["collect", *CFG, "--as-of", FUTURE], ("--as-of", "future")),
    (["collect", *CFG, "--format", "yaml"], ("--format",)),
    (["check", *CFG, "--as-of", "2026-13-45"], ("--as-of",)),
    (["serve", *CFG, "--listen", "127.0.0.1:99999"], ("--listen", "65535")),
    (["serve", *CFG, "--listen", "no-port"], ("--listen",)),
    (["serve", *CFG, "--listen", "192.0.2.1:9469"], ("cannot listen on 192.0.2.1:9469",)),
    (["serve", *CFG, "--web-config", "missing.yml"], ("missing.yml",)),
    (["serve", *CFG, "--max-connections", "0"], ("--max-connections", "1<=x<=10000")),
    (["serve", *CFG, "--max-connections-per-client", "-1"], ("--max-connections-per-client",)),
    (["action", "add", *CFG, "--team", "payments", "--kind", "hug"], ("--kind",)),
    (["action", "add", *CFG, "--team", "nobody", "--kind", "one_on_one"], ("--team", "nobody")),
    (["action", "add", *CFG, "--team", "payments", "--kind", "one_on_one", "--at", FUTURE], ("--at", "future")),
    (["action", "add", *CFG, "--team", "payments", "--kind", "one_on_one", "--at", "soon"], ("--at",)),
    (["action", "list", *CFG, "--team", "nobody"], ("--team", "nobody")),
    (["action", "list", *CFG, "--since", "last week"], ("--since",)),
    (["action", "remove", *CFG, "0123456789abcdef"], ("ID", "action list")),
    (["action", "remove", *CFG], ("ID",)),
    (["backfill", *CFG, "--from", "2026-03-01", "--to", "2026-03-02", "--output", "no/such/dir/out.om"],
     ("--output", "does not exist")),
    (["backfill", *CFG, "--from", "2026-03-01", "--to", "2026-03-02", "--step", "fortnight", "--output", "o.om"],
     ("--step",)),
    (["backfill", *CFG, "--from", "2026-03-05", "--to", "2026-03-01", "--output", "o.om"], ("before",)),
    (["demo", "--port", "99999"], ("--port",)),
    (["plugins", "--format", "yaml"], ("--format",)),
    (["rekey", "--config", "missing.toml"], ("missing.toml",)),
    (["no-such-command"], ("no-such-command",)),
]  # fmt: skip


@pytest.mark.parametrize(("args", "words"), CASES, ids=[" ".join(a[:3]) for a, _ in CASES])
def test_bad_input_gives_one_line_and_exit_2(workdir: Path, args: list[str], words: tuple[str, ...]) -> None:
    _one_line_exit_2(_run(args, workdir), *words)


@pytest.mark.parametrize("command", [["collect"], ["check", "--offline"], ["action", "list"], ["rekey"]])
def test_a_missing_key_is_one_line(workdir: Path, command: list[str]) -> None:
    _one_line_exit_2(_run([*command, *CFG], workdir, key=None), "TEAMPULSE_PSEUDONYM_KEY")


def test_serve_on_a_port_in_use(workdir: Path, busy_port: int) -> None:
    result = _run(["serve", *CFG, "--listen", f"127.0.0.1:{busy_port}"], workdir)
    _one_line_exit_2(result, f"cannot listen on 127.0.0.1:{busy_port}", "in use")


def test_demo_on_a_port_in_use_leaves_no_folder_behind(tmp_path: Path, busy_port: int) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMPULSE_")} | {"TMPDIR": str(tmp)}
    result = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "demo", "--port", str(busy_port)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    _one_line_exit_2(result, "in use", progress=True)
    assert list(tmp.iterdir()) == []


def test_backfill_fails_before_computing_when_the_folder_is_missing(workdir: Path) -> None:
    result = _run(
        ["backfill", *CFG, "--from", "2026-01-01", "--to", "2026-03-01", "--output", "gone/out.om"], workdir
    )
    _one_line_exit_2(result, "gone")
    assert "wrote" not in result.stderr
    assert not (workdir / "gone").exists()


def test_a_future_action_is_not_stored(workdir: Path) -> None:
    _run(["action", "add", *CFG, "--team", "payments", "--kind", "one_on_one", "--at", FUTURE], workdir)
    listed = _run(["action", "list", *CFG], workdir)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "No actions recorded."
