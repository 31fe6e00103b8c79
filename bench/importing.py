"""Figure 3: importing 1,000,000 exposure rows through ``add_records`` (parse, field/frame/edit checks, insert,
audit trail) against SQLAlchemy Core ``executemany`` of the same rows into the same schema.

Rows are the generated cohort's exposure records; to reach a registry-sized table the cohort is cloned (each
clone's patients get their own ids, so no record overlaps another). The patients are imported first, untimed,
into a database migrated to the current schema; each timed run starts from that state. SQLite runs on a file in
a temporary folder (a fresh copy per run); PostgreSQL in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import math
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from bench._harness import Result

__all__ = ["make_import_data", "run"]

TARGET = 1.5
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def make_import_data(n_rows: int, *, seed: int = 11, base_patients: int = 20_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(patient, exposure) template text frames: ``n_rows`` exposure rows of cloned generated patients."""
    from tkitrack.sample_data.generate import generate_cohort

    base = generate_cohort(min(base_patients, max(10, n_rows)), seed=seed)
    pat, ex = base["patient"], base["exposure"]
    reps = math.ceil(n_rows / len(ex))
    suffix = np.repeat([f"-{k:03d}" for k in range(reps)], len(ex)).astype(object)
    exposure = pd.concat([ex] * reps, ignore_index=True)
    exposure["patient_id"] = exposure["patient_id"] + suffix
    exposure = exposure.iloc[:n_rows].reset_index(drop=True)
    psuffix = np.repeat([f"-{k:03d}" for k in range(reps)], len(pat)).astype(object)
    patient = pd.concat([pat] * reps, ignore_index=True)
    patient["patient_id"] = patient["patient_id"] + psuffix
    patient = patient[patient["patient_id"].isin(set(exposure["patient_id"]))].reset_index(drop=True)
    return patient, exposure


def _db_records(record: str, frame: pd.DataFrame) -> list[dict]:
    """A typed frame as DBAPI-ready dicts (NA -> None, dates as datetime.date): the baseline's input."""
    from tkitrack.schemas.frames import column_dtypes
    from tkitrack.schemas.models import RECORD_MODELS

    dtypes = column_dtypes(record)
    cols = [c for c in RECORD_MODELS[record].model_fields if not (c == "id" and record != "patient")]
    data = {}
    for col in cols:
        s = frame[col]
        if dtypes[col] == "datetime64[ns]":
            data[col] = [None if v is pd.NaT else v for v in s.dt.date.to_numpy(object)]
        else:
            arr = s.astype(object).to_numpy()
            arr[s.isna().to_numpy()] = None
            if dtypes[col] == "Int64":
                arr = [None if v is None else int(v) for v in arr]
            elif dtypes[col] == "float64":
                arr = [None if v is None else float(v) for v in arr]
            elif dtypes[col] == "boolean":
                arr = [None if v is None else bool(v) for v in arr]
            data[col] = list(arr)
    return [dict(zip(cols, row, strict=True)) for row in zip(*data.values(), strict=True)]


class _Sqlite:
    name = "SQLite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = folder / "template.db"
        self.runs = 0

    def url_of(self, path: Path) -> str:
        return f"sqlite:///{path}"

    def prepare(self, patients: list[dict]) -> None:
        from sqlalchemy import insert

        from tkitrack.schemas.models import Patient
        from tkitrack.schemas.storage import make_engine, upgrade

        engine = make_engine(self.url_of(self.template))
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(Patient.__table__), patients)
        engine.dispose()

    def fresh(self):
        from tkitrack.schemas.storage import make_engine

        self.runs += 1
        path = self.folder / f"run{self.runs}.db"
        shutil.copyfile(self.template, path)
        return make_engine(self.url_of(path))

    def done(self, engine) -> None:
        path = Path(engine.url.database)
        engine.dispose()
        path.unlink(missing_ok=True)

    def close(self) -> None:
        pass


