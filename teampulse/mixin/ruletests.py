"""Write the promtool unit tests of the generated rules, for the same config.

The expectations are written out here (the alerts' exact words, when each one fires and
resolves), not derived from rules.py; only what the config sets moves: the job's labels, the
`for:` durations (so the times of evaluation), the dashboard UIDs and the fallback runbook.
"""

from __future__ import annotations

import json
import re
import textwrap

from .config import MixinConfig, seconds
from .queries import PRESSURE_ALERT, SOURCE_DOWN_ALERT, TIME_OFF_ALERT
from .rules import HEALTH_SLUG, TEAM_SLUG

INSTANCE = "tp:9469"
OTHER = "tp2:9469"  # a second teampulse, with a config of its own
WIKI = "https://wiki.example.com/teampulse/runbook"
GRAFANA = "https://grafana.example.com"


def _humanize_duration(value: int) -> str:
    """Return `value` seconds as Prometheus' humanizeDuration prints them."""
    days, rest = divmod(value, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m {secs}s"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _run(value: str, samples: int) -> str:
    """Return promtool's expanding notation for `samples` equal values (none: empty)."""
    return "" if samples <= 0 else value if samples == 1 else f"{value}x{samples - 1}"


def _scalar(value: str) -> str:
    """Return a YAML scalar of a label value: plain where that reads the same, quoted otherwise."""
    return value if re.fullmatch(r"[A-Za-z][\w.:/-]*", value) else json.dumps(value)


def _folded(text: str, indent: int) -> str:
    """Return a folded block scalar of `text`, wrapped so that YAML reads back the same words."""
    pad = " " * indent
    return ">-\n" + "\n".join(
        pad + line
        for line in textwrap.wrap(text, 100 - indent, break_long_words=False, break_on_hyphens=False)
    )


class _Tests:
    """The pieces of the test file that follow from the config."""

    def __init__(self, config: MixinConfig) -> None:
        self.config = config
        # a series of `teampulse serve`'s job carries the selector's labels
        self.target = {"job": "teampulse", **config.selector_labels, "instance": INSTANCE}

    def series(self, metric: str, **labels: str) -> str:
        """Return a series of the teampulse job, with `labels` after its own."""
        both = {**self.target, **labels}
        return metric + "{" + ",".join(f'{k}="{v}"' for k, v in both.items()) + "}"

    def labels(self, indent: int, alert: str, severity: str, labels: dict[str, str]) -> str:
        """Return the lines of an `exp_labels` mapping: the alert's, then the series'."""
        pad = " " * indent
        found = {"alertname": alert, "severity": severity, **labels}
        return "\n".join(f"{pad}{k}: {_scalar(v)}" for k, v in found.items())

    def links(self) -> str:
        """Return teampulse_links_info with a runbook and a Grafana configured."""
        return self.series("teampulse_links_info", runbook_url=WIKI, dashboards_url=GRAFANA)

    def fallback(self, alert: str) -> str:
        """Return the runbook URL of an alert when no teampulse_links_info was scraped."""
        return f"{self.config.runbook_url}#{alert.lower()}"

    def team_url(self, team: str) -> str:
        return f"{GRAFANA}/d/{self.config.team_uid}/{TEAM_SLUG}?var-team={team}"

    def health_url(self) -> str:
        return f"{GRAFANA}/d/{self.config.health_uid}/{HEALTH_SLUG}"


def _pressure(t: _Tests) -> str:
    wait = seconds(t.config.pressure_for) // 60
    n = wait + 15  # samples of the other series
    fire = wait + 2
    description = (
        "Process pressure on payments is 0.68 against a baseline of 0.05 (out of the team's own normal at "
        "+0.20 above it or at 0.60), out of its normal since 1970-01-01 00:00:00 +0000 UTC "
        f"({_humanize_duration(fire * 60)}; the alert waits 2 days), and the people side did not answer "
        "(state unanswered): no 1:1 cadence kept with the people carrying the load, and fewer moved "
        "deadlines, rebalanced work or recorded actions since the onset than the 1 needed. `teampulse "
        "check` says what rose against which normal. To clear it: hold 1:1s with the people carrying the "
        "load, move a deadline or take an item out of the sprint, rebalance work, or record what was done "
        "with `teampulse action add`."
    )
    text = f"""
  - name: {PRESSURE_ALERT} follows the engine's verdict after {t.config.pressure_for} of scrape jitter
    interval: 1m
    input_series:
      # payments: the engine's verdict holds from 2m to {wait + 9}m; data: never.
      - series: '{t.series("teampulse_pressure_unmatched", team="payments")}'
        values: '0 0 1x{wait + 7} 0x6'
      - series: '{t.series("teampulse_pressure_unmatched", team="data")}'
        values: '0x{n}'
      - series: '{t.series("teampulse_process_pressure_ratio", team="payments")}'
        values: '0.683333x{n}'
      - series: '{t.series("teampulse_process_pressure_baseline_ratio", team="payments")}'
        values: '0.053646x{n}'
      - series: '{t.series("teampulse_pressure_episode_start_timestamp_seconds", team="payments")}'
        values: '0x{n}'
      # the links and thresholds teampulse exports (a Grafana URL configured)
      - series: '{t.links()}'
        values: '1x{n}'
      - series: '{t.series("teampulse_alert_pressure_rise_ratio")}'
        values: '0.2x{n}'
      - series: '{t.series("teampulse_alert_pressure_high_ratio")}'
        values: '0.6x{n}'
      - series: '{t.series("teampulse_alert_grace_seconds")}'
        values: '172800x{n}'
      - series: '{t.series("teampulse_alert_min_actions")}'
        values: '1x{n}'
    alert_rule_test:
      - eval_time: 1m  # not yet
        alertname: {PRESSURE_ALERT}
        exp_alerts: []
      - eval_time: {wait + 1}m  # pending: {wait - 1}m of the {wait}m
        alertname: {PRESSURE_ALERT}
        exp_alerts: []
      - eval_time: {fire}m  # the {wait}m are up; the numbers come from the pressure metrics
        alertname: {PRESSURE_ALERT}
        exp_alerts:
          - exp_labels:
{t.labels(14, PRESSURE_ALERT, "warning", {**t.target, "team": "payments"})}
            exp_annotations:
              summary: Process pressure on team payments rose without a leadership action
              description: {_folded(description, 16)}
              runbook_url: {WIKI}#{PRESSURE_ALERT.lower()}
              dashboard_url: {t.team_url("payments")}
      - eval_time: {wait + 10}m  # the engine's verdict cleared (an action, or pressure fell): resolved
        alertname: {PRESSURE_ALERT}
        exp_alerts: []
"""
    if wait >= 2:  # a verdict can flicker for less than the wait only if it is 2m or more
        flicker = " ".join(v for v in ("0", _run("1", wait - 2), "0", _run("1", wait - 1), "0 0") if v)
        first = f"""
      - eval_time: {wait - 2}m  # the end of the shorter run
        alertname: {PRESSURE_ALERT}
        exp_alerts: []"""
        first = first if wait > 2 else ""
        text += f"""
  - name: A verdict that flickers for less than {t.config.pressure_for} never fires
    interval: 1m
    input_series:
      - series: '{t.series("teampulse_pressure_unmatched", team="mobile")}'
        values: '{flicker}'
    alert_rule_test:{first}
      - eval_time: {2 * wait - 2}m  # the end of the longer run: {wait - 2}m of the {wait}m
        alertname: {PRESSURE_ALERT}
        exp_alerts: []
"""
    return text


def _time_off(t: _Tests) -> str:
    wait = seconds(t.config.time_off_for) // 60
    n = wait + 12
    description = (
        "2 meetings or work items booked or assigned over a member's time off on team payments (in the "
        "last 7 days or already booked in the next 14), under elevated pressure or with work assigned to "
        "them falling due during it (process pressure now 0.70, baseline 0.10). Nobody is named here: "
        "their manager can see it in the calendar. To clear it: move the meeting off the time off, hand "
        "the work to someone else or move its due date, then record `teampulse action add --kind "
        "time_off_protected`."
    )
    return f"""
  - name: {TIME_OFF_ALERT} fires on any overridden time off, with the count
    interval: 1m
    input_series:
      - series: '{t.series("teampulse_time_off_overridden", team="payments")}'
        values: '0 0 2x{wait + 5} 0x5'
      - series: '{t.series("teampulse_time_off_overridden", team="data")}'
        values: '0x{n}'
      - series: '{t.series("teampulse_process_pressure_ratio", team="payments")}'
        values: '0.7x{n}'
      - series: '{t.series("teampulse_process_pressure_baseline_ratio", team="payments")}'
        values: '0.1x{n}'
    alert_rule_test:
      - eval_time: {wait + 1}m
        alertname: {TIME_OFF_ALERT}
        exp_alerts: []
      - eval_time: {wait + 2}m
        alertname: {TIME_OFF_ALERT}
        exp_alerts:
          - exp_labels:
{t.labels(14, TIME_OFF_ALERT, "warning", {**t.target, "team": "payments"})}
            exp_annotations:
              summary: Time off on team payments was overridden under pressure
              description: {_folded(description, 16)}
              # no teampulse_links_info scraped: the fallback runbook, no Grafana link
              runbook_url: {t.fallback(TIME_OFF_ALERT)}
              dashboard_url: ""
      - eval_time: {wait + 8}m  # the conflict left the 7-day window or was put right
        alertname: {TIME_OFF_ALERT}
        exp_alerts: []
"""


def _source_down_description(last_success: str, up: str, age: str, after: str = "1 h") -> str:
    return (
        f"Source jira on {INSTANCE} has had no successful collection for over {after} (last success: "
        f"{last_success}); it reports up = {up} and its served values are {age} old. Its metrics are stale "
        "until it recovers: check `teampulse_source_errors_total`, the URL, the credentials in the "
        "environment and the source's rate limit."
    )


def _source_down(t: _Tests) -> str:
    jira = {**t.target, "source": "jira"}
    return f"""
  - name: {SOURCE_DOWN_ALERT} fires when the last success is older than alerts.source_down_after, and resolves on success
    interval: 1m
    input_series:
      # jira last succeeded at 0 and fails from 1m; it recovers at 70m.
      - series: '{t.series("teampulse_source_last_success_timestamp_seconds", source="jira")}'
        values: '0x69 4200x10'
      - series: '{t.series("teampulse_source_failing_since_timestamp_seconds", source="jira")}'
        values: '_ 60x68 stale'
      - series: '{t.series("teampulse_source_up", source="jira")}'
        values: '1 0x68 1x10'
      - series: '{t.series("teampulse_cache_age_seconds")}'
        values: '30x80'
      # the survey collected every 15 minutes: never down
      - series: '{t.series("teampulse_source_last_success_timestamp_seconds", source="pulse")}'
        values: '0+900x5 3600+900x5'
      - series: '{t.series("teampulse_source_up", source="pulse")}'
        values: '1x80'
      - series: '{t.series("teampulse_alert_source_down_after_seconds", source="jira")}'
        values: '3600x80'
      - series: '{t.series("teampulse_alert_source_down_after_seconds", source="pulse")}'
        values: '3600x80'
      - series: '{t.links()}'
        values: '1x80'
      - series: '{t.series("up")}'
        values: '1x80'
    alert_rule_test:
      - eval_time: 59m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts: []
      - eval_time: 60m  # 1h since the last success, as `teampulse check` judges it
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts:
          - exp_labels: &jira_down
{t.labels(14, SOURCE_DOWN_ALERT, "critical", jira)}
            exp_annotations:
              summary: teampulse source jira has not collected for over 1 h
              description: {_folded(_source_down_description("1h 0m 0s ago", "0", "30s"), 16)}
              runbook_url: {WIKI}#{SOURCE_DOWN_ALERT.lower()}
              dashboard_url: {t.health_url()}
      - eval_time: 71m  # it collected again at 70m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts: []

  - name: A shorter alerts.source_down_after in force fires sooner, with no rule rebuilt
    interval: 1m
    input_series:
      - series: '{t.series("teampulse_source_last_success_timestamp_seconds", source="jira")}'
        values: '0x40'
      - series: '{t.series("teampulse_source_up", source="jira")}'
        values: '1 0x39'
      - series: '{t.series("teampulse_cache_age_seconds")}'
        values: '30x40'
      - series: '{t.series("teampulse_alert_source_down_after_seconds", source="jira")}'
        values: '1800x40'
      - series: '{t.series("up")}'
        values: '1x40'
    alert_rule_test:
      - eval_time: 29m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts: []
      - eval_time: 30m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts:
          - exp_labels: *jira_down
            exp_annotations:
              summary: teampulse source jira has not collected for over 0.5 h
              description: {_folded(_source_down_description("30m 0s ago", "0", "30s", "0.5 h"), 16)}
              runbook_url: {t.fallback(SOURCE_DOWN_ALERT)}
              dashboard_url: ""

  - name: {SOURCE_DOWN_ALERT} fires when collection stalls and the cache goes stale
    interval: 5m
    input_series:
      # the collection loop hung at 0: the cached values (up = 1) are served, ever older
      - series: '{t.series("teampulse_source_last_success_timestamp_seconds", source="jira")}'
        values: '0x20'
      - series: '{t.series("teampulse_source_up", source="jira")}'
        values: '1x20'
      - series: '{t.series("teampulse_cache_age_seconds")}'
        values: '0+300x20'
      - series: '{t.series("teampulse_alert_source_down_after_seconds", source="jira")}'
        values: '3600x20'
      - series: '{t.series("up")}'
        values: '1x20'
    alert_rule_test:
      - eval_time: 55m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts: []
      - eval_time: 65m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts:
          - exp_labels: *jira_down
            exp_annotations:
              summary: teampulse source jira has not collected for over 1 h
              description: {_folded(_source_down_description("1h 5m 0s ago", "1", "1h 5m 0s"), 16)}
              runbook_url: {t.fallback(SOURCE_DOWN_ALERT)}
              dashboard_url: ""

  - name: {SOURCE_DOWN_ALERT} fires for a source that never succeeded, alerts.source_down_after after its first failure
    interval: 1m
    input_series:
      # jira fails from 0 (teampulse exports when the failures began) and succeeds at 91m
      - series: '{t.series("teampulse_source_failing_since_timestamp_seconds", source="jira")}'
        values: '0x90 stale'
      - series: '{t.series("teampulse_source_up", source="jira")}'
        values: '0x90 1x5'
      - series: '{t.series("teampulse_cache_age_seconds")}'
        values: '10x95'
      - series: '{t.series("teampulse_alert_source_down_after_seconds", source="jira")}'
        values: '3600x95'
      - series: '{t.series("up")}'
        values: '1x95'
    alert_rule_test:
      - eval_time: 30m  # down, but not for 1h yet
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts: []
      - eval_time: 60m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts:
          - exp_labels: *jira_down
            exp_annotations:
              summary: teampulse source jira has not collected for over 1 h
              description: {_folded(_source_down_description("never", "0", "10s"), 16)}
              runbook_url: {t.fallback(SOURCE_DOWN_ALERT)}
              dashboard_url: ""
      - eval_time: 92m  # it came up (and, in real life, now has a last success)
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts: []
"""


def _not_scraped(t: _Tests) -> str:
    wait = seconds(t.config.scrape_down_for) // 60
    after = t.config.scrape_down_for
    selector = "{" + t.config.job_selector + "}"
    tail = (
        f"for over {after}: `teampulse serve` is down, unreachable or missing from service discovery, so "
        "its metrics and alerts are stale."
    )
    # another job's series, so that Prometheus has scraped something
    other = "node" if t.target["job"] != "node" else "node-exporter"
    return f"""
  - name: {SOURCE_DOWN_ALERT} fires when teampulse itself is not scraped for {after}, its links still known
    interval: 1m
    input_series:
      - series: '{t.series("up")}'
        values: '1x10 0x{wait + 10}'
      # exported until teampulse went down at 11m
      - series: '{t.links()}'
        values: '1x10'
    alert_rule_test:
      - eval_time: {wait + 10}m  # down since 11m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts: []
      - eval_time: {wait + 11}m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts:
          - exp_labels:
{t.labels(14, SOURCE_DOWN_ALERT, "critical", {"source": "teampulse", **t.target})}
            exp_annotations:
              summary: "teampulse is not scraped: its sources' data is stale"
              description: {_folded(f"Prometheus has had no successful scrape of {selector} at {INSTANCE} {tail}", 16)}
              runbook_url: {WIKI}#{SOURCE_DOWN_ALERT.lower()}
              dashboard_url: {t.health_url()}

  - name: {SOURCE_DOWN_ALERT} fires when the teampulse job is gone from discovery
    interval: 1m
    input_series:
      - series: 'up{{job="{other}",instance="host:9100"}}'
        values: '1x{wait + 10}'
    alert_rule_test:
      - eval_time: {wait - 1}m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts: []
      - eval_time: {wait + 1}m
        alertname: {SOURCE_DOWN_ALERT}
        exp_alerts:
          - exp_labels:
{t.labels(14, SOURCE_DOWN_ALERT, "critical", {"source": "teampulse", **t.config.selector_labels})}
            exp_annotations:
              summary: "teampulse is not scraped: its sources' data is stale"
              description: {_folded(f"Prometheus has had no successful scrape of {selector} {tail}", 16)}
              runbook_url: {t.fallback(SOURCE_DOWN_ALERT)}
              dashboard_url: ""
"""


def _recording(t: _Tests) -> str:
    def sample(record: str, value: str, **labels: str) -> str:
        return f"""
          - labels: '{t.series(record, **labels)}'
            value: {value}"""

    return f"""
  - name: Recording rules
    interval: 1m
    input_series:
      # values exact in binary floating point, so the sums below are exact
      - series: '{t.series("teampulse_process_pressure_ratio", team="payments")}'
        values: '0.75x10'
      - series: '{t.series("teampulse_process_pressure_baseline_ratio", team="payments")}'
        values: '0.25x10'
      - series: '{t.series("teampulse_people_support_ratio", team="payments")}'
        values: '0.5x10'
      # data is served by a second teampulse, with a config of its own
      - series: '{t.series("teampulse_process_pressure_ratio", team="data", instance=OTHER)}'
        values: '0.125x10'
      - series: '{t.series("teampulse_process_pressure_baseline_ratio", team="data", instance=OTHER)}'
        values: '0.5x10'
      # the thresholds in force, one series per instance (no team): payments's at the defaults,
      # data's with its instance's own
      - series: '{t.series("teampulse_alert_pressure_rise_ratio")}'
        values: '0.2x10'
      - series: '{t.series("teampulse_alert_pressure_high_ratio")}'
        values: '0.6x10'
      - series: '{t.series("teampulse_alert_pressure_rise_ratio", instance=OTHER)}'
        values: '0.375x10'
      - series: '{t.series("teampulse_alert_pressure_high_ratio", instance=OTHER)}'
        values: '0.75x10'
      - series: '{t.series("teampulse_leadership_actions_total", team="payments", kind="one_on_one")}'
        values: '0 0 1 1 2 2 2 2 2 2 2'
      - series: '{t.series("teampulse_leadership_actions_total", team="payments", kind="recorded")}'
        values: '0 0 0 0 0 0 0 0 0 0 1'
      - series: '{t.series("teampulse_source_last_success_timestamp_seconds", source="jira")}'
        values: '0x10'
    promql_expr_test:
      - expr: team:teampulse_process_pressure_rise:ratio
        eval_time: 10m
        exp_samples:{sample("team:teampulse_process_pressure_rise:ratio", "0.5", team="payments")}{sample("team:teampulse_process_pressure_rise:ratio", "-0.375", team="data", instance=OTHER)}
      # elevated at baseline + rise, but never above high, each team with its instance's thresholds
      - expr: team:teampulse_process_pressure_threshold:ratio
        eval_time: 10m
        exp_samples:{sample("team:teampulse_process_pressure_threshold:ratio", "0.45", team="payments")}{sample("team:teampulse_process_pressure_threshold:ratio", "0.75", team="data", instance=OTHER)}
      - expr: team:teampulse_pressure_support_gap:ratio
        eval_time: 10m
        exp_samples:{sample("team:teampulse_pressure_support_gap:ratio", "0.25", team="payments")}
      - expr: team:teampulse_leadership_actions:increase1d
        eval_time: 10m
        exp_samples:{sample("team:teampulse_leadership_actions:increase1d", "3", team="payments")}
      - expr: source:teampulse_source_last_success_age:seconds
        eval_time: 10m
        exp_samples:{sample("source:teampulse_source_last_success_age:seconds", "600", source="jira")}
"""


def render_rule_tests(config: MixinConfig) -> str:
    """Return the promtool test file of the rules generated with `config`."""
    t = _Tests(config)
    head = """\
# Unit tests of rules/teampulse.rules.yml: `promtool test rules` on this file. Generated with the
# rules, for the same config, by teampulse.mixin (`teampulse mixin`). Times count from 0, the Unix
# epoch, so timestamps read as 1970.
rule_files:
  - ../rules/teampulse.rules.yml
evaluation_interval: 1m

tests:"""
    return head + _pressure(t) + _time_off(t) + _source_down(t) + _not_scraped(t) + _recording(t)
