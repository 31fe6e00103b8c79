"""Figure 3: importing about 1,000,000 rows of every record type, patients included, through ``add_records``
(parse, field/frame/edit checks, insert, audit trail) in one transaction, against baselines measured in the same
run on the same rows:

- **Core**: SQLAlchemy Core ``conn.execute(insert(table), rows)`` (``executemany``) of the rows already typed
  (Python values), record type by record type in one transaction; no parsing, no checks, no audit.
- **COPY** (PostgreSQL): ``COPY table (columns) FROM STDIN`` of the same typed rows through psycopg's
  ``cursor.copy().write_row`` in one transaction: the server's bulk-load floor.
- **no audit**: ``add_records`` itself with the audit entries not written (``append_batch`` replaced by a no-op):
  parse, checks and insert, i.e. everything the import does but the trail. project / no audit is what the audit
  costs.

Rows are the generated cohort's records, cloned (each clone's patients get their own ids) until the total reaches
the wanted size. Every run starts from an empty database at the current schema: a fresh copy of a migrated SQLite
file, or a PostgreSQL schema of its own, created and migrated per run and dropped afterwards.
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


def make_import_data(n_rows: int, *, seed: int = 11, base_patients: int = 2_000) -> dict[str, pd.DataFrame]:
    """Template text frames of every record type, about ``n_rows`` rows in all, from cloned generated patients."""
    from tkitrack.sample_data.generate import generate_cohort

    base = generate_cohort(base_patients, seed=seed)
    per_clone = sum(len(f) for f in base.values())
    reps = max(1, math.ceil(n_rows / per_clone))
    out = {}
    for record, frame in base.items():
        suffix = np.repeat([f"-{k:04d}" for k in range(reps)], len(frame)).astype(object)
        big = pd.concat([frame] * reps, ignore_index=True)
        big["patient_id"] = big["patient_id"] + suffix
        out[record] = big
    return out


def _typed_rows(frames: dict[str, pd.DataFrame]) -> dict[str, dict[str, list]]:
    """The frames parsed and turned into database values column-wise (what the baselines insert)."""
    from tkitrack.schemas.parse import parse_records
    from tkitrack.schemas.store import _db_columns

    out = {}
    for record, raw in frames.items():
        typed, problems = parse_records(record, raw)
        assert not len(problems[problems["severity"] == "error"]) if len(problems) else True
        out[record] = _db_columns(record, typed)
    return out


class _Sqlite:
    name = "SQLite"

    def __init__(self, folder: Path) -> None:
        from tkitrack.schemas.storage import make_engine, upgrade

        self.folder = folder
        self.template = folder / "template.db"
        engine = make_engine(f"sqlite:///{self.template}")
        upgrade(engine)
        engine.dispose()
        self.runs = 0

    def fresh(self):
        from tkitrack.schemas.storage import make_engine

        self.runs += 1
        path = self.folder / f"run{self.runs}.db"
        shutil.copyfile(self.template, path)
        return make_engine(f"sqlite:///{path}")

    def done(self, engine) -> None:
        path = Path(engine.url.database)
        engine.dispose()
        path.unlink(missing_ok=True)

    def close(self) -> None:
        pass


class _Postgres:
    name = "PostgreSQL"

    def __init__(self, base: str) -> None:
        from sqlalchemy import create_engine

        self.base = base
        self.admin = create_engine(base)
        self.schemas: list[str] = []

    def fresh(self):
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from tkitrack.schemas.storage import make_engine, upgrade

        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.schemas.append(schema)
        url = make_url(self.base).update_query_dict({"options": f"-csearch_path={schema}"})
        engine = make_engine(url.render_as_string(hide_password=False))
        upgrade(engine)
        return engine

    def done(self, engine) -> None:
        from sqlalchemy import text

        engine.dispose()
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schemas.pop()}" CASCADE'))

    def close(self) -> None:
        self.admin.dispose()


def _project_run(backend, frames: dict[str, pd.DataFrame], *, audit: bool = True) -> float:
    from sqlalchemy import func, select

    from tkitrack.schemas import store
    from tkitrack.schemas.audit import AuditBatchRow
    from tkitrack.schemas.storage import transaction

    engine = backend.fresh()
    real = store.append_batch
    try:
        if not audit:
            store.append_batch = lambda session, **batch: len(batch["record_ids"])
        t0 = time.perf_counter()
        with transaction(engine) as session:
            counts = store.add_records(session, frames, user="bench", source="bench import")
        elapsed = time.perf_counter() - t0
        with engine.connect() as conn:
            audited = conn.execute(select(func.count()).select_from(AuditBatchRow.__table__)).scalar_one()
        n = sum(len(f) for f in frames.values())
        assert sum(counts.values()) == n and audited == (n if audit else 0), (counts, audited)
        return elapsed
    finally:
        store.append_batch = real
        backend.done(engine)


def _core_run(backend, rows: dict[str, dict[str, list]], *, cache_kib: int | None = None) -> float:
    """Core ``executemany`` of the typed rows; ``cache_kib``: SQLite's page cache for the insert (the import's own,
    :data:`tkitrack.schemas.bulk.BULK_CACHE_KIB`), else the connection's default."""
    from sqlalchemy import insert

    from tkitrack.schemas.models import RECORD_MODELS

    as_dicts = {r: [dict(zip(c, v, strict=True)) for v in zip(*c.values(), strict=True)] for r, c in rows.items()}
    engine = backend.fresh()
    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            if cache_kib is not None:
                conn.exec_driver_sql(f"PRAGMA cache_size=-{int(cache_kib)}")
            for record, data in as_dicts.items():
                conn.execute(insert(RECORD_MODELS[record].__table__), data)
        return time.perf_counter() - t0
    finally:
        backend.done(engine)


