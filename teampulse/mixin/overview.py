"""Build *teampulse / Organisation overview*: every team's pressure beside its people support."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.models import dashboard as model

from .config import MixinConfig
from .panels import (
    DASHED,
    DATASOURCE,
    DOTTED,
    GREEN,
    RED,
    SUPPORT_STEPS,
    frame,
    prop,
    query,
    series,
    single,
    team_var,
    thresholds,
)
from .queries import ALERT_NAMES, HIGH, PRESSURE_ALERT, RISE, TIME_OFF_ALERT


def dashboard(config: MixinConfig) -> dash.Dashboard:
    """Return *teampulse / Organisation overview*."""
    team = 'team=~"$team"'
    detail = (
        f"/d/{config.team_uid}/teampulse-team-detail?var-team=${{__data.fields.team}}"
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
        .targets([query(expr, ref=ref, instant=True, fmt="table") for ref, _name, expr in columns])
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
        .thresholds(thresholds(GREEN))
        .override_by_name(
            "Team",
            [prop("links", [{"title": "Team detail", "url": detail}])],
        )
        .override_by_name(
            "Alerts",
            [
                prop("decimals", 0),
                prop(
                    "thresholds",
                    {
                        "mode": "absolute",
                        "steps": [{"value": None, "color": "green"}, {"value": 1, "color": "red"}],
                    },
                ),
                prop("custom.cellOptions", {"type": "color-background"}),
            ],
        )
        .override_by_name(
            "People support",
            [
                prop(
                    "thresholds",
                    {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in SUPPORT_STEPS]},
                ),
                prop("custom.cellOptions", {"type": "color-text"}),
            ],
        )
        .override_by_regexp("/Leadership|Time off/", [prop("decimals", 0)])
        .span(24)
        .height(9)
    )
    return (
        frame(
            config,
            config.overview_uid,
            "teampulse / Organisation overview",
            "Every team's process pressure beside the people support it gets, and the leadership actions that answer it.",
        )
        .with_variable(team_var(multi=True))
        .with_row(dash.Row("Teams"))
        .with_panel(
            single(
                "Teams under pressure without leadership",
                f"Teams for which {PRESSURE_ALERT} holds (teampulse_pressure_unmatched == 1).",
                query(f"count(teampulse_pressure_unmatched{{{team}}} == 1) or vector(0)", instant=True),
                "none",
                (GREEN, (1, "red")),
            )
        )
        .with_panel(
            single(
                "Teams with time off overridden",
                f"Teams for which {TIME_OFF_ALERT} holds (teampulse_time_off_overridden > 0).",
                query(f"count(teampulse_time_off_overridden{{{team}}} > 0) or vector(0)", instant=True),
                "none",
                (GREEN, (1, "red")),
            )
        )
        .with_panel(
            single(
                "Mean process pressure",
                "Mean process pressure over the selected teams (0..1); red at the threshold in force "
                f"for high pressure ({HIGH}).",
                query(f"avg(teampulse_process_pressure_ratio{{{team}}})", instant=True),
                "none",
                threshold=f"min({HIGH})",
            ).decimals(2)
        )
        .with_panel(
            single(
                "Mean people support",
                "Mean people-support index over the selected teams (0..1).",
                query(f"avg(teampulse_people_support_ratio{{{team}}})", instant=True),
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
                query(
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
            .thresholds(thresholds(GREEN))
            .span(24)
            .height(6)
        )
        .with_row(dash.Row("Pressure and support over time"))
        .with_panel(
            series(
                "Process pressure (solid) and people support (dashed)",
                "Each team's process pressure beside its people support, both 0..1. Pressure at or above "
                f"the dotted line ({HIGH}, alerts.high) is high whatever the baseline.",
                [
                    query(
                        f"max by (team) (teampulse_process_pressure_ratio{{{team}}})",
                        "{{team}} pressure",
                        "A",
                    ),
                    query(
                        f"max by (team) (teampulse_people_support_ratio{{{team}}})", "{{team}} support", "B"
                    ),
                    query(f"min({HIGH})", "high pressure", "C"),
                ],
                "none",
                hi=1,
                w=24,
            )
            .override_by_regexp("/ support$/", [prop("custom.lineStyle", DASHED)])
            .override_by_name("high pressure", [prop("custom.lineStyle", DOTTED), prop("color", RED)])
        )
        .with_panel(
            series(
                "Pressure rise above baseline",
                f"Process pressure minus the team's baseline; an episode starts at the dotted line ({RISE}, "
                "alerts.rise).",
                [
                    query(
                        f"max by (team) (teampulse_process_pressure_ratio{{{team}}} - teampulse_process_pressure_baseline_ratio{{{team}}})",
                        "{{team}}",
                        "A",
                    ),
                    query(f"min({RISE})", "episode starts", "B"),
                ],
                "none",
                lo=None,
            ).override_by_name("episode starts", [prop("custom.lineStyle", DOTTED), prop("color", RED)])
        )
        .with_panel(
            series(
                "Teams under pressure without leadership",
                f"1 while {PRESSURE_ALERT} holds for the team.",
                [query(f"max by (team) (teampulse_pressure_unmatched{{{team}}})", "{{team}}")],
                "none",
                (GREEN, (1, "red")),
                hi=1,
            )
        )
        .with_row(dash.Row("Leadership actions"))
        .with_panel(
            series(
                "Leadership actions per day, by team",
                "Leadership actions in the trailing day: recorded, or seen in Jira history "
                "(deadlines moved, work rebalanced).",
                [
                    query(
                        f"sum by (team) (increase(teampulse_leadership_actions_total{{{team}}}[1d]))",
                        "{{team}}",
                    )
                ],
                "none",
            )
        )
        .with_panel(
            series(
                "Leadership actions per day, by kind",
                "Leadership actions in the trailing day over the selected teams, by kind.",
                [
                    query(
                        f"sum by (kind) (increase(teampulse_leadership_actions_total{{{team}}}[1d]))",
                        "{{kind}}",
                    )
                ],
                "none",
            )
        )
    )
