"""Fuzzing `teampulse serve` (webhooks, the actions API) and --web-config with hypothesis.

Fast form (in `make test`): a fixed, derandomised set of examples per target, a few seconds.
Long form (`make fuzz`): TEAMPULSE_FUZZ_EXAMPLES=N examples per target, with `-s` to see
"fuzz TARGET: tried N, survived N, failures N" for each.

Every request must get an HTTP reply (no dropped connection) with an expected status (4xx for
bad input, never 5xx), nothing on stderr looks like a traceback, and every web config either
loads or raises ConfigError.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from support import FUZZ_EXAMPLES, Tally, fuzz_settings, self_signed_cert
from test_serve_hardening import SECRET, TOKEN, Served, serving, status_of  # noqa: F401 - a fixture

from teampulse.errors import ConfigError
from teampulse.model import ACTION_KINDS
from teampulse.webconfig import load_web_config

EXAMPLES = FUZZ_EXAMPLES


# --- inputs -------------------------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=300, max_value=400).map(lambda n: 10**n)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-5)), timezone(timedelta(0))]
)
TIMES = (
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59), timezones=ZONES).map(
        lambda d: d.isoformat()
    )
    | st.dates().map(lambda d: d.isoformat())
    | st.sampled_from(["9999-12-31", "0001-01-01", "2026-03-10T09:00:00Z", "2026-02-30", "now", ""])
    | st.text(max_size=30)
)
DEEP = st.integers(min_value=1, max_value=20_000).map(lambda n: b"[" * n + b"]" * n)
LENGTHS = st.sampled_from(["abc", "-1", "1e3", "", " 7", "99999999999999999999", "0x10", "0", "١٢"])


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | JSON


ACTIONS = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "team": _maybe(st.just("payments")),
            "kind": _maybe(st.sampled_from(ACTION_KINDS)),
            "at": _maybe(TIMES),
            "note": _maybe(st.text(max_size=50)),
        },
    ).map(lambda d: json.dumps(d).encode()),
    JSON.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200),
    DEEP,
)
RESPONSE = st.fixed_dictionaries(
    {},
    optional={
        "id": _maybe(st.text(min_size=1, max_size=10)),
        "team": _maybe(st.just("payments")),
        "submitted_at": _maybe(TIMES),
        "answers": _maybe(st.dictionaries(st.sampled_from(["q_support", "other"]), JSON, max_size=2)),
    },
)
WEBHOOKS = st.one_of(
    RESPONSE.map(lambda d: json.dumps(d).encode()),
    st.lists(RESPONSE, max_size=3).map(lambda d: json.dumps(d).encode()),
    JSON.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200),
    DEEP,
)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


def _request(path: str, body: bytes, headers: dict[str, str], length: str | None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost"]
    lines.append(f"Content-Length: {length if length is not None else len(body)}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


# --- the server ---------------------------------------------------------------------------------


def test_fuzz_actions(serving: Callable[..., Served], capfd: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    served = serving()
    tally = Tally("actions")

    examples: list[tuple[bytes, str | None, str]] = []

    @fuzz_settings(150)
    @given(body=ACTIONS, length=st.none() | LENGTHS, token=st.sampled_from([TOKEN, "wrong", ""]))
    def draw(body: bytes, length: str | None, token: str) -> None:
        examples.append((body, length, token))

    # Drawn first, sent after: with the requests inside hypothesis's loop, its engine sometimes
    # spun for ever in generate_new_test_cases (the server idle, no request open).
    draw()
    for body, length, token in examples:
        status, reply = status_of(
            served.raw(_request("/api/v1/actions", body, {"Authorization": f"Bearer {token}"}, length))
        )
        tally.check(
            status in (201, 400, 401, 411, 413),
            f"{status} for {body[:100]!r} length={length}: {reply[:200]!r}",
        )
    stderr = capfd.readouterr().err
    with capfd.disabled():
        tally.report()
    assert not tally.failures, tally.failures[:5]
    assert "Traceback" not in stderr


def test_fuzz_webhooks(serving: Callable[..., Served], capfd: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    served = serving()
    tally = Tally("webhooks")

    @fuzz_settings(150)
    @given(
        body=WEBHOOKS,
        signed=st.booleans(),
        length=st.none() | LENGTHS,
        extra=st.dictionaries(
            st.sampled_from(["X-Teampulse-Timestamp", "X-Teampulse-Signature", "Content-Type", "X-Other"]),
            HEADER_TEXT,
            max_size=2,
        ),
    )
    def draw(body: bytes, signed: bool, length: str | None, extra: dict[str, str]) -> None:
        examples.append((body, signed, length, extra))

    examples: list[tuple[bytes, bool, str | None, dict[str, str]]] = []
    draw()  # drawn first, sent after, as in test_fuzz_actions
    for body, signed, length, extra in examples:
        headers = dict(extra)
        if signed:
            headers.pop("X-Teampulse-Timestamp", None)
            headers["X-Teampulse-Signature"] = (
                "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            )
        status, reply = status_of(served.raw(_request("/api/v1/webhooks/hook", body, headers, length)))
        tally.check(
            status in (202, 400, 401, 411, 413), f"{status} for {body[:100]!r} {headers}: {reply[:200]!r}"
        )
    stderr = capfd.readouterr().err
    with capfd.disabled():
        tally.report()
    assert not tally.failures, tally.failures[:5]
    assert "Traceback" not in stderr


# --- web config ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz-web")
    return self_signed_cert(folder)


HASHES = [bcrypt.hashpw(b"pa55word", bcrypt.gensalt(rounds=4)).decode()]
TLS_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "cert_file": st.sampled_from(["c.pem", "k.pem", "missing.pem", ""]),
    "key_file": st.sampled_from(["k.pem", "c.pem", "missing.pem"]),
    "client_auth_type": st.sampled_from(
        [
            "NoClientCert",
            "RequestClientCert",
            "RequireAnyClientCert",
            "VerifyClientCertIfGiven",
            "RequireAndVerifyClientCert",
            "Other",
            "",
        ]
    ),
    "client_ca_file": st.sampled_from(["c.pem", "missing.pem"]),
    "client_ca": st.text(max_size=20),
    "min_version": st.sampled_from(["TLS10", "TLS11", "TLS12", "TLS13", "TLS14"]),
    "max_version": st.sampled_from(["TLS12", "TLS13", "SSL3"]),
    "prefer_server_cipher_suites": st.booleans(),
    "cipher_suites": st.just(["TLS_AES_128_GCM_SHA256"]),
    "client_allowed_sans": st.just(["a"]),
    "cert": st.text(max_size=10),
    "unknown": st.text(max_size=5),
}
TLS_TABLE = st.dictionaries(st.sampled_from(sorted(TLS_VALUES)), st.just(None), max_size=6).flatmap(
    lambda keys: st.fixed_dictionaries({k: _maybe(TLS_VALUES[k]) for k in keys})
)
USERS = st.dictionaries(
    st.text(max_size=8) | st.integers() | st.booleans() | st.none(),
    st.sampled_from(HASHES)
    | st.from_regex(r"\A\$2[abxyz]\$\d\d\$[./A-Za-z0-9]{50,54}\Z")
    | st.text(max_size=10)
    | JSON,
    max_size=3,
)
DOCUMENTS = st.fixed_dictionaries(
    {},
    optional={
        "tls_server_config": TLS_TABLE | JSON,
        "basic_auth_users": USERS | JSON,
        "http_server_config": JSON,
        "rate_limit": JSON,
        "other": JSON,
    },
)
YAML_TEXT = st.one_of(
    DOCUMENTS.map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode()),
    JSON.map(lambda d: yaml.safe_dump(d).encode()),
    st.text(max_size=200).map(str.encode),
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=3_000).map(lambda n: b"a: " + b"[" * n + b"]" * n),
    st.sampled_from([b"a: 2026-13-45\n", b"x: &a [*a, *a]\n", b"basic_auth_users:\n  a: 1\n  a: 2\n"]),
)


def test_fuzz_web_config(pems: Path, tmp_path: Path) -> None:
    for name in ("c.pem", "k.pem"):
        (tmp_path / name).write_bytes((pems / name).read_bytes())
    path = tmp_path / "web.yml"
    tally = Tally("web-config")

    @fuzz_settings(300)
    @given(text=YAML_TEXT, header=HEADER_TEXT)
    def run(text: bytes, header: str) -> None:
        path.write_bytes(text)
        try:
            web = load_web_config(path)
            # Only cheap hashes are compared (a cost of 31 would take hours, by the admin's choice).
            if all(h[4:6] == b"04" for h in web.users.values()):
                web.authorised(header)
                web.authorised("Basic " + header)
        except ConfigError:
            tally.check(True, "")
        except Exception as exc:  # what the fuzzing looks for
            tally.check(False, f"{type(exc).__name__}: {exc} for {text[:150]!r}")
        else:
            tally.check(True, "")

    run()
    tally.report()
    assert not tally.failures, tally.failures[:5]
