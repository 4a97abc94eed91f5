"""Build *teampulse / Health*: teampulse's sources, the age of what it serves, its collections."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from .config import MixinConfig
from .panels import DOTTED, GREEN, RED, frame, mapping, prop, query, series, single
from .queries import SOURCE_DOWN_AFTER, SOURCE_DOWN_ALERT


def dashboard(config: MixinConfig) -> dash.Dashboard:
    """Return *teampulse / Health*: sources, data age, sync duration, errors, problems."""
    return (
        frame(
            config,
            config.health_uid,
            "teampulse / Health",
            "teampulse's own health: are its sources collecting, and how old is the data it serves.",
        )
        .with_row(dash.Row("Sources"))
        .with_panel(
            single(
                "Sources up",
                "1 if the source's last collection succeeded on every instance that reads it (each "
                "shard reads it for its own teams), 0 if it failed on any.",
                query("min by (source) (teampulse_source_up)", "{{source}}", instant=True),
                "none",
                ((None, "red"), (1, "green")),
                w=8,
                mappings=mapping({"0": ("down", "red"), "1": ("up", "green")}),
            )
        )
        .with_panel(
            single(
                "Served data age",
                "Seconds since the served values were computed (teampulse_cache_age_seconds); red past "
                f"alerts.source_down_after ({SOURCE_DOWN_AFTER}).",
                query("max(teampulse_cache_age_seconds)", instant=True),
                "s",
                w=8,
                threshold=f"min({SOURCE_DOWN_AFTER})",
            )
        )
        .with_panel(
            single(
                "teampulse instances",
                "Scrape targets serving teampulse, by version (up * teampulse_build_info).",
                query(
                    f"up{{{config.job_selector}}} * on (job, instance) group_left (version) teampulse_build_info",
                    "{{instance}} {{version}}",
                    instant=True,
                ),
                "none",
                ((None, "red"), (1, "green")),
                w=8,
                mappings=mapping({"0": ("down", "red"), "1": ("up", "green")}),
            )
        )
        .with_row(dash.Row("Data age"))
        .with_panel(
            series(
                "Since each source's last success",
                f"{SOURCE_DOWN_ALERT} fires past the dotted line: alerts.source_down_after ({SOURCE_DOWN_AFTER}).",
                [
                    query(
                        "max by (source) (time() - teampulse_source_last_success_timestamp_seconds)",
                        "{{source}}",
                        "A",
                    ),
                    query(f"min({SOURCE_DOWN_AFTER})", "source down after", "B"),
                ],
                "s",
            ).override_by_name("source down after", [prop("custom.lineStyle", DOTTED), prop("color", RED)])
        )
        .with_panel(
            series(
                "Served data age",
                "Seconds since the values served on /metrics were computed, per instance; the dotted line "
                f"is alerts.source_down_after ({SOURCE_DOWN_AFTER}).",
                [
                    query("max by (instance) (teampulse_cache_age_seconds)", "{{instance}}", "A"),
                    query(f"min({SOURCE_DOWN_AFTER})", "source down after", "B"),
                ],
                "s",
            ).override_by_name("source down after", [prop("custom.lineStyle", DOTTED), prop("color", RED)])
        )
        .with_row(dash.Row("Collection"))
        .with_panel(
            series(
                "Sync duration",
                "How long each source's last collection took, and the whole collection and evaluation.",
                [
                    query("max by (source) (teampulse_source_sync_duration_seconds)", "{{source}}", "A"),
                    query("max(teampulse_collection_duration_seconds)", "collection and evaluation", "B"),
                ],
                "s",
            )
        )
        .with_panel(
            series(
                "Events delivered per hour",
                "Events each source delivered to the store in the trailing hour.",
                [query("sum by (source) (increase(teampulse_source_events_total[1h]))", "{{source}}")],
                "none",
            )
        )
        .with_panel(
            series(
                "Failed collections per hour",
                "Collections of each source that failed in the trailing hour.",
                [query("sum by (source) (increase(teampulse_source_errors_total[1h]))", "{{source}}")],
                "none",
                (GREEN, (1, "red")),
            )
        )
        .with_panel(
            series(
                "Problems in the last collection",
                "Bad inputs (files, lines, rows, malformed issues) a source skipped in its last collection.",
                [query("max by (source) (teampulse_source_problems)", "{{source}}")],
                "none",
                (GREEN, (1, "orange")),
            )
        )
    )
