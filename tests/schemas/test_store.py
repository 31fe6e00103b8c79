"""Tests for tkitrack.schemas.store on SQLite and PostgreSQL: validated, audited, all-or-nothing writes."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from sqlalchemy import select

from tkitrack.schemas import store
from tkitrack.schemas.audit import AuditEntry, read_audit_log
from tkitrack.schemas.errors import InputError, NotFoundError, ValidationFailed
from tkitrack.schemas.frames import column_dtypes
from tkitrack.schemas.models import RECORD_MODELS, AdverseEvent
from tkitrack.schemas.storage import make_engine, transaction
from tkitrack.schemas.store import add_records, delete_record, patient_ids, read_frames, read_record, update_record

PATIENT = {"patient_id": "P1", "sex": "F", "birth_date": "2013-05", "diagnosis_date": "2019-06-14",
           "histology": "IMT", "height_cm": "120", "weight_kg": "22"}  # fmt: skip
EXPOSURE = {"patient_id": "P1", "drug": "crizotinib", "dose": "200", "unit": "mg", "frequency": "QD",
            "start": "2019-07-01"}  # fmt: skip
AE = {"patient_id": "P1", "term": "Gait disturbance", "grade": "2", "start": "2019-12", "serious": "no",
      "attributed_drug": "crizotinib"}  # fmt: skip
FOLLOWUP = {"patient_id": "P1", "date": "2023-06-01", "vital_status": "alive"}


def _add(engine, records: dict[str, list[dict]], user: str = "nurse") -> dict[str, int]:
    with transaction(engine) as session:
        return add_records(session, {r: pd.DataFrame(rows) for r, rows in records.items()}, user=user,
                           source="test")  # fmt: skip


def _seed(engine) -> None:
    _add(engine, {"patient": [PATIENT], "exposure": [EXPOSURE], "ae": [AE], "followup": [FOLLOWUP]})


def _trail(engine, **kwargs) -> pd.DataFrame:
    with transaction(engine) as session:
        return read_audit_log(session, **kwargs)


def test_add_and_read_round_trip(engine):
    counts = _add(engine, {"patient": [PATIENT], "exposure": [EXPOSURE], "ae": [AE], "followup": [FOLLOWUP]})
    assert counts == {"patient": 1, "exposure": 1, "ae": 1, "followup": 1}
    with transaction(engine) as session:
        frames = read_frames(session)
        patient = read_record(session, "patient", "P1")
        ae = read_record(session, "ae", 1)
    assert set(frames) == set(RECORD_MODELS)
    assert patient["birth_date_dtc"] == "2013-05"
    assert patient["birth_date"] == dt.date(2013, 5, 1)
    assert patient["birth_date_dtf"] == "D"
    assert patient["diagnosis_date"] == dt.date(2019, 6, 14)
    assert patient["diagnosis_date_dtf"] is None
    assert (patient["height_cm"], patient["weight_kg"], patient["deleted"]) == (120.0, 22.0, False)
    assert ae == {
        "id": 1, "patient_id": "P1", "note": None, "constructed_dates": None, "deleted": False, "term": "Gait disturbance",
        "term_code": "10017577", "verbatim": False, "grade": 2, "start_dtc": "2019-12",
        "start": dt.date(2019, 12, 1), "start_dtf": "D", "end_dtc": None, "end": None, "end_dtf": None,
        "serious": False, "serious_death": None, "serious_life_threatening": None, "serious_hospitalisation": None,
        "serious_disability": None, "serious_congenital_anomaly": None, "serious_medically_important": None,
        "attributed_drug": "crizotinib", "attribution": None, "action": None, "outcome": None,
    }  # fmt: skip
    ex = frames["exposure"]
    assert ex[["id", "patient_id", "drug", "dose", "unit", "frequency", "route"]].to_dict("records") == [
        {"id": 1, "patient_id": "P1", "drug": "crizotinib", "dose": 200.0, "unit": "mg", "frequency": "QD",
         "route": "ORAL"}
    ]  # fmt: skip
    assert ex.loc[0, "start"] == pd.Timestamp("2019-07-01")
    assert pd.isna(ex.loc[0, "end"])
    assert frames["molecular"].empty
    # one audit entry per record, in write order, with the values as given
    trail = _trail(engine)
    assert trail[["seq", "user", "action", "table_name", "record_id", "patient_id", "field", "old_value"]].to_dict(
        "records"
    ) == [
        {"seq": n, "user": "nurse", "action": "insert", "table_name": t, "record_id": r, "patient_id": "P1",
         "field": "*", "old_value": None}
        for n, (t, r) in enumerate([("patient", "P1"), ("exposure", "1"), ("ae", "1"), ("followup", "1")], 1)
    ]  # fmt: skip
    ae_values = json.loads(trail.loc[2, "new_value"])
    assert (ae_values["term"], ae_values["grade"], ae_values["start"]) == ("Gait disturbance", 2, "2019-12")
    assert trail.loc[2, "reason"] == "added from test"


def test_warnings_do_not_block_the_write(sqlite_url):
    # no follow-up recorded: PT003 is a warning, the patient is still added
    eng = make_engine(sqlite_url)
    try:
        assert _add(eng, {"patient": [PATIENT]}) == {"patient": 1}
        with pytest.raises(InputError, match="unknown record type"):
            _add(eng, {"scan": [{"patient_id": "P1"}]})
    finally:
        eng.dispose()


def test_batch_with_one_bad_row_writes_nothing(engine, dump):
    _seed(engine)
    before = dump()
    batch = {
        "patient": [{**PATIENT, "patient_id": "P2"}, {**PATIENT, "patient_id": "P3"}],
        "exposure": [{**EXPOSURE, "patient_id": "P2"}, {**EXPOSURE, "patient_id": "P3", "dose": "-200"}],
        "ae": [{**AE, "patient_id": "P2"}],
    }
    with pytest.raises(ValidationFailed) as err:
        _add(engine, batch)
    assert "nothing was written" in str(err.value)
    failures = err.value.failures
    errors = failures[failures["severity"] == "error"]
    assert sorted(zip(errors["rule_id"], errors["patient_id"], errors["row"], errors["field"], strict=True)) == [
        ("EX006", "P3", 2, "dose"),
        ("FLD003", "P3", 2, "dose"),
    ]
    assert dump() == before


def test_failure_after_some_rows_were_inserted_rolls_everything_back(engine, dump, monkeypatch):
    _seed(engine)
    before = dump()
    real = store.append_batch
    calls = []

    def fail_on_second_table(session, **batch):
        calls.append(batch["table_name"])
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(session, **batch)

    monkeypatch.setattr(store, "append_batch", fail_on_second_table)
    with pytest.raises(RuntimeError, match="disk full"):
        _add(engine, {"patient": [{**PATIENT, "patient_id": "P2"}], "exposure": [{**EXPOSURE, "patient_id": "P2"}]})
    assert calls == ["patient", "exposure"]  # the patient row and its audit entry were written, then undone
    assert dump() == before


def test_duplicate_or_unknown_patient_is_refused(engine, dump):
    _seed(engine)
    before = dump()
    with pytest.raises(ValidationFailed) as err:
        _add(engine, {"patient": [PATIENT, {**PATIENT, "patient_id": "P2"}, {**PATIENT, "patient_id": "P2"}]})
    found = err.value.failures
    rows = found[found["rule_id"].isin(["PT010", "PT011"])]
    assert sorted(zip(rows["rule_id"], rows["patient_id"], rows["row"], strict=True)) == [
        ("PT010", "P2", 3), ("PT011", "P1", 1),
    ]  # fmt: skip
    assert "already in the database" in rows[rows["rule_id"] == "PT011"]["message"].iloc[0]
    with pytest.raises(ValidationFailed) as err:  # a record of an unknown patient
        _add(engine, {"ae": [{**AE, "patient_id": "P9"}]})
    assert err.value.failures["rule_id"].tolist() == ["REF001"]
    assert dump() == before


def test_edit_is_audited_per_field(engine):
    _seed(engine)
    start = dt.datetime.now(dt.UTC)
    with transaction(engine) as session:
        diff = update_record(session, "ae", "1", {"grade": "1", "end": "2020-02", "serious": "no"},
                             reason="source document verification", user="monitor")  # fmt: skip
    assert diff == {
        "grade": (2, 1), "end_dtc": (None, "2020-02"), "end": (None, dt.date(2020, 2, 29)), "end_dtf": (None, "D"),
    }  # fmt: skip
    with transaction(engine) as session:
        ae = read_record(session, "ae", 1)
    assert (ae["grade"], ae["end_dtc"], ae["end"], ae["end_dtf"]) == (1, "2020-02", dt.date(2020, 2, 29), "D")
    trail = _trail(engine, table="ae")
    updates = trail[trail["action"] == "update"]
    assert updates[["user", "record_id", "patient_id", "field", "old_value", "new_value", "reason"]].to_dict(
        "records"
    ) == [
        {"user": "monitor", "record_id": "1", "patient_id": "P1", "field": f, "old_value": o, "new_value": n,
         "reason": "source document verification"}
        for f, o, n in [("grade", "2", "1"), ("end_dtc", None, "2020-02"), ("end", None, "2020-02-29"),
                        ("end_dtf", None, "D")]
    ]  # fmt: skip
    for ts in updates["ts"]:
        when = dt.datetime.fromisoformat(ts)
        assert when.utcoffset() == dt.timedelta(0)
        assert start <= when <= dt.datetime.now(dt.UTC)
    # the earlier entries are untouched: the trail is only appended to
    assert trail[trail["action"] == "insert"]["seq"].tolist() == [3]


def test_edit_of_a_patient_and_an_edit_that_changes_nothing(engine, dump):
    _seed(engine)
    with transaction(engine) as session:
        first = [tuple(r) for r in session.execute(select(AuditEntry.__table__).order_by(AuditEntry.seq)).all()]
        diff = update_record(session, "patient", "P1", {"weight_kg": "23.5"}, reason="weighed again", user="nurse")
        assert read_record(session, "patient", "P1")["weight_kg"] == 23.5
        after = [tuple(r) for r in session.execute(select(AuditEntry.__table__).order_by(AuditEntry.seq)).all()]
    assert diff == {"weight_kg": (22.0, 23.5)}
    assert after[: len(first)] == first  # appended, nothing rewritten
    assert [(r[6], r[7], r[8], r[9]) for r in after[len(first) :]] == [("P1", "weight_kg", "22.0", "23.5")]
    before = dump()
    with transaction(engine) as session:
        assert update_record(session, "ae", 1, {"grade": "2"}, reason="checked", user="monitor") == {}
    assert dump() == before


#: (changes, rule, field): edits that break a field, frame or edit rule.
INVALID_EDITS = [
    ({"grade": "4"}, "AE003", "grade"),  # Gait disturbance has grades 1-3
    ({"end": "2019-11-30"}, "AE001", "end"),  # onset 2019-12 is imputed to 2019-12-01
    ({"start": "2019-13"}, "DT001", "start"),
    ({"outcome": "fatal"}, "AE005", "outcome"),
]


def test_refused_edits_and_deletions_change_nothing(engine, dump):
    _seed(engine)
    before = dump()
    for reason in ("", "   "):  # a reason is required
        with pytest.raises(InputError, match=r'editing ae 1 needs a reason; pass --reason "\.\.\."'), \
                transaction(engine) as session:  # fmt: skip
            update_record(session, "ae", 1, {"grade": "1"}, reason=reason, user="monitor")
        with pytest.raises(InputError, match="deleting ae 1 needs a reason"), transaction(engine) as session:
            delete_record(session, "ae", 1, reason=reason, user="monitor")
    for changes, rule_id, field in INVALID_EDITS:  # the edited record must still pass every rule
        with pytest.raises(ValidationFailed, match="nothing changed") as err, transaction(engine) as session:
            update_record(session, "ae", 1, changes, reason="fix", user="monitor")
        errors = err.value.failures[err.value.failures["severity"] == "error"]
        assert errors[["rule_id", "field"]].to_dict("records") == [{"rule_id": rule_id, "field": field}], changes
    with pytest.raises(InputError, match="ae has no editable field"), transaction(engine) as session:
        update_record(session, "ae", 1, {"term_code": "1"}, reason="x", user="u")
    with pytest.raises(NotFoundError, match="ae 7 does not exist"), transaction(engine) as session:
        update_record(session, "ae", 7, {"grade": "1"}, reason="x", user="u")
    with pytest.raises(InputError, match="ae id must be a whole number, got 'one'"), transaction(engine) as session:
        read_record(session, "ae", "one")
    assert dump() == before


def test_delete_is_soft_and_audited(engine):
    _seed(engine)
    with transaction(engine) as session:
        assert delete_record(session, "ae", "1", reason="entered for the wrong patient", user="monitor") == 1
    with transaction(engine) as session:
        row = session.execute(select(AdverseEvent.__table__).where(AdverseEvent.id == 1)).mappings().one()
        assert row["deleted"] is True
        assert row["term"] == "Gait disturbance"  # kept, never erased
        assert read_frames(session, ["ae"])["ae"].empty
        assert read_frames(session, ["ae"], include_deleted=True)["ae"]["id"].tolist() == [1]
        with pytest.raises(NotFoundError, match="ae 1 was deleted"):
            read_record(session, "ae", 1)
    last = _trail(engine).iloc[-1]
    assert last[["user", "action", "table_name", "record_id", "patient_id", "field", "old_value", "new_value",
                 "reason"]].to_dict() == {
        "user": "monitor", "action": "delete", "table_name": "ae", "record_id": "1", "patient_id": "P1",
        "field": "deleted", "old_value": "false", "new_value": "true", "reason": "entered for the wrong patient",
    }  # fmt: skip
    with pytest.raises(NotFoundError, match="was deleted"), transaction(engine) as session:
        update_record(session, "ae", 1, {"grade": "1"}, reason="x", user="monitor")
    with pytest.raises(NotFoundError, match="was deleted"), transaction(engine) as session:
        delete_record(session, "ae", 1, reason="again", user="monitor")


def test_patient_delete_cascades_softly(engine):
    _seed(engine)
    _add(engine, {"patient": [{**PATIENT, "patient_id": "P2"}], "ae": [{**AE, "patient_id": "P2"}]})
    with transaction(engine) as session:
        n = delete_record(session, "patient", "P1", reason="consent withdrawn", user="dm")
    assert n == 4  # exposure, ae, follow-up and the patient
    with transaction(engine) as session:
        assert patient_ids(session) == ["P2"]
        assert patient_ids(session, include_deleted=True) == ["P1", "P2"]
        everything = read_frames(session, include_deleted=True)
        live = read_frames(session)
    for record in ("exposure", "ae", "followup"):
        p1 = everything[record][everything[record]["patient_id"] == "P1"]
        assert p1["deleted"].tolist() == [True], record
    assert live["ae"]["patient_id"].tolist() == ["P2"]
    with transaction(engine) as session:
        only_p2 = read_frames(session, ["ae"], patients=["P2"], include_deleted=True)
    assert list(only_p2) == ["ae"]
    assert only_p2["ae"][["patient_id", "grade"]].to_dict("records") == [{"patient_id": "P2", "grade": 2}]
    deletes = _trail(engine, patient_id="P1")
    deletes = deletes[deletes["action"] == "delete"]
    assert sorted(zip(deletes["table_name"], deletes["record_id"], deletes["reason"], strict=True)) == [
        ("ae", "1", "consent withdrawn (patient P1 deleted)"),
        ("exposure", "1", "consent withdrawn (patient P1 deleted)"),
        ("followup", "1", "consent withdrawn (patient P1 deleted)"),
        ("patient", "P1", "consent withdrawn"),
    ]


#: More ids than either back end takes as bound parameters of one statement (PostgreSQL 65,535; SQLite 32,766 by
#: default, 250,000 in Debian's build): a ``patient_id IN (:p1, :p2, ...)`` list fails here.
_TOO_MANY_IDS = 250_001


def test_duplicate_check_takes_more_ids_than_a_statement_can_bind(engine):
    _seed(engine)
    _add(engine, {"patient": [{**PATIENT, "patient_id": "Q-249999"}]})
    ids = [f"Q-{i}" for i in range(_TOO_MANY_IDS - 2)] + ["P1", "Q-249999"]
    assert len(ids) == _TOO_MANY_IDS
    with transaction(engine) as session:
        found = store._duplicate_patients(session, pd.DataFrame({"patient_id": ids}))
    assert sorted(zip(found["rule_id"], found["patient_id"], found["row"], strict=True)) == [
        ("PT011", "P1", _TOO_MANY_IDS - 1), ("PT011", "Q-249999", _TOO_MANY_IDS),
    ]  # fmt: skip


def test_read_frames_types_every_chunk_alike(engine, monkeypatch):
    """Read three rows at a time: chunk boundaries fall inside a patient's records and between rows with and
    without a value, and a chunk whose values of a column are all missing types that column like any other."""
    _seed(engine)
    _add(engine, {"patient": [{**PATIENT, "patient_id": "P2", "height_cm": "", "weight_kg": ""}],
                  "ae": [{**AE, "patient_id": "P2", "grade": str(g), "start": f"2020-0{g}-0{g}"} for g in (1, 2, 3)]
                  + [{**AE, "patient_id": "P1", "term": "Neutrophil count decreased", "grade": "3",
                      "attributed_drug": "", "serious": ""}]})  # fmt: skip
    monkeypatch.setattr(store, "READ_CHUNK_ROWS", 3)
    with transaction(engine) as session:
        frames = read_frames(session)
    for record, frame in frames.items():
        assert {c: str(t) for c, t in frame.dtypes.items()} == column_dtypes(record), record
    ae = frames["ae"]
    shown = ae[["patient_id", "id", "grade", "attributed_drug", "serious"]].astype(object)
    assert shown.where(shown.notna(), None).values.tolist() == [
        ["P1", 1, 2, "crizotinib", False], ["P1", 5, 3, None, False],
        ["P2", 2, 1, "crizotinib", False], ["P2", 3, 2, "crizotinib", False], ["P2", 4, 3, "crizotinib", False],
    ]  # fmt: skip
    assert ae["start"].tolist() == [
        pd.Timestamp("2019-12-01"),
        pd.Timestamp("2019-12-01"),
        pd.Timestamp("2020-01-01"),
        pd.Timestamp("2020-02-02"),
        pd.Timestamp("2020-03-03"),
    ]
    patients = frames["patient"]
    assert patients["height_cm"].tolist()[0] == 120.0 and pd.isna(patients["height_cm"].tolist()[1])
    # equal text is one object, within a chunk and across chunks (a registry's ids repeat on every record)
    drugs = ae["attributed_drug"].array
    assert drugs[0] is drugs[2] and drugs[2] is drugs[3] and drugs[3] is drugs[4]
    # SQLite's whole read goes through the driver's own rows, a read for some patients through SQLAlchemy's:
    # the same frames, chunk boundaries and all
    with transaction(engine) as session:
        some = read_frames(session, patients=["P1", "P2"])
    for record, frame in frames.items():
        pd.testing.assert_frame_equal(frame, some[record], check_exact=True, obj=record)


def test_import_leaves_the_sqlite_connection_page_cache_as_it_was(sqlite_url):
    from sqlalchemy import text

    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        before = conn.execute(text("PRAGMA cache_size")).scalar_one()
    _seed(engine)
    with engine.connect() as conn:  # the pool's same connection: the import's larger cache is not kept
        assert conn.execute(text("PRAGMA cache_size")).scalar_one() == before


def test_read_frames_for_patients_skips_empty_tables_alike(engine):
    """A read for some patients gives, for a table with no row at all (probed once instead of per patient), the
    same empty typed frame as a table whose rows are all other patients' or deleted."""
    _seed(engine)
    _add(engine, {"patient": [{**PATIENT, "patient_id": "P2"}], "followup": [{**FOLLOWUP, "patient_id": "P2"}]})
    with transaction(engine) as session:
        delete_record(session, "ae", 1, user="nurse", reason="test")
    with transaction(engine) as session:
        some = read_frames(session, patients=["P2", "P9"])
        everything = read_frames(session, include_deleted=True)
    assert some["patient"]["patient_id"].tolist() == ["P2"] and some["followup"]["patient_id"].tolist() == ["P2"]
    for record, frame in some.items():
        assert {c: str(t) for c, t in frame.dtypes.items()} == column_dtypes(record), record
        if record not in ("patient", "followup"):  # empty tables, P1's rows only (exposure) and deleted (ae)
            assert len(frame) == 0, record
            pd.testing.assert_frame_equal(frame, everything[record].iloc[:0].reset_index(drop=True), check_exact=True)
    assert len(everything["ae"]) == 1 and len(everything["exposure"]) == 1 and len(everything["ihc"]) == 0


