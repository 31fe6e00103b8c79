"""Figure 8: ``audit verify`` (chain walk + replay of the trail against every table) on a trail of 1,000,000
entries: peak memory of a fresh process, and time against a floor measured in the same run.

The database holds ``n`` patients imported through ``add_records`` (so the trail is the real one: a batch entry
per import and a row per patient with the typed values), on SQLite, with the cross-record edit checks skipped to build it
quickly (they do not change what is written). Then, each in a fresh ``python`` process:

- **project**: ``verify_chain`` and ``replay_trail`` in one transaction, as `tkitrack audit verify` runs them;
- **floor**: reading the same rows the verification reads (every audit entry, every batch row and every patient
  row, streamed the same way) and hashing each entry and each batch's rows once, without the replay.

Peak memory is the process's maximum resident set (``VmHWM``), imports included; the target is 300 MB.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import Result

__all__ = ["run"]

MEMORY_TARGET_MB = 300


def build(url: str, n: int) -> None:
    """A migrated database at ``url`` with ``n`` patients imported (a batch row each)."""
    import pandas as pd

    from tkitrack.schemas import store
    from tkitrack.schemas.frames import listing
    from tkitrack.schemas.storage import make_engine, transaction, upgrade

    engine = make_engine(url)
    upgrade(engine)
    frame = pd.DataFrame({"patient_id": [f"P{i:07d}" for i in range(n)], "sex": "F", "birth_date": "2013-05",
                          "diagnosis_date": "2019-06-14", "histology": "IMT", "height_cm": "120.5"})  # fmt: skip
    real = store._run_edit_checks
    store._run_edit_checks = lambda session, typed: listing()
    try:
        step = 250_000
        for start in range(0, n, step):
            with transaction(engine) as session:
                store.add_records(session, {"patient": frame.iloc[start : start + step]}, user="bench", source="b")
    finally:
        store._run_edit_checks = real
    engine.dispose()


def measure(url: str, what: str) -> None:
    """In this process: run the project's verification or the floor; print JSON (seconds, peak RSS, counts)."""
    import hashlib

    from sqlalchemy import select

    from tkitrack.schemas.audit import AuditBatchRow, AuditEntry, _row_lines, sha256_entry, verify_chain
    from tkitrack.schemas.models import Patient
    from tkitrack.schemas.replay import replay_trail
    from tkitrack.schemas.storage import make_engine, transaction

    engine = make_engine(url)
    t0 = time.perf_counter()
    with transaction(engine) as session:
        if what == "project":
            chain = verify_chain(session)
            replay = replay_trail(session)
            assert chain.ok and replay.ok, (chain, replay.findings[:3])
            counts = {"entries": chain.entries, "records": replay.records}
        else:
            cols = [AuditEntry.__table__.c[k] for k in ("seq", "ts", "user", "action", "table_name", "record_id",
                    "patient_id", "field", "old_value", "new_value", "reason", "prev_hash", "hash")]  # fmt: skip
            entries = records = 0
            rows = AuditBatchRow.__table__.c
            digest = hashlib.sha256()
            for stmt in (
                select(*cols).order_by(AuditEntry.seq),
                select(rows.batch_seq, rows.record_id, rows.patient_id, rows.new_value).order_by(rows.id),
                select(Patient.__table__).order_by(Patient.patient_id),
            ):
                result = session.execute(stmt.execution_options(stream_results=True, yield_per=20_000))
                for part in result.partitions(20_000):
                    if stmt.selected_columns[0].name == "seq":
                        entries += len(part)
                        for row in part:
                            sha256_entry(row)
                    elif stmt.selected_columns[0].name == "batch_seq":
                        digest.update(_row_lines(*[[r[k] for r in part] for k in (1, 2, 3)]))
                    else:
                        records += len(part)
            counts = {"entries": entries, "records": records}
    elapsed = time.perf_counter() - t0
    print(json.dumps({"seconds": elapsed, "peak_bytes": _peak_rss(), **counts}))


def _peak_rss() -> int:
    """This process's peak resident set: ``VmHWM`` of /proc/self/status (``ru_maxrss`` is not used: Linux carries
    it over from the parent across fork and exec, so a child started by a large parent reports the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _fresh(url: str, what: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.audit_verify", "measure", url, what], check=True,
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(n: int = 1_000_000, repeats: int = 1) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'trail.db'}"
        t0 = time.perf_counter()
        build(url, n)
        setup = time.perf_counter() - t0
        project = [_fresh(url, "project") for _ in range(repeats)]
        floor = [_fresh(url, "floor") for _ in range(repeats)]
    p = min(project, key=lambda r: r["seconds"])
    f = min(floor, key=lambda r: r["seconds"])
    mb = max(r["peak_bytes"] for r in project) / 2**20
    notes = {"peak RSS": f"{mb:.0f} MB (target < {MEMORY_TARGET_MB} MB: {'ok' if mb < MEMORY_TARGET_MB else 'MISS'})",
             "floor peak RSS": f"{max(r['peak_bytes'] for r in floor) / 2**20:.0f} MB",
             "chain entries": f"{p['entries']:,}", "records replayed": f"{p['records']:,}", "setup": f"{setup:.0f} s"}  # fmt: skip
    return [Result("8 audit verify", f"SQLite, {n:,} records audited: chain, batch digests + replay", p["seconds"],
                   f["seconds"], None, repeats, notes)]  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "measure":
        measure(sys.argv[2], sys.argv[3])
    else:
        from bench._harness import format_table

        print(format_table(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))
