"""Build the teampulse monitoring mixin: Prometheus rules and Grafana dashboards.

Run `python dashboards/build.py` after editing this file; it rewrites
dashboards/rules/teampulse.rules.yml and dashboards/grafana/*.json. `--check` writes
nothing and exits 1 if a checked-in file differs (tests/test_rules.py and
tests/test_dashboards.py do the same comparison).

Nothing installation-specific is baked in: the thresholds in force come from the gauges
teampulse exports (`teampulse_alert_*`, from its config), the runbook and Grafana links from
`teampulse_links_info`, and the alerts' words from teampulse.alerts, which the engine uses too.
A config change needs no rebuild.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from teampulse import alerts as words
from teampulse.exporter import RUNBOOK_URL

HERE = Path(__file__).resolve().parent

# The engine exports its verdict once per collection cycle, so `for:` only has to ride out a
# scrape that lands mid-restart; a few scrapes at the README's 1m scrape interval.
JITTER_FOR = "5m"

# --- Where things live ---------------------------------------------------------------------------
JOB_SELECTOR = 'job="teampulse"'  # the scrape job of `teampulse serve`
# teampulse cannot export how long it has been gone: Prometheus judges that alone, with this
# `for:` (alerts.source_down_after's default).
SCRAPE_DOWN_FOR = "1h"
# The links' labels outlive a restart or an outage of teampulse by this much.
LINKS_LOOKBACK = "1w"
GRAFANA_MAJOR = 11  # the dashboards' schema is Grafana 11.6's (grafana-foundation-sdk 11.6.0)

OVERVIEW_UID = "teampulse-overview"
TEAM_UID = "teampulse-team"
HEALTH_UID = "teampulse-health"
TAG = "teampulse"

PRESSURE_ALERT = words.PRESSURE_ALERT
TIME_OFF_ALERT = words.TIME_OFF_ALERT
SOURCE_DOWN_ALERT = words.SOURCE_DOWN_ALERT
ALERT_NAMES = (PRESSURE_ALERT, TIME_OFF_ALERT, SOURCE_DOWN_ALERT)

# The thresholds in force, as teampulse exports them (teampulse.exporter.THRESHOLDS).
RISE = "teampulse_alert_pressure_rise_ratio"
HIGH = "teampulse_alert_pressure_high_ratio"
GRACE = "teampulse_alert_grace_seconds"
MIN_ACTIONS = "teampulse_alert_min_actions"
SOURCE_DOWN_AFTER = "teampulse_alert_source_down_after_seconds"

RULES_PATH = Path("rules/teampulse.rules.yml")
DASHBOARD_PATHS = {
    OVERVIEW_UID: Path("grafana/teampulse-overview.json"),
    TEAM_UID: Path("grafana/teampulse-team.json"),
    HEALTH_UID: Path("grafana/teampulse-health.json"),
}


def _link(label: str, then: str, default: str = "") -> str:
    """Return a template of a `teampulse_links_info` label of the alert's job, followed by `then`."""
    found = (
        f'{{{{ with printf `last_over_time(teampulse_links_info{{job=%q,{label}!=""}}[{LINKS_LOOKBACK}])` '
        f"$labels.job | query }}}}{{{{ . | first | label {json.dumps(label)} }}}}{then}"
    )
    return found + (f"{{{{ else }}}}{default}{then}" if default else "") + "{{ end }}"


def _runbook(alert: str) -> str:
    """Return the runbook URL of an alert (GitHub anchors are the lower-cased heading).

    teampulse's own documentation is the fallback for a job not scraped for LINKS_LOOKBACK.
    """
    return _link("runbook_url", f"#{alert.lower()}", default=RUNBOOK_URL)


def _dashboard_url(uid: str, slug: str, query: str = "") -> str:
    """Return a template of a Grafana URL of one of the mixin's dashboards (empty without settings.dashboards_url)."""
    return _link("dashboards_url", f"/d/{uid}/{slug}" + (f"?{query}" if query else ""))


def _value_of(
    metric: str,
    fmt: str,
    by: Sequence[str] = ("team", "instance"),
    default: str = "?",
    suffix: str = "",
    around: str = "{}",
) -> str:
    """Return a template that reads one series of `metric` for the alert's labels and formats it.

    `around` places the selector in a larger expression, e.g. "{} / 86400".
    """
    matchers = ",".join(f"{label}=%q" for label in by)
    args = " ".join(f"$labels.{label}" for label in by)
    expr = around.format(f"{metric}{{{matchers}}}")
    return (
        f'{{{{ with printf "{expr}" {args} | query }}}}'
        f"{{{{ . | first | value | {fmt} }}}}{suffix}{{{{ else }}}}{default}{{{{ end }}}}"
    )


# --- Prometheus rules ---------------------------------------------------------------------------


