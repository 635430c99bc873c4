"""One CSV file of a bundle read as rows: its header mapped to the spec's names, each row's width checked."""
import csv
from collections.abc import Iterator
from itertools import chain, islice, repeat

from .errors import FileUnreadable
from .lines import Lines, string_lines
from .report import Report

REEXPORT = "Fix the export settings in the SIS, then send the bundle again."
SPLIT = True  # blocks without double quotes split at commas (_split_batches); a test reads files both ways
PIECE = 64 * 1024  # characters of a quoted block split at a time (_split_batches)
_OTHER_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _clean(name: str) -> str:
    # a second byte-order mark (a file converted to UTF-8 twice) stays on the first name once the first is read off,
    # and "sourcedId is missing" was all the admin was told while the header plainly had it
    return name.strip().strip('"').strip().lstrip("\ufeff")


class Header:
    """Where each spec column is in a file's header; problems with the header go to the report."""

    def __init__(self, file: str, raw: list[str], columns: tuple[str, ...], required: tuple[str, ...],
                 report: Report):
        self.file, self.width = file, len(raw)
        self.index: dict[str, int] = {}
        self.usable = True
        by_lower = {c.lower(): c for c in columns}
        cased, prefixed, unknown = [], [], []
        for position, given in enumerate(raw):
            name = _clean(given)
            if not name:
                continue  # a trailing comma after the last column name
            spec = by_lower.get(name.lower())
            if spec is None and "." in name:
                prefix, _, rest = name.rpartition(".")
                if prefix.lower() == "metadata":
                    continue  # 1.2 extension columns (metadata.*) are allowed and not read
                spec = by_lower.get(rest.lower())
                if spec is not None:
                    prefixed.append(name)
            if spec is None:
                unknown.append(name)
                continue
            if spec in self.index:
                report.error(file, 1, spec, f"The header names column {spec} twice.",
                             "Remove the second copy of the column.")
                self.usable = False
                continue
            if name != spec and name not in prefixed:
                cased.append(f"{name} (read as {spec})")
            self.index[spec] = position
        self._report(report, columns, required, cased, prefixed, unknown)

    def _report(self, report, columns, required, cased, prefixed, unknown) -> None:
        file = self.file
        if prefixed:
            report.warning(file, 1, "", f"Column names carry table prefixes, PowerSchool style ({', '.join(prefixed[:5])}"
                           f"); read without the prefix.", "Turn off table names in the export's column headers.")
        if cased:
            report.warning(file, 1, "", f"Column names differ from the spec in case: {', '.join(cased[:5])}.",
                           "Accepted; use the spec's spelling to avoid this warning.")
        missing = [c for c in required if c not in self.index]
        separator = _separator(unknown, len(columns)) if missing else None
        if separator:  # one error that says why, not every required column named as missing
            report.error(file, 1, "", f"The file is separated by {separator}, not commas (a spreadsheet saved it with "
                         "another list separator).", f'Export {file} with commas between the values (in Excel: Save '
                         'As "CSV UTF-8 (Comma delimited)"), then send the bundle again.')
            self.usable = False
            return
        if missing:
            hint = ""
            if prefixed or any("." in u for u in unknown):
                hint = (f" The header ({', '.join(unknown[:4])}, …) looks like a PowerSchool table export, "
                        f"not the OneRoster {file}.")
            report.error(file, 1, ", ".join(missing), f"Required column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)} {'are' if len(missing) > 1 else 'is'} missing from the header.{hint}",
                         f"Export the OneRoster {file} with the header row the spec names: {','.join(columns)}.")
            self.usable = False
            return
        # metadata.* columns are the spec's own extension point (added right of the defined columns): not a fault
        extensions = [c for c in unknown if c.lower().startswith("metadata.")]
        unknown = [c for c in unknown if c not in extensions]
        if extensions:
            report.warning(file, 1, "", f"Metadata extension columns are not used by the portal and are ignored: "
                           f"{', '.join(extensions[:8])}{' …' if len(extensions) > 8 else ''}.", "Nothing to do.")
        if unknown:
            report.warning(file, 1, "", f"Columns not in the OneRoster spec are ignored: {', '.join(unknown[:8])}.",
                           "Nothing to do if they are extra data; check the spelling if one of them should be read.")
        absent = [c for c in columns if c not in self.index and c not in required]
        if absent:
            report.warning(file, 1, "", f"Optional columns are missing and read as blank: {', '.join(absent)}.",
                           "Add them to the export if the SIS has that data.")
        present = [c for c in columns if c in self.index]
        if not prefixed and [self.index[c] for c in present] != sorted(self.index[c] for c in present):
            report.warning(file, 1, "", "The columns are not in the spec's order; they are read by name.",
                           "Accepted; nothing to do.")


