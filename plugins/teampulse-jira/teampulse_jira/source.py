"""The Jira source: incremental, paged, retried sync of each team's issues."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from teampulse import (
    Batch,
    CollectContext,
    SourceError,
    TeamInfo,
    WorkItem,
    WorkItemRemoved,
    WorkItemsCovered,
)

from .client import Transport
from .config import JiraSettings, team_jql
from .cursor import VERSION, TeamCursor, jql_digest, load_teams
from .timeparse import format_jql, parse_ts
from .translate import SPRINT_SCHEMA, People, Translator, status_map

__all__ = ["BULKFETCH_MAX_ISSUES", "SEARCH_FIELDS", "JiraSource"]

SEARCH_FIELDS = ("status", "created", "updated", "duedate", "assignee", "resolutiondate")
BULKFETCH_MAX_ISSUES = 1000
BULKFETCH_MAX_HISTORIES = 10000  # histories per bulkfetch page: the documented maximum
_UNSEEN = object()  # marks an issue id not yielded yet (an id-only row has no `updated`)
CLOUD_ID_PAGE = 5000  # search/jql returns up to 5,000 issues a page when only ids are asked for
DC_ID_PAGE = 1000  # Data Center's default jira.search.views.default.max
CHANGELOG_PAGE = 100
PROGRESS_EVERY = 5  # pages
# Pages in a row with no issue not met before, past which a Data Center search is taken to
# be stuck (rows that moved come back, but not a whole page of them several times over).
MAX_STALE_PAGES = 3
MAX_REWINDS = 20  # per team and sync: past this, a busy server's moving rows are left to the next sync
_ORDER_BY = re.compile(r"\s+ORDER\s+BY\s+[^\"']*$", re.IGNORECASE)


def team_query(jql: str) -> str:
    """Return a team's JQL without its own ORDER BY, so it can be wrapped in a larger query."""
    return _ORDER_BY.sub("", jql.strip())


