"""Fuzzing Jira replies: whatever JSON a server sends, the source fails in one line or collects.

A tiny local HTTP server answers the Jira Cloud endpoints the source calls; each example
replaces one endpoint's reply by an odd one (odd JSON, odd shapes, bytes that are not JSON).
The real `jira` client and the real source run against it, their batches go into a real store.
The property: the collection ends with the batches or with a SourceError of one line, never
another exception or a loop without end, and the store stays whole.

Fast form in the suite (deterministic, a few seconds); the long form: TEAMPULSE_FUZZ_EXAMPLES=N.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from teampulse_jira import create

from teampulse import PluginConfig, SourceError, TeamInfo
from teampulse.collect import Pseudonymise
from teampulse.pseudonym import Pseudonymiser
from teampulse.store import Store
from teampulse.testing import RecordingContext

NOW = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("TEAMPULSE_FUZZ_EXAMPLES", "60"))
ENDPOINTS = ("myself", "status", "field", "search/jql", "changelog/bulkfetch", "user/search")
ISSUE = {
    "id": "10042",
    "key": "PAY-1",
    "fields": {
        "status": {"id": "3", "statusCategory": {"key": "indeterminate"}},
        "created": "2026-03-01T09:00:00.000+0000",
        "updated": "2026-03-15T12:00:00.000+0000",
        "duedate": "2026-03-20",
        "assignee": {"accountId": "acc-bob", "displayName": "Bob"},
    },
    "changelog": {
        "total": 1,
        "histories": [
            {
                "id": "500",
                "created": "2026-03-02T10:00:00.000+0000",
                "items": [{"field": "assignee", "fieldId": "assignee", "from": None, "to": "acc-bob"}],
            }
        ],
    },
}
VALID: dict[str, Any] = {
    "serverInfo": {"versionNumbers": [1001, 0, 0], "version": "1001.0.0", "deploymentType": "Cloud"},
    "myself": {"accountId": "acc-bot", "timeZone": "UTC"},
    "status": [{"id": "3", "statusCategory": {"key": "indeterminate"}}],
    "field": [{"id": "customfield_10020", "schema": {"custom": "com.pyxis.greenhopper.jira:gh-sprint"}}],
    "search/jql": {"issues": [ISSUE], "isLast": True},
    "changelog/bulkfetch": {"issueChangeLogs": []},
    "user/search": [{"accountId": "acc-bob", "displayName": "Bob"}],
}


class Replies:
    """What the server answers: the valid replies, one of them replaced by the example's."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.odd: tuple[str, bytes] | None = None

    def body(self, endpoint: str) -> bytes:
        with self.lock:
            if self.odd is not None and self.odd[0] == endpoint:
                return self.odd[1]
        return json.dumps(VALID.get(endpoint, {})).encode()


def _endpoint(path: str) -> str:
    rest = urlparse(path).path.split("/rest/api/", 1)[-1]
    return rest.split("/", 1)[1] if "/" in rest else rest


def serve(replies: Replies) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = replies.body(_endpoint(self.path))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _answer
        do_POST = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Replies]]:
    replies = Replies()
    httpd = serve(replies)
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", replies
    finally:
        httpd.shutdown()
        httpd.server_close()


KEYS = st.sampled_from(
    [
        "issues", "id", "key", "fields", "changelog", "histories", "items", "total", "isLast",
        "nextPageToken", "updated", "created", "status", "statusCategory", "assignee", "accountId",
        "emailAddress", "field", "fieldId", "from", "to", "issueChangeLogs", "issueId",
        "changeHistories", "timeZone", "schema", "custom", "duedate", "customfield_10020", "state",
    ]
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["2026-03-01T09:00:00.000+0000", "10042", "acc-bob", "indeterminate", "done", "", "0"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=30,
)


@st.composite
def odd_issue(draw: st.DrawFn) -> Any:
    """A valid issue with one part replaced by odd JSON."""
    issue = json.loads(json.dumps(ISSUE))
    where = draw(st.sampled_from(["id", "key", "fields", "changelog", "status", "created", "updated", "assignee",
                                  "duedate", "histories", "item"]))  # fmt: skip
    value = draw(JSON)
    if where in ("id", "key", "fields", "changelog"):
        issue[where] = value
    elif where in ("status", "created", "updated", "assignee", "duedate"):
        issue["fields"][where] = value
    elif where == "histories":
        issue["changelog"]["histories"] = value
    else:
        issue["changelog"]["histories"][0]["items"][0][draw(KEYS)] = value
    return issue


@st.composite
def odd_reply(draw: st.DrawFn) -> tuple[str, bytes]:
    endpoint = draw(st.sampled_from(ENDPOINTS))
    kind = draw(st.sampled_from(["json", "json", "shape", "bytes"]))
    if kind == "bytes":
        return endpoint, draw(st.binary(max_size=40))
    if kind == "shape" and endpoint == "search/jql":
        reply: Any = {
            "issues": draw(st.lists(odd_issue() | st.just(ISSUE), min_size=1, max_size=3)),
            "isLast": draw(st.sampled_from([True, False, None, "yes"])),
        }
        if draw(st.booleans()):
            reply["nextPageToken"] = draw(JSON)
        return endpoint, json.dumps(reply).encode()
    return endpoint, json.dumps(draw(JSON)).encode()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 60,  # the suite's fast form runs the same examples every time
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@seed(12)
@given(odd=odd_reply())
def test_odd_jira_replies_fail_in_one_line_and_leave_the_store_whole(
    server: tuple[str, Replies], monkeypatch: pytest.MonkeyPatch, odd: tuple[str, bytes]
) -> None:
    url, replies = server
    monkeypatch.setenv("JIRA_FUZZ_TOKEN", "t0ken")
    table = {"plugin": "jira", "url": url, "email": "bot@example.com", "token_env": "JIRA_FUZZ_TOKEN",
             "max_retries": 1, "timeout_seconds": 5}  # fmt: skip
    source = create(PluginConfig(name="jira", section="sources", options=table))
    source.sleep = lambda _seconds: None
    team = TeamInfo(
        name="payments", manager="maria@example.com", members=("bob@example.com",), jql="project = PAY"
    )
    scrub = Pseudonymise(Pseudonymiser(b"fuzz-key-0123456789abcdef"))
    with replies.lock:
        replies.odd = odd
    with Store(":memory:") as store:
        try:
            for batch in source.collect(RecordingContext([team], None, NOW, name="jira", history_from=NOW)):
                store.apply_batch("jira", [scrub(ev) for ev in batch.events], batch.cursor, 0.0)
        except SourceError as exc:
            message = str(exc)
            assert message and "\n" not in message
            assert "t0ken" not in message
        assert store._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        cursor = store.cursor("jira")
        assert cursor is None or isinstance(cursor.get("teams"), dict)
