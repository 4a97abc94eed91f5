"""The checks of the contract suite, usable on their own: each raises AssertionError saying what is wrong."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from teampulse.model import (
    ACTION_KINDS,
    Batch,
    Change,
    Event,
    LeadershipAction,
    PersonSignal,
    SignalsReplaced,
    Sprint,
    StatusCategory,
    TeamInfo,
    WorkItem,
    WorkItemRemoved,
    WorkItemsCovered,
)

__all__ = [
    "canonical",
    "check_batches",
    "check_cursor_order",
    "check_events",
    "check_messages",
    "find_personal",
    "keyed",
]

EVENT_TYPES = (WorkItem, WorkItemRemoved, WorkItemsCovered, PersonSignal, SignalsReplaced, LeadershipAction)
CHANGE_FIELDS = ("status", "duedate", "assignee", "sprint")
STATUS_KEYS = frozenset(c.value for c in StatusCategory)
MEETING_CATEGORIES = ("one_on_one", "check_in", "meeting")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
SHOWN = 12  # offences listed in one failure; the rest are counted


def _fail(what: str, offences: Sequence[str]) -> None:
    if offences:
        more = f"\n  ... and {len(offences) - SHOWN} more" if len(offences) > SHOWN else ""
        raise AssertionError(f"{what}:\n  " + "\n  ".join(offences[:SHOWN]) + more)


def _aware(value: object) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None


def _text(value: object, optional: bool = False) -> bool:
    return (optional and value is None) or (isinstance(value, str) and value != "")


def _json(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _describe(n: int, ev: object) -> str:
    ident = getattr(ev, "id", None) or getattr(ev, "team", None) or getattr(ev, "owner", None)
    return f"event #{n} ({type(ev).__name__}{f' {ident!r}' if ident else ''})"


def check_events(events: Iterable[Event], teams: Sequence[TeamInfo]) -> None:
    """Check every event is a teampulse event with well-typed fields and a configured team.

    Times must be timezone-aware, ids non-empty strings, teams the configured names as spelt
    in the config, and the kinds the engine reads (docs/signals.md) must carry what it reads.
    """
    names = {t.name for t in teams}
    offences: list[str] = []
    for n, ev in enumerate(events, 1):
        where = _describe(n, ev)
        if not isinstance(ev, EVENT_TYPES):
            offences.append(f"{where}: not a teampulse event (expected one of teampulse.model's)")
            continue
        offences += [f"{where}: {o}" for o in _event_offences(ev, names)]
    _fail("events that are not well-typed", offences)


def _event_offences(ev: Event, teams: set[str]) -> list[str]:
    out: list[str] = []

    def team(value: object, optional: bool = False) -> None:
        if not (optional and value is None) and value not in teams:
            out.append(f"team {value!r} is not a configured team ({', '.join(sorted(teams))})")

    def times(**values: object) -> None:
        for name, value in values.items():
            if not _aware(value):
                out.append(f"{name} must be a timezone-aware datetime, not {value!r}")

    if isinstance(ev, WorkItem):
        if not _text(ev.id):
            out.append("id must be a non-empty string")
        if not isinstance(ev.key, str):
            out.append("key must be a string")
        team(ev.team)
        times(created=ev.created, updated=ev.updated)
        if _aware(ev.created) and _aware(ev.updated) and ev.updated < ev.created:
            out.append("updated is before created")
        if not isinstance(ev.status_category, StatusCategory):
            out.append(f"status_category must be a StatusCategory, not {ev.status_category!r}")
        if ev.due is not None and (isinstance(ev.due, datetime) or not isinstance(ev.due, date)):
            out.append(f"due must be a date or None, not {ev.due!r}")
        if not _text(ev.assignee, optional=True):
            out.append("assignee must be a person identifier or None")
        if not isinstance(ev.sprints, tuple) or not all(isinstance(s, Sprint) for s in ev.sprints):
            out.append("sprints must be a tuple of Sprint")
        else:
            for s in ev.sprints:
                if not _text(s.id) or not isinstance(s.state, str):
                    out.append(f"sprint {s!r}: id must be a non-empty string and state a string")
                times(
                    **{
                        f"sprint {s.id} {k}": v
                        for k, v in (("start", s.start), ("end", s.end))
                        if v is not None
                    }
                )
        out += _change_offences(ev.changes)
    elif isinstance(ev, WorkItemRemoved):
        if not _text(ev.id):
            out.append("id must be a non-empty string")
        team(ev.team)
        times(at=ev.at)
    elif isinstance(ev, WorkItemsCovered):
        team(ev.team)
        times(start=ev.start)
    elif isinstance(ev, PersonSignal):
        out += _signal_offences(ev, team, times)
    elif isinstance(ev, SignalsReplaced):
        if not _text(ev.owner):
            out.append("owner must be a person identifier")
        if not isinstance(ev.kinds, tuple) or not ev.kinds or not all(_text(k) for k in ev.kinds):
            out.append("kinds must be a non-empty tuple of signal kinds")
        times(start=ev.start, end=ev.end)
        if _aware(ev.start) and _aware(ev.end) and ev.end < ev.start:
            out.append("end is before start")
    elif isinstance(ev, LeadershipAction):
        if not _text(ev.id):
            out.append("id must be a non-empty string")
        team(ev.team)
        if ev.kind not in ACTION_KINDS:
            out.append(f"kind {ev.kind!r} is not one of ACTION_KINDS")
        times(at=ev.at)
        if not _text(ev.person, optional=True) or not (ev.note is None or isinstance(ev.note, str)):
            out.append("person must be a person identifier or None, and note a string or None")
    return out


def _change_offences(changes: object) -> list[str]:
    if not isinstance(changes, tuple) or not all(isinstance(c, Change) for c in changes):
        return ["changes must be a tuple of Change"]
    out: list[str] = []
    seen: set[str] = set()
    for c in changes:
        where = f"change {c.id!r}"
        if not _text(c.id) or c.id in seen:
            out.append(f"{where}: ids must be non-empty and unique within the item")
        seen.add(c.id)
        if not _aware(c.at):
            out.append(f"{where}: at must be a timezone-aware datetime, not {c.at!r}")
        if c.field not in CHANGE_FIELDS:
            out.append(f"{where}: field {c.field!r} is not one of {', '.join(CHANGE_FIELDS)}")
        for value in (c.from_value, c.to_value):
            if value is None:
                continue
            if not isinstance(value, str):
                out.append(f"{where}: values must be strings or None, not {value!r}")
            elif c.field == "status" and value not in STATUS_KEYS:
                out.append(f"{where}: status value {value!r} is not a status category key")
            elif c.field == "duedate" and not _iso_date(value):
                out.append(f"{where}: due date value {value!r} is not an ISO date")
    return out


def _iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _signal_offences(ev: PersonSignal, team: Callable[..., None], times: Callable[..., None]) -> list[str]:
    out: list[str] = []
    if not _text(ev.id):
        out.append("id must be a non-empty string")
    if not _text(ev.kind):
        out.append("kind must be a non-empty string")
    times(start=ev.start, end=ev.end)
    if _aware(ev.start) and _aware(ev.end) and ev.end < ev.start:
        out.append("end is before start")
    if not _text(ev.person, optional=True) or not _text(ev.owner, optional=True):
        out.append("person and owner must be person identifiers or None")
    if not isinstance(ev.people, tuple) or not all(_text(p) for p in ev.people):
        out.append("people must be a tuple of person identifiers")
    team(ev.team, optional=True)
    attrs = ev.attrs
    if not isinstance(attrs, Mapping) or not all(isinstance(k, str) for k in attrs) or not _json(dict(attrs)):
        return [*out, "attrs must be a mapping with string keys that JSON can hold"]
    # What the engine reads of each kind it knows (docs/signals.md).
    if ev.kind == "meeting" and attrs.get("category") not in MEETING_CATEGORIES:
        out.append(f"a meeting's attrs['category'] must be one of {', '.join(MEETING_CATEGORIES)}")
    elif ev.kind in ("time_off", "timezone") and ev.person is None:
        out.append(f"a {ev.kind} signal needs its person")
    if ev.kind == "timezone" and not _zone(attrs.get("tz")):
        out.append(f"a timezone signal's attrs['tz'] must be an IANA time zone, not {attrs.get('tz')!r}")
    elif ev.kind == "survey_response":
        if ev.team is None:
            out.append("a survey_response needs its team")
        scores = attrs.get("scores")
        if not isinstance(scores, Mapping) or not scores or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            and math.isfinite(v) and 0 <= v <= 1 for k, v in scores.items()
        ):  # fmt: skip
            out.append("a survey_response's attrs['scores'] must map dimensions to numbers in [0, 1]")
    return out


def _zone(name: object) -> bool:
    if not isinstance(name, str) or not name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def check_batches(batches: Iterable[Batch], teams: Sequence[TeamInfo]) -> None:
    """Check the batches and their events; a batch's SignalsReplaced come first and own what follows.

    The store replaces an owner's signals of the replaced kinds by those that follow in the
    batch: a signal of such a kind must carry one of the replaced owners, or the next re-read
    would not replace it.
    """
    offences: list[str] = []
    events: list[Event] = []
    for n, batch in enumerate(batches, 1):
        if not isinstance(batch, Batch):
            offences.append(f"batch #{n}: not a teampulse Batch: {batch!r}")
            continue
        if not isinstance(batch.events, list | tuple):
            offences.append(f"batch #{n}: events must be a list or a tuple")
            continue
        if batch.cursor is not None and not isinstance(batch.cursor, Mapping):
            offences.append(f"batch #{n}: the cursor must be a mapping or None")
        events += batch.events
        owners: dict[str, set[str]] = {}
        signalled = False
        for ev in batch.events:
            if isinstance(ev, SignalsReplaced):
                if signalled:
                    offences.append(f"batch #{n}: SignalsReplaced for {ev.owner!r} comes after a signal")
                for kind in ev.kinds if isinstance(ev.kinds, tuple) else ():
                    owners.setdefault(kind, set()).add(ev.owner)
            elif isinstance(ev, PersonSignal):
                signalled = True
                if ev.kind in owners and ev.owner not in owners[ev.kind]:
                    offences.append(
                        f"batch #{n}: {ev.kind} signal {ev.id!r} has owner {ev.owner!r}, "
                        f"not the replaced owner ({', '.join(sorted(owners[ev.kind]))})"
                    )
    _fail("batches that are not well-formed", offences)
    check_events(events, teams)


def check_cursor_order(
    cursors: Sequence[Mapping[str, Any]], order: Callable[[Mapping[str, Any]], Any]
) -> None:
    """Check that cursors never move backward: order(cursor) never decreases from one to the next.

    `order` returns a comparable position, or a mapping of positions (one per team, say) each
    of which must be kept and never decrease.
    """
    for n, (before, after) in enumerate(pairwise(cursors), 1):
        a, b = order(before), order(after)
        try:
            if isinstance(a, Mapping):
                moved = isinstance(b, Mapping) and all(k in b and b[k] >= v for k, v in a.items())
            else:
                moved = b >= a
        except TypeError as exc:
            raise AssertionError(
                f"cursor_order gave positions that do not compare ({exc}): {a!r}, {b!r}"
            ) from None
        if not moved:
            raise AssertionError(
                f"the cursor moved backward (cursor #{n} to #{n + 1}):\n  {before!r}\n  -> {after!r}\n"
                f"  positions {a!r} -> {b!r}"
            )


def find_personal(texts: Iterable[str], people: Iterable[str], private: Iterable[str] = ()) -> list[str]:
    """Return what the texts hold of people's e-mails and their local parts, the private texts, any e-mail."""
    needles: list[tuple[str, re.Pattern[str]]] = []
    for email in {p.strip().lower() for p in people if p}:
        needles.append((email, re.compile(re.escape(email))))
        local = email.split("@", 1)[0]
        if len(local) >= 3:
            needles.append((local, re.compile(rf"(?<![\w.-]){re.escape(local)}(?![\w-])")))
    for text in {t.strip().lower() for t in private if t.strip()}:
        needles.append((text, re.compile(rf"(?<!\w){re.escape(text)}(?!\w)")))
    needles.append(("an e-mail address", EMAIL))
    found: list[str] = []
    for text in texts:
        lowered = text.lower()
        for label, pattern in needles:
            match = pattern.search(lowered)
            if match:
                found.append(f"{label} in {_around(text, match.start(), match.end())}")
    return found


