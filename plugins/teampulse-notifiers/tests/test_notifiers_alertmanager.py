"""The alertmanager notifier against a real Alertmanager that routes to a webhook receiver."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from teampulse_notifiers import AlertmanagerNotifier, DeliveryError
from teampulse_notifiers.alertmanager import parse_alertmanager_settings

from teampulse import PluginConfig

pytestmark = pytest.mark.slow


def _notifier(url: str, clock: Any = time.time, **options: Any) -> AlertmanagerNotifier:
    config = PluginConfig("am", "notifiers", {"plugin": "alertmanager", "url": url, **options})
    return AlertmanagerNotifier(parse_alertmanager_settings(config), clock)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _status(status: str, team: str) -> Any:
    def match(d: Any) -> bool:
        body = d.json()
        return d.path == "/am" and any(
            a["status"] == status and a["labels"].get("team") == team for a in body["alerts"]
        )

    return match


def test_firing_then_resolved_through_alertmanager(
    alertmanager: Any, receiver: Any, pressure: Any, source_down: Any
) -> None:
    notifier = _notifier(alertmanager.url, generator_url="http://teampulse.example:9469/")
    state = [pressure(True), pressure(False, team="platform"), source_down(False)]
    before = time.time()
    notifier.notify(state)

    delivery = receiver.wait_for(_status("firing", "payments"), 10, "payments firing")
    sent = next(a for a in delivery.json()["alerts"] if a["labels"]["team"] == "payments")
    assert sent["labels"] == {
        "alertname": "ProcessPressureWithoutLeadership",
        "team": "payments",
        "severity": "warning",
    }
    assert (
        sent["annotations"]["summary"] == "Process pressure on team payments rose without a leadership action"
    )
    assert sent["annotations"]["description"].startswith("Process pressure on payments is 0.71")
    assert sent["annotations"]["runbook_url"].endswith("docs/runbook.md#processpressurewithoutleadership")
    assert _time(sent["startsAt"]) == datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    assert sent["generatorURL"] == "http://teampulse.example:9469/"

    # What Alertmanager's own API v2 holds: our postableAlert, accepted field by field.
    held = alertmanager.alerts()
    assert len(held) == 1, held  # only firing alerts are sent; platform and jira are fine
    alert = held[0]
    assert alert["labels"] == sent["labels"]
    assert alert["annotations"] == sent["annotations"]
    assert _time(alert["startsAt"]) == datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    ends = _time(alert["endsAt"]).timestamp()
    assert before + 3500 < ends < time.time() + 3700  # one hour until the cycle is known
    assert alert["generatorURL"] == "http://teampulse.example:9469/"
    assert alert["status"]["state"] == "active"
    assert [r["name"] for r in alert["receivers"]] == ["test"]

    notifier.notify([pressure(False), pressure(False, team="platform"), source_down(False)])
    resolved = receiver.wait_for(_status("resolved", "payments"), 10, "payments resolved")
    gone = next(a for a in resolved.json()["alerts"] if a["labels"]["team"] == "payments")
    assert gone["annotations"]["summary"] == "Process pressure on team payments is matched or normal"
    assert _time(gone["startsAt"]) == datetime(2026, 3, 14, 9, 0, tzinfo=UTC)
    assert abs(_time(gone["endsAt"]).timestamp() - time.time()) < 10
    assert alertmanager.alerts("?active=true") == []
    assert notifier.firing == frozenset()


def test_source_alert_with_dashboard_and_extra_labels(
    alertmanager: Any, receiver: Any, pressure: Any, source_down: Any
) -> None:
    notifier = _notifier(
        alertmanager.url,
        dashboard_url="https://grafana.example/d/teampulse?var-team={team}",
        runbook_base="https://docs.example/runbook.md",
        labels={"origin": "teampulse"},
        ends_after_seconds=600,
    )
    notifier.notify([pressure(True, team="data platform"), source_down(True)])
    receiver.wait_for(
        lambda d: any(a["labels"].get("source") == "jira" for a in d.json()["alerts"]), 10, "source alert"
    )
    held = {a["labels"]["alertname"]: a for a in alertmanager.alerts()}
    down = held["TeampulseSourceDown"]
    assert down["labels"] == {
        "alertname": "TeampulseSourceDown",
        "source": "jira",
        "severity": "critical",
        "origin": "teampulse",
    }
    assert down["annotations"]["runbook_url"] == "https://docs.example/runbook.md#teampulsesourcedown"
    assert "dashboard_url" not in down["annotations"]  # it has no team to fill in
    team = held["ProcessPressureWithoutLeadership"]
    assert (
        team["annotations"]["dashboard_url"] == "https://grafana.example/d/teampulse?var-team=data%20platform"
    )
    assert abs(_time(team["endsAt"]).timestamp() - (time.time() + 600)) < 15


def test_resend_keeps_the_alert_alive(alertmanager: Any, pressure: Any, clock: Any) -> None:
    """A firing alert re-sent with a nearer endsAt keeps the later one: it cannot expire early."""
    notifier = _notifier(alertmanager.url, clock, resend_seconds=0)
    notifier.notify([pressure(True)])
    first = _time(alertmanager.alerts()[0]["endsAt"]).timestamp()
    clock.advance(2)
    notifier.notify(
        [pressure(True)]
    )  # the second call knows the cycle: endsAt = now + 3 x 2 s, at least 10 s
    held = alertmanager.alerts()
    assert len(held) == 1 and held[0]["status"]["state"] == "active"
    # Alertmanager keeps the later of two explicit endsAt: the alert cannot expire early.
    assert _time(held[0]["endsAt"]).timestamp() == pytest.approx(first, abs=1)


def test_basic_auth_and_a_clear_refusal(tmp_path: Path, receiver: Any, start_am: Any, pressure: Any) -> None:
    hashed = bcrypt.hashpw(b"am-pass-word", bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  teampulse: '{hashed}'\n")
    am = start_am(f"--web.config.file={web}")
    good = _notifier(am.url, username="teampulse", password_env="AM_TEST_PASSWORD")
    good.notify([pressure(True)])
    receiver.wait_for(_status("firing", "payments"), 10, "an authenticated alert")

    bad = _notifier(am.url, username="teampulse", password_env="AM_TEST_WRONG")
    with pytest.raises(DeliveryError) as err:
        bad.notify([pressure(True, team="mobile")])
    text = str(err.value)
    assert f"{am.url.removeprefix('http://')} refused the delivery with HTTP 401" in text
    assert "not-the-password" not in text and "am-pass-word" not in text
    assert bad.firing == frozenset()  # nothing is remembered that Alertmanager did not take


@pytest.fixture(autouse=True)
def _passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AM_TEST_PASSWORD", "am-pass-word")
    monkeypatch.setenv("AM_TEST_WRONG", "not-the-password")
