"""The contract suite: tests every source (and every plugin's config) passes, run by subclassing.

A plugin's test module subclasses SourceContract (or WebhookContract, or ConfigContract for a
notifier), names its kind and gives the fixtures the contract asks for; pytest then runs the
contract's tests against the plugin (docs/testing.md). The defaults of `teampulse_teams` and
`teampulse_now` come from the kit's pytest plugin; a subclass may override them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from teampulse.errors import ConfigError, WebhookRejected
from teampulse.kinds import NotifierKind, PluginConfig, SourceKind
from teampulse.model import Batch, Event, Source, TeamInfo, WebhookSource

from .checks import (
    canonical,
    check_batches,
    check_cursor_order,
    check_events,
    check_messages,
    find_personal,
    keyed,
)
from .context import RecordingContext
from .running import Run, collect, collect_cycles, json_round_trip
from .stored import StoredRows, stored

__all__ = ["ConfigContract", "SourceContract", "WebhookContract"]

WRONG_TABLE = ["not", "a", "table"]  # what replaces a table option's value
WRONG_VALUE = {"not": "a value"}  # what replaces any other option's value: no scalar or list option takes it
MAX_RESTARTS = 4  # places a collection is cut at: the first batch, the last, and between


def _people(teams: Sequence[TeamInfo]) -> list[str]:
    return [p for t in teams for p in (t.manager, *t.members)]


# The core's own bookkeeping: runs that leave the same data may differ there (the cursors, and
# the changelog that tells the evaluation cache what changed, in the order it was written).
_BOOKKEEPING = frozenset({"cursors", "changelog"})


def _data(rows: StoredRows) -> StoredRows:
    """Return the stored rows without the core's bookkeeping tables."""
    return {table: r for table, r in rows.items() if table not in _BOOKKEEPING}


def _difference(expected: StoredRows, got: StoredRows) -> str:
    lines = []
    for table in sorted(set(expected) | set(got)):
        want, have = expected.get(table, []), got.get(table, [])
        missing = [r for r in want if r not in have]
        extra = [r for r in have if r not in want]
        lines += [f"  {table}: missing {r!r}" for r in missing[:3]] + [
            f"  {table}: extra {r!r}" for r in extra[:3]
        ]
    return "\n".join(lines)


class ConfigContract:
    """The config contract: a valid table builds, an unknown key or a wrong value is a ConfigError naming its key.

    Subclass it (a class named Test...) and set `kind`; give the fixture `options`: a valid
    table without `plugin`, its input made ready under `tmp_path` (the config's folder).
    """

    kind: ClassVar[str | SourceKind | NotifierKind]  # the kind's registered name, or the kind itself
    section: ClassVar[str] = "sources"  # "notifiers" for a notifier kind
    name: ClassVar[str | None] = None  # the table's name (sources.NAME); default: the kind's name
    # Values the type checks cannot find: (key, value) pairs each of which must be refused naming the key.
    bad_values: ClassVar[Sequence[tuple[str, Any]]] = ()

    def resolved_kind(self) -> SourceKind | NotifierKind:
        """Return the kind under test; a name is looked up among the installed plugins, as the core does."""
        if not isinstance(self.kind, str):
            return self.kind
        # Imported here, as in registered(): pytest imports the kit at start-up.
        from teampulse.plugins import get_plugin_manager, load_registry

        registry = load_registry(get_plugin_manager())
        kinds: Mapping[str, SourceKind | NotifierKind] = (
            registry.notifiers if self.section == "notifiers" else registry.sources
        )
        if self.kind not in kinds:
            raise AssertionError(
                f"no installed plugin registers the {self.section} kind {self.kind!r} "
                f"(installed: {', '.join(sorted(kinds)) or 'none'}): is the plugin installed with its entry point?"
            )
        return kinds[self.kind]

    def table_name(self) -> str:
        """Return the configured name of the table under test."""
        return self.name or self.resolved_kind().name

    def create(self, options: Mapping[str, Any], base_dir: Path) -> Any:
        """Build the source or notifier from a table, as the core does from the config file."""
        kind = self.resolved_kind()
        table = {"plugin": kind.name, **options}
        return kind.create(PluginConfig(self.table_name(), self.section, table, base_dir))

    def _refused(self, options: Mapping[str, Any], base_dir: Path, key: str, what: str) -> str | None:
        """Return why building with `options` did not refuse `key` clearly, or None when it did."""
        full = f"{self.section}.{self.table_name()}.{key}"
        try:
            self.create(options, base_dir)
        except ConfigError as exc:
            if exc.key == full or exc.key.startswith((full + ".", full + "[")):
                return None
            return f"{what}: the ConfigError names {exc.key!r}, not {full!r}: {exc}"
        except Exception as exc:
            return f"{what}: raised {type(exc).__name__} ({exc}), not a ConfigError naming {full!r}"
        return f"{what}: accepted"

    def test_the_valid_options_build(self, options: Mapping[str, Any], tmp_path: Path) -> None:
        self.create(options, tmp_path)

    def test_an_unknown_key_is_refused_naming_it(self, options: Mapping[str, Any], tmp_path: Path) -> None:
        failure = self._refused(
            {**options, "no_such_option": 1}, tmp_path, "no_such_option", "an unknown key"
        )
        assert failure is None, failure

    def test_wrong_values_are_refused_naming_their_key(
        self, options: Mapping[str, Any], tmp_path: Path
    ) -> None:
        failures = []
        for key, value in options.items():
            if key == "plugin" or value is None:
                continue
            wrong = WRONG_TABLE if isinstance(value, Mapping) else WRONG_VALUE
            failures.append(self._refused({**options, key: wrong}, tmp_path, key, f"{key} = {wrong!r}"))
        for key, value in self.bad_values:
            failures.append(self._refused({**options, key: value}, tmp_path, key, f"{key} = {value!r}"))
        problems = [f for f in failures if f]
        assert not problems, "wrong values not refused clearly:\n  " + "\n  ".join(problems)


