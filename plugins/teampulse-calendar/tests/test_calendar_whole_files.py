"""A calendar is used only whole, and a glob that finds nothing is reported, never silent.

A file cut short (no END:VCALENDAR) or with a BEGIN and END that do not match would replace
what the person's calendar said before with what survived; a `paths` glob that matches no
file would let the run look healthy while nothing is read.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import teampulse_calendar
from teampulse_calendar.parse import parse_calendar, structure_problem

from teampulse import PluginConfig, SourceError

DATA = Path(__file__).parent / "data"
KEY = "test-key-0123456789abcdef"


def _source(base: Path, *paths: str):  # type: ignore[no-untyped-def]
    return teampulse_calendar.create_ics(
        PluginConfig("calendars", "sources", {"plugin": "ics", "paths": list(paths)}, base)
    )


def _cut(text: str, before: str) -> str:
    """Return `text` cut short at the last line starting with `before`, as a failed copy leaves it."""
    return text[: text.rindex("\n" + before) + 1]


def test_a_glob_matching_nothing_fails_the_source_naming_the_glob(new_ctx, tmp_path: Path) -> None:
    source = _source(tmp_path, "calendars/*.ics", "people/bob@example.com.ics")
    ctx = new_ctx()
    with pytest.raises(SourceError) as err:
        list(source.collect(ctx))
    assert str(err.value) == (
        'paths "calendars/*.ics", "people/<e-mail>.ics": no file matches; no calendar read'
    )
    assert ctx.problems == []


def test_a_glob_matching_nothing_beside_others_is_a_problem(new_ctx, collect, tmp_path: Path) -> None:
    shutil.copytree(DATA / "team", tmp_path / "team")
    batches, ctx = collect(_source(tmp_path, "team/*.ics", "tema/*.ics"), new_ctx())
    assert ctx.problems == ['paths "tema/*.ics": no file matches']
    assert len(batches) == 3  # bob, chen, maria go on


@pytest.mark.parametrize(
    ("before", "problem"),
    [
        ("END:VCALENDAR", "line 1: BEGIN:VCALENDAR never ends (no END:VCALENDAR: the file is cut short?)"),
        ("END:VEVENT", "BEGIN:VEVENT never ends"),
    ],
)
def test_a_calendar_cut_short_replaces_nothing(
    new_ctx, collect, tmp_path: Path, before: str, problem: str
) -> None:
    shutil.copytree(DATA / "team", tmp_path / "team")
    chen = tmp_path / "team" / "chen@example.com.ics"
    chen.write_text(_cut(chen.read_text(), before))
    batches, ctx = collect(_source(tmp_path, "team/*.ics"), new_ctx())
    # chen's is the 2nd file (bob, chen, maria): named by position, never by address
    [message] = ctx.problems
    assert message.startswith("calendar #2 (team/*.ics): line ")
    assert problem in message
    assert message.endswith("; the calendar is not used (what it said before is kept)")
    # no batch for chen, so no SignalsReplaced deletes what chen's calendar said before
    owners = {e.owner for events in batches for e in events}
    assert owners == {"bob@example.com", "maria@example.com"}


def test_an_end_that_names_another_component_is_a_problem() -> None:
    text = (DATA / "team" / "bob@example.com.ics").read_text()
    broken = text.replace("END:VEVENT", "END:VTODO", 1)
    line = broken.splitlines().index("END:VTODO") + 1
    problems: list[str] = []
    assert parse_calendar(broken, problems.append) is None
    assert problems == [
        f"line {line}: END:VTODO does not match BEGIN:VEVENT of line 6; "
        "the calendar is not used (what it said before is kept)"
    ]


def test_structure_ignores_folded_lines_and_case() -> None:
    text = (
        "begin:vcalendar\r\nBEGIN:VEVENT\r\nDESCRIPTION:a long text that folds\r\n"
        " END:VEVENT\r\nDTSTART:20260316T100000Z\r\nEnd:VEvent\r\nEND:VCALENDAR\r\n"
    )
    assert structure_problem(text) is None


def test_the_real_calendars_of_the_corpus_keep_their_structure(corpus: Path) -> None:
    # Only files the corpus keeps because they are cut short, misspell an END, are fuzzed
    # or nest components where RFC 5545 does not put them fail the check.
    failing = sorted(
        p.name
        for p in corpus.rglob("*.ics")
        if structure_problem(p.read_bytes().decode("utf-8-sig", errors="replace"))
    )
    assert failing == [
        "fuzzing__corpus__Index_Error.ics",  # fuzzed: an END of no name
        "fuzzing__corpus__Type_Error.ics",  # fuzzed: an END of no name
        "fuzzing__corpus__timezone_same_start_and_offset.ics",  # END:VCALENDARD
        "issue_201_test_matrix.ics",  # END:VTOOD
        "tests__calendars__big_bad_calendar.ics",  # cut short
        "tests__calendars__empty_RDATE.ics",  # a DAYLIGHT outside any VTIMEZONE
        "tests__calendars__fuzz_testcase_0_char_in_component_name.ics",  # fuzzed
        "tests__calendars__fuzz_testcase_invalid_month.ics",  # fuzzed
        "tests__calendars__issue_178_custom_component_contains_other.ics",  # a VEVENT in an X- component
        "tests__calendars__pr_480_summary_with_colon.ics",  # cut short
        "tests__calendars__small_bad_calendar.ics",  # cut short
        "tests__calendars__timezone_same_start_and_offset.ics",  # END:VCALENDARD
    ]


# ---- through `teampulse collect`, as a user runs it ----

CONFIG = """
[settings]
state = "state.db"

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"]

