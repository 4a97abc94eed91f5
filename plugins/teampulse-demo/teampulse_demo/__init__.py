"""`teampulse demo`: the whole system on a generated organisation, with a Jira emulator.

A plugin like any other: it adds the `demo` command through the register_commands hook.
"""

from __future__ import annotations

import click

from teampulse import hookimpl

__all__ = ["register_commands"]


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add `teampulse demo`."""

    @cli.command()
    @click.option(
        "--port",
        default=9469,
        show_default=True,
        type=click.IntRange(0, 65535),
        help="Port to serve on (0: any free port).",
    )
    @click.option("--seed", default=7, show_default=True, help="Seed of the generated organisation.")
    @click.option("--dir", "workdir", type=click.Path(file_okay=False), help="Keep the demo's files here.")
    @click.option(
        "--dashboards-url",
        help="Your Grafana's address, with the shipped dashboards imported: the page links each team to it.",
    )
    def demo(port: int, seed: int, workdir: str | None, dashboards_url: str | None) -> None:
        """Run the whole system on a generated organisation, with a Jira emulator."""
        from .demo import run_demo

        if dashboards_url is not None and not dashboards_url.startswith(("http://", "https://")):
            raise click.BadParameter(
                "must be the http(s) address of your Grafana", param_hint="--dashboards-url"
            )
        try:
            run_demo(port=port, seed=seed, workdir=workdir, dashboards_url=dashboards_url)
        except KeyboardInterrupt:
            raise SystemExit(130) from None
