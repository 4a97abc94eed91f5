"""Measure the detector: replay evaluation organisations whose truth is known and score the pages.

For each organisation (tools/jira-emulator/teampulse_jira_emulator/organisations.py) the Jira part is served by the
emulator and the calendars are written as files; teampulse collects once at the organisation's
end and then replays every day of the window (`Runtime.state(as_of=<day> 12:00 UTC)`). A page
is a run of consecutive days on which ProcessPressureWithoutLeadership fires for a team.

Targets: no page on calm, new or recent teams; every unanswered crunch paged within the
config's grace + 1 day of its onset, and never outside it (precision 1.0); no answered (or
1:1-answered) crunch paged; the engine's episode start within 2 days of each crunch's onset.
The exit status is 1 when a target is missed.

Run with `make eval` (two seeds, 60 days each), or `python bench/eval_detector.py --quick`
(one team of each kind, 30 days).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from teampulse_demo.organisations import (
    ANSWERED,
    CALM,
    CRUNCH_KINDS,
    KINDS,
    ONE_ON_ONES,
    QUIET_KINDS,
    UNANSWERED,
    TeamTruth,
    generate_evaluation_organisation,
)
from teampulse_jira_emulator import EmulatorServer, OrgTeam

from teampulse.alerts import PRESSURE_ALERT, TIME_OFF_ALERT
from teampulse.app import Runtime
from teampulse.pseudonym import KEY_ENV

# A Monday; its 60 days hold the US, EU and Australian daylight saving changes.
END = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
SEEDS = (1, 2)
TOKEN_ENV = "TEAMPULSE_EVAL_JIRA_TOKEN"
KEY = "teampulse-eval-key-0123456789abcdef"
MAX_ONSET_ERROR_DAYS = 2.0
DAY = timedelta(days=1)


@dataclass
class TeamOutcome:
    """What the detector said about one team on each replayed day."""

    seed: int
    truth: TeamTruth
    days: list[datetime] = field(default_factory=list)  # replayed days on which the team had history
    firing: list[datetime] = field(default_factory=list)  # days ProcessPressureWithoutLeadership fired
    time_off: list[datetime] = field(default_factory=list)  # days TimeOffOverriddenUnderPressure fired
    episode_starts: dict[datetime, datetime | None] = field(default_factory=dict)  # day -> episode start

    @property
    def name(self) -> str:
        """Return the team's name and seed."""
        return f"{self.truth.team}#{self.seed}"

    @property
    def pages(self) -> list[tuple[datetime, datetime]]:
        """Return the pages: (first, last) day of each run of consecutive firing days."""
        return _runs(self.firing)

    @property
    def time_off_pages(self) -> list[tuple[datetime, datetime]]:
        """Return the runs of consecutive days TimeOffOverriddenUnderPressure fired."""
        return _runs(self.time_off)

    def inside_crunch(self, page: tuple[datetime, datetime]) -> bool:
        """Tell whether a page starts inside this team's unanswered crunch."""
        t = self.truth
        if t.kind != UNANSWERED or t.onset is None or t.crunch_end is None:
            return False
        return t.onset <= page[0] <= t.crunch_end + DAY

    def paged_in_time(self, grace: timedelta) -> bool:
        """Tell whether a page starts within grace + 1 day of the crunch's onset."""
        onset = self.truth.onset
        return onset is not None and any(onset <= first <= onset + grace + DAY for first, _ in self.pages)

    def onset_error(self) -> float | None:
        """Return |episode start - onset| in days, from the first day of the crunch with an episode."""
        t = self.truth
        if t.onset is None or t.crunch_end is None:
            return None
        for day in sorted(self.episode_starts):
            start = self.episode_starts[day]
            if t.onset <= day <= t.crunch_end and start is not None:
                return abs((start - t.onset).total_seconds()) / 86400
        return None


