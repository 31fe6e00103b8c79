"""Record states on SQLite and PostgreSQL: verification cleared by a change, locks obeyed by every writer."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.schemas.audit import read_audit_log, verify_chain
from tkitrack.schemas.courses import stop_course
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.recordstate import (
    RecordLocked,
    patient_records,
    record_states,
    refuse_locked,
    set_locked,
    set_verified,
)
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import add_records, delete_record, read_record, update_record

PATIENT = {"patient_id": ["P1"], "site": ["A"], "sex": ["F"], "birth_date": ["2013-05"],
           "diagnosis_date": ["2019-06-14"], "histology": ["IMT"], "height_cm": ["120"], "weight_kg": ["22"]}  # fmt: skip
EXPOSURE = {"patient_id": ["P1"], "drug": ["crizotinib"], "dose": ["200"], "unit": ["mg"], "frequency": ["QD"],
            "start": ["2019-07-01"]}  # fmt: skip
FOLLOWUP = {"patient_id": ["P1"], "date": ["2023-06-01"], "vital_status": ["alive"]}


@pytest.fixture
def seeded(engine):
    with transaction(engine) as session:
        add_records(session, {"patient": pd.DataFrame(PATIENT), "exposure": pd.DataFrame(EXPOSURE),
                               "followup": pd.DataFrame(FOLLOWUP)}, user="importer", source="test")  # fmt: skip
    return engine


def _state(engine, record: str, rid: str) -> dict:
    with transaction(engine) as s:
        return record_states(s, "P1").get((record, rid), {"verified": False, "locked": False})


def test_a_change_to_a_verified_record_clears_its_verification_with_the_fields_in_the_trail(seeded):
    with transaction(seeded) as s:
        assert set_verified(s, "exposure", 1, user="dm") is True
        assert set_verified(s, "exposure", 1, user="dm") is False  # already verified: nothing written
        set_verified(s, "patient", "P1", user="dm")
    state = _state(seeded, "exposure", "1")
    assert (state["verified"], state["verified_by"]) == (True, "dm")
    with transaction(seeded) as s:  # an edit that changes nothing keeps the verification
        assert update_record(s, "exposure", 1, {"dose": "200"}, reason="re-typed", user="nurse") == {}
    assert _state(seeded, "exposure", "1")["verified"] is True
    with transaction(seeded) as s:
        update_record(s, "exposure", 1, {"dose": "250", "start": "2019-07-02"}, reason="chart", user="nurse")
    state = _state(seeded, "exposure", "1")
    assert (state["verified"], state["verified_by"], state["verified_ts"]) == (False, None, None)
    assert _state(seeded, "patient", "P1")["verified"] is True  # another record keeps its mark
    with transaction(seeded) as s:
        trail = read_audit_log(s, table="record_state")
        assert verify_chain(s).ok
    assert trail[["user", "record_id", "field", "old_value", "new_value", "reason"]].values.tolist() == [
        ["dm", "exposure 1", "verified", "false", "true", "source data verified"],
        ["dm", "patient P1", "verified", "false", "true", "source data verified"],
        ["nurse", "exposure 1", "verified", "true", "false", "verification cleared: dose, start changed"],
    ]  # fmt: skip


def test_a_locked_record_refuses_edits_deletions_and_course_operations_until_unlocked_with_a_reason(seeded):
    with transaction(seeded) as s:
        set_locked(s, "exposure", 1, user="dm")
    writes = [
        lambda s: update_record(s, "exposure", 1, {"dose": "250"}, reason="chart", user="nurse"),
        lambda s: delete_record(s, "exposure", 1, reason="wrong patient", user="nurse"),
        lambda s: stop_course(s, 1, last_dose="2020-01-01", reason="complete_response", user="nurse"),
        lambda s: delete_record(s, "patient", "P1", reason="withdrew consent", user="dm"),
    ]
    for write in writes:
        with transaction(seeded) as s:
            before = len(read_audit_log(s))
        locked = r"^exposure 1 is locked \(by dm, 20\d\d-\d\d-\d\d\) and cannot be (changed|deleted)"
        with pytest.raises(RecordLocked, match=locked), transaction(seeded) as s:
            write(s)
        with transaction(seeded) as s:
            assert len(read_audit_log(s)) == before and read_record(s, "exposure", 1)["dose"] == 200
    with transaction(seeded) as s:  # the patient record itself is not locked; new records may be added
        update_record(s, "patient", "P1", {"weight_kg": "23"}, reason="new weight", user="nurse")
        add_records(s, {"followup": pd.DataFrame({"patient_id": ["P1"], "date": ["2024-01-01"],
                                                  "vital_status": ["alive"]})}, user="nurse", source="form")  # fmt: skip
    with pytest.raises(InputError, match="unlocking exposure 1 needs a reason"), transaction(seeded) as s:
        set_locked(s, "exposure", 1, False, user="dm")
    with transaction(seeded) as s:
        assert set_locked(s, "exposure", 1, False, user="dm", reason="site found the chart") is True
        refuse_locked(s, "exposure", 1)  # no longer raises
        update_record(s, "exposure", 1, {"dose": "250"}, reason="chart", user="nurse")
        trail = read_audit_log(s, table="record_state")
    assert trail[["field", "new_value", "reason"]].values.tolist() == [
        ["locked", "true", "locked"], ["locked", "false", "site found the chart"]]  # fmt: skip


def test_every_record_of_a_patient_is_listed_for_verify_all_and_lock_all(seeded):
    with transaction(seeded) as s:
        targets = patient_records(s, "P1")
        for record, rid in targets:
            set_locked(s, record, rid, user="dm")
        assert set(record_states(s, "P1")) == set(targets)
    assert targets == [("patient", "P1"), ("exposure", "1"), ("followup", "1")]
    with pytest.raises(RecordLocked, match=r"^patient P1 is locked"), transaction(seeded) as s:
        update_record(s, "patient", "P1", {"weight_kg": "23"}, reason="new weight", user="nurse")