def test_read_frames_collects_the_patients_of_a_function_at_the_first_table_with_rows(engine):
    """``patients`` as a function: not called while every table is empty (nothing to compare with), called once
    when some table has rows, and then the same frames as for the list itself."""
    calls = []

    def wanted() -> list[str]:
        calls.append(1)
        return ["P2", "P9"]

    with transaction(engine) as session:
        empty = read_frames(session, patients=wanted)
    assert calls == [] and all(not len(f) for f in empty.values())
    _seed(engine)
    _add(engine, {"patient": [{**PATIENT, "patient_id": "P2"}], "followup": [{**FOLLOWUP, "patient_id": "P2"}]})
    with transaction(engine) as session:
        lazy, plain = read_frames(session, patients=wanted), read_frames(session, patients=["P2", "P9"])
    assert calls == [1]
    for record in plain:
        pd.testing.assert_frame_equal(lazy[record], plain[record])
    assert lazy["followup"]["patient_id"].tolist() == ["P2"]


def test_text_column_is_the_values_in_new_shared_objects():
    """Chunks with repeats, a missing cell first, a chunk of missing cells only, an empty chunk: the column is the
    values in order; equal text is one object, and none of them is the driver's (they are made together)."""
    driver = ["".join(["P", "1"]), None, "".join(["P", "2"]), "".join(["P", "1"])]  # four new str objects
    column = store._TextColumn()
    for chunk in ([None, driver[0]], [driver[2], driver[3], driver[0]], [None, None], []):
        column.add(chunk)
    values = column.array()
    assert str(values.dtype) == "string"
    assert [None if pd.isna(v) else v for v in values] == [None, "P1", "P2", "P1", "P1", None, None]
    assert values[1] is values[3] is values[4] and values[1] is not values[2]
    assert all(values[i] is not d for i in (1, 2, 3, 4) for d in driver if d is not None)
    assert len(store._TextColumn().array()) == 0
