"""Typed events that sources yield and the core stores.

This module is part of the public plugin API: plugins build these objects and
nothing else of the core's internals.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeAlias

__all__ = [
    "ACTION_KINDS",
    "Batch",
    "Change",
    "CollectContext",
    "Event",
    "LeadershipAction",
    "PersonSignal",
    "SignalsReplaced",
    "Source",
    "Sprint",
    "StatusCategory",
    "TeamInfo",
    "WebhookSource",
    "WorkItem",
    "WorkItemRemoved",
]


class StatusCategory(StrEnum):
    """Jira's three status categories, by their stable keys."""

    TODO = "new"
    IN_PROGRESS = "indeterminate"
    DONE = "done"


ACTION_KINDS: tuple[str, ...] = (
    "one_on_one",
    "team_check_in",
    "recognition",
    "deadline_renegotiated",
    "workload_rebalanced",
    "time_off_protected",
    "survey_follow_up",
    "recorded",
)


@dataclass(frozen=True, slots=True)
class Sprint:
    """A sprint a work item belongs to (or belonged to)."""

    id: str
    state: str  # "future" | "active" | "closed"
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One field change from a work item's history.

    `field` is one of:
    - "status": values are status category keys ("new", "indeterminate", "done");
    - "duedate": values are ISO dates ("2026-03-15") or None;
    - "assignee": values are person identifiers (an e-mail where the source knows it);
    - "sprint": values are comma-separated sprint ids, as Jira writes them.
    Person identifiers are pseudonymised by the core before anything is stored.
    """

    id: str  # stable within the item (Jira: history id + item index)
    at: datetime  # timezone-aware
    field: str
    from_value: str | None
    to_value: str | None
    author: str | None = None


@dataclass(frozen=True, slots=True)
class WorkItem:
    """The current state of a work item, with its full change history."""

    id: str  # stable within the source (Jira: the issue id)
    key: str  # human key ("PAY-12"): stored, never a label or a log line
    team: str
    created: datetime
    updated: datetime
    status_category: StatusCategory
    due: date | None = None
    assignee: str | None = None
    sprints: tuple[Sprint, ...] = ()
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkItemRemoved:
    """A work item that was deleted or no longer matches its team's query."""

    id: str
    team: str
    at: datetime


@dataclass(frozen=True, slots=True)
class WorkItemsCovered:
    """The source read a team's work items whole from `start` on (a first sync's window).

    The engine learns a team's normal only from history it has whole: before `start` plus a
    reference window, the team is learning. Send it once per first sync; repeats are harmless.
    """

    team: str
    start: datetime


@dataclass(frozen=True, slots=True)
class PersonSignal:
    """Something a calendar or survey says about a person or a team.

    `person` and `people` take e-mail addresses and are pseudonymised by the core, and so
    is `id` (a keyed hash: ids like calendar UIDs may embed an address), so keep ids stable;
    `attrs` holds only what a metric needs (never a title, a comment or a name).
    The kinds the engine reads (docs/signals.md):

    - "meeting": one occurrence of a meeting, counted once however many calendars show
      it: id = f"{UID}|{occurrence start, ISO 8601 UTC}"; person = the organizer;
      people = everyone attending who has not declined (organizer included);
      attrs = {"category": "one_on_one" | "check_in" | "meeting"} (from the title, which
      is read only to classify and never stored).
    - "time_off": a person's absence: id = f"{UID}|{occurrence}|{person}"; person; the span.
    - "timezone": a person's own time zone, as their calendar says: id = f"tz|{person}";
      person; start = end = when seen; attrs = {"tz": "America/New_York"}.
    - "survey_response": one anonymous response: id = a stable response id; team;
      start = end = submitted at; attrs = {"scores": {dimension: 0..1}}.
    """

    id: str
    kind: str
    start: datetime
    end: datetime
    person: str | None = None
    team: str | None = None
    attrs: Mapping[str, Any] = field(default_factory=dict)
    people: tuple[str, ...] = ()
    owner: str | None = None  # whose calendar (or feed) said so: see SignalsReplaced


@dataclass(frozen=True, slots=True)
class SignalsReplaced:
    """The signals that follow in this batch are all `owner` has of `kinds` in [start, end].

    The store first drops this source's stored signals of that owner and those kinds whose
    start lies in the window, so a meeting cancelled or moved off someone's time off goes
    away. Put it first in the batch, and send it only when the owner's data was read whole.
    """

    owner: str
    kinds: tuple[str, ...]
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class LeadershipAction:
    """A leadership action for a team (kinds in ACTION_KINDS)."""

    id: str
    team: str
    kind: str
    at: datetime
    person: str | None = None  # who it was for, pseudonymised by the core
    note: str | None = None  # recorded by hand; never exported


Event: TypeAlias = (
    WorkItem | WorkItemRemoved | WorkItemsCovered | PersonSignal | SignalsReplaced | LeadershipAction
)


@dataclass(frozen=True, slots=True)
class Batch:
    """Events to store together with the cursor that follows them, atomically."""

    events: Sequence[Event]
    cursor: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class TeamInfo:
    """A configured team as a source sees it (raw e-mails: sources need them)."""

    name: str
    manager: str
    members: tuple[str, ...]
    jql: str | None = None
    # The team's settings for this source: the keys the source declares per team
    # ([teams.sources.NAME] in the config), each the team's value, the source's or the default.
    settings: Mapping[str, Any] = field(default_factory=dict)


class CollectContext(Protocol):
    """What the core hands a source for one collection."""

    name: str  # the source's configured name
    teams: Sequence[TeamInfo]
    cursor: Mapping[str, Any] | None  # the last committed cursor, or None
    now: datetime  # the collection time (timezone-aware UTC)
    # How far back the engine reads history: a source's first collection (cursor None)
    # should reach back this far, so the first evaluations have data to judge by.
    history_from: datetime
    # Configured teams that another instance serves (`--shard`, `--teams`): input shared by
    # every instance (one survey export for all teams) names them, and their rows are another
    # instance's to read, not bad input here. Empty when this instance serves every team.
    elsewhere: Collection[str]

    def progress(self, message: str) -> None:
        """Report progress on a long collection (no personal data)."""

    def problem(self, message: str) -> None:
        """Report bad input the source skipped and went on without.

        Name the file and line or the field ("calendars/bob.ics: line 12: DTSTART is not a
        date"), never a person's name. The collection then counts as partly failed:
        `teampulse collect` exits 1 and teampulse_source_problems shows the count.
        """


class Source(Protocol):
    """A configured source: yields batches of events for one collection."""

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        """Yield batches; each is committed with its cursor before the next is asked for."""
        ...


class WebhookSource(Source, Protocol):
    """A source that also takes deliveries POSTed to `serve` at /api/v1/webhooks/NAME.

    `serve` collects webhook sources once before it listens, so `collect` is where such
    a source learns the teams (ctx.teams) it checks deliveries against.
    """

    def receive(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Sequence[Event]:
        """Check and parse one delivery; raise WebhookRejected to refuse it.

        Give each event a stable id derived from the delivery, so that a sender's retry
        is stored once.
        """
        ...
