"""Searches: Cloud's search/jql by nextPageToken, Data Center's search by startAt, GET or POST.

Every search of a collection goes through one Searcher, which counts what the cycle may still
spend (settings.max_requests_per_cycle): a search does not start a new page once the budget is
spent, and says so, so the collection stops where it is and the next one goes on from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from teampulse import SourceError

from .client import Rejected, Transport
from .queries import GET_MAX_JQL_CHARS, MAX_IDS, ids_in

__all__ = ["CLOUD_ID_PAGE", "DC_ID_PAGE", "MAX_REWINDS", "MAX_STALE_PAGES", "JqlRejected", "Searcher"]

CLOUD_ID_PAGE = 5000  # search/jql returns up to 5,000 issues a page when only ids are asked for
DC_ID_PAGE = 1000  # Data Center's default jira.search.views.default.max
# Pages in a row with no issue not met before, past which a Data Center search is taken to
# be stuck (rows that moved come back, but not a whole page of them several times over).
MAX_STALE_PAGES = 3
MAX_REWINDS = 20  # per search: past this, a busy server's moving rows are left to the next sync
_UNSEEN = object()  # marks an issue id not yielded yet (an id-only row has no `updated`)


class JqlRejected(Exception):
    """Jira refused a search's JQL (HTTP 400) on its first page."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Searcher:
    """The searches of one collection, within its request budget."""

    def __init__(self, transport: Transport, cloud: bool, budget: int) -> None:
        self.transport = transport
        self.cloud = cloud
        self.budget = budget
        self.spent = False  # set once a search stopped for the budget

    @property
    def host(self) -> str:
        """Return the server's host for messages."""
        return self.transport.host

    def left(self) -> bool:
        """Say whether the cycle may start another search page; remember when it may not."""
        if self.transport.requests >= self.budget:
            self.spent = True
        return not self.spent

    # -- pages of issues --

    def pages(
        self, what: str, jql: str, size: int, fields: Sequence[str], expand: str | None, budget: bool = True
    ) -> Iterator[list[Any]]:
        """Yield the pages of a search, one at a time (memory stays bounded by a page).

        Raises JqlRejected when Jira refuses the JQL on the first page; stops early, with
        `spent` set, when the budget allows no further page (unless `budget` is False).
        """
        if self.cloud:
            for reply in self._token_replies(what, jql, size, fields, expand, budget):
                yield _issues(reply)
        else:
            yield from self._offset_pages(what, jql, size, fields, expand, budget)

    def _request(self, what: str, path: str, params: dict[str, Any], first: bool) -> dict[str, Any]:
        """Send one search page: GET while the JQL is short, POST (the JQL in the body) past that."""
        transport = self.transport
        if len(params["jql"]) <= GET_MAX_JQL_CHARS:
            query = {k: ",".join(v) if isinstance(v, list) else v for k, v in params.items()}
            reply = transport.get_page(what, path, query, rejected_ok=first)
        else:
            body = dict(params)
            if not self.cloud and "expand" in body:
                body["expand"] = [body["expand"]]  # Data Center's body takes a list; Cloud's a string
            reply = transport.post_page(what, path, body, rejected_ok=first)
        if isinstance(reply, Rejected):
            raise JqlRejected(reply.detail)
        if not isinstance(reply, dict):
            raise SourceError(f"{self.host}: {what}: unexpected reply")
        return reply

    def _token_replies(
        self, what: str, jql: str, size: int, fields: Sequence[str], expand: str | None, budget: bool
    ) -> Iterator[dict[str, Any]]:
        """Page a Cloud search/jql by nextPageToken, sending what enhanced_search_issues sends."""
        token: str | None = None
        tokens: set[str] = set()
        while not budget or self.left():
            params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": list(fields)}
            if expand:
                params["expand"] = expand
            if token:
                params["nextPageToken"] = token
            reply = self._request(what, "search/jql", params, first=token is None)
            yield reply
            token = reply.get("nextPageToken")
            if not token or reply.get("isLast") is True:
                return
            token = self.new_token(what, token, tokens)

    def _offset_pages(
        self, what: str, jql: str, size: int, fields: Sequence[str], expand: str | None, budget: bool
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
        first = True
        stride = size  # rows the last page brought past the re-read one (a server may send fewer than asked)
        while not budget or self.left():
            ask = start - 1 if previous is not None else start
            # What search_issues(json_result=True) sends.
            params: dict[str, Any] = {
                "jql": jql,
                "startAt": ask,
                "maxResults": size + (1 if previous is not None else 0),
                "fields": list(fields),
            }
            if expand:
                params["expand"] = expand
            reply = self._request(what, "search", params, first=first)
            first = False
            rows = _issues(reply)
            if previous is not None and rows and rows[0].get("id") != previous and rewinds < MAX_REWINDS:
                rewinds += 1
                start, previous, rewound = max(0, start - max(1, stride)), None, True
                continue
            if rows and not rewound and all(issue.get("id") in seen for issue in rows):
                # Rows that moved during the sync come back, but never a whole page of them for
                # long: a server (or a proxy) that ignores startAt sends the first page for ever.
                stale += 1
                if stale > MAX_STALE_PAGES:
                    raise SourceError(
                        f"{self.host}: {what}: the server sent the same rows again and again "
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
            stride = beyond
            previous = rows[-1].get("id") if rows else None
            total = reply.get("total")
            # Without `total` (some servers and proxies leave it out), the end is a page with no
            # row past the one re-read: it always comes back, so `not rows` alone never ends.
            if beyond <= 0 or (isinstance(total, int) and start >= total):
                return

    # -- ids only --

    def ids(self, what: str, jql: str) -> set[int]:
        """Return the ids of every issue matching `jql`.

        A listing once begun is finished whatever the budget: a part of one says nothing about
        what is gone, and a team too large for a cycle's budget would never be listed whole.
        """
        size = CLOUD_ID_PAGE if self.cloud else DC_ID_PAGE
        found: set[int] = set()
        # Data Center pages with the moved-row guard: a skipped row would read as a deleted issue.
        for page in self.pages(what, jql, size, ["id"], None, budget=False):
            found.update(int(issue["id"]) for issue in page)
        return found

    def matching(
        self, what: str, where: Callable[[set[int]], str | None], ids: set[int]
    ) -> tuple[set[int], set[int]]:
        """Return which of `ids` match the JQL condition `where(ids)`, and which vanished meanwhile.

        `where` returns None for a subset that nothing can match (no search is made for it).

        Jira refuses a JQL naming an issue id that no longer exists (one deleted since it was
        read): the ids are then split until the refused ones are alone, and those come back as
        vanished. These small searches finish a page already read, so the budget does not stop them.
        """
        matched: set[int] = set()
        vanished: set[int] = set()
        pending = [sorted(ids)[at : at + MAX_IDS] for at in range(0, len(ids), MAX_IDS)]
        while pending:
            chunk = pending.pop()
            if not chunk:
                continue
            condition = where(set(chunk))
            if condition is None:
                continue
            jql = f"{ids_in(chunk)} AND ({condition})"
            try:
                matched.update(self._all_ids(what, jql, len(chunk)))
            except JqlRejected:
                if len(chunk) == 1:
                    vanished.add(chunk[0])
                else:
                    half = len(chunk) // 2
                    pending += [chunk[:half], chunk[half:]]
        return matched & ids, vanished

    def _all_ids(self, what: str, jql: str, most: int) -> set[int]:
        """Return the ids a small search finds (at most `most`: one page), whatever the budget."""
        size = min(most, CLOUD_ID_PAGE if self.cloud else DC_ID_PAGE)
        params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": ["id"]}
        if not self.cloud:
            params["startAt"] = 0
        found: set[int] = set()
        token: str | None = None
        tokens: set[str] = set()
        while True:
            if token:
                params["nextPageToken"] = token
            reply = self._request(what, "search/jql" if self.cloud else "search", params, first=token is None)
            issues = _issues(reply)
            found.update(int(issue["id"]) for issue in issues)
            if self.cloud:
                token = reply.get("nextPageToken")
                if not token or reply.get("isLast") is True:
                    return found
                token = self.new_token(what, token, tokens)
            else:
                total = reply.get("total")
                params["startAt"] += len(issues)
                # Without `total`, a page shorter than asked is the last (a server may cap pages).
                short = len(issues) < size if total is None else params["startAt"] >= total
                if not issues or short or not isinstance(total, int | None):
                    return found

    def new_token(self, what: str, token: object, tokens: set[str]) -> str:
        """Return a page token, refusing one met before: the paging would never end."""
        text = str(token)
        if text in tokens:
            raise SourceError(f"{self.host}: {what}: the server sent the same page token twice")
        tokens.add(text)
        return text


def _raw_updated(issue: Any) -> Any:
    return (issue.get("fields") or {}).get("updated")


def _issues(reply: Any) -> list[Any]:
    issues = reply.get("issues") if isinstance(reply, dict) else None
    return issues if isinstance(issues, list) else []
