"""A team's settings for a source: [teams.sources.NAME], checked at start-up, handed over as TeamInfo.settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import KEY, NOW
from teampulse_jira_emulator import EmulatorServer, OrgTeam, generate_organisation

from teampulse import config
from teampulse.collect import build_sources, collect_all
from teampulse.errors import ConfigError
from teampulse.plugins import load_registry
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store

TWO_TEAMS = """
[settings]
state = "state.db"

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com"]
[teams.sources.calendars]
timezone = "America/New_York"

[[teams]]
name = "search"
manager = "sam@example.com"
members = ["tom@example.com"]

[sources.calendars]
plugin = "ics"
paths = ["calendars/*.ics"]
timezone = "Europe/Berlin"
"""

# A meeting at 09:00 in no zone at all: read in the zone of its owner's team, else the source's.
FLOATING = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//teampulse tests//EN
BEGIN:VEVENT
UID:planning-{who}@example.com
DTSTAMP:20260301T090000Z
DTSTART:20260310T090000
DTEND:20260310T100000
SUMMARY:Planning
ORGANIZER:mailto:{who}@example.com
ATTENDEE:mailto:{manager}@example.com
END:VEVENT
END:VCALENDAR
"""


def _calendars(folder: Path) -> None:
    (folder / "calendars").mkdir()
    for who, manager in (("bob", "maria"), ("tom", "sam")):
        text = FLOATING.format(who=who, manager=manager).replace("\n", "\r\n")
        (folder / "calendars" / f"{who}@example.com.ics").write_text(text)


def test_a_teams_zone_reaches_the_calendar_source_and_its_meetings(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    _calendars(tmp_path)
    cfg = config.load(write_config(TWO_TEAMS))
    sources = build_sources(cfg, load_registry())
    assert [(t.name, dict(t.settings)) for t in cfg.team_infos("calendars")] == [
        ("payments", {"timezone": "America/New_York"}),
        ("search", {"timezone": "Europe/Berlin"}),  # the source's own value
    ]
    store = Store(cfg.state)
    p = Pseudonymiser(KEY.encode())
    report = collect_all(cfg, store, sources, p, NOW)
    assert [(r.error, r.problems) for r in report.results] == [(None, [])]
    starts = {
        row.person: datetime.fromtimestamp(row.start, UTC)
        for row in store.signals("meeting", 0, NOW.timestamp())
    }
    assert starts == {
        p("bob@example.com"): datetime(2026, 3, 10, 13, 0, tzinfo=UTC),  # 09:00 in New York (EDT)
        p("tom@example.com"): datetime(2026, 3, 10, 8, 0, tzinfo=UTC),  # 09:00 in Berlin (CET)
    }


def _collect(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "collect", "--config", str(path), "--quiet"],
        capture_output=True,
        text=True,
        env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY),
        timeout=60,
    )


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        pytest.param(
            'timezone = "America/New_York"',
            "days_back = 3",
            "teams[0].sources.calendars.days_back",
            "unknown key (per-team keys: timezone)",
            id="not-a-per-team-key",
        ),
        pytest.param(
            'timezone = "America/New_York"',
            'timezone = "Mars/Olympus"',
            "teams[0].sources.calendars.timezone",
            "must be an IANA time zone such as Europe/Berlin",
            id="wrong-value",
        ),
        pytest.param(
            "[teams.sources.calendars]",
            "[teams.sources.calender]",
            "teams[0].sources.calender",
            "no source of that name (configured: calendars)",
            id="no-such-source",
        ),
        pytest.param(
            '[teams.sources.calendars]\ntimezone = "America/New_York"',
            "sources = 1",
            "teams[0].sources",
            "must be a table of [teams.sources.NAME] tables",
            id="not-a-table",
        ),
    ],
)
def test_a_wrong_team_setting_stops_start_up_in_one_line(
    tmp_path: Path, write_config: Callable[..., Path], old: str, new: str, key: str, reason: str
) -> None:
    _calendars(tmp_path)
    assert old in TWO_TEAMS
    path = write_config(TWO_TEAMS.replace(old, new))
    result = _collect(path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"teampulse: error: {path}: {key}: {reason}\n"


# -- Jira: a team's JQL for one source ------------------------------------------------------------

JIRA_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_a_teams_jql_for_one_jira_source_selects_its_issues(
    tmp_path: Path, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    org = generate_organisation(seed=3, now=JIRA_NOW, teams=3, people_per_team=3, days=20)
    first, second, third = org.teams
    monkeypatch.setenv("TP_JIRA_TOKEN", "t0ken")

    def team(t: OrgTeam, extra: str) -> str:
        members = ", ".join(f'"{m}"' for m in t.member_emails)
        return (
            f'[[teams]]\nname = "{t.name}"\nmanager = "{t.manager_email}"\nmembers = [{members}]\n{extra}\n'
        )

    with EmulatorServer(org.dataset, mode="cloud") as server:
        text = (
            '[settings]\nstate = "state.db"\n'
            # its JQL for this source only
            + team(first, f'[teams.sources.jira]\njql = "project = {first.project_key}"')
            # a team's jql, as before
            + team(second, f'jql = "project = {second.project_key}"')
            # neither: this source skips it
            + team(third, "")
            + f'[sources.jira]\nplugin = "jira"\nurl = "{server.url}"\nemail = "bot@example.com"\n'
            'token_env = "TP_JIRA_TOKEN"\n'
        )
        cfg = config.load(write_config(text))
        sources = build_sources(cfg, load_registry())
        assert [dict(t.settings) for t in cfg.team_infos("jira")] == [
            {"jql": f"project = {first.project_key}"},
            {"jql": None},
            {"jql": None},
        ]
        store = Store(cfg.state)
        report = collect_all(cfg, store, sources, Pseudonymiser(KEY.encode()), JIRA_NOW)
        assert [r.error for r in report.results] == [None]

    def issues(project: str) -> int:
        return sum(1 for i in org.dataset.issues.values() if i.project.key == project)

    until = JIRA_NOW.timestamp()
    assert len(store.team_items(first.name, 0, until)) == issues(first.project_key) > 0
    assert len(store.team_items(second.name, 0, until)) == issues(second.project_key) > 0
    assert store.team_items(third.name, 0, until) == []


def test_a_per_team_key_in_the_sources_table_says_where_it_belongs(
    tmp_path: Path, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TP_JIRA_TOKEN", "t0ken")
    text = TWO_TEAMS + (
        '[sources.jira]\nplugin = "jira"\nurl = "https://jira.example"\ntoken_env = "TP_JIRA_TOKEN"\n'
        'jql = "project = PAY"\n'
    )
    cfg = config.load(write_config(text))
    with pytest.raises(ConfigError) as info:
        build_sources(cfg, load_registry())
    assert str(info.value) == (
        f"{cfg.path}: sources.jira.jql: is set per team: put it in the team's [teams.sources.NAME] table"
    )


def test_the_example_of_configuration_md_loads_and_builds(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "configuration.md").read_text()
    section = doc[doc.index("### A team's settings for a source") :]
    example = section[section.index("```toml\n") + 8 : section.index("```\n", section.index("```toml\n") + 8)]
    monkeypatch.setenv("JIRA_EU_TOKEN", "t0ken")
    cfg = config.load(write_config(example))
    assert set(build_sources(cfg, load_registry())) == {"calendars", "jira-eu"}
    assert cfg.team_infos("calendars")[0].settings == {"timezone": "America/New_York"}
    assert cfg.team_infos("jira-eu")[0].settings == {"jql": "project = PAYEU"}
