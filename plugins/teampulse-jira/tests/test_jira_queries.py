"""Unit tests: reading project-only JQL, combining teams' JQL, the cursor's id runs and versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from teampulse_jira.cursor import (
    VERSION,
    TeamCursor,
    decode_ids,
    domain_digest,
    encode_ids,
    load_recent,
    load_teams,
)
from teampulse_jira.jql import project_matcher, project_values, quoted
from teampulse_jira.queries import MAX_JQL_CHARS, batches, full_query, incremental_query

PAY = {"id": "10000", "key": "PAY", "name": "Payments"}
OPS = {"id": "10001", "key": "OPS", "name": "Operations team"}
SRCH = {"id": "10002", "key": "SRCH", "name": "Search"}


@pytest.mark.parametrize(
    ("jql", "matches"),
    [
        ("project = PAY", {"PAY"}),
        ("project = pay ORDER BY rank", {"PAY"}),  # keys and names in any case
        ('project = "Operations team"', {"OPS"}),
        ("project = 10002", {"SRCH"}),  # or the id
        ("project != PAY", {"OPS", "SRCH"}),
        ("project in (PAY, Search)", {"PAY", "SRCH"}),
        ("project not in (PAY, SRCH)", {"OPS"}),
        ("PROJECT = PAY OR project = OPS", {"PAY", "OPS"}),
        ("project in (PAY, OPS) AND NOT project = OPS", {"PAY"}),
        ("(project = PAY || project = SRCH) && !(project = SRCH)", {"PAY"}),
    ],
)
def test_project_only_jql_is_read_locally(jql, matches):
    matcher = project_matcher(jql)
    assert matcher is not None
    assert {p["key"] for p in (PAY, OPS, SRCH) if matcher(p)} == matches


@pytest.mark.parametrize(
    "jql",
    [
        "project = PAY AND statusCategory != Done",  # another field
        "assignee = currentUser()",
        "project in projectsLeadByUser()",  # a function
        "project = EMPTY",
        "project is not EMPTY",
        "project ~ PAY",
        'project = "PAY',  # unterminated
        "project = PAY AND",
        "",
        "ORDER BY rank",
        "filter = 12345",
    ],
)
def test_other_jql_is_left_to_jira(jql):
    assert project_matcher(jql) is None


@pytest.mark.parametrize(
    ("jql", "values"),
    [
        ("project = PAY", {"PAY"}),
        ("project in (PAY, OPS) ORDER BY rank", {"PAY", "OPS"}),
        ('(project = PAY OR project = "Operations team")', {"PAY", "Operations team"}),
        ("(project = PAY) OR (project in (10002))", {"PAY", "10002"}),
        ("project != PAY", None),
        ("project = PAY AND project = OPS", None),
        ("project = PAY OR assignee = bob", None),
        ("(project = PAY", None),
        ("project = PAY) OR (project = OPS", None),
    ],
)
def test_teams_that_only_list_projects_are_told(jql, values):
    assert project_values(jql) == (frozenset(values) if values is not None else None)


def test_values_are_quoted_when_not_plain_words():
    assert quoted("PAY") == "PAY" and quoted("10002") == "10002"
    assert quoted("Operations team") == '"Operations team"'
    assert quoted('say "hi"') == '"say \\"hi\\""'
    assert quoted("and") == '"and"'  # a keyword
    odd = "an \\ odd"  # a backslash survives quoting and reading back
    matcher = project_matcher("project in (" + quoted("Operations team") + ", " + quoted(odd) + ")")
    assert matcher is not None and matcher(OPS) and matcher({"key": "X", "name": odd, "id": "1"})


def test_combined_queries_group_teams_by_their_position():
    now = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
    one = incremental_query([(["project = PAY"], now)], UTC)
    assert one == '(project = PAY) AND updated >= "2026/03/16 12:00" ORDER BY updated ASC, key ASC'
    two = incremental_query([(["project = PAY", "a = b"], now), (["c = d"], now - timedelta(days=1))], UTC)
    assert two == (
        '(((project = PAY) OR (a = b)) AND updated >= "2026/03/16 12:00") OR '
        '((c = d) AND updated >= "2026/03/15 12:00") ORDER BY updated ASC, key ASC'
    )
    assert full_query(["x = 1", "y = 2"], now, UTC) == (
        '((x = 1) OR (y = 2)) AND (updated >= "2026/03/16 12:00" OR statusCategory != Done) '
        "ORDER BY updated ASC, key ASC"
    )


def test_batches_keep_order_and_stay_within_the_limit():
    items = [f"project = P{n:04d}" for n in range(3000)]
    cut = batches(items, len)
    assert [x for b in cut for x in b] == items
    assert len(cut) >= 2
    assert all(sum(len(x) + 6 for x in b) <= MAX_JQL_CHARS for b in cut)
    assert batches(["x" * (MAX_JQL_CHARS * 2)], len) == [["x" * (MAX_JQL_CHARS * 2)]]  # alone, however long


def test_id_runs_stay_few_and_decode_to_the_set():
    tc = TeamCursor(jql="abc", _runs=[])
    added: set[int] = set()
    for page in range(200):
        new = {10000 + page * 7 + k for k in range(3)}
        tc.add(new)
        added |= new
        tc.add(new)  # emitted again: nothing new to encode
    text = tc.to_json()["ids"]
    assert decode_ids(text) == added == tc.ids
    assert text.count("|") < 12  # about log2 of the pages
    tc.discard({10000, 10001})
    assert "|" not in tc.to_json()["ids"] and decode_ids(tc.to_json()["ids"]) == added - {10000, 10001}
    assert decode_ids(encode_ids({5, 3, 90000})) == {3, 5, 90000}


def test_cursor_versions():
    at = datetime(2026, 3, 15, 12, tzinfo=UTC)
    tc = TeamCursor(jql="abc", updated=at, ids={1, 5}, projects={"10000"})
    digest = domain_digest([("payments", "abc")])
    cursor = {"v": VERSION, "teams": {"payments": tc.to_json()}, "recent": {digest: {"5": 1773662400000}}}
    back = load_teams(cursor)["payments"]
    assert (back.ids, back.updated, back.jql, back.projects) == ({1, 5}, at, "abc", {"10000"})
    assert load_recent(cursor) == {digest: {5: 1773662400000}}
    # Version 2: the same teams, without projects or a skip list; kept whole.
    v2 = {
        "v": 2,
        "teams": {"payments": {"jql": "abc", "updated": at.isoformat(), "ids": "1.4", "reconciled": None}},
    }
    healed = load_teams(v2)["payments"]
    assert (healed.ids, healed.jql, healed.projects) == ({1, 5}, "abc", set())
    assert load_recent(v2) == {}
    assert load_recent({"v": VERSION, "recent": {"d": {"x": 1}}}) == {}  # a malformed list is dropped