def recording_rules() -> list[dict[str, Any]]:
    """Return the recording rules (shortcuts for dashboards, ad-hoc queries and federation)."""
    return [
        {
            "record": "team:teampulse_process_pressure_rise:ratio",
            "expr": "teampulse_process_pressure_ratio - teampulse_process_pressure_baseline_ratio",
        },
        {
            # The level at which the engine calls pressure elevated: rise above the baseline, or
            # high whatever the baseline (the lower of the two), for teams with a baseline.
            "record": "team:teampulse_process_pressure_threshold:ratio",
            "expr": _pressure_threshold("").replace("{}", "").replace(" or ", "\nor\n"),
        },
        {
            "record": "team:teampulse_pressure_support_gap:ratio",
            "expr": "teampulse_process_pressure_ratio - teampulse_people_support_ratio",
        },
        {
            "record": "team:teampulse_leadership_actions:increase1d",
            "expr": "sum without (kind) (increase(teampulse_leadership_actions_total[1d]))",
        },
        {
            "record": "source:teampulse_source_last_success_age:seconds",
            "expr": "time() - teampulse_source_last_success_timestamp_seconds",
        },
    ]


def alerting_rules() -> list[dict[str, Any]]:
    """Return the three alerts over the exported metrics."""
    team_url = _dashboard_url(TEAM_UID, "teampulse-team-detail", "var-team={{ $labels.team }}")
    health_url = _dashboard_url(HEALTH_UID, "teampulse-health")
    team = "{{ $labels.team }}"
    pressure = _value_of("teampulse_process_pressure_ratio", 'printf "%.2f"')
    baseline = _value_of("teampulse_process_pressure_baseline_ratio", 'printf "%.2f"')
    since = _value_of("teampulse_pressure_episode_start_timestamp_seconds", "humanizeTimestamp")
    held = _value_of("time() - teampulse_pressure_episode_start_timestamp_seconds", "humanizeDuration")
    source = ("source", "instance")
    last_success_age = _value_of(
        "time() - teampulse_source_last_success_timestamp_seconds",
        "humanizeDuration",
        by=source,
        default="never",
        suffix=" ago",
    )
    cache_age = _value_of("teampulse_cache_age_seconds", "humanizeDuration", by=("instance",))
    down_after = _value_of(SOURCE_DOWN_AFTER, 'printf "%g"', by=source, around="{} / 3600", suffix=" h")
    source_annotations = {
        "runbook_url": _runbook(SOURCE_DOWN_ALERT),
        "dashboard_url": health_url,
    }
    return [
        {
            # The grace period and the count of leadership actions live in the engine: only it
            # knows when the episode began and which actions (recorded, or seen in Jira history)
            # answer it, and `teampulse check` must give the same verdict. So the rule reads the
            # engine's verdict and waits only for scrape jitter.
            "alert": PRESSURE_ALERT,
            "expr": "teampulse_pressure_unmatched == 1",
            "for": JITTER_FOR,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": words.PRESSURE_SUMMARY.format(team=team),
                "description": (
                    words.pressure_opening(
                        team,
                        pressure,
                        baseline,
                        _value_of(RISE, 'printf "%.2f"'),
                        _value_of(HIGH, 'printf "%.2f"'),
                    )
                    + f", out of its normal since {since} ({held}; the alert waits "
                    + _value_of(GRACE, 'printf "%g"', around="{} / 86400", suffix=" days")
                    + "), and the people side did not answer (state unanswered): no 1:1 cadence kept "
                    "with the people carrying the load, and fewer moved deadlines, rebalanced work or "
                    "recorded actions since the onset than the "
                    + _value_of(MIN_ACTIONS, 'printf "%.0f"')
                    + " needed. `teampulse check` says what rose against which normal. "
                    + words.PRESSURE_REMEDY
                ),
                "runbook_url": _runbook(PRESSURE_ALERT),
                "dashboard_url": team_url,
            },
        },
        {
            "alert": TIME_OFF_ALERT,
            "expr": "teampulse_time_off_overridden > 0",
            "for": JITTER_FOR,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": words.TIME_OFF_SUMMARY.format(team=team),
                "description": words.time_off_description(
                    "{{ $value }} {{ if eq $value 1.0 }}meeting or work item{{ else }}meetings or work items{{ end }}"
                    " booked or assigned",
                    team,
                    pressure,
                    baseline,
                ),
                "runbook_url": _runbook(TIME_OFF_ALERT),
                "dashboard_url": team_url,
            },
        },
        {
            # No successful collection for alerts.source_down_after, as the engine judges it: since
            # the last success (a failing source, or a collection loop that stalled with a stale
            # cache), or since the first failure of a source that never succeeded. One rule, not
            # several with the same labels, which promtool's lint rejects. The duration is in the
            # expression, so no `for:`: the age only grows, there is no jitter to ride out.
            "alert": SOURCE_DOWN_ALERT,
            "expr": (
                "time() - teampulse_source_last_success_timestamp_seconds\n"
                f"  >= on (job, instance, source) {SOURCE_DOWN_AFTER}\n"
                "or on (job, instance, source)\n"
                "time() - teampulse_source_failing_since_timestamp_seconds\n"
                f"  >= on (job, instance, source) {SOURCE_DOWN_AFTER}"
            ),
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": words.SOURCE_DOWN_SUMMARY.format(source="{{ $labels.source }}", after=down_after),
                "description": (
                    "Source {{ $labels.source }} on {{ $labels.instance }} has had no successful "
                    f"collection for over {down_after} (last success: {last_success_age}); it reports up = "
                    + _value_of("teampulse_source_up", 'printf "%.0f"', by=source)
                    + " and its served values are "
                    + cache_age
                    + " old. "
                    + words.SOURCE_DOWN_REMEDY
                ),
                **source_annotations,
            },
        },
        {
            # teampulse itself down, unreachable or gone from discovery: its series go stale, so
            # the rule above sees nothing. The source label says it is teampulse as a whole.
            "alert": SOURCE_DOWN_ALERT,
            "expr": f"up{{{JOB_SELECTOR}}} == 0 or absent(up{{{JOB_SELECTOR}}})",
            "for": SCRAPE_DOWN_FOR,
            "labels": {"severity": "critical", "source": "teampulse"},
            "annotations": {
                "summary": "teampulse is not scraped: its sources' data is stale",
                "description": (
                    f"Prometheus has had no successful scrape of {{{JOB_SELECTOR}}}"
                    "{{ with $labels.instance }} at {{ . }}{{ end }} "
                    f"for over {SCRAPE_DOWN_FOR}: `teampulse serve` is down, unreachable or missing from "
                    "service discovery, so its metrics and alerts are stale."
                ),
                **source_annotations,
            },
        },
    ]


