"""The files of a bundle (a zip or a directory), refused when hostile, each opened as a bounded stream."""
import io
import itertools
import os
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass

from .errors import BundleRefused

MB = 1024 * 1024
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record (APPNOTE.TXT 4.3.16)
_DRIVE = re.compile(r"^[A-Za-z]:")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # APPNOTE.TXT 4.3.15
_ZIP64_END = struct.Struct("<4sQ2H2L4Q")  # APPNOTE.TXT 4.3.14
MAX_DIRECTORY_BYTES = 4 * MB  # a table of contents for max_entries names of any sensible length
RESEND = "Send the whole file again; if it keeps failing, export the bundle from the SIS again."


@dataclass(frozen=True)
class Limits:
    """Bounds that hostile or broken bundles hit long before memory or disk does."""

    max_total_bytes: int = 4 * 1024 * MB  # every file of the bundle together, uncompressed
    max_file_bytes: int = 2 * 1024 * MB
    max_ratio: int = 100  # uncompressed / compressed size of one zip entry over 1 MB
    max_entries: int = 200
    max_line_bytes: int = MB  # one physical line of a CSV file


def base_name(name: str) -> str:
    r"""A bundle entry's file name without its folders (old Windows zip tools store export\users.csv)."""
    return re.split(r"[/\\]", name)[-1]


def _size(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n:,} bytes"


def _over(size: int, limit: int) -> str:
    """"N, more than the LIMIT": in bytes when megabytes would show the two as equal (2,048 MB over 2,048 MB)."""
    if _size(size) != _size(limit):
        return f"{_size(size)}, more than the {_size(limit)}"
    return f"{size:,} bytes, more than the {limit:,} bytes ({_size(limit)})"


def _too_many(entries: int, allowed: int) -> str:
    return (f"The zip holds {entries:,} entries, more than the {allowed} allowed for a OneRoster bundle. Send only "
            "the CSV files of the export.")


def _zip64_figures(path: str, before_end: bytes, entries: int, cd_size: int) -> tuple[int, int]:
    """(entries, directory size) from the zip64 end record; without one, the 16/32-bit maxima stand."""
    if len(before_end) < _ZIP64_LOCATOR.size or before_end[-_ZIP64_LOCATOR.size:][:4] != b"PK\x06\x07":
        return entries, cd_size
    offset = _ZIP64_LOCATOR.unpack(before_end[-_ZIP64_LOCATOR.size:])[2]
    with open(path, "rb") as fp:
        fp.seek(offset)
        record = fp.read(_ZIP64_END.size)
    if len(record) < _ZIP64_END.size or record[:4] != b"PK\x06\x06":
        return entries, cd_size
    fields = _ZIP64_END.unpack(record)
    return fields[7], fields[8]


class _Counted(io.RawIOBase):
    """A raw stream that refuses to yield more than its declared size or the limit, and names damage.

    Wrapped in io.BufferedReader so that lines are cut in C, a chunk at a time (zipfile's own readline is Python).
    """

    def __init__(self, raw, name: str, declared: int, limit: int):
        super().__init__()
        self.raw, self.name, self.left = raw, name, min(declared, limit)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.raw.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise BundleRefused(f"{self.name} in the zip is damaged ({exc}): the transfer was probably cut off. "
                                + RESEND) from None
        self.left -= len(data)
        if self.left < 0:
            raise BundleRefused(f"{self.name} holds more data than its declared size or than one file may hold; it "
                                "is refused (a possible zip bomb, or a file still being written). " + RESEND)
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.raw.close()
        super().close()


@dataclass(frozen=True)
class Member:
    """One CSV file of the bundle: `key` is its lower-case base name, `name` as it was sent."""

    key: str
    name: str
    size: int


