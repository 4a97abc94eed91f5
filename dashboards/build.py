"""Build the teampulse monitoring mixin: Prometheus rules and Grafana dashboards.

Run `python dashboards/build.py` after editing this file; it rewrites
dashboards/rules/teampulse.rules.yml and dashboards/grafana/*.json. `--check` writes
nothing and exits 1 if a checked-in file differs (tests/test_rules.py and
tests/test_dashboards.py do the same comparison).

Every threshold lives here once, mirrored from teampulse's defaults
(`teampulse.config.AlertSettings()`); a test fails if they drift apart.
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

HERE = Path(__file__).resolve().parent

# --- Thresholds: teampulse's defaults (docs/configuration.md, [alerts]) ---------------------
RISE = 0.2  # alerts.rise: pressure this far above the baseline starts an episode
HIGH = 0.6  # alerts.high: pressure at or above this starts an episode whatever the baseline
GRACE_SECONDS = 2 * 86400  # alerts.grace: an episode must hold this long (judged by the engine)
MIN_ACTIONS = 1  # alerts.min_actions: leadership actions that answer an episode
SOURCE_DOWN_AFTER_SECONDS = 3600  # alerts.source_down_after

# The engine exports its verdict once per collection cycle, so `for:` only has to ride out a
# scrape that lands mid-restart; a few scrapes at the README's 1m scrape interval.
JITTER_FOR = "5m"

# --- Where things live: change these for your installation, then rebuild ---------------------
JOB_SELECTOR = 'job="teampulse"'  # the scrape job of `teampulse serve`
RUNBOOK_URL = "https://github.com/teampulse/teampulse/blob/main/docs/runbook.md"
GRAFANA_URL = "http://localhost:3000"
GRAFANA_MAJOR = 11  # the dashboards' schema is Grafana 11.6's (grafana-foundation-sdk 11.6.0)

OVERVIEW_UID = "teampulse-overview"
TEAM_UID = "teampulse-team"
HEALTH_UID = "teampulse-health"
TAG = "teampulse"

PRESSURE_ALERT = "ProcessPressureWithoutLeadership"
TIME_OFF_ALERT = "TimeOffOverriddenUnderPressure"
SOURCE_DOWN_ALERT = "TeampulseSourceDown"
ALERT_NAMES = (PRESSURE_ALERT, TIME_OFF_ALERT, SOURCE_DOWN_ALERT)

RULES_PATH = Path("rules/teampulse.rules.yml")
DASHBOARD_PATHS = {
    OVERVIEW_UID: Path("grafana/teampulse-overview.json"),
    TEAM_UID: Path("grafana/teampulse-team.json"),
    HEALTH_UID: Path("grafana/teampulse-health.json"),
}


def _days(seconds: int) -> str:
    """Return a duration in whole days or hours, as Prometheus writes it."""
    return f"{seconds // 86400}d" if seconds % 86400 == 0 else f"{seconds // 3600}h"


def _runbook(alert: str) -> str:
    """Return the runbook URL of an alert (GitHub anchors are the lower-cased heading)."""
    return f"{RUNBOOK_URL}#{alert.lower()}"


def _dashboard_url(uid: str, slug: str, query: str = "") -> str:
    """Return a Grafana URL of one of the mixin's dashboards."""
    return f"{GRAFANA_URL}/d/{uid}/{slug}" + (f"?{query}" if query else "")


def _value_of(
    metric: str, fmt: str, by: Sequence[str] = ("team", "instance"), default: str = "?", suffix: str = ""
) -> str:
    """Return a template that reads one series of `metric` for the alert's labels and formats it."""
    matchers = ",".join(f"{label}=%q" for label in by)
    args = " ".join(f"$labels.{label}" for label in by)
    return (
        f'{{{{ with printf "{metric}{{{matchers}}}" {args} | query }}}}'
        f"{{{{ . | first | value | {fmt} }}}}{suffix}{{{{ else }}}}{default}{{{{ end }}}}"
    )