def rules() -> dict[str, Any]:
    """Return the rule file's content."""
    return {
        "groups": [
            {"name": "teampulse.rules", "rules": recording_rules()},
            {"name": "teampulse.alerts", "rules": alerting_rules()},
        ]
    }


class _Dumper(yaml.SafeDumper):
    """Write lists indented under their key, multi-line strings as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    """Represent multi-line strings (expressions) as literal blocks, long ones folded."""
    style = "|" if "\n" in data else (">" if len(data) > 100 else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def render_rules() -> str:
    """Return the rule file as YAML text."""
    body = yaml.dump(rules(), Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    return "# Generated by dashboards/build.py: edit that file and run it, never this one.\n" + body


# --- Grafana dashboards --------------------------------------------------------------------------

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
# Annotations query at this step over the same range, so each action marks one step.
ANNOTATION_STEP = "5m"


def _q(expr: str, legend: str = "", ref: str = "A", instant: bool = False, fmt: str = "") -> prom.Dataquery:
    """Return a Prometheus query of a panel."""
    q = prom.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    if fmt == "table":
        q = q.format(PromQueryFormat.TABLE)
    return q


def _thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    """Return absolute thresholds, the first step's value None (the base colour)."""
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


GREEN = (None, "green")
# Visual bands of the support index only; no alert judges support by a number.
SUPPORT_STEPS = ((None, "red"), (0.4, "orange"), (0.7, "green"))
DASHED = {"fill": "dash", "dash": [10, 10]}
DOTTED = {"fill": "dot", "dash": [0, 10]}
RED = {"mode": "fixed", "fixedColor": "red"}
THRESHOLD_LEGEND = "threshold in force"


def _pressure_threshold(matchers: str) -> str:
    """Return team:teampulse_process_pressure_threshold:ratio's expression, for dashboards that
    must work without the rules loaded."""
    base = f"teampulse_process_pressure_baseline_ratio{{{matchers}}}"
    return f"{base} + {RISE}{{{matchers}}} < {HIGH}{{{matchers}}} or {HIGH}{{{matchers}}} and {base}"


def _threshold_from(expr: str) -> tuple[prom.Dataquery, model.DataTransformerConfig]:
    """Return a query of an exported threshold and the transformation that makes it the panel's
    red step (Grafana's "Config from query results"), so no number is baked in."""
    query = _q(expr, THRESHOLD_LEGEND, "T", instant=True)
    transform = model.DataTransformerConfig(
        id_val="configFromData",
        options={
            "configRefId": "T",
            "mappings": [{"fieldName": THRESHOLD_LEGEND, "handlerKey": "threshold1"}],
        },
    )
    return query, transform


def _mapping(options: dict[str, tuple[str, str]]) -> list[model.ValueMapping]:
    """Return value mappings from value to (text, colour)."""
    return [
        model.ValueMap(
            options={
                k: model.ValueMappingResult(text=t, color=c, index=i)
                for i, (k, (t, c)) in enumerate(options.items())
            }
        )
    ]


def _ts(
    title: str,
    description: str,
    targets: Sequence[prom.Dataquery],
    unit: str,
    steps: Sequence[tuple[float | None, str]] = (GREEN,),
    line: bool = False,
    w: int = 12,
    h: int = 8,
    lo: float | None = 0,
    hi: float | None = None,
) -> timeseries.Panel:
    """Return a time series panel."""
    p = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .unit(unit)
        .thresholds(_thresholds(*steps))
        .span(w)
        .height(h)
        .legend(
            cb.VizLegendOptions()
            .display_mode(
                common.LegendDisplayMode.TABLE if len(targets) > 1 else common.LegendDisplayMode.LIST
            )
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull"])
        )
        .tooltip(
            cb.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING)
        )
    )
    if line:
        p = p.thresholds_style(cb.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE))
    if lo is not None:
        p = p.min(lo)
    if hi is not None:
        p = p.max(hi)
    return p


