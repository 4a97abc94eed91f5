"""Errors the core and plugins raise; each carries a one-line message for users."""

from __future__ import annotations

import re

__all__ = ["ConfigError", "SourceError", "TeampulseError", "WebhookRejected"]

# What str.splitlines() breaks a line at.
_LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


class TeampulseError(Exception):
    """A problem to report in one line, without a traceback."""


class ConfigError(TeampulseError):
    """A config value is missing or wrong; names the file and the key."""

    def __init__(self, key: str, reason: str, path: str | None = None) -> None:
        self.key = key
        self.reason = reason
        self.path = path
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.path}: " if self.path else ""
        # A key, value or path from the config may hold a line break; the message stays one line.
        return _LINE_BREAK.sub(lambda m: repr(m[0])[1:-1], f"{where}{self.key}: {self.reason}")

    def with_path(self, path: str) -> ConfigError:
        """Return the same error naming the config file."""
        return ConfigError(self.key, self.reason, path)


class SourceError(TeampulseError):
    """A source could not collect (unreachable, refused, malformed reply)."""


class WebhookRejected(TeampulseError):
    """A webhook delivery refused; `status` is the HTTP status to answer (401, 400, ...)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)
