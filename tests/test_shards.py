"""Sharding: `--shard I/N` and `--teams` split the configured teams between instances.

The assignment is checked on its own (pinned, stable, balanced); then each shard's store,
sources, webhooks and actions; and last, two shards of the demo organisation under a real
Prometheus against one instance of it under another: the union of the shards' series, the
recorded rules and the alerts are those of the one instance.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import types
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import click
import pytest
from support import BASIC, CALENDAR, KEY, NOW, free_port, http_get, start_prometheus, start_serve, wait_until
from teampulse_demo.demo import TOKEN_ENV, write_demo_config
from teampulse_jira_emulator import EmulatorServer, generate_organisation

from teampulse import Batch, CollectContext, PersonSignal, PluginConfig, SourceKind, hookimpl
from teampulse.app import Runtime
from teampulse.errors import TeampulseError
from teampulse.pseudonym import Pseudonymiser
from teampulse.server import listen, run
from teampulse.sharding import Selection, Shard, shard_of
from teampulse.store import Store
from teampulse.testing import registered

# BASIC's team (payments) and two more; shard_of puts payments and platform on 2 of 2, data on 1.
MORE_TEAMS = """
[[teams]]
name = "platform"
manager = "pat@example.com"
members = ["quinn@example.com", "ravi@example.com"]

[[teams]]
name = "data"
manager = "dora@example.com"
members = ["sam@example.com", "tess@example.com"]
"""
ONE_OF_TWO, TWO_OF_TWO = {"data"}, {"payments", "platform"}
NAMES = [f"team-{n:04d}" for n in range(1000)]
WEBHOOK_SECRET = "shard-webhook-secret"


def _cli(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "TEAMPULSE_SHARD"}
    environment.update(TEAMPULSE_PSEUDONYM_KEY=KEY, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", *args], cwd=cwd, env=environment,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def sharded(tmp_path: Path) -> Path:
    """Three teams, BASIC's calendar source, a calendar for the managers of payments and data."""
    (tmp_path / "calendars").mkdir()
    (tmp_path / "calendars" / "maria@example.com.ics").write_text(CALENDAR)
    dora = CALENDAR.replace("maria@", "dora@").replace("bob@", "sam@").replace("standup-1@", "standup-2@")
    (tmp_path / "calendars" / "dora@example.com.ics").write_text(dora)
    config = tmp_path / "teampulse.toml"
    config.write_text(BASIC + MORE_TEAMS)
    return config


# -- the assignment -------------------------------------------------------------------------


def test_a_team_goes_to_the_shard_with_the_highest_sha256_of_i_slash_name() -> None:
    def documented(name: str, shards: int) -> int:
        return max(range(1, shards + 1), key=lambda i: hashlib.sha256(f"{i}/{name}".encode()).digest())

    for name in ("payments", "platform", "mobile", "data", *NAMES[:50]):
        for shards in range(1, 9):
            assert shard_of(name, shards) == documented(name, shards)
    # pinned: a release that moved teams would move every deployment's stores' contents
    assert [shard_of(n, 2) for n in ("payments", "platform", "mobile", "data")] == [2, 2, 2, 1]
    assert [shard_of(n, 3) for n in ("payments", "platform", "mobile", "data")] == [2, 3, 2, 1]


def test_adding_a_team_moves_no_other_team(sharded: Path) -> None:
    def split() -> dict[str, str]:
        result = _cli("shards", "--config", str(sharded), "3", "--format", "json", cwd=sharded.parent)
        assert result.returncode == 0, result.stderr
        return {team: s["shard"] for s in json.loads(result.stdout) for team in s["teams"]}

    before = split()
    assert set(before) == {"payments", "platform", "data"}
    sharded.write_text(
        sharded.read_text()
        + '\n[[teams]]\nname = "mobile"\nmanager = "mo@example.com"\nmembers = ["uma@example.com"]\n'
    )
    after = split()
    assert {team: after[team] for team in before} == before
    assert after["mobile"] == f"{shard_of('mobile', 3)}/3"


