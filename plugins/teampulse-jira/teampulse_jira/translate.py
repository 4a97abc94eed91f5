"""Jira issue JSON (as search returns it) into teampulse WorkItems."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Any

from teampulse import Change, Sprint, StatusCategory, WorkItem

from .timeparse import parse_date, parse_ts

__all__ = ["SPRINT_SCHEMA", "People", "Translator", "parse_sprint", "status_map"]

SPRINT_SCHEMA = "com.pyxis.greenhopper.jira:gh-sprint"
_CATEGORIES = {c.value: c for c in StatusCategory}
# Data Center (and old Server) serialise sprints as "...Sprint@1a2b[id=12,state=ACTIVE,...]".
_SPRINT_ID = re.compile(r"[\[,]id=(\d+)")
_SPRINT_STATE = re.compile(r"[\[,]state=(\w+)")
_SPRINT_START = re.compile(r"[\[,]startDate=([^,\]]*)")
_SPRINT_END = re.compile(r"[\[,]endDate=([^,\]]*)")
_AT = attrgetter("at")
_SPRINTS_KEPT = 10_000  # parsed sprint values a translator remembers (a page names a few, again and again)
_PLAIN = frozenset({str, int, type(None)})


def status_map(statuses: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Map status ids to status category keys from a `GET status` reply."""
    result: dict[str, str] = {}
    for status in statuses:
        category = (status.get("statusCategory") or {}).get("key")
        if status.get("id") is not None and category in _CATEGORIES:
            result[str(status["id"])] = category
    return result


