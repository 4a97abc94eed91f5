"""The plugin system: entry points, the allow-list, check_pending, `teampulse plugins`."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import click
import pluggy
import pytest
from plugin_dist import env_with, write_distribution

from teampulse import (
    RegisterNotifier,
    RegisterSignal,
    RegisterSource,
    SignalContext,
    SignalKind,
    SourceKind,
    hookimpl,
    hookspecs,
)
from teampulse.errors import TeampulseError
from teampulse.plugin_signals import takes_context
from teampulse.plugins import get_plugin_manager, load_registry, plugin_list, reset_plugin_manager


def _pm(*modules: ModuleType) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("teampulse")
    pm.add_hookspecs(hookspecs)
    for m in modules:
        pm.register(m, name=m.__name__)
    return pm


def _module(name: str, **attrs: object) -> ModuleType:
    module = ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    return module


@pytest.fixture(autouse=True)
def fresh_manager() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


def test_register_callback_collects_kinds() -> None:
    @hookimpl
    def register_sources(register):  # type: ignore[no-untyped-def]
        register(SourceKind(name="static", create=lambda cfg: None))  # type: ignore[arg-type,return-value]

    @hookimpl
    def register_signals(register):  # type: ignore[no-untyped-def]
        register(SignalKind(name="oncall", side="pressure", weight=0.1, compute=lambda team, facts: 0.5))

    pm = _pm(_module("tp_static", register_sources=register_sources, register_signals=register_signals))
    registry = load_registry(pm)
    assert list(registry.sources) == ["static"]
    assert list(registry.signals) == ["oncall"]
    info = plugin_list(pm)[0]
    assert info.name == "tp_static"
    assert info.hooks == ["register_signals", "register_sources"]
    assert info.sources == ["static"]


def test_notifiers_register_and_receive_alert_states() -> None:
    from teampulse import AlertState, NotifierKind

    received: list[AlertState] = []

    class Collecting:
        def notify(self, alerts):  # type: ignore[no-untyped-def]
            received.extend(alerts)

    @hookimpl
    def register_notifiers(register):  # type: ignore[no-untyped-def]
        register(NotifierKind(name="collecting", create=lambda cfg: Collecting()))

    registry = load_registry(_pm(_module("tp_notify", register_notifiers=register_notifiers)))
    notifier = registry.notifiers["collecting"].create(None)  # type: ignore[arg-type]
    state = AlertState("TeampulseSourceDown", {"source": "jira"}, "critical", True, None, "s", "d", {})
    notifier.notify([state])
    assert received == [state]


def test_signal_joins_the_pressure_index(basic_config, items) -> None:  # type: ignore[no-untyped-def]
    from support import NOW

    from teampulse import config
    from teampulse.engine import evaluate_team
    from teampulse.store import Store

    cfg = config.load(basic_config)
    store = Store(cfg.state)
    store.apply_batch("jira", [items.make()], None, 0)
    always = SignalKind(name="pager", side="pressure", weight=1.0, compute=lambda team, facts: 1.0)
    snap = evaluate_team(cfg, cfg.teams[0], store, NOW, signals={"pager": always})
    assert "pager" in [c.name for c in snap.components]
    assert snap.pressure == 1.0 / (1.0 + sum(cfg.pressure.weights.values()))


def test_duplicate_kind_names_the_plugins() -> None:
    @hookimpl
    def register_sources(register):  # type: ignore[no-untyped-def]
        register(SourceKind(name="jira", create=lambda cfg: None))  # type: ignore[arg-type,return-value]

    pm = _pm(
        _module("one", register_sources=register_sources), _module("two", register_sources=register_sources)
    )
    with pytest.raises(TeampulseError, match="already registered"):
        load_registry(pm)


def test_wrong_registration_type_is_rejected() -> None:
    @hookimpl
    def register_sources(register):  # type: ignore[no-untyped-def]
        register("jira")

    with pytest.raises(TeampulseError, match="expected a SourceKind"):
        load_registry(_pm(_module("bad", register_sources=register_sources)))


def test_misspelt_hook_fails_at_start_up() -> None:
    @hookimpl
    def register_source(register):  # type: ignore[no-untyped-def]
        pass

    pm = _pm(_module("typo", register_source=register_source))
    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def test_first_party_plugins_load_from_entry_points() -> None:
    registry = load_registry(get_plugin_manager())
    assert "jira" in registry.sources


def test_allow_list_limits_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAMPULSE_PLUGINS", "nothing-by-that-name")
    assert load_registry(get_plugin_manager()).sources == {}


def test_plugins_command_lists_hooks_and_kinds() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "plugins"], capture_output=True, text=True, check=True
    ).stdout
    assert "jira" in out
    assert "hooks: register_sources" in out
    assert "sources: jira" in out


def test_plugins_add_commands_and_their_errors_are_one_line() -> None:
    from click.testing import CliRunner

    from teampulse.cli import main

    @hookimpl
    def register_commands(cli):  # type: ignore[no-untyped-def]
        @cli.command()
        @click.option("--team", required=True)
        def shifts(team: str) -> None:
            """Show the on-call shifts of a team."""
            if team != "payments":
                raise TeampulseError(f"no shifts known for {team}")
            click.echo(f"{team}: 3 shifts this week")

    pm = _pm(_module("tp_shifts", register_commands=register_commands))
    pm.hook.register_commands(cli=main)
    try:
        runner = CliRunner()
        ok = runner.invoke(main, ["shifts", "--team", "payments"])
        assert (ok.exit_code, ok.output) == (0, "payments: 3 shifts this week\n")
        bad = runner.invoke(main, ["shifts", "--team", "search"])
        assert bad.exit_code == 2
        assert bad.output == "teampulse: error: no shifts known for search\n"
    finally:
        main.commands.pop("shifts")


def test_the_demo_command_comes_from_its_plugin() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "plugins"], capture_output=True, text=True, check=True
    ).stdout
    version = importlib.metadata.version("teampulse-demo")
    assert f"demo {version} (teampulse-demo)\n  hooks: register_commands\n" in out
    help_text = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "demo", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--dashboards-url" in help_text


def test_plugins_show_the_version_of_their_distribution(tmp_path: Path) -> None:
    folder = write_distribution(
        tmp_path,
        "tp-shifts",
        "1.2.3",
        "shifts",
        "tp_shifts",
        """
        from teampulse import SourceKind, hookimpl

        @hookimpl
        def register_sources(register):
            register(SourceKind(name="shifts", create=lambda config: None))
        """,
    )

    def listed(**env: str) -> dict[str, dict[str, object]]:
        out = subprocess.run(
            [sys.executable, "-m", "teampulse.cli", "plugins", "--format", "json"],
            env=env_with(folder, **env), capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return {p["name"]: p for p in json.loads(out)}

    plugins = listed()
    assert {k: plugins["shifts"][k] for k in ("version", "package", "sources")} == {
        "version": "1.2.3",
        "package": "tp-shifts",
        "sources": ["shifts"],
    }
    for name, package in (
        ("jira", "teampulse-jira"),
        ("calendar", "teampulse-calendar"),
        ("demo", "teampulse-demo"),
    ):
        assert (plugins[name]["version"], plugins[name]["package"]) == (
            importlib.metadata.version(package),
            package,
        )
    # the allow-list still decides what loads
    assert set(listed(TEAMPULSE_PLUGINS="shifts,jira")) == {"shifts", "jira"}
    text = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "plugins"],
        env=env_with(folder, TEAMPULSE_PLUGINS="shifts"), capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert text == "shifts 1.2.3 (tp-shifts)\n  hooks: register_sources\n  sources: shifts\n"


def test_a_plugin_registered_without_a_distribution_has_no_version() -> None:
    @hookimpl
    def register_sources(register: RegisterSource) -> None:
        register(SourceKind(name="static", create=lambda cfg: None))  # type: ignore[arg-type,return-value]

    (info,) = plugin_list(_pm(_module("tp_static", register_sources=register_sources)))
    assert (info.name, info.version, info.package) == ("tp_static", None, None)


def _registers(name: str, kind: str, **opts: bool) -> ModuleType:
    @hookimpl(**opts)
    def register_sources(register: RegisterSource) -> None:
        register(SourceKind(name=kind, create=lambda cfg: None))  # type: ignore[arg-type,return-value]

    return _module(name, register_sources=register_sources)


def test_hooks_are_called_through_pluggy() -> None:
    calls: list[tuple[str, list[str]]] = []
    pm = _pm(_registers("one", "a"), _registers("two", "b"))
    undo = pm.add_hookcall_monitoring(
        lambda hook, impls, kwargs: calls.append((hook, [i.plugin_name for i in impls])),
        lambda outcome, hook, impls, kwargs: None,
    )
    try:
        registry = load_registry(pm)
    finally:
        undo()
    # one call of the hook per plugin, each through pluggy's own calling, in pluggy's order
    assert calls == [("register_sources", ["two"]), ("register_sources", ["one"])]
    assert registry.owners == {"sources:a": "one", "sources:b": "two"}


def test_duplicates_name_both_plugins_in_pluggys_call_order() -> None:
    # pluggy calls the last registered first, unless an implementation asks for tryfirst
    with pytest.raises(TeampulseError) as plain:
        load_registry(_pm(_registers("one", "jira"), _registers("two", "jira")))
    assert str(plain.value) == "plugin one: sources kind 'jira' is already registered by two"
    with pytest.raises(TeampulseError) as first:
        load_registry(_pm(_registers("one", "jira", tryfirst=True), _registers("two", "jira")))
    assert str(first.value) == "plugin two: sources kind 'jira' is already registered by one"


@pytest.mark.parametrize(
    ("error", "message"),
    [(KeyError("url"), "KeyError: 'url'"), (TeampulseError("no url"), "TeampulseError: no url")],
)
def test_a_hook_that_raises_names_its_plugin(error: Exception, message: str) -> None:
    @hookimpl
    def register_notifiers(register: RegisterNotifier) -> None:
        raise error

    with pytest.raises(TeampulseError) as raised:
        load_registry(
            _pm(_registers("fine", "a"), _module("tp_broken", register_notifiers=register_notifiers))
        )
    assert str(raised.value) == f"plugin tp_broken: register_notifiers: {message}"


def _signal_plugin(*signals: SignalKind) -> ModuleType:
    @hookimpl
    def register_signals(register: RegisterSignal) -> None:
        for s in signals:
            register(s)

    return _module("tp_signal", register_signals=register_signals)


def _ctx_compute(team: str, facts: Mapping[str, float], ctx: SignalContext) -> float | None:
    return None


@pytest.mark.parametrize(
    ("signal", "message"),
    [
        (
            SignalKind("pages", "suport", 0.1, _ctx_compute),
            "side must be one of pressure, support, got 'suport'",
        ),
        (SignalKind("pages", "support", 0.0, _ctx_compute), "weight must be a positive number, got 0.0"),
        (
            SignalKind("pages", "support", float("nan"), _ctx_compute),
            "weight must be a positive number, got nan",
        ),
        (SignalKind("pages", "support", True, _ctx_compute), "weight must be a positive number, got True"),
        (SignalKind("survey", "support", 0.1, _ctx_compute), "the name of a built-in component"),
        (SignalKind("wip_per_person", "pressure", 0.1, _ctx_compute), "the name of a built-in component"),
        (
            SignalKind("pages", "pressure", 0.1, lambda team: 1.0),  # type: ignore[arg-type,misc]
            "compute must take (team, facts, ctx) or (team, facts)",
        ),
        (
            SignalKind("pages", "pressure", 0.1, _ctx_compute, source="pager"),
            "reads source kind 'pager', which no loaded plugin registers",
        ),
    ],
)
def test_a_signal_the_engine_would_misread_stops_loading(signal: SignalKind, message: str) -> None:
    with pytest.raises(TeampulseError) as err:
        load_registry(_pm(_signal_plugin(signal)))
    assert str(err.value).startswith("plugin tp_signal: signal ")
    assert str(err.value).endswith(message)


def test_signals_of_either_signature_and_side_register() -> None:
    signals = [
        SignalKind("old_style", "pressure", 0.1, lambda team, facts: 0.5),
        SignalKind("with_context", "support", 0.2, _ctx_compute, source="pager"),
        SignalKind("optional_context", "support", 0.2, lambda team, facts, ctx=None: 0.5),
    ]
    registry = load_registry(_pm(_registers("tp_pager", "pager"), _signal_plugin(*signals)))
    assert list(registry.signals) == ["old_style", "with_context", "optional_context"]
    assert takes_context(signals[0].compute) is False
    assert takes_context(signals[1].compute) is True
    assert takes_context(signals[2].compute) is True
