"""The bench runner's own logic: the API minimum, the table, the exposition count, one tiny run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.jira_requests import excess, minimum, per_team
from bench.scrapers import summary
from bench.serving import series
from bench.table import Row, compare, info, render

ROOT = Path(__file__).resolve().parents[2]


def test_minimum_reads_every_team_in_one_search_and_packs_cut_changelogs() -> None:
    least = minimum([250, 0, 100], capped=1500, capped_histories=25_000)
    # 350 issues in pages of 100; 1,500 issues need 2 bulkfetches, 25,000 histories 3 pages.
    assert least.pages == 4
    assert least.bulkfetch == 3
    assert least.total == 4 + 4 + 3
    assert minimum([0], 0, 0).pages == 1  # learning that there is nothing still takes a search


def test_excess_lists_every_endpoint_against_its_minimum_most_past_it_first() -> None:
    least = minimum([100], capped=1, capped_histories=150)
    made = {
        "GET /rest/api/2/search/jql": 1,
        "GET /rest/api/2/user/search": 20,
        "POST /rest/api/3/changelog/bulkfetch": 3,
        "GET /rest/api/2/serverInfo": 1,
    }
    assert excess(made, least) == (
        "user/search 20 (minimum 0); changelog/bulkfetch 3 (minimum 1); search/jql 1 (minimum 1); "
        "serverInfo 1 (minimum 1); field 0 (minimum 1); myself 0 (minimum 1); status 0 (minimum 1)"
    )
    assert per_team({"GET /rest/api/2/search/jql": 40, "GET /rest/api/2/myself": 1}, 20) == (
        "search/jql 2 per team; once: myself 1"
    )


def test_a_target_is_met_or_missed_on_the_ratio_and_the_table_shows_the_cause() -> None:
    met = compare("quiet", 4, "requests", "naive peer", 242, at_most=1 / 50, cause="1 per team")
    missed = compare("full", 144, "requests", "API minimum", 100, at_most=1.02, cause="user/search 40")
    shown = info("wall", 12.5, "s", "10,000 items")
    assert met.met is True and missed.met is False and shown.met is None
    assert missed.ratio == 1.44
    table = render([met, missed, shown])
    lines = table.splitlines()
    assert lines[0].split() == ["case", "figure", "compared", "with", "reference", "ratio", "target", "met"]
    assert "MISSED" in table and "    cause: user/search 40" in table and "    note: 10,000 items" in table
    # One width per column: the targets of both rows start at the same place.
    assert len({line.index("≤") for line in lines if "≤" in line}) == 1


def test_a_row_round_trips_through_json_with_nan_as_null() -> None:
    row = Row("x", float("nan"), "s", reference=2.0)
    data = json.loads(json.dumps(row.to_json()))
    assert data["figure"] is None and Row(**data).reference == 2.0


def test_series_counts_each_teams_series_and_names_the_biggest_families() -> None:
    body = b"\n".join(
        [
            b"# HELP teampulse_a help",
            b'teampulse_a{team="x"} 1',
            b'teampulse_a{team="x",component="wip"} 1',
            b'teampulse_b{team="x"} 2',
            b'teampulse_a{team="y \\"quoted\\""} 1',
            b"teampulse_up 1",
        ]
    )
    counted = series(body)
    assert counted["max"] == 3 and counted["teams"] == 2 and counted["other"] == 1
    assert counted["families"] == {"teampulse_a": 2, "teampulse_b": 1}


def test_latency_summary_takes_the_nearest_rank() -> None:
    result = summary([i / 1000 for i in range(1, 101)])
    assert result["count"] == 100
    assert result["p50_ms"] == 50 and result["p99_ms"] == 99 and result["max_ms"] == 100


def test_a_tiny_run_prints_the_table_and_writes_the_rows(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--cases", "peer", "--peer", "2:300", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["rows"]
    cases = [row["case"] for row in rows]
    assert "2 teams: quiet cycle requests" in cases
    quiet = rows[cases.index("2 teams: quiet cycle requests")]
    # The peer reads every page of each team again; teampulse asks at least once.
    assert quiet["reference"] >= 2 and quiet["figure"] >= 1
    assert quiet["met"] == (quiet["figure"] / quiet["reference"] <= 1 / 50)
    assert "2 teams, 300 issues: full sync requests" in done.stdout
