"""The SFTP drop's protocol part on asyncssh: SFTP only (no shell, exec, scp or forwarding), each account confined
to its own folder, and a file handed on once its upload completes.

Facts about asyncssh 2.24 this rests on, read in its source (asyncssh/sftp.py, stream.py, connection.py) since no
documentation page in reach states them; the tests in tests/portal/test_sftp_drop.py guard each:
- SFTPServer(chroot=...) maps every client path under the root, but its docstring warns that links already inside
  the root are followed, hence map_path's realpath check and no link creation at all.
- With only `sftp_factory` given, SSHServerStreamSession refuses shell and exec; SSHServer refuses port forwarding.
- A clean close arrives as an SFTP CLOSE request; on a dropped connection SFTPServerHandler._cleanup closes the
  still-open files itself and calls exit() at once, in the same task. So a close is settled on the next turn of
  the loop: if exit() came first, the file was cut off (a client that disconnects without waiting for the answer
  to its CLOSE is treated so too: nothing partial is ever synced).
"""
import asyncio
import csv
import logging
import os
import posixpath
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from store.db import db

from . import accounts, receipt
from .throttle import Throttle

log = logging.getLogger(__name__)
BUNDLE_SUFFIXES = (".zip", ".csv")
FAILED_LOGIN_DELAY = 1.0  # seconds before a wrong password is answered
MANIFEST_MAX_BYTES = 64 * 1024
MAX_FOLDER_ENTRIES = 50  # files waiting in one account's folder (completed bundles leave it at once)


@dataclass
class Upload:
    login: accounts.Login
    name: str     # as the client named it, at the top of its folder
    local: bytes  # where it is on disk
    size: int = 0


@dataclass
class PendingSet:
    """CSV files of one account waiting for the rest of their set (or a quiet period)."""
    login: accounts.Login
    folder: Path
    names: set = field(default_factory=set)
    timer: asyncio.TimerHandle | None = None