def test_more_shards_move_teams_only_to_the_new_one() -> None:
    for shards in range(1, 8):
        moved = 0
        for name in NAMES:
            old, new = shard_of(name, shards), shard_of(name, shards + 1)
            assert new in (old, shards + 1), (name, shards)
            moved += new != old
        assert abs(moved / len(NAMES) - 1 / (shards + 1)) <= 0.03, (shards, moved)


@pytest.mark.parametrize("shards", [2, 3, 4, 5, 8])
def test_shards_are_balanced_on_a_thousand_names(shards: int) -> None:
    counts = [sum(1 for n in NAMES if shard_of(n, shards) == i) for i in range(1, shards + 1)]
    # each shard within 3 % of all teams of its fair share (the binomial spread at these sizes)
    assert all(abs(c - len(NAMES) / shards) <= 0.03 * len(NAMES) for c in counts), counts


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0/2", "I must be from 1 to N (2)"),
        ("3/2", "I must be from 1 to N (2)"),
        ("1/0", "N must be at least 1"),
        ("1", "use I/N"),
        ("a/b", "use I/N"),
        ("", "use I/N"),
    ],
)
def test_a_shard_is_i_of_n(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        Shard.parse(text)


def test_shard_one_of_one_is_every_team() -> None:
    assert Shard.parse(" 2 / 4 ") == Shard(2, 4)
    whole = Selection.of("1/1")
    assert whole.everything and whole.label == "all teams"


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--shard", "3/2"], None, "--shard: '3/2': I must be from 1 to N (2)"),
        (["--shard", "two"], None, "--shard: 'two': use I/N"),
        (["--teams", "data,nope,nada"], None, "--teams: unknown team 'nope', 'nada' (teams: payments, platform, data)"),
        (["--teams", " , "], None, "--teams: name at least one team"),
        (["--shard", "1/2", "--teams", "data"], None, "give --shard or --teams, not both"),
        (["--teams", "data"], {"TEAMPULSE_SHARD": "1/2"}, "($TEAMPULSE_SHARD): give --shard or --teams, not both"),
    ],
)  # fmt: skip
def test_a_bad_selection_is_one_line_and_exit_2(
    sharded: Path, args: list[str], env: dict[str, str] | None, says: str
) -> None:
    for command in (["check", "--offline"], ["collect", "--quiet"], ["backfill", "--from", "2026-03-01",
                    "--to", "2026-03-02", "--output", "out.om"]):  # fmt: skip
        result = _cli(*command, "--config", str(sharded), *args, cwd=sharded.parent, env=env)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert says in result.stderr
    assert not (sharded.parent / "state.db").exists()  # refused before any store was made


# -- a shard's store, sources, webhooks and actions -------------------------------------------


def test_each_shard_has_a_store_of_its_own_and_no_two_selections_share_one(sharded: Path) -> None:
    folder = sharded.parent
    first = Runtime.open(str(sharded), Selection.of("1/2"))
    second = Runtime.open(str(sharded), Selection.of("2/2"))
    try:
        assert first.config.state == folder / "state.db"  # shard 1 keeps the configured store
        assert second.config.state == folder / "state.shard-2.db"
        assert {t.name for t in first.config.teams} == ONE_OF_TWO == second.other_teams
        assert {t.name for t in second.config.teams} == TWO_OF_TWO == first.other_teams
        # another selection on shard 1's store is refused while it is open, in one line
        with pytest.raises(TeampulseError, match=r"in use by a teampulse serving shard 1/2, and this one serves teams payments"):  # fmt: skip
            Runtime.open(str(sharded), Selection.of(None, ["payments"]))
        result = _cli("check", "--offline", "--config", str(sharded), cwd=folder)
        assert result.returncode == 2 and result.stderr.count("\n") == 1
        assert "serving shard 1/2, and this one serves all teams" in result.stderr
        assert "docs/scaling.md" in result.stderr
        # the same shard beside it is fine (a `check` beside `serve`)
        result = _cli("check", "--offline", "--config", str(sharded), "--shard", "1/2", cwd=folder)
        assert result.returncode == 0, result.stderr
        assert "team data:" in result.stdout and "team payments" not in result.stdout
    finally:
        first.close()
        second.close()
    # closed, the store is free for any selection again
    result = _cli("check", "--offline", "--config", str(sharded), cwd=folder)
    assert result.returncode == 0, result.stderr
    assert {"team data:", "team payments:", "team platform:"} <= set(re.findall(r"team \w+:", result.stdout))


