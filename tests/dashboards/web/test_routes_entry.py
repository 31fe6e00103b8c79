"""Data entry over HTTP: each form's errors beside their field, warnings that open queries, reasons, partial dates,
concurrent edits refused with the other's change, locks, course operations, the CTCAE search, and each role's
rights (a site user cannot reach another site's patient; an investigator cannot edit)."""

from __future__ import annotations

import re

import pytest

from tkitrack.schemas.audit import read_audit_log
from tkitrack.schemas.dataqueries import list_queries
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import read_frames, read_record

from .conftest import csrf_of

#: In the registry: exposure 1 is A-001's crizotinib 200 mg QD (site A), exposure 2 B-001's larotrectinib (site B).
A_EXPOSURE, B_EXPOSURE = 1, 2


def _db(client):
    return client.app.state.web.engine


def _read(client, record: str, rid) -> dict:
    with transaction(_db(client)) as s:
        return read_record(s, record, rid)


def _field_errors(html: str, field: str) -> list[str]:
    """The rule ids shown beside one field of a form."""
    row = re.search(rf'<div class="field[^"]*" id="row-{field}">(.*?)\n</div>', html, re.S)
    assert row, f"no field {field} on the form"
    return re.findall(r'class="field-error[^"]*" data-rule="([A-Z]+\d+)"', row.group(1))


def _post_form(client, url: str, data: dict) -> object:
    page = client.get(url)
    assert page.status_code == 200, page.text
    return client.post(url, data={"csrf_token": csrf_of(page.text), **data})


def test_a_site_user_adds_a_patient_of_their_site_and_the_warning_opens_a_query(client_factory):
    site_a = client_factory("site_a")
    page = site_a.get("/patients/new")
    assert 'name="site" value="A"' in page.text  # the site is the user's
    refused = site_a.post("/patients/new", data={"csrf_token": csrf_of(page.text), "patient_id": "A-003",
                                                  "site": "B", "sex": "F"})  # fmt: skip
    assert refused.status_code == 422 and _field_errors(refused.text, "site") == ["WEB001"]
    saved = site_a.post("/patients/new", data={"csrf_token": csrf_of(page.text), "patient_id": "A-003", "site": "A",
                                                "sex": "F", "birth_date": "2016-03", "diagnosis_date": "2021",
                                                "histology": "IMT"})  # fmt: skip
    assert saved.status_code == 303
    assert saved.headers["location"] == "/patients/A-003?saved=patient%20added&opened=1#record-patient"
    shown = site_a.get(saved.headers["location"])
    assert "1 data query opened by the edit checks" in shown.text
    row = _read(site_a, "patient", "A-003")
    assert (row["site"], row["birth_date_dtc"], row["diagnosis_date_dtc"]) == ("A", "2016-03", "2021")  # as typed
    with transaction(_db(site_a)) as s:
        queries = list_queries(s, patient_id="A-003")
        trail = read_audit_log(s, patient_id="A-003")
    assert queries[["record", "field", "rule_id", "state", "raised_by", "site"]].values.tolist() == [
        ["patient", "patient_id", "PT003", "open", "site_a", "A"]]  # fmt: skip
    assert trail[["user", "action", "table_name"]].values.tolist()[:2] == [
        ["site_a", "insert", "patient"], ["site_a", "insert", "query"]]  # fmt: skip


