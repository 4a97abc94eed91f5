"""Keep the key tables of Markdown files in step with the declarations they come from.

A table is the block between two markers, where `module:NAME` names anything with a
`markdown()` method (a teampulse.settings.Settings, usually):

    <!-- settings teampulse.config:ALERTS -->
    ...
    <!-- /settings -->

`python -m teampulse.doctables FILE...` says which tables are out of date (exit 1);
`--write` renews them in place.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["references", "render", "stale"]

_BLOCK = re.compile(
    r"(?P<open><!-- settings (?P<ref>[\w.]+:[\w.]+) -->\n)(?P<body>.*?)(?P<close><!-- /settings -->)", re.S
)


def _lookup(ref: str) -> Any:
    module, _, name = ref.partition(":")
    target: Any = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target


def render(text: str) -> str:
    """Return `text` with every settings block renewed from its declarations."""
    return _BLOCK.sub(lambda m: m["open"] + _lookup(m["ref"]).markdown() + m["close"], text)


def references(text: str) -> list[str]:
    """Return the `module:NAME` of every settings block in `text`."""
    return [m["ref"] for m in _BLOCK.finditer(text)]


def stale(path: Path) -> list[str]:
    """Return the blocks of a file that differ from their declarations (empty: up to date)."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        if m["body"] != _lookup(m["ref"]).markdown():
            out.append(m["ref"])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Check (or, with --write, renew) the settings tables of Markdown files."""
    parser = argparse.ArgumentParser(prog="python -m teampulse.doctables", description=main.__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--write", action="store_true", help="renew the tables in place")
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        if args.write:
            text = path.read_text(encoding="utf-8")
            new = render(text)
            if new != text:
                path.write_text(new, encoding="utf-8")
                print(f"{path}: renewed")
            continue
        for ref in stale(path):
            print(f"{path}: the table of {ref} is out of date (renew it with --write)")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