def test_a_shard_reads_and_exports_only_its_teams(sharded: Path) -> None:
    folder = sharded.parent
    pseudonym = Pseudonymiser(KEY.encode())
    people = {
        "1/2": {pseudonym(p) for p in ("dora@example.com", "sam@example.com", "tess@example.com")},
        "2/2": {pseudonym(p) for p in ("maria@example.com", "bob@example.com")},
    }
    # one survey export for the whole organisation, as survey tools give it: each shard reads its rows
    (folder / "pulse.csv").write_text(
        "submitted_at,team,q_support\n"
        + "".join(
            f"2026-03-1{d}T10:00:00Z,{team},4\n" for d in (2, 3) for team in ("payments", "platform", "data")
        )
    )
    sharded.write_text(
        sharded.read_text()
        + '\n[sources.pulse]\nplugin = "survey-csv"\npaths = ["pulse.csv"]\n[sources.pulse.questions]\nq_support = "support"\n'
    )
    for shard, store, teams in (("1/2", "state.db", ONE_OF_TWO), ("2/2", "state.shard-2.db", TWO_OF_TWO)):
        result = _cli("collect", "--config", str(sharded), "--shard", shard, "--as-of", NOW.isoformat(),
                      "--quiet", cwd=folder)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert 'teampulse_source_problems{source="pulse"} 0.0' in result.stdout  # the other shard's rows too
        with Store(folder / store) as kept:
            assert sorted({s.team for s in kept.signals("survey_response", 0.0, 4e9)}) == sorted(teams)
        assert set(re.findall(r'team="([^"]+)"', result.stdout)) == teams
        index, count = shard.split("/")
        assert f'teampulse_shard_info{{shard="{index}",shards="{count}"}} 1.0' in result.stdout
        assert 'teampulse_source_problems{source="calendars"} 0.0' in result.stdout
        with Store(folder / store) as kept:
            seen = {p for s in kept.signals("meeting", 0.0, 4e9) for p in s.people}
        other = people["2/2" if shard == "1/2" else "1/2"]
        assert seen and seen <= people[shard] and not seen & other  # the other shard's calendars unread
    # without --shard, no shard_info sample (its HELP and TYPE only)
    result = _cli("collect", "--config", str(sharded), "--as-of", NOW.isoformat(), "--quiet",
                  "--teams", "payments", cwd=folder)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "# TYPE teampulse_shard_info gauge" in result.stdout
    assert "teampulse_shard_info{" not in result.stdout


class TrustingHook:
    """A webhook source that takes the delivery's team as it comes, as a third-party one might."""

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        yield from ()

    def receive(self, body: bytes, headers: Mapping[str, str], now: datetime) -> list[PersonSignal]:
        data = json.loads(body)
        return [
            PersonSignal(f"trusting|{data['id']}", "survey_response", now, now, team=data["team"],
                         attrs={"scores": {"support": 0.5}})
        ]  # fmt: skip


def _trusting(config: PluginConfig) -> TrustingHook:
    config.check_keys([])
    return TrustingHook()


@hookimpl
def register_sources(register: Any) -> None:
    register(SourceKind("trusting-hook", _trusting))


