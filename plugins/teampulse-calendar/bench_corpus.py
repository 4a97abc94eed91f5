"""Print how long each file of the reference iCalendar corpus takes, and what it yields.

Run: .venv/bin/python plugins/teampulse-calendar/bench_corpus.py [CORPUS_DIR]
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from teampulse_calendar.config import CommonSettings
from teampulse_calendar.parse import parse_calendar
from teampulse_calendar.signals import calendar_signals

HERE = Path(__file__).resolve().parent
DEFAULT = HERE / "tests" / "corpus"
OWNER = "owner@example.com"


@dataclass
class Result:
    path: Path
    seconds: float
    peak_bytes: int
    signals: int
    problems: list[str] = field(default_factory=list)


def run_one(path: Path, now: datetime, settings: CommonSettings) -> Result:
    """Parse and expand one file as one person's calendar; never raises."""
    problems: list[str] = []
    tracemalloc.start()
    started = time.perf_counter()
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    parsed = parse_calendar(text, problems.append)
    signals = calendar_signals(OWNER, parsed, now, settings, "UTC", problems.append) if parsed else []
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return Result(path, seconds, peak, len(signals), problems)


def files(root: Path) -> list[Path]:
    """Return every .ics file under root, sorted."""
    return sorted(p for p in root.rglob("*.ics") if p.is_file())


def main() -> None:
    """Run the corpus and print a summary with the slowest files."""
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    settings = CommonSettings()
    # One "now" inside most of the corpus' data (the files date from 1997 to 2025) would
    # leave most windows empty; each file is therefore read at a few moments.
    moments = [datetime(2019, 3, 1, tzinfo=UTC), datetime(2026, 3, 16, 12, tzinfo=UTC)]
    results = [run_one(p, now, settings) for p in files(root) for now in moments]
    ok = sum(1 for r in results if not r.problems)
    with_problems = [r for r in results if r.problems]
    total = sum(r.seconds for r in results)
    print(f"corpus: {root}")
    print(f"runs: {len(results)} ({len(results) // len(moments)} files x {len(moments)} moments)")
    print(
        f"without problems: {ok}; with problems: {len(with_problems)}; signals: {sum(r.signals for r in results)}"
    )
    print(f"total {total:.2f} s; peak memory of one run {max(r.peak_bytes for r in results) / 1e6:.1f} MB")
    print("slowest:")
    for r in sorted(results, key=lambda r: r.seconds, reverse=True)[:5]:
        print(f"  {r.seconds:7.3f} s  {r.peak_bytes / 1e6:6.1f} MB  {r.signals:5d} signals  {r.path.name}")


if __name__ == "__main__":
    main()
