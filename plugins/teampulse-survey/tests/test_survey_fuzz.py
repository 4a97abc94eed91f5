"""Fuzzing the survey-csv reader: nothing escapes, every problem names the file, never a cell.

The fast form (in `make test`) tries a few hundred inputs, the same ones on every run. The
long form (`make fuzz`) sets TEAMPULSE_FUZZ_EXAMPLES and prints the inputs tried, the
failures and the slowest input.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from teampulse_survey import create_csv

from teampulse import PluginConfig

EXAMPLES = int(os.environ.get("TEAMPULSE_FUZZ_EXAMPLES", "300"))
LONG = "TEAMPULSE_FUZZ_EXAMPLES" in os.environ
SECRET = "s3cr3t-comment"  # put in cells: no message may quote it

CELL = st.one_of(
    st.sampled_from(
        [
            "submitted_at",
            "team",
            "q_support",
            "payments",
            "Payments ",
            "4",
            "5.5",
            "1e309",
            "NaN",
            "",
            "2026-03-12T09:00:00Z",
            "3/15/2026 10:12:44",
            "0001-01-01",
            "9999-12-31T23:59:59Z",
            SECRET,
        ]
    ),
    st.text(max_size=12).map(lambda t: t + SECRET),
    st.sampled_from(['"', '""', '"x\ny"', '"a""b"', 'a"b', "\r", "\ufeff", "\x00"]),
    st.just("z" * (csv.field_size_limit() + 1)),
)
DELIMITER = st.sampled_from([",", ";", "\t"])


@st.composite
def exports(draw: st.DrawFn) -> bytes:
    """A CSV export: a header that may fit, rows that may not, line ends of any kind, or bytes."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=200))
    delimiter = draw(DELIMITER)
    header = draw(
        st.one_of(
            st.just(["submitted_at", "team", "q_support", "comment"]),
            st.lists(CELL, max_size=5),
        )
    )
    rows = draw(st.lists(st.lists(CELL, max_size=5), max_size=6))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(delimiter.join(r) for r in [header, *rows])
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"])), "replace")


def test_fuzzed_csv_exports_never_raise_and_problems_name_the_file(tmp_path: Path, new_ctx: Any) -> None:
    source = create_csv(
        PluginConfig(
            "pulse", "sources", {"paths": ["*.csv"], "questions": {"q_support": "support"}}, tmp_path
        )
    )
    tried, failures, slowest = 0, [], (0.0, b"")

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(exports())
    def fuzz(data: bytes) -> None:
        nonlocal tried, slowest
        tried += 1
        (tmp_path / "export.csv").write_bytes(data)
        ctx = new_ctx()
        started = time.perf_counter() if LONG else 0.0
        try:
            for _batch in source.collect(ctx):  # type: ignore[arg-type]
                pass
        except BaseException as exc:
            failures.append(f"{type(exc).__name__}: {data[:200]!r}")
            return
        if LONG and time.perf_counter() - started > slowest[0]:
            slowest = (time.perf_counter() - started, data[:200])
        for message in ctx.problems:
            if not message.startswith("export.csv: ") or SECRET in message or "z" * 20 in message:
                failures.append(f"bad message {message[:120]!r}")

    fuzz()
    if LONG:
        print(
            f"\ncsv fuzz: {tried} inputs tried, {len(failures)} failures, slowest {slowest[0]:.3f} s: {slowest[1]!r}"
        )
        assert slowest[0] < float(os.environ.get("TEAMPULSE_FUZZ_MAX_SECONDS", "12"))
    assert failures == []
    assert tried == EXAMPLES