def _separator(unknown: list[str], width: int) -> str | None:
    """What separates the values when the header reads as one unknown column joined by ; or a tab or |
    (manifest.csv's header of two columns holds one separator, users.csv's many)."""
    if len(unknown) == 1:
        for char, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if unknown[0].count(char) >= min(2, width - 1):
                return name
    return None


def read_rows(stream, file: str, columns: tuple[str, ...], required: tuple[str, ...], report: Report,
              max_line_bytes: int) -> Iterator:
    """Yields the Header once, then (line, row) per row of the right width; `line` is where the row starts."""
    batches = read_batches(stream, file, columns, required, report, max_line_bytes)
    header = next(batches, None)
    if header is None:
        return
    yield header
    for before, after, rows in batches:
        yield from checked_rows(file, header.width, before, after, rows, report)


def read_batches(stream, file: str, columns: tuple[str, ...], required: tuple[str, ...], report: Report,
                 max_line_bytes: int, size: int = 1000) -> Iterator:
    """Yields the Header once, then (before, after, rows): up to `size` rows as the csv module read them, not yet
    checked (checked_rows checks them), and the line count before and after them. A file that cannot be read on
    yields the rows before the damage first, then its problem goes to the report."""
    lines = Lines(stream, max_line_bytes)
    texts = lines.texts()
    rest = yield from _split_batches(texts, lines, file, columns, required, report, size)
    if rest is None:  # the whole file was split (or its problem reported)
        return
    offset, head, header = rest
    reader = csv.reader(string_lines(chain(head, texts)), strict=True)
    if header is None:
        try:
            header = _header(next(reader, None), lines, file, columns, required, report)
            if header is None:
                return
            yield header
        except FileUnreadable as exc:
            report.error(file, exc.line, exc.column or _column_of(header, exc.field), exc.problem, exc.what_to_do)
            return
        except csv.Error as exc:
            report.error(file, reader.line_num, "", _csv_problem(str(exc), reader.line_num), REEXPORT)
            return
    while True:
        before, rows, failed = offset + reader.line_num, [], None
        try:
            rows.extend(islice(reader, size))  # on a failure, the rows read before it stay in `rows`
        except (FileUnreadable, csv.Error) as exc:
            failed = exc
        if rows:
            after = offset + reader.line_num if failed is None else before + sum(map(_span, rows))
            yield before, after, rows
        if failed is not None:
            if isinstance(failed, FileUnreadable):
                report.error(file, failed.line, failed.column or _column_of(header, failed.field), failed.problem,
                             failed.what_to_do)
            elif "unexpected end of data" in str(failed):  # named where the quote opens, not where the file ends
                start, end = before + sum(map(_span, rows)) + 1, offset + reader.line_num
                rest = f" (to line {end:,}, the end of the file)" if end > start else ""
                report.error(file, start, "", f"A double quote in this row is never closed, so the rest of the "
                             f"file{rest} reads as one value.", "Close the quote (or remove it) in the SIS's data, "
                             "or fix the export settings, then send the bundle again.")
            else:
                line = offset + reader.line_num
                report.error(file, line, "", _csv_problem(str(failed), line), REEXPORT)
            return
        if len(rows) < size:
            return


