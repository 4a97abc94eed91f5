"""Helpers shared by the tests: fixed times, work-item builders."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from teampulse.model import Change, StatusCategory, WorkItem

# The plugin-testing kit's helpers, here for the tests that import them from support.
from teampulse.testing import free_port, wait_until  # noqa: F401

# The fuzz tests' size: a fixed, derandomised fast form in `make test`, N per target in `make fuzz`.
FUZZ_EXAMPLES = int(os.environ.get("TEAMPULSE_FUZZ_EXAMPLES", "0") or 0)


@dataclass
class Tally:
    """A fuzz target's count: inputs tried, those that failed, and the figures `make fuzz` prints."""

    target: str
    tried: int = 0
    built: int = 0  # for targets that also count the inputs that were valid
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        """Count one input; keep what failed, shortened."""
        self.tried += 1
        if not ok:
            self.failures.append(what[:300])

    def report(self) -> None:
        """Print "fuzz TARGET: tried N, survived N, failures N"."""
        print(
            f"\nfuzz {self.target}: tried {self.tried}, survived {self.tried - len(self.failures)}, "
            f"failures {len(self.failures)}"
        )


def fuzz_settings(fast: int) -> Any:
    """Return hypothesis settings: `fast` examples, or TEAMPULSE_FUZZ_EXAMPLES when set."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=FUZZ_EXAMPLES or fast,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


KEY = "test-key-0123456789abcdef"
NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)  # a Monday
BASIC = """
[settings]
state = "state.db"
timezone = "UTC"
working_hours = "09:00-17:00"

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"]
jql = "project = PAY"

[sources.calendars]
plugin = "ics"
paths = ["calendars/*.ics"]
"""

# The manager's calendar: one meeting, enough for BASIC's ics source to collect.
CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//teampulse tests//EN
BEGIN:VEVENT
UID:standup-1@example.com
DTSTAMP:20260301T090000Z
DTSTART:20260310T090000Z
DTEND:20260310T093000Z
SUMMARY:Standup
ORGANIZER:mailto:maria@example.com
ATTENDEE:mailto:bob@example.com
END:VEVENT
END:VCALENDAR
"""


def calendar_workdir(folder: Path) -> Path:
    """Write BASIC as teampulse.toml and the manager's calendar into `folder`; return it."""
    (folder / "calendars").mkdir()
    (folder / "calendars" / "maria@example.com.ics").write_text(CALENDAR)
    (folder / "teampulse.toml").write_text(BASIC)
    return folder


# Real-world and adversarial calendars from two public projects, kept with the calendar
# plugin's tests (their origin and licences are in its README.md).
ICS_CORPUS = Path(__file__).resolve().parents[1] / "plugins" / "teampulse-calendar" / "tests" / "corpus"


def find_ics_corpus() -> Path | None:
    """Return the reference ICS corpus, if the checkout has it."""
    return ICS_CORPUS if ICS_CORPUS.is_dir() else None


def self_signed_cert(folder: Path) -> Path:
    """Write a loopback certificate and its key as folder/c.pem and folder/k.pem; return folder."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "k.pem"), "-out", str(folder / "c.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder


class Items:
    """Build work items with a plausible history."""

    def __init__(self) -> None:
        self.n = 0

    def make(
        self,
        team: str = "payments",
        created: datetime = NOW - timedelta(days=80),
        started: datetime | None = None,
        done: datetime | None = None,
        due: date | None = None,
        due_moves: tuple[tuple[datetime, date, date], ...] = (),
        assignee: str | None = "bob@example.com",
    ) -> WorkItem:
        self.n += 1
        changes: list[Change] = []
        status = StatusCategory.TODO
        if started:
            changes.append(Change(f"{self.n}-s", started, "status", "new", "indeterminate"))
            status = StatusCategory.IN_PROGRESS
        if done:
            changes.append(
                Change(f"{self.n}-d", done, "status", "indeterminate" if started else "new", "done")
            )
            status = StatusCategory.DONE
        for i, (at, before, after) in enumerate(due_moves):
            changes.append(Change(f"{self.n}-due{i}", at, "duedate", before.isoformat(), after.isoformat()))
        updated = max([created, *(c.at for c in changes)])
        return WorkItem(
            id=str(10000 + self.n),
            key=f"PAY-{self.n}",
            team=team,
            created=created,
            updated=updated,
            status_category=status,
            due=due,
            assignee=assignee,
            changes=tuple(changes),
        )


def basic_config_text() -> str:
    """Return the BASIC config (for tests that add tables to it)."""
    return BASIC


def http_get(url: str, timeout: float = 10.0) -> bytes:
    """GET a URL and return the body."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return bytes(r.read())


