"""The exporter: every contract metric with HELP, fresh families, no stale teams."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import NOW, Items

from teampulse import config
from teampulse.app import Runtime
from teampulse.exporter import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, age_lines, exposition, render

PROCESS_METRICS = [
    "teampulse_process_throughput",
    "teampulse_work_items_completed_total",
    "teampulse_work_items_in_progress",
    "teampulse_work_items_overdue",
    "teampulse_work_items_due_soon",
    "teampulse_process_pressure_ratio",
    "teampulse_process_pressure_baseline_ratio",
    "teampulse_pressure_unmatched",
]
SELF_METRICS = ["teampulse_build_info"]


def _runtime(path: Path) -> Runtime:
    return Runtime.open(str(path))


def test_every_process_metric_per_team_with_help(basic_config: Path, items: Items) -> None:
    rt = _runtime(basic_config)
    rt.store.apply_batch("jira", [items.make(started=NOW, due=NOW.date())], None, 0)
    text = render(rt.state(as_of=NOW)).decode()
    samples = {s.name: s for f in text_string_to_metric_families(text) for s in f.samples}
    for name in PROCESS_METRICS + SELF_METRICS:
        assert name in samples, name
    for name in PROCESS_METRICS:
        assert samples[name].labels == {"team": "payments"}
    for line in text.splitlines():
        if line.startswith("# HELP"):
            assert len(line.split(" ", 3)[3]) > 10
    families = [m.group(1) for m in re.finditer(r"^# TYPE (\S+) ", text, re.M)]
    assert all(f"# HELP {f} " in text for f in families)
    assert samples["teampulse_work_items_in_progress"].value == 1


def test_a_team_removed_from_the_config_leaves_no_series(
    write_config, basic_config: Path, items: Items
) -> None:
    rt = _runtime(basic_config)
    assert 'team="payments"' in render(rt.state(as_of=NOW)).decode()
    other = write_config(basic_config.read_text().replace('"payments"', '"ledger"'), "other.toml")
    rt2 = Runtime.open(str(other))
    text = render(rt2.state(as_of=NOW)).decode()
    assert 'team="payments"' not in text
    assert 'team="ledger"' in text


def test_cache_age_is_computed_at_scrape_time(basic_config: Path) -> None:
    state = _runtime(basic_config).state(as_of=NOW)
    lines = age_lines(state, now=state.collected_at + 42).decode()
    assert "teampulse_cache_age_seconds 42.000" in lines


def test_cache_age_in_both_formats_and_openmetrics_ends_with_eof(basic_config: Path) -> None:
    state = _runtime(basic_config).state(as_of=NOW)
    cached = render(state)
    body, content_type = exposition(state, None, cached=cached, now=state.collected_at + 7)
    assert content_type == TEXT_CONTENT_TYPE and body.startswith(cached)
    assert body.endswith(b"teampulse_cache_age_seconds 7.000\n")
    om, content_type = exposition(
        state, "application/openmetrics-text", cached=cached, now=state.collected_at + 7
    )
    assert content_type == OPENMETRICS_CONTENT_TYPE
    assert om.endswith(b"teampulse_cache_age_seconds 7.000\n# EOF\n")
    assert b"# TYPE teampulse_cache_age_seconds gauge" in om
    assert om.count(b"# EOF") == 1 and om.count(b"\nteampulse_cache_age_seconds ") == 1


def test_openmetrics_is_rendered_once_per_state(basic_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Prometheus asks for OpenMetrics at every scrape: 50 scrapers re-rendering it waited seconds.
    import teampulse.exporter as exporter_mod

    state = _runtime(basic_config).state(as_of=NOW)
    renders: list[bool] = []
    real = exporter_mod.render
    monkeypatch.setattr(exporter_mod, "render", lambda *a, **k: renders.append(True) or real(*a, **k))
    first, _ = exposition(state, "application/openmetrics-text", now=state.collected_at + 1)
    second, _ = exposition(state, "application/openmetrics-text", now=state.collected_at + 2)
    assert len(renders) == 1
    assert first.replace(b"seconds 1.000", b"seconds 2.000") == second


def test_config_thresholds_and_no_personal_labels(basic_config: Path, items: Items) -> None:
    rt = _runtime(basic_config)
    cfg = config.load(basic_config)
    rt.store.apply_batch("jira", [items.make(started=NOW)], None, 0)
    text = render(rt.state(as_of=NOW)).decode()
    assert "@" not in text
    assert "PAY-" not in text
    for label in re.findall(r"(\w+)=\"", text):
        # team-level and bounded: teampulse_links_info's two URLs are one series
        assert label in {
            "team",
            "source",
            "version",
            "le",
            "component",
            "kind",
            "state",
            "runbook_url",
            "dashboards_url",
        }
    assert cfg.teams[0].name in text
