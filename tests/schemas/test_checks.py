"""Tests for tkitrack.schemas.checks: every edit check fails on one case and passes on a near miss."""

from __future__ import annotations

import datetime as dt
import functools
import json

import pandas as pd
import pytest

from tkitrack.schemas.checks import EDIT_CHECKS, check_records, dated_records
from tkitrack.schemas.frames import LISTING_COLUMNS, input_columns
from tkitrack.schemas.parse import parse_records

TODAY = dt.date(2024, 1, 1)

#: A clean history (the seeds' 6-year-old, dates made concrete): no edit check fires on it.
CLEAN = {
    "patient": [{"patient_id": "P1", "sex": "F", "birth_date": "2013-05-10", "diagnosis_date": "2019-06-14",
                 "age_at_diagnosis": "6.1", "histology": "IMT", "height_cm": "120", "weight_kg": "22"}],
    "exposure": [{"patient_id": "P1", "drug": "crizotinib", "dose": "200", "unit": "mg", "frequency": "QD",
                  "start": "2019-07-01", "end": "2020-01-10", "reason": "complete_response"}],
    "ae": [{"patient_id": "P1", "term": "Gait disturbance", "grade": "2", "start": "2019-12-01",
            "end": "2020-02-01", "attributed_drug": "crizotinib"}],
    "assessment": [
        {"patient_id": "P1", "date": "2019-06-20", "baseline": "true"},
        {"patient_id": "P1", "date": "2019-10-01", "response": "CR"},
        {"patient_id": "P1", "date": "2020-06-01", "response": "CR"},
    ],
    "followup": [{"patient_id": "P1", "date": "2023-06-01", "vital_status": "alive"}],
}  # fmt: skip

P1 = CLEAN["patient"][0]
EX1 = CLEAN["exposure"][0]
AE1 = CLEAN["ae"][0]
BASELINE, CR1, CR2 = CLEAN["assessment"]
ALIVE = CLEAN["followup"][0]
DEAD = {"patient_id": "P1", "date": "2023-06-01", "vital_status": "dead", "death_date": "2023-06-01"}


@functools.cache
def _parsed(record: str, rows_json: str) -> pd.DataFrame:
    rows = json.loads(rows_json)
    frame, problems = parse_records(record, pd.DataFrame(rows, columns=None if rows else input_columns(record)))
    assert problems.empty, problems.to_dict("records")
    return frame


def _frames(changes: dict[str, list[dict]]) -> dict[str, pd.DataFrame]:
    """CLEAN with some record types replaced, parsed into typed frames (parsed once per distinct input)."""
    return {record: _parsed(record, json.dumps(rows)).copy() for record, rows in {**CLEAN, **changes}.items()}


def _run(changes: dict[str, list[dict]], rule_id: str | None = None) -> pd.DataFrame:
    """The listing of every edit check, or of the one named by ``rule_id``, on CLEAN with ``changes``."""
    checks = EDIT_CHECKS if rule_id is None else [c for c in EDIT_CHECKS if c.rule_id == rule_id]
    return check_records(_frames(changes), today=TODAY, checks=checks)


