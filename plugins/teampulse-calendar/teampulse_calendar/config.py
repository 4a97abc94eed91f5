"""The `[sources.NAME]` tables of the ics and caldav kinds, validated."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from teampulse import CollectContext, ConfigError, PluginConfig

from .classify import CHECK_IN_WORDS, ONE_ON_ONE_WORDS, TIME_OFF_WORDS, Classifier
from .windows_zones import resolve_zone

__all__ = [
    "CALDAV_KEYS",
    "COMMON_KEYS",
    "HISTORY_READ",
    "ICS_KEYS",
    "MAX_BYTES",
    "CaldavSettings",
    "CommonSettings",
    "IcsSettings",
    "is_email",
    "parse_caldav",
    "parse_ics",
]

COMMON_KEYS = (
    "days_back",
    "days_ahead",
    "max_instances",
    "max_bytes",
    "max_seconds",
    "timeout_seconds",
    "timezone",
    "one_on_one_words",
    "check_in_words",
    "time_off_words",
)
ICS_KEYS = ("paths", "urls", *COMMON_KEYS)
CALDAV_KEYS = ("url", "username", "password_env", "calendars", *COMMON_KEYS)

# A person's calendar over a few months is kilobytes; one this large is a mistake (or an
# attack) and is refused before it is read into memory.
MAX_BYTES = 10 * 1024 * 1024

_EMAIL = re.compile(r"^[^@\s/\\]+@[^@\s/\\]+\.[^@\s/\\]+$")


def is_email(text: str) -> bool:
    """Tell whether `text` looks like one e-mail address."""
    return bool(_EMAIL.match(text))


@dataclass(frozen=True)
class CommonSettings:
    """What both kinds share: the window, the caps and the word lists."""

    days_back: float = 35.0
    days_ahead: float = 14.0
    max_instances: int = 3500
    max_bytes: int = MAX_BYTES  # per calendar: a file, a URL's reply, a CalDAV calendar's events
    max_seconds: float = 10.0  # per calendar: parse and expansion; over it, the calendar is not used
    timeout_seconds: float = 30.0
    timezone: str = "UTC"  # for calendars that name no zone of their own
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


def _int(config: PluginConfig, key: str, default: int, minimum: int) -> int:
    value = config.number(key, default, minimum)
    if value != int(value):
        raise ConfigError(config.key(key), "must be a whole number")
    return int(value)


def _common(config: PluginConfig) -> CommonSettings:
    zone_name = config.str("timezone", "UTC")
    zone = resolve_zone(zone_name)
    if zone is None:
        raise ConfigError(config.key("timezone"), "must be an IANA time zone such as Europe/Berlin")
    ZoneInfo(zone)
    classifier = Classifier(
        config.str_list("one_on_one_words", list(ONE_ON_ONE_WORDS)),
        config.str_list("check_in_words", list(CHECK_IN_WORDS)),
        config.str_list("time_off_words", list(TIME_OFF_WORDS)),
    )
    return CommonSettings(
        days_back=config.number("days_back", 35, 0),
        days_ahead=config.number("days_ahead", 14, 0),
        max_instances=_int(config, "max_instances", 3500, 1),
        max_bytes=_int(config, "max_bytes", MAX_BYTES, 1024),
        max_seconds=config.number("max_seconds", 10, 0.1),
        timeout_seconds=config.number("timeout_seconds", 30, 1),
        timezone=zone,
        classifier=classifier,
    )


def _email_table(config: PluginConfig, key: str) -> dict[str, str]:
    """Return a table of e-mail -> string; errors name the entry by position, not by address."""
    raw = config.options.get(key, {})
    if not isinstance(raw, Mapping):
        raise ConfigError(config.key(key), "must be a table of e-mail address = string")
    out: dict[str, str] = {}
    for n, (email, value) in enumerate(raw.items(), 1):
        if not isinstance(email, str) or not is_email(email):
            raise ConfigError(config.key(key), f"entry {n}: the key must be an e-mail address")
        if not isinstance(value, str) or not value:
            raise ConfigError(config.key(key), f"entry {n}: the value must be a non-empty string")
        out[email.strip().lower()] = value
    return out


def parse_ics(config: PluginConfig) -> IcsSettings:
    """Validate an ics table and read the secret URLs from the environment."""
    config.check_keys(ICS_KEYS)
    paths = tuple(config.str_list("paths", []))
    envs = _email_table(config, "urls")
    if not paths and not envs:
        raise ConfigError(config.key("paths"), "is required (or a [urls] table)")
    common = _common(config)
    urls: dict[str, str] = {}
    for n, (email, env_name) in enumerate(envs.items(), 1):
        value = os.environ.get(env_name)
        if not value:
            raise ConfigError(config.key("urls"), f"entry {n}: environment variable {env_name} is not set")
        scheme = urlparse(value).scheme.lower()
        if scheme not in ("http", "https", "webcal", "webcals"):
            raise ConfigError(
                config.key("urls"), f"entry {n}: environment variable {env_name} must hold an http(s) URL"
            )
        urls[email] = value
    return IcsSettings(paths=paths, urls=urls, common=common)


def parse_caldav(config: PluginConfig) -> CaldavSettings:
    """Validate a caldav table and read the password from the environment."""
    config.check_keys(CALDAV_KEYS)
    url = config.str("url")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(config.key("url"), "must be an http(s) URL such as https://cal.example.com/dav/")
    username = config.optional_str("username")
    calendars = _email_table(config, "calendars")
    common = _common(config)
    password = config.secret("password_env", required=False)
    return CaldavSettings(url=url, username=username, password=password, calendars=calendars, common=common)
