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


def test_sqlite_iso_dates_are_stored_as_core_stores_the_dates():
    """A DATE column given as IsoDates (the import's SQLite path) stores what a Core insert of the dates stores;
    into a column whose processor writes other text (a DateTime), each text goes back to its date first."""
    from sqlalchemy import DateTime

    from tkitrack.schemas.bulk import IsoDates

    meta, fast, core = _tables()
    stamps = Table("stamps", meta, Column("id", Integer, primary_key=True), Column("d", DateTime))
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    days = [dt.date(2019, 7, 1), None, dt.date(1677, 9, 22), dt.date(2262, 4, 11), dt.date(2019, 7, 1)]
    with Session(engine) as session:
        insert_columns(session, fast, {"d": IsoDates([None if d is None else d.isoformat() for d in days])})
        session.execute(insert(core), [{"d": d} for d in days])
        insert_columns(session, stamps, {"d": IsoDates(["2019-07-01", None])})
        session.commit()
    with engine.connect() as conn:
        stored = [conn.execute(text(f"SELECT d, typeof(d) FROM {t} ORDER BY id")).all() for t in ("fast", "core")]
        assert stored[0] == stored[1]
        assert stored[0][:3] == [("2019-07-01", "text"), (None, "null"), ("1677-09-22", "text")]
        assert conn.execute(text("SELECT d FROM stamps ORDER BY id")).scalars().all() == [
            "2019-07-01 00:00:00.000000", None]  # fmt: skip


def test_iso_dates_on_either_back_end_store_the_days(engine):
    """insert_columns of IsoDates stores the same days on SQLite (text bound as it is) and PostgreSQL (dates)."""
    from sqlalchemy import select

    from tkitrack.schemas.bulk import IsoDates
    from tkitrack.schemas.models import RECORD_MODELS

    patient, followup = RECORD_MODELS["patient"].__table__, RECORD_MODELS["followup"].__table__
    with Session(engine) as session:
        insert_columns(session, patient, {"patient_id": ["P1"], "deleted": [False]})
        ids = insert_columns(session, followup, {"patient_id": ["P1", "P1"], "date": IsoDates(["2020-02-29", None]),
                                                 "vital_status": ["alive", "alive"], "deleted": [False, False]},
                             returning_ids=True)  # fmt: skip
        session.commit()
    with engine.connect() as conn:
        got = conn.execute(select(followup.c.id, followup.c.date).order_by(followup.c.id)).all()
    assert [tuple(r) for r in got] == [(ids[0], dt.date(2020, 2, 29)), (ids[1], None)]


def test_db_columns_iso_dates_are_each_cells_date_isoformat():
    """store._db_columns(iso_dates=True): each date cell's ``date.isoformat()`` (NaT as None), the days converted
    once each; every other column as without it."""
    import pandas as pd

    from tkitrack.schemas.bulk import IsoDates
    from tkitrack.schemas.parse import parse_records
    from tkitrack.schemas.store import _db_columns

    raw = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4", "P5"],
                        "date": ["2020-02-29", "", "2020-02", "2020-02-29", "1677-09-22"],
                        "vital_status": ["alive"] * 5, "death_date": [None, None, "2021", None, None],
                        "note": ["a", None, " b ", "", "\u00e9"]})  # fmt: skip
    frame, problems = parse_records("followup", raw)
    assert not len(problems)
    plain, iso = _db_columns("followup", frame), _db_columns("followup", frame, iso_dates=True)
    assert isinstance(iso["date"], IsoDates) and isinstance(iso["death_date"], IsoDates)
    assert iso["date"] == ["2020-02-29", None, "2020-02-29", "2020-02-29", "1677-09-22"]  # 2020-02: its last day
    assert plain["note"] == ["a", None, "b", None, "\u00e9"]  # text as str, missing (and blank) as None
    assert [type(v) for v in plain["note"]] == [str, type(None), str, type(None), str]
    for name, values in plain.items():
        if isinstance(iso[name], IsoDates):
            assert iso[name] == [None if v is None else v.isoformat() for v in values], name
        else:
            assert iso[name] == values, name


def test_sqlite_driver_error_is_raised_as_sqlalchemy_raises_it():
    """A key clash in the driver's executemany is sqlalchemy's IntegrityError (what callers catch), naming the
    driver's error; the transaction rolls back as with any failed statement."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    meta, fast, _ = _tables()
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with Session(engine) as session:
        insert_columns(session, fast, {"id": [1], "s": ["a"]})
        with pytest.raises(IntegrityError, match=r"UNIQUE constraint failed: fast\.id"):
            insert_columns(session, fast, {"id": [2, 1], "s": ["b", "c"]})
        session.rollback()
        assert session.execute(text("SELECT count(*) FROM fast")).scalar_one() == 0
