"""A JQL subset: tokenizer, recursive-descent parser and a compiler to predicates and sort keys.

Clauses join with AND/OR/NOT and parentheses, followed by an optional ORDER BY. Fields:
project, key/issuekey, id, created, updated, resolved, duedate, status, statusCategory,
assignee, sprint, resolution, issuetype. Semantics follow Jira's where it surprises people:
`!=` and `NOT IN` never match an empty value; dates are read in the searching user's time zone;
unknown fields and values are errors (400), not empty results.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .dataset import Dataset
from .model import CATEGORIES, Issue, Project, Sprint, Status, User, to_ms

Predicate = Callable[[Issue], bool]


class JqlError(ValueError):
    """A query Jira would reject with 400; the message is Jira's wording."""


# ---------------------------------------------------------------- tokens

_PUNCT = ("!=", "!~", "<=", ">=", "&&", "||", "=", "<", ">", "~", "!", "&", "|", "(", ")", ",")
_WORD_STOP = set(" \t\r\n()=,!<>~\"'&|")
KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc", "was", "changed"}


@dataclass(frozen=True, slots=True)
class Token:
    """A lexical token; `kind` is word, string, punct or end; `pos` is the 1-based character."""

    kind: str
    text: str
    pos: int

    def keyword(self) -> str | None:
        """Return the lower-case keyword if this is an unquoted keyword."""
        lowered = self.text.lower()
        return lowered if self.kind == "word" and lowered in KEYWORDS else None

    def shown(self) -> str:
        """Return the token as Jira's error messages quote it."""
        return "end of the query" if self.kind == "end" else f"'{self.text}'"


def _error(message: str, token: Token | None = None) -> JqlError:
    where = f" (line 1, character {token.pos})" if token is not None and token.kind != "end" else ""
    return JqlError(f"Error in the JQL Query: {message}{where}")


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            start, quote, buf = i, ch, []
            i += 1
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                    buf.append({"n": "\n", "t": "\t"}.get(text[i], text[i]))
                else:
                    buf.append(text[i])
                i += 1
            if i >= n:
                snippet = "".join(buf)
                raise _error(
                    f"The quoted string '{snippet}' has not been completed.", Token("string", "", start + 1)
                )
            tokens.append(Token("string", "".join(buf), start + 1))
            i += 1
            continue
        for punct in _PUNCT:
            if text.startswith(punct, i):
                tokens.append(Token("punct", punct, i + 1))
                i += len(punct)
                break
        else:
            start = i
            while i < n and text[i] not in _WORD_STOP:
                i += 1
            tokens.append(Token("word", text[start:i], start + 1))
    tokens.append(Token("end", "", n + 1))
    return tokens


# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True, slots=True)
class Value:
    """A literal operand (quoted or bare)."""

    text: str
    token: Token


@dataclass(frozen=True, slots=True)
class Function:
    """A function call such as now() or openSprints()."""

    name: str
    args: tuple[str, ...]
    token: Token


@dataclass(frozen=True, slots=True)
class Empty:
    """The EMPTY / NULL keyword."""

    token: Token


Operand = Value | Function | Empty


@dataclass(frozen=True, slots=True)
class Clause:
    """`field operator operand(s)`."""

    field: str
    field_token: Token
    op: str
    operands: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class BoolOp:
    """AND / OR over two or more children."""

    op: str
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """Negation of a child."""

    child: Node


