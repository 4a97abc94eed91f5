"""The "survey-csv" source: pulse survey responses from exported CSV files."""

from __future__ import annotations

import csv
import glob
import hashlib
import io
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from teampulse import (
    Batch,
    CollectContext,
    ConfigError,
    ListOf,
    PersonSignal,
    PluginConfig,
    Setting,
    Settings,
    SourceError,
    Text,
    ValueType,
    Whole,
)

from .scoring import SCORING, AnswerError, Scoring, normalise_header, scoring_from
from .timeparse import parse_submitted

__all__ = ["CSV", "CSV_KEYS", "MAX_BYTES", "CsvSettings", "SurveyCsvSource", "parse_csv_settings", "records"]

# An export of a few thousand responses is a few megabytes; a file this large is a mistake
# (or an attack) and is refused before it is read into memory.
MAX_BYTES = 50 * 1024 * 1024
# Tried in this order when submitted_at_column is not set: our own name, Google Forms,
# Microsoft Forms (completion, not start), Typeform (older and newer exports).
TIME_COLUMNS = ("submitted_at", "Timestamp", "Completion time", "Submitted At", "Submit Date (UTC)")
DELIMITERS = (",", ";", "\t")

Cell = Callable[[tuple[str, int]], str]  # reads one column of the current row


@dataclass(frozen=True)
class Encoding(ValueType[str]):
    """The name of a text encoding Python knows."""

    def parse(self, value: Any, key: str) -> str:
        encoding = Text().parse(value, key)
        try:
            "".encode(encoding)
        except (LookupError, ValueError):  # ValueError: a NUL in the name
            raise ConfigError(key, f"unknown encoding {encoding!r}") from None
        return encoding

    def describe(self) -> str:
        return "encoding name"


@dataclass(frozen=True)
class Delimiter(ValueType[str]):
    """One character."""

    def parse(self, value: Any, key: str) -> str:
        delimiter = Text().parse(value, key)
        if len(delimiter) != 1:
            raise ConfigError(key, "must be one character")
        return delimiter

    def describe(self) -> str:
        return "one character"


CSV_OWN = Settings(
    Setting(
        "paths",
        ListOf(Text(empty_ok=True), "strings", empty="must name at least one file or glob"),
        description="Files or globs (`**` allowed), relative to the config file. A glob that matches "
        "nothing is reported as a problem.",
    ),
    Setting(
        "submitted_at_column",
        Text(),
        None,
        "The column with the submission time. Without it, the first of `submitted_at`, `Timestamp` "
        "(Google Forms), `Completion time` (Microsoft Forms), `Submitted At`, `Submit Date (UTC)` "
        "(Typeform) the file has.",
        shown="auto",
    ),
    Setting(
        "team_column",
        Text(),
        None,
        "The column naming the respondent's team; matched to the configured `[[teams]]` names "
        "ignoring case and extra spaces.",
        shown='`"team"`',
    ),
    Setting(
        "team",
        Text(),
        None,
        "One configured team for every row, for a form per team (then `team_column` is not read unless set).",
    ),
    Setting(
        "id_column",
        Text(),
        None,
        "A column with the tool's own response id (Typeform `#`, Microsoft Forms `ID`); see Ids.",
    ),
    Setting(
        "encoding",
        Encoding(),
        "utf-8-sig",
        "The files' encoding; the default reads UTF-8 with or without a byte order mark. Excel's "
        'plain "CSV" is often `"cp1252"`.',
    ),
    Setting(
        "delimiter",
        Delimiter(),
        None,
        "Without it the first of `,` `;` tab whose header has the configured columns (Excel writes "
        "`;` in many locales).",
        shown="auto",
    ),
    Setting(
        "max_bytes",
        Whole(1),
        MAX_BYTES,
        "A file larger than this is one problem and is not read; the other files go on.",
        shown="`52428800` (50 MiB)",
    ),
)
CSV = Settings(CSV_OWN, SCORING)
CSV_KEYS = tuple(CSV.names())


