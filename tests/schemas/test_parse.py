"""Tests for tkitrack.schemas.parse: template text cells into typed record frames, with a listing of bad cells."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.frames import column_dtypes
from tkitrack.schemas.parse import parse_records

EXPOSURE = {"patient_id": "P1", "drug": "crizotinib", "dose": "200", "unit": "mg", "frequency": "QD"}
AE = {"patient_id": "P1", "term": "Gait disturbance", "grade": "2"}


def _parse(record: str, *rows: dict, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    return parse_records(record, pd.DataFrame(list(rows)), **kwargs)


def _problems(found: pd.DataFrame) -> list[tuple]:
    return [
        tuple(r) for r in found[["patient_id", "row", "field", "rule_id", "severity", "value"]].itertuples(index=False)
    ]


@pytest.mark.parametrize(
    ("given", "rule", "dtc", "imputed", "flag"),
    [
        pytest.param("2019-06-14", "start", "2019-06-14", "2019-06-14", pd.NA, id="full-date"),
        pytest.param("2019-06", "start", "2019-06", "2019-06-01", "D", id="month-start-first-day"),
        pytest.param("2019", "start", "2019", "2019-01-01", "M", id="year-start-first-day"),
        pytest.param("2019-06", "end", "2019-06", "2019-06-30", "D", id="month-end-last-day"),
        pytest.param("2020-02", "end", "2020-02", "2020-02-29", "D", id="leap-february-end"),
        pytest.param("2019", "end", "2019", "2019-12-31", "M", id="year-end-last-day"),
        pytest.param("2019-06-14T10:30", "start", "2019-06-14", "2019-06-14", pd.NA, id="time-dropped"),
    ],
)
def test_partial_dates_stored_as_given_imputed_and_flagged(given, rule, dtc, imputed, flag):
    frame, found = _parse("exposure", {**EXPOSURE, rule: given})
    assert found.empty
    row = frame.iloc[0]
    assert row[f"{rule}_dtc"] == dtc
    assert row[rule] == pd.Timestamp(imputed)
    assert row[f"{rule}_dtf"] is flag or row[f"{rule}_dtf"] == flag


def test_empty_date_is_missing_in_all_three_columns():
    frame, found = _parse("exposure", {**EXPOSURE, "start": "2019-07-01", "end": " "})
    assert found.empty
    assert pd.isna(frame.loc[0, "end_dtc"])
    assert pd.isna(frame.loc[0, "end"])
    assert pd.isna(frame.loc[0, "end_dtf"])


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("2019-13-01", id="month-13"),
        pytest.param("2019-02-30", id="february-30"),
        pytest.param("14/06/2019", id="day-first"),
        pytest.param("2019-6-1", id="no-leading-zeros"),
        pytest.param("last June", id="words"),
        pytest.param("2019-13", id="partial-month-13"),
    ],
)
def test_malformed_date_is_dt001_with_the_given_value(given):
    frame, found = _parse("ae", {**AE, "start": given}, rows=pd.Series([7]))
    assert _problems(found) == [("P1", 7, "start", "DT001", "error", given)]
    assert found["message"].iloc[0] == (
        f"'{given}' is not an ISO 8601 date; expected YYYY, YYYY-MM or YYYY-MM-DD (for example 2019-06-14)"
    )
    assert pd.isna(frame.loc[0, "start"])
    assert pd.isna(frame.loc[0, "start_dtc"])


@pytest.mark.parametrize(
    ("record", "row", "field", "given", "says"),
    [
        pytest.param("exposure", EXPOSURE, "dose", "200mg", "not a number", id="dose-with-unit"),
        pytest.param("exposure", EXPOSURE, "dose", "two hundred", "not a number", id="dose-in-words"),
        pytest.param("ae", AE, "grade", "2.5", "not a whole number", id="fractional-grade"),
        pytest.param("ae", AE, "grade", "II", "not a whole number", id="roman-grade"),
        pytest.param("patient", {"patient_id": "P1"}, "height_cm", "1m20", "not a number", id="height"),
    ],
)
def test_not_a_number_is_fld006(record, row, field, given, says):
    frame, found = _parse(record, {**row, field: given})
    assert _problems(found) == [("P1", 1, field, "FLD006", "error", given)]
    assert found["message"].iloc[0].startswith(says)
    assert pd.isna(frame.loc[0, field])


def test_numbers_parse_to_the_column_type():
    frame, found = _parse("ae", {**AE, "grade": "3.0"})
    assert found.empty
    assert frame.loc[0, "grade"] == 3
    assert str(frame["grade"].dtype) == "Int64"
    frame, found = _parse("exposure", {**EXPOSURE, "dose": " 1.5 "})
    assert frame.loc[0, "dose"] == 1.5


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("true", True, id="true"),
        pytest.param("Yes", True, id="yes"),
        pytest.param("1", True, id="one"),
        pytest.param("N", False, id="n"),
        pytest.param("false", False, id="false"),
        pytest.param("", False, id="empty-is-false"),
    ],
)
def test_booleans(given, expected):
    frame, found = _parse("ae", {**AE, "serious": given})
    assert found.empty
    assert frame.loc[0, "serious"] == expected


def test_not_a_boolean_is_fld007():
    _, found = _parse("ae", {**AE, "serious": "maybe"})
    assert _problems(found) == [("P1", 1, "serious", "FLD007", "error", "maybe")]


def test_every_bad_cell_is_reported_not_the_first():
    _, found = _parse(
        "ae",
        {**AE, "grade": "x", "start": "2019-99"},
        {**AE, "serious": "perhaps", "end": "soon"},
    )
    assert sorted(_problems(found)) == [
        ("P1", 1, "grade", "FLD006", "error", "x"),
        ("P1", 1, "start", "DT001", "error", "2019-99"),
        ("P1", 2, "end", "DT001", "error", "soon"),
        ("P1", 2, "serious", "FLD007", "error", "perhaps"),
    ]


def test_frame_has_every_model_column_with_its_dtype_and_defaults():
    frame, _ = _parse("exposure", EXPOSURE)
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "id": "Int64", "patient_id": "string", "note": "string", "deleted": "boolean", "drug": "string",
        "dose": "float64", "unit": "string", "frequency": "string", "route": "string", "formulation": "string",
        "start_dtc": "string", "start": "datetime64[ns]", "start_dtf": "string", "end_dtc": "string",
        "end": "datetime64[ns]", "end_dtf": "string", "reason": "string", "constructed_dates": "string",
        "discontinued": "boolean",
    }  # fmt: skip
    assert frame.loc[0, "route"] == "ORAL"  # the model's default
    assert not frame.loc[0, "deleted"]
    assert frame.loc[0, "discontinued"] == False  # noqa: E712  (a flag left out is false, not missing)
    assert {c: str(t) for c, t in frame.dtypes.items()} == column_dtypes("exposure")


def test_ae_term_code_filled_from_ctcae_and_drug_lowercased():
    ae, _ = _parse("ae", AE, {**AE, "term": "Leg ache", "verbatim": "true"})
    assert ae["term_code"].tolist() == ["10017577", pd.NA]
    ex, _ = _parse("exposure", {**EXPOSURE, "drug": "Crizotinib"})
    assert ex.loc[0, "drug"] == "crizotinib"


def test_blank_text_is_missing_and_text_is_stripped():
    frame, _ = _parse("exposure", {**EXPOSURE, "formulation": "  oral solution ", "note": "   "})
    assert frame.loc[0, "formulation"] == "oral solution"
    assert pd.isna(frame.loc[0, "note"])


def test_unknown_column_raises_input_error_naming_file_and_column():
    with pytest.raises(InputError) as err:
        _parse("exposure", {**EXPOSURE, "dosage": "200"}, source="site3/exposure.csv")
    message = str(err.value)
    assert message.startswith("site3/exposure.csv: unknown column(s) dosage for record type exposure")
    assert "tkitrack template DIR" in message


def test_missing_required_column_raises_input_error():
    row = {k: v for k, v in EXPOSURE.items() if k != "frequency"}
    with pytest.raises(InputError, match=r"exposure\.csv: required column\(s\) frequency missing"):
        _parse("exposure", row, source="exposure.csv")


def test_unknown_record_type_raises_input_error():
    with pytest.raises(InputError, match="unknown record type 'scan'"):
        _parse("scan", {"patient_id": "P1"})