Node = Clause | BoolOp | Not


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: an optional condition and the ORDER BY list as (field, descending)."""

    where: Node | None
    order: tuple[tuple[str, bool, Token], ...] = field(default=())


_OPERATORS_HELP = (
    "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."
)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.peek().keyword() in words

    def parse(self) -> Query:
        where: Node | None = None
        if self.peek().kind != "end" and not self.at_keyword("order"):
            where = self.parse_or()
        order = self.parse_order() if self.at_keyword("order") else ()
        token = self.peek()
        if token.kind != "end":
            raise _error(f"Expecting either 'OR' or 'AND' but got {token.shown()}.", token)
        return Query(where, order)

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.at_keyword("or") or (self.peek().text in ("||", "|") and self.peek().kind == "punct"):
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else BoolOp("or", tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_not()]
        while self.at_keyword("and") or (self.peek().text in ("&&", "&") and self.peek().kind == "punct"):
            self.take()
            children.append(self.parse_not())
        return children[0] if len(children) == 1 else BoolOp("and", tuple(children))

    def parse_not(self) -> Node:
        token = self.peek()
        if token.keyword() == "not" or (token.kind == "punct" and token.text == "!"):
            self.take()
            return Not(self.parse_not())
        if token.kind == "punct" and token.text == "(":
            self.take()
            inner = self.parse_or()
            closing = self.take()
            if closing.kind != "punct" or closing.text != ")":
                raise _error(f"Expecting ')' but got {closing.shown()}.", closing)
            return inner
        return self.parse_clause()

    def parse_clause(self) -> Clause:
        field_token = self.take()
        if field_token.kind not in ("word", "string") or field_token.keyword() in (
            "and",
            "or",
            "order",
            "by",
        ):
            raise _error(f"Expecting a field name but got {field_token.shown()}.", field_token)
        op = self.parse_operator()
        operands: tuple[Operand, ...]
        operands = self.parse_list() if op in ("in", "not in") else (self.parse_operand(),)
        return Clause(field_token.text, field_token, op, operands)

    def parse_operator(self) -> str:
        token = self.take()
        if token.kind == "punct" and token.text in ("=", "!=", "<", "<=", ">", ">=", "~", "!~"):
            return token.text
        word = token.keyword()
        if word == "in":
            return "in"
        if word == "not" and self.at_keyword("in"):
            self.take()
            return "not in"
        if word == "is":
            if self.at_keyword("not"):
                self.take()
                return "is not"
            return "is"
        if word in ("was", "changed"):
            raise JqlError(f"The operator '{word.upper()}' is not supported by this Jira emulator.")
        raise _error(f"Expecting operator but got {token.shown()}. {_OPERATORS_HELP}", token)

    def parse_list(self) -> tuple[Operand, ...]:
        token = self.peek()
        if token.kind == "word" and self.peek(1).text == "(" and token.keyword() is None:
            return (self.parse_operand(),)  # a function returning a list, e.g. openSprints()
        opening = self.take()
        if opening.kind != "punct" or opening.text != "(":
            raise _error(f"Expecting '(' but got {opening.shown()}.", opening)
        items = [self.parse_operand()]
        while self.peek().kind == "punct" and self.peek().text == ",":
            self.take()
            items.append(self.parse_operand())
        closing = self.take()
        if closing.kind != "punct" or closing.text != ")":
            raise _error(f"Expecting ')' but got {closing.shown()}.", closing)
        return tuple(items)

    def parse_operand(self) -> Operand:
        token = self.take()
        if token.kind == "string":
            return Value(token.text, token)
        if token.kind == "word":
            if token.keyword() in ("empty", "null"):
                return Empty(token)
            if self.peek().kind == "punct" and self.peek().text == "(":
                self.take()
                args: list[str] = []
                while not (self.peek().kind == "punct" and self.peek().text == ")"):
                    arg = self.take()
                    if arg.kind == "end":
                        raise _error("Expecting ')' but got end of the query.", arg)
                    if not (arg.kind == "punct" and arg.text == ","):
                        args.append(arg.text)
                self.take()
                return Function(token.text, tuple(args), token)
            return Value(token.text, token)
        if token.kind == "end":
            raise _error("Expecting either a value, list or function but got end of the query.", token)
        raise _error(
            f"Expecting either a value, list or function but got {token.shown()}. "
            f"You must surround {token.shown()} in quotation marks to use it as a value.",
            token,
        )

    def parse_order(self) -> tuple[tuple[str, bool, Token], ...]:
        self.take()
        by = self.take()
        if by.keyword() != "by":
            raise _error(f"Expecting 'by' but got {by.shown()}.", by)
        order: list[tuple[str, bool, Token]] = []
        while True:
            token = self.take()
            if token.kind not in ("word", "string") or token.keyword() in ("asc", "desc"):
                raise _error(f"Expecting a field name but got {token.shown()}.", token)
            descending = False
            if self.at_keyword("asc", "desc"):
                descending = self.take().keyword() == "desc"
            order.append((token.text, descending, token))
            if not (self.peek().kind == "punct" and self.peek().text == ","):
                return tuple(order)
            self.take()


def parse(text: str) -> Query:
    """Parse a JQL query into a syntax tree, raising JqlError with Jira's wording."""
    return _Parser(text or "").parse()


