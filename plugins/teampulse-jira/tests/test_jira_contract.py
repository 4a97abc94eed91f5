"""The jira kind passes the source contract (teampulse.testing) against the Jira emulator, Cloud and Data Center."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from teampulse_jira_emulator import Dataset, EmulatorServer

from teampulse import TeamInfo
from teampulse.testing import NOW, SourceContract

TEAMS = (
    TeamInfo("payments", "maria@example.com", ("bob@example.com", "chen@example.com"), jql="project = PAY"),
    TeamInfo("search", "sam@example.com", ("fay@example.com",), jql="project = SRCH ORDER BY key"),
)
# Display names and summaries the emulator serves: neither is ever stored.
NAMES = {
    "maria@example.com": "Maria Manager",
    "bob@example.com": "Bob Builder",
    "chen@example.com": "Chen Wong",
    "sam@example.com": "Sam Searcher",
    "fay@example.com": "Fay Finder",
    "zed@example.com": "Zed Outsider",  # in no team: stored as a pseudonym of its Jira id
}
TOKEN = "jira-contract-t0ken"


def dataset() -> Dataset:
    """Two projects; issues moving through statuses, sprints, due dates and assignees over three weeks."""
    ds = Dataset(now=NOW)
    for email, name in NAMES.items():
        ds.add_user(email, name, email_visible=email != "chen@example.com")
    ds.add_project("PAY", "Payments", lead="maria@example.com")
    ds.add_project("SRCH", "Search", lead="sam@example.com")
    sprint = ds.add_sprint("PAY Sprint 9", 1, NOW - timedelta(days=5), NOW + timedelta(days=9), "active")
    start = NOW - timedelta(days=21)
    for project, people, count in (("PAY", ("bob", "chen", "zed"), 24), ("SRCH", ("fay", "sam"), 9)):
        for i in range(count):
            at = start + timedelta(hours=13 * i)
            key = ds.create_issue(
                project,
                f"{project} secret summary {i}",
                assignee=f"{people[i % len(people)]}@example.com",
                at=at,
            )
            ds.transition(key, "In Progress", at=at + timedelta(hours=1))
            if i % 3 == 0:
                ds.set_due_date(key, (at + timedelta(days=7)).date(), at=at + timedelta(hours=2))
            if project == "PAY" and i % 4 == 0:
                ds.add_to_sprint(key, sprint.id, at=at + timedelta(hours=3))
            if i % 5 == 0:
                ds.reassign(key, f"{people[(i + 1) % len(people)]}@example.com", at=at + timedelta(hours=4))
                ds.transition(key, "Done", at=at + timedelta(hours=5))
    return ds


@pytest.fixture(params=["cloud", "datacenter"])
def emulator(request: pytest.FixtureRequest) -> Iterator[tuple[EmulatorServer, Dataset]]:
    ds = dataset()
    server = EmulatorServer(ds, mode=request.param).start()
    try:
        yield server, ds
    finally:
        server.stop()


def _moment(text: object) -> datetime:
    return datetime.fromisoformat(text) if isinstance(text, str) else datetime.min.replace(tzinfo=UTC)


class TestJiraContract(SourceContract):
    kind = "jira"
    bad_values = (
        ("url", "ftp://jira.example.com"),
        ("deployment", "serverless"),
        ("page_size", 0),
        ("page_size", 2.5),
        ("token_env", "NO_SUCH_VARIABLE_SET"),
    )
    private_texts = (*NAMES.values(), "secret summary")

    @pytest.fixture
    def teampulse_teams(self) -> Sequence[TeamInfo]:
        return TEAMS

    @pytest.fixture
    def options(
        self, emulator: tuple[EmulatorServer, Dataset], monkeypatch: pytest.MonkeyPatch
    ) -> dict[str, Any]:
        monkeypatch.setenv("JIRA_CONTRACT_TOKEN", TOKEN)
        server, _ = emulator
        return {
            "url": server.url,
            "email": "maria@example.com",
            "token_env": "JIRA_CONTRACT_TOKEN",
            "page_size": 5,
        }

    @pytest.fixture
    def break_input(self, emulator: tuple[EmulatorServer, Dataset]) -> str:
        # An issue whose reply lacks its creation time: skipped, the rest of the page kept.
        _, ds = emulator
        issue = ds.issue("PAY-7")
        issue.created = None  # type: ignore[assignment]
        return f"team payments: issue id {issue.id}: skipped, malformed"

    def cursor_order(self, cursor: Mapping[str, Any]) -> dict[str, tuple[datetime, datetime]]:
        # Per team: how far its sync has read, and when it last reconciled.
        return {
            name: (_moment(team.get("updated")), _moment(team.get("reconciled")))
            for name, team in cursor["teams"].items()
        }