#: (rule, changes, severity, record, field, patient, value): the first hit of each rule.
FAILING = [
    ("REF001", {"ae": [AE1, {**AE1, "patient_id": "P9"}]}, "error", "ae", "patient_id", "P9", "P9"),
    ("PT001", {"patient": [{**P1, "diagnosis_date": "2013-01-02", "age_at_diagnosis": ""}]},
     "error", "patient", "diagnosis_date", "P1", "2013-01-02"),
    ("PT002", {"patient": [{**P1, "age_at_diagnosis": "9"}]}, "warning", "patient", "age_at_diagnosis", "P1", "9.0"),
    ("PT003", {"followup": []}, "warning", "patient", "patient_id", "P1", "P1"),
    ("DT002", {"ae": [{**AE1, "start": "2013-05-09", "end": ""}]}, "error", "ae", "start", "P1", "2013-05-09"),
    ("DT003", {"ae": [{**AE1, "start": "2023-06-02", "end": ""}]}, "error", "ae", "start", "P1", "2023-06-02"),
    ("DT004", {"followup": [{**ALIVE, "date": "2024-01-02"}]}, "warning", "followup", "date", "P1", "2024-01-02"),
    ("EX002", {"followup": [{**DEAD, "date": "2020-01-09", "death_date": "2020-01-09"}]},
     "error", "exposure", "end", "P1", "2020-01-10"),
    ("EX003", {"exposure": [EX1, {**EX1, "start": "2020-01-05", "end": "", "reason": ""}]},
     "error", "exposure", "start", "P1", "2020-01-05"),
    ("EX004", {"exposure": [{**EX1, "dose": "1000"}]}, "warning", "exposure", "dose", "P1", "1000.0 mg"),
    ("EX005", {"patient": [{**P1, "height_cm": "", "weight_kg": ""}]}, "warning", "exposure", "dose", "P1",
     "200.0 mg"),
    ("AS001", {"assessment": [{**BASELINE, "baseline": "false"}, CR1, CR2]}, "error", "assessment", "date", "P1",
     "2019-06-20"),
    ("AS002", {"assessment": [BASELINE, {**CR1, "baseline": "true"}, CR2]}, "warning", "assessment", "baseline",
     "P1", "true"),
    ("AS003", {"assessment": [BASELINE, CR1, {**CR2, "response": "PR"}]}, "warning", "assessment", "response", "P1",
     "PR"),
    ("AS004", {"assessment": [BASELINE, CR1, {**CR2, "response": "", "response_given": "CHECK"}]}, "warning",
     "assessment", "response", "P1", "CHECK"),
    ("AS006", {"assessment": [{**BASELINE, "sum_diameters": "100"}, {**CR1, "response": "PR", "sum_diameters": "70.1"},
                              CR2]}, "warning", "assessment", "response", "P1", "PR"),
    ("AE004", {"ae": [AE1, {**AE1, "term": "Sepsis", "grade": "5"}]}, "error", "ae", "grade", "P1", "5"),
    ("AE005", {"ae": [{**AE1, "outcome": "fatal"}]}, "error", "ae", "outcome", "P1", "fatal"),
    ("FU001", {"followup": [{**DEAD, "death_date": ""}]}, "error", "followup", "death_date", "P1", ""),
    ("FU002", {"followup": [{**ALIVE, "death_date": "2023-06-01"}]}, "error", "followup", "vital_status", "P1",
     "alive"),
]  # fmt: skip

