"""Fuzzing teampulse.toml with hypothesis, through the path a user's command takes.

Fast form (in `make test`): a fixed, derandomised set of examples per target, a few seconds.
Long form (`make fuzz`): TEAMPULSE_FUZZ_EXAMPLES=N examples per target, with `-s` to see
"fuzz TARGET: tried N, survived N, failures N" for each.

Each config file is loaded, then its sources and notifiers are built, as Runtime.open does
(without the store). That either succeeds or raises a TeampulseError of one line naming the
file and the key, which a command prints and exits 2 with; any other exception is a failure.
Two targets: "config" mutates a rich valid config (every first-party source and notifier kind
with its documented keys) value by value and writes it back as TOML; "config-text" corrupts
the text itself (cut short, stray bytes, a table header twice, nesting past any sense).
Building must not touch the network: name lookups and connections are refused and counted.
"""

from __future__ import annotations

import copy
import math
import re
import socket
import tomllib
import traceback
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import FUZZ_EXAMPLES, Tally, calendar_workdir, fuzz_settings, self_signed_cert

from teampulse import config as config_mod
from teampulse.collect import build_notifiers, build_sources
from teampulse.errors import ConfigError, TeampulseError
from teampulse.plugins import load_registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = FUZZ_EXAMPLES


# --- the config every mutation starts from ------------------------------------------------------

# Every first-party kind with every documented key, per-team source tables too (bearer_token_env
# excludes username and password_env, so it comes in through the mutations that add keys).
RICH = """
[settings]
state = "state.db"
timezone = "Europe/Berlin"
working_hours = "09:00-17:00"
min_group_size = 5
interval = "15m"
retention = "400d"
survey_window = "28d"
dashboards_url = "https://grafana.example.com"

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"]
jql = "project = PAY"
timezone = "America/New_York"
working_hours = "08:30-16:30"

[[teams]]
name = "platform"
manager = "maria@example.com"
members = ["femi@example.com", "gus@example.com"]
jql = "project = PLAT ORDER BY updated DESC"
[teams.sources.jira]
jql = "project = PLAT AND component = core"
[teams.sources.calendars]
timezone = "Asia/Kolkata"

[sources.jira]
plugin = "jira"
url = "https://example.atlassian.net"
email = "teampulse-bot@example.com"
token_env = "JIRA_TOKEN"
deployment = "auto"
page_size = 100
overlap_seconds = 600
history_days = 90
max_retries = 5
max_retry_wait_seconds = 300
timeout_seconds = 20
cycle_budget_seconds = 60
reconcile_hours = 24

[sources.calendars]
plugin = "ics"
paths = ["calendars/*.ics"]
days_back = 35
days_ahead = 14
max_instances = 3500
max_bytes = 10485760
max_seconds = 10
timeout_seconds = 30
timezone = "W. Europe Standard Time"
one_on_one_words = ["1:1", "one on one"]
check_in_words = ["check-in"]
time_off_words = ["vacation", "ooo"]
[sources.calendars.urls]
"bob@example.com" = "BOB_ICAL_URL"

[sources.team-caldav]
plugin = "caldav"
url = "https://cal.example.com/dav/"
username = "teampulse"
password_env = "CALDAV_PASSWORD"
days_back = 35.5
timezone = "Europe/Berlin"
[sources.team-caldav.calendars]
"chen@example.com" = "/chen/calendar/"

[sources.pulse]
plugin = "survey-csv"
paths = ["surveys/*.csv"]
scale = [1, 5]
invert = ["workload"]
timezone = "Europe/Berlin"
time_format = ["%d.%m.%Y %H:%M"]
submitted_at_column = "Timestamp"
team_column = "team"
team = "payments"
id_column = "#"
encoding = "cp1252"
delimiter = ";"
max_bytes = 52428800
[sources.pulse.questions]
q_support = "support"
"How is your workload?" = "workload"

[sources.pulse-hook]
plugin = "survey-webhook"
secret_env = "SURVEY_SECRET"
require_timestamp = true
scale = [0, 10.5]
timezone = "UTC"
time_format = "%Y-%m-%d %H:%M"
[sources.pulse-hook.questions]
support = "support"

[notifiers.am]
plugin = "alertmanager"
url = "https://alertmanager.example.com:9093/prefix"
generator_url = "https://teampulse.example.com/"
runbook_base = "https://wiki.example.com/runbook#top"
dashboard_url = "https://grafana.example.com/d/t?var-team={team}"
resend_seconds = 60
ends_after_seconds = 3600
timeout_seconds = 10
max_retries = 2
retry_backoff_seconds = 1
username = "teampulse"
password_env = "AM_PASSWORD"
ca_file = "ca.pem"
[notifiers.am.labels]
origin = "teampulse"
env = "prod"

[notifiers.hook]
plugin = "webhook"
url = "https://hooks.example.com/teampulse?token=abc"
secret_env = "HOOK_SECRET"
repeat_seconds = 14400
timeout_seconds = 10
max_retries = 2
retry_backoff_seconds = 1
ca_file = "ca.pem"

[pressure]
saturation = 2.0
reference = "28d"
[pressure.weights]
wip_per_person = 0.3
overdue_share = 0.2
[pressure.limits]
wip_per_person = 3
[pressure.floors]
overdue_share = 0.05

[alerts]
rise = 0.2
high = 0.6
grace = "2d"
min_actions = 1
source_down_after = "1h"
"""
BASE: dict[str, Any] = tomllib.loads(RICH)
KINDS = {
    "jira": "jira",
    "calendars": "ics",
    "team-caldav": "caldav",
    "pulse": "survey-csv",
    "pulse-hook": "survey-webhook",
    "am": "alertmanager",
    "hook": "webhook",
}
ENV = {
    "JIRA_TOKEN": "jira-token",
    "CALDAV_PASSWORD": "caldav-password",
    "SURVEY_SECRET": "survey-secret",
    "AM_PASSWORD": "am-password",
    "AM_TOKEN": "am-token",
    "HOOK_SECRET": "hook-secret",
    "BOB_ICAL_URL": "https://cal.example.com/bob.ics?token=x",
    "FTP_ICAL_URL": "ftp://cal.example.com/bob.ics",
    "BRACKET_ICAL_URL": "https://[::1/bob.ics",
    "PORT_ICAL_URL": "https://cal.example.com:99999/bob.ics",
    "EMPTY_TP_FUZZ": "",
}
UNSET = "UNSET_TP_FUZZ"


