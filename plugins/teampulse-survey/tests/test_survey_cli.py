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
    assert "surveys/march.csv: line 3: column q_support: 7 is outside the scale 1..5" in first.stderr
    assert 'teampulse_source_problems{source="pulse"} 6.0' in first.stdout
    assert 'teampulse_survey_responses{team="payments"} 4.0' in first.stdout
    assert 'teampulse_survey_score_ratio{dimension="support",team="payments"} 0.78125' in first.stdout
    # Collecting the same file again stores nothing twice.
    again = collect(tmp_path)
    assert 'teampulse_survey_responses{team="payments"} 4.0' in again.stdout
    for text in (first.stdout, first.stderr):
        assert "secret-team-comment" not in text and "marketing" not in text
