"""deploy/: the Containerfile, the systemd unit and the Prometheus and Alertmanager configs.

Checked against the real tools where there is one: `systemd-analyze verify` and
`systemd-analyze security --offline` on the unit, `promtool check config` on prometheus.yml laid
out as in production (the shipped rules beside it), `amtool check-config` and
`amtool config routes test` on alertmanager.yml. The Containerfile is parsed (no image is built
here), and its command, with the unit's, is run for real: `teampulse serve` with TLS and basic
auth from a web config, the image's health check against it, a real Prometheus scraping it with
the TLS variant of deploy/prometheus.yml and evaluating the shipped rules, the documented backup
while it runs, and the stop signal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import tomllib
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bcrypt
import click
import pytest
import yaml
from support import KEY, free_port, start_prometheus, wait_until

from teampulse import config as config_mod
from teampulse.app import build_notifiers, build_sources, load_registry
from teampulse.webconfig import load_web_config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CONTAINERFILE = DEPLOY / "Containerfile"
UNIT = DEPLOY / "teampulse.service"
ENV_EXAMPLE = DEPLOY / "teampulse.env.example"
CONFIG_EXAMPLE = DEPLOY / "teampulse.toml.example"
WEB_CONFIG_EXAMPLE = DEPLOY / "web-config.example.yml"
PROMETHEUS = DEPLOY / "prometheus.yml"
ALERTMANAGER = DEPLOY / "alertmanager.yml"
HEALTHCHECK = DEPLOY / "healthcheck.py"
DOC = ROOT / "docs" / "deployment.md"
RULES = sorted((ROOT / "dashboards" / "rules").glob("*.yml"))
STATE_DIR = "/var/lib/teampulse"
SECRET_NAMES = ("TEAMPULSE_PSEUDONYM_KEY", "TEAMPULSE_API_TOKEN", "JIRA_TOKEN")
SECRETISH = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
# The backup command of docs/deployment.md, run below against a live store.
BACKUP = "sqlite3 /var/lib/teampulse/teampulse.db \".backup '/var/backups/teampulse/teampulse.db'\""
CONTAINER_BACKUP = (
    'python -c \'import sqlite3; sqlite3.connect("/var/lib/teampulse/teampulse.db")'
    '.backup(sqlite3.connect("/var/lib/teampulse/backup.db"))\''
)


# --- the Containerfile ---------------------------------------------------------------------------


def containerfile() -> list[tuple[int, str, str]]:
    """Return (stage, INSTRUCTION, arguments) of every instruction, continuations joined."""
    instructions: list[tuple[int, str, str]] = []
    stage, pending = -1, ""
    for raw in CONTAINERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comment lines are dropped, also inside a continuation
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stage += 1
        instructions.append((stage, word.upper(), rest.strip()))
    assert not pending, "the Containerfile ends in a continuation"
    return instructions


def final_stage(name: str) -> list[str]:
    """Return the arguments of every `name` instruction of the last stage."""
    instructions = containerfile()
    last = max(stage for stage, _, _ in instructions)
    return [rest for stage, word, rest in instructions if stage == last and word == name]


def exec_form(name: str) -> list[str]:
    """Return the last stage's `name` (ENTRYPOINT, CMD) in exec (JSON) form."""
    found = final_stage(name)
    assert len(found) == 1, f"{name}: expected one in the final stage, got {found}"
    value = json.loads(found[0])
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"{name} is not exec form"
    return value


def container_command() -> list[str]:
    return exec_form("ENTRYPOINT") + exec_form("CMD")