WEBHOOKS = """
[sources.pulse-hook]
plugin = "survey-webhook"
secret_env = "SHARD_WEBHOOK_SECRET"
scale = [1, 5]
[sources.pulse-hook.questions]
support = "support"

[sources.trusting]
plugin = "trusting-hook"
"""


@dataclass
class Served:
    url: str
    runtime: Runtime


@pytest.fixture
def shard_two(sharded: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """`serve --shard 2/2` in this process, with the survey webhook and a trusting one."""
    monkeypatch.setenv("SHARD_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("TEAMPULSE_API_TOKEN", "shard-token")
    sharded.write_text(sharded.read_text() + WEBHOOKS)
    plugin = types.ModuleType("tp_trusting_hook")
    plugin.register_sources = register_sources  # type: ignore[attr-defined]
    with registered(plugin):
        runtime = Runtime.open(str(sharded), Selection.of("2/2"))
        httpd, service = listen(runtime, "127.0.0.1", 0)
        ready = threading.Event()
        thread = threading.Thread(target=run, args=(httpd, service, None, ready), daemon=True)
        thread.start()
        assert ready.wait(60)
        try:
            yield Served(f"http://127.0.0.1:{httpd.server_address[1]}", runtime)
        finally:
            httpd.shutdown()
            thread.join(30)
            runtime.close()


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=20) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _get(url: str, headers: Mapping[str, str]) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(headers)), timeout=20) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_webhooks_and_actions_for_a_team_of_another_shard_are_refused(shard_two: Served) -> None:
    url = shard_two.url
    elsewhere = "team 'data' is served by shard 1/2, not by this instance (shard 2/2): send it there"
    # a webhook source that trusts the delivery: the core refuses another shard's team with a 409
    status, body = _post(f"{url}/api/v1/webhooks/trusting", b'{"id": "r1", "team": "data"}', {})
    assert (status, body) == (409, {"error": elsewhere})
    status, body = _post(f"{url}/api/v1/webhooks/trusting", b'{"id": "r2", "team": "payments"}', {})
    assert (status, body) == (202, {"stored": 1})
    # the survey webhook knows which teams other shards serve: the same 409, not "unknown team"
    delivery = json.dumps({"id": "s1", "submitted_at": "2026-03-16T11:00:00Z", "team": "data",
                           "answers": {"support": 4}}).encode()  # fmt: skip
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), delivery, hashlib.sha256).hexdigest()
    status, body = _post(f"{url}/api/v1/webhooks/pulse-hook", delivery, {"X-Teampulse-Signature": signature})
    assert (status, body) == (409, {"error": elsewhere})
    # a team no shard serves is still unknown
    delivery = delivery.replace(b'"data"', b'"nobody"')
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), delivery, hashlib.sha256).hexdigest()
    status, body = _post(f"{url}/api/v1/webhooks/pulse-hook", delivery, {"X-Teampulse-Signature": signature})
    assert status == 400 and "unknown team 'nobody'" in body["error"]
    # actions: recorded for a team served here, a 409 naming the shard for another's
    token = {"Authorization": "Bearer shard-token"}
    status, body = _post(f"{url}/api/v1/actions", b'{"team": "data", "kind": "one_on_one"}', token)
    assert (status, body) == (409, {"error": elsewhere})
    status, _ = _post(f"{url}/api/v1/actions", b'{"team": "platform", "kind": "one_on_one"}', token)
    assert status == 201
    assert _get(f"{url}/api/v1/actions?team=data", token) == (409, {"error": elsewhere})
    status, listed = _get(f"{url}/api/v1/actions", token)
    assert status == 200 and [a["team"] for a in listed] == ["platform"]
    responses = shard_two.runtime.store.signals("survey_response", 0.0, 4e9)
    assert [r.team for r in responses] == ["payments"]  # nothing of the refused deliveries


