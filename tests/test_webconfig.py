"""--web-config parsed as strictly as Prometheus' exporter-toolkit, basic auth that leaks nothing."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest
from support import BASIC, KEY, self_signed_cert

from teampulse import webconfig
from teampulse.errors import ConfigError
from teampulse.webconfig import WebConfig, load_web_config

HASHED = bcrypt.hashpw(b"pa55word", bcrypt.gensalt(rounds=4)).decode()


def _header(user: bytes, password: bytes) -> str:
    return "Basic " + base64.b64encode(user + b":" + password).decode()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    return self_signed_cert(folder)


TLS = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Unknown keys are refused at every level, as yaml.UnmarshalStrict does.
        (TLS + "  cert_fiel: c.pem\n", "tls_server_config.cert_fiel: unknown key"),
        ("basic_auth_user:\n  prom: x\n", "basic_auth_user: unknown key"),
        (TLS + "  client_allowed_sans: [a]\n", "tls_server_config.client_allowed_sans: not supported"),
        ("rate_limit:\n  burst: 1\n", "rate_limit: not supported"),
        (TLS + "tls_server_config:\n  cert_file: c.pem\n", "tls_server_config: appears twice"),
        # client_auth_type values and the rules between them and the CA.
        (TLS + "  client_auth_type: Sometimes\n", "tls_server_config.client_auth_type: must be one of"),
        (TLS + "  client_auth_type: RequireAndVerifyClientCert\n",
         "tls_server_config.client_auth_type: RequireAndVerifyClientCert requires client_ca_file"),
        (TLS + "  client_ca_file: c.pem\n", "client_ca_file is set but client_auth_type does not ask"),
        (TLS + "  client_auth_type: RequireAnyClientCert\n", "client_auth_type: RequireAnyClientCert is not"),
        (TLS + "  min_version: TLS14\n", "tls_server_config.min_version: must be one of"),
        (TLS + "  min_version: TLS13\n  max_version: TLS12\n", "min_version is above max_version"),
        ("tls_server_config:\n  key_file: k.pem\n", "tls_server_config: needs cert_file"),
        # Wrongly typed values.
        ("tls_server_config: [1]\n", "tls_server_config: must be a mapping"),
        ("tls_server_config:\n  cert_file: 5\n  key_file: k.pem\n", "tls_server_config.cert_file: must be a string"),
        (TLS + "  prefer_server_cipher_suites: maybe\n", "prefer_server_cipher_suites: must be true or false"),
        ("basic_auth_users: [prom]\n", "basic_auth_users: must map user names to bcrypt hashes"),
        ("basic_auth_users:\n  7: x\n", "basic_auth_users: user names must be strings"),
        ("basic_auth_users:\n  'a:b': x\n", "basic_auth_users.a:b: a user name cannot contain ':'"),
        ("- 1\n", "must be a mapping"),
        # Hashes are validated at load, not at the first request.
        ("basic_auth_users:\n  prom: $2b$10$short\n", "basic_auth_users.prom: must be a bcrypt hash"),
        ("basic_auth_users:\n  prom: " + HASHED[:4] + "03" + HASHED[6:] + "\n", "basic_auth_users.prom: must be"),
        ("basic_auth_users:\n  prom: 12\n", "basic_auth_users.prom: must be a bcrypt hash"),
        # YAML that PyYAML turns into Python errors.
        ("basic_auth_users:\n  prom: 2026-13-45\n", "not valid YAML"),
        ("[" * 5000 + "]" * 5000, "nested deeper than 32 levels"),
        ("a: '" + "[" * 5000 + "'\n", "a: unknown key"),
        ("a: " + "x" * 70_000 + "\n", "is over 64 KiB"),
        ("a: &a [*a]\n", "unknown key"),
        (b"basic_auth_users:\n  prom: \xff\xfe\n", "not UTF-8"),
    ],
)  # fmt: skip
def test_bad_web_configs_raise_config_error(
    certs: Path, tmp_path: Path, text: str | bytes, message: str
) -> None:
    for name in ("c.pem", "k.pem"):
        (tmp_path / name).write_bytes((certs / name).read_bytes())
    path = tmp_path / "web.yml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as err:
        load_web_config(path)
    assert message in str(err.value)
    assert str(err.value).startswith(f"{path}: ")


def test_a_good_web_config_loads(certs: Path, tmp_path: Path) -> None:
    for name in ("c.pem", "k.pem"):
        (tmp_path / name).write_bytes((certs / name).read_bytes())
    path = tmp_path / "web.yml"
    path.write_text(
        TLS + "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: c.pem\n  min_version: TLS13\n"
        f"  prefer_server_cipher_suites: false\nbasic_auth_users:\n  prom: '{HASHED}'\n"
    )
    web = load_web_config(path)
    assert web.ssl_context is not None and set(web.users) == {"prom"}
    assert web.authorised(_header(b"prom", b"pa55word"))


def test_non_utf8_web_config_is_one_line_exit_2(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_bytes(b"basic_auth_users:\n  \xff: x\n")
    config = tmp_path / "teampulse.toml"
    config.write_text(BASIC)
    result = subprocess.run(
        [sys.executable, "-m", "teampulse.cli", "serve", "--config", str(config), "--web-config", str(web)],
        capture_output=True, text=True, env=dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {web}: ") or f"{web}: " in result.stderr
    assert "not UTF-8" in result.stderr and result.stderr.count("\n") == 1


def _web(tmp_path: Path, users: str = f"  prom: '{HASHED}'\n") -> WebConfig:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users:\n" + users)
    return load_web_config(path)


def test_a_password_over_72_bytes_is_refused_without_crashing(tmp_path: Path) -> None:
    web = _web(tmp_path)
    assert web.authorised(_header(b"prom", b"pa55word")) is True
    # bcrypt 4 raises ValueError past 72 bytes; Go's bcrypt returns an error: not authorised.
    assert web.authorised(_header(b"prom", b"pa55word" + b"x" * 80)) is False
    assert web.authorised(_header(b"prom", "ü".encode() * 40)) is False


@pytest.mark.parametrize(
    "header",
    ["Basic !!!", "Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "Bearer x", "", "Basic ", "basic"],
)
def test_malformed_authorization_headers_are_not_authorised(tmp_path: Path, header: str) -> None:
    assert _web(tmp_path).authorised(header) is False


def test_an_unknown_user_costs_a_bcrypt_comparison_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = _web(tmp_path)
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    assert web.authorised(_header(b"nobody", b"pa55word")) is False
    assert web.authorised(_header(b"prom", b"wrong")) is False
    # Both compared against a hash of the same cost: timing does not tell which user exists.
    assert len(calls) == 2 and calls[0][:7] == calls[1][:7]
    # A known password for an unknown user is still refused, even though the comparison ran.
    assert web.authorised(_header(b"nobody", b"pa55word")) is False


def test_the_verdict_cache_is_bounded_and_holds_no_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = _web(tmp_path)
    monkeypatch.setattr(bcrypt, "checkpw", lambda password, hashed: password == b"pa55word")
    for n in range(3 * webconfig.CACHE_SIZE):
        assert web.authorised(_header(b"prom", f"guess-{n}".encode())) is False
    assert web.authorised(_header(b"prom", b"pa55word")) is True
    cache = web.verdicts
    assert 0 < len(cache) <= webconfig.CACHE_SIZE
    dump = repr(cache).encode() + b"".join(k for k in cache if isinstance(k, bytes))
    assert b"guess-" not in dump and b"pa55word" not in dump and b"prom" not in dump


def test_the_web_config_reloads_when_its_file_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [1000.0]
    web = _web(tmp_path)
    web.clock = lambda: clock[0]
    web.refresh()
    path = tmp_path / "web.yml"
    other = bcrypt.hashpw(b"n3w", bcrypt.gensalt(rounds=4)).decode()
    path.write_text(f"basic_auth_users:\n  grafana: '{other}'\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    # Not checked again before the interval is up.
    assert web.authorised(_header(b"prom", b"pa55word")) is True
    clock[0] += webconfig.RELOAD_CHECK
    assert web.authorised(_header(b"grafana", b"n3w")) is True
    assert web.authorised(_header(b"prom", b"pa55word")) is False

    # An invalid file: the previous config stays, said in one log line, once.
    path.write_text("basic_auth_users:\n  grafana: plaintext\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
    caplog.set_level(logging.INFO, logger="teampulse")
    caplog.clear()
    for _ in range(3):
        clock[0] += webconfig.RELOAD_CHECK
        assert web.authorised(_header(b"grafana", b"n3w")) is True
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "keeping the previous one" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()


def test_a_reload_cannot_turn_tls_on(tmp_path: Path, certs: Path) -> None:
    for name in ("c.pem", "k.pem"):
        (tmp_path / name).write_bytes((certs / name).read_bytes())
    clock = [0.0]
    web = _web(tmp_path)
    web.clock = lambda: clock[0]
    web.refresh()
    path = tmp_path / "web.yml"
    path.write_text(TLS)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    clock[0] += webconfig.RELOAD_CHECK
    web.refresh()
    assert web.ssl_context is None and set(web.users) == {"prom"}