def _runs(days: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    runs: list[tuple[datetime, datetime]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] <= DAY:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


@dataclass
class Result:
    """Every team's outcome over one or more organisations, with the scores and the table."""

    outcomes: list[TeamOutcome]
    grace: timedelta
    seeds: tuple[int, ...]
    quick: bool
    elapsed: float
    replay_days: int

    @staticmethod
    def combine(results: Sequence[Result]) -> Result:
        """Merge the results of several organisations."""
        return Result(
            [o for r in results for o in r.outcomes],
            results[0].grace,
            tuple(s for r in results for s in r.seeds),
            results[0].quick,
            sum(r.elapsed for r in results),
            results[0].replay_days,
        )

    def of(self, *kinds: str) -> list[TeamOutcome]:
        """Return the outcomes of teams of these kinds."""
        return [o for o in self.outcomes if o.truth.kind in kinds]

    def false_pages(self) -> list[tuple[TeamOutcome, tuple[datetime, datetime]]]:
        """Return the pages that do not start inside an unanswered crunch."""
        return [(o, p) for o in self.outcomes for p in o.pages if not o.inside_crunch(p)]

    def missed(self) -> list[str]:
        """Return one line per missed target (empty when every target is met)."""
        out = []
        quiet = [(o.name, len(o.pages)) for o in self.of(*QUIET_KINDS) if o.pages]
        if quiet:
            out.append(
                f"{sum(n for _, n in quiet)} page(s) on calm/new/recent teams ("
                + ", ".join(f"{name}: {n}" for name, n in quiet)
                + ")"
            )
        late = [o.name for o in self.of(UNANSWERED) if not o.paged_in_time(self.grace)]
        if late:
            out.append(
                f"recall {self.recall():.2f} < 1.00: not paged within grace + 1 day: {', '.join(late)}"
            )
        answered = [o.name for o in self.of(ANSWERED, ONE_ON_ONES) if o.pages]
        if answered:
            out.append(f"answered crunches paged: {', '.join(answered)}")
        outside = [
            f"{o.name} {p[0]:%m-%d}" for o in self.of(UNANSWERED) for p in o.pages if not o.inside_crunch(p)
        ]
        if outside:
            out.append(f"pages outside the unanswered crunch: {', '.join(outside)}")
        errors = [(o.name, o.onset_error()) for o in self.of(*CRUNCH_KINDS)]
        far = [f"{n}: {e:.1f} d" for n, e in errors if e is not None and e > MAX_ONSET_ERROR_DAYS]
        none = [n for n, e in errors if e is None]
        if far:
            out.append(f"onset error > {MAX_ONSET_ERROR_DAYS:.0f} days: {', '.join(far)}")
        if none:
            out.append(f"no episode during the crunch: {', '.join(none)}")
        return out

    def recall(self) -> float:
        """Return the share of unanswered crunches paged within grace + 1 day of their onset."""
        crunches = self.of(UNANSWERED)
        return sum(o.paged_in_time(self.grace) for o in crunches) / len(crunches) if crunches else 1.0

    def precision(self) -> float | None:
        """Return the share of pages that start inside an unanswered crunch (None without pages)."""
        pages = sum(len(o.pages) for o in self.outcomes)
        return (pages - len(self.false_pages())) / pages if pages else None

    def _row(self, label: str, outcomes: list[TeamOutcome]) -> list[str]:
        team_days = sum(len(o.days) for o in outcomes)
        pages = sum(len(o.pages) for o in outcomes)
        rate = f"{pages / (team_days / 30):.2f}" if team_days else "-"
        unanswered = [o for o in outcomes if o.truth.kind == UNANSWERED]
        answered = [o for o in outcomes if o.truth.kind in (ANSWERED, ONE_ON_ONES)]
        recall = (
            f"{sum(o.paged_in_time(self.grace) for o in unanswered)}/{len(unanswered)}" if unanswered else "-"
        )
        paged = f"{sum(bool(o.pages) for o in answered)}/{len(answered)}" if answered else "-"
        errors = [o.onset_error() for o in outcomes if o.truth.crunch]
        found = [e for e in errors if e is not None]
        onset = (
            f"{max(found):.1f} / {statistics.fmean(found):.1f} ({len(found)}/{len(errors)})"
            if found
            else (f"- (0/{len(errors)})" if errors else "-")
        )
        time_off = sum(len(o.time_off_pages) for o in outcomes)
        return [
            label,
            str(len(outcomes)),
            str(team_days),
            str(pages),
            rate,
            recall,
            paged,
            onset,
            str(time_off),
        ]

    def table(self) -> str:
        """Return the scores as a text table, with the targets line."""
        header = ["kind", "teams", "team-days", "pages", "pages/team-month", "recall", "answered paged",
                  "onset err max/mean d (found)", "time-off pages"]  # fmt: skip
        rows = [self._row(kind, self.of(kind)) for kind in KINDS]
        rows.append(self._row("overall", self.outcomes))
        widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
        lines = [
            f"teampulse detector evaluation: seeds {', '.join(map(str, self.seeds))}, "
            f"{'quick, ' if self.quick else ''}{self.replay_days} replayed days, grace {_days(self.grace)}",
            "  ".join(h.ljust(w) if k == 0 else h.rjust(w) for k, (h, w) in enumerate(zip(header, widths, strict=True))),
        ]  # fmt: skip
        for row in rows:
            lines.append(
                "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths, strict=True)))
            )  # fmt: skip
        calm = self.of(CALM)
        calm_days = sum(len(o.days) for o in calm)
        calm_pages = sum(len(o.pages) for o in calm)
        precision = self.precision()
        pages = sum(len(o.pages) for o in self.outcomes)
        lines += [
            "",
            f"pages per calm team-month: {calm_pages / (calm_days / 30):.2f}" if calm_days else "",
            f"recall: {self.recall():.2f} (unanswered crunches paged within grace + 1 day of onset)",
            (
                f"precision: {precision:.2f} ({pages - len(self.false_pages())} of {pages} pages inside an "
                "unanswered crunch)"
                if precision is not None
                else "precision: - (no pages)"
            ),
            f"answered crunches paged: {sum(bool(o.pages) for o in self.of(ANSWERED, ONE_ON_ONES))}",
            f"TimeOffOverriddenUnderPressure on calm teams: "
            f"{sum(len(o.time_off_pages) for o in calm)} page(s) in {calm_days} team-days",
        ]
        details = self._details()
        if details:
            lines += ["", "pages and onsets by team (day of firing, UTC dates):", *details]
        missed = self.missed()
        lines += ["", "targets: met" if not missed else "targets: missed:"]
        lines += [f"  - {m}" for m in missed]
        lines.append(f"elapsed: {self.elapsed:.1f} s")
        return "\n".join(line for line in lines if line is not None)

    def _details(self) -> list[str]:
        out = []
        for o in self.outcomes:
            t = o.truth
            if not o.pages and not t.crunch:
                continue
            pages = ", ".join(
                f"{a:%m-%d}" + (f"..{b:%m-%d}" if b != a else "") + ("" if o.inside_crunch((a, b)) else " (false)")
                for a, b in o.pages
            )  # fmt: skip
            crunch = (
                f" crunch {t.onset:%m-%d %H:%M}..{t.crunch_end:%m-%d} x{t.factor}, 1:1s {t.one_on_ones}"
                + (f", answered {'+'.join(t.answers)}" if t.answers else "")
                + (f", onset error {e:.1f} d" if (e := o.onset_error()) is not None else ", no episode")
                if t.onset and t.crunch_end
                else ""
            )
            out.append(
                f"  {o.name:<14} {t.kind:<19} {t.members} x {t.load} {t.timezone:<20} pages: {pages or 'none'};"
                + crunch
            )
        return out


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g}d"


