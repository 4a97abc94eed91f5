"""teampulse's monitoring mixin: Prometheus rules, their promtool tests and Grafana dashboards.

The generated files for the default settings ship inside this package (teampulse/mixin/files);
`teampulse mixin --out DIR [--config mixin.toml]` writes them, or a set generated for a config
(config.py lists the keys). Generating dashboards needs grafana-foundation-sdk
(`pip install 'teampulse[mixin]'`); the rules, their tests and the shipped files do not.
"""

from __future__ import annotations

from .config import DEFAULTS, MixinConfig, load_config, settings

__all__ = ["DEFAULTS", "MixinConfig", "load_config", "settings"]
