"""Regenerate the mixin's default files after changing teampulse/mixin: the shipped and the checked-in copy.

    .venv/bin/python dashboards/build.py           # rewrite them
    .venv/bin/python dashboards/build.py --check   # write nothing; exit 1 if one is out of date

The source is the package teampulse.mixin. Its output for the default settings is written twice:
into teampulse/mixin/files, which the distribution ships (`teampulse mixin --out DIR` copies it),
and here in dashboards/ (rules/, tests/, grafana/, provisioning/), where the deployment docs,
`make demo-stack` and the end-to-end tests read it from a checkout. tests/test_rules.py and
tests/test_dashboards.py make the same comparison.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from teampulse.mixin.build import render

HERE = Path(__file__).resolve().parent
COPIES = (HERE.parent / "teampulse" / "mixin" / "files", HERE)


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with --check, compare) both copies of the default files."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for rel, text in render().items():
        for root in COPIES:
            path = root / rel
            if args.check:
                if not path.exists() or path.read_text(encoding="utf-8") != text:
                    stale.append(str(path.relative_to(HERE.parent)))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date (run python dashboards/build.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
