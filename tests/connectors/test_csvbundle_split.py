"""Blocks of a CSV file without double quotes are split at commas (connectors/csvbundle/tables.py _split_batches)
instead of being read by the csv module: the rows, the lines they are on and every problem in the report are the
csv module's, for the awkward files too, and a file goes on with the csv module from the first block that needs it.
"""
import csv
import io
import random

import pytest

from connectors.csvbundle import open_bundle, tables
from connectors.csvbundle.lines import Lines
from connectors.csvbundle.report import Report
from connectors.csvbundle.spec import COLUMNS, REQUIRED
from connectors.records import ROLES

from csv_helpers import USERS_HEADER, bundle_files, write_zip

HEADER = USERS_HEADER.encode()
KEY = ("1.1", "users.csv")


def _values(i: int, role: str = "student", **values) -> list[str]:
    fields = dict(zip(USERS_HEADER.split(","), [f"u{i}", "", "", "true", "s1", role, f"u{i}", "", f"Zoe{i}",
                                                 "Smith", "", "", f"u{i}@example.org", "", "", "", "", ""]))
    fields.update(values)
    return list(fields.values())


def _row(i: int, role: str = "student", **values) -> str:
    return ",".join(_values(i, role, **values))


def _plain(n: int, start: int = 0, end: str = "\n") -> bytes:
    return "".join(_row(i) + end for i in range(start, start + n)).encode()


def _quoted(rows: list[list[str]], end: str = "\n", quoting=csv.QUOTE_ALL) -> bytes:
    out = io.StringIO()
    csv.writer(out, quoting=quoting, lineterminator=end).writerows(rows)
    return out.getvalue().encode()


def _fields(n: int, start: int = 0, **values) -> list[list[str]]:
    return [_values(i, **values) for i in range(start, start + n)]


