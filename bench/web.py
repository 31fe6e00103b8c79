"""Figure 7: the web application on a 10,000-patient database: page latency and drawing the cohort swimmer.

Latency (in process, FastAPI's TestClient, signed in): the patient list (first page, a search, a status filter),
the patient page and its deferred parts, as a data manager and as a site user. Baseline: a bare FastAPI app on
the same database whose one route reads the patient's row and renders a one-line template: what any
database-backed page costs here. Target: 200 ms (the issue's), shown beside each median.

Browser (Debian's Chromium, Playwright, against `tkitrack serve`): the cohort page's swimmer of 10,000 lanes,
drawn in parts of 500 lanes, each in its own task. Measured: the longest part, every main-thread task over 50 ms
while the page loads (PerformanceObserver "longtask"), and the time to the first and the last lane. Baseline: the
very same lanes drawn as one plotly figure in the same page (what a single figure would block the page for).
"""

from __future__ import annotations

import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._harness import Result, paired_times

__all__ = ["run"]

PASSWORD = "correct horse battery"
_CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"]  # fmt: skip
_LONGTASKS = ("window.__longtasks = []; try { new PerformanceObserver(l => { for (const e of l.getEntries()) "
              "window.__longtasks.push([e.startTime, e.duration]); }).observe({type: 'longtask', buffered: true}); "
              "} catch (e) {}")  # fmt: skip


def build(folder: Path, n: int, *, seed: int = 7) -> str:
    """A SQLite registry of ``n`` generated patients, with a data manager ``dm`` and a site user ``site1``."""
    from tkitrack.sample_data.generate import generate_cohort
    from tkitrack.schemas.storage import make_engine, transaction, upgrade
    from tkitrack.schemas.store import add_records
    from tkitrack.schemas.users import add_user

    url = f"sqlite:///{folder / 'registry.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with transaction(engine) as s:
        add_records(s, generate_cohort(n, seed=seed), user="bench")
        add_user(s, "dm", "data_manager", PASSWORD, site=None, by="bench")
        add_user(s, "site1", "site", PASSWORD, site="SITE01", by="bench")
    engine.dispose()
    return url


def _client(url: str, name: str):
    from fastapi.testclient import TestClient

    from tkitrack.dashboards.web import create_app

    client = TestClient(create_app(url), base_url="http://127.0.0.1", follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"name": name, "password": PASSWORD, "csrf_token": token}).status_code == 303
    return client


def _baseline_client(url: str):
    """A bare FastAPI app: one route, one indexed read of the patient row, one template."""
    import jinja2
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from tkitrack.schemas.models import Patient
    from tkitrack.schemas.storage import make_engine, transaction

    engine = make_engine(url)
    template = jinja2.Environment(autoescape=True).from_string("<h1>{{ p.patient_id }}</h1><p>{{ p.histology }}</p>")
    app = FastAPI()

    @app.get("/p/{pid}")
    def one(pid: str) -> HTMLResponse:
        with transaction(engine) as s:
            row = s.execute(select(Patient.__table__).where(Patient.__table__.c.patient_id == pid)).mappings().one()
        return HTMLResponse(template.render(p=row))

    return TestClient(app, base_url="http://127.0.0.1")


