"""Bulk inserts inside the session's transaction: COPY on PostgreSQL, executemany elsewhere."""
from sqlalchemy import Table

from store.db import db


def bulk_insert(table: Table, rows: list[dict]) -> None:
    """Insert rows (all with the same keys) in the current transaction.

    On PostgreSQL, COPY: multi-row INSERTs make psycopg re-parse a huge statement per batch, which
    cost more than the whole fetch for 100k people.
    """
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    names = ", ".join(f'"{name}"' for name in columns)
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[name] for name in columns])
