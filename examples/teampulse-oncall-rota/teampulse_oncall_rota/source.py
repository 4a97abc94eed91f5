"""The "oncall-rota" source: on-call shifts from a CSV file (person,start,end), as people signals."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from teampulse import (
    Batch,
    CollectContext,
    Hours,
    PersonSignal,
    PluginConfig,
    Setting,
    Settings,
    SourceError,
    TeamInfo,
    Text,
    TimeZone,
    Whole,
)

from .hours import off_hours_seconds

__all__ = [
    "COLUMNS",
    "KIND",
    "LONGEST_SHIFT",
    "SETTINGS",
    "OncallRotaSettings",
    "OncallRotaSource",
    "parse_settings",
]

# A kind of the plugin's own: the engine does not read it, the on_call_off_hours signal does.
KIND = "on_call_shift"
COLUMNS = ("person", "start", "end")
LONGEST_SHIFT = timedelta(days=31)  # a longer one is a typo in the file, not a shift

SETTINGS = Settings(
    Setting(
        "path",
        Text(),
        description="The CSV file, relative to the config file: a header `person,start,end`, then one "
        "row per on-call shift.",
    ),
    Setting(
        "timezone",
        TimeZone(),
        "UTC",
        "The zone of the team's working hours, of dates, and of times written without an offset.",
        scope="both",
    ),
    Setting(
        "working_hours",
        Hours(),
        "09:00-17:00",
        "The team's working hours on weekdays: on call outside them, or at a weekend, is off-hours.",
        scope="both",
    ),
    Setting(
        "batch_size",
        Whole(1),
        500,
        "Rows stored together: a collection cut short goes on after the last batch stored.",
    ),
)


@dataclass(frozen=True)
class OncallRotaSettings:
    """A validated `[sources.NAME]` table with plugin = "oncall-rota"."""

    path: Path
    label: str  # the path as configured: messages name it
    timezone: ZoneInfo  # a team's own, in its [teams.sources.NAME] table, wins
    working_hours: tuple[time, time]
    batch_size: int


def parse_settings(config: PluginConfig) -> OncallRotaSettings:
    """Validate the table; raise ConfigError naming the key."""
    values = config.parse(SETTINGS)
    return OncallRotaSettings(
        path=config.path(values["path"]),
        label=values["path"],
        timezone=values["timezone"],
        working_hours=values["working_hours"],
        batch_size=values["batch_size"],
    )


class RowError(Exception):
    """A row that cannot be read; the message names the column, never a person."""


class OncallRotaSource:
    """Read the CSV file; store its shifts `batch_size` at a time, each batch with its cursor.

    Each shift carries the seconds of it outside its team's working hours (`off_hours_seconds`),
    in the team's zone: the only attribute the signal needs.

    The cursor holds the version of the input read (a SHA-256 of the file, of the people in
    configured teams and of the teams' zones and hours), how many versions were read, and how
    many rows of this one are stored. So an unchanged input is not read again, a collection that
    was cut short goes on where it stopped, and a changed file or team is read again whole
    (events are stored by id, so rows read twice are stored once).
    """

    def __init__(self, settings: OncallRotaSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"OncallRotaSource(path={self.settings.label!r})"

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        """Yield the rows not stored yet; report rows that cannot be read with ctx.problem."""
        data = self._read()
        # Each person's team settings: a member's own team, else a team they manage.
        people = {team.manager.lower(): team for team in ctx.teams}
        people.update({m.lower(): team for team in ctx.teams for m in team.members})
        version = self._version(data, people)
        cursor = ctx.cursor or {}
        reads = int(cursor.get("reads", 0))
        if cursor.get("version") == version:
            done = int(cursor["rows"])  # go on after the rows stored
        else:
            done, reads = 0, reads + 1  # a new version: read it whole
        rows = self._rows(data)
        stored = outside = 0
        size = self.settings.batch_size
        for first in range(done, len(rows), size):
            events: list[PersonSignal] = []
            for line, cells in rows[first : first + size]:
                try:
                    event = self._event(cells, people)
                except RowError as exc:
                    ctx.problem(f"{self.settings.label}: line {line}: {exc}")
                    continue
                if event is None:
                    outside += 1  # someone in no configured team: not ours to keep
                elif event.end >= ctx.history_from:  # older than the engine reads: not needed
                    events.append(event)
            stored += len(events)
            position = {"version": version, "reads": reads, "rows": min(first + size, len(rows))}
            yield Batch(events=events, cursor=position)
        if done < len(rows):
            ctx.progress(
                f"{self.settings.label}: {stored} shifts stored, {outside} about people in no configured team"
            )

    def _read(self) -> bytes:
        try:
            return self.settings.path.read_bytes()
        except OSError as exc:
            raise SourceError(
                f"{self.settings.label}: cannot be read ({exc.strerror or type(exc).__name__})"
            ) from None

    def _rows(self, data: bytes) -> list[tuple[int, dict[str, str]]]:
        """Return (line number, cells by column) of every row that is not blank."""
        label = self.settings.label
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SourceError(f"{label}: is not UTF-8 text") from None
        reader = csv.reader(io.StringIO(text))
        try:
            header = [cell.strip().lower() for cell in next(reader, [])]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise SourceError(f"{label}: the header lacks the column(s) {', '.join(missing)}")
            rows = []
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    rows.append((reader.line_num, dict(zip(header, cells, strict=False))))
        except csv.Error as exc:
            raise SourceError(f"{label}: line {reader.line_num}: not CSV ({exc})") from None
        return rows

    def _event(self, cells: Mapping[str, str], people: Mapping[str, TeamInfo]) -> PersonSignal | None:
        """Return the row's shift, or None when it is about someone in no configured team."""
        person = cells.get("person", "").strip().lower()
        if not person:
            raise RowError("person is empty")
        if "@" not in person:
            raise RowError("person is not an e-mail address")
        team = people.get(person)
        if team is None:
            return None
        zone, hours = self._team_settings(team)
        start = self._moment(cells.get("start", ""), "start", zone, end=False)
        end = self._moment(cells.get("end", ""), "end", zone, end=True)
        if end <= start:
            raise RowError("end is not after start")
        if end - start > LONGEST_SHIFT:
            raise RowError(f"the shift is longer than {LONGEST_SHIFT.days} days")
        # The same person and start is the same shift: a corrected end replaces the old one.
        return PersonSignal(
            id=f"{person}|{start.isoformat()}",
            kind=KIND,
            start=start,
            end=end,
            person=person,
            attrs={"off_hours_seconds": off_hours_seconds(start, end, zone, hours)},
        )

    def _version(self, data: bytes, people: Mapping[str, TeamInfo]) -> str:
        """Return what the stored shifts depend on, as a digest: the file, who is in which team, its hours."""
        digest = hashlib.sha256(data)
        for person, team in sorted(people.items()):
            zone, (begin, end) = self._team_settings(team)
            digest.update(f"\n{person} {team.name} {zone.key} {begin} {end}".encode())
        return digest.hexdigest()

    def _team_settings(self, team: TeamInfo) -> tuple[ZoneInfo, tuple[time, time]]:
        """Return the team's zone and working hours: its own, else the source's."""
        own: Mapping[str, Any] = team.settings or {}
        return own.get("timezone") or self.settings.timezone, own.get(
            "working_hours"
        ) or self.settings.working_hours

    def _moment(self, text: str, column: str, zone: ZoneInfo, end: bool) -> datetime:
        """Return a cell as a UTC time: a date is a whole day of `zone`, an end date included."""
        text = text.strip()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            if end:
                day += timedelta(days=1)  # the last day off ends at the next midnight
            return datetime.combine(day, time(), zone).astimezone(UTC)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise RowError(f"{column} is not an ISO 8601 date or time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)
