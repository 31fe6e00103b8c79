"""Tests for tkitrack.schemas.frames: pandera schemas built from the models, frame rules, lazy validation."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import (
    FRAME_RULES,
    LISTING_COLUMNS,
    check_frame,
    column_dtypes,
    date_inputs,
    frame_schema,
    input_columns,
    listing,
)
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.parse import parse_records

#: A minimal valid row of each record type, as typed in a template.
VALID = {
    "patient": {"patient_id": "P1", "sex": "F", "birth_date": "2013-05-10", "height_cm": "120", "weight_kg": "22"},
    "molecular": {"patient_id": "P1", "gene_5p": "TPM3", "gene_3p": "ALK", "method": "RNA_NGS"},
    "ihc": {"patient_id": "P1", "marker": "ALK D5F3", "result": "positive"},
    "exposure": {"patient_id": "P1", "drug": "crizotinib", "dose": "280", "unit": "mg/m2", "frequency": "BID",
                 "start": "2019-07-01", "end": "2020-01-10"},
    "ae": {"patient_id": "P1", "term": "Gait disturbance", "grade": "2", "start": "2019-12-01",
           "end": "2020-02-01"},
    "assessment": {"patient_id": "P1", "date": "2019-10-01", "modality": "MRI", "response": "CR"},
    "procedure": {"patient_id": "P1", "kind": "resection", "margin": "R0"},
    "disease_event": {"patient_id": "P1", "kind": "recurrence", "date": "2021-03"},
    "followup": {"patient_id": "P1", "date": "2023-06-01", "vital_status": "alive"},
}  # fmt: skip

#: Every field that carries a vocabulary or a range in the models: (record, field, failing, passing, rule).
FIELD_CASES = [
    ("patient", "sex", "female", "U", "FLD002"),
    ("patient", "race", "Caucasian", "WHITE", "FLD002"),  # CDISC RACE terms only
    ("patient", "ethnicity", "Hispanic", "HISPANIC OR LATINO", "FLD002"),
    ("patient", "country", "FR", "FRA", "FLD002"),  # ISO 3166-1 alpha-3, not alpha-2
    ("patient", "histology", "IMT-like", "EIMS", "FLD002"),
    ("patient", "fnclcc_grade", "4", "NA", "FLD002"),
    ("patient", "age_at_diagnosis", "-1", "0", "FLD003"),
    ("patient", "age_at_diagnosis", "121", "120", "FLD003"),
    ("patient", "height_cm", "0", "45", "FLD003"),
    ("patient", "height_cm", "231", "230", "FLD003"),
    ("patient", "weight_kg", "0", "0.4", "FLD003"),
    ("patient", "weight_kg", "251", "250", "FLD003"),
    ("molecular", "exon_5p", "0", "1", "FLD003"),
    ("molecular", "exon_5p", "201", "200", "FLD003"),
    ("molecular", "gene_3p", "STRN", "NTRK3", "FLD002"),
    ("molecular", "exon_3p", "0", "20", "FLD003"),
    ("molecular", "exon_3p", "201", "200", "FLD003"),
    ("molecular", "method", "NGS", "FISH", "FLD002"),
    ("molecular", "fish_percent", "-1", "0", "FLD003"),
    ("molecular", "fish_percent", "101", "100", "FLD003"),
    ("molecular", "vaf", "100.5", "100", "FLD003"),
    ("molecular", "vaf", "-0.1", "0", "FLD003"),
    ("molecular", "tmb", "-1", "0", "FLD003"),
    ("ihc", "result", "weak", "focal", "FLD002"),
    ("exposure", "drug", "aspirin", "lorlatinib", "FLD002"),
    ("exposure", "dose", "-5", "0.5", "FLD003"),
    ("exposure", "unit", "g", "mg/kg", "FLD002"),
    ("exposure", "frequency", "daily", "QD", "FLD002"),
    ("exposure", "route", "PO", "IV", "FLD002"),
    ("exposure", "reason", "CR", "complete_response", "FLD002"),
    ("ae", "grade", "0", "1", "FLD003"),
    ("ae", "grade", "6", "3", "FLD003"),
    ("ae", "attributed_drug", "xalkori", "crizotinib", "FLD002"),
    ("ae", "attribution", "related", "possible", "FLD002"),
    ("ae", "action", "stopped", "withdrawn", "FLD002"),
    ("ae", "outcome", "resolved", "recovered", "FLD002"),
    ("assessment", "modality", "PET", "PET-CT", "FLD002"),
    ("assessment", "criteria", "RECIST", "RECIST1.1", "FLD002"),
    ("assessment", "sum_diameters", "-1", "0", "FLD003"),
    ("assessment", "target_response", "VGPR", "PR", "FLD002"),
    ("assessment", "nontarget_response", "nonCR", "NON-CR/NON-PD", "FLD002"),
    ("assessment", "response", "MR", "SD", "FLD002"),
    ("assessment", "evaluator", "BICR", "INDEPENDENT", "FLD002"),
    ("procedure", "kind", "surgery", "amputation", "FLD002"),
    ("procedure", "margin", "R3", "R2", "FLD002"),
    ("disease_event", "kind", "relapse", "metastasis", "FLD002"),
    ("disease_event", "confirmed_by", "MRI", "imaging", "FLD002"),
    ("followup", "vital_status", "deceased", "dead", "FLD002"),
    ("followup", "disease_status", "CR", "NED", "FLD002"),
]
#: Failing values that also break a frame rule (tested on its own below): ae grade 0 and 6 are no CTCAE grade
#: (AE003), a negative dose is not > 0 (EX006).
_ALSO = {("ae", "grade", "0"): "AE003", ("ae", "grade", "6"): "AE003", ("exposure", "dose", "-5"): "EX006"}


def _typed(record: str, *rows: dict) -> pd.DataFrame:
    frame, problems = parse_records(record, pd.DataFrame(list(rows)))
    assert problems.empty, problems.to_dict("records")
    return frame


def _rows(found: pd.DataFrame) -> list[tuple]:
    return [
        tuple(r) for r in found[["patient_id", "row", "field", "rule_id", "severity", "value"]].itertuples(index=False)
    ]


@pytest.mark.parametrize("record", [pytest.param(r, id=r) for r in RECORD_MODELS])
def test_schema_has_a_column_per_model_field(record):
    schema = frame_schema(record)
    assert list(schema.columns) == list(RECORD_MODELS[record].model_fields)
    for name, column in schema.columns.items():
        assert column.description == field_info(RECORD_MODELS[record], name).label


def test_column_types_follow_the_model_annotations():
    dtypes = column_dtypes("exposure")
    assert dtypes == {
        "id": "Int64", "patient_id": "string", "note": "string", "deleted": "boolean", "drug": "string",
        "dose": "float64", "unit": "string", "frequency": "string", "route": "string", "formulation": "string",
        "start_dtc": "string", "start": "datetime64[ns]", "start_dtf": "string", "end_dtc": "string",
        "end": "datetime64[ns]", "end_dtf": "string", "reason": "string", "constructed_dates": "string",
        "discontinued": "boolean",
    }  # fmt: skip
    assert column_dtypes("ae")["grade"] == "Int64"
    assert column_dtypes("ae")["serious"] == "boolean"
    assert column_dtypes("patient")["birth_date"] == "datetime64[ns]"


def test_required_fields_are_not_nullable_and_optional_ones_are():
    schema = frame_schema("ae")
    assert not schema.columns["patient_id"].nullable
    assert not schema.columns["term"].nullable
    assert not schema.columns["grade"].nullable
    assert schema.columns["end"].nullable
    assert schema.columns["outcome"].nullable


def test_input_columns_drop_ids_and_derived_fields_and_name_dates_plainly():
    assert input_columns("exposure") == [
        "patient_id", "note", "constructed_dates", "drug", "dose", "unit", "frequency", "route", "formulation",
        "start", "end", "reason", "discontinued",
    ]  # fmt: skip
    assert "term_code" not in input_columns("ae")
    assert input_columns("patient")[0] == "patient_id"


def test_field_cases_cover_every_constrained_field_of_the_models():
    constrained = set()
    for record, model in RECORD_MODELS.items():
        for name in model.model_fields:
            info = field_info(model, name)
            if info.vocab or info.ge is not None or info.gt is not None or info.le is not None:
                constrained.add((record, name))
    assert {(r, f) for r, f, *_ in FIELD_CASES} == constrained


@pytest.mark.parametrize("record", [pytest.param(r, id=r) for r in RECORD_MODELS])
def test_valid_rows_pass(record):
    found = check_frame(record, _typed(record, VALID[record]))
    assert found.empty
    assert list(found.columns) == LISTING_COLUMNS


@pytest.mark.parametrize(
    ("record", "field", "bad", "good", "rule_id"),
    [pytest.param(*case, id=f"{case[0]}.{case[1]}={case[2]}") for case in FIELD_CASES],
)
def test_field_rule_fails_and_passes(record, field, bad, good, rule_id):
    failing = check_frame(record, _typed(record, {**VALID[record], field: bad}))
    failing = failing[failing["rule_id"] != _ALSO.get((record, field, bad))]
    expected_value = str(float(bad)) if column_dtypes(record)[field] == "float64" else bad
    assert _rows(failing) == [("P1", 1, field, rule_id, "error", expected_value)]
    assert bad in failing["message"].iloc[0] or expected_value in failing["message"].iloc[0]
    assert check_frame(record, _typed(record, {**VALID[record], field: good})).empty


def test_vocabulary_message_lists_the_allowed_values_and_their_source():
    found = check_frame("exposure", _typed("exposure", {**VALID["exposure"], "unit": "g"}))
    assert found["message"].iloc[0] == (
        "'g' is not an allowed unit; expected one of mg, mg/m2, mg/kg (`tkitrack vocab show unit`)"
    )


def test_range_message_states_the_bounds():
    found = check_frame("patient", _typed("patient", {**VALID["patient"], "height_cm": "231"}))
    assert found["message"].iloc[0] == "231.0 is out of range for Height (cm); expected greater than 0 and at most 230"


@pytest.mark.parametrize(
    ("record", "field"),
    [
        pytest.param("exposure", "drug", id="exposure.drug"),
        pytest.param("ae", "term", id="ae.term"),
        pytest.param("followup", "vital_status", id="followup.vital_status"),
        pytest.param("ihc", "marker", id="ihc.marker"),
    ],
)
def test_required_field_missing_is_fld001(record, field):
    found = check_frame(record, _typed(record, {**VALID[record], field: ""}))
    found = found[found["rule_id"] == "FLD001"]
    assert _rows(found) == [("P1", 1, field, "FLD001", "error", None)]
    assert found["message"].iloc[0].endswith("is required; fill it in")


def test_missing_column_is_fld004_naming_the_column():
    frame = _typed("exposure", VALID["exposure"]).drop(columns=["unit"])
    found = check_frame("exposure", frame)
    assert _rows(found) == [(None, pd.NA, "unit", "FLD004", "error", "unit")]
    assert found["message"].iloc[0] == "column unit is missing; add it (see `tkitrack template DIR`)"


def test_wrong_dtype_is_fld005():
    frame = _typed("exposure", VALID["exposure"])
    frame["dose"] = frame["dose"].astype(object)
    found = check_frame("exposure", frame)
    assert _rows(found) == [(None, pd.NA, "dose", "FLD005", "error", "object")]
    assert "column dose has the wrong type (object)" in found["message"].iloc[0]


#: (rule, record, failing row, passing row, field, value)
FRAME_CASES = [
    ("EX006", "exposure", {"dose": "0"}, {"dose": "0", "drug": "placebo", "unit": "mg", "frequency": "QD"},
     "dose", "0.0"),
    ("EX001", "exposure", {"end": "2019-06-30"}, {"end": "2019-07-01"}, "end", "2019-06-30"),
    ("AE001", "ae", {"end": "2019-11-30"}, {"end": "2019-12-01"}, "end", "2019-11-30"),
    ("AE002", "ae", {"term": "Leg ache"}, {"term": "Leg ache", "verbatim": "true"}, "term", "Leg ache"),
    ("AE003", "ae", {"grade": "4"}, {"grade": "3"}, "grade", "4"),
    # a criterion without serious; serious with only a criterion recorded as false (not met)
    ("AE007", "ae", {"serious_hospitalisation": "true"}, {"serious": "true", "serious_hospitalisation": "true"},
     "serious", "False"),
    ("AE008", "ae", {"serious": "true", "serious_death": "false"},
     {"serious": "true", "serious_death": "false", "serious_life_threatening": "true"}, "serious", "True"),
    # a PERCIST category under RECIST, a RECIST one under PERCIST, an iRECIST one under the investigator's
    ("AS005", "assessment", {"response": "CMR"}, {"response": "CMR", "criteria": "PERCIST"}, "response", "CMR"),
    ("AS005", "assessment", {"target_response": "CR", "criteria": "PERCIST", "response": "PMR"},
     {"target_response": "PMR", "criteria": "PERCIST", "response": "PMR"}, "target_response", "CR"),
    ("AS005", "assessment", {"nontarget_response": "iCR", "criteria": "INVESTIGATOR"},
     {"nontarget_response": "iCR", "criteria": "iRECIST", "response": "iCR"}, "nontarget_response", "iCR"),
    ("MO001", "molecular", {"gene_5p_candidates": "PTRH2|CLTC"}, {"gene_5p": "", "gene_5p_candidates": "PTRH2|CLTC"},
     "gene_5p_candidates", "PTRH2|CLTC"),
    *[("DT005", record, {"constructed_dates": "note"}, {"constructed_dates": ",".join(date_inputs(record))},
       "constructed_dates", "note") for record in RECORD_MODELS],
]  # fmt: skip


def test_frame_cases_cover_every_frame_rule():
    covered = {(c[0], c[1], c[4]) for c in FRAME_CASES} | {("PT010", "patient", "patient_id")}  # two rows: below
    assert sorted(covered) == sorted((r.rule_id, r.record, r.field) for r in FRAME_RULES)


def test_a_patient_listed_twice_is_pt010_on_its_second_row():
    """Import and validate share this rule: both report the duplicate row (issue 17.2)."""
    rows = [{**VALID["patient"], "patient_id": p} for p in ("P1", "P2", "P1", "P1")]
    found = check_frame("patient", _typed("patient", *rows))
    assert _rows(found) == [
        ("P1", 3, "patient_id", "PT010", "error", "P1"),
        ("P1", 4, "patient_id", "PT010", "error", "P1"),
    ]
    assert "P1 is listed twice in this input" in found["message"].iloc[0]
    assert check_frame("patient", _typed("patient", *rows[:2])).empty


@pytest.mark.parametrize(
    ("values", "bad"),
    [
        pytest.param({"response": "NE", "criteria": "PERCIST"}, False, id="NE-under-every-criteria"),
        pytest.param({"response": "iUPD", "criteria": "iRECIST"}, False, id="iUPD-under-iRECIST"),
        pytest.param({"response": "PD", "criteria": ""}, False, id="empty-criteria-is-RECIST"),
        pytest.param({"response": "PMD", "criteria": ""}, True, id="PMD-needs-PERCIST"),
        pytest.param({"response": "PD", "criteria": "iRECIST"}, True, id="PD-is-not-iRECIST"),
    ],
)
def test_responses_follow_their_criteria(values, bad):
    found = check_frame("assessment", _typed("assessment", {**VALID["assessment"], **values}))
    assert found["rule_id"].tolist() == (["AS005"] if bad else [])


def test_an_uncertain_partner_needs_two_candidates():
    found = check_frame(
        "molecular", _typed("molecular", {**VALID["molecular"], "gene_5p": "", "gene_5p_candidates": "CLTC"})
    )
    assert found["rule_id"].tolist() == ["MO001"]


def test_constructed_dates_may_list_several_dates_with_spaces():
    frame = _typed("exposure", {**VALID["exposure"], "constructed_dates": "start, end"})
    assert check_frame("exposure", frame).empty
    frame = _typed("exposure", {**VALID["exposure"], "constructed_dates": "start,stop"})
    assert check_frame("exposure", frame)["value"].tolist() == ["start,stop"]


def test_constructed_dates_among_empty_cells_are_checked_on_their_own_rows():
    """Only the cells that name something are split; the rows between them stay clean."""
    given = ["", "start", None, "stop, end", "", "end,start", "nope"]
    frame = _typed("exposure", *({**VALID["exposure"], "constructed_dates": c} for c in given))
    found = check_frame("exposure", frame)
    assert list(zip(found["row"], found["value"], strict=True)) == [(4, "stop, end"), (7, "nope")]
    assert (found["rule_id"] == "DT005").all()


@pytest.mark.parametrize(
    ("rule_id", "record", "bad", "good", "field", "value"),
    [pytest.param(*case, id=case[0]) for case in FRAME_CASES],
)
def test_frame_rule_fails_and_passes(rule_id, record, bad, good, field, value):
    found = check_frame(record, _typed(record, {**VALID[record], **bad}))
    severity = next(r.severity for r in FRAME_RULES if r.rule_id == rule_id)
    assert _rows(found) == [("P1", 1, field, rule_id, severity, value)]
    assert check_frame(record, _typed(record, {**VALID[record], **good})).empty


def test_end_before_start_message():
    found = check_frame("exposure", _typed("exposure", {**VALID["exposure"], "end": "2019-06-30"}))
    assert found["message"].iloc[0] == (
        "end 2019-06-30 is before start 2019-07-01; expected end >= start: correct either date, "
        "or leave end empty while ongoing"
    )


def test_grade_message_lists_the_grades_of_the_term():
    found = check_frame("ae", _typed("ae", {**VALID["ae"], "grade": "4"}))
    assert (
        found["message"].iloc[0]
        == "CTCAE v5.0 'Gait disturbance' has no grade 4; its grades are 1, 2, 3: use one of them"
    )


def test_partial_end_imputed_to_the_last_day_is_not_before_a_start_in_that_month():
    # end "2019-07" is imputed to 2019-07-31 (last), so an interval starting 2019-07-15 is fine
    frame = _typed("exposure", {**VALID["exposure"], "start": "2019-07-15", "end": "2019-07"})
    assert check_frame("exposure", frame).empty


def test_validation_is_lazy_every_failure_in_one_listing():
    frame = _typed(
        "ae",
        {**VALID["ae"], "grade": "4", "action": "stopped"},  # AE003, FLD002
        {**VALID["ae"], "end": "2019-11-01"},  # AE001
        {**VALID["ae"], "term": "Leg ache"},  # AE002
        {**VALID["ae"], "patient_id": ""},  # FLD001
    )
    found = check_frame("ae", frame)
    assert sorted(zip(found["rule_id"], found["row"], found["field"], strict=True)) == [
        ("AE001", 2, "end"),
        ("AE002", 3, "term"),
        ("AE003", 1, "grade"),
        ("FLD001", 4, "patient_id"),
        ("FLD002", 1, "action"),
    ]


def test_rows_argument_numbers_the_failures_by_file_row():
    frame = _typed("exposure", VALID["exposure"], {**VALID["exposure"], "dose": "-1"})
    found = check_frame("exposure", frame, rows=pd.Series([10, 11], index=frame.index))
    assert found["row"].tolist() == [11, 11]
    assert sorted(found["rule_id"]) == ["EX006", "FLD003"]


def test_listing_has_the_standard_columns():
    empty = listing()
    assert list(empty.columns) == LISTING_COLUMNS
    assert empty.empty
    one = listing([{"patient_id": "P1", "rule_id": "X1", "row": 3}])
    assert one.loc[0, "row"] == 3
    assert str(one["row"].dtype) == "Int64"


def test_checking_a_frame_leaves_it_as_it_was_with_nothing_attached():
    """pandera validates a shallow copy in place (the schema coerces, adds, drops and fills nothing): the caller's
    frame keeps its values, its dtypes (a wrong one too) and its columns, and pandera attaches nothing to it (its
    accessor would tie the frame into a reference cycle)."""
    frame = _typed("ae", {**VALID["ae"], "grade": "4", "action": "stopped"}, {**VALID["ae"], "patient_id": ""})
    frame["dose_level"] = "extra column"  # not in the schema (strict=False)
    frame["grade"] = frame["grade"].astype(object)  # FLD005: the wrong type stays as it was given
    before = frame.copy()
    found = check_frame("ae", frame)
    assert {"FLD005", "FLD001", "FLD002"} <= set(found["rule_id"])
    pd.testing.assert_frame_equal(frame, before)
    assert "pandera" not in vars(frame)
