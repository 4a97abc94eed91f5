"""A per-calendar time budget that really stops the work, in any thread.

A thread cannot be killed and a signal alarm only works in the main thread (the collector
of `teampulse serve` runs in another). So the work checks its own deadline between events
while parsing and between series and occurrences while expanding; and, for the loops that
run inside a library (dateutil walks a rule that no date satisfies, BYMONTH=2;BYMONTHDAY=30,
day by day up to the year 9999 before it gives up), a watchdog raises BudgetExceeded in the
working thread once the deadline has passed (CPython's PyThreadState_SetAsyncExc: the
exception arrives between two bytecodes of whatever Python code runs, library code
included). It is raised again every `_RESEND` seconds until the work has ended, in case some
library swallows it; the budget also stays expired, so the next check raises too.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Budget", "BudgetExceeded"]

_RESEND = 0.05


class BudgetExceeded(BaseException):
    """The calendar took longer than its budget; nothing of it is used.

    A BaseException, so that the `except Exception` of a parser or of a library does not
    take it for a broken input and go on.
    """


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` in the thread `thread_id` (None clears one still pending)."""
    api = getattr(ctypes, "pythonapi", None)
    if api is None:  # not CPython: the explicit checks still bound the work between steps
        return
    api.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


class Budget:
    """A deadline for one calendar; `check()` raises BudgetExceeded once it has passed."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.deadline = clock() + seconds
        self.expired = False

    def check(self) -> None:
        """Raise BudgetExceeded when the deadline has passed."""
        if self.expired or self.clock() > self.deadline:
            self.expired = True
            raise BudgetExceeded(f"took more than {self.seconds:g} s")

    @contextmanager
    def enforced(self) -> Iterator[None]:
        """Stop the work of the calling thread inside the block once the deadline passes."""
        target = threading.get_ident()
        lock = threading.Lock()
        done = threading.Event()
        active = [True]

        def watch() -> None:
            wait = max(self.deadline - self.clock(), 0.0)
            while not done.wait(wait):
                with lock:
                    if not active[0]:
                        return
                    self.expired = True
                    _raise_in(target, BudgetExceeded)
                wait = _RESEND

        watcher = threading.Thread(target=watch, name="teampulse-calendar-budget", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            try:
                with lock:
                    active[0] = False
                    _raise_in(target, None)  # one sent but not yet arrived must not hit the caller
            finally:
                done.set()
