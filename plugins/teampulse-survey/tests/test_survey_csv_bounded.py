"""survey-csv: a huge cell costs one row, a broken header one file, a huge file is refused.

csv refuses a field over `csv.field_size_limit()` (128 KiB): once that error dropped the rest
of the file, even for a cell in a column nobody reads.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from teampulse import ConfigError, PersonSignal, PluginConfig

CollectCsv = Callable[..., tuple[list[PersonSignal], list[str]]]
OPTIONS = {"paths": ["*.csv"], "questions": {"q_support": "support"}}
HEAD = "submitted_at,team,q_support,comment\n"
LIMIT = csv.field_size_limit()


def row(day: int, comment: str = "fine") -> str:
    return f"2026-03-{day:02d}T09:00:00Z,payments,4,{comment}\n"


def test_a_cell_over_the_field_limit_is_a_problem_for_its_row_only(
    collect_csv: CollectCsv, tmp_path: Path
) -> None:
    huge = "y" * (LIMIT + 10)
    text = HEAD + row(1) + row(2, huge) + row(3, f'"{huge}\nover two lines"') + row(4) + row(5)
    (tmp_path / "s.csv").write_text(text)
    events, problems = collect_csv(OPTIONS, base=tmp_path)
    assert problems == [
        f"s.csv: line 3: a cell is larger than {LIMIT:,} characters; the row is skipped",
        f"s.csv: line 4: a cell is larger than {LIMIT:,} characters; the row is skipped",
    ]
    assert sorted(e.start.day for e in events) == [1, 4, 5]  # the rest of the file goes on
    assert not any("y" * 20 in p for p in problems)  # never what a cell holds


def test_a_header_cell_over_the_field_limit_is_a_problem_for_that_file_only(
    collect_csv: CollectCsv, tmp_path: Path
) -> None:
    (tmp_path / "a.csv").write_text("submitted_at,team,q_support," + "h" * (LIMIT + 1) + "\n" + row(1))
    (tmp_path / "b.csv").write_text(HEAD + row(2))
    events, problems = collect_csv(OPTIONS, base=tmp_path)
    assert problems == [f"a.csv: line 1: a cell is larger than {LIMIT:,} characters; the file is skipped"]
    assert [e.start.day for e in events] == [2]


def test_a_broken_header_is_a_problem_for_that_file_only(collect_csv: CollectCsv, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('submitted_at,team,"q_support\n' + row(1))
    (tmp_path / "b.csv").write_text(HEAD + row(2))
    events, problems = collect_csv(OPTIONS, base=tmp_path)
    assert problems == ["a.csv: is not valid CSV (line 1)"]
    assert [e.start.day for e in events] == [2]


def test_a_file_over_max_bytes_is_a_problem_and_the_others_go_on(
    collect_csv: CollectCsv, tmp_path: Path
) -> None:
    big = HEAD + "".join(row(1 + i % 28) for i in range(100))
    (tmp_path / "a.csv").write_text(big)
    (tmp_path / "b.csv").write_text(HEAD + row(2))
    events, problems = collect_csv(OPTIONS | {"max_bytes": 2048}, base=tmp_path)
    assert problems == [f"a.csv: is {len(big):,} bytes, more than 2,048 (max_bytes); skipped"]
    assert [e.start.day for e in events] == [2]


def test_max_bytes_defaults_to_50_mib_and_is_validated(collect_csv: CollectCsv) -> None:
    from teampulse_survey import create_csv

    source = create_csv(PluginConfig("pulse", "sources", dict(OPTIONS), Path(".")))
    assert source.settings.max_bytes == 50 * 1024 * 1024
    for value in (0, 1.5, "big"):
        with pytest.raises(ConfigError) as err:
            create_csv(PluginConfig("pulse", "sources", OPTIONS | {"max_bytes": value}, Path(".")))
        assert err.value.key == "sources.pulse.max_bytes"
