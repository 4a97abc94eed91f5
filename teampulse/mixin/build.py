"""Render the mixin's files for a config, or copy the ones shipped with teampulse (its defaults).

The layout, under the folder written to (and teampulse/mixin/files, the shipped copy):

    rules/teampulse.rules.yml          recording and alerting rules
    tests/teampulse.rules.test.yml     their promtool unit tests (`promtool test rules`)
    grafana/teampulse-*.json           the three dashboards
    provisioning/*.yml                 Grafana file provisioning of the dashboards and Prometheus
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import TeampulseError
from .config import DEFAULTS, MixinConfig, load_config
from .provisioning import dashboards_yml, datasources_yml
from .rules import render_rules
from .ruletests import render_rule_tests

RULES = Path("rules/teampulse.rules.yml")
RULE_TESTS = Path("tests/teampulse.rules.test.yml")
DASHBOARDS = {
    "overview": Path("grafana/teampulse-overview.json"),
    "team": Path("grafana/teampulse-team.json"),
    "health": Path("grafana/teampulse-health.json"),
}
PROVISIONING_DASHBOARDS = Path("provisioning/dashboards.yml")
PROVISIONING_DATASOURCES = Path("provisioning/datasources.yml")
FILES = (RULES, RULE_TESTS, *DASHBOARDS.values(), PROVISIONING_DASHBOARDS, PROVISIONING_DATASOURCES)

MISSING_SDK = (
    "generating dashboards for a config needs grafana-foundation-sdk: pip install 'teampulse[mixin]' "
    "(without --config, the shipped defaults need nothing more)"
)


def render(config: MixinConfig = DEFAULTS) -> dict[Path, str]:
    """Return every file of the mixin (by its path in the layout) generated with `config`."""
    try:
        from .grafana import render_dashboard
    except ImportError as exc:
        if (exc.name or "").startswith("grafana_foundation_sdk"):
            raise TeampulseError(MISSING_SDK) from None
        raise
    out = {RULES: render_rules(config), RULE_TESTS: render_rule_tests(config)}
    out.update({path: render_dashboard(config, name) for name, path in DASHBOARDS.items()})
    out[PROVISIONING_DASHBOARDS] = dashboards_yml(config)
    out[PROVISIONING_DATASOURCES] = datasources_yml(config)
    return out


def shipped() -> dict[Path, str]:
    """Return the files shipped with teampulse: what render() gives with the defaults."""
    root = resources.files(__package__) / "files"
    return {path: root.joinpath(*path.parts).read_text(encoding="utf-8") for path in FILES}


def write(out: str | Path, config_path: str | Path | None = None) -> list[Path]:
    """Write the mixin's files under `out` (the shipped ones without a config); return their paths."""
    files = shipped() if config_path is None else render(load_config(config_path))
    folder = Path(out)
    written = []
    for rel, text in files.items():
        path = folder / rel
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise TeampulseError(f"{path}: cannot write: {exc.strerror or exc}") from None
        written.append(path)
    return written