@dataclass(frozen=True)
class CsvSettings:
    """A validated `[sources.NAME]` table with plugin = "survey-csv"."""

    paths: tuple[str, ...]
    base_dir: Path
    scoring: Scoring
    submitted_at_column: str | None = None  # None: the first of TIME_COLUMNS the file has
    team_column: str | None = "team"  # None: every row belongs to `team`
    team: str | None = None
    id_column: str | None = None
    encoding: str = CSV.default("encoding")
    delimiter: str | None = None  # None: the first of DELIMITERS whose header fits
    max_bytes: int = CSV.default("max_bytes")


def parse_csv_settings(config: PluginConfig) -> CsvSettings:
    """Validate the table; raise ConfigError naming the key."""
    values = config.parse(CSV)
    team_column = values["team_column"]
    if team_column is None and values["team"] is None:
        team_column = "team"
    return CsvSettings(
        paths=tuple(values["paths"]),
        base_dir=config.base_dir,
        scoring=scoring_from(values, config),
        submitted_at_column=values["submitted_at_column"],
        team_column=team_column,
        team=values["team"],
        id_column=values["id_column"],
        encoding=values["encoding"],
        delimiter=values["delimiter"],
        max_bytes=values["max_bytes"],
    )


class FileProblem(Exception):
    """The whole file is unusable; the message is safe to show."""


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Yield (first line number, lines) of each CSV record: a line break inside quotes goes on.

    csv raises on a cell over `csv.field_size_limit()` in the middle of a record and goes on
    reading at the next line, which may be inside the record (a quoted cell with line
    breaks): its rest would read as rows. Cut into records first, a record's error stays
    the record's. A record ends at a line break after an even number of quote characters
    (an escaped quote is two); a quote never closed makes the rest of the file one record.
    """
    lines = io.StringIO(text)  # split as csv's reader over io.StringIO(text) splits
    number = 1
    pending: list[str] = []
    quotes = 0
    start = 1
    for line in lines:
        if not pending:
            start = number
        pending.append(line)
        quotes += line.count('"')
        number += 1
        if quotes % 2 == 0:
            yield start, pending
            pending = []
            quotes = 0
    if pending:
        yield start, pending


class CellTooLarge(Exception):
    """A cell is over csv's field size limit; the message is safe to show."""


def parse_record(lines: list[str], delimiter: str, strict: bool = True) -> list[str]:
    """Return the cells of one record; raise CellTooLarge, or csv.Error when it is not CSV."""
    try:
        rows = list(csv.reader(lines, delimiter=delimiter, strict=strict))
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise CellTooLarge(f"a cell is larger than {csv.field_size_limit():,} characters") from None
        raise
    if len(rows) > 1:  # a quote inside an unquoted cell: csv ends the record early
        raise csv.Error("a quote inside an unquoted cell")
    return rows[0] if rows else []


@dataclass(frozen=True)
class Layout:
    """Where the columns a source reads sit in one file's header."""

    delimiter: str
    width: int
    time: tuple[str, int]
    team: tuple[str, int] | None
    ident: tuple[str, int] | None
    questions: tuple[tuple[str, int], ...]  # (configured question, index)


