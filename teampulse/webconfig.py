"""`--web-config`: TLS and basic auth in the format of Prometheus' exporter-toolkit.

Parsed as strictly as exporter-toolkit's yaml.UnmarshalStrict: unknown or repeated keys are
refused at every level, values must have their type, bcrypt hashes are checked at load. What
exporter-toolkit knows but Python's ssl cannot do the same way (inline keys, Go cipher suite
names, client_allowed_sans, a client certificate requested but not verified) is refused by name
rather than ignored. The file is read again when it changes, without a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import secrets
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

log = logging.getLogger("teampulse.serve")

# Verdicts remembered (as keyed digests, never passwords), as exporter-toolkit's cache (100).
CACHE_SIZE = 100
# The file is looked at again at most this often (seconds), on a request or a connection.
RELOAD_CHECK = 5.0
# bcrypt reads at most 72 bytes; Go's bcrypt refuses longer passwords, and so does bcrypt 4.
MAX_PASSWORD = 72
# A web config is a few lines: bounds that keep PyYAML (quadratic in flow nesting) quick.
MAX_FILE = 64 * 1024
MAX_DEPTH = 32
_QUOTED_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\']|\'\')*\'|#[^\n]*')

TOP_KEYS = ("tls_server_config", "basic_auth_users")
# Keys exporter-toolkit knows that teampulse does not implement: refused by name.
TOP_UNSUPPORTED = ("http_server_config", "rate_limit")
TLS_KEYS = (
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "client_ca",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
)
TLS_UNSUPPORTED = {
    "cert": "give the certificate as cert_file",
    "key": "give the key as key_file",
    "cipher_suites": "Python's ssl takes OpenSSL names, not Go's; the defaults are used",
    "curve_preferences": "the OpenSSL defaults are used",
    "client_allowed_sans": "verify client certificates with client_ca_file instead",
}
_VERIFYING = {"VerifyClientCertIfGiven": ssl.CERT_OPTIONAL, "RequireAndVerifyClientCert": ssl.CERT_REQUIRED}
_CLIENT_AUTH = ("NoClientCert", *_VERIFYING)
# Go's crypto/tls can ask for a certificate and not verify it; Python's ssl cannot.
_UNVERIFIED = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# $2a$, $2b$, $2x$ or $2y$, a cost of two digits, 22 characters of salt and 31 of hash.
_BCRYPT = re.compile(r"\$2[abxy]\$(\d\d)\$[./A-Za-z0-9]{53}")


@dataclass(frozen=True)
class _Settings:
    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # name -> bcrypt hash
    files: tuple[Path, ...] = ()  # the certificate, key and CA files, watched with the config


@dataclass
class WebConfig:
    """What --web-config says (an SSL context and the basic-auth users), re-read on change."""

    settings: _Settings = field(default_factory=_Settings)
    path: Path | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    # Verdicts by a keyed digest of (user, password, hash): a memory dump shows no password.
    verdicts: OrderedDict[bytes, bool] = field(default_factory=OrderedDict, repr=False)
    _seen: tuple[Any, ...] | None = field(default=None, repr=False)
    _checked: float | None = field(default=None, repr=False)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # bcrypt is CPU-bound on purpose: one comparison at a time, as exporter-toolkit does.
    _bcrypt_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self.settings.ssl_context

    @property
    def users(self) -> dict[str, bytes]:
        return self.settings.users

    def refresh(self) -> None:
        """Re-read the file if it (or its certificate or key) changed; at most every RELOAD_CHECK s."""
        if self.path is None:
            return
        with self._lock:
            now = self.clock()
            if self._checked is not None and now - self._checked < RELOAD_CHECK:
                return
            self._checked = now
            seen = _fingerprint(self.path, self.settings)
            if seen == self._seen:
                return
            self._seen = seen
            try:
                settings = _parse(self.path)
                if (settings.ssl_context is None) != (self.settings.ssl_context is None):
                    raise ConfigError(
                        "tls_server_config", "turning TLS on or off needs a restart", str(self.path)
                    )
            except ConfigError as exc:
                # Once per change of the file, not at every check.
                log.warning("web config not reloaded, keeping the previous one: %s", exc)
                return
            self.settings = settings
            self._seen = _fingerprint(self.path, settings)
            self.verdicts.clear()
            log.info("web config %s reloaded: %d basic-auth users", self.path, len(settings.users))

    def authorised(self, header: str | None) -> bool:
        """Check an Authorization header against the users (all pass when there are none)."""
        self.refresh()
        users = self.settings.users
        if not users:
            return True
        scheme, _, encoded = (header or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (ValueError, binascii.Error):
            return False
        name, colon, password = raw.partition(b":")
        if not colon:
            return False
        try:
            user = name.decode()
        except UnicodeDecodeError:
            user = None
        hashed = users.get(user) if user is not None else None
        known = hashed is not None
        # An unknown user is compared against a configured hash all the same (and refused), so
        # the time a reply takes does not tell which user names exist.
        hashed = hashed if hashed is not None else next(iter(users.values()))
        key = self._digest(name, password, hashed)
        with self._lock:
            verdict = self.verdicts.get(key)
            if verdict is not None:
                self.verdicts.move_to_end(key)
        if verdict is None:
            verdict = self._compare(password, hashed) and known
            with self._lock:
                self.verdicts[key] = verdict
                while len(self.verdicts) > CACHE_SIZE:
                    self.verdicts.popitem(last=False)
        return verdict and known

    def _digest(self, user: bytes, password: bytes, hashed: bytes) -> bytes:
        message = b"".join(len(part).to_bytes(4, "big") + part for part in (user, password, hashed))
        return hmac_digest(self._key, message)

    def _compare(self, password: bytes, hashed: bytes) -> bool:
        import bcrypt

        too_long = len(password) > MAX_PASSWORD
        with self._bcrypt_lock:
            try:
                # Past 72 bytes: refused, after a comparison of the same cost.
                return bool(bcrypt.checkpw(password[:MAX_PASSWORD], hashed)) and not too_long
            except ValueError:
                return False


def hmac_digest(key: bytes, message: bytes) -> bytes:
    """Return a keyed BLAKE2b digest (the key lives only in this process)."""
    return hashlib.blake2b(message, key=key, digest_size=32).digest()


def _fingerprint(path: Path, settings: _Settings) -> tuple[Any, ...]:
    files = [path, *settings.files]
    marks: list[Any] = []
    for file in files:
        try:
            stat = os.stat(file)
            marks.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
        except OSError as exc:
            marks.append(exc.errno)
    return tuple(marks)


def load_web_config(path: str | Path) -> WebConfig:
    """Read a web config YAML; errors name the file and the key (ConfigError, exit 2 in serve)."""
    path = Path(path)
    web = WebConfig(settings=_parse(path), path=path)
    web._seen = _fingerprint(path, web.settings)
    return web


def _parse(path: Path) -> _Settings:
    where = str(path)
    try:
        raw = path.read_bytes()[: MAX_FILE + 1]
    except OSError as exc:
        raise ConfigError("web-config", f"cannot be read: {exc.strerror or exc}", where) from None
    if len(raw) > MAX_FILE:
        raise ConfigError("web-config", f"is over {MAX_FILE // 1024} KiB", where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("web-config", f"not UTF-8 (byte {exc.start})", where) from None
    if _depth(text) > MAX_DEPTH:
        raise ConfigError("web-config", f"nested deeper than {MAX_DEPTH} levels", where)
    data = _load_yaml(text, where)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("web-config", "must be a mapping of tls_server_config and basic_auth_users", where)
    for key in data:
        if key in TOP_UNSUPPORTED:
            raise ConfigError(str(key), f"not supported by teampulse (known: {', '.join(TOP_KEYS)})", where)
        if key not in TOP_KEYS:
            raise ConfigError(str(key), f"unknown key (known: {', '.join(TOP_KEYS)})", where)
    tls = data.get("tls_server_config")
    if tls is not None and not isinstance(tls, dict):
        raise ConfigError("tls_server_config", "must be a mapping", where)
    context, files = _tls(tls or {}, path.parent, where)
    return _Settings(
        ssl_context=context, users=_users(data.get("basic_auth_users"), where), files=tuple(files)
    )


def _depth(text: str) -> int:
    """How deeply [ and { nest outside quotes and comments (an upper bound for indentation too)."""
    depth = deepest = 0
    for char in _QUOTED_OR_COMMENT.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def _load_yaml(text: str, where: str) -> Any:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """Refuse a key given twice in one mapping, as Go's yaml.UnmarshalStrict does."""

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a mapping key must be a plain value", key_node.start_mark
                    ) from None
                if duplicate:
                    raise ConfigError(str(key), "appears twice", where)
            return super().construct_mapping(node, deep)

    try:
        return yaml.load(text, Loader=StrictLoader)  # a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError("web-config", f"not valid YAML: {' '.join(str(exc).split())}", where) from None
    except (ValueError, OverflowError, RecursionError) as exc:
        # A timestamp like 2026-13-45, nesting deeper than the parser's stack.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError("web-config", f"not valid YAML: {reason}", where) from None


def _string(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"tls_server_config.{key}", "must be a string", where)
    return value


def _tls(tls: dict[Any, Any], base: Path, where: str) -> tuple[ssl.SSLContext | None, list[Path]]:
    for key in tls:
        if key in TLS_UNSUPPORTED:
            raise ConfigError(f"tls_server_config.{key}", f"not supported: {TLS_UNSUPPORTED[key]}", where)
        if key not in TLS_KEYS:
            raise ConfigError(
                f"tls_server_config.{key}", f"unknown key (known: {', '.join(TLS_KEYS)})", where
            )
    values = {key: _string(tls, key, where) for key in TLS_KEYS if key != "prefer_server_cipher_suites"}
    prefer = tls.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        raise ConfigError("tls_server_config.prefer_server_cipher_suites", "must be true or false", where)
    if not any(values.values()):
        return None, []  # as exporter-toolkit: no TLS field set, no TLS
    cert, key = values["cert_file"], values["key_file"]
    if not cert or not key:
        raise ConfigError("tls_server_config", "needs cert_file and key_file", where)
    auth = values["client_auth_type"] or "NoClientCert"
    if auth in _UNVERIFIED:
        raise ConfigError(
            "tls_server_config.client_auth_type",
            f"{auth} is not supported (Python's ssl verifies every client certificate it asks for): "
            "use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file",
            where,
        )
    if auth not in _CLIENT_AUTH:
        raise ConfigError(
            "tls_server_config.client_auth_type", f"must be one of {', '.join(_CLIENT_AUTH)}", where
        )
    ca_file, ca_text = values["client_ca_file"], values["client_ca"]
    if auth in _VERIFYING and not (ca_file or ca_text):
        raise ConfigError("tls_server_config.client_auth_type", f"{auth} requires client_ca_file", where)
    if auth == "NoClientCert" and (ca_file or ca_text):
        raise ConfigError(
            "tls_server_config",
            "client_ca_file is set but client_auth_type does not ask for certificates",
            where,
        )
    versions = {}
    for bound, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        name = values[bound] or default
        if name not in _VERSIONS:
            raise ConfigError(f"tls_server_config.{bound}", f"must be one of {', '.join(_VERSIONS)}", where)
        versions[bound] = _VERSIONS[name]
    if versions["min_version"] > versions["max_version"]:
        raise ConfigError("tls_server_config", "min_version is above max_version", where)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.minimum_version = versions["min_version"]
        context.maximum_version = versions["max_version"]
    except (ValueError, ssl.SSLError) as exc:
        raise ConfigError("tls_server_config.min_version", f"not available here: {exc}", where) from None
    if prefer:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    files = [base / cert, base / key]
    try:
        context.load_cert_chain(files[0], files[1])
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(
            "tls_server_config.cert_file", f"cannot load the certificate: {exc}", where
        ) from None
    if auth in _VERIFYING:
        context.verify_mode = _VERIFYING[auth]
        try:
            if ca_file:
                files.append(base / ca_file)
                context.load_verify_locations(cafile=base / ca_file)
            else:
                context.load_verify_locations(cadata=ca_text)
        except (OSError, ssl.SSLError, ValueError) as exc:
            what = "client_ca_file" if ca_file else "client_ca"
            raise ConfigError(f"tls_server_config.{what}", f"cannot be loaded: {exc}", where) from None
    return context, files


def _users(users: Any, where: str) -> dict[str, bytes]:
    if users is None:
        return {}
    if not isinstance(users, dict):
        raise ConfigError("basic_auth_users", "must map user names to bcrypt hashes", where)
    out: dict[str, bytes] = {}
    for name, hashed in users.items():
        if not isinstance(name, str):
            raise ConfigError("basic_auth_users", "user names must be strings (quote them)", where)
        if ":" in name:
            raise ConfigError(f"basic_auth_users.{name}", "a user name cannot contain ':'", where)
        match = _BCRYPT.fullmatch(hashed) if isinstance(hashed, str) else None
        if match is None or not 4 <= int(match.group(1)) <= 31:
            raise ConfigError(
                f"basic_auth_users.{name}",
                "must be a bcrypt hash with a cost from 4 to 31 (htpasswd -nBC 10 USER)",
                where,
            )
        out[name] = hashed.encode()
    return out
