"""Tests for tkitrack.schemas.storage: URL resolution, engines, transactions and migrations."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from tkitrack.schemas.errors import ConfigError
from tkitrack.schemas.storage import (
    DEFAULT_URL,
    current_revision,
    head_revision,
    make_engine,
    ping,
    redact_url,
    require_current,
    resolve_url,
    transaction,
    upgrade,
)

#: Nothing listens on port 1; a connection there is refused at once.
UNREACHABLE_PG = "postgresql+psycopg://postgres:secret@127.0.0.1:1/test"
RECORD_TABLES = ["ae", "assessment", "disease_event", "exposure", "followup", "ihc", "molecular", "patient",
                 "procedure"]  # fmt: skip
WEB_TABLES = ["app_user", "web_event", "web_session", "web_setting"]
DATA_ENTRY_TABLES = ["data_query", "data_query_event", "record_state"]


@pytest.fixture
def empty_engine(empty_db_url):
    eng = make_engine(empty_db_url)
    yield eng
    eng.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("empty_db_url", [pytest.param("postgresql", id="postgresql")], indirect=True)
def test_postgresql_test_url_puts_its_own_schema_first(db_url):
    """psycopg honours ``options=-csearch_path=...`` in the URL: the tables land in the test's own schema."""
    schema = make_url(db_url).query["options"].removeprefix("-csearch_path=")
    assert schema.startswith("t_")
    eng = make_engine(db_url)
    try:
        with eng.connect() as conn:
            assert conn.execute(text("SELECT current_schema()")).scalar_one() == schema
            where = (
                conn.execute(
                    text("SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name = 'audit_log'")
                )
                .scalars()
                .all()
            )
    finally:
        eng.dispose()
    assert schema in where


#: The newest migration; the only place a test names it (the others ask head_revision()).
HEAD = "0008"


def test_head_revision_is_the_newest_migration():
    assert head_revision() == HEAD


def test_init_on_an_empty_database_reaches_head(empty_engine, table_names, empty_db_url):
    assert current_revision(empty_engine) is None
    before, after = upgrade(empty_engine)
    assert (before, after) == (None, HEAD)
    assert current_revision(empty_engine) == head_revision()
    require_current(empty_engine)  # does not raise
    assert table_names(empty_db_url) == sorted(
        [
            "alembic_version",
            "audit_batch_row",
            "audit_head",
            "audit_log",
            *RECORD_TABLES,
            *WEB_TABLES,
            *DATA_ENTRY_TABLES,
        ]
    )
    assert upgrade(empty_engine) == (HEAD, HEAD)  # a second init changes nothing


def test_require_current_on_an_empty_database_says_run_init(empty_engine):
    with pytest.raises(ConfigError) as err:
        require_current(empty_engine)
    assert " is empty; run `tkitrack init` (or pass --db / set TKITRACK_DB)" in str(err.value)


def test_require_current_on_a_foreign_database(empty_engine):
    with empty_engine.begin() as conn:
        conn.execute(text("CREATE TABLE lab_results (id INTEGER PRIMARY KEY)"))
    with pytest.raises(ConfigError, match="was not created by tkitrack; run `tkitrack init`"):
        require_current(empty_engine)


def test_require_current_on_another_revision_says_upgrade(engine):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(ConfigError, match=f"is at schema 0000, this tkitrack needs {HEAD}; run `tkitrack db upgrade`"):
        require_current(engine)


def test_transaction_commits_or_rolls_back_entirely(engine):
    with transaction(engine) as session:
        session.execute(text("INSERT INTO patient (patient_id, deleted) VALUES ('P1', false)"))
    with pytest.raises(RuntimeError, match="boom"), transaction(engine) as session:
        session.execute(text("INSERT INTO patient (patient_id, deleted) VALUES ('P2', false)"))
        raise RuntimeError("boom")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT patient_id FROM patient")).scalars().all() == ["P1"]


