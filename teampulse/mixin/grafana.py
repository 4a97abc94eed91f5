"""Turn the three dashboards into the JSON Grafana provisions.

The dashboards' schema is Grafana 11.6's (grafana-foundation-sdk 11.6.0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from . import health, overview, team
from .config import MixinConfig
from .panels import ANNOTATION_STEP

BUILDERS: dict[str, Callable[[MixinConfig], dash.Dashboard]] = {
    "overview": overview.dashboard,
    "team": team.dashboard,
    "health": health.dashboard,
}


def _annotation_extras(board: dict[str, Any]) -> None:
    """Add the Prometheus annotation fields the SDK has no builder for."""
    extras = {
        "Leadership actions": {
            "titleFormat": "{{kind}}",
            "textFormat": "leadership action",
            "tagKeys": "kind",
        },
        "teampulse alerts": {"titleFormat": "{{alertname}}", "textFormat": "firing", "tagKeys": "alertname"},
    }
    for ann in board.get("annotations", {}).get("list", []):
        ann.update(extras.get(ann["name"], {}))
        ann["step"] = ANNOTATION_STEP
        ann["useValueForTime"] = False


def _number_panels(board: dict[str, Any]) -> None:
    """Give every panel a stable id (the SDK leaves them unset)."""
    for i, panel in enumerate(board["panels"], start=1):
        panel["id"] = i


def dashboard_json(config: MixinConfig, name: str) -> dict[str, Any]:
    """Return one dashboard ("overview", "team" or "health") as a JSON-ready dict."""
    board: dict[str, Any] = json.loads(json.dumps(BUILDERS[name](config).build(), cls=JSONEncoder))
    _annotation_extras(board)
    _number_panels(board)
    return board


def render_dashboard(config: MixinConfig, name: str) -> str:
    """Return one dashboard as the text of its JSON file."""
    return json.dumps(dashboard_json(config, name), indent=2, sort_keys=True) + "\n"
