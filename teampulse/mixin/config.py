"""Hold the mixin's settings: the defaults, and the TOML file that overrides them.

The idea is the kubernetes-mixin's `_config`: every name, selector, UID and duration the
generated rules and dashboards need lives here, with a default, and a deployment changes it
in a small file of its own instead of in the source:

    # mixin.toml
    job_selector = 'job="teampulse-prod"'
    team_uid = "tp-team"
    scrape_down_for = "30m"

What teampulse itself decides (alert names, the alerts' words, the gauges that export the
thresholds in force, the runbook's address) is imported from the core, never copied.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..exporter import RUNBOOK_URL

_DURATION = re.compile(r"^([0-9]+)([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# label="value"; no quote or backslash in the value, which the generated YAML could not hold as is
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\'\\]*)"\s*')
_UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")


def _setting(default: str, kind: str, doc: str) -> Any:
    """Return a dataclass field with its default, how its value is checked, and its documentation."""
    return field(default=default, metadata={"kind": kind, "doc": doc})


@dataclass(frozen=True)
class MixinConfig:
    """The settings of the generated rules and dashboards (every field a key of the TOML file)."""

    job_selector: str = _setting(
        'job="teampulse"',
        "selector",
        'The scrape job of `teampulse serve`, as matchers inside {}: label="value", comma-separated.',
    )
    pressure_for: str = _setting(
        "5m",
        "minutes",
        "`for:` of ProcessPressureWithoutLeadership: only rides out scrape jitter (the grace is the engine's).",
    )
    time_off_for: str = _setting("5m", "minutes", "`for:` of TimeOffOverriddenUnderPressure.")
    scrape_down_for: str = _setting(
        "1h",
        "minutes",
        'How long teampulse goes unscraped before TeampulseSourceDown{source="teampulse"} fires.',
    )
    links_lookback: str = _setting(
        "1w",
        "duration",
        "How long the runbook and Grafana links (teampulse_links_info) outlive an outage of teampulse.",
    )
    runbook_url: str = _setting(
        RUNBOOK_URL, "url", "The runbook the alerts link to when no teampulse_links_info was scraped."
    )
    overview_uid: str = _setting("teampulse-overview", "uid", "UID of the organisation overview dashboard.")
    team_uid: str = _setting("teampulse-team", "uid", "UID of the team detail dashboard.")
    health_uid: str = _setting("teampulse-health", "uid", "UID of the health dashboard.")
    dashboard_tag: str = _setting(
        "teampulse", "text", "The dashboards' tag; their drop-down of links lists the dashboards with it."
    )
    dashboard_refresh: str = _setting("5m", "duration", "The dashboards' auto-refresh interval.")
    dashboard_timezone: str = _setting(
        "browser", "text", 'The dashboards\' time zone: "browser", "utc" or a name like "Europe/Paris".'
    )
    datasource: str = _setting(
        "",
        "optional",
        "The Grafana data source the dashboards open with (name or uid); empty: Grafana's default.",
    )
    grafana_folder: str = _setting(
        "teampulse", "text", "The Grafana folder the provisioned dashboards go in."
    )
    grafana_dashboards_path: str = _setting(
        "/var/lib/grafana/dashboards/teampulse",
        "text",
        "Where Grafana reads the dashboards' JSON (provisioning/dashboards.yml).",
    )
    prometheus_url: str = _setting(
        "http://localhost:9090", "url", "The Prometheus of provisioning/datasources.yml."
    )

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f.name, f.metadata["kind"], getattr(self, f.name))
        uids = [self.overview_uid, self.team_uid, self.health_uid]
        if len(set(uids)) != len(uids):
            raise ConfigError("team_uid", "the three dashboard UIDs must differ")

    @property
    def selector_labels(self) -> dict[str, str]:
        """Return the labels the job selector matches, as a scraped series of the job carries them."""
        return {m.group(1): m.group(2) for m in _MATCHER.finditer(self.job_selector)}


def settings() -> dict[str, tuple[str, str]]:
    """Return every key of the TOML file with its default and what it sets."""
    return {f.name: (str(f.default), f.metadata["doc"]) for f in fields(MixinConfig)}


def seconds(duration: str) -> int:
    """Return a checked duration ("5m", "1h") in seconds."""
    match = _DURATION.match(duration)
    assert match, duration
    return int(match.group(1)) * _SECONDS[match.group(2)]


def _check(key: str, kind: str, value: object) -> None:
    """Raise ConfigError unless `value` is a valid setting of this kind."""
    if not isinstance(value, str):
        raise ConfigError(key, "must be a string")
    if kind == "optional":
        return
    if not value.strip():
        raise ConfigError(key, "must not be empty")
    if kind in ("duration", "minutes"):
        if not _DURATION.match(value):
            raise ConfigError(key, f'not a Prometheus duration: "{value}" (use e.g. 5m, 1h, 1d, 1w)')
        if kind == "minutes" and (seconds(value) % 60 or seconds(value) < 60):
            # the rule tests step a minute at a time, and so does a usual evaluation interval
            raise ConfigError(key, f'must be a whole number of minutes, at least 1m (not "{value}")')
    elif kind == "uid" and not _UID.match(value):
        raise ConfigError(key, f'not a Grafana UID: "{value}" (at most 40 letters, digits, - and _)')
    elif kind == "url" and not re.fullmatch(r"https?://\S+", value):
        raise ConfigError(key, f'must be an http(s) address (not "{value}")')
    elif kind == "selector":
        parts = value.split(",")
        if not all(_MATCHER.fullmatch(p) for p in parts):
            raise ConfigError(
                key,
                f'must be label="value" matchers separated by commas (not {value}): the rule tests '
                "build series of the job from them",
            )


DEFAULTS = MixinConfig()


def from_mapping(data: Mapping[str, Any]) -> MixinConfig:
    """Return the defaults overridden by `data` (a parsed TOML file); unknown keys are refused."""
    known = settings()
    for key in data:
        if key not in known:
            raise ConfigError(key, f"unknown key (known: {', '.join(sorted(known))})")
    return replace(DEFAULTS, **data)


def load_config(path: str | Path | None) -> MixinConfig:
    """Read a mixin TOML file (None: the defaults); errors name the file and the key."""
    if path is None:
        return DEFAULTS
    where = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config", "file not found", where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("config", f"cannot be read: {exc}", where) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"not valid TOML: {exc}", where) from None
    try:
        return from_mapping(data)
    except ConfigError as exc:
        raise exc.with_path(where) from None
