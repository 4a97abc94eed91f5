"""Run the Jira emulator in the foreground: python -m teampulse_jira_emulator --mode cloud --port 8080."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from types import FrameType

from .generate import generate_bulk, generate_organisation
from .server import Credentials, EmulatorServer


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, generate data, serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m teampulse_jira_emulator", description=__doc__)
    parser.add_argument("--mode", choices=("cloud", "datacenter"), default="cloud")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--bulk", type=int, default=0, metavar="N", help="serve N generated issues instead")
    parser.add_argument("--teams", type=int, default=4)
    parser.add_argument("--timezone", default="UTC", help="time zone of the API user (JQL dates)")
    parser.add_argument("--user", help="require basic auth with this login (and --token)")
    parser.add_argument("--token", help="the API token --user must send, or a bearer token alone")
    parser.add_argument("--page-size-max", type=int, default=100)
    parser.add_argument("--verbose", action="store_true", help="log request paths (never query strings)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    dataset = (
        generate_bulk(args.bulk, seed=args.seed)
        if args.bulk
        else generate_organisation(seed=args.seed, teams=args.teams).dataset
    )
    dataset.set_now(None)  # serve on the wall clock once generated
    credentials = None
    if args.token:
        credentials = Credentials(
            basic={args.user: args.token} if args.user else {},
            bearer=frozenset() if args.user else frozenset({args.token}),
        )
    server = EmulatorServer(
        dataset, mode=args.mode, host=args.host, port=args.port, credentials=credentials,
        page_size_max=args.page_size_max, timezone=args.timezone, verbose=args.verbose,
    )  # fmt: skip
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    print(f"jira-emulator {args.mode} {server.url}", flush=True)
    while not stopping.is_set():
        time.sleep(0.2)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