[sources.calendars]
plugin = "ics"
paths = ["calendars/*.ics"]

[sources.pulse]
plugin = "survey-csv"
paths = ["pulse.csv"]
[sources.pulse.questions]
q_support = "support"
"""


def _collect(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "collect", "--config", str(folder / "teampulse.toml"),
         "--as-of", "2026-03-16T12:00:00Z", "--quiet"],
        capture_output=True, text=True, env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY), timeout=120,
    )  # fmt: skip


def _stored(folder: Path) -> dict[str, int]:
    """Return the number of stored calendar signals per owner (pseudonymised)."""
    with sqlite3.connect(folder / "state.db") as db:
        rows = db.execute(
            "SELECT owner, COUNT(*) FROM signals WHERE source = 'calendars' GROUP BY owner"
        ).fetchall()
    return {str(owner): int(n) for owner, n in rows}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "teampulse.toml").write_text(CONFIG)
    (tmp_path / "pulse.csv").write_text("submitted_at,team,q_support\n2026-03-12T09:00:00Z,payments,4\n")
    return tmp_path


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("teampulse: error:")]


def test_collect_with_a_glob_matching_nothing_exits_1_and_says_so_once(folder: Path) -> None:
    result = _collect(folder)
    assert result.returncode == 1, result.stderr
    assert _lines(result.stderr) == [
        'teampulse: error: source calendars: paths "calendars/*.ics": no file matches; no calendar read'
    ]
    assert result.stderr.count("no file matches") == 1
    assert 'teampulse_source_up{source="calendars"} 0.0' in result.stdout
    assert 'teampulse_source_up{source="pulse"} 1.0' in result.stdout


def test_collect_keeps_what_a_calendar_cut_short_said_before(folder: Path) -> None:
    shutil.copytree(DATA / "team", folder / "calendars")
    first = _collect(folder)
    assert first.returncode == 0, first.stderr
    before = _stored(folder)
    assert len(before) == 3 and all(before.values())

    chen = folder / "calendars" / "chen@example.com.ics"
    chen.write_text(_cut(chen.read_text(), "BEGIN:VEVENT"))  # cut off in the middle of the file
    second = _collect(folder)
    assert second.returncode == 1, second.stderr
    [line] = _lines(second.stderr)
    assert line.startswith("teampulse: error: source calendars: calendar #2 (calendars/*.ics): line 1: ")
    assert "BEGIN:VCALENDAR never ends" in line and "what it said before is kept" in line
    assert second.stderr.count("never ends") == 1
    assert "@" not in second.stderr
    assert _stored(folder) == before  # chen's signals are all still there
    assert 'teampulse_source_problems{source="calendars"} 1.0' in second.stdout
