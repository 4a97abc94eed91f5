"""Pseudonymise people at the boundary, before anything is stored."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from .errors import ConfigError

KEY_ENV = "TEAMPULSE_PSEUDONYM_KEY"
_MIN_KEY_LENGTH = 16


def key_from_env(required: bool = True) -> bytes | None:
    """Return the pseudonymisation key from TEAMPULSE_PSEUDONYM_KEY."""
    raw = os.environ.get(KEY_ENV)
    if not raw:
        if required:
            raise ConfigError(
                KEY_ENV,
                "is not set: export a stable random key of at least 16 characters, "
                'e.g. TEAMPULSE_PSEUDONYM_KEY="$(openssl rand -hex 32)"',
            )
        return None
    if len(raw) < _MIN_KEY_LENGTH:
        raise ConfigError(KEY_ENV, f"is too short: use at least {_MIN_KEY_LENGTH} characters")
    return raw.encode()


def new_key() -> str:
    """Return a fresh random key (the demo makes its own)."""
    return secrets.token_hex(32)


class Pseudonymiser:
    """Map person identifiers (e-mails, source ids) to stable pseudonyms."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._cache: dict[str, str] = {}

    @property
    def fingerprint(self) -> str:
        """Return a short keyed digest that tells keys apart and reveals nothing of the key."""
        return hmac.new(self._key, b"teampulse key fingerprint", hashlib.sha256).hexdigest()[:16]

    def __call__(self, person: str | None) -> str | None:
        """Return the pseudonym of a person identifier (case-insensitive)."""
        if person is None or person == "":
            return None
        cached = self._cache.get(person)
        if cached is not None:
            return cached
        digest = hmac.new(self._key, person.strip().lower().encode(), hashlib.sha256).hexdigest()
        pseudonym = "p_" + digest[:20]
        if len(self._cache) < 200_000:
            self._cache[person] = pseudonym
        return pseudonym

    def ident(self, value: str) -> str:
        """Return a keyed hash of an event id, which may embed an address (UIDs, "tz|bob@...")."""
        digest = hmac.new(self._key, b"id|" + value.encode(), hashlib.sha256).hexdigest()
        return "i_" + digest[:32]

    def many(self, people: list[str] | tuple[str, ...]) -> list[str]:
        """Pseudonymise a list of people."""
        return [p for p in (self(x) for x in people) if p]
