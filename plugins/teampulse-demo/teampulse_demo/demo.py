"""`teampulse demo`: the whole system on a generated organisation and a Jira emulator."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click
from teampulse_jira_emulator import OrgTeam

from teampulse.pseudonym import KEY_ENV, new_key

TOKEN_ENV = "TEAMPULSE_DEMO_JIRA_TOKEN"


def _toml_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


PEOPLE_SOURCES = """
[sources.calendars]
plugin = "ics"
paths = ["calendars/*.ics"]

[sources.pulse]
plugin = "survey-csv"
paths = ["surveys/*.csv"]
scale = [1, 5]
invert = ["workload"]           # a 5 on workload means too much: it scores low
[sources.pulse.questions]
q_support = "support"
q_wellbeing = "wellbeing"
q_workload = "workload"
"""


def write_demo_config(
    workdir: Path,
    jira_url: str,
    teams: Sequence[OrgTeam],
    interval: str = "1m",
    people: bool = False,
    dashboards_url: str | None = None,
) -> Path:
    """Write the demo's config next to its store and return its path."""
    lines = [
        "# Written by `teampulse demo`: a generated organisation served by the Jira emulator.",
        "[settings]",
        'state = "demo.db"',
        'timezone = "UTC"',
        'working_hours = "09:00-17:00"',
        "min_group_size = 5",
        f'interval = "{interval}"',
        *([f'dashboards_url = "{dashboards_url}"'] if dashboards_url else []),
        "",
    ]
    for team in teams:
        lines += [
            "[[teams]]",
            f'name = "{team.name}"',
            f'manager = "{team.manager_email}"',
            f"members = {_toml_list(team.member_emails)}",
            f'jql = "project = {team.project_key}"',
            f'timezone = "{team.timezone}"',
            "",
        ]
    lines += [
        "[sources.jira]",
        'plugin = "jira"',
        f'url = "{jira_url}"',
        'email = "teampulse-bot@demo.example"',
        f'token_env = "{TOKEN_ENV}"',
        "",
    ]
    path = workdir / "teampulse.toml"
    path.write_text("\n".join(lines) + (PEOPLE_SOURCES if people else ""))
    return path


ENV_FILE = "demo.env"


def demo_environment(folder: Path, config: Path) -> dict[str, str]:
    """Return the demo's environment, kept in `folder` so its store always meets its own key.

    A kept folder's key wins over the environment's: its store was written with it. The file
    serves `set -a; . ./demo.env`, systemd's EnvironmentFile and `docker --env-file` alike.
    """
    path = folder / ENV_FILE
    kept: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                kept[name.strip()] = value.strip()
    env = {
        KEY_ENV: kept.get(KEY_ENV) or os.environ.get(KEY_ENV) or new_key(),
        TOKEN_ENV: kept.get(TOKEN_ENV) or os.environ.get(TOKEN_ENV) or "demo-token",
        "TEAMPULSE_CONFIG": str(config.resolve()),
    }
    text = "# `teampulse demo`'s environment: `set -a; . ./demo.env; set +a` to use this folder.\n"
    text += "".join(f"{name}={value}\n" for name, value in env.items())
    # The key pseudonymises people: readable by its owner only, like any secret.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, 0o600)
    return env


def run_demo(port: int, seed: int, workdir: str | None, dashboards_url: str | None = None) -> None:
    """Start the emulator, write a config, collect once and serve until interrupted."""
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="teampulse-demo-"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _run(folder, port, seed, workdir is not None, dashboards_url)
    finally:
        if workdir is None:
            # A folder of our own making, gone with the demo; --dir keeps one.
            shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path, port: int, seed: int, kept: bool, dashboards_url: str | None) -> None:
    from teampulse_jira_emulator import EmulatorServer, generate_organisation

    from teampulse.app import Runtime
    from teampulse.plugins import load_registry
    from teampulse.server import listen, run

    from .people import write_people_data

    os.environ.update(demo_environment(folder, folder / "teampulse.toml"))
    org = generate_organisation(seed=seed)
    registry = load_registry()
    people = {"ics", "survey-csv"} <= set(registry.sources)
    if people:
        write_people_data(org, folder, org.now)
    else:
        click.echo("teampulse demo: calendar and survey plugins not installed: process side only", err=True)
    where = f"environment in {folder / ENV_FILE}" if kept else "removed on exit; --dir keeps them"
    click.echo(f"teampulse demo: {len(org.teams)} teams, files in {folder} ({where})", err=True)
    with EmulatorServer(org.dataset, mode="cloud") as emulator:
        path = write_demo_config(
            folder, emulator.url, org.teams, people=people, dashboards_url=dashboards_url
        )
        runtime = Runtime.open(str(path))
        try:
            # Bind first: a port in use is reported at once, not after the first collection.
            httpd, service = listen(runtime, "127.0.0.1", port)
            report = runtime.collect(on_progress=lambda m: click.echo(f"teampulse demo: {m}", err=True))
            for r in report.failed:
                click.echo(f"teampulse demo: source {r.source} failed: {r.error}", err=True)
            run(httpd, service)
        finally:
            runtime.close()
