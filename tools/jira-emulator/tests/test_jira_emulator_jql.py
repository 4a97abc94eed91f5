"""The emulator's JQL subset: tokenizer, parser, errors and evaluation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from teampulse_jira_emulator import Dataset, JqlError, parse
from teampulse_jira_emulator.jql import BoolOp, Clause, Context, Function, Not, compile_query, tokenize

NOW = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    data = Dataset(now=NOW)
    data.add_user("ana.silva@demo.example", "Ana Silva", "Europe/Berlin")
    data.add_user("kenji.sato@demo.example", "Kenji Sato")
    data.add_project("PAY", "Payments")
    data.add_project("OPS", "Operations")
    sprint = data.add_sprint("PAY Sprint 4", 1, NOW - timedelta(days=3), NOW + timedelta(days=11), "active")
    old = data.add_sprint("PAY Sprint 3", 1, NOW - timedelta(days=17), NOW - timedelta(days=3), "closed")
    for n in range(10):
        at = NOW - timedelta(days=10 - n)
        key = data.create_issue(
            "PAY" if n < 7 else "OPS",
            f"Item {n}",
            assignee="ana.silva@demo.example"
            if n % 2 == 0
            else ("kenji.sato@demo.example" if n % 3 else None),
            duedate=(NOW + timedelta(days=n - 4)).date() if n % 3 == 0 else None,
            sprint_ids=[old.id, sprint.id] if n in (1, 2) else [sprint.id] if n == 3 else [],
            at=at,
        )
        if n >= 4:
            data.transition(key, "In Progress", at=at + timedelta(hours=2))
        if n >= 8:
            data.transition(key, "Done", at=at + timedelta(hours=5))
    return data


def keys(ds: Dataset, jql: str, tz: str = "UTC") -> list[str]:
    user = ds.user("ana.silva@demo.example")
    compiled = compile_query(jql, Context(ds, NOW, ZoneInfo(tz), user))
    return [i.key for i in compiled.run(list(ds))]


def test_tokenizer_handles_quotes_operators_and_bare_words() -> None:
    tokens = tokenize(
        "project = 'PAY' AND updated >= \"2026/03/01 10:00\" or key!=PAY-1 && sprint in openSprints()"
    )
    texts = [t.text for t in tokens if t.kind != "end"]
    assert texts == [
        "project", "=", "PAY", "AND", "updated", ">=", "2026/03/01 10:00", "or", "key", "!=", "PAY-1",
        "&&", "sprint", "in", "openSprints", "(", ")",
    ]  # fmt: skip
    assert tokens[2].kind == "string" and tokens[0].kind == "word"
    assert tokens[4].pos == 21


def test_parser_precedence_and_order_by() -> None:
    query = parse("project = PAY or NOT status = Done and assignee is EMPTY ORDER BY updated ASC, key desc")
    assert isinstance(query.where, BoolOp) and query.where.op == "or"
    right = query.where.children[1]
    assert isinstance(right, BoolOp) and right.op == "and" and isinstance(right.children[0], Not)
    assert [(f, d) for f, d, _ in query.order] == [("updated", False), ("key", True)]
    clause = parse("sprint in openSprints()").where
    assert isinstance(clause, Clause) and isinstance(clause.operands[0], Function)
    assert parse("ORDER BY created").where is None
    assert parse("").where is None


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = ", "Expecting either a value, list or function but got end of the query"),
        ("project PAY", "Expecting operator but got 'PAY'"),
        (
            "project = PAY status = Done",
            "Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 15)",
        ),
        ("project = 'PAY", "The quoted string 'PAY' has not been completed"),
        ("(project = PAY", "Expecting ')' but got end of the query"),
        ("project in PAY", "Expecting '(' but got 'PAY'"),
        ("ORDER project", "Expecting 'by' but got 'project'"),
    ],
)
def test_syntax_errors_use_jira_wording(jql: str, message: str) -> None:
    with pytest.raises(JqlError) as caught:
        parse(jql)
    assert str(caught.value).startswith("Error in the JQL Query: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("colour = red", "Field 'colour' does not exist or you do not have permission to view it."),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("status = Frozen", "The value 'Frozen' does not exist for the field 'status'."),
        ("status > Done", "The operator '>' is not supported by the 'status' field."),
        ("updated > 'yesterday'", "Date value 'yesterday' for field 'updated' is invalid."),
        ("key = PAY-999", "An issue with key 'PAY-999' does not exist for field 'key'."),
        ("assignee = nobody@demo.example", "The value 'nobody@demo.example' does not exist for the field"),
        ("project = PAY ORDER BY colour", "Not able to sort using field 'colour'."),
        ("updated > startOfYear()", "Unable to find JQL function 'startOfYear()'"),
        ("status was Done", "not supported"),
    ],
)
def test_semantic_errors(ds: Dataset, jql: str, message: str) -> None:
    with pytest.raises(JqlError) as caught:
        keys(ds, jql)
    assert message in str(caught.value)


def test_fields_operators_and_empty(ds: Dataset) -> None:
    assert keys(ds, "project = pay ORDER BY key ASC") == [f"PAY-{n}" for n in range(1, 8)]
    assert keys(ds, "project in (PAY, OPS) and statusCategory = Done") == ["OPS-3", "OPS-2"]
    assert keys(ds, "statusCategory in ('In Progress') ORDER BY key") == ["OPS-1", "PAY-5", "PAY-6", "PAY-7"]
    assert keys(ds, "statusCategory = indeterminate") == keys(ds, "status in ('In Progress', 'In Review')")
    assert keys(ds, "status = 'to do' and assignee is EMPTY") == ["PAY-4"]
    assert keys(ds, "assignee is EMPTY") == ["PAY-4", "OPS-3"]
    # As in Jira, != never matches an empty value.
    assert keys(ds, "assignee != 'ana.silva@demo.example'") == ["PAY-6", "PAY-2", "OPS-1"]
    assert keys(ds, "assignee = currentUser() ORDER BY key") == ["OPS-2", "PAY-1", "PAY-3", "PAY-5", "PAY-7"]
    assert keys(ds, "sprint = 'PAY Sprint 3' ORDER BY key") == ["PAY-2", "PAY-3"]
    assert keys(ds, "sprint in openSprints() ORDER BY key") == ["PAY-2", "PAY-3", "PAY-4"]
    assert len(keys(ds, "sprint is EMPTY")) == 7
    assert keys(ds, "key in (PAY-1, OPS-1) ORDER BY key") == ["OPS-1", "PAY-1"]
    assert keys(ds, "issuekey > PAY-5 ORDER BY key") == ["PAY-6", "PAY-7"]
    assert keys(ds, "resolution = Unresolved and project = OPS") == ["OPS-1"]
    assert keys(ds, "not (project = PAY or statusCategory = Done)") == ["OPS-1"]
    assert keys(ds, "project = PAY && !(assignee is not EMPTY)") == ["PAY-4"]


def test_dates_absolute_relative_and_in_the_users_zone(ds: Dataset) -> None:
    assert keys(ds, "created >= -2d ORDER BY created") == ["OPS-2", "OPS-3"]
    assert keys(ds, "created >= -48h") == keys(ds, "created >= '-2d'") == keys(ds, "created >= -2880m")
    assert keys(ds, "created > -2d") == ["OPS-3"]
    assert keys(ds, "created < -1w ORDER BY created") == ["PAY-1", "PAY-2", "PAY-3"]
    # OPS-2 was created at 14:00 UTC on 2026-03-10, which is 15:00 in Berlin.
    assert keys(ds, "created >= '2026/03/10 14:30'") == ["OPS-3"]
    assert keys(ds, "created >= '2026-03-10 14:30'", tz="Europe/Berlin") == ["OPS-3", "OPS-2"]
    assert keys(ds, "created >= 2026/03/11 and created < '2026-03-12'") == ["OPS-3"]
    assert keys(ds, "updated = '2026/03/11 14:00'") == []  # updated at 19:00 by the Done transition
    assert keys(ds, "updated = '2026/03/11 19:00'") == ["OPS-3"]
    assert keys(ds, "updated = '2026/03/11 19:00'", tz="Europe/Berlin") == []
    assert keys(ds, "resolved >= startOfDay(-1d)") == ["OPS-3"]
    assert keys(ds, "duedate < now() ORDER BY duedate") == ["PAY-1", "PAY-4"]
    assert keys(ds, "duedate is not EMPTY ORDER BY duedate DESC") == ["OPS-3", "PAY-7", "PAY-4", "PAY-1"]
    assert keys(ds, f"created > {int((NOW - timedelta(hours=30)).timestamp() * 1000)}") == ["OPS-3"]


def test_ordering_defaults_nulls_and_ties(ds: Dataset) -> None:
    assert keys(ds, "project = PAY")[:2] == ["PAY-7", "PAY-6"]  # newest key first by default
    ascending = keys(ds, "project = PAY ORDER BY duedate ASC")
    assert ascending == [
        "PAY-1",
        "PAY-4",
        "PAY-7",
        "PAY-2",
        "PAY-3",
        "PAY-5",
        "PAY-6",
    ]  # empty last, ties by id
    assert keys(ds, "project = PAY ORDER BY duedate DESC")[-3:] == ["PAY-7", "PAY-4", "PAY-1"]  # empty first
    assert keys(ds, "ORDER BY statusCategory, key") == [
        "PAY-1", "PAY-2", "PAY-3", "PAY-4", "OPS-1", "PAY-5", "PAY-6", "PAY-7", "OPS-2", "OPS-3",
    ]  # fmt: skip