def test_foreign_keys_are_enforced(engine):
    with pytest.raises(IntegrityError), transaction(engine) as session:
        session.execute(
            text("INSERT INTO ihc (patient_id, marker, result, deleted) VALUES ('P9', 'ALK', 'positive', false)")
        )


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        pytest.param("postgresql+psycopg://u@h/db", "sqlite:///env.db", "postgresql+psycopg://u@h/db",
                     id="flag-wins"),
        pytest.param(None, "sqlite:///env.db", "sqlite:///env.db", id="env-next"),
        pytest.param(None, None, DEFAULT_URL, id="default-last"),
        pytest.param("data/study.db", None, "sqlite:///data/study.db", id="relative-path-is-sqlite"),
        pytest.param("/srv/tk/study.db", None, "sqlite:////srv/tk/study.db", id="absolute-path-is-sqlite"),
        pytest.param(None, "/srv/env.db", "sqlite:////srv/env.db", id="env-path-is-sqlite"),
        pytest.param("postgresql://u@h/db", None, "postgresql+psycopg://u@h/db", id="postgresql-uses-psycopg"),
    ],
)  # fmt: skip
def test_resolve_url(monkeypatch, flag, env, expected):
    if env is None:
        monkeypatch.delenv("TKITRACK_DB", raising=False)
    else:
        monkeypatch.setenv("TKITRACK_DB", env)
    assert resolve_url(flag) == expected


def test_default_is_tkitrack_db_in_the_working_directory():
    assert DEFAULT_URL == "sqlite:///tkitrack.db"


def test_home_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_url("~/study.db") == f"sqlite:///{tmp_path / 'study.db'}"


def test_plain_path_makes_a_working_sqlite_engine(tmp_path):
    eng = make_engine(str(tmp_path / "plain.db"))
    try:
        assert eng.dialect.name == "sqlite"
        assert upgrade(eng)[1] == HEAD
        assert (tmp_path / "plain.db").is_file()
    finally:
        eng.dispose()


def test_missing_folder_is_config_error(tmp_path):
    with pytest.raises(
        ConfigError, match=r"database folder .*nowhere does not exist; create it or choose another --db"
    ):
        make_engine(str(tmp_path / "nowhere" / "study.db"))


@pytest.mark.parametrize(
    "call",
    [pytest.param(current_revision, id="current_revision"), pytest.param(ping, id="ping"),
     pytest.param(require_current, id="require_current"), pytest.param(upgrade, id="upgrade")],
)  # fmt: skip
def test_unreachable_postgresql_is_config_error_not_a_traceback(call):
    eng = make_engine(UNREACHABLE_PG)
    try:
        with pytest.raises(ConfigError) as err:
            call(eng)
    finally:
        eng.dispose()
    message = str(err.value)
    assert "127.0.0.1:1" in message
    assert "secret" not in message  # the password is never shown
    assert "***" in message


