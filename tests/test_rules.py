"""The shipped Prometheus rules: generated, valid, unit-tested with promtool, in step with the core."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support import load_mixin_build

from teampulse import alerts
from teampulse.exporter import RUNBOOK_URL, THRESHOLDS, series_names

ROOT = Path(__file__).resolve().parent.parent
MIXIN = ROOT / "dashboards"
RULES = MIXIN / "rules" / "teampulse.rules.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"


build = load_mixin_build()


def known_metrics() -> set[str]:
    """Return every series name teampulse exports (counters with their _total)."""
    return series_names()


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make test` installs it (apt-get install prometheus)"
    return path


def rule_list() -> list[dict[str, object]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_rules_file_is_generated_from_build_py() -> None:
    assert RULES.read_text() == build.render_rules(), "run `python dashboards/build.py`"


def test_rules_read_the_thresholds_in_force_instead_of_baking_them_in() -> None:
    text = RULES.read_text()
    # every exported threshold is read by the rules...
    for name, _help in THRESHOLDS.values():
        assert name in text, name
    # ...and no default is written into them (0.2, 0.6, 2 days, 3600 s), nor a Grafana address
    for rule in rule_list():
        if "record" in rule or rule.get("labels", {}).get("source") == "teampulse":  # type: ignore[union-attr]
            continue
        body = str(rule["expr"]) + json.dumps(rule.get("annotations", {}))
        body = re.sub(r"/ (3600|86400)\b", "", body)  # seconds shown as hours or days
        assert not re.search(r"(?<![\w.%])(0\.20?|0\.60?|3600|172800|2d)(?![\w.])", body), rule.get("alert")
    assert "localhost:3000" not in text
    # teampulse's runbook only as the fallback when no teampulse_links_info was scraped for a week
    assert text.count(RUNBOOK_URL) == text.count("teampulse_links_info{job=%q,runbook_url")


def test_rule_and_engine_texts_come_from_one_place() -> None:
    text = " ".join(RULES.read_text().split())
    for phrase in (
        alerts.TIME_OFF_WINDOW,
        alerts.PRESSURE_REMEDY,
        alerts.TIME_OFF_REMEDY,
        alerts.SOURCE_DOWN_REMEDY,
        alerts.PRESSURE_SUMMARY.format(team="{{ $labels.team }}"),
        alerts.TIME_OFF_SUMMARY.format(team="{{ $labels.team }}"),
    ):
        assert " ".join(phrase.split()) in text, phrase
    # the disagreement this replaced: the rules said "last 7 days", the engine "or the next 14"
    assert alerts.TIME_OFF_WINDOW == "in the last 7 days or already booked in the next 14"


def test_promtool_check_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("path", sorted((MIXIN / "tests").glob("*.yml")), ids=lambda p: p.name)
def test_promtool_unit_tests(path: Path) -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_three_contract_alerts_with_labels_and_annotations() -> None:
    found = [r for r in rule_list() if "alert" in r]
    assert {r["alert"] for r in found} == {
        alerts.PRESSURE_ALERT,
        alerts.TIME_OFF_ALERT,
        alerts.SOURCE_DOWN_ALERT,
    }
    headings = {
        line.lstrip("#").strip().lower()
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    for rule in found:
        labels, notes = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict) and isinstance(notes, dict)
        assert labels["severity"] in {"warning", "critical"}
        assert set(notes) == {"summary", "description", "runbook_url", "dashboard_url"}, rule["alert"]
        # the alert is routed by team or by source: the expression's series carry it, or the rule sets it
        assert "team" in str(notes["summary"]) or "source" in labels or "source" in str(notes["summary"])
        # the runbook's address comes from teampulse_links_info, the anchor from the alert
        anchors = set(re.findall(r"#([a-z]+)", str(notes["runbook_url"])))
        assert anchors == {str(rule["alert"]).lower()}, anchors
        assert anchors <= headings, f"docs/runbook.md has no section for {anchors}"
        assert "teampulse_links_info" in str(notes["runbook_url"]) + str(notes["dashboard_url"])
    severities = {r["alert"]: r["labels"]["severity"] for r in found}  # type: ignore[index]
    assert severities[alerts.SOURCE_DOWN_ALERT] == "critical"


def test_rules_read_only_exported_metrics() -> None:
    text = RULES.read_text()
    # names inside recording rules (level:metric:ops) are checked below
    used = set(re.findall(r"(?<![\w:])teampulse_[a-z_]+\b", text))
    recorded = {str(r["record"]) for r in rule_list() if "record" in r}
    assert used - known_metrics() == set(), "rules name metrics that teampulse does not export"
    for name in recorded:
        level, metric, _ops = name.split(":")
        assert level in {"team", "source"} and metric.startswith("teampulse_")


def test_pressure_rule_reads_the_engines_verdict_and_waits_only_for_jitter() -> None:
    rule = next(r for r in rule_list() if r.get("alert") == alerts.PRESSURE_ALERT)
    assert rule["expr"] == "teampulse_pressure_unmatched == 1"
    # the grace period is the engine's (days); `for` only rides out scrapes
    assert rule["for"] == build.JITTER_FOR and build.JITTER_FOR.endswith("m")
