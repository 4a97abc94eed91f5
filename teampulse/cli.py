"""The `teampulse` command line."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.core import ParameterSource

from . import __version__
from .errors import TeampulseError

if TYPE_CHECKING:
    from .app import Runtime
    from .sharding import Selection

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


def _as_of(value: str | None, flag: str = "--as-of") -> datetime | None:
    if value is None:
        return None
    from .timeutil import parse_time

    try:
        return parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None


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


def selection_options(fn: F) -> F:
    """Add --shard and --teams, handed to the command as `selection` (a sharding.Selection)."""

    @wraps(fn)
    def wrapper(*args: Any, shard: str | None, teams: tuple[str, ...], **kwargs: Any) -> Any:
        from .sharding import Selection

        ctx = click.get_current_context()
        try:
            selection = Selection.of(shard, teams)
        except ValueError as exc:
            hint = "--shard/--teams" if shard is not None and teams else "--teams" if teams else "--shard"
            if shard is not None and ctx.get_parameter_source("shard") is ParameterSource.ENVIRONMENT:
                hint += " ($TEAMPULSE_SHARD)"
            raise click.BadParameter(str(exc).removeprefix("--teams: "), param_hint=hint) from None
        return fn(*args, selection=selection, **kwargs)

    wrapper = click.option(
        "--teams",
        metavar="NAME[,NAME...]",
        multiple=True,
        help="Serve only these configured teams (comma-separated, or repeat the option); not with --shard.",
    )(wrapper)
    wrapper = click.option(
        "--shard",
        metavar="I/N",
        envvar="TEAMPULSE_SHARD",
        help="Serve only shard I of N: the teams a stable hash of their names assigns to it, each shard "
        "with a store of its own (docs/scaling.md). Default: $TEAMPULSE_SHARD, else every team.",
    )(wrapper)
    return wrapper  # type: ignore[return-value]


def _open(config_path: str | None, selection: Selection, announce: bool = False) -> Runtime:
    """Open the runtime for the selected teams; say so when they are none (or, announced, which)."""
    from .app import Runtime

    runtime = Runtime.open(config_path, selection)
    if selection.everything:
        return runtime
    served, total = len(runtime.config.teams), len(runtime.config.teams) + len(runtime.other_teams)
    if not served:
        # Valid (a shard that later teams will fill), but nothing is evaluated or exported.
        click.echo(f"teampulse: warning: {selection.label}: none of the {total} configured teams", err=True)
    elif announce:
        _progress(f"{selection.label}: {served} of {total} teams, store {runtime.config.state}")
    return runtime


class _OneLineGroup(click.Group):
    """Report usage errors in one line, like every other error, instead of click's usage block."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.exceptions.Abort:
            click.echo("teampulse: aborted", err=True)
            sys.exit(1)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "teampulse"
            _fail(f"{exc.format_message()} (see `{command} --help`)")
        except click.ClickException as exc:
            click.echo(f"teampulse: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except TeampulseError as exc:  # from a plugin's command: one line too
            _fail(str(exc))


@click.group(cls=_OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@selection_options
@one_line_errors
def collect(config_path: str | None, as_of: str | None, fmt: str, quiet: bool, selection: Selection) -> None:
    """Collect every source once, evaluate, and print the metrics.

    With --as-of TIME the collection itself runs as of TIME, as if the clock read TIME: the
    sources read their windows relative to it and the evaluation is at TIME. What a source
    returns is still the server's current data (Jira keeps no past state), which the engine
    replays up to TIME. TIME must not be in the future; the source runs keep their real times.

    Exit 0: all sources collected; 1: a source failed or skipped bad input (the output
    covers the rest); 2: bad config, or no source could collect.
    """
    from .exporter import render

    when = _as_of(as_of)
    if when is not None and when > datetime.now(UTC):
        # The sources' cursors would move past the present (the Jira source stores TIME as a
        # team's sync position when nothing matched, and as its last reconciliation), and the
        # next real collection would skip what changes until then.
        raise click.BadParameter("must not be in the future", param_hint="--as-of")
    runtime = _open(config_path, selection)
    try:
        report = runtime.collect(now=when, on_progress=None if quiet else _progress)
        failed = report.failed
        for r in failed:
            click.echo(f"teampulse: error: source {r.source}: {r.error}", err=True)
        for problem in report.problems:
            click.echo(f"teampulse: error: {problem}", err=True)
        if failed and len(failed) == len(report.results):
            sys.exit(2)
        state = runtime.state(as_of=when, with_trend=False)  # no page drawn
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
@selection_options
@one_line_errors
def check(config_path: str | None, as_of: str | None, fmt: str, offline: bool, selection: Selection) -> None:
    """Evaluate the alerts. Exit 0: none firing; 1: at least one firing; 2: error."""
    when = _as_of(as_of)
    runtime = _open(config_path, selection)
    try:
        if when is None and not offline:
            # Warnings only: check's exit code is about alerts.
            report = runtime.collect()
            for r in report.failed:
                click.echo(f"teampulse: warning: source {r.source}: {r.error}", err=True)
            for problem in report.problems:
                click.echo(f"teampulse: warning: {problem}", err=True)
        state = runtime.state(as_of=when, with_trend=False)  # no page drawn
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
@click.option(
    "--max-connections",
    type=click.IntRange(1, 10_000),
    default=64,
    show_default=True,
    help="Connections served at once; the next get a 503 with Retry-After.",
)
@click.option(
    "--max-connections-per-client",
    type=click.IntRange(0, 10_000),
    default=16,
    show_default=True,
    help="Connections served at once from one address (0: no limit). Behind a reverse proxy "
    "every client has the proxy's address.",
)
@selection_options
@one_line_errors
def serve(
    config_path: str | None,
    listen: str,
    web_config: str | None,
    max_connections: int,
    max_connections_per_client: int,
    selection: Selection,
) -> None:
    """Collect on a schedule and serve /metrics, /, /healthz and the actions API."""
    from .server import serve as run

    host, port = _listen_address(listen)
    from .webconfig import load_web_config

    web = load_web_config(web_config) if web_config else None
    runtime = _open(config_path, selection, announce=True)
    try:
        run(runtime, host, port, web, None, max_connections, max_connections_per_client)
    finally:
        runtime.close()


def _listen_address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(
            f"{value!r}: use HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:9469",
            param_hint="--listen",
        )
    return host.strip("[]"), int(port)


@main.command()
@config_option
@click.argument("count", metavar="N", type=click.IntRange(1, 10_000))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@one_line_errors
def shards(config_path: str | None, count: int, fmt: str) -> None:
    """Show how `--shard I/N` splits the configured teams into N shards, and each shard's store.

    Nothing is opened but the config: run it before deploying N instances, or to find the
    shard that serves a team (its webhooks and actions go there).
    """
    from . import config as config_mod
    from .sharding import Selection, Shard

    config = config_mod.load(config_path)
    split = []
    for index in range(1, count + 1):
        selection = Selection(Shard(index, count))
        split.append((selection, selection.apply(config)))
    if fmt == "json":
        out = [
            {"shard": str(s.shard), "teams": [t.name for t in c.teams], "state": str(c.state)}
            for s, c in split
        ]
        click.echo(json.dumps(out, indent=2))
        return
    for selection, part in split:
        teams = len(part.teams)
        click.echo(f"shard {selection.shard}: {teams} team{'' if teams == 1 else 's'}, store {part.state}")
        for team in part.teams:
            click.echo(f"  {team.name}")


@main.group()
def action() -> None:
    """Record leadership actions."""


@action.command("add")
@config_option
@click.option("--team", required=True, help="The team the action was for.")
@click.option("--kind", required=True, help="one_on_one, team_check_in, recognition, ...")
@click.option("--at", "at", help="When (ISO 8601); default now.")
@click.option("--note", help="A note for yourself; stored, never exported.")
@selection_options
@one_line_errors
def action_add(
    config_path: str | None, team: str, kind: str, at: str | None, note: str | None, selection: Selection
) -> None:
    """Record a leadership action for a team."""
    from .app import Runtime
    from .model import ACTION_KINDS

    if kind not in ACTION_KINDS:
        raise click.BadParameter(f"must be one of {', '.join(ACTION_KINDS)}", param_hint="--kind")
    when = _as_of(at, "--at") or datetime.now(UTC)
    runtime = Runtime.open(config_path, selection)
    try:
        if team in runtime.other_teams:
            raise click.BadParameter(str(runtime.selection.elsewhere(team)), param_hint="--team")
        if runtime.config.team(team) is None:
            names = ", ".join(t.name for t in runtime.config.teams)
            raise click.BadParameter(f"unknown team {team!r} (teams: {names})", param_hint="--team")
        try:
            ident = runtime.record_action(team, kind, when, note)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--at") from None
        click.echo(f"recorded {kind} for {team} at {when.isoformat()} ({ident})")
    finally:
        runtime.close()


@action.command("list")
@config_option
@click.option("--team", help="Only this team's actions.")
@click.option("--since", help="Only actions at or after this time (ISO 8601 time or date).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@selection_options
@one_line_errors
def action_list(
    config_path: str | None, team: str | None, since: str | None, fmt: str, selection: Selection
) -> None:
    """List the leadership actions in the store, newest first, with their ids."""
    from .app import Runtime

    first = _as_of(since, "--since")
    runtime = Runtime.open(config_path, selection)
    try:
        try:
            rows = runtime.list_actions(team, first)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--team") from None
    finally:
        runtime.close()
    if fmt == "json":
        out = [
            {
                "id": r.id,
                "team": r.team,
                "kind": r.kind,
                "at": datetime.fromtimestamp(r.at, UTC).isoformat(),
                "source": r.source,
                "note": r.note,
                "removable": r.removable,
            }
            for r in rows
        ]
        click.echo(json.dumps(out, indent=2))
        return
    if not rows:
        click.echo("No actions recorded.")
    for r in rows:
        when = datetime.fromtimestamp(r.at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        # A source's actions are listed for completeness; only hand-recorded ones can go.
        origin = "" if r.removable else f"  (from source {r.source})"
        note = f"  {r.note}" if r.note else ""
        click.echo(f"{r.id}  {when}  {r.team}  {r.kind}{origin}{note}")


@action.command("remove")
@config_option
@click.argument("ident", metavar="ID")
@selection_options
@one_line_errors
def action_remove(config_path: str | None, ident: str, selection: Selection) -> None:
    """Remove an action recorded by hand or through the API (its ID from `action list`)."""
    from .app import Runtime

    runtime = Runtime.open(config_path, selection)
    try:
        if not runtime.remove_action(ident):
            raise click.BadParameter(
                "no action recorded by hand or through the API has this id (see `teampulse action list`)",
                param_hint="ID",
            )
    finally:
        runtime.close()
    click.echo(f"removed {ident}")


@main.command()
@config_option
@click.option("--yes", is_flag=True, help="Do not ask before dropping what the sources wrote.")
@selection_options
@one_line_errors
def rekey(config_path: str | None, yes: bool, selection: Selection) -> None:
    """Move a store to a new pseudonym key (the one in TEAMPULSE_PSEUDONYM_KEY).

    Pseudonyms are one-way, so nothing a source wrote can be carried over: rekey copies the
    store to STATE.before-rekey, drops the sources' data and cursors, and keeps the actions
    recorded by hand. The next `teampulse collect` reads every source again under the new key.
    Stop `teampulse serve` first.
    """
    from . import config as config_mod
    from .pseudonym import Pseudonymiser, key_from_env
    from .store import KEY_FINGERPRINT, Store

    config = selection.apply(config_mod.load(config_path))  # a shard's own store
    key = key_from_env(required=True)
    assert key is not None
    fingerprint = Pseudonymiser(key).fingerprint
    store = Store(config.state)
    try:
        if store.meta(KEY_FINGERPRINT) in (None, fingerprint):
            store.bind_key(fingerprint)
            click.echo(f"{config.state} already uses this key ({fingerprint}): nothing to do")
            return
        counts = store.counts()
        if not yes:
            click.confirm(
                f"Drop {counts['work_items']} work items and {counts['signals']} signals from "
                f"{config.state} and read every source again under key {fingerprint}?",
                abort=True,
                err=True,
            )
        backup = store.path.with_name(store.path.name + ".before-rekey")
        store.backup(backup)
        gone = store.rekey(fingerprint)
    finally:
        store.close()
    dropped = ", ".join(f"{n} {table}" for table, n in gone.items() if n)
    click.echo(
        f"rekeyed {config.state} to key {fingerprint}; dropped {dropped or 'nothing'}; the old store is in {backup}"
    )
    click.echo("next: run `teampulse collect` (or start `serve`) to read every source again")


@main.group(invoke_without_command=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@one_line_errors
def plugins(ctx: click.Context, fmt: str) -> None:
    """List installed plugins: their versions, hooks and the kinds they register.

    `teampulse plugins new NAME --kind KIND` writes a new plugin to start from.
    """
    if ctx.invoked_subcommand is not None:
        return
    from .plugins import plugin_list

    infos = plugin_list()
    if fmt == "json":
        click.echo(json.dumps([i.__dict__ for i in infos], indent=2))
        return
    if not infos:
        click.echo("No plugins installed.")
    for i in infos:
        click.echo(f"{i.name} {i.version or ''} ({i.package})" if i.package else i.name)
        click.echo(f"  hooks: {', '.join(i.hooks)}")
        for label in ("sources", "notifiers", "signals"):
            names = getattr(i, label)
            if names:
                click.echo(f"  {label}: {', '.join(names)}")


@plugins.command("new")
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["source", "notifier", "signal"]),
    help="What the plugin provides.",
)
@click.option(
    "--dir",
    "folder",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to write teampulse-NAME/ into (made if missing).",
)
@one_line_errors
def plugins_new(name: str, kind: str, folder: str) -> None:
    """Write teampulse-NAME/: an installable plugin with its package, README, sample and tests.

    NAME: lowercase letters, digits and hyphens. docs/writing-a-plugin.md takes it from there.
    """
    import os

    from .scaffold import write_plugin

    target, written = write_plugin(name, kind, folder)
    click.echo(f"wrote {target}/, a {kind} plugin:")
    for path in written:
        click.echo(f"  {os.path.relpath(path, target)}")
    click.echo("next:")
    click.echo(f"  pip install -e {target}    # then `teampulse plugins` lists {name}")
    click.echo(f"  cd {target} && python -m pytest    # its tests, on teampulse's testing kit")
    click.echo(f"  {target}/README.md says how to configure it")


@main.command()
@config_option
@click.option("--from", "start", required=True, help="First time to evaluate (ISO 8601 time or date).")
@click.option("--to", "end", required=True, help="Last time to evaluate (ISO 8601 time or date).")
@click.option("--step", default="1h", show_default=True, help="Time between evaluations (30m, 1h, 1d, ...).")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="OpenMetrics file to write.")
@selection_options
@one_line_errors
def backfill(
    config_path: str | None, start: str, end: str, step: str, output: str, selection: Selection
) -> None:
    """Write past snapshots as timestamped OpenMetrics, for promtool tsdb create-blocks-from openmetrics.

    Evaluates what the store holds (run `collect` first); nothing is collected.
    """
    import os

    from .backfill import backfill as run_backfill
    from .backfill import stderr_progress
    from .timeutil import parse_duration

    first, last = _as_of(start, "--from"), _as_of(end, "--to")
    assert first is not None and last is not None
    # Before the computation, not after it: a missing folder is found in a second.
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise click.BadParameter(f"{output}: folder {folder} does not exist", param_hint="--output")
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"{output}: folder {folder} is not writable", param_hint="--output")
    try:
        delta = parse_duration(step)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--step") from None
    runtime = _open(config_path, selection)
    try:
        try:
            data = run_backfill(runtime, first, last, delta, on_progress=stderr_progress())
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    finally:
        runtime.close()
    try:
        _write_atomically(output, data)
    except OSError as exc:
        raise TeampulseError(f"{output}: cannot write: {exc.strerror or exc}") from None
    lines = data.count(b"\n")
    click.echo(f"wrote {output}: {lines} lines", err=True)


def _write_atomically(path: str, data: bytes) -> None:
    import os
    import tempfile

    # Write beside the target and rename, so a failed run never leaves half a file.
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("wb", dir=folder, delete=False, suffix=".tmp") as tmp:
        try:
            tmp.write(data)
            tmp.close()
            os.replace(tmp.name, path)
        except BaseException:
            os.unlink(tmp.name)
            raise


@main.command()
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder to write into (made if missing)."
)
@click.option(
    "--config",
    "mixin_config",
    type=click.Path(dir_okay=False),
    help="The mixin's TOML overrides (docs/dashboards.md), not teampulse's config; default: the shipped files.",
)
@one_line_errors
def mixin(out: str, mixin_config: str | None) -> None:
    """Write the Prometheus rules, their promtool tests and the Grafana dashboards."""
    from .mixin.build import write

    for path in write(out, mixin_config):
        click.echo(f"wrote {path}")


def _plugin_commands() -> None:
    """Add the commands that plugins register (the register_commands hook), `demo` among them."""
    from .plugins import get_plugin_manager

    try:
        pm = get_plugin_manager()
    except TeampulseError:
        return  # a broken plugin: every command that loads the plugins names it
    pm.hook.register_commands(cli=main)


_plugin_commands()


if __name__ == "__main__":
    main()
