"""Run one function in a fresh process and return its JSON result.

A fresh process has its own peak memory and its own GIL: what one measurement allocated or
left running never weighs on the next. Progress goes to stderr; the result is stdout's last line.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from collections import deque
from typing import Any, TextIO

from bench.workspace import ROOT


def call(target: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run `module:function(**kwargs)` in a child process; raise RuntimeError when it fails."""
    command = [sys.executable, "-m", "bench.child", target, json.dumps(kwargs)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last: deque[str] = deque(maxlen=1)
    echo = threading.Thread(target=_echo, args=(process.stderr, last), daemon=True)
    echo.start()
    assert process.stdout is not None
    out = process.stdout.read()
    process.wait(timeout)
    echo.join(5)
    if process.returncode != 0:
        raise RuntimeError(f"{target} exited {process.returncode}: {last[0] if last else 'no message'}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def _echo(stream: TextIO, last: deque[str]) -> None:
    # Progress passes through; the last line is kept, since it names what went wrong.
    for line in stream:
        sys.stderr.write(line)
        sys.stderr.flush()
        last.append(line.rstrip())


def main(argv: list[str]) -> int:
    """Call the function named by argv[0] with the JSON keyword arguments argv[1]; print its result."""
    module, _, name = argv[0].partition(":")
    function = getattr(importlib.import_module(module), name)
    print(json.dumps(function(**json.loads(argv[1]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
