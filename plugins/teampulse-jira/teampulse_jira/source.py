"""The Jira source: every team's changes in one combined search per cycle, routed to teams locally.

A cycle runs three kinds of work, in this order, within settings.max_requests_per_cycle:

1. Incremental: one search over every synced team, `((jql_1) OR (jql_2) ...) AND updated >= ...`
   (batched only where the JQL would grow too long), its issues routed to their teams
   (routing.py). Issues it read before, unchanged, are skipped: a quiet cycle is that one search.
2. First syncs of teams that are new or whose JQL changed: project-only teams together in one
   combined search, other teams each in their own (the search says which team an issue is).
3. Reconciliation: the ids still matching the teams due (every reconcile_hours), listed in one
   combined search, so deleted issues and those that left every due team are removed.

A team's position only moves past what was stored with it: a cycle cut short by the budget
leaves the rest to the next one.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from teampulse import (
    Batch,
    CollectContext,
    Event,
    SourceError,
    TeamInfo,
    WorkItem,
    WorkItemRemoved,
    WorkItemsCovered,
)

from .changelogs import BULKFETCH_MAX_ISSUES, Changelogs, split_truncated
from .client import Transport
from .config import JiraSettings, team_jql
from .cursor import VERSION, TeamCursor, domain_digest, dump_recent, jql_digest, load_recent, load_teams
from .jql import ProjectMatcher, project_matcher, project_values, quoted, team_query
from .lookups import Lookups
from .metadata import ServerFacts, sprint_field, zone
from .queries import batches, either, full_query, incremental_query
from .routing import Member, Router, project_of
from .search import CLOUD_ID_PAGE, DC_ID_PAGE, MAX_REWINDS, MAX_STALE_PAGES, JqlRejected, Searcher
from .timeparse import format_jql, parse_ts
from .translate import People, Translator, status_map

__all__ = [
    "BULKFETCH_MAX_ISSUES",
    "MAX_REWINDS",
    "MAX_STALE_PAGES",
    "SEARCH_FIELDS",
    "JiraSource",
    "team_query",
]

# `project` routes issues to teams whose JQL tests only the project, and tells which teams hold
# issues of a project (routing.py).
SEARCH_FIELDS = ("status", "created", "updated", "duedate", "assignee", "resolutiondate", "project")
PROGRESS_EVERY = 5  # pages
# Cloud search is eventually consistent: a search may still match an issue changed moments
# ago on its old state. An issue changed less than this before the cycle began is not put on
# the skip list, so the next cycle's overlap reads it again, as it reads anything it has not met.
SETTLE_SECONDS = 120
RECONCILE_SHARE = 10  # reconciliation spends at most this fraction (1/N) of the budget per cycle


class JiraSource:
    """A configured Jira source; what it learns about the server and users lasts for the process."""

    def __init__(self, settings: JiraSettings, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.sleep = sleep
        self.rng: Callable[[], float] = random.random  # backoff jitter; a test fixes it
        self.people: People | None = None
        self.lookups = Lookups()
        self.changelog_endpoint = True  # older Data Center lacks issue/{id}/changelog
        self.facts: ServerFacts | None = None  # serverInfo, myself, status, field as last read
        self.last_requests = 0  # requests made by the last collection, for benchmarks

    def collect(self, ctx: CollectContext) -> Iterator[Batch]:
        """Yield one batch per page of the cycle's searches, then removals."""
        transport = Transport(self.settings, sleep=self.sleep, rng=self.rng)
        now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
        facts = self.facts if self.facts is not None and self.facts.fresh(now) else None
        if facts is None:
            self.facts = None
        try:
            transport.connect(facts.info if facts is not None else None)
            yield from _Collection(self, transport, ctx).run()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
            # A reply of an unexpected shape where the source relies on one (an issue that is not
            # an object, an id that is not a number): the cycle fails in one line, and what the
            # batches before it carried stays committed.
            self.facts = None
            raise SourceError(
                f"{transport.host}: a reply of an unexpected shape ({type(exc).__name__}): is the url a "
                "Jira server, or a proxy rewriting its replies?"
            ) from None
        except SourceError:
            self.facts = None  # a failed cycle reads the server's settings again
            raise
        finally:
            self.last_requests = transport.requests
            transport.close()


