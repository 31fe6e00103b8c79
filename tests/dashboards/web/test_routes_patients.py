"""Tests for tkitrack.dashboards.web.routes_patients: the list, the patient page, its figure; text never runs."""

from __future__ import annotations

import json
import re

import pytest

from .conftest import IMG_NOTE, SCRIPT_NOTE, csrf_of


def _rows(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, f"no table {table_id}"
    return [re.findall(r"<td>(.*?)</td>", row, re.S) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)]


def test_notes_with_markup_are_shown_as_text_never_as_markup(shared_clients):
    html = shared_clients["dm"].get("/patients/A-001").text
    assert SCRIPT_NOTE not in html and IMG_NOTE not in html
    assert "&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<script>" not in html.replace('<script src="', "")  # the only script elements load files of this site
    assert "onerror" not in re.sub(r"&lt;.*?&gt;", "", html)


def test_patient_page_shows_every_record_with_its_values(shared_clients):
    html = shared_clients["dm"].get("/patients/A-001").text
    for record, count in (("patient", 1), ("molecular", 1), ("exposure", 1), ("assessment", 3), ("ae", 1),
                          ("followup", 1), ("ihc", 0), ("procedure", 0), ("disease_event", 0)):  # fmt: skip
        assert f'<h3 id="records-{record}">{record} ({count})</h3>' in html
    # an editor's rows start with the record's state and actions (edit, query, verify, lock), then the values
    assert re.search(r'<tr id="record-exposure-\d+">\s*<td class="actions">.*?</td>\s*<td>\d+</td><td></td><td></td>'
                     r"<td>crizotinib</td><td>200</td><td>mg</td><td>QD</td><td>ORAL</td><td></td><td>2019-02-01</td>"
                     r"<td></td><td></td><td>false</td></tr>", html, re.S)  # fmt: skip
    assert re.search(r'<tr id="record-ae-\d+">.*?<td>Gait disturbance</td>.*?<td>2</td><td>2019-07</td>', html, re.S)
    assert "<td>MRN-111</td>" in html  # a data manager sees identifiers


def test_audit_history_lists_who_changed_what(shared_clients):
    html = shared_clients["site_a"].get("/patients/A-001").text
    rows = _rows(html, "audit-table")
    assert len(rows) == 8  # the patient, its molecular, exposure, 3 assessments, AE and follow-up were inserted
    patient_row = next(r for r in rows if r[4] == "patient")
    assert patient_row[8].startswith("site: A; mrn: MRN-111; sex: F; birth_date: 2013-02; diagnosis_date: 2019-01-10")
    assert {r[2] for r in rows} == {"importer"} and {r[3] for r in rows} == {"insert"}
    assert {r[4] for r in rows} == {"patient", "molecular", "exposure", "assessment", "ae", "followup"}
    assert all(r[9] == "added from test registry" for r in rows)


def test_findings_of_the_patient_are_shown(shared_clients):
    page = shared_clients["dm"].get("/patients/B-001").text
    assert 'hx-get="/patients/B-001/findings" hx-trigger="load"' in page  # the page loads them after itself
    html = shared_clients["dm"].get("/patients/A-002/findings").text
    assert 'id="no-findings"' in html  # untreated, followed up: nothing to query
    html = shared_clients["dm"].get("/patients/B-001/findings").text
    rows = _rows(html, "findings-table")
    assert [r[:6] for r in rows] == [["assessment", rows[0][1], "response", "AS003", "warning", "PR"]]
    assert rows[0][6].startswith("PR on 2018-10-01 follows CR on 2018-09-01 with no PD between")


def test_investigator_sees_identifiers_masked(shared_clients):
    html = shared_clients["inv"].get("/patients/A-001").text
    assert "MRN-111" not in html and "2013-02" not in html
    assert "(masked)" in html
    assert "mesentery" in html  # clinical values stay


def test_viewing_a_patient_is_in_the_access_log(shared_clients):
    shared_clients["site_b"].get("/patients/B-001")
    admin = shared_clients["admin"]
    html = admin.get("/admin/events").text
    assert re.search(r"<td>site_b</td><td>view</td><td>patient B-001</td>", html)


def test_timeline_points_carry_their_records(shared_clients):
    fig = shared_clients["site_a"].get("/patients/A-001/timeline.json").json()
    keys = {k for trace in fig["data"] for k in (trace.get("customdata") or []) if k}
    records = {k.split("\t")[1] for k in keys}
    assert {"exposure", "assessment", "ae"} <= records
    assert all(k.startswith("A-001\t") for k in keys)
    html = shared_clients["site_a"].get("/patients/A-001").text
    for key in keys:  # every point's record has a row on the page to land on
        _, record, rid = key.split("\t")
        assert f'id="record-{record}-{rid}"' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", ["A-001", "A-002", "B-001"], id="all"),
        pytest.param("?q=a-00", ["A-001", "A-002"], id="search-case-insensitive"),
        pytest.param("?q=%25", [], id="percent-is-literal"),
        pytest.param("?site=B", ["B-001"], id="site"),
        pytest.param("?histology=NTRK_SCN", ["B-001"], id="histology"),
        pytest.param("?status=dead", ["B-001"], id="dead"),
        pytest.param("?status=on+treatment", ["A-001"], id="on-treatment"),
        pytest.param("?status=untreated", ["A-002"], id="untreated"),
        pytest.param("?status=off+treatment", [], id="off-treatment"),
        pytest.param("?status=bogus", ["A-001", "A-002", "B-001"], id="unknown-status-ignored"),
    ],
)
def test_patient_list_search_and_filters(shared_clients, query, expected):
    html = shared_clients["dm"].get(f"/patients{query}").text
    assert re.findall(r'<a href="/patients/[^"]+">([^<]+)</a>', html) == expected
    n = len(expected)
    assert f'<p class="count" id="patient-count">{n} patient{"" if n == 1 else "s"}' in html


def test_htmx_request_gets_only_the_rows(shared_clients):
    response = shared_clients["dm"].get("/patients?q=B", headers={"HX-Request": "true", "HX-Target": "patient-rows"})
    assert response.text.lstrip().startswith('<p class="count"') and "<html" not in response.text


def test_patient_page_links_the_sign_out_form_with_the_session_token(shared_clients):
    html = shared_clients["dm"].get("/patients").text
    assert csrf_of(html) and 'hx-headers=\'{"X-CSRF-Token": "' in html


def test_timeline_json_of_a_patient_without_dates(client_factory):
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import add_records

    client = client_factory("dm")
    import pandas as pd

    with transaction(client.app.state.web.engine) as s:
        add_records(s, {"patient": pd.DataFrame({"patient_id": ["A-009"], "site": ["A"]})}, user="t")
    body = client.get("/patients/A-009/timeline.json").json()
    assert body == {"message": "no diagnosis date and no drug course: nothing to place on a timeline"}
    assert json.dumps(body)
