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
