"""Issue 16.1: one import of 1,000,000 patients through ``tkitrack import``, as a user runs it, on SQLite and
PostgreSQL.

``python -m bench.million [--patients 1000000] [--only sqlite|postgresql] [--pg-url URL]``

The patient rows are the generated cohort's (``generate_cohort(1_000, seed=11)``), cloned under new ids until
there are ``--patients`` of them, written as one template ``patient.csv``. Each back end gets an empty database at
the newest schema (a SQLite file; a PostgreSQL schema of its own, dropped afterwards), and ``tkitrack --db URL
import DIR`` runs as a child process. Reported per back end: exit status, wall time, the child's CPU and peak
resident memory (``bench._harness.child_usage``: measured through a small launcher, so the peak is the import's
own and not this process's), and what the database holds afterwards: patients, audit entries of the import, and whether the patient ids are exactly the
file's. A run fails (exit 1) unless every patient is in the database once with one audit entry each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._writers import scratch_database

__all__ = ["run"]

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def write_patients(folder: Path, n: int) -> list[str]:
    """``patient.csv`` with ``n`` rows in ``folder``; returns the ids in file order."""
    import numpy as np
    import pandas as pd

    from tkitrack.sample_data.generate import generate_cohort

    base = generate_cohort(1_000, seed=11)["patient"]
    reps = -(-n // len(base))
    big = pd.concat([base] * reps, ignore_index=True).iloc[:n].copy()
    suffix = np.repeat([f"-{k:04d}" for k in range(reps)], len(base))[:n].astype(object)
    big["patient_id"] = big["patient_id"] + suffix
    folder.mkdir(parents=True, exist_ok=True)
    big.to_csv(folder / "patient.csv", index=False)
    return big["patient_id"].tolist()


def _counts(url: str) -> dict[str, object]:
    from sqlalchemy import text

    from tkitrack.schemas.storage import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            patients = conn.execute(text("SELECT count(*), count(DISTINCT patient_id) FROM patient")).one()
            entries = conn.execute(text(  # per-record entries and the rows of batch entries
                "SELECT (SELECT count(*) FROM audit_log WHERE table_name = 'patient' AND action <> 'insert batch') "
                "+ (SELECT count(*) FROM audit_batch_row r JOIN audit_log b ON b.seq = r.batch_seq "
                "WHERE b.table_name = 'patient')")).scalar_one()  # fmt: skip
            ids = {r[0] for r in conn.execute(text("SELECT patient_id FROM patient"))}
    finally:
        engine.dispose()
    return {"patients": patients[0], "distinct_ids": patients[1], "audit_entries": entries, "ids": ids}


def import_once(url: str, folder: Path) -> dict[str, object]:
    """``tkitrack --db URL import folder`` as a child process: exit status, wall, CPU and peak RSS, output tail."""
    from bench._harness import child_usage
    from bench.startup import _script

    cmd = [sys.executable, *_script(), "--db", url, "import", str(folder)]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        usage = child_usage(cmd, stdout=out, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - t0
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return {
        "exit": usage.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.cpu_s, 1),
        "peak_rss_mib": round(usage.peak_bytes / 2**20),
        "output_tail": text.strip().splitlines()[-1:],
    }


def check_import(url: str, folder: Path, ids: list[str]) -> dict[str, object]:
    """Import ``folder`` into the database at ``url`` and say whether exactly ``ids`` arrived, one audit entry each."""
    found = import_once(url, folder)
    counts = _counts(url)
    n = len(ids)
    ok = (found["exit"] == 0 and counts["patients"] == n and counts["distinct_ids"] == n
          and counts["audit_entries"] == n and counts["ids"] == set(ids))  # fmt: skip
    return {"patients": n, **found, **{k: v for k, v in counts.items() if k != "ids"},
            "ids_equal_file": counts["ids"] == set(ids), "ok": ok}  # fmt: skip


def run(n: int = 1_000_000, backends: tuple[str, ...] = ("sqlite", "postgresql"), pg_url: str = PG_URL
        ) -> list[dict[str, object]]:  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory(prefix="tkitrack-million-") as tmp:
        folder = Path(tmp) / "files"
        t0 = time.perf_counter()
        ids = write_patients(folder, n)
        size = (folder / "patient.csv").stat().st_size
        print(f"patient.csv: {n:,} rows, {size / 2**20:.1f} MiB, written in {time.perf_counter() - t0:.1f} s",
              flush=True)  # fmt: skip
        for backend in backends:
            with scratch_database(backend, Path(tmp), pg_url) as url:
                row = {"backend": backend, **check_import(url, folder, ids)}
            print(json.dumps(row, indent=1), flush=True)
            results.append(row)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.million", description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--json", help="also write the results to this JSON file")
    opts = parser.parse_args(argv)
    backends = (opts.only,) if opts.only else ("sqlite", "postgresql")
    results = run(opts.patients, backends, opts.pg_url)
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