def test_action_add_names_the_shard_of_a_team_served_elsewhere(sharded: Path) -> None:
    result = _cli("action", "add", "--config", str(sharded), "--shard", "2/2", "--team", "data",
                  "--kind", "one_on_one", "--at", NOW.isoformat(), cwd=sharded.parent)  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "team 'data' is served by shard 1/2, not by this instance (shard 2/2)" in result.stderr
    result = _cli("action", "add", "--config", str(sharded), "--shard", "1/2", "--team", "data",
                  "--kind", "one_on_one", "--at", NOW.isoformat(), cwd=sharded.parent)  # fmt: skip
    assert result.returncode == 0, result.stderr
    with Store(sharded.parent / "state.db") as first:
        assert [a.team for a in first.list_actions()] == ["data"]
    with Store(sharded.parent / "state.shard-2.db") as second:
        assert second.list_actions() == []


# -- the documentation ----------------------------------------------------------------------

SCALING = Path(__file__).resolve().parents[1] / "docs" / "scaling.md"


def _documented_commands() -> list[list[str]]:
    """Every `teampulse ...` line of scaling.md's shell blocks, and its ExecStart as shard 2."""
    text = SCALING.read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] == "teampulse":
                commands.append(words)
    for line in re.findall(r"^ExecStart=(.*)$", text, re.M):
        commands.append(["teampulse", *shlex.split(line.replace("%i", "2"))[1:]])
    return commands


def _documented_queries() -> list[str]:
    blocks = re.findall(r"```promql\n(.*?)```", SCALING.read_text(), re.S)
    return [line for block in blocks for line in block.splitlines() if line and not line.startswith("#")]


def test_the_documented_commands_parse() -> None:
    from teampulse.cli import main

    commands = _documented_commands()
    assert {c[1] for c in commands} >= {"shards", "action", "serve"}, commands
    for command in commands:
        # Resolve the (sub)commands, then parse the rest with the real options and read the
        # selection as the command would: an unknown command, flag or shard fails here.
        ctx = main.make_context("teampulse", ["plugins"], resilient_parsing=True)
        group: click.Group = main
        args = command[1:]
        while True:
            sub = group.get_command(ctx, args[0])
            assert sub is not None, f"docs/scaling.md: {shlex.join(command)}: no command {args[0]!r}"
            if isinstance(sub, click.Group):
                group, args = sub, args[1:]
                continue
            parsed = sub.make_context(args[0], args[1:], parent=ctx)
            break
        if "shard" in parsed.params:
            Selection.of(parsed.params["shard"], parsed.params["teams"])


# -- two shards under a real Prometheus ------------------------------------------------------

E2E_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday; serve runs at it (time-machine)
SOURCE_UP = b'teampulse_source_up{source="jira"} 1.0'


def _collected(port: int) -> bool:
    return SOURCE_UP in http_get(f"http://127.0.0.1:{port}/metrics")


class Prometheus:
    """A real Prometheus scraping some `serve` targets as job "teampulse", with the shipped rules."""

    def __init__(self, folder: Path, ports: list[int], rules: Path) -> None:
        folder.mkdir()
        self.port = free_port()
        targets = ", ".join(f"'127.0.0.1:{p}'" for p in ports)
        config = (
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files: ['{rules}']\n"
            f"scrape_configs:\n  - job_name: teampulse\n    static_configs:\n      - targets: [{targets}]\n"
        )
        self.proc = start_prometheus(folder, self.port, config)
        self.api = f"http://127.0.0.1:{self.port}/api/v1"

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = json.loads(http_get(f"{self.api}/query?query=" + urllib.parse.quote(expr)))
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def now(self) -> float:
        """Return Prometheus' time."""
        body = json.loads(http_get(f"{self.api}/query?query=time()"))
        return float(body["data"]["result"][1])

    def scraped(self, targets: int, teams: int) -> bool:
        """Tell whether every target is up and the teams' series are in."""
        return len(self.query("up == 1")) == targets and len(self.query("teampulse_team_members")) == teams

    def evaluated_since(self, when: float) -> bool:
        """Tell whether every rule group was evaluated after `when` (Prometheus' clock)."""
        groups = json.loads(http_get(f"{self.api}/rules"))["data"]["groups"]
        stamps = [re.sub(r"(\.\d{6})\d*", r"\1", g["lastEvaluation"]) for g in groups]
        return bool(groups) and all(datetime.fromisoformat(s).timestamp() > when for s in stamps)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _series(result: list[dict[str, Any]], drop: tuple[str, ...] = ("instance", "job")) -> dict[frozenset[tuple[str, str]], str]:  # fmt: skip
    """Key each series by its labels without `drop`; fail when two instances give the same one."""
    out: dict[frozenset[tuple[str, str]], str] = {}
    for r in result:
        key = frozenset((k, v) for k, v in r["metric"].items() if k not in drop)
        assert key not in out, f"{dict(key)} comes from two instances"
        out[key] = r["value"][1]
    return out