# --- a small TOML writer (tomli_w is not a dependency) ------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if _BARE.fullmatch(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _is_array_of_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _write_table(lines: list[str], path: tuple[str, ...], table: dict[str, Any], header: str) -> None:
    if header:
        lines.append(header)
    for k, v in table.items():  # plain keys first: after a header they would land in its table
        if not isinstance(v, dict) and not _is_array_of_tables(v):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in table.items():
        dotted = ".".join(_key(p) for p in (*path, k))
        if isinstance(v, dict):
            _write_table(lines, (*path, k), v, f"[{dotted}]")
        elif _is_array_of_tables(v):
            for item in v:
                _write_table(lines, (*path, k), item, f"[[{dotted}]]")


def dumps(doc: dict[str, Any]) -> str:
    """Write a document as TOML: tables as [headers], arrays of tables as [[headers]]."""
    lines: list[str] = []
    _write_table(lines, (), doc, "")
    return "\n".join(lines) + "\n"


def _canon(value: Any) -> Any:
    """Return a value comparable with ==, nan included (for the writer's own check)."""
    if isinstance(value, float) and math.isnan(value):
        return "<nan>"
    if isinstance(value, list):
        return [_canon(v) for v in value]
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items()}
    return value


# --- inputs -------------------------------------------------------------------------------------

