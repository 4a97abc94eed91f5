"""survey-csv through `teampulse collect`: scores exported, problems reported, exit 1."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
CONFIG = """
[settings]
state = "state.db"
min_group_size = 3

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"]

[sources.pulse]
plugin = "survey-csv"
paths = ["surveys/*.csv"]
invert = ["workload"]
[sources.pulse.questions]
q_support = "support"
q_wellbeing = "wellbeing"
q_workload = "workload"
"""


def collect(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "teampulse.cli",
            "collect",
            "--config",
            str(tmp_path / "teampulse.toml"),
            "--as-of",
            "2026-03-16T12:00:00Z",
        ],
        env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY="test-key-0123456789abcdef"),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_survey_csv_through_collect(tmp_path: Path) -> None:
    (tmp_path / "teampulse.toml").write_text(CONFIG)
    (tmp_path / "surveys").mkdir()
    shutil.copy(DATA / "problems.csv", tmp_path / "surveys" / "march.csv")
    first = collect(tmp_path)
    assert first.returncode == 1, first.stderr
    assert "surveys/march.csv: line 3: column q_support: is outside the scale 1..5" in first.stderr
    assert 'teampulse_source_problems{source="pulse"} 6.0' in first.stdout
    assert 'teampulse_survey_responses{team="payments"} 4.0' in first.stdout
    assert 'teampulse_survey_score_ratio{dimension="support",team="payments"} 0.78125' in first.stdout
    # Collecting the same file again stores nothing twice.
    again = collect(tmp_path)
    assert 'teampulse_survey_responses{team="payments"} 4.0' in again.stdout
    for text in (first.stdout, first.stderr):
        assert "secret-team-comment" not in text and "marketing" not in text


def test_each_problem_is_printed_once_without_the_cell(tmp_path: Path) -> None:
    (tmp_path / "teampulse.toml").write_text(CONFIG)
    (tmp_path / "surveys").mkdir()
    # Answer cells hold what people typed: a name, a number off the scale, a team nobody has.
    (tmp_path / "surveys" / "march.csv").write_text(
        "submitted_at,team,q_support,q_wellbeing,q_workload\n"
        "2026-03-12T09:00:00Z,payments,Ask Bob Miller,4,2\n"
        "2026-03-12T09:05:00Z,payments,4,17,2\n"
        "2026-03-12T09:10:00Z,Carol's team,4,4,2\n"
        "2026-03-12T09:15:00Z,payments,4,4,2\n"
    )
    result = collect(tmp_path)
    assert result.returncode == 1, result.stderr
    expected = [
        "teampulse: error: source pulse: surveys/march.csv: line 2: column q_support: "
        "is not a number on the scale 1..5",
        "teampulse: error: source pulse: surveys/march.csv: line 3: column q_wellbeing: "
        "is outside the scale 1..5",
        "teampulse: error: source pulse: surveys/march.csv: line 4: column team: not a configured team",
    ]
    lines = result.stderr.splitlines()
    for line in expected:
        assert lines.count(line) == 1, result.stderr
    assert len([line for line in lines if "march.csv: line" in line]) == len(expected), result.stderr
    for secret in ("Bob", "Miller", "17", "Carol"):
        assert secret not in result.stderr