class SurveyCsvSource:
    """Read every file the globs match; one batch per file."""

    def __init__(self, settings: CsvSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"SurveyCsvSource(paths={self.settings.paths!r})"

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        """Yield the responses of each file; report bad rows and files with ctx.problem."""
        teams = {t.name.casefold(): t.name for t in ctx.teams}
        # Teams another instance serves (--shard): their rows are its to read, not bad input.
        elsewhere = {name.casefold() for name in ctx.elsewhere}
        fixed_team: str | None = None
        if self.settings.team_column is None:
            assert self.settings.team is not None
            fixed_team = teams.get(self.settings.team.casefold())
            if fixed_team is None and self.settings.team.casefold() in elsewhere:
                ctx.progress(f"team {self.settings.team!r} is served by another instance: nothing to read")
                return
            if fixed_team is None:
                raise SourceError(f"team {self.settings.team!r} is not a configured team")
        for path in self._files(ctx):
            rel = self._relative(path)
            skipped: list[int] = []
            try:
                events = self._read(path, rel, teams, fixed_team, ctx, elsewhere, skipped)
            except FileProblem as exc:
                ctx.problem(f"{rel}: {exc}")
                continue
            others = f", {len(skipped)} for teams another instance serves" if skipped else ""
            ctx.progress(f"{rel}: {len(events)} responses{others}")
            yield Batch(events=events)

    def _files(self, ctx: CollectContext) -> list[Path]:
        found: dict[str, Path] = {}
        for pattern in self.settings.paths:
            full = Path(pattern).expanduser()
            # The config's folder is a literal path: a "[" in it is not a glob character.
            spec = (
                str(full)
                if full.is_absolute()
                else str(Path(glob.escape(str(self.settings.base_dir))) / full)
            )
            matches = [Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file()]
            if not matches:
                ctx.problem(f'paths "{pattern}": no file matches')
            for p in matches:
                found.setdefault(str(p.resolve()), p)
        return [found[k] for k in sorted(found)]

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.settings.base_dir.resolve()).as_posix()
        except ValueError:
            return str(path)

    def _load(self, path: Path) -> str:
        limit = self.settings.max_bytes
        try:
            size = path.stat().st_size
            if size > limit:
                raise FileProblem(f"is {size:,} bytes, more than {limit:,} (max_bytes); skipped")
            with path.open("rb") as f:
                data = f.read(limit + 1)  # the file may have grown since
            if len(data) > limit:
                raise FileProblem(f"is more than {limit:,} bytes (max_bytes); skipped")
            text = data.decode(self.settings.encoding)
        except UnicodeDecodeError:
            raise FileProblem(f"is not {self.settings.encoding} text (set encoding)") from None
        except OSError as exc:
            raise FileProblem(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
        if "\x00" in text:
            raise FileProblem("is not a CSV file (it holds binary data)")
        # A BOM can survive when encoding is not utf-8-sig, or appear twice after a re-save.
        return text.lstrip("\ufeff")

    def _layout(self, text: str) -> Layout:
        s = self.settings
        best: tuple[int, str, list[str]] | None = None
        for delimiter in (s.delimiter,) if s.delimiter else DELIMITERS:
            first = next(records(text), None)
            try:
                header = parse_record(first[1], delimiter) if first else None
            except CellTooLarge as exc:
                raise FileProblem(f"line 1: {exc}; the file is skipped") from None
            except csv.Error:
                raise FileProblem("is not valid CSV (line 1)") from None
            if not header:
                raise FileProblem("is empty (no header line)")
            names = [normalise_header(h) for h in header]
            missing = self._missing(names)
            if best is None or len(missing) < best[0]:
                best = (len(missing), delimiter, names)
            if not missing:
                break
        assert best is not None
        _, delimiter, names = best
        missing = self._missing(names)
        if missing:
            raise FileProblem(f"lacks the column(s) {', '.join(missing)}")

        def where(column: str) -> tuple[str, int]:
            key = normalise_header(column)
            if names.count(key) > 1:
                raise FileProblem(f"has the column {column} more than once")
            return column, names.index(key)

        return Layout(
            delimiter=delimiter,
            width=len(names),
            time=where(self._time_column(names) or ""),
            team=where(s.team_column) if s.team_column else None,
            ident=where(s.id_column) if s.id_column else None,
            questions=tuple(where(q) for q in s.scoring.questions),
        )

    def _time_column(self, names: Sequence[str]) -> str | None:
        if self.settings.submitted_at_column:
            return self.settings.submitted_at_column
        return next((c for c in TIME_COLUMNS if normalise_header(c) in names), None)

    def _missing(self, names: Sequence[str]) -> list[str]:
        s = self.settings
        time_column = self._time_column(names)
        wanted = [
            time_column or f"a time column ({', '.join(TIME_COLUMNS)}; or set submitted_at_column)",
            *([s.team_column] if s.team_column else []),
            *([s.id_column] if s.id_column else []),
            *s.scoring.questions,
        ]
        return [c for c in wanted if normalise_header(c) not in names]

    def _read(
        self,
        path: Path,
        rel: str,
        teams: Mapping[str, str],
        fixed_team: str | None,
        ctx: CollectContext,
        elsewhere: Collection[str],
        skipped: list[int],
    ) -> list[PersonSignal]:
        """Return the file's responses; rows of teams in `elsewhere` are left out, their lines in `skipped`."""
        text = self._load(path)
        layout = self._layout(text)
        scoring = self.settings.scoring
        # strict: an unterminated quote would otherwise swallow every later row unnoticed.
        rows = records(text)
        next(rows, None)  # the header, read by _layout
        events: list[PersonSignal] = []
        seen: dict[str, int] = {}
        for line, lines in rows:
            try:
                row = parse_record(lines, layout.delimiter)
            except CellTooLarge as exc:
                ctx.problem(f"{rel}: line {line}: {exc}; the row is skipped")
                continue
            except csv.Error as exc:
                ctx.problem(f"{rel}: line {line}: not valid CSV ({exc}); the rest of the file is skipped")
                break
            if not any(cell.strip() for cell in row):
                continue
            where = f"{rel}: line {line}"

            def cell(column: tuple[str, int], row: list[str] = row) -> str:
                name, index = column
                if index >= len(row):
                    raise AnswerError(f"column {name}: is missing (the row has {len(row)} cells)")
                return row[index]

            try:
                time_text = cell(layout.time)
                if not time_text.strip():
                    raise AnswerError(f"column {layout.time[0]}: is empty")
                try:
                    submitted = parse_submitted(time_text, scoring.tz, scoring.time_formats)
                except ValueError:
                    hint = "matches no time_format" if scoring.time_formats else "is not a known time format"
                    raise AnswerError(f"column {layout.time[0]}: {hint} (set time_format)") from None
                if layout.team is None:
                    assert fixed_team is not None
                    team = fixed_team
                else:
                    team_text = " ".join(cell(layout.team).split())
                    if not team_text:
                        raise AnswerError(f"column {layout.team[0]}: is empty")
                    found = teams.get(team_text.casefold())
                    if found is None and team_text.casefold() in elsewhere:
                        skipped.append(line)
                        continue
                    if found is None:
                        # The value itself stays out: the cell is free text to us.
                        raise AnswerError(f"column {layout.team[0]}: not a configured team")
                    team = found
                ident = self._ident(layout, cell, submitted.isoformat(), team, seen)
                answers: dict[str, float] = {}
                for question, column in zip(scoring.questions, layout.questions, strict=True):
                    text = cell(column)
                    try:
                        value = scoring.answer(text)
                    except AnswerError as exc:
                        raise AnswerError(f"column {column[0]}: {exc}") from None
                    if value is not None:
                        answers[question] = value
                if not answers:
                    raise AnswerError("no configured question is answered")
            except AnswerError as exc:
                ctx.problem(f"{where}: {exc}")
                continue
            events.append(
                PersonSignal(
                    id=ident,
                    kind="survey_response",
                    start=submitted,
                    end=submitted,
                    team=team,
                    attrs={"scores": scoring.scores(answers)},
                )
            )
        return events

    def _ident(self, layout: Layout, cell: Cell, submitted: str, team: str, seen: dict[str, int]) -> str:
        """Return a response's id: the same row in a later export gets the same one."""
        if layout.ident is not None:
            value = cell(layout.ident).strip()
            if not value:
                raise AnswerError(f"column {layout.ident[0]}: is empty")
            # Hashed: the tool's response token is not ours to keep.
            return "csv|id|" + hashlib.sha256(value.encode()).hexdigest()[:32]
        # The submission time and the team identify a response; the n-th response with the
        # same pair in a file keeps its n in every later export, which appends. Answers and
        # other cells stay out, so a change to `questions` or a column added to the form
        # does not give old responses new ids (and count them twice).
        key = f"{submitted}|{team}"
        n = seen.get(key, 0)
        seen[key] = n + 1
        return f"csv|{key}|{n}"