QUOTED_HEADER = _quoted([USERS_HEADER.split(",")])
LONG = 300  # characters: a field limit below this makes a line of _long() too long for the csv module
FILES = {
    "lf": HEADER + b"\n" + _plain(120),
    "crlf": HEADER + b"\r\n" + _plain(120, end="\r\n"),
    "cr": HEADER + b"\r" + _plain(120, end="\r"),
    "no-end": HEADER + b"\n" + _plain(30).rstrip(b"\n"),
    "header-only": HEADER,
    "empty": b"",
    "bom": b"\xef\xbb\xbf" + HEADER + b"\n" + _plain(40),
    "blank-lines": HEADER + b"\n" + _plain(30) + b"\n\n" + _plain(30, 30) + b"\r\n\r\n",
    "blank-first": b"\n" + HEADER + b"\n" + _plain(10),
    "widths": HEADER + b"\n" + _plain(40) + (_row(40) + ",x\n" + _row(41) + ",,\n" + "u42,,\n").encode()
    + _plain(40, 43),
    "quote-later": HEADER + b"\n" + _plain(80) + _row(80, givenName='"Zo\ne"').encode() + b"\n" + _plain(40, 81),
    "quote-across-blocks": HEADER + b"\n" + _plain(80) + _row(80, givenName='"Zo' + "\n" * 300 + 'e"').encode()
    + b"\n" + _plain(40, 81),
    "quote-first": _row(0, givenName='"Zoe, Ann"').encode() + b"\n" + _plain(80),
    "quote-unclosed": HEADER + b"\n" + _plain(80) + _row(80, givenName='"Zoe').encode() + b"\n" + _plain(10, 81),
    "quote-stray": HEADER + b"\n" + _plain(80) + _row(80, givenName='Zo"e').encode() + b"\n" + _plain(10, 81),
    "form-feed": HEADER + b"\n" + _plain(80) + _row(80, givenName="Zo\x0ce").encode() + b"\n" + _plain(10, 81),
    "line-separator": HEADER + b"\n" + _plain(80) + _row(80, givenName="Zo\u2028e").encode() + b"\n"
    + _plain(10, 81),
    "next-line": HEADER + b"\n" + _plain(80) + _row(80, givenName="Zo\x85e").encode() + b"\n" + _plain(10, 81),
    "long-field": HEADER + b"\n" + _plain(80) + _row(80, givenName="Z" * LONG).encode() + b"\n" + _plain(10, 81),
    "cp1252-later": HEADER + b"\n" + _plain(80) + _row(80, givenName="Zo\u00eb").encode("cp1252") + b"\n"
    + _plain(10, 81),
    "cp1252-header": HEADER.replace(b"givenName", b"g\xe9venName") + b"\n" + _plain(10),
    "nul-later": HEADER + b"\n" + _plain(80) + b"u80,\x00\n" + _plain(10, 81),
    "too-long-later": HEADER + b"\n" + _plain(80) + b"u80," + b"x" * 5000 + b"\n" + _plain(10, 81),
    "binary": b"PK\x03\x04" + b"\x00" * 50,
    "quoted-all": QUOTED_HEADER + _quoted(_fields(120, familyName="Smith, Jr.")),
    "quoted-crlf": QUOTED_HEADER.replace(b"\n", b"\r\n") + _quoted(_fields(120), end="\r\n"),
    "quoted-rows": HEADER + b"\n" + _quoted(_fields(120)),
    "quoted-empty-and-commas": QUOTED_HEADER + _quoted(_fields(60) + [["u60", ",", "", ",a", "b,", ",,"] + [""] * 12]
                                                       + _fields(60, 61)),
    "quoted-comma-first": QUOTED_HEADER + _quoted(_fields(60) + [[",u60"] + [""] * 17] + _fields(60, 61)),
    "quoted-inner-quote": QUOTED_HEADER + _quoted(_fields(80) + _fields(1, 80, givenName='Zo"e') + _fields(40, 81)),
    "quoted-line-break": QUOTED_HEADER + _quoted(_fields(80) + _fields(1, 80, givenName="Zo\r\ne") + _fields(40, 81)),
    "quoted-break-across-blocks": QUOTED_HEADER + _quoted(_fields(80) + _fields(1, 80, givenName="Z" + "\n" * 300)
                                                          + _fields(40, 81)),
    "quoted-some": QUOTED_HEADER + _quoted(_fields(80)) + _plain(40, 80) + _quoted(_fields(40, 120)),
    "quoted-minimal": HEADER + b"\n" + _quoted(_fields(80, familyName="Smith, Jr."), quoting=csv.QUOTE_MINIMAL),
    "quoted-minimal-crlf": HEADER + b"\r\n" + _quoted(_fields(80, familyName="Smith, Jr."), "\r\n",
                                                  csv.QUOTE_MINIMAL),
    "quoted-lone-quote": QUOTED_HEADER + _quoted(_fields(80)) + b'"\n"a"b"\n' + _quoted(_fields(40, 82)),
    "quoted-overlap-end": QUOTED_HEADER + _quoted(_fields(80)) + b'"a","\n"x"y"\n' + _quoted(_fields(40, 82)),
    "quoted-overlap-start": QUOTED_HEADER + _quoted(_fields(80)) + b'","a"\n"x"y"\n' + _quoted(_fields(40, 82)),
    # the same at a block's first or last line (the first row after the header, the file's last line)
    "quoted-overlap-first": QUOTED_HEADER + b'","a"\n"x"y"\n' + _quoted(_fields(40, 2)),
    "quoted-overlap-last": QUOTED_HEADER + _quoted(_fields(40)) + b'"x"y"\n"a","',  # no line end
    "quoted-lone-quote-first": QUOTED_HEADER + b'"\n"a"b"\n' + _quoted(_fields(40, 2)),
    "quoted-unquoted-first": QUOTED_HEADER + b'x","y"\n"p"q"\n' + _quoted(_fields(40, 2)),
    "quoted-unquoted-last": QUOTED_HEADER + _quoted(_fields(40)) + b'"p"q"\n"y","x\n',
    "quoted-unquoted-prefix": QUOTED_HEADER + b"extra," + _quoted(_fields(1)) + _quoted(_fields(40, 1)),
    "quoted-short-row": QUOTED_HEADER + _quoted(_fields(40) + [_values(40)[:-1]] + _fields(40, 41)),
    "quoted-long-row": QUOTED_HEADER + _quoted(_fields(40) + [_values(40) + ["x"]] + _fields(40, 41)),
    "quoted-comma-space": QUOTED_HEADER + _quoted(_fields(40)) + b'"u40", "x"\n' + _quoted(_fields(40, 41)),
    "quoted-no-end": QUOTED_HEADER + _quoted(_fields(40)).rstrip(b"\n"),
    "quoted-long-header": _quoted([USERS_HEADER.split(",") + ["x" * LONG]]) + _quoted(_fields(40)),
    "quoted-bad-late": QUOTED_HEADER + _quoted(_fields(700)) + b'"u700","Zo""e"\n' + _quoted(_fields(40, 701)),
    "quoted-short-then-long": QUOTED_HEADER + _quoted(_fields(40) + [_values(40)[:-1], _values(41) + ["x"]]
                                                      + _fields(40, 42)),
    "quoted-space-between": QUOTED_HEADER + _quoted(_fields(40)) + _quoted(_fields(1, 40)).replace(b'","', b'", "', 1)
    + _quoted(_fields(40, 41)),
    "quoted-blank-line": QUOTED_HEADER + _quoted(_fields(80)) + b"\n" + _quoted(_fields(40, 80)),
    "quoted-space-after": QUOTED_HEADER + _quoted(_fields(80)) + b'"u80" ,"x"\n' + _quoted(_fields(40, 81)),
    "quoted-open-header": b'"sourcedId,' + HEADER + b"\n" + _plain(20),
    "quoted-long-field": QUOTED_HEADER + _quoted(_fields(80) + _fields(1, 80, givenName="Z" * LONG)
                                                 + _fields(10, 81)),
}


