"""The `[sources.NAME]` table of a Jira source, declared once: keys, types, defaults, meaning."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlparse

from teampulse import Number, PluginConfig, Secret, Setting, Settings, TeamInfo, Text, Url, Whole

__all__ = ["KEYS", "SETTINGS", "JiraSettings", "parse_settings", "team_jql"]

DEPLOYMENTS = ("auto", "cloud", "datacenter")
JQL = Text(what="a non-empty JQL string", blank_ok=False)

SETTINGS = Settings(
    Setting(
        "url",
        Url(what="an http(s) URL such as https://example.atlassian.net"),
        description="Base URL of the Jira site (http or https).",
    ),
    Setting(
        "email",
        Text(),
        None,
        "With it: HTTP basic auth with the e-mail and an API token (Jira Cloud). Without it: a bearer "
        "personal access token (Data Center).",
    ),
    Setting(
        "token_env",
        Secret(),
        description="Name of the environment variable holding the API token or personal access token. "
        "The token never appears in the config file, in messages or in `repr`.",
    ),
    Setting(
        "deployment",
        Text(choices=DEPLOYMENTS),
        "auto",
        '`auto` reads `deploymentType` from `serverInfo` (`"Cloud"` means Cloud); `cloud` or '
        "`datacenter` forces one.",
    ),
    Setting(
        "page_size",
        Whole(1, 5000),
        100,
        "Issues per search page (Cloud serves at most 100 when fields are requested).",
    ),
    Setting(
        "overlap_seconds",
        Number(0),
        600,
        "Each incremental sync re-reads this far before the cursor: JQL dates have minute precision "
        "and Cloud search is eventually consistent.",
    ),
    Setting(
        "history_days",
        Number(1),
        90,
        "How far back the first sync of a team goes at least (open issues are read whatever their "
        "age); it also reaches back as far as the engine replays (about 133 days with the default "
        "reference window), so the first evaluations have a whole reference window of history.",
    ),
    Setting(
        "max_retries",
        Whole(0),
        5,
        "Retries per request on 429, 503, other 5xx and connection failures.",
    ),
    Setting(
        "max_retry_wait_seconds",
        Number(0),
        300,
        "The longest wait between retries; a `Retry-After` longer than this fails the collection "
        "instead of waiting.",
    ),
    Setting(
        "timeout_seconds",
        Number(1),
        20,
        "Read timeout per request (connecting gets at most 5 s).",
    ),
    Setting(
        "cycle_budget_seconds",
        Number(0),
        60,
        "Time one collection may lose to failed requests (timeouts, 5xx, HTML pages) and to waiting "
        "before retries. Once spent, the next failure is not retried: the collection fails in one "
        "line, what it synced is kept, the next collection goes on from there. Successful requests "
        "never count, so a long first sync is not cut.",
    ),
    Setting(
        "max_requests_per_cycle",
        Whole(1),
        1000,
        "Requests one collection may make (Jira Cloud limits the rate of requests). Once spent, no "
        "new search page is asked for: what was read is kept, and the next collection goes on from "
        "there. Requests that finish what was begun (a page's changelogs, routing and user look-ups, "
        "a reconciliation's listing) still go.",
    ),
    Setting(
        "reconcile_hours",
        Number(0),
        24,
        "How often each team's issues are checked for deletions: the ids still matching the JQL "
        "of every team due are listed in one search, and issues gone from it are removed "
        "(0: every collection). Teams due together are spread over cycles past a tenth of "
        "`max_requests_per_cycle`.",
    ),
    Setting(
        "jql",
        JQL,
        None,
        "The team's issues in this Jira, for a team whose issues here differ from its `jql` (two "
        "Jira sites, say). Teams with neither are skipped by this source.",
        shown="the team's `jql`",
        scope="team",
    ),
)
KEYS = tuple(SETTINGS.names("source", "both"))


@dataclass(frozen=True)
class JiraSettings:
    """Everything a Jira source needs, with defaults applied."""

    url: str
    token: str
    email: str | None = None
    token_env: str = "JIRA_TOKEN"
    deployment: str = SETTINGS.default("deployment")
    page_size: int = SETTINGS.default("page_size")
    overlap_seconds: float = SETTINGS.default("overlap_seconds")
    history_days: float = SETTINGS.default("history_days")
    max_retries: int = SETTINGS.default("max_retries")
    max_retry_wait_seconds: float = SETTINGS.default("max_retry_wait_seconds")
    # Read timeout; connecting gets CONNECT_TIMEOUT_SECONDS at most.
    timeout_seconds: float = SETTINGS.default("timeout_seconds")
    # Time a cycle may lose to failed requests and retry waits.
    cycle_budget_seconds: float = SETTINGS.default("cycle_budget_seconds")
    reconcile_hours: float = SETTINGS.default("reconcile_hours")
    max_requests_per_cycle: int = SETTINGS.default("max_requests_per_cycle")

    @property
    def host(self) -> str:
        """Return the server's host (with port) for messages."""
        return urlparse(self.url).netloc or self.url

    def __repr__(self) -> str:
        # The token must never reach a log line or a traceback.
        return f"JiraSettings(url={self.url!r}, deployment={self.deployment!r})"


def parse_settings(config: PluginConfig) -> JiraSettings:
    """Validate the table and read the token from the environment; raise ConfigError naming the key."""
    values = config.parse(SETTINGS)  # the token is read last, so a typo elsewhere is reported first
    return JiraSettings(
        url=values["url"].rstrip("/"),
        token=values["token_env"],
        token_env=config.options["token_env"],
        **{k: values[k] for k in KEYS if k not in ("url", "token_env")},
    )


def team_jql(team: TeamInfo) -> TeamInfo:
    """Return the team with the JQL this source reads: its own here (`jql` per team), else the team's."""
    jql = team.settings.get("jql") if team.settings else None
    return replace(team, jql=jql) if jql else team
