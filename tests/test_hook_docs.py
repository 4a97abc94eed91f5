"""docs/plugins.md: a section per hook whose signature matches the code and whose example runs.

Each hook's section holds a `Signature:` line, checked against teampulse/hookspecs.py, and a
python example, executed here and registered in a plugin manager to check what it registers
and that it works as the section says (datasette's test_docs idea). The field tables are
checked against the dataclasses they describe.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import click
import pluggy
import pytest
from click.testing import CliRunner
from support import KEY, NOW, Items

import teampulse
from teampulse import AlertState, hookspecs
from teampulse.collect import build_sources, collect_all
from teampulse.config import load
from teampulse.engine import TeamSnapshot, evaluate_team
from teampulse.plugins import load_registry
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "docs" / "plugins.md").read_text()
D = timedelta(days=1)
H = timedelta(hours=1)


def _hooks() -> dict[str, Callable[..., Any]]:
    return {
        name: fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "teampulse_spec")
    }


def _sections(level: str = "## ") -> dict[str, str]:
    """Return each section of docs/plugins.md by its heading, up to the next heading of that level."""
    parts = re.split(rf"^{level}(.+)$", DOCS, flags=re.M)
    return {parts[k].strip(): parts[k + 1] for k in range(1, len(parts), 2)}


def _examples(hook: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", _sections()[hook], flags=re.S)


def _plugin(hook: str) -> ModuleType:
    """Run the section's example as a module, the way an entry point would load it."""
    (code,) = _examples(hook)
    module = ModuleType(f"docs_{hook}")
    exec(compile(code, f"docs/plugins.md ({hook})", "exec"), module.__dict__)
    return module


def _manager(*modules: ModuleType) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("teampulse")
    pm.add_hookspecs(hookspecs)
    for m in modules:
        pm.register(m, name=m.__name__)
    pm.check_pending()
    return pm


def test_there_are_hooks() -> None:
    assert set(_hooks()) == {
        "register_sources",
        "register_notifiers",
        "register_signals",
        "register_commands",
    }


def test_every_hook_has_a_docs_section() -> None:
    for hook in _hooks():
        assert f"\n## {hook}\n" in DOCS, f"{hook} is not documented in docs/plugins.md"


def _signature(fn: Callable[..., Any]) -> str:
    sig = inspect.signature(fn)  # the annotations are strings (from __future__ import annotations)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"


def test_documented_signatures_match_the_hookspecs() -> None:
    for hook, fn in _hooks().items():
        documented = re.findall(r"^Signature: `(.+)`$", _sections()[hook], flags=re.M)
        assert documented == [_signature(fn)], hook


def test_the_examples_implement_their_hook_with_its_parameters() -> None:
    for hook, fn in _hooks().items():
        defs = [
            node
            for code in _examples(hook)
            for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.FunctionDef) and node.name == hook
        ]
        assert len(defs) == 1, f"the {hook} section has no example of it"
        assert [a.arg for a in defs[0].args.args] == list(inspect.signature(fn).parameters), hook


def test_every_hookspec_documents_its_parameter() -> None:
    for hook, fn in _hooks().items():
        for name in inspect.signature(fn).parameters:
            assert f"`{name}`" in (fn.__doc__ or ""), hook
            assert f"`{name}`" in _sections()[hook], hook


def test_the_register_callbacks_are_typed_per_hook() -> None:
    hints = {hook: inspect.signature(fn).parameters for hook, fn in _hooks().items()}
    assert str(hints["register_sources"]["register"].annotation) == "RegisterSource"
    assert str(hints["register_notifiers"]["register"].annotation) == "RegisterNotifier"
    assert str(hints["register_signals"]["register"].annotation) == "RegisterSignal"
    for alias, kind in (
        (hookspecs.RegisterSource, teampulse.SourceKind),
        (hookspecs.RegisterNotifier, teampulse.NotifierKind),
        (hookspecs.RegisterSignal, teampulse.SignalKind),
    ):
        assert get_args(alias) == ([kind], None)
    assert {"RegisterSource", "RegisterNotifier", "RegisterSignal"} <= set(teampulse.__all__)


