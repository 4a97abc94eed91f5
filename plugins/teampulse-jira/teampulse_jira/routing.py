"""Which teams an issue read by a combined query belongs to: exactly, in as few requests as can be.

A combined query returns issues matching any of its teams' JQL; Jira does not say which. Teams
whose JQL tests only the project are told from the issue's `project` field (no request). For
the others ("opaque" JQL) Jira is asked, in rounds: in each round every issue still undecided
asks one question, "do you match any of these teams?", and one search answers every issue's
question at once:

    id in (all asking) AND ((jql_a) AND id in (those asking about a) OR (jql_b) AND ...)

An issue first asks about the teams it is not expected in, then about those it is expected in:
the teams it was stored under, or for an issue not stored yet, the teams holding issues of its
project. A team set that matches is halved until each matching team is found. What the combined
query itself says saves questions: an issue no project-only team takes matched some opaque
team, so once all but one of its candidate sets said no, the last one is a match unasked.

So a page costs no search when every team is project-only; one when expectations hold (an
issue in one team only); two when an issue is also in a project-only team; a few more for an
issue that moved between teams, each round shared by the whole page. An issue deleted between
the page and these searches is "vanished": Jira refuses JQL naming it, the ids are split until
it is found, and it goes nowhere.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .jql import ProjectMatcher
from .queries import MAX_JQL_CHARS, RESERVE, either
from .search import Searcher

__all__ = ["Member", "Router", "project_of"]

Question = frozenset[str]  # team names: "do you match any of them?"
Plan = Generator[Question, bool, set[str]]  # asks questions, is told yes or no, returns the matches


@dataclass
class Member:
    """A team as routing sees it: its JQL, its matcher if project-only, what it holds."""

    name: str
    base: str  # the JQL without ORDER BY
    matcher: ProjectMatcher | None
    ids: set[int] = field(default_factory=set)  # issue ids stored under the team
    projects: set[str] = field(default_factory=set)  # project ids of those issues


def project_of(issue: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return an issue's `project` field (empty if absent)."""
    project = (issue.get("fields") or {}).get("project")
    return project if isinstance(project, Mapping) else {}


def _find(parts: Sequence[Question], known: bool) -> Plan:
    """Find the matching teams among `parts`; `known`: at least one of them matches."""
    found: set[str] = set()
    hit_before = False
    for n, part in enumerate(parts):
        if known and not hit_before and n == len(parts) - 1:
            hit = True  # every other part said no, and one of them matches: this one
        else:
            hit = yield part
        if not hit:
            continue
        hit_before = True
        if len(part) == 1:
            found |= part
        else:
            names = sorted(part)
            middle = len(names) // 2
            found |= yield from _find([frozenset(names[:middle]), frozenset(names[middle:])], True)
    return found