#: (rule, changes): a near miss of each rule that must NOT fire it.
PASSING = [
    ("REF001", {"ae": [AE1, {**AE1, "start": "2020-03-01", "end": ""}]}),
    ("PT001", {"patient": [{**P1, "diagnosis_date": "2013-05-10", "age_at_diagnosis": "0"}]}),
    ("PT002", {"patient": [{**P1, "age_at_diagnosis": "7"}]}),  # 6.1 years computed: within a year
    ("PT003", {}),
    ("DT002", {"ae": [{**AE1, "start": "2013-05-10", "end": ""}]}),  # on the birth day
    ("DT003", {"ae": [{**AE1, "start": "2023-06-01", "end": ""}]}),  # on the last contact
    ("DT004", {"followup": [{**ALIVE, "date": "2024-01-01"}]}),  # today
    ("EX002", {"followup": [{**DEAD, "date": "2020-01-10", "death_date": "2020-01-10"}],
               "ae": [{**AE1, "end": ""}], "assessment": [BASELINE, CR1]}),  # last dose on the day of death
    ("EX003", {"exposure": [EX1, {**EX1, "start": "2020-01-11", "end": "", "reason": ""}]}),  # the day after
    ("EX004", {"exposure": [{**EX1, "dose": "680"}]}),  # 680 / 0.856 = 794 mg/m2/day, under 800
    ("EX005", {"patient": [{**P1, "height_cm": "", "weight_kg": ""}],
               "exposure": [{**EX1, "dose": "280", "unit": "mg/m2", "frequency": "BID"}]}),  # per m2: no BSA needed
    ("AS001", {"assessment": [{**BASELINE, "baseline": "false", "date": "2019-07-01"}, CR1, CR2]}),  # on day 1
    ("AS002", {"assessment": [{**BASELINE, "date": "2019-07-01"}, CR1, CR2]}),  # baseline on the first dose day
    ("AS003", {"assessment": [BASELINE, CR1, {**CR2, "date": "2020-03-01", "response": "PD"},
                              {**CR2, "response": "PR"}]}),  # PR after a PD is a new course of disease
    ("AS004", {"assessment": [BASELINE, CR1, {**CR2, "response": "CR", "response_given": ""}]}),
    ("AS006", {"assessment": [{**BASELINE, "sum_diameters": "100"}, {**CR1, "response": "PR", "sum_diameters": "70"},
                              CR2]}),  # exactly 30% below baseline
    ("AE004", {"ae": [AE1, {**AE1, "term": "Sepsis", "grade": "5", "outcome": "fatal", "start": "2023-05-20",
                            "end": "2023-06-01"}], "followup": [DEAD]}),
    ("AE005", {"ae": [{**AE1, "outcome": "recovered"}]}),
    ("FU001", {"followup": [DEAD]}),
    ("FU002", {"followup": [{**ALIVE, "death_date": ""}]}),
]  # fmt: skip


def test_clean_history_has_no_query():
    found = _run({})
    assert found.empty
    assert list(found.columns) == LISTING_COLUMNS


def test_cases_cover_every_edit_check():
    rules = sorted(c.rule_id for c in EDIT_CHECKS)
    assert sorted(c[0] for c in FAILING) == rules
    assert sorted(c[0] for c in PASSING) == rules


def test_rule_ids_are_unique_and_severities_known():
    ids = [c.rule_id for c in EDIT_CHECKS]
    assert len(ids) == len(set(ids))
    assert {c.severity for c in EDIT_CHECKS} == {"error", "warning"}


@pytest.mark.parametrize(
    ("rule_id", "changes", "severity", "record", "field", "patient", "value"),
    [pytest.param(*case, id=case[0]) for case in FAILING],
)
def test_edit_check_fails(rule_id, changes, severity, record, field, patient, value):
    found = _run(changes, rule_id)
    hits = found[found["rule_id"] == rule_id]
    assert len(hits) == 1, found.to_dict("records")
    hit = hits.iloc[0]
    assert (hit["severity"], hit["record"], hit["field"], hit["patient_id"], hit["value"]) == (
        severity, record, field, patient, value,
    )  # fmt: skip
    assert hit["message"]  # says what was found and how to fix it
    assert [c.severity for c in EDIT_CHECKS if c.rule_id == rule_id] == [severity]


@pytest.mark.parametrize(("rule_id", "changes"), [pytest.param(*case, id=case[0]) for case in PASSING])
def test_edit_check_passes(rule_id, changes):
    found = _run(changes, rule_id)
    assert rule_id not in set(found["rule_id"]), found.to_dict("records")


def test_ex002_exposure_after_the_last_contact():
    found = _run({"followup": [{**ALIVE, "date": "2020-01-09"}], "ae": [{**AE1, "start": "2019-12-01", "end": ""}],
                  "assessment": [BASELINE, CR1]})  # fmt: skip
    hits = found[found["rule_id"] == "EX002"]
    assert hits[["record", "field", "value"]].to_dict("records") == [
        {"record": "exposure", "field": "end", "value": "2020-01-10"}
    ]
    assert "after the last contact 2020-01-09" in hits["message"].iloc[0]


def test_ex002_ongoing_exposure_of_a_dead_patient():
    found = _run({"exposure": [{**EX1, "end": "", "reason": ""}], "followup": [DEAD]})
    hits = found[found["rule_id"] == "EX002"]
    assert hits["value"].tolist() == ["ongoing"]
    assert "runs past death on 2023-06-01" in hits["message"].iloc[0]


def test_messages_say_what_was_found_and_what_to_do():
    found = _run({"assessment": [BASELINE, CR1, {**CR2, "response": "PR"}]})
    assert found["message"].tolist() == [
        "PR on 2020-06-01 follows CR on 2019-10-01 with no PD between; after a CR the tumour can only stay CR or "
        "progress: correct one response"
    ]
    found = _run({"exposure": [{**EX1, "dose": "1000"}]})
    assert found["message"].tolist() == [
        "crizotinib at 1168.0 mg/m2/day is outside the plausible 50.0-800.0 mg/m2/day; check dose, unit, frequency "
        "and the patient's height and weight"
    ]  # 1000 mg / BSA 0.8563


def test_every_failure_is_listed_not_the_first():
    found = _run({
        "ae": [{**AE1, "outcome": "fatal"}, {**AE1, "patient_id": "P9"}],
        "followup": [{**ALIVE, "death_date": "2023-06-01"}],
    })  # fmt: skip
    assert sorted(found["rule_id"]) == ["AE005", "FU002", "REF001"]


def test_rows_from_an_input_file_are_reported():
    frames = _frames({"ae": [{**AE1, "outcome": "fatal"}]})
    frames["ae"] = frames["ae"].assign(_row=[12])
    found = check_records(frames, today=TODAY)
    assert found["row"].tolist() == [12]
    assert str(found["row"].dtype) == "Int64"


def test_missing_record_types_count_as_empty():
    frames = _frames({})
    del frames["assessment"], frames["ae"]
    assert check_records(frames, today=TODAY).empty


def test_dated_records_lists_every_date_except_birth():
    dates = dated_records(_frames({}))
    assert sorted(zip(dates["record"], dates["field"], dates["date"].dt.strftime("%Y-%m-%d"), strict=True)) == [
        ("ae", "end", "2020-02-01"),
        ("ae", "start", "2019-12-01"),
        ("assessment", "date", "2019-06-20"),
        ("assessment", "date", "2019-10-01"),
        ("assessment", "date", "2020-06-01"),
        ("exposure", "end", "2020-01-10"),
        ("exposure", "start", "2019-07-01"),
        ("followup", "date", "2023-06-01"),
        ("patient", "diagnosis_date", "2019-06-14"),
    ]


def test_a_patient_listed_twice_is_looked_up_once():
    # a re-imported patient row (reported as PT010/PT011 by the store) must not break the lookups
    found = _run({"patient": [P1, P1], "exposure": [{**EX1, "dose": "1000"}]})
    assert found[["rule_id", "patient_id", "value"]].values.tolist() == [["EX004", "P1", "1000.0 mg"]]


def test_dates_vs_excludes_only_what_the_rule_excludes():
    """DT002 looks at every record's dates (an exposure before birth fires, on the birth day not); DT003 leaves
    exposure to EX002 (an exposure a day after the last contact is not DT003, an AE a day after is)."""
    changes = {"exposure": [{**EX1, "start": "2013-05-09", "end": "2013-05-10"}, {**EX1, "start": "2013-05-10",
                                                                                   "end": "2013-05-11"}]}  # fmt: skip
    dt2 = _run(changes, "DT002")
    assert list(zip(dt2["record"], dt2["field"], dt2["value"], strict=True)) == [("exposure", "start", "2013-05-09")]
    late = {"exposure": [{**EX1, "start": "2023-06-02", "end": ""}], "ae": [{**AE1, "start": "2023-06-02", "end": ""}]}
    dt3 = _run(late, "DT003")
    assert list(zip(dt3["record"], dt3["field"], dt3["value"], strict=True)) == [("ae", "start", "2023-06-02")]
