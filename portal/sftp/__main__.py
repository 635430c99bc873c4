"""`python -m portal.sftp`: the SFTP drop's server process (SFTP only), inside the portal's app.

Listens on SFTP_HOST:SFTP_PORT (demo 127.0.0.1:2222) with the host key at SFTP_HOST_KEY (generated under instance/
on first start, except in production, where it must be provisioned); accounts' folders live under SFTP_ROOT.
"""
import argparse
import asyncio
import logging
import signal
import sys

from .. import create_app
from .keys import ensure_host_key
from .drop import Drop
from .server import start_server


async def serve(app, host: str, port: int) -> None:
    config = app.config
    host_key = ensure_host_key(config["SFTP_HOST_KEY"], create=config["PORTAL_ENV"] != "production")
    drop = Drop(app)
    drop.sweep()  # before any client connects
    server = await start_server(drop, host, port, host_key)
    print(f"SFTP drop listening on {host}:{port} (host key {host_key.get_fingerprint('sha256')})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    drop.finish_sets()  # CSV files already complete go to validation (it says what a set lacks), not lost
    await drop.drain()
    drop.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal.sftp", description=__doc__)
    parser.add_argument("--host", default=None, help="Address to listen on (default: $SFTP_HOST)")
    parser.add_argument("--port", type=int, default=None, help="Port (default: $SFTP_PORT)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    app = create_app()
    asyncio.run(serve(app, args.host or app.config["SFTP_HOST"], args.port or app.config["SFTP_PORT"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
