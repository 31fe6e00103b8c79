"""Tests for the locking side of tkitrack.schemas.storage: WAL and busy timeout on SQLite, lock_timeout on
PostgreSQL, readers never locked out by a writer, and a writer that waited too long told so plainly."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from tkitrack.schemas.errors import BusyError, ConfigError
from tkitrack.schemas.storage import LOCK_TIMEOUT_DEFAULT, lock_timeout, make_engine, transaction

RAW_LOCK_TEXT = ("database is locked", "Traceback", "OperationalError", "LockNotAvailable", "internal error")


def _settings(url: str) -> tuple:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return (conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                        conn.exec_driver_sql("PRAGMA busy_timeout").scalar())  # fmt: skip
            return ("postgresql", conn.execute(text("SHOW lock_timeout")).scalar())
    finally:
        engine.dispose()


def test_the_lock_timeout_is_30_seconds_unless_set(monkeypatch, db_url):
    assert LOCK_TIMEOUT_DEFAULT == 30.0 == lock_timeout()
    expected = ("wal", 30000) if db_url.startswith("sqlite") else ("postgresql", "30s")
    assert _settings(db_url) == expected
    monkeypatch.setenv("TKITRACK_LOCK_TIMEOUT", "2.5")
    expected = ("wal", 2500) if db_url.startswith("sqlite") else ("postgresql", "2500ms")
    assert _settings(db_url) == expected


@pytest.mark.parametrize("value", ["0", "-1", "soon", "86400.5", "nan"])
def test_a_lock_timeout_that_is_not_a_number_of_seconds_is_refused(monkeypatch, value):
    monkeypatch.setenv("TKITRACK_LOCK_TIMEOUT", value)
    with pytest.raises(ConfigError) as caught:
        make_engine("sqlite:///:memory:")
    assert str(caught.value) == f"TKITRACK_LOCK_TIMEOUT must be a number of seconds between 0 and 86400, got {value!r}"


def test_the_largest_lock_timeout_is_a_day(monkeypatch):
    monkeypatch.setenv("TKITRACK_LOCK_TIMEOUT", "86400")
    assert lock_timeout() == 86400.0


class _Writer:
    """Another user's long write, held open: on SQLite 200,000 uncommitted rows (more than the page cache, so a
    rollback journal would lock readers out), on PostgreSQL an uncommitted patient and the audit chain head."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self):
        if self.url.startswith("sqlite"):
            self.conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("CREATE TABLE scratch (x BLOB)")
            self.conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "
                              "INSERT INTO scratch SELECT randomblob(100) FROM n")  # fmt: skip
        else:
            self.engine = make_engine(self.url)
            self.conn = self.engine.connect()
            self.conn.begin()
            self.conn.execute(text("INSERT INTO patient (patient_id, deleted) VALUES ('HELD', false)"))
            self.conn.execute(text("SELECT * FROM audit_head FOR UPDATE"))
        return self

    def __exit__(self, *exc) -> None:
        self.conn.rollback() if not self.url.startswith("sqlite") else self.conn.execute("ROLLBACK")
        self.conn.close()
        if not self.url.startswith("sqlite"):
            self.engine.dispose()


def test_a_write_waiting_for_a_lock_gives_up_plainly_and_readers_are_never_locked_out(cli, db_url, monkeypatch):
    assert (
        cli("patient", "add", "P1", "--sex", "F", "--diagnosis-date", "2019-01-10", "--histology", "IMT").exit_code == 0
    )
    monkeypatch.setenv("TKITRACK_LOCK_TIMEOUT", "1.5")
    with _Writer(db_url):
        started = time.monotonic()
        result = cli("patient", "add", "P2", "--sex", "M", "--diagnosis-date", "2019-02-10", "--histology", "IMT")
        waited = time.monotonic() - started
        # meanwhile every reader goes on: a listing, the audit trail and its check
        listing = cli("patient", "list", "--format", "csv")
        verify = cli("audit", "verify")
    assert result.exit_code == 1, result.output
    assert result.output == (
        "error: the database is busy: another change held "
        + ("the write lock" if db_url.startswith("sqlite") else "a lock")
        + " for more than 1.5 s, so this one gave up and nothing was written. Try again in a moment; a long import "
        "may be running (set TKITRACK_LOCK_TIMEOUT to wait longer)\n"
    )
    assert 1.5 <= waited < 15
    assert not any(raw in result.output for raw in RAW_LOCK_TEXT)
    assert listing.exit_code == 0 and "P1" in listing.output and "HELD" not in listing.output
    assert verify.exit_code == 0, verify.output
    assert cli("patient", "list", "--format", "csv").output.count("\nP") == 1  # P2 was not written


def test_an_edit_waits_for_the_other_writer_then_goes_through(engine, db_url, cli):
    assert (
        cli("patient", "add", "P1", "--sex", "F", "--diagnosis-date", "2019-01-10", "--histology", "IMT").exit_code == 0
    )
    results = {}

    def edit():
        results["edit"] = cli("patient", "edit", "P1", "--sex", "M", "--reason", "typo")

    held = _Writer(db_url).__enter__()
    thread = threading.Thread(target=edit)
    thread.start()
    time.sleep(1.5)
    assert thread.is_alive()  # waiting for the lock, not refused
    held.__exit__()
    thread.join(60)
    assert results["edit"].exit_code == 0, results["edit"].output
    assert results["edit"].output == "patient P1: sex F -> M\n"


def test_a_busy_error_inside_a_transaction_is_a_busy_error(engine, db_url, cli, monkeypatch):
    assert (
        cli("patient", "add", "P1", "--sex", "F", "--diagnosis-date", "2019-01-10", "--histology", "IMT").exit_code == 0
    )
    monkeypatch.setenv("TKITRACK_LOCK_TIMEOUT", "0.5")
    short = make_engine(db_url)
    try:
        with _Writer(db_url), pytest.raises(BusyError, match=r"for more than 0\.5 s"), transaction(short) as session:
            if db_url.startswith("sqlite"):
                session.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (7, 0, 'x')"))
            else:
                session.execute(text("SELECT * FROM audit_head FOR UPDATE"))
    finally:
        short.dispose()
