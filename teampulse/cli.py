"""The `teampulse` command line."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import click

from . import __version__
from .errors import TeampulseError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    click.echo(f"teampulse: error: {message}", err=True)
    sys.exit(2)


def one_line_errors(fn: F) -> F:
    """Turn TeampulseError into one line on stderr and exit 2, without a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TeampulseError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    from .timeutil import parse_time

    try:
        return parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as-of") from None


_ADDRESS = re.compile(r"[\w.+-]+(@|%40)[\w-]+(\.[\w-]+)+")


class _Redact(logging.Filter):
    """Mask e-mail addresses in every log line: defence in depth behind the pseudonymiser."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _ADDRESS.search(message):
            record.msg, record.args = _ADDRESS.sub("<address>", message), None
        return True


def _setup_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("teampulse: %(levelname)s: %(message)s"))
    handler.addFilter(_Redact())
    ours = logging.getLogger("teampulse")
    ours.setLevel(logging.WARNING - 10 * verbose)
    ours.addHandler(handler)
    ours.propagate = False
    # Client libraries log request URLs (with query strings) and, for jira, whole reply bodies:
    # they speak only through the errors teampulse turns into one line.
    for name in ("urllib3", "requests", "jira", "niquests", "caldav"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="TEAMPULSE_CONFIG",
    help="The TOML config (default: $TEAMPULSE_CONFIG).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="teampulse")
@click.option("-v", "--verbose", count=True, help="Log more (repeat for debug).")
def main(verbose: int) -> None:
    """Watch process pressure beside people support, per team."""
    _setup_logging(verbose)


def _progress(message: str) -> None:
    click.echo(f"teampulse: {message}", err=True)


@main.command()
@config_option
@click.option(
    "--as-of",
    "as_of",
    help="Collect and evaluate as of this time (ISO 8601); default now. The sources read their "
    "windows relative to it (a calendar's days back and ahead, a first Jira sync's history).",
)
@click.option("--format", "fmt", type=click.Choice(["prometheus", "json"]), default="prometheus")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@one_line_errors
def collect(config_path: str | None, as_of: str | None, fmt: str, quiet: bool) -> None:
    """Collect every source once, evaluate, and print the metrics.

    With --as-of TIME the collection itself runs as of TIME, as if the clock read TIME: the
    sources read their windows relative to it and the evaluation is at TIME. What a source
    returns is still the server's current data (Jira keeps no past state), which the engine
    replays up to TIME. TIME must not be in the future; the source runs keep their real times.

    Exit 0: all sources collected; 1: a source failed or skipped bad input (the output
    covers the rest); 2: bad config, or no source could collect.
    """
    from .app import Runtime
    from .exporter import render

    when = _as_of(as_of)
    if when is not None and when > datetime.now(UTC):
        # The sources' cursors would move past the present (the Jira source stores TIME as a
        # team's sync position when nothing matched, and as its last reconciliation), and the
        # next real collection would skip what changes until then.
        raise click.BadParameter("must not be in the future", param_hint="--as-of")
    runtime = Runtime.open(config_path)
    try:
        report = runtime.collect(now=when, on_progress=None if quiet else _progress)
        failed = report.failed
        for r in failed:
            click.echo(f"teampulse: error: source {r.source}: {r.error}", err=True)
        for problem in report.problems:
            click.echo(f"teampulse: error: {problem}", err=True)
        if failed and len(failed) == len(report.results):
            sys.exit(2)
        state = runtime.state(as_of=when)
        if fmt == "json":
            out = {
                "as_of": (when or datetime.now(UTC)).isoformat(),
                "teams": [s.to_json() for s in state.snapshots],
                "sources": [r.__dict__ for r in report.results],
            }
            click.echo(json.dumps(out, indent=2, default=str))
        else:
            sys.stdout.write(render(state).decode())
        sys.exit(1 if failed or report.problems else 0)
    finally:
        runtime.close()


@main.command()
@config_option
@click.option("--as-of", "as_of", help="Replay this time from the store (ISO 8601); no collection.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--offline", is_flag=True, help="Do not collect first; evaluate what the store has.")
@one_line_errors
def check(config_path: str | None, as_of: str | None, fmt: str, offline: bool) -> None:
    """Evaluate the alerts. Exit 0: none firing; 1: at least one firing; 2: error."""
    from .app import Runtime

    when = _as_of(as_of)
    runtime = Runtime.open(config_path)
    try:
        if when is None and not offline:
            for r in runtime.collect().failed:
                click.echo(f"teampulse: warning: source {r.source}: {r.error}", err=True)
        state = runtime.state(as_of=when)
        firing = [a for a in state.alerts if a.firing]
        if fmt == "json":
            click.echo(
                json.dumps(
                    [
                        {
                            "alert": a.alert,
                            # every entry has the contract's keys; source alerts add "source"
                            "team": a.labels.get("team"),
                            **({"source": a.labels["source"]} if "source" in a.labels else {}),
                            "severity": a.severity,
                            "since": a.since,
                            "summary": a.summary,
                            "description": a.description,
                            "evidence": a.evidence,
                        }
                        for a in firing
                    ],
                    indent=2,
                )
            )
        else:
            if not firing:
                click.echo("No alert firing.")
            for a in firing:
                who = a.labels.get("team") or a.labels.get("source")
                click.echo(f"FIRING {a.alert} {who} ({a.severity}) since {a.since}\n  {a.description}")
            # Every team's state, in the words of the page: learning and unknown say so.
            for snap in state.snapshots:
                onset = f" since {snap.episode_start:%Y-%m-%d}" if snap.episode_start else ""
                people = "" if snap.people.known else "; people side unknown (no calendar data covers it)"
                click.echo(f"team {snap.team}: {snap.state} - {snap.state.words}{onset}{people}")
        sys.exit(1 if firing else 0)
    finally:
        runtime.close()


@main.command()
@config_option
@click.option("--listen", default="127.0.0.1:9469", show_default=True, help="HOST:PORT to serve on.")
@click.option(
    "--web-config",
    type=click.Path(dir_okay=False),
    help="TLS and basic auth (YAML, the format of Prometheus' exporter-toolkit).",
)
@one_line_errors
def serve(config_path: str | None, listen: str, web_config: str | None) -> None:
    """Collect on a schedule and serve /metrics, /, /healthz and the actions API."""
    from .app import Runtime
    from .server import serve as run

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter("use HOST:PORT, e.g. 127.0.0.1:9469", param_hint="--listen")
    from .webconfig import load_web_config

    web = load_web_config(web_config) if web_config else None
    runtime = Runtime.open(config_path)
    try:
        run(runtime, host.strip("[]"), int(port), web)
    finally:
        runtime.close()


@main.group()
def action() -> None:
    """Record leadership actions."""


@action.command("add")
@config_option
@click.option("--team", required=True, help="The team the action was for.")
@click.option("--kind", required=True, help="one_on_one, team_check_in, recognition, ...")
@click.option("--at", "at", help="When (ISO 8601); default now.")
@click.option("--note", help="A note for yourself; stored, never exported.")
@one_line_errors
def action_add(config_path: str | None, team: str, kind: str, at: str | None, note: str | None) -> None:
    """Record a leadership action for a team."""
    from .app import Runtime
    from .model import ACTION_KINDS

    if kind not in ACTION_KINDS:
        raise click.BadParameter(f"must be one of {', '.join(ACTION_KINDS)}", param_hint="--kind")
    when = _as_of(at) or datetime.now(UTC)
    runtime = Runtime.open(config_path)
    try:
        if runtime.config.team(team) is None:
            names = ", ".join(t.name for t in runtime.config.teams)
            raise click.BadParameter(f"unknown team {team!r} (teams: {names})", param_hint="--team")
        ident = runtime.record_action(team, kind, when, note)
        click.echo(f"recorded {kind} for {team} at {when.isoformat()} ({ident})")
    finally:
        runtime.close()


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@one_line_errors
def plugins(fmt: str) -> None:
    """List installed plugins, their hooks and source kinds."""
    from .plugins import plugin_list

    infos = plugin_list()
    if fmt == "json":
        click.echo(json.dumps([i.__dict__ for i in infos], indent=2))
        return
    if not infos:
        click.echo("No plugins installed.")
    for i in infos:
        click.echo(f"{i.name} {i.version or ''}".rstrip())
        click.echo(f"  hooks: {', '.join(i.hooks)}")
        for label in ("sources", "notifiers", "signals"):
            names = getattr(i, label)
            if names:
                click.echo(f"  {label}: {', '.join(names)}")


@main.command()
@config_option
@click.option("--from", "start", required=True, help="First time to evaluate (ISO 8601 time or date).")
@click.option("--to", "end", required=True, help="Last time to evaluate (ISO 8601 time or date).")
@click.option("--step", default="1h", show_default=True, help="Time between evaluations (30m, 1h, 1d, ...).")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="OpenMetrics file to write.")
@one_line_errors
def backfill(config_path: str | None, start: str, end: str, step: str, output: str) -> None:
    """Write past snapshots as timestamped OpenMetrics, for promtool tsdb create-blocks-from openmetrics.

    Evaluates what the store holds (run `collect` first); nothing is collected.
    """
    import os
    import tempfile

    from .app import Runtime
    from .backfill import backfill as run_backfill
    from .timeutil import parse_duration

    first, last = _as_of(start), _as_of(end)
    assert first is not None and last is not None
    try:
        delta = parse_duration(step)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--step") from None
    runtime = Runtime.open(config_path)
    try:
        try:
            data = run_backfill(runtime, first, last, delta)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    finally:
        runtime.close()
    # Write beside the target and rename, so a failed run never leaves half a file.
    folder = os.path.dirname(os.path.abspath(output))
    with tempfile.NamedTemporaryFile("wb", dir=folder, delete=False, suffix=".tmp") as tmp:
        tmp.write(data)
    os.replace(tmp.name, output)
    lines = data.count(b"\n")
    click.echo(f"wrote {output}: {lines} lines", err=True)


@main.command()
@click.option("--port", default=9469, show_default=True, help="Port to serve on (0: any free port).")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated organisation.")
@click.option("--dir", "workdir", type=click.Path(file_okay=False), help="Keep the demo's files here.")
@one_line_errors
def demo(port: int, seed: int, workdir: str | None) -> None:
    """Run the whole system on a generated organisation, with a Jira emulator."""
    from .demo import run_demo

    run_demo(port=port, seed=seed, workdir=workdir)


if __name__ == "__main__":
    main()
