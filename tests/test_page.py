"""The team page as rendered from real engine snapshots: order, words, dates, trends, links, privacy."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from support import NOW, Items

from teampulse import ConfigError, config
from teampulse.alerts import evaluate_alerts
from teampulse.engine import evaluate
from teampulse.exporter import ExportState
from teampulse.model import LeadershipAction, WorkItem
from teampulse.page import DashboardUids, render_page
from teampulse.store import Store

D = timedelta(days=1)
# NOW is Mon 16 Mar 2026 12:00 UTC: Tue 17 Mar 01:00 in Auckland.
CONFIG = """
[settings]
state = "{state}"
timezone = "UTC"
{dashboards}

[[teams]]
name = "payments"
manager = "maria@example.com"
members = ["bob@example.com", "chen@example.com", "dana@example.com", "eli@example.com"]
jql = "project = PAY"
timezone = "Pacific/Auckland"

[[teams]]
name = "data"
manager = "omar@example.com"
members = ["pia@example.com", "quinn@example.com", "rosa@example.com", "sam@example.com"]
jql = "project = DAT"

[[teams]]
name = "newbies"
manager = "tara@example.com"
members = ["uma@example.com", "vic@example.com", "wen@example.com", "xia@example.com"]
jql = "project = NEW"

[sources.jira]
plugin = "jira"
url = "https://example.atlassian.net"
token_env = "JIRA_TOKEN"
"""
ISO = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|\d{4}-\d{2}(?!\d)")


def _history(items: Items, team: str, days: int, crunch: bool) -> list[WorkItem]:
    """One item a day over `days` days; with a crunch, twelve items started lately and overdue."""
    out = [
        items.make(team, NOW - (day + 1) * D, NOW - day * D, NOW - (day - 4) * D if day > 4 else None)
        for day in range(days, 0, -1)
    ]
    if crunch:
        out += [
            items.make(team, NOW - 10 * D, NOW - timedelta(days=3, hours=k), due=(NOW - D).date())
            for k in range(12)
        ]
    return out


@pytest.fixture
def render(write_config: Callable[..., Path], items: Items) -> Callable[..., str]:
    """Return a function that renders the page of the three teams, as `serve` would at NOW."""
    runs: list[int] = []

    def page(
        dashboards: str | None = None, crunch_data: bool = False, team: str | None = None, more: str = ""
    ) -> str:
        setting = (f'dashboards_url = "{dashboards}"' if dashboards else "") + "\n" + more
        runs.append(1)  # each page from its own store
        cfg = config.load(write_config(CONFIG.format(dashboards=setting, state=f"state{len(runs)}.db")))
        store = Store(cfg.state)
        store.apply_batch("jira", _history(items, "payments", 110, crunch=True), None, 0)
        store.apply_batch("jira", _history(items, "data", 110, crunch=crunch_data), None, 0)
        store.apply_batch("jira", _history(items, "newbies", 20, crunch=False), None, 0)
        store.add_action(
            LeadershipAction("a1", "newbies", "recognition", NOW - 3 * D, note="Thanks Pia, great demo")
        )
        store.add_action(LeadershipAction("a2", "newbies", "team_check_in", NOW - 20 * D, note="old"))
        snapshots = evaluate(cfg, store, NOW)
        alerts = evaluate_alerts(cfg, snapshots, [], NOW)
        state = ExportState(snapshots=snapshots, alerts=alerts, collected_at=NOW.timestamp())
        return render_page(state, cfg.dashboards_url, cfg.timezone.key, team, DashboardUids.of(cfg))

    return page


def _section(page: str, team: str) -> str:
    start = page.index(f'id="team-{team}"')
    return page[start : page.index("</section>", start)]


def _points(svg: str, css: str) -> list[tuple[float, float]]:
    found = re.findall(rf'<polyline class="{css}" points="([^"]+)"', svg)
    return [tuple(map(float, p.split(","))) for line in found for p in line.split()]  # type: ignore[misc]


def _svg(section: str, kind: str) -> str:
    start = section.index(f'<svg class="chart {kind}"')
    return section[start : section.index("</svg>", start)]


def test_teams_needing_attention_come_first_with_why_and_what_to_do(render: Callable[..., str]) -> None:
    page = render()
    order = re.findall(r'<section class="team (\w+)" id="team-(\w+)"', page)
    assert order == [("attention", "payments"), ("learning", "newbies"), ("calm", "data")]
    payments = _section(page, "payments")
    assert "Needs attention" in payments
    assert "Under pressure since Sat 14 Mar (3 days), with no leadership answer yet." in payments
    assert "Why:</b> Above the team&#x27;s normal: work in progress per available person 4.0" in payments
    assert "overdue items 12 (normal 0, up to 3)" in payments
    assert "What to do:</b> Book 1:1s with the people carrying the load" in payments
    assert "record the action you took" in payments
    # no command lines a manager cannot run, no raw alert text
    assert "teampulse action" not in page and "`" not in page and "alert(s)" not in page
    assert "Pressure is within the team&#x27;s own normal." in _section(page, "data")
    # the overview says it in one line per team, in the same order
    assert re.findall(r'<li class="\w+"><a href="#team-(\w+)"', page) == ["payments", "newbies", "data"]


def test_trends_draw_sixty_days_of_pressure_in_its_band_and_support(render: Callable[..., str]) -> None:
    payments = _section(render(), "payments")
    pressure = _svg(payments, "pressure")
    assert 'data-days="60"' in pressure and 'role="img"' in pressure
    line = _points(pressure, "pressure")
    assert len(line) == 60
    assert len({x for x, _y in line}) == 60 and [x for x, _ in line] == sorted(x for x, _ in line)
    band = re.search(r'<polygon class="band" points="([^"]+)"', pressure)
    assert band and len(band.group(1).split()) == 2 * 60
    assert '<rect class="episode"' in pressure  # the crunch's days are marked
    # the latest pressure is drawn above the band's top (SVG y grows downwards)
    top_now = float(band.group(1).split()[59].split(",")[1])
    assert line[-1][1] < top_now
    # labelled scales: 0, 0.5 and 1, an axis label and a few dates
    for label in (">0<", ">0.5<", ">1<", ">pressure<"):
        assert label in pressure
    ticks = re.findall(r'<text class="tick"[^>]*>(\w{3} \d{1,2} \w{3})</text>', pressure)
    assert len(ticks) == 4 and ticks[-1] == "Tue 17 Mar"
    # the chart says what it shows, for screen readers and as a tooltip
    title = re.search(r"<title[^>]*>([^<]+)</title>", pressure)
    assert (
        title
        and "Process pressure of payments" in title.group(1)
        and "Out of its normal since" in title.group(1)
    )
    support = _svg(payments, "support")
    assert "no people data" in support and "<polyline" not in support


def test_a_learning_team_shows_learning_instead_of_a_band(render: Callable[..., str]) -> None:
    newbies = _section(render(), "newbies")
    assert "Learning its normal" in newbies
    # 20 days of history, less than the 28-day reference window: judged from day 28 on
    assert "Learning this team&#x27;s normal: pressure is judged from Mon 23 Mar." in newbies
    pressure = _svg(newbies, "pressure")
    assert "learning its normal" in pressure and '<rect class="learn"' in pressure
    assert (
        "<polygon" not in pressure
        and 'class="pressure"' not in pressure
        and 'class="baseline"' not in pressure
    )
    assert "not judged yet" in newbies


def test_dates_are_plain_days_in_each_team_zone(render: Callable[..., str]) -> None:
    page = render()
    assert not ISO.search(page), ISO.search(page)
    assert "as of Tue 17 Mar" in _section(page, "payments")  # Auckland is a day ahead
    assert "as of Mon 16 Mar" in _section(page, "data")
    assert "Figures as of Mon 16 Mar, 12:00 UTC" in page
    for day in re.findall(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2}\b", page):
        assert re.fullmatch(r"\w{3} [1-9]\d? \w{3}", day)  # one format: no leading zero, no year


def test_counts_say_of_what_with_proper_plurals(render: Callable[..., str]) -> None:
    one = render()
    assert "3 teams: 1 needs attention, 1 is learning its normal, 1 is calm. 1 alert firing." in one
    two = render(crunch_data=True)
    assert "3 teams: 2 need attention, 1 is learning its normal. 2 alerts firing." in two
    assert not re.search(
        r"\(s\)|\b1 (?:items|alerts|days|teams)\b|\b(?:[02-9]|\d\d+) (?:item|alert|day|team)\b", two
    )
    assert re.search(r"1\d items in progress \(\d+\.\d per available person\)", _section(two, "payments"))


def test_dashboard_link_only_when_configured(render: Callable[..., str]) -> None:
    assert "Grafana" not in render() and "/d/" not in render()
    page = render("https://grafana.example.com")
    link = 'href="https://grafana.example.com/d/teampulse-team/?var-team=payments"'
    assert link in _section(page, "payments")
    assert page.count("Team dashboard in Grafana") == 3


def test_dashboard_links_follow_the_configured_uids(render: Callable[..., str]) -> None:
    # A mixin.toml that gives the dashboards other UIDs: the settings say so, the links follow.
    more = 'dashboards_team_uid = "tp-team"\ndashboards_overview_uid = "tp_org"\ndashboards_health_uid = "tp-health"'
    page = render("https://grafana.example.com", more=more)
    assert 'href="https://grafana.example.com/d/tp-team/?var-team=payments"' in _section(page, "payments")
    assert 'href="https://grafana.example.com/d/tp_org/"' in page
    assert 'href="https://grafana.example.com/d/tp-health/"' in page
    assert "teampulse-team" not in page and "teampulse-overview" not in page


@pytest.mark.parametrize("uid", ["", "a b", "x" * 41, "../admin", "tp/team"])
def test_a_dashboard_uid_grafana_would_not_take_is_refused_naming_the_key(
    write_config: Callable[..., Path], uid: str
) -> None:
    text = CONFIG.format(dashboards=f'dashboards_team_uid = "{uid}"', state="state.db")
    with pytest.raises(ConfigError, match=r"settings\.dashboards_team_uid.*Grafana dashboard UID"):
        config.load(write_config(text))


def test_recent_actions_show_kind_and_day_never_the_note(render: Callable[..., str]) -> None:
    page = render()
    assert "recognition (Fri 13 Mar)." in _section(page, "newbies")
    assert "team check-in" not in _section(page, "newbies")  # 20 days ago: not recent
    assert "None recorded in the last 14 days." in _section(page, "payments")
    assert "Thanks" not in page and "great demo" not in page


def test_nobody_is_named(render: Callable[..., str]) -> None:
    page = render("https://grafana.example.com")
    assert not re.search(r"[\w.+-]+@[\w-]+\.", page)
    for name in ("maria", "bob", "chen", "omar", "pia", "tara", "uma"):
        assert not re.search(rf"\b{name}\b", page, re.IGNORECASE), name


def test_one_team_on_its_own(render: Callable[..., str]) -> None:
    page = render(team="data")
    assert re.findall(r'id="team-(\w+)"', page) == ["data"]
    assert 'href="/">All teams' in page
    assert "No team named nobody." in render(team="nobody")
