"""Build *teampulse / Team detail*: one team, each process metric beside its people counterpart."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common

from .config import MixinConfig
from .panels import (
    ANNOTATION_STEP,
    DASHED,
    DATASOURCE,
    GREEN,
    RED,
    SUPPORT_STEPS,
    frame,
    mapping,
    prop,
    query,
    series,
    single,
    team_var,
    thresholds,
)
from .queries import GRACE, HIGH, MIN_ACTIONS, PRESSURE_ALERT, RISE, TIME_OFF_ALERT, pressure_threshold


def dashboard(config: MixinConfig) -> dash.Dashboard:
    """Return *teampulse / Team detail*: every process metric beside its people counterpart."""
    t = 'team="$team"'
    d = (
        frame(
            config,
            config.team_uid,
            "teampulse / Team detail",
            "One team: each process metric (left) beside its people-side counterpart (right).",
        )
        .with_variable(team_var(multi=False))
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
            single(
                "Process pressure",
                "The pressure index now (0..1); red at or above the level at which the engine calls it "
                "elevated (the dashed line below).",
                query(f"max(teampulse_process_pressure_ratio{{{t}}})", instant=True),
                "none",
                threshold=f"max({pressure_threshold(t)})",
            ).decimals(2)
        )
        .with_panel(
            single(
                "People support",
                "The people-support index now (0..1).",
                query(f"max(teampulse_people_support_ratio{{{t}}})", instant=True),
                "none",
                SUPPORT_STEPS,
            ).decimals(2)
        )
        .with_panel(
            single(
                PRESSURE_ALERT,
                "The engine's verdict: pressure rose, held for the grace period, and no leadership action answered it.",
                query(f"max(teampulse_pressure_unmatched{{{t}}})", instant=True),
                "none",
                (GREEN, (1, "red")),
                mappings=mapping({"0": ("matched or normal", "green"), "1": ("without leadership", "red")}),
            )
        )
        .with_panel(
            single(
                "Elevated since",
                "When the current pressure episode began (empty when pressure is not elevated).",
                query(f"max(teampulse_pressure_episode_start_timestamp_seconds{{{t}}}) * 1000", instant=True),
                "dateTimeFromNow",
                no_value="not elevated",
            )
        )
        .with_panel(
            series(
                "Process pressure, baseline and alert threshold",
                "Pressure is elevated at the dashed threshold: the baseline plus alerts.rise, at most "
                f"alerts.high, as teampulse exports them ({RISE}, {HIGH}). {PRESSURE_ALERT} fires once "
                f"an episode held alerts.grace ({GRACE}) with fewer than alerts.min_actions ({MIN_ACTIONS}) "
                "leadership actions. Green marks are leadership actions.",
                [
                    query(f"max(teampulse_process_pressure_ratio{{{t}}})", "pressure", "A"),
                    query(f"max(teampulse_process_pressure_baseline_ratio{{{t}}})", "baseline", "B"),
                    query(f"max({pressure_threshold(t)})", "alert threshold", "C"),
                ],
                "none",
                hi=1,
                w=16,
            ).override_by_name("alert threshold", [prop("custom.lineStyle", DASHED), prop("color", RED)])
        )
        .with_panel(
            bargauge.Panel()
            .title("Pressure components")
            .description("Each component's score: 0 at the team's norm, 1 at saturation.")
            .datasource(DATASOURCE)
            .with_target(
                query(
                    f"max by (component) (teampulse_process_pressure_component_ratio{{{t}}})",
                    "{{component}}",
                    instant=True,
                )
            )
            .unit("percentunit")
            .min(0)
            .max(1)
            .thresholds(thresholds(GREEN, (0.5, "orange"), (1, "red")))
            .display_mode(common.BarGaugeDisplayMode.GRADIENT)
            .orientation(common.VizOrientation.HORIZONTAL)
            .span(8)
            .height(8)
        )
    )
    pairs: list[tuple[str, timeseries.Panel, timeseries.Panel]] = [
        (
            "Throughput vs people support",
            series(
                "Throughput",
                "Work items completed in the trailing 7 days.",
                [query(f"max(teampulse_process_throughput{{{t}}})", "completed (7d)")],
                "none",
            ),
            series(
                "People support and its parts",
                "The people-support index and its components (0..1).",
                [
                    query(f"max(teampulse_people_support_ratio{{{t}}})", "support", "A"),
                    query(
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
            series(
                "Work in progress per available person",
                "Items in progress per member not on leave, and in total.",
                [
                    query(
                        f"max(teampulse_work_in_progress_per_available_person{{{t}}})",
                        "per available person",
                        "A",
                    ),
                    query(f"max(teampulse_work_items_in_progress{{{t}}})", "in progress", "B"),
                ],
                "none",
            ),
            series(
                "1:1 coverage (14 days)",
                "Members not on leave who had a 1:1 with their manager in the last 14 days "
                "(shown for teams at the anonymity threshold).",
                [query(f"max(teampulse_one_on_one_coverage_ratio{{{t}}})", "1:1 coverage")],
                "percentunit",
                SUPPORT_STEPS,
                hi=1,
            ),
        ),
        (
            "Deadlines vs renegotiation and rebalancing",
            series(
                "Overdue and due soon",
                "Open items past their due date, and due within the next 7 days.",
                [
                    query(f"max(teampulse_work_items_overdue{{{t}}})", "overdue", "A"),
                    query(f"max(teampulse_work_items_due_soon{{{t}}})", "due within 7 days", "B"),
                ],
                "none",
            ),
            series(
                "Deadlines renegotiated and work rebalanced (per day)",
                "Leadership actions of these kinds in the trailing day: due dates moved later, items "
                "taken out of a sprint, work reassigned away from an overloaded or absent person.",
                [
                    query(
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
            series(
                "After-hours activity",
                "Share of work-item changes outside working hours (7 days) and meeting time outside "
                "working hours per member (7 days).",
                [
                    query(
                        f"max(teampulse_process_activity_outside_working_time_ratio{{{t}}})",
                        "work-item changes after hours",
                        "A",
                    ),
                    query(
                        f"max(teampulse_meeting_outside_working_time_seconds{{{t}}})",
                        "meetings after hours per member",
                        "B",
                    ),
                ],
                "percentunit",
            ).override_by_name("meetings after hours per member", [prop("unit", "s")]),
            series(
                "Time off conflicts",
                f"Meetings or assignments on a member's time off (7 days); under pressure they fire {TIME_OFF_ALERT}.",
                [
                    query(f"max(teampulse_time_off_conflicts{{{t}}})", "conflicts", "A"),
                    query(f"max(teampulse_time_off_overridden{{{t}}})", "overridden under pressure", "B"),
                    query(f"max(teampulse_members_on_leave{{{t}}})", "members on leave", "C"),
                ],
                "none",
                (GREEN, (1, "red")),
            ),
        ),
        (
            "Surveys",
            series(
                "Survey scores",
                "Mean score per dimension (0..1), only with at least min_group_size responses.",
                [query(f"max by (dimension) (teampulse_survey_score_ratio{{{t}}})", "{{dimension}}")],
                "percentunit",
                SUPPORT_STEPS,
                hi=1,
            ),
            series(
                "Survey responses",
                "Responses in the survey window and the response rate (responses per member, at most 1).",
                [
                    query(f"max(teampulse_survey_responses{{{t}}})", "responses", "A"),
                    query(f"max(teampulse_survey_response_rate_ratio{{{t}}})", "response rate", "B"),
                ],
                "none",
            ).override_by_name("response rate", [prop("unit", "percentunit")]),
        ),
    ]
    for title, left, right in pairs:
        d = d.with_row(dash.Row(title)).with_panel(left).with_panel(right)
    return d
