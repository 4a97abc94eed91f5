"""The on-call rota: its source passes teampulse's contract, its signal reads the shifts it stored."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families
from teampulse import PersonSignal, PluginConfig, SignalContext
from teampulse.testing import NOW, TEAMS, RecordingContext, SourceContract, collect

from teampulse_oncall_rota import KIND, SETTINGS, SIGNAL, create, off_hours_kept_light, off_hours_seconds

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample"
H = 3600.0
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
NINE_TO_FIVE = (time(9), time(17))


class TestContract(SourceContract):
    """teampulse's contract: well-typed events, cursors, restarts, problems, nothing personal stored."""

    kind = "oncall-rota"
    bad_values = (("batch_size", 0), ("timezone", "Mars/Olympus_Mons"), ("working_hours", "17:00-09:00"))

    @pytest.fixture
    def options(self, tmp_path: Path) -> dict[str, Any]:
        shutil.copy(SAMPLE / "shifts.csv", tmp_path / "shifts.csv")
        # Two rows a batch: the contract cuts the collection between batches.
        return {"path": "shifts.csv", "batch_size": 2, "timezone": "Europe/Berlin"}

    @pytest.fixture
    def break_input(self, options: dict[str, Any], tmp_path: Path) -> str:
        with (tmp_path / "shifts.csv").open("a") as f:
            f.write("dana@example.com,2026-03-23T09:00:00+01:00,2026-05-23T09:00:00+02:00\n")
        return "shifts.csv: line 11: the shift is longer than 31 days"

    def cursor_order(self, cursor: Mapping[str, Any]) -> Any:
        return cursor["reads"], cursor["rows"]


@pytest.mark.parametrize(
    ("start", "end", "zone", "hours"),
    [
        # a weekday evening and night: 17:00 to 09:00
        (datetime(2026, 3, 10, 17, tzinfo=BERLIN), datetime(2026, 3, 11, 9, tzinfo=BERLIN), BERLIN, 16),
        # within working hours
        (datetime(2026, 3, 10, 9, tzinfo=BERLIN), datetime(2026, 3, 10, 17, tzinfo=BERLIN), BERLIN, 0),
        # a week from Monday 09:00: 168 hours, 40 of them working hours
        (datetime(2026, 3, 9, 9, tzinfo=BERLIN), datetime(2026, 3, 16, 9, tzinfo=BERLIN), BERLIN, 128),
        # a weekend over New York's change to summer time (8 March 2026): 37 hours, not 38
        (datetime(2026, 3, 7, 18, tzinfo=NEW_YORK), datetime(2026, 3, 9, 8, tzinfo=NEW_YORK), NEW_YORK, 37),
    ],
)
def test_off_hours_are_evenings_nights_and_weekends_in_the_zone(
    start: datetime, end: datetime, zone: ZoneInfo, hours: float
) -> None:
    assert off_hours_seconds(start.astimezone(UTC), end.astimezone(UTC), zone, NINE_TO_FIVE) == hours * H


def source(tmp_path: Path, text: str, **options: Any) -> Any:
    (tmp_path / "shifts.csv").write_text(text)
    table = {"path": "shifts.csv", "timezone": "Europe/Berlin", **options}
    return create(PluginConfig("rota", "sources", table, tmp_path))


def test_a_shift_carries_its_off_hours_in_its_teams_zone(tmp_path: Path) -> None:
    # The same night, 18:00 to 08:00 in Berlin: 14 hours off for payments; 13:00 to 03:00 in
    # New York, where search works, so 10 there (13:00 to 17:00 is working time).
    text = "person,start,end\nbob@example.com,2026-03-10T18:00:00+01:00,2026-03-11T08:00:00+01:00\n"
    text += "fay@example.com,2026-03-10T18:00:00+01:00,2026-03-11T08:00:00+01:00\n"
    payments, search = TEAMS
    teams = [payments, replace(search, settings={"timezone": NEW_YORK, "working_hours": NINE_TO_FIVE})]
    run = collect(source(tmp_path, text), RecordingContext(teams))
    assert run.error is None and run.problems == []
    off = {e.person: e.attrs["off_hours_seconds"] for e in run.events if isinstance(e, PersonSignal)}
    assert off == {"bob@example.com": 14 * H, "fay@example.com": 10 * H}
    assert {e.kind for e in run.events if isinstance(e, PersonSignal)} == {KIND}


