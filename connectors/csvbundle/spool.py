"""Chunks of plain tuples on a file, pickled and length-prefixed: the bundle reader's deferred students, and the
validated records that receipt keeps beside a bundle so that its runs need not read the CSV files again.

Only files this portal wrote itself are read here (a temporary file, or BUNDLE_DIR, readable by the portal's user
only); even so, unpickling allows no class but the few the records hold.
"""
import io
import pickle
import struct
from collections.abc import Iterator
from itertools import compress, repeat
from operator import itemgetter, not_

from ..records import PersonRecord

_HEAD = struct.Struct("<cQ")  # what the chunk holds (a tag byte), its length
_ALLOWED = {("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta"),
            ("connectors.records", "RecordProblem")}
KEPT_FORMAT = 2
ABOUT, PARENTS, OTHERS, ROWS = b"a", b"p", b"o", b"r"
_new = tuple.__new__
_ROLE = itemgetter(PersonRecord._fields.index("role"))


class _Records(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a records spool")
        return super().find_class(module, name)


def write_chunk(file, rows: list, tag: bytes = ROWS) -> None:
    """Append one chunk: a list of tuples of str, bool, None, datetimes and tuples of str (or RecordProblems)."""
    data = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
    file.write(_HEAD.pack(tag, len(data)))
    file.write(data)


def read_chunks(file, tag: bytes = ROWS) -> Iterator[list]:
    """The chunks with `tag`, in order, from the file's current position to its end (others are skipped)."""
    while True:
        head = file.read(_HEAD.size)
        if len(head) < _HEAD.size:
            return
        kind, size = _HEAD.unpack(head)
        if kind != tag:
            file.seek(size, io.SEEK_CUR)
            continue
        yield _Records(io.BytesIO(file.read(size))).load()


def keep_records(pages, file, about: dict) -> None:
    """Write `about` (what the records were read for), then each page's parents and others apart, as plain tuples
    (records) and problems, so that kept_pages can hand out every parent first whatever the file's order."""
    start_kept(file, about)
    for page in pages:
        keep_page(file, page)


def start_kept(file, about: dict) -> None:
    """The head of a kept-records file: what its records were read for (kept_pages compares it)."""
    write_chunk(file, [(KEPT_FORMAT, sorted(about.items()))], ABOUT)


def keep_page(file, page: list) -> None:
    """One page on a kept-records file: its parents and its others apart (several files can be written at once,
    as a district CSV source does for its mapped schools)."""
    records, problems = page, []
    if set(map(type, page)) != {PersonRecord}:
        records = [item for item in page if type(item) is PersonRecord]
        problems = [item for item in page if type(item) is not PersonRecord]
    roles = list(map(_ROLE, records))
    if "parent" in roles:
        is_parent = list(map("parent".__eq__, roles))
        write_chunk(file, [list(map(tuple, compress(records, is_parent))), []], PARENTS)
        records = list(compress(records, map(not_, is_parent)))
    write_chunk(file, [list(map(tuple, records)), problems], OTHERS)


def kept_pages(file, about: dict) -> Iterator[list] | None:
    """The pages keep_records wrote, parents first, if they were read for `about`; None when read for other
    settings (or written by another version of this code)."""
    head = next(read_chunks(file, ABOUT), None)
    if head != [(KEPT_FORMAT, sorted(about.items()))]:
        return None
    return _pages(file, file.tell())


def _pages(file, start: int) -> Iterator[list]:
    for tag in (PARENTS, OTHERS):
        file.seek(start)
        for records, problems in read_chunks(file, tag):
            yield list(map(_new, repeat(PersonRecord), records)) + problems