# ---------------------------------------------------------------- compilation


@dataclass
class Context:
    """What a query is evaluated against: data, the searching user, their zone, and now."""

    dataset: Dataset
    now: datetime
    tz: ZoneInfo
    user: User | None = None


FIELD_ALIASES = {
    "project": "project",
    "key": "key",
    "issuekey": "key",
    "issue": "key",
    "id": "id",
    "created": "created",
    "createddate": "created",
    "updated": "updated",
    "updateddate": "updated",
    "resolved": "resolved",
    "resolutiondate": "resolved",
    "duedate": "duedate",
    "due": "duedate",
    "status": "status",
    "statuscategory": "statusCategory",
    "category": "statusCategory",
    "assignee": "assignee",
    "sprint": "sprint",
    "cf[10020]": "sprint",
    "resolution": "resolution",
    "issuetype": "issuetype",
    "type": "issuetype",
    "rank": "rank",
}

_EQUALITY = {"=", "!=", "in", "not in", "is", "is not"}
_ORDERED = _EQUALITY | {"<", "<=", ">", ">="}
_ALLOWED_OPS = {
    "project": _EQUALITY,
    "key": _ORDERED,
    "id": _ORDERED,
    "created": _ORDERED,
    "updated": _ORDERED,
    "resolved": _ORDERED,
    "duedate": _ORDERED,
    "status": _EQUALITY,
    "statusCategory": _EQUALITY,
    "assignee": _EQUALITY,
    "sprint": _EQUALITY,
    "resolution": _EQUALITY,
    "issuetype": _EQUALITY,
}

_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_PERIOD = re.compile(r"^\s*([-+]?)\s*((?:\d+\s*[wdhm]\s*)+)$")
_PERIOD_PART = re.compile(r"(\d+)\s*([wdhm])")
_UNIT = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
_KEY = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)-(\d+)$")


def canonical_field(name: str, token: Token | None = None) -> str:
    """Map a JQL field name or alias to its canonical name, or raise Jira's unknown-field error."""
    canonical = FIELD_ALIASES.get(name.lower())
    if canonical is None or canonical == "rank":
        raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
    return canonical


def _no_value(value: str, field_name: str) -> JqlError:
    return JqlError(f"The value '{value}' does not exist for the field '{field_name}'.")