class Drop:
    """State shared by every connection of the server process: the app, the sets being collected, the threads
    that check passwords and take in bundles (so the event loop never waits on the database)."""

    def __init__(self, app, *, quiet_seconds: float | None = None):
        self.app = app
        config = app.config
        self.root = Path(config["SFTP_ROOT"])
        self.staging = self.root / ".staging"  # outside every account's folder (user names are school slugs)
        self.staging.mkdir(mode=0o700, parents=True, exist_ok=True)  # student data: the portal's user only
        self.root.chmod(0o700)
        self.max_bytes = int(config["SFTP_MAX_UPLOAD_MB"]) * 1024 * 1024
        self.quiet_seconds = float(config["SFTP_SET_QUIET_SECONDS"] if quiet_seconds is None else quiet_seconds)
        self.throttle = Throttle(config["SIGNIN_MAX_FAILURES"], config["SIGNIN_LOCKOUT_SECONDS"],
                                 config["SIGNIN_PER_ADDRESS_PER_MINUTE"])
        self._auth_threads = ThreadPoolExecutor(2, thread_name_prefix="sftp-auth")
        self._receipt_thread = ThreadPoolExecutor(1, thread_name_prefix="sftp-receipt")  # one bundle at a time
        self.sets: dict[int, PendingSet] = {}
        self.writing: dict[int, int] = {}  # account id -> files open for writing, over all its connections
        self._pending: set[asyncio.Future] = set()

    def sweep(self) -> int:
        """At start: whatever an earlier run of the server left (it stopped mid-transfer, or before handing a file
        on) is deleted, since it holds student data and cannot be trusted whole; each school is told on its page."""
        count = 0
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.is_symlink():
                continue
            for item in sorted(folder.iterdir()):
                count += 1
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item)
                    continue
                size = item.lstat().st_size
                item.unlink()
                log.warning("SFTP drop: removed %s, left in %s by an earlier run", item.name, folder.name)
                if folder != self.staging:
                    self.take_in(receipt.record_interrupted, folder.name, item.name, size)
        return count

    def _in_app(self, function, *args):
        with self.app.app_context():
            try:
                return function(*args)
            finally:
                db.session.remove()

    async def auth(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._auth_threads, self._in_app, function, *args)

    def take_in(self, function, *args) -> asyncio.Future:
        future = asyncio.get_running_loop().run_in_executor(self._receipt_thread, self._in_app, function, *args)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    async def drain(self) -> None:
        """Wait for every hand-off started so far (tests, and a clean shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    def _stage(self, local: bytes, name: str) -> Path:
        """Move a completed file out of the account's reach at once, so it cannot change while it is taken in."""
        target = self.staging / f"{uuid.uuid4().hex}-{name}"
        os.replace(local, target)
        return target

    def completed(self, upload: Upload) -> None:
        suffix = posixpath.splitext(upload.name.lower())[1]
        if suffix == ".zip":
            self.take_in(receipt.hand_on, upload.login.school_id, self._stage(upload.local, upload.name), upload.name)
        elif suffix == ".csv":
            self._add_to_set(upload)
        # Any other name (a client's temporary name, say) waits for a rename to .zip or .csv.

    def _add_to_set(self, upload: Upload) -> None:
        pending = self.sets.get(upload.login.account_id)
        if pending is None:
            folder = self.staging / f"set-{uuid.uuid4().hex}"
            folder.mkdir(mode=0o700)
            pending = self.sets[upload.login.account_id] = PendingSet(upload.login, folder)
        os.replace(upload.local, pending.folder / upload.name)  # a file sent again replaces the first
        pending.names.add(upload.name)
        if set_complete(pending.folder, pending.names):
            self.finish_set(upload.login.account_id)
        else:
            self._arm(pending)

    def _arm(self, pending: PendingSet) -> None:
        if pending.timer:
            pending.timer.cancel()
        pending.timer = asyncio.get_running_loop().call_later(self.quiet_seconds, self._quiet, pending)

    def _quiet(self, pending: PendingSet) -> None:
        if self.writing.get(pending.login.account_id):
            self._arm(pending)  # another file of the set is still arriving
        else:
            self.finish_set(pending.login.account_id)

    def finish_set(self, account_id: int) -> None:
        pending = self.sets.pop(account_id, None)
        if pending is None:
            return
        if pending.timer:
            pending.timer.cancel()
        names = sorted(pending.names)
        filename = f"{len(names)} CSV file{'s' if len(names) != 1 else ''}: " + ", ".join(names)
        self.take_in(receipt.hand_on, pending.login.school_id, pending.folder, filename[:255])

    def finish_sets(self) -> None:
        for account_id in list(self.sets):
            self.finish_set(account_id)

    def cut_off(self, upload: Upload) -> None:
        """The connection ended with this file open: discard it, and the account's unfinished set with it."""
        try:
            os.unlink(upload.local)
        except FileNotFoundError:
            pass
        set_aside = 0
        pending = self.sets.pop(upload.login.account_id, None)
        if pending is not None:
            if pending.timer:
                pending.timer.cancel()
            set_aside = len(pending.names)
            for name in pending.names:
                (pending.folder / name).unlink(missing_ok=True)
            pending.folder.rmdir()
        self.take_in(receipt.record_cut_off, upload.login.school_id, upload.name, upload.size, set_aside)

    def close(self) -> None:
        self._auth_threads.shutdown(wait=True)
        self._receipt_thread.shutdown(wait=True)


def set_complete(folder: Path, names: set) -> bool:
    """A set is complete once manifest.csv is in and so is every file it lists as bulk or delta (a SIS may send
    the manifest first, as `mput *.csv` does, or each file in a session of its own)."""
    by_lower = {name.lower(): name for name in names}
    if "manifest.csv" not in by_lower:
        return False
    try:
        with open(folder / by_lower["manifest.csv"], newline="", encoding="utf-8-sig", errors="replace") as handle:
            rows = list(csv.reader(handle.read(MANIFEST_MAX_BYTES).splitlines()))
    except OSError:
        return False
    wanted = {row[0].strip().lower()[len("file."):] + ".csv" for row in rows
              if len(row) >= 2 and row[0].strip().lower().startswith("file.")
              and row[1].strip().lower() in ("bulk", "delta")}
    return bool(wanted) and wanted <= set(by_lower)


