"""Render records as Jira's REST JSON for Cloud or Data Center, one page at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .model import ChangeItem, History, Issue, Project, Sprint, Status, User

SPRINT_FIELD = "customfield_10020"
ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
CLOUD_CHANGELOG_CAP = 100

_CATEGORY_IDS = {"new": 2, "indeterminate": 4, "done": 3}


def jira_time(ms: int, tz: ZoneInfo) -> str:
    """Format epoch milliseconds as Jira does: 2026-03-15T12:00:00.000+0000, in the viewer's zone."""
    moment = datetime.fromtimestamp(ms / 1000, tz)
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    # Hand formatting: strftime dominated the cost of large pages.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
        f"{moment.second:02d}.{ms % 1000:03d}{sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def sprint_time(ms: int) -> str:
    """Format a sprint date as the agile API does: UTC with a Z."""
    moment = datetime.fromtimestamp(ms / 1000, ZoneInfo("UTC"))
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


# (id, name, navigable, orderable, searchable, clause names, schema)
SYSTEM_FIELDS: tuple[tuple[str, str, list[str], dict[str, Any]], ...] = (
    ("issuekey", "Key", ["id", "issue", "issuekey", "key"], {}),
    ("summary", "Summary", ["summary"], {"type": "string", "system": "summary"}),
    ("description", "Description", ["description"], {"type": "string", "system": "description"}),
    ("issuetype", "Issue Type", ["issuetype", "type"], {"type": "issuetype", "system": "issuetype"}),
    ("project", "Project", ["project"], {"type": "project", "system": "project"}),
    ("status", "Status", ["status"], {"type": "status", "system": "status"}),
    (
        "statusCategory",
        "Status Category",
        ["statusCategory"],
        {"type": "statusCategory", "system": "statusCategory"},
    ),
    ("resolution", "Resolution", ["resolution"], {"type": "resolution", "system": "resolution"}),
    (
        "resolutiondate",
        "Resolved",
        ["resolutiondate", "resolved"],
        {"type": "datetime", "system": "resolutiondate"},
    ),
    ("created", "Created", ["created", "createdDate"], {"type": "datetime", "system": "created"}),
    ("updated", "Updated", ["updated", "updatedDate"], {"type": "datetime", "system": "updated"}),
    ("duedate", "Due date", ["due", "duedate"], {"type": "date", "system": "duedate"}),
    ("assignee", "Assignee", ["assignee"], {"type": "user", "system": "assignee"}),
    ("reporter", "Reporter", ["reporter"], {"type": "user", "system": "reporter"}),
    ("priority", "Priority", ["priority"], {"type": "priority", "system": "priority"}),
    ("labels", "Labels", ["labels"], {"type": "array", "items": "string", "system": "labels"}),
)
SPRINT_SCHEMA = {
    "type": "array",
    "items": "json",
    "custom": "com.pyxis.greenhopper.jira:gh-sprint",
    "customId": 10020,
}
ALL_FIELDS = (*(f[0] for f in SYSTEM_FIELDS if f[0] != "issuekey"), SPRINT_FIELD)


def field_list() -> list[dict[str, Any]]:
    """Return GET /field: the system fields we serve and the Sprint custom field."""
    fields: list[dict[str, Any]] = []
    for field_id, name, clauses, schema in SYSTEM_FIELDS:
        entry: dict[str, Any] = {
            "id": field_id,
            "key": field_id,
            "name": name,
            "custom": False,
            "orderable": field_id
            not in ("issuekey", "statusCategory", "resolutiondate", "created", "updated"),
            "navigable": True,
            "searchable": True,
            "clauseNames": clauses,
        }
        if schema:
            entry["schema"] = schema
        fields.append(entry)
    fields.append(
        {
            "id": SPRINT_FIELD,
            "key": SPRINT_FIELD,
            "name": "Sprint",
            "custom": True,
            "orderable": True,
            "navigable": True,
            "searchable": True,
            "clauseNames": ["cf[10020]", "Sprint"],
            "schema": dict(SPRINT_SCHEMA),
        }
    )
    return fields


def select_fields(requested: Iterable[str], default: str) -> tuple[str, ...]:
    """Resolve a `fields` parameter (repeated and/or comma-separated, *all, *navigable, -x) to field ids."""
    names = [n.strip() for part in requested for n in part.split(",") if n.strip()]
    if not names:
        names = [default]
    chosen: list[str] = []
    excluded: set[str] = set()
    for name in names:
        if name in ("*all", "*navigable"):
            chosen.extend(ALL_FIELDS)
        elif name.startswith("-"):
            excluded.add(name[1:])
        elif name in ALL_FIELDS:
            chosen.append(name)
        # id and key live outside `fields`; unknown names are ignored, as Jira does.
    if excluded and not chosen:
        chosen.extend(ALL_FIELDS)  # "-description" alone means "navigable fields except description"
    return tuple(dict.fromkeys(f for f in chosen if f not in excluded))