class _Compiler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ds = ctx.dataset

    # dates -------------------------------------------------------------
    def _date_value(self, operand: Operand, field_name: str) -> int:
        if isinstance(operand, Function):
            return to_ms(self._date_function(operand))
        assert isinstance(operand, Value)
        text = operand.text.strip()
        if text.isdigit() and len(text) > 8:
            return int(text)  # Jira accepts epoch milliseconds
        match = _PERIOD.match(text)
        if match:
            delta = sum((int(n) * _UNIT[u] for n, u in _PERIOD_PART.findall(match.group(2))), timedelta())
            return to_ms(self.ctx.now - delta if match.group(1) == "-" else self.ctx.now + delta)
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return to_ms(parsed.replace(tzinfo=self.ctx.tz))
        raise JqlError(
            f"Date value '{operand.text}' for field '{field_name}' is invalid. Valid formats include: "
            "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
            "or a period format e.g. '-5d', '4w 2d'."
        )

    def _date_function(self, fn: Function) -> datetime:
        local_now = self.ctx.now.astimezone(self.ctx.tz)
        name = fn.name.lower()
        offset = timedelta()
        if fn.args:
            match = _PERIOD.match(fn.args[0])
            if not match:
                raise JqlError(f"Unable to parse the argument '{fn.args[0]}' of the function '{fn.name}'.")
            offset = sum((int(n) * _UNIT[u] for n, u in _PERIOD_PART.findall(match.group(2))), timedelta())
            if match.group(1) == "-":
                offset = -offset
        day = datetime.combine(local_now.date(), time(), tzinfo=self.ctx.tz)
        if name == "now":
            return self.ctx.now + offset
        if name == "startofday":
            return day + offset
        if name == "endofday":
            return day + timedelta(days=1, milliseconds=-1) + offset
        if name == "startofweek":
            return day - timedelta(days=(local_now.weekday() + 1) % 7) + offset  # Jira weeks start on Sunday
        if name == "startofmonth":
            return day.replace(day=1) + offset
        raise JqlError(f"Unable to find JQL function '{fn.name}({', '.join(fn.args)})'.")

    def _due_ms(self, due: str, cache: dict[str, int]) -> int:
        found = cache.get(due)
        if found is None:
            found = to_ms(datetime.combine(date.fromisoformat(due), time(), tzinfo=self.ctx.tz))
            cache[due] = found
        return found

    # value resolution ---------------------------------------------------
    def _resolve(self, canonical: str, operand: Value | Function, field_name: str) -> set[Any]:
        text = operand.text if isinstance(operand, Value) else ""
        if canonical == "project":
            self._no_function(operand, field_name)
            found = [
                p for p in self.ds.projects.values() if text.lower() in (p.key.lower(), p.id, p.name.lower())
            ]
            if not found:
                raise _no_value(text, field_name)
            return set(map(id, found))
        if canonical == "status":
            self._no_function(operand, field_name)
            statuses = [s for s in self.ds.statuses if text.lower() in (s.name.lower(), s.id)]
            if not statuses:
                raise _no_value(text, field_name)
            return {s.id for s in statuses}
        if canonical == "statusCategory":
            self._no_function(operand, field_name)
            cats = [c for c in CATEGORIES if text.lower() in (str(c[0]), c[1], c[2].lower())]
            if not cats:
                raise _no_value(text, field_name)
            return {c[1] for c in cats}
        if canonical == "assignee":
            if isinstance(operand, Function):
                if operand.name.lower() != "currentuser":
                    raise JqlError(f"Unable to find JQL function '{operand.name}()'.")
                return {id(self.ctx.user)} if self.ctx.user else set()
            lowered = text.lower()
            users = [
                u
                for u in self.ds.users.values()
                if lowered in (u.email.lower(), u.account_id.lower(), u.name.lower(), u.key.lower())
            ]
            if not users:
                raise _no_value(text, field_name)
            return set(map(id, users))
        if canonical == "sprint":
            if isinstance(operand, Function):
                states = {"opensprints": "active", "closedsprints": "closed", "futuresprints": "future"}
                state = states.get(operand.name.lower())
                if state is None:
                    raise JqlError(f"Unable to find JQL function '{operand.name}()'.")
                return {s.id for s in self.ds.sprints.values() if s.state == state}
            sprints = [
                s for s in self.ds.sprints.values() if text == str(s.id) or text.lower() == s.name.lower()
            ]
            if not sprints:
                raise _no_value(text, field_name)
            return {s.id for s in sprints}
        if canonical == "resolution":
            self._no_function(operand, field_name)
            if text.lower() == "unresolved":
                return {None}
            if text.lower() in ("done", "10000"):
                return {"Done"}
            raise _no_value(text, field_name)
        if canonical == "issuetype":
            self._no_function(operand, field_name)
            known = {i.issuetype.lower(): i.issuetype for i in self.ds.issues.values()}
            known.update({t.lower(): t for t in ("Task", "Story", "Bug", "Epic", "Sub-task")})
            if text.lower() not in known:
                raise _no_value(text, field_name)
            return {known[text.lower()]}
        raise AssertionError(canonical)

    @staticmethod
    def _no_function(operand: Value | Function, field_name: str) -> None:
        if isinstance(operand, Function):
            raise JqlError(f"Unable to find JQL function '{operand.name}()' for field '{field_name}'.")

    def _key_value(self, operand: Operand, field_name: str) -> tuple[Project, int]:
        if not isinstance(operand, Value):
            raise JqlError(f"The operator is not supported with a function for the field '{field_name}'.")
        text = operand.text.strip()
        if text.isdigit():
            issue = self.ds.issues.get(int(text))
            if issue is None:
                raise JqlError(f"An issue with key '{text}' does not exist for field '{field_name}'.")
            return issue.project, issue.number
        match = _KEY.match(text)
        if not match:
            raise JqlError(f"The issue key '{text}' for field '{field_name}' is invalid.")
        project = self.ds.projects.get(match.group(1).upper())
        if project is None:
            raise JqlError(f"An issue with key '{text}' does not exist for field '{field_name}'.")
        return project, int(match.group(2))

    # clauses ------------------------------------------------------------
    def compile(self, node: Node) -> Predicate:
        if isinstance(node, BoolOp):
            parts = [self.compile(c) for c in node.children]
            if node.op == "and":
                return lambda issue: all(p(issue) for p in parts)
            return lambda issue: any(p(issue) for p in parts)
        if isinstance(node, Not):
            inner = self.compile(node.child)
            return lambda issue: not inner(issue)
        return self.clause(node)

    def clause(self, clause: Clause) -> Predicate:
        canonical = canonical_field(clause.field, clause.field_token)
        op = clause.op
        if op not in _ALLOWED_OPS[canonical]:
            raise JqlError(f"The operator '{op.upper()}' is not supported by the '{clause.field}' field.")
        operands = clause.operands
        if op in ("is", "is not"):
            if not isinstance(operands[0], Empty):
                raise JqlError(f"The operator '{op.upper()}' only supports the values 'EMPTY' and 'NULL'.")
        elif op in ("=", "!=") and isinstance(operands[0], Empty):
            op = "is" if op == "=" else "is not"
        getter = _GETTERS[canonical]
        if op in ("is", "is not"):
            want_empty = op == "is"
            return lambda issue: _is_empty(getter(issue)) == want_empty

        if canonical in ("created", "updated", "resolved", "duedate"):
            return self._date_clause(canonical, clause.field, op, operands)
        if canonical in ("key", "id"):
            return self._key_clause(clause.field, op, operands)

        values: set[Any] = set()
        include_empty = False
        for operand in operands:
            if isinstance(operand, Empty):
                include_empty = True
            else:
                values |= self._resolve(canonical, operand, clause.field)
        if canonical == "resolution" and None in values:
            values.discard(None)
            include_empty = True
        return _membership(getter, canonical, values, include_empty, negate=op in ("!=", "not in"))

    def _date_clause(self, canonical: str, name: str, op: str, operands: tuple[Operand, ...]) -> Predicate:
        if any(isinstance(o, Empty) for o in operands) and op in ("<", "<=", ">", ">="):
            raise JqlError(f"The operator '{op}' does not support the value 'EMPTY' for field '{name}'.")
        targets = {self._date_value(o, name) for o in operands if not isinstance(o, Empty)}
        include_empty = any(isinstance(o, Empty) for o in operands)
        if canonical == "duedate":
            cache: dict[str, int] = {}

            def value_of(issue: Issue) -> int | None:
                due = issue.duedate
                return None if due is None else self._due_ms(due, cache)
        else:
            raw = _GETTERS[canonical]

            def value_of(issue: Issue) -> int | None:
                found = raw(issue)
                # Jira compares at minute precision: "updated = '2026/03/01 10:00'" matches 10:00:xx.
                return None if found is None else int(found) // 60000 * 60000

        return _compare(value_of, op, targets, include_empty)

    def _key_clause(self, name: str, op: str, operands: tuple[Operand, ...]) -> Predicate:
        refs = [self._key_value(o, name) for o in operands]
        if op in ("=", "!=", "in", "not in"):
            wanted: set[int] = set()
            for project, number in refs:
                target = self.ds.find(f"{project.key}-{number}")
                if target is None:
                    raise JqlError(
                        f"An issue with key '{project.key}-{number}' does not exist for field '{name}'."
                    )
                wanted.add(target.id)
            negate = op in ("!=", "not in")
            return lambda issue: (issue.id in wanted) != negate
        project, number = refs[0]
        compare = _COMPARATORS[op]
        return lambda issue: issue.project is project and compare(issue.number, number)

    def sort_key(
        self, order: tuple[tuple[str, bool, Token], ...]
    ) -> list[tuple[Callable[[Issue], Any], bool]]:
        keys: list[tuple[Callable[[Issue], Any], bool]] = []
        for name, descending, _token in order:
            canonical = FIELD_ALIASES.get(name.lower())
            if canonical is None or canonical not in _SORTERS:
                raise JqlError(f"Not able to sort using field '{name}'.")
            keys.append((_SORTERS[canonical], descending))
        return keys


