"""The Grafana dashboards of teampulse.mixin: well formed, overridable, and every query works on real data.

The end-to-end part starts the Jira emulator with the demo organisation (and its calendars and
survey when those plugins are installed), `teampulse serve` on it, and a real Prometheus that
scrapes it every second and evaluates the shipped rules; then it runs every panel target and
variable query of every dashboard against Prometheus' query API. serve runs on the real clock
and the organisation ends at the real time (support.wall_clock_now): the shipped rules compare
serve's timestamps with Prometheus' time(), and the test checks TeampulseSourceDown stays quiet.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import (
    free_port,
    http_get,
    scrape_config,
    start_prometheus,
    start_serve,
    wait_until,
    wall_clock_now,
)
from teampulse_demo.demo import TOKEN_ENV, write_demo_config
from teampulse_jira_emulator import EmulatorServer, generate_organisation

from teampulse.alerts import PRESSURE_ALERT, SOURCE_DOWN_ALERT, TIME_OFF_ALERT
from teampulse.exporter import RUNBOOK_URL, series_names
from teampulse.mixin import DEFAULTS, MixinConfig
from teampulse.mixin.build import DASHBOARDS, PROVISIONING_DASHBOARDS, PROVISIONING_DATASOURCES, RULES, render
from teampulse.mixin.queries import HIGH, RISE

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "teampulse" / "mixin" / "files"
TEAM = "payments"  # the demo's crunch team: elevated, and unmatched until the test records an action
DEMO_SEED = 7  # `teampulse demo`'s default

# People-side panels: they have data only because the demo has calendars and a survey.
PEOPLE_PANELS = {
    'max(teampulse_one_on_one_coverage_ratio{team="$team"})',
    'max(teampulse_meeting_outside_working_time_seconds{team="$team"})',
    'max by (dimension) (teampulse_survey_score_ratio{team="$team"})',
}


UIDS = {"overview": DEFAULTS.overview_uid, "team": DEFAULTS.team_uid, "health": DEFAULTS.health_uid}
BOARDS: dict[str, dict[str, Any]] = {
    UIDS[name]: json.loads((SHIPPED / path).read_text()) for name, path in DASHBOARDS.items()
}
# A deployment's own names: the same dashboards with every Grafana setting changed.
OVERRIDDEN = MixinConfig(
    job_selector='job="tp-prod", env="prod"',
    overview_uid="tp-overview",
    team_uid="tp-team",
    health_uid="tp-health",
    dashboard_tag="people-ops",
    dashboard_refresh="1m",
    dashboard_timezone="utc",
    datasource="Mimir",
)


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard, and where it sits."""

    board: str
    where: str
    expr: str


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield every panel, rows' collapsed panels included."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def panel_queries() -> list[Query]:
    """Return every panel target of every dashboard."""
    return [
        Query(uid, f"{p['title']} [{t['refId']}]", t["expr"])
        for uid, board in BOARDS.items()
        for p in panels(board)
        for t in p.get("targets", [])
    ]


def variable_queries() -> list[Query]:
    """Return every query variable of every dashboard."""
    return [
        Query(uid, f"${v['name']}", v["query"])
        for uid, board in BOARDS.items()
        for v in board["templating"]["list"]
        if v["type"] == "query"
    ]


def annotation_queries() -> list[Query]:
    """Return every Prometheus annotation query."""
    return [
        Query(uid, f"annotation {a['name']}", a["expr"])
        for uid, board in BOARDS.items()
        for a in board.get("annotations", {}).get("list", [])
        if a.get("expr")
    ]


def substitute(expr: str) -> str:
    """Replace Grafana's template variables as a dashboard would at a 1h range."""
    for name, value in (
        ("team", TEAM),
        ("__rate_interval", "1m"),
        ("__interval", "1m"),
        ("__range", "1h"),
        ("datasource", "prometheus"),
    ):
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


# --- Static checks ------------------------------------------------------------------------------


def check_provisionable(board: dict[str, Any], uid: str, config: MixinConfig) -> None:
    """Check what Grafana's file provisioning and the dashboards' links need of one dashboard."""
    text = json.dumps(board)
    # file provisioning resolves neither __inputs nor ${DS_...}: a datasource variable instead
    assert "__inputs" not in board and "${DS_" not in text
    assert board["uid"] == uid and board["title"].startswith("teampulse / ")
    assert board["schemaVersion"] >= 39  # Grafana 11
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    if uid != config.health_uid:
        assert variables["team"]["query"] == "label_values(teampulse_process_pressure_ratio, team)"
    # the runbook link reads the address teampulse exports (teampulse_links_info), none is baked in
    assert variables["runbook"]["query"] == "label_values(teampulse_links_info, runbook_url)"
    assert variables["runbook"]["hide"] == 2
    assert {link["url"] for link in board["links"] if link["type"] == "link"} == {"${runbook}"}
    assert RUNBOOK_URL not in text and "localhost:3000" not in text
    assert any(
        link["type"] == "dashboards" and link["tags"] == [config.dashboard_tag] for link in board["links"]
    )
    assert config.dashboard_tag in board["tags"]
    assert board["refresh"] == config.dashboard_refresh and board["timezone"] == config.dashboard_timezone
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids))
    for p in panels(board):
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p.get("description"), p["title"]
        defaults = p["fieldConfig"]["defaults"]
        assert defaults.get("unit"), f"{p['title']}: no unit"
        assert defaults.get("thresholds", {}).get("steps"), f"{p['title']}: no thresholds"
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_dashboard_is_provisionable(uid: str) -> None:
    check_provisionable(BOARDS[uid], uid, DEFAULTS)
    # no data source chosen: Grafana opens the dashboards on its default Prometheus
    assert "current" not in BOARDS[uid]["templating"]["list"][0]


