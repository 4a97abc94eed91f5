"""Every file of the reference corpus yields signals or clear problems, never an exception."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import find_ics_corpus
from teampulse_calendar.config import CommonSettings
from teampulse_calendar.parse import parse_calendar
from teampulse_calendar.signals import calendar_signals

CORPUS = find_ics_corpus()
FILES = sorted(CORPUS.rglob("*.ics")) if CORPUS else []
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
# Files the corpus keeps because they are broken: each must give at least one problem.
BROKEN = {
    "tests__calendars__broken_dtstart.ics",
    "tests__calendars__issue_1081_invalid_rrule_freq.ics",
    "tests__calendars__issue_1081_invalid_start_and_end.ics",
    "tests__calendars__issue_104_broken_calendar.ics",
    "tests__calendars__parsing_error_in_UTC_offset.ics",
    "tests__calendars__fuzz_testcase_invalid_month.ics",
    "tests__calendars__issue_722_missing_VTIMEZONE_custom.ics",
    "bad_rrule_missing_until_event.ics",
}


def _now_for(text: str) -> datetime:
    """Return a moment next to the file's first DTSTART, so its window is not empty."""
    found = re.search(r"DTSTART[^:\r\n]*:(\d{8})", text)
    if found:
        try:
            return datetime.strptime(found.group(1), "%Y%m%d").replace(tzinfo=UTC) + timedelta(
                days=1, hours=12
            )
        except ValueError:
            pass
    return datetime(2026, 3, 16, 12, tzinfo=UTC)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_gives_signals_or_clear_problems(path: Path) -> None:
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    problems: list[str] = []
    parsed = parse_calendar(text, problems.append)
    signals = (
        calendar_signals(
            "owner@example.com", parsed, _now_for(text), CommonSettings(), "UTC", problems.append
        )
        if parsed
        else []
    )
    for message in problems:
        assert "\n" not in message and len(message) < 300
        assert not ADDRESS.search(message), message
    for s in signals:
        assert s.start.tzinfo is not None and s.end >= s.start
        assert s.kind in ("meeting", "time_off", "timezone")
    if path.name in BROKEN:
        assert problems
    if "BEGIN:VEVENT" not in text.upper():
        assert not [s for s in signals if s.kind != "timezone"]


def test_the_corpus_is_there() -> None:
    # The corpus is part of the repository: its absence is a failure, not a skip.
    assert CORPUS is not None, "plugins/teampulse-calendar/tests/corpus is missing"
    assert len(FILES) > 250