def test_unreachable_postgresql_in_a_transaction_is_config_error():
    eng = make_engine(UNREACHABLE_PG)
    try:
        with pytest.raises(ConfigError, match="failed"), transaction(eng) as session:
            session.execute(text("SELECT 1"))
    finally:
        eng.dispose()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        pytest.param("mysql+nosuchdriver://u@h/db", "cannot use database URL mysql+nosuchdriver://u@h/db",
                     id="unknown-driver"),
        pytest.param("nosuchdb://u@h/db", "cannot use database URL nosuchdb://u@h/db", id="unknown-dialect"),
    ],
)  # fmt: skip
def test_unusable_url_is_config_error(url, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        make_engine(url)


def test_redact_url_hides_the_password():
    assert redact_url("postgresql+psycopg://dm:hunter2@db.example/registry") == (
        "postgresql+psycopg://dm:***@db.example/registry"
    )
    assert redact_url("sqlite:///tkitrack.db") == "sqlite:///tkitrack.db"


def test_sqlite_file_is_created_where_the_url_says(tmp_path):
    target = Path(tmp_path) / "sub"
    target.mkdir()
    eng = make_engine(f"sqlite:///{target / 'x.db'}")
    try:
        upgrade(eng)
    finally:
        eng.dispose()
    assert (target / "x.db").stat().st_size > 0


def test_upgrade_from_the_first_schema_keeps_the_data(empty_engine, empty_db_url):
    """A database made by the first release (schema 0001) gets the new column and keeps every record."""
    from tkitrack.schemas.audit import verify_chain
    from tkitrack.schemas.store import add_records, read_frames

    assert upgrade(empty_engine, "0001") == (None, "0001")
    with empty_engine.begin() as conn:  # a record written by 0001, straight into its tables
        conn.execute(text("INSERT INTO patient (patient_id, deleted) VALUES ('OLD-1', false)"))
    with pytest.raises(ConfigError, match=f"is at schema 0001, this tkitrack needs {HEAD}"):
        require_current(empty_engine)
    assert upgrade(empty_engine) == ("0001", HEAD)
    with transaction(empty_engine) as session:
        add_records(session, {"assessment": pd.DataFrame({"patient_id": ["OLD-1"], "date": ["2020-01"],
                                                          "response_given": ["CHECK"]})}, user="t")  # fmt: skip
    with transaction(empty_engine) as session:
        frames = read_frames(session)
        assert verify_chain(session).ok
    assert frames["patient"]["patient_id"].tolist() == ["OLD-1"]
    assert frames["assessment"]["response_given"].tolist() == ["CHECK"]


def test_upgrade_to_0003_marks_stops_as_discontinuations_and_keeps_every_row(empty_engine):
    """Schema 0003 adds exposure.discontinued, filled from what each stored interval says (docs/case-series.md).

    Patient A: a dose change (reason dose_change, next interval the day after), then a stop for toxicity that is
    the last interval of crizotinib -> only the last one is a discontinuation. Patient B: stopped in CR, then a
    re-challenge that is still open -> the CR stop is a discontinuation although a later interval exists; the
    open one is not. Patient C: a toxicity hold followed by a resume -> a hold (a later interval exists), and the
    resumed interval ended without a reason is the last one -> a discontinuation. Patient D: a deleted later
    interval does not make the earlier end a hold.
    """
    assert upgrade(empty_engine, "0002") == (None, "0002")
    rows = [  # id, patient, drug, start, end, reason, deleted
        (1, "A", "crizotinib", "2019-01-01", "2019-02-28", "dose_change", False),
        (2, "A", "crizotinib", "2019-03-01", "2019-06-30", "toxicity", False),
        (3, "B", "crizotinib", "2019-01-01", "2019-12-31", "complete_response", False),
        (4, "B", "crizotinib", "2020-06-01", None, None, False),
        (5, "C", "crizotinib", "2019-01-01", "2019-03-31", "toxicity", False),
        (6, "C", "crizotinib", "2019-05-01", "2019-09-30", None, False),
        (7, "D", "crizotinib", "2019-01-01", "2019-03-31", "patient_choice", False),
        (8, "D", "crizotinib", "2019-05-01", "2019-09-30", "toxicity", True),
    ]
    with empty_engine.begin() as conn:
        for pid in "ABCD":
            conn.execute(text("INSERT INTO patient (patient_id, deleted) VALUES (:p, false)"), {"p": pid})
        for rid, pid, drug, start, end, reason, deleted in rows:
            conn.execute(
                text('INSERT INTO exposure (id, patient_id, drug, dose, unit, frequency, start, "end", reason, deleted) '
                     "VALUES (:i, :p, :d, 200, 'mg', 'QD', :s, :e, :r, :x)"),
                {"i": rid, "p": pid, "d": drug, "s": start, "e": end, "r": reason, "x": deleted},
            )  # fmt: skip
    assert upgrade(empty_engine) == ("0002", head_revision())
    with empty_engine.connect() as conn:
        got = dict(conn.execute(text("SELECT id, discontinued FROM exposure ORDER BY id")).all())
        n_patients = conn.execute(text("SELECT count(*) FROM patient")).scalar_one()
    assert {k: bool(v) for k, v in got.items()} == {
        1: False, 2: True, 3: True, 4: False, 5: False, 6: True, 7: True, 8: True,
    }  # fmt: skip
    assert n_patients == 4


def test_the_migrations_create_exactly_the_tables_the_models_declare(engine):
    """No drift between schemas/models.py (and the audit tables) and what the migrations build."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import tkitrack.schemas.audit
    import tkitrack.schemas.dataqueries
    import tkitrack.schemas.models
    import tkitrack.schemas.recordstate
    import tkitrack.schemas.users  # noqa: F401  (registers the tables)

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