# Edge values by what a key holds; a replaced value is one of these for its key or anything.
EDGE: dict[str, list[Any]] = {
    "text": [
        "", " ", "x" * 10_000, "ü", "日本語", "\u202e", "😀", "a\nb", "a\rb", "\x00", "\t", "\ufeff", "[", "*",
        "\\", '"', "{", "%", "{team}", "__x", "project = PAY ORDER BY x",
    ],
    "path": [
        "", "~", "~/x.db", "~nosuchuser_tp/x.db", "../../x", "/", ".", "/nonexistent/x.db", "a" * 300 + "/x.db",
        "b" * 300, "a\x00b", "a\nb/x.db", "calendars", "calendars/maria@example.com.ics", "ca.pem", "notpem.txt",
        "missing.pem", "teampulse.toml", "state.db", "surveys/**/*.csv", "[", "**/[!", "/dev/null", "/proc/self",
    ],
    "url": [
        "https://h.example.com", "http://[::1", "https://[::1]:8080/", "http://h.example.com:99999/",
        "https://h.example.com:0/", "https://h.example.com:-1/", "https://h.example.com:x/", "http://h:1:2/",
        "http://user:pw@h.example.com/", "http://user@h.example.com/", "webcal://h.example.com/x.ics",
        "ftp://h.example.com/", "http://", "https://", "https://exa mple.com", "http://h.example.com/#frag",
        "http://h.example.com/?q=1", "mailto:a@b.co", "https://h.example.com/" + "p" * 5000, "HTTP://H.EXAMPLE.COM",
        "https://ü.example.com/", "https://h.example.com\n/", "https://h.example.com/{team}/{source}/{x}",
        "http://[fe80::1%25eth0]:8080/", "https://h.example.com/%zz",
    ],
    "zone": [
        "", "UTC", "Z", "utc", "Mars/Olympus", "Europe", "Europe/", "../etc/passwd", "/etc/localtime",
        "Europe/Berlin", "W. Europe Standard Time", "/mozilla.org/20050126_1/Europe/Berlin", "EST", "Etc/GMT+25",
        "a/" + "b" * 300, "c" * 300, "Europe/Berlin\x00", "Europe\\Berlin", "Europe//Berlin", " Europe/Berlin",
        "zoneinfo/Europe/Berlin", "posixrules", "right/UTC", "\"Europe/Berlin\"", "Factory", "America/Argentina",
        "Europe/" + "x" * 300,
    ],
    "duration": [
        "", "15x", "-5m", "0s", "1e3d", "9" * 400 + "d", "9" * 20 + "d", "99999999999999999999w", "1.5h",
        "15m", "2d", "90d", "0.0000001ms", "100000000w", " 5 m ", "5", "m", "1.d", ".5d", "٥d", "1_000s",
    ],
    "hours": [
        "", "09:00-17:00", "25:00-26:00", "17:00-09:00", "9-5", "00:00-24:00", "00:00-24:59", "99:99-99:99",
        "08:00-08:00", "٠٩:٠٠-١٧:٠٠", "9:00 - 17:00", "09:00-17:00-18:00", "-1:00-17:00",
    ],
    "email": [
        "", "a@b.co", "not-an-email", "A@B.CO", " a@b.co", "a@b.co ", "bob@example.com", "maria@example.com",
        "femi@example.com", "a@b@c.co", "ü@ü.de", "a/b@c.co", "a@b.co\n",
    ],
    "env": [*ENV, UNSET, "", "PATH", "A=B", "A\x00B", "ü", "x" * 10_000],
    "kind": ["jira", "ics", "caldav", "survey-csv", "survey-webhook", "alertmanager", "webhook", "nope", "", "JIRA"],
    "name": ["", "payments", "Payments ", "platform", "x" * 64, "-x", "ü", "a\nb", "pay ments"],
    "encoding": ["", "rot13", "hex", "base64", "idna", "utf-16", "utf-8", "bogus-enc", "\x00", "UTF8", "mbcs", "zip"],
    "delimiter": ["", ";", '"', "\n", "\r", ",,", " ", "\x00", "é", "\\"],
    "format": ["", "%Y-%m-%d", "%", "%Q", "%Y-%m-%d %", "%-d", "%s", "%z", "%f%f%f", "x" * 1000],
    "dimension": ["", "support", "Support!", "workload", "a" * 40, "a" * 41, "_x", "1x", "ü"],
    "label": ["", "origin", "alertname", "team", "source", "severity", "__x", "1x", "a-b", "ü", "a\nb"],
    "number": [
        0, -1, 1, 2, 24, 1023, 1024, 5000, 5001, 65536, 2**31, 2**63 - 1, 2**63, -(2**63), 10**20, 10**400,
        -(10**400), math.nan, math.inf, -math.inf, -0.0, 0.0, 0.001, 0.099, 0.5, 1.01, 1.5, 5e-324, 1e16, 1e300,
        1.7976931348623157e308, -1e300, True, False,
    ],
}  # fmt: skip
KEY_KINDS = {
    "url": "url", "generator_url": "url", "runbook_base": "url", "dashboard_url": "url", "dashboards_url": "url",
    "state": "path", "ca_file": "path", "paths": "path", "calendars": "path",
    "timezone": "zone",
    "interval": "duration", "retention": "duration", "survey_window": "duration", "reference": "duration",
    "grace": "duration", "source_down_after": "duration",
    "working_hours": "hours",
    "manager": "email", "members": "email", "email": "email",
    "token_env": "env", "password_env": "env", "secret_env": "env", "bearer_token_env": "env", "urls": "env",
    "plugin": "kind", "name": "name", "team": "name", "encoding": "encoding", "delimiter": "delimiter",
    "time_format": "format", "questions": "dimension", "invert": "dimension", "labels": "label",
    "deployment": "text", "username": "text", "jql": "text",
}  # fmt: skip
KNOWN_KEYS = sorted(
    {
        *BASE,
        *BASE["settings"],
        *BASE["teams"][0],
        *BASE["teams"][1],
        *BASE["pressure"],
        *BASE["pressure"]["weights"],
        *BASE["alerts"],
        *(k for table in BASE["sources"].values() for k in table),
        *(k for table in BASE["notifiers"].values() for k in table),
        "bearer_token_env",
        "capacity_on_leave",
        "urls",
        "calendars",
    }
)
KEYS = st.sampled_from(
    [*KNOWN_KEYS, *EDGE["label"], *EDGE["email"], "unknown", "Plugin", "a b", "a.b", "ü"]
) | st.text(max_size=10)
STRINGS = (
    st.sampled_from([v for kind, values in EDGE.items() if kind != "number" for v in values])
    | st.text(max_size=30)
    | st.builds(
        lambda scheme, port: f"{scheme}://h.example.com:{port}/",
        st.sampled_from(["http", "https", "webcal"]),
        st.integers(-5, 10**6) | st.just(2**64),
    )
)
INTS = (
    st.integers(min_value=19, max_value=400).map(lambda n: 10**n)
    | st.integers(min_value=19, max_value=400).map(lambda n: -(10**n))
    | st.integers()
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
ZONES = st.sampled_from(
    [
        None,
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-12)),
        timezone(timedelta(hours=14)),
    ]
)
MOMENTS = (
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=ZONES)
    | st.dates()
    | st.times()
    | st.sampled_from(
        [
            date(1, 1, 1),
            date(9999, 12, 31),
            datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
            datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-12))),
            time(0, 0),
            time(23, 59, 59, 999999),
        ]
    )
)
SCALARS = st.booleans() | st.sampled_from(EDGE["number"]) | INTS | FLOATS | STRINGS | MOMENTS
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=6,
)