@pytest.mark.parametrize(
    ("record", "data", "field", "rules"),
    [
        ("ae", {"term": "Gait disturbance", "grade": "4", "start": "2020-01"}, "grade", ["AE003"]),
        ("ae", {"term": "Gait disturbance", "start": "2020-01"}, "grade", ["FLD001"]),
        ("ae", {"term": "Gait disturbance", "grade": "2", "start": "2020-13-45"}, "start", ["DT001"]),
        ("exposure", {"drug": "crizotinib", "dose": "abc", "unit": "mg", "frequency": "QD"}, "dose", ["FLD006"]),
        ("exposure", {"drug": "aspirin", "dose": "200", "unit": "mg", "frequency": "QD"}, "drug", ["FLD002"]),
        ("molecular", {"gene_5p": "EML4", "exon_3p": "20"}, "gene_3p", ["FLD001"]),
        ("ihc", {"marker": "ALK D5F3", "result": "strong"}, "result", ["FLD002"]),
        ("assessment", {"date": "2019-09-01", "response": "XX"}, "response", ["FLD002"]),
        ("procedure", {"kind": "resection", "margin": "R9"}, "margin", ["FLD002"]),
        ("disease_event", {"kind": "relapse", "date": "2020-01-01"}, "kind", ["FLD002"]),
        (
            "followup",
            {"date": "2024-01-01", "vital_status": "alive", "death_date": "2023-12-01"},
            "vital_status",
            ["FU002"],
        ),
    ],
)
def test_an_error_blocks_the_save_and_is_shown_beside_its_field_with_its_rule(client_factory, record, data, field,
                                                                               rules):  # fmt: skip
    site_a = client_factory("site_a")
    with transaction(_db(site_a)) as s:
        before = {r: len(f) for r, f in read_frames(s).items()}
        trail = len(read_audit_log(s))
    response = _post_form(site_a, f"/patients/A-001/records/{record}/new", data)
    assert response.status_code == 422, response.text
    assert set(rules) <= set(_field_errors(response.text, field))  # the rule beside its field (others may join)
    assert "nothing was written" in response.text
    for name, value in data.items():  # what was typed stays in the form
        assert f'value="{value}"' in response.text or f">{value}</option>" in response.text, name
    with transaction(_db(site_a)) as s:
        assert {r: len(f) for r, f in read_frames(s).items()} == before and len(read_audit_log(s)) == trail


def test_an_adverse_event_with_a_partial_date_is_saved_as_typed_and_the_grade_menu_follows_the_term(client_factory):
    site_a = client_factory("site_a")
    response = _post_form(site_a, "/patients/A-001/records/ae/new",
                          {"term": "Nausea", "grade": "1", "start": "2019-08", "attributed_drug": "crizotinib"})  # fmt: skip
    assert response.status_code == 303 and response.headers["location"].endswith("#record-ae-2")
    row = _read(site_a, "ae", 2)
    assert (row["term"], row["grade"], row["start_dtc"], str(row["start"]), row["start_dtf"]) == (
        "Nausea", 1, "2019-08", "2019-08-01", "D")  # fmt: skip
    edit = site_a.get("/patients/A-001/records/ae/1/edit")  # Gait disturbance: grades 1, 2, 3 only
    menu = re.search(r'<select id="f-grade" name="grade">(.*?)</select>', edit.text, re.S).group(1)
    assert re.findall(r'<option value="(\d)"', menu) == ["1", "2", "3"]


def test_the_ctcae_search_corrects_a_typo_and_gives_the_grades_of_each_term(client_factory):
    site_a = client_factory("site_a")
    found = site_a.get("/forms/ctcae", params={"term": "gait disturbence"})
    assert found.status_code == 200
    terms = re.findall(r'data-term="([^"]+)" data-grades="([^"]*)"', found.text)
    assert terms[0] == ("Gait disturbance", "1,2,3")
    assert 'class="tk-exact"' not in found.text
    exact = site_a.get("/forms/ctcae", params={"term": "gait disturbance"})
    assert re.search(r'class="tk-exact" hidden data-term="Gait disturbance" data-grades="1,2,3"', exact.text)
    death = site_a.get("/forms/ctcae", params={"term": "Death NOS"})
    assert re.findall(r'data-term="Death NOS" data-grades="([^"]*)"', death.text)[0] == "5"
    assert "no CTCAE v5.0 term close" in site_a.get("/forms/ctcae", params={"term": "qqqqzzzz"}).text
    assert site_a.get("/forms/ctcae", params={"term": "ga"}).text.strip() == ""  # too short to search


def test_an_edit_needs_a_reason_and_is_audited_with_it_and_the_user(client_factory):
    site_a = client_factory("site_a")
    url = f"/patients/A-001/records/exposure/{A_EXPOSURE}/edit"
    page = site_a.get(url)
    form = dict(re.findall(r'name="(shown_[a-z_0-9]+)" value="([^"]*)"', page.text))
    assert form["shown_dose"] == "200" and form["shown_start"] == "2019-02-01"
    values = {k.removeprefix("shown_"): v for k, v in form.items()}
    no_reason = site_a.post(url, data={"csrf_token": csrf_of(page.text), **form, **values, "dose": "250"})
    assert no_reason.status_code == 422 and "a change needs a reason" in no_reason.text
    assert _read(site_a, "exposure", A_EXPOSURE)["dose"] == 200
    saved = site_a.post(url, data={"csrf_token": csrf_of(page.text), **form, **values, "dose": "250",
                                   "why": "prescription checked"})  # fmt: skip
    assert saved.status_code == 303
    assert _read(site_a, "exposure", A_EXPOSURE)["dose"] == 250
    with transaction(_db(site_a)) as s:
        last = read_audit_log(s, table="exposure").iloc[-1]
    assert (last["user"], last["field"], last["old_value"], last["new_value"], last["reason"]) == (
        "site_a", "dose", "200.0", "250.0", "prescription checked")  # fmt: skip


