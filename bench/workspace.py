"""A teampulse config in a temporary folder: teams, their people, the Jira source, the env."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PSEUDONYM_KEY = "bench-key-0123456789abcdef"
TOKEN_ENV = "BENCH_JIRA_TOKEN"


@dataclass(frozen=True)
class TeamSpec:
    """One configured team."""

    name: str
    manager: str
    members: tuple[str, ...]
    jql: str


def team_name(index: int) -> str:
    """Return the name of team `index` (sorts in order)."""
    return f"team{index:04d}"


def project_key(index: int) -> str:
    """Return a Jira project key for team `index`: T then three letters (17,576 teams)."""
    letters = "".join(chr(65 + index // 26**power % 26) for power in (2, 1, 0))
    return f"T{letters}"


def person_email(team: int, k: int) -> str:
    """Return the address of person `k` of team `team` (k = 0 is its manager)."""
    return f"t{team:04d}p{k:02d}@bench.example"


def teams_from_users(projects: Sequence[str], users: Sequence[str], people: int) -> list[TeamSpec]:
    """One team per project, its people taken in turn from `users` while they last.

    Teams with people in Jira are what a real site has: their ids map from the issues' user
    objects, so no user search is needed. Past the users, a team's people are made up.
    """
    teams = []
    pool = iter(users)
    for index, key in enumerate(projects):
        emails = [next(pool, None) or person_email(index, k) for k in range(people)]
        teams.append(TeamSpec(team_name(index), emails[0], tuple(emails[1:]), f"project = {key}"))
    return teams


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    folder: Path,
    teams: Sequence[TeamSpec],
    jira_url: str,
    history_days: float | None = None,
    name: str = "teampulse.toml",
) -> Path:
    """Write a config (store bench.db beside it) and return its path; set the token and key env."""
    os.environ[TOKEN_ENV] = "bench-token"
    os.environ["TEAMPULSE_PSEUDONYM_KEY"] = PSEUDONYM_KEY
    lines = ["[settings]", 'state = "bench.db"', ""]
    for team in teams:
        members = ", ".join(_quote(m) for m in team.members)
        lines += [
            "[[teams]]",
            f"name = {_quote(team.name)}",
            f"manager = {_quote(team.manager)}",
            f"members = [{members}]",
            f"jql = {_quote(team.jql)}",
            "",
        ]
    lines += [
        "[sources.jira]",
        'plugin = "jira"',
        f"url = {_quote(jira_url)}",
        'email = "bench@bench.example"',
        f'token_env = "{TOKEN_ENV}"',
    ]
    if history_days is not None:
        lines.append(f"history_days = {history_days:g}")
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path
