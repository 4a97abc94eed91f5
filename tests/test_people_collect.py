"""The people side end to end: `teampulse collect` on one config with four sources.

One config, run as a user runs it (a subprocess), with

- `jira`: the Jira emulator, a small hand-built dataset (projects PAY and SRC);
- `calendars` (ics): tests/data/people/calendars/, an Exchange export (maria: Windows zone
  names, no VTIMEZONE), a Google export (bob: UTC times + X-WR-TIMEZONE Asia/Kolkata) and a
  Thunderbird export (chen: VTIMEZONE Europe/London) holding one broken event;
- `team-caldav`: a real Radicale started here, with tests/data/people/caldav/ uploaded (dana,
  eli, sam, tom; one resource per UID, as a CalDAV server keeps them);
- `pulse` (survey-csv): tests/data/people/surveys/pulse.csv, with one malformed row.

Two teams, `min_group_size = 5`:

- payments: manager maria; members bob (Kolkata), chen (London), dana (Berlin, CalDAV),
  eli (Berlin, CalDAV, on parental leave), fay (no calendar: the team's zone, Berlin);
- search: manager sam (CalDAV); members tom (CalDAV, on leave) and uma (no calendar). Two
  members: below the threshold, so its person-derived numbers must not be exported.

Time. The fixtures are rendered relative to a fixed AS_OF, and `teampulse collect --as-of
AS_OF` collects as of it: the calendar sources expand their window around `ctx.now` (35 days
back, 14 ahead), the Jira source syncs relative to it too, and the engine finds a person's zone
only from a `timezone` signal stamped at collection time (`ctx.now`) no later than `as_of` + 1
day. Nothing reads the real clock, so the test gives the same result on any day. The hand
computation below holds for any AS_OF (change it to try another day): every meeting sits on a
weekday picked relative to AS_OF's date D (UTC), at a local time that is inside or outside each
attendee's working hours (09:00-17:00) under both summer and winter time (Berlin and London
change on the same instant; Kolkata has no daylight saving time):

- w1, w2, w3: the 1st, 2nd, 3rd weekday counting back from D-2, all within D-6..D-2, so in
  the trailing 7 days (after-hours, conflicts) and the 14-day 1:1 window;
- o1, o2: the 1st and 2nd weekday counting back from D-8 (D-11..D-8): in the 14-day window,
  not in the trailing 7 days;
- p1: the first weekday counting back from D-20 (D-22..D-20): outside the 14-day window, inside
  the calendars' 35 days;
- s0 = w1 - 21 days: the start of both weekly 1:1 series (same weekday as w1, so their
  occurrences are s0, s0+7, w1-7, w1, n1, ...), n1 = w1 + 7: next week, in the 14-day look-ahead.

What the calendars hold (B = Berlin time, Z = UTC, IST = Kolkata, L = London):

maria (Exchange, W. Europe Standard Time = Europe/Berlin):
  M1 "Chen / Maria 1:1", weekly from s0 14:00-14:30 B; EXDATE w1-7 and w1 (both cancelled).
  M2 "Maria / Dana 1:1", o2 11:00-11:30 B; the same UID is in dana's CalDAV calendar.
  M3 "Fay / Maria 1:1", p1 11:00-11:30 B.
  M4 "Team check-in", w1 09:30-10:00 B, with bob, chen, dana, fay and a room.
  M5 "Incident review", w3 17:00-18:00 B, with bob, chen, dana; also in bob's Google export.
  M6 "Release go/no-go", w2 11:00-12:00 B, with bob, chen, dana: booked over chen's day off.
  M7 "Budget review", w2 17:30-18:30 B, bob DECLINED, fay and a controller from finance accepted
     (three people: not a 1:1; without the controller it would be, by the engine's rule).
  M8 "Q3 planning", n1 10:30-11:30 B, with bob, chen, dana: booked over bob's vacation.
  M9 maria's own out-of-office day today (a manager, not a member: not "on leave").
bob (Google, UTC + X-WR-TIMEZONE Asia/Kolkata):
  B1 "Maria <> Bob 1-1", weekly from s0 08:30-09:00 Z (14:00 IST); the w1 occurrence moved by a
     RECURRENCE-ID to w1 12:00-12:30 Z (17:30-18:00 IST).
  B2 M5 again, in UTC.
  B3 a cancelled "Architecture review", w2 16:00-17:00 Z (21:30 IST): not a meeting.
  B4 "Vacation", all day n1 (recurring B1's n1 occurrence falls on it; M8 too).
chen (Thunderbird, Europe/London):
  C1 "Day off", all day w2.  C2 "Focus time" alone, transparent: not a meeting.
  C3 a broken DTSTART: reported with the file (by position, #2) and line; skipped.
dana (CalDAV, Europe/Berlin): M2 again; D1 "Vendor call", w2 16:00-18:00 B with an outsider.
eli (CalDAV): "Parental leave", all day D-20 .. D+40.
sam (CalDAV, Europe/Berlin): "Sam / Uma 1:1" o1 10:00-10:30 B; "Late release" w1 18:00-19:00 B
  with uma and an outsider.
tom (CalDAV): "Urlaub", all day D-16 .. D+3.

Jira (PAY for payments, SRC for search):
  PAY-1 bob, done 10 days ago; PAY-2 dana, due date moved later 5 days ago
  (deadline_renegotiated); PAY-3 assigned to chen on w2 14:00 Z, during her day off (a time-off
  conflict); PAY-4 in progress with eli, reassigned to dana 5 days ago while eli is on leave
  (workload_rebalanced); SRC-1 tom, in progress.
Recorded: one `recognition` for payments 3 days ago (`teampulse action add`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time as clock
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

import caldav
import icalendar
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import free_port
from teampulse_jira_emulator import Dataset, EmulatorServer

DATA = Path(__file__).parent / "data" / "people"
AS_OF = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday; see "Time" above
DAY = timedelta(days=1)
BERLIN = ZoneInfo("Europe/Berlin")
KEY = "people-collect-key-0123456789"
TOKEN_ENV = "PEOPLE_TEST_JIRA_TOKEN"
ADDRESS = re.compile(r"[\w.+-]+(@|%40)[\w-]+(\.[\w-]+)+")
PEOPLE = {
    "maria@example.com": "Maria Example",
    "bob@example.com": "Bob Example",
    "chen@example.com": "Chen Example",
    "dana@example.com": "Dana Example",
    "eli@example.com": "Eli Example",
    "fay@example.com": "Fay Example",
    "sam@example.com": "Sam Example",
    "tom@example.com": "Tom Example",
    "uma@example.com": "Uma Example",
}
CONFIG = """\
[settings]
state = "state.db"
timezone = "Europe/Berlin"
working_hours = "09:00-17:00"
min_group_size = 5

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com", "fay@example.com"]
jql = "project = PAY"

