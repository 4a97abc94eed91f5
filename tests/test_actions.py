"""Leadership actions can be listed and removed, from the command line and the API."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support import BASIC, KEY, NOW, free_port, start_serve, teampulse_at

TOKEN = "s3cret-token"


def _cli(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY)
    return subprocess.run(
        teampulse_at(NOW, *args, "--config", str(workdir / "teampulse.toml")),
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "teampulse.toml").write_text(BASIC)
    return tmp_path


def _add(workdir: Path, kind: str, at: str, note: str | None = None) -> str:
    extra = ["--note", note] if note else []
    result = _cli(workdir, "action", "add", "--team", "payments", "--kind", kind, "--at", at, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().rsplit("(", 1)[1].rstrip(")")


def test_list_shows_newest_first_and_remove_takes_one_away(workdir: Path) -> None:
    first = _add(workdir, "one_on_one", "2026-03-09T10:00:00Z")
    second = _add(workdir, "recognition", "2026-03-12T15:30:00Z", note="shipped it")
    listed = _cli(workdir, "action", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith(f"{second}  2026-03-12 15:30 UTC  payments  recognition")
    assert lines[0].endswith("shipped it") and lines[1].startswith(first)

    as_json = json.loads(_cli(workdir, "action", "list", "--format", "json", "--since", "2026-03-10").stdout)
    assert [a["id"] for a in as_json] == [second]
    assert as_json[0] | {"at": None} == {
        "id": second, "team": "payments", "kind": "recognition", "at": None,
        "source": "recorded", "note": "shipped it", "removable": True,
    }  # fmt: skip

    removed = _cli(workdir, "action", "remove", second)
    assert removed.returncode == 0 and removed.stdout.strip() == f"removed {second}"
    assert [a["id"] for a in json.loads(_cli(workdir, "action", "list", "--format", "json").stdout)] == [
        first
    ]
    again = _cli(workdir, "action", "remove", second)
    assert again.returncode == 2 and "action list" in again.stderr


def test_a_future_date_is_refused_and_now_is_the_injected_time(workdir: Path) -> None:
    tomorrow = (NOW + timedelta(days=1)).isoformat()
    refused = _cli(workdir, "action", "add", "--team", "payments", "--kind", "one_on_one", "--at", tomorrow)
    assert refused.returncode == 2 and "future" in refused.stderr
    # A few minutes ahead is a drifting clock, not the future.
    _add(workdir, "one_on_one", (NOW + timedelta(minutes=2)).isoformat())
    assert len(json.loads(_cli(workdir, "action", "list", "--format", "json").stdout)) == 1


def _request(url: str, method: str = "GET", data: dict | None = None, token: str | None = TOKEN):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def api(workdir: Path) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY, TEAMPULSE_API_TOKEN=TOKEN)
    proc = start_serve(workdir / "teampulse.toml", port, env, quiet=False, at=NOW)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert f":{port}/" in line, line + (proc.stderr.read() if proc.stderr else "")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_api_lists_and_removes_actions_behind_the_token(api: str) -> None:
    url = api + "/api/v1/actions"
    status, made = _request(
        url, "POST", {"team": "payments", "kind": "recognition", "at": "2026-03-13T09:00:00Z"}
    )
    assert status == 201, made
    status, body = _request(
        url, "POST", {"team": "payments", "kind": "recognition", "at": "2026-03-20T09:00:00Z"}
    )
    assert status == 400 and "future" in body["error"]

    assert _request(url, token=None)[0] == 401  # notes are private
    status, listed = _request(url + "?team=payments")
    assert status == 200 and [a["id"] for a in listed] == [made["id"]]
    assert listed[0]["source"] == "api" and listed[0]["removable"] is True
    assert _request(url + "?team=nobody")[0] == 400

    assert _request(f"{url}/{made['id']}", "DELETE", token="wrong")[0] == 401
    assert _request(f"{url}/{made['id']}", "DELETE") == (200, {"removed": made["id"]})
    assert _request(f"{url}/{made['id']}", "DELETE")[0] == 404
    assert _request(url)[1] == []
