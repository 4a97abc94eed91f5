"""The questions, the scale and the time settings shared by both survey sources."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from teampulse import ConfigError, ListOf, PluginConfig, Setting, Settings, Text, TimeZone, ValueType

__all__ = ["COMMON_KEYS", "SCORING", "AnswerError", "Scoring", "normalise_header", "scoring_from"]

# A dimension becomes the value of the `dimension` label of teampulse_survey_score_ratio:
# a short identifier keeps that label clean and its cardinality bounded.
DIMENSION = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class AnswerError(ValueError):
    """An answer that is not a number on the scale; the message never repeats the answer.

    A cell meant for a number can hold anything a person typed, a name included; messages
    say where (file, line, column) and what is wrong, never what was written.
    """


def normalise_header(name: str) -> str:
    """Return a column name with its spacing collapsed and its case folded, for matching."""
    return " ".join(name.replace("\ufeff", "").split()).casefold()


def _fmt(x: float) -> str:
    return str(int(x)) if x == int(x) else str(x)


@dataclass(frozen=True)
class Scoring:
    """Questions mapped to dimensions, the answer scale, and how to read naive times."""

    questions: Mapping[str, str]  # question (column or answer key) -> dimension
    low: float
    high: float
    invert: frozenset[str]
    tz: tzinfo
    time_formats: tuple[str, ...] = ()

    @property
    def scale_text(self) -> str:
        """Return the scale as users wrote it, e.g. "1..5"."""
        return f"{_fmt(self.low)}..{_fmt(self.high)}"

    def answer(self, value: Any) -> float | None:
        """Return an answer normalised to 0..1, None when unanswered; raise AnswerError."""
        if value is None:
            return None
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            try:
                number = float(text)
            except ValueError:
                raise AnswerError(f"is not a number on the scale {self.scale_text}") from None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an integer of hundreds of digits
                raise AnswerError(f"is outside the scale {self.scale_text}") from None
        else:
            raise AnswerError("is not a number")
        if not math.isfinite(number):
            raise AnswerError(f"is not a number on the scale {self.scale_text}")
        if not self.low <= number <= self.high:
            raise AnswerError(f"is outside the scale {self.scale_text}")
        return (number - self.low) / (self.high - self.low)

    def scores(self, answers: Mapping[str, float]) -> dict[str, float]:
        """Average normalised answers per dimension, turning inverted dimensions around."""
        by_dimension: dict[str, list[float]] = {}
        for question, value in answers.items():
            by_dimension.setdefault(self.questions[question], []).append(value)
        result: dict[str, float] = {}
        for dimension, values in sorted(by_dimension.items()):
            mean = sum(values) / len(values)
            result[dimension] = 1.0 - mean if dimension in self.invert else mean
        return result


@dataclass(frozen=True)
class Scale(ValueType[tuple[float, float]]):
    """Two numbers [lowest, highest]."""

    def parse(self, value: Any, key: str) -> tuple[float, float]:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        ):
            raise ConfigError(key, "must be two numbers [lowest, highest], e.g. [1, 5]")
        try:
            low, high = float(value[0]), float(value[1])
        except OverflowError:  # an integer of hundreds of digits
            raise ConfigError(key, "must be two numbers a float holds") from None
        if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
            raise ConfigError(key, "the lowest answer must be below the highest")
        return low, high

    def describe(self) -> str:
        return "[lowest, highest]"


@dataclass(frozen=True)
class Questions(ValueType[dict[str, str]]):
    """A table of question -> dimension."""

    missing = "is required (a table of question -> dimension)"

    def parse(self, value: Any, key: str) -> dict[str, str]:
        if not isinstance(value, Mapping) or not value:
            raise ConfigError(key, "must be a table of question -> dimension")
        questions: dict[str, str] = {}
        for question, dimension in value.items():
            if not isinstance(dimension, str) or not DIMENSION.match(dimension):
                raise ConfigError(
                    f"{key}.{question}",
                    "must be a dimension name of lower-case letters, digits and _ (e.g. support)",
                )
            questions[str(question)] = dimension
        return questions

    def describe(self) -> str:
        return "table of question = dimension"


@dataclass(frozen=True)
class TimeFormats(ValueType[tuple[str, ...]]):
    """A strptime format or a list of them."""

    def parse(self, value: Any, key: str) -> tuple[str, ...]:
        formats = [value] if isinstance(value, str) else value
        if not isinstance(formats, list) or not formats or not all(isinstance(f, str) and f for f in formats):
            raise ConfigError(key, "must be a strptime format or a list of them")
        return tuple(formats)

    def describe(self) -> str:
        return "string or list of strings"


SCORING = Settings(
    Setting(
        "questions",
        Questions(),
        description="Table of question -> dimension. For CSV the question is a column name; for the "
        "webhook a key of `answers`. Dimensions are lower-case identifiers (`support`, `wellbeing`, "
        "`workload`, `enps`, ...); they become the `dimension` label of "
        "`teampulse_survey_score_ratio`. The engine's support index reads `support` and `wellbeing`.",
    ),
    Setting(
        "scale",
        Scale(),
        [1, 5],
        "Lowest and highest answer. An answer `a` scores `(a - lo) / (hi - lo)`; answers may be "
        "decimals, outside the scale they are refused.",
    ),
    Setting(
        "invert",
        ListOf(Text(empty_ok=True), "strings"),
        [],
        "Dimensions where a high answer is bad (e.g. `workload`): score = `1 - (a - lo) / (hi - lo)`.",
    ),
    Setting(
        "timezone",
        TimeZone(),
        "UTC",
        'How to read times without an offset (an IANA name, e.g. `"Europe/Berlin"`).',
    ),
    Setting(
        "time_format",
        TimeFormats(),
        None,
        'A `strptime` format (or a list) for times the defaults below do not read, e.g. day-first `"%d/%m/%Y '
        '%H:%M:%S"`. When set, only these formats are tried.',
    ),
)
COMMON_KEYS = tuple(SCORING.names())


def scoring_from(values: Mapping[str, Any], config: PluginConfig) -> Scoring:
    """Return the Scoring of a source's values (read with a Settings holding SCORING)."""
    questions = values["questions"]
    invert = values["invert"]
    unknown = sorted(set(invert) - set(questions.values()))
    if unknown:
        raise ConfigError(config.key("invert"), f"names no configured dimension: {', '.join(unknown)}")
    low, high = values["scale"]
    return Scoring(questions, low, high, frozenset(invert), values["timezone"], values["time_format"] or ())
