"""Write Grafana's file-provisioning configs for the dashboards and the Prometheus they read."""

from __future__ import annotations

import json

from .config import MixinConfig


def dashboards_yml(config: MixinConfig) -> str:
    """Return provisioning/dashboards.yml: a file provider reading the generated JSON."""
    return f"""\
# Grafana file provisioning of the teampulse dashboards (docs/dashboards.md).
# Copy to /etc/grafana/provisioning/dashboards/ and the grafana/*.json beside it to the path below.
apiVersion: 1
providers:
  - name: teampulse
    orgId: 1
    folder: {json.dumps(config.grafana_folder)}
    type: file
    disableDeletion: false
    # the JSON is generated (`teampulse mixin`): change the mixin's config, not the UI
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: {json.dumps(config.grafana_dashboards_path)}
      foldersFromFilesStructure: false
"""


def datasources_yml(config: MixinConfig) -> str:
    """Return provisioning/datasources.yml: the Prometheus that scrapes teampulse."""
    name = config.datasource or "Prometheus"
    return f"""\
# Grafana file provisioning of the Prometheus that scrapes teampulse (docs/dashboards.md).
# Copy to /etc/grafana/provisioning/datasources/. The dashboards pick their data source with the
# `datasource` variable, so the name and uid here are free to change.
apiVersion: 1
datasources:
  - name: {json.dumps(name)}
    uid: prometheus
    type: prometheus
    access: proxy
    url: {json.dumps(config.prometheus_url)}
    isDefault: true
    jsonData:
      # Prometheus' scrape interval of teampulse, so $__rate_interval is right
      timeInterval: 1m
"""
