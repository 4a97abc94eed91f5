"""Config validation, plugin registration, secret URLs and bad input reported as problems."""

from __future__ import annotations

import http.server
import re
import threading
from pathlib import Path

import pytest
import teampulse_calendar

from teampulse import ConfigError, PluginConfig, SourceKind

DATA = Path(__file__).parent / "data"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def config(plugin: str = "ics", **options) -> PluginConfig:
    return PluginConfig("calendars", "sources", {"plugin": plugin, **options}, DATA)


def test_registers_ics_and_caldav() -> None:
    kinds: list[SourceKind] = []
    teampulse_calendar.register_sources(kinds.append)
    assert [k.name for k in kinds] == ["ics", "caldav"]


@pytest.mark.parametrize(
    ("plugin", "options", "key", "reason"),
    [
        ("ics", {}, "sources.calendars.paths", "is required"),
        ("ics", {"paths": "calendars/*.ics"}, "sources.calendars.paths", "list of strings"),
        ("ics", {"paths": ["x"], "path": ["y"]}, "sources.calendars.path", "unknown key"),
        ("ics", {"paths": ["x"], "days_back": -1}, "sources.calendars.days_back", "at least 0"),
        ("ics", {"paths": ["x"], "days_ahead": "2w"}, "sources.calendars.days_ahead", "number"),
        ("ics", {"paths": ["x"], "max_instances": 2.5}, "sources.calendars.max_instances", "whole"),
        ("ics", {"paths": ["x"], "timezone": "Mars/Olympus"}, "sources.calendars.timezone", "IANA"),
        ("ics", {"paths": ["x"], "one_on_one_words": "1:1"}, "sources.calendars.one_on_one_words", "list"),
        ("ics", {"urls": {"bob": "BOB_URL"}}, "sources.calendars.urls", "entry 1: the key must be an e-mail"),
        ("ics", {"urls": {"bob@example.com": "NOT_SET_ANYWHERE"}}, "sources.calendars.urls", "is not set"),
        ("ics", {"urls": {"bob@example.com": "CAL_TEST_FTP"}}, "sources.calendars.urls", "http(s) URL"),
        ("caldav", {}, "sources.calendars.url", "is required"),
        ("caldav", {"url": "cal.example.com"}, "sources.calendars.url", "http(s) URL"),
        ("caldav", {"url": "https://x/", "password_env": "NOT_SET_ANYWHERE"}, "sources.calendars.password_env", "not set"),
        ("caldav", {"url": "https://x/", "calendars": {"b@x.org": 3}}, "sources.calendars.calendars", "entry 1"),
        ("caldav", {"url": "https://x/", "paths": ["x"]}, "sources.calendars.paths", "unknown key"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(monkeypatch, plugin, options, key, reason) -> None:
    monkeypatch.setenv("CAL_TEST_FTP", "ftp://example.com/secret-token/cal.ics")
    create = teampulse_calendar.create_ics if plugin == "ics" else teampulse_calendar.create_caldav
    with pytest.raises(ConfigError) as err:
        create(config(plugin, **options))
    assert err.value.key == key
    assert reason in err.value.reason
    assert "@" not in str(err.value) and "secret-token" not in str(err.value)


def test_defaults_and_overrides(monkeypatch) -> None:
    monkeypatch.setenv("BOB_ICAL_URL", "https://cal.example.com/private-abc123/basic.ics")
    s = teampulse_calendar.create_ics(config(paths=["team/*.ics"], urls={"Bob@Example.com": "BOB_ICAL_URL"}))
    c = s.settings.common
    assert (c.days_back, c.days_ahead, c.max_instances, c.timeout_seconds, c.timezone) == (
        35,
        14,
        3500,
        30,
        "UTC",
    )
    assert s.settings.urls == {"bob@example.com": "https://cal.example.com/private-abc123/basic.ics"}
    assert "private-abc123" not in repr(s.settings)
    words = teampulse_calendar.create_ics(
        config(paths=["x"], one_on_one_words=["tête-à-tête"], check_in_words=[])
    )
    classifier = words.settings.common.classifier
    assert classifier.category("Tête-à-tête Bob") == "one_on_one"
    assert classifier.category("Bob / Maria 1:1") == "meeting"  # the list replaces the defaults
    assert classifier.category("Daily standup") == "meeting"


@pytest.mark.parametrize(
    ("title", "category"),
    [
        ("Bob / Maria 1:1", "one_on_one"),
        ("1:1s with the team", "one_on_one"),
        ("Maria <> Bob 1-1", "one_on_one"),
        ("1on1", "one_on_one"),
        ("One-on-one: Chen", "one_on_one"),
        ("one on one", "one_on_one"),
        ("Weekly check-in", "check_in"),
        ("Daily Standup", "meeting"),  # process ceremonies are not leadership check-ins
        ("Team check-in: how are we doing?", "check_in"),
        ("Sprint retro", "check_in"),
        ("Team sync", "meeting"),
        ("Release 11:15 go/no-go", "meeting"),
        ("Q1-12 planning", "meeting"),
        ("Checking invoices", "meeting"),
        ("", "meeting"),
    ],
)
def test_meeting_categories_from_title_words(title, category) -> None:
    assert teampulse_calendar.classify.Classifier().category(title) == category


@pytest.mark.parametrize(
    ("title", "categories", "away"),
    [
        ("Vacation", [], True),
        ("PTO", [], True),
        ("OOO - dentist", [], True),
        ("Out of office", [], True),
        ("Day off", [], True),
        ("Urlaub", [], True),
        ("Congé", [], True),
        ("Anniversary", ["Holiday"], True),
        ("Kick-off", [], False),
        ("Company offsite", [], False),
        ("Birthday party", [], False),
    ],
)
def test_absence_words(title, categories, away) -> None:
    assert teampulse_calendar.classify.Classifier().is_absence(title, categories) is away


def test_bad_input_is_reported_by_line_and_the_rest_kept(new_ctx, collect) -> None:
    source = teampulse_calendar.create_ics(config(paths=["bad/*.ics", "team/chen@example.com.ics"]))
    batches, ctx = collect(source, new_ctx())
    ids = sorted(e.id for events in batches for e in events if e.kind == "meeting")
    # Dana's good event and the one in an unknown zone (read as UTC) survive; so does Chen's calendar.
    assert "dana-fine|2026-03-19T15:00:00Z" in ids and "dana-mars|2026-03-18T10:00:00Z" in ids
    assert any(i.startswith("c0ffee-pairing-1|") for i in ids)
    assert ctx.problems == [
        "calendar #1 (bad/*.ics): line 7: DTSTART is invalid (Wrong datetime format: 2026XX17T100000Z); event skipped",
        "calendar #1 (bad/*.ics): line 15: RRULE is invalid (Expected frequency, got: SOMETIMES); event skipped",
        "calendar #1 (bad/*.ics): line 23: unknown time zone 'Mars Standard Time' "
        "(no VTIMEZONE, not an IANA or Windows name); read as UTC",
        "calendar #1 (bad/*.ics): line 26: RRULE repeats too often to expand "
        "(about 19,062,001 steps before the window); event skipped",
        "calendar #2 (bad/*.ics): line 1: not an iCalendar file (no BEGIN:VCALENDAR)",
        "calendar #3 (bad/*.ics): the file name is not <e-mail address>.ics; skipped",
    ]
    assert not any(EMAIL.search(p) for p in ctx.problems)


class _Calendars(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/private-abc123/basic.ics":
            body = (DATA / "team" / "bob@example.com.ics").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_calendars():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Calendars)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_secret_url_from_the_environment_gives_the_same_signals_as_the_file(
    monkeypatch, http_calendars, new_ctx, collect
) -> None:
    monkeypatch.setenv("BOB_ICAL_URL", f"{http_calendars}/private-abc123/basic.ics")
    monkeypatch.setenv("CHEN_ICAL_URL", f"{http_calendars}/private-def456/missing.ics")
    monkeypatch.setenv("DANA_ICAL_URL", "http://127.0.0.1:9/private-ghi789/refused.ics")
    by_url = teampulse_calendar.create_ics(
        config(
            urls={
                "bob@example.com": "BOB_ICAL_URL",
                "chen@example.com": "CHEN_ICAL_URL",
                "dana@example.com": "DANA_ICAL_URL",
            },
            timeout_seconds=5,
        )
    )
    by_file = teampulse_calendar.create_ics(config(paths=["team/bob@example.com.ics"]))
    url_batches, ctx = collect(by_url, new_ctx())
    file_batches, _ = collect(by_file, new_ctx())
    assert url_batches == file_batches and len(url_batches) == 1
    assert ctx.problems == [
        "calendar URL #2 (sources.calendars.urls): cannot fetch (HTTP 404); skipped",
        "calendar URL #3 (sources.calendars.urls): cannot fetch (ConnectionRefusedError); skipped",
    ]