[[teams]]
name = "search"
manager = "sam@example.com"
members = ["tom@example.com", "uma@example.com"]
jql = "project = SRC"

[sources.jira]
plugin = "jira"
url = "$jira_url"
email = "bot@example.com"
token_env = "$token_env"

[sources.calendars]
plugin = "ics"
paths = ["calendars/*.ics"]

[sources.team-caldav]
plugin = "caldav"
url = "$caldav_url"
username = "teampulse"
timezone = "Europe/Berlin"

[sources.pulse]
plugin = "survey-csv"
paths = ["surveys/*.csv"]
scale = [1, 5]
invert = ["workload"]
[sources.pulse.questions]
q_support = "support"
q_wellbeing = "wellbeing"
q_workload = "workload"
"""


def _weekday_back(day: date, n: int) -> date:
    """Return the n-th weekday (Monday to Friday) counting back from `day` itself."""
    while True:
        if day.weekday() < 5:
            n -= 1
            if n == 0:
                return day
        day -= DAY


def _ics_date(day: date) -> str:
    return day.strftime("%Y%m%d")


def _utc(day: date, hour: int, minute: int = 0, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


class Times:
    """Every date of the fixtures, relative to `as_of` (see the module's docstring)."""

    def __init__(self, as_of: datetime) -> None:
        self.as_of = as_of
        d = self.d = as_of.date()
        self.w1, self.w2, self.w3 = (_weekday_back(d - 2 * DAY, n) for n in (1, 2, 3))
        self.o1, self.o2 = (_weekday_back(d - 8 * DAY, n) for n in (1, 2))
        self.p1 = _weekday_back(d - 20 * DAY, 1)
        self.s0 = self.w1 - 21 * DAY
        self.n1 = self.w1 + 7 * DAY

    def template_values(self) -> dict[str, str]:
        d = self.d
        days = {
            "d0": d,
            "d1": d + DAY,
            "w1": self.w1,
            "w1m7": self.w1 - 7 * DAY,
            "w2": self.w2,
            "w2p1": self.w2 + DAY,
            "w3": self.w3,
            "o1": self.o1,
            "o2": self.o2,
            "p1": self.p1,
            "s0": self.s0,
            "n1": self.n1,
            "n1p1": self.n1 + DAY,
            "until": d + 60 * DAY,
            "eli_from": d - 20 * DAY,
            "eli_to": d + 40 * DAY,
            "tom_from": d - 16 * DAY,
            "tom_to": d + 3 * DAY,
        }
        values = {name: _ics_date(day) for name, day in days.items()}
        values["byday"] = ("MO", "TU", "WE", "TH", "FR")[self.w1.weekday()]
        # M5 as Google writes it: 17:00-18:00 Berlin, in UTC
        values["incident_start"] = _utc(self.w3, 17).strftime("%Y%m%dT%H%M%SZ")
        values["incident_end"] = _utc(self.w3, 18).strftime("%Y%m%dT%H%M%SZ")
        # survey responses n days before as_of
        for n in (1, 2, 3, 4, 5, 6, 9, 10, 35):
            values[f"t{n}"] = (self.as_of - n * DAY).strftime("%Y-%m-%dT%H:%M:%SZ")
        return values


def _render(source: Path, target: Path, values: dict[str, str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(Template(source.read_text()).substitute(values), newline="")


def _dataset(t: Times) -> Dataset:
    """Build the Jira side: a few items of PAY (payments) and SRC (search)."""
    a = t.as_of
    ds = Dataset(now=a)
    for email, name in PEOPLE.items():
        ds.add_user(email, name, "Europe/Berlin")
    ds.add_project("PAY", "Payments", lead="maria@example.com")
    ds.add_project("SRC", "Search", lead="sam@example.com")
    done = ds.create_issue("PAY", "Settlement export", assignee="bob@example.com", at=a - 20 * DAY)
    ds.transition(done, "In Progress", at=a - 19 * DAY)
    ds.transition(done, "Done", at=a - 10 * DAY)
    moved = ds.create_issue(
        "PAY", "Refund API", assignee="dana@example.com", duedate=t.d + 3 * DAY, at=a - 15 * DAY
    )
    ds.set_due_date(moved, t.d + 10 * DAY, at=a - 5 * DAY)  # deadline_renegotiated
    during_day_off = ds.create_issue("PAY", "Chargeback report", at=a - 12 * DAY)
    ds.reassign(during_day_off, "chen@example.com", at=_utc(t.w2, 14, zone=ZoneInfo("UTC")))
    parked = ds.create_issue("PAY", "Fraud rules", assignee="eli@example.com", at=a - 25 * DAY)
    ds.transition(parked, "In Progress", at=a - 24 * DAY)
    ds.reassign(parked, "dana@example.com", at=a - 5 * DAY)  # away from eli, on leave
    src = ds.create_issue("SRC", "Index rebuild", assignee="tom@example.com", at=a - 10 * DAY)
    ds.transition(src, "In Progress", at=a - 9 * DAY)
    return ds


def _resources(text: str) -> list[str]:
    """Split a calendar into one VCALENDAR per UID, as a CalDAV server keeps them."""
    cal = icalendar.Calendar.from_ical(text)
    by_uid: dict[str, list[icalendar.Component]] = {}
    for event in cal.walk("VEVENT"):
        by_uid.setdefault(str(event["UID"]), []).append(event)
    out = []
    for events in by_uid.values():
        one = icalendar.Calendar()
        for key in ("VERSION", "PRODID"):
            one[key] = cal[key]
        for tz in cal.walk("VTIMEZONE"):
            one.add_component(tz)
        for event in events:
            one.add_component(event)
        out.append(one.to_ical().decode())
    return out


@pytest.fixture
def radicale(tmp_path: Path) -> Iterator[str]:
    """Start a real Radicale on a free loopback port; yield its URL."""
    root = tmp_path / "radicale"
    root.mkdir()
    port = free_port()
    conf = root / "config"
    conf.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n"
        f"[storage]\nfilesystem_folder = {root / 'collections'}\n[logging]\nlevel = warning\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = clock.monotonic() + 15
        while True:
            assert proc.poll() is None, f"radicale exited with {proc.returncode}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert clock.monotonic() < deadline, "radicale did not start"
                clock.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _upload(url: str, folder: Path) -> None:
    """Give each person a calendar named by their address, as the caldav kind discovers them."""
    client_class: Any = caldav.DAVClient  # caldav's annotations do not type-check its constructor
    client = client_class(url=url, username="teampulse", password="x")
    principal = client.principal()
    for path in sorted(folder.glob("*.ics")):
        person = path.name[: -len(".ics")]
        cal = principal.make_calendar(name=person, cal_id=person.split("@")[0])
        for text in _resources(path.read_text()):
            cal.save_event(text)


def _teampulse(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TEAMPULSE_PSEUDONYM_KEY=KEY, **{TOKEN_ENV: "t0ken"})
    return subprocess.run(
        [sys.executable, "-m", "teampulse.cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _line_of(path: Path, needle: str) -> int:
    """Return the 1-based line of `needle` in a fixture (rendering keeps the lines)."""
    (line,) = [n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return line


def test_collect_prints_every_people_metric_right(tmp_path: Path, radicale: str) -> None:
    as_of = AS_OF
    t = Times(as_of)
    values = t.template_values()
    work = tmp_path / "work"
    for sub in ("calendars", "surveys"):
        for path in sorted((DATA / sub).iterdir()):
            _render(path, work / sub / path.name, values)
    for path in sorted((DATA / "caldav").glob("*.ics")):
        _render(path, tmp_path / "caldav" / path.name, values)
    _upload(radicale, tmp_path / "caldav")

    with EmulatorServer(_dataset(t), mode="cloud") as jira:
        config = work / "teampulse.toml"
        config.write_text(
            Template(CONFIG).substitute(jira_url=jira.url, token_env=TOKEN_ENV, caldav_url=radicale)
        )
        recorded = _teampulse(
            "action", "add", "--config", str(config), "--team", "payments", "--kind", "recognition",
            "--at", (as_of - 3 * DAY).isoformat(),
        )  # fmt: skip
        assert recorded.returncode == 0, recorded.stderr
        result = _teampulse("collect", "--config", str(config), "--as-of", as_of.isoformat())

    # Bad input in two sources: reported with file and line, exit 1, the rest still exported.
    assert result.returncode == 1, result.stderr
    bad_line = _line_of(DATA / "calendars" / "chen@example.com.ics", "2026XX17")
    # chen's file is the second of `ls calendars/*.ics` (bob, chen, maria): named by position
    assert (
        f"teampulse: error: source calendars: calendar #2 (calendars/*.ics): line {bad_line}: "
        "DTSTART is invalid"
    ) in result.stderr
    # the header is line 1 and bob's comment spans lines 3-4, so the 7 on the scale 1..5 is line 6
    assert (
        "teampulse: error: source pulse: surveys/pulse.csv: line 6: column q_support: "
        "is outside the scale 1..5"
    ) in result.stderr
    # each problem once: the log no longer repeats what the report prints
    assert result.stderr.count("DTSTART is invalid") == 1
    assert result.stderr.count("column q_support") == 1
    for text in (result.stdout, result.stderr, recorded.stdout, recorded.stderr):
        assert not ADDRESS.search(text), ADDRESS.search(text)
        assert "Crunch week" not in text
    got = _samples(result.stdout)

    def value(name: str, **labels: str) -> float | None:
        return got.get((name, frozenset(labels.items())))

    def actions_of(team: str) -> dict[str, float]:
        return {
            dict(labels)["kind"]: v
            for (name, labels), v in got.items()
            if name == "teampulse_leadership_actions_total" and ("team", team) in labels
        }

    for source, problems in (("jira", 0), ("calendars", 1), ("team-caldav", 0), ("pulse", 1)):
        assert value("teampulse_source_up", source=source) == 1.0, source
        assert value("teampulse_source_problems", source=source) == problems, source
    # Jira's items arrived: PAY-1 done; PAY-4 in progress (now with dana).
    assert value("teampulse_work_items_completed_total", team="payments") == 1
    assert value("teampulse_work_items_in_progress", team="payments") == 1

    # ---- payments: five members, at the threshold: everything is exported ----

    # Members on leave now: eli (parental leave D-20 .. D+40). chen's day off (w2) is over,
    # bob's vacation (n1) has not begun, maria's out-of-office today is the manager's.
    assert value("teampulse_members_on_leave", team="payments") == 1

    # 1:1 coverage, 14 days, of the members not on leave (bob, chen, dana, fay):
    # - bob: B1's w1-7 occurrence, and w1's moved to 12:00 Z: covered;
    # - chen: M1's occurrences in the window, w1-7 and w1, are both EXDATEs: not covered;
    # - dana: M2 on o2: covered (one meeting, though her CalDAV calendar shows it too);
    # - fay: M3 on p1, more than 14 days ago: not covered.
    # 2 of 4.
    assert value("teampulse_one_on_one_coverage_ratio", team="payments") == pytest.approx(0.5)

    # Time-off conflicts (one-off meetings in the last 7 days or booked in the next 14, and
    # work assigned during the time off):
    # 1. M6 go/no-go, w2 10:00-11:00 L, during chen's day off (w2, all day in London);
    # 2. PAY-3 assigned to chen on w2 14:00 Z, during the same day off;
    # 3. M8 Q3 planning on n1, booked over bob's vacation (n1, all day in Kolkata).
    # Not conflicts: B1's n1 occurrence (a series set up weeks before), M1's n1 occurrence
    # (chen is not away then).
    assert value("teampulse_time_off_conflicts", team="payments") == 3

    # After-hours meeting time, trailing 7 days, in each member's own zone (09:00-17:00):
    # - M5 incident review, w3 17:00-18:00 B, counted once though in maria's and bob's files:
    #   bob 21:30/20:30 IST 1 h, dana 1 h, chen 16:00-17:00 L 0 h          -> 2 h
    # - B1's moved occurrence, w1 12:00-12:30 Z = 17:30-18:00 IST: bob      -> 0.5 h
    # - M4 check-in, w1 09:30-10:00 B = 08:30-09:00 L: chen (the others in hours) -> 0.5 h
    # - M7 budget review, w2 17:30-18:30 B: fay 1 h; bob declined          -> 1 h
    # - D1 vendor call, w2 16:00-18:00 B: dana, 17:00-18:00                 -> 1 h
    # - in hours for everyone: M6 (bob 14:30/15:30 IST, chen 10:00 L); not a meeting: B3
    #   (cancelled), C2 (alone and free), C3 (broken).
    # 5 h over 5 members: 1 h, exported in seconds.
    assert value("teampulse_meeting_outside_working_time_seconds", team="payments") == pytest.approx(3600.0)

    # Survey (28 days; support and wellbeing straight, workload inverted; (a - 1) / 4):
    # five responses (the one 35 days old is out of the window, the 7 is refused):
    #   support   4 5 3 4 4 -> .75 1 .5 .75 .75  -> 0.75
    #   wellbeing 3 4 2 5 3 -> .5 .75 .25 1 .5   -> 0.6
    #   workload  4 5 3 4 2 -> .25 0 .5 .25 .75  -> 0.35
    assert value("teampulse_survey_responses", team="payments") == 5
    scores = {"support": 0.75, "wellbeing": 0.6, "workload": 0.35}
    for dimension, score in scores.items():
        assert value("teampulse_survey_score_ratio", team="payments", dimension=dimension) == pytest.approx(
            score
        ), dimension

    # People support, the weighted mean of its parts (docs/signals.md):
    #   one_on_one_coverage  0.35 x 0.5
    #   time_off_respected   0.20 x 1 / (1 + 3)      = 0.25
    #   after_hours_meetings 0.15 x (1 - 1.0 / 4)    = 0.75
    #   survey               0.15 x (0.75 + 0.6) / 2 = 0.675
    #   recent_actions       0.15 x min(5 / 2, 1)    = 1  (the recognition; B1 w1-7 and w1,
    #                                                      M2, M4 in the last 14 days)
    # = 0.175 + 0.05 + 0.1125 + 0.10125 + 0.15 = 0.58875
    parts = {
        "one_on_one_coverage": 0.5,
        "time_off_respected": 0.25,
        "after_hours_meetings": 0.75,
        "survey": 0.675,
        "recent_actions": 1.0,
    }
    for component, part in parts.items():
        assert value(
            "teampulse_people_support_component_ratio", team="payments", component=component
        ) == pytest.approx(part), component
    assert value("teampulse_people_support_ratio", team="payments") == pytest.approx(0.58875)

    # ---- search: two members, below min_group_size ----

    # Three responses: the count is shown, the scores are not.
    assert value("teampulse_survey_responses", team="search") == 3
    assert not [
        labels
        for (name, labels) in got
        if name == "teampulse_survey_score_ratio" and ("team", "search") in labels
    ]
    # Person-derived numbers are absent though the data is there (tom on leave, uma's late
    # release after hours, a 1:1 in the window).
    for name in (
        "teampulse_one_on_one_coverage_ratio",
        "teampulse_time_off_conflicts",
        "teampulse_members_on_leave",
        "teampulse_members_available",
        "teampulse_meeting_outside_working_time_seconds",
    ):
        assert value(name, team="search") is None, name
    # Support from its only exportable part, recent actions: sam's 1:1 with uma on o1,
    # min(1 / 2, 1) = 0.5. One 1:1 all time.
    assert value("teampulse_people_support_ratio", team="search") == pytest.approx(0.5)
    assert actions_of("search") == {"one_on_one": 1}

    # ---- payments' leadership actions, all time ----

    # - one_on_one: M1 s0, s0+7 (w1-7, w1 cancelled) 2; B1 s0, s0+7, w1-7, w1 (moved) 4;
    #   M2 1 (once, though both the ics and the caldav source read it); M3 1 -> 8
    # - team_check_in: M4 (maria and four members)                          -> 1
    # - deadline_renegotiated: PAY-2's due date moved later                 -> 1
    # - workload_rebalanced: PAY-4 taken from eli while on leave            -> 1
    # - recognition: recorded with `teampulse action add`                   -> 1
    # No time_off_protected: the only time off that began in the last 14 days (chen's day off)
    # had a meeting booked over it.
    assert actions_of("payments") == {
        "one_on_one": 8,
        "team_check_in": 1,
        "deadline_renegotiated": 1,
        "workload_rebalanced": 1,
        "recognition": 1,
    }
