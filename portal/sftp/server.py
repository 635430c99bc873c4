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
- SFTPServerHandler.recv_packets handles one request to its end before reading the next, and a buffered next
  request is read without a turn of the loop: a RENAME sent right after CLOSE may come before that settling, so
  any request naming a path settles first (map_path).
- Each upload handle writes its own part file under Drop.parts (outside the chroot), renamed onto the client's name
  when it settles; os.replace is atomic on one file system (Python docs, os.replace), and .parts sits beside the
  account folders under SFTP_ROOT.
"""
import asyncio
import fcntl
import logging
import os
import posixpath
import shutil
from pathlib import Path

import asyncssh

from . import accounts
from .drop import MAX_SET_BYTES, MAX_SET_FILES, Drop, Upload, discard_part

log = logging.getLogger(__name__)
BUNDLE_SUFFIXES = (".zip", ".csv")
FAILED_LOGIN_DELAY = 1.0  # seconds before a wrong password is answered
MAX_FOLDER_ENTRIES = 50  # files waiting in one account's folder (completed bundles leave it at once)
MAX_OPEN_UPLOADS = 10  # files one account sends at once, over all its connections (FileZilla allows 10)
SET_FULL = (f"The CSV files sent so far are still waiting for manifest.csv and already hold as much as one bundle may "
            f"({MAX_SET_FILES} files or {MAX_SET_BYTES // 1024 ** 3} GB). Send manifest.csv to complete the set, or "
            "send the bundle as one .zip.")


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
        """asyncssh's chroot mapping, then a check of where it really leads (no way out through a link). Every request
        naming a path proves the connection outlived the closes before it, so those uploads are settled first (a
        client may send CLOSE and then RENAME or LIST without waiting for the answer)."""
        self._settle()
        if b"\x00" in path:  # os.path.realpath and every file call raise ValueError on it: "Uncaught exception"
            raise asyncssh.SFTPPermissionDenied("A file name cannot hold a NUL character; rename the file.")
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
            text = name.decode("utf-8")
        except UnicodeDecodeError:
            raise asyncssh.SFTPPermissionDenied("Name the file in UTF-8 (for example users.csv or roster.zip).")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):  # the name is shown on the page and in an email
            raise asyncssh.SFTPPermissionDenied("Name the file without control characters such as line breaks (for "
                                                "example users.csv or roster.zip).")
        return text

    def symlink(self, oldpath, newpath):
        raise asyncssh.SFTPPermissionDenied("Links cannot be made on this drop.")

    def link(self, oldpath, newpath):
        raise asyncssh.SFTPPermissionDenied("Links cannot be made on this drop.")

    def readlink(self, path):
        raise asyncssh.SFTPPermissionDenied("There are no links on this drop.")

    def mkdir(self, path, attrs):
        raise asyncssh.SFTPPermissionDenied("Folders cannot be made here: upload the files straight into your folder.")

    def rmdir(self, path):
        # the only folder an account sees is its own root: removing it left every later upload of the session
        # failing with "No such file"
        raise asyncssh.SFTPPermissionDenied("There are no folders to remove here: your folder is where files go.")

    # Files ------------------------------------------------------------------------------------------------
    def _may_write(self, path: bytes) -> None:
        name = self._top_level(path)
        if self.login.refusal:
            raise asyncssh.SFTPPermissionDenied(self.login.refusal)
        # files still arriving count too: they land in the folder when they close
        if len(os.listdir(self.login.folder)) + self.drop.writing.get(self.login.account_id, 0) >= MAX_FOLDER_ENTRIES:
            raise asyncssh.SFTPFailure(f"Your folder already holds {MAX_FOLDER_ENTRIES} files that are not bundles "
                                       "yet; send a .zip, or CSV files with manifest.csv.")
        if self.drop.writing.get(self.login.account_id, 0) >= MAX_OPEN_UPLOADS:
            raise asyncssh.SFTPFailure(f"{MAX_OPEN_UPLOADS} files are already being sent to this folder; wait for one "
                                       "to finish, then send the next.")
        if name.lower().endswith(".csv") and not self.drop.set_room(self.login.account_id, name):
            raise asyncssh.SFTPFailure(SET_FULL)

    def _open_upload(self, path: bytes, *, read: bool, write: bool, append: bool, create: bool, truncate: bool,
                     exclusive: bool):
        """Open a part file of this handle's own in place of the name; close() renames it onto the name. Without
        truncation it starts as a copy of the file already there, so a resume or an overwrite in place still works."""
        self._may_write(path)
        name, local = self._top_level(path), self.map_path(path)
        exists = os.path.lexists(local)
        if exists and exclusive:
            raise asyncssh.SFTPFileAlreadyExists(f"{name} is already in your folder.")
        if not exists and not create:
            raise asyncssh.SFTPNoSuchFile(f"{name} is not in your folder.")
        part = self.drop.new_part(self.login, name)
        if exists and not truncate:
            shutil.copyfile(local, part)
        flags = (os.O_RDWR if read and write else os.O_WRONLY if write else os.O_RDONLY) | (os.O_APPEND if append else 0)
        mode = ("a" if append else "r" if read else "w") + ("+" if read and write else "") + "b" if write else "rb"
        file_obj = open(part, mode, buffering=0, opener=lambda path, _: os.open(path, flags))
        upload = Upload(self.login, name, local, session=self, part=part)
        self._open[file_obj] = upload
        self.drop.writing[self.login.account_id] = self.drop.writing.get(self.login.account_id, 0) + 1
        return file_obj

    def open(self, path, pflags, attrs):
        # FXF_CREAT or FXF_TRUNC alone make or change a file as surely as FXF_WRITE: the same checks, and the same
        # clean-up at the session's end
        if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC):
            return self._open_upload(path, read=bool(pflags & asyncssh.FXF_READ), write=bool(pflags & (
                asyncssh.FXF_WRITE | asyncssh.FXF_APPEND)), append=bool(pflags & asyncssh.FXF_APPEND),
                create=bool(pflags & asyncssh.FXF_CREAT), truncate=bool(pflags & asyncssh.FXF_TRUNC),
                exclusive=bool(pflags & asyncssh.FXF_EXCL))
        return super().open(path, pflags, attrs)

    def open56(self, path, desired_access, flags, attrs):
        disposition = flags & asyncssh.FXF_ACCESS_DISPOSITION
        append = bool(desired_access & asyncssh.ACE4_APPEND_DATA or flags & asyncssh.FXF_APPEND_DATA)
        write = bool(desired_access & asyncssh.ACE4_WRITE_DATA) or append
        if write or disposition != asyncssh.FXF_OPEN_EXISTING:
            return self._open_upload(
                path, read=bool(desired_access & asyncssh.ACE4_READ_DATA), write=write, append=append,
                create=disposition in (asyncssh.FXF_CREATE_NEW, asyncssh.FXF_CREATE_TRUNCATE,
                                       asyncssh.FXF_OPEN_OR_CREATE),
                truncate=disposition in (asyncssh.FXF_CREATE_TRUNCATE, asyncssh.FXF_TRUNCATE_EXISTING),
                exclusive=disposition == asyncssh.FXF_CREATE_NEW)
        return super().open56(path, desired_access, flags, attrs)

    def write(self, file_obj, offset, data):
        upload = self._open.get(file_obj)
        if upload is not None:
            # in append mode the data lands at the end of the file whatever offset the client sends
            size = os.fstat(file_obj.fileno()).st_size
            appending = fcntl.fcntl(file_obj.fileno(), fcntl.F_GETFL) & os.O_APPEND
            end = max(size, (size if appending else offset) + len(data))
            if end > self.drop.max_bytes:
                upload.refused = True
                raise asyncssh.SFTPFailure(f"This file is larger than {self.drop.max_bytes // (1024 * 1024)} MB, "
                                           "the most the drop takes. Split the export or ask for a larger limit.")
            if upload.name.lower().endswith(".csv") and end > self.drop.set_room(self.login.account_id, upload.name):
                upload.refused = True
                raise asyncssh.SFTPFailure(SET_FULL)
            upload.size = max(upload.size, end)
        return super().write(file_obj, offset, data)

    def close(self, file_obj):
        super().close(file_obj)
        upload = self._open.pop(file_obj, None)
        if upload is not None:
            account = self.login.account_id
            self.drop.writing[account] = max(0, self.drop.writing.get(account, 0) - 1)
            if upload.refused:  # the client was told why; what it wrote is only part of the file: its own part goes
                discard_part(upload)
                return
            self._closed.append(upload)
            asyncio.get_running_loop().call_soon(self._settle)

    def _settle(self) -> None:
        """Closes that were real (the connection outlived them): each part becomes the file it was sent as, in one
        rename, replacing any earlier file of that name whole."""
        while self._closed and not self._exited:
            upload = self._closed.pop(0)
            try:
                os.replace(upload.part, upload.local)
            except OSError:  # the account (and its folder) was removed meanwhile
                discard_part(upload)
                continue
            self._written.add(upload.local)
            self.drop.writers[upload.local] = self
            self._received.add(upload.name)
            self.drop.completed(upload)

    def setstat(self, path, attrs):
        """Clients that keep the file's time (WinSCP's default) may set it after the upload; by then a
        received bundle has left the folder, and that is no reason to report the upload as failed."""
        local = self.map_path(path)
        if not os.path.lexists(local) and self._top_level(path) in self._received:
            return None
        return super().setstat(path, _times_only(attrs))

    def lsetstat(self, path, attrs):
        return self.setstat(path, attrs)

    def fsetstat(self, file_obj, attrs):
        return super().fsetstat(file_obj, _times_only(attrs))

    def rename(self, oldpath, newpath):
        self._may_rename(oldpath, newpath)
        super().rename(oldpath, newpath)
        self._renamed(newpath)

    def posix_rename(self, oldpath, newpath):
        self._may_rename(oldpath, newpath)
        super().posix_rename(oldpath, newpath)
        self._renamed(newpath)

    def _may_rename(self, oldpath: bytes, newpath: bytes) -> None:
        """A rename completes an upload, so the file must be whole (closed) and fit in the CSV set waiting for it."""
        local = self.map_path(oldpath)
        if any(upload.local == local for upload in self._open.values()):
            raise asyncssh.SFTPFailure("Close the file before renaming it: a file still being written is not a "
                                       "complete upload.")
        name = self._top_level(newpath)
        if name.lower().endswith(".csv") and os.path.isfile(local) and \
                os.path.getsize(local) > self.drop.set_room(self.login.account_id, name):
            raise asyncssh.SFTPFailure(SET_FULL)

    def _renamed(self, newpath: bytes) -> None:
        """A client that uploads under a temporary name (WinSCP's .filepart) completes the file by renaming it."""
        name = self._top_level(newpath)
        local = self.map_path(newpath)
        if name.lower().endswith(BUNDLE_SUFFIXES) and os.path.isfile(local):
            self._received.add(name)
            self.drop.completed(Upload(self.login, name, local, os.path.getsize(local), session=self))

    def exit(self):
        self._exited = True
        writers = self.drop.writers
        for upload in self._closed + list(self._open.values()):
            self.drop.cut_off(upload)
        self._closed, self._open = [], {}
        for local in self._written:  # what is still here never became a bundle: nothing is left lying about
            if writers.get(local) is not self:
                continue  # a later connection (the SIS's retry) completed this name since: its file, not this one's
            del writers[local]
            try:
                os.unlink(local)
            except OSError:
                pass


def _times_only(attrs: asyncssh.SFTPAttrs) -> asyncssh.SFTPAttrs:
    """Clients may keep a file's times (WinSCP does); its mode, owner and size stay the drop's to decide (a size
    would truncate or extend the file past what was written and checked)."""
    return asyncssh.SFTPAttrs(atime=attrs.atime, atime_ns=attrs.atime_ns, mtime=attrs.mtime, mtime_ns=attrs.mtime_ns)


async def start_server(drop: Drop, host: str, port: int, host_key) -> asyncssh.SSHAcceptor:
    return await asyncssh.create_server(
        lambda: DropSSHServer(drop), host, port, server_host_keys=[host_key],
        sftp_factory=lambda chan: DropSFTPServer(chan, drop), allow_scp=False,
        agent_forwarding=False, x11_forwarding=False, login_timeout=60,
        # A network that vanishes without closing the connection ends it within about two minutes, so a transfer
        # it cut off is discarded and listed instead of staying open.
        keepalive_interval=30, keepalive_count_max=4,
        server_version="RosteringPortalSFTP")
