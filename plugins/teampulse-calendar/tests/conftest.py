"""Shared fixtures of the calendar plugin's tests: a collection context, the team, a real CalDAV server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import find_ics_corpus

from teampulse import PersonSignal, SignalsReplaced, TeamInfo
from teampulse.testing import NOW, RecordingContext, free_port, wait_for_port

DATA = Path(__file__).parent / "data"
TEAM = TeamInfo(
    name="payments",
    manager="maria@example.com",
    members=("bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"),
)
# The calendars the CalDAV server holds: the files of data/team/, one resource per UID.
CALDAV_PEOPLE = ("maria@example.com", "chen@example.com")


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The reference corpus; its absence fails the test (CI has it: nothing is skipped)."""
    found = find_ics_corpus()
    assert found is not None, "plugins/teampulse-calendar/tests/corpus is missing"
    return found


def new_context(**given: Any) -> RecordingContext:
    """Return a context for the team at NOW whose history reaches no further than the source's own window."""
    options: dict[str, Any] = {"teams": [TEAM], "now": NOW, "name": "calendars", "history_from": None}
    options.update(given)
    options["history_from"] = options["history_from"] or options["now"]
    return RecordingContext(**options)


def run(
    source: Any, ctx: RecordingContext | None = None
) -> tuple[list[list[PersonSignal]], RecordingContext]:
    """Collect a source; return the events of each batch and the context."""
    ctx = ctx or new_context()
    batches = []
    for batch in source.collect(ctx):
        if not batch.events:
            # the last batch only says that the long history was read (the first collection's)
            assert batch.cursor == {"history": "read"}
            continue
        assert batch.cursor is None  # every collection reads every calendar afresh
        window, *events = batch.events
        # every calendar read whole replaces what it said before in the store
        assert isinstance(window, SignalsReplaced) and window.kinds == ("meeting", "time_off")
        assert all(isinstance(e, PersonSignal) and e.owner == window.owner for e in events)
        batches.append(events)
    return batches, ctx


# The root tests/conftest.py shadows this module's name for imports, so helpers are fixtures.
@pytest.fixture
def new_ctx() -> Callable[..., RecordingContext]:
    return new_context


@pytest.fixture
def team() -> TeamInfo:
    return TEAM


@pytest.fixture
def collect():
    return run


def _resources(text: str) -> list[str]:
    """Split a calendar file into one VCALENDAR per UID, as a CalDAV server keeps them."""
    import icalendar

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
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Radicale holding CALDAV_PEOPLE's calendars (and one of nobody's); yields its URL."""
    # `make test` installs the caldav extra and radicale: a missing one fails here, never skips.
    import caldav
    import radicale as radicale_server  # noqa: F401

    root = tmp_path_factory.mktemp("radicale")
    port = free_port()
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
        wait_for_port(port, process=proc)
        url = f"http://127.0.0.1:{port}/"
        client = caldav.DAVClient(url=url, username="teampulse", password="x")
        principal = client.principal()
        for person in CALDAV_PEOPLE:
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
