"""teampulse.testing: the kit's helpers work, and each check of the contract suite fails on the fault it names.

A small source of leadership actions from JSON-lines files (one batch per file, the cursor
how many lines of each file were read) runs the contract suite as it is; then, with one fault
switched on at a time, the contract test meant to catch that fault is called and must fail
saying so.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pluggy
import pytest
from support import BASIC

from teampulse import (
    Batch,
    CollectContext,
    ConfigError,
    LeadershipAction,
    PersonSignal,
    PluginConfig,
    SignalsReplaced,
    SourceError,
    SourceKind,
    WebhookRejected,
    hookimpl,
)
from teampulse.plugins import get_plugin_manager, load_registry
from teampulse.testing import (
    DEFAULT_HISTORY,
    NOW,
    TEAMS,
    RecordingContext,
    SourceContract,
    WebhookContract,
    check_batches,
    check_cursor_order,
    collect,
    collect_cycles,
    find_personal,
    free_port,
    port_open,
    registered,
    stored,
    wait_for_port,
    wait_until,
)

LINES = {
    "payments.jsonl": [
        {"id": "a1", "team": "payments", "kind": "one_on_one", "at": "2026-03-02T10:00:00+00:00",
         "person": "bob@example.com"},
        {"id": "a2", "team": "payments", "kind": "recognition", "at": "2026-03-05T16:00:00+01:00"},
    ],
    "search.jsonl": [
        {"id": "b1", "team": "search", "kind": "team_check_in", "at": "2026-03-09T09:30:00+00:00"},
        {"id": "b2", "team": "search", "kind": "one_on_one", "at": "2026-03-10T09:30:00+00:00",
         "person": "fay@example.com"},
    ],
}  # fmt: skip


class Actions:
    """Leadership actions from JSON-lines files; `fault` names one way of getting the contract wrong."""

    def __init__(self, paths: list[str], base_dir: Path, fault: str | None) -> None:
        self.paths = paths
        self.base_dir = base_dir
        self.fault = fault
        self.count = 0

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        # "unstable": re-reads everything and numbers what it yields, so ids change on each read.
        read: dict[str, int] = {} if self.fault == "unstable" else dict((ctx.cursor or {}).get("files", {}))
        files = sorted(p for pattern in self.paths for p in self.base_dir.glob(pattern))
        for path in files:
            rel = path.relative_to(self.base_dir).as_posix()
            lines = path.read_text().splitlines()
            events = []
            for n, line in enumerate(lines[read.get(rel, 0) :], read.get(rel, 0) + 1):
                try:
                    events.append(self.action(json.loads(line)))
                except (ValueError, KeyError) as exc:
                    if self.fault == "crash":
                        raise
                    if self.fault == "fails":
                        raise SourceError(f"{rel}: line {n}: not an action") from None
                    where = "a file" if self.fault == "vague" else f"{rel}: line {n}"
                    who = " (bob@example.com)" if self.fault == "loud" else ""
                    ctx.problem(f"{where}: not an action ({type(exc).__name__}){who}; skipped")
            read[rel] = len(lines)
            cursor: dict[str, Any] = {"files": dict(read)}
            if self.fault == "tuple":
                cursor["order"] = tuple(read)
            if self.fault == "early":  # the cursor committed before the events it covers
                yield Batch([], cursor)
                yield Batch(events)
            else:
                yield Batch(events, cursor)
        if self.fault == "backward":
            yield Batch([], {"files": {}})

    def action(self, raw: Mapping[str, Any]) -> LeadershipAction:
        at = datetime.fromisoformat(raw["at"])
        if self.fault == "naive":
            at = at.replace(tzinfo=None)
        self.count += 1
        ident = f"action-{self.count}" if self.fault == "unstable" else raw["id"]
        team = raw["team"].title() if self.fault == "team" else raw["team"]
        note = raw.get("person") if self.fault == "leak" else None
        return LeadershipAction(ident, team, raw["kind"], at, person=raw.get("person"), note=note)


def kind(fault: str | None = None) -> SourceKind:
    """Return the "actions" kind, its sources built with `fault`."""

    def create(config: PluginConfig) -> Actions:
        if fault == "wrong key":
            unknown = [key for key in config.options if key not in ("plugin", "paths")]
            if unknown:
                raise ConfigError(config.key("options"), f"unknown keys: {', '.join(unknown)}")
        elif fault != "lax":
            config.check_keys(["paths"])
        paths = config.options.get("paths") if fault == "loose" else config.str_list("paths")
        return Actions(list(paths or []), config.base_dir, fault)

    return SourceKind("actions", create)


class TestActionsContract(SourceContract):
    """The source as it should be passes the whole contract."""

    kind = kind()
    bad_values = (("paths", [3]),)

    @pytest.fixture
    def options(self, tmp_path: Path) -> dict[str, Any]:
        (tmp_path / "actions").mkdir()
        for name, lines in LINES.items():
            (tmp_path / "actions" / name).write_text("".join(json.dumps(line) + "\n" for line in lines))
        return {"paths": ["actions/*.jsonl"]}

    @pytest.fixture
    def break_input(self, options: dict[str, Any], tmp_path: Path) -> str:
        with (tmp_path / "actions" / "search.jsonl").open("a") as f:
            f.write('{"id": "b3", "team": "search"\n')
        return "actions/search.jsonl: line 3"

    def cursor_order(self, cursor: Mapping[str, Any]) -> Mapping[str, int]:
        return dict(cursor["files"])


def faulty(fault: str) -> TestActionsContract:
    """Return the contract of the source with `fault` switched on."""
    contract = TestActionsContract()
    contract.kind = kind(fault)  # type: ignore[misc]
    return contract


def prepared(tmp_path: Path, broken: bool = False) -> dict[str, Any]:
    (tmp_path / "actions").mkdir(parents=True)
    for name, lines in LINES.items():
        (tmp_path / "actions" / name).write_text("".join(json.dumps(line) + "\n" for line in lines))
    if broken:
        with (tmp_path / "actions" / "search.jsonl").open("a") as f:
            f.write("not json\n")
    return {"paths": ["actions/*.jsonl"]}


@pytest.mark.parametrize(
    ("fault", "test", "says"),
    [
        ("naive", "test_events_are_well_typed", "at must be a timezone-aware datetime"),
        ("team", "test_events_are_well_typed", "team 'Payments' is not a configured team"),
        (
            "unstable",
            "test_the_same_input_gives_the_same_events",
            "collection 2 of the same input gave other events",
        ),
        ("unstable", "test_a_rerun_from_the_cursor_changes_nothing", "yielded new events"),
        ("backward", "test_the_cursor_is_json_and_only_moves_forward", "the cursor moved backward"),
        ("tuple", "test_the_cursor_is_json_and_only_moves_forward", "comes back from the store changed"),
        ("early", "test_a_restart_from_the_committed_cursor_loses_nothing", "a restart after batch 1 of 4"),
        ("leak", "test_nothing_personal_is_stored_or_labelled", "bob@example.com in"),
    ],
)
def test_the_contract_catches_a_faulty_source(fault: str, test: str, says: str, tmp_path: Path) -> None:
    options = prepared(tmp_path)
    getattr(TestActionsContract(), test)(options, tmp_path, TEAMS, NOW)  # the sound source passes
    with pytest.raises(AssertionError, match=says):
        getattr(faulty(fault), test)(options, tmp_path, TEAMS, NOW)


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ("crash", "crashed the source: JSONDecodeError"),
        ("fails", "failed the whole collection"),
        ("vague", "no problem names the bad input"),
        ("loud", "bob@example.com in"),
    ],
)
def test_the_contract_catches_bad_input_handled_badly(fault: str, says: str, tmp_path: Path) -> None:
    options = prepared(tmp_path, broken=True)
    test = "test_bad_input_is_a_problem_naming_it"
    getattr(TestActionsContract(), test)(options, "actions/search.jsonl: line 3", tmp_path, TEAMS, NOW)
    with pytest.raises(AssertionError, match=says):
        getattr(faulty(fault), test)(options, "actions/search.jsonl: line 3", tmp_path, TEAMS, NOW)


@pytest.mark.parametrize(
    ("fault", "test", "says"),
    [
        ("lax", "test_an_unknown_key_is_refused_naming_it", "an unknown key: accepted"),
        (
            "loose",
            "test_wrong_values_are_refused_naming_their_key",
            "paths = {'not': 'a value'}: accepted",
        ),
        ("wrong key", "test_an_unknown_key_is_refused_naming_it", "names 'sources.actions.options'"),
    ],
)
def test_the_config_contract_catches_a_lax_table(fault: str, test: str, says: str, tmp_path: Path) -> None:
    options = prepared(tmp_path)
    with pytest.raises(AssertionError, match=says):
        getattr(faulty(fault), test)(options, tmp_path)


def test_a_source_that_commits_a_cursor_must_say_how_it_moves(tmp_path: Path) -> None:
    contract = TestActionsContract()
    contract.cursor_order = SourceContract.cursor_order.__get__(contract)  # type: ignore[method-assign]
    with pytest.raises(AssertionError, match="define cursor_order"):
        contract.test_the_cursor_is_json_and_only_moves_forward(prepared(tmp_path), tmp_path, TEAMS, NOW)


def test_the_contract_wants_input_that_gives_events(tmp_path: Path) -> None:
    (tmp_path / "actions").mkdir()
    with pytest.raises(AssertionError, match="the valid input gave no events"):
        TestActionsContract().test_events_are_well_typed({"paths": ["actions/*.jsonl"]}, tmp_path, TEAMS, NOW)


# -- the helpers --


def test_the_context_records_and_reaches_back_as_the_core_does(write_config: Any) -> None:
    from teampulse import config

    ctx = RecordingContext()
    assert (ctx.teams, ctx.now, ctx.cursor, ctx.name) == (TEAMS, NOW, None, "source")
    # What the core's default config reads back, so first collections reach as far.
    assert ctx.now - ctx.history_from == DEFAULT_HISTORY == config.load(write_config(BASIC)).history()
    ctx.problem("a.csv: line 2: bad")
    ctx.progress("1 file")
    assert (ctx.problems, ctx.progress_messages) == (["a.csv: line 2: bad"], ["1 file"])
    later = ctx.next({"files": {}}, NOW + timedelta(hours=1))
    assert (later.cursor, later.now, later.history_from, later.problems) == (
        {"files": {}}, NOW + timedelta(hours=1), ctx.history_from + timedelta(hours=1), [],
    )  # fmt: skip
    with pytest.raises(ValueError, match="timezone-aware"):
        RecordingContext(now=datetime(2026, 3, 16, 12))


def test_collect_keeps_batches_cursor_and_errors_and_stops_where_told(tmp_path: Path) -> None:
    source = Actions(["actions/*.jsonl"], tmp_path, None)
    prepared(tmp_path)
    run = collect(source)
    assert [len(b.events) for b in run.batches] == [2, 2] and run.error is None and not run.stopped
    assert run.cursor == {"files": {"actions/payments.jsonl": 2, "actions/search.jsonl": 2}}
    cut = collect(source, limit=1)
    assert cut.stopped and cut.cursor == {"files": {"actions/payments.jsonl": 2}}
    again, later = collect_cycles(source, RecordingContext(), 2, every=timedelta(hours=1))
    assert (
        later.context.cursor == again.cursor
        and later.events == []
        and later.context.now == NOW + timedelta(hours=1)
    )
    prepared(tmp_path / "broken", broken=True)
    failing = collect(Actions(["actions/*.jsonl"], tmp_path / "broken", "fails"))
    assert isinstance(failing.error, SourceError) and len(failing.batches) == 1
    with pytest.raises(json.JSONDecodeError):
        collect(Actions(["actions/*.jsonl"], tmp_path / "broken", "crash"))


def test_stored_rows_are_pseudonymised_as_the_core_stores_them(tmp_path: Path) -> None:
    prepared(tmp_path)
    rows = stored(collect(Actions(["actions/*.jsonl"], tmp_path, None)), source="actions")
    actions = rows["actions"]
    assert len(actions) == 4 and {r[0] for r in actions} == {"actions"}
    assert not find_personal([str(c) for r in actions for c in r], ["bob@example.com", "fay@example.com"])
    assert sum(1 for r in actions if str(r[5]).startswith("p_")) == 2  # the people, as pseudonyms
    assert json.loads(rows["cursors"][0][1]) == {
        "files": {"actions/payments.jsonl": 2, "actions/search.jsonl": 2}
    }


def test_personal_data_is_found_by_address_local_part_and_private_text() -> None:
    people = ["eli@example.com"]
    assert find_personal(["deliver to the team", "p_0eli1"], people) == []  # not a word of its own
    found = find_personal(
        ["ask eli", "mail Eli@Example.com", "zed@corp.example", "Chen Wong said"], people, ["chen wong"]
    )
    assert [f.split(" in ")[0] for f in found] == [
        "eli", "eli@example.com", "eli", "an e-mail address", "an e-mail address", "chen wong",
    ]  # fmt: skip


def test_cursor_positions_may_be_per_team() -> None:
    check_cursor_order([{"a": 1}, {"a": 1, "b": 0}, {"a": 2, "b": 0}], lambda c: c)
    with pytest.raises(AssertionError, match="moved backward"):
        check_cursor_order([{"a": 1, "b": 3}, {"a": 2}], lambda c: c)  # team b's position lost
    with pytest.raises(AssertionError, match="do not compare"):
        check_cursor_order([{"p": 1}, {"p": "x"}], lambda c: c["p"])


def test_registered_installs_a_plugin_for_the_block_only() -> None:
    @hookimpl
    def register_sources(register: Any) -> None:
        register(kind())

    plugin = types.ModuleType("tp_kit_actions")
    plugin.register_sources = register_sources  # type: ignore[attr-defined]
    before = get_plugin_manager()
    with registered(plugin) as pm:
        assert get_plugin_manager() is pm
        sources = load_registry().sources
        assert "actions" in sources and "ics" in sources  # beside the installed plugins
    assert get_plugin_manager() is before and "actions" not in load_registry().sources
    with registered(plugin, alone=True):
        assert list(load_registry().sources) == ["actions"]

    typo = types.ModuleType("tp_kit_typo")
    typo.register_source = hookimpl(lambda register: None)  # type: ignore[attr-defined]
    with pytest.raises(pluggy.PluginValidationError), registered(typo):
        pass
    assert get_plugin_manager() is before


def test_the_register_fixture_restores_after_the_test(teampulse_register: Any) -> None:
    @hookimpl
    def register_sources(register: Any) -> None:
        register(kind())

    plugin = types.ModuleType("tp_kit_fixture")
    plugin.register_sources = register_sources  # type: ignore[attr-defined]
    teampulse_register(plugin, alone=True)
    assert list(load_registry().sources) == ["actions"]


def test_after_the_fixture_the_installed_plugins_are_back() -> None:
    assert "actions" not in load_registry().sources and "ics" in load_registry().sources


def test_the_fixtures_give_the_kit_defaults(
    teampulse_context: RecordingContext, teampulse_collect: Any, teampulse_now: datetime
) -> None:
    assert (teampulse_context.teams, teampulse_context.now, teampulse_now) == (TEAMS, NOW, NOW)
    assert teampulse_collect is collect


def test_ports_and_polling() -> None:
    port = free_port()
    assert not port_open(port)
    with pytest.raises(
        AssertionError, match=re.escape("after 0.2 s waiting for the answer; last error: boom")
    ):

        def failing() -> bool:
            raise OSError("boom")

        wait_until(failing, 0.2, "the answer", interval=0.05)
    calls = []
    wait_until(lambda: calls.append(1) or len(calls) == 3, 10, "the third call", interval=0.01)
    assert len(calls) == 3
    quitter = subprocess.Popen([sys.executable, "-c", "pass"])
    quitter.wait()
    with pytest.raises(AssertionError, match=f"meant to listen on port {port} exited with 0"):
        wait_for_port(port, 30, quitter)
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import socket, time; s = socket.create_server(('127.0.0.1', {port})); time.sleep(60)",
        ]
    )
    try:
        wait_for_port(port, 30, server)
        assert port_open(port)
    finally:
        server.kill()
        server.wait()


def test_importing_the_kit_needs_no_pytest() -> None:
    code = "import sys, teampulse.testing; print('pytest' in sys.modules, 'teampulse.store' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


class Hook:
    """Survey responses POSTed as JSON; `fault` names one way of getting the webhook contract wrong."""

    def __init__(self, fault: str | None) -> None:
        self.fault = fault
        self.teams: set[str] = set()
        self.count = 0

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        self.teams = {t.name for t in ctx.teams}
        yield from ()

    def receive(self, body: bytes, headers: Mapping[str, str], now: datetime) -> list[PersonSignal]:
        try:
            data = json.loads(body)
        except ValueError:
            if self.fault == "crash":
                raise
            raise WebhookRejected(500 if self.fault == "500" else 400, "the body is not JSON") from None
        if data.get("team") not in self.teams:
            raise WebhookRejected(400, "team: not a configured team")
        self.count += 1
        ident = f"hook|{self.count}" if self.fault == "retry" else f"hook|{data['id']}"
        attrs: dict[str, Any] = {"scores": {"support": 0.75}}
        if self.fault == "leak":
            attrs["by"] = data["email"]
        return [PersonSignal(ident, "survey_response", now, now, team=data["team"], attrs=attrs)]


def hook(config: PluginConfig, fault: str | None) -> Hook:
    config.check_keys([])
    return Hook(fault)


class TestHookContract(WebhookContract):
    """The webhook source as it should be passes the whole webhook contract."""

    kind = SourceKind("hook", lambda config: hook(config, None))

    @pytest.fixture
    def options(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def delivery(self) -> tuple[bytes, Mapping[str, str]]:
        return json.dumps({"id": "r1", "team": "payments", "email": "bob@example.com"}).encode(), {}

    @pytest.fixture(params=[b"{not json", b'{"id": "r2", "team": "marketing"}'])
    def bad_delivery(self, request: pytest.FixtureRequest) -> tuple[bytes, Mapping[str, str]]:
        return request.param, {}


@pytest.mark.parametrize(
    ("fault", "test", "says"),
    [
        ("crash", "test_a_bad_delivery_is_refused_clearly", "crashed the source: JSONDecodeError"),
        ("500", "test_a_bad_delivery_is_refused_clearly", "must be a 4xx, not 500"),
        ("retry", "test_a_retried_delivery_is_stored_once", "a retried delivery gave other ids"),
        ("leak", "test_nothing_personal_is_stored", "bob@example.com in"),
    ],
)
def test_the_webhook_contract_catches_a_faulty_receiver(
    fault: str, test: str, says: str, tmp_path: Path
) -> None:
    good = json.dumps({"id": "r1", "team": "payments", "email": "bob@example.com"}).encode(), {}
    delivery = (b"{not json", {}) if "bad" in test else good
    getattr(TestHookContract(), test)({}, delivery, tmp_path, TEAMS, NOW)
    contract = TestHookContract()
    contract.kind = SourceKind("hook", lambda config: hook(config, fault))  # type: ignore[misc]
    with pytest.raises(AssertionError, match=says):
        getattr(contract, test)({}, delivery, tmp_path, TEAMS, NOW)


def test_replaced_signals_come_first_and_own_what_follows() -> None:
    replaced = SignalsReplaced("bob@example.com", ("meeting",), NOW - timedelta(days=7), NOW)
    meeting = PersonSignal(
        "m1|x", "meeting", NOW, NOW, person="bob@example.com", attrs={"category": "meeting"}
    )
    check_batches([Batch([replaced, replace(meeting, owner="bob@example.com")])], TEAMS)
    with pytest.raises(AssertionError, match="has owner None, not the replaced owner"):
        check_batches([Batch([replaced, meeting])], TEAMS)
    with pytest.raises(AssertionError, match="comes after a signal"):
        check_batches([Batch([replace(meeting, owner="bob@example.com"), replaced])], TEAMS)
    with pytest.raises(AssertionError, match=r"a meeting's attrs\['category'\] must be one of"):
        check_batches([Batch([replace(meeting, attrs={"title": "1:1 with Bob"})])], TEAMS)