# Each instance evaluates at its own clock's time (each started at E2E_NOW and ticks on), and an
# episode's onset is that time less whole days: onsets agree to these seconds, and differ by days.
ONSET_SLACK = 300.0


def _equal(name: str, a: str, b: str) -> bool:
    if name.endswith("_timestamp_seconds"):
        return abs(float(a) - float(b)) <= ONSET_SLACK
    return a == b


def _same(shards: dict[Any, str], one: dict[Any, str], what: str) -> None:
    assert shards.keys() == one.keys(), (
        f"{what}: only in the shards: {[dict(k) for k in shards.keys() - one.keys()][:5]}; "
        f"only in the one instance: {[dict(k) for k in one.keys() - shards.keys()][:5]}"
    )
    differ = {
        k: (shards[k], one[k]) for k in one if not _equal(dict(k).get("__name__", ""), shards[k], one[k])
    }
    assert not differ, f"{what}: values differ: {[(dict(k), v) for k, v in differ.items()][:5]}"


def test_two_shards_under_prometheus_add_up_to_one_instance(tmp_path: Path) -> None:
    assert shutil.which("prometheus"), "make test installs prometheus"
    org = generate_organisation(seed=5, now=E2E_NOW)
    teams = {t.name for t in org.teams}
    env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY="shards-e2e-key-0123456789", **{TOKEN_ENV: "t"})
    env.pop("TEAMPULSE_SHARD", None)
    mixin = subprocess.run([sys.executable, "-m", "teampulse.cli", "mixin", "--out", str(tmp_path / "mixin")],
                           env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert mixin.returncode == 0, mixin.stderr
    rules = tmp_path / "mixin" / "rules" / "teampulse.rules.yml"
    serves: list[subprocess.Popen[str]] = []
    proms: list[Prometheus] = []
    with EmulatorServer(org.dataset, mode="cloud") as emulator:
        try:
            # one instance of every team, and shards 1/2 and 2/2 of one config (stores of their own)
            (tmp_path / "one").mkdir()
            (tmp_path / "shards").mkdir()
            one = write_demo_config(tmp_path / "one", emulator.url, list(org.teams), interval="1h")
            split = write_demo_config(tmp_path / "shards", emulator.url, list(org.teams), interval="1h")
            ports = {"one": free_port(), "1/2": free_port(), "2/2": free_port()}
            serves.append(start_serve(one, ports["one"], env, at=E2E_NOW))
            for shard in ("1/2", "2/2"):
                serves.append(start_serve(split, ports[shard], env, "--shard", shard, at=E2E_NOW))
            for port in ports.values():
                wait_until(partial(_collected, port), timeout=180, what=f"serve on {port} collected")
            assert (tmp_path / "shards" / "demo.db").exists() and (
                tmp_path / "shards" / "demo.shard-2.db"
            ).exists()

            single = Prometheus(tmp_path / "prom-one", [ports["one"]], rules)
            proms.append(single)
            both = Prometheus(tmp_path / "prom-shards", [ports["1/2"], ports["2/2"]], rules)
            proms.append(both)
            for prom, targets in ((single, 1), (both, 2)):
                wait_until(
                    partial(prom.scraped, targets, len(teams)), timeout=120, what="every target scraped"
                )
            complete = max(single.now(), both.now())
            for prom in (single, both):
                wait_until(partial(prom.evaluated_since, complete + 1), what="the rules evaluated")

            # the shards split the teams: disjoint, all covered, each where shard_of puts it
            shard_of_instance = {
                r["metric"]["instance"]: f"{r['metric']['shard']}/{r['metric']['shards']}"
                for r in both.query("teampulse_shard_info")
            }
            assert sorted(shard_of_instance.values()) == ["1/2", "2/2"]
            served: dict[str, set[str]] = {}
            for r in both.query("teampulse_team_members"):
                served.setdefault(shard_of_instance[r["metric"]["instance"]], set()).add(r["metric"]["team"])
            assert served["1/2"].isdisjoint(served["2/2"]) and served["1/2"] | served["2/2"] == teams
            for shard, names in served.items():
                assert names == {t for t in teams if f"{shard_of(t, 2)}/2" == shard}
                assert names, "both shards serve a team"
            assert single.query("teampulse_shard_info") == []

            # every per-team series: the union over the shards is the one instance's, label for label
            per_team = '{__name__=~"teampulse_.+", team!=""}'
            one_series = _series(single.query(per_team))
            assert len({dict(k)["__name__"] for k in one_series}) >= 25
            _same(_series(both.query(per_team)), one_series, "per-team series")
            # the recorded rules per team (the 1-day increase needs a day of samples: not here)
            recorded = '{__name__=~"team:.+", __name__!~".*increase1d"}'
            assert _series(single.query(recorded))
            _same(_series(both.query(recorded)), _series(single.query(recorded)), "recorded rules")

            # the instance's own series: one per shard, by `instance`, not added up
            up = both.query('teampulse_source_up{source="jira"}')
            assert sorted(r["metric"]["instance"] for r in up) == sorted(shard_of_instance)
            assert {r["value"][1] for r in up} == {"1"}

            # the alerts: the same team alerts hold; a source's alerts per instance, as on the one
            def alerts(prom: Prometheus) -> list[dict[str, str]]:
                return [r["metric"] for r in prom.query("ALERTS")]

            drop = ("instance", "job", "alertstate", "__name__")

            def team_alerts(found: list[dict[str, str]]) -> dict[Any, str]:
                return _series([{"metric": a, "value": [0, "1"]} for a in found if "team" in a], drop)

            one_alerts, shard_alerts = alerts(single), alerts(both)
            assert team_alerts(one_alerts), "the demo's crunching team holds an alert"
            _same(team_alerts(shard_alerts), team_alerts(one_alerts), "team alerts")
            by_instance: dict[str, set[Any]] = {i: set() for i in shard_of_instance}
            for a in shard_alerts:
                if "team" not in a:
                    by_instance[a["instance"]].add(frozenset((k, v) for k, v in a.items() if k not in drop))
            alone = {
                frozenset((k, v) for k, v in a.items() if k not in drop)
                for a in one_alerts
                if "team" not in a
            }
            assert all(found == alone for found in by_instance.values()), (by_instance, alone)
            # the queries docs/scaling.md gives run, and say what it says they say
            for expr in _documented_queries():
                both.query(expr)
            assert len(both.query(_documented_queries()[0])) == 1  # which shard serves a team
            assert both.query("count by (team) (teampulse_team_members) > 1") == []
            # the team alert's annotations find its numbers on its shard (they query by instance)
            for prom in (single, both):
                active = json.loads(http_get(f"{prom.api}/alerts"))["data"]["alerts"]
                described = [a["annotations"]["description"] for a in active if "team" in a["labels"]]
                assert described and all("?" not in d and "Process pressure on " in d for d in described)
        finally:
            for prom in proms:
                prom.stop()
            for proc in serves:
                proc.terminate()
                proc.wait(timeout=30)
