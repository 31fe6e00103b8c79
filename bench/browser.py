"""Figure 10: the HTML report of a generated cohort opened in Chromium: file size and time until every figure is drawn.

The report is written by ``tkitrack report`` on a SQLite file of generated patients (``--db-dir`` reuses
``c<N>.db``). Debian's Chromium (``/usr/bin/chromium``, headless, through Playwright) opens it from disk; the time
runs from navigation to the moment every figure has its SVG (median of the repeats, a fresh page each). Baseline:
a page holding only the same inlined plotly.js bundle and one empty plot, opened the same way (the cost of
parsing the library, which no report avoids).

``--per-figure`` also prints, for each figure, the time since navigation at which its SVG appeared (a
MutationObserver installed before the page loads; median of the repeats) and the difference to the one before.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import Result

__all__ = ["figure_seconds", "load_seconds", "run"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]  # fmt: skip
_DRAWN = "[...document.querySelectorAll('div[id^=fig-]')].every(d => d.querySelector('svg.main-svg'))"


def load_seconds(paths: list[Path], repeats: int) -> list[float]:
    """Median seconds from navigation until every figure of each page is drawn (one Chromium for all)."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for path in paths:
                times = []
                for _ in range(repeats):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    errors: list[str] = []
                    page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                    t0 = time.perf_counter()
                    page.goto(path.as_uri(), timeout=300_000)
                    page.wait_for_function(_DRAWN, timeout=300_000, polling=50)
                    times.append(time.perf_counter() - t0)
                    page.close()
                    if errors:
                        raise RuntimeError(f"{path.name}: {errors[:3]}")
                out.append(statistics.median(times))
        finally:
            browser.close()
    return out


_OBSERVE = """
window.__drawn = {};
new MutationObserver(() => {
  document.querySelectorAll('div[id^=fig-]').forEach(d => {
    if (!(d.id in window.__drawn) && d.querySelector('svg.main-svg')) window.__drawn[d.id] = performance.now();
  });
}).observe(document, {childList: true, subtree: true});
"""


def figure_seconds(path: Path, repeats: int) -> dict[str, float]:
    """Seconds from navigation until each figure's SVG appears (median of ``repeats``), in page order."""
    from playwright.sync_api import sync_playwright

    runs: list[dict[str, float]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            for _ in range(repeats):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.add_init_script(_OBSERVE)
                page.goto(path.as_uri(), timeout=300_000)
                page.wait_for_function(_DRAWN, timeout=300_000, polling=50)
                runs.append({k: v / 1000 for k, v in page.evaluate("window.__drawn").items()})
                page.close()
        finally:
            browser.close()
    order = sorted(runs[0], key=runs[0].get)
    return {k: statistics.median(r[k] for r in runs) for k in order}


def _baseline_page(report: Path, out: Path) -> None:
    html = report.read_text(encoding="utf-8")
    scripts = re.findall(r'<script type="text/javascript">(.*?)</script>', html, re.S)
    out.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<script type="text/javascript">{scripts[0]}</script></head><body>'
        '<div id="fig-0" style="width:900px;height:400px"></div>'
        '<script>Plotly.newPlot("fig-0", [], {})</script></body></html>',
        encoding="utf-8",
    )


def run(n: int = 10_000, repeats: int = 3, *, db_dir: str | None = None, per_figure: bool = False) -> list[Result]:
    from bench.report import _build_db
    from bench.startup import _script

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        db = Path(db_dir) / f"c{n}.db" if db_dir else tmpdir / f"c{n}.db"
        if not db.exists():
            _build_db(db, n, 1)
        report = tmpdir / "report.html"
        env = {**os.environ, "TKITRACK_CACHE_DIR": str(tmpdir / "cache")}
        subprocess.run([sys.executable, *_script(), "--db", str(db), "report", "-o", str(report)], check=True,
                       stdout=subprocess.DEVNULL, env=env)  # fmt: skip
        baseline = tmpdir / "baseline.html"
        _baseline_page(report, baseline)
        t_report, t_base = load_seconds([report, baseline], repeats)
        figures = len(re.findall(r'<div id="fig-', report.read_text(encoding="utf-8")))
        if per_figure:
            before = 0.0
            for fig_id, t in figure_seconds(report, repeats).items():
                print(f"{fig_id}: drawn at {t:.2f} s (+{t - before:.2f} s)", flush=True)
                before = t
        notes = {"HTML": f"{report.stat().st_size / 2**20:.1f} MiB (target < 8 MiB at 10,000)",
                 "figures": figures, "target": "< 5 s"}  # fmt: skip
    return [Result("10 report in Chromium", f"{n:,} patients: open until every figure is drawn", t_report, t_base,
                   None, repeats, notes)]  # fmt: skip


if __name__ == "__main__":  # python -m bench.browser [N] [--db-dir DIR]
    import argparse

    from bench._harness import format_table

    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=10_000)
    parser.add_argument("--db-dir")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-figure", action="store_true", help="also print when each figure is drawn")
    opts = parser.parse_args()
    print(format_table(run(opts.n, opts.repeats, db_dir=opts.db_dir, per_figure=opts.per_figure)), flush=True)