def _stat(
    title: str,
    description: str,
    target: prom.Dataquery,
    unit: str,
    steps: Sequence[tuple[float | None, str]] = (GREEN,),
    w: int = 6,
    h: int = 4,
    mappings: list[model.ValueMapping] | None = None,
    no_value: str = "",
    threshold: str = "",
) -> stat.Panel:
    """Return a stat panel showing the last value; red from the `threshold` query's value, if given."""
    p = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(target)
        .unit(unit)
        .thresholds(_thresholds(*steps))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .span(w)
        .height(h)
    )
    if mappings:
        p = p.mappings(mappings)
    if no_value:
        p = p.no_value(no_value)
    if threshold:
        query, transform = _threshold_from(threshold)
        p = p.with_target(query).with_transformation(transform)
    return p


def _prop(prop: str, value: object) -> model.DynamicConfigValue:
    """Return a field-config property for an override."""
    return model.DynamicConfigValue(id_val=prop, value=value)


def _links() -> list[dash.DashboardLink]:
    """Return the links to the other teampulse dashboards (by tag), keeping time and variables."""
    return [
        dash.DashboardLink("teampulse")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags([TAG])
        .as_dropdown(True)
        .include_vars(True)
        .keep_time(True),
        dash.DashboardLink("Runbook")
        .type(model.DashboardLinkType.LINK)
        .url("${runbook}")
        .icon("doc")
        .target_blank(True),
    ]


def _runbook_var() -> dash.QueryVariable:
    """Return the hidden `runbook` variable: the runbook teampulse links to (teampulse_links_info)."""
    return (
        dash.QueryVariable("runbook")
        .label("Runbook")
        .datasource(DATASOURCE)
        .query("label_values(teampulse_links_info, runbook_url)")
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .hide(model.VariableHide.HIDE_VARIABLE)
    )


def _datasource_var() -> dash.DatasourceVariable:
    """Return the `datasource` variable: provisioning resolves no `__inputs`."""
    return dash.DatasourceVariable("datasource").label("Data source").type("prometheus")


