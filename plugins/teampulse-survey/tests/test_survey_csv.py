"""survey-csv: real-looking exports, exact scores, stable ids, problems with file and line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from teampulse import ConfigError, PersonSignal, PluginConfig, SourceError, TeamInfo
from teampulse.testing import NOW, RecordingContext

CollectCsv = Callable[..., tuple[list[PersonSignal], list[str]]]

DATA = Path(__file__).parent / "data"
OWN = {"q_support": "support", "q_wellbeing": "wellbeing", "q_workload": "workload"}
GOOGLE: dict[str, Any] = {
    "paths": ["google-forms.csv"],
    "team_column": "Which team are you on?",
    "questions": {
        "I feel supported by my manager": "support",
        "How is your wellbeing this week?": "wellbeing",
        "How manageable is your workload? (5 = far too much)": "workload",
    },
    "invert": ["workload"],
}
MICROSOFT: dict[str, Any] = {
    "paths": ["microsoft-forms.csv"],
    "team_column": "Team",
    "questions": {"Support": "support", "Wellbeing": "wellbeing", "Workload": "workload"},
    "invert": ["workload"],
}
TYPEFORM: dict[str, Any] = {
    "paths": ["typeform.csv"],
    "scale": [0, 10],
    "id_column": "#",
    "team_column": "What team are you on?",
    "questions": {
        "How likely are you to recommend your team as a place to work?": "engagement",
        "How supported do you feel this week?": "support",
    },
}
# Words from the free-text columns of the fixtures: none may reach an event.
COMMENTS = (
    "Deadline",
    "Maria",
    "Bob",
    "Chen",
    "Fridays",
    "priorities",
    "typo",
    "sprint",
    "pages",
    "anonymous",
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def summary(events: list[PersonSignal]) -> list[tuple[str | None, datetime, dict[str, float]]]:
    for ev in events:
        assert ev.kind == "survey_response" and ev.person is None and ev.people == ()
        assert ev.start == ev.end and ev.start.tzinfo is not None
        assert set(ev.attrs) == {"scores"}
    return [(ev.team, ev.start, dict(ev.attrs["scores"])) for ev in events]


def assert_no_comments(events: list[PersonSignal]) -> None:
    text = repr(events)
    for word in COMMENTS:
        assert word not in text


def test_survey_google_forms_export(collect_csv: CollectCsv) -> None:
    events, problems = collect_csv(GOOGLE)
    assert problems == []
    assert summary(events) == [
        ("payments", utc(2026, 3, 9, 8, 2, 11), {"support": 0.75, "wellbeing": 1.0, "workload": 0.75}),
        ("search", utc(2026, 3, 9, 12, 15, 40), {"support": 0.5, "wellbeing": 0.5, "workload": 0.25}),
        ("payments", utc(2026, 3, 10, 9, 0, 3), {"support": 1.0, "wellbeing": 0.75, "workload": 1.0}),
        # An unanswered question leaves its dimension out of that response.
        ("payments", utc(2026, 3, 10, 15, 45, 0), {"support": 0.25, "workload": 0.0}),
    ]
    assert_no_comments(events)


def test_survey_microsoft_forms_export_with_bom_crlf_and_multiline_comment(collect_csv: CollectCsv) -> None:
    raw = (DATA / "microsoft-forms.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n1) more" in raw
    events, problems = collect_csv(MICROSOFT)
    assert summary(events) == [
        ("payments", utc(2026, 3, 9, 10, 3, 40), {"support": 0.75, "wellbeing": 0.75, "workload": 0.5}),
        ("payments", utc(2026, 3, 9, 11, 22, 10), {"support": 1.0, "wellbeing": 0.5, "workload": 0.25}),
        ("search", utc(2026, 3, 10, 9, 1, 30), {"support": 0.5, "wellbeing": 0.75, "workload": 0.75}),
    ]
    # The 4th response starts on line 7: the 2nd one's comment spans lines 3 to 5.
    assert problems == ["microsoft-forms.csv: line 7: column Support: is outside the scale 1..5"]
    assert_no_comments(events)


def test_survey_microsoft_forms_naive_times_in_the_configured_zone(collect_csv: CollectCsv) -> None:
    events, _ = collect_csv(MICROSOFT | {"timezone": "Europe/Berlin"})
    assert [ev.start for ev in events] == [
        utc(2026, 3, 9, 9, 3, 40),
        utc(2026, 3, 9, 10, 22, 10),
        utc(2026, 3, 10, 8, 1, 30),
    ]


def test_survey_typeform_export_with_its_response_id(collect_csv: CollectCsv) -> None:
    events, problems = collect_csv(TYPEFORM)
    assert problems == []
    assert summary(events) == [
        ("payments", utc(2026, 3, 11, 8, 2, 44), {"engagement": 0.9, "support": 0.8}),
        ("search", utc(2026, 3, 11, 9, 12, 30), {"engagement": 0.6, "support": 0.5}),
        ("payments", utc(2026, 3, 12, 22, 41, 5), {"engagement": 1.0}),
    ]
    assert all(ev.id.startswith("csv|id|") for ev in events)
    # The tool's response token is hashed, not kept.
    assert "a1b2c3d4" not in repr(events)
    assert "7f3e2a1b9c" not in repr(events)  # Network ID
    assert_no_comments(events)


def test_survey_rows_with_problems_are_skipped_with_file_and_line(collect_csv: CollectCsv) -> None:
    events, problems = collect_csv({"paths": ["problems.csv"], "questions": OWN, "invert": ["workload"]})
    assert problems == [
        "problems.csv: line 3: column q_support: is outside the scale 1..5",
        # line 4's comment runs over lines 4 and 5
        "problems.csv: line 6: column q_wellbeing: is not a number on the scale 1..5",
        "problems.csv: line 7: column team: not a configured team",
        "problems.csv: line 8: column submitted_at: is not a known time format (set time_format)",
        "problems.csv: line 9: column q_wellbeing: is missing (the row has 3 cells)",
        "problems.csv: line 12: no configured question is answered",
    ]
    assert summary(events) == [
        ("payments", utc(2026, 3, 12, 9), {"support": 0.75, "wellbeing": 0.75, "workload": 0.75}),
        ("payments", utc(2026, 3, 12, 9, 10), {"support": 0.5, "wellbeing": 0.75, "workload": 0.75}),
        # naive: UTC; the team matched whatever its case
        ("payments", utc(2026, 3, 12, 10), {"support": 1.0, "wellbeing": 1.0, "workload": 1.0}),
        ("payments", utc(2026, 3, 12, 9, 10), {"support": 0.875, "wellbeing": 0.75, "workload": 0.75}),
    ]
    # The last one was submitted at the same instant as the second: both count.
    assert len({ev.id for ev in events}) == 4
    assert "marketing" not in " ".join(problems) and "secret" not in repr(events)


def test_survey_reading_again_gives_the_same_ids(collect_csv: CollectCsv, tmp_path: Path) -> None:
    first, _ = collect_csv(GOOGLE)
    again, _ = collect_csv(GOOGLE)
    assert [ev.id for ev in first] == [ev.id for ev in again]
    # The next export of the same form holds the same rows and more, under another name.
    text = (DATA / "google-forms.csv").read_text()
    later = text + '"2026/03/11 8:00:00 AM GMT+1","Search","5","5","1",""\n'
    (tmp_path / "export-2026-03-11.csv").write_text(later)
    events, problems = collect_csv(GOOGLE | {"paths": ["export-*.csv"]}, base=tmp_path)
    assert problems == []
    assert [ev.id for ev in events[:4]] == [ev.id for ev in first]
    assert len({ev.id for ev in events}) == 5
    # Both exports in the glob: every response is still one id.
    shutil.copy(DATA / "google-forms.csv", tmp_path / "export-2026-03-10.csv")
    events, _ = collect_csv(GOOGLE | {"paths": ["export-*.csv"]}, base=tmp_path)
    assert len(events) == 9 and len({ev.id for ev in events}) == 5


def test_survey_identical_rows_both_count(collect_csv: CollectCsv, tmp_path: Path) -> None:
    row = "2026-03-12T09:00:00Z,payments,4,4,2\n"
    (tmp_path / "s.csv").write_text("submitted_at,team,q_support,q_wellbeing,q_workload\n" + row * 3)
    events, problems = collect_csv({"paths": ["s.csv"], "questions": OWN}, base=tmp_path)
    assert problems == []
    assert [ev.id for ev in events] == [
        "csv|2026-03-12T09:00:00+00:00|payments|0",
        "csv|2026-03-12T09:00:00+00:00|payments|1",
        "csv|2026-03-12T09:00:00+00:00|payments|2",
    ]


def test_survey_ids_do_not_change_with_the_questions(collect_csv: CollectCsv) -> None:
    before, _ = collect_csv(GOOGLE)
    questions: dict[str, str] = dict(GOOGLE["questions"])
    del questions["How is your wellbeing this week?"]
    after, _ = collect_csv(GOOGLE | {"questions": questions})
    assert [ev.id for ev in before] == [ev.id for ev in after]


def test_survey_questions_on_one_dimension_are_averaged(collect_csv: CollectCsv, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(
        "submitted_at,team,q1,q2,q3,load\n2026-03-12T09:00:00Z,search,5,2,,4\n2026-03-12T09:01:00Z,search,1,,,\n"
    )
    options = {
        "paths": ["s.csv"],
        "questions": {"q1": "support", "q2": "support", "q3": "support", "load": "workload"},
        "invert": ["workload"],
    }
    events, problems = collect_csv(options, base=tmp_path)
    assert problems == []
    assert [dict(ev.attrs["scores"]) for ev in events] == [
        {"support": (1.0 + 0.25) / 2, "workload": 0.25},
        {"support": 0.0},
    ]


def test_survey_fixed_team_semicolons_and_a_time_format(collect_csv: CollectCsv, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("When;Support\n15.03.2026 10:12;4\n")
    options = {
        "paths": ["s.csv"],
        "team": "search",
        "submitted_at_column": "When",
        "time_format": "%d.%m.%Y %H:%M",
        "timezone": "Europe/Berlin",
        "questions": {"support": "support"},
    }
    events, problems = collect_csv(options, base=tmp_path)
    assert problems == []
    assert summary(events) == [("search", utc(2026, 3, 15, 9, 12), {"support": 0.75})]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "s.csv: is empty (no header line)"),
        (b"submitted_at,team,q_support\n", "s.csv: lacks the column(s) q_wellbeing, q_workload"),
        (
            b"when,team,q_support,q_wellbeing,q_workload\n",
            "s.csv: lacks the column(s) a time column (submitted_at, Timestamp, Completion time, "
            "Submitted At, Submit Date (UTC); or set submitted_at_column)",
        ),
        (b"submitted_at,team,q_support\xff\n", "s.csv: is not utf-8-sig text (set encoding)"),
        (b"PK\x03\x04\x00\x00binary", "s.csv: is not a CSV file (it holds binary data)"),
        (
            b"submitted_at,team,team,q_support,q_wellbeing,q_workload\n",
            "s.csv: has the column team more than once",
        ),
    ],
)
def test_survey_unusable_file_is_one_problem(
    collect_csv: CollectCsv, tmp_path: Path, content: bytes, message: str
) -> None:
    (tmp_path / "s.csv").write_bytes(content)
    (tmp_path / "t.csv").write_text(
        "submitted_at,team,q_support,q_wellbeing,q_workload\n2026-03-12,search,3,3,3\n"
    )
    events, problems = collect_csv({"paths": ["*.csv"], "questions": OWN}, base=tmp_path)
    assert problems == [message]
    assert len(events) == 1  # the other file goes on


def test_survey_glob_without_files_is_a_problem(collect_csv: CollectCsv, tmp_path: Path) -> None:
    events, problems = collect_csv({"paths": ["surveys/*.csv"], "questions": OWN}, base=tmp_path)
    assert events == [] and problems == ['paths "surveys/*.csv": no file matches']


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "sources.pulse.paths: is required"),
        ({"paths": ["a.csv"]}, "sources.pulse.questions: is required (a table of question -> dimension)"),
        ({"scale": [5, 1]}, "sources.pulse.scale: the lowest answer must be below the highest"),
        ({"scale": [1]}, "sources.pulse.scale: must be two numbers [lowest, highest], e.g. [1, 5]"),
        (
            {"questions": {"q": "Support Score"}},
            "sources.pulse.questions.q: must be a dimension name of lower-case letters, digits and _ (e.g. support)",
        ),
        ({"invert": ["stress"]}, "sources.pulse.invert: names no configured dimension: stress"),
        ({"timezone": "Mars/Olympus"}, "sources.pulse.timezone: unknown time zone 'Mars/Olympus'"),
        ({"encoding": "klingon"}, "sources.pulse.encoding: unknown encoding 'klingon'"),
        ({"colums": {}}, "sources.pulse.colums: unknown key"),
    ],
)
def test_survey_csv_config_errors_name_the_key(options: dict[str, Any], message: str) -> None:
    from teampulse_survey import create_csv

    base = {"paths": ["a.csv"], "questions": {"q": "support"}}
    if "paths" not in options and options:
        options = base | options
    with pytest.raises(ConfigError) as err:
        create_csv(PluginConfig("pulse", "sources", options, DATA))
    assert str(err.value).startswith(message)


def test_survey_broken_quoting_stops_the_file_with_a_problem(collect_csv: CollectCsv, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text(
        "submitted_at,team,q_support,q_wellbeing,q_workload,comment\n"
        "2026-03-12T09:00:00Z,payments,4,4,2,fine\n"
        '2026-03-12T09:01:00Z,payments,4,4,2,"never closed\n'
        "2026-03-12T09:02:00Z,payments,4,4,2,swallowed\n"
    )
    events, problems = collect_csv({"paths": ["s.csv"], "questions": OWN}, base=tmp_path)
    assert len(events) == 1
    assert problems == [
        "s.csv: line 3: not valid CSV (unexpected end of data); the rest of the file is skipped"
    ]


def test_survey_fixed_team_must_be_configured(collect_csv: CollectCsv, tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("submitted_at,q\n2026-03-12,3\n")
    with pytest.raises(SourceError, match="team 'marketing' is not a configured team"):
        collect_csv({"paths": ["s.csv"], "team": "marketing", "questions": {"q": "support"}}, base=tmp_path)


def test_survey_config_folder_with_glob_characters(collect_csv: CollectCsv, tmp_path: Path) -> None:
    base = tmp_path / "team [pulse]"
    (base / "surveys").mkdir(parents=True)
    (base / "surveys" / "s.csv").write_text("submitted_at,team,q\n2026-03-12,Search,3\n")
    events, problems = collect_csv({"paths": ["surveys/*.csv"], "questions": {"q": "support"}}, base=base)
    assert problems == [] and [ev.team for ev in events] == ["search"]


HERE = (
    TeamInfo("payments", "maria@example.com", ("bob@example.com",)),
    TeamInfo("search", "sam@example.com", ()),
)


def _collect_here(options: dict[str, Any], base: Path, elsewhere: tuple[str, ...]) -> RecordingContext:
    """Collect once as an instance that serves payments and search, with `elsewhere` served by others."""
    from teampulse_survey import create_csv

    source = create_csv(PluginConfig("pulse", "sources", options, base))
    ctx = RecordingContext(HERE, None, NOW, name="pulse", elsewhere=elsewhere)
    ctx.events = [ev for batch in source.collect(ctx) for ev in batch.events]  # type: ignore[attr-defined]
    return ctx


def test_survey_rows_of_teams_another_shard_serves_are_its_own_not_problems(tmp_path: Path) -> None:
    # One export for the whole organisation, read by every shard: each keeps its teams' rows.
    (tmp_path / "s.csv").write_text(
        "submitted_at,team,q_support,q_wellbeing,q_workload\n"
        "2026-03-12T10:00:00Z,payments,4,4,2\n"
        "2026-03-12T10:01:00Z,Mobile,2,2,5\n"
        "2026-03-12T10:02:00Z,marketing,3,3,3\n"
        "2026-03-12T10:03:00Z,search,5,5,1\n"
    )
    options = {"paths": ["s.csv"], "questions": OWN}
    ctx = _collect_here(options, tmp_path, elsewhere=("mobile",))
    assert [ev.team for ev in ctx.events] == ["payments", "search"]  # type: ignore[attr-defined]
    # the team no instance serves is still bad input; mobile's row is not
    assert ctx.problems == ["s.csv: line 4: column team: not a configured team"]
    assert ctx.progress_messages == ["s.csv: 2 responses, 1 for teams another instance serves"]
    # without shards, mobile is unknown like marketing
    alone = _collect_here(options, tmp_path, elsewhere=())
    assert len(alone.problems) == 2


def test_survey_fixed_team_served_by_another_shard_reads_nothing(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("submitted_at,q\n2026-03-12,3\n")
    options = {"paths": ["s.csv"], "team": "Mobile", "questions": {"q": "support"}}
    ctx = _collect_here(options, tmp_path, elsewhere=("mobile",))
    assert ctx.events == [] and ctx.problems == []  # type: ignore[attr-defined]
    assert ctx.progress_messages == ["team 'Mobile' is served by another instance: nothing to read"]
