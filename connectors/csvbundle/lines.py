"""Decoded lines of one CSV file, read one bounded line at a time; non-UTF-8 and binary data are named."""
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


def _binary(first: bytes) -> str | None:
    for magic, what in _MAGIC:
        if first.startswith(magic):
            return what
    return None


class Lines:
    """Iterate decoded lines (line endings kept) for csv.reader; `line_no` is the last line handed out.

    `taken` holds the lines handed out since the caller last cleared it, so a record can be spooled verbatim.
    """

    def __init__(self, stream, max_line_bytes: int):
        self.stream, self.max_line = stream, max_line_bytes
        self.line_no = 0
        self.bom = False
        self.taken: list[str] = []

    def __iter__(self):
        read, limit, taken = self.stream.readline, self.max_line + 1, self.taken
        data = read(limit)
        if data.startswith(BOM):
            self.bom, data = True, data[3:]
        self._check_start(data)
        n = 0
        while data:
            n += 1
            if len(data) >= limit and not data.endswith(b"\n"):
                raise FileUnreadable(n, f"Line {n:,} is longer than {self.max_line:,} bytes, so this is not a "
                                     "OneRoster CSV file (or it has no line breaks).",
                                     "Check that the export wrote one record per line, then send the bundle again.")
            if b"\x00" in data:
                raise FileUnreadable(n, "The file holds binary data (NUL bytes), not CSV text.", NOT_RENAMED)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FileUnreadable(n, *_encoding_problem(data, exc)) from None
            self.line_no = n
            taken.append(text)
            yield text
            data = read(limit)

    @staticmethod
    def _check_start(first: bytes) -> None:
        what = _binary(first)
        if what:
            raise FileUnreadable(1, f"The file is {what} renamed .csv, not CSV text.",
                                 "Export the OneRoster CSV file itself (not a workbook or archive), then send it again.")
        if first.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise FileUnreadable(1, 'The file is UTF-16 text (Excel\'s "Unicode Text"), not UTF-8.', EXPORT_UTF8)


_CONTROL = bytes(range(0, 9)) + bytes(range(14, 32))


def _encoding_problem(data: bytes, exc: UnicodeDecodeError) -> tuple[str, str]:
    """(problem, what to do) for a line that is not UTF-8."""
    if any(b in _CONTROL for b in data[:4096]):
        return "The file holds binary data (control bytes that CSV text never has), not CSV text.", NOT_RENAMED
    byte = data[exc.start]
    where = f"byte 0x{byte:02X} at position {exc.start + 1}"
    try:
        shown = data[max(0, exc.start - 12):exc.start + 1].decode("cp1252")
    except UnicodeDecodeError:
        return f"The file is not UTF-8 ({where}) and its encoding is not recognised.", EXPORT_UTF8
    return (f"The file is not UTF-8: {where} (\"{shown.strip()}\") reads as Windows-1252, the encoding Excel "
            'uses for "CSV (Comma delimited)".', EXPORT_UTF8)
