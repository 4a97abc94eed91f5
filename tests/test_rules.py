"""The mixin package (teampulse.mixin): its rules valid and unit-tested with promtool, its files shipped
and in step with the generator, its config overriding names, UIDs and durations without editing source,
and `teampulse mixin` writing them, with or without the dashboards' generator installed."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from teampulse import alerts
from teampulse.errors import ConfigError
from teampulse.exporter import RUNBOOK_URL, THRESHOLDS, series_names
from teampulse.mixin import DEFAULTS, load_config, settings
from teampulse.mixin.build import DASHBOARDS, FILES, MISSING_SDK, RULE_TESTS, RULES, render, shipped, write

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "teampulse" / "mixin" / "files"
CHECKOUT = ROOT / "dashboards"  # the copy the deployment docs, demo-stack and e2e tests read
RUNBOOK = ROOT / "docs" / "runbook.md"
DOCS = ROOT / "docs" / "dashboards.md"

# Every key set to something other than its default: a deployment's mixin.toml.
OVERRIDES = {
    "job_selector": 'job="tp-prod", env="prod"',
    "pressure_for": "2m",
    "time_off_for": "3m",
    "scrape_down_for": "30m",
    "links_lookback": "2d",
    "runbook_url": "https://wiki.example.org/tp/runbook",
    "overview_uid": "tp-overview",
    "team_uid": "tp-team",
    "health_uid": "tp-health",
    "dashboard_tag": "people-ops",
    "dashboard_refresh": "1m",
    "dashboard_timezone": "utc",
    "datasource": "Mimir",
    "grafana_folder": "People",
    "grafana_dashboards_path": "/srv/grafana/teampulse",
    "prometheus_url": "https://prometheus.example.org",
}


def toml(values: dict[str, str]) -> str:
    """Return a TOML file of string settings (a JSON string is a TOML basic string)."""
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make test` installs it (apt-get install prometheus)"
    return path


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def rule_list(text: str) -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(text)["groups"] for r in g["rules"]]


def strings(value: object) -> Iterator[str]:
    """Yield every string inside a parsed YAML or JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def parsed(path: Path) -> object:
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