Path_ = tuple[str | int, ...]


def _nodes(node: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Yield the path of every value below `node` (not `node` itself)."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in children:
        yield (*path, k)
        yield from _nodes(v, (*path, k))


def _at(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _kind(path: Path_, old: Any) -> str:
    """What the value at `path` holds: its key's kind, its table's (members, urls ...), or a number."""
    for part in reversed(path):
        if isinstance(part, str) and part in KEY_KINDS:
            return KEY_KINDS[part]
    if isinstance(old, int | float):
        return "number"
    return "text"


def _edge(draw: st.DrawFn, path: Path_, old: Any) -> Any:
    """An edge value for the key at `path` (two times in three), or any value at all."""
    if draw(st.integers(0, 2)) == 0:
        return draw(VALUES)
    kind = _kind(path, old)
    value = draw(st.sampled_from(EDGE[kind]))
    if isinstance(old, list) and draw(st.booleans()):  # a list holding it, as the key wants
        return [value]
    return value


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """The rich config with one to three values replaced, keys renamed, deleted or added."""
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_nodes(doc))
        op = draw(st.sampled_from(["replace", "replace", "replace", "replace", "delete", "rename", "add"]))
        if op == "add" or not paths:
            containers = [(), *(p for p in paths if isinstance(_at(doc, p), dict | list))]
            where = draw(st.sampled_from(containers))
            target = _at(doc, where)
            if isinstance(target, dict):
                key = draw(KEYS)
                target[key] = _edge(draw, (*where, key), None)
            else:
                target.append(_edge(draw, (*where, len(target)), target[0] if target else None))
            continue
        path = draw(st.sampled_from(paths))
        parent = _at(doc, path[:-1])
        if op == "delete":
            del parent[path[-1]]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(KEYS)] = parent.pop(path[-1])
        else:
            parent[path[-1]] = _edge(draw, path, parent[path[-1]])
    return doc


