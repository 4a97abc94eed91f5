"""The states a team can be in: one enumeration for the engine, the page, `check`, the API and the rules."""

from __future__ import annotations

from enum import StrEnum


class TeamState(StrEnum):
    """Where a team stands at one time, from the pressure episode and the people side's answer."""

    LEARNING = "learning"  # less history than the reference window: no normal yet, no episode
    CALM = "calm"  # pressure within the team's own normal
    IN_GRACE = "in_grace"  # an episode younger than alerts.grace: leadership has time to answer
    ANSWERED = "answered"  # an episode the people side answered (1:1 cadence, moved dates, ...)
    UNANSWERED = "unanswered"  # ProcessPressureWithoutLeadership: pressure out of normal, no answer
    # An episode past its grace that teampulse does not judge now: no people data covers the
    # time (no data is not "no leadership"), or pressure is back within the normal while the
    # episode closes.
    ELEVATED = "elevated"

    @property
    def words(self) -> str:
        """Return the state in plain words, as the page and `check` say it."""
        return _WORDS[self]


_WORDS = {
    TeamState.LEARNING: "learning its normal (less history than the reference window)",
    TeamState.CALM: "calm (within its own normal)",
    TeamState.IN_GRACE: "under pressure, in the grace period",
    TeamState.ANSWERED: "under pressure, answered by leadership",
    TeamState.UNANSWERED: "under pressure without a leadership answer",
    TeamState.ELEVATED: "under pressure, not judged (no people data, or easing)",
}