class JiraSource:
    """A configured Jira source; what it learns about users lasts for the process."""

    def __init__(self, settings: JiraSettings, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.sleep = sleep
        self.rng: Callable[[], float] = random.random  # backoff jitter; a test fixes it
        self.people: People | None = None
        self.searched: set[str] = set()  # member e-mails already looked up with user/search
        self.changelog_endpoint = True  # older Data Center lacks issue/{id}/changelog
        self.last_requests = 0  # requests made by the last collection, for benchmarks

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        """Yield one batch per page of each team's updated issues, then removals."""
        transport = Transport(self.settings, sleep=self.sleep, rng=self.rng)
        transport.connect()
        try:
            yield from _Collection(self, transport, ctx).run()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
            # A reply of an unexpected shape where the source relies on one (an issue that is not
            # an object, an id that is not a number): the cycle fails in one line, and what the
            # batches before it carried stays committed.
            raise SourceError(
                f"{transport.host}: a reply of an unexpected shape ({type(exc).__name__}): is the url a "
                "Jira server, or a proxy rewriting its replies?"
            ) from None
        finally:
            self.last_requests = transport.requests
            transport.close()


class _Collection:
    """The state of one collect() call."""

    def __init__(self, source: JiraSource, transport: Transport, ctx: CollectContext) -> None:
        self.source = source
        self.settings = source.settings
        self.transport = transport
        self.ctx = ctx
        self.client = transport.client
        self.now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
        self.state: dict[str, TeamCursor] = {}
        self.cloud = False
        self.zone: tzinfo = UTC
        self.fields: list[str] = list(SEARCH_FIELDS)

    def run(self) -> Iterator[Batch]:
        """Read the server's settings once, then sync each team that has a JQL."""
        self._prepare()
        old = load_teams(self.ctx.cursor)
        teams = [team_jql(team) for team in self.ctx.teams]
        for team in teams:
            if team.jql and team.name in old:
                self.state[team.name] = old[team.name]
        for team in teams:
            if team.jql:
                yield from self._sync_team(team)

    # -- once per collection: deployment, time zone, statuses, fields --

    def _prepare(self) -> None:
        s = self.settings
        client = self.client
        if s.deployment == "auto":
            self.cloud = client.deploymentType == "Cloud"
        else:
            self.cloud = s.deployment == "cloud"
            # The client picks search/jql or search from this attribute alone.
            client.deploymentType = "Cloud" if self.cloud else "Server"
        if self.source.people is None or self.source.people.cloud != self.cloud:
            self.source.people = People(self.cloud)
        # Every team's people, whichever team is synced: a member of one team shows up in
        # another's issues, and must be the same person whichever team came first.
        self.source.people.configure(
            email for team in self.ctx.teams for email in (team.manager, *team.members)
        )
        myself = self._dict("myself", self.transport.call("myself", client.myself))
        self.zone = _zone(myself.get("timeZone"))
        statuses = self.transport.get("status", "status")
        if not isinstance(statuses, list):
            raise SourceError(f"{self.transport.host}: status: unexpected reply")
        fields = self.transport.call("field", client.fields)
        if not isinstance(fields, list):
            raise SourceError(f"{self.transport.host}: field: unexpected reply")
        sprint_field = next(
            (
                str(f["id"])
                for f in fields
                if isinstance(f, Mapping)
                and (f.get("schema") or {}).get("custom") == SPRINT_SCHEMA
                and "id" in f
            ),
            None,
        )
        if sprint_field:
            self.fields.append(sprint_field)
        self._prime_field_cache(fields)
        self.translator = Translator(status_map(statuses), sprint_field, self.source.people)

    def _prime_field_cache(self, fields: Sequence[Any]) -> None:
        # The client's first search would GET field again to translate JQL names (and again on
        # every search when that cache is empty): hand it the list we already have.
        cache: dict[str, str] = {name: name for name in self.fields}
        for f in fields:
            if isinstance(f, Mapping) and "id" in f:
                for clause in f.get("clauseNames") or ():
                    cache[str(clause)] = str(f["id"])
        if hasattr(self.client, "_fields_cache_value"):
            self.client._fields_cache_value = cache

    # -- per team --

    def _cursor(self) -> dict[str, Any]:
        """Return the whole cursor: every team's state, as committed with a batch."""
        return {"v": VERSION, "teams": {name: tc.to_json() for name, tc in self.state.items()}}

    def _sync_team(self, team: TeamInfo) -> Iterator[Batch]:
        """Yield a team's updated issues page by page, then its removals when reconciliation is due."""
        s = self.settings
        assert team.jql is not None
        base = team_query(team.jql)
        digest = jql_digest(team.jql)
        tc = self.state.get(team.name)
        if tc is None or tc.jql != digest:
            # A new team, or its JQL changed: read its history window and everything still open.
            # Ids known under an old JQL stay, so that reconciliation removes those that left.
            old_ids = tc.ids if tc is not None else set()
            tc = TeamCursor(jql=digest, ids=set(old_ids), reconciled=None if old_ids else self.now)
            since = self.now - timedelta(days=s.history_days)
            # Reach back as far as the engine reads (absent on cores before 0.2): without the
            # items done in its reference window, the first scanned days would read as a rise.
            wanted = getattr(self.ctx, "history_from", None)
            if wanted is not None:
                since = min(since, wanted)
            # Issues done before `since` are not read: the team's history is whole from there on.
            yield Batch([WorkItemsCovered(team=team.name, start=since)])
            jql = (
                f'({base}) AND (updated >= "{format_jql(since, self.zone)}" OR statusCategory != Done) '
                "ORDER BY updated ASC, key ASC"
            )
        else:
            since = (tc.updated or self.now) - timedelta(seconds=s.overlap_seconds)
            jql = f'({base}) AND updated >= "{format_jql(since, self.zone)}" ORDER BY updated ASC, key ASC'
        self.state[team.name] = tc

        committed = tc.updated
        newest = tc.updated  # the newest `updated` seen, so far
        # Cloud: issues whose changelog the search truncated wait here (fields only, to bound memory)
        # until one bulkfetch serves up to 1,000 of them; the cursor stays at the oldest of them.
        pending: list[dict[str, Any]] = []
        count = 0
        for number, page in enumerate(self._pages(jql), start=1):
            if not page:
                continue
            complete, truncated = _split_truncated(page)
            histories: dict[str, list[Any]] = {}
            if truncated and self.cloud:
                for issue in truncated:
                    issue.pop("changelog", None)
                pending.extend(truncated)
            elif truncated:
                histories = self._dc_changelogs(truncated)
                complete = page
            items = self._translate_page(complete, team, histories)
            if len(pending) >= BULKFETCH_MAX_ISSUES:
                items += self._flush(pending, team)
                pending = []
            for moment in (_updated(page[-1]), *(item.updated for item in items)):
                if moment is not None and (newest is None or moment > newest):
                    newest = moment
            tc.updated = (_updated(pending[0]) or newest) if pending else newest
            tc.add(int(item.id) for item in items)
            count += len(items)
            if number % PROGRESS_EVERY == 0:
                self.ctx.progress(f"team {team.name}: {count} issues, page {number}")
            if items or tc.updated != committed:
                committed = tc.updated
                yield Batch(items, self._cursor())
        if pending:
            items = self._flush(pending, team)
            tc.updated = newest
            tc.add(int(item.id) for item in items)
            committed = tc.updated
            yield Batch(items, self._cursor())
        if tc.updated is None:
            # Nothing matched yet: later syncs start from now (less the overlap), not the window.
            tc.updated = self.now

        reconcile_every = timedelta(hours=s.reconcile_hours)
        if tc.reconciled is None or self.now - tc.reconciled >= reconcile_every:
            current = self._list_ids(base)
            gone = sorted(tc.ids - current)
            tc.discard(gone)
            tc.reconciled = self.now
            removed = [WorkItemRemoved(id=str(i), team=team.name, at=self.now) for i in gone]
            yield Batch(removed, self._cursor())
        elif tc.updated != committed:
            yield Batch([], self._cursor())

    def _flush(self, pending: list[dict[str, Any]], team: TeamInfo) -> list[WorkItem]:
        """Fetch the full changelogs of held-back issues and translate them."""
        histories = self._bulkfetch([str(issue["id"]) for issue in pending])
        # An issue missing from the reply was deleted meanwhile: reconciliation reports it.
        found = [issue for issue in pending if issue["id"] in histories]
        return self._translate_page(found, team, histories)

    def _translate_page(
        self, page: list[Any], team: TeamInfo, histories: Mapping[str, list[Any]]
    ) -> list[WorkItem]:
        """Translate a page; look configured people up once if it names an unmapped Jira id.

        A page is translated again when the look-ups, or a user object on the page itself,
        mapped an id: a change item read before the object that maps its id must not keep
        the id (the person would split in two, depending on the order of the page).
        """
        people = self.translator.people
        people.unknown = False
        mapped = len(people.emails)
        items = self._translate(page, team, histories)
        if people.unknown and (self._resolve_members() or len(people.emails) != mapped):
            items = self._translate(page, team, histories)
        return items

    def _translate(
        self, page: list[Any], team: TeamInfo, histories: Mapping[str, list[Any]]
    ) -> list[WorkItem]:
        work_item = self.translator.work_item
        name = team.name
        try:
            return [work_item(issue, name, histories.get(issue["id"])) for issue in page]
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
        # Rare: one odd issue must not stop the team. Translate one by one and report the odd ones.
        items = []
        for issue in page:
            try:
                items.append(work_item(issue, name, histories.get(issue["id"])))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                ident = issue.get("id") if isinstance(issue, Mapping) else None
                self.ctx.problem(
                    f"{self.transport.host}: team {name}: issue id {ident}: skipped, malformed "
                    f"({type(exc).__name__})"
                )
        return items

    # -- searches --

    def _pages(self, jql: str) -> Iterator[list[Any]]:
        """Yield the pages of a search, one at a time (memory stays bounded by a page)."""
        size = self.settings.page_size
        if self.cloud:
            for reply in self._token_replies("search", jql, size, self.fields, "changelog"):
                yield _issues(reply)
        else:
            yield from self._offset_pages("search", jql, size, self.fields, "changelog")

    def _token_replies(
        self, what: str, jql: str, size: int, fields: Sequence[str], expand: str | None
    ) -> Iterator[dict[str, Any]]:
        """Page a Cloud search/jql by nextPageToken, sending what enhanced_search_issues sends."""
        token: str | None = None
        tokens: set[str] = set()
        while True:
            params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": ",".join(fields)}
            if expand:
                params["expand"] = expand
            if token:
                params["nextPageToken"] = token
            reply = self._dict(what, self.transport.get_page(what, "search/jql", params))
            yield reply
            token = reply.get("nextPageToken")
            if not token or reply.get("isLast") is True:
                return
            token = self._new_token(what, token, tokens)

    def _offset_pages(
        self, what: str, jql: str, size: int, fields: Sequence[str], expand: str | None
    ) -> Iterator[list[Any]]:
        """Page a Data Center search by startAt, catching rows that moved up between pages.

        When an issue already read is updated (it moves to the end of `ORDER BY updated`) or
        deleted, every later row moves up one place and plain offsets would skip one. Each page
        therefore re-reads the previous page's last row; if that row is not where it was, the
        search steps back a page, and issues already yielded (in the same state) are not yielded
        again.
        """
        start = 0
        previous: str | None = None  # id of the last row read, expected at start - 1
        seen: dict[Any, Any] = {}  # issue id -> its `updated` when yielded
        rewinds = 0
        stale = 0  # pages in a row that brought no issue not met before
        rewound = False  # the page asked for is one read again on purpose
        while True:
            ask = start - 1 if previous is not None else start
            # What search_issues(json_result=True) sends.
            params: dict[str, Any] = {
                "jql": jql,
                "startAt": ask,
                "maxResults": size + (1 if previous is not None else 0),
                "fields": ",".join(fields),
            }
            if expand:
                params["expand"] = expand
            reply = self._dict(what, self.transport.get_page(what, "search", params))
            rows = _issues(reply)
            if previous is not None and rows and rows[0].get("id") != previous and rewinds < MAX_REWINDS:
                rewinds += 1
                start, previous, rewound = max(0, start - size), None, True
                continue
            if rows and not rewound and all(issue.get("id") in seen for issue in rows):
                # Rows that moved during the sync come back, but never a whole page of them for
                # long: a server (or a proxy) that ignores startAt sends the first page for ever.
                stale += 1
                if stale > MAX_STALE_PAGES:
                    raise SourceError(
                        f"{self.transport.host}: {what}: the server sent the same rows again and again "
                        "(does something between teampulse and Jira drop startAt?)"
                    )
            elif not rewound:
                stale = 0
            rewound = False
            fresh = [issue for issue in rows if seen.get(issue.get("id"), _UNSEEN) != _raw_updated(issue)]
            seen.update((issue.get("id"), _raw_updated(issue)) for issue in fresh)
            yield fresh
            start = ask + len(rows)
            beyond = len(rows) - (1 if previous is not None and rows else 0)  # rows past the re-read one
            previous = rows[-1].get("id") if rows else None
            total = reply.get("total")
            # Without `total` (some servers and proxies leave it out), the end is a page with no
            # row past the one re-read: it always comes back, so `not rows` alone never ends.
            if beyond <= 0 or (isinstance(total, int) and start >= total):
                return

    def _list_ids(self, base: str) -> set[int]:
        """Return the ids of every issue that matches a team's JQL now."""
        if self.cloud:
            pages: Iterable[list[Any]] = (
                _issues(reply)
                for reply in self._token_replies("reconcile", base, CLOUD_ID_PAGE, ["id"], None)
            )
        else:
            # The same moved-row guard as the sync: a skipped row would read as a deleted issue.
            pages = self._offset_pages("reconcile", base, DC_ID_PAGE, ["id"], None)
        return {int(issue["id"]) for page in pages for issue in page}

    # -- changelog top-ups --

    def _dc_changelogs(self, truncated: list[Any]) -> dict[str, list[Any]]:
        """Fetch, issue by issue, the changelogs a Data Center search truncated (rare: it sends all)."""
        result: dict[str, list[Any]] = {}
        for issue in truncated:
            histories = self._dc_changelog(str(issue["id"]))
            if histories is not None:
                result[issue["id"]] = histories
        return result

    def _bulkfetch(self, ids: list[str]) -> dict[str, list[Any]]:
        result: dict[str, list[Any]] = {}
        wanted = set(ids)
        tokens: set[str] = set()
        for at in range(0, len(ids), BULKFETCH_MAX_ISSUES):
            body: dict[str, Any] = {
                "issueIdsOrKeys": ids[at : at + BULKFETCH_MAX_ISSUES],
                "maxResults": BULKFETCH_MAX_HISTORIES,
            }
            while True:
                # The client does not wrap this Cloud-only v3 endpoint. No fieldIds filter: change
                # ids carry the item's index within its history, which a filter would shift.
                reply = self._dict(
                    "changelog", self.transport.post("changelog", "changelog/bulkfetch", body, api="3")
                )
                for log in reply.get("issueChangeLogs") or ():
                    issue_id = str(log.get("issueId"))
                    if issue_id in wanted:
                        result.setdefault(issue_id, []).extend(log.get("changeHistories") or ())
                token = reply.get("nextPageToken")
                if not token:
                    break
                body = {**body, "nextPageToken": self._new_token("changelog", token, tokens)}
        return result

    def _dc_changelog(self, issue_id: str) -> list[Any] | None:
        """Page through issue/{id}/changelog, or expand the issue where that endpoint is missing."""
        get = self.transport.get
        if self.source.changelog_endpoint:
            histories: list[Any] = []
            start = 0
            while True:
                params = {"startAt": start, "maxResults": CHANGELOG_PAGE}
                reply = get("changelog", f"issue/{issue_id}/changelog", params, missing_ok=True)
                if reply is None:
                    break
                page = self._dict("changelog", reply)
                values = page.get("values", page.get("histories")) or []
                histories.extend(values)
                start += len(values)
                total = page.get("total")
                if not values or page.get("isLast") is True or (isinstance(total, int) and start >= total):
                    return histories
        reply = get(
            "changelog", f"issue/{issue_id}", {"fields": "status", "expand": "changelog"}, missing_ok=True
        )
        if reply is None:
            return None  # the issue is gone: keep what the search returned
        # The issue exists, so the 404 above meant the endpoint is missing on this server.
        self.source.changelog_endpoint = False
        return list((self._dict("changelog", reply).get("changelog") or {}).get("histories") or [])

    # -- people --

    def _resolve_members(self) -> bool:
        """Look up (once per process) the Jira ids of configured people not mapped yet.

        Every team's people, not only the synced team's: who a Jira id is must not depend on
        which team's issues named it first.
        """
        people = self.translator.people
        known = people.known_emails()
        learnt = False
        for email in sorted(people.configured):
            if email in known or email in self.source.searched:
                continue
            params = {"query": email} if self.cloud else {"username": email}
            users = self.transport.get("user search", "user/search", params)
            self.source.searched.add(email)  # only once answered: a failed cycle asks again
            if not isinstance(users, list):
                continue
            exact = [
                u for u in users if isinstance(u, Mapping) and str(u.get("emailAddress", "")).lower() == email
            ]
            match = (
                exact[0] if exact else users[0] if len(users) == 1 and isinstance(users[0], Mapping) else None
            )
            ident = people.ident(match) if match is not None else None
            if ident is not None and ident not in people.emails:
                people.emails[ident] = email
                learnt = True
        return learnt

    def _new_token(self, what: str, token: object, tokens: set[str]) -> str:
        """Return a page token, refusing one met before: the paging would never end."""
        text = str(token)
        if text in tokens:
            raise SourceError(f"{self.transport.host}: {what}: the server sent the same page token twice")
        tokens.add(text)
        return text

    def _dict(self, what: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SourceError(f"{self.transport.host}: {what}: unexpected reply")
        return value


def _split_truncated(page: list[Any]) -> tuple[list[Any], list[Any]]:
    """Split a page into issues with complete changelogs and those the search truncated."""
    complete: list[Any] = []
    truncated: list[Any] = []
    for issue in page:
        log = issue.get("changelog") or {}
        total = log.get("total")
        if isinstance(total, int) and total > len(log.get("histories") or ()):
            truncated.append(issue)
        else:
            complete.append(issue)
    return complete, truncated


def _raw_updated(issue: Mapping[str, Any]) -> Any:
    return (issue.get("fields") or {}).get("updated")


def _updated(issue: Mapping[str, Any]) -> datetime | None:
    return parse_ts((issue.get("fields") or {}).get("updated"))


def _issues(reply: Mapping[str, Any]) -> list[Any]:
    issues = reply.get("issues")
    return issues if isinstance(issues, list) else []


def _zone(name: object) -> tzinfo:
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC
