"""Single-record commands start light (issue 16.3): `timeline` reads with SQLAlchemy Core alone, the schema version
is checked without alembic, and what they print is what the pandas path printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tkitrack.schemas.storage import head_revision, schema_head

HEAVY = ("pandas", "pandera", "sqlmodel", "alembic", "numpy", "pyarrow", "lifelines", "plotly", "sqlalchemy.orm")


def _imported(db: str, *args: str) -> tuple[list[str], str]:
    """Run ``tkitrack --db db ARGS`` in a fresh interpreter; the heavy modules it imported, and its stdout."""
    code = (
        "import json, sys\n"
        "from tkitrack.cli import app\n"
        "try:\n"
        f"    app({['--db', db, *args]!r}, standalone_mode=False)\n"
        "finally:\n"
        f"    print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)\n"
    )
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout


@pytest.fixture
def published(sqlite_url, run_cli):
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "published"
    assert run_cli(sqlite_url, "import", str(sample)).exit_code == 0
    return sqlite_url


def test_timeline_imports_neither_pandas_nor_the_models_nor_alembic(published):
    heavy, out = _imported(published, "timeline", "LETTER-IMT-1")
    assert heavy == []
    assert "LETTER-IMT-1: IMT, diagnosed 2019-01 (day 0 = diagnosis)" in out
    assert "crizotinib 200 mg QD stopped: toxicity" in out
    heavy, out = _imported(published, "timeline", "LETTER-IMT-1", "--format", "json")
    assert heavy == [] and json.loads(out)[0]["kind"] == "diagnosis"


def test_timeline_json_is_what_the_pandas_path_gave(db_url, run_cli):
    """On SQLite and PostgreSQL: the JSON of `timeline` equals the former path (typed frames, pandas derivation)."""
    import importlib.util
    from pathlib import Path

    from tkitrack.cli._common import _jsonable
    from tkitrack.schemas import storage
    from tkitrack.schemas.store import read_frames

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "published"
    assert run_cli(db_url, "import", str(sample)).exit_code == 0
    spec = importlib.util.spec_from_file_location(
        "_timeline_pandas", Path(__file__).resolve().parents[1] / "outcomes" / "_timeline_pandas.py"
    )
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    patients = json.loads(run_cli(db_url, "patient", "list", "--format", "json").stdout)
    assert len(patients) == 7
    engine = storage.make_engine(db_url)
    try:
        for p in patients:
            pid = p["patient_id"]
            result = run_cli(db_url, "timeline", pid, "--format", "json")
            assert result.exit_code == 0, result.output
            with storage.transaction(engine) as session:
                frames = read_frames(session, patients=[pid])
            expected = _jsonable(reference.derive_timeline_pandas(frames, pid))
            assert json.loads(result.stdout) == expected, pid
    finally:
        engine.dispose()
    missing = run_cli(db_url, "timeline", "NOPE")
    assert missing.exit_code == 1
    assert missing.stderr == "error: patient NOPE does not exist; list patients with `tkitrack patient list`\n"


def test_schema_head_from_file_names_is_alembics_head():
    """The cheap check (file names) and alembic's script directory agree, file by file."""
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    assert schema_head() == head_revision()
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("tkitrack.schemas").joinpath("migrations")))
    scripts = ScriptDirectory.from_config(cfg)
    for rev in scripts.walk_revisions():
        assert os.path.basename(rev.path).split("_", 1)[0] == rev.revision, rev.path
    assert len(scripts.get_heads()) == 1


def test_an_old_or_empty_database_is_still_refused(tmp_path, run_cli):
    """require_current without alembic: an empty file and a database at an older revision are refused."""
    from sqlalchemy import text

    from tkitrack.schemas.storage import make_engine

    empty = run_cli(f"sqlite:///{tmp_path / 'empty.db'}", "timeline", "P1")
    assert empty.exit_code == 1 and "is empty; run `tkitrack init`" in empty.stderr
    url = f"sqlite:///{tmp_path / 'old.db'}"
    assert run_cli(url, "init").exit_code == 0
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    engine.dispose()
    old = run_cli(url, "timeline", "P1")
    assert old.exit_code == 1
    assert f"is at schema 0004, this tkitrack needs {schema_head()}; run `tkitrack db upgrade`" in old.stderr


_ADDS = [
    ("patient", "add", "P9", "--birth-date", "2010-05", "--diagnosis-date", "2019-06-14", "--sex", "F",
     "--height-cm", "131.5", "--weight-kg", "28", "--constructed-dates", "birth_date"),
    ("exposure", "add", "P9", "--drug", "Crizotinib", "--dose", "200", "--unit", "mg", "--frequency", "BID",
     "--start", "2019-07", "--end", "2019-09-30", "--discontinued", "yes"),
    ("ae", "add", "P9", "--term", "Nausea", "--grade", "2", "--start", "2019-07-03", "--end", "2019-08",
     "--serious", "false", "--attributed-drug", "crizotinib", "--note", "résumé, day 3"),
    ("followup", "add", "P9", "--date", "2020-01-15", "--vital-status", "alive", "--disease-status", "NED"),
]  # fmt: skip


def test_ae_exposure_and_patient_add_import_neither_pandas_nor_pandera_nor_the_models(sqlite_url):
    for args in _ADDS[:3]:
        heavy, out = _imported(sqlite_url, "--user", "nurse", *args)
        assert heavy == [], args
        assert out == f"added {args[0]} for patient P9\n"


def _rows(url: str, sql: str) -> list[dict]:
    from sqlalchemy import text

    from tkitrack.schemas.storage import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql)).mappings()]
    finally:
        engine.dispose()


def test_light_add_writes_what_the_full_path_writes(db_url, run_cli, monkeypatch):
    """The same commands for two patients, P9 through the light path and P8 forced through the full path: the same
    rows (imputed dates, flags, MedDRA code, lower-case drug, defaults) and the same audit entries (who, what,
    source); the hash-chained trail verifies and replays. On SQLite and PostgreSQL."""
    from tkitrack.schemas import light

    for args in _ADDS:
        assert run_cli(db_url, *args).exit_code == 0, args
    real = light.check_one
    monkeypatch.setattr(light, "check_one", lambda conn, record, raw: ({}, [light.LIGHT]))
    for args in _ADDS:
        result = run_cli(db_url, *[("P8" if a == "P9" else a) for a in args])
        assert result.exit_code == 0, result.output
    monkeypatch.setattr(light, "check_one", real)
    for table in ("patient", "exposure", "ae", "followup"):
        rows = _rows(db_url, f"SELECT * FROM {table} ORDER BY patient_id")
        assert [r["patient_id"] for r in rows] == ["P8", "P9"]
        full, fast = ({k: v for k, v in r.items() if k not in ("id", "patient_id")} for r in rows)
        assert fast == full, table
    ae = _rows(db_url, "SELECT * FROM ae WHERE patient_id = 'P9'")[0]
    assert (ae["term_code"], str(ae["end"])[:10], ae["end_dtf"]) == ("10028813", "2019-08-31", "D")
    ex = _rows(db_url, "SELECT * FROM exposure WHERE patient_id = 'P9'")[0]
    assert (ex["drug"], str(ex["start"])[:10], ex["start_dtf"], ex["route"]) == (
        "crizotinib",
        "2019-07-01",
        "D",
        "ORAL",
    )
    # the light path writes an insert entry per record; the full path a batch entry and its row, read as the
    # insert entry it stands for
    audit = _rows(db_url, 'SELECT "user", action, table_name, patient_id, field, old_value, new_value, reason FROM ('
                  'SELECT seq, 0 AS part, "user", action, table_name, patient_id, field, old_value, new_value, reason '
                  "FROM audit_log WHERE action <> 'insert batch' UNION ALL "
                  "SELECT b.seq, r.id, b.\"user\", 'insert', b.table_name, r.patient_id, '*', NULL, r.new_value, "
                  "b.reason FROM audit_batch_row r JOIN audit_log b ON b.seq = r.batch_seq) AS t ORDER BY seq, part")  # fmt: skip
    batches = _rows(db_url, "SELECT table_name FROM audit_log WHERE action = 'insert batch' ORDER BY seq")
    assert [b["table_name"] for b in batches] == [a[0] for a in _ADDS]
    assert len(audit) == 2 * len(_ADDS)
    for fast, full in zip(audit[: len(_ADDS)], audit[len(_ADDS) :], strict=True):
        assert (fast["patient_id"], full["patient_id"]) == ("P9", "P8")
        assert {**fast, "patient_id": "P8", "new_value": fast["new_value"].replace("P9", "P8")} == full
    assert audit[0]["user"] == "tester" and audit[2]["reason"] == "added from tkitrack ae add"
    verified = run_cli(db_url, "audit", "verify")
    assert verified.exit_code == 0 and "tables match the trail" in verified.stdout


def test_a_refused_add_prints_what_import_prints_and_writes_nothing(db_url, run_cli, tmp_path, dump):
    """A row the light path does not certify goes to the full path: the errors and exit code of `tkitrack import`
    for the same row, and the database as it was."""
    import csv

    assert run_cli(db_url, *_ADDS[0]).exit_code == 0
    before = dump()
    bad = {"patient_id": "P9", "term": "Nausea", "grade": "7", "start": "2009-01-01"}
    added = run_cli(db_url, "ae", "add", "P9", "--term", "Nausea", "--grade", "7", "--start", "2009-01-01",
                    env={"COLUMNS": "400"})  # fmt: skip
    folder = tmp_path / "in"
    folder.mkdir()
    with (folder / "ae.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(bad))
        writer.writeheader()
        writer.writerow(bad)
    imported = run_cli(db_url, "import", str(folder), "-o", str(tmp_path / "listing.json"))
    assert added.exit_code == imported.exit_code == 1
    listing = json.loads((tmp_path / "listing.json").read_text())
    errors = [q for q in listing if q["severity"] == "error"]
    assert sorted(q["rule_id"] for q in errors) == ["AE003", "DT002", "FLD003"]
    for q in errors:
        assert q["message"] in added.stderr, q
    assert added.stderr.count("│ error ") == len(errors)
    assert "3 error(s) in tkitrack ae add; nothing was written" in added.stderr
    assert dump() == before
