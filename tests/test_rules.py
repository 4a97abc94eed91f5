"""The shipped Prometheus rules: generated, valid, unit-tested with promtool, in step with the core."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from support import load_mixin_build

from teampulse import alerts
from teampulse.config import AlertSettings
from teampulse.exporter import metric_names

ROOT = Path(__file__).resolve().parent.parent
MIXIN = ROOT / "dashboards"
RULES = MIXIN / "rules" / "teampulse.rules.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"


build = load_mixin_build()


def known_metrics() -> set[str]:
    """Return every series name teampulse exports (counters with their _total)."""
    names = set(metric_names())
    return names | {n + "_total" for n in names} | {"teampulse_cache_age_seconds"}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make test` installs it (apt-get install prometheus)"
    return path


def rule_list() -> list[dict[str, object]]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_rules_file_is_generated_from_build_py() -> None:
    assert RULES.read_text() == build.render_rules(), "run `python dashboards/build.py`"


def test_thresholds_mirror_the_core_defaults() -> None:
    defaults = AlertSettings()
    assert defaults.rise == build.RISE
    assert defaults.high == build.HIGH
    assert timedelta(seconds=build.GRACE_SECONDS) == defaults.grace
    assert defaults.min_actions == build.MIN_ACTIONS
    assert timedelta(seconds=build.SOURCE_DOWN_AFTER_SECONDS) == defaults.source_down_after


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
        anchor = str(notes["runbook_url"]).rsplit("#", 1)[1]
        assert anchor in headings, f"docs/runbook.md has no section for {anchor}"
        assert str(notes["runbook_url"]).startswith(build.RUNBOOK_URL)
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