def test_overridden_dashboards_carry_the_overrides() -> None:
    files = render(OVERRIDDEN)
    boards = {name: json.loads(files[path]) for name, path in DASHBOARDS.items()}
    for name, uid in (("overview", "tp-overview"), ("team", "tp-team"), ("health", "tp-health")):
        check_provisionable(boards[name], uid, OVERRIDDEN)
        datasource = boards[name]["templating"]["list"][0]
        assert datasource["name"] == "datasource" and datasource["current"]["value"] == "Mimir"
    text = json.dumps(boards)
    # a team's row in the overview opens the team detail by its UID; the health panel reads the job
    assert "/d/tp-team/teampulse-team-detail?var-team=" in json.dumps(boards["overview"])
    assert 'up{job=\\"tp-prod\\", env=\\"prod\\"} * on (job, instance)' in json.dumps(boards["health"])
    for default in ("teampulse-overview", "teampulse-health", "/d/teampulse-team/", 'job=\\"teampulse\\"'):
        assert default not in text, default
    # the rules' links open the same dashboards
    assert "/d/tp-team/" in files[RULES] and "/d/tp-health/" in files[RULES]
    assert 'name: "Mimir"' in files[PROVISIONING_DATASOURCES]


def test_dashboards_read_only_exported_metrics() -> None:
    known = series_names()
    exprs = [q.expr for q in panel_queries() + variable_queries() + annotation_queries()]
    used = {m for e in exprs for m in re.findall(r"(?<![\w:])teampulse_[a-z_]+\b", e)}
    assert used - known == set()


def test_team_dashboard_pairs_process_with_people() -> None:
    board = BOARDS[DEFAULTS.team_uid]
    exprs = " ".join(q.expr for q in panel_queries() if q.board == DEFAULTS.team_uid)
    for metric in (
        "teampulse_process_throughput",
        "teampulse_people_support_ratio",
        "teampulse_work_in_progress_per_available_person",
        "teampulse_one_on_one_coverage_ratio",
        "teampulse_work_items_overdue",
        "teampulse_work_items_due_soon",
        "deadline_renegotiated|workload_rebalanced",
        "teampulse_process_activity_outside_working_time_ratio",
        "teampulse_time_off_conflicts",
        "teampulse_survey_score_ratio",
        "teampulse_survey_responses",
        "teampulse_process_pressure_baseline_ratio",
    ):
        assert metric in exprs, metric
    # the alert threshold is drawn from the thresholds teampulse exports, as the rules read them
    assert f"+ ignoring (team) group_left {RISE} < ignoring (team) group_left {HIGH}" in exprs
    assert any("leadership_actions" in a["expr"] for a in board["annotations"]["list"])


