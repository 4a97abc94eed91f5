"""The caldav kind against a real Radicale: the same signals as from the files."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

# `make test` installs the caldav extra and radicale: a missing one fails here, never skips.
import caldav
import icalendar
import pytest
import radicale as radicale_server  # noqa: F401
import teampulse_calendar

from teampulse import ConfigError, PluginConfig, SourceError

DATA = Path(__file__).parent / "data"
PEOPLE = ("maria@example.com", "chen@example.com")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"radicale exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("radicale did not start")


def _resources(text: str) -> list[str]:
    """Split a calendar file into one VCALENDAR per UID, as a CalDAV server keeps them."""
    cal = icalendar.Calendar.from_ical(text)
    by_uid: dict[str, list] = {}
    for event in cal.walk("VEVENT"):
        by_uid.setdefault(str(event["UID"]), []).append(event)
    out = []
    for events in by_uid.values():
        one = icalendar.Calendar()
        for key in ("VERSION", "PRODID", "X-WR-TIMEZONE"):
            if key in cal:
                one[key] = cal[key]
        for tz in cal.walk("VTIMEZONE"):
            one.add_component(tz)
        for event in events:
            one.add_component(event)
        out.append(one.to_ical().decode())
    return out


@pytest.fixture(scope="module")
def radicale(tmp_path_factory):
    root = tmp_path_factory.mktemp("radicale")
    port = _free_port()
    conf = root / "config"
    conf.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        "[auth]\ntype = none\n"
        f"[storage]\nfilesystem_folder = {root / 'collections'}\n"
        "[logging]\nlevel = warning\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(port, proc)
        url = f"http://127.0.0.1:{port}/"
        client = caldav.DAVClient(url=url, username="teampulse", password="x")
        principal = client.principal()
        for person in PEOPLE:
            local = person.split("@")[0]
            cal = principal.make_calendar(name=person, cal_id=local)
            for text in _resources((DATA / "team" / f"{person}.ics").read_text()):
                cal.save_event(text)
        # A calendar that belongs to nobody on the team is left alone.
        principal.make_calendar(name="Holidays", cal_id="holidays")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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
    source = teampulse_calendar.create_caldav(_config(f"http://127.0.0.1:{_free_port()}/", timeout_seconds=2))
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