def _is_empty(value: Any) -> bool:
    return value is None or value == ()


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compare(
    value_of: Callable[[Issue], int | None], op: str, targets: set[int], include_empty: bool
) -> Predicate:
    if op in ("=", "in"):

        def equal(issue: Issue) -> bool:
            value = value_of(issue)
            return include_empty if value is None else value in targets

        return equal
    if op in ("!=", "not in"):
        return lambda issue: (v := value_of(issue)) is not None and v not in targets and not include_empty
    target = next(iter(targets))
    compare = _COMPARATORS[op]
    return lambda issue: (v := value_of(issue)) is not None and compare(v, target)


def _membership(
    getter: Callable[[Issue], Any], canonical: str, values: set[Any], include_empty: bool, negate: bool
) -> Predicate:
    if canonical == "sprint":

        def matches(issue: Issue) -> bool:
            sprints = issue.sprints
            if not sprints:
                return include_empty and not negate
            hit = any(s.id in values for s in sprints)
            return hit != negate

        return matches
    if canonical in ("project", "assignee"):

        def matches_identity(issue: Issue) -> bool:
            found = getter(issue)
            if found is None:
                return include_empty and not negate
            return (id(found) in values) != negate

        return matches_identity

    def matches_value(issue: Issue) -> bool:
        found = getter(issue)
        if found is None:
            return include_empty and not negate
        return (found in values) != negate

    return matches_value


