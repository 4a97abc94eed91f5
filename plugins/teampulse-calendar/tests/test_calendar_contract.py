"""Both calendar kinds pass the source contract (teampulse.testing): ics on files, caldav on a real Radicale."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from teampulse.testing import SourceContract

DATA = Path(__file__).parent / "data"
# The people's names (CN=...) and the titles the calendars carry: titles are read to classify
# a meeting, and neither is ever kept.
PRIVATE = (
    "Maria Example", "Bob Example", "Chen Example", "Eve Example", "Room Rhine",
    "Birthday party at the pub", "Weekly team sync", "Maria <> Bob 1-1", "Incident review",
)  # fmt: skip
# Dana's calendar on the server: an event in a zone no calendar defines (read as UTC, a problem).
MARS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//teampulse tests//EN
BEGIN:VEVENT
UID:dana-mars
DTSTAMP:20260301T000000Z
DTSTART;TZID=Mars Standard Time:20260318T100000
DTEND;TZID=Mars Standard Time:20260318T101500
SUMMARY:Standup on Mars
END:VEVENT
END:VCALENDAR
"""


class TestIcsContract(SourceContract):
    kind = "ics"
    bad_values = (
        ("days_back", -1),
        ("timezone", "Mars/Olympus"),
        ("max_instances", 0),
        ("urls", {"bob": "X"}),
    )
    private_texts = PRIVATE

    @pytest.fixture
    def options(self, tmp_path: Path) -> dict[str, Any]:
        (tmp_path / "calendars").mkdir()
        for path in (DATA / "team").glob("*.ics"):
            shutil.copy(path, tmp_path / "calendars" / path.name)
        return {"paths": ["calendars/*.ics"]}

    @pytest.fixture
    def break_input(self, options: dict[str, Any], tmp_path: Path) -> str:
        # Dana's calendar sorts third (bob, chen, dana, maria): its broken events are skipped.
        shutil.copy(DATA / "bad" / "dana@example.com.ics", tmp_path / "calendars" / "dana@example.com.ics")
        return "calendar #3 (calendars/*.ics): line 7: DTSTART is invalid"

    def cursor_order(self, cursor: Mapping[str, Any]) -> bool:
        # None until the first collection has read the long history, then {"history": "read"}.
        return cursor.get("history") == "read"


class TestCaldavContract(SourceContract):
    kind = "caldav"
    bad_values = (
        ("url", "cal.example.com/dav"),
        ("calendars", {"maria@example.com": ""}),
        ("days_ahead", -2),
    )
    private_texts = (*PRIVATE, "Standup on Mars")

    @pytest.fixture
    def options(self, radicale: str) -> dict[str, Any]:
        return {"url": radicale, "username": "teampulse"}  # the calendars found by their owners' names

    @pytest.fixture
    def break_input(self, radicale: str) -> Iterator[str]:
        import caldav

        principal = caldav.DAVClient(url=radicale, username="teampulse", password="x").principal()
        calendar = principal.make_calendar(name="dana@example.com", cal_id="dana")
        calendar.save_event(MARS)
        try:
            # Found calendars sort by owner (chen, dana, maria): Dana's is the second.
            yield "calendar #2 (sources.caldav): resource #1: line 6: unknown time zone"
        finally:
            calendar.delete()

    def cursor_order(self, cursor: Mapping[str, Any]) -> bool:
        return cursor.get("history") == "read"
