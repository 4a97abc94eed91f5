"""The Jira Cloud the benchmarks sync from, served by a child process so its CPU never counts.

`Emulator(...)` starts `python -m bench.emulator` and reads the address, the project keys and
the users it generated; `stats()` and `reset()` use the emulator's own request counts.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.workspace import ROOT, person_email, project_key


class Emulator:
    """A running emulator child process; close() (or leaving a with block) stops it."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.emulator", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError(f"the emulator did not start (exit {self.process.wait()})")
        ready = json.loads(line)
        self.url: str = ready["url"]
        self.projects: list[str] = ready["projects"]
        self.users: list[str] = ready["users"]
        self.issues: int = ready["issues"]

    def stats(self) -> dict[str, Any]:
        """Return the requests served since the last reset: total, by_endpoint, by_status."""
        return stats(self.url)

    def reset(self) -> None:
        """Set the request counts back to zero."""
        reset(self.url)

    def close(self) -> None:
        """Stop the child: it serves until its stdin closes."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _call(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def stats(url: str) -> dict[str, Any]:
    """Return what the emulator at `url` served since its last reset (its /_emulator/stats)."""
    return dict(_call(url + "/_emulator/stats"))


def reset(url: str) -> None:
    """Set the request counts of the emulator at `url` back to zero."""
    _call(url + "/_emulator/stats/reset", "POST")


def bulk_args(issues: int, teams: int, seed: int = 1) -> list[str]:
    """Arguments for `generate_bulk`: `issues` spread over one project per team (at most 676)."""
    if not 1 <= teams <= 26 * 26:
        # generate_bulk names projects with two letters after P: past 676 they would repeat.
        raise ValueError(f"generate_bulk makes 1 to 676 projects, not {teams}")
    return ["--bulk", str(issues), "--teams", str(teams), "--seed", str(seed)]


def sparse_args(teams: int, people: int, issues_per_team: int, seed: int = 1) -> list[str]:
    """Arguments for one project per team, the team's people as users, a few issues each."""
    return [
        "--teams",
        str(teams),
        "--people",
        str(people),
        "--per-team",
        str(issues_per_team),
        "--seed",
        str(seed),
    ]


def _sparse(teams: int, people: int, per_team: int, seed: int) -> Any:
    from teampulse_jira_emulator import Dataset

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    ds = Dataset(now=now)
    for team in range(teams):
        emails = [person_email(team, k) for k in range(people)]
        for email in emails:
            ds.add_user(email, email.split("@", 1)[0])
        key = project_key(team)
        ds.add_project(key, f"Team {team}", lead=emails[0])
        for _ in range(per_team):
            created = now - timedelta(days=rng.uniform(1, 30))
            issue = ds.create_issue(
                key, "Bench work", assignee=rng.choice(emails[1:] or emails), reporter=emails[0], at=created
            )
            ds.transition(issue, "In Progress", at=created + timedelta(hours=rng.uniform(1, 20)))
    return ds


def main(argv: list[str] | None = None) -> int:
    """Generate a dataset, print how to reach it as one JSON line, serve until stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m bench.emulator", description=__doc__)
    parser.add_argument("--bulk", type=int, default=0, metavar="ISSUES", help="generate_bulk with this many")
    parser.add_argument("--teams", type=int, required=True)
    parser.add_argument("--people", type=int, default=10, help="people per team (without --bulk)")
    parser.add_argument("--per-team", type=int, default=3, help="issues per team (without --bulk)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from teampulse_jira_emulator import EmulatorServer, generate_bulk

    if args.bulk:
        dataset = generate_bulk(args.bulk, seed=args.seed, projects=args.teams)
    else:
        dataset = _sparse(args.teams, args.people, args.per_team, args.seed)
    dataset.set_now(None)  # serve on the wall clock once generated, as a live Jira would
    server = EmulatorServer(dataset, mode="cloud").start()
    users = [user.email for user in dataset.users.values()]
    ready = {"url": server.url, "projects": list(dataset.projects), "users": users, "issues": len(dataset)}
    print(json.dumps(ready), flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or dies)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
