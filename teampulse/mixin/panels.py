"""Build the panels, variables and dashboard frame the three dashboards share.

Needs grafana-foundation-sdk (`pip install 'teampulse[mixin]'`); the shipped JSON does not.
"""

from __future__ import annotations

from collections.abc import Sequence

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from .config import MixinConfig

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
# Annotations query at this step over the same range, so each action marks one step.
ANNOTATION_STEP = "5m"

Steps = Sequence[tuple[float | None, str]]
GREEN = (None, "green")
# Visual bands of the support index only; no alert judges support by a number.
SUPPORT_STEPS: Steps = ((None, "red"), (0.4, "orange"), (0.7, "green"))
DASHED = {"fill": "dash", "dash": [10, 10]}
DOTTED = {"fill": "dot", "dash": [0, 10]}
RED = {"mode": "fixed", "fixedColor": "red"}
THRESHOLD_LEGEND = "threshold in force"


def query(
    expr: str, legend: str = "", ref: str = "A", instant: bool = False, fmt: str = ""
) -> prom.Dataquery:
    """Return a Prometheus query of a panel."""
    q = prom.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    q = q.instant() if instant else q.range()
    if fmt == "table":
        q = q.format(PromQueryFormat.TABLE)
    return q


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    """Return absolute thresholds, the first step's value None (the base colour)."""
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


def threshold_from(expr: str) -> tuple[prom.Dataquery, model.DataTransformerConfig]:
    """Return a query of an exported threshold and the transformation that makes it the panel's
    red step (Grafana's "Config from query results"), so no number is baked in."""
    target = query(expr, THRESHOLD_LEGEND, "T", instant=True)
    transform = model.DataTransformerConfig(
        id_val="configFromData",
        options={
            "configRefId": "T",
            "mappings": [{"fieldName": THRESHOLD_LEGEND, "handlerKey": "threshold1"}],
        },
    )
    return target, transform


def mapping(options: dict[str, tuple[str, str]]) -> list[model.ValueMapping]:
    """Return value mappings from value to (text, colour)."""
    return [
        model.ValueMap(
            options={
                k: model.ValueMappingResult(text=t, color=c, index=i)
                for i, (k, (t, c)) in enumerate(options.items())
            }
        )
    ]


def prop(name: str, value: object) -> model.DynamicConfigValue:
    """Return a field-config property for an override."""
    return model.DynamicConfigValue(id_val=name, value=value)


def series(
    title: str,
    description: str,
    targets: Sequence[prom.Dataquery],
    unit: str,
    steps: Steps = (GREEN,),
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
        .thresholds(thresholds(*steps))
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
    if lo is not None:
        p = p.min(lo)
    if hi is not None:
        p = p.max(hi)
    return p


def single(
    title: str,
    description: str,
    target: prom.Dataquery,
    unit: str,
    steps: Steps = (GREEN,),
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
        .thresholds(thresholds(*steps))
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
        extra, transform = threshold_from(threshold)
        p = p.with_target(extra).with_transformation(transform)
    return p


def _links(config: MixinConfig) -> list[dash.DashboardLink]:
    """Return the links to the other teampulse dashboards (by tag), keeping time and variables."""
    return [
        dash.DashboardLink("teampulse")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags([config.dashboard_tag])
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


def _datasource_var(config: MixinConfig) -> dash.DatasourceVariable:
    """Return the `datasource` variable: provisioning resolves no `__inputs`."""
    v = dash.DatasourceVariable("datasource").label("Data source").type("prometheus")
    if config.datasource:
        v = v.current(model.VariableOption(text=config.datasource, value=config.datasource, selected=True))
    return v


def team_var(multi: bool) -> dash.QueryVariable:
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


def frame(config: MixinConfig, uid: str, title: str, description: str) -> dash.Dashboard:
    """Return a dashboard with the settings, links and variables all three share."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([config.dashboard_tag])
        .time("now-7d", "now")
        .refresh(config.dashboard_refresh)
        .timezone(config.dashboard_timezone)
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .links(list(_links(config)))
        .with_variable(_datasource_var(config))
        .with_variable(_runbook_var())
    )
