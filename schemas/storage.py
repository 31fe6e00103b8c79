"""The database: URL resolution, engines, one-transaction sessions, and schema migrations (alembic)."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from tkitrack.schemas.errors import BusyError, ConfigError

if TYPE_CHECKING:  # sqlmodel is imported where a session is opened (a timeline reads with Core alone)
    from sqlmodel import Session

__all__ = [
    "DEFAULT_URL",
    "LOCK_TIMEOUT_DEFAULT",
    "busy_error",
    "core_transaction",
    "current_revision",
    "head_revision",
    "lock_for_write",
    "lock_timeout",
    "make_engine",
    "redact_url",
    "require_current",
    "resolve_url",
    "schema_head",
    "stored_revision",
    "transaction",
    "upgrade",
]

DEFAULT_URL = "sqlite:///tkitrack.db"
#: Seconds a write waits for another writer's lock before it gives up (``$TKITRACK_LOCK_TIMEOUT`` overrides).
LOCK_TIMEOUT_DEFAULT = 30.0
#: SQLite: how long one try for the write lock waits before the next (see :func:`lock_for_write`).
_SQLITE_TRY_MS = 20
#: PostgreSQL SQLSTATEs of a write that waited too long or was chosen to break a deadlock.
_PG_BUSY = {"55P03": "lock_not_available", "40P01": "deadlock_detected", "57014": "query_canceled"}


def resolve_url(db: str | None = None) -> str:
    """The database URL: ``db`` (``--db``), else ``$TKITRACK_DB``, else ``./tkitrack.db``.

    A plain path (no ``://``) is a SQLite file. ``postgresql://`` uses psycopg (version 3), the driver tkitrack
    installs, rather than SQLAlchemy's default psycopg2.
    """
    value = db or os.environ.get("TKITRACK_DB") or DEFAULT_URL
    if "://" not in value:
        value = f"sqlite:///{Path(value).expanduser()}"
    elif value.startswith("postgresql://"):
        value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
    return value


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def lock_timeout() -> float:
    """Seconds a write waits for a lock held by another writer: ``$TKITRACK_LOCK_TIMEOUT``, else 30.

    SQLite waits through its busy timeout, PostgreSQL through ``lock_timeout``; then the write gives up with
    :class:`~tkitrack.schemas.errors.BusyError` and nothing is written.
    """
    given = os.environ.get("TKITRACK_LOCK_TIMEOUT")
    if not given:
        return LOCK_TIMEOUT_DEFAULT
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 86_400:
        raise ConfigError(f"TKITRACK_LOCK_TIMEOUT must be a number of seconds between 0 and 86400, got {given!r}")
    return seconds


def _sqlite_pragmas(timeout_ms: int):
    def connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised via every sqlite test
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        # WAL: readers never wait for a writer (a long import does not lock out `list` or `audit verify`)
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return connect


def _postgres_timeouts(timeout_ms: int):
    def connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised via every postgres test
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {timeout_ms}")
        dbapi_connection.commit()

    return connect


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """An engine for ``url`` (resolved by :func:`resolve_url`).

    SQLite gets foreign keys, write-ahead logging (readers are not blocked by a writer) and a busy timeout;
    PostgreSQL a ``lock_timeout``; both of :func:`lock_timeout` seconds.
    """
    resolved = resolve_url(url)
    if resolved.startswith("sqlite:///") and not resolved.startswith("sqlite:///:memory:"):
        folder = Path(resolved.removeprefix("sqlite:///")).parent
        if not folder.exists():
            raise ConfigError(f"database folder {folder} does not exist; create it or choose another --db")
    timeout_ms = max(1, round(lock_timeout() * 1000))
    try:
        engine = create_engine(resolved, **kwargs)
    except (SQLAlchemyError, ImportError, ValueError) as err:
        raise ConfigError(f"cannot use database URL {redact_url(resolved)}: {err}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas(timeout_ms))
    elif engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_timeouts(timeout_ms))
    return engine


def lock_for_write(session: Session | Connection) -> None:
    """Take the database's write lock now, before the transaction reads what it is about to change.

    SQLite: ``BEGIN IMMEDIATE`` unless the transaction holds the write lock already, so that every read from here
    on sees the newest committed data and no other writer can change it before this transaction ends (the lost
    update of a read outside the write transaction). Waiting writers retry every few milliseconds (SQLite's own
    busy handler sleeps up to 100 ms between tries, so a writer that commits and writes again at once would starve
    them). PostgreSQL: nothing here; the rows read for an edit are locked with ``SELECT ... FOR NO KEY UPDATE``
    instead. Waiting is bounded by :func:`lock_timeout`; then BusyError.
    """
    conn = session if isinstance(session, Connection) else session.connection()
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    if raw.in_transaction:
        return
    deadline = time.monotonic() + lock_timeout()
    raw.execute(f"PRAGMA busy_timeout={_SQLITE_TRY_MS}")
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) and "busy" not in str(err):
                    raise
                if time.monotonic() >= deadline:
                    raise _busy("the write lock") from None
            time.sleep(random.uniform(0, 0.004))
    finally:
        raw.execute(f"PRAGMA busy_timeout={max(1, round(lock_timeout() * 1000))}")


def _busy(what: str) -> BusyError:
    return BusyError(
        f"the database is busy: another change held {what} for more than {lock_timeout():g} s, so this one gave "
        "up and nothing was written. Try again in a moment; a long import may be running (set "
        "TKITRACK_LOCK_TIMEOUT to wait longer)"
    )


def busy_error(err: OperationalError) -> BusyError | None:
    """The BusyError for a driver error that means "another writer held the lock too long", else None."""
    orig = err.orig
    sqlstate = getattr(orig, "sqlstate", None)
    message = str(orig).lower()
    if sqlstate in _PG_BUSY or "database is locked" in message or "database table is locked" in message:
        return _busy("a lock" if sqlstate != "40P01" else "a lock this change needed (a deadlock)")
    return None


@contextmanager
def transaction(engine: Engine) -> Iterator:
    """A session (sqlmodel's) whose work commits as one transaction, or rolls back entirely on any error."""
    from sqlmodel import Session  # the ORM only where a session is used: a timeline reads with Core alone

    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    except OperationalError as err:
        raise busy_error(err) or ConfigError(f"database {redact_url(str(engine.url))} failed: {err.orig}") from None


@contextmanager
def core_transaction(engine: Engine) -> Iterator[Connection]:
    """A SQLAlchemy Core connection whose work commits as one transaction (no ORM session: a single-record write),
    with the same errors as :func:`transaction`."""
    try:
        with engine.begin() as conn:
            yield conn
    except OperationalError as err:
        raise busy_error(err) or ConfigError(f"database {redact_url(str(engine.url))} failed: {err.orig}") from None


def _alembic_config(connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("tkitrack.schemas").joinpath("migrations")))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of tkitrack."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as err:
        raise ConfigError(f"cannot reach database {redact_url(str(engine.url))}: {err.orig}") from None


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Create or upgrade the schema through the migrations; returns (revision before, revision after)."""
    from alembic import command

    before = current_revision(engine)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)
    return before, current_revision(engine) or ""


def schema_head() -> str:
    """The newest migration shipped, from the migration files' names (``00NN_topic.py`` holds revision ``00NN``).

    Read without importing alembic or running any migration script, so that every command can check the schema
    version cheaply; a test checks that it equals alembic's :func:`head_revision` and that every file's revision
    is its name's number.
    """
    versions = resources.files("tkitrack.schemas").joinpath("migrations", "versions")
    numbers = [p.name.split("_", 1)[0] for p in versions.iterdir() if p.name.endswith(".py") and p.name[:4].isdigit()]
    return max(numbers)


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database's ``alembic_version`` table (None when there is none), read with a
    plain query: the same value as :func:`current_revision` without importing alembic."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError) as err:
        if inspect(engine).has_table("alembic_version"):  # the table is there: the failure is the database's
            raise ConfigError(f"cannot reach database {redact_url(str(engine.url))}: {err.orig}") from None
        return None


def require_current(engine: Engine) -> None:
    """Raise ConfigError unless the database exists and is at the newest migration (no migration script read)."""
    try:
        rev = stored_revision(engine)
    except OperationalError as err:
        raise ConfigError(f"cannot reach database {redact_url(str(engine.url))}: {err.orig}") from None
    if rev is None:
        tables = inspect(engine).get_table_names()
        what = "is empty" if not tables else "was not created by tkitrack"
        raise ConfigError(
            f"database {redact_url(str(engine.url))} {what}; run `tkitrack init` (or pass --db / set TKITRACK_DB)"
        )
    if rev != schema_head():
        raise ConfigError(
            f"database {redact_url(str(engine.url))} is at schema {rev}, this tkitrack needs {schema_head()}; "
            "run `tkitrack db upgrade`"
        )


def ping(engine: Engine) -> None:
    """Raise ConfigError when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as err:
        raise ConfigError(f"cannot reach database {redact_url(str(engine.url))}: {err.orig}") from None