def wall_clock_now() -> datetime:
    """Return the real time (UTC, to the minute): the one place where a test reads the clock.

    Only for a `teampulse serve` whose times a service judges by its own wall clock, where
    running serve at a fixed time (teampulse_at) would make that service see stale data:
    Alertmanager takes an alert for resolved once the `endsAt` that serve's alertmanager
    notifier stamps from serve's clock has passed (tests/test_alertmanager_e2e.py), and the
    shipped rule TeampulseSourceDown compares `teampulse_source_last_success_timestamp_seconds`
    with Prometheus' time() (tests/test_dashboards.py asserts it does not fire). There serve
    runs on the real clock, and the demo organisation it reads is generated up to this time.
    Its verdict then depends on the day the test runs only if the engine's does:
    tests/test_dates.py builds the same organisation at every weekday, a month end and the
    days of the DST changes and checks that it does not.
    """
    return datetime.fromtimestamp(time.time(), UTC).replace(second=0, microsecond=0)


# Runs `teampulse` with its clock travelled to argv[1], still ticking (time-machine patches
# time.time, datetime.now, date.today and friends; the monotonic clock stays real).
_AT = (
    "import datetime, runpy, sys, time_machine; "
    "time_machine.travel(datetime.datetime.fromisoformat(sys.argv.pop(1)), tick=True).start(); "
    "runpy.run_module('teampulse.cli', run_name='__main__', alter_sys=True)"
)


def teampulse_at(at: datetime, *args: str) -> list[str]:
    """Return the command line of `teampulse ARGS` whose clock starts at `at` and runs on from there.

    For processes (serve, demo) whose values are read without being judged by the reader's
    clock (Prometheus checking metrics and the story rules, which compare values only;
    Chromium rendering the page): they then collect, evaluate and record actions as of `at`,
    whatever the day. time-machine rather than
    libfaketime: with Debian's libfaketime 0.9.10 and Python 3.11, a faked monotonic clock
    makes threading.Event.wait(timeout) hang (serve's collection loop waits on one) and
    --exclude-monotonic makes every time.sleep() fail with EINVAL (libfaketime issues 390, 426).
    """
    return [sys.executable, "-c", _AT, at.isoformat(), *args]


def start_serve(
    config: Path, port: int, env: dict[str, str], *extra: str, quiet: bool = True, at: datetime | None = None
) -> subprocess.Popen[str]:
    """Start `teampulse serve` on loopback; quiet sends its output nowhere, else to pipes.

    With `at`, serve's clock starts at `at` (see teampulse_at()); else it is the real one.
    """
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    args = ["serve", "--config", str(config), "--listen", f"127.0.0.1:{port}", *extra]
    command = teampulse_at(at, *args) if at is not None else [sys.executable, "-m", "teampulse.cli", *args]
    return subprocess.Popen(command, env=env, stdout=output, stderr=output, text=True)


def scrape_config(target: str, rules: str | None = None) -> str:
    """Return a Prometheus config that scrapes `target` (HOST:PORT) every second."""
    rule_files = f"rule_files: ['{rules}']\n" if rules else ""
    return (
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n" + rule_files
        + f"scrape_configs:\n  - job_name: teampulse\n    static_configs:\n      - targets: ['{target}']\n"
    )  # fmt: skip


def start_prometheus(folder: Path, port: int, config: str, *extra: str) -> subprocess.Popen[bytes]:
    """Write prometheus.yml into `folder` and start Prometheus on loopback, its data beside it."""
    (folder / "prometheus.yml").write_text(config)
    command = [f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
               f"--web.listen-address=127.0.0.1:{port}", *extra]  # fmt: skip
    return subprocess.Popen(["prometheus", *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