def _write_pages(folder: Path) -> Path:
    pages = [
        {"id": "p1", "team": "payments", "person": "m1@example.com", "at": (NOW - 10 * D).isoformat()},
        {"id": "p2", "team": "payments", "person": "m2@example.com", "at": (NOW - 3 * D).isoformat()},
        {"id": "p3", "team": "payments", "person": "m2@example.com", "at": (NOW - D).isoformat()},
        {"id": "p4", "team": "payments", "person": "m3@example.com", "at": (NOW - D + H).isoformat()},
        {"id": "p5", "team": "search", "person": "s1@example.com", "at": (NOW - D + 2 * H).isoformat()},
        {"id": "p6", "team": "payments", "person": "m1@example.com", "at": (NOW + D).isoformat()},
    ]
    (folder / "pages.json").write_text(json.dumps(pages))
    return folder / "pages.json"


CONFIG = """
[settings]
state = "state.db"
min_group_size = 5

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["m1@example.com", "m2@example.com", "m3@example.com", "m4@example.com", "m5@example.com"]

[[teams]]
name = "search"
manager = "sam@example.com"
members = ["s1@example.com"]

[sources.pager]
plugin = "oncall"
path = "pages.json"
"""


def test_the_register_sources_example_collects_pages(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    _write_pages(tmp_path)
    cfg = load(write_config(CONFIG))
    registry = load_registry(_manager(_plugin("register_sources")))
    assert list(registry.sources) == ["oncall"]
    sources = build_sources(cfg, registry)
    store = Store(cfg.state)
    p = Pseudonymiser(KEY.encode())
    first = collect_all(cfg, store, sources, p, NOW)
    assert [(r.source, r.events, r.error) for r in first.results] == [("pager", 5, None)]
    stored = store.source_signals(["pager"], NOW.timestamp())
    assert [(e.kind, e.team, e.start) for e in stored] == [
        ("page", "payments", NOW - 10 * D),
        ("page", "payments", NOW - 3 * D),
        ("page", "payments", NOW - D),
        ("page", "payments", NOW - D + H),
        ("page", "search", NOW - D + 2 * H),
    ]
    assert {e.person for e in stored} <= set(p.many(["m1@example.com", "m2@example.com", "m3@example.com",
                                                      "s1@example.com"]))  # fmt: skip
    # the cursor: the next collection reads only what is newer
    again = collect_all(cfg, store, sources, p, NOW + 2 * D)
    assert [r.events for r in again.results] == [1]


def test_the_register_notifiers_example_prints_each_alert(capsys: pytest.CaptureFixture[str]) -> None:
    registry = load_registry(_manager(_plugin("register_notifiers")))
    notifier = registry.notifiers["printer"].create(None)  # type: ignore[arg-type]
    alert = "ProcessPressureWithoutLeadership"
    notifier.notify(
        [
            AlertState(alert, {"team": "payments"}, "warning", True, None, "s", "d", {}),
            AlertState(alert, {"team": "search"}, "warning", False, None, "s", "d", {}),
        ]
    )
    assert capsys.readouterr().out == f"{alert} payments firing\n{alert} search resolved\n"


def test_the_register_commands_example_adds_a_command() -> None:
    from teampulse.cli import main

    pm = _manager(_plugin("register_commands"))
    pm.hook.register_commands(cli=main)
    try:
        assert isinstance(main.commands["shifts"], click.Command)
        runner = CliRunner()
        ok = runner.invoke(main, ["shifts", "--team", "payments"])
        assert (ok.exit_code, ok.output) == (0, "payments: 3 shifts this week\n")
        bad = runner.invoke(main, ["shifts", "--team", "search"])
        assert (bad.exit_code, bad.output) == (2, "teampulse: error: no shifts known for search\n")
    finally:
        main.commands.pop("shifts")


def test_the_register_signals_example_joins_both_indices(
    tmp_path: Path, write_config: Callable[..., Path], items: Items
) -> None:
    _write_pages(tmp_path)
    cfg = load(write_config(CONFIG))
    registry = load_registry(_manager(_plugin("register_sources"), _plugin("register_signals")))
    assert {name: (s.side, s.weight, s.source) for name, s in registry.signals.items()} == {
        "on_call_load": ("pressure", 0.1, "oncall"),
        "on_call_quiet": ("support", 0.15, "oncall"),
    }
    store = Store(cfg.state)
    p = Pseudonymiser(KEY.encode())
    collect_all(cfg, store, build_sources(cfg, registry), p, NOW + 2 * D)  # every page is stored
    store.apply_batch("jira", [items.make(created=NOW - 80 * D)], None, 0)  # so the team is judged

    def snap(at: datetime) -> TeamSnapshot:
        return evaluate_team(cfg, cfg.teams[0], store, at, p, registry.signals)

    now, earlier = snap(NOW), snap(NOW - 5 * D)
    # at NOW: three pages of payments in the last 7 days (p2, p3, p4) on two days, five available
    load_now = {c.name: c for c in now.components}["on_call_load"]
    assert (load_now.score, load_now.weight) == (pytest.approx(3 / 35), 0.1)
    assert now.people.support_components == {"recent_actions": 0.0, "on_call_quiet": pytest.approx(5 / 7)}
    assert now.support == round(0.15 * 5 / 7 / 0.30, 6)
    # five days earlier it sees only p1: nothing stored after the day judged
    load_then = {c.name: c for c in earlier.components}["on_call_load"]
    assert load_then.score == pytest.approx(1 / 35)
    assert earlier.people.support_components["on_call_quiet"] == pytest.approx(6 / 7)


def test_the_documented_facts_are_the_engines(basic_config: Path, items: Items) -> None:
    seen: list[set[str]] = []

    def record(team: str, facts: Any) -> None:
        seen.append(set(facts))

    cfg = load(basic_config)
    store = Store(cfg.state)
    store.apply_batch("jira", [items.make()], None, 0)
    signal = teampulse.SignalKind("recorder", "pressure", 0.1, record)
    evaluate_team(cfg, cfg.teams[0], store, NOW, signals={"recorder": signal})
    bullet = re.search(r"- `facts`: (.*?)\n  - `ctx`", _sections()["register_signals"], flags=re.S)
    assert bullet is not None
    documented = re.findall(r"`(\w+)`", bullet.group(1))
    assert seen and all(keys == set(documented) for keys in seen)
    assert len(documented) == len(set(documented))


def _tables() -> dict[str, list[tuple[str, str]]]:
    """Return each `### \\`Name\\`` section's table as (field, type) rows."""
    tables = {}
    for heading, body in _sections("### ").items():
        name = re.fullmatch(r"`(\w+)`", heading)
        if name is None:
            continue
        rows = re.findall(r"^\| `(\w+)` \| `(.+?)` \|", body, flags=re.M)
        tables[name.group(1)] = [(field, kind.replace("\\|", "|")) for field, kind in rows]
    return tables


def test_the_field_tables_match_the_dataclasses() -> None:
    tables = _tables()
    assert set(tables) == {"WorkItem", "Change", "Sprint", "PersonSignal", "SignalKind", "SignalContext"}
    for name, rows in tables.items():
        cls = getattr(teampulse, name)
        assert rows == [(f.name, str(f.type)) for f in dataclasses.fields(cls)], name


def test_every_hook_is_tested() -> None:
    tests = "".join(
        p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != Path(__file__).name
    )
    for hook in _hooks():
        assert f"def {hook}(" in tests, f"no test implements {hook}"
