"""Decoded lines of one CSV file for csv.reader, read in bounded blocks; non-UTF-8 and binary data are named.

Blocks end at a line break, so a UTF-8 character is never split and memory stays near one block plus one line
whatever the file holds (a 2 GB line is refused after one block). Lines are handed out by io.StringIO with
newline="" (what the csv module asks of files), so the per-line work stays in C.
"""
import csv
import io
import re
from collections.abc import Iterator
from itertools import chain, repeat

from .errors import FileUnreadable

BOM = b"\xef\xbb\xbf"
NOT_RENAMED = "Export the OneRoster CSV file again; do not rename other files to .csv."
EXPORT_UTF8 = 'Export the file as UTF-8 (in Excel: Save As "CSV UTF-8 (Comma delimited)"), then send the bundle again.'
_MAGIC = (
    (b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)
_CONTROL = bytes(range(0, 9)) + bytes(range(14, 32))
# Control characters inside a text file's values (a bell, an escape code pasted from a terminal): dropped (a field
# separator, \x1c-\x1f, becomes a space), as the API reader cleans them (records.clean_text), so a name or email never carries them into the directory or an email. Tab and
# line breaks are CSV's own; NUL refuses the file above (jobs' spool relies on it never being in a value).
_IN_TEXT = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DROPPED = {**dict.fromkeys([*range(1, 9), 0x0B, 0x0C, *range(0x0E, 0x1C), 0x7F]),
            **dict.fromkeys(range(0x1C, 0x20), " ")}


class Lines:
    """Iterate decoded lines (endings kept); `bom` is set once the first block has been read."""

    def __init__(self, stream, max_line_bytes: int, block_bytes: int | None = None):
        self.stream, self.max_line = stream, max_line_bytes
        self.block = block_bytes or max(max_line_bytes, 64 * 1024)
        self.bom = False

    def __iter__(self):
        # chain walks each block's lines in C; this generator only runs once per block
        return string_lines(self.texts())

    def texts(self):
        """Each block's text: whole lines, endings kept."""
        read, block, max_line = self.stream.read, self.block, self.max_line
        pending, first, before = b"", True, 0  # `before`: lines in the blocks already handed out
        while True:
            data = read(block)
            if first:
                first = False
                if data.startswith(BOM):
                    self.bom, data = True, data[3:]
                _check_start(data)
            if not data:
                chunk, pending = pending, b""
            else:
                cut = data.rfind(b"\n")
                if cut < 0:  # Excel for Mac's "CSV (Macintosh)" ends lines with \r alone
                    cut = data.rfind(b"\r")
                if cut < 0:
                    pending += data
                    if len(pending) > max_line:
                        raise self._too_long(before + 1)
                    continue
                chunk, pending = pending + data[:cut + 1], data[cut + 1:]
            if not chunk:
                return
            try:
                text = self._decode(chunk, before)
            except FileUnreadable as exc:
                if exc.readable:  # the lines before the bad one first: the header is read, so the column is named
                    yield exc.readable
                raise
            yield text.translate(_DROPPED) if _IN_TEXT.search(text) else text
            before += _breaks(chunk)

    def _decode(self, chunk: bytes, before: int) -> str:
        if len(chunk) > self.max_line and _may_hold_longer(chunk, self.max_line):
            lengths = [len(line) for line in chunk.split(_break(chunk))]
            if max(lengths) > self.max_line:
                raise self._too_long(before + 1 + lengths.index(max(lengths)))
        if b"\x00" in chunk:
            line = before + 1 + chunk.count(b"\n", 0, chunk.index(b"\x00"))
            raise FileUnreadable(line, "The file holds binary data (NUL bytes), not CSV text.", NOT_RENAMED)
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            start = chunk.rfind(b"\n", 0, exc.start) + 1
            end = chunk.find(b"\n", exc.start)
            line = before + 1 + chunk.count(b"\n", 0, exc.start)
            unreadable = FileUnreadable(line, *_encoding_problem(chunk[start:end if end >= 0 else None],
                                                                 exc.start - start), field=_field_at(chunk[start:exc.start]))
            unreadable.readable = chunk[:start].decode("utf-8")
            raise unreadable from None

    def _too_long(self, line: int) -> FileUnreadable:
        return FileUnreadable(line, f"Line {line:,} is longer than {self.max_line:,} bytes, so this is not a "
                              "OneRoster CSV file (or it has no line breaks).",
                              "Check that the export wrote one record per line, then send the bundle again.")


def string_lines(texts) -> Iterator[str]:
    """The lines of texts as the csv module asks for them: each text as one StringIO (newline="": endings kept)."""
    return chain.from_iterable(map(io.StringIO, texts, repeat("")))


def _may_hold_longer(chunk: bytes, limit: int) -> bool:
    """False when no line of the block is longer than `limit`: such a line would hold a whole stretch of limit // 2
    bytes (aligned) without a line break, so a few finds rule it out instead of splitting every line."""
    brk, step = _break(chunk), max(limit // 2, 1)
    return any(chunk.find(brk, start, start + step) < 0 for start in range(0, len(chunk) - step + 1, step))


def _break(chunk: bytes) -> bytes:
    return b"\n" if b"\n" in chunk else b"\r"


def _breaks(chunk: bytes) -> int:
    """Line breaks in a block: \n (and \r\n), or \r alone in a file written with \r line ends."""
    return chunk.count(_break(chunk))


def _utf16_without_bom(head: bytes) -> bool:
    """A NUL beside every character of an ASCII header row, on the same side each time."""
    even, odd = head[0::2], head[1::2]
    return len(head) >= 8 and ((not odd.strip(b"\x00") and 0 not in even)
                               or (not even.strip(b"\x00") and 0 not in odd))


def _renamed(first: bytes) -> str | None:
    """The problem when a file's first bytes are another format's signature (a workbook, a PDF, an archive)."""
    for magic, what in _MAGIC:
        if first.startswith(magic):
            return f"The file is {what} renamed .csv, not CSV text."
    return None


def _utf16(first: bytes) -> bool:
    return first.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_without_bom(first[:64])


def binary_start(first: bytes) -> str | None:
    """What a file's first bytes show it to be when that is not CSV text (a workbook, an archive, binary data)."""
    renamed = _renamed(first)
    if renamed or _utf16(first):  # UTF-16 text is named as such when the file is read
        return renamed
    if b"\x00" in first or any(b in _CONTROL for b in first):
        return "The file holds binary data, not CSV text."
    return None


def start_problem(first: bytes) -> tuple[str, str] | None:
    """(problem, what to do) when a file's first bytes show it cannot be read as UTF-8 CSV text at all (another
    format renamed, UTF-16, binary data), as reading it would report on line 1; None otherwise."""
    if _utf16(first) and not _renamed(first):
        return 'The file is UTF-16 text (Excel\'s "Unicode Text"), not UTF-8.', EXPORT_UTF8
    what = binary_start(first)
    return (what, NOT_RENAMED) if what else None


def _check_start(first: bytes) -> None:
    renamed = _renamed(first)
    if renamed:
        raise FileUnreadable(1, renamed,
                             "Export the OneRoster CSV file itself (not a workbook or archive), then send it again.")
    if _utf16(first):
        raise FileUnreadable(1, 'The file is UTF-16 text (Excel\'s "Unicode Text"), not UTF-8.', EXPORT_UTF8)


def _field_at(before: bytes) -> int:
    """Which field of its line the byte after `before` is in (the line's start, read as CSV)."""
    return len(next(csv.reader([before.decode("latin-1")]), [""])) - 1 if before else 0


def _encoding_problem(line: bytes, at: int) -> tuple[str, str]:
    """(problem, what to do) for a line that is not UTF-8; `at` is the offending byte's offset in it."""
    if any(b in _CONTROL for b in line[:4096]):
        return "The file holds binary data (control bytes that CSV text never has), not CSV text.", NOT_RENAMED
    where = f"byte 0x{line[at]:02X} at position {at + 1}"
    try:
        shown = line[max(0, at - 12):at + 1].decode("cp1252")
    except UnicodeDecodeError:
        return f"The file is not UTF-8 ({where}) and its encoding is not recognised.", EXPORT_UTF8
    return (f"The file is not UTF-8: {where} (\"{shown.strip()}\") reads as Windows-1252, the encoding Excel "
            'uses for "CSV (Comma delimited)".', EXPORT_UTF8)
