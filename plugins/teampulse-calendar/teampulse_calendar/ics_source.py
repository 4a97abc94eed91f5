"""The ics source: one calendar file or secret iCal URL per person."""

from __future__ import annotations

import glob
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from teampulse import Batch, CollectContext, SourceError

from .budget import Budget, BudgetExceeded
from .config import HISTORY_READ, MAX_BYTES, CommonSettings, IcsSettings, is_email
from .parse import parse_calendar
from .signals import calendar_signals, fallback_zone, replacing

__all__ = ["MAX_BYTES", "IcsSource", "members_of", "over_budget", "read_text"]

_EMAIL_IN_TEXT = re.compile(r"[^\s/\\]+@[^\s/\\]+")


def members_of(ctx: CollectContext) -> set[str]:
    """Return the lower-cased e-mails of every manager and member of the configured teams."""
    out: set[str] = set()
    for team in ctx.teams:
        out.add(team.manager.lower())
        out.update(m.lower() for m in team.members)
    return out


def read_text(data: bytes) -> str:
    """Decode calendar bytes: UTF-8 (with or without BOM), else Latin-1 as old Outlook writes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _masked(pattern: str) -> str:
    """Return a configured glob without any e-mail address in it, for messages."""
    return _EMAIL_IN_TEXT.sub("<e-mail>.ics", pattern) if "@" in pattern else pattern


def _quoted(pattern: str) -> str:
    """Return a glob in double quotes, so its spaces and commas read as part of it."""
    return f'"{pattern}"'


class IcsSource:
    """A configured ics source; reads every calendar afresh on each collection."""

    def __init__(
        self,
        settings: IcsSettings,
        base_dir: Path,
        name: str = "calendars",
        fetch: Callable[[str, float, int], bytes] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.base_dir = base_dir
        self.name = name
        self.fetch = fetch or fetch_url
        self.clock = clock  # for the time budget of each calendar

    def matches(self) -> dict[str, list[Path]]:
        """Return the files each configured glob matches, sorted by path."""
        found: dict[str, list[Path]] = {}
        for pattern in self.settings.paths:
            p = Path(pattern).expanduser()
            full = p if p.is_absolute() else self.base_dir / p
            paths = (Path(match) for match in glob.glob(str(full), recursive=True))
            found[pattern] = sorted(path for path in paths if path.is_file())
        return found

    def files(self, matches: dict[str, list[Path]] | None = None) -> list[tuple[Path, str]]:
        """Return (file, the glob that matched it), sorted by path, each file once."""
        seen: dict[Path, str] = {}
        for pattern, paths in (self.matches() if matches is None else matches).items():
            for path in paths:
                seen.setdefault(path, pattern)
        return sorted(seen.items())

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        """Yield one batch per calendar: its meetings, time off and time zone."""
        members = members_of(ctx)
        now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
        common = self.settings.common.for_collection(ctx)
        matches = self.matches()
        empty = [_masked(pattern) for pattern, paths in matches.items() if not paths]
        if empty and len(empty) == len(matches) and not self.settings.urls:
            # Nothing to read is a mistake (a wrong path, an export that stopped, a volume not
            # mounted), not a calm week: failing keeps the stored calendars and the history
            # still to read, marks the source down and, if it lasts, fires TeampulseSourceDown.
            raise SourceError(f"paths {', '.join(map(_quoted, empty))}: no file matches; no calendar read")
        for pattern in empty:
            ctx.problem(f"paths {_quoted(pattern)}: no file matches")
        skipped = 0
        for n, (path, pattern) in enumerate(self.files(matches), 1):
            label = f"calendar #{n} ({_masked(pattern)})"
            stem = path.name[:-4] if path.name.lower().endswith(".ics") else path.name
            owner = stem.strip().lower()
            if not is_email(owner):
                ctx.problem(f"{label}: the file name is not <e-mail address>.ics; skipped")
                continue
            if owner not in members:
                skipped += 1
                continue
            try:
                size = path.stat().st_size
                if size > common.max_bytes:
                    ctx.problem(f"{label}: {_too_large(size, common)}")
                    continue
                with path.open("rb") as file:
                    data = file.read(common.max_bytes + 1)  # the file may have grown since stat
                if len(data) > common.max_bytes:
                    ctx.problem(f"{label}: {_too_large(len(data), common)}")
                    continue
                text = read_text(data)
            except OSError as exc:
                ctx.problem(f"{label}: cannot read ({type(exc).__name__}); skipped")
                continue
            batch = self._batch(ctx, owner, text, label, now, common)
            if batch is not None:
                yield batch
        for n, (owner, url) in enumerate(sorted(self.settings.urls.items()), 1):
            label = f"calendar URL #{n} (sources.{self.name}.urls)"
            if owner not in members:
                skipped += 1
                continue
            try:
                data = self.fetch(url, common.timeout_seconds, common.max_bytes)
            except FetchError as exc:
                ctx.problem(f"{label}: cannot fetch ({exc}); skipped")
                continue
            if len(data) > common.max_bytes:
                ctx.problem(f"{label}: {_too_large(len(data), common)}")
                continue
            batch = self._batch(ctx, owner, read_text(data), label, now, common)
            if batch is not None:
                yield batch
        if skipped:
            ctx.progress(f"{skipped} calendar(s) of people in no configured team skipped")
        yield Batch(events=[], cursor=HISTORY_READ)

    def _batch(
        self, ctx: CollectContext, owner: str, text: str, label: str, now: datetime, common: CommonSettings
    ) -> Batch | None:
        def report(message: str) -> None:
            ctx.problem(f"{label}: {message}")

        budget = Budget(common.max_seconds, self.clock)
        try:
            with budget.enforced():
                parsed = parse_calendar(text, report, budget)
                if parsed is None:
                    return None
                fallback = fallback_zone(owner, ctx.teams, common.timezone)
                signals = calendar_signals(owner, parsed, now, common, fallback, report, budget)
        except BudgetExceeded:
            report(over_budget(common))
            return None
        return Batch(events=replacing(owner, now, common, signals))


def over_budget(common: CommonSettings) -> str:
    """Return the problem of a calendar that took longer than `max_seconds`."""
    return (
        f"took more than {common.max_seconds:g} s to read (max_seconds); "
        "the calendar is not used (what it said before is kept)"
    )


def _too_large(size: int, common: CommonSettings) -> str:
    return f"{size:,} bytes, more than {common.max_bytes:,} (max_bytes); skipped"


class FetchError(Exception):
    """A calendar URL could not be fetched; the message never contains the URL."""


def fetch_url(url: str, timeout: float, limit: int = MAX_BYTES) -> bytes:
    """GET a calendar URL (webcal:// as https://), refusing replies over `limit` bytes."""
    if url.lower().startswith("webcal"):
        url = "http" + url[len("webcal") :]
    request = urllib.request.Request(
        url, headers={"Accept": "text/calendar, */*;q=0.5", "User-Agent": "teampulse-calendar"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            data = reply.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        # The reason is an OSError ("Connection refused") or a string; neither holds the URL.
        reason = exc.reason
        text = type(reason).__name__ if isinstance(reason, BaseException) else "invalid address"
        raise FetchError(text) from None
    except (OSError, ValueError) as exc:
        raise FetchError(type(exc).__name__) from None
    if len(data) > limit:
        raise FetchError(f"reply larger than {limit:,} bytes (max_bytes)")
    return data
