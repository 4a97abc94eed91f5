"""A store keeps its pseudonym key: another key is refused, and `rekey` changes it safely."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support import KEY, NOW, calendar_workdir, teampulse_at

from teampulse.pseudonym import Pseudonymiser
from teampulse.store import KEY_FINGERPRINT, KeyMismatch, Store

OTHER = "another-key-fedcba9876543210"


def _run(args: list[str], cwd: Path, key: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMPULSE_")}
    env["TEAMPULSE_PSEUDONYM_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", *args, "--config", "teampulse.toml"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        return {t: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("signals", "actions")}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return calendar_workdir(tmp_path)


def test_the_fingerprint_tells_keys_apart_and_hides_them() -> None:
    a, b = Pseudonymiser(KEY.encode()).fingerprint, Pseudonymiser(OTHER.encode()).fingerprint
    assert a != b and a == Pseudonymiser(KEY.encode()).fingerprint
    assert KEY not in a and len(a) == 16


def test_a_store_refuses_a_second_key_after_reopening(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.bind_key("aaaa")
        store.bind_key("aaaa")
    with Store(tmp_path / "s.db") as store:
        assert store.meta(KEY_FINGERPRINT) == "aaaa"
        with pytest.raises(KeyMismatch, match="rekey"):
            store.bind_key("bbbb")


def test_another_key_is_refused_and_rekey_starts_over_without_double_counting(workdir: Path) -> None:
    first = _run(["collect", "--as-of", NOW.isoformat()], workdir, KEY)
    assert first.returncode == 0, first.stderr
    added = _run(
        ["action", "add", "--team", "payments", "--kind", "recognition", "--at", "2026-03-10"], workdir, KEY
    )
    assert added.returncode == 0, added.stderr
    db = workdir / "state.db"
    before = _counts(db)
    assert before["signals"] > 0 and before["actions"] == 1

    refused = _run(["collect", "--as-of", NOW.isoformat()], workdir, OTHER)
    assert refused.returncode == 2 and "rekey" in refused.stderr and "Traceback" not in refused.stderr
    assert OTHER not in refused.stderr and KEY not in refused.stderr
    assert _counts(db) == before  # nothing written under the wrong key

    rekeyed = _run(["rekey", "--yes"], workdir, OTHER)
    assert rekeyed.returncode == 0, rekeyed.stderr
    assert (workdir / "state.db.before-rekey").exists()
    assert _counts(db) == {"signals": 0, "actions": 1}  # the hand-recorded action stays

    again = _run(["collect", "--as-of", NOW.isoformat()], workdir, OTHER)
    assert again.returncode == 0, again.stderr
    assert _counts(db) == before  # read again once, not counted twice
    assert _run(["check", "--offline"], workdir, KEY).returncode == 2  # the old key is now the wrong one
    # The backup still opens with the old key.
    with Store(workdir / "state.db.before-rekey") as old:
        old.bind_key(Pseudonymiser(KEY.encode()).fingerprint)


def test_rekey_asks_first_and_a_no_changes_nothing(workdir: Path) -> None:
    assert _run(["collect", "--as-of", NOW.isoformat()], workdir, KEY).returncode == 0
    before = _counts(workdir / "state.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMPULSE_")} | {
        "TEAMPULSE_PSEUDONYM_KEY": OTHER
    }
    answer = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "rekey", "--config", "teampulse.toml"],
        cwd=workdir, env=env, input="n\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert answer.returncode == 1 and "aborted" in answer.stderr
    assert _counts(workdir / "state.db") == before
    same = _run(["rekey", "--yes"], workdir, KEY)
    assert same.returncode == 0 and "nothing to do" in same.stdout


def _demo_once(folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMPULSE_")}
    proc = subprocess.Popen(
        teampulse_at(NOW, "demo", "--port", "0", "--dir", str(folder)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    assert re.search(r"http://127\.0\.0\.1:\d+/", line), err


def test_a_kept_demo_folder_keeps_its_key_and_works_with_its_environment(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    _demo_once(folder)
    env_file = folder / "demo.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    counts = _counts(folder / "demo.db")
    _demo_once(folder)
    assert _counts(folder / "demo.db") == counts  # the same key: nothing stored twice

    # The documented way to use the folder: its environment, and nothing else.
    shell = f"set -a; . {env_file}; set +a; exec {sys.executable} -m teampulse.cli check --offline --as-of {NOW.isoformat()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMPULSE_")}
    result = subprocess.run(["sh", "-c", shell], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr  # 1: an alert fires (the demo's crunch)
    assert "team payments" in result.stdout