# --- Prometheus rules ---------------------------------------------------------------------------


def recording_rules() -> list[dict[str, Any]]:
    """Return the recording rules (shortcuts for dashboards, ad-hoc queries and federation)."""
    return [
        {
            "record": "team:teampulse_process_pressure_rise:ratio",
            "expr": "teampulse_process_pressure - teampulse_process_pressure_baseline",
        },
        {
            # The level at which the engine calls pressure elevated: RISE above the baseline,
            # or HIGH whatever the baseline.
            "record": "team:teampulse_process_pressure_threshold:ratio",
            "expr": f"clamp_max(teampulse_process_pressure_baseline + {RISE}, {HIGH})",
        },
        {
            "record": "team:teampulse_pressure_support_gap:ratio",
            "expr": "teampulse_process_pressure - teampulse_people_support",
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
    pressure = _value_of("teampulse_process_pressure", 'printf "%.2f"')
    baseline = _value_of("teampulse_process_pressure_baseline", 'printf "%.2f"')
    since = _value_of("teampulse_pressure_episode_start_timestamp_seconds", "humanizeTimestamp")
    held = _value_of("time() - teampulse_pressure_episode_start_timestamp_seconds", "humanizeDuration")
    last_success_age = _value_of(
        "time() - teampulse_source_last_success_timestamp_seconds",
        "humanizeDuration",
        by=("source", "instance"),
        default="never",
        suffix=" ago",
    )
    cache_age = _value_of("teampulse_cache_age_seconds", "humanizeDuration", by=("instance",))
    down = _days(SOURCE_DOWN_AFTER_SECONDS)
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
                "summary": "Process pressure on team {{ $labels.team }} rose without a leadership action",
                "description": (
                    f"Process pressure on {{{{ $labels.team }}}} is {pressure} against a baseline of "
                    f"{baseline} (out of the team's own normal at +{RISE:.2f} above it or at {HIGH:.2f}), "
                    f"out of its normal since {since} ({held}; the alert waits {_days(GRACE_SECONDS)}), "
                    "and the people side did not answer (state unanswered): no 1:1 cadence kept with the "
                    "people carrying the load, and fewer moved deadlines, rebalanced work or recorded "
                    f"actions since the onset than the {MIN_ACTIONS} needed. "
                    "`teampulse check` says what rose against which normal. To clear it: "
                    "1:1s with the people carrying the load, move a deadline or take an item out of the "
                    "sprint, rebalance work, or record what was done with `teampulse action add`."
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
                "summary": "Time off on team {{ $labels.team }} was overridden under pressure",
                "description": (
                    "{{ $value }} meeting(s) or work item(s) landed on a member's time off on team "
                    "{{ $labels.team }} in the last 7 days or already booked in the next 14, under "
                    "elevated pressure or with their work "
                    f"falling due during it (process pressure now {pressure}, baseline {baseline}). "
                    "Nobody is named here: the manager sees it in the calendar. "
                    "To clear it: move the meeting off the time off, hand the work to someone else or "
                    "move its due date, then `teampulse action add --kind time_off_protected`."
                ),
                "runbook_url": _runbook(TIME_OFF_ALERT),
                "dashboard_url": team_url,
            },
        },
        {
            # No successful collection for source_down_after: a failing source (what `teampulse
            # check` fires on), a collection loop that stalled with a stale cache, or a source that
            # never succeeded and reported down for that long (no timestamp for the first part).
            # One rule, not several with the same labels, which promtool's lint rejects. The duration
            # is in the expression, so no `for:`: the age only grows, there is no jitter to ride out.
            "alert": SOURCE_DOWN_ALERT,
            "expr": (
                f"time() - teampulse_source_last_success_timestamp_seconds >= {SOURCE_DOWN_AFTER_SECONDS}\n"
                "or on (job, instance, source)\n"
                "(\n"
                f"  max_over_time(teampulse_source_up[{down}]) == 0\n"
                "  unless on (job, instance, source) teampulse_source_last_success_timestamp_seconds\n"
                f"  and on (job, instance, source) present_over_time(teampulse_source_up[5m] offset {down})\n"
                ")"
            ),
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": f"teampulse source {{{{ $labels.source }}}} has not collected for over {down}",
                "description": (
                    "Source {{ $labels.source }} on {{ $labels.instance }} has had no successful "
                    f"collection for over {down} (last success: {last_success_age}); it reports up = "
                    + _value_of("teampulse_source_up", 'printf "%.0f"', by=("source", "instance"))
                    + " and its served values are "
                    + cache_age
                    + " old. Its metrics are stale until it recovers: check "
                    "`teampulse_source_errors_total`, the URL, the credentials in the environment and "
                    "the source's rate limit."
                ),
                **source_annotations,
            },
        },
        {
            # teampulse itself down, unreachable or gone from discovery: its series go stale, so
            # the rule above sees nothing. The source label says it is teampulse as a whole.
            "alert": SOURCE_DOWN_ALERT,
            "expr": f"up{{{JOB_SELECTOR}}} == 0 or absent(up{{{JOB_SELECTOR}}})",
            "for": down,
            "labels": {"severity": "critical", "source": "teampulse"},
            "annotations": {
                "summary": "teampulse is not scraped: its sources' data is stale",
                "description": (
                    f"Prometheus has had no successful scrape of {{{JOB_SELECTOR}}}"
                    "{{ with $labels.instance }} at {{ . }}{{ end }} "
                    f"for over {down}: `teampulse serve` is down, unreachable or missing from service "
                    "discovery, so its metrics and alerts are stale."
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
PRESSURE_STEPS = (GREEN, (HIGH, "red"))
RISE_STEPS = (GREEN, (RISE, "red"))
SUPPORT_STEPS = ((None, "red"), (0.4, "orange"), (0.7, "green"))
AGE_STEPS = (GREEN, (SOURCE_DOWN_AFTER_SECONDS / 2, "orange"), (SOURCE_DOWN_AFTER_SECONDS, "red"))


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
) -> stat.Panel:
    """Return a stat panel showing the last value."""
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
        .url(RUNBOOK_URL)
        .icon("doc")
        .target_blank(True),
    ]


def _datasource_var() -> dash.DatasourceVariable:
    """Return the `datasource` variable: provisioning resolves no `__inputs`."""
    return dash.DatasourceVariable("datasource").label("Data source").type("prometheus")


def _team_var(multi: bool) -> dash.QueryVariable:
    """Return the `team` variable (several teams, or All, when `multi`)."""
    v = (
        dash.QueryVariable("team")
        .label("Team")
        .datasource(DATASOURCE)
        .query("label_values(teampulse_process_pressure, team)")
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
        ("B", "Pressure", f"max by (team) (teampulse_process_pressure{{{team}}})"),
        ("C", "Baseline", f"max by (team) (teampulse_process_pressure_baseline{{{team}}})"),
        (
            "D",
            "Rise",
            f"max by (team) (teampulse_process_pressure{{{team}}} - teampulse_process_pressure_baseline{{{team}}})",
        ),
        ("E", "People support", f"max by (team) (teampulse_people_support{{{team}}})"),
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
            f"{PRESSURE_ALERT} (the engine's verdict) and {TIME_OFF_ALERT}. Click a team for its detail."
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
        .thresholds(_thresholds(*PRESSURE_STEPS))
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
        .override_by_name("Pressure", [_prop("custom.cellOptions", {"type": "color-text"})])
        .override_by_name(
            "Rise",
            [
                _prop(
                    "thresholds",
                    {
                        "mode": "absolute",
                        "steps": [{"value": None, "color": "green"}, {"value": RISE, "color": "red"}],
                    },
                ),
                _prop("custom.cellOptions", {"type": "color-text"}),
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
                "Mean process pressure over the selected teams (0..1).",
                _q(f"avg(teampulse_process_pressure{{{team}}})", instant=True),
                "none",
                PRESSURE_STEPS,
            ).decimals(2)
        )
        .with_panel(
            _stat(
                "Mean people support",
                "Mean people-support index over the selected teams (0..1).",
                _q(f"avg(teampulse_people_support{{{team}}})", instant=True),
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
                f"{HIGH} is high whatever the baseline.",
                [
                    _q(f"max by (team) (teampulse_process_pressure{{{team}}})", "{{team}} pressure", "A"),
                    _q(f"max by (team) (teampulse_people_support{{{team}}})", "{{team}} support", "B"),
                ],
                "none",
                PRESSURE_STEPS,
                line=True,
                hi=1,
                w=24,
            ).override_by_regexp(
                "/ support$/", [_prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]
            )
        )
        .with_panel(
            _ts(
                "Pressure rise above baseline",
                f"Process pressure minus the team's baseline; an episode starts at +{RISE}.",
                [
                    _q(
                        f"max by (team) (teampulse_process_pressure{{{team}}} - teampulse_process_pressure_baseline{{{team}}})",
                        "{{team}}",
                    )
                ],
                "none",
                RISE_STEPS,
                line=True,
                lo=None,
            )
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
                "The pressure index now (0..1).",
                _q(f"max(teampulse_process_pressure{{{t}}})", instant=True),
                "none",
                PRESSURE_STEPS,
            ).decimals(2)
        )
        .with_panel(
            _stat(
                "People support",
                "The people-support index now (0..1).",
                _q(f"max(teampulse_people_support{{{t}}})", instant=True),
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
                f"Pressure is elevated at the threshold: baseline + {RISE}, at most {HIGH}. "
                f"{PRESSURE_ALERT} fires once it held {_days(GRACE_SECONDS)} with fewer than {MIN_ACTIONS} "
                "leadership action(s). Green marks are leadership actions.",
                [
                    _q(f"max(teampulse_process_pressure{{{t}}})", "pressure", "A"),
                    _q(f"max(teampulse_process_pressure_baseline{{{t}}})", "baseline", "B"),
                    _q(
                        f"clamp_max(max(teampulse_process_pressure_baseline{{{t}}}) + {RISE}, {HIGH})",
                        "alert threshold",
                        "C",
                    ),
                ],
                "none",
                PRESSURE_STEPS,
                line=True,
                hi=1,
                w=16,
            ).override_by_name(
                "alert threshold", [_prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]
            )
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
                    _q(f"max(teampulse_people_support{{{t}}})", "support", "A"),
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
                "Share of work-item changes outside working hours (7 days) and after-hours meeting hours "
                "per member (7 days).",
                [
                    _q(
                        f"max(teampulse_after_hours_process_activity_ratio{{{t}}})",
                        "work-item changes after hours",
                        "A",
                    ),
                    _q(f"max(teampulse_after_hours_meeting_hours{{{t}}})", "meeting hours after hours", "B"),
                ],
                "percentunit",
            ).override_by_name("meeting hours after hours", [_prop("unit", "h")]),
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
                "Seconds since the served values were computed (teampulse_cache_age_seconds).",
                _q("max(teampulse_cache_age_seconds)", instant=True),
                "s",
                AGE_STEPS,
                w=8,
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
                f"{SOURCE_DOWN_ALERT} fires past {SOURCE_DOWN_AFTER_SECONDS // 60} minutes.",
                [
                    _q(
                        "max by (source) (time() - teampulse_source_last_success_timestamp_seconds)",
                        "{{source}}",
                    )
                ],
                "s",
                AGE_STEPS,
                line=True,
            )
        )
        .with_panel(
            _ts(
                "Served data age",
                "Seconds since the values served on /metrics were computed, per instance.",
                [_q("max by (instance) (teampulse_cache_age_seconds)", "{{instance}}")],
                "s",
                AGE_STEPS,
                line=True,
            )
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
