"""The emulator's data: projects, users, statuses, sprints and issues, with thread-safe mutations."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

from .model import (
    DEFAULT_STATUSES,
    ChangeItem,
    History,
    Issue,
    Project,
    Sprint,
    Status,
    User,
    date_str,
    from_ms,
    to_ms,
)


class DatasetError(KeyError):
    """An unknown issue, project, user, status or sprint was named."""

    def __str__(self) -> str:
        """Return the message without KeyError's quoting."""
        return str(self.args[0]) if self.args else ""


class Dataset:
    """Everything the emulator serves; every mutation takes the lock, bumps `updated` and logs a history."""

    def __init__(self, statuses: Iterable[Status] = DEFAULT_STATUSES, now: datetime | None = None) -> None:
        """Create an empty dataset; `now` freezes its clock (else it follows the wall clock)."""
        self.lock = threading.RLock()
        self.version = 0
        self.statuses: list[Status] = list(statuses)
        self._status_by_name = {s.name.lower(): s for s in self.statuses}
        self._status_by_id = {s.id: s for s in self.statuses}
        self.users: dict[str, User] = {}
        self.projects: dict[str, Project] = {}
        self.sprints: dict[int, Sprint] = {}
        self.issues: dict[int, Issue] = {}
        self._by_key: dict[str, Issue] = {}
        self._frozen_now = now
        self._next_issue_id = 10000
        self._next_history_id = 10000
        self._next_sprint_id = 1

    # clock
    def now(self) -> datetime:
        """Return the dataset's current time (frozen or wall clock), aware UTC."""
        if self._frozen_now is not None:
            return self._frozen_now
        return datetime.now(UTC)

    def set_now(self, now: datetime | None) -> None:
        """Freeze the clock at `now`, or follow the wall clock again with None."""
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        with self.lock:
            self._frozen_now = now
            self.version += 1

    # reference data
    def add_user(
        self, email: str, display_name: str, timezone: str = "UTC", email_visible: bool = True
    ) -> User:
        """Add a user (idempotent by e-mail) and return it; `email_visible` False hides the address."""
        with self.lock:
            existing = self.users.get(email.lower())
            if existing is not None:
                return existing
            user = User.make(
                email, display_name, timezone, index=len(self.users) + 100, email_visible=email_visible
            )
            self.users[email.lower()] = user
            self.version += 1
            return user

    def add_project(self, key: str, name: str, lead: str | None = None) -> Project:
        """Add a project (idempotent by key) and return it."""
        with self.lock:
            existing = self.projects.get(key)
            if existing is not None:
                return existing
            project = Project(str(10000 + len(self.projects)), key, name, self.user(lead) if lead else None)
            self.projects[key] = project
            self.version += 1
            return project

    def add_sprint(
        self,
        name: str,
        board_id: int,
        start: datetime | None = None,
        end: datetime | None = None,
        state: str = "future",
        complete: datetime | None = None,
        goal: str = "",
    ) -> Sprint:
        """Add a sprint and return it."""
        if state not in ("future", "active", "closed"):
            raise ValueError(f"bad sprint state {state!r}")
        with self.lock:
            sprint = Sprint(
                self._next_sprint_id,
                name,
                state,
                board_id,
                to_ms(start) if start else None,
                to_ms(end) if end else None,
                to_ms(complete) if complete else None,
                goal,
            )
            self._next_sprint_id += 1
            self.sprints[sprint.id] = sprint
            self.version += 1
            return sprint

    def set_sprint_state(self, sprint_id: int, state: str, at: datetime | None = None) -> None:
        """Start (active) or complete (closed) a sprint."""
        with self.lock:
            sprint = self.sprint(sprint_id)
            when = to_ms(at or self.now())
            if state == "active" and sprint.start is None:
                sprint.start = when
            if state == "closed":
                sprint.complete = when
            sprint.state = state
            self.version += 1

    # look-ups
    def user(self, email: str) -> User:
        """Return the user with this e-mail."""
        try:
            return self.users[email.lower()]
        except KeyError:
            raise DatasetError(f"unknown user {email!r}") from None

    def add_status(self, status: Status) -> Status:
        """Add a workflow status (as an administrator does while Jira runs) and return it."""
        with self.lock:
            self.statuses.append(status)
            self._status_by_name[status.name.lower()] = status
            self._status_by_id[status.id] = status
            self.version += 1
            return status

    def status(self, name_or_id: str) -> Status:
        """Return a status by name (case-insensitive) or id."""
        found = self._status_by_name.get(name_or_id.lower()) or self._status_by_id.get(name_or_id)
        if found is None:
            raise DatasetError(f"unknown status {name_or_id!r}")
        return found

    def sprint(self, sprint_id: int) -> Sprint:
        """Return a sprint by id."""
        try:
            return self.sprints[int(sprint_id)]
        except (KeyError, ValueError):
            raise DatasetError(f"unknown sprint {sprint_id!r}") from None

    def project(self, key: str) -> Project:
        """Return a project by key."""
        try:
            return self.projects[key]
        except KeyError:
            raise DatasetError(f"unknown project {key!r}") from None

    def find(self, id_or_key: str) -> Issue | None:
        """Return the issue with this id, key or former key (after a move), or None."""
        with self.lock:
            if id_or_key.isdigit():
                return self.issues.get(int(id_or_key))
            return self._by_key.get(id_or_key.upper())

    def issue(self, id_or_key: str) -> Issue:
        """Return the issue with this id or key."""
        found = self.find(id_or_key)
        if found is None:
            raise DatasetError(f"unknown issue {id_or_key!r}")
        return found

    def __len__(self) -> int:
        """Return the number of issues."""
        return len(self.issues)

    def __iter__(self) -> Iterator[Issue]:
        """Iterate over a snapshot of the issues in creation order."""
        with self.lock:
            return iter(list(self.issues.values()))

    # bulk loading (generators)
    def new_issue_id(self) -> int:
        """Allocate an issue id."""
        self._next_issue_id += 1
        return self._next_issue_id

    def new_history_id(self) -> int:
        """Allocate a changelog history id."""
        self._next_history_id += 1
        return self._next_history_id

    def load(self, issue: Issue) -> None:
        """Add an issue built elsewhere (histories already attached, oldest first)."""
        with self.lock:
            self.issues[issue.id] = issue
            self._by_key[issue.key] = issue
            issue.project.next_number = max(issue.project.next_number, issue.number + 1)
            self.version += 1

    # mutations
    def _when(self, at: datetime | None) -> int:
        return to_ms(at if at is not None else self.now())

    def _log(self, issue: Issue, when: int, author: str | None, items: tuple[ChangeItem, ...]) -> None:
        who = self.user(author) if author else (issue.assignee or issue.reporter)
        history = History(self.new_history_id(), when, who, items)
        # Back-dated mutations keep the history sorted by time, as Jira shows it.
        position = bisect.bisect_right([h.created for h in issue.histories], when)
        issue.histories.insert(position, history)
        issue.updated = max(issue.updated, when)
        self.version += 1

    def create_issue(
        self,
        project: str,
        summary: str,
        *,
        issuetype: str = "Task",
        status: str = "To Do",
        assignee: str | None = None,
        reporter: str | None = None,
        duedate: date | str | None = None,
        sprint_ids: Iterable[int] = (),
        at: datetime | None = None,
    ) -> str:
        """Create an issue and return its key."""
        with self.lock:
            proj = self.project(project)
            when = self._when(at)
            issue = Issue(
                self.new_issue_id(),
                proj,
                proj.next_number,
                summary,
                issuetype,
                self.status(status),
                when,
                reporter=self.user(reporter) if reporter else None,
                assignee=self.user(assignee) if assignee else None,
                duedate=date_str(duedate),
            )
            issue.sprints = tuple(self.sprint(s) for s in sprint_ids)
            if issue.status.category_key == "done":
                issue.resolution, issue.resolutiondate = "Done", when
            self.load(issue)
            return issue.key

    def transition(
        self, key: str, status: str, *, at: datetime | None = None, author: str | None = None
    ) -> None:
        """Move an issue to a status, setting or clearing its resolution as Jira's workflows do."""
        with self.lock:
            issue = self.issue(key)
            new = self.status(status)
            old = issue.status
            if new is old:
                return
            when = self._when(at)
            items: list[ChangeItem] = []
            if new.category_key == "done" and issue.resolution is None:
                items.append(("resolution", None, "Done"))
                issue.resolution, issue.resolutiondate = "Done", when
            elif new.category_key != "done" and issue.resolution is not None:
                items.append(("resolution", issue.resolution, None))
                issue.resolution, issue.resolutiondate = None, None
            items.insert(0, ("status", old, new))
            issue.status = new
            self._log(issue, when, author, tuple(items))

    def set_due_date(
        self, key: str, due: date | str | None, *, at: datetime | None = None, author: str | None = None
    ) -> None:
        """Set or clear an issue's due date."""
        with self.lock:
            issue = self.issue(key)
            new = date_str(due)
            if new == issue.duedate:
                return
            old, issue.duedate = issue.duedate, new
            self._log(issue, self._when(at), author, (("duedate", old, new),))

    def reassign(
        self, key: str, assignee: str | None, *, at: datetime | None = None, author: str | None = None
    ) -> None:
        """Assign an issue to a user (by e-mail), or unassign it with None."""
        with self.lock:
            issue = self.issue(key)
            new = self.user(assignee) if assignee else None
            if new is issue.assignee:
                return
            old, issue.assignee = issue.assignee, new
            self._log(issue, self._when(at), author, (("assignee", old, new),))

    def add_to_sprint(
        self, key: str, sprint_id: int, *, at: datetime | None = None, author: str | None = None
    ) -> None:
        """Add an issue to a sprint (it keeps earlier sprints, as Jira's Sprint field does)."""
        with self.lock:
            issue = self.issue(key)
            sprint = self.sprint(sprint_id)
            if sprint in issue.sprints:
                return
            old = issue.sprints
            issue.sprints = (*old, sprint)
            self._log(issue, self._when(at), author, (("sprint", old, issue.sprints),))

    def remove_from_sprint(
        self, key: str, sprint_id: int, *, at: datetime | None = None, author: str | None = None
    ) -> None:
        """Take an issue out of a sprint."""
        with self.lock:
            issue = self.issue(key)
            sprint = self.sprint(sprint_id)
            if sprint not in issue.sprints:
                return
            old = issue.sprints
            issue.sprints = tuple(s for s in old if s is not sprint)
            self._log(issue, self._when(at), author, (("sprint", old, issue.sprints),))

    def delete_issue(self, key: str) -> None:
        """Delete an issue: it disappears from every search and look-up, as in Jira."""
        with self.lock:
            issue = self.issue(key)
            del self.issues[issue.id]
            for k in [k for k, v in self._by_key.items() if v is issue]:
                del self._by_key[k]
            self.version += 1

    def move_issue(
        self, key: str, project: str, *, at: datetime | None = None, author: str | None = None
    ) -> str:
        """Move an issue to another project; it gets a new key and its old key still finds it."""
        with self.lock:
            issue = self.issue(key)
            target = self.project(project)
            if target is issue.project:
                return issue.key
            old_key, old_project = issue.key, issue.project
            issue.project, issue.number = target, target.next_number
            target.next_number += 1
            self._by_key[issue.key] = issue
            items: tuple[ChangeItem, ...] = (
                ("project", old_project, target),
                ("key", old_key, issue.key),
            )
            self._log(issue, self._when(at), author, items)
            return issue.key

    def state_at(self, issue: Issue, at: datetime) -> dict[str, object]:
        """Replay an issue's history backwards to its status, assignee, due date and sprints at a time."""
        cut = to_ms(at)
        state: dict[str, object] = {
            "status": issue.status,
            "assignee": issue.assignee,
            "duedate": issue.duedate,
            "sprint": issue.sprints,
        }
        for history in reversed(issue.histories):
            if history.created <= cut:
                break
            for kind, old, _new in history.items:
                if kind in state:
                    state[kind] = old
        state["exists"] = issue.created <= cut
        return state

    def describe(self) -> str:
        """Return a one-line summary (counts only: nothing personal)."""
        with self.lock:
            histories = sum(len(i.histories) for i in self.issues.values())
            latest = max((i.updated for i in self.issues.values()), default=0)
            return (
                f"{len(self.projects)} projects, {len(self.users)} users, {len(self.issues)} issues, "
                f"{histories} histories, latest update {from_ms(latest).isoformat() if latest else '-'}"
            )