def test_a_second_save_of_the_same_record_is_refused_with_the_others_change_shown(client_factory):
    site_a, dm = client_factory("site_a"), client_factory("dm")
    url = f"/patients/A-001/records/exposure/{A_EXPOSURE}/edit"
    pages = {c: c.get(url) for c in (site_a, dm)}  # both open the form showing 200 mg
    shown = {c: dict(re.findall(r'name="(shown_[a-z_0-9]+)" value="([^"]*)"', p.text)) for c, p in pages.items()}
    values = {k.removeprefix("shown_"): v for k, v in shown[dm].items()}
    first = dm.post(url, data={"csrf_token": csrf_of(pages[dm].text), **shown[dm], **values, "dose": "250",
                               "why": "chart"})  # fmt: skip
    assert first.status_code == 303
    second = site_a.post(url, data={"csrf_token": csrf_of(pages[site_a].text), **shown[site_a], **values,
                                    "dose": "300", "why": "my chart"})  # fmt: skip
    assert second.status_code == 409
    conflict = re.search(r'<div class="conflict" id="conflicts">(.*?)</div>', second.text, re.S).group(1)
    assert re.search(r"<td>dose</td><td>200</td><td>250(\.0)?</td><td>dm</td>", conflict), conflict
    assert _read(site_a, "exposure", A_EXPOSURE)["dose"] == 250  # the first save stands, the second wrote nothing
    delete = site_a.post(url, data={"csrf_token": csrf_of(pages[site_a].text), **shown[site_a], **values,
                                    "why": "duplicate", "_do": "delete"})  # fmt: skip
    assert delete.status_code == 409  # a deletion of a record changed since is refused too
    assert _read(site_a, "exposure", A_EXPOSURE)["deleted"] is False


def test_a_locked_record_cannot_be_edited_until_a_data_manager_unlocks_it_with_a_reason(client_factory):
    site_a, dm = client_factory("site_a"), client_factory("dm")
    patient = dm.get("/patients/A-001")
    token = csrf_of(patient.text)
    lock = dm.post("/patients/A-001/state", data={"csrf_token": token, "op": "lock", "record": "exposure",
                                                  "record_id": str(A_EXPOSURE)})  # fmt: skip
    assert lock.status_code == 303
    page = site_a.get(f"/patients/A-001/records/exposure/{A_EXPOSURE}/edit")
    form = dict(re.findall(r'name="(shown_[a-z_0-9]+)" value="([^"]*)"', page.text))
    values = {k.removeprefix("shown_"): v for k, v in form.items()}
    refused = site_a.post(f"/patients/A-001/records/exposure/{A_EXPOSURE}/edit",
                          data={"csrf_token": csrf_of(page.text), **form, **values, "dose": "250", "why": "x"})  # fmt: skip
    assert refused.status_code == 409 and "exposure 1 is locked (by dm" in refused.text
    assert "/records/exposure/1/edit" not in site_a.get("/patients/A-001").text  # no edit link on a locked row
    assert site_a.post("/patients/A-001/state", data={"csrf_token": csrf_of(page.text), "op": "unlock",
                                                      "record": "exposure", "record_id": "1", "why": "x"}
                       ).status_code == 403  # fmt: skip
    no_reason = dm.post("/patients/A-001/state", data={"csrf_token": token, "op": "unlock", "record": "exposure",
                                                       "record_id": str(A_EXPOSURE)})  # fmt: skip
    assert no_reason.status_code == 422
    assert dm.post("/patients/A-001/state", data={"csrf_token": token, "op": "unlock", "record": "exposure",
                                                  "record_id": "1", "why": "chart found"}).status_code == 303  # fmt: skip
    again = site_a.post(f"/patients/A-001/records/exposure/{A_EXPOSURE}/edit",
                        data={"csrf_token": csrf_of(page.text), **form, **values, "dose": "250", "why": "x"})  # fmt: skip
    assert again.status_code == 303 and _read(site_a, "exposure", A_EXPOSURE)["dose"] == 250