def _match(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    value = found.group(1) if found else None
    return None if value in (None, "", "<null>") else value


def parse_sprint(value: object) -> Sprint | None:
    """Parse one sprint field value: a Cloud object or a Data Center string."""
    if isinstance(value, Mapping):
        sprint_id = value.get("id")
        if sprint_id is None:
            return None
        return Sprint(
            id=str(sprint_id),
            state=str(value.get("state") or "").lower(),
            start=parse_ts(value.get("startDate")),
            end=parse_ts(value.get("endDate")),
        )
    if isinstance(value, str):
        sprint_id = _match(_SPRINT_ID, value)
        if sprint_id is None:
            return None
        return Sprint(
            id=sprint_id,
            state=(_match(_SPRINT_STATE, value) or "").lower(),
            start=parse_ts(_match(_SPRINT_START, value)),
            end=parse_ts(_match(_SPRINT_END, value)),
        )
    return None


class People:
    """Who a Jira user is, from a stable identifier alone, whatever the order users are met in.

    A user is known by its account id (Cloud) or its user key (Data Center: change items carry
    the key; names can be renamed). A configured person (a team's manager or member) becomes
    their e-mail address, as the rest of teampulse knows them; anyone else becomes
    "jira:<id>", even where Jira shows an address. The id -> address map comes from user
    objects that show a configured address and from looking configured addresses up
    (user/search); the source looks up every configured address not yet mapped before it
    translates a page naming an unmapped id, so the answer never depends on what came first.
    """

    def __init__(self, cloud: bool) -> None:
        self.cloud = cloud
        self.emails: dict[str, str] = {}  # accountId (Cloud) or user key (DC) -> configured e-mail
        self.configured: frozenset[str] = frozenset()  # lower-case addresses of configured people
        self.unknown = False  # set when an id not mapped to a configured person was met

    def configure(self, emails: Iterable[str]) -> None:
        """Set the configured people's addresses (every team's manager and members)."""
        self.configured = frozenset(e.strip().lower() for e in emails if e and e.strip())

    def ident(self, user: Mapping[str, Any]) -> str | None:
        """Return a user object's stable identifier: accountId (Cloud), key or else name (DC)."""
        value = user.get("accountId") if self.cloud else (user.get("key") or user.get("name"))
        return str(value) if value else None

    def learn(self, user: Mapping[str, Any]) -> str | None:
        """Return a user object's person identifier; remember the id of a configured address."""
        ident = self.ident(user)
        if ident is not None:
            known = self.emails.get(ident)
            if known is not None:
                return known
        email = user.get("emailAddress")
        email = email.strip().lower() if isinstance(email, str) else None
        if email and email in self.configured:
            if ident is not None:
                self.emails[ident] = email
            return email
        return self.by_id(ident)

    def by_id(self, ident: object) -> str | None:
        """Return the person identifier for a raw Jira user id (accountId, or key on DC)."""
        if not ident:
            return None
        ident = str(ident)
        email = self.emails.get(ident)
        if email is not None:
            return email
        self.unknown = True
        return "jira:" + ident

    def known_emails(self) -> set[str]:
        """Return the e-mail addresses whose Jira ids are known."""
        return set(self.emails.values())


class Translator:
    """Turn issue dicts into WorkItems; holds the per-collection lookups."""

    def __init__(self, statuses: Mapping[str, str], sprint_field: str | None, people: People) -> None:
        self.statuses = statuses
        self.sprint_field = sprint_field
        self.people = people
        self.unknown_status = False  # set when a change item names a status id not in `statuses`
        self.fields: dict[str, str] = {"status": "status", "duedate": "duedate", "assignee": "assignee"}
        if sprint_field:
            self.fields[sprint_field] = "sprint"
        # Data Center change items may lack fieldId and name the sprint field "Sprint".
        self.names = {"status": "status", "duedate": "duedate", "assignee": "assignee", "Sprint": "sprint"}
        # Every issue of a sprint carries the same sprint value: parse each one once.
        self._sprints: dict[Any, Sprint | None] = {}

    def work_item(self, issue: Mapping[str, Any], team: str, histories: list[Any] | None = None) -> WorkItem:
        """Translate one issue; `histories` replaces a truncated changelog when given."""
        fields = issue.get("fields") or {}
        created = parse_ts(fields.get("created"))
        updated = parse_ts(fields.get("updated")) or created
        if created is None or updated is None:
            raise ValueError("issue without created/updated timestamps")
        category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        assignee = fields.get("assignee")
        sprints: tuple[Sprint, ...] = ()
        if self.sprint_field:
            raw = fields.get(self.sprint_field)
            if raw:
                parsed = [self._sprint(v) for v in raw] if isinstance(raw, list) else [self._sprint(raw)]
                sprints = tuple(s for s in parsed if s is not None)
        if histories is None:
            histories = (issue.get("changelog") or {}).get("histories") or []
        return WorkItem(
            id=str(issue["id"]),
            key=str(issue.get("key") or ""),
            team=team,
            created=created,
            updated=updated,
            status_category=_CATEGORIES.get(category or "", StatusCategory.TODO),
            due=parse_date(fields.get("duedate")),
            assignee=self.people.learn(assignee) if assignee else None,
            sprints=sprints,
            changes=self.changes(histories),
        )

    def _sprint(self, value: object) -> Sprint | None:
        """Return parse_sprint(value), parsing each distinct value once."""
        if isinstance(value, Mapping):
            key: Any = (value.get("id"), value.get("state"), value.get("startDate"), value.get("endDate"))
            # Only plain parts: 1, 1.0 and True are one key but not one sprint.
            if not all(type(part) in _PLAIN for part in key):
                return parse_sprint(value)
        elif isinstance(value, str):
            key = value
        else:
            return parse_sprint(value)
        if key in self._sprints:
            return self._sprints[key]
        sprint = parse_sprint(value)
        if len(self._sprints) >= _SPRINTS_KEPT:
            self._sprints.clear()
        self._sprints[key] = sprint
        return sprint

    def changes(self, histories: list[Any]) -> tuple[Change, ...]:
        """Translate changelog histories into Changes on the fields teampulse follows, oldest first."""
        out: list[Change] = []
        fields = self.fields
        names = self.names
        people = self.people
        statuses = self.statuses
        for history in histories:
            items = history.get("items")
            if not items:
                continue
            at = None
            for index, item in enumerate(items):
                field_id = item.get("fieldId")
                kind = fields.get(field_id) if field_id else names.get(item.get("field"))
                if kind is None:
                    continue
                if at is None:
                    at = parse_ts(history.get("created"))
                    if at is None:
                        break
                old = item.get("from")
                new = item.get("to")
                if kind == "status":
                    if (old and old not in statuses) or (new and new not in statuses):
                        self.unknown_status = True
                    old = statuses.get(old) if old else None
                    new = statuses.get(new) if new else None
                elif kind == "assignee":
                    old = people.by_id(old)
                    new = people.by_id(new)
                elif kind == "duedate":
                    old = _due(old, item.get("fromString"))
                    new = _due(new, item.get("toString"))
                # No author: teampulse keeps no per-person activity trail, so it is not read.
                out.append(Change(f"{history.get('id')}:{index}", at, kind, old, new))
        if len(out) > 1 and out[0].at > out[-1].at:
            # Some Jira versions list histories newest first; keep the model's oldest-first order.
            out.sort(key=_AT)
        return tuple(out)


def _due(raw: object, text: object) -> str | None:
    parsed = parse_date(raw) or parse_date(text)
    return parsed.isoformat() if parsed else None
