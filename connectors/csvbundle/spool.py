"""Records on a file in chunks, column by column: the bundle reader's deferred students, and the validated records
that receipt keeps beside a bundle so that its runs need not read the CSV files again.

A chunk holds its records' fields as columns (marshal): each text column as one string with NUL between the values
(NUL never comes out of a CSV file: lines.py refuses it), the few-valued columns (role, grades, status, enabled,
orgs, dates, SIS role) as each distinct value once and an array of codes, so that reading it back shares one object
per value, as pickle's memo did. Measured against pickled tuples at 200,000 users (benchmarks/csv_bench.py's
bundle, same minutes): writing a quarter less CPU, reading back about the same, the file a quarter smaller; deferred
students are spooled straight from the columns the batch reader built, without a tuple per record. marshal builds
nothing but plain values; problems (rare) are pickled beside them, and unpickling allows no class but
RecordProblem. Only files this portal wrote itself are read here (a temporary file, or BUNDLE_DIR, readable by the
portal's user only).
"""
import io
import marshal
import pickle
import struct
from array import array
from collections.abc import Iterator
from datetime import datetime
from itertools import chain, compress, islice
from operator import not_

from ..records import PersonColumns, PersonRecord

_HEAD = struct.Struct("<cQ")  # what the chunk holds (a tag byte), its length
_ALLOWED = {("connectors.records", "RecordProblem")}
KEPT_FORMAT = 4  # 4: records gained org_roles
ABOUT, PARENTS, OTHERS, ROWS = b"a", b"p", b"o", b"r"
_FIELDS = PersonRecord._fields
_DATE = _FIELDS.index("date_last_modified")
_AGENTS = _FIELDS.index("agent_ids")
SEP = "\x00"  # between the values of a text column: never in a value read from CSV (lines.py refuses NUL bytes)
# columns with few distinct values: kept as those values and an array of codes
_CODED = frozenset(_FIELDS.index(f) for f in ("role", "grades", "status", "enabled", "school_ids",
                                              "date_last_modified", "sis_role", "legacy_id", "org_roles"))
_MARSHAL = 4