def test_course_operations_stop_and_resume_a_drug(client_factory):
    site_a = client_factory("site_a")
    bad = _post_form(site_a, f"/patients/A-001/exposure/{A_EXPOSURE}/stop", {"last_dose": "2019-06", "reason": ""})
    assert bad.status_code == 422 and _field_errors(bad.text, "reason") == ["FLD001"]
    stop = _post_form(site_a, f"/patients/A-001/exposure/{A_EXPOSURE}/stop",
                      {"last_dose": "2019-06-30", "reason": "complete_response", "comment": "CR on MRI"})  # fmt: skip
    assert stop.status_code == 303
    row = _read(site_a, "exposure", A_EXPOSURE)
    assert (str(row["end"]), row["reason"], row["discontinued"]) == ("2019-06-30", "complete_response", True)
    resume = _post_form(site_a, f"/patients/A-001/exposure/{A_EXPOSURE}/resume", {"date": "2020-01-15"})
    assert resume.status_code == 303
    new = _read(site_a, "exposure", 3)
    assert (new["drug"], new["dose"], new["start_dtc"], new["end"]) == ("crizotinib", 200, "2020-01-15", None)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/patients/B-001/records/ae/new"),
        ("post", "/patients/B-001/records/ae/new"),
        ("get", f"/patients/B-001/records/exposure/{B_EXPOSURE}/edit"),
        ("post", f"/patients/B-001/records/exposure/{B_EXPOSURE}/edit"),
        ("get", f"/patients/A-001/records/exposure/{B_EXPOSURE}/edit"),  # B's record through A's page
        ("post", f"/patients/A-001/records/exposure/{B_EXPOSURE}/edit"),
        ("get", f"/patients/B-001/exposure/{B_EXPOSURE}/stop"),
        ("post", f"/patients/B-001/exposure/{B_EXPOSURE}/stop"),
        ("get", "/patients/B-001/records/patient/B-001/edit"),
    ],
)
def test_a_site_user_cannot_reach_another_sites_patient_by_any_form(client_factory, method, url):
    site_a = client_factory("site_a")
    token = csrf_of(site_a.get("/patients/new").text)
    data = {"csrf_token": token, "dose": "1", "why": "x", "last_dose": "2019-01-01", "reason": "toxicity",
            "term": "Nausea", "grade": "1"}  # fmt: skip
    response = site_a.get(url) if method == "get" else site_a.post(url, data=data)
    assert response.status_code == 404
    assert _read(site_a, "exposure", B_EXPOSURE)["dose"] == 100


@pytest.mark.parametrize("url", ["/patients/new", "/patients/A-001/records/ae/new",
                                 f"/patients/A-001/records/exposure/{A_EXPOSURE}/edit", "/queries"])  # fmt: skip
def test_an_investigator_cannot_open_or_post_a_form(client_factory, url):
    inv = client_factory("inv")
    assert inv.get(url).status_code == 403
    token = csrf_of(inv.get("/patients").text)
    posted = "/queries/new" if url == "/queries" else url
    assert inv.post(posted, data={"csrf_token": token, "patient_id": "X-1", "dose": "1", "why": "x"}).status_code == 403
    assert "/records/" not in inv.get("/patients/A-001").text  # no edit links at all


def test_a_post_without_the_csrf_token_is_refused(client_factory):
    site_a = client_factory("site_a")
    response = site_a.post("/patients/new", data={"patient_id": "A-009", "site": "A"})
    assert response.status_code == 403
    with transaction(_db(site_a)) as s:
        assert [r for r in read_frames(s, ["patient"])["patient"]["patient_id"] if r == "A-009"] == []


def test_a_response_the_sums_contradict_saves_and_opens_an_as006_query(client_factory):
    """A CR typed with a target-lesion sum of 5 mm (RECIST 1.1: a CR has a sum of 0): a warning, so the record is
    saved, and the edit check opens a data query on the response, as for every other warning rule."""
    site_a = client_factory("site_a")
    response = _post_form(site_a, "/patients/A-001/records/assessment/new",
                          {"date": "2019-09-01", "modality": "MRI", "sum_diameters": "5", "response": "CR"})  # fmt: skip
    assert response.status_code == 303, response.text
    with transaction(_db(site_a)) as s:
        queries = list_queries(s, patient_id="A-001")
    as006 = queries[queries["rule_id"] == "AS006"]
    assert as006[["record", "field", "state"]].values.tolist() == [["assessment", "response", "open"]]
    assert "AS006: CR (overall) on 2019-09-01 with a target-lesion sum of 5 mm" in as006["message"].iloc[0]
