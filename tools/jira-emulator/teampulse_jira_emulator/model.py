"""Compact in-memory records of the emulated Jira: users, projects, statuses, sprints, issues."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

# Jira's own status category ids and keys.
CATEGORY_NEW = (2, "new", "To Do", "blue-gray")
CATEGORY_INDETERMINATE = (4, "indeterminate", "In Progress", "yellow")
CATEGORY_DONE = (3, "done", "Done", "green")
CATEGORIES = (CATEGORY_NEW, CATEGORY_INDETERMINATE, CATEGORY_DONE)


@dataclass(frozen=True, slots=True)
class Status:
    """A workflow status and its category."""

    id: str
    name: str
    category: tuple[int, str, str, str]

    @property
    def category_key(self) -> str:
        """Return the category key: new, indeterminate or done."""
        return self.category[1]


# Several statuses per category so that mapping by category, not by name, matters.
DEFAULT_STATUSES: tuple[Status, ...] = (
    Status("10000", "Backlog", CATEGORY_NEW),
    Status("10001", "To Do", CATEGORY_NEW),
    Status("3", "In Progress", CATEGORY_INDETERMINATE),
    Status("10002", "In Review", CATEGORY_INDETERMINATE),
    Status("10003", "Done", CATEGORY_DONE),
    Status("6", "Closed", CATEGORY_DONE),
)


@dataclass(frozen=True, slots=True)
class User:
    """A Jira user; Cloud identifies it by account id, Data Center by name and key.

    `email_visible` False: the user's profile hides the address (Cloud's privacy setting, or
    Data Center's email visibility): user objects come without `emailAddress`, while user
    search still finds the user by it.
    """

    email: str
    display_name: str
    timezone: str = "UTC"
    active: bool = True
    account_id: str = ""
    name: str = ""
    key: str = ""
    email_visible: bool = True

    @staticmethod
    def make(
        email: str, display_name: str, timezone: str = "UTC", index: int = 0, email_visible: bool = True
    ) -> User:
        """Build a user with Cloud and Data Center identifiers derived from the e-mail."""
        digest = hashlib.sha1(email.lower().encode()).hexdigest()
        return User(
            email=email,
            display_name=display_name,
            timezone=timezone,
            account_id="5b" + digest[:22],
            name=email.split("@", 1)[0],
            key=f"JIRAUSER{10000 + index}",
            email_visible=email_visible,
        )


@dataclass(slots=True)
class Project:
    """A project: the key prefix of its issues and the counter for new issue numbers."""

    id: str
    key: str
    name: str
    lead: User | None = None
    next_number: int = 1


@dataclass(slots=True)
class Sprint:
    """A board sprint; times are epoch milliseconds."""

    id: int
    name: str
    state: str
    board_id: int
    start: int | None = None
    end: int | None = None
    complete: int | None = None
    goal: str = ""


# A change item: (kind, old, new); values are objects (Status, User, sprint tuples, strings)
# so that one record renders for either deployment type.
ChangeItem = tuple[str, Any, Any]


class History:
    """One changelog entry: who changed what, when (epoch milliseconds)."""

    __slots__ = ("author", "created", "id", "items")

    def __init__(self, id: int, created: int, author: User | None, items: tuple[ChangeItem, ...]) -> None:
        """Store the entry."""
        self.id = id
        self.created = created
        self.author = author
        self.items = items


class Issue:
    """An issue with its current field values and its full history (oldest first)."""

    __slots__ = (
        "assignee",
        "created",
        "duedate",
        "histories",
        "id",
        "issuetype",
        "number",
        "project",
        "reporter",
        "resolution",
        "resolutiondate",
        "sprints",
        "status",
        "summary",
        "updated",
    )

    def __init__(
        self,
        id: int,
        project: Project,
        number: int,
        summary: str,
        issuetype: str,
        status: Status,
        created: int,
        reporter: User | None = None,
        assignee: User | None = None,
        duedate: str | None = None,
    ) -> None:
        """Create an issue as it is at its creation time."""
        self.id = id
        self.project = project
        self.number = number
        self.summary = summary
        self.issuetype = issuetype
        self.status = status
        self.created = created
        self.updated = created
        self.resolutiondate: int | None = None
        self.resolution: str | None = None
        self.reporter = reporter
        self.assignee = assignee
        self.duedate = duedate
        self.sprints: tuple[Sprint, ...] = ()
        self.histories: list[History] = []

    @property
    def key(self) -> str:
        """Return the issue key, e.g. PAY-12."""
        return f"{self.project.key}-{self.number}"


def to_ms(value: datetime) -> int:
    """Convert an aware datetime to epoch milliseconds (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    """Convert epoch milliseconds to an aware UTC datetime."""
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def date_str(value: date | str | None) -> str | None:
    """Normalise a due date to Jira's YYYY-MM-DD form."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(value).isoformat()
