"""Shared fixtures: a fresh migrated database per test on SQLite and PostgreSQL, an engine, and the CLI runner.

PostgreSQL: every test gets its own schema ``t_<uuid>`` on the server named by ``$TKITRACK_TEST_PG`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``), reached through a URL whose ``options`` put that schema
on the search path (the CLI takes only a URL), and dropped with CASCADE afterwards. When the server is down the
PostgreSQL half of the storage tests is skipped, unless ``TKITRACK_REQUIRE_PG=1`` (CI), where it fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from tkitrack.schemas import storage
from tkitrack.schemas.storage import current_revision, head_revision, make_engine, upgrade

# Property tests draw the same examples on every run (a red suite is then a bug, never a lucky draw, and a
# failure reproduces as it was seen); HYPOTHESIS_PROFILE=explore draws new ones, to look for bugs on purpose.
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# The commands' output is tested as a pipe sees it (no terminal: tables 200 columns wide, cli._common._print_table);
# a terminal size inherited from the caller (pytest-xdist's workers get COLUMNS=80, LINES=24) would wrap them.
# Tests that want a width pass COLUMNS themselves.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def pg_base_url() -> str:
    """The PostgreSQL server the tests use (``$TKITRACK_TEST_PG``)."""
    return os.environ.get("TKITRACK_TEST_PG") or PG_DEFAULT


def schema_url(base: str, schema: str) -> str:
    """``base`` with ``schema`` first on the search path (psycopg passes ``options`` to the server)."""
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}", "application_name": schema})
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An engine on the PostgreSQL test server, or skip (fail under TKITRACK_REQUIRE_PG=1) when unreachable."""
    base = pg_base_url()
    engine = create_engine(base, connect_args={"connect_timeout": 5})
    problem = None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # any failure to connect means: no server for these tests
        problem = f"{type(err).__name__}: {str(getattr(err, 'orig', None) or err).strip().splitlines()[0]}"
    if problem is not None:
        engine.dispose()
        shown = make_url(base).render_as_string(hide_password=True)
        message = f"PostgreSQL at {shown} is not reachable ({problem})"
        if os.environ.get("TKITRACK_REQUIRE_PG") == "1":
            pytest.fail(
                f"{message}; TKITRACK_REQUIRE_PG=1 requires the storage tests to run on PostgreSQL. Start the "
                "server (pg_ctlcluster <version> main start) or point TKITRACK_TEST_PG at one.",
                pytrace=False,
            )
        pytest.skip(f"{message}; set TKITRACK_TEST_PG or start the server (TKITRACK_REQUIRE_PG=1 makes this fail)")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "tkitrack.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh SQLite database at the newest schema (a copy of the migrated template)."""
    path = tmp_path / "tkitrack.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, EMPTY database (no tables): a SQLite file in tmp_path or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tkitrack.db'}"
        return
    admin: Engine = request.getfixturevalue("pg_admin")
    schema = f"t_{uuid.uuid4().hex}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield schema_url(pg_base_url(), schema)
    finally:
        with admin.begin() as conn:
            # connections a failed test left open would block the drop; end them first
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :s"),
                         {"s": schema})  # fmt: skip
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def db_url(request: pytest.FixtureRequest, empty_db_url: str) -> str:
    """A fresh database migrated to the newest schema, on SQLite and on PostgreSQL (``postgres`` marker)."""
    if empty_db_url.startswith("sqlite"):
        return request.getfixturevalue("sqlite_url")
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return empty_db_url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the test database (``make_engine`` + ``upgrade``), disposed afterwards."""
    eng = make_engine(db_url)
    if current_revision(eng) != head_revision():  # db_url is migrated already; upgrade only if it is not
        upgrade(eng)
    yield eng
    eng.dispose()


def dump_database(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (audit trail, chain head and alembic_version included), in a stable order."""
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            names = inspect(conn).get_table_names()
            out = {name: sorted((tuple(r) for r in conn.execute(text(f'SELECT * FROM "{name}"'))), key=repr)
                   for name in sorted(names)}  # fmt: skip
    finally:
        eng.dispose()
    assert set(out) >= {"alembic_version", "audit_log", "audit_head", "patient", "exposure", "ae"}, sorted(out)
    return out


@pytest.fixture
def dump(db_url: str) -> Callable[[], dict[str, list[tuple]]]:
    """A function returning a full dump of the test database (compare before and after a refused write)."""
    return lambda: dump_database(db_url)


@pytest.fixture
def table_names() -> Callable[[str], list[str]]:
    def names(url: str) -> list[str]:
        eng = make_engine(url)
        try:
            return sorted(inspect(eng).get_table_names())
        finally:
            eng.dispose()

    return names


@pytest.fixture(autouse=True)
def _clean_cli_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No global CLI option or environment variable leaks from one test into the next."""
    for var in ("TKITRACK_DB", "TKITRACK_USER", "TKITRACK_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    yield
    from tkitrack.cli._common import state

    state().db = None
    state().user = None


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """``run_cli(url, *args)``: invoke the app in-process on ``url`` as user ``tester``; engines are disposed."""
    from tkitrack.cli import app

    engines: list[Engine] = []
    real = storage.make_engine

    def tracking(*args, **kwargs):
        eng = real(*args, **kwargs)
        engines.append(eng)
        return eng

    monkeypatch.setattr(storage, "make_engine", tracking)
    runner = CliRunner()

    def invoke(url: str, *args: str, **kwargs):
        try:
            return runner.invoke(app, ["--db", url, "--user", "tester", *args], **kwargs)
        finally:
            while engines:
                engines.pop().dispose()

    return invoke


@pytest.fixture
def cli(db_url: str, run_cli) -> Callable[..., object]:
    """``cli(*args)``: ``tkitrack --db <db_url> --user tester *args`` through typer's CliRunner; the Result."""
    return lambda *args, **kwargs: run_cli(db_url, *args, **kwargs)


@pytest.fixture(scope="session")
def tkitrack_exe() -> str:
    """The ``tkitrack`` console script of the Python running the tests (its environment's bin/ first, not PATH)."""
    import sys

    beside = Path(sys.executable).parent / "tkitrack"
    exe = str(beside) if beside.exists() else shutil.which("tkitrack")
    assert exe, f"the tkitrack console script is not installed beside {sys.executable}; run `pip install -e .`"
    return exe


@pytest.fixture(autouse=True)
def _derived_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test keeps derived datasets in a cache directory of its own (never the user's ~/.cache)."""
    folder = tmp_path_factory.mktemp("derived-cache")
    monkeypatch.setenv("TKITRACK_CACHE_DIR", str(folder))
    return folder