def _around(text: str, start: int, end: int) -> str:
    return repr(text[max(0, start - 40) : end + 40])


def check_messages(messages: Iterable[str], people: Iterable[str], private: Iterable[str] = ()) -> None:
    """Check problem and progress messages: one line each, naming no person and no private text."""
    messages = list(messages)
    offences = [f"not one line: {m!r}" for m in messages if not m.strip() or "\n" in m]
    offences += find_personal(messages, people, private)
    _fail("messages that are not one line or name a person", offences)


def canonical(value: Any) -> Any:
    """Return an event (or anything it holds) as plain JSON-able data, for comparing events."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, date):
        return ["date", value.isoformat()]
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        return {"type": type(value).__name__, **{name: canonical(getattr(value, name)) for name in fields}}
    return value


def keyed(events: Iterable[Event]) -> dict[tuple[str, str], str]:
    """Return the events the store keeps by id, as (type, id) -> their canonical JSON (the last one wins)."""
    out: dict[tuple[str, str], str] = {}
    for ev in events:
        if isinstance(ev, WorkItem | PersonSignal | LeadershipAction):
            ident = f"{ev.team}|{ev.id}" if isinstance(ev, WorkItem) else ev.id
            out[(type(ev).__name__, ident)] = json.dumps(canonical(ev), sort_keys=True)
    return out