def _cut(data: bytes, at: int) -> tuple[bytes, bytes]:
    return data[:at], data[at:]


@st.composite
def texts(draw: st.DrawFn) -> bytes:
    """A config's bytes, corrupted one to three times: cut, salted, headers twice, nested deep."""
    data = draw(st.just(RICH) | documents().map(dumps)).encode("utf-8")
    for _ in range(draw(st.integers(1, 3))):
        lines = data.split(b"\n")
        mode = draw(st.integers(0, 6))
        if mode == 0:  # cut short, as a failed copy leaves it
            data = data[: draw(st.integers(0, len(data)))]
        elif mode == 1:  # stray bytes, not necessarily UTF-8
            head, tail = _cut(data, draw(st.integers(0, len(data))))
            data = head + draw(st.binary(min_size=1, max_size=20)) + tail
        elif mode == 2:  # a table header twice
            headers = [line for line in lines if line.startswith(b"[")] or [b"[settings]"]
            lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(headers)))
            data = b"\n".join(lines)
        elif mode == 3:  # a line lost, or a line (a key) twice
            at = draw(st.integers(0, len(lines) - 1))
            if draw(st.booleans()):
                del lines[at]
            else:
                lines.insert(draw(st.integers(0, len(lines))), lines[at])
            data = b"\n".join(lines)
        elif mode == 4:  # TOML's own punctuation where it does not belong
            head, tail = _cut(data, draw(st.integers(0, len(data))))
            piece = draw(
                st.sampled_from(
                    [b'"""', b"'''", b"\\", b"[[", b"]]", b"=", b"\r", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf",
                     b"\xed\xa0\x80", b"\xc0\xaf", b"#", b"{", b"}", b",", b".", b"\t", b'\\u00', b'\\UFFFFFFFF']
                )
            )  # fmt: skip
            data = head + piece + tail
        elif mode == 5:  # the text starts with a byte order mark, or is not UTF-8 at all
            data = draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b""])) + (
                data.decode("utf-8", "replace").encode("utf-16") if draw(st.booleans()) else data
            )
        else:  # nested past any sense: arrays, inline tables, dotted keys
            n = draw(st.integers(min_value=1, max_value=20_000))
            m = min(n, 1000)  # tomllib takes time quadratic in a dotted key's parts (5 s at 10,000)
            deep = draw(
                st.sampled_from(
                    [
                        b"x = " + b"[" * n + b"]" * n,
                        b"x = " + b"{a = " * n + b"1" + b"}" * n,
                        b".".join([b"a"] * m) + b" = 1",
                        b"[" + b".".join([b"t"] * m) + b"]",
                        b"[[" + b".".join([b"t"] * m) + b"]]",
                    ]
                )
            )
            lines.insert(draw(st.integers(0, len(lines))), deep)
            data = b"\n".join(lines)
    return data


# --- the path of a user's command ---------------------------------------------------------------


class NetworkTouched(Exception):
    """Building a source or notifier reached for the network."""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with calendars, a CA bundle, a file that is not one, and the environment."""
    folder = calendar_workdir(tmp_path)
    self_signed_cert(folder)
    (folder / "ca.pem").write_bytes((folder / "c.pem").read_bytes())
    (folder / "notpem.txt").write_text("not a certificate\n")
    (folder / "surveys").mkdir()
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(UNSET, raising=False)
    monkeypatch.delenv("TEAMPULSE_PLUGINS", raising=False)
    return folder


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse and record every connection and name lookup; getfqdn answers without one."""
    touched: list[str] = []

    def refuse(what: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            touched.append(f"{what}{args[:2]!r}")
            raise NetworkTouched(what)

        return call

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        monkeypatch.setattr(socket, name, refuse(name))
    # alertmanager's default generator_url names this host's FQDN, a resolver look-up at build time.
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "teampulse-fuzz.invalid")
    return touched


