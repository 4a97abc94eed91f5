"""The `[sources.NAME]` tables of the ics and caldav kinds, declared once: keys, types, defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from teampulse import (
    CollectContext,
    ConfigError,
    ListOf,
    Number,
    PluginConfig,
    Secret,
    Setting,
    Settings,
    Text,
    Url,
    ValueType,
    Whole,
)

from .classify import CHECK_IN_WORDS, ONE_ON_ONE_WORDS, TIME_OFF_WORDS, Classifier
from .windows_zones import resolve_zone

__all__ = [
    "CALDAV",
    "CALDAV_KEYS",
    "CALDAV_OWN",
    "COMMON",
    "COMMON_KEYS",
    "HISTORY_READ",
    "ICS",
    "ICS_KEYS",
    "ICS_OWN",
    "MAX_BYTES",
    "CaldavSettings",
    "CommonSettings",
    "IcsSettings",
    "is_email",
    "parse_caldav",
    "parse_ics",
]

# A person's calendar over a few months is kilobytes; one this large is a mistake (or an
# attack) and is refused before it is read into memory.
MAX_BYTES = 10 * 1024 * 1024

_EMAIL = re.compile(r"^[^@\s/\\]+@[^@\s/\\]+\.[^@\s/\\]+$")


def is_email(text: str) -> bool:
    """Tell whether `text` looks like one e-mail address."""
    return bool(_EMAIL.match(text))


@dataclass(frozen=True)
class EmailTable(ValueType[dict[str, str]]):
    """A table of e-mail address = string; errors name the entry by position, never by address."""

    what: str = "string"

    def parse(self, value: Any, key: str) -> dict[str, str]:
        if not isinstance(value, Mapping):
            raise ConfigError(key, "must be a table of e-mail address = string")
        out: dict[str, str] = {}
        for n, (email, text) in enumerate(value.items(), 1):
            if not isinstance(email, str) or not is_email(email):
                raise ConfigError(key, f"entry {n}: the key must be an e-mail address")
            if not isinstance(text, str) or not text:
                raise ConfigError(key, f"entry {n}: the value must be a non-empty string")
            out[email.strip().lower()] = text
        return out

    def describe(self) -> str:
        return f"table of e-mail address = {self.what}"


@dataclass(frozen=True)
class SecretUrls(EmailTable):
    """E-mail address = the name of an environment variable holding that person's secret URL."""

    what: str = "environment variable name"

    def resolve(self, value: dict[str, str], key: str) -> dict[str, str]:
        urls: dict[str, str] = {}
        for n, (email, env_name) in enumerate(value.items(), 1):
            url = os.environ.get(env_name)
            if not url:
                raise ConfigError(key, f"entry {n}: environment variable {env_name} is not set")
            try:
                scheme = urlparse(url).scheme.lower()
            except ValueError:  # an unclosed IPv6 bracket
                scheme = ""
            if scheme not in ("http", "https", "webcal", "webcals"):
                raise ConfigError(key, f"entry {n}: environment variable {env_name} must hold an http(s) URL")
            urls[email] = url
        return urls


@dataclass(frozen=True)
class CalendarZone(ValueType[str]):
    """A zone for calendars naming none: an IANA name, or a Windows one mapped to it."""

    def parse(self, value: Any, key: str) -> str:
        zone = resolve_zone(value) if isinstance(value, str) else None
        if zone is None:
            raise ConfigError(key, "must be an IANA time zone such as Europe/Berlin")
        ZoneInfo(zone)
        return zone

    def describe(self) -> str:
        return "time zone"


WORDS = ListOf(Text(empty_ok=True), "strings")

COMMON = Settings(
    Setting(
        "days_back",
        Number(0),
        35,
        "The window starts this many days before the collection. The first collection (no cursor "
        "yet) reaches back as far as the engine replays (about 133 days with the default 28-day "
        "reference window), so the first evaluations have calendar data behind them.",
    ),
    Setting(
        "days_ahead",
        Number(0),
        14,
        "... and ends this many days after it (time off planned ahead matters).",
    ),
    Setting(
        "max_instances",
        Whole(1),
        3500,
        "At most this many occurrences per calendar in the window (sabre/dav's limit); the rest is "
        "skipped and reported.",
    ),
    Setting(
        "max_bytes",
        Whole(1024),
        MAX_BYTES,
        "A calendar larger than this (a file, a URL's reply, or the events of one CalDAV calendar "
        "together) is reported and not read.",
        shown="`10485760` (10 MiB)",
    ),
    Setting(
        "max_seconds",
        Number(0.1),
        10,
        "The time budget of one calendar (parse and expansion, wall clock). A calendar that takes "
        "longer is reported and not used (what it said before is kept); the others go on.",
    ),
    Setting(
        "timeout_seconds",
        Number(1),
        30,
        "Connect and read timeout for URLs and CalDAV requests.",
    ),
    Setting(
        "timezone",
        CalendarZone(),
        "UTC",
        "The zone of calendars that name none of their own (for all-day and floating times). A "
        "team's own value applies to its people's calendars.",
        scope="both",
    ),
    Setting(
        "one_on_one_words",
        WORDS,
        list(ONE_ON_ONE_WORDS),
        "A list that *replaces* the default words of 1:1s.",
        shown="see below",
    ),
    Setting(
        "check_in_words",
        WORDS,
        list(CHECK_IN_WORDS),
        "A list that *replaces* the default words of team check-ins.",
        shown="see below",
    ),
    Setting(
        "time_off_words",
        WORDS,
        list(TIME_OFF_WORDS),
        "A list that *replaces* the default words of time off.",
        shown="see below",
    ),
)
ICS_OWN = Settings(
    Setting(
        "paths",
        WORDS,
        [],
        "Globs of calendar files, one per person, each named `<e-mail address>.ics`. Required "
        "unless `urls` is given. A glob that matches no file is reported; none matching at all "
        "fails the source.",
    ),
    Setting(
        "urls",
        SecretUrls(),
        None,
        "Table of e-mail address = the *name of an environment variable* holding that person's "
        "secret iCal URL (http, https or webcal). The URLs carry access tokens: they never appear "
        "in the config, in messages or in `repr`.",
    ),
)
CALDAV_OWN = Settings(
    Setting(
        "url",
        Url(what="an http(s) URL such as https://cal.example.com/dav/"),
        description="The CalDAV server's base URL.",
    ),
    Setting("username", Text(), "teampulse", "The account to log in with."),
    Setting(
        "password_env",
        Secret(),
        None,
        "The environment variable holding the password (or app password).",
    ),
    Setting(
        "calendars",
        EmailTable("calendar path or URL"),
        None,
        "Table of e-mail address = calendar path (relative to `url`) or URL. Without it, every "
        "calendar of the account's principal whose display name, path or `DAV:owner` is a team "
        "member's e-mail address is read (share each person's calendar with the account under "
        "their address).",
    ),
)
ICS = Settings(ICS_OWN, COMMON)
CALDAV = Settings(CALDAV_OWN, COMMON)
COMMON_KEYS = tuple(COMMON.names())
ICS_KEYS = tuple(ICS.names())
CALDAV_KEYS = tuple(CALDAV.names())