def _team_var(multi: bool) -> dash.QueryVariable:
    """Return the `team` variable (several teams, or All, when `multi`)."""
    v = (
        dash.QueryVariable("team")
        .label("Team")
        .datasource(DATASOURCE)
        .query("label_values(teampulse_process_pressure_ratio, team)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )
    if multi:
        v = (
            v.multi(True)
            .include_all(True)
            .all_value(".*")
            .current(model.VariableOption(text="All", value="$__all", selected=True))
        )
    return v


def _dashboard(uid: str, title: str, description: str) -> dash.Dashboard:
    """Return a dashboard with the settings, links and variable all three share."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .time("now-7d", "now")
        .refresh("5m")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .links(list(_links()))
        .with_variable(_datasource_var())
        .with_variable(_runbook_var())
    )


def overview() -> dash.Dashboard:
    """Return *teampulse / Organisation overview*."""
    team = 'team=~"$team"'
    detail = (
        f"/d/{TEAM_UID}/teampulse-team-detail?var-team=${{__data.fields.team}}"
        "&${datasource:queryparam}&${__url_time_range}"
    )
    columns = [
        (
            "A",
            "Alerts",
            f"sum by (team) (teampulse_pressure_unmatched{{{team}}}) + sum by (team) (teampulse_time_off_overridden{{{team}}} > bool 0)",
        ),
        ("B", "Pressure", f"max by (team) (teampulse_process_pressure_ratio{{{team}}})"),
        ("C", "Baseline", f"max by (team) (teampulse_process_pressure_baseline_ratio{{{team}}})"),
        (
            "D",
            "Rise",
            f"max by (team) (teampulse_process_pressure_ratio{{{team}}} - teampulse_process_pressure_baseline_ratio{{{team}}})",
        ),
        ("E", "People support", f"max by (team) (teampulse_people_support_ratio{{{team}}})"),
        (
            "F",
            "Leadership actions (7d)",
            f"sum by (team) (increase(teampulse_leadership_actions_total{{{team}}}[7d]))",
        ),
        ("G", "Time off overridden (7d)", f"max by (team) (teampulse_time_off_overridden{{{team}}})"),
    ]
    teams_table = (
        table.Panel()
        .title("Teams: process pressure against people support")
        .description(
            "One row per team, teams with an alert holding on top. Alerts counts "
            f"{PRESSURE_ALERT} (the engine's verdict, judged against the thresholds in force) and "
            f"{TIME_OFF_ALERT}. Click a team for its detail."
        )
        .datasource(DATASOURCE)
        .targets([_q(expr, ref=ref, instant=True, fmt="table") for ref, _name, expr in columns])
        .with_transformation(model.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True},
                    "indexByName": {
                        "team": 0,
                        **{f"Value #{ref}": i + 1 for i, (ref, _n, _e) in enumerate(columns)},
                    },
                    "renameByName": {"team": "Team", **{f"Value #{ref}": name for ref, name, _e in columns}},
                },
            )
        )
        .sort_by([cb.TableSortByFieldState().display_name("Alerts").desc(True)])
        .unit("none")
        .decimals(2)
        .thresholds(_thresholds(GREEN))
        .override_by_name(
            "Team",
            [_prop("links", [{"title": "Team detail", "url": detail}])],
        )
        .override_by_name(
            "Alerts",
            [
                _prop("decimals", 0),
                _prop(
                    "thresholds",
                    {
                        "mode": "absolute",
                        "steps": [{"value": None, "color": "green"}, {"value": 1, "color": "red"}],
                    },
                ),
                _prop("custom.cellOptions", {"type": "color-background"}),
            ],
        )
        .override_by_name(
            "People support",
            [
                _prop(
                    "thresholds",
                    {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in SUPPORT_STEPS]},
                ),
                _prop("custom.cellOptions", {"type": "color-text"}),
            ],
        )
        .override_by_regexp("/Leadership|Time off/", [_prop("decimals", 0)])
        .span(24)
        .height(9)
    )
    return (
        _dashboard(
            OVERVIEW_UID,
            "teampulse / Organisation overview",
            "Every team's process pressure beside the people support it gets, and the leadership actions that answer it.",
        )
        .with_variable(_team_var(multi=True))
        .with_row(dash.Row("Teams"))
        .with_panel(
            _stat(
                "Teams under pressure without leadership",
                f"Teams for which {PRESSURE_ALERT} holds (teampulse_pressure_unmatched == 1).",
                _q(f"count(teampulse_pressure_unmatched{{{team}}} == 1) or vector(0)", instant=True),
                "none",
                (GREEN, (1, "red")),
            )
        )
        .with_panel(
            _stat(
                "Teams with time off overridden",
                f"Teams for which {TIME_OFF_ALERT} holds (teampulse_time_off_overridden > 0).",
                _q(f"count(teampulse_time_off_overridden{{{team}}} > 0) or vector(0)", instant=True),
                "none",
                (GREEN, (1, "red")),
            )
        )
        .with_panel(
            _stat(
                "Mean process pressure",
                "Mean process pressure over the selected teams (0..1); red at the threshold in force "
                f"for high pressure ({HIGH}).",
                _q(f"avg(teampulse_process_pressure_ratio{{{team}}})", instant=True),
                "none",
                threshold=f"min({HIGH}{{{team}}})",
            ).decimals(2)
        )
        .with_panel(
            _stat(
                "Mean people support",
                "Mean people-support index over the selected teams (0..1).",
                _q(f"avg(teampulse_people_support_ratio{{{team}}})", instant=True),
                "none",
                SUPPORT_STEPS,
            ).decimals(2)
        )
        .with_panel(teams_table)
        .with_panel(
            table.Panel()
            .title("teampulse alerts in Prometheus")
            .description("Pending and firing teampulse alerts from the shipped rules (ALERTS), firing first.")
            .datasource(DATASOURCE)
            .with_target(
                _q(
                    "max by (alertname, alertstate, severity, team, source) "
                    f'(ALERTS{{alertname=~"{"|".join(ALERT_NAMES)}"}})',
                    instant=True,
                    fmt="table",
                )
            )
            .with_transformation(
                model.DataTransformerConfig(
                    id_val="organize", options={"excludeByName": {"Time": True, "Value": True}}
                )
            )
            .sort_by([cb.TableSortByFieldState().display_name("alertstate").desc(False)])
            .no_value("No teampulse alert pending or firing")
            .unit("none")
            .thresholds(_thresholds(GREEN))
            .span(24)
            .height(6)
        )
        .with_row(dash.Row("Pressure and support over time"))
        .with_panel(
            _ts(
                "Process pressure (solid) and people support (dashed)",
                "Each team's process pressure beside its people support, both 0..1. Pressure at or above "
                f"the dotted line ({HIGH}, alerts.high) is high whatever the baseline.",
                [
                    _q(
                        f"max by (team) (teampulse_process_pressure_ratio{{{team}}})",
                        "{{team}} pressure",
                        "A",
                    ),
                    _q(f"max by (team) (teampulse_people_support_ratio{{{team}}})", "{{team}} support", "B"),
                    _q(f"min({HIGH}{{{team}}})", "high pressure", "C"),
                ],
                "none",
                hi=1,
                w=24,
            )
            .override_by_regexp("/ support$/", [_prop("custom.lineStyle", DASHED)])
            .override_by_name("high pressure", [_prop("custom.lineStyle", DOTTED), _prop("color", RED)])
        )
        .with_panel(
            _ts(
                "Pressure rise above baseline",
                f"Process pressure minus the team's baseline; an episode starts at the dotted line ({RISE}, "
                "alerts.rise).",
                [
                    _q(
                        f"max by (team) (teampulse_process_pressure_ratio{{{team}}} - teampulse_process_pressure_baseline_ratio{{{team}}})",
                        "{{team}}",
                        "A",
                    ),
                    _q(f"min({RISE}{{{team}}})", "episode starts", "B"),
                ],
                "none",
                lo=None,
            ).override_by_name("episode starts", [_prop("custom.lineStyle", DOTTED), _prop("color", RED)])
        )
        .with_panel(
            _ts(
                "Teams under pressure without leadership",
                f"1 while {PRESSURE_ALERT} holds for the team.",
                [_q(f"max by (team) (teampulse_pressure_unmatched{{{team}}})", "{{team}}")],
                "none",
                (GREEN, (1, "red")),
                hi=1,
            )
        )
        .with_row(dash.Row("Leadership actions"))
        .with_panel(
            _ts(
                "Leadership actions per day, by team",
                "Leadership actions in the trailing day: recorded, or seen in Jira history "
                "(deadlines moved, work rebalanced).",
                [
                    _q(
                        f"sum by (team) (increase(teampulse_leadership_actions_total{{{team}}}[1d]))",
                        "{{team}}",
                    )
                ],
                "none",
            )
        )
        .with_panel(
            _ts(
                "Leadership actions per day, by kind",
                "Leadership actions in the trailing day over the selected teams, by kind.",
                [
                    _q(
                        f"sum by (kind) (increase(teampulse_leadership_actions_total{{{team}}}[1d]))",
                        "{{kind}}",
                    )
                ],
                "none",
            )
        )
    )


def team_detail() -> dash.Dashboard:
    """Return *teampulse / Team detail*: every process metric beside its people counterpart."""
    t = 'team="$team"'
    d = (
        _dashboard(
            TEAM_UID,
            "teampulse / Team detail",
            "One team: each process metric (left) beside its people-side counterpart (right).",
        )
        .with_variable(_team_var(multi=False))
        .annotations(
            [
                dash.AnnotationQuery()
                .name("Leadership actions")
                .datasource(DATASOURCE)
                .enable(True)
                .icon_color("green")
                .expr(
                    f"sum by (kind) (increase(teampulse_leadership_actions_total{{{t}}}[{ANNOTATION_STEP}])) > 0"
                ),
                dash.AnnotationQuery()
                .name("teampulse alerts")
                .datasource(DATASOURCE)
                .enable(True)
                .icon_color("red")
                .expr(f'max by (alertname) (ALERTS{{alertstate="firing",{t}}})'),
            ]
        )
        .with_row(dash.Row("Pressure"))
        .with_panel(
            _stat(
                "Process pressure",
                "The pressure index now (0..1); red at or above the level at which the engine calls it "
                "elevated (the dashed line below).",
                _q(f"max(teampulse_process_pressure_ratio{{{t}}})", instant=True),
                "none",
                threshold=f"max({_pressure_threshold(t)})",
            ).decimals(2)
        )
        .with_panel(
            _stat(
                "People support",
                "The people-support index now (0..1).",
                _q(f"max(teampulse_people_support_ratio{{{t}}})", instant=True),
                "none",
                SUPPORT_STEPS,
            ).decimals(2)
        )
        .with_panel(
            _stat(
                PRESSURE_ALERT,
                "The engine's verdict: pressure rose, held for the grace period, and no leadership action answered it.",
                _q(f"max(teampulse_pressure_unmatched{{{t}}})", instant=True),
                "none",
                (GREEN, (1, "red")),
                mappings=_mapping({"0": ("matched or normal", "green"), "1": ("without leadership", "red")}),
            )
        )
        .with_panel(
            _stat(
                "Elevated since",
                "When the current pressure episode began (empty when pressure is not elevated).",
                _q(f"max(teampulse_pressure_episode_start_timestamp_seconds{{{t}}}) * 1000", instant=True),
                "dateTimeFromNow",
                no_value="not elevated",
            )
        )
        .with_panel(
            _ts(
                "Process pressure, baseline and alert threshold",
                "Pressure is elevated at the dashed threshold: the baseline plus alerts.rise, at most "
                f"alerts.high, as teampulse exports them ({RISE}, {HIGH}). {PRESSURE_ALERT} fires once "
                f"an episode held alerts.grace ({GRACE}) with fewer than alerts.min_actions ({MIN_ACTIONS}) "
                "leadership actions. Green marks are leadership actions.",
                [
                    _q(f"max(teampulse_process_pressure_ratio{{{t}}})", "pressure", "A"),
                    _q(f"max(teampulse_process_pressure_baseline_ratio{{{t}}})", "baseline", "B"),
                    _q(f"max({_pressure_threshold(t)})", "alert threshold", "C"),
                ],
                "none",
                hi=1,
                w=16,
            ).override_by_name("alert threshold", [_prop("custom.lineStyle", DASHED), _prop("color", RED)])
        )
        .with_panel(
            bargauge.Panel()
            .title("Pressure components")
            .description("Each component's score: 0 at the team's norm, 1 at saturation.")
            .datasource(DATASOURCE)
            .with_target(
                _q(
                    f"max by (component) (teampulse_process_pressure_component_ratio{{{t}}})",
                    "{{component}}",
                    instant=True,
                )
            )
            .unit("percentunit")
            .min(0)
            .max(1)
            .thresholds(_thresholds(GREEN, (0.5, "orange"), (1, "red")))
            .display_mode(common.BarGaugeDisplayMode.GRADIENT)
            .orientation(common.VizOrientation.HORIZONTAL)
            .span(8)
            .height(8)
        )
    )
    pairs: list[tuple[str, timeseries.Panel, timeseries.Panel]] = [
        (
            "Throughput vs people support",
            _ts(
                "Throughput",
                "Work items completed in the trailing 7 days.",
                [_q(f"max(teampulse_process_throughput{{{t}}})", "completed (7d)")],
                "none",
            ),
            _ts(
                "People support and its parts",
                "The people-support index and its components (0..1).",
                [
                    _q(f"max(teampulse_people_support_ratio{{{t}}})", "support", "A"),
                    _q(
                        f"max by (component) (teampulse_people_support_component_ratio{{{t}}})",
                        "{{component}}",
                        "B",
                    ),
                ],
                "percentunit",
                SUPPORT_STEPS,
                hi=1,
            ),
        ),
        (
            "Work in progress vs 1:1 coverage",
            _ts(
                "Work in progress per available person",
                "Items in progress per member not on leave, and in total.",
                [
                    _q(
                        f"max(teampulse_work_in_progress_per_available_person{{{t}}})",
                        "per available person",
                        "A",
                    ),
                    _q(f"max(teampulse_work_items_in_progress{{{t}}})", "in progress", "B"),
                ],
                "none",
            ),
            _ts(
                "1:1 coverage (14 days)",
                "Members not on leave who had a 1:1 with their manager in the last 14 days "
                "(shown for teams at the anonymity threshold).",
                [_q(f"max(teampulse_one_on_one_coverage_ratio{{{t}}})", "1:1 coverage")],
                "percentunit",
                SUPPORT_STEPS,
                hi=1,
            ),
        ),
        (
            "Deadlines vs renegotiation and rebalancing",
            _ts(
                "Overdue and due soon",
                "Open items past their due date, and due within the next 7 days.",
                [
                    _q(f"max(teampulse_work_items_overdue{{{t}}})", "overdue", "A"),
                    _q(f"max(teampulse_work_items_due_soon{{{t}}})", "due within 7 days", "B"),
                ],
                "none",
            ),
            _ts(
                "Deadlines renegotiated and work rebalanced (per day)",
                "Leadership actions of these kinds in the trailing day: due dates moved later, items "
                "taken out of a sprint, work reassigned away from an overloaded or absent person.",
                [
                    _q(
                        "sum by (kind) (increase(teampulse_leadership_actions_total"
                        f'{{{t},kind=~"deadline_renegotiated|workload_rebalanced"}}[1d]))',
                        "{{kind}}",
                    )
                ],
                "none",
            ),
        ),
        (
            "After hours vs time off",
            _ts(
                "After-hours activity",
                "Share of work-item changes outside working hours (7 days) and meeting time outside "
                "working hours per member (7 days).",
                [
                    _q(
                        f"max(teampulse_process_activity_outside_working_time_ratio{{{t}}})",
                        "work-item changes after hours",
                        "A",
                    ),
                    _q(
                        f"max(teampulse_meeting_outside_working_time_seconds{{{t}}})",
                        "meetings after hours per member",
                        "B",
                    ),
                ],
                "percentunit",
            ).override_by_name("meetings after hours per member", [_prop("unit", "s")]),
            _ts(
                "Time off conflicts",
                f"Meetings or assignments on a member's time off (7 days); under pressure they fire {TIME_OFF_ALERT}.",
                [
                    _q(f"max(teampulse_time_off_conflicts{{{t}}})", "conflicts", "A"),
                    _q(f"max(teampulse_time_off_overridden{{{t}}})", "overridden under pressure", "B"),
                    _q(f"max(teampulse_members_on_leave{{{t}}})", "members on leave", "C"),
                ],
                "none",
                (GREEN, (1, "red")),
            ),
        ),
        (
            "Surveys",
            _ts(
                "Survey scores",
                "Mean score per dimension (0..1), only with at least min_group_size responses.",
                [_q(f"max by (dimension) (teampulse_survey_score_ratio{{{t}}})", "{{dimension}}")],
                "percentunit",
                SUPPORT_STEPS,
                hi=1,
            ),
            _ts(
                "Survey responses",
                "Responses in the survey window and the response rate (responses per member, at most 1).",
                [
                    _q(f"max(teampulse_survey_responses{{{t}}})", "responses", "A"),
                    _q(f"max(teampulse_survey_response_rate_ratio{{{t}}})", "response rate", "B"),
                ],
                "none",
            ).override_by_name("response rate", [_prop("unit", "percentunit")]),
        ),
    ]
    for title, left, right in pairs:
        d = d.with_row(dash.Row(title)).with_panel(left).with_panel(right)
    return d


def health() -> dash.Dashboard:
    """Return *teampulse / Health*: sources, data age, sync duration, errors, problems."""
    return (
        _dashboard(
            HEALTH_UID,
            "teampulse / Health",
            "teampulse's own health: are its sources collecting, and how old is the data it serves.",
        )
        .with_row(dash.Row("Sources"))
        .with_panel(
            _stat(
                "Sources up",
                "1 if the source's last collection succeeded.",
                _q("max by (source) (teampulse_source_up)", "{{source}}", instant=True),
                "none",
                ((None, "red"), (1, "green")),
                w=8,
                mappings=_mapping({"0": ("down", "red"), "1": ("up", "green")}),
            )
        )
        .with_panel(
            _stat(
                "Served data age",
                "Seconds since the served values were computed (teampulse_cache_age_seconds); red past "
                f"alerts.source_down_after ({SOURCE_DOWN_AFTER}).",
                _q("max(teampulse_cache_age_seconds)", instant=True),
                "s",
                w=8,
                threshold=f"min({SOURCE_DOWN_AFTER})",
            )
        )
        .with_panel(
            _stat(
                "teampulse instances",
                "Scrape targets serving teampulse, by version (up * teampulse_build_info).",
                _q(
                    f"up{{{JOB_SELECTOR}}} * on (job, instance) group_left (version) teampulse_build_info",
                    "{{instance}} {{version}}",
                    instant=True,
                ),
                "none",
                ((None, "red"), (1, "green")),
                w=8,
                mappings=_mapping({"0": ("down", "red"), "1": ("up", "green")}),
            )
        )
        .with_row(dash.Row("Data age"))
        .with_panel(
            _ts(
                "Since each source's last success",
                f"{SOURCE_DOWN_ALERT} fires past the dotted line: alerts.source_down_after ({SOURCE_DOWN_AFTER}).",
                [
                    _q(
                        "max by (source) (time() - teampulse_source_last_success_timestamp_seconds)",
                        "{{source}}",
                        "A",
                    ),
                    _q(f"min({SOURCE_DOWN_AFTER})", "source down after", "B"),
                ],
                "s",
            ).override_by_name("source down after", [_prop("custom.lineStyle", DOTTED), _prop("color", RED)])
        )
        .with_panel(
            _ts(
                "Served data age",
                "Seconds since the values served on /metrics were computed, per instance; the dotted line "
                f"is alerts.source_down_after ({SOURCE_DOWN_AFTER}).",
                [
                    _q("max by (instance) (teampulse_cache_age_seconds)", "{{instance}}", "A"),
                    _q(f"min({SOURCE_DOWN_AFTER})", "source down after", "B"),
                ],
                "s",
            ).override_by_name("source down after", [_prop("custom.lineStyle", DOTTED), _prop("color", RED)])
        )
        .with_row(dash.Row("Collection"))
        .with_panel(
            _ts(
                "Sync duration",
                "How long each source's last collection took, and the whole collection and evaluation.",
                [
                    _q("max by (source) (teampulse_source_sync_duration_seconds)", "{{source}}", "A"),
                    _q("max(teampulse_collection_duration_seconds)", "collection and evaluation", "B"),
                ],
                "s",
            )
        )
        .with_panel(
            _ts(
                "Events delivered per hour",
                "Events each source delivered to the store in the trailing hour.",
                [_q("sum by (source) (increase(teampulse_source_events_total[1h]))", "{{source}}")],
                "none",
            )
        )
        .with_panel(
            _ts(
                "Failed collections per hour",
                "Collections of each source that failed in the trailing hour.",
                [_q("sum by (source) (increase(teampulse_source_errors_total[1h]))", "{{source}}")],
                "none",
                (GREEN, (1, "red")),
            )
        )
        .with_panel(
            _ts(
                "Problems in the last collection",
                "Bad inputs (files, lines, rows, malformed issues) a source skipped in its last collection.",
                [_q("max by (source) (teampulse_source_problems)", "{{source}}")],
                "none",
                (GREEN, (1, "orange")),
            )
        )
    )


def _annotation_extras(board: dict[str, Any]) -> None:
    """Add the Prometheus annotation fields the SDK has no builder for."""
    extras = {
        "Leadership actions": {
            "titleFormat": "{{kind}}",
            "textFormat": "leadership action",
            "tagKeys": "kind",
        },
        "teampulse alerts": {"titleFormat": "{{alertname}}", "textFormat": "firing", "tagKeys": "alertname"},
    }
    for ann in board.get("annotations", {}).get("list", []):
        ann.update(extras.get(ann["name"], {}))
        ann["step"] = ANNOTATION_STEP
        ann["useValueForTime"] = False


def _number_panels(board: dict[str, Any]) -> None:
    """Give every panel a stable id (the SDK leaves them unset)."""
    for i, panel in enumerate(board["panels"], start=1):
        panel["id"] = i


DASHBOARDS = {OVERVIEW_UID: overview, TEAM_UID: team_detail, HEALTH_UID: health}


def dashboard_json(uid: str) -> dict[str, Any]:
    """Return one dashboard as a JSON-ready dict."""
    board: dict[str, Any] = json.loads(json.dumps(DASHBOARDS[uid]().build(), cls=JSONEncoder))
    _annotation_extras(board)
    _number_panels(board)
    return board


def render() -> dict[Path, str]:
    """Return every generated file (relative to dashboards/) and its text."""
    out = {RULES_PATH: render_rules()}
    for uid, path in DASHBOARD_PATHS.items():
        out[path] = json.dumps(dashboard_json(uid), indent=2, sort_keys=True) + "\n"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with --check, compare) every generated file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="compare with the checked-in files, write nothing"
    )
    args = parser.parse_args(argv)
    stale = []
    for rel, text in render().items():
        path = HERE / rel
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(rel))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if stale:
        print(f"out of date (run python dashboards/build.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
