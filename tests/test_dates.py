"""The verdicts do not depend on the day: the same stories at a spread of dates.

Each organisation is built at a date D (12:00 UTC) and run as a user's collection runs it,
in process through the real plugins: the Jira emulator (cloud) for the Jira source, calendar
files for the ics source, the survey export for survey-csv, `Runtime.collect(now=D)`, the
stories' recorded actions, then the engine's alerts at D.

- demo: `teampulse demo`'s organisation (seed 7) with its calendars and survey; payments is
  in a crunch nobody answers, mobile's anniversary day off has a release sync booked over it.
- scenarios: the stories of tests/scenarios.py, which name their verdicts in EXPECTED.
- jira-only: the organisation of tests/test_cli_jira.py (seed 3), Jira alone; payments' crunch
  is unanswered, platform's is answered by moved due dates (an engine that mislaid platform's
  episode on Mondays fired there).

The dates: every day of one week (Monday to Sunday), a month end, and the days Europe
(2026-10-25) and the US (2026-11-01) leave daylight saving time. The tests that talk to a
service on the wall clock (tests/test_alertmanager_e2e.py, tests/test_dashboards.py) run the
demo organisation on whatever day they run: this sweep is what says that does not matter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest
import scenarios
from teampulse_demo.demo import TOKEN_ENV, write_demo_config
from teampulse_demo.people import write_people_data
from teampulse_jira_emulator import EmulatorServer, generate_organisation
from teampulse_jira_emulator.generate import CRUNCH_DAYS

from teampulse.app import Runtime

DATES = {
    "mon": date(2026, 11, 16),
    "tue": date(2026, 11, 17),
    "wed": date(2026, 11, 18),
    "thu": date(2026, 11, 19),
    "fri": date(2026, 11, 20),
    "sat": date(2026, 11, 21),
    "sun": date(2026, 11, 22),
    "month-end": date(2026, 9, 30),
    "dst-europe": date(2026, 10, 25),
    "dst-us": date(2026, 11, 1),
}
DEMO_EXPECTED = {
    ("ProcessPressureWithoutLeadership", "payments"),
    ("TimeOffOverriddenUnderPressure", "mobile"),
}
JIRA_ONLY_EXPECTED = {("ProcessPressureWithoutLeadership", "payments")}
SCENARIO_TOKEN_ENV = "DATES_SCENARIO_JIRA_TOKEN"


def _at(day: date) -> datetime:
    return datetime.combine(day, clock_time(12, 0), UTC)


def _firing(
    runtime: Runtime, now: datetime, recorded: list[tuple[str, str, datetime]]
) -> set[tuple[str, str]]:
    """Collect as of `now`, record the actions, return the firing (alert, team or source) pairs."""
    report = runtime.collect(now=now)
    assert not report.failed, [(r.source, r.error) for r in report.failed]
    for team, kind, at in recorded:
        runtime.record_action(team, kind, at, None)
    state = runtime.state(as_of=now)
    return {(a.alert, a.labels.get("team") or a.labels.get("source", "")) for a in state.alerts if a.firing}


def _demo(folder: Path, now: datetime) -> set[tuple[str, str]]:
    org = generate_organisation(seed=7, now=now)
    write_people_data(org, folder, now)
    with EmulatorServer(org.dataset, mode="cloud") as emulator:
        runtime = Runtime.open(str(write_demo_config(folder, emulator.url, org.teams, people=True)))
        try:
            firing = _firing(runtime, now, [])
            # right for the right reason: each crunch's onset lies in its first working week (its
            # urgent work lands in the first three days, beside sprint-start peaks as high), not
            # where the team's history or the engine's scan begins
            workdays = [
                day
                for k in range(CRUNCH_DAYS, -1, -1)
                if (day := (now - timedelta(days=k)).date()).weekday() < 5
            ]
            onsets = {s.team: s.episode_start for s in runtime.evaluate(now)}
            for team in ("payments", "platform"):
                onset = onsets[team]
                assert onset is not None and workdays[0] <= onset.date() <= workdays[4], (team, onset)
            return firing
        finally:
            runtime.close()


def _jira_only(folder: Path, now: datetime) -> set[tuple[str, str]]:
    org = generate_organisation(seed=3, now=now)
    with EmulatorServer(org.dataset, mode="cloud") as emulator:
        runtime = Runtime.open(str(write_demo_config(folder, emulator.url, org.teams)))
        try:
            return _firing(runtime, now, [])
        finally:
            runtime.close()


def _scenarios(folder: Path, now: datetime) -> set[tuple[str, str]]:
    built = scenarios.build(folder, now)
    with EmulatorServer(built.dataset, mode="cloud") as emulator:
        config = folder / "teampulse.toml"
        config.write_text(scenarios.config_text(emulator.url, SCENARIO_TOKEN_ENV))
        runtime = Runtime.open(str(config))
        try:
            return _firing(runtime, now, built.recorded)
        finally:
            runtime.close()


STORIES: dict[str, tuple[Callable[[Path, datetime], set[tuple[str, str]]], set[tuple[str, str]]]] = {
    "demo": (_demo, DEMO_EXPECTED),
    "scenarios": (_scenarios, scenarios.EXPECTED),
    "jira-only": (_jira_only, JIRA_ONLY_EXPECTED),
}


@pytest.mark.parametrize("day", list(DATES.values()), ids=list(DATES))
@pytest.mark.parametrize("story", list(STORIES))
def test_the_verdicts_are_the_same_on_every_day(
    story: str, day: date, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TEAMPULSE_PSEUDONYM_KEY comes from conftest.py; the Jira tokens are any value for the emulator
    monkeypatch.setenv(TOKEN_ENV, "t")
    monkeypatch.setenv(SCENARIO_TOKEN_ENV, "t")
    run, expected = STORIES[story]
    started = time.perf_counter()
    firing = run(tmp_path, _at(day))
    seconds = time.perf_counter() - started
    print(f"{story} at {day} ({day:%A}): {seconds:.1f} s, firing {sorted(firing)}")
    assert firing == expected, f"{story}, {day:%A %Y-%m-%d}: firing {sorted(firing)}"
