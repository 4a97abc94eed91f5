"""Wait for something a test started (a server, a process, a delivery) without fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_until"]

# What a server that is not up yet raises from a predicate that asks it: not yet, not a failure.
NOT_YET = (OSError, KeyError, IndexError, ValueError)


def wait_until(
    predicate: Callable[[], object],
    timeout: float = 60.0,
    what: str = "the condition",
    interval: float = 0.25,
) -> None:
    """Poll `predicate` until it returns something true; fail naming `what` after `timeout` seconds.

    A predicate raising OSError, KeyError, IndexError or ValueError (a server not up yet, a
    reply not complete yet) counts as not yet; the last such error is in the failure.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            if predicate():
                return
        except NOT_YET as exc:
            last = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last error: {last}")
