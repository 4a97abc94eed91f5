"""The `[sources.NAME]` table of a Jira source, validated."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from teampulse import ConfigError, PluginConfig

__all__ = ["KEYS", "JiraSettings", "parse_settings"]

KEYS = (
    "url",
    "email",
    "token_env",
    "deployment",
    "page_size",
    "overlap_seconds",
    "history_days",
    "max_retries",
    "max_retry_wait_seconds",
    "timeout_seconds",
    "cycle_budget_seconds",
    "reconcile_hours",
)
DEPLOYMENTS = ("auto", "cloud", "datacenter")


@dataclass(frozen=True)
class JiraSettings:
    """Everything a Jira source needs, with defaults applied."""

    url: str
    token: str
    email: str | None = None
    token_env: str = "JIRA_TOKEN"
    deployment: str = "auto"
    page_size: int = 100
    overlap_seconds: float = 600.0
    history_days: float = 90.0
    max_retries: int = 5
    max_retry_wait_seconds: float = 300.0
    timeout_seconds: float = 20.0  # read timeout; connecting gets CONNECT_TIMEOUT_SECONDS at most
    cycle_budget_seconds: float = 60.0  # time a cycle may lose to failed requests and retry waits
    reconcile_hours: float = 24.0

    @property
    def host(self) -> str:
        """Return the server's host (with port) for messages."""
        return urlparse(self.url).netloc or self.url

    def __repr__(self) -> str:
        # The token must never reach a log line or a traceback.
        return f"JiraSettings(url={self.url!r}, deployment={self.deployment!r})"


def _int(config: PluginConfig, key: str, default: int, minimum: int) -> int:
    value = config.number(key, default, minimum)
    if value != int(value):
        raise ConfigError(config.key(key), "must be a whole number")
    return int(value)


def parse_settings(config: PluginConfig) -> JiraSettings:
    """Validate the table and read the token from the environment; raise ConfigError naming the key."""
    config.check_keys(KEYS)
    url = config.str("url").rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(config.key("url"), "must be an http(s) URL such as https://example.atlassian.net")
    email = config.optional_str("email")
    token_env = config.str("token_env")
    deployment = config.str("deployment", "auto")
    if deployment not in DEPLOYMENTS:
        raise ConfigError(config.key("deployment"), f"must be one of {', '.join(DEPLOYMENTS)}")
    page_size = _int(config, "page_size", 100, 1)
    if page_size > 5000:
        raise ConfigError(config.key("page_size"), "must be at most 5000")
    overlap = config.number("overlap_seconds", 600, 0)
    history = config.number("history_days", 90, 1)
    retries = _int(config, "max_retries", 5, 0)
    retry_wait = config.number("max_retry_wait_seconds", 300, 0)
    timeout = config.number("timeout_seconds", 20, 1)
    budget = config.number("cycle_budget_seconds", 60, 0)
    reconcile = config.number("reconcile_hours", 24, 0)
    # The token is read last so that a typo elsewhere is reported first.
    token = config.secret("token_env")
    if token is None:  # unreachable: required secrets raise instead
        raise ConfigError(config.key("token_env"), "is required")
    return JiraSettings(
        url=url,
        token=token,
        email=email,
        token_env=token_env,
        deployment=deployment,
        page_size=page_size,
        overlap_seconds=overlap,
        history_days=history,
        max_retries=retries,
        max_retry_wait_seconds=retry_wait,
        timeout_seconds=timeout,
        cycle_budget_seconds=budget,
        reconcile_hours=reconcile,
    )
