"""Loopback ports for the servers a test starts."""

from __future__ import annotations

import socket
import subprocess
import time

__all__ = ["free_port", "port_open", "wait_for_port"]


def free_port() -> int:
    """Return a loopback port nothing listens on now (also: an address that refuses connections)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether something accepts connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(
    port: int, timeout: float = 15.0, process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None
) -> None:
    """Wait until something listens on the loopback port; fail at once if `process` exits first."""
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if process is not None and process.poll() is not None:
            raise AssertionError(
                f"the process meant to listen on port {port} exited with {process.returncode}"
            )
        if time.monotonic() >= deadline:
            raise AssertionError(f"nothing listens on port {port} after {timeout:g} s")
        time.sleep(0.05)