class BundleFiles:
    """The CSV files of a zip or directory; `others` lists what was ignored (not .csv)."""

    def __init__(self, path: str, limits: Limits):
        self.path, self.limits = os.fspath(path), limits
        self.members: dict[str, Member] = {}
        self.others: list[str] = []
        self.folders: list[str] = []  # sub-folders (a zip's folder entries too), by base name: none is read
        self._zip: zipfile.ZipFile | None = None
        if os.path.isdir(self.path):
            self._scan_directory()
        elif os.path.isfile(self.path):
            self._open_zip()
        else:
            raise BundleRefused(f"There is no file or folder at {os.path.basename(self.path) or self.path}. "
                                "Upload the zip again.")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def open(self, key: str) -> io.BufferedReader:
        member = self.members[key]
        if self._zip is not None:
            try:
                raw = self._zip.open(member.name)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
                # the table of contents points at an entry header that is not there or names another file
                raise BundleRefused(f"{os.path.basename(member.name)} in the zip is damaged ({exc}). "
                                    + RESEND) from None
        else:
            raw = open(os.path.join(self.path, member.name), "rb")
        counted = _Counted(raw, os.path.basename(member.name), member.size, self.limits.max_file_bytes)
        return io.BufferedReader(counted, buffer_size=256 * 1024)

    def _add(self, name: str, size: int) -> None:
        base = base_name(name)
        # macOS "Compress" adds __MACOSX/._name copies (resource forks, not CSV): never read them
        # "~$users.csv" is the lock file Excel leaves beside a file it has open: not CSV either
        if not base.lower().endswith(".csv") or base.startswith((".", "~$")) or name.startswith("__MACOSX/"):
            self.others.append(name)
            return
        key = base.lower()
        if key in self.members:
            raise BundleRefused(f"The bundle holds two files named {base} ({self.members[key].name} and {name}); "
                                "it is not clear which one to read. Send one set of files.")
        self.members[key] = Member(key, name, size)

    def _check_sizes(self) -> None:
        total = sum(m.size for m in self.members.values())
        if total > self.limits.max_total_bytes:
            raise BundleRefused(f"The bundle would expand to {_over(total, self.limits.max_total_bytes)} allowed; "
                                "it is refused as a possible zip bomb. Send only the CSV files a people sync needs "
                                "(manifest, orgs, users).")
        for m in self.members.values():
            if m.size > self.limits.max_file_bytes:
                raise BundleRefused(f"{m.name} is {_over(m.size, self.limits.max_file_bytes)} allowed for one file. "
                                    "Check that the export is a OneRoster CSV file.")

    def _scan_directory(self) -> None:
        with os.scandir(self.path) as scan:
            entries = list(itertools.islice(scan, self.limits.max_entries + 1))
        if len(entries) > self.limits.max_entries:  # a zip's rule: the operator named a folder that is not the export
            raise BundleRefused(f"The folder holds more than the {self.limits.max_entries} files allowed for a "
                                "OneRoster bundle. Give the folder that holds only the export's CSV files "
                                "(manifest.csv, orgs.csv, users.csv).")
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_symlink():
                raise BundleRefused(f"{entry.name} is a symbolic link; links are refused so that a bundle cannot "
                                    "point at other files. Send the files themselves.")
            if entry.is_file(follow_symlinks=False):
                self._add(entry.name, entry.stat(follow_symlinks=False).st_size)
            else:
                self.others.append(entry.name + "/")
                self.folders.append(entry.name)
        self._check_sizes()

    def _open_zip(self) -> None:
        self._check_directory_record()
        try:
            self._zip = zipfile.ZipFile(self.path)
        except UnicodeDecodeError as exc:  # the zip flags its names as UTF-8, and one is not
            raise BundleRefused(f"A file name in the zip is not valid UTF-8 although the zip says it is (byte "
                                f"0x{exc.object[exc.start]:02X}), so the zip tool that made it is broken. Re-create "
                                "the zip with another tool, naming the files as the export did (users.csv, orgs.csv, "
                                "…).") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise BundleRefused(f"The zip file cannot be opened ({exc}). " + RESEND) from None
        if len(self._zip.infolist()) > self.limits.max_entries:  # the end record's count can lie; the listing cannot
            raise BundleRefused(_too_many(len(self._zip.infolist()), self.limits.max_entries))
        for info in self._zip.infolist():
            self._check_entry(info)
            if info.is_dir():
                self.folders.append(base_name(info.filename.rstrip("/\\")))
            else:
                self._add(info.filename, info.file_size)
        self._check_sizes()

    def _check_directory_record(self) -> None:
        """Refuse a cut-off transfer, a non-zip and an entry flood before zipfile reads the whole directory."""
        with open(self.path, "rb") as fp:
            head = fp.read(4)
            fp.seek(0, os.SEEK_END)
            end = fp.tell()
            fp.seek(max(0, end - (_EOCD.size + 65535)))
            tail = fp.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            if head == b"PK\x03\x04":
                raise BundleRefused("The zip file is incomplete: it ends before its table of contents, so the upload "
                                    "or transfer was cut off midway. " + RESEND)
            raise BundleRefused("The file is not a zip archive. Upload the zip the SIS exported, or the CSV files "
                                "themselves.")
        entries, cd_size = _EOCD.unpack(tail[at:at + _EOCD.size])[4:6]
        if entries == 0xFFFF or cd_size == 0xFFFFFFFF:  # zip64: the real figures are in the zip64 end record
            entries, cd_size = _zip64_figures(self.path, tail[:at], entries, cd_size)
        if entries > self.limits.max_entries:
            raise BundleRefused(_too_many(entries, self.limits.max_entries))
        if cd_size > MAX_DIRECTORY_BYTES:
            raise BundleRefused("The zip's table of contents is too large for a OneRoster bundle. Send only the CSV "
                                "files of the export.")

    def _check_entry(self, info: zipfile.ZipInfo) -> None:
        name = info.filename.replace("\\", "/")
        parts = name.split("/")
        if name.startswith("/") or _DRIVE.match(name) or ".." in parts:
            raise BundleRefused(f"The zip entry {info.filename!r} points outside the bundle (an absolute path or "
                                "'..'); the zip is refused. Re-create the zip from the export folder itself.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise BundleRefused(f"The zip entry {info.filename!r} is a symbolic link; links are refused so that a "
                                "bundle cannot point at other files. Zip the files themselves.")
        if info.flag_bits & 0x1:
            raise BundleRefused(f"The zip entry {info.filename!r} is password-protected. Send the bundle without a "
                                "password (the SFTP account already protects it in transit).")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
            raise BundleRefused(f"The zip entry {info.filename!r} uses a compression method this portal cannot read. "
                                "Re-create the zip with standard (Deflate) compression.")
        if info.file_size > MB and info.file_size > self.limits.max_ratio * max(info.compress_size, 1):
            raise BundleRefused(f"The zip entry {info.filename!r} would expand from {_size(info.compress_size)} to "
                                f"{_size(info.file_size)}, far more than CSV files compress; it is refused as a "
                                "possible zip bomb. Send the export as the SIS wrote it.")