class DropSSHServer(asyncssh.SSHServer):
    """Authentication: password and/or the account's public keys, throttled per (user name, address)."""

    def __init__(self, drop: Drop):
        self.drop = drop
        self.login: accounts.Login | None = None
        self._candidate: accounts.Login | None = None
        self._address = "unknown"
        self._connection: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._connection = conn
        peer = conn.get_extra_info("peername")
        self._address = str(peer[0]) if peer else "unknown"

    async def begin_auth(self, username: str) -> bool:
        login, keys = await self.drop.auth(accounts.find_login, username)
        self._candidate = login
        if keys is not None and self.drop.throttle.allowed(username, self._address):
            self._connection.set_authorized_keys(keys)
        return True  # always ask for credentials, known user name or not

    def connection_lost(self, exc) -> None:
        self._connection = None

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        throttle = self.drop.throttle
        login = None
        if throttle.allowed(username, self._address):
            login = await self.drop.auth(accounts.password_login, username, password)
        if login is None:
            throttle.failed(username, self._address)
            log.info("SFTP drop: refused a password for %r from %s", username, self._address)
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            return False
        throttle.succeeded(username, self._address)
        self._candidate = login
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    async def auth_completed(self) -> None:
        self.login = self._candidate
        self.drop.throttle.succeeded(self.login.username, self._address)
        await self.drop.auth(accounts.signed_in, self.login.account_id)