_GETTERS: dict[str, Callable[[Issue], Any]] = {
    "project": lambda i: i.project,
    "key": lambda i: i.key,
    "id": lambda i: i.id,
    "created": lambda i: i.created,
    "updated": lambda i: i.updated,
    "resolved": lambda i: i.resolutiondate,
    "duedate": lambda i: i.duedate,
    "status": lambda i: i.status.id,
    "statusCategory": lambda i: i.status.category_key,
    "assignee": lambda i: i.assignee,
    "sprint": lambda i: i.sprints,
    "resolution": lambda i: i.resolution,
    "issuetype": lambda i: i.issuetype,
}

_CATEGORY_ORDER = {"new": 0, "indeterminate": 1, "done": 2}


def _status_rank(status: Status) -> tuple[int, str]:
    return (_CATEGORY_ORDER[status.category_key], status.name)


def _first_sprint(issue: Issue) -> Sprint | None:
    return issue.sprints[-1] if issue.sprints else None


_SORTERS: dict[str, Callable[[Issue], Any]] = {
    "project": lambda i: i.project.key,
    "key": lambda i: (i.project.key, i.number),
    "id": lambda i: i.id,
    "rank": lambda i: i.id,
    "created": lambda i: i.created,
    "updated": lambda i: i.updated,
    "resolved": lambda i: i.resolutiondate,
    "duedate": lambda i: i.duedate,
    "status": lambda i: _status_rank(i.status),
    "statusCategory": lambda i: _CATEGORY_ORDER[i.status.category_key],
    "assignee": lambda i: i.assignee.display_name.lower() if i.assignee else None,
    "sprint": lambda i: s.id if (s := _first_sprint(i)) else None,
    "resolution": lambda i: i.resolution,
    "issuetype": lambda i: i.issuetype,
}


@dataclass
class Compiled:
    """A query ready to run: a predicate and an ordering."""

    query: Query
    predicate: Predicate
    order: list[tuple[Callable[[Issue], Any], bool]]

    def run(self, issues: list[Issue]) -> list[Issue]:
        """Filter and sort issues; empty values sort last ascending and first descending, as in Jira."""
        found = [i for i in issues if self.predicate(i)]
        if not self.order:
            # Without ORDER BY Jira returns the newest keys first.
            found.sort(key=lambda i: (i.project.key, i.number), reverse=True)
            return found
        found.sort(key=lambda i: i.id)
        for key_fn, descending in reversed(self.order):
            found.sort(key=_null_last(key_fn), reverse=descending)
        return found


def _null_last(key_fn: Callable[[Issue], Any]) -> Callable[[Issue], tuple[bool, Any]]:
    def wrapped(issue: Issue) -> tuple[bool, Any]:
        value = key_fn(issue)
        return (value is None, value if value is not None else 0)

    return wrapped


def compile_query(text: str, ctx: Context) -> Compiled:
    """Parse and compile a query against a context; raises JqlError for anything Jira rejects."""
    query = parse(text)
    compiler = _Compiler(ctx)
    predicate: Predicate = compiler.compile(query.where) if query.where is not None else (lambda _i: True)
    return Compiled(query, predicate, compiler.sort_key(query.order))
