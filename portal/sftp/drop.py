"""The SFTP drop's shared state: the sets of CSV files being collected per account, and the threads that check
passwords and take in bundles inside the portal's app (the event loop never waits on the database)."""
import asyncio
import csv
import logging
import os
import posixpath
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from connectors.csvbundle import Limits
from store.db import db

from . import accounts, receipt
from .throttle import Throttle

log = logging.getLogger(__name__)
MANIFEST_MAX_BYTES = 64 * 1024
# CSV files waiting for their manifest stay on the drop's disk: never more than a bundle may hold (the validator
# refuses a bundle past Limits().max_total_bytes anyway), so an account cannot fill the disk with a set that never
# completes.
MAX_SET_FILES = 50
MAX_SET_BYTES = Limits().max_total_bytes


@dataclass
class Upload:
    login: accounts.Login
    name: str     # as the client named it, at the top of its folder
    local: bytes  # where it lands on disk once complete (the name the client gave, in its folder)
    size: int = 0
    part: bytes | None = None  # where this handle writes until it closes: its own file, so two connections sending
    # one name (the SIS retrying while the old connection lingers) never share, truncate or delete each other's bytes
    refused: bool = False  # a write was refused (too large): the file is incomplete and is discarded on close
    session: object = None  # the connection's SFTP session that sent it