class Renderer:
    """Turn records into JSON-ready dicts for one request (deployment type, base URL, viewer's zone)."""

    def __init__(
        self, cloud: bool, base_url: str, api: str, tz: ZoneInfo, legacy_sprints: bool = False
    ) -> None:
        """Remember how to render for this request."""
        self.cloud = cloud
        self.base = base_url
        self.api = f"{base_url}/rest/api/{api}"
        self.tz = tz
        self.legacy_sprints = legacy_sprints and not cloud
        self._users: dict[int, dict[str, Any]] = {}

    def time(self, ms: int | None) -> str | None:
        """Format a timestamp or pass None through."""
        return None if ms is None else jira_time(ms, self.tz)

    def user(self, user: User | None) -> dict[str, Any] | None:
        """Render a user as Cloud (account id) or Data Center (name and key) does."""
        if user is None:
            return None
        cached = self._users.get(id(user))
        if cached is not None:
            return cached
        ident = user.account_id if self.cloud else user.name
        avatar = f"{self.base}/secure/useravatar?ownerId={ident}"
        avatars = {size: f"{avatar}&size={size}" for size in ("48x48", "24x24", "16x16", "32x32")}
        rendered: dict[str, Any]
        if self.cloud:
            rendered = {
                "self": f"{self.api}/user?accountId={user.account_id}",
                "accountId": user.account_id,
                "accountType": "atlassian",
                "emailAddress": user.email,
                "avatarUrls": avatars,
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.timezone,
            }
        else:
            rendered = {
                "self": f"{self.api}/user?username={user.name}",
                "name": user.name,
                "key": user.key,
                "emailAddress": user.email,
                "avatarUrls": avatars,
                "displayName": user.display_name,
                "active": user.active,
                "timeZone": user.timezone,
            }
        if not user.email_visible:
            del rendered["emailAddress"]
        self._users[id(user)] = rendered
        return rendered

    def myself(self, user: User) -> dict[str, Any]:
        """Render GET /myself."""
        rendered = dict(self.user(user) or {})
        rendered["locale"] = "en_US"
        rendered["groups"] = {"size": 1, "items": []}
        rendered["applicationRoles"] = {"size": 1, "items": []}
        rendered["expand"] = "groups,applicationRoles"
        return rendered

    def status(self, status: Status) -> dict[str, Any]:
        """Render a status with its category."""
        cat_id, key, name, colour = status.category
        return {
            "self": f"{self.api}/status/{status.id}",
            "description": "",
            "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
            "name": status.name,
            "id": status.id,
            "statusCategory": {
                "self": f"{self.api}/statuscategory/{cat_id}",
                "id": cat_id,
                "key": key,
                "colorName": colour,
                "name": name,
            },
        }

    def project(self, project: Project) -> dict[str, Any]:
        """Render a project reference."""
        return {
            "self": f"{self.api}/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
        }

    def issuetype(self, name: str) -> dict[str, Any]:
        """Render an issue type reference."""
        type_id = {"Task": "10001", "Story": "10002", "Bug": "10003", "Epic": "10000"}.get(name, "10004")
        return {
            "self": f"{self.api}/issuetype/{type_id}",
            "id": type_id,
            "description": "",
            "iconUrl": f"{self.base}/images/icons/issuetypes/{name.lower()}.svg",
            "name": name,
            "subtask": False,
            "hierarchyLevel": 0,
        }

    def sprint(self, sprint: Sprint) -> dict[str, Any] | str:
        """Render a Sprint field value (the legacy Data Center toString form if asked for)."""
        if self.legacy_sprints:

            def show(ms: int | None) -> str:
                return "<null>" if ms is None else sprint_time(ms)

            return (
                f"com.atlassian.greenhopper.service.sprint.Sprint@{sprint.id:x}[id={sprint.id},"
                f"rapidViewId={sprint.board_id},state={sprint.state.upper()},name={sprint.name},"
                f"startDate={show(sprint.start)},endDate={show(sprint.end)},completeDate={show(sprint.complete)},"
                f"activatedDate={show(sprint.start)},sequence={sprint.id},goal={sprint.goal},"
                "autoStartStop=false,synced=false]"
            )
        rendered: dict[str, Any] = {
            "id": sprint.id,
            "name": sprint.name,
            "state": sprint.state,
            "boardId": sprint.board_id,
            "goal": sprint.goal,
        }
        if sprint.start is not None:
            rendered["startDate"] = sprint_time(sprint.start)
        if sprint.end is not None:
            rendered["endDate"] = sprint_time(sprint.end)
        if sprint.complete is not None:
            rendered["completeDate"] = sprint_time(sprint.complete)
        return rendered

    def _field(self, issue: Issue, field_id: str) -> Any:
        builder = _FIELD_BUILDERS[field_id]
        return builder(self, issue)

    def issue(
        self, issue: Issue, fields: tuple[str, ...], changelog: bool = False, cap_changelog: bool = False
    ) -> dict[str, Any]:
        """Render an issue with the chosen fields and, if asked, its changelog."""
        rendered: dict[str, Any] = {
            "expand": ISSUE_EXPAND,
            "id": str(issue.id),
            "self": f"{self.api}/issue/{issue.id}",
            "key": issue.key,
            "fields": {f: self._field(issue, f) for f in fields},
        }
        if changelog:
            rendered["changelog"] = self.embedded_changelog(issue, cap_changelog)
        return rendered

    def embedded_changelog(self, issue: Issue, capped: bool) -> dict[str, Any]:
        """Render `changelog` inside an issue: Cloud keeps the newest 100 (newest first), DC all, oldest first."""
        histories = issue.histories
        total = len(histories)
        if capped:
            chosen = list(reversed(histories[-CLOUD_CHANGELOG_CAP:]))
            return {
                "startAt": 0,
                "maxResults": len(chosen),
                "total": total,
                "histories": [self.history(h) for h in chosen],
            }
        return {
            "startAt": 0,
            "maxResults": total,
            "total": total,
            "histories": [self.history(h) for h in histories],
        }

    def history(self, history: History, field_ids: set[str] | None = None) -> dict[str, Any]:
        """Render one changelog entry, optionally only its items for some field ids."""
        items = [self.item(i) for i in history.items]
        if field_ids is not None:
            items = [i for i in items if i["fieldId"] in field_ids or i["field"] in field_ids]
        rendered: dict[str, Any] = {"id": str(history.id)}
        if history.author is not None:
            rendered["author"] = self.user(history.author)
        rendered["created"] = jira_time(history.created, self.tz)
        rendered["items"] = items
        return rendered

    def _user_ident(self, user: User | None) -> str | None:
        # Data Center change items store the user key (stable across renames; JIRAUSER<n> for
        # users created since Jira 8), not the name that user objects also carry.
        if user is None:
            return None
        return user.account_id if self.cloud else user.key

    def item(self, item: ChangeItem) -> dict[str, Any]:
        """Render a change item with Jira's from/to (ids) and fromString/toString (display) values."""
        kind, old, new = item
        if kind == "status":
            return _item("status", "jira", "status", old.id, old.name, new.id, new.name)
        if kind == "resolution":
            return _item(
                "resolution", "jira", "resolution",
                "10000" if old else None, old, "10000" if new else None, new,
            )  # fmt: skip
        if kind == "assignee":
            return _item(
                "assignee", "jira", "assignee",
                self._user_ident(old), old.display_name if old else None,
                self._user_ident(new), new.display_name if new else None,
            )  # fmt: skip
        if kind == "duedate":
            return _item(
                "duedate", "jira", "duedate",
                old, f"{old} 00:00:00.0" if old else None, new, f"{new} 00:00:00.0" if new else None,
            )  # fmt: skip
        if kind == "sprint":
            return _item(
                "Sprint", "custom", SPRINT_FIELD,
                ", ".join(str(s.id) for s in old), ", ".join(s.name for s in old),
                ", ".join(str(s.id) for s in new), ", ".join(s.name for s in new),
            )  # fmt: skip
        if kind == "project":
            return _item("project", "jira", "project", old.id, old.name, new.id, new.name)
        if kind == "key":
            return _item("Key", "jira", "issuekey", None, old, None, new)
        raise ValueError(f"unknown change kind {kind!r}")


