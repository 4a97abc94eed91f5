"""Benchmark a first sync of a 100,000-issue Jira Cloud from the emulator; prints figures.

Figures: HTTP requests against the API minimum, teampulse's CPU time per issue against
json.loads of the same pages (the decode floor), and the syncing process's peak memory.
Targets (issue 2): within 2% of the minimum requests, at most 3x the decode floor, < 500 MB.
Run with `make bench` (or `python bench/jira_sync.py --issues N`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

PROJECTS = 10
FIELDS = "status,created,updated,duedate,assignee,resolutiondate,customfield_10020"


def _project_keys(n: int) -> list[str]:
    return [f"P{chr(65 + p // 26 % 26)}{chr(65 + p % 26)}" for p in range(n)]


def _config(folder: Path, url: str) -> Path:
    lines = ["[settings]", 'state = "bench.db"', "", *[]]
    for i, key in enumerate(_project_keys(PROJECTS)):
        lines += [
            "[[teams]]",
            f'name = "team{i}"',
            f'manager = "manager{i}@bench.example"',
            # One member, not in Jira: the source looks members up once per process, so the
            # figures stay about the sync itself.
            f'members = ["member{i}@bench.example"]',
            f'jql = "project = {key}"',
            "",
        ]
    lines += [
        "[sources.jira]",
        'plugin = "jira"',
        f'url = "{url}"',
        'email = "bench@bench.example"',
        'token_env = "BENCH_JIRA_TOKEN"',
        "history_days = 400",  # the whole year of generated history
        "",
    ]
    path = folder / "teampulse.toml"
    path.write_text("\n".join(lines))
    return path


def child(config: str) -> None:
    """Sync once in this process and print CPU seconds, wall seconds and peak RSS."""
    from teampulse.app import Runtime

    runtime = Runtime.open(config)
    wall, cpu = time.perf_counter(), time.process_time()
    report = runtime.collect()
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    items = runtime.store.counts()["work_items"]
    # One serve cycle's evaluation and rendering over the synced store.
    from teampulse.exporter import render

    evaluation = time.perf_counter()
    render(runtime.state())
    evaluation = time.perf_counter() - evaluation
    print(json.dumps({"cpu": cpu, "wall": wall, "peak_mib": peak_kib / 1024, "items": items,
                      "evaluation": evaluation, "errors": [r.error for r in report.failed]}))  # fmt: skip


def _get(url: str) -> bytes:
    req = urllib.request.Request(url, headers={"Authorization": "Basic Ym9iOng="})
    with urllib.request.urlopen(req, timeout=120) as r:
        return bytes(r.read())


def decode_floor(url: str) -> tuple[float, int, int, int]:
    """Fetch every page the sync needs and time json.loads on them; return (s, issues, pages, capped)."""
    bodies: list[bytes] = []
    issues = capped = pages = bulk_requests = 0
    for key in _project_keys(PROJECTS):
        token: str | None = None
        team_capped = 0
        while True:
            params = {"jql": f"project = {key} ORDER BY updated ASC", "fields": FIELDS,
                      "expand": "changelog", "maxResults": "100"}  # fmt: skip
            if token:
                params["nextPageToken"] = token
            body = _get(f"{url}/rest/api/3/search/jql?{urllib.parse.urlencode(params)}")
            bodies.append(body)
            page = json.loads(body)
            pages += 1
            issues += len(page["issues"])
            for issue in page["issues"]:
                log = issue.get("changelog") or {}
                if log.get("total", 0) > len(log.get("histories", [])):
                    team_capped += 1
            token = page.get("nextPageToken")
            if page.get("isLast", not token) or not token:
                break
        capped += team_capped
        bulk_requests += math.ceil(team_capped / 1000)
    # Each page's best of three: the floor is a property of the pages, not of what else the
    # machine happened to do during one pass.
    floor = 0.0
    for body in bodies:
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            json.loads(body)
            best = min(best, time.process_time() - started)
        floor += best
    return floor, issues, pages + bulk_requests, capped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--issues", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2, help="first syncs to run; the best CPU counts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0

    print(f"generating {args.issues:,} issues in the emulator (Cloud mode)...", flush=True)
    emulator = subprocess.Popen(
        [sys.executable, "-m", "teampulse.jira_emulator", "--mode", "cloud", "--bulk", str(args.issues)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().split()[-1]
        with tempfile.TemporaryDirectory() as tmp:
            config = _config(Path(tmp), url)
            env = dict(os.environ, BENCH_JIRA_TOKEN="x", TEAMPULSE_PSEUDONYM_KEY="bench-key-0123456789abcdef")
            runs = []
            # Best of `--runs` first syncs, each into a fresh store in a fresh process.
            for n in range(args.runs):
                (Path(tmp) / "bench.db").unlink(missing_ok=True)
                urllib.request.urlopen(urllib.request.Request(f"{url}/_emulator/stats/reset", method="POST"))
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(config)],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return 1
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                if n == 0:
                    stats = json.loads(_get(f"{url}/_emulator/stats"))
            sync = min(runs, key=lambda r: r["cpu"])
            sync["peak_mib"] = max(r["peak_mib"] for r in runs)
        floor_s, issues, page_requests, capped = decode_floor(url)
    finally:
        emulator.terminate()
        emulator.wait()

    fixed = 4  # serverInfo, myself, status, field: once per sync
    minimum = fixed + page_requests
    made = int(stats["total"])
    print(
        f"issues synced:            {sync['items']:,} (emulator served {issues:,}; {capped:,} with changelogs past the Cloud cap)"
    )
    print(f"errors:                   {sync['errors'] or 'none'}")
    print(
        f"HTTP requests:            {made:,} against a minimum of {minimum:,} ({(made / minimum - 1) * 100:+.2f}%; target within 2%)"
    )
    print(f"  by endpoint:            {json.dumps(stats['by_endpoint'], sort_keys=True)}")
    print(f"wall time:                {sync['wall']:.1f} s")
    each = ", ".join(f"{r['cpu'] / issues * 1e6:.0f}" for r in runs)
    print(
        f"CPU per issue:            {sync['cpu'] / issues * 1e6:.0f} us (whole sync into SQLite; best of {each})"
    )
    print(
        f"decode floor per issue:   {floor_s / issues * 1e6:.0f} us (json.loads of the same pages, each page's best of 3)"
    )
    print(f"ratio to the floor:       {sync['cpu'] / floor_s:.2f}x (target at most 3x)")
    print(f"peak memory (RSS):        {sync['peak_mib']:.0f} MiB during the sync (target under 500 MB)")
    print(
        f"evaluation of {PROJECTS} teams:   {sync['evaluation']:.1f} s (engine and exposition, one serve cycle)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