class DropSFTPServer(asyncssh.SFTPServer):
    """One SFTP session, confined to its account's folder: top-level files only, no links, no folders."""

    def __init__(self, chan, drop: Drop):
        login = chan.get_connection().get_owner().login
        login.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        super().__init__(chan, chroot=os.fsencode(login.folder))
        self.drop, self.login = drop, login
        self._root = os.fsencode(os.path.realpath(login.folder))
        self._open: dict[object, Upload] = {}
        self._closed: list[Upload] = []
        self._received: set[str] = set()  # names this session completed (and the drop took away)
        self._written: set[bytes] = set()  # files this session wrote (temporary names never renamed are removed)
        self._exited = False

    # Paths ------------------------------------------------------------------------------------------------
    def map_path(self, path: bytes) -> bytes:
        """asyncssh's chroot mapping, then a check of where it really leads (no way out through a link)."""
        local = super().map_path(path)
        real = os.path.realpath(local)
        if real != self._root and not real.startswith(self._root + b"/"):
            raise asyncssh.SFTPPermissionDenied("That path is outside your folder.")
        return local

    def _top_level(self, path: bytes) -> str:
        clean = posixpath.normpath(posixpath.join(b"/", path))
        name = clean.lstrip(b"/")
        if not name or b"/" in name:
            raise asyncssh.SFTPPermissionDenied("Upload files straight into your folder (no sub-folders).")
        try:
            return name.decode("utf-8")
        except UnicodeDecodeError:
            raise asyncssh.SFTPPermissionDenied("Name the file in UTF-8 (for example users.csv or roster.zip).")

    def symlink(self, oldpath, newpath):
        raise asyncssh.SFTPPermissionDenied("Links cannot be made on this drop.")

    def link(self, oldpath, newpath):
        raise asyncssh.SFTPPermissionDenied("Links cannot be made on this drop.")

    def readlink(self, path):
        raise asyncssh.SFTPPermissionDenied("There are no links on this drop.")

    def mkdir(self, path, attrs):
        raise asyncssh.SFTPPermissionDenied("Folders cannot be made here: upload the files straight into your folder.")

    # Files ------------------------------------------------------------------------------------------------
    def _track(self, file_obj, path: bytes, writing: bool):
        if writing:
            upload = Upload(self.login, self._top_level(path), self.map_path(path))
            self._open[file_obj] = upload
            self._written.add(upload.local)
            self.drop.writing[self.login.account_id] = self.drop.writing.get(self.login.account_id, 0) + 1
        return file_obj

    def _may_write(self, path: bytes) -> None:
        self._top_level(path)
        if len(os.listdir(self.login.folder)) >= MAX_FOLDER_ENTRIES:
            raise asyncssh.SFTPFailure(f"Your folder already holds {MAX_FOLDER_ENTRIES} files that are not bundles "
                                       "yet; send a .zip, or CSV files with manifest.csv.")

    def open(self, path, pflags, attrs):
        writing = bool(pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND))
        if writing:
            self._may_write(path)
        return self._track(super().open(path, pflags, attrs), path, writing)

    def open56(self, path, desired_access, flags, attrs):
        writing = bool(desired_access & (asyncssh.ACE4_WRITE_DATA | asyncssh.ACE4_APPEND_DATA))
        if writing:
            self._may_write(path)
        return self._track(super().open56(path, desired_access, flags, attrs), path, writing)

    def write(self, file_obj, offset, data):
        upload = self._open.get(file_obj)
        if upload is not None:
            end = offset + len(data)
            if end > self.drop.max_bytes:
                raise asyncssh.SFTPFailure(f"This file is larger than {self.drop.max_bytes // (1024 * 1024)} MB, "
                                           "the most the drop takes. Split the export or ask for a larger limit.")
            upload.size = max(upload.size, end)
        return super().write(file_obj, offset, data)

    def close(self, file_obj):
        super().close(file_obj)
        upload = self._open.pop(file_obj, None)
        if upload is not None:
            account = self.login.account_id
            self.drop.writing[account] = max(0, self.drop.writing.get(account, 0) - 1)
            self._closed.append(upload)
            asyncio.get_running_loop().call_soon(self._settle)

    def _settle(self) -> None:
        while self._closed and not self._exited:
            upload = self._closed.pop(0)
            self._received.add(upload.name)
            self.drop.completed(upload)

    def setstat(self, path, attrs):
        """Clients that keep the file's time (WinSCP's default) may set it after the upload; by then a
        received bundle has left the folder, and that is no reason to report the upload as failed."""
        local = self.map_path(path)
        if not os.path.lexists(local) and self._top_level(path) in self._received:
            return None
        return super().setstat(path, attrs)

    def rename(self, oldpath, newpath):
        super().rename(oldpath, newpath)
        self._renamed(newpath)

    def posix_rename(self, oldpath, newpath):
        super().posix_rename(oldpath, newpath)
        self._renamed(newpath)

    def _renamed(self, newpath: bytes) -> None:
        """A client that uploads under a temporary name (WinSCP's .filepart) completes the file by renaming it."""
        name = self._top_level(newpath)
        local = self.map_path(newpath)
        if name.lower().endswith(BUNDLE_SUFFIXES) and os.path.isfile(local):
            self._received.add(name)
            self.drop.completed(Upload(self.login, name, local, os.path.getsize(local)))

    def exit(self):
        self._exited = True
        for upload in self._closed + list(self._open.values()):
            self.drop.cut_off(upload)
        self._closed, self._open = [], {}
        for local in self._written:  # what is still here never became a bundle: nothing is left lying about
            try:
                os.unlink(local)
            except OSError:
                pass


async def start_server(drop: Drop, host: str, port: int, host_key) -> asyncssh.SSHAcceptor:
    return await asyncssh.create_server(
        lambda: DropSSHServer(drop), host, port, server_host_keys=[host_key],
        sftp_factory=lambda chan: DropSFTPServer(chan, drop), allow_scp=False,
        agent_forwarding=False, x11_forwarding=False, login_timeout=60,
        # A network that vanishes without closing the connection ends it within about two minutes, so a transfer
        # it cut off is discarded and listed instead of staying open.
        keepalive_interval=30, keepalive_count_max=4,
        server_version="RosteringPortalSFTP")
