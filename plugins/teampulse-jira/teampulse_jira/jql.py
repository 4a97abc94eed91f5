"""Teams' JQL: without its ORDER BY, and, when it tests only the project, as a local predicate.

A team whose JQL is only `project` clauses (`=`, `!=`, `IN`, `NOT IN`, joined by AND, OR, NOT
and parentheses) can be told from an issue's `project` field alone, so issues read by a combined
query are routed to it without asking Jira again. Anything else (another field, a function, a
keyword this reader does not know) makes the JQL opaque: `project_matcher` returns None and the
source asks Jira which of the issues match it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ProjectMatcher", "project_matcher", "project_values", "quoted", "team_query"]

ProjectMatcher = Callable[[Mapping[str, Any]], bool]

_ORDER_BY = re.compile(r"\s+ORDER\s+BY\s+[^\"']*$", re.IGNORECASE)
_PUNCT = ("!=", "&&", "||", "=", "!", "(", ")", ",")
_STOP = set(" \t\r\n()=,!<>~\"'&|")
_KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "was", "changed"}


def team_query(jql: str) -> str:
    """Return a team's JQL without its own ORDER BY, so it can be wrapped in a larger query."""
    return _ORDER_BY.sub("", jql.strip())


class _Opaque(Exception):
    """The JQL is outside the form this reader evaluates."""


def _tokens(text: str) -> list[tuple[str, str]]:
    """Split JQL into (kind, text) tokens: word, string or punct."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "\"'":
            quote, buf = ch, []
            i += 1
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            if i >= n:
                raise _Opaque("unterminated string")
            out.append(("string", "".join(buf)))
            i += 1
        else:
            for punct in _PUNCT:
                if text.startswith(punct, i):
                    out.append(("punct", punct))
                    i += len(punct)
                    break
            else:
                start = i
                while i < n and text[i] not in _STOP:
                    i += 1
                if i == start:
                    raise _Opaque(f"unexpected {ch!r}")
                out.append(("word", text[start:i]))
    return out


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.i += 1
        return token

    def keyword(self, *words: str) -> bool:
        kind, text = self.peek()
        return kind == "word" and text.lower() in words

    def punct(self, *marks: str) -> bool:
        kind, text = self.peek()
        return kind == "punct" and text in marks

    def read(self) -> ProjectMatcher:
        matcher = self.either()
        if self.peek()[0] != "end":
            raise _Opaque("trailing tokens")
        return matcher

    def either(self) -> ProjectMatcher:
        parts = [self.both()]
        while self.keyword("or") or self.punct("||"):
            self.take()
            parts.append(self.both())
        if len(parts) == 1:
            return parts[0]
        return lambda project: any(part(project) for part in parts)

    def both(self) -> ProjectMatcher:
        parts = [self.negated()]
        while self.keyword("and") or self.punct("&&"):
            self.take()
            parts.append(self.negated())
        if len(parts) == 1:
            return parts[0]
        return lambda project: all(part(project) for part in parts)

    def negated(self) -> ProjectMatcher:
        if self.keyword("not") or self.punct("!"):
            self.take()
            inner = self.negated()
            return lambda project: not inner(project)
        if self.punct("("):
            self.take()
            inner = self.either()
            if not self.punct(")"):
                raise _Opaque("missing )")
            self.take()
            return inner
        return self.clause()

    def clause(self) -> ProjectMatcher:
        kind, name = self.take()
        if kind != "word" or name.lower() != "project":
            raise _Opaque("not a project clause")
        if self.punct("=", "!="):
            negate = self.take()[1] == "!="
            values = [self.value()]
        elif self.keyword("in") or self.keyword("not"):
            negate = self.take()[1].lower() == "not"
            if negate:
                if not self.keyword("in"):
                    raise _Opaque("NOT without IN")
                self.take()
            if not self.punct("("):
                raise _Opaque("IN without a list")  # a function such as projectsLeadByUser()
            self.take()
            values = [self.value()]
            while self.punct(","):
                self.take()
                values.append(self.value())
            if not self.punct(")"):
                raise _Opaque("unclosed list")
            self.take()
        else:
            raise _Opaque("an operator this reader does not evaluate")
        wanted = frozenset(v.lower() for v in values)

        def matches(project: Mapping[str, Any]) -> bool:
            # Jira resolves a project value by key, name or id, the first two in any case.
            names = {str(project.get(k) or "").lower() for k in ("key", "name", "id")}
            return bool(wanted & names) != negate

        return matches

    def value(self) -> str:
        kind, text = self.take()
        if kind == "string" and text:
            return text
        if kind == "word" and text.lower() not in _KEYWORDS and not self.punct("("):
            return text
        raise _Opaque("a value this reader does not evaluate (EMPTY, a function)")


def project_values(jql: str) -> frozenset[str] | None:
    """Return the projects a JQL of only `project = X` / `project in (...)` clauses joined by OR names.

    Such teams can share one `project in (...)` clause in a combined query; any other JQL
    (a negation, an AND, another field) returns None.
    """
    try:
        reader = _Reader(team_query(jql))
        values: set[str] = set()
        depth = 0
        while True:
            while reader.punct("("):
                reader.take()
                depth += 1
            kind, name = reader.take()
            if kind != "word" or name.lower() != "project":
                return None
            if reader.punct("="):
                reader.take()
                values.add(reader.value())
            elif reader.keyword("in"):
                reader.take()
                if not reader.punct("("):
                    return None
                reader.take()
                values.add(reader.value())
                while reader.punct(","):
                    reader.take()
                    values.add(reader.value())
                if not reader.punct(")"):
                    return None
                reader.take()
            else:
                return None
            while depth and reader.punct(")"):
                reader.take()
                depth -= 1
            if reader.peek()[0] == "end":
                return frozenset(values) if depth == 0 else None
            if not (reader.keyword("or") or reader.punct("||")):
                return None
            reader.take()
    except (_Opaque, IndexError):
        return None


def quoted(value: str) -> str:
    """Return a JQL value, quoted unless it is a plain word."""
    if re.fullmatch(r"[A-Za-z0-9_]+", value) and value.lower() not in _KEYWORDS:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def project_matcher(jql: str) -> ProjectMatcher | None:
    """Return a predicate on an issue's `project` field if the JQL tests nothing else, else None."""
    try:
        return _Reader(team_query(jql)).read()
    except (_Opaque, IndexError):
        return None
