"""The HTTP server: Jira REST routes for Cloud or Data Center, faults, statistics and admin routes."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from .dataset import Dataset, DatasetError
from .faults import ALTERING, Fault, Faults
from .jql import Context, JqlError
from .model import Issue, User, to_ms
from .render import SPRINT_FIELD, SPRINT_SCHEMA, SYSTEM_FIELDS, Renderer, field_list, jira_time
from .render import select_fields as choose_fields
from .search import PageTokens, Searcher, TokenError, bounded, fingerprint

log = logging.getLogger("teampulse_jira_emulator")

SEARCH_REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
NOT_FOUND_ISSUE = "Issue does not exist or you do not have permission to see it."
CLOUD_ID_ONLY_MAX = 5000
USERS_LIST_MAX = 1000  # users/search: "The maximum number of items to return (limited to 1000)"
BULK_CHANGELOG_MAX = 10000
HTML_ERROR = (
    b"<!DOCTYPE html><html><head><title>Oops, you've found a dead link - Atlassian</title></head>"
    b"<body><h1>Something went wrong</h1><p>We're having trouble reaching Jira right now.</p></body></html>"
)


class HttpError(Exception):
    """An error reply in Jira's shape: {"errorMessages": [...], "errors": {...}}."""

    def __init__(self, status: int, *messages: str, errors: dict[str, str] | None = None) -> None:
        """Remember the status and messages."""
        super().__init__(status, messages)
        self.status = status
        self.messages = list(messages)
        self.errors = errors or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON body."""
        return {"errorMessages": self.messages, "errors": self.errors}


@dataclass
class Credentials:
    """Accepted credentials: basic auth pairs (e-mail or user name -> API token) and bearer tokens."""

    basic: dict[str, str] = field(default_factory=dict)
    bearer: frozenset[str] = frozenset()

    def check(self, header: str | None) -> str | None:
        """Return the authenticated login ("" for a bearer token), or None when the header is not accepted."""
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return "" if value.strip() in self.bearer else None
        if scheme.lower() == "basic":
            login, secret = _basic(value)
            if login is not None and self.basic.get(login) == secret:
                return login
        return None


def _basic(value: str) -> tuple[str | None, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, ""
    login, _, secret = decoded.partition(":")
    return login, secret


def _login_of(header: str | None) -> str | None:
    """Return the login named by a basic auth header, unchecked (who the request runs as)."""
    scheme, _, value = (header or "").partition(" ")
    return _basic(value)[0] if scheme.lower() == "basic" else None


class Stats:
    """Request counts per endpoint template and per status; admin routes are not counted."""

    def __init__(self) -> None:
        """Start at zero."""
        self._lock = threading.Lock()
        self.total = 0
        self.by_endpoint: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()

    def record(self, endpoint: str, status: int | str) -> None:
        """Count one request."""
        with self._lock:
            self.total += 1
            self.by_endpoint[endpoint] += 1
            self.by_status[str(status)] += 1

    def reset(self) -> None:
        """Set every count back to zero."""
        with self._lock:
            self.total = 0
            self.by_endpoint.clear()
            self.by_status.clear()

    def count(self, fragment: str = "") -> int:
        """Return the number of requests whose endpoint contains `fragment` (all with "")."""
        with self._lock:
            return sum(n for endpoint, n in self.by_endpoint.items() if fragment in endpoint)

    def snapshot(self) -> dict[str, Any]:
        """Return the counts as JSON-ready data."""
        with self._lock:
            return {
                "total": self.total,
                "by_endpoint": dict(self.by_endpoint),
                "by_status": dict(self.by_status),
            }


@dataclass
class Request:
    """What a route handler needs from one HTTP request."""

    method: str
    path: str
    api: str
    params: dict[str, list[str]]
    body: Any
    user: User
    match: re.Match[str]

    def param(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of a query parameter."""
        values = self.params.get(name)
        return values[0] if values else default

    def int_param(self, name: str, default: int) -> int:
        """Return an integer query parameter, 400 if it is not one."""
        raw = self.param(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise HttpError(400, f"The '{name}' parameter must be a number.") from None


Handler = Callable[["EmulatorServer", Request], tuple[int, Any]]


class EmulatorServer:
    """A Jira REST emulator on a background thread; `mode` is "cloud" or "datacenter"."""

    def __init__(
        self,
        dataset: Dataset,
        mode: str = "cloud",
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        credentials: Credentials | None = None,
        page_size_max: int = 100,
        timezone: str = "UTC",
        sprint_format: str = "object",
        verbose: bool = False,
    ) -> None:
        """Configure the server; nothing listens until start()."""
        if mode not in ("cloud", "datacenter"):
            raise ValueError(f"mode must be 'cloud' or 'datacenter', not {mode!r}")
        if sprint_format not in ("object", "legacy"):
            raise ValueError("sprint_format must be 'object' or 'legacy'")
        self.dataset = dataset
        self.mode = mode
        self.cloud = mode == "cloud"
        self.host = host
        self.port = port
        self.faults = faults if faults is not None else Faults()
        self.credentials = credentials
        self.page_size_max = page_size_max
        self.timezone = timezone
        self.legacy_sprints = sprint_format == "legacy"
        self.verbose = verbose
        self.stats = Stats()
        self.searcher = Searcher(dataset)
        self.tokens = PageTokens()
        self.bot = User.make("jira-emulator-bot@demo.example", "Jira Emulator Bot", timezone, index=1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ----------------------------------------------------------
    @property
    def url(self) -> str:
        """Return the base URL (no trailing slash)."""
        if self._httpd is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> EmulatorServer:
        """Listen and serve on a daemon thread; return self."""
        if self._httpd is not None:
            return self
        httpd = ThreadingHTTPServer((self.host, self.port), _RequestHandler)
        httpd.daemon_threads = True
        httpd.emulator = self  # type: ignore[attr-defined]
        self._httpd = httpd
        # A short poll interval makes stop() quick, which many short-lived test servers need.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="jira-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve on the calling thread until stop() is called from elsewhere."""
        self.start()
        assert self._thread is not None
        while self._thread.is_alive() and self._httpd is not None:
            self._thread.join(timeout=0.5)

    def __enter__(self) -> EmulatorServer:
        """Start on entering a with block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a with block."""
        self.stop()

    # helpers --------------------------------------------------------------
    def viewer(self, login: str | None) -> User:
        """Return the user a request runs as: the matching dataset user, else the emulator's bot."""
        if login:
            lowered = login.lower()
            found = self.dataset.users.get(lowered)
            if found is None and not self.cloud:
                found = next((u for u in self.dataset.users.values() if u.name.lower() == lowered), None)
            if found is not None:
                return found
        return self.bot

    def renderer(self, req: Request) -> Renderer:
        """Return a renderer for this request's API version and viewer."""
        return Renderer(self.cloud, self.url, req.api, ZoneInfo(req.user.timezone), self.legacy_sprints)

    def context(self, req: Request) -> Context:
        """Return the JQL context of this request."""
        return Context(self.dataset, self.dataset.now(), ZoneInfo(req.user.timezone), req.user)


# ---------------------------------------------------------------- routes


def _fields_param(req: Request, body_key: str = "fields") -> list[str]:
    if isinstance(req.body, dict) and body_key in req.body:
        raw = req.body.get(body_key)
        if raw is None:
            return []
        if isinstance(raw, str):
            return [raw]
        return [str(x) for x in raw]
    return req.params.get(body_key, [])


def _expand(req: Request) -> set[str]:
    raw = req.body.get("expand") if isinstance(req.body, dict) else None
    if raw is None:
        raw = ",".join(req.params.get("expand", []))
    if isinstance(raw, list):
        raw = ",".join(map(str, raw))
    return {part.strip() for part in str(raw).split(",") if part.strip()}


def _names_and_schema(response: dict[str, Any], fields: tuple[str, ...], expand: set[str]) -> None:
    names = {f[0]: f[1] for f in SYSTEM_FIELDS}
    names[SPRINT_FIELD] = "Sprint"
    schemas: dict[str, Any] = {f[0]: f[3] for f in SYSTEM_FIELDS}
    schemas[SPRINT_FIELD] = SPRINT_SCHEMA
    if "names" in expand:
        response["names"] = {f: names[f] for f in fields}
    if "schema" in expand:
        response["schema"] = {f: schemas[f] for f in fields}


def route_server_info(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET serverInfo."""
    now = to_ms(srv.dataset.now())
    tz = ZoneInfo(req.user.timezone)
    if srv.cloud:
        version, numbers, build, deployment = "1001.0.0-SNAPSHOT", [1001, 0, 0], 100290, "Cloud"
    else:
        version, numbers, build, deployment = "9.12.15", [9, 12, 15], 9120015, "Server"
    return 200, {
        "baseUrl": srv.url,
        "displayUrl": srv.url,
        "version": version,
        "versionNumbers": numbers,
        "deploymentType": deployment,
        "buildNumber": build,
        "buildDate": jira_time(to_ms(datetime(2026, 1, 12, 10, 0, tzinfo=tz)), tz),
        "serverTime": jira_time(now, tz),
        "scmInfo": "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6",
        "serverTitle": "Jira",
        "serverTimeZone": srv.timezone,
    }


def route_myself(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET myself."""
    return 200, srv.renderer(req).myself(req.user)


def route_fields(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET field."""
    return 200, field_list()


def route_statuses(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET status."""
    renderer = srv.renderer(req)
    return 200, [renderer.status(s) for s in srv.dataset.statuses]


def _search(srv: EmulatorServer, req: Request, jql: str) -> list[Issue]:
    try:
        return srv.searcher.run(jql, srv.context(req))
    except JqlError as exc:
        raise HttpError(400, str(exc)) from None


def route_search_dc(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET/POST search: Data Center's offset paging (Cloud removed it: 410)."""
    if srv.cloud:
        raise HttpError(410, SEARCH_REMOVED)
    body = req.body if isinstance(req.body, dict) else {}
    jql = str(body.get("jql") or req.param("jql", "") or "")
    start_at = int(body.get("startAt", req.int_param("startAt", 0)))
    max_results = int(body.get("maxResults", req.int_param("maxResults", 50)))
    if start_at < 0:
        raise HttpError(400, "The 'startAt' parameter must not be negative.")
    max_results = max(0, min(max_results, srv.page_size_max))
    fields = choose_fields(_fields_param(req), "*navigable")
    expand = _expand(req)
    found = _search(srv, req, jql)
    renderer = srv.renderer(req)
    with srv.dataset.lock:
        page = [
            renderer.issue(i, fields, changelog="changelog" in expand)
            for i in found[start_at : start_at + max_results]
            if i.id in srv.dataset.issues
        ]
    response: dict[str, Any] = {
        "expand": "schema,names",
        "startAt": start_at,
        "maxResults": max_results,
        "total": len(found),
        "issues": page,
    }
    _names_and_schema(response, fields, expand)
    return 200, response


def route_search_jql(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET/POST search/jql: Cloud's token paging, no total (Data Center has no such route)."""
    if not srv.cloud:
        raise HttpError(404, "null for uri: " + req.path)
    body = req.body if isinstance(req.body, dict) else {}
    jql = str(body.get("jql") or req.param("jql", "") or "")
    token = body.get("nextPageToken") or req.param("nextPageToken")
    try:
        max_results = int(body.get("maxResults") or req.int_param("maxResults", 50))
    except (TypeError, ValueError):
        raise HttpError(400, "The 'maxResults' parameter must be a number.") from None
    fields = choose_fields(_fields_param(req), "id")
    expand = _expand(req)
    changelog = "changelog" in expand
    cap = CLOUD_ID_ONLY_MAX if not fields and not changelog else srv.page_size_max
    max_results = max(1, min(max_results, cap))
    if not bounded(jql):
        raise HttpError(
            400, "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
        )
    query_id = fingerprint(jql, req.user.account_id)
    offset = 0
    snap = ""
    ids: list[int] | None = None
    if token:
        try:
            payload = srv.tokens.decode(str(token))
            if payload.get("q") != query_id:
                raise TokenError("token of another query")
            offset = int(payload["o"])
        except (TokenError, KeyError, TypeError, ValueError):
            raise HttpError(400, "The provided next page token is invalid or expired.") from None
        snap = str(payload.get("s"))
        ids = srv.searcher.from_snapshot(snap)
    if ids is None:
        found = _search(srv, req, jql)
        ids = [i.id for i in found]
        snap = srv.searcher.snapshot(found)
    renderer = srv.renderer(req)
    with srv.dataset.lock:
        chosen = [srv.dataset.issues.get(i) for i in ids[offset : offset + max_results]]
        page = [renderer.issue(i, fields, changelog, cap_changelog=True) for i in chosen if i is not None]
    response: dict[str, Any] = {"issues": page}
    next_offset = offset + max_results
    if next_offset < len(ids):
        response["nextPageToken"] = srv.tokens.encode({"q": query_id, "o": next_offset, "s": snap})
    response["isLast"] = next_offset >= len(ids)
    _names_and_schema(response, fields, expand)
    return 200, response


def route_approximate_count(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """POST search/approximate-count (Cloud)."""
    if not srv.cloud:
        raise HttpError(404, "null for uri: " + req.path)
    jql = str(req.body.get("jql", "")) if isinstance(req.body, dict) else ""
    if not bounded(jql):
        raise HttpError(400, "Unbounded JQL queries are not allowed here.")
    return 200, {"count": len(_search(srv, req, jql))}


def _issue_or_404(srv: EmulatorServer, key: str) -> Issue:
    found = srv.dataset.find(key)
    if found is None:
        raise HttpError(404, NOT_FOUND_ISSUE)
    return found


def route_issue(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET issue/{issueIdOrKey}."""
    renderer = srv.renderer(req)
    with srv.dataset.lock:
        issue = _issue_or_404(srv, req.match["key"])
        fields = choose_fields(_fields_param(req), "*all")
        return 200, renderer.issue(issue, fields, "changelog" in _expand(req), cap_changelog=srv.cloud)


def route_issue_changelog(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET issue/{issueIdOrKey}/changelog (Cloud): all histories, oldest first, offset paging."""
    if not srv.cloud:
        raise HttpError(404, "null for uri: " + req.path)
    start_at = max(0, req.int_param("startAt", 0))
    max_results = max(1, min(req.int_param("maxResults", 100), 100))
    renderer = srv.renderer(req)
    with srv.dataset.lock:
        issue = _issue_or_404(srv, req.match["key"])
        histories = issue.histories
        values = [renderer.history(h) for h in histories[start_at : start_at + max_results]]
        total = len(histories)
    base = f"{renderer.api}/issue/{issue.key}/changelog"
    response: dict[str, Any] = {
        "self": f"{base}?startAt={start_at}&maxResults={max_results}",
        "maxResults": max_results,
        "startAt": start_at,
        "total": total,
        "isLast": start_at + max_results >= total,
        "values": values,
    }
    if start_at + max_results < total:
        response["nextPage"] = f"{base}?startAt={start_at + max_results}&maxResults={max_results}"
    return 200, response


def route_bulk_changelog(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """POST changelog/bulkfetch (Cloud): histories of up to 1000 issues, by issue id then time, token paging."""
    if not srv.cloud:
        raise HttpError(404, "null for uri: " + req.path)
    body = req.body
    if not isinstance(body, dict):
        raise HttpError(400, "The request body must be a JSON object.")
    keys = body.get("issueIdsOrKeys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise HttpError(
            400, errors={"issueIdsOrKeys": "issueIdsOrKeys must contain between 1 and 1000 items."}
        )
    if len(keys) > 1000:
        raise HttpError(
            400, errors={"issueIdsOrKeys": "issueIdsOrKeys must contain between 1 and 1000 items."}
        )
    field_ids = body.get("fieldIds")
    if field_ids is not None and (not isinstance(field_ids, list) or len(field_ids) > 10):
        raise HttpError(400, errors={"fieldIds": "fieldIds must contain at most 10 items."})
    max_results = body.get("maxResults", 1000)
    if not isinstance(max_results, int) or not 1 <= max_results <= BULK_CHANGELOG_MAX:
        raise HttpError(400, errors={"maxResults": f"maxResults must be between 1 and {BULK_CHANGELOG_MAX}."})
    request_id = fingerprint(sorted(keys), sorted(field_ids or []))
    offset = 0
    if body.get("nextPageToken"):
        try:
            payload = srv.tokens.decode(str(body["nextPageToken"]))
            if payload.get("b") != request_id:
                raise TokenError("token of another request")
            offset = int(payload["o"])
        except (TokenError, KeyError, TypeError, ValueError):
            raise HttpError(400, "The provided next page token is invalid or expired.") from None
    wanted = set(field_ids) if field_ids else None
    renderer = srv.renderer(req)
    with srv.dataset.lock:
        issues = {i.id: i for k in keys if (i := srv.dataset.find(k)) is not None}
        flat: list[tuple[Issue, int]] = []
        for issue_id in sorted(issues):
            issue = issues[issue_id]
            for index, history in enumerate(issue.histories):
                if wanted is None or any(renderer.item(it)["fieldId"] in wanted for it in history.items):
                    flat.append((issue, index))
        groups: list[dict[str, Any]] = []
        for issue, index in flat[offset : offset + max_results]:
            rendered = renderer.history(issue.histories[index], wanted)
            if groups and groups[-1]["issueId"] == str(issue.id):
                groups[-1]["changeHistories"].append(rendered)
            else:
                groups.append({"issueId": str(issue.id), "changeHistories": [rendered]})
    response: dict[str, Any] = {"issueChangeLogs": groups}
    if offset + max_results < len(flat):
        response["nextPageToken"] = srv.tokens.encode({"b": request_id, "o": offset + max_results})
    return 200, response


def route_user_search(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET user/search: ?query= on Cloud (display name or e-mail prefix), ?username= on Data Center."""
    start_at = max(0, req.int_param("startAt", 0))
    max_results = max(0, min(req.int_param("maxResults", 50), 1000))
    users = list(srv.dataset.users.values())
    if srv.cloud:
        query, account_id = req.param("query"), req.param("accountId")
        if query is None and account_id is None:
            if req.param("username") is not None:
                raise HttpError(400, "The query parameter 'username' is not supported in GDPR strict mode.")
            raise HttpError(
                400, "One of 'accountId', 'query' or 'property' query parameters must be provided."
            )
        if account_id is not None:
            found = [u for u in users if u.account_id == account_id]
        else:
            found = [u for u in users if _prefix_match(u, str(query), cloud=True)]
    else:
        username = req.param("username")
        if not username:
            raise HttpError(400, "The username query parameter was not provided")
        found = [u for u in users if _prefix_match(u, username, cloud=False)]
    renderer = srv.renderer(req)
    return 200, [renderer.user(u) for u in found[start_at : start_at + max_results]]


def route_users_list(srv: EmulatorServer, req: Request) -> tuple[int, Any]:
    """GET users/search (Cloud): every user, paged by startAt, at most 1,000 a page, privacy applied."""
    if not srv.cloud:
        raise HttpError(404, "null for uri: " + req.path)
    start_at = max(0, req.int_param("startAt", 0))
    max_results = max(0, min(req.int_param("maxResults", 50), USERS_LIST_MAX))
    renderer = srv.renderer(req)
    users = list(srv.dataset.users.values())[start_at : start_at + max_results]
    return 200, [rendered for u in users if (rendered := renderer.user(u)) is not None]


def _prefix_match(user: User, query: str, cloud: bool) -> bool:
    q = query.strip().lower()
    if not q:
        return False
    words = [user.email.lower(), user.display_name.lower(), *user.display_name.lower().split()]
    if not cloud:
        words.append(user.name.lower())
    return any(w.startswith(q) for w in words)


# Route table: (method, pattern after /rest/api/{2,3}/, template, handler).
ROUTES: list[tuple[str, re.Pattern[str], str, Handler]] = [
    ("GET", re.compile(r"serverInfo"), "serverInfo", route_server_info),
    ("GET", re.compile(r"myself"), "myself", route_myself),
    ("GET", re.compile(r"field"), "field", route_fields),
    ("GET", re.compile(r"status"), "status", route_statuses),
    ("GET", re.compile(r"search"), "search", route_search_dc),
    ("POST", re.compile(r"search"), "search", route_search_dc),
    ("GET", re.compile(r"search/jql"), "search/jql", route_search_jql),
    ("POST", re.compile(r"search/jql"), "search/jql", route_search_jql),
    ("POST", re.compile(r"search/approximate-count"), "search/approximate-count", route_approximate_count),
    ("GET", re.compile(r"issue/(?P<key>[^/]+)"), "issue/{issueIdOrKey}", route_issue),
    (
        "GET",
        re.compile(r"issue/(?P<key>[^/]+)/changelog"),
        "issue/{issueIdOrKey}/changelog",
        route_issue_changelog,
    ),
    ("POST", re.compile(r"changelog/bulkfetch"), "changelog/bulkfetch", route_bulk_changelog),
    ("GET", re.compile(r"user/search"), "user/search", route_user_search),
    ("GET", re.compile(r"users/search"), "users/search", route_users_list),
]
_API = re.compile(r"^/rest/api/(?P<api>2|3|latest)/(?P<rest>.*?)/?$")


# ---------------------------------------------------------------- admin


def _admin(srv: EmulatorServer, method: str, path: str, body: Any) -> tuple[int, Any]:
    ds = srv.dataset
    data = body if isinstance(body, dict) else {}
    at = _parse_time(data.get("at"))
    author = data.get("author")
    parts = [p for p in path.split("/") if p][1:]  # drop "_emulator"
    if parts == ["stats"] and method == "GET":
        return 200, srv.stats.snapshot()
    if parts == ["stats", "reset"] and method == "POST":
        srv.stats.reset()
        return 200, srv.stats.snapshot()
    if parts == ["faults"] and method == "GET":
        return 200, {"rules": [r.public() for r in srv.faults.rules()]}
    if parts == ["faults"] and method in ("POST", "DELETE"):
        if method == "DELETE":
            srv.faults.clear()
        else:
            srv.faults.configure(body)
        return 200, {"rules": [r.public() for r in srv.faults.rules()]}
    if parts == ["clock"] and method == "POST":
        ds.set_now(_parse_time(data.get("now")))
        return 200, {"now": ds.now().isoformat()}
    if parts == ["dataset"] and method == "GET":
        return 200, {"summary": ds.describe(), "issues": len(ds), "mode": srv.mode}
    if parts == ["issues"] and method == "POST":
        key = ds.create_issue(
            str(data["project"]),
            str(data.get("summary", "New issue")),
            issuetype=str(data.get("issuetype", "Task")),
            status=str(data.get("status", "To Do")),
            assignee=data.get("assignee"),
            reporter=data.get("reporter"),
            duedate=data.get("duedate"),
            sprint_ids=[int(s) for s in data.get("sprints", [])],
            at=at,
        )
        issue = ds.issue(key)
        return 201, {"id": str(issue.id), "key": key}
    if len(parts) == 2 and parts[0] == "issues" and method == "DELETE":
        ds.delete_issue(parts[1])
        return 204, None
    if len(parts) == 3 and parts[0] == "issues" and method == "POST":
        key, action = parts[1], parts[2]
        result: dict[str, Any] = {"key": key}
        if action == "transition":
            ds.transition(key, str(data["status"]), at=at, author=author)
        elif action == "duedate":
            ds.set_due_date(key, data.get("duedate"), at=at, author=author)
        elif action == "assignee":
            ds.reassign(key, data.get("assignee"), at=at, author=author)
        elif action == "sprint" and "add" in data:
            ds.add_to_sprint(key, int(data["add"]), at=at, author=author)
        elif action == "sprint" and "remove" in data:
            ds.remove_from_sprint(key, int(data["remove"]), at=at, author=author)
        elif action == "move":
            result["key"] = ds.move_issue(key, str(data["project"]), at=at, author=author)
        elif action == "delete":
            ds.delete_issue(key)
            return 200, result
        else:
            raise HttpError(404, f"Unknown admin action '{action}'.")
        return 200, result
    raise HttpError(404, "Unknown emulator admin route.")


def _parse_time(raw: Any) -> datetime | None:
    if raw is None:
        return None
    parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo("UTC"))


# ---------------------------------------------------------------- HTTP plumbing


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK, about 40 ms per reply.
    disable_nagle_algorithm = True
    server_version = "JiraEmulator/1.0"
    sys_version = ""
    altered: set[str]  # the faults that change this request's answer (faults.ALTERING)

    @property
    def emulator(self) -> EmulatorServer:
        return self.server.emulator  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        # Paths only (no query string: JQL and user searches may hold e-mail addresses).
        if self.emulator.verbose:
            log.info("%s %s", self.command, urlsplit(self.path).path)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def _read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return None
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except ValueError:
            raise HttpError(400, "Unexpected character in the request body: it must be JSON.") from None

    def _handle(self) -> None:
        srv = self.emulator
        split = urlsplit(self.path)
        path = split.path
        if path.startswith("/_emulator"):
            self._handle_admin(srv, path)
            return
        endpoint = "unknown"
        status: int | str = 500
        recorded = False
        try:
            try:
                route, match, api = self._route(path)
                endpoint = (
                    f"{self.command} /rest/api/{api}/{route[2]}" if route else f"{self.command} unknown"
                )
                self.altered = set()
                fault = self._faults(srv, path)
                if fault is not None:
                    status = "dropped" if fault.kind == "drop" else fault.status
                    srv.stats.record(endpoint, status)  # before the reply, as below
                    recorded = True
                    self._send_fault(fault)
                    return
                body = self._read_body()
                login = srv.credentials.check(self.headers.get("Authorization")) if srv.credentials else None
                if srv.credentials is not None and login is None:
                    raise HttpError(401, "Client must be authenticated to access this resource.")
                if login is None:
                    login = _login_of(self.headers.get("Authorization"))
                if route is None or match is None:
                    raise HttpError(404, f"null for uri: {srv.url}{path}")
                query = parse_qs(split.query, keep_blank_values=True)
                if "stuck_paging" in self.altered:
                    query.pop("startAt", None)
                request = Request(
                    self.command, path, api, query, body, srv.viewer(login), match,
                )  # fmt: skip
                status, payload = route[3](srv, request)
                if self.altered and isinstance(payload, dict):
                    payload.pop("total", None)
            except HttpError as exc:
                status, payload = exc.status, exc.body()
            except DatasetError as exc:
                status, payload = 404, {"errorMessages": [str(exc)], "errors": {}}
            except Exception:
                log.exception("emulator error on %s %s", self.command, path)
                status, payload = 500, {"errorMessages": ["Internal server error"], "errors": {}}
            # Counted before the reply leaves, so a client that reads the stats right after its
            # last reply sees that request counted.
            srv.stats.record(endpoint, status)
            recorded = True
            self._send_json(int(status), payload)
        except (BrokenPipeError, ConnectionResetError):
            status = "disconnected"
        finally:
            if not recorded:
                srv.stats.record(endpoint, status)

    def _route(
        self, path: str
    ) -> tuple[tuple[str, re.Pattern[str], str, Handler] | None, re.Match[str] | None, str]:
        found = _API.match(path)
        if not found:
            return None, None, "-"
        api = "2" if found["api"] == "latest" else found["api"]
        rest = found["rest"]
        for route in ROUTES:
            if route[0] != self.command:
                continue
            match = route[1].fullmatch(rest)
            if match:
                return route, match, api
        return None, None, api

    def _faults(self, srv: EmulatorServer, path: str) -> Fault | None:
        failure: Fault | None = None
        for fault in srv.faults.decide(path):
            if fault.kind == "latency":
                time.sleep(fault.latency_ms / 1000)
            elif fault.kind in ALTERING:
                self.altered.add(fault.kind)
            else:
                failure = fault
        return failure

    def _send_fault(self, fault: Fault) -> int | str:
        if fault.kind == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return "dropped"
        if fault.kind == "not_json":
            self._send(fault.status, HTML_ERROR, "text/html;charset=UTF-8")
            return fault.status
        if fault.kind == "rate_limit":
            body = {"errorMessages": ["Rate limit exceeded."], "errors": {}}
        else:
            body = {"errorMessages": ["Service Unavailable"], "errors": {}}
        self._send_json(fault.status, body, fault.headers)
        return fault.status

    def _handle_admin(self, srv: EmulatorServer, path: str) -> None:
        try:
            status, payload = _admin(srv, self.command, path, self._read_body())
        except HttpError as exc:
            status, payload = exc.status, exc.body()
        except DatasetError as exc:
            status, payload = 404, {"errorMessages": [str(exc)], "errors": {}}
        except (KeyError, ValueError, TypeError) as exc:
            status, payload = 400, {"errorMessages": [f"Bad admin request: {exc}"], "errors": {}}
        self._send_json(status, payload)

    def _send_json(self, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        body = b"" if status == 204 else json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, "application/json;charset=UTF-8", headers)

    def _send(
        self, status: int, body: bytes, content_type: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