class SourceContract(ConfigContract):
    """The source contract; besides `kind` and `options`, give the fixture `break_input`.

    `break_input` makes part of the input bad (a file that does not parse, a reply missing a
    field) and returns the text that names it in the problem the source must report, such as
    "calendar #2" or "pulse.csv: line 3". A source that commits a cursor defines cursor_order.
    """

    # Texts of the test input that must never be stored: people's names, titles, free-text answers.
    private_texts: ClassVar[Sequence[str]] = ()

    def cursor_order(self, cursor: Mapping[str, Any]) -> Any:
        """Return the cursor's position: comparable, or a mapping of positions (one per team, say)."""
        raise AssertionError(
            f"the source commits a cursor ({cursor!r}): define cursor_order(self, cursor) in "
            f"{type(self).__name__} to say what must never move backward (docs/testing.md)"
        )

    # -- helpers --

    def source(self, options: Mapping[str, Any], base_dir: Path) -> Source:
        """Build the source under test."""
        built: Source = self.create(options, base_dir)
        return built

    def context(
        self, teams: Sequence[TeamInfo], now: datetime, cursor: Mapping[str, Any] | None = None
    ) -> RecordingContext:
        """Return a first collection's context (or one from `cursor`) for the source under test."""
        return RecordingContext(teams, cursor, now, name=self.table_name())

    def collected(self, source: Source, context: RecordingContext, limit: int | None = None) -> Run:
        """Collect valid input: a failed collection or a problem fails the test."""
        run = collect(source, context, limit=limit)
        assert run.error is None, (
            f"the valid input failed to collect: {type(run.error).__name__}: {run.error}"
        )
        assert not run.problems, "the valid input gave problems:\n  " + "\n  ".join(run.problems)
        return run

    # -- the contract --

    def test_events_are_well_typed(
        self,
        options: Mapping[str, Any],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        run = self.collected(self.source(options, tmp_path), self.context(teampulse_teams, teampulse_now))
        assert run.events, "the valid input gave no events: the contract would check nothing"
        check_batches(run.batches, teampulse_teams)
        for cursor in run.cursors:
            json_round_trip(cursor)

    def test_the_same_input_gives_the_same_events(
        self,
        options: Mapping[str, Any],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        source = self.source(options, tmp_path)
        runs = [
            self.collected(source, self.context(teampulse_teams, teampulse_now)),
            # The same object again (serve keeps it between cycles), and one built afresh.
            self.collected(source, self.context(teampulse_teams, teampulse_now)),
            self.collected(self.source(options, tmp_path), self.context(teampulse_teams, teampulse_now)),
        ]
        first, *others = (
            sorted(json.dumps(canonical(ev), sort_keys=True) for ev in run.events) for run in runs
        )
        for n, events in enumerate(others, 2):
            extra = [e for e in events if e not in first][:3]
            missing = [e for e in first if e not in events][:3]
            assert events == first, (
                f"collection {n} of the same input gave other events than the first:\n"
                f"  only in the first: {missing}\n  only in collection {n}: {extra}"
            )

    def test_a_rerun_from_the_cursor_changes_nothing(
        self,
        options: Mapping[str, Any],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        source = self.source(options, tmp_path)
        first = self.collected(source, self.context(teampulse_teams, teampulse_now))
        again = self.collected(source, first.next_context())
        before, after = keyed(first.events), keyed(again.events)
        new = [key for key in after if key not in before]
        changed = [key for key in after if key in before and after[key] != before[key]]
        assert not new, f"a re-run from the cursor, on the same input, yielded new events: {new[:5]}"
        assert not changed, f"a re-run from the cursor, on the same input, changed events: {changed[:5]}"
        once, twice = _data(stored(first)), _data(stored(first, again))
        assert once == twice, "a re-run from the cursor changed the store:\n" + _difference(once, twice)

    def test_the_cursor_is_json_and_only_moves_forward(
        self,
        options: Mapping[str, Any],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        runs = collect_cycles(self.source(options, tmp_path), self.context(teampulse_teams, teampulse_now), 3)
        for n, run in enumerate(runs, 1):
            assert run.error is None, f"collection {n} failed: {run.error}"
        cursors = [c for run in runs for c in run.cursors]
        for cursor in cursors:
            back = json_round_trip(cursor)
            assert back == cursor, f"the cursor comes back from the store changed: {cursor!r} -> {back!r}"
        check_cursor_order(cursors, self.cursor_order)

    def test_a_restart_from_the_committed_cursor_loses_nothing(
        self,
        options: Mapping[str, Any],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        whole = self.collected(self.source(options, tmp_path), self.context(teampulse_teams, teampulse_now))
        count = len(whole.batches)
        assert count >= 2, (
            f"the valid input gives {count} batch(es): give the contract input that takes several, "
            "so that a restart can cut the collection"
        )
        expected = _data(stored(whole))
        cuts = sorted({1 + (count - 2) * i // (MAX_RESTARTS - 1) for i in range(MAX_RESTARTS)})
        for cut in cuts:
            # The process dies after `cut` batches; a new one builds the source and resumes.
            part = self.collected(
                self.source(options, tmp_path), self.context(teampulse_teams, teampulse_now), limit=cut
            )
            rest = self.collected(self.source(options, tmp_path), part.next_context())
            if part.cursor is not None:
                check_cursor_order([part.cursor, *rest.cursors], self.cursor_order)
            got = _data(stored(part, rest))
            assert got == expected, (
                f"a restart after batch {cut} of {count}, from the cursor then committed ({part.cursor!r}), "
                "left another store than one whole collection:\n" + _difference(expected, got)
            )

    def test_bad_input_is_a_problem_naming_it(
        self,
        options: Mapping[str, Any],
        break_input: str,
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        try:
            run = collect(self.source(options, tmp_path), self.context(teampulse_teams, teampulse_now))
        except Exception as exc:
            raise AssertionError(
                f"bad input ({break_input}) crashed the source: {type(exc).__name__}: {exc}"
            ) from exc
        assert run.error is None, (
            f"bad input ({break_input}) failed the whole collection ({run.error}): skip it and report "
            "it with ctx.problem, so the rest of the input is still read"
        )
        assert any(break_input in p for p in run.problems), (
            f"no problem names the bad input {break_input!r}; the problems: {run.problems}"
        )
        check_messages(run.problems, _people(teampulse_teams), self.private_texts)
        check_batches(run.batches, teampulse_teams)

    def test_nothing_personal_is_stored_or_labelled(
        self,
        options: Mapping[str, Any],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        source = self.source(options, tmp_path)
        first = self.collected(source, self.context(teampulse_teams, teampulse_now))
        again = self.collected(source, first.next_context())
        rows = stored(first, again)
        cells = [str(cell) for table in rows.values() for row in table for cell in row if cell is not None]
        found = find_personal(cells, _people(teampulse_teams), self.private_texts)
        assert not found, "personal data reached the store (and so the metrics):\n  " + "\n  ".join(
            found[:12]
        )
        for run in (first, again):
            check_messages(
                run.problems + run.context.progress_messages, _people(teampulse_teams), self.private_texts
            )


class WebhookContract(ConfigContract):
    """The contract of a source that takes deliveries (WebhookSource.receive).

    Besides `kind` and `options`, give the fixtures `delivery` (body, headers): a valid signed
    delivery, and `bad_delivery` (body, headers): one to refuse with a 4xx (parametrise it for
    several).
    """

    private_texts: ClassVar[Sequence[str]] = ()

    def receiver(
        self, options: Mapping[str, Any], base_dir: Path, teams: Sequence[TeamInfo], now: datetime
    ) -> WebhookSource:
        """Build the source and run the collection `serve` runs before it listens."""
        source: WebhookSource = self.create(options, base_dir)
        run = collect(source, RecordingContext(teams, None, now, name=self.table_name()))
        assert run.error is None, f"the collection before serving failed: {run.error}"
        return source

    def test_a_delivery_gives_well_typed_events(
        self,
        options: Mapping[str, Any],
        delivery: tuple[bytes, Mapping[str, str]],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        source = self.receiver(options, tmp_path, teampulse_teams, teampulse_now)
        events = list(source.receive(*delivery, teampulse_now))
        assert events, "the valid delivery gave no events: the contract would check nothing"
        check_events(events, teampulse_teams)

    def test_a_retried_delivery_is_stored_once(
        self,
        options: Mapping[str, Any],
        delivery: tuple[bytes, Mapping[str, str]],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        source = self.receiver(options, tmp_path, teampulse_teams, teampulse_now)
        first: list[Event] = list(source.receive(*delivery, teampulse_now))
        retry: list[Event] = list(source.receive(*delivery, teampulse_now))
        assert keyed(retry) == keyed(first), "a retried delivery gave other ids or events than the first"
        once, twice = stored([Batch(first)]), stored([Batch(first)], [Batch(retry)])
        assert once == twice, "a retried delivery changed the store:\n" + _difference(once, twice)

    def test_a_bad_delivery_is_refused_clearly(
        self,
        options: Mapping[str, Any],
        bad_delivery: tuple[bytes, Mapping[str, str]],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        source = self.receiver(options, tmp_path, teampulse_teams, teampulse_now)
        try:
            events = source.receive(*bad_delivery, teampulse_now)
        except WebhookRejected as exc:
            assert 400 <= exc.status < 500, f"a bad delivery must be a 4xx, not {exc.status}: {exc}"
            # Only the sender reads the answer (serve does not log it): it may quote what they sent.
            message = str(exc)
            assert message.strip() and "\n" not in message, (
                f"the refusal must say why in one line: {message!r}"
            )
            return
        except Exception as exc:
            raise AssertionError(f"a bad delivery crashed the source: {type(exc).__name__}: {exc}") from exc
        raise AssertionError(f"a bad delivery was accepted: {events!r}")

    def test_nothing_personal_is_stored(
        self,
        options: Mapping[str, Any],
        delivery: tuple[bytes, Mapping[str, str]],
        tmp_path: Path,
        teampulse_teams: Sequence[TeamInfo],
        teampulse_now: datetime,
    ) -> None:
        source = self.receiver(options, tmp_path, teampulse_teams, teampulse_now)
        rows = stored([Batch(list(source.receive(*delivery, teampulse_now)))])
        cells = [str(cell) for table in rows.values() for row in table for cell in row if cell is not None]
        found = find_personal(cells, _people(teampulse_teams), self.private_texts)
        assert not found, "personal data reached the store (and so the metrics):\n  " + "\n  ".join(
            found[:12]
        )
