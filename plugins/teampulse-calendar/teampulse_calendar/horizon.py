"""Stop dateutil's search for a rule's next date at the end of the window, not at year 9999.

dateutil gives up on a rule only past `datetime.MAXYEAR`: a rule that no date satisfies
(BYYEARDAY=366;BYMONTH=1, BYWEEKNO=1;BYMONTH=7, FREQ=HOURLY;BYDAY=5MO;BYMONTH=2 ...) is
walked one period at a time until 9999, up to 9 s for a single event. Telling every such
rule apart beforehand means reimplementing RFC 5545's expansion; the window's end is
known instead. dateutil reads the year limit from its module's `datetime` name at each
period, so that name is given a view of the datetime module whose MAXYEAR is the
horizon of the expansion running in the current thread (a context variable), and the
real MAXYEAR everywhere else.
"""

from __future__ import annotations

import contextvars
import datetime as _datetime
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dateutil.rrule

__all__ = ["horizon", "install"]

_LIMIT: contextvars.ContextVar[int] = contextvars.ContextVar(
    "teampulse_rrule_horizon", default=_datetime.MAXYEAR
)


class _DatetimeView(types.ModuleType):
    """The datetime module, with MAXYEAR read from the current expansion's horizon."""

    def __getattr__(self, name: str) -> Any:
        if name == "MAXYEAR":
            return _LIMIT.get()
        return getattr(_datetime, name)


def install() -> None:
    """Give dateutil.rrule the view of datetime (once; harmless when repeated)."""
    if not isinstance(dateutil.rrule.datetime, _DatetimeView):
        dateutil.rrule.datetime = _DatetimeView("datetime")


@contextmanager
def horizon(year: int) -> Iterator[None]:
    """Make rules expanded in this thread stop searching after `year`."""
    install()
    token = _LIMIT.set(max(_datetime.MINYEAR, min(year, _datetime.MAXYEAR)))
    try:
        yield
    finally:
        _LIMIT.reset(token)
