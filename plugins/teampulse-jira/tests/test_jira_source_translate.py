"""Unit tests: Jira JSON (in the shapes Atlassian documents) into teampulse events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from teampulse_jira.cursor import VERSION, TeamCursor, decode_ids, encode_ids, load_teams
from teampulse_jira.source import team_query
from teampulse_jira.timeparse import format_jql, parse_date, parse_ts
from teampulse_jira.translate import People, Translator, parse_sprint, status_map

from teampulse import Change, Sprint, StatusCategory
from teampulse.testing import RecordingContext

STATUSES = [
    {"id": "10000", "name": "Backlog", "statusCategory": {"id": 2, "key": "new"}},
    {"id": "3", "name": "In Progress", "statusCategory": {"id": 4, "key": "indeterminate"}},
    {"id": "10003", "name": "Done", "statusCategory": {"id": 3, "key": "done"}},
    {"id": "99", "name": "Odd", "statusCategory": {"id": 1, "key": "undefined"}},
]
SPRINT_FIELD = "customfield_10020"


def cloud_issue() -> dict:
    return {
        "id": "10042",
        "key": "PAY-12",
        "fields": {
            "status": {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
            "created": "2026-03-01T09:00:00.000+0100",
            "updated": "2026-03-15T12:00:00.000+0000",
            "duedate": "2026-03-20",
            "assignee": {"accountId": "acc-bob", "emailAddress": "Bob@Example.com", "displayName": "Bob"},
            "resolutiondate": None,
            SPRINT_FIELD: [
                {
                    "id": 37,
                    "name": "Sprint 7",
                    "state": "active",
                    "boardId": 3,
                    "startDate": "2026-03-09T09:00:00.000Z",
                    "endDate": "2026-03-23T09:00:00.000Z",
                }
            ],
        },
        "changelog": {
            "startAt": 0,
            "maxResults": 2,
            "total": 2,
            "histories": [
                {
                    "id": "500",
                    "author": {"accountId": "acc-maria", "displayName": "Maria"},
                    "created": "2026-03-02T10:00:00.000+0000",
                    "items": [
                        {
                            "field": "resolution",
                            "fieldtype": "jira",
                            "fieldId": "resolution",
                            "from": None,
                            "to": "1",
                        },
                        {
                            "field": "status",
                            "fieldtype": "jira",
                            "fieldId": "status",
                            "from": "10000",
                            "to": "3",
                        },
                        {
                            "field": "assignee",
                            "fieldtype": "jira",
                            "fieldId": "assignee",
                            "from": None,
                            "to": "acc-bob",
                        },
                    ],
                },
                {
                    "id": "501",
                    "author": {"accountId": "acc-bob", "emailAddress": "bob@example.com"},
                    "created": "2026-03-10T10:00:00.000+0000",
                    "items": [
                        {"field": "duedate", "fieldId": "duedate", "from": "2026-03-18", "to": "2026-03-20"},
                        {
                            "field": "Sprint",
                            "fieldtype": "custom",
                            "fieldId": SPRINT_FIELD,
                            "from": "",
                            "to": "37",
                        },
                        {"field": "summary", "fieldId": "summary", "fromString": "a", "toString": "b"},
                    ],
                },
            ],
        },
    }


def test_timestamps_parse_in_every_jira_shape():
    assert parse_ts("2026-03-15T12:00:00.000+0000") == datetime(2026, 3, 15, 12, tzinfo=UTC)
    assert parse_ts("2026-03-15T12:00:00.000+0100") == datetime(2026, 3, 15, 11, tzinfo=UTC)
    assert parse_ts("2026-03-15T12:00:00.000Z") == datetime(2026, 3, 15, 12, tzinfo=UTC)
    assert parse_ts("2026-03-15T12:00:00.000+01:00").utcoffset() == timedelta(hours=1)
    assert parse_ts(1773576000) == datetime(2026, 3, 15, 12, tzinfo=UTC)
    assert parse_ts(1773576000000) == datetime(2026, 3, 15, 12, tzinfo=UTC)
    assert parse_ts(None) is None and parse_ts("<null>") is None and parse_ts(True) is None
    assert parse_date("2026-03-20") == date(2026, 3, 20)
    assert parse_date("2026-03-20T00:00:00.000+0000") == date(2026, 3, 20)
    assert parse_date("") is None and parse_date(None) is None and parse_date("20/Mar/26") is None


def test_jql_dates_are_in_the_users_zone_rounded_down_to_the_minute():
    moment = datetime(2026, 3, 15, 12, 34, 56, tzinfo=UTC)
    assert format_jql(moment, UTC) == "2026/03/15 12:34"
    assert format_jql(moment, ZoneInfo("Europe/Berlin")) == "2026/03/15 13:34"
    assert format_jql(moment, timezone(timedelta(hours=-5))) == "2026/03/15 07:34"


def test_sprints_parse_from_cloud_objects_and_data_center_strings():
    cloud = parse_sprint({"id": 37, "state": "closed", "startDate": "2026-03-09T09:00:00.000Z"})
    assert cloud == Sprint("37", "closed", datetime(2026, 3, 9, 9, tzinfo=UTC), None)
    dc = parse_sprint(
        "com.atlassian.greenhopper.service.sprint.Sprint@1a2b[id=12,rapidViewId=3,state=ACTIVE,"
        "name=Sprint, with comma,startDate=2026-03-01T09:00:00.000Z,endDate=2026-03-15T09:00:00.000+01:00,"
        "completeDate=<null>,sequence=12,goal=]"
    )
    assert dc == Sprint(
        "12", "active", datetime(2026, 3, 1, 9, tzinfo=UTC), datetime(2026, 3, 15, 8, tzinfo=UTC)
    )
    future = parse_sprint(
        "com.atlassian.greenhopper.service.sprint.Sprint@9[id=13,state=FUTURE,startDate=<null>]"
    )
    assert future == Sprint("13", "future")
    assert (
        parse_sprint("garbage") is None and parse_sprint(42) is None and parse_sprint({"name": "x"}) is None
    )


def test_a_cloud_issue_becomes_one_work_item_with_its_followed_changes():
    people = People(cloud=True)
    people.configure(["bob@example.com"])
    translator = Translator(status_map(STATUSES), SPRINT_FIELD, people)
    item = translator.work_item(cloud_issue(), "payments")
    assert item.id == "10042" and item.key == "PAY-12" and item.team == "payments"
    assert item.created == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert item.updated == datetime(2026, 3, 15, 12, tzinfo=UTC)
    assert item.status_category is StatusCategory.IN_PROGRESS
    assert item.due == date(2026, 3, 20)
    assert item.assignee == "bob@example.com"
    assert item.sprints == (
        Sprint("37", "active", datetime(2026, 3, 9, 9, tzinfo=UTC), datetime(2026, 3, 23, 9, tzinfo=UTC)),
    )
    at1 = datetime(2026, 3, 2, 10, tzinfo=UTC)
    at2 = datetime(2026, 3, 10, 10, tzinfo=UTC)
    assert item.changes == (
        Change("500:1", at1, "status", "new", "indeterminate"),
        # The assignee object on the issue taught us Bob's address before the changes were read.
        Change("500:2", at1, "assignee", None, "bob@example.com"),
        Change("501:0", at2, "duedate", "2026-03-18", "2026-03-20"),
        Change("501:1", at2, "sprint", "", "37"),
    )
    assert not people.unknown  # only authors lacked an address, and authors are not read


def test_data_center_issue_uses_user_keys_and_string_sprints():
    people = People(cloud=False)
    translator = Translator(status_map(STATUSES), SPRINT_FIELD, people)
    issue = cloud_issue()
    issue["fields"]["assignee"] = {"name": "bob", "key": "JIRAUSER10100", "displayName": "Bob"}
    issue["fields"][SPRINT_FIELD] = [
        "com.atlassian.greenhopper.service.sprint.Sprint@1[id=12,state=CLOSED,name=S]"
    ]
    for history in issue["changelog"]["histories"]:
        history["author"] = {"name": "maria", "key": "maria"}
        for change in history["items"]:
            change.pop("fieldId")
    issue["changelog"]["histories"][0]["items"][2]["to"] = "JIRAUSER10100"
    item = translator.work_item(issue, "payments")
    # The key, not the name: change items carry the key, and names can be renamed.
    assert item.assignee == "jira:JIRAUSER10100"
    assert item.sprints == (Sprint("12", "closed"),)
    assignee_change = next(c for c in item.changes if c.field == "assignee")
    assert assignee_change.to_value == "jira:JIRAUSER10100"
    assert [c.field for c in item.changes] == ["status", "assignee", "duedate", "sprint"]


def test_a_shown_address_names_a_configured_person_only():
    people = People(cloud=True)
    people.configure(["Bob@example.com"])
    translator = Translator(status_map(STATUSES), SPRINT_FIELD, people)
    issue = cloud_issue()
    # Someone outside the configured teams stays a Jira id, even with an address shown, so
    # that the change items (ids only) name the same person as the user object.
    issue["fields"]["assignee"] = {"accountId": "acc-bob", "emailAddress": "dora@example.com"}
    item = translator.work_item(issue, "payments")
    assert item.assignee == "jira:acc-bob"
    assert next(c for c in item.changes if c.field == "assignee").to_value == "jira:acc-bob"
    assert people.unknown and people.emails == {}
    # A configured address maps the id: the object and the change item agree.
    issue["fields"]["assignee"] = {"accountId": "acc-bob", "emailAddress": "BOB@example.com"}
    item = translator.work_item(issue, "payments")
    assert item.assignee == "bob@example.com"
    assert next(c for c in item.changes if c.field == "assignee").to_value == "bob@example.com"
    del issue["fields"]["assignee"]["emailAddress"]
    assert translator.work_item(issue, "payments").assignee == "bob@example.com"


def test_newest_first_histories_come_out_oldest_first():
    translator = Translator(status_map(STATUSES), None, People(cloud=True))
    issue = cloud_issue()
    issue["changelog"]["histories"].reverse()
    item = translator.work_item(issue, "t")
    assert [c.at for c in item.changes] == sorted(c.at for c in item.changes)
    assert item.sprints == ()


def test_id_sets_encode_compactly_and_round_trip():
    ids = {10000, 10001, 10005, 250000, 7}
    text = encode_ids(ids)
    assert decode_ids(text) == ids
    assert decode_ids(encode_ids(set())) == set()
    big = set(range(10000, 20000, 3))
    assert len(encode_ids(big)) < 3 * len(big)


def test_ids_encode_as_base_36_deltas_at_every_size():
    # Deltas below 36 * 36 come from a table, larger ones are computed: both read the same.
    ids = {7, 8, 43, 43 + 1295, 43 + 1295 + 1296, 10**12}
    assert encode_ids(ids) == "7.1.z.zz.100.cre66g8m"
    assert decode_ids(encode_ids(ids) + "|" + encode_ids({9})) == ids | {9}


def test_a_sprint_named_again_translates_as_when_first_met():
    people = People(cloud=True)
    translator = Translator(status_map(STATUSES), SPRINT_FIELD, people)
    values = [
        {"id": 1, "state": "active", "startDate": "2026-03-09T09:00:00.000Z"},
        {"id": True, "state": "active", "startDate": "2026-03-09T09:00:00.000Z"},  # == 1, not the same sprint
        {"id": 1.0, "state": "active", "startDate": "2026-03-09T09:00:00.000Z"},
        {"id": 1, "state": "active", "startDate": "2026-03-09T09:00:00.000Z"},
        "com.atlassian.greenhopper.service.sprint.Sprint@9[id=13,state=FUTURE,startDate=<null>]",
    ]
    for value in values * 2:
        issue = cloud_issue()
        issue["fields"][SPRINT_FIELD] = [value]
        assert translator.work_item(issue, "t").sprints == (parse_sprint(value),)
    assert [s.id for v in values if (s := parse_sprint(v))] == ["1", "True", "1.0", "1", "13"]


def test_cursor_round_trips_and_ignores_foreign_shapes():
    tc = TeamCursor(jql="abc", updated=datetime(2026, 3, 15, 12, tzinfo=UTC), ids={1, 5})
    cursor = {"v": VERSION, "teams": {"payments": tc.to_json()}}
    back = load_teams(cursor)["payments"]
    assert back.ids == {1, 5} and back.updated == tc.updated and back.jql == "abc" and back.reconciled is None
    assert load_teams(None) == {} and load_teams({"v": 99}) == {}
    assert load_teams({"v": VERSION, "teams": {"x": {"nope": 1}}})["x"].jql == ""


def test_a_version_1_cursor_keeps_its_ids_but_syncs_afresh():
    # Version 1 was written while identities could split: its teams are read again in full.
    tc = TeamCursor(jql="abc", updated=datetime(2026, 3, 15, 12, tzinfo=UTC), ids={1, 5})
    back = load_teams({"v": 1, "teams": {"payments": tc.to_json()}})["payments"]
    assert back.ids == {1, 5} and back.jql == ""


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("project = PAY", "project = PAY"),
        ("project = PAY ORDER BY rank ASC", "project = PAY"),
        ('summary ~ "order by" and project = X', 'summary ~ "order by" and project = X'),
    ],
)
def test_team_jql_loses_its_own_order_by(jql, expected):
    assert team_query(jql) == expected


def test_a_malformed_issue_is_skipped_and_reported():
    from teampulse_jira.source import _Collection

    collection = _Collection.__new__(_Collection)
    collection.translator = Translator(status_map(STATUSES), SPRINT_FIELD, People(cloud=True))
    collection.ctx = RecordingContext()
    collection.transport = type("T", (), {"host": "jira.example.com"})()
    broken = cloud_issue()
    broken["id"] = "10043"
    del broken["fields"]["created"], broken["fields"]["updated"]
    team = type("Team", (), {"name": "payments"})()
    items = collection._translate([cloud_issue(), broken], team, {})
    assert [i.id for i in items] == ["10042"]
    assert collection.ctx.problems == [
        "jira.example.com: team payments: issue id 10043: skipped, malformed (ValueError)"
    ]
