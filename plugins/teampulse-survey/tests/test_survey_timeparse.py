"""Submission times as survey tools export them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from teampulse_survey.timeparse import parse_submitted

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ISO 8601, with and without an offset; Typeform's UTC "Submitted At"
        ("2026-03-15T10:12:44Z", datetime(2026, 3, 15, 10, 12, 44)),
        ("2026-03-15T10:12:44+01:00", datetime(2026, 3, 15, 9, 12, 44)),
        ("2026-03-15 10:12:44", datetime(2026, 3, 15, 10, 12, 44)),
        ("2026-03-15", datetime(2026, 3, 15)),
        # Google Forms' download
        ("2026/03/15 10:12:44 AM GMT+1", datetime(2026, 3, 15, 9, 12, 44)),
        ("2026/03/15 12:05:00 AM GMT+1", datetime(2026, 3, 14, 23, 5)),
        ("2026/03/15 12:05:00 PM GMT", datetime(2026, 3, 15, 12, 5)),
        ("2026/03/15 1:05:00 PM GMT-5", datetime(2026, 3, 15, 18, 5)),
        ("2026/03/15 1:05:00 PM GMT+5:30", datetime(2026, 3, 15, 7, 35)),
        # Google Sheets (US), Microsoft Forms
        ("3/15/2026 10:12:44", datetime(2026, 3, 15, 10, 12, 44)),
        ("3/15/26 10:12:44", datetime(2026, 3, 15, 10, 12, 44)),
        ("3/15/26 10:12", datetime(2026, 3, 15, 10, 12)),
        ("3/15/2026 10:12:44 PM", datetime(2026, 3, 15, 22, 12, 44)),
        ("  3/15/2026\n10:12:44 ", datetime(2026, 3, 15, 10, 12, 44)),
    ],
)
def test_survey_time_formats(text: str, expected: datetime) -> None:
    assert parse_submitted(text, UTC) == expected.replace(tzinfo=UTC)


def test_survey_naive_times_take_the_default_zone() -> None:
    assert parse_submitted("3/15/26 10:12:44", BERLIN) == datetime(2026, 3, 15, 9, 12, 44, tzinfo=UTC)
    # An explicit offset wins over the default.
    assert parse_submitted("2026/03/15 10:12:44 AM GMT+2", BERLIN) == datetime(
        2026, 3, 15, 8, 12, 44, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text", ["", "yesterday", "15/03/2026 10:12:44", "2026/03/15 13:00:00 PM", "2026/03/15 10:00 GMT+25"]
)
def test_survey_bad_times_raise(text: str) -> None:
    with pytest.raises(ValueError):
        parse_submitted(text, UTC)


def test_survey_time_format_replaces_the_defaults() -> None:
    assert parse_submitted("15.03.2026 10:12", UTC, ["%d.%m.%Y %H:%M"]) == datetime(
        2026, 3, 15, 10, 12, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        parse_submitted("2026-03-15T10:12:44Z", UTC, ["%d.%m.%Y %H:%M"])
