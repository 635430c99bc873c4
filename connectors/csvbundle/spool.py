"""Chunks of plain tuples on a file, pickled and length-prefixed: the bundle reader's deferred students, and the
validated records that receipt keeps beside a bundle so that its runs need not read the CSV files again.

Only files this portal wrote itself are read here (a temporary file, or BUNDLE_DIR, readable by the portal's user
only); even so, unpickling allows no class but the few the records hold.
"""
import io
import pickle
import struct
from collections.abc import Iterator
from itertools import repeat

from ..records import PersonRecord

_LENGTH = struct.Struct("<Q")
_ALLOWED = {("datetime", "datetime"), ("datetime", "timezone"), ("datetime", "timedelta"),
            ("connectors.records", "RecordProblem")}
KEPT_FORMAT = 1
_new = tuple.__new__


class _Records(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a records spool")
        return super().find_class(module, name)


def write_chunk(file, rows: list) -> None:
    """Append one chunk: a list of tuples of str, bool, None, datetimes and tuples of str (or RecordProblems)."""
    data = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
    file.write(_LENGTH.pack(len(data)))
    file.write(data)


def read_chunks(file) -> Iterator[list]:
    """The chunks written by write_chunk, in order, from the file's current position to its end."""
    while True:
        head = file.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return
        (size,) = _LENGTH.unpack(head)
        yield _Records(io.BytesIO(file.read(size))).load()


def keep_records(pages, file, about: dict) -> None:
    """Write `about` (what the records were read for), then each page as (record tuples, problems)."""
    write_chunk(file, [(KEPT_FORMAT, sorted(about.items()))])
    for page in pages:
        records = [tuple(item) for item in page if type(item) is PersonRecord]
        write_chunk(file, [records, [item for item in page if type(item) is not PersonRecord]])


def kept_pages(file, about: dict) -> Iterator[list] | None:
    """The pages keep_records wrote, if they were read for `about`; None when they were read for something else."""
    chunks = read_chunks(file)
    head = next(chunks, None)
    if head != [(KEPT_FORMAT, sorted(about.items()))]:
        return None
    return (list(map(_new, repeat(PersonRecord), records)) + problems for records, problems in chunks)

