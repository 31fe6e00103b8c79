"""Figure 9: investigator commands on a registry-sized database, against the floors of reading and estimating.

For each cohort size a generated cohort (``tkitrack sample generate``'s code path) is imported into a SQLite file
(untimed; ``--db-dir`` reuses ``c<N>.db`` files made before). Each command runs as a subprocess, as a user runs
it, and is measured in CPU seconds (user + system of that process, from ``os.wait4``) with its peak resident
memory:

- floors, also subprocesses: *read* = start Python, import tkitrack's store and read every record into typed
  frames (``read_frames``); *KM* = start Python, import lifelines and the summary, and summarise a PFS table
  (``summarise_endpoint``, as ``survival`` does) read from a Parquet file written beforehand;
- ``report -o FILE.html`` *cold*, with an empty derived-dataset cache (everything derived from the records);
  then ``survival``, ``stopping`` and ``swimmer -o FILE.html`` each twice (the first reuses what the report
  derived and derives what it did not, e.g. the swimmer with AEs of every grade; the second is *warm*); then the
  report again, *warm*.

The ratios are against read + KM floors measured in the same run. The growth exponent over the sizes (time ~
n^k) is printed for the cold report (every derivation) and the floors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._harness import Result, child_usage

__all__ = ["run", "run_measured"]

_READ = """
from tkitrack.schemas.storage import make_engine, transaction
from tkitrack.schemas.store import read_frames
with transaction(make_engine({url!r})) as s:
    frames = read_frames(s)
print(sum(len(f) for f in frames.values()))
"""
_KM = """
import pandas as pd
from tkitrack.outcomes.summary import summarise_endpoint
data = pd.read_parquet({path!r})
s = summarise_endpoint(data, time="time", event="event")
print(len(s.table))
"""


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """(CPU seconds, peak resident memory in bytes) of one subprocess, which must succeed (measured alone:
    :func:`bench._harness.child_usage`)."""
    import tempfile

    with tempfile.TemporaryFile() as err:
        usage = child_usage(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
        if usage.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)} failed ({usage.returncode}): {err.read().decode()[-2000:]}")
    return usage.cpu_s, usage.peak_bytes


def _build_db(path: Path, n: int) -> None:
    from bench.report import _build_db as build

    build(path, n, seed=1)


def _pfs_table(url: str, path: Path) -> int:
    from tkitrack.outcomes.cache import Derived
    from tkitrack.schemas.storage import make_engine

    data = Derived(engine=make_engine(url), directory=None).endpoint("PFS")
    data.to_parquet(path)
    return len(data)


def _gib(b: int) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def run(sizes: tuple[int, ...] = (1_000, 10_000), *, db_dir: str | None = None) -> list[Result]:
    from bench.derive import growth_exponent
    from bench.startup import _script

    results: list[Result] = []
    cold_times: dict[str, dict[int, float]] = {}
    floor_times: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        for n in sizes:
            db = Path(db_dir) / f"c{n}.db" if db_dir else tmpdir / f"c{n}.db"
            if not db.exists():
                _build_db(db, n)
            url = f"sqlite:///{db}"
            pfs = tmpdir / f"pfs{n}.parquet"
            rows = _pfs_table(url, pfs)
            read_s, read_mem = run_measured([sys.executable, "-c", _READ.format(url=url)])
            km_s, _ = run_measured([sys.executable, "-c", _KM.format(path=str(pfs))])
            floor = read_s + km_s
            floor_times[n] = floor
            results.append(Result("9 commands", f"{n:,} patients: floors read + KM", floor, None, None, 1,
                                  {"read": f"{read_s:.1f} s ({_gib(read_mem)})", "KM": f"{km_s:.1f} s",
                                   "PFS rows": f"{rows:,}"}))  # fmt: skip
            cache = tmpdir / f"cache{n}"
            shutil.rmtree(cache, ignore_errors=True)
            env = {**os.environ, "TKITRACK_CACHE_DIR": str(cache)}
            base = [sys.executable, *_script(), "--db", str(db)]
            report = ["report", "-o", str(tmpdir / "report.html"), "--force"]
            cold, cold_mem = run_measured(base + report, env)  # empty cache: every dataset derived from the records
            cold_times.setdefault("report", {})[n] = cold
            commands = {
                "survival": ["survival"],
                "stopping": ["stopping"],
                "swimmer": ["swimmer", "-o", str(tmpdir / "swimmer.html"), "--force"],
            }
            for name, args in commands.items():
                first, first_mem = run_measured(base + args, env)  # after the report: what it derived is reused
                warm, warm_mem = run_measured(base + args, env)
                notes = {"after the report": f"{first:.1f} s, {_gib(first_mem)}", "again": f"{warm:.1f} s, "
                         f"{_gib(warm_mem)}"}  # fmt: skip
                results.append(Result("9 commands", f"{n:,} patients: {name}, warm vs read + KM", warm, floor, 3.0,
                                      1, notes))  # fmt: skip
            warm, warm_mem = run_measured(base + report, env)
            notes = {"cold (empty cache)": f"{cold:.1f} s, {_gib(cold_mem)}", "warm": f"{warm:.1f} s, "
                     f"{_gib(warm_mem)}", "HTML": f"{(tmpdir / 'report.html').stat().st_size / 2**20:.1f} MiB"}  # fmt: skip
            results.append(Result("9 commands", f"{n:,} patients: report, warm (CPU s; target 60 s, 1.5 GiB)", warm,
                                  floor, None, 1, notes))  # fmt: skip
    if len(sizes) > 1:
        exps = {name: growth_exponent(t) for name, t in cold_times.items()}
        exps["floors"] = growth_exponent(floor_times)
        results[-1].notes["exponents (cold)"] = ", ".join(f"{k} {v:.2f}" for k, v in exps.items())
    return results


if __name__ == "__main__":  # python -m bench.commands [sizes...] [--db-dir DIR]
    import argparse

    from bench._harness import format_table

    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[1_000, 10_000])
    parser.add_argument("--db-dir", help="folder with c<N>.db files made before (else generated)")
    opts = parser.parse_args()
    print(format_table(run(tuple(opts.sizes), db_dir=opts.db_dir)), flush=True)