class Stored:
    """StoredEvents as the engine hands them to the signal: what began after `since`, by `at`."""

    def __init__(self, events: Sequence[PersonSignal], at: datetime) -> None:
        self.events, self.at = sorted(events, key=lambda e: e.start), at

    def signals(self, kind: str | None = None, since: datetime | None = None) -> Sequence[PersonSignal]:
        return [
            e
            for e in self.events
            if (kind is None or e.kind == kind) and (since is None or e.start > since) and e.start <= self.at
        ]


def shift(person: str, start: datetime, days: float, off_hours: float) -> PersonSignal:
    end = start + timedelta(days=days)
    return PersonSignal(
        f"{person}|{start}", KIND, start, end, person=person, attrs={"off_hours_seconds": off_hours}
    )


FACTS = {"members": 5.0, "available": 5.0}


def value(
    shifts: Sequence[PersonSignal], at: datetime = NOW, facts: Mapping[str, float] = FACTS
) -> float | None:
    return off_hours_kept_light("payments", facts, SignalContext(at=at, events=Stored(shifts, at)))


def test_a_weekly_rota_of_five_carries_a_fifth_of_128_hours_each() -> None:
    # As in the sample: one shift ended 4 hours before NOW, the next began then.
    weekly = [shift(p, NOW - timedelta(days=7 * (2 - k), hours=4), 7, 128 * H) for k, p in enumerate("abc")]
    assert value(weekly) == pytest.approx(1 - (128 / 5) / 32)  # 0.2
    assert value(weekly, facts={"members": 10.0, "available": 8.0}) == pytest.approx(1 - (128 / 10) / 32)


def test_only_the_part_of_a_shift_in_the_last_7_days_counts() -> None:
    # A two-week shift that ended 3.5 days ago: a quarter of it is in the window.
    old = shift("a", NOW - timedelta(days=17.5), 14, 4 * 32 * H)
    assert value([old]) == pytest.approx(1 - 32 / 5 / 32)


def test_a_team_without_shifts_says_nothing_and_a_quiet_week_is_the_best() -> None:
    assert value([]) is None
    assert value([shift("a", NOW - timedelta(days=20), 7, 128 * H)]) == 1.0  # a rota, off this week
    assert value([shift("a", NOW - timedelta(days=60), 7, 128 * H)]) is None  # no rota in the last 5 weeks
    assert value([shift("a", NOW - timedelta(days=1), 1, 100_000 * H)]) == 0.0  # never below 0


def test_teampulse_accepts_the_plugin_and_its_signal() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "plugins", "--format", "json"], capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    plugin = {p["name"]: p for p in json.loads(listed.stdout)}["oncall-rota"]
    assert (plugin["sources"], plugin["signals"]) == (["oncall-rota"], [SIGNAL.name])


def test_the_sample_shows_the_payments_rota_in_the_metrics(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "sample")
    env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY="oncall-rota-example-key-0123456789")
    config = tmp_path / "sample" / "teampulse.toml"
    collected = subprocess.run(
        [
            sys.executable,
            "-m",
            "teampulse.cli",
            "collect",
            "--config",
            str(config),
            "--as-of",
            NOW.isoformat(),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert collected.returncode == 0, collected.stderr
    parts = {
        s.labels["team"]: s.value
        for family in text_string_to_metric_families(collected.stdout)
        if family.name == "teampulse_people_support_component_ratio"
        for s in family.samples
        if s.labels["component"] == SIGNAL.name
    }
    # Payments: bob's week and four hours of chen's, 128 off-hours over 5 members. Search has
    # 2 members, below min_group_size: a person-derived part is not shown for it.
    assert parts == {"payments": pytest.approx(0.2)}


def test_the_readme_lists_every_key() -> None:
    assert SETTINGS.markdown() in (ROOT / "README.md").read_text()