class Router:
    """Route pages of a combined query to the teams of its domain."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.searches = 0  # routing searches made, for tests and progress
        # For the last domain routed, per project: the project-only teams that take its issues.
        self._domain: Sequence[Member] | None = None
        self._by_project: dict[tuple[str, str, str], set[str]] = {}

    def route(
        self, issues: Sequence[Mapping[str, Any]], domain: Sequence[Member]
    ) -> tuple[dict[int, set[str]], set[int]]:
        """Return, per issue id, the names of the domain's teams whose JQL it matches; and the vanished ids.

        `issues` must all have come from a query over exactly `domain` (any team's JQL, with or
        without a time condition): that is what lets the last candidate stand unasked.
        """
        projects = {int(issue["id"]): project_of(issue) for issue in issues}
        routes = {i: set(self._local(domain, project)) for i, project in projects.items()}
        opaque = [m for m in domain if m.matcher is None]
        plans: dict[int, Plan] = {}
        if opaque:
            every = frozenset(m.name for m in opaque)
            for i, project in projects.items():
                held = frozenset(m.name for m in opaque if i in m.ids)
                place = str(project.get("id") or "")
                likely = frozenset(m.name for m in opaque if place and place in m.projects) - held
                rest = every - held - likely
                parts = [p for p in (rest, held, likely) if p]
                plans[i] = _find(parts, not routes[i])
        else:
            # Every team is project-only, yet no team takes these: the issue changed since the
            # page was read, or this reading of a JQL differs from Jira's. Jira decides.
            unexplained = [i for i, names in routes.items() if not names]
            if unexplained:
                every = frozenset(m.name for m in domain)
                plans = {i: _find([every], True) for i in unexplained}
        found, vanished = self._ask(plans, domain)
        for i, names in found.items():
            routes[i] |= names
        for i in vanished:
            routes.pop(i, None)
        return routes, vanished

    def _local(self, domain: Sequence[Member], project: Mapping[str, Any]) -> set[str]:
        """Return the project-only teams of `domain` that take issues of `project`."""
        if domain is not self._domain:
            self._domain, self._by_project = domain, {}
        key = (str(project.get("id")), str(project.get("key")), str(project.get("name")))
        found = self._by_project.get(key)
        if found is None:
            found = {m.name for m in domain if m.matcher is not None and m.matcher(project)}
            self._by_project[key] = found
        return found

    def _ask(self, plans: dict[int, Plan], domain: Sequence[Member]) -> tuple[dict[int, set[str]], set[int]]:
        """Run the plans in rounds, one shared search (or a few, for long JQL) per round."""
        found: dict[int, set[str]] = {}
        vanished: set[int] = set()
        asking: dict[int, Question] = {}
        for i, plan in plans.items():
            try:
                asking[i] = next(plan)
            except StopIteration as done:
                found[i] = done.value
        bases = {m.name: m.base for m in domain}
        while asking:
            yes, gone = self._round(asking, bases)
            vanished |= gone
            answered: dict[int, Question] = {}
            for i in asking:
                if i in gone:
                    continue
                try:
                    answered[i] = plans[i].send(i in yes)
                except StopIteration as done:
                    found[i] = done.value
            asking = answered
        return found, vanished

    def _round(self, asking: Mapping[int, Question], bases: Mapping[str, str]) -> tuple[set[int], set[int]]:
        """Return the ids whose question Jira answers yes, and the vanished ones."""
        askers: dict[str, set[int]] = {}
        for i, question in asking.items():
            for name in question:
                askers.setdefault(name, set()).add(i)
        ids = set(asking)
        digits = max(len(str(i)) for i in ids) + 2
        chunks: list[list[str]] = [[]]
        size = 0
        limit = MAX_JQL_CHARS - RESERVE - digits * len(ids)
        for name in sorted(askers):
            cost = len(bases[name]) + 30 + digits * min(len(askers[name]), len(ids) - len(askers[name]))
            if chunks[-1] and size + cost > limit:
                chunks.append([])
                size = 0
            chunks[-1].append(name)
            size += cost
        yes: set[int] = set()
        vanished: set[int] = set()
        for chunk in chunks:
            wanted = {i for name in chunk for i in askers[name]} - vanished
            if not wanted:
                continue
            self.searches += 1
            hits, gone = self.searcher.matching("route", _condition(chunk, bases, askers), wanted)
            yes |= hits
            vanished |= gone
        return yes - vanished, vanished


def _condition(
    chunk: Sequence[str], bases: Mapping[str, str], askers: Mapping[str, set[int]]
) -> Callable[[set[int]], str | None]:
    """Return a builder of the round's condition for a subset of the asking ids."""

    def build(subset: set[int]) -> str | None:
        parts = []
        for name in chunk:
            mine = askers[name] & subset
            if not mine:
                continue
            others = subset - mine
            if not others:
                parts.append(bases[name])
            elif len(mine) <= len(others):
                parts.append(f"({bases[name]}) AND id in ({_ids(mine)})")
            else:
                parts.append(f"({bases[name]}) AND id not in ({_ids(others)})")
        return either(parts) if parts else None

    return build


def _ids(ids: set[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids))