def _header(raw: list[str] | None, lines: Lines, file: str, columns: tuple[str, ...], required: tuple[str, ...],
            report: Report) -> Header | None:
    """The file's Header from its first row; None (and the report says why) when the rows cannot be read by it."""
    if raw is None:
        report.error(file, 0, "", "The file is empty (no header row).", f"Export {file} again with its header row.")
        return None
    if lines.bom:
        report.warning(file, 1, "", "The file starts with a UTF-8 byte-order mark; it is read without it.",
                       "Nothing to do.")
    header = Header(file, raw, columns, required, report)
    return header if header.usable else None  # its errors say why; the rows would only add misleading ones


def _split_batches(texts, lines: Lines, file: str, columns, required, report: Report, size: int):
    """read_batches for the blocks that split in C into the rows the csv module would read: without a double quote,
    at commas (csv_bench.py's million users' users.csv in 0.76 s CPU where the csv module took 1.12), or with every
    value quoted and no quote inside one, at the quotes. Returns None at the end of the file, or where the csv
    module is needed: (the lines read, [the rest of the block], the Header or None), and read_batches reads on
    with the csv module from there. Rows are split a batch (or a piece of a block) at a time, so that their values
    are fresh in the CPU's cache when they are checked."""
    try:
        text = next(texts, None)
    except FileUnreadable as exc:
        return 0, _raising(exc), None  # the csv module's reading reports it, as for any file
    first = _first_line(text) if text is not None and SPLIT else None
    if first is None:
        return 0, [text] if text is not None else [], None
    raw, text = first
    header = _header(raw, lines, file, columns, required, report)
    if header is None:
        return None
    yield header
    done = 1
    while True:
        block = _lines(text) if text else []
        if block is not None:
            for at in range(0, len(block), size):
                batch = block[at:at + size]
                yield done + at, done + at + len(batch), _rows(batch)
            done += len(block)
        else:
            at = 0
            while at < len(text):
                cut = text.find("\n", at + PIECE) + 1 or len(text)
                rows = _quoted(text[at:cut], header.width)
                if rows is None:
                    return done, [text[at:]], header
                for row in range(0, len(rows), size):
                    batch = rows[row:row + size]
                    yield done + row, done + row + len(batch), batch
                done, at = done + len(rows), cut
        try:
            text = next(texts, None)
        except FileUnreadable as exc:
            report.error(file, exc.line, exc.column or _column_of(header, exc.field), exc.problem, exc.what_to_do)
            return None
        if text is None:
            return None


def _first_line(text: str) -> tuple[list[str], str] | None:
    """The header row as the csv module reads the file's first line, and the text after that line; None when the
    csv module reads it otherwise (a quoted value running on to the next line, a broken quote, a too long value:
    the csv module's error, read alone)."""
    breaks = [at for at in (text.find("\r"), text.find("\n")) if at >= 0]
    at = min(breaks) if breaks else len(text)
    line, rest = text[:at], text[at + (2 if text.startswith("\r\n", at) else 1):]
    try:
        return next(csv.reader([line], strict=True)), rest
    except csv.Error:
        return None


def _quoted(piece: str, width: int) -> list[list[str]] | None:
    """The rows of whole lines in which every value is quoted and holds no quote, line break or too many
    characters ("a","b,c"), as wide as the header and ending alike: the values between the quotes, split at
    them. None when the csv module must read them (a value unquoted, a quote doubled inside one, a blank line, a
    row of another width, the file's last line without its line end)."""
    if piece[:1] != '"':
        return None
    parts = piece.split('"')
    values, between = parts[1::2], parts[2::2]  # between: after each value, a comma or the line end
    count = len(between) // width
    if not count or len(values) != len(between) or len(between) != count * width:
        return None
    end = between[-1]
    # each row's last value followed by the line end, every other one by a comma: nothing else between them
    if end not in ("\n", "\r\n", "\r") or between[width - 1::width].count(end) != count or \
            between.count(",") != len(between) - count:
        return None
    lf, cr = piece.count("\n"), piece.count("\r")  # none inside a value: each row is one line
    if (lf, cr) != {"\n": (count, 0), "\r\n": (count, count), "\r": (0, count)}[end]:
        return None
    limit = csv.field_size_limit()
    if len(piece) >= limit and max(map(len, values)) >= limit:  # (a piece shorter than the limit: no value is not)
        return None
    return list(map(list, zip(*[iter(values)] * width)))