def test_containerfile_runs_serve_as_non_root_with_a_state_volume() -> None:
    command = container_command()
    assert command[:2] == ["teampulse", "serve"], command
    assert serve_flags(command) == {"--config", "--listen", "--web-config"}
    listen = command[command.index("--listen") + 1]
    assert listen.startswith("0.0.0.0:"), "inside a container serve must listen on all addresses"
    port = listen.rpartition(":")[2]
    assert final_stage("EXPOSE") == [port]
    # The default URL of the health check is the port served.
    assert f"127.0.0.1:{port}/healthz" in HEALTHCHECK.read_text()

    users = final_stage("USER")
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and user.isdigit(), f"USER {user}: use a numeric non-root uid"
    # ... which the image creates, and which owns the state directory.
    setup = " ".join(final_stage("RUN"))
    assert f"--uid {user}" in setup and f"-o teampulse -g teampulse -m 0700 {STATE_DIR}" in setup

    volumes = [v for args in final_stage("VOLUME") for v in json.loads(args)]
    assert volumes == [STATE_DIR]
    assert example_raw()["settings"]["state"].startswith(STATE_DIR + "/")

    # The stop signal is one serve stops on cleanly (below).
    assert final_stage("STOPSIGNAL") == ["SIGINT"]
    healthcheck = final_stage("HEALTHCHECK")
    assert len(healthcheck) == 1 and healthcheck[0].endswith('CMD ["teampulse-healthcheck"]')
    assert re.search(r"--start-period=\d+m", healthcheck[0]), "the first collection needs a start period"


def test_containerfile_installs_the_core_and_every_first_party_plugin_but_the_demo() -> None:
    build = " ".join(rest for stage, word, rest in containerfile() if stage == 0 and word == "RUN")
    installs = [c for c in build.split("&&") if "pip install" in c and "./plugins/" in c]
    assert len(installs) == 1, build
    targets = {
        t.strip('"').split("[")[0].rstrip("/") for t in shlex.split(installs[0]) if t.startswith(("./", "."))
    }
    # The demo needs the Jira emulator, which is no part of a deployment.
    plugins = {
        f"./plugins/{p.name}"
        for p in (ROOT / "plugins").glob("teampulse-*")
        if p.is_dir() and p.name != "teampulse-demo"
    }
    assert targets == {".", *plugins}, "install the core and every plugins/teampulse-* folder but the demo"
    assert "install -m 0755 deploy/healthcheck.py /opt/teampulse/bin/teampulse-healthcheck" in build
    assert any(rest.startswith("PATH=/opt/teampulse/bin:") for rest in final_stage("ENV"))
    # Everything COPY'd from the context exists and is let through by the ignore file.
    ignore = (DEPLOY / "Containerfile.dockerignore").read_text().splitlines()
    for _stage, word, rest in containerfile():
        if word == "COPY" and "--from=" not in rest:
            for source in shlex.split(rest)[:-1]:
                assert (ROOT / source).exists(), source
                assert f"!{source}" in ignore or f"!{source}/" in ignore, f"{source} is ignored"


def test_no_secret_in_the_image_or_the_unit() -> None:
    for _stage, word, rest in containerfile():
        for name in SECRET_NAMES:
            assert name not in rest, f"{word} {rest}: secrets come from the environment at run time"
        if word in ("ENV", "ARG"):
            for assignment in shlex.split(rest):
                assert not SECRETISH.search(assignment.split("=")[0]), f"{word} {assignment}"
        if word == "COPY":
            assert not re.search(
                r"\.env|\.db|\.toml\b|web-config|\.key|\.pem", rest.replace("pyproject.toml", "")
            )
    ignore = [p for p in (DEPLOY / "Containerfile.dockerignore").read_text().splitlines() if p[:1] not in "#"]
    assert ignore[0] == "*", "the ignore file excludes everything first, then lets the sources through"
    for pattern in ("**/*.env", "**/*.db", "**/.venv"):
        assert pattern in ignore

    unit = unit_sections()
    for key, value in unit["Service"]:
        if key in ("Environment", "ExecStart"):
            for name in SECRET_NAMES:
                assert name not in value, f"{key}={value}: secrets belong in the EnvironmentFile"
    # The examples carry the names, never values.
    values = env_example()
    assert set(SECRET_NAMES[:1]) <= set(values) and not any(values.values()), values
    for path in (WEB_CONFIG_EXAMPLE, PROMETHEUS, ALERTMANAGER, CONFIG_EXAMPLE):
        assert not re.search(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", path.read_text()), (
            f"a bcrypt hash in {path}"
        )
        assert not re.search(r"\b[0-9a-f]{32,}\b", path.read_text()), f"a key-like hex string in {path}"


