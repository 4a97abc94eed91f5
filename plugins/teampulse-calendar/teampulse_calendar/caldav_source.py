"""The caldav source: each person's calendar on a CalDAV server (needs the caldav extra)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlparse

from teampulse import Batch, CollectContext, SourceError

from .budget import Budget, BudgetExceeded
from .config import HISTORY_READ, CaldavSettings, CommonSettings, is_email
from .ics_source import members_of, over_budget
from .parse import ParsedCalendar, parse_calendar
from .signals import calendar_signals, fallback_zone, replacing

__all__ = ["CaldavSource", "caldav_available"]


def caldav_available() -> bool:
    """Tell whether the optional caldav client is installed."""
    try:
        import caldav  # noqa: F401
    except ImportError:
        return False
    return True


def _host(url: str) -> str:
    """Return scheme://host:port of a URL, without any user:password in it, for messages."""
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname or ''}{f':{parsed.port}' if parsed.port else ''}"


class CaldavSource:
    """A configured caldav source; reads each calendar's events in the window on each collection."""

    def __init__(self, settings: CaldavSettings, name: str = "caldav") -> None:
        self.settings = settings
        self.name = name

    def _client(self) -> Any:
        import caldav

        s = self.settings
        client_class: Any = caldav.DAVClient
        # The client wants some credentials even when the server asks for none.
        return client_class(
            url=s.url,
            username=s.username or "teampulse",
            password=s.password or "",
            timeout=int(s.common.timeout_seconds),
            enable_rfc6764=False,
            require_tls=False,
        )

    def _calendars(self, client: Any, members: set[str]) -> list[tuple[str, Any]]:
        """Return (owner, calendar) for the mapped calendars, or those discovered by name or owner."""
        if self.settings.calendars:
            base = self.settings.url if self.settings.url.endswith("/") else self.settings.url + "/"
            return [
                (owner, client.calendar(url=urljoin(base, path)))
                for owner, path in sorted(self.settings.calendars.items())
                if owner in members
            ]
        try:
            calendars = client.principal().calendars()
        except Exception as exc:
            raise SourceError(
                f"caldav server {_host(self.settings.url)}: cannot list calendars ({type(exc).__name__})"
            ) from None
        found: dict[str, Any] = {}
        for cal in calendars:
            owner = _owner(cal, members)
            if owner and owner not in found:
                found[owner] = cal
        return sorted(found.items(), key=lambda pair: pair[0])

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        """Yield one batch per calendar: its meetings, time off and time zone."""
        members = members_of(ctx)
        now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
        common = self.settings.common.for_collection(ctx)
        lo, hi = now - common.back, now + common.ahead
        client = self._client()
        try:
            calendars = self._calendars(client, members)
            failures = 0
            for n, (owner, cal) in enumerate(calendars, 1):
                label = f"calendar #{n} (sources.{self.name})"
                try:
                    texts = _texts(cal, lo, hi)
                except Exception as exc:
                    failures += 1
                    ctx.problem(f"{label}: cannot read ({type(exc).__name__}); skipped")
                    continue
                size = sum(len(text.encode("utf-8", "surrogatepass")) for text in texts)
                if size > common.max_bytes:
                    ctx.problem(
                        f"{label}: {size:,} bytes, more than {common.max_bytes:,} (max_bytes); skipped"
                    )
                    continue
                batch = _batch(ctx, owner, texts, label, now, common)
                if batch is not None:
                    yield batch
            if calendars and failures == len(calendars):
                raise SourceError(f"caldav server {_host(self.settings.url)}: no calendar could be read")
            yield Batch(events=[], cursor=HISTORY_READ)
        finally:
            close = getattr(client, "close", None)
            if close is not None:
                close()


def _owner(cal: Any, members: set[str]) -> str | None:
    """Return the team member a discovered calendar belongs to: by display name, path or owner."""
    candidates: list[str] = []
    with contextlib.suppress(Exception):
        candidates.append(str(cal.get_display_name() or ""))
    candidates.extend(unquote(part) for part in urlparse(str(cal.url)).path.split("/") if part)
    try:
        from caldav.elements import dav

        owner = cal.get_property(dav.Owner())
        if owner:
            candidates.extend(unquote(p) for p in str(owner).split("/") if p)
    except Exception:
        pass
    for text in candidates:
        value = text.strip().lower()
        if value.startswith("mailto:"):
            value = value[7:]
        if value.endswith(".ics"):
            value = value[:-4]
        if is_email(value) and value in members:
            return value
    return None


def _texts(cal: Any, lo: datetime, hi: datetime) -> list[str]:
    """Return the iCalendar text of every event resource overlapping [lo, hi]."""
    try:
        objects = cal.search(event=True, start=lo, end=hi, expand=False)
    except Exception:
        # Some servers refuse time-range REPORTs; every event is then read and cut locally.
        objects = cal.events()
    return [str(obj.data) for obj in objects]


def _batch(
    ctx: CollectContext, owner: str, texts: list[str], label: str, now: datetime, common: CommonSettings
) -> Batch | None:
    def report_all(message: str) -> None:
        ctx.problem(f"{label}: {message}")

    budget = Budget(common.max_seconds)
    try:
        with budget.enforced():
            parsed = ParsedCalendar()
            for i, text in enumerate(texts, 1):

                def report(message: str, i: int = i) -> None:
                    ctx.problem(f"{label}: resource #{i}: {message}")

                budget.check()
                one = parse_calendar(text, report, budget)
                if one is not None:
                    parsed.merge(one)
            fallback = fallback_zone(owner, ctx.teams, common.timezone)
            signals = calendar_signals(owner, parsed, now, common, fallback, report_all, budget)
    except BudgetExceeded:
        report_all(over_budget(common))
        return None
    return Batch(events=replacing(owner, now, common, signals))