def _copy_run(backend, rows: dict[str, dict[str, list]]) -> float:
    from psycopg import sql

    engine = backend.fresh()
    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            driver = conn.connection.driver_connection
            for record, data in rows.items():
                statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(record), sql.SQL(", ").join(sql.Identifier(c) for c in data)
                )
                with driver.cursor() as cursor, cursor.copy(statement) as copy:
                    for row in zip(*data.values(), strict=True):
                        copy.write_row(row)
        return time.perf_counter() - t0
    finally:
        backend.done(engine)


def _measure(backend, frames, rows, repeats: int, target: float | None) -> list[Result]:
    n = sum(len(f) for f in frames.values())
    from tkitrack.schemas.bulk import BULK_CACHE_KIB

    times: dict[str, list[float]] = {"project": [], "core": [], "no audit": [], "copy": [], "core, cache": []}
    runs = [("core", lambda: _core_run(backend, rows)), ("no audit", lambda: _project_run(backend, frames, audit=False)),
            ("project", lambda: _project_run(backend, frames))]  # fmt: skip
    if backend.name == "PostgreSQL":
        runs.insert(1, ("copy", lambda: _copy_run(backend, rows)))
    else:  # the import raises SQLite's page cache while it inserts: the same for Core, as a second baseline
        runs.insert(1, ("core, cache", lambda: _core_run(backend, rows, cache_kib=BULK_CACHE_KIB)))
    case = f"{backend.name}, {n:,} rows of 9 record types ({len(frames['patient']):,} patients) + audit"
    for i in range(repeats):
        for name, fn in runs if i % 2 == 0 else reversed(runs):
            try:
                times[name].append(fn())
            except Exception as err:  # the import itself failed: report it as the result
                return [Result("3 import", case, None, None, target, i + 1,
                               {"FAILED": f"{name}: {type(err).__name__}: {str(err)[-160:]}"})]  # fmt: skip
    med = {k: statistics.median(v) for k, v in times.items() if v}
    rate = {k: f"{n / v:,.0f} rows/s" for k, v in med.items()}
    out = [
        Result("3 import", f"{case} vs Core executemany", med["project"], med["core"], target, repeats,
               {"project": rate["project"], "Core": rate["core"]}),
        Result("3 import", f"{case} vs the same import without audit", med["project"], med["no audit"], target,
               repeats, {"no audit": rate["no audit"], "audit alone": f"{med['project'] - med['no audit']:.1f} s"}),
    ]  # fmt: skip
    if "core, cache" in med:
        out.insert(1, Result("3 import", f"{case} vs Core executemany with the import's page cache", med["project"],
                             med["core, cache"], target, repeats,
                             {"Core, cache": rate["core, cache"], "cache": f"{BULK_CACHE_KIB // 1024} MiB"}))  # fmt: skip
    if "copy" in med:
        out.append(Result("3 import", f"{case} vs COPY", med["project"], med["copy"], None, repeats,
                          {"COPY": rate["copy"], "Core / COPY": f"{med['core'] / med['copy']:.2f}x"}))  # fmt: skip
    return out


def run(n_rows: int = 1_000_000, repeats: int = 3, *, pg_url: str | None = PG_URL, pg_repeats: int = 1) -> list[Result]:
    frames = make_import_data(n_rows)
    rows = _typed_rows(frames)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results += _measure(_Sqlite(Path(tmp)), frames, rows, repeats, TARGET)
    if pg_url:
        backend = _Postgres(pg_url)
        try:
            results += _measure(backend, frames, rows, pg_repeats, TARGET)
        finally:
            backend.close()
    return results
