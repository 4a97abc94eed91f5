"""Run the benchmarks, print one table and write bench/results.json: `make bench`.

Each case runs in its own process (its CPU and peak memory are its own; a crash is a row).
`--quick` runs every case at small sizes, in a minute or two; the default sizes are the
issue's. Figures are CPU and wall times on a shared machine: read them with the load
average printed below the table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.table import Row, failed, render
from bench.workspace import ROOT

RESULTS = ROOT / "bench" / "results.json"


@dataclass
class Job:
    """One case at one size, run in a child process."""

    module: str
    params: dict[str, Any]
    timeout: float
    label: str = ""


def plan(args: argparse.Namespace) -> list[Job]:
    """Return the jobs to run, in order, for the sizes asked for."""
    jobs: list[Job] = []
    if "first_sync" in args.cases:
        issues = args.issues or (10_000 if args.quick else 100_000)
        jobs.append(
            Job(
                "first_sync",
                {"issues": issues, "teams": 10, "runs": args.runs},
                300,
                f"first sync of {issues:,} issues",
            )
        )
    if "peer" in args.cases:
        sizes = args.peer or ([(5, 2_000), (20, 6_000)] if args.quick else [(20, 10_860), (100, 36_200)])
        for teams, issues in sizes:
            jobs.append(
                Job("peer", {"teams": teams, "issues": issues}, 300, f"{teams} teams against the naive peer")
            )
    if "thousand" in args.cases:
        teams = args.teams or (50 if args.quick else 1000)
        # Its budget is what the cases before it left (set as it starts).
        jobs.append(Job("thousand", {"teams": teams}, 0, f"{teams:,} teams"))
    return jobs


def _echo(stream: Any, tail: deque[str]) -> None:
    for line in stream:
        sys.stderr.write(line)
        sys.stderr.flush()
        tail.append(line.rstrip())


def _keep(stream: Any, out: list[str]) -> None:
    out.extend(stream)


def run_job(job: Job) -> list[Row]:
    """Run one job in a child process and return its rows (a failed row when it cannot)."""
    command = [sys.executable, "-m", "bench.run", "--job", job.module, "--params", json.dumps(job.params)]
    # Its own process group: on a timeout the emulator, servers and scrapers it started go too.
    child = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    tail: deque[str] = deque(maxlen=1)
    out: list[str] = []
    # Progress goes to the terminal as it comes; the rows are the last line of stdout.
    readers = [
        threading.Thread(target=_echo, args=(child.stderr, tail), daemon=True),
        threading.Thread(target=_keep, args=(child.stdout, out), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        child.wait(timeout=job.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return [failed(job.label, f"did not finish within {job.timeout:.0f} s")]
    for reader in readers:
        reader.join(5)
    if child.returncode != 0:
        return [failed(job.label, f"exit {child.returncode}: {tail[-1] if tail else 'no message'}")]
    try:
        return [Row(**row) for row in json.loads(out[-1])]
    except (ValueError, IndexError, TypeError) as exc:
        return [failed(job.label, f"unreadable result ({exc})")]


def child(module: str, params: str) -> int:
    """Run one case in this process and print its rows as one JSON line."""
    case = importlib.import_module(f"bench.cases.{module}")
    rows = case.run(json.loads(params))
    print(json.dumps([row.to_json() for row in rows]), flush=True)
    return 0


def _sizes(text: str) -> list[tuple[int, int]]:
    pairs = []
    for part in text.split(","):
        teams, _, issues = part.partition(":")
        pairs.append((int(teams), int(issues)))
    return pairs


def main(argv: list[str] | None = None) -> int:
    """Run the cases asked for and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a minute or two")
    parser.add_argument("--cases", default="first_sync,peer,thousand", help="comma-separated: %(default)s")
    parser.add_argument("--issues", type=int, help="first_sync: issues (default 100,000; quick 10,000)")
    parser.add_argument(
        "--runs", type=int, default=1, help="first_sync: first syncs to run, the best CPU counts"
    )
    parser.add_argument(
        "--peer",
        type=_sizes,
        metavar="TEAMS:ISSUES,...",
        help="peer sizes (default 20:10860,100:36200; quick 5:2000,20:6000)",
    )
    parser.add_argument("--teams", type=int, help="thousand: teams (default 1,000; quick 50)")
    parser.add_argument(
        "--budget",
        type=float,
        default=840.0,
        metavar="SECONDS",
        help="the whole run's time: the thousand-team case serves a subset and extrapolates past it",
    )
    parser.add_argument("--json", type=Path, default=RESULTS, help="where to write the rows (%(default)s)")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.job:
        return child(args.job, args.params)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]

    started = time.perf_counter()
    load_before = os.getloadavg()
    rows: list[Row] = []
    for job in plan(args):
        if job.module == "thousand":
            job.params["budget"] = max(60.0, args.budget - (time.perf_counter() - started) - 15)
            job.timeout = job.params["budget"] + 300
        print(f"bench: {job.label}...", file=sys.stderr, flush=True)
        rows += run_job(job)
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()
    print(render(rows))
    print(
        f"\n{len(rows)} rows in {elapsed:.0f} s on {os.cpu_count()} CPUs; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (other work on the machine makes CPU "
        "and wall figures noisy)."
    )
    missed = [r for r in rows if r.met is False]
    print(f"targets: {len(missed)} missed" if missed else "targets: met")
    args.json.write_text(
        json.dumps(
            {
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "quick": args.quick,
                "seconds": round(elapsed, 1),
                "cpus": os.cpu_count(),
                "load_average": {"before": load_before[0], "after": load_after[0]},
                "rows": [row.to_json() for row in rows],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    return 1 if any(r.target == "runs" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
