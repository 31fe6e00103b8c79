"""Data queries over HTTP: a data manager raises, the site answers (changing the value), the data manager closes;
listings per site and per user, counts on the patient list, and who may do which step."""

from __future__ import annotations

import re

from tkitrack.schemas.audit import read_audit_log
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import read_record

from .conftest import csrf_of


def _raise(dm, record: str, rid: str, patient: str, field: str, text: str):
    page = dm.get("/queries/new", params={"patient_id": patient, "record": record, "record_id": rid})
    assert page.status_code == 200, page.text
    return dm.post("/queries/new", data={"csrf_token": csrf_of(page.text), "patient_id": patient, "record": record,
                                         "record_id": rid, "field": field, "text": text})  # fmt: skip


def _step(client, qid: int, action: str, **data):
    page = client.get(f"/queries/{qid}")
    return client.post(f"/queries/{qid}/{action}", data={"csrf_token": csrf_of(page.text), **data})


def test_raise_answer_with_a_corrected_value_and_close_each_step_by_its_user(client_factory):
    dm, site_a, site_b = client_factory("dm"), client_factory("site_a"), client_factory("site_b")
    raised = _raise(dm, "exposure", "1", "A-001", "dose", "200 mg for 20.5 kg: please check the prescription")
    assert raised.status_code == 303 and raised.headers["location"] == "/queries/1"
    assert re.search(r'<td class="qcount">1</td>', site_a.get("/patients").text)  # counts on the patient list
    listing = site_a.get("/queries").text
    assert re.findall(r'<tr id="query-(\d+)">', listing) == ["1"]
    assert re.findall(r'<tr id="query-(\d+)">', site_b.get("/queries").text) == []  # another site's query
    assert site_b.get("/queries/1").status_code == 404
    assert _step(site_a, 1, "close", text="done").status_code == 403  # the site does not close
    page = site_a.get("/queries/1")
    assert 'id="query-value">200<' in page.text
    answered = site_a.post("/queries/1/answer", data={"csrf_token": csrf_of(page.text), "shown_value": "200",
                                                      "new_value": "250", "text": "chart says 250 mg"})  # fmt: skip
    assert answered.status_code == 303
    with transaction(site_a.app.state.web.engine) as s:
        assert read_record(s, "exposure", 1)["dose"] == 250
    assert _step(dm, 1, "close", text="thanks").status_code == 303
    assert re.search(r'<td class="qcount"></td>', dm.get("/patients", params={"q": "A-001"}).text)
    detail = dm.get("/queries/1").text
    assert 'id="query-state" class="state closed">closed<' in detail
    steps = re.findall(r"<tr><td>[\d\- :]+</td><td>(\w+)</td><td>(\w+)</td>", detail)
    assert steps == [("dm", "raise"), ("site_a", "answer"), ("dm", "close")]
    assert re.findall(r'<tr id="query-(\d+)">', dm.get("/queries", params={"state": "closed", "mine": "1"}).text) == [
        "1"]  # fmt: skip
    with transaction(dm.app.state.web.engine) as s:
        trail = read_audit_log(s, patient_id="A-001")
    tail = trail[trail["seq"] > trail[trail["table_name"] == "query"]["seq"].min() - 1]
    assert tail[["user", "table_name", "field", "new_value"]].values.tolist() == [
        ["dm", "query", "state", "open"], ["site_a", "exposure", "dose", "250.0"],
        ["site_a", "query", "state", "answered"], ["dm", "query", "state", "closed"]]  # fmt: skip
    assert tail["reason"].iloc[1] == "answer to query 1: chart says 250 mg"
    reopened = _step(dm, 1, "reopen", text="")
    assert reopened.status_code == 422 and "needs a message" in reopened.text


def test_a_site_user_and_an_investigator_cannot_raise_a_query(client_factory):
    for name, status in (("site_a", 403), ("inv", 403)):
        client = client_factory(name)
        url = "/queries/new?patient_id=A-001&record=exposure&record_id=1"
        assert client.get(url).status_code == status
    dm = client_factory("dm")
    assert dm.get("/queries/new?patient_id=A-001&record=exposure&record_id=2").status_code == 404  # B's record
    token = csrf_of(dm.get("/patients").text)
    posted = dm.post("/queries/new", data={"csrf_token": token, "patient_id": "A-001", "record": "exposure",
                                           "record_id": "2", "field": "dose", "text": "?"})  # fmt: skip
    assert posted.status_code == 404
    assert _raise(dm, "exposure", "1", "A-001", "dosage", "?").status_code == 422
