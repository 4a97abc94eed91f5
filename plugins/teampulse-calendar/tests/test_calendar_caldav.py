"""The caldav kind against a real Radicale (the conftest's `radicale`): the same signals as from the files."""

from __future__ import annotations

from pathlib import Path

# `make test` installs the caldav extra and radicale: a missing one fails here, never skips.
import caldav  # noqa: F401
import pytest
import radicale as radicale_server  # noqa: F401
import teampulse_calendar

from teampulse import ConfigError, PluginConfig, SourceError
from teampulse.testing import free_port

DATA = Path(__file__).parent / "data"
PEOPLE = ("maria@example.com", "chen@example.com")  # the calendars the conftest's Radicale holds


def _config(url: str, **options) -> PluginConfig:
    return PluginConfig(
        "team-caldav", "sources", {"plugin": "caldav", "url": url, "username": "teampulse", **options}, DATA
    )


def _file_signals(new_ctx, collect) -> dict[str, list]:
    files = teampulse_calendar.create_ics(
        PluginConfig(
            "calendars", "sources", {"plugin": "ics", "paths": [f"team/{p}.ics" for p in PEOPLE]}, DATA
        )
    )
    batches, ctx = collect(files, new_ctx())
    assert ctx.problems == []
    return _by_owner(batches)


def _by_owner(batches) -> dict[str, list]:
    out = {}
    for events in batches:
        (tz,) = [e for e in events if e.kind == "timezone"]
        out[tz.person] = sorted(events, key=lambda e: e.id)
    return out


def test_discovered_calendars_give_the_same_signals_as_the_files(radicale, new_ctx, collect) -> None:
    source = teampulse_calendar.create_caldav(_config(radicale))
    batches, ctx = collect(source, new_ctx())
    assert ctx.problems == []
    assert _by_owner(batches) == _file_signals(new_ctx, collect)


def test_mapped_calendars_give_the_same_signals_as_the_files(radicale, new_ctx, collect) -> None:
    mapping = {"maria@example.com": "/teampulse/maria/", "chen@example.com": f"{radicale}teampulse/chen/"}
    source = teampulse_calendar.create_caldav(_config(radicale, calendars=mapping))
    batches, ctx = collect(source, new_ctx())
    assert ctx.problems == []
    assert _by_owner(batches) == _file_signals(new_ctx, collect)


def test_a_missing_calendar_is_a_problem_and_the_others_go_on(radicale, new_ctx, collect) -> None:
    mapping = {"maria@example.com": "/teampulse/maria/", "bob@example.com": "/teampulse/nobody/"}
    source = teampulse_calendar.create_caldav(_config(radicale, calendars=mapping))
    batches, ctx = collect(source, new_ctx())
    assert len(batches) == 1
    assert len(ctx.problems) == 1 and ctx.problems[0].startswith(
        "calendar #1 (sources.team-caldav): cannot read"
    )
    assert "@" not in ctx.problems[0]


def test_an_unreachable_server_is_a_source_error(new_ctx) -> None:
    source = teampulse_calendar.create_caldav(_config(f"http://127.0.0.1:{free_port()}/", timeout_seconds=2))
    with pytest.raises(SourceError) as err:
        list(source.collect(new_ctx()))
    assert "127.0.0.1" in str(err.value)


def test_password_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("CALDAV_TEST_PASSWORD", "hunter2")
    source = teampulse_calendar.create_caldav(
        _config("https://cal.example.com/dav/", password_env="CALDAV_TEST_PASSWORD")
    )
    assert source.settings.password == "hunter2" and "hunter2" not in repr(source.settings)
    with pytest.raises(ConfigError):
        teampulse_calendar.create_caldav(
            _config("https://cal.example.com/dav/", password_env="NOT_SET_ANYWHERE")
        )
