"""Bulk inserts inside the session's transaction: COPY on PostgreSQL, executemany elsewhere."""
from datetime import datetime

from sqlalchemy import Table

from store.db import db

# COPY's text format (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"): a backslash, the
# column delimiter (tab) and line breaks inside a value are written as backslash sequences; \N is NULL.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
BLOCK_CHARS = 1 << 20  # text handed to the server per write: large enough that the per-write cost vanishes


class _Unformatted(Exception):
    """A value of a type the text formatter leaves to psycopg's own adaptation."""


def _field(value) -> str:
    """COPY text of a non-string value."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is int:
        return str(value)
    if kind is datetime:
        return value.isoformat()  # with its offset when aware, as psycopg sends it
    raise _Unformatted


def copy_line(values) -> str:
    """One row as a line of COPY text (raises _Unformatted for a value type it does not know)."""
    return "\t".join([v.translate(_ESCAPES) if type(v) is str else _field(v) for v in values]) + "\n"


def bulk_insert(table: Table, rows: list[dict]) -> None:
    """Insert rows (all with the same keys) in the current transaction.

    On PostgreSQL, COPY: multi-row INSERTs make psycopg re-parse a huge statement per batch, which
    cost more than the whole fetch for 100k people. The rows are formatted as COPY text here and sent in
    large blocks: psycopg's per-value adaptation (write_row) cost ~13 µs a row, most of a first import's
    CPU after the read. A value of another type than str, int, bool, datetime or None goes through write_row.
    """
    if not rows:
        return
    columns = list(rows[0])
    bulk_insert_rows(table, columns, ([row[name] for name in columns] for row in rows))


def bulk_insert_rows(table: Table, columns: list[str], rows) -> None:
    """Insert rows given as sequences of values in `columns` order (any iterable of them)."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        batch = [dict(zip(columns, row)) for row in rows]
        if batch:
            connection.execute(table.insert(), batch)
        return
    names = ", ".join(f'"{name}"' for name in columns)
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            block, size = [], 0
            for row in rows:
                try:
                    line = copy_line(row)
                except _Unformatted:
                    if block:
                        copy.write("".join(block))
                        block, size = [], 0
                    copy.write_row(row)
                    continue
                block.append(line)
                size += len(line)
                if size >= BLOCK_CHARS:
                    copy.write("".join(block))
                    block, size = [], 0
            if block:
                copy.write("".join(block))
