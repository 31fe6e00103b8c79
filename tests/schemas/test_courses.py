"""Tests for tkitrack.schemas.courses on SQLite and PostgreSQL: change dose, stop, interrupt and resume a course."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.schemas.audit import read_audit_log, verify_chain
from tkitrack.schemas.courses import change_dose, resume_course, stop_course
from tkitrack.schemas.errors import InputError, NotFoundError, ValidationFailed
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import add_records, read_frames

PATIENT = {"patient_id": "P1", "birth_date": "2013-05-10", "height_cm": "120", "weight_kg": "22"}
COURSE = {"patient_id": "P1", "drug": "crizotinib", "dose": "280", "unit": "mg/m2", "frequency": "BID",
          "formulation": "oral solution", "start": "2019-07-01"}  # fmt: skip
#: The course operations go through the store (tested on both back ends); only the tests whose SQL could differ
#: between back ends run on both, the rest on SQLite.
sqlite_only = pytest.mark.parametrize("empty_db_url", [pytest.param("sqlite", id="sqlite")], indirect=True)
COLUMNS = ["id", "drug", "dose", "unit", "frequency", "route", "formulation", "start_dtc", "end_dtc", "reason",
           "discontinued"]  # fmt: skip


def _add(engine, exposures: list[dict]) -> None:
    with transaction(engine) as session:
        add_records(session, {"patient": pd.DataFrame([PATIENT]), "exposure": pd.DataFrame(exposures)}, user="nurse")


@pytest.fixture
def course(engine):
    """An engine on a database with patient P1 on crizotinib 280 mg/m2 BID from 2019-07-01 (exposure 1)."""
    _add(engine, [COURSE])
    return engine


def _intervals(engine) -> list[dict]:
    with transaction(engine) as session:
        ex = read_frames(session, ["exposure"])["exposure"]
    return ex[COLUMNS].astype(object).where(ex[COLUMNS].notna(), None).to_dict("records")


def _interval(id_, dose, start, end=None, reason=None, unit="mg/m2", frequency="BID", stopped=False) -> dict:
    """One interval as the tests expect it; ``stopped``: the drug was discontinued at its end."""
    return {"id": id_, "drug": "crizotinib", "dose": dose, "unit": unit, "frequency": frequency, "route": "ORAL",
            "formulation": "oral solution", "start_dtc": start, "end_dtc": end, "reason": reason,
            "discontinued": stopped}  # fmt: skip


def test_change_dose_closes_the_interval_the_day_before_and_opens_a_new_one(course):
    with transaction(course) as session:
        change_dose(session, 1, on="2019-09-15", dose="200", user="nurse", comment="weight loss")
    assert _intervals(course) == [
        _interval(1, 280.0, "2019-07-01", "2019-09-14", "dose_change"),
        _interval(2, 200.0, "2019-09-15"),
    ]
    with transaction(course) as session:
        trail = read_audit_log(session, table="exposure")
        assert verify_chain(session).ok
    why = "dose changed to 200 from 2019-09-15: weight loss"
    changes = trail[trail["seq"] > 2]
    assert changes[["action", "record_id", "field", "new_value", "reason"]].values.tolist() == [
        ["update", "1", "end_dtc", "2019-09-14", why],
        ["update", "1", "end", "2019-09-14", why],
        ["update", "1", "reason", "dose_change", why],
        ["insert", "2", "*", changes["new_value"].iloc[3], "added from dose change of exposure 1"],
    ]
    # a change on 1 March of a leap year closes the interval on 29 February
    with transaction(course) as session:
        change_dose(session, "2", on="2020-03-01", dose="250", user="nurse")
    assert [i["end_dtc"] for i in _intervals(course)] == ["2019-09-14", "2020-02-29", None]


@sqlite_only
def test_stop_with_reason_complete_response_then_change_inside_the_closed_interval(course):
    with transaction(course) as session:
        diff = stop_course(session, 1, last_dose="2020-01-10", reason="complete_response", user="dr",
                           comment="CR on MRI at 4 months")  # fmt: skip
    assert diff["end_dtc"] == (None, "2020-01-10")
    assert diff["reason"] == (None, "complete_response")
    assert _intervals(course) == [_interval(1, 280.0, "2019-07-01", "2020-01-10", "complete_response", stopped=True)]
    with transaction(course) as session:
        last = read_audit_log(session).iloc[-1]
    assert (last["user"], last["reason"]) == ("dr", "stopped (complete_response): CR on MRI at 4 months")
    # a dose reduction found later in the notes: the new interval inherits the end and its reason
    with transaction(course) as session:
        change_dose(session, 1, on="2019-10-01", dose="200", unit="mg", frequency="QD", reason="toxicity",
                    user="nurse")  # fmt: skip
    assert _intervals(course) == [
        _interval(1, 280.0, "2019-07-01", "2019-09-30", "toxicity"),  # a dose change is not a stop
        _interval(2, 200.0, "2019-10-01", "2020-01-10", "complete_response", unit="mg", frequency="QD", stopped=True),
    ]


@sqlite_only
def test_interrupt_then_resume_copies_the_last_dose(course):
    with transaction(course) as session:
        stop_course(session, 1, last_dose="2019-10-01", reason="toxicity", user="nurse", discontinue=False)
        resume_course(session, "P1", "Crizotinib", on="2019-10-15", user="nurse")
        stop_course(session, 2, last_dose="2019-10-15", reason="toxicity", user="nurse", discontinue=False)
        resume_course(session, "P1", "crizotinib", on="2019-11-01", dose="230", user="nurse")
        stop_course(session, 3, last_dose="2020-03-01", reason="complete_response", user="dr")  # for good
    assert _intervals(course) == [  # two holds (one of a single day) and a discontinuation: one course
        _interval(1, 280.0, "2019-07-01", "2019-10-01", "toxicity"),
        _interval(2, 280.0, "2019-10-15", "2019-10-15", "toxicity"),
        _interval(3, 230.0, "2019-11-01", "2020-03-01", "complete_response", stopped=True),
    ]
    with transaction(course) as session:
        log = read_audit_log(session)
    # a hold leaves the flag false (nothing to log); the stop sets it, audited with the stop's reason
    assert log.loc[
        log["field"] == "discontinued", ["record_id", "old_value", "new_value", "reason"]
    ].values.tolist() == [
        ["3", "false", "true", "stopped (complete_response)"],
    ]


def test_resume_copies_the_latest_interval_even_next_to_one_without_start(engine):
    # PostgreSQL sorts NULL first in a descending order: the interval with no start must not win
    _add(engine, [{**COURSE, "dose": "100", "start": "", "end": "2019-06-30"},
                  {**COURSE, "dose": "200", "start": "2019-07-01", "end": "2019-08-01"}])  # fmt: skip
    with transaction(engine) as session:
        resume_course(session, "P1", "crizotinib", on="2019-09-01", user="nurse")
    assert [(i["dose"], i["start_dtc"]) for i in _intervals(engine)] == [
        (100.0, None), (200.0, "2019-07-01"), (200.0, "2019-09-01"),
    ]  # fmt: skip


#: (operation, what the refusal says): bad dates, reasons and ids given to the course operations.
REFUSED = [
    (lambda s: change_dose(s, 1, on="2019-09", dose="200", user="u"),
     InputError, "--date must be a full date YYYY-MM-DD, got '2019-09'"),
    (lambda s: change_dose(s, 1, on="2019-09-31", dose="200", user="u"), InputError, "'2019-09-31' has day 31"),
    (lambda s: change_dose(s, 1, on="2019-07-01", dose="200", user="u"),
     InputError, "exposure 1 starts 2019-07-01; the date must be after it, got 2019-07-01"),
    (lambda s: change_dose(s, 1, on="2019-09-15", dose="200", reason="better", user="u"),
     InputError, "reason 'better' is not one of"),
    (lambda s: change_dose(s, 1, on="2019-09-15", dose="-200", user="u"),
     ValidationFailed, "2 error(s) in dose change of exposure 1; nothing was written"),  # FLD003 + EX006
    (lambda s: stop_course(s, 1, last_dose="2019-06-30", reason="toxicity", user="u"),
     InputError, "exposure 1 starts 2019-07-01; the last dose cannot be before it"),
    (lambda s: stop_course(s, 1, last_dose="", reason="toxicity", user="u"),
     InputError, "--last-dose must be a full date YYYY-MM-DD, got ''"),
    (lambda s: stop_course(s, 1, last_dose="2020-01-10", reason="cured", user="u"),
     InputError, "reason 'cured' is not one of toxicity, progression, complete_response"),
    (lambda s: stop_course(s, 9, last_dose="2020-01-10", reason="toxicity", user="u"),
     NotFoundError, "exposure 9 does not exist"),
    (lambda s: resume_course(s, "P1", "crizotinib", on="15/10/2019", user="u"),
     InputError, "'15/10/2019' is not an ISO 8601 date"),
    (lambda s: resume_course(s, "P1", "alectinib", on="2019-10-15", user="u"),
     InputError, "patient P1 has no alectinib interval to resume; use `exposure add`"),
    (lambda s: resume_course(s, "P1", "crizotinib", on="2019-08-01", user="u"),
     ValidationFailed, "1 error(s)"),  # overlaps the ongoing interval: EX003
]  # fmt: skip


@sqlite_only
def test_bad_dates_reasons_and_ids_are_refused_and_change_nothing(course, dump):
    before = dump()
    for operation, error, says in REFUSED:
        with pytest.raises(error) as err, transaction(course) as session:
            operation(session)
        assert says in str(err.value)
    assert dump() == before


@sqlite_only
def test_change_after_the_interval_ended_is_refused(course, dump):
    with transaction(course) as session:
        stop_course(session, 1, last_dose="2019-08-01", reason="toxicity", user="u")
    before = dump()
    with pytest.raises(InputError, match="already ended on 2019-08-01; use `exposure resume` instead"), \
            transaction(course) as session:  # fmt: skip
        change_dose(session, 1, on="2019-09-01", dose="200", user="u")
    with pytest.raises(ValidationFailed) as err, transaction(course) as session:
        resume_course(session, "P1", "crizotinib", on="2019-07-15", user="u")
    errors = err.value.failures[err.value.failures["severity"] == "error"]
    assert errors[["rule_id", "field", "value"]].values.tolist() == [["EX003", "start", "2019-07-15"]]
    assert dump() == before