@dataclass(frozen=True)
class CommonSettings:
    """What both kinds share: the window, the caps and the word lists."""

    days_back: float = COMMON.default("days_back")
    days_ahead: float = COMMON.default("days_ahead")
    max_instances: int = COMMON.default("max_instances")
    # Per calendar: a file, a URL's reply, a CalDAV calendar's events.
    max_bytes: int = COMMON.default("max_bytes")
    # Per calendar: parse and expansion; over it, the calendar is not used.
    max_seconds: float = COMMON.default("max_seconds")
    timeout_seconds: float = COMMON.default("timeout_seconds")
    timezone: str = COMMON.default("timezone")  # for calendars that name no zone of their own
    classifier: Classifier = field(default_factory=Classifier)

    @property
    def back(self) -> timedelta:
        """Return how far back the window reaches."""
        return timedelta(days=self.days_back)

    @property
    def ahead(self) -> timedelta:
        """Return how far ahead the window reaches."""
        return timedelta(days=self.days_ahead)

    def for_collection(self, ctx: CollectContext) -> CommonSettings:
        """Return the settings of one collection: the first reaches back as far as the core reads.

        Without that, the engine's replay and reference windows would find no calendar data
        and read "no data" as "no 1:1s". Later collections re-read only `days_back`.
        """
        wanted = getattr(ctx, "history_from", None)  # absent on cores older than 0.2
        if ctx.cursor or wanted is None:
            return self
        days = (ctx.now - wanted).total_seconds() / 86400
        return replace(self, days_back=max(self.days_back, days))


# The cursor a calendar source commits once its first collection has read the long history.
HISTORY_READ = {"history": "read"}


@dataclass(frozen=True)
class IcsSettings:
    """An ics source: file globs and secret URLs (e-mail -> URL)."""

    paths: tuple[str, ...]
    urls: Mapping[str, str]
    common: CommonSettings

    def __repr__(self) -> str:
        # The URLs carry tokens: they must never reach a log line or a traceback.
        return f"IcsSettings(paths={self.paths!r}, urls={len(self.urls)})"


@dataclass(frozen=True)
class CaldavSettings:
    """A caldav source: the server, its account and the calendars to read."""

    url: str
    username: str | None
    password: str | None
    calendars: Mapping[str, str]  # e-mail -> path or URL; empty: discover by name or owner
    common: CommonSettings

    def __repr__(self) -> str:
        return f"CaldavSettings(url={self.url!r}, calendars={len(self.calendars)})"


def _common(values: Mapping[str, Any]) -> CommonSettings:
    return CommonSettings(
        days_back=values["days_back"],
        days_ahead=values["days_ahead"],
        max_instances=values["max_instances"],
        max_bytes=values["max_bytes"],
        max_seconds=values["max_seconds"],
        timeout_seconds=values["timeout_seconds"],
        timezone=values["timezone"],
        classifier=Classifier(values["one_on_one_words"], values["check_in_words"], values["time_off_words"]),
    )


def parse_ics(config: PluginConfig) -> IcsSettings:
    """Validate an ics table and read the secret URLs from the environment."""
    values = config.parse(ICS)
    urls = values["urls"] or {}
    if not values["paths"] and not urls:
        raise ConfigError(config.key("paths"), "is required (or a [urls] table)")
    return IcsSettings(paths=tuple(values["paths"]), urls=urls, common=_common(values))


def parse_caldav(config: PluginConfig) -> CaldavSettings:
    """Validate a caldav table and read the password from the environment."""
    values = config.parse(CALDAV)
    return CaldavSettings(
        url=values["url"],
        username=values["username"],
        password=values["password_env"],
        calendars=values["calendars"] or {},
        common=_common(values),
    )
