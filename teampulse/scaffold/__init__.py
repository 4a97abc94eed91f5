"""`teampulse plugins new`: write an installable plugin to start from (docs/writing-a-plugin.md).

The files come from templates/: `common/` for every kind, then the kind's own folder. In file
names `__module__` and `__snake__` stand for the package and the plugin's name in snake case, a
`dot-` prefix for a leading dot, and `.tmpl` ends every template; in their text `{{token}}`
stands for the values of `Names`.
"""

from __future__ import annotations

import importlib.metadata
import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from .. import __version__
from ..errors import TeampulseError

__all__ = ["DESCRIPTIONS", "KINDS", "Names", "ScaffoldError", "names", "plan", "write_plugin"]

KINDS = ("source", "notifier", "signal")
DESCRIPTIONS = {
    "source": "Time off from a CSV file, as people signals for teampulse",
    "notifier": "teampulse's alerts POSTed as JSON to a URL when they change",
    "signal": "A pressure component for teampulse: open work items per available member",
}
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_TOKEN = re.compile(r"\{\{(\w+)\}\}")


class ScaffoldError(TeampulseError):
    """The plugin cannot be written: a bad name, a taken name, or a folder already there."""


@dataclass(frozen=True)
class Names:
    """What a plugin called NAME is called in each place."""

    name: str  # the entry point, and the source's or notifier's kind: "on-call"
    dist: str  # the distribution: "teampulse-on-call"
    module: str  # the package: "teampulse_on_call"
    snake: str  # the signal's name (a metric label), test file names: "on_call"
    Class: str  # class names begin with it: "OnCall"
    kind: str  # source, notifier or signal
    description: str
    core: str  # the version of teampulse it is generated against


def names(name: str, kind: str) -> Names:
    """Return the names of plugin `name` of `kind`; raise ScaffoldError when `name` cannot be one."""
    if kind not in KINDS:
        raise ScaffoldError(f"kind {kind!r}: use one of {', '.join(KINDS)}")
    if not _NAME.fullmatch(name):
        raise ScaffoldError(
            f"plugin name {name!r}: use lowercase letters, digits and single hyphens, beginning with "
            "a letter (like on-call)"
        )
    if name.startswith("teampulse"):
        raise ScaffoldError(
            f"plugin name {name!r}: leave out the teampulse prefix "
            f"(`teampulse plugins new {name.removeprefix('teampulse').strip('-') or 'NAME'}` "
            "writes teampulse-NAME)"
        )
    snake = name.replace("-", "_")
    return Names(
        name=name,
        dist=f"teampulse-{name}",
        module=f"teampulse_{snake}",
        snake=snake,
        Class="".join(part.capitalize() for part in name.split("-")),
        kind=kind,
        description=DESCRIPTIONS[kind],
        core=__version__,
    )


def _templates(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """Return (relative path, file) of every template under `folder`, sorted."""
    found: list[tuple[str, Traversable]] = []
    for entry in folder.iterdir():
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            found += _templates(entry, path + "/")
        elif entry.name.endswith(".tmpl"):
            found.append((path, entry))
    return sorted(found, key=lambda pair: pair[0])


def _target(path: str, n: Names) -> str:
    parts = []
    for part in path.removesuffix(".tmpl").split("/"):
        part = part.replace("__module__", n.module).replace("__snake__", n.snake)
        parts.append("." + part.removeprefix("dot-") if part.startswith("dot-") else part)
    return "/".join(parts)


def _render(text: str, n: Names, where: str) -> str:
    values = vars(n)

    def value(match: re.Match[str]) -> str:
        token = match.group(1)
        if token not in values:
            raise AssertionError(f"template {where}: unknown token {{{{{token}}}}}")
        return str(values[token])

    return _TOKEN.sub(value, text)


def plan(n: Names) -> dict[str, str]:
    """Return the plugin's files, relative to its folder, with their text."""
    root = files(__name__).joinpath("templates")
    out: dict[str, str] = {}
    for folder in ("common", n.kind):
        for path, template in _templates(root.joinpath(folder)):
            out[_target(path, n)] = _render(template.read_text(encoding="utf-8"), n, f"{folder}/{path}")
    return dict(sorted(out.items()))


def _taken(n: Names) -> str | None:
    """Return why the installed plugins make the name unusable, or None."""
    for ep in importlib.metadata.entry_points(group="teampulse"):
        if ep.name == n.name:
            return f"an installed plugin is already called {n.name} ({ep.value})"
    try:
        importlib.metadata.distribution(n.dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    return f"the distribution {n.dist} is already installed"


def write_plugin(name: str, kind: str, folder: str | Path = ".") -> tuple[Path, list[Path]]:
    """Write plugin `name` of `kind` into `folder`/teampulse-NAME; return the plugin's folder and its files.

    Refuses a folder that exists (nothing is overwritten) and a name an installed plugin has.
    """
    n = names(name, kind)
    taken = _taken(n)
    if taken:
        raise ScaffoldError(f"plugin name {name!r}: {taken}; choose another name")
    base = Path(folder)
    target = base / n.dist
    if target.exists():
        raise ScaffoldError(f"{target} already exists: nothing was written (choose another --dir or name)")
    written = []
    try:
        target.mkdir(parents=True)
        for rel, text in plan(n).items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        raise ScaffoldError(f"{target}: cannot write ({exc.strerror or exc})") from None
    return target, written
