"""Data queries with a life, on SQLite and PostgreSQL: states, transitions, audit, counts, warnings -> queries."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.schemas.audit import read_audit_log, verify_chain
from tkitrack.schemas.dataqueries import (
    answer_query,
    close_query,
    list_queries,
    open_query_counts,
    open_warning_queries,
    query_events,
    raise_query,
    read_query,
    reopen_query,
)
from tkitrack.schemas.errors import InputError, NotFoundError
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import add_records

PATIENTS = {"patient_id": ["P1", "P2"], "site": ["A", "B"], "sex": ["F", "M"], "birth_date": ["2013-05", "2012"],
            "diagnosis_date": ["2019-06-14", "2019-01-01"], "histology": ["IMT", "IMT"],
            "height_cm": ["120", "130"], "weight_kg": ["22", "30"]}  # fmt: skip
EXPOSURE = {"patient_id": ["P1"], "drug": ["crizotinib"], "dose": ["200"], "unit": ["mg"], "frequency": ["QD"],
            "start": ["2019-07-01"], "end": ["2019-12-31"]}  # fmt: skip
FOLLOWUP = {"patient_id": ["P1", "P2"], "date": ["2023-06-01", "2023-06-01"], "vital_status": ["alive", "alive"]}


@pytest.fixture
def seeded(engine):
    with transaction(engine) as session:
        add_records(session, {"patient": pd.DataFrame(PATIENTS), "exposure": pd.DataFrame(EXPOSURE),
                               "followup": pd.DataFrame(FOLLOWUP)}, user="importer", source="test")  # fmt: skip
    return engine


def test_a_query_lives_open_answered_closed_reopened_answered_closed_each_step_audited(seeded):
    with transaction(seeded) as s:
        qid = raise_query(s, "exposure", 1, "dose", "Dose 200 mg: please check against the prescription", user="dm")
    with transaction(seeded) as s:
        assert answer_query(s, qid, "200 mg confirmed in the chart", user="nurse")["state"] == "answered"
    with transaction(seeded) as s:
        assert close_query(s, qid, user="dm")["state"] == "closed"
    with transaction(seeded) as s:
        assert reopen_query(s, qid, "the chart says 250 mg from July", user="dm")["state"] == "reopened"
    with transaction(seeded) as s:
        answer_query(s, qid, "corrected", user="nurse")
        close_query(s, qid, "thanks", user="dm")
    with transaction(seeded) as s:
        query = read_query(s, qid)
        steps = query_events(s, qid)
        trail = read_audit_log(s, table="query")
        assert verify_chain(s).ok
    assert (query["patient_id"], query["record"], query["record_id"], query["field"], query["site"]) == (
        "P1", "exposure", "1", "dose", "A")  # fmt: skip
    assert (query["state"], query["raised_by"], query["updated_by"]) == ("closed", "dm", "dm")
    assert steps[["user", "action", "old_state", "new_state"]].values.tolist() == [
        ["dm", "raise", None, "open"], ["nurse", "answer", "open", "answered"], ["dm", "close", "answered", "closed"],
        ["dm", "reopen", "closed", "reopened"], ["nurse", "answer", "reopened", "answered"],
        ["dm", "close", "answered", "closed"],
    ]  # fmt: skip
    assert steps["text"].tolist()[:3] == ["Dose 200 mg: please check against the prescription",
                                          "200 mg confirmed in the chart", None]  # fmt: skip
    assert trail[["user", "action", "old_value", "new_value"]].values.tolist() == [
        ["dm", "insert", None, "open"], ["nurse", "update", "open", "answered"], ["dm", "update", "answered", "closed"],
        ["dm", "update", "closed", "reopened"], ["nurse", "update", "reopened", "answered"],
        ["dm", "update", "answered", "closed"],
    ]  # fmt: skip
    assert set(trail["patient_id"]) == {"P1"} and set(trail["record_id"]) == {str(qid)}
    assert trail["reason"].iloc[1] == f"query {qid} on exposure 1 dose: answered: 200 mg confirmed in the chart"


@pytest.mark.parametrize(
    ("steps", "action", "message"),
    [
        ([], "reopen", "query 1 is open; only a query that is answered or closed can be reopened"),
        (["close"], "answer", "query 1 is closed; only a query that is open or reopened can be answered"),
        (["close"], "close", "query 1 is closed; only a query that is open or answered or reopened can be closed"),
        (["answer"], "answer", "query 1 is answered; only a query that is open or reopened can be answered"),
    ],
)
def test_a_transition_from_the_wrong_state_is_refused_and_nothing_changes(seeded, steps, action, message):
    funcs = {"answer": answer_query, "close": close_query, "reopen": reopen_query}
    with transaction(seeded) as s:
        qid = raise_query(s, "patient", "P1", "weight_kg", "weight?", user="dm")
        for step in steps:
            funcs[step](s, qid, "text", user="dm")
    with transaction(seeded) as s:
        before = (read_query(s, qid)["state"], len(query_events(s, qid)), len(read_audit_log(s)))
    with pytest.raises(InputError, match=f"^{message}$"), transaction(seeded) as s:
        funcs[action](s, qid, "text", user="dm")
    with transaction(seeded) as s:
        assert (read_query(s, qid)["state"], len(query_events(s, qid)), len(read_audit_log(s))) == before


def test_raising_on_a_bad_data_point_or_without_a_message_is_refused(seeded):
    bad_field = r"^exposure has no field 'dosage'; fields: patient_id, note, constructed_dates, drug, dose,"
    with pytest.raises(InputError, match=bad_field), transaction(seeded) as s:
        raise_query(s, "exposure", 1, "dosage", "?", user="dm")
    with pytest.raises(NotFoundError, match=r"^exposure 9 does not exist"), transaction(seeded) as s:
        raise_query(s, "exposure", 9, "dose", "?", user="dm")
    with pytest.raises(InputError, match=r"^unknown record type 'drug'"), transaction(seeded) as s:
        raise_query(s, "drug", 1, "dose", "?", user="dm")
    with pytest.raises(InputError, match="needs a message"), transaction(seeded) as s:
        raise_query(s, "exposure", 1, "dose", "  ", user="dm")
    with pytest.raises(InputError, match="needs a message"), transaction(seeded) as s:
        qid = raise_query(s, "exposure", 1, "dose", "?", user="dm")
        answer_query(s, qid, "", user="nurse")
    with pytest.raises(InputError, match="at most 2,000 are kept"), transaction(seeded) as s:
        raise_query(s, "exposure", 1, "dose", "x" * 2001, user="dm")
    with transaction(seeded) as s:
        assert len(list_queries(s)) == 0
        raise_query(s, "exposure", 1, "dose", "x" * 2000, user="dm")  # exactly the limit is kept


def test_listing_by_site_state_user_and_counts_of_waiting_queries(seeded):
    with transaction(seeded) as s:
        q1 = raise_query(s, "exposure", 1, "dose", "dose?", user="dm")
        q2 = raise_query(s, "patient", "P2", "sex", "sex?", user="dm2")
        q3 = raise_query(s, "patient", "P1", "*", "whole record?", user="dm")
        answer_query(s, q2, "M", user="site_b")
        close_query(s, q3, user="dm")
    with transaction(seeded) as s:
        assert list_queries(s, site="A")["id"].tolist() == [q1, q3]
        assert list_queries(s, site="B")["id"].tolist() == [q2]
        assert list_queries(s, states=("open", "answered"))["id"].tolist() == [q1, q2]
        assert list_queries(s, by="site_b")["id"].tolist() == [q2]
        assert list_queries(s, by="dm")["id"].tolist() == [q1, q3]
        assert list_queries(s, patient_id="P1", states=("closed",))["id"].tolist() == [q3]
        assert open_query_counts(s, ["P1", "P2", "P3"]) == {"P1": 1, "P2": 1}
        with pytest.raises(InputError, match="unknown query state"):
            list_queries(s, states=("pending",))


def test_a_warning_on_save_opens_one_query_per_data_point_and_rule_never_twice(seeded):
    with transaction(seeded) as s:  # 2000 mg crizotinib for a 22 kg child: EX004 (a warning), saved
        add_records(s, {"exposure": pd.DataFrame({"patient_id": ["P1"], "drug": ["crizotinib"], "dose": ["2000"],
                                                  "unit": ["mg"], "frequency": ["QD"], "start": ["2020-01-01"]})},
                    user="nurse", source="form")  # fmt: skip
        opened = open_warning_queries(s, "P1", user="nurse")
    with transaction(seeded) as s:
        found = list_queries(s, patient_id="P1")
    ex004 = found[found["rule_id"] == "EX004"]
    assert len(opened) == len(found) and len(ex004) == 1
    assert ex004[["record", "record_id", "field", "state", "raised_by", "site"]].values.tolist() == [
        ["exposure", "2", "dose", "open", "nurse", "A"]]  # fmt: skip
    assert ex004["message"].iloc[0].startswith("EX004: ")
    with transaction(seeded) as s:
        close_query(s, int(ex004["id"].iloc[0]), "the dose is right: adult formulation trial", user="dm")
        assert open_warning_queries(s, "P1", user="nurse") == []  # closed: accepted, not raised again