def write_config(folder: Path, jira_url: str, teams: Sequence[OrgTeam]) -> Path:
    """Write the evaluation's config (the demo's format, with the calendars and long history)."""
    lines = ["[settings]", 'state = "eval.db"', 'timezone = "UTC"', 'working_hours = "09:00-17:00"',
             "min_group_size = 5", 'interval = "1h"', ""]  # fmt: skip
    for team in teams:
        members = ", ".join(f'"{m}"' for m in team.member_emails)
        lines += ["[[teams]]", f'name = "{team.name}"', f'manager = "{team.manager_email}"',
                  f"members = [{members}]", f'jql = "project = {team.project_key}"',
                  f'timezone = "{team.timezone}"', ""]  # fmt: skip
    lines += [
        "[sources.jira]", 'plugin = "jira"', f'url = "{jira_url}"', 'email = "teampulse-bot@demo.example"',
        f'token_env = "{TOKEN_ENV}"', "",
        "[sources.calendars]", 'plugin = "ics"', 'paths = ["calendars/*.ics"]', "",
    ]  # fmt: skip
    path = folder / "teampulse.toml"
    path.write_text("\n".join(lines))
    return path


@contextlib.contextmanager
def _environment() -> Iterator[None]:
    """Set the pseudonym key and the Jira token for the run (a key already set is kept)."""
    old = {name: os.environ.get(name) for name in (KEY_ENV, TOKEN_ENV)}
    os.environ.setdefault(KEY_ENV, KEY)
    os.environ[TOKEN_ENV] = "eval-token"
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run(seed: int = 1, quick: bool = False, end: datetime = END) -> Result:
    """Generate one organisation, collect it at its end and replay each day of its window."""
    started = time.perf_counter()
    org = generate_evaluation_organisation(seed, end, quick=quick)
    last = end.replace(hour=12, minute=0, second=0, microsecond=0)
    if last > end:
        last -= DAY
    days = [last - k * DAY for k in range(org.replay_days - 1, -1, -1)]
    outcomes = {name: TeamOutcome(seed, truth) for name, truth in org.truth.items()}
    with tempfile.TemporaryDirectory(prefix="teampulse-eval-") as tmp, _environment():
        folder = Path(tmp)
        org.write_calendars(folder)
        with EmulatorServer(org.dataset, mode="cloud") as emulator:
            runtime = Runtime.open(str(write_config(folder, emulator.url, org.teams)))
            try:
                report = runtime.collect(now=org.end)
                if report.failed or report.problems:
                    failures = [f"{r.source}: {r.error}" for r in report.failed] + report.problems
                    raise RuntimeError("the evaluation's collection failed: " + "; ".join(failures))
                grace = runtime.config.alerts.grace
                for day in days:
                    state = runtime.state(as_of=day, with_trend=False)
                    for snap in state.snapshots:
                        outcome = outcomes[snap.team]
                        if day < outcome.truth.history_start:
                            continue
                        outcome.days.append(day)
                        outcome.episode_starts[day] = snap.episode_start
                    for alert in state.alerts:
                        team = alert.labels.get("team")
                        if (
                            not alert.firing
                            or team not in outcomes
                            or day < outcomes[team].truth.history_start
                        ):
                            continue
                        if alert.alert == PRESSURE_ALERT:
                            outcomes[team].firing.append(day)
                        elif alert.alert == TIME_OFF_ALERT:
                            outcomes[team].time_off.append(day)
            finally:
                runtime.close()
    return Result(
        list(outcomes.values()), grace, (seed,), quick, time.perf_counter() - started, org.replay_days
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation and print the table; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one team of each kind, 30 replayed days")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="organisation seeds (default 1 2)")
    args = parser.parse_args(argv)
    seeds = args.seeds or ([1] if args.quick else list(SEEDS))
    started = time.perf_counter()
    result = Result.combine([run(seed, quick=args.quick) for seed in seeds])
    result.elapsed = time.perf_counter() - started
    print(result.table())
    return 1 if result.missed() else 0


if __name__ == "__main__":
    sys.exit(main())
