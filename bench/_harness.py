"""Timing, memory and reporting helpers shared by the benchmark figures."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = [
    "Result",
    "machine",
    "median_time",
    "paired_times",
    "peak_rss_delta",
    "run_isolated",
]


@dataclass
class Result:
    """One line of the results table: the project's time, the baseline's, their ratio and the target."""

    figure: str
    case: str
    project_s: float | None
    baseline_s: float | None = None
    target: float | None = None
    repeats: int = 1
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.project_s is None or not self.baseline_s:
            return None
        return self.project_s / self.baseline_s

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return ""
        return "ok" if self.ratio <= self.target else "MISS"

    def as_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "case": self.case,
            "project_s": self.project_s,
            "baseline_s": self.baseline_s,
            "ratio": self.ratio,
            "target": self.target,
            "verdict": self.verdict,
            "repeats": self.repeats,
            "notes": self.notes,
        }


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def format_table(results: list[Result]) -> str:
    """The results as a Markdown table (also readable in a terminal)."""
    head = "| figure | case | project | baseline | ratio | target | | repeats | notes |"
    rows = [head, "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |"]
    for r in results:
        notes = "; ".join(f"{k}: {v}" for k, v in r.notes.items())
        rows.append(
            f"| {r.figure} | {r.case} | {_fmt_s(r.project_s)} | {_fmt_s(r.baseline_s)} | "
            f"{'-' if r.ratio is None else f'{r.ratio:.2f}x'} | {'-' if r.target is None else f'<= {r.target}x'} | "
            f"{r.verdict} | {r.repeats} | {notes} |"
        )
    return "\n".join(rows)


def median_time(func: Callable[[], Any], repeats: int, *, setup: Callable[[], Any] | None = None) -> float:
    """Median wall time of ``func()`` over ``repeats`` runs (``setup()`` runs untimed before each)."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        gc.collect()
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def paired_times(project: Callable[[], Any], baseline: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Medians of project and baseline, run alternately so that machine noise hits both alike."""
    p, b = [], []
    for i in range(repeats):
        order = ((project, p), (baseline, b)) if i % 2 == 0 else ((baseline, b), (project, p))
        for func, out in order:
            gc.collect()
            t0 = time.perf_counter()
            func()
            out.append(time.perf_counter() - t0)
    return statistics.median(p), statistics.median(b)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_delta(func: Callable[[], Any], interval: float = 0.002) -> tuple[Any, int]:
    """Run ``func()``; return its result and the peak resident memory above the level before it (bytes).

    A thread samples ``/proc/self/statm``, so memory outside Python's allocator (numpy, Arrow) counts too.
    Run it in a fresh process (:func:`run_isolated`) so that freed memory of earlier work is not reused.
    """
    gc.collect()
    start = _rss_bytes()
    peak = start
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_bytes())
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        result = func()
    finally:
        done.set()
        thread.join()
    peak = max(peak, _rss_bytes())
    return result, peak - start


#: Started as a fresh, small interpreter: runs the command as ITS child and reports that child's rusage. A child
#: forked straight from a large process starts with the parent's peak resident set as its own (Linux copies the
#: memory map's high-water mark on fork and keeps it in the process's ``ru_maxrss`` across exec), so measuring a
#: command from a benchmark that has just built a large cohort would report the benchmark's peak, not the command's.
_LAUNCH = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as fh:
    fh.write(f"{proc.returncode} {usage.ru_utime + usage.ru_stime!r} {usage.ru_maxrss * 1024}")
"""


@dataclass
class ChildUsage:
    """What one command cost: exit status, CPU seconds (user + system), peak resident set in bytes."""

    returncode: int
    cpu_s: float
    peak_bytes: int


def child_usage(argv: list[str], *, env: dict[str, str] | None = None, **popen: Any) -> ChildUsage:
    """Run ``argv`` to its end and measure it alone (through :data:`_LAUNCH`, so the peak memory is the command's,
    whatever this process holds); ``popen`` (``stdout=``, ``stderr=``) goes to the launcher, whose streams the
    command inherits."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tkitrack-usage-") as tmp:
        report = os.path.join(tmp, "usage")
        subprocess.run([sys.executable, "-c", _LAUNCH, report, *argv], env=env, check=True, **popen)
        with open(report) as fh:
            code, cpu, peak = fh.read().split()
    return ChildUsage(int(code), float(cpu), int(peak))


def run_isolated(module: str, *args: str, timeout: float = 900) -> str:
    """Run ``python -m module args`` from the repository root; return its stdout (stderr passes through)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=root,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        timeout=timeout,
    )
    return out.stdout


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total() -> str:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine() -> dict[str, str]:
    """CPU model, cores, memory, OS, Python and the versions of the libraries the figures exercise."""
    import sqlite3

    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _mem_total(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    for dist in ("pandas", "numpy", "pyarrow", "pandera", "sqlalchemy", "sqlmodel", "psycopg", "typer", "plotly",
                 "lifelines"):  # fmt: skip
        try:
            info[dist] = version(dist)
        except PackageNotFoundError:
            info[dist] = "not installed"
    return info
