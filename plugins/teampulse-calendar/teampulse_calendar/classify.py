"""Classify a calendar entry from its title and categories, which are read here and nowhere else.

Titles are personal free text: they are matched against word lists and then dropped; no
title, category or match ever leaves this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = [
    "CHECK_IN_WORDS",
    "ONE_ON_ONE_WORDS",
    "TIME_OFF_WORDS",
    "Classifier",
]

ONE_ON_ONE_WORDS: tuple[str, ...] = (
    "1:1",
    "1-1",
    "1on1",
    "1-on-1",
    "1x1",
    "one on one",
    "one-on-one",
    "catch-up",
    "catchup",
)
# A team check-in is the lead asking how the team is doing. Stand-ups, dailies and syncs are
# process ceremonies: counting them as leadership would let any team answer pressure by
# meeting about the work.
CHECK_IN_WORDS: tuple[str, ...] = (
    "check-in",
    "checkin",
    "team check-in",
    "retro",
    "retrospective",
    "team health",
    "health check",
    "pulse check",
)
TIME_OFF_WORDS: tuple[str, ...] = (
    "vacation",
    "holiday",
    "holidays",
    "leave",
    "annual leave",
    "parental leave",
    "sick",
    "sick leave",
    "pto",
    "out of office",
    "ooo",
    "oof",
    "day off",
    "days off",
    "time off",
    "urlaub",
    "ferien",
    "krank",
    "congé",
    "conge",
    "congés",
    "vacances",
    "vacaciones",
    "ferie",
    "verlof",
    "vakantie",
    "semester",
)
_SEPARATORS = r"[\s\-_]+"


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """Compile word phrases to one regex; separators in a phrase match any space, hyphen or underscore."""
    alternatives = []
    for word in sorted({w.strip().casefold() for w in words if w.strip()}, key=len, reverse=True):
        tokens = [re.escape(t) for t in re.split(_SEPARATORS, word) if t]
        alternatives.append(_SEPARATORS.join(tokens))
    if not alternatives:
        return None
    # A phrase matches as whole words, plural "s" allowed: "1:1s", "standups", "check-ins".
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")s?(?!\w)")


class Classifier:
    """Word lists for meeting categories and absences, compiled once per source."""

    def __init__(
        self,
        one_on_one: Sequence[str] = ONE_ON_ONE_WORDS,
        check_in: Sequence[str] = CHECK_IN_WORDS,
        time_off: Sequence[str] = TIME_OFF_WORDS,
    ) -> None:
        self._one_on_one = _pattern(one_on_one)
        self._check_in = _pattern(check_in)
        self._time_off = _pattern(time_off)

    def category(self, title: str | None) -> str:
        """Return "one_on_one", "check_in" or "meeting" for a meeting title."""
        text = (title or "").casefold()
        if self._one_on_one and self._one_on_one.search(text):
            return "one_on_one"
        if self._check_in and self._check_in.search(text):
            return "check_in"
        return "meeting"

    def is_absence(self, title: str | None, categories: Iterable[str] = ()) -> bool:
        """Tell whether a title or any category says the person is away."""
        if self._time_off is None:
            return False
        texts = [(title or "").casefold(), *(c.casefold() for c in categories)]
        return any(self._time_off.search(t) for t in texts if t)