@dataclass
class PendingSet:
    """CSV files of one account waiting for the rest of their set (or a quiet period)."""
    login: accounts.Login
    folder: Path
    names: set = field(default_factory=set)
    sizes: dict = field(default_factory=dict)  # name -> bytes, so the set's size is known without a disk scan
    senders: dict = field(default_factory=dict)  # name -> the session that sent it (a retry may resend a name)
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
        # uploads still arriving, one file per open handle, outside every account's folder: no client lists, opens,
        # renames or removes another handle's part, and no folder scan takes one for a bundle
        self.parts = self.root / ".parts"
        self.parts.mkdir(mode=0o700, exist_ok=True)
        self.root.chmod(0o700)
        self.max_bytes = int(config["SFTP_MAX_UPLOAD_MB"]) * 1024 * 1024
        self.quiet_seconds = float(config["SFTP_SET_QUIET_SECONDS"] if quiet_seconds is None else quiet_seconds)
        self.throttle = Throttle(config["SIGNIN_MAX_FAILURES"], config["SIGNIN_LOCKOUT_SECONDS"],
                                 config["SIGNIN_PER_ADDRESS_PER_MINUTE"])
        self._auth_threads = ThreadPoolExecutor(2, thread_name_prefix="sftp-auth")
        self._receipt_thread = ThreadPoolExecutor(1, thread_name_prefix="sftp-receipt")  # one bundle at a time
        self.sets: dict[int, PendingSet] = {}
        self.writing: dict[int, int] = {}  # account id -> files open for writing, over all its connections
        # path -> the session whose upload last completed onto it: a connection that lingers after the SIS gave up on
        # it ends later, and must not delete the file its retry (a new connection, the same name) completed
        self.writers: dict[bytes, object] = {}
        self._pending: set[asyncio.Future] = set()

    def sweep(self) -> int:
        """At start: whatever an earlier run of the server left (it stopped mid-transfer, or before handing a file
        on) is deleted, since it holds student data and cannot be trusted whole; each school is told on its page."""
        count = 0
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or folder.is_symlink():
                continue
            if folder == self.parts:
                count += self._sweep_parts()
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

    def _sweep_parts(self) -> int:
        """Uploads that were still arriving: each account is told under the name its client gave."""
        count = 0
        for folder in sorted(self.parts.iterdir()):
            items = sorted(folder.iterdir()) if folder.is_dir() and not folder.is_symlink() else []
            for item in items:
                count += 1
                size = item.lstat().st_size
                item.unlink()
                log.warning("SFTP drop: removed an upload to %s cut off by an earlier run", folder.name)
                self.take_in(receipt.record_interrupted, folder.name, item.name.partition("-")[2], size)
        return count

    def new_part(self, login: accounts.Login, name: str) -> bytes:
        """A fresh file (mode 600) for one open handle: `<random>-<client's name>`, cut to the disk's 255 bytes."""
        folder = self.parts / login.username
        folder.mkdir(mode=0o700, exist_ok=True)
        stem = f"{uuid.uuid4().hex}-".encode() + name.encode("utf-8")
        part = os.fsencode(folder) + b"/" + stem[:255].decode("utf-8", "ignore").encode("utf-8")
        os.close(os.open(part, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return part

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
        # the client's name is kept by the receipt (hand_on gets it): a longest-allowed name plus a prefix would
        # pass the file system's 255-byte limit and the bundle would vanish without a word
        target = self.staging / f"{uuid.uuid4().hex}{posixpath.splitext(name.lower())[1]}"
        os.replace(local, target)
        return target

    def completed(self, upload: Upload) -> None:
        suffix = posixpath.splitext(upload.name.lower())[1]
        if suffix == ".zip":
            self.take_in(_owned(receipt.hand_on, upload.login), upload.login.school_id,
                         self._stage(upload.local, upload.name), upload.name)
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
        pending.sizes[upload.name] = upload.size
        pending.senders[upload.name] = upload.session
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

    def set_room(self, account_id: int, name: str) -> int:
        """Bytes a CSV file called `name` may still hold before the account's waiting set passes MAX_SET_BYTES;
        0 once the set already has MAX_SET_FILES other files."""
        pending = self.sets.get(account_id)
        if pending is None:
            return MAX_SET_BYTES
        others = {n: size for n, size in pending.sizes.items() if n != name}  # a file sent again replaces the first
        if len(others) >= MAX_SET_FILES:
            return 0
        return max(0, MAX_SET_BYTES - sum(others.values()))

    def finish_set(self, account_id: int) -> None:
        pending = self.sets.pop(account_id, None)
        if pending is None:
            return
        if pending.timer:
            pending.timer.cancel()
        names = sorted(pending.names)
        filename = f"{len(names)} CSV file{'s' if len(names) != 1 else ''}: " + ", ".join(names)
        self.take_in(_owned(receipt.hand_on, pending.login), pending.login.school_id, pending.folder, filename[:255])

    def finish_sets(self) -> None:
        for account_id in list(self.sets):
            self.finish_set(account_id)

    def cut_off(self, upload: Upload) -> None:
        """The connection ended with this file open: discard its own part (never another connection's file of that
        name), and the CSV files it sent to the account's unfinished set."""
        discard_part(upload)
        set_aside = 0
        pending = self.sets.get(upload.login.account_id)
        if pending is not None:
            # the files this connection sent; those a newer connection (the SIS's retry) sent stay in the set
            mine = {name for name in pending.names if pending.senders.get(name) in (upload.session, None)}
            set_aside = len(mine)
            for name in mine:
                (pending.folder / name).unlink(missing_ok=True)
                pending.names.discard(name)
                pending.sizes.pop(name, None)
                pending.senders.pop(name, None)
            if not pending.names:
                del self.sets[upload.login.account_id]
                if pending.timer:
                    pending.timer.cancel()
                pending.folder.rmdir()
        self.take_in(_owned(receipt.record_cut_off, upload.login), upload.login.school_id, upload.name, upload.size,
                     set_aside)

    def close(self) -> None:
        self._auth_threads.shutdown(wait=True)
        self._receipt_thread.shutdown(wait=True)


def discard_part(upload: Upload) -> None:
    if upload.part is not None:
        try:
            os.unlink(upload.part)
        except FileNotFoundError:
            pass


def _owned(function, login: accounts.Login):
    """The receipt step for the account's owner: a school's, or a district CSV source's (source_id)."""
    return partial(function, source_id=login.source_id) if login.source_id is not None else function


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