def _item(
    field: str,
    fieldtype: str,
    field_id: str,
    old: str | None,
    old_s: str | None,
    new: str | None,
    new_s: str | None,
) -> dict[str, Any]:
    return {
        "field": field,
        "fieldtype": fieldtype,
        "fieldId": field_id,
        "from": old,
        "fromString": old_s,
        "to": new,
        "toString": new_s,
    }


def _resolution(r: Renderer, issue: Issue) -> dict[str, Any] | None:
    if issue.resolution is None:
        return None
    return {"self": f"{r.api}/resolution/10000", "id": "10000", "description": "", "name": issue.resolution}


_FIELD_BUILDERS: dict[str, Callable[[Renderer, Issue], Any]] = {
    "summary": lambda r, i: i.summary,
    "description": lambda r, i: None,
    "issuetype": lambda r, i: r.issuetype(i.issuetype),
    "project": lambda r, i: r.project(i.project),
    "status": lambda r, i: r.status(i.status),
    "statusCategory": lambda r, i: r.status(i.status)["statusCategory"],
    "resolution": _resolution,
    "resolutiondate": lambda r, i: r.time(i.resolutiondate),
    "created": lambda r, i: r.time(i.created),
    "updated": lambda r, i: r.time(i.updated),
    "duedate": lambda r, i: i.duedate,
    "assignee": lambda r, i: r.user(i.assignee),
    "reporter": lambda r, i: r.user(i.reporter),
    "priority": lambda r, i: {"self": f"{r.api}/priority/3", "id": "3", "name": "Medium"},
    "labels": lambda r, i: [],
    SPRINT_FIELD: lambda r, i: [r.sprint(s) for s in i.sprints] or None,
}
