"""Bulk inserts inside the session's transaction: COPY on PostgreSQL, executemany elsewhere."""
from sqlalchemy import Table

from store.db import db


def bulk_insert(table: Table, rows: list[dict]) -> None:
    """Insert rows (all with the same keys) in the current transaction."""
    if rows:
        columns = list(rows[0])
        bulk_insert_rows(table, columns, [[row[name] for name in columns] for row in rows])


def bulk_insert_rows(table: Table, columns, rows) -> None:
    """Insert rows given as value sequences in `columns` order (a big insert builds no dict per row).

    On PostgreSQL, COPY: multi-row INSERTs make psycopg re-parse a huge statement per batch, which
    cost more than the whole fetch for 100k people. psycopg's write_row (C) formats a row faster than
    Python string work can (measured: 140k person rows 1.6 s against 3.1 s with str.translate).
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        batch = [dict(zip(columns, row)) for row in rows]
        if batch:
            connection.execute(table.insert(), batch)
        return
    names = ", ".join(f'"{name}"' for name in columns)
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            write = copy.write_row
            for row in rows:
                write(row)