# --- the example config, environment and web config ----------------------------------------------


def env_example() -> dict[str, str]:
    """Return the names and values of deploy/teampulse.env.example (commented ones included)."""
    found: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"#?([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found[match[1]] = match[2]
    return found


def example_raw() -> dict[str, Any]:
    return tomllib.loads(CONFIG_EXAMPLE.read_text())


def example_config(tmp_path: Path) -> config_mod.Config:
    """Load the example config with its state folder (which must exist) moved under tmp_path."""
    state = tmp_path / STATE_DIR.lstrip("/")
    state.mkdir(parents=True)
    copy = tmp_path / "teampulse.toml"
    copy.write_text(CONFIG_EXAMPLE.read_text().replace(f'"{STATE_DIR}/', f'"{state}/'))
    config = config_mod.load(copy)
    assert config.state.parent == state
    return config


def test_example_config_and_environment_work_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = env_example()
    raw = example_raw()
    wanted = {v for table in raw.get("sources", {}).values() for k, v in table.items() if k.endswith("_env")}
    assert wanted <= set(names), f"the env example lacks {wanted - set(names)}"
    for name in wanted:
        monkeypatch.setenv(name, "example-secret")
    assert example_raw()["settings"]["state"] == f"{STATE_DIR}/teampulse.db"
    config = example_config(tmp_path)
    registry = load_registry()
    assert set(build_sources(config, registry)) == set(raw["sources"])
    build_notifiers(config, registry)
    for name in wanted:
        monkeypatch.delenv(name)
        with pytest.raises(Exception, match=name):
            build_sources(config, registry)
        monkeypatch.setenv(name, "example-secret")
    # As shipped the web config turns nothing on, and is valid.
    web = load_web_config(WEB_CONFIG_EXAMPLE)
    assert web.ssl_context is None and web.users == {}


# --- the systemd unit ----------------------------------------------------------------------------


def unit_sections() -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def unit_value(key: str) -> str:
    values = [v for k, v in unit_sections()["Service"] if k == key]
    assert len(values) == 1, f"{key}: {values}"
    return values[0]


def unit_command() -> list[str]:
    return shlex.split(unit_value("ExecStart"))


def unit_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this venv's teampulse (verify wants a real binary)."""
    binary = unit_command()[0]
    assert binary == "/opt/teampulse/bin/teampulse", binary
    local = Path(sys.executable).parent / "teampulse"
    assert local.exists(), local
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(f"ExecStart={binary} ", f"ExecStart={local} "))
    return copy


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    copy = unit_copy(tmp_path)
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # verify exits 0 on unknown keys and bad values, but says so.
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if copy.name in line]
    assert not complaints, complaints
    # And it does complain, so the check above can fail.
    broken = tmp_path / "broken" / UNIT.name
    broken.parent.mkdir()
    broken.write_text(
        copy.read_text().replace("ProtectSystem=strict", "ProtectSystem=strict\nProtectSytem=yes")
    )
    result = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, text=True)
    assert "ProtectSytem" in result.stdout + result.stderr


