"""The plugin system: entry points, the allow-list, check_pending, `teampulse plugins`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pluggy
import pytest

from teampulse import SignalKind, SourceKind, hookimpl, hookspecs
from teampulse.errors import TeampulseError
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
