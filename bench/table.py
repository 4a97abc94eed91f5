"""A benchmark row, the one table `make bench` prints, and what bench/results.json holds."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Row:
    """One measured figure, what it is compared with, and whether it meets its target.

    `ratio` is figure / reference; `target` reads against it ("≤ 1.02") and is empty for a
    figure shown for information, whose `met` is None. `cause` says what the run measured that
    explains the figure: for a missed target its cause, otherwise a note.
    """

    case: str
    figure: float | None
    unit: str
    compared_with: str = ""
    reference: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    cause: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return the row as JSON-ready data (NaN and infinities as null)."""
        data = asdict(self)
        for key in ("figure", "reference", "ratio"):
            value = data[key]
            if isinstance(value, float) and not math.isfinite(value):
                data[key] = None
        return data


def ratio_of(figure: float | None, reference: float | None) -> float | None:
    """Return figure / reference, None when either is missing or the reference is zero."""
    if figure is None or reference is None or reference == 0:
        return None
    return figure / reference


def compare(
    case: str,
    figure: float | None,
    unit: str,
    compared_with: str,
    reference: float | None,
    at_most: float | None = None,
    cause: str = "",
) -> Row:
    """Return a row of figure against reference; with `at_most`, the ratio's target."""
    ratio = ratio_of(figure, reference)
    if at_most is None:
        return Row(case, figure, unit, compared_with, reference, ratio, cause=cause)
    met = ratio is not None and ratio <= at_most
    return Row(case, figure, unit, compared_with, reference, ratio, f"≤ {at_most:g}", met, cause)


def info(case: str, figure: float | None, unit: str, note: str = "") -> Row:
    """Return a row shown for information: no reference, no target; `note` says what it holds."""
    return Row(case, figure, unit, cause=note)


def failed(case: str, cause: str) -> Row:
    """Return the row of a case that could not measure at all."""
    return Row(case, None, "", target="runs", met=False, cause=cause)


def number(value: float | None, unit: str = "") -> str:
    """Format a figure: thousands separators for counts, three significant digits otherwise."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if unit in ("requests", "issues", "series", "items") or (float(value).is_integer() and abs(value) >= 100):
        text = f"{round(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip() if unit else text


def render(rows: Sequence[Row]) -> str:
    """Return the rows as one aligned text table; a missed row's cause follows it, indented."""
    header = ("case", "figure", "compared with", "reference", "ratio", "target", "met")
    cells = [
        (
            r.case,
            number(r.figure, r.unit),
            r.compared_with,
            number(r.reference, r.unit) if r.reference is not None else "",
            f"{r.ratio:.3g}" if r.ratio is not None else "",
            r.target,
            {True: "met", False: "MISSED", None: ""}[r.met],
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    right = {1, 3, 4}

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    for row, values in zip(rows, cells, strict=True):
        out.append(line(values))
        if row.cause and row.met is False:
            out.append(f"    cause: {row.cause}")
        elif row.cause:
            out.append(f"    note: {row.cause}")
    return "\n".join(out)
