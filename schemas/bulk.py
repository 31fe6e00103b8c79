"""Multi-row inserts given column-wise, at the driver's ``executemany`` speed: no ORM object and no dict per row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Connection, Table, func, insert, select, text
from sqlmodel import Session

__all__ = ["IsoDates", "bulk_cache", "insert_columns"]

#: The page cache (KiB) of a SQLite connection while :func:`bulk_cache` is in effect. SQLite's default (2 MiB)
#: spills a large insert's dirty pages (the key indexes') to the write-ahead log again and again.
BULK_CACHE_KIB = 65_536


class IsoDates(list):
    """A DATE column's values given as ``date.isoformat()`` text (None for null) instead of ``date`` objects.

    SQLite stores a date as that text (SQLAlchemy's DATE bind processor writes ``%04d-%02d-%02d``, the same), so
    :func:`insert_columns` binds it as it is when the column's processor is seen to write that text; elsewhere,
    or for another processor, each text is read back to a ``date`` first. A registry's dates repeat, so its
    caller writes each distinct day once (see ``schemas.store._db_columns``) instead of once per cell.
    """


def _as_dates(values: IsoDates) -> list:
    return [None if v is None else dt.date.fromisoformat(v) for v in values]


_PROBE_DATE = dt.date(1999, 12, 31)


@contextmanager
def bulk_cache(session: Session) -> Iterator[None]:
    """SQLite: a page cache of :data:`BULK_CACHE_KIB` for the connection while a bulk insert runs, the
    connection's own size again afterwards (it goes back to the pool); a connection whose cache is as large
    already, and other databases: nothing."""
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    before = raw.execute("PRAGMA cache_size").fetchone()[0]  # negative: KiB; positive: pages
    kib = -before if before < 0 else before * raw.execute("PRAGMA page_size").fetchone()[0] // 1024
    if kib >= BULK_CACHE_KIB:
        yield
        return
    raw.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size={int(before)}")


def _sqlite_executemany(conn: Connection, table: Table, columns: dict[str, Sequence]) -> bool:
    """Run the insert SQLAlchemy compiles for these columns once through sqlite3's ``executemany``.

    Each column type's SQLAlchemy bind processor is applied column by column, so the stored values are exactly
    those of a Core insert. Returns False, having done nothing, when the statement needs more than the given
    columns (a default computed in Python).
    """
    dialect = conn.dialect
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    order = list(compiled.positiontup or ())
    if dialect.paramstyle != "qmark" or sorted(order) != sorted(columns):
        return False
    ordered = []
    for name in order:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values = columns[name]
        if isinstance(values, IsoDates):
            if process is None or not _writes_iso_text(process):  # not SQLite's DATE: the dates themselves
                values = _as_dates(values)
            else:  # the text the processor writes for each of these days
                ordered.append(values)
                continue
        if process is None:
            ordered.append(values)
        elif _writes_iso_dates(process, values):  # the dates' own C isoformat: the processor's text, 5x faster
            iso = dt.date.isoformat
            ordered.append([None if v is None else iso(v) for v in values])
        elif _plain_booleans(process, values):  # sqlite3 binds True/False as 1/0 itself: the processor's values
            ordered.append(values)
        else:
            ordered.append([process(v) for v in values])
    _driver_executemany(conn, str(compiled), zip(*ordered, strict=True))
    return True


def _driver_executemany(conn: Connection, statement: str, rows: Iterator[tuple]) -> None:
    """sqlite3's ``executemany`` of ``rows`` on the connection's own driver connection (so in its transaction),
    fed one row tuple at a time by the iterator instead of a list holding every row's tuple at once; a driver
    error is raised as SQLAlchemy raises it for a statement (``IntegrityError`` and so on)."""
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(statement, rows)
    except sqlite3.Error as err:
        raise DBAPIError.instance(statement, None, err, sqlite3.Error) from err
    finally:
        cursor.close()


def _writes_iso_text(process) -> bool:
    """Whether ``process`` (a column's bind processor) writes a date as ``date.isoformat`` does and None as None."""
    try:
        return process(_PROBE_DATE) == _PROBE_DATE.isoformat() and process(None) is None
    except (TypeError, ValueError):
        return False


_BOOL_TYPES = frozenset({bool, type(None)})


def _plain_booleans(process, values: Sequence) -> bool:
    """Whether every value is True, False or None and ``process`` (a Boolean's bind processor) writes them as the
    integers 1, 0 and null, which is how sqlite3 binds a Python bool itself."""
    if not set(map(type, values)) <= _BOOL_TYPES:  # the types collected in C, not a Python test per value
        return False
    try:
        return (process(True), process(False), process(None)) == (1, 0, None)
    except (TypeError, ValueError):  # not a Boolean's processor (a column of nulls only of another type)
        return False


def _writes_iso_dates(process, values: Sequence) -> bool:
    """Whether ``process`` (a column's bind processor) writes a date as ``date.isoformat`` does, judged on the
    column's first value (a date: SQLite's DATE with its default storage format); None maps to None."""
    first = next((v for v in values if v is not None), None)
    if type(first) is not dt.date:
        return False
    return process(first) == first.isoformat() and process(None) is None


def _postgres_ids(conn: Connection, table: Table, n: int) -> list[int] | None:
    """``n`` new values of the sequence behind ``table.id``, ascending (None when the key has no sequence)."""
    seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar_one()
    if seq is None:
        return None
    # one row holding an array, not a row per value
    drawn = conn.execute(text("SELECT array_agg(nextval(:s)) FROM generate_series(1, :n)"), {"s": seq, "n": n})
    return sorted(drawn.scalar_one() or [])


def _postgres_copy(conn: Connection, table: Table, columns: dict[str, Sequence]) -> None:
    """``COPY table (columns) FROM STDIN`` through psycopg's copy support, on the connection's own transaction.

    Values go through psycopg's adapters (the same as for a bound parameter), row by row into the COPY stream.
    """
    import psycopg
    from psycopg import sql
    from sqlalchemy.exc import IntegrityError

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(*([table.schema] if table.schema else []), table.name),
        sql.SQL(", ").join(sql.Identifier(name) for name in columns),
    )
    driver = conn.connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in zip(*columns.values(), strict=True):
                write(row)
    except psycopg.IntegrityError as err:  # as SQLAlchemy reports it for an INSERT: callers handle one kind
        raise IntegrityError(str(statement), None, err) from err


def insert_columns(
    session: Session, table: Table, columns: dict[str, Sequence], *, returning_ids: bool = False
) -> list[int] | None:
    """Insert rows given as ``{column: values}`` (equal lengths) inside the session's transaction.

    SQLite: one driver ``executemany`` of the compiled statement; the new integer ids are the contiguous block
    SQLite assigns (largest id + 1 onwards), read back while this transaction holds the write lock.
    PostgreSQL (psycopg): the ids are drawn from the key's sequence first and the rows, ids included, go in
    through ``COPY ... FROM STDIN`` (psycopg's copy support) in the same transaction: a failure anywhere rolls
    the COPY back with everything else.
    Other databases: a Core insert (with ``RETURNING`` for the ids). Returns the new ids (``table.id``) when
    ``returning_ids``, else None.
    """
    n = len(next(iter(columns.values()))) if columns else 0
    if n == 0:
        return [] if returning_ids else None
    conn = session.connection()
    if conn.dialect.name == "sqlite" and _sqlite_executemany(conn, table, columns):
        if not returning_ids:
            return None
        last = conn.execute(select(func.max(table.c.id))).scalar_one()
        return list(range(last - n + 1, last + 1))
    columns = {k: _as_dates(v) if isinstance(v, IsoDates) else v for k, v in columns.items()}
    ids = None
    if returning_ids and conn.dialect.name == "postgresql" and "id" not in columns:
        ids = _postgres_ids(conn, table, n)
        if ids is not None:
            columns = {"id": ids, **columns}
    if (
        conn.dialect.name == "postgresql"
        and conn.dialect.driver == "psycopg"
        and (ids is not None or not returning_ids)
    ):
        _postgres_copy(conn, table, columns)
        return ids if returning_ids else None
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    if returning_ids and ids is None:
        return list(conn.execute(insert(table).returning(table.c.id), rows).scalars())
    conn.execute(insert(table), rows)
    return ids if returning_ids else None
