"""The SFTP drop in a test: the real server (portal.sftp.server) on a free port in a thread of its own, and a real
SSH client (asyncssh) that uploads to it, checking the server's host key as an SIS administrator would."""
import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import asyncssh

from portal.sftp import accounts
from portal.sftp.keys import ensure_host_key
from portal.sftp.drop import Drop
from portal.sftp.server import start_server
from store.db import db
from store.models import RosterBundle
from tests.factories import make_csv_connection, make_school


@dataclass
class RunningDrop:
    drop: Drop
    port: int
    host_key: asyncssh.SSHKey
    loop: asyncio.AbstractEventLoop

    def connect(self, username, password=None, client_keys=None):
        """asyncssh.connect(...) to this server (use with `async with`); only the given credentials are offered."""
        return asyncssh.connect(
            "127.0.0.1", self.port, username=username, password=password, client_keys=client_keys,
            known_hosts=([self.host_key.convert_to_public()], [], []), agent_path=None, config=None,
            preferred_auth="publickey" if client_keys else "password")

    def drain(self, timeout=30):
        """Wait until every upload handed on so far has been taken in (validated, recorded)."""
        asyncio.run_coroutine_threadsafe(self.drop.drain(), self.loop).result(timeout)


@contextmanager
def running_drop(app, tmp_path, quiet_seconds=0.3):
    """The server on 127.0.0.1 and a free port, its folders and host key under tmp_path, stopped afterwards."""
    app.config.update(SFTP_ROOT=str(tmp_path / "sftp"), SFTP_HOST_KEY=str(tmp_path / "sftp_host_key"))
    host_key = ensure_host_key(app.config["SFTP_HOST_KEY"], create=True)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sftp-drop", daemon=True)
    thread.start()
    drop = Drop(app, quiet_seconds=quiet_seconds)
    server = asyncio.run_coroutine_threadsafe(start_server(drop, "127.0.0.1", 0, host_key), loop).result(10)
    try:
        yield RunningDrop(drop, server.get_port(), host_key, loop)
    finally:
        asyncio.run_coroutine_threadsafe(_close(server), loop).result(10)
        asyncio.run_coroutine_threadsafe(drop.drain(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        drop.close()


async def _close(server) -> None:
    """On the server's own loop: asyncio's Server is not thread-safe, and closing it from the test's thread while the
    loop let a connection go woke its waiters twice (TypeError at teardown, seen once in CI)."""
    server.close()
    await server.wait_closed()


def run(coroutine):
    """Run a client coroutine from a (synchronous) test; in a thread of its own when this thread already runs an
    event loop (Playwright's sync API does)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


async def put_files(drop: RunningDrop, username, files: dict, password=None, client_keys=None):
    """Upload each (name, bytes) with the SFTP client, closing each file, then end the session cleanly."""
    async with drop.connect(username, password, client_keys) as conn:
        async with conn.start_sftp_client() as sftp:
            for name, data in files.items():
                async with sftp.open(name, "wb") as remote:
                    await remote.write(data)


def received(drop: RunningDrop | None, school, count=1, timeout=15) -> list[RosterBundle]:
    """The school's received bundles, oldest first, once at least `count` are recorded and (with `drop`, the server
    running in this process) fully taken in."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        rows = list(db.session.scalars(db.select(RosterBundle).where(RosterBundle.school_id == school.id)
                                       .order_by(RosterBundle.id)))
        settled = drop is not None or all(row.status != "received" for row in rows)  # else: another process's
        if (len(rows) >= count and settled) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if drop is not None:
        drop.drain()
    db.session.expire_all()
    return list(db.session.scalars(db.select(RosterBundle).where(RosterBundle.school_id == school.id)
                                   .order_by(RosterBundle.id)))


def csv_school_account(slug: str):
    """A school on the CSV method with its SFTP account: (school, account, the password shown once)."""
    school = make_school(slug=slug)
    make_csv_connection(school)
    account, password = accounts.create_account(school, None)
    return school, account, password