def test_provisioning_files() -> None:
    providers = yaml.safe_load((SHIPPED / PROVISIONING_DASHBOARDS).read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    sources = yaml.safe_load((SHIPPED / PROVISIONING_DATASOURCES).read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["url"].startswith("http")


# --- Every query against a real Prometheus ------------------------------------------------------


@dataclass
class Stack:
    """teampulse serve and a Prometheus scraping it."""

    serve: str
    prometheus: str
    api_token: str
    people: bool  # the demo's calendars and survey are collected

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Run an instant query; fail on anything but success."""
        url = f"{self.prometheus}/api/v1/query?query={urllib.parse.quote(expr)}"
        try:
            body = json.loads(http_get(url))
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{expr}: {exc.read().decode()}") from exc
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def label_values(self, metric: str, label: str) -> list[str]:
        """Do what Grafana does for label_values(metric, label)."""
        url = f"{self.prometheus}/api/v1/label/{label}/values?match[]={urllib.parse.quote(metric)}"
        body = json.loads(http_get(url))
        assert body["status"] == "success", body
        return list(body["data"])


def _start_serve(folder: Path, token: str) -> tuple[subprocess.Popen[str], str, bool]:
    from teampulse.plugins import load_registry

    org = generate_organisation(seed=DEMO_SEED, now=wall_clock_now())
    # the demo's people side (calendars, a survey) when its plugins are installed, as `teampulse demo`
    people = {"ics", "survey-csv"} <= set(load_registry().sources)
    if people:
        from teampulse_demo.people import write_people_data

        write_people_data(org, folder, org.now)
    emulator = EmulatorServer(org.dataset, mode="cloud")
    emulator.__enter__()
    path = write_demo_config(folder, emulator.url, list(org.teams), interval="1h", people=people)
    port = free_port()
    env = dict(
        os.environ,
        TEAMPULSE_PSEUDONYM_KEY="dashboards-key-0123456789",
        TEAMPULSE_API_TOKEN=token,
        **{TOKEN_ENV: "t"},
    )
    proc = start_serve(path, port, env)
    proc.emulator = emulator  # type: ignore[attr-defined]
    return proc, f"http://127.0.0.1:{port}", people


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    assert shutil.which("prometheus"), "prometheus is missing: `make test` installs it"
    folder = tmp_path_factory.mktemp("dashboards")
    token = "dashboards-api-token"
    serve, url, people = _start_serve(folder, token)
    prom: subprocess.Popen[bytes] | None = None
    port = free_port()
    try:
        wait_until(lambda: b'teampulse_source_up{source="jira"} 1.0' in http_get(url + "/metrics"))
        rules = str(SHIPPED / RULES)
        prom = start_prometheus(
            folder, port, scrape_config(url.removeprefix("http://"), rules), "--web.enable-lifecycle"
        )
        s = Stack(url, f"http://127.0.0.1:{port}", token, people)
        # a few scrapes, so that increase() and friends have two samples to work with
        wait_until(lambda: len(s.query("teampulse_process_pressure_ratio")) == 4)
        wait_until(lambda: float(s.query("count_over_time(teampulse_source_up[1m])")[0]["value"][1]) >= 3)
        yield s
    finally:
        if prom is not None:
            try:
                urllib.request.urlopen(
                    urllib.request.Request(f"http://127.0.0.1:{port}/-/quit", method="POST"), timeout=5
                )
                prom.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                prom.terminate()
                prom.wait(timeout=10)
        serve.terminate()
        serve.wait(timeout=10)
        serve.emulator.__exit__(None, None, None)  # type: ignore[attr-defined]


def test_every_panel_query_returns_data(stack: Stack) -> None:
    # `make test` installs the calendar and survey plugins: every panel, people side included,
    # must show data on the demo.
    assert stack.people, "teampulse-calendar and teampulse-survey must be installed (make test does)"
    empty = []
    for q in panel_queries():
        result = stack.query(substitute(q.expr))  # fails unless Prometheus accepts the query
        if not result:
            empty.append(f"{q.board}: {q.where}: {q.expr}")
    assert not empty, "queries without data on the demo:\n" + "\n".join(empty)
    assert {q.expr for q in panel_queries()} >= PEOPLE_PANELS, "a people panel went missing"


def test_every_variable_query_returns_teams(stack: Stack) -> None:
    for q in variable_queries():
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q.expr)
        assert match, q.expr
        values = stack.label_values(substitute(match.group(1)), match.group(2))
        if q.where == "$runbook":
            assert values == [RUNBOOK_URL], values
        else:
            assert TEAM in values and len(values) == 4, (q, values)


def test_shipped_rules_agree_with_teampulse_on_real_data(stack: Stack) -> None:
    # every recording rule yields series from the real exporter
    for group in yaml.safe_load((SHIPPED / RULES).read_text())["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                assert stack.query(rule["record"]), rule["record"]
    # the team alerts are pending (their `for` is minutes) for exactly the teams teampulse flags
    firing = json.loads(http_get(stack.serve + "/api/v1/alerts"))
    flagged = {
        (a["alert"], a["labels"]["team"]) for a in firing if a["alert"] in (PRESSURE_ALERT, TIME_OFF_ALERT)
    }
    assert flagged, "the demo has a team under pressure without leadership, or time off overridden"

    def in_prometheus() -> set[tuple[str, str]]:
        alerts = stack.query(f'ALERTS{{alertname=~"{PRESSURE_ALERT}|{TIME_OFF_ALERT}"}}')
        return {(a["metric"]["alertname"], a["metric"]["team"]) for a in alerts}

    wait_until(lambda: in_prometheus() == flagged, timeout=10)
    assert not stack.query(f'ALERTS{{alertname="{SOURCE_DOWN_ALERT}"}}')


def test_annotations_mark_a_recorded_leadership_action(stack: Stack) -> None:
    before = stack.query(f'sum(teampulse_leadership_actions_total{{team="{TEAM}"}})')[0]["value"][1]
    request = urllib.request.Request(
        stack.serve + "/api/v1/actions",
        data=json.dumps({"team": TEAM, "kind": "one_on_one", "note": "plan agreed"}).encode(),
        headers={"Authorization": f"Bearer {stack.api_token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        assert r.status == 201
    wait_until(
        lambda: (
            stack.query(f'sum(teampulse_leadership_actions_total{{team="{TEAM}"}})')[0]["value"][1] != before
        ),
        timeout=20,
    )
    for q in annotation_queries():
        result = stack.query(substitute(q.expr))
        if "leadership_actions" in q.expr:
            assert {r["metric"].get("kind") for r in result} >= {"one_on_one"}, q
