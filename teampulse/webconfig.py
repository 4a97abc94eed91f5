"""`--web-config`: TLS and basic auth in the format of Prometheus' exporter-toolkit."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


@dataclass
class WebConfig:
    """What --web-config says: an SSL context and the basic-auth users."""

    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # name -> bcrypt hash
    _verified: dict[tuple[str, str], bool] = field(default_factory=dict, repr=False)

    def authorised(self, header: str | None) -> bool:
        """Check an Authorization header against the users (all pass when there are none)."""
        if not self.users:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = self.users.get(user)
        if hashed is None:
            return False
        # bcrypt is slow on purpose; remember verdicts so a scrape every second stays cheap.
        key = (user, password)
        if key not in self._verified:
            import bcrypt

            self._verified[key] = bcrypt.checkpw(password.encode(), hashed)
        return self._verified[key]


def load_web_config(path: str | Path) -> WebConfig:
    """Read a web config YAML; errors name the file and the key."""
    import yaml

    where = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError("web-config", f"cannot be read: {exc.strerror}", where) from None
    except yaml.YAMLError as exc:
        raise ConfigError("web-config", f"not valid YAML: {exc}", where) from None
    if not isinstance(data, dict):
        raise ConfigError("web-config", "must be a mapping", where)
    for key in data:
        # http_server_config (HTTP/2, headers) is not implemented: refuse it rather than ignore it.
        if key not in ("tls_server_config", "basic_auth_users"):
            raise ConfigError(key, "unknown key (known: tls_server_config, basic_auth_users)", where)
    config = WebConfig()
    tls: dict[str, Any] = data.get("tls_server_config") or {}
    if tls:
        base = Path(path).parent
        cert, key = tls.get("cert_file"), tls.get("key_file")
        if not cert or not key:
            raise ConfigError("tls_server_config", "needs cert_file and key_file", where)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(base / cert, base / key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                "tls_server_config.cert_file", f"cannot load the certificate: {exc}", where
            ) from None
        auth = tls.get("client_auth_type", "NoClientCert")
        if auth not in _CLIENT_AUTH:
            raise ConfigError(
                "tls_server_config.client_auth_type", f"must be one of {', '.join(_CLIENT_AUTH)}", where
            )
        context.verify_mode = _CLIENT_AUTH[auth]
        if tls.get("client_ca_file"):
            try:
                context.load_verify_locations(base / tls["client_ca_file"])
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    "tls_server_config.client_ca_file", f"cannot be loaded: {exc}", where
                ) from None
        config.ssl_context = context
    users = data.get("basic_auth_users") or {}
    if not isinstance(users, dict):
        raise ConfigError("basic_auth_users", "must map user names to bcrypt hashes", where)
    for name, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith("$2"):
            raise ConfigError(
                f"basic_auth_users.{name}", "must be a bcrypt hash (htpasswd -nBC 10 USER)", where
            )
        config.users[str(name)] = hashed.encode()
    return config