def _lines(text: str) -> list[str] | None:
    """A block's lines, when splitting them at commas gives the rows the csv module reads: no double quote (so no
    quoted value, line break or comma inside one), no line break that str.splitlines knows and StringIO does not
    (\v, \f, \x1c-\x1e, \x85, \u2028, \u2029), no line as long as the csv module's field limit; else None."""
    if '"' in text or any(map(text.__contains__, _OTHER_BREAKS)):
        return None
    lines = text.splitlines()
    return lines if max(map(len, lines)) < csv.field_size_limit() else None


def _rows(lines: list[str]) -> list[list[str]]:
    if "" in lines:  # a blank line is no row to the csv module (an empty list), not one empty value
        return [line.split(",") if line else [] for line in lines]
    return list(map(str.split, lines, repeat(",")))


def _raising(exc: Exception):
    raise exc
    yield  # a generator: raises when read


def _span(row: list[str]) -> int:
    """The physical lines one row took: one, plus each line break inside a quoted value (CR LF counts once)."""
    text = "".join(row)
    if "\n" not in text and "\r" not in text:
        return 1
    return 1 + sum(v.count("\n") + v.count("\r") - v.count("\r\n") for v in row)


def checked_rows(file: str, width: int, before: int, after: int, rows: list, report: Report) -> Iterator:
    """(line, row) for each row of a batch of the header's width, in order; `line` is where the row starts. The
    other rows are reported (or trimmed, with a warning, when only empty fields are extra) or, blank or only commas,
    skipped (rows of only commas told once per file)."""
    single = after - before == len(rows)  # every row on one line: no row needs its lines counted
    done = before
    for row in rows:
        line = done + 1
        done = line if single else done + _span(row)
        if not any(map(str.strip, row)):  # a blank line ([]) or only commas, of any width (Excel's leftovers)
            if row:
                report.empty_row(file, line)
            continue
        if len(row) != width:
            if len(row) > width and not any(row[width:]):
                report.warning(file, line, "", f"The row ends with {len(row) - width} empty extra field(s).",
                               "Accepted; remove the trailing commas in the export.", kind="trailing")
                del row[width:]
            else:
                report.error(file, line, "", f"The row has {len(row)} fields but the header has {width}.",
                             "Put values that contain commas in double quotes, and give every row the header's "
                             "columns.", kind="width")
                continue
        if done > line and _holds_rows(row, width):
            report.error(file, line, "", f"A double quote in this row is closed only on line {done:,}, so the "
                         f"rows between (lines {line + 1:,}-{done:,}) were read as part of one value.",
                         "Remove the stray double quote in the SIS's data (or fix the export settings), then send "
                         "the bundle again.", kind="swallowed")
            continue
        if done > line:
            report.warning(file, line, "", f"A quoted value runs over lines {line:,}-{done:,} (a line break "
                           "inside a field); it is read as one value.",
                           "Nothing to do if intended; otherwise remove the line break in the SIS.",
                           kind="multiline")
        yield line, row


def _holds_rows(row: list[str], width: int) -> bool:
    """A value with a line of its own as wide as a row (the header's commas): a stray quote swallowed the rows
    after it, not a line break typed inside a field (an address, a note)."""
    wide = max(2, width - 1)
    return any(part.count(",") >= wide for value in row if "\n" in value or "\r" in value
               for part in value.splitlines())


def _column_of(header: Header | None, field: int | None) -> str:
    """The spec's name of a row's field, once the header has been read."""
    if header is None or field is None:
        return ""
    return next((name for name, position in header.index.items() if position == field), "")


def _csv_problem(message: str, line: int) -> str:
    if "field larger than field limit" in message:
        return (f"A value is longer than {csv.field_size_limit():,} characters, more than any OneRoster field holds: a "
                "double quote is probably never closed (so the rest of the file, to line "
                f"{line:,}, reads as one value), or a column holds something other than roster data.")
    if "unexpected end of data" in message:
        return "The file ends inside a quoted value: a double quote is never closed."
    return f"The file is not valid CSV here ({message})."
