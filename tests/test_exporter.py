"""The exporter: every contract metric with HELP, fresh families, no stale teams."""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import NOW, Items

from teampulse import config
from teampulse.app import Runtime
from teampulse.compression import accepts_gzip
from teampulse.exporter import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    Rendering,
    age_lines,
    exposition,
    render,
)

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


def test_a_rendering_gzips_once_and_each_scrape_is_one_gzip_member(basic_config: Path) -> None:
    state = _runtime(basic_config).state(as_of=NOW)
    rendering = Rendering.of(state)
    for accept, content_type in (
        (None, TEXT_CONTENT_TYPE),
        ("application/openmetrics-text", OPENMETRICS_CONTENT_TYPE),
    ):
        plain, plain_type = rendering.scrape(accept, now=state.collected_at + 3)
        packed, packed_type = rendering.scrape(accept, gzip=True, now=state.collected_at + 3)
        assert plain_type == packed_type == content_type
        assert b"".join(plain) == exposition(state, accept, now=state.collected_at + 3)[0]
        # the cached prefix is sent as it is; only the tail is compressed per scrape
        assert packed[0] is rendering.scrape(accept, gzip=True, now=state.collected_at + 9)[0][0]
        # one member, read whole by a single zlib stream (not every client reads concatenated members)
        reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
        assert reader.decompress(b"".join(packed)) == b"".join(plain)
        assert reader.eof and not reader.unused_data
        assert len(b"".join(packed)) < len(b"".join(plain)) / 4


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip", True),
        ("gzip, deflate", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("*", True),
        ("br, *;q=0", False),
        ("*;q=0, gzip", True),
        ("identity", False),
        ("GZIP", True),
        ("gzip;q=oops", False),
        ("", False),
        (None, False),
    ],
)
def test_accept_encoding_negotiation(header: str | None, gzip: bool) -> None:
    assert accepts_gzip(header) is gzip


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
