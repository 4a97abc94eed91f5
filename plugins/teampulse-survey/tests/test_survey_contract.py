"""Both survey kinds pass the contract suites (teampulse.testing): survey-csv and survey-webhook."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from teampulse_survey import sign

from teampulse.testing import SourceContract, WebhookContract

QUESTIONS = {"q_support": "support", "q_wellbeing": "wellbeing", "q_workload": "workload"}
HEADER = "submitted_at,team,q_support,q_wellbeing,q_workload,comment\n"
# Two weekly exports (one batch each), with the free-text comments people write.
EXPORTS = {
    "week-10.csv": HEADER + "2026-03-02T09:00:00Z,payments,4,4,2,Maria helped a lot\n"
    "2026-03-02T09:05:00Z,Search,3,3,4,\n"
    '2026-03-03T10:00:00Z,payments,5,4,1,"fine, ask Bob\nabout the pager"\n',
    "week-11.csv": HEADER + "2026-03-09T09:00:00Z,payments,2,3,5,Deadline crunch again\n"
    "2026-03-09T09:00:00Z,payments,2,3,5,Deadline crunch again\n"
    "2026-03-10T16:30:00Z,search,4,,3,\n",
}
COMMENTS = ("Maria helped a lot", "ask Bob", "about the pager", "Deadline crunch again")
SECRET = "whsec-contract-0123456789"


class TestSurveyCsvContract(SourceContract):
    kind = "survey-csv"
    bad_values = (("scale", [5, 1]), ("encoding", "no-such-codec"), ("delimiter", ";;"), ("invert", ["mood"]))
    private_texts = COMMENTS

    @pytest.fixture
    def options(self, tmp_path: Path) -> dict[str, Any]:
        (tmp_path / "exports").mkdir()
        for name, text in EXPORTS.items():
            (tmp_path / "exports" / name).write_text(text)
        return {"paths": ["exports/*.csv"], "questions": QUESTIONS, "invert": ["workload"]}

    @pytest.fixture
    def break_input(self, options: dict[str, Any], tmp_path: Path) -> str:
        (tmp_path / "exports" / "week-12.csv").write_text(
            HEADER + "2026-03-16T09:00:00Z,payments,4,4,2,\n2026-03-16T09:05:00Z,payments,9,4,2,\n"
        )
        return "exports/week-12.csv: line 3: column q_support: is outside the scale 1..5"


def _signed(payload: Any) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {"x-teampulse-signature": sign(SECRET.encode(), body)}


RESPONSE = {
    "id": "resp-001",
    "submitted_at": "2026-03-16T11:58:00Z",
    "team": "payments",
    "answers": {"q_support": 4, "q_wellbeing": 2, "q_workload": 5, "comment": "Maria helped a lot"},
}


class TestSurveyWebhookContract(WebhookContract):
    kind = "survey-webhook"
    bad_values = (("require_timestamp", "yes"), ("scale", [1]), ("questions", {"Support?": "Support"}))
    private_texts = COMMENTS

    @pytest.fixture
    def options(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
        monkeypatch.setenv("SURVEY_CONTRACT_SECRET", SECRET)
        return {"secret_env": "SURVEY_CONTRACT_SECRET", "questions": QUESTIONS, "invert": ["workload"]}

    @pytest.fixture
    def delivery(self) -> tuple[bytes, Mapping[str, str]]:
        return _signed(
            [RESPONSE, {**RESPONSE, "id": "resp-002", "team": "Search", "answers": {"q_support": 3}}]
        )

    @pytest.fixture(
        params=["bad signature", "not JSON", "unknown team", "out of scale", "in the future"],
    )
    def bad_delivery(self, request: pytest.FixtureRequest) -> tuple[bytes, Mapping[str, str]]:
        if request.param == "bad signature":
            body, _ = _signed(RESPONSE)
            return body, {"x-teampulse-signature": "sha256=" + "0" * 64}
        return _signed(
            {
                "not JSON": b"{'id': 1",
                "unknown team": {**RESPONSE, "team": "Maria's team"},
                "out of scale": {**RESPONSE, "answers": {"q_support": 6}},
                "in the future": {**RESPONSE, "submitted_at": "2026-03-17T12:00:00Z"},
            }[request.param]
        )
