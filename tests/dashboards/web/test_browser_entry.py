"""Data entry and the query workflow in a real browser (Debian's Chromium, Playwright) against `tkitrack serve`.

A site user adds a patient, starts crizotinib, records a grade 2 gait disturbance after a typo in the term that
the search corrects, a complete response, and a stop in CR; a data manager raises a query on the dose, the site
answers it, the data manager closes it; the audit history shows each step with the right user; the cohort page
shows the new patient's lane. Any console error, page error or request leaving this server fails the test.
"""

from __future__ import annotations

import re

import pytest

from .test_browser import _sign_in, browser, server, shots  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def _person(browser, server, name: str):  # noqa: F811
    """A fresh browser context signed in as ``name``; its problems (console errors, outside requests) collected."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.problems = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("request", lambda r: page.problems.append(f"outside request: {r.url}")
            if not r.url.startswith(server) else None)  # fmt: skip
    _sign_in(page, server, name)
    return context, page


def _fill(page, values: dict[str, str]) -> None:
    for name, value in values.items():
        selector = f"#f-{name}"
        # the form may still be loading after the click that opened it (eval_on_selector does not wait: seen
        # failing once under load, in the lowest-dependencies run)
        if page.wait_for_selector(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)


def _save(page, button: str = "#save") -> None:
    """Submit and land on the next page; a refused save fails the test with what the form says."""
    with page.expect_navigation():
        page.click(button)
    page.wait_for_load_state("domcontentloaded")
    refused = page.locator("#form-message, .field-error")
    assert refused.count() == 0, refused.all_inner_texts()


def test_a_nurse_logs_a_course_and_a_data_manager_works_a_query_on_it(browser, server, shots):  # noqa: F811
    from playwright.sync_api import expect

    nurse_context, nurse = _person(browser, server, "site_a")
    nurse.click("#new-patient")
    assert nurse.input_value("#f-site") == "A"
    _fill(nurse, {"patient_id": "A-010", "sex": "F", "birth_date": "2015-04", "diagnosis_date": "2022-01-10",
                  "histology": "IMT", "height_cm": "110", "weight_kg": "19"})  # fmt: skip
    _save(nurse)
    assert nurse.url.startswith(f"{server}/patients/A-010?saved=")
    assert nurse.inner_text("#patient-id") == "A-010"

    nurse.click("#add-exposure")  # start crizotinib
    _fill(nurse, {"drug": "crizotinib", "dose": "200", "unit": "mg", "frequency": "BID", "start": "2022-02-01"})
    _save(nurse)
    exposure_id = re.search(r"#record-exposure-(\d+)$", nurse.url).group(1)

    nurse.click("#add-ae")  # the term typed with a typo; the search offers the CTCAE term and its grades
    nurse.type("#f-term", "gait disturbence", delay=15)
    pick = nurse.locator('#term-suggest .tk-pick[data-term="Gait disturbance"]')
    expect(pick).to_be_visible(timeout=15_000)
    nurse.screenshot(path=str(shots / "entry-ctcae-search.png"), full_page=True)
    pick.click()
    assert nurse.input_value("#f-term") == "Gait disturbance"
    assert nurse.eval_on_selector_all("#f-grade option", "os => os.map(o => o.value)") == ["", "1", "2", "3"]
    _fill(nurse, {"grade": "2", "start": "2022-03", "attributed_drug": "crizotinib"})
    _save(nurse)
    assert "#record-ae-" in nurse.url

    nurse.click("#add-assessment")  # a complete response
    _fill(nurse, {"date": "2022-06-01", "modality": "MRI", "response": "CR"})
    _save(nurse)

    nurse.click(f"#record-exposure-{exposure_id} a.stop")  # stop in CR
    _fill(nurse, {"last_dose": "2022-08-31", "reason": "complete_response", "comment": "stopped in CR"})
    _save(nurse)
    nurse.screenshot(path=str(shots / "entry-patient-after-stop.png"), full_page=True)

    dm_context, dm = _person(browser, server, "dm")  # a data manager raises a query on the dose
    dm.goto(f"{server}/patients/A-010")
    dm.click(f"#record-exposure-{exposure_id} a.raise")
    dm.select_option("#q-field", "dose")
    dm.fill("#q-text", "200 mg BID for 19 kg: please check against the prescription")
    _save(dm, "#raise")
    query_id = re.fullmatch(rf"{re.escape(server)}/queries/(\d+)", dm.url).group(1)
    assert dm.inner_text("#query-state") == "open"

    nurse.goto(f"{server}/queries")  # the site sees it in its listing and answers
    nurse.click(f"#query-{query_id} a >> nth=0")
    nurse.fill("#answer-text", "200 mg BID confirmed in the prescription")
    _save(nurse, "#answer")
    assert nurse.inner_text("#query-state") == "answered"

    dm.goto(f"{server}/queries/{query_id}")  # the data manager closes it
    dm.fill("#close-text", "confirmed")
    _save(dm, "#close")
    assert dm.inner_text("#query-state") == "closed"
    steps = dm.locator("#query-steps tbody tr")
    assert [steps.nth(i).locator("td").nth(1).inner_text() for i in range(steps.count())] == ["dm", "site_a", "dm"]

    dm.goto(f"{server}/patients/A-010")  # the audit history: each step with the right user
    rows = dm.locator("#audit-table tbody tr")
    trail = [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]
    steps = [(r[2], r[3], r[4], r[6]) for r in trail]  # user, action, table, field
    expected = [("site_a", "insert", "patient", "*"), ("site_a", "insert", "exposure", "*"),
                ("site_a", "insert", "ae", "*"), ("site_a", "insert", "assessment", "*"),
                ("site_a", "update", "exposure", "end_dtc"), ("dm", "insert", "query", "state"),
                ("site_a", "update", "query", "state"), ("dm", "update", "query", "state")]  # fmt: skip
    found = iter(steps)
    assert all(step in found for step in expected), steps  # in this order, other entries between
    ae = next(r for r in trail if r[4] == "ae" and r[3] == "insert")
    assert {"term: Gait disturbance", "grade: 2", "start: 2022-03"} <= set(ae[8].split("; "))
    closed = [r for r in trail if r[4] == "query" and r[9].startswith(f"query {query_id} ")]
    assert [(r[2], r[8]) for r in closed] == [("dm", "open"), ("site_a", "answered"), ("dm", "closed")]
    dm.screenshot(path=str(shots / "entry-audit.png"), full_page=True)

    dm.goto(f"{server}/cohort")  # the new patient's lane is in the swimmer
    dm.wait_for_selector("#swimmer[data-state=ready]", timeout=60_000)
    keys = dm.evaluate("""() => Array.from(document.querySelectorAll('#swimmer .js-plotly-plot, #swimmer'))
        .flatMap(gd => (gd._fullData || []).flatMap(t => Array.from(t.customdata || [])))
        .filter(k => typeof k === 'string')""")
    assert any(k.startswith(f"A-010\texposure\t{exposure_id}") for k in keys), sorted(set(keys))[:20]
    dm.screenshot(path=str(shots / "entry-cohort.png"), full_page=True)
    assert nurse.problems == [] and dm.problems == []  # type: ignore[attr-defined]
    nurse_context.close()
    dm_context.close()
