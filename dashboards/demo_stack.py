"""Run `teampulse demo` with a real Prometheus (the shipped rules) and Alertmanager beside it.

    make demo-stack        # or: .venv/bin/python dashboards/demo_stack.py

Needs `prometheus` and `prometheus-alertmanager` on PATH (Debian: apt-get install prometheus
prometheus-alertmanager). Grafana is your own: point it at the printed Prometheus URL and
provision dashboards/grafana/*.json (docs/dashboards.md). Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Start the three processes and wait for Ctrl-C."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--teampulse-port", type=int, default=9469)
    parser.add_argument("--prometheus-port", type=int, default=9090)
    parser.add_argument("--alertmanager-port", type=int, default=9093)
    args = parser.parse_args()
    for tool in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(tool) is None:
            print(f"demo-stack: {tool} is not installed (apt-get install prometheus prometheus-alertmanager)")
            return 2
    work = Path(tempfile.mkdtemp(prefix="teampulse-stack-"))
    shutil.copy(HERE / "rules" / "teampulse.rules.yml", work / "rules.yml")
    (work / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n"
        "rule_files: ['rules.yml']\n"
        f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{args.alertmanager_port}']\n"
        "scrape_configs:\n  - job_name: teampulse\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{args.teampulse_port}']\n"
    )
    (work / "alertmanager.yml").write_text(
        "route:\n  receiver: log\n  group_by: [alertname, team]\n"
        "receivers:\n  - name: log\n"  # no delivery: see the alerts in the Alertmanager UI
    )
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "teampulse.cli",
                "demo",
                "--port",
                str(args.teampulse_port),
                "--dir",
                str(work / "demo"),
            ]
        ),
        subprocess.Popen(
            [
                "prometheus",
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'prometheus'}",
                f"--web.listen-address=127.0.0.1:{args.prometheus_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={work / 'alertmanager.yml'}",
                f"--storage.path={work / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{args.alertmanager_port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    print(f"demo-stack: Prometheus    http://127.0.0.1:{args.prometheus_port}/alerts", flush=True)
    print(f"demo-stack: Alertmanager  http://127.0.0.1:{args.alertmanager_port}/", flush=True)
    print(f"demo-stack: files in {work}; Ctrl-C stops everything", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping and all(p.poll() is None for p in procs):
        time.sleep(0.5)
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        p.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
