"""Write a real plugin distribution into a folder, for a `teampulse` run with it on PYTHONPATH."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path


def write_distribution(folder: Path, name: str, version: str, entry: str, module: str, code: str) -> Path:
    """Write module `module` and the metadata of distribution `name` with a teampulse entry point.

    importlib.metadata finds a `*.dist-info` folder on sys.path exactly as pip installs it, so a
    process with `folder` on PYTHONPATH loads the plugin through its entry point.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(code))
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[teampulse]\n{entry} = {module}\n")
    return folder


def env_with(folder: Path, **extra: str) -> dict[str, str]:
    """Return the environment of a process that sees the distributions written into `folder`."""
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)
