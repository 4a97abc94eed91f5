"""teampulse against the naive peer, side by side against one emulator, in one process.

Per size: a first (full) sync and a cycle with nothing changed, each counted in requests (the
emulator's own counts), CPU (this process) and wall time; the full sync also against the API
minimum. teampulse syncs first, then the peer, each into its own state.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.emulator import Emulator, bulk_args
from bench.jira_requests import excess, minimum, per_team
from bench.measure import timed
from bench.naive_peer import NaivePeer, cut_changelog
from bench.table import Row, compare
from bench.teampulse_side import StoreTimer, check, full_sync
from bench.workspace import teams_from_users, write_config
from teampulse.app import Runtime

# The issue's target: a quiet cycle costs at least 50 times fewer requests than the naive peer.
QUIET_AT_MOST = 1 / 50
FULL_AT_MOST = 1.02  # full-sync requests within 2% of the API minimum
PEER = "naive peer"


def _say(message: str) -> None:
    print(f"  peer: {message}", file=sys.stderr, flush=True)


def run(params: dict[str, Any]) -> list[Row]:
    """Measure one size: params teams, issues."""
    teams, issues = int(params["teams"]), int(params["issues"])
    label = f"{teams} teams, {issues:,} issues"
    _say(f"{label}: generating")
    with Emulator(*bulk_args(issues, teams)) as emulator, tempfile.TemporaryDirectory() as tmp:
        # Everyone configured is a Jira user, ten to a team while the emulator's 200 last.
        people = max(2, min(10, len(emulator.users) // teams))
        specs = teams_from_users(emulator.projects, emulator.users, people)
        # The whole generated year, so that both read the same issues.
        config = write_config(Path(tmp), specs, emulator.url, history_days=400)
        runtime = Runtime.open(str(config))
        store = StoreTimer(runtime)
        try:
            _say(f"{label}: teampulse full sync")
            emulator.reset()
            tp_full, cycles = full_sync(runtime, emulator.issues)
            tp_full_stats, full_store_cpu = emulator.stats(), store.cpu
            _say(f"{label}: teampulse quiet cycle")
            emulator.reset()
            with timed() as tp_quiet:
                check(runtime.collect())
            tp_quiet_stats = emulator.stats()
        finally:
            runtime.close()
        peer = NaivePeer(emulator.url)
        queries = [team.jql for team in specs]
        try:
            _say(f"{label}: naive peer full sync")
            emulator.reset()
            with timed() as peer_full:
                fetched = peer.cycle(queries)
            peer_full_stats = emulator.stats()
            cut = [n for found in fetched.issues.values() for issue in found if (n := cut_changelog(issue))]
            least = minimum([len(found) for found in fetched.issues.values()], len(cut), sum(cut))
            read = fetched.count()
            del fetched
            _say(f"{label}: naive peer quiet cycle")
            emulator.reset()
            with timed() as peer_quiet:
                peer.cycle(queries)
            peer_quiet_stats = emulator.stats()
        finally:
            peer.close()

    full, quiet = tp_full_stats["total"], tp_quiet_stats["total"]
    peer_requests = peer_full_stats["total"]
    return [
        compare(f"{label}: full sync requests", full, "requests", PEER, peer_requests),
        compare(
            f"{label}: full sync requests",
            full,
            "requests",
            "API minimum",
            least.total,
            at_most=FULL_AT_MOST,
            cause=excess(tp_full_stats["by_endpoint"], least),
        ),
        compare(
            f"{label}: full sync CPU",
            tp_full.cpu,
            "s",
            PEER,
            peer_full.cpu,
            cause=(
                f"teampulse's includes its SQLite writes, {full_store_cpu:.2f} s, and took {cycles} collection(s); "
                f"the peer read {read:,} issues"
            ),
        ),
        compare(f"{label}: full sync wall", tp_full.wall, "s", PEER, peer_full.wall),
        compare(
            f"{teams} teams: quiet cycle requests",
            quiet,
            "requests",
            PEER,
            peer_quiet_stats["total"],
            at_most=QUIET_AT_MOST,
            cause=per_team(tp_quiet_stats["by_endpoint"], teams),
        ),
        compare(f"{teams} teams: quiet cycle CPU", tp_quiet.cpu, "s", PEER, peer_quiet.cpu),
    ]
