"""The emulator's replies against Atlassian's OpenAPI schemas, and the real `jira` client against it."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from jira import JIRA
from teampulse_jira_emulator import EmulatorServer, Organisation, generate_bulk, generate_organisation

NOW = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
# Atlassian's whole description when JIRA_OPENAPI names a copy of it (from
# developer.atlassian.com); else the subset of it kept in the package.
FULL_SPEC = Path(os.environ.get("JIRA_OPENAPI", "") or "/nonexistent")
SUBSET_SPEC = Path(__file__).parents[1] / "teampulse_jira_emulator" / "openapi_subset.json"
AUTH = ("bot@demo.example", "api-token")


@cache
def spec() -> dict[str, Any]:
    """Load Atlassian's spec (the full file if present, else the vendored subset) with nulls allowed where Jira sends them."""
    data = json.loads((FULL_SPEC if FULL_SPEC.exists() else SUBSET_SPEC).read_text())
    schemas = data["components"]["schemas"]
    # Jira sends null for an absent from/to, but the spec does not mark those properties nullable.
    for name in ("from", "fromString", "to", "toString"):
        schemas["ChangeDetails"]["properties"][name]["type"] = ["string", "null"]
    return data


@cache
def _validator(path: str, method: str) -> jsonschema.protocols.Validator:
    data = spec()
    schema = data["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    root = {**copy.deepcopy(schema), "components": data["components"]}
    cls = jsonschema.validators.validator_for(root, default=jsonschema.Draft7Validator)
    return cls(root)  # type: ignore[no-any-return]


def check(path: str, method: str, body: Any) -> None:
    """Validate a reply against the 200 schema of an operation in the spec."""
    errors = sorted(_validator(path, method).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def check_component(name: str, body: Any) -> None:
    """Validate a value against a component schema (e.g. IssueBean)."""
    root = {"$ref": f"#/components/schemas/{name}", "components": spec()["components"]}
    errors = list(jsonschema.Draft7Validator(root).iter_errors(body))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.fixture(scope="module")
def org() -> Organisation:
    return generate_organisation(seed=11, now=NOW)


@pytest.fixture(scope="module", params=["cloud", "datacenter"])
def server(request: pytest.FixtureRequest, org: Organisation) -> Iterator[EmulatorServer]:
    with EmulatorServer(org.dataset, mode=request.param) as srv:
        yield srv


@pytest.fixture(scope="module")
def cloud(org: Organisation) -> Iterator[EmulatorServer]:
    with EmulatorServer(org.dataset, mode="cloud") as srv:
        yield srv


def get(srv: EmulatorServer, path: str, **params: Any) -> Any:
    reply = requests.get(f"{srv.url}/rest/api/3/{path}", params=params, auth=AUTH, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def post(srv: EmulatorServer, path: str, body: Any) -> Any:
    reply = requests.post(f"{srv.url}/rest/api/3/{path}", json=body, auth=AUTH, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


# ---------------------------------------------------------------- schemas


def test_reference_replies_match_the_openapi_schemas(server: EmulatorServer) -> None:
    check("/rest/api/3/serverInfo", "get", get(server, "serverInfo"))
    check("/rest/api/3/myself", "get", get(server, "myself"))
    check("/rest/api/3/status", "get", get(server, "status"))
    fields = get(server, "field")
    check("/rest/api/3/field", "get", fields)
    sprint = next(f for f in fields if f["id"] == "customfield_10020")
    assert sprint["schema"] == {
        "type": "array",
        "items": "json",
        "custom": "com.pyxis.greenhopper.jira:gh-sprint",
        "customId": 10020,
    }
    users = get(server, "user/search", **({"query": "a"} if server.cloud else {"username": "a"}))
    assert users
    check("/rest/api/3/user/search", "get", users)
    if server.cloud:
        check("/rest/api/3/users/search", "get", get(server, "users/search", maxResults=1000))


def test_issue_and_search_replies_match_the_openapi_schemas(
    server: EmulatorServer, org: Organisation
) -> None:
    key = next(i.key for i in org.dataset if len(i.histories) > 3)
    issue = get(server, f"issue/{key}", expand="changelog")
    check("/rest/api/3/issue/{issueIdOrKey}", "get", issue)
    assert issue["changelog"]["histories"]
    params = {"jql": "project = PAY", "fields": "*all", "expand": "changelog,names", "maxResults": 5}
    if server.cloud:
        page = get(server, "search/jql", **params)
        check("/rest/api/3/search/jql", "get", page)
        check("/rest/api/3/search/jql", "post", post(server, "search/jql", {**params, "fields": ["*all"]}))
        check("/rest/api/3/issue/{issueIdOrKey}/changelog", "get", get(server, f"issue/{key}/changelog"))
        bulk = post(server, "changelog/bulkfetch", {"issueIdsOrKeys": [key], "maxResults": 2})
        check("/rest/api/3/changelog/bulkfetch", "post", bulk)
        assert "nextPageToken" in bulk
    else:
        page = get(server, "search", **params)
        assert set(page) >= {"expand", "startAt", "maxResults", "total", "issues"}
        for found in page["issues"]:
            check_component("IssueBean", found)


def test_issue_fields_have_jira_shapes(server: EmulatorServer, org: Organisation) -> None:
    issue = next(i for i in org.dataset if i.assignee and i.sprints and i.duedate)
    fields = get(server, f"issue/{issue.key}")["fields"]
    assert fields["status"]["statusCategory"]["key"] in ("new", "indeterminate", "done")
    assert len(fields["created"]) == 28 and fields["created"][23] in "+-"  # 2026-03-15T12:00:00.000+0000
    assert fields["duedate"] == issue.duedate
    assignee = fields["assignee"]
    if server.cloud:
        assert {"accountId", "emailAddress", "displayName", "timeZone", "active"} <= set(assignee)
        assert "name" not in assignee
    else:
        assert {"name", "key", "emailAddress", "displayName"} <= set(assignee)
        assert "accountId" not in assignee
    sprint = fields["customfield_10020"][0]
    assert set(sprint) >= {"id", "name", "state", "boardId", "startDate", "endDate"}
    assert fields["project"]["key"] == issue.project.key


# ---------------------------------------------------------------- the jira client


def _client(srv: EmulatorServer) -> JIRA:
    return JIRA(srv.url, basic_auth=AUTH, max_retries=0)


def test_jira_client_talks_to_both_modes(server: EmulatorServer, org: Organisation) -> None:
    client = _client(server)
    info = client.server_info()
    assert info["deploymentType"] == ("Cloud" if server.cloud else "Server")
    assert any(f["id"] == "customfield_10020" for f in client.fields())
    expected = sorted(i.key for i in org.dataset if i.project.key == "PAY")
    keys: list[str] = []
    if server.cloud:
        assert client._is_cloud
        token = None
        while True:
            page = client.enhanced_search_issues(
                "project = PAY ORDER BY updated ASC", nextPageToken=token, maxResults=17,
                fields="status,updated", json_result=True,
            )  # fmt: skip
            assert isinstance(page, dict) and "total" not in page
            keys += [i["key"] for i in page["issues"]]
            token = page.get("nextPageToken")
            if token is None:
                assert page["isLast"]
                break
        with pytest.raises(Exception):  # noqa: B017 - the client refuses offset paging on Cloud
            client.search_issues("project = PAY", startAt=5, maxResults=5, json_result=True)
    else:
        start, total = 0, None
        while total is None or start < total:
            page = client.search_issues(
                "project = PAY ORDER BY updated ASC", startAt=start, maxResults=17, fields="status,updated",
                json_result=True,
            )  # fmt: skip
            assert isinstance(page, dict)
            total = page["total"]
            keys += [i["key"] for i in page["issues"]]
            start += len(page["issues"])
        assert client.enhanced_search_issues("project = PAY", json_result=True) is None
    assert sorted(keys) == expected  # every issue exactly once
    assert len(keys) == len(set(keys))


def test_jira_client_issue_objects(cloud: EmulatorServer, org: Organisation) -> None:
    client = _client(cloud)
    found = client.enhanced_search_issues("project = MOB", maxResults=5, fields="status,assignee")
    assert found and all(issue.fields.status.name for issue in found)
    issue = client.issue(next(i.key for i in org.dataset if i.project.key == "MOB"))
    assert issue.fields.project.key == "MOB"
    assert client.myself()["accountId"]


def test_pagination_over_many_pages_returns_each_issue_once() -> None:
    ds = generate_bulk(3000, seed=5, now=NOW, projects=3)
    with EmulatorServer(ds, mode="cloud") as srv:
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            params: dict[str, Any] = {"jql": "updated >= -400d ORDER BY updated DESC", "maxResults": 100}
            params.update({"fields": "updated", "nextPageToken": token} if token else {"fields": "updated"})
            page = get(srv, "search/jql", **params)
            seen += [i["key"] for i in page["issues"]]
            pages += 1
            token = page.get("nextPageToken")
            if not token:
                break
        ids_only = get(srv, "search/jql", jql="project in (PAA, PAB, PAC)", maxResults=5000, fields="key")
    assert pages == 30 and len(seen) == 3000 == len(set(seen))
    assert len(ids_only["issues"]) == 3000 and ids_only["isLast"]