def _latency(url: str, repeats: int, patient: str) -> list[Result]:
    out = []
    base = _baseline_client(url)
    cases = [
        ("dm", "patient list, first page", "/patients"),
        ("dm", "patient list, search by id", "/patients?q=SYN-0999"),
        ("dm", "patient list, status filter (dead)", "/patients?status=dead"),
        ("site1", "patient list, site user (own site only)", "/patients"),
        ("dm", "patient page", f"/patients/{patient}"),
        ("dm", "patient page: timeline figure (deferred)", f"/patients/{patient}/timeline.json"),
        ("dm", "patient page: findings (deferred)", f"/patients/{patient}/findings"),
    ]
    clients = {name: _client(url, name) for name in ("dm", "site1")}
    for name, case, path in cases:
        client = clients[name]
        for _ in range(2):  # warm: imports, caches, SQLite pages
            assert client.get(path).status_code == 200, path
            base.get(f"/p/{patient}")
        project, baseline = paired_times(lambda c=client, p=path: c.get(p), lambda: base.get(f"/p/{patient}"), repeats)
        deferred = "deferred" in case
        verdict = "-" if deferred else ("ok" if project <= 0.2 else "MISS")
        out.append(Result("7 web", f"{case} (10,000 patients)", project, baseline, None, repeats,
                          {"within 200 ms": verdict, "as": name}))  # fmt: skip
    for client in (*clients.values(), base):
        client.close()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _browser(url: str, n: int) -> list[Result]:
    from playwright.sync_api import sync_playwright

    from tkitrack.dashboards.web.figures import figure_cohort_swimmer, figure_json
    from tkitrack.schemas.storage import make_engine, transaction
    from tkitrack.schemas.store import read_frames

    exe = str(Path(sys.executable).parent / "tkitrack")
    port = _free_port()
    proc = subprocess.Popen([exe, "serve", "--db", url, "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    engine = make_engine(url)
    with transaction(engine) as s:
        frames = read_frames(s)
    engine.dispose()
    [whole] = figure_cohort_swimmer(frames, group_by="histology", chunk=10**9)
    whole_json = figure_json(whole)
    try:
        import httpx2 as httpx

        for _ in range(200):
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=_CHROMIUM_ARGS)
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(_LONGTASKS)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{base}/login")
            page.fill("#name", "dm")
            page.fill("#password", PASSWORD)
            page.click("#signin")
            page.wait_for_load_state("networkidle")
            t0 = time.perf_counter()
            page.goto(f"{base}/cohort")
            page.wait_for_selector("#swimmer-0 .main-svg", timeout=600_000)
            first_lane = time.perf_counter() - t0
            page.wait_for_selector("#swimmer[data-state=ready]", timeout=600_000)
            all_lanes = time.perf_counter() - t0
            page.wait_for_selector("#km[data-state=ready]", timeout=600_000)
            info = page.evaluate("() => { const d = document.getElementById('swimmer').dataset; "
                                 "return {fetch: +d.fetchMs, render: +d.renderMs, parts: d.partMs.split(',').map(Number),"
                                 " tasks: window.__longtasks}; }")  # fmt: skip
            page.evaluate(
                "() => { const d = document.createElement('div'); d.id = 'whole'; document.body.appendChild(d); }"
            )
            whole_ms = page.evaluate("async f => { const t = performance.now(); await Plotly.newPlot('whole', f.data, "
                                     "f.layout); return performance.now() - t; }", __import__("json").loads(whole_json))  # fmt: skip
            chromium.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    parts = info["parts"]
    tasks = sorted((round(d) for _, d in info["tasks"]), reverse=True)
    longest_part = max(parts) / 1000
    return [
        Result("7 web", f"swimmer in the browser, {n:,} lanes: longest part vs one figure", longest_part,
               whole_ms / 1000, None, 1,
               {"parts": len(parts), "median part": f"{statistics.median(parts):.0f} ms",
                "all parts drawn": f"{info['render'] / 1000:.1f} s", "first part fetched": f"{info['fetch'] / 1000:.1f} s",
                "first lanes on screen": f"{first_lane:.1f} s", "every lane": f"{all_lanes:.1f} s",
                "longest tasks (ms)": ", ".join(map(str, tasks[:5])), "console errors": len(errors)}),
    ]  # fmt: skip


def run(n: int = 10_000, *, repeats: int = 21, browser: bool = True) -> list[Result]:
    """Build the registry once, then the latency cases and (``browser``) the swimmer in Chromium."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        url = build(Path(tmp), n)
        built = time.perf_counter() - t0
        results = _latency(url, repeats, patient=f"SYN-{n // 2:05d}")
        results[0].notes["database built in"] = f"{built:.0f} s"
        if browser:
            results += _browser(url, n)
    return results
