"""insert_columns on SQLite stores exactly what a SQLAlchemy Core insert stores (its fast date path included)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Column, Date, Float, Integer, MetaData, String, Table, create_engine, insert, text
from sqlmodel import Session

from tkitrack.schemas.bulk import insert_columns


def _tables():
    meta = MetaData()
    cols = lambda: [Column("id", Integer, primary_key=True), Column("d", Date), Column("f", Float),  # noqa: E731
                    Column("b", Boolean), Column("s", String)]  # fmt: skip
    return meta, Table("fast", meta, *cols()), Table("core", meta, *cols())


def test_sqlite_insert_columns_stores_what_core_stores():
    meta, fast, core = _tables()
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    # a date first (the fast path is chosen on it), then null, a datetime (stored as its date), year 33 (padded)
    values = {"d": [dt.date(2019, 7, 1), None, dt.datetime(2020, 1, 2, 3, 4), dt.date(33, 1, 2)],
              "f": [200, None, 1.5, 0.0], "b": [True, False, None, True], "s": ["a", None, "é", ""]}  # fmt: skip
    with Session(engine) as session:
        assert insert_columns(session, fast, values, returning_ids=True) == [1, 2, 3, 4]
        session.execute(
            insert(core), [dict(zip(values, row, strict=True)) for row in zip(*values.values(), strict=True)]
        )
        session.commit()
    with engine.connect() as conn:
        stored = [conn.execute(text(f"SELECT d, typeof(d), f, typeof(f), b, s, typeof(b) FROM {t} ORDER BY id")).all()
                  for t in ("fast", "core")]  # fmt: skip
    assert stored[0] == stored[1]
    assert [r[0] for r in stored[0]] == ["2019-07-01", None, "2020-01-02", "0033-01-02"]
    assert [(r[4], r[5], r[6]) for r in stored[0]] == [
        (1, "a", "integer"),
        (0, None, "integer"),
        (None, "é", "null"),
        (1, "", "integer"),
    ]


def test_sqlite_booleans_other_than_true_and_false_go_through_the_processor():
    import pytest
    from sqlalchemy.exc import StatementError

    meta, fast, _ = _tables()
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with Session(engine) as session, pytest.raises((StatementError, TypeError, ValueError)):
        insert_columns(session, fast, {"b": [True, 2]})  # the processor refuses 2, as a Core insert does


def test_sqlite_dates_not_first_in_the_column_still_go_through_the_processor():
    meta, fast, _ = _tables()
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with Session(engine) as session:
        insert_columns(session, fast, {"d": [None, None, dt.date(2019, 7, 1)]})
        insert_columns(session, fast, {"d": [None, None], "f": [None, None], "b": [None, None]})  # nulls only
        session.commit()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT d FROM fast ORDER BY id")).scalars().all() == [None, None, "2019-07-01",
                                                                                         None, None]  # fmt: skip


def test_bulk_cache_raises_sqlite_page_cache_for_the_block_only():
    import pytest

    from tkitrack.schemas.bulk import BULK_CACHE_KIB, bulk_cache

    engine = create_engine("sqlite://")
    with Session(engine) as session:
        raw = session.connection().connection.dbapi_connection
        raw.execute("PRAGMA cache_size=-3000")
        with bulk_cache(session):
            assert raw.execute("PRAGMA cache_size").fetchone()[0] == -BULK_CACHE_KIB
        assert raw.execute("PRAGMA cache_size").fetchone()[0] == -3000
        with pytest.raises(RuntimeError), bulk_cache(session):  # restored when the insert fails too
            raise RuntimeError("insert failed")
        assert raw.execute("PRAGMA cache_size").fetchone()[0] == -3000
        raw.execute(f"PRAGMA cache_size={BULK_CACHE_KIB // 2}")  # pages of 4 KiB: twice the bulk size, kept
        with bulk_cache(session):
            assert raw.execute("PRAGMA cache_size").fetchone()[0] == BULK_CACHE_KIB // 2