@dataclass
class _Team:
    """A team as this collection syncs it."""

    info: TeamInfo
    digest: str  # of its JQL
    base: str  # its JQL without ORDER BY
    matcher: ProjectMatcher | None  # set when the JQL tests only the project
    projects: frozenset[str] | None  # set when the JQL only lists projects: `project in (...)`

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def size(self) -> int:
        """Return what the team adds to a combined query, in characters."""
        return len(self.base) if self.projects is None else sum(len(p) + 4 for p in self.projects)


def _operands(teams: Sequence[_Team]) -> list[str]:
    """Return the teams' JQL for a combined query: teams that only list projects share one clause."""
    lists = [t for t in teams if t.projects is not None]
    if len(lists) < 2:
        return [t.base for t in teams]
    listed = sorted({p for t in lists for p in t.projects or ()})
    return [f"project in ({', '.join(quoted(p) for p in listed)})"] + [
        t.base for t in teams if t.projects is None
    ]


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
        # The skip list: per set of teams (its digest), the issues read within the overlap window
        # and their `updated` (ms), whose membership in each of those teams is known.
        self.recent_in: dict[str, dict[int, int]] = {}  # as the cursor had it
        self.recent: dict[str, dict[int, int]] = {}  # as this cycle's searches leave it
        self.synced_at_start = ""  # digest of the teams synced when the cycle began
        self.domains: set[str] = set()  # the sets of teams this cycle plans to search
        self.rejected: dict[str, str] = {}  # team -> Jira's message, for teams whose JQL it refuses
        self.cloud = False
        self.zone: tzinfo = UTC
        self.fields: list[str] = list(SEARCH_FIELDS)
        self.statuses_reread = False
        self.changelogs = Changelogs(transport, source.changelog_endpoint)
        self.searcher = Searcher(transport, False, source.settings.max_requests_per_cycle)
        self.router = Router(self.searcher)

    def run(self) -> Iterator[Batch]:
        """Read the server's settings (once a process), then the cycle's searches."""
        self._prepare()
        old = load_teams(self.ctx.cursor)
        self.recent_in = load_recent(self.ctx.cursor)
        teams: list[_Team] = []
        for info in sorted((team_jql(t) for t in self.ctx.teams), key=lambda t: t.name):
            if not info.jql:
                continue
            teams.append(
                _Team(
                    info,
                    jql_digest(info.jql),
                    team_query(info.jql),
                    project_matcher(info.jql),
                    project_values(info.jql),
                )
            )
            if info.name in old:
                self.state[info.name] = old[info.name]
        synced = [t for t in teams if t.name in old and old[t.name].jql == t.digest]
        known = {t.name for t in synced}
        fresh = [t for t in teams if t.name not in known]
        incremental = batches(synced, lambda t: t.size)
        together = batches([t for t in fresh if t.matcher is not None], lambda t: t.size)
        alone = [[t] for t in fresh if t.matcher is None]
        self.synced_at_start = self._digest(synced)
        self.domains = {self._digest(group) for group in (*incremental, *together, *alone)}
        self.domains.add(self.synced_at_start)
        for group in incremental:
            yield from self._sweep(group, self._incremental_query)
        since = self.now - timedelta(days=self.settings.history_days)
        # Reach back as far as the engine reads (absent on cores before 0.2): without the
        # items done in its reference window, the first scanned days would read as a rise.
        wanted = getattr(self.ctx, "history_from", None)
        if wanted is not None:
            since = min(since, wanted)
        for group in (*together, *alone):
            yield from self._sweep(group, lambda ts: full_query(_operands(ts), since, self.zone), since)
        yield from self._reconcile([t for t in teams if t.name in self.state and t.name not in self.rejected])
        if not self.searcher.spent and not self.rejected:
            yield from self._settle(teams)
        if self.searcher.spent:
            self.ctx.progress(
                f"request budget spent (max_requests_per_cycle = {self.settings.max_requests_per_cycle}): "
                "the rest is read next cycle"
            )
        if self.rejected:
            names = ", ".join(sorted(self.rejected))
            detail = next(iter(self.rejected.values()))
            raise SourceError(
                f"{self.transport.host}: search: rejected (HTTP 400) for team {names}"
                + (f": {detail}" if detail else "")
            )

    # -- once per collection: deployment, time zone, statuses, fields --

    def _prepare(self) -> None:
        s = self.settings
        client = self.client
        source = self.source
        if s.deployment != "auto":
            # The client picks search/jql or search from this attribute alone.
            client.deploymentType = "Cloud" if s.deployment == "cloud" else "Server"
        self.cloud = client.deploymentType == "Cloud"
        self.searcher.cloud = self.cloud
        if source.people is None or source.people.cloud != self.cloud:
            source.people = People(self.cloud)
        # Every team's people, whichever team is synced: a member of one team shows up in
        # another's issues, and must be the same person whichever team came first.
        source.people.configure(email for team in self.ctx.teams for email in (team.manager, *team.members))
        facts = source.facts
        if facts is None:
            transport = self.transport
            myself = self._dict("myself", transport.call("myself", client.myself))
            statuses = transport.get("status", "status")
            if not isinstance(statuses, list):
                raise SourceError(f"{transport.host}: status: unexpected reply")
            fields = transport.call("field", client.fields)
            if not isinstance(fields, list):
                raise SourceError(f"{transport.host}: field: unexpected reply")
            info = transport.info
            assert info is not None
            facts = ServerFacts(info, zone(myself.get("timeZone")), statuses, fields, self.now)
            source.facts = facts
        self.zone = facts.zone
        sprint = sprint_field(facts.fields)
        if sprint:
            self.fields.append(sprint)
        self._prime_field_cache(facts.fields)
        self.translator = Translator(status_map(facts.statuses), sprint, source.people)

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

    # -- the cursor --

    def _cursor(self) -> dict[str, Any]:
        """Return the whole cursor: every team's state, as committed with a batch."""
        recent = {d: e for d, e in self.recent_in.items() if d in self.domains and d not in self.recent}
        recent.update(self.recent)
        return {
            "v": VERSION,
            "teams": {name: tc.to_json() for name, tc in self.state.items()},
            "recent": dump_recent(recent),
        }

    def _digest(self, teams: Sequence[_Team]) -> str:
        return domain_digest((t.name, t.digest) for t in teams)

    def _skip_list(self, teams: Sequence[_Team], digest: str) -> dict[int, int]:
        """Return what a search over `teams` may skip: issues whose membership in each is known."""
        found = self.recent_in.get(digest)
        if found is None and all(self.state.get(t.name) is not None for t in teams):
            # A whole cycle left one list for every team synced then: good for any of them.
            found = self.recent_in.get(self.synced_at_start)
        return dict(found or {})

    def _settle(self, teams: Sequence[_Team]) -> Iterator[Batch]:
        """After a whole cycle, keep one skip list for all synced teams, so any search may use it.

        Every search of the cycle went to its end, so each team's membership of every issue
        read is known: a search returns all its teams' issues. An issue read twice in
        different states is dropped (one team knows only its older state).
        """
        merged: dict[int, int] = {}
        clashes: set[int] = set()
        for entries in self.recent.values():
            for ident, ms in entries.items():
                if merged.setdefault(ident, ms) != ms:
                    clashes.add(ident)
        for ident in clashes:
            del merged[ident]
        synced = [t for t in teams if t.name in self.state and self.state[t.name].jql == t.digest]
        positions = [self.state[t.name].updated for t in synced]
        if not synced or any(p is None for p in positions):
            return
        floor = int(
            (min(p for p in positions if p is not None).timestamp() - self.settings.overlap_seconds) * 1000
        )
        digest = self._digest(synced)
        settled = {ident: ms for ident, ms in merged.items() if ms >= floor}
        before = self._cursor()["recent"]
        self.domains = {digest}
        self.recent = {digest: settled} if settled else {}
        self.recent_in = {}
        if self._cursor()["recent"] != before:
            yield Batch([], self._cursor())

    def _incremental_query(self, teams: Sequence[_Team]) -> str:
        """Return the changes of synced teams: grouped by where each team's sync stands."""
        overlap = timedelta(seconds=self.settings.overlap_seconds)
        groups: dict[str, tuple[list[_Team], datetime]] = {}
        for t in teams:
            since = (self.state[t.name].updated or self.now) - overlap
            members, _ = groups.setdefault(format_jql(since, self.zone), ([], since))
            members.append(t)
        return incremental_query([(_operands(ts), since) for ts, since in groups.values()], self.zone)

    # -- a search over some teams --

    def _sweep(
        self,
        teams: Sequence[_Team],
        query: Callable[[Sequence[_Team]], str],
        since: datetime | None = None,
    ) -> Iterator[Batch]:
        """Yield a search's pages as batches: its issues routed to `teams`, their positions moved.

        `since` set: the teams' first sync (their state starts with the first page, with a
        WorkItemsCovered each). A JQL Jira refuses is narrowed down to the teams it comes from,
        by halves; those are left out, the others synced.
        """
        if not self.searcher.left():
            return
        digest = self._digest(teams)
        self.domains.add(digest)
        skip = self._skip_list(teams, digest) if since is None else {}
        pages = self.searcher.pages("search", query(teams), self.settings.page_size, self.fields, "changelog")
        try:
            first = next(pages, None)
        except JqlRejected as exc:
            for half in self._halves(teams, exc):
                yield from self._sweep(half, query, since)
            return
        if first is None:
            return  # the budget allowed no page
        covered: list[Event] = []
        if since is not None:
            for t in teams:
                old = self.state.get(t.name)
                # Ids known under an old JQL stay, so that reconciliation removes those that left.
                old_ids = old.ids if old is not None else set()
                self.state[t.name] = TeamCursor(
                    jql=t.digest, ids=set(old_ids), reconciled=None if old_ids else self.now
                )
                # Issues done before `since` are not read: the team's history is whole from there on.
                covered.append(WorkItemsCovered(team=t.name, start=since))
        self.recent[digest] = skip
        yield from _Sweep(self, teams, skip, covered).run(first, pages)

    # -- translation --

    def _translate_page(
        self,
        page: list[Any],
        team: Any,
        histories: Mapping[str, list[Any]],
        labels: Mapping[Any, str] | None = None,
        names: Mapping[Any, str] | None = None,
    ) -> list[WorkItem]:
        """Translate a page; look people (and statuses) up once if it names ids not known yet.

        A page is translated again when the look-ups, or a user object on the page itself,
        mapped an id: a change item read before the object that maps its id must not keep
        the id (the person would split in two, depending on the order of the page).
        """
        translator = self.translator
        people = translator.people
        people.unknown = False
        translator.unknown_status = False
        mapped = len(people.emails)
        items = self._translate(page, team, histories, labels, names)
        again = people.unknown and (self._resolve_members() or len(people.emails) != mapped)
        if translator.unknown_status and self._reread_statuses():
            again = True
        if again:
            items = self._translate(page, team, histories, labels, names)
        return items

    def _translate(
        self,
        page: list[Any],
        team: Any,
        histories: Mapping[str, list[Any]],
        labels: Mapping[Any, str] | None = None,
        names: Mapping[Any, str] | None = None,
    ) -> list[WorkItem]:
        """Translate a page; `names` gives an issue (by id) the team its item is made for."""
        work_item = self.translator.work_item
        name = team.name
        named = names or {}
        try:
            return [
                work_item(issue, named.get(issue["id"], name), histories.get(issue["id"])) for issue in page
            ]
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
        # Rare: one odd issue must not stop the team. Translate one by one and report the odd ones.
        items = []
        for issue in page:
            try:
                items.append(work_item(issue, named.get(issue["id"], name), histories.get(issue["id"])))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                ident = issue.get("id") if isinstance(issue, Mapping) else None
                label = (labels or {}).get(ident, name)
                self.ctx.problem(
                    f"{self.transport.host}: team {label}: issue id {ident}: skipped, malformed "
                    f"({type(exc).__name__})"
                )
        return items

    def _resolve_members(self) -> bool:
        """Look up (once per process) the Jira ids of configured people not mapped yet."""
        return self.source.lookups.resolve(self.transport, self.cloud, self.translator.people)

    def _reread_statuses(self) -> bool:
        """Read the status list again (once a collection) when a change names a status not in it."""
        if self.statuses_reread:
            return False
        self.statuses_reread = True
        statuses = self.transport.get("status", "status")
        if not isinstance(statuses, list):
            raise SourceError(f"{self.transport.host}: status: unexpected reply")
        if self.source.facts is not None:
            self.source.facts.statuses = statuses
        known = status_map(statuses)
        changed = known != self.translator.statuses
        self.translator.statuses = known
        return changed

    def _dc_changelog(self, issue_id: str) -> list[Any] | None:
        """Return an issue's whole changelog (Data Center, or a fallback), None if it is gone."""
        try:
            return self.changelogs.issue(issue_id)
        finally:
            self.source.changelog_endpoint = self.changelogs.endpoint

    # -- reconciliation --

    def _reconcile(self, teams: Sequence[_Team]) -> Iterator[Batch]:
        """List the ids still matching the teams due, once for all of them, and remove the rest.

        Due: not reconciled for reconcile_hours (or never). Oldest first, as many as this cycle's
        share of the budget lists; the others are due next cycle, so a burst spreads over cycles.
        """
        every = timedelta(hours=self.settings.reconcile_hours)
        never = datetime.min.replace(tzinfo=UTC)
        due = []
        for t in teams:
            tc = self.state[t.name]
            last = tc.reconciled
            if tc.jql == t.digest and (last is None or self.now - last >= every):
                due.append((last or never, t.name, t))
        due.sort(key=lambda entry: entry[:2])
        page = CLOUD_ID_PAGE if self.cloud else DC_ID_PAGE
        share = max(1, self.settings.max_requests_per_cycle // RECONCILE_SHARE)
        chosen: list[_Team] = []
        listed = 0
        for _, _, t in due:
            listed += len(self.state[t.name].ids)
            if chosen and listed / page + 1 > share:
                break
            chosen.append(t)
        for group in batches(sorted(chosen, key=lambda t: t.name), lambda t: t.size):
            yield from self._reconcile_group(group)

    def _halves(self, teams: Sequence[_Team], exc: JqlRejected) -> tuple[Sequence[_Team], ...]:
        """Return the halves to ask again after Jira refused the teams' combined JQL.

        Bisecting finds the team whose JQL Jira refuses; that team alone is recorded as
        rejected, and the others are synced.
        """
        if len(teams) == 1:
            self.rejected[teams[0].name] = exc.detail
            return ()
        middle = len(teams) // 2
        return (teams[:middle], teams[middle:])

    def _reconcile_group(self, teams: Sequence[_Team]) -> Iterator[Batch]:
        if not self.searcher.left():
            return
        try:
            current = self.searcher.ids("reconcile", either(_operands(teams)))
        except JqlRejected as exc:
            for half in self._halves(teams, exc):
                yield from self._reconcile_group(half)
            return
        removed: list[Event] = []
        for t in teams:
            tc = self.state[t.name]
            gone = sorted(tc.ids - current)
            tc.discard(gone)
            tc.reconciled = self.now
            removed += [WorkItemRemoved(id=str(i), team=t.name, at=self.now) for i in gone]
        yield Batch(removed, self._cursor())

    def _dict(self, what: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SourceError(f"{self.transport.host}: {what}: unexpected reply")
        return value


@dataclass
class _Held:
    """An issue whose changelog the search cut, waiting (fields only) for a bulkfetch."""

    issue: dict[str, Any]
    teams: set[str]
    stamp: int | None  # its `updated`, epoch ms


class _Sweep:
    """One search's pages: routing, translation, removals, positions and the skip list."""

    def __init__(
        self, collection: _Collection, teams: Sequence[_Team], recent: dict[int, int], covered: list[Event]
    ):
        self.c = collection
        self.teams = teams
        self.states = [collection.state[t.name] for t in teams]
        self.members = [
            Member(t.name, t.base, t.matcher, tc.ids, tc.projects)
            for t, tc in zip(teams, self.states, strict=True)
        ]
        self.single = len(teams) == 1
        self.initial = [tc.updated for tc in self.states]
        self.recent = recent  # the skip list: read before and unchanged; what this search reads joins it
        # Issues changed up to this moment (epoch ms) may join it.
        self.settled = int((collection.now.timestamp() - SETTLE_SECONDS) * 1000)
        self.covered = covered
        self.newest: datetime | None = None
        self.held: list[_Held] = []
        self.waiting: set[int] = set()  # the ids of the held issues
        self.count = 0
        self.label = f"team {teams[0].name}" if self.single else f"{len(teams)} teams"

    def run(self, first: list[Any], pages: Iterator[list[Any]]) -> Iterator[Batch]:
        c = self.c
        if self.covered:
            # Before the first items, without a cursor: a restart repeats it, which is harmless.
            yield Batch(self.covered)
        for number, page in enumerate(_chain(first, pages), start=1):
            events = self._page(page)
            if len(self.held) >= BULKFETCH_MAX_ISSUES:
                events += self._flush()
            moved = self._advance()
            if number % PROGRESS_EVERY == 0:
                c.ctx.progress(f"{self.label}: {self.count} issues, page {number}")
            if events or moved:
                yield Batch(events, c._cursor())
        whole = not c.searcher.spent  # the page loop checks the budget only before asking for a page
        events = self._flush() if self.held else []
        moved = self._advance()
        if whole:
            for tc in self.states:
                if tc.updated is None:
                    # Nothing matched yet: later syncs start from now (less the overlap), not the window.
                    tc.updated = c.now
                    moved = True
        if events or moved:
            yield Batch(events, c._cursor())

    def _page(self, page: list[Any]) -> list[Event]:
        """Route and translate one page; return its items and removals (held issues wait)."""
        c = self.c
        stamps: dict[int, int | None] = {}
        idents: list[int] = []  # each issue's id as a number, once
        for issue in page:
            moment = _updated(issue)
            ident = int(issue["id"])
            idents.append(ident)
            stamps[ident] = None if moment is None else int(moment.timestamp() * 1000)
            if moment is not None and (self.newest is None or moment > self.newest):
                self.newest = moment
        recent = self.recent
        todo = [
            issue for issue, ident in zip(page, idents, strict=True) if recent.get(ident, -1) != stamps[ident]
        ]
        if not todo:
            return []
        if self.single:
            routes = {int(issue["id"]): {self.teams[0].name} for issue in todo}
            vanished: set[int] = set()
        else:
            routes, vanished = c.router.route(todo, self.members)
        events: list[Event] = []
        read = set(routes)
        for member, tc in zip(self.members, self.states, strict=True):
            gone = sorted(i for i in read & member.ids if member.name not in routes[i])
            if gone:
                tc.discard(gone)
                events += [WorkItemRemoved(id=str(i), team=member.name, at=c.now) for i in gone]
        routed = [issue for issue in todo if routes.get(int(issue["id"]))]
        complete, truncated = split_truncated(routed)
        histories: dict[str, list[Any]] = {}
        if truncated and c.cloud:
            for issue in truncated:
                issue.pop("changelog", None)
                ident = int(issue["id"])
                self.held.append(_Held(issue, routes[ident], stamps[ident]))
                self.waiting.add(ident)
        elif truncated:
            histories = c.changelogs.issues(truncated)
            c.source.changelog_endpoint = c.changelogs.endpoint
            complete = routed
        events += self._emit(complete, routes, histories)
        waiting = self.waiting
        for issue in todo:
            ident = int(issue["id"])
            stamp = stamps[ident]
            if stamp is not None and stamp <= self.settled and ident not in vanished and ident not in waiting:
                recent[ident] = stamp
        return events

    def _emit(
        self, issues: list[Any], routes: Mapping[int, set[str]], histories: Mapping[str, list[Any]]
    ) -> list[Event]:
        """Translate issues once and emit each under every team it belongs to."""
        if not issues:
            return []
        teams = {issue["id"]: sorted(routes[int(issue["id"])]) for issue in issues}
        names = {ident: ", ".join(found) for ident, found in teams.items()}
        # Each item is translated under its first team, and copied for any other.
        firsts = {ident: found[0] for ident, found in teams.items()}
        items = self.c._translate_page(issues, _Named(self.teams[0].name), histories, names, firsts)
        # Items carry the id as a string, whatever the reply held.
        where = {
            str(issue["id"]): (teams[issue["id"]], str(project_of(issue).get("id") or "")) for issue in issues
        }
        added: dict[str, list[int]] = {}
        held: dict[str, set[str]] = {}
        out: list[Event] = []
        for item in items:
            found, project = where[item.id]
            for name in found:
                out.append(item if item.team == name else replace(item, team=name))
                added.setdefault(name, []).append(int(item.id))
                if project:
                    held.setdefault(name, set()).add(project)
        for t, tc in zip(self.teams, self.states, strict=True):
            if t.name in added:
                tc.add(added[t.name])
                tc.projects |= held.get(t.name, set())
        self.count += len(items)
        return out

    def _flush(self) -> list[Event]:
        """Fetch the whole changelogs of held issues (Cloud bulkfetch) and emit them."""
        held, self.held = self.held, []
        self.waiting = set()
        histories = self.c.changelogs.bulkfetch([str(h.issue["id"]) for h in held])
        # An issue missing from the reply was deleted meanwhile: reconciliation reports it.
        found = [h for h in held if h.issue["id"] in histories]
        routes = {int(h.issue["id"]): h.teams for h in found}
        events = self._emit([h.issue for h in found], routes, histories)
        for h in found:
            if h.stamp is not None and h.stamp <= self.settled:
                self.recent[int(h.issue["id"])] = h.stamp
        return events

    def _advance(self) -> bool:
        """Move the teams' positions to what this search read (the oldest held issue at most)."""
        position = _updated(self.held[0].issue) if self.held else self.newest
        moved = False
        for tc, initial in zip(self.states, self.initial, strict=True):
            target = (
                initial if position is None or (initial is not None and initial >= position) else position
            )
            if target != tc.updated:
                tc.updated = target
                moved = True
        if self.newest is not None:
            # The next cycle re-reads from the oldest team position less the overlap: what this
            # search read before that is never met again. (A restart while issues are held
            # re-reads from further back, and reads those issues again, skipping none: harmless.)
            start = min(self.newest if i is None else max(i, self.newest) for i in self.initial)
            floor = int((start.timestamp() - self.c.settings.overlap_seconds) * 1000)
            for ident in [i for i, ms in self.recent.items() if ms < floor]:
                del self.recent[ident]
        return moved


@dataclass(frozen=True)
class _Named:
    name: str


def _chain(first: list[Any], rest: Iterator[list[Any]]) -> Iterator[list[Any]]:
    yield first
    yield from rest


def _updated(issue: Mapping[str, Any]) -> datetime | None:
    return parse_ts((issue.get("fields") or {}).get("updated"))
