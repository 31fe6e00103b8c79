"""The web application in a real browser: Debian's Chromium driven by Playwright against `tkitrack serve`.

Each role signs in through the form; the readers open the cohort page, click a swimmer lane, land on that
patient's page at the record the lane comes from, and find its audit history; the administrator lands on the
accounts page. Any console error, page error, CSP violation or request leaving this server fails the test.
Screenshots are kept under the pytest temporary folder (the path is printed).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from .conftest import PASSWORD, build_registry

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]  # fmt: skip
#: Which patients each reader may reach.
SEES = {"site_a": {"A-001", "A-002"}, "dm": {"A-001", "A-002", "B-001"}, "inv": {"A-001", "A-002", "B-001"},
        "site_b": {"B-001"}}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tkitrack_exe: str) -> Iterator[str]:
    """`tkitrack serve` on a fresh registry, bound to 127.0.0.1 on a free port; stopped afterwards."""
    path = tmp_path_factory.mktemp("browser") / "registry.db"
    url = f"sqlite:///{path}"
    build_registry(url)
    port = _free_port()
    proc = subprocess.Popen([tkitrack_exe, "serve", "--db", url, "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    pytest.fail(f"tkitrack serve exited: {proc.stderr.read()}")
                if time.monotonic() > deadline:
                    pytest.fail("tkitrack serve did not answer within 60 s")
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The folder the screenshots are kept in; its path is printed in the test run's output."""
    folder = tmp_path_factory.mktemp("browser-screenshots")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"browser screenshots: {folder}")
    else:  # pragma: no cover - pytest without its terminal (xdist workers)
        sys.stderr.write(f"browser screenshots: {folder}\n")
    return folder


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server):
    """A fresh browser context (no cookies); every console error and outside request is collected."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.problems = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("request", lambda r: page.problems.append(f"outside request: {r.url}")
            if not r.url.startswith(server) else None)  # fmt: skip
    yield page
    context.close()


def _sign_in(page, server: str, name: str) -> None:
    page.goto(f"{server}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_load_state("networkidle")


def _lane_point(page) -> dict:
    """Page coordinates and record of the middle point of the first on-treatment lane segment in the swimmer."""
    return page.evaluate("""() => {
        const gd = document.getElementById('swimmer-0');  // the first part of the lanes
        const full = gd._fullLayout, box = gd.getBoundingClientRect();
        for (const trace of gd._fullData) {
            if (!/dose$/.test(trace.name)) continue;
            const i = 1;  // segments are [start, middle, end, NaN]: the middle point
            const x = full.xaxis.d2p(trace.x[i]) + full._size.l + box.left;
            const y = full.yaxis.d2p(trace.y[i]) + full._size.t + box.top;
            return {x: x + window.scrollX, y: y + window.scrollY, key: trace.customdata[i]};
        }
        return null;
    }""")


@pytest.mark.parametrize("role", ["site_a", "site_b", "dm", "inv"])
def test_reader_goes_from_a_swimmer_lane_to_the_patient_and_its_audit_history(page, server, shots, role):
    _sign_in(page, server, role)
    assert page.url == f"{server}/patients"
    shown = set(page.locator("#patient-table tbody a").all_inner_texts())
    assert shown == SEES[role]
    page.goto(f"{server}/cohort")
    page.wait_for_selector("#swimmer[data-state=ready]", timeout=60_000)
    page.wait_for_selector("#km[data-state=ready]", timeout=60_000)
    page.wait_for_selector("#response-table, #tables .none", timeout=60_000)
    page.screenshot(path=str(shots / f"{role}-cohort.png"), full_page=True)
    point = _lane_point(page)
    assert point is not None, "no on-treatment lane drawn"
    patient, record, record_id = point["key"].split("\t")
    assert patient in SEES[role] and record == "exposure"
    page.mouse.move(point["x"], point["y"])
    with page.expect_navigation(timeout=30_000):
        page.mouse.click(point["x"], point["y"])
    assert re.fullmatch(rf"{re.escape(server)}/patients/{patient}#record-exposure-{record_id}", page.url), page.url
    assert page.inner_text("#patient-id") == patient
    page.wait_for_selector("#timeline[data-state=ready]", timeout=30_000)
    row = page.locator(f"#record-exposure-{record_id}")
    assert row.get_attribute("class") == "hit"  # the record the lane came from is highlighted
    audit = page.locator("#audit-table tbody tr")
    assert audit.count() >= 5
    first = audit.first.locator("td").all_inner_texts()
    assert first[2] == "importer" and first[3] == "insert" and first[9] == "added from test registry"
    page.screenshot(path=str(shots / f"{role}-patient-{patient}.png"), full_page=True)
    assert page.problems == []  # type: ignore[attr-defined]


def test_markup_in_a_note_is_shown_and_never_run(page, server, shots):
    _sign_in(page, server, "dm")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{server}/patients/A-001")
    page.wait_for_selector("#timeline[data-state=ready]", timeout=30_000)
    text = page.inner_text("#records")
    assert "<script>alert('note')</script>" in text and '<img src=x onerror="alert(1)">' in text
    assert page.locator("#records img").count() == 0 and page.locator("#records script").count() == 0
    page.screenshot(path=str(shots / "markup-as-text.png"), full_page=True)
    assert dialogs == [] and page.problems == []  # type: ignore[attr-defined]


def test_admin_signs_in_to_accounts_and_signs_out(page, server, shots):
    _sign_in(page, server, "admin")
    assert page.url == f"{server}/admin/users"
    assert page.locator("#users-table tbody tr").count() == 5
    assert page.locator("header nav a", has_text="Cohort").count() == 0
    page.screenshot(path=str(shots / "admin-accounts.png"), full_page=True)
    page.click("text=Sign out")
    page.wait_for_url(f"{server}/login")
    page.goto(f"{server}/admin/users")
    assert page.url.startswith(f"{server}/login?next=/admin/users")
    assert page.problems == []  # type: ignore[attr-defined]


def test_htmx_search_updates_the_list_in_place(page, server):
    _sign_in(page, server, "dm")
    from playwright.sync_api import expect

    page.fill("#q", "B-")
    expect(page.locator("#patient-table tbody a")).to_have_count(1, timeout=10_000)  # swapped in place by htmx
    assert page.locator("#patient-table tbody a").all_inner_texts() == ["B-001"]
    assert page.url.endswith("q=B-") or "q=B-" in page.url
    assert page.problems == []  # type: ignore[attr-defined]
