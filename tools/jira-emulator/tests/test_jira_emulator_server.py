"""The emulator's HTTP behaviour: errors, auth, faults, mutations, changelogs, admin routes, the CLI."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from teampulse_jira_emulator import Credentials, Dataset, EmulatorServer, FaultRule, Faults
from teampulse_jira_emulator.model import CATEGORY_INDETERMINATE, Status

NOW = datetime(2026, 3, 12, 14, 0, tzinfo=UTC)
LONG = 230


def build() -> Dataset:
    ds = Dataset(now=NOW)
    ds.add_user("ana.silva@demo.example", "Ana Silva", "Europe/Berlin")
    ds.add_user("kenji.sato@demo.example", "Kenji Sato")
    ds.add_project("PAY", "Payments")
    ds.add_project("OPS", "Operations")
    for n in range(30):
        ds.create_issue(
            "PAY", f"Item {n}", assignee="kenji.sato@demo.example", at=NOW - timedelta(days=9, hours=-n)
        )
    start = NOW - timedelta(days=8)
    for n in range(LONG):
        ds.transition("PAY-1", "In Review" if n % 2 else "In Progress", at=start + timedelta(minutes=n))
    return ds


@pytest.fixture
def ds() -> Dataset:
    return build()


@pytest.fixture(params=["cloud", "datacenter"])
def server(request: pytest.FixtureRequest, ds: Dataset) -> Iterator[EmulatorServer]:
    with EmulatorServer(ds, mode=request.param) as srv:
        yield srv


def call(srv: EmulatorServer, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, f"{srv.url}{path}", timeout=10, **kw)


def search(srv: EmulatorServer, jql: str, **params: Any) -> dict[str, Any]:
    route = "search/jql" if srv.cloud else "search"
    reply = call(srv, "GET", f"/rest/api/2/{route}", params={"jql": jql, "fields": "*all", **params})
    assert reply.status_code == 200, reply.text
    return reply.json()  # type: ignore[no-any-return]


# ---------------------------------------------------------------- errors and modes


def test_each_mode_serves_only_its_search(ds: Dataset) -> None:
    with EmulatorServer(ds, mode="cloud") as cloud, EmulatorServer(ds, mode="datacenter") as dc:
        gone = call(cloud, "GET", "/rest/api/3/search", params={"jql": "project = PAY"})
        assert gone.status_code == 410
        assert "/rest/api/3/search/jql" in gone.json()["errorMessages"][0] and gone.json()["errors"] == {}
        assert call(dc, "GET", "/rest/api/2/search/jql", params={"jql": "project = PAY"}).status_code == 404
        assert (
            call(
                dc, "POST", "/rest/api/2/changelog/bulkfetch", json={"issueIdsOrKeys": ["PAY-1"]}
            ).status_code
            == 404
        )
        unbounded = call(cloud, "GET", "/rest/api/3/search/jql", params={"jql": "ORDER BY key"})
        assert unbounded.status_code == 400 and "Unbounded" in unbounded.json()["errorMessages"][0]
        assert call(dc, "GET", "/rest/api/2/search", params={"jql": "ORDER BY key"}).json()["total"] == 30
        assert call(
            cloud, "POST", "/rest/api/3/search/approximate-count", json={"jql": "project = PAY"}
        ).json() == {"count": 30}


def test_errors_have_jira_shape(server: EmulatorServer) -> None:
    missing = call(server, "GET", "/rest/api/2/issue/PAY-999")
    assert missing.status_code == 404
    assert missing.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }
    route = "search/jql" if server.cloud else "search"
    bad = call(server, "GET", f"/rest/api/2/{route}", params={"jql": "project = PAY AND"})
    assert bad.status_code == 400
    assert bad.json()["errorMessages"][0].startswith("Error in the JQL Query:")
    unknown = call(server, "GET", f"/rest/api/2/{route}", params={"jql": "team = PAY"})
    assert unknown.json()["errorMessages"] == [
        "Field 'team' does not exist or you do not have permission to view it."
    ]


def test_cloud_page_tokens_are_opaque_and_checked(ds: Dataset) -> None:
    with EmulatorServer(ds, mode="cloud") as srv:
        first = search(srv, "project = PAY", maxResults=10)
        token = first["nextPageToken"]
        assert (
            not token.isdigit()
            and len(token) > 8
            and '"o"' not in token
            and first["isLast"] is False
            and "total" not in first
        )
        for bad in ("garbage", token[:-2] + "xx"):
            reply = call(
                srv, "GET", "/rest/api/3/search/jql", params={"jql": "project = PAY", "nextPageToken": bad}
            )
            assert reply.status_code == 400
        other = call(
            srv, "GET", "/rest/api/3/search/jql", params={"jql": "project = OPS", "nextPageToken": token}
        )
        assert other.status_code == 400
        page = search(srv, "project = PAY", maxResults=500, fields="summary")
        assert len(page["issues"]) == 30  # 30 issues fit under the cap of 100
        assert search(srv, "project = PAY", maxResults=500)["isLast"]


def test_page_size_caps(ds: Dataset) -> None:
    for n in range(150):
        ds.create_issue("OPS", f"Bulk {n}", at=NOW - timedelta(hours=n))
    with (
        EmulatorServer(ds, mode="cloud") as cloud,
        EmulatorServer(ds, mode="datacenter", page_size_max=60) as dc,
    ):
        assert len(search(cloud, "project = OPS", maxResults=1000)["issues"]) == 100
        assert len(search(cloud, "project = OPS", maxResults=1000, fields="id")["issues"]) == 150
        dc_page = search(dc, "project = OPS", maxResults=1000)
        assert dc_page["maxResults"] == 60 and len(dc_page["issues"]) == 60 and dc_page["total"] == 150
        fields = call(dc, "GET", "/rest/api/2/search", params=[("jql", "key = OPS-1"), ("fields", "status"),
                                                                   ("fields", "duedate,assignee")])  # fmt: skip
        assert set(fields.json()["issues"][0]["fields"]) == {"status", "duedate", "assignee"}


def test_auth_when_credentials_are_configured(ds: Dataset) -> None:
    creds = Credentials(basic={"ana.silva@demo.example": "s3cret"}, bearer=frozenset({"pat-123"}))
    with EmulatorServer(ds, mode="cloud", credentials=creds) as srv:
        assert call(srv, "GET", "/rest/api/3/myself").status_code == 401
        assert (
            call(srv, "GET", "/rest/api/3/myself", auth=("ana.silva@demo.example", "wrong")).status_code
            == 401
        )
        me = call(srv, "GET", "/rest/api/3/myself", auth=("ana.silva@demo.example", "s3cret")).json()
        assert me["emailAddress"] == "ana.silva@demo.example" and me["timeZone"] == "Europe/Berlin"
        bearer = call(srv, "GET", "/rest/api/3/myself", headers={"Authorization": "Bearer pat-123"})
        assert bearer.status_code == 200 and bearer.json()["timeZone"] == "UTC"
    with EmulatorServer(ds, mode="datacenter", timezone="Asia/Tokyo") as open_srv:
        me = call(open_srv, "GET", "/rest/api/2/myself").json()
        assert me["timeZone"] == "Asia/Tokyo" and "name" in me and "accountId" not in me


def test_user_search_by_email(server: EmulatorServer) -> None:
    params = {"query": "kenji.sato@demo.example"} if server.cloud else {"username": "kenji.sato@demo.example"}
    found = call(server, "GET", "/rest/api/2/user/search", params=params).json()
    assert [u["displayName"] for u in found] == ["Kenji Sato"]
    if server.cloud:
        assert call(server, "GET", "/rest/api/2/user/search", params={"username": "kenji"}).status_code == 400


def test_a_hidden_address_is_left_out_of_user_objects_but_still_found(ds: Dataset) -> None:
    for mode in ("cloud", "datacenter"):
        hidden = ds.add_user("hana.mori@demo.example", "Hana Mori", email_visible=False)
        ds.reassign("PAY-2", "hana.mori@demo.example")
        with EmulatorServer(ds, mode=mode) as srv:
            assignee = search(srv, "key = PAY-2")["issues"][0]["fields"]["assignee"]
            assert "emailAddress" not in assignee and assignee["displayName"] == "Hana Mori"
            params = {"query": hidden.email} if srv.cloud else {"username": hidden.email}
            found = call(srv, "GET", "/rest/api/2/user/search", params=params).json()
            assert [u["displayName"] for u in found] == ["Hana Mori"] and "emailAddress" not in found[0]


def test_cloud_lists_every_user_a_page_at_a_time_with_privacy(ds: Dataset) -> None:
    ds.add_user("hana.mori@demo.example", "Hana Mori", email_visible=False)
    with EmulatorServer(ds, mode="cloud") as srv:
        first = call(srv, "GET", "/rest/api/3/users/search", params={"maxResults": 2}).json()
        rest = call(srv, "GET", "/rest/api/3/users/search", params={"startAt": 2, "maxResults": 5000}).json()
        listed = first + rest
        assert [u["displayName"] for u in listed] == ["Ana Silva", "Kenji Sato", "Hana Mori"]
        assert [u.get("emailAddress") for u in listed] == [
            "ana.silva@demo.example",
            "kenji.sato@demo.example",
            None,  # hidden by the user's profile, as everywhere else
        ]
        assert srv.stats.count("GET /rest/api/3/users/search") == 2
    with EmulatorServer(ds, mode="datacenter") as srv:
        assert call(srv, "GET", "/rest/api/2/users/search").status_code == 404  # Cloud only


# ---------------------------------------------------------------- changelogs


def test_cloud_caps_embedded_changelogs_and_serves_the_rest(ds: Dataset) -> None:
    with EmulatorServer(ds, mode="cloud") as srv:
        issue = search(srv, "key = PAY-1", expand="changelog")["issues"][0]
        changelog = issue["changelog"]
        assert changelog["total"] == LONG and len(changelog["histories"]) == 100
        created = [h["created"] for h in changelog["histories"]]
        assert created == sorted(created, reverse=True)  # newest first
        pages: list[dict[str, Any]] = []
        start = 0
        while True:
            page = call(srv, "GET", "/rest/api/3/issue/PAY-1/changelog", params={"startAt": start}).json()
            pages += page["values"]
            if page["isLast"]:
                assert "nextPage" not in page
                break
            start += page["maxResults"]
        assert len(pages) == LONG == len({h["id"] for h in pages})
        item = pages[0]["items"][0]
        assert item == {
            "field": "status", "fieldtype": "jira", "fieldId": "status",
            "from": "10001", "fromString": "To Do", "to": "3", "toString": "In Progress",
        }  # fmt: skip
        bulk: list[tuple[str, str]] = []
        token = None
        calls = 0
        while True:
            body: dict[str, Any] = {
                "issueIdsOrKeys": ["PAY-2", "PAY-1"],
                "maxResults": 70,
                "fieldIds": ["status"],
            }
            if token:
                body["nextPageToken"] = token
            reply = call(srv, "POST", "/rest/api/3/changelog/bulkfetch", json=body).json()
            calls += 1
            bulk += [
                (log["issueId"], h["id"]) for log in reply["issueChangeLogs"] for h in log["changeHistories"]
            ]
            token = reply.get("nextPageToken")
            if not token:
                break
        assert calls == 4 and len(bulk) == LONG == len(set(bulk))
        too_many = call(
            srv, "POST", "/rest/api/3/changelog/bulkfetch", json={"issueIdsOrKeys": ["PAY-1"] * 1001}
        )
        assert too_many.status_code == 400


def test_datacenter_embeds_the_full_changelog(ds: Dataset) -> None:
    with EmulatorServer(ds, mode="datacenter") as srv:
        issue = search(srv, "key = PAY-1", expand="changelog")["issues"][0]
        histories = issue["changelog"]["histories"]
        assert len(histories) == issue["changelog"]["total"] == LONG
        assert histories[0]["created"] < histories[-1]["created"]  # oldest first
        assert histories[0]["author"]["name"] == "kenji.sato"


def test_change_items_for_every_kind(server: EmulatorServer, ds: Dataset) -> None:
    sprint_a = ds.add_sprint("PAY Sprint 1", 1, NOW - timedelta(days=20), NOW - timedelta(days=6), "closed")
    sprint_b = ds.add_sprint("PAY Sprint 2", 1, NOW - timedelta(days=6), NOW + timedelta(days=8), "active")
    at = NOW - timedelta(hours=5)
    ds.add_to_sprint("PAY-3", sprint_a.id, at=at)
    ds.add_to_sprint("PAY-3", sprint_b.id, at=at + timedelta(minutes=1))
    ds.set_due_date("PAY-3", "2026-03-20", at=at + timedelta(minutes=2))
    ds.reassign(
        "PAY-3", "ana.silva@demo.example", at=at + timedelta(minutes=3), author="ana.silva@demo.example"
    )
    ds.transition("PAY-3", "Done", at=at + timedelta(minutes=4))
    histories = search(server, "key = PAY-3", expand="changelog")["issues"][0]["changelog"]["histories"]
    items = [i for h in sorted(histories, key=lambda h: h["created"]) for i in h["items"]]
    sprint_items = [i for i in items if i["field"] == "Sprint"]
    assert sprint_items[1]["fieldId"] == "customfield_10020"
    assert sprint_items[1]["from"] == str(sprint_a.id) and sprint_items[1]["fromString"] == "PAY Sprint 1"
    assert sprint_items[1]["to"] == f"{sprint_a.id}, {sprint_b.id}"
    assert sprint_items[1]["toString"] == "PAY Sprint 1, PAY Sprint 2"
    due = next(i for i in items if i["field"] == "duedate")
    assert (due["from"], due["to"], due["toString"]) == (None, "2026-03-20", "2026-03-20 00:00:00.0")
    assignee = next(i for i in items if i["field"] == "assignee")
    ana = ds.user("ana.silva@demo.example")
    # Data Center change items carry the user key (JIRAUSER<n> since Jira 8), not the name.
    assert assignee["to"] == (ana.account_id if server.cloud else ana.key)
    assert ana.key.startswith("JIRAUSER") and ana.key != ana.name
    assert (assignee["fromString"], assignee["toString"]) == ("Kenji Sato", "Ana Silva")
    assert [i["field"] for i in items[-2:]] == ["status", "resolution"]
    fields = search(server, "key = PAY-3")["issues"][0]["fields"]
    assert [s["state"] for s in fields["customfield_10020"]] == ["closed", "active"]
    assert fields["resolution"]["name"] == "Done" and fields["resolutiondate"]


# ---------------------------------------------------------------- mutations


def test_mutations_show_in_the_next_search(server: EmulatorServer, ds: Dataset) -> None:
    before = search(server, "key = PAY-5")["issues"][0]["fields"]["updated"]
    later = NOW + timedelta(hours=1)
    ds.set_now(later)
    ds.transition("PAY-5", "In Progress")
    after = search(server, "updated >= -30m")["issues"]
    assert [i["key"] for i in after] == ["PAY-5"]
    assert after[0]["fields"]["updated"] > before
    assert after[0]["fields"]["status"]["name"] == "In Progress"
    new_key = ds.move_issue("PAY-6", "OPS")
    assert new_key == "OPS-1"
    moved = call(server, "GET", "/rest/api/2/issue/PAY-6").json()
    assert moved["key"] == "OPS-1"
    ds.delete_issue("PAY-7")
    assert call(server, "GET", "/rest/api/2/issue/PAY-7").status_code == 404
    keys = [i["key"] for i in search(server, "project = PAY", maxResults=100)["issues"]]
    assert "PAY-7" not in keys and "PAY-6" not in keys and len(keys) == 28


def test_a_status_added_while_serving_is_listed_and_usable(server: EmulatorServer, ds: Dataset) -> None:
    blocked = ds.add_status(Status("10100", "Blocked", CATEGORY_INDETERMINATE))
    listed = call(server, "GET", "/rest/api/2/status").json()
    assert {"id": "10100", "name": "Blocked"}.items() <= next(s for s in listed if s["id"] == "10100").items()
    ds.transition("PAY-3", "Blocked")
    found = search(server, "status = Blocked")["issues"]
    assert [i["key"] for i in found] == ["PAY-3"] and ds.issue("PAY-3").status is blocked


def test_mutations_from_another_thread_while_paging(ds: Dataset) -> None:
    with EmulatorServer(ds, mode="cloud") as srv:
        stop = threading.Event()

        def churn() -> None:
            n = 0
            while not stop.is_set():
                ds.transition(f"PAY-{2 + n % 20}", "In Progress" if n % 2 else "To Do")
                n += 1

        worker = threading.Thread(target=churn)
        worker.start()
        try:
            seen: list[str] = []
            token = None
            while True:
                page = search(
                    srv, "project = PAY", maxResults=7, **({"nextPageToken": token} if token else {})
                )
                seen += [i["key"] for i in page["issues"]]
                token = page.get("nextPageToken")
                if not token:
                    break
        finally:
            stop.set()
            worker.join()
    assert sorted(seen) == sorted(f"PAY-{n}" for n in range(1, 31))  # a snapshot: each once


# ---------------------------------------------------------------- faults


def test_rate_limit_every_nth_with_atlassian_headers(ds: Dataset) -> None:
    faults = Faults(clock=lambda: NOW)  # X-RateLimit-Reset counts from the emulator's clock
    faults.rate_limit(every=3, retry_after=7)
    with EmulatorServer(ds, mode="cloud", faults=faults) as srv:
        statuses = [call(srv, "GET", "/rest/api/3/serverInfo") for _ in range(6)]
        assert [r.status_code for r in statuses] == [200, 200, 429, 200, 200, 429]
        limited = statuses[2]
        assert limited.headers["Retry-After"] == "7"
        assert limited.headers["X-RateLimit-Limit"] == "3" and limited.headers["X-RateLimit-Remaining"] == "0"
        assert limited.headers["RateLimit-Reason"] == "jira-quota-global-based"
        # the request time plus Retry-After, to the minute
        assert limited.headers["X-RateLimit-Reset"] == (NOW + timedelta(seconds=7)).strftime(
            "%Y-%m-%dT%H:%MZ"
        )
        assert srv.stats.snapshot()["by_status"] == {"200": 4, "429": 2}


def test_token_bucket_rate_limit(ds: Dataset) -> None:
    faults = Faults([FaultRule("rate_limit", per_second=5)])
    with EmulatorServer(ds, mode="cloud", faults=faults) as srv:
        codes = [call(srv, "GET", "/rest/api/3/field").status_code for _ in range(12)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        time.sleep(0.5)
        assert call(srv, "GET", "/rest/api/3/field").status_code == 200
    bucket = Faults([FaultRule("rate_limit", per_second=2)])
    assert [len(bucket.decide("/x", now=t)) for t in (10.0, 10.0, 10.0, 10.5, 10.5)] == [0, 0, 1, 0, 1]
    headers = dict(bucket.decide("/x", now=10.6)[0].headers)
    assert headers["Retry-After"] == "1" and headers["RateLimit-Reason"] == "jira-burst-based"


def test_faults_by_path_and_count_and_kinds(ds: Dataset) -> None:
    faults = Faults()
    with EmulatorServer(ds, mode="cloud", faults=faults) as srv:
        faults.unavailable(path="search/jql", count=2, retry_after=3)
        codes = [search_status(srv) for _ in range(3)]
        assert codes == [503, 503, 200]
        assert call(srv, "GET", "/rest/api/3/field").status_code == 200
        for status in (200, 502):
            faults.not_json(status=status, count=1)
            html = call(srv, "GET", "/rest/api/3/field")
            assert html.status_code == status and html.headers["Content-Type"].startswith("text/html")
            with pytest.raises(ValueError):
                html.json()
        faults.latency(150, count=1)
        started = time.monotonic()
        assert call(srv, "GET", "/rest/api/3/field").status_code == 200
        assert time.monotonic() - started >= 0.15
        faults.drop(count=1)
        with pytest.raises(requests.ConnectionError):
            call(srv, "GET", "/rest/api/3/field")
        assert call(srv, "GET", "/rest/api/3/field").status_code == 200
        assert faults.rules() == []
        snapshot = srv.stats.snapshot()
        assert snapshot["by_status"]["dropped"] == 1 and snapshot["by_status"]["503"] == 2
        assert snapshot["by_endpoint"]["GET /rest/api/3/search/jql"] == 3
    with pytest.raises(ValueError):
        FaultRule("explode")


def search_status(srv: EmulatorServer) -> int:
    return call(srv, "GET", "/rest/api/3/search/jql", params={"jql": "project = PAY"}).status_code


# ---------------------------------------------------------------- admin over HTTP


def test_admin_routes_drive_the_emulator(ds: Dataset) -> None:
    with EmulatorServer(ds, mode="cloud") as srv:
        created = call(srv, "POST", "/_emulator/issues", json={"project": "OPS", "summary": "From HTTP",
                                                                  "assignee": "ana.silva@demo.example"})  # fmt: skip
        assert created.status_code == 201 and created.json()["key"] == "OPS-1"
        at = (NOW + timedelta(hours=2)).isoformat()
        assert call(srv, "POST", "/_emulator/issues/OPS-1/transition", json={"status": "Done", "at": at}).ok
        assert call(srv, "POST", "/_emulator/issues/OPS-1/duedate", json={"duedate": "2026-04-01"}).ok
        fields = search(srv, "key = OPS-1")["issues"][0]["fields"]
        assert fields["status"]["name"] == "Done" and fields["duedate"] == "2026-04-01"
        assert fields["updated"].startswith("2026-03-12T16:00")
        assert (
            call(srv, "POST", "/_emulator/issues/NOPE-1/transition", json={"status": "Done"}).status_code
            == 404
        )
        assert (
            call(srv, "POST", "/_emulator/issues/OPS-1/transition", json={"status": "Nope"}).status_code
            == 404
        )
        assert call(srv, "DELETE", "/_emulator/issues/OPS-1").status_code == 204
        assert call(srv, "GET", "/rest/api/3/issue/OPS-1").status_code == 404
        rules = call(srv, "POST", "/_emulator/faults", json={"rules": [{"kind": "rate_limit", "every": 1,
                                                                          "path": "field", "count": 1}]})  # fmt: skip
        assert rules.json()["rules"][0]["kind"] == "rate_limit"
        assert call(srv, "GET", "/rest/api/3/field").status_code == 429
        assert call(srv, "POST", "/_emulator/faults", json={"kind": "boom"}).status_code == 400
        assert call(srv, "POST", "/_emulator/faults", json={"clear": True}).json() == {"rules": []}
        stats = call(srv, "GET", "/_emulator/stats").json()
        assert stats["by_endpoint"] == {"GET /rest/api/2/search/jql": 1, "GET /rest/api/3/issue/{issueIdOrKey}": 1,
                                        "GET /rest/api/3/field": 1}  # fmt: skip
        assert call(srv, "POST", "/_emulator/stats/reset").json()["total"] == 0
        assert call(srv, "POST", "/_emulator/clock", json={"now": "2026-03-13T09:00:00Z"}).ok
        assert ds.now() == datetime(2026, 3, 13, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the process


def test_command_line_serves_until_sigterm_and_logs_nothing_personal() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "teampulse_jira_emulator", "--mode", "datacenter", "--seed", "3", "--verbose"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        url = line.split()[-1]
        assert line.startswith("jira-emulator datacenter http://127.0.0.1:")
        info = requests.get(f"{url}/rest/api/2/serverInfo", timeout=10).json()
        assert info["deploymentType"] == "Server"
        found = requests.get(f"{url}/rest/api/2/search", params={"jql": "project = PAY", "fields": "assignee"},
                             timeout=10).json()  # fmt: skip
        email = next(
            i["fields"]["assignee"]["emailAddress"] for i in found["issues"] if i["fields"]["assignee"]
        )
        requests.get(f"{url}/rest/api/2/user/search", params={"username": email}, timeout=10)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "GET /rest/api/2/user/search" in err
    assert "@" not in out + err and email.split("@")[0] not in out + err


def test_library_logging_is_silent_by_default(ds: Dataset, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), EmulatorServer(ds, mode="cloud") as srv:
        call(srv, "GET", "/rest/api/3/user/search", params={"query": "ana.silva@demo.example"})
    assert not [r for r in caplog.records if r.name.startswith("teampulse_jira_emulator")]
    assert json.dumps(srv.stats.snapshot()).count("@") == 0