def _read(data: bytes, split: bool, block: int, monkeypatch, piece: int = tables.PIECE) -> tuple:
    """What read_rows gives (the header's columns, then each (line, row)) and the report, with blocks of `block`
    bytes (quoted ones split `piece` characters at a time); and how many batches were split."""
    split_batches = []
    with monkeypatch.context() as m:
        m.setattr(tables, "SPLIT", split)
        m.setattr(tables, "PIECE", piece)
        m.setattr(tables, "Lines", lambda stream, max_line: Lines(stream, max_line, block))
        rows, quoted = tables._rows, tables._quoted
        m.setattr(tables, "_rows", lambda lines: split_batches.append(len(lines)) or rows(lines))

        def counted(piece, width):
            got = quoted(piece, width)
            if got is not None:
                split_batches.append(len(got))
            return got
        m.setattr(tables, "_quoted", counted)
        report = Report()
        got = [item.index if isinstance(item, tables.Header) else item
               for item in tables.read_rows(io.BytesIO(data), "users.csv", COLUMNS[KEY], REQUIRED[KEY], report,
                                            4096)]
    return (got, [p.row() for p in report.all()]), len(split_batches)


SPLIT_SOME = ("lf", "crlf", "cr", "blank-lines", "widths", "quoted-all", "quoted-crlf", "quoted-rows",
              "quoted-empty-and-commas", "quoted-comma-first")


@pytest.fixture
def field_limit():
    """The csv module's field limit (process-wide) lowered below the line of FILES["long-field"]."""
    before = csv.field_size_limit(LONG - 10)
    yield
    csv.field_size_limit(before)


@pytest.mark.parametrize("block,piece", [(64, tables.PIECE), (700, tables.PIECE), (1 << 20, tables.PIECE),
                                         (1 << 20, 300)])
@pytest.mark.parametrize("name", list(FILES))
def test_split_blocks_read_what_the_csv_module_reads(monkeypatch, field_limit, name, block, piece):
    split, used = _read(FILES[name], True, block, monkeypatch, piece)
    assert split == _read(FILES[name], False, block, monkeypatch)[0]
    if name in SPLIT_SOME or name.endswith("-later") and block < len(FILES[name]):
        assert used  # some of it was split: the comparison is not of the csv module with itself


def test_the_csv_modules_limit_is_read_where_it_applies(monkeypatch, field_limit):
    """A line longer than the csv module's field limit goes to the csv module, which names it."""
    (got, problems), _ = _read(FILES["long-field"], True, 1 << 20, monkeypatch)
    assert [p[2] for p in problems] == [82] and "longer than 290 characters" in problems[0][4]
    assert len(got) == 1 + 80


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_bundle_without_quotes_validates_and_reads_the_same_split(monkeypatch, tmp_path, seed):
    """Dirty rows (blank lines, repeated ids, unknown orgs and roles, wrong widths, dates, CR LF) in a bundle that
    is split: the same report, users and pages as read by the csv module."""
    rng = random.Random(seed)
    rows = []
    for i in range(600):
        kind = rng.random()
        role = "student" if kind < 0.5 else rng.choice(["parent", "guardian", "teacher", "Wizard" if seed else ""])
        values = {"agentSourcedIds": f"u{i + rng.randint(-20, 20)}" if role == "student" else "",
                  "orgSourcedIds": rng.choice(["s1", "s1", "s2", "s404"]),
                  "dateLastModified": rng.choice(["", "2026-01-05T08:00:00Z", "someday"])}
        if rng.random() < 0.05:
            values["sourcedId"] = f"u{rng.randint(0, i)}"
        line = _row(i, role, **values)
        rows.append(rng.choice([line, line, line, line + ",x", "", line]))
    text = USERS_HEADER + "\r\n" + "\r\n".join(rows) + "\r\n"
    path = write_zip(tmp_path / "b.zip", bundle_files(text))
    results = []
    for split in (True, False):
        with monkeypatch.context() as m:
            m.setattr(tables, "SPLIT", split)
            with open_bundle(path) as bundle:
                report = bundle.validate()
                validated = ([p.row() for p in report.all()], dict(report.counts), bundle.users_read)
            with open_bundle(path) as bundle:
                pages = []
                try:
                    pages.extend(bundle.iter_roster("s1", set(ROLES), page_size=50))
                except Exception as exc:  # noqa: BLE001 - BundleInvalid after the pages: compared like them
                    pages.append(repr(exc))
                results.append((validated, pages, [p.row() for p in bundle.report.all()]))
    assert results[0] == results[1]
    assert results[0][0][0]  # the report names problems: the dirty rows were read, both ways