class _Records(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a records spool")
        return super().find_class(module, name)


def _joined(values) -> str | None:
    """The values as one text with SEP between them, or None when one of them is not text or holds SEP."""
    try:
        text = SEP.join(values)
    except TypeError:
        return None
    return text if text.count(SEP) == len(values) - 1 or not values else None


def pack_columns(columns: list, count: int, problems: list = ()) -> bytes:
    """One chunk's bytes: `count` records given as their fields' columns (PersonRecord field order), and problems."""
    packed = []
    for i, column in enumerate(columns):
        if i in _CODED:
            if i == _DATE:  # by identity: equal instants in other time zones stay apart (and the reader shares them)
                distinct = dict(zip(map(id, column), column))
                codes = dict(zip(distinct, range(len(distinct))))
                values = [when.isoformat() if when is not None else "" for when in distinct.values()]
                column = map(id, column)
            else:  # most chunks hold one value (by identity: the reader shares them) and skip hashing each
                first = column[0] if column else None
                values = [first] if column and column.count(first) == len(column) else list(set(column))
                codes = dict(zip(values, range(len(values))))
            if len(values) == 1:  # the same for every record (a school's orgs, status, ...): no codes
                packed.append(("1", values[0]))
            else:
                packed.append(("c", values, array("I", map(codes.__getitem__, column)).tobytes()))
            continue
        text = None
        if i == _AGENTS:
            flat = list(chain.from_iterable(column))
            text = _joined(flat)
            if text is not None:
                packed.append(("t", text, len(flat), array("I", map(len, column)).tobytes()))
                continue
        else:
            text = _joined(column)
            if text is not None:
                packed.append(("s", text))
                continue
        packed.append(("m", list(column)))
    data = marshal.dumps((count, packed), _MARSHAL)
    extra = pickle.dumps(list(problems), protocol=pickle.HIGHEST_PROTOCOL) if problems else b""
    return struct.pack("<Q", len(data)) + data + extra


def pack(records: list, problems: list = ()) -> bytes:
    """Records (PersonRecords, or plain tuples in their field order) and problems as one chunk's bytes."""
    return pack_columns(list(zip(*records)), len(records), problems)


def _column(i: int, count: int, packed) -> list:
    kind = packed[0]
    if kind == "1" and i in _CODED:
        value = packed[1]
        if i == _DATE:
            value = datetime.fromisoformat(value) if value else None
        return [value] * count
    if kind == "c" and i in _CODED:
        values, codes = packed[1], array("I", packed[2])
        if i == _DATE:
            values = [datetime.fromisoformat(when) if when else None for when in values]
        return list(map(values.__getitem__, codes))
    if kind == "s" and type(packed[1]) is str:
        return packed[1].split(SEP) if count else []
    if kind == "t" and i == _AGENTS and type(packed[1]) is str:
        flat = packed[1].split(SEP) if packed[2] else []
        lengths = array("I", packed[3])
        if len(flat) == count and 0 not in lengths:  # one agent each
            return list(zip(flat))
        items = iter(flat)
        return [(next(items),) if n == 1 else tuple(islice(items, n)) for n in lengths]
    if kind == "m" and type(packed[1]) is list:
        return packed[1]
    raise ValueError("not a records chunk")


def unpack_columns(data: bytes) -> PersonColumns:
    """A chunk's records as columns (each a list of its own), with its problems."""
    (size,) = struct.unpack_from("<Q", data)
    count, packed = marshal.loads(memoryview(data)[8:8 + size])
    if type(count) is not int or type(packed) is not list or len(packed) not in (0, len(_FIELDS)):
        raise ValueError("not a records chunk")
    columns = [_column(i, count, column) for i, column in enumerate(packed)] or [[] for _ in _FIELDS]
    if any(len(column) != count for column in columns):
        raise ValueError("not a records chunk")
    problems = _Records(io.BytesIO(data[8 + size:])).load() if len(data) > 8 + size else []
    return PersonColumns(columns, count, problems)


def unpack(data: bytes) -> tuple[list[PersonRecord], list]:
    """A chunk's (records, problems), as pack got them."""
    page = unpack_columns(data)
    return page.records(), page.problems


def write_chunk(file, records: list, problems: list = (), tag: bytes = ROWS) -> None:
    """Append one chunk of records (and problems) with `tag`."""
    data = pack(records, problems)
    file.write(_HEAD.pack(tag, len(data)))
    file.write(data)


def write_columns(file, columns: list, count: int, tag: bytes = ROWS, problems: list = ()) -> None:
    """Append one chunk of `count` records given as their fields' columns (and problems)."""
    data = pack_columns(columns, count, problems)
    file.write(_HEAD.pack(tag, len(data)))
    file.write(data)


def _chunks(file, tag: bytes) -> Iterator[bytes]:
    """The bytes of the chunks with `tag`, in order, from the file's current position to its end."""
    while True:
        head = file.read(_HEAD.size)
        if len(head) < _HEAD.size:
            return
        kind, size = _HEAD.unpack(head)
        if kind != tag:
            file.seek(size, io.SEEK_CUR)
            continue
        yield file.read(size)


def read_chunks(file, tag: bytes = ROWS) -> Iterator[tuple[list[PersonRecord], list]]:
    """(records, problems) of the chunks with `tag`, in order, from the file's current position to its end."""
    return map(unpack, _chunks(file, tag))


def keep_records(pages, file, about: dict) -> None:
    """Write `about` (what the records were read for), then each page's parents and others apart, so that
    kept_pages can hand out every parent first whatever the file's order."""
    start_kept(file, about)
    for page in pages:
        keep_page(file, page)


def _about(about: dict) -> bytes:
    return marshal.dumps((KEPT_FORMAT, sorted(about.items())), _MARSHAL)


def start_kept(file, about: dict) -> None:
    """The head of a kept-records file: what its records were read for (kept_pages compares it)."""
    data = _about(about)
    file.write(_HEAD.pack(ABOUT, len(data)))
    file.write(data)


def keep_page(file, page: list) -> None:
    """One page on a kept-records file: its parents and its others apart (several files can be written at once,
    as a district CSV source does for its mapped schools)."""
    records, problems = page, []
    if set(map(type, page)) != {PersonRecord}:
        records = [item for item in page if type(item) is PersonRecord]
        problems = [item for item in page if type(item) is not PersonRecord]
    keep_column_page(file, [list(column) for column in zip(*records)] or [[] for _ in _FIELDS], problems)


def keep_columns(pages, file, about: dict) -> None:
    """keep_records for pages of columns (CsvBundle.iter_roster(columns=True)): the same file, written without a
    PersonRecord per user."""
    start_kept(file, about)
    for columns, problems in pages:
        keep_column_page(file, columns, problems)


def keep_column_page(file, columns: list, problems: list = ()) -> None:
    """keep_page for one page given as its records' columns (lists, PersonRecord field order) and its problems."""
    roles = columns[_FIELDS.index("role")]
    if "parent" in roles:
        is_parent = list(map("parent".__eq__, roles))
        parents = [list(compress(column, is_parent)) for column in columns]
        write_columns(file, parents, len(parents[0]), PARENTS)
        others = list(map(not_, is_parent))
        columns = [list(compress(column, others)) for column in columns]
    write_columns(file, columns, len(columns[0]), OTHERS, problems)


def kept_pages(file, about: dict, page_size: int = 0, *, columns: bool = False
               ) -> Iterator[list] | Iterator[PersonColumns] | None:
    """The pages keep_records wrote, parents first, if they were read for `about`; None when read for other
    settings (or written by another version of this code). `page_size`: consecutive chunks handed out together
    until a page holds at least that many items (0: a page per chunk as written). `columns`: each page as
    PersonColumns (the same items in the same order; a page holds parents only or no parents, and ends after a
    chunk with problems, so that its problems stay after the records before them)."""
    head = next(_chunks(file, ABOUT), None)
    try:
        if head is None or marshal.loads(head) != marshal.loads(_about(about)):
            return None
    except (ValueError, EOFError, TypeError):  # an older format's head (pickled)
        return None
    return (_column_pages if columns else _pages)(file, file.tell(), page_size)


def _pages(file, start: int, page_size: int) -> Iterator[list]:
    page = []
    for tag in (PARENTS, OTHERS):
        file.seek(start)
        for records, problems in read_chunks(file, tag):
            page += records
            page += problems
            if len(page) >= page_size:
                yield page
                page = []
    if page:
        yield page


def _column_pages(file, start: int, page_size: int) -> Iterator[PersonColumns]:
    for tag in (PARENTS, OTHERS):
        file.seek(start)
        page = None
        for chunk in map(unpack_columns, _chunks(file, tag)):
            if page is None:
                page = chunk
            else:
                for column, more in zip(page.columns, chunk.columns):
                    column += more
                page.count += chunk.count
                page.problems += chunk.problems
            if len(page) >= page_size or page.problems:
                yield page
                page = None
        if page is not None and len(page):
            yield page
