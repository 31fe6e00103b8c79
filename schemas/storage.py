"""The database: URL resolution, engines, one-transaction sessions, and schema migrations (alembic)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from tkitrack.schemas.errors import ConfigError

__all__ = [
    "DEFAULT_URL",
    "current_revision",
    "head_revision",
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


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - exercised via every sqlite test
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str | None = None, **kwargs) -> Engine:
    """An engine for ``url`` (resolved by :func:`resolve_url`); SQLite gets foreign keys and a busy timeout."""
    resolved = resolve_url(url)
    if resolved.startswith("sqlite:///") and not resolved.startswith("sqlite:///:memory:"):
        folder = Path(resolved.removeprefix("sqlite:///")).parent
        if not folder.exists():
            raise ConfigError(f"database folder {folder} does not exist; create it or choose another --db")
    try:
        engine = create_engine(resolved, **kwargs)
    except (SQLAlchemyError, ImportError, ValueError) as err:
        raise ConfigError(f"cannot use database URL {redact_url(resolved)}: {err}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def transaction(engine: Engine) -> Iterator:
    """A session (sqlmodel's) whose work commits as one transaction, or rolls back entirely on any error."""
    from sqlmodel import Session  # the ORM only where a session is used: a timeline reads with Core alone

    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            yield session
    except OperationalError as err:
        raise ConfigError(f"database {redact_url(str(engine.url))} failed: {err.orig}") from None


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