class _Postgres:
    name = "PostgreSQL"

    def __init__(self, base: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        self.schema = f"bench_{uuid.uuid4().hex[:12]}"
        self.admin = create_engine(base)
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        self.url = (
            make_url(base)
            .update_query_dict({"options": f"-csearch_path={self.schema}"})
            .render_as_string(hide_password=False)
        )

    def prepare(self, patients: list[dict]) -> None:
        from sqlalchemy import insert

        from tkitrack.schemas.models import Patient
        from tkitrack.schemas.storage import make_engine, upgrade

        engine = make_engine(self.url)
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(Patient.__table__), patients)
            conn.exec_driver_sql("ANALYZE")
        engine.dispose()

    def fresh(self):
        from tkitrack.schemas.storage import make_engine

        engine = make_engine(self.url)
        with engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE exposure, audit_log RESTART IDENTITY")
            conn.exec_driver_sql("DELETE FROM audit_head")
        return engine

    def done(self, engine) -> None:
        engine.dispose()

    def close(self) -> None:
        from sqlalchemy import text

        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


def _project_run(backend, exposure_raw: pd.DataFrame) -> tuple[float, int]:
    from sqlalchemy import func, select

    from tkitrack.schemas.audit import AuditEntry
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import add_records

    engine = backend.fresh()
    try:
        t0 = time.perf_counter()
        with transaction(engine) as session:
            counts = add_records(session, {"exposure": exposure_raw}, user="bench", source="bench import")
        elapsed = time.perf_counter() - t0
        with engine.connect() as conn:
            audited = conn.execute(select(func.count()).select_from(AuditEntry.__table__)).scalar_one()
        assert counts["exposure"] == len(exposure_raw) == audited, (counts, audited)
        return elapsed, audited
    finally:
        backend.done(engine)


def _baseline_run(backend, rows: list[dict]) -> float:
    from sqlalchemy import insert

    from tkitrack.schemas.models import Exposure

    engine = backend.fresh()
    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(insert(Exposure.__table__), rows)
        return time.perf_counter() - t0
    finally:
        backend.done(engine)


def _measure(backend, patients: list[dict], exposure_raw: pd.DataFrame, rows: list[dict], repeats: int,
             target: float | None) -> Result:  # fmt: skip
    t0 = time.perf_counter()
    backend.prepare(patients)
    setup = time.perf_counter() - t0
    p, b = [], []
    n = len(exposure_raw)
    case = f"{backend.name}, {n:,} exposure rows + audit"
    for i in range(repeats):
        if i % 2:
            b.append(_baseline_run(backend, rows))
        try:
            p.append(_project_run(backend, exposure_raw)[0])
        except Exception as err:  # the import itself failed: report it as the result
            b.append(_baseline_run(backend, rows))
            return Result("3 import", case, None, statistics.median(b), target, i + 1,
                          {"FAILED": f"{type(err).__name__}: {str(err)[-160:]}"})  # fmt: skip
        if not i % 2:
            b.append(_baseline_run(backend, rows))
    notes = {
        "patients": f"{len(patients):,}",
        "project rows/s": f"{n / statistics.median(p):,.0f}",
        "baseline rows/s": f"{n / statistics.median(b):,.0f}",
        "setup": f"{setup:.0f} s",
    }
    return Result("3 import", case, statistics.median(p), statistics.median(b), target, repeats, notes)


def run(n_rows: int = 1_000_000, repeats: int = 3, *, pg_url: str | None = PG_URL, pg_repeats: int = 1) -> list[Result]:
    from tkitrack.schemas.parse import parse_records

    patient_raw, exposure_raw = make_import_data(n_rows)
    patients, problems = parse_records("patient", patient_raw)
    assert not len(problems)
    typed, problems = parse_records("exposure", exposure_raw)
    assert not len(problems)
    patient_rows, rows = _db_records("patient", patients), _db_records("exposure", typed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(_measure(_Sqlite(Path(tmp)), patient_rows, exposure_raw, rows, repeats, TARGET))
    if pg_url:
        backend = _Postgres(pg_url)
        try:
            results.append(_measure(backend, patient_rows, exposure_raw, rows, pg_repeats, None))
        finally:
            backend.close()
    return results
