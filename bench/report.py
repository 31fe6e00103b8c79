"""Figure 6: ``tkitrack report`` on 1,000 generated patients, end to end, plus where the time goes.

The cohort is imported (untimed) into a fresh SQLite file with ``tkitrack sample generate --import``'s code
path; then ``tkitrack --db FILE report -o report.html`` runs as a subprocess, repeated. The breakdown runs the
same steps in-process once: read the records, validate, derive and draw the sections, write the HTML.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import Result, median_time

__all__ = ["run"]


def _build_db(path: Path, n: int, seed: int) -> None:
    from tkitrack.sample_data.generate import generate_cohort
    from tkitrack.schemas.storage import make_engine, transaction, upgrade
    from tkitrack.schemas.store import add_records

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with transaction(engine) as session:
        add_records(session, generate_cohort(n, seed=seed), user="bench", source="bench report cohort")
    engine.dispose()


def _breakdown(db: Path, out: Path) -> dict[str, str]:
    from tkitrack.dashboards.cohort_report import build_cohort_sections
    from tkitrack.dashboards.report import write_report
    from tkitrack.schemas.queries import validate_frames
    from tkitrack.schemas.storage import make_engine, transaction
    from tkitrack.schemas.store import read_frames

    steps = {}
    t0 = time.perf_counter()
    engine = make_engine(f"sqlite:///{db}")
    with transaction(engine) as session:
        frames = read_frames(session)
    engine.dispose()
    t1 = time.perf_counter()
    listing = validate_frames(frames)
    t2 = time.perf_counter()
    sections = build_cohort_sections(frames, listing=listing)
    t3 = time.perf_counter()
    write_report(sections, out, title="bench", provenance={"patients": len(frames["patient"])})
    t4 = time.perf_counter()
    steps["read"] = f"{t1 - t0:.2f} s"
    steps["validate"] = f"{t2 - t1:.2f} s"
    steps["sections"] = f"{t3 - t2:.2f} s"
    steps["write"] = f"{t4 - t3:.2f} s"
    return steps


def run(n: int = 1_000, repeats: int = 3, *, seed: int = 17) -> list[Result]:
    from bench.startup import _script

    with tempfile.TemporaryDirectory() as tmp:
        db, out = Path(tmp) / "cohort.db", Path(tmp) / "report.html"
        _build_db(db, n, seed)
        argv = [sys.executable, *_script(), "--db", str(db), "report", "-o", str(out)]

        def report() -> None:
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)

        t = median_time(report, repeats)
        notes = {"HTML": f"{out.stat().st_size / 2**20:.1f} MiB"}
        notes.update(_breakdown(db, Path(tmp) / "again.html"))
    return [Result("6 report", f"tkitrack report, {n:,} patients (subprocess)", t, None, None, repeats, notes)]