def _open(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """What Runtime.open does before it opens the store: config, plugins, sources, notifiers."""
    cfg = config_mod.load(str(path))
    registry = load_registry()
    return build_sources(cfg, registry), build_notifiers(cfg, registry)


def _where(exc: BaseException) -> str:
    """Return file:line of the last frame in the project's own code the exception passed through."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(ROOT)) and "/.venv/" not in f.filename]
    last = (ours or frames)[-1]
    return f"{last.filename.removeprefix(str(ROOT) + '/')}:{last.lineno}"


def _one_line(text: str) -> str:
    """Return `text` with each line break escaped, as a message shows a key that holds one."""
    return "".join(repr(ch)[1:-1] if ch.splitlines() != [ch] else ch for ch in text)


def _verdict(path: Path, touched: list[str]) -> tuple[bool, str]:
    """Open the config at `path`; return (as a command would end well, what happened)."""
    before = len(touched)
    try:
        _open(path)
    except TeampulseError as exc:
        message = str(exc)
        if message.splitlines() != [message]:  # no line break of any kind
            return False, f"{type(exc).__name__} not on one line: {message[:200]!r}"
        if not message.startswith(f"{path}: "):
            return False, f"{type(exc).__name__} does not name the file: {message[:200]!r}"
        if isinstance(exc, ConfigError) and not message.startswith(f"{path}: {_one_line(exc.key)}: "):
            return False, f"ConfigError does not name its key {exc.key!r}: {message[:200]!r}"
        ok, what = True, "refused"
    except Exception as exc:  # what the fuzzing looks for
        return False, f"{type(exc).__name__} at {_where(exc)}: {str(exc)[:200]}"
    else:
        ok, what = True, "built"
    if len(touched) > before:
        return False, f"touched the network: {touched[before:][:3]}"
    return ok, what


def test_rich_config_builds_every_first_party_kind(workdir: Path, network: list[str]) -> None:
    path = workdir / "teampulse.toml"
    path.write_text(dumps(BASE))
    assert tomllib.loads(path.read_text()) == BASE
    sources, notifiers = _open(path)
    built = {**sources, **notifiers}
    assert {name: type(obj).__module__.split(".")[0] for name, obj in built.items()} == {
        "jira": "teampulse_jira",
        "calendars": "teampulse_calendar",
        "team-caldav": "teampulse_calendar",
        "pulse": "teampulse_survey",
        "pulse-hook": "teampulse_survey",
        "am": "teampulse_notifiers",
        "hook": "teampulse_notifiers",
    }
    assert {name: t["plugin"] for name, t in (BASE["sources"] | BASE["notifiers"]).items()} == KINDS
    assert network == []


def test_fuzz_config(workdir: Path, network: list[str]) -> None:
    path = workdir / "teampulse.toml"
    tally = Tally("config")

    @fuzz_settings(250)
    @given(doc=documents())
    def run(doc: dict[str, Any]) -> None:
        text = dumps(doc)
        try:  # the writer's own check: what it wrote reads back as the document
            written = tomllib.loads(text) == doc or _canon(tomllib.loads(text)) == _canon(doc)
        except tomllib.TOMLDecodeError as exc:
            written = False
            text = f"{exc}: {text}"
        if not written:
            tally.check(False, f"the test's TOML writer is wrong for {text[:250]!r}")
            return
        path.write_text(text, encoding="utf-8")
        ok, what = _verdict(path, network)
        tally.built += what == "built"
        tally.check(ok, f"{what} for {text[:250]!r}")

    run()
    tally.report()
    assert not tally.failures, tally.failures[:5]
    assert tally.built > 0  # the mutations leave some configs valid: building them is fuzzed too


def test_fuzz_config_text(workdir: Path, network: list[str]) -> None:
    path = workdir / "teampulse.toml"
    tally = Tally("config-text")

    @fuzz_settings(150)
    @given(data=texts())
    def run(data: bytes) -> None:
        path.write_bytes(data)
        ok, what = _verdict(path, network)
        tally.check(ok, f"{what} for {data[:250]!r}")

    run()
    tally.report()
    assert not tally.failures, tally.failures[:5]