def test_unit_is_hardened(tmp_path: Path) -> None:
    copy = unit_copy(tmp_path)
    # systemd's own rating: at most 2.0 ("OK").
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", "--no-pager", str(copy)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout)
    assert level and float(level[1]) <= 2.0, result.stdout[-300:]
    for key, value in {
        "StateDirectory": "teampulse",
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "Restart": "on-failure",
        "EnvironmentFile": "/etc/teampulse/teampulse.env",
        "KillSignal": "SIGINT",
        "SuccessExitStatus": "130",
        "RestartPreventExitStatus": "2",
    }.items():
        assert unit_value(key) == value, key
    assert set(unit_value("RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    # The config's state is in the StateDirectory, the working directory.
    assert unit_value("WorkingDirectory") == STATE_DIR == str(Path(example_raw()["settings"]["state"]).parent)


def test_unit_and_image_run_the_same_serve() -> None:
    assert unit_command()[1:] == container_command()[1:], "keep the unit's and the image's serve the same"


def serve_flags(command: list[str]) -> set[str]:
    """Return the flags of a `teampulse serve ...` command line, checked against the real CLI."""
    from teampulse.cli import main

    assert command[1] == "serve"
    serve = main.get_command(click_context(), "serve")
    assert serve is not None, "teampulse has no serve command"
    known = {opt for param in serve.params for opt in getattr(param, "opts", [])}
    flags = {a for a in command[2:] if a.startswith("--")}
    assert flags <= known, f"unknown serve flags: {flags - known}"
    ctx = serve.make_context("serve", list(command[2:]), parent=click_context())
    assert ctx.params["config_path"] and ctx.params["listen"] and ctx.params["web_config"]
    return flags


def click_context() -> Any:
    from teampulse.cli import main

    return main.make_context("teampulse", ["plugins"], resilient_parsing=True)


# --- Prometheus ----------------------------------------------------------------------------------


def tls_variant(text: str) -> str:
    """Uncomment the lines between BEGIN and END tls-basic-auth, as the file tells the reader to."""
    out, inside, seen = [], False, False
    for line in text.splitlines():
        if "BEGIN tls-basic-auth" in line:
            inside = seen = True
            continue
        if "END tls-basic-auth" in line:
            inside = False
            continue
        out.append(re.sub(r"^(\s*)# ", r"\1", line) if inside else line)
    assert seen and not inside, "the TLS and basic auth block is marked BEGIN/END tls-basic-auth"
    return "\n".join(out) + "\n"


def prometheus_layout(folder: Path, text: str) -> Path:
    """Lay out /etc/prometheus as docs/deployment.md says: the config, the rules beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prometheus.yml").write_text(text)
    rules = folder / "rules" / "teampulse"
    rules.mkdir(parents=True, exist_ok=True)
    for rule in RULES:
        shutil.copy(rule, rules / rule.name)
    return folder / "prometheus.yml"


def promtool_check(path: Path) -> str:
    result = subprocess.run(["promtool", "check", "config", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("variant", ["plain", "tls"])
def test_prometheus_config_passes_promtool_with_the_shipped_rules(tmp_path: Path, variant: str) -> None:
    text = PROMETHEUS.read_text()
    if variant == "tls":
        text = tls_variant(text)
        (tmp_path / "teampulse").mkdir()
        (tmp_path / "teampulse" / "ca.crt").write_text("")
        (tmp_path / "teampulse" / "scrape-password").write_text("")
    output = promtool_check(prometheus_layout(tmp_path, text))
    assert RULES, "dashboards/rules/*.yml"
    assert f"SUCCESS: {len(RULES)} rule files found" in output, output
    for rule in RULES:
        count = sum(len(g["rules"]) for g in yaml.safe_load(rule.read_text())["groups"])
        assert re.search(
            rf"Checking \S*rules/teampulse/{re.escape(rule.name)}\n\s+SUCCESS: {count} rules found", output
        )
    # The job the rules select is the job scraped.
    config = yaml.safe_load(text)
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    selected = {m for rule in RULES for m in re.findall(r'job="([^"]+)"', rule.read_text())}
    assert selected and selected <= set(jobs), (selected, jobs)
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    if variant == "tls":
        job = config["scrape_configs"][0]
        assert (
            job["scheme"] == "https" and job["basic_auth"]["password_file"] and job["tls_config"]["ca_file"]
        )


def test_promtool_notices_a_missing_rule_file(tmp_path: Path) -> None:
    """The rule_files glob matching nothing passes promtool: the count above is what catches it."""
    path = prometheus_layout(tmp_path, PROMETHEUS.read_text())
    for rule in (tmp_path / "rules" / "teampulse").iterdir():
        rule.unlink()
    assert f"SUCCESS: {len(RULES)} rule files found" not in promtool_check(path)


# --- Alertmanager --------------------------------------------------------------------------------


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["amtool", *args], capture_output=True, text=True)


def route(*labels: str) -> str:
    result = amtool("config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_alertmanager_config_passes_amtool() -> None:
    result = amtool("check-config", str(ALERTMANAGER))
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr
    config = yaml.safe_load(ALERTMANAGER.read_text())
    text = ALERTMANAGER.read_text()
    # Secrets are read from files.
    assert "smtp_auth_password_file" in text and "smtp_auth_password:" not in text
    assert "routing_key_file" in text and "routing_key:" not in text
    assert config["route"]["receiver"] == "ops"


def test_alertmanager_routes_team_alerts_by_team_and_source_down_to_ops() -> None:
    alerts = {
        r["alert"]: r
        for rule in RULES
        for g in yaml.safe_load(rule.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    assert {
        "ProcessPressureWithoutLeadership",
        "TimeOffOverriddenUnderPressure",
        "TeampulseSourceDown",
    } <= set(alerts)
    teams = [team["name"] for team in example_raw()["teams"]]
    for alert, rule in alerts.items():
        if alert == "TeampulseSourceDown" or "source" in rule.get("labels", {}):
            for source in ("jira", "calendars", "teampulse"):
                assert route(f"alertname={alert}", f"source={source}", "severity=critical") == "ops"
            continue
        severity = rule["labels"]["severity"]
        for team in teams:
            assert route(f"alertname={alert}", f"team={team}", f"severity={severity}") == f"team-{team}"
        # A team that has no route of its own reaches the engineering leads, not ops.
        assert route(f"alertname={alert}", "team=no-route-yet", f"severity={severity}") == "engineering-leads"
    assert route("alertname=SomethingElse") == "ops"


# --- the health check ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "healthy", "says"),
    [
        (200, {"status": "ok", "sources": {"jira": {"up": True, "problems": 0}}}, True, "healthy"),
        # A source down or skipping input is not a reason to restart: still healthy, but said.
        (200, {"status": "degraded", "sources": {"jira": {"up": False, "problems": 0}}}, True, "jira"),
        (503, {"status": "starting", "sources": {}}, False, "HTTP 503"),
        (200, "not json", False, "/healthz"),
    ],
)
def test_healthcheck_verdicts(status: int, body: Any, healthy: bool, says: str) -> None:
    payload = (json.dumps(body) if isinstance(body, dict) else body).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" else 404)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
        result = healthcheck({"TEAMPULSE_HEALTHCHECK_URL": url})
    finally:
        server.shutdown()
        server.server_close()
    assert (result.returncode == 0) is healthy, result.stdout + result.stderr
    assert says in result.stdout + result.stderr


# --- the command run for real --------------------------------------------------------------------

CALENDAR = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//teampulse//deploy test//EN
BEGIN:VEVENT
UID:planning-{n}@example.com
DTSTAMP:20260101T000000Z
DTSTART:20260105T100000Z
DTEND:20260105T103000Z
SUMMARY:Planning
END:VEVENT
END:VCALENDAR
"""
PEOPLE = ("maria@example.com", "bob@example.com", "chen@example.com")


def production_tree(tmp_path: Path) -> tuple[Path, Path, str]:
    """Lay out /etc/teampulse and /var/lib/teampulse under tmp_path; return etc, state, password."""
    etc, state = tmp_path / "etc" / "teampulse", tmp_path / "var" / "lib" / "teampulse"
    (etc / "calendars").mkdir(parents=True)
    state.mkdir(parents=True)
    for n, person in enumerate(PEOPLE):
        (etc / "calendars" / f"{person}.ics").write_text(CALENDAR.format(n=n))
    (etc / "teampulse.toml").write_text(
        f'[settings]\nstate = "{state}/teampulse.db"\ntimezone = "UTC"\n\n'
        f'[[teams]]\nname = "payments"\nmanager = "{PEOPLE[0]}"\nmembers = {json.dumps(list(PEOPLE[1:]))}\n'
        'jql = "project = PAY"\n\n[sources.calendars]\nplugin = "ics"\npaths = ["calendars/*.ics"]\n'
    )
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=teampulse.example.com",
         "-addext", "subjectAltName=DNS:teampulse.example.com,IP:127.0.0.1",
         "-keyout", str(etc / "tls.key"), "-out", str(etc / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    password = "scrape-pa55word"
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    (etc / "web-config.yml").write_text(
        f"tls_server_config:\n  cert_file: {etc}/tls.crt\n  key_file: {etc}/tls.key\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    return etc, state, password


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=30,
    )


def prometheus_query(port: int, query: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as r:
        return list(json.loads(r.read())["data"]["result"])


def prometheus_rules(port: int) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=5) as r:
        return list(json.loads(r.read())["data"]["groups"])


@pytest.mark.slow
def test_the_command_serves_tls_and_basic_auth_to_the_healthcheck_and_prometheus(tmp_path: Path) -> None:
    etc, state, password = production_tree(tmp_path)
    port = free_port()
    # The image's command, its paths moved under tmp_path and on a free loopback port.
    command = [
        a.replace("/etc/teampulse/", f"{etc}/").replace("0.0.0.0:9469", f"127.0.0.1:{port}")
        for a in container_command()[1:]
    ]
    # Its log to a file: a pipe nobody reads fills up and blocks serve.
    log = tmp_path / "serve.log"
    serve = subprocess.Popen(
        [sys.executable, "-m", "teampulse.cli", *command],
        env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY, PYTHONFAULTHANDLER="1"),
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    prometheus: subprocess.Popen[bytes] | None = None
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()
        assert f"https://127.0.0.1:{port}/" in line, line + log.read_text()

        # The image's health check: 401 without the credentials, healthy with them.
        url = f"https://127.0.0.1:{port}/healthz"
        denied = healthcheck({"TEAMPULSE_HEALTHCHECK_URL": url})
        assert denied.returncode == 1 and "HTTP 401" in denied.stderr, denied.stderr
        auth = tmp_path / "healthcheck-auth"
        auth.write_text(f"prometheus:{password}\n")
        env = {"TEAMPULSE_HEALTHCHECK_URL": url, "TEAMPULSE_HEALTHCHECK_AUTH_FILE": str(auth)}
        wait_until(lambda: healthcheck(env).returncode == 0, 60, "the health check to pass")
        verified = healthcheck(env | {"TEAMPULSE_HEALTHCHECK_CA_FILE": str(etc / "tls.crt")})
        assert verified.returncode == 0, verified.stderr
        wrong = tmp_path / "wrong-auth"
        wrong.write_text("prometheus:nope")
        assert healthcheck(env | {"TEAMPULSE_HEALTHCHECK_AUTH_FILE": str(wrong)}).returncode == 1

        # Prometheus with the TLS variant of deploy/prometheus.yml: the CA and the password beside
        # it, the shipped rules; only the target and the intervals are the test's.
        config = yaml.safe_load(tls_variant(PROMETHEUS.read_text()))
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        job = config["scrape_configs"][0]
        job.update(scrape_interval="1s", scrape_timeout="1s")
        job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
        config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{free_port()}"]}]
        folder = tmp_path / "prometheus"
        (folder / "teampulse").mkdir(parents=True)
        shutil.copy(etc / "tls.crt", folder / "teampulse" / "ca.crt")
        (folder / "teampulse" / "scrape-password").write_text(password + "\n")
        text = yaml.safe_dump(config)
        prometheus_layout(folder, text)
        prom_port = free_port()
        prometheus = start_prometheus(folder, prom_port, text)

        def scraped() -> bool:
            return [r["value"][1] for r in prometheus_query(prom_port, 'up{job="teampulse"}')] == ["1"]

        wait_until(scraped, 60, "Prometheus to scrape teampulse over TLS with basic auth")
        assert prometheus_query(prom_port, 'teampulse_build_info{job="teampulse"}')
        groups = {g["name"] for rule in RULES for g in yaml.safe_load(rule.read_text())["groups"]}

        def rules_evaluated() -> bool:
            loaded = prometheus_rules(prom_port)
            healthy = all(r["health"] == "ok" for g in loaded for r in g["rules"])
            return {g["name"] for g in loaded} == groups and healthy

        wait_until(rules_evaluated, 30, "the shipped rules to load and evaluate")

        # The documented backup, while serve runs.
        backups = tmp_path / "var" / "backups" / "teampulse"
        backups.mkdir(parents=True)
        assert BACKUP in DOC.read_text()
        backup = BACKUP.replace("/var/", f"{tmp_path}/var/")
        subprocess.run(backup, shell=True, check=True, capture_output=True)
        with sqlite3.connect(backups / "teampulse.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
        assert CONTAINER_BACKUP in DOC.read_text()
        python, *args = shlex.split(CONTAINER_BACKUP.replace("/var/lib/teampulse/", f"{state}/"))
        assert python == "python"  # the image's, first on PATH
        subprocess.run([sys.executable, *args], check=True)
        with sqlite3.connect(state / "backup.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

        # The stop signal of the image and the unit stops serve cleanly, with the exit status the
        # unit counts as success.
        serve.send_signal(signal.Signals[final_stage("STOPSIGNAL")[0]])
        try:
            code = serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack into the log
            serve.wait(timeout=10)
            raise AssertionError("serve did not stop: " + log.read_text()[-6000:]) from None
        assert code == int(unit_value("SuccessExitStatus")), log.read_text()[-2000:]
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=30)
        if serve.poll() is None:
            serve.kill()
        serve.wait(timeout=30)


# --- the documentation ---------------------------------------------------------------------------


def doc_commands() -> list[list[str]]:
    """Every `/opt/teampulse/bin/teampulse ...` command line in the shell blocks of docs/deployment.md."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for i, word in enumerate(words):
                if word.endswith("/bin/teampulse"):
                    commands.append(words[i:])
                    break
    return commands


def test_the_documented_teampulse_commands_exist() -> None:
    from teampulse.cli import main

    commands = doc_commands()
    # mixin: the rules Prometheus loads come from `teampulse mixin --out` (sections 5 and 8).
    assert {c[1] for c in commands} >= {"serve", "plugins", "check", "mixin"}, commands
    for command in commands:
        # Resolve the (sub)commands, then parse the rest with the real options: an unknown
        # command, flag or value fails here.
        ctx, group, args = click_context(), main, command[1:]
        while True:
            sub = group.get_command(ctx, args[0])
            assert sub is not None, f"docs/deployment.md: {shlex.join(command)}: no command {args[0]!r}"
            # A group run without a subcommand (`teampulse plugins`) parses as a command.
            if isinstance(sub, click.Group) and len(args) > 1 and not args[1].startswith("-"):
                group, args = sub, args[1:]
                continue
            with contextlib.suppress(click.exceptions.Exit):  # --help
                sub.make_context(args[0], args[1:], parent=ctx)
            break
    for name in (
        "Containerfile",
        "teampulse.service",
        "prometheus.yml",
        "alertmanager.yml",
        "teampulse.env.example",
    ):
        assert f"deploy/{name}" in DOC.read_text(), name
    for doc_link in re.findall(r"\]\(([^)#:]+)", DOC.read_text()):
        assert (DOC.parent / doc_link).exists(), doc_link
    assert "TEAMPULSE_PSEUDONYM_KEY" in DOC.read_text() and "keep the key stable" in DOC.read_text().lower()