def teampulse(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a folder of files generated with every setting overridden."""
    folder = tmp_path_factory.mktemp("mixin")
    (folder / "mixin.toml").write_text(toml(OVERRIDES))
    write(folder / "out", folder / "mixin.toml")
    return folder / "out"


# --- Shipped, checked in, generated: one set ----------------------------------------------------


@pytest.mark.parametrize("rel", FILES, ids=str)
def test_shipped_and_checked_in_files_are_the_generated_defaults(rel: Path) -> None:
    text = render()[rel]
    assert (SHIPPED / rel).read_text() == text, f"{rel}: run `python dashboards/build.py`"
    assert (CHECKOUT / rel).read_text() == text, f"dashboards/{rel}: run `python dashboards/build.py`"
    assert shipped()[rel] == text


def test_no_stray_generated_files() -> None:
    for root in (SHIPPED, CHECKOUT):
        found = {p.relative_to(root) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert found - {Path("build.py"), Path("demo_stack.py")} == set(FILES), root


def test_the_distribution_ships_every_generated_file() -> None:
    # what setuptools puts in the wheel beside the modules of package `teampulse`
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for rel in FILES:
        inside = (Path("mixin/files") / rel).as_posix()
        assert any(fnmatch.fnmatch(inside, g) for g in globs["teampulse"]), inside


# --- The default rules --------------------------------------------------------------------------


def test_rules_read_the_thresholds_in_force_instead_of_baking_them_in() -> None:
    text = (SHIPPED / RULES).read_text()
    # every exported threshold is read by the rules...
    for name, _help in THRESHOLDS.values():
        assert name in text, name
    # ...and no default is written into them (0.2, 0.6, 2 days, 3600 s), nor a Grafana address
    for rule in rule_list(text):
        if "record" in rule or rule.get("labels", {}).get("source") == "teampulse":
            continue
        body = str(rule["expr"]) + json.dumps(rule.get("annotations", {}))
        body = re.sub(r"/ (3600|86400)\b", "", body)  # seconds shown as hours or days
        assert not re.search(r"(?<![\w.%])(0\.20?|0\.60?|3600|172800|2d)(?![\w.])", body), rule.get("alert")
    assert "localhost:3000" not in text
    # teampulse's runbook only as the fallback when no teampulse_links_info was scraped for a week
    assert text.count(RUNBOOK_URL) == text.count("teampulse_links_info{job=%q,runbook_url")
    assert "[1w]" in text


def test_rule_and_engine_texts_come_from_one_place() -> None:
    text = " ".join((SHIPPED / RULES).read_text().split())
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
    result = run_promtool("check", "rules", str(SHIPPED / RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_promtool_unit_tests() -> None:
    result = run_promtool("test", "rules", RULE_TESTS.name, cwd=(SHIPPED / RULE_TESTS).parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rule_tests_fail_on_rules_that_misbehave(tmp_path: Path) -> None:
    # the tests pin down behaviour: the pressure alert without its `for:` fires at once, and fails them
    write(tmp_path)
    rules = tmp_path / RULES
    text = rules.read_text()
    assert text.count("for: 5m") == 2
    rules.write_text(text.replace("for: 5m", "for: 0m", 1))
    result = run_promtool("test", "rules", RULE_TESTS.name, cwd=(tmp_path / RULE_TESTS).parent)
    assert result.returncode == 1
    failed = re.findall(r"alertname: (\w+), time: (\w+),", result.stdout + result.stderr)
    # while pending, and at the end of each flicker shorter than the 5m
    assert failed == [
        (alerts.PRESSURE_ALERT, "6m"),
        (alerts.PRESSURE_ALERT, "3m"),
        (alerts.PRESSURE_ALERT, "8m"),
    ]


def test_the_three_contract_alerts_with_labels_and_annotations() -> None:
    found = [r for r in rule_list((SHIPPED / RULES).read_text()) if "alert" in r]
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
        assert labels["severity"] in {"warning", "critical"}
        assert set(notes) == {"summary", "description", "runbook_url", "dashboard_url"}, rule["alert"]
        # the alert is routed by team or by source: the expression's series carry it, or the rule sets it
        assert "team" in str(notes["summary"]) or "source" in labels or "source" in str(notes["summary"])
        # the runbook's address comes from teampulse_links_info, the anchor from the alert
        anchors = set(re.findall(r"#([a-z]+)", str(notes["runbook_url"])))
        assert anchors == {str(rule["alert"]).lower()}, anchors
        assert anchors <= headings, f"docs/runbook.md has no section for {anchors}"
        assert "teampulse_links_info" in str(notes["runbook_url"]) + str(notes["dashboard_url"])
    severities = {r["alert"]: r["labels"]["severity"] for r in found}
    assert severities[alerts.SOURCE_DOWN_ALERT] == "critical"


def test_rules_read_only_exported_metrics() -> None:
    text = (SHIPPED / RULES).read_text()
    # names inside recording rules (level:metric:ops) are checked below
    used = set(re.findall(r"(?<![\w:])teampulse_[a-z_]+\b", text))
    recorded = {str(r["record"]) for r in rule_list(text) if "record" in r}
    assert used - series_names() == set(), "rules name metrics that teampulse does not export"
    for name in recorded:
        level, metric, _ops = name.split(":")
        assert level in {"team", "source"} and metric.startswith("teampulse_")


def test_pressure_rule_reads_the_engines_verdict_and_waits_only_for_jitter() -> None:
    rule = next(
        r for r in rule_list((SHIPPED / RULES).read_text()) if r.get("alert") == alerts.PRESSURE_ALERT
    )
    assert rule["expr"] == "teampulse_pressure_unmatched == 1"
    # the grace period is the engine's (days); `for` only rides out scrapes
    assert rule["for"] == DEFAULTS.pressure_for == "5m"


# --- A config overrides without editing source --------------------------------------------------


def test_overridden_rules_pass_promtool(overridden: Path) -> None:
    check = run_promtool("check", "rules", str(overridden / RULES))
    assert check.returncode == 0, check.stdout + check.stderr
    # the unit tests were generated for the same config: the job's labels, the new `for:` times
    tests = run_promtool("test", "rules", RULE_TESTS.name, cwd=(overridden / RULE_TESTS).parent)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    cases = yaml.safe_load((overridden / RULE_TESTS).read_text())["tests"]
    assert any("30m" in case["name"] for case in cases)
    exported = [s["series"] for c in cases for s in c["input_series"] if s["series"].startswith("teampulse_")]
    assert exported and all('{job="tp-prod",env="prod",' in s for s in exported)


@pytest.mark.parametrize(
    "values",
    [
        {"pressure_for": "1m", "time_off_for": "1m", "scrape_down_for": "1m"},
        {
            "pressure_for": "2h",
            "time_off_for": "90m",
            "scrape_down_for": "1d",
            "job_selector": 'service="tp"',
        },
    ],
    ids=["shortest", "long-without-a-job-matcher"],
)
def test_the_rule_tests_follow_the_durations(tmp_path: Path, values: dict[str, str]) -> None:
    (tmp_path / "mixin.toml").write_text(toml(values))
    write(tmp_path / "out", tmp_path / "mixin.toml")
    tests = run_promtool("test", "rules", RULE_TESTS.name, cwd=(tmp_path / "out" / RULE_TESTS).parent)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    names = [case["name"] for case in yaml.safe_load((tmp_path / "out" / RULE_TESTS).read_text())["tests"]]
    # a verdict cannot flicker for less than a minute at a one-minute step: that case is left out
    assert any("flickers" in name for name in names) == (values["pressure_for"] != "1m")


def test_overridden_rules_carry_the_overrides(overridden: Path) -> None:
    text = (overridden / RULES).read_text()
    by_alert = {(r.get("alert"), r.get("labels", {}).get("source")): r for r in rule_list(text)}
    scrape = by_alert[(alerts.SOURCE_DOWN_ALERT, "teampulse")]
    assert scrape["expr"] == 'up{job="tp-prod", env="prod"} == 0 or absent(up{job="tp-prod", env="prod"})'
    assert scrape["for"] == "30m"
    assert by_alert[(alerts.PRESSURE_ALERT, None)]["for"] == "2m"
    assert by_alert[(alerts.TIME_OFF_ALERT, None)]["for"] == "3m"
    pressure = by_alert[(alerts.PRESSURE_ALERT, None)]["annotations"]
    assert "/d/tp-team/" in pressure["dashboard_url"] and "[2d]" in pressure["dashboard_url"]
    assert pressure["runbook_url"].count("https://wiki.example.org/tp/runbook#") == 1
    assert "/d/tp-health/" in by_alert[(alerts.SOURCE_DOWN_ALERT, None)]["annotations"]["dashboard_url"]
    # nothing of the defaults is left behind
    for default in ('job="teampulse"', "/d/teampulse-team/", "/d/teampulse-health/", "[1w]", RUNBOOK_URL):
        assert default not in text, default


def test_every_setting_reaches_the_generated_files(overridden: Path) -> None:
    assert set(OVERRIDES) == set(settings()), "OVERRIDES must set every key"
    found = "\n".join(s for rel in FILES for s in strings(parsed(overridden / rel)))
    for key, value in OVERRIDES.items():
        assert value in found, key
        assert getattr(load_config(overridden.parent / "mixin.toml"), key) == value


def test_every_setting_is_documented_with_its_default() -> None:
    docs = DOCS.read_text()
    for key, (default, _doc) in settings().items():
        row = next((line for line in docs.splitlines() if line.startswith(f"| `{key}`")), "")
        assert row, f"docs/dashboards.md has no row for {key}"
        assert f"`{default}`" in row or (default == "" and "empty" in row), (key, row)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('job_selectr = "x"\n', "job_selectr: unknown key (known: dashboard_refresh, "),
        (
            'pressure_for = "90s"\n',
            'pressure_for: must be a whole number of minutes, at least 1m (not "90s")',
        ),
        ("scrape_down_for = 60\n", "scrape_down_for: must be a string"),
        ('links_lookback = "1 week"\n', 'links_lookback: not a Prometheus duration: "1 week"'),
        ("job_selector = 'job=~\"tp.+\"'\n", 'job_selector: must be label="value" matchers'),
        ('health_uid = "teampulse-team"\n', "team_uid: the three dashboard UIDs must differ"),
        ('overview_uid = "a uid with spaces"\n', 'overview_uid: not a Grafana UID: "a uid with spaces"'),
        ('runbook_url = "wiki/runbook"\n', "runbook_url: must be an http(s) address"),
        ("[dashboards]\nteam_uid = 'x'\n", "dashboards: unknown key"),
        ('job_selector = "\n', "config: not valid TOML"),
    ],
)
def test_a_bad_setting_is_one_error_naming_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mixin.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: {message}"), str(caught.value)
    assert "\n" not in str(caught.value)


# --- `teampulse mixin` ----------------------------------------------------------------------------


def test_command_writes_the_shipped_files(tmp_path: Path) -> None:
    result = teampulse("mixin", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"wrote {tmp_path / 'out' / rel}" for rel in FILES]
    for rel in FILES:
        assert (tmp_path / "out" / rel).read_text() == (SHIPPED / rel).read_text()


def test_command_writes_a_set_for_a_config(tmp_path: Path) -> None:
    (tmp_path / "mixin.toml").write_text(toml({"job_selector": 'job="tp"', "health_uid": "tp-health"}))
    result = teampulse("mixin", "--out", str(tmp_path / "out"), "--config", str(tmp_path / "mixin.toml"))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(FILES)
    expected = render(load_config(tmp_path / "mixin.toml"))
    for rel in FILES:
        assert (tmp_path / "out" / rel).read_text() == expected[rel]
    health = json.loads((tmp_path / "out" / DASHBOARDS["health"]).read_text())
    assert health["uid"] == "tp-health"
    assert 'up{job="tp"}' in (tmp_path / "out" / RULES).read_text()


def test_command_refuses_an_unknown_key_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "mixin.toml").write_text('team_uuid = "x"\n')
    result = teampulse("mixin", "--out", str(tmp_path / "out"), "--config", str(tmp_path / "mixin.toml"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"teampulse: error: {tmp_path / 'mixin.toml'}: team_uuid: unknown key")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_core_commands_do_not_load_the_dashboards_generator() -> None:
    code = (
        "import sys, teampulse.cli, teampulse.mixin.build, teampulse.mixin.rules, teampulse.mixin.ruletests;"
        "print(sorted(m for m in sys.modules if m.startswith('grafana_foundation_sdk')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_the_generator_the_shipped_files_still_come_and_a_config_says_what_to_install(
    tmp_path: Path,
) -> None:
    # grafana-foundation-sdk made unimportable, as in a `pip install teampulse` without [mixin]
    shadow = tmp_path / "shadow" / "grafana_foundation_sdk"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'grafana_foundation_sdk'\", name='grafana_foundation_sdk')\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")]))
    plain = teampulse("mixin", "--out", str(tmp_path / "plain"), env=env)
    assert plain.returncode == 0, plain.stderr
    assert (tmp_path / "plain" / DASHBOARDS["team"]).read_text() == (SHIPPED / DASHBOARDS["team"]).read_text()
    (tmp_path / "mixin.toml").write_text('team_uid = "tp-team"\n')
    custom = teampulse(
        "mixin", "--out", str(tmp_path / "custom"), "--config", str(tmp_path / "mixin.toml"), env=env
    )
    assert custom.returncode == 2
    assert custom.stderr == f"teampulse: error: {MISSING_SDK}\n"
    assert "pip install 'teampulse[mixin]'" in MISSING_SDK
    assert not (tmp_path / "custom").exists()
