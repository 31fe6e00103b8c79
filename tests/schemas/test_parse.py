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
        pytest.param("2019-06-14T10:30", "start", "2019-06-14T10:30", "2019-06-14", pd.NA, id="time-kept-as-given"),
        pytest.param(
            "2019-06-14T23:59:59.5+02:00",
            "end",
            "2019-06-14T23:59:59.5+02:00",
            "2019-06-14",
            pd.NA,
            id="seconds-fraction-zone",
        ),
        pytest.param("2019-06-14T00Z", "start", "2019-06-14T00Z", "2019-06-14", pd.NA, id="hour-only-utc"),
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


NOT_ISO = "is not an ISO 8601 date; expected YYYY, YYYY-MM or YYYY-MM-DD (for example 2019-06-14)"
BAD_TIME = "has a time part that is not ISO 8601; after a full date a time is THH:MM or THH:MM:SS"


@pytest.mark.parametrize(
    ("given", "says"),
    [
        pytest.param("2019-13-01", "has month 13; a month is 01 to 12", id="month-13"),
        pytest.param("2019-02-30", "has day 30; 2019-02 has days 01 to 28", id="february-30"),
        pytest.param("14/06/2019", NOT_ISO, id="day-first"),
        pytest.param("2019-6-1", NOT_ISO, id="no-leading-zeros"),
        pytest.param("last June", NOT_ISO, id="words"),
        pytest.param("2019-13", "has month 13; a month is 01 to 12", id="partial-month-13"),
        pytest.param("2019-07-29T99:99junk", BAD_TIME, id="time-junk"),
        pytest.param("2019-07-29T24:00", "has hour 24; it is 00 to 23", id="hour-24"),
        pytest.param("2019-07-29T23:60", "has minute 60; it is 00 to 59", id="minute-60"),
        pytest.param("2019-07-29T10:30:61", "has second 61; it is 00 to 59", id="second-61"),
        pytest.param("2019-07-29T10:30+15:00", "has zone hour 15; it is 00 to 14", id="zone-15"),
        pytest.param("2019-07T10:30", NOT_ISO, id="time-after-a-partial-date"),
        pytest.param("2019-07-29T", BAD_TIME, id="bare-T"),
        pytest.param("٢٠١٩", NOT_ISO, id="arabic-indic-digits"),
    ],
)
def test_malformed_date_is_dt001_with_the_given_value(given, says):
    frame, found = _parse("ae", {**AE, "start": given}, rows=pd.Series([7]))
    assert _problems(found) == [("P1", 7, "start", "DT001", "error", given)]
    assert found["message"].iloc[0] == f"'{given}' {says}" or found["message"].iloc[0].startswith(f"'{given}' {says}")
    assert pd.isna(frame.loc[0, "start"])
    assert pd.isna(frame.loc[0, "start_dtc"])  # nothing of an invalid value is kept, not even its date part


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


@pytest.mark.parametrize(
    ("record", "row", "field", "given"),
    [
        pytest.param("exposure", EXPOSURE, "dose", "inf", id="inf"),
        pytest.param("exposure", EXPOSURE, "dose", "-Infinity", id="minus-infinity"),
        pytest.param("assessment", {"patient_id": "P1"}, "sum_diameters", "1.8e308", id="overflow"),
        pytest.param("molecular", {"patient_id": "P1", "gene_3p": "ALK"}, "tmb", "1e400", id="tmb-overflow"),
        pytest.param("ae", AE, "grade", "1e30", id="whole-number-too-large"),
    ],
)
def test_non_finite_numbers_are_fld011(record, row, field, given):
    frame, found = _parse(record, {**row, field: given})
    assert _problems(found) == [("P1", 1, field, "FLD011", "error", given)]
    assert found["message"].iloc[0].startswith("not a finite number in range")
    assert pd.isna(frame.loc[0, field])


def test_nan_text_is_not_a_number():
    _, found = _parse("exposure", {**EXPOSURE, "dose": "nan"})
    assert _problems(found) == [("P1", 1, "dose", "FLD006", "error", "nan")]


def test_a_nul_byte_is_refused_and_the_text_is_not_cut_at_it():
    """Issue 17: `NUL\\0-42` became patient `NUL`; now the cell is refused, shown with the NUL escaped."""
    frame, found = _parse("patient", {"patient_id": "NUL\x00-42", "note": "tab\tand\nnew line are fine"})
    assert _problems(found) == [(r"NUL\x00-42", 1, "patient_id", "FLD010", "error", r"NUL\x00-42")]
    assert "control character" in found["message"].iloc[0]
    assert pd.isna(frame.loc[0, "patient_id"])
    assert frame.loc[0, "note"] == "tab\tand\nnew line are fine"


@pytest.mark.parametrize(
    ("record", "row", "field", "limit"),
    [
        pytest.param("patient", {}, "patient_id", 64, id="patient-id"),
        pytest.param("ae", AE, "term", 256, id="ae-term"),
        pytest.param("exposure", EXPOSURE, "note", 4000, id="note"),
        pytest.param("followup", {"patient_id": "P1", "vital_status": "dead"}, "death_cause", 512, id="cause"),
        pytest.param("exposure", EXPOSURE, "formulation", 64, id="formulation"),
    ],
)
def test_text_longer_than_its_declared_maximum_is_fld008_at_the_limit(record, row, field, limit):
    at_limit, found = _parse(record, {**row, field: "x" * limit})
    assert "FLD008" not in set(found["rule_id"]) and at_limit.loc[0, field] == "x" * limit
    frame, found = _parse(record, {**row, field: "x" * (limit + 1)})
    long = found[found["rule_id"] == "FLD008"]
    assert long[["row", "field", "severity"]].values.tolist() == [[1, field, "error"]]
    assert f"{limit + 1:,} characters; at most {limit} are allowed" in long["message"].iloc[0]
    shown = long["value"].iloc[0]  # a listing shows up to 80 characters, then the length
    assert shown == "x" * (limit + 1) if limit < 80 else shown.endswith(f"... ({limit + 1:,} characters)")
    assert frame.loc[0, field] == "x" * limit  # never written (an error blocks the write), and never echoed whole


def test_a_megabyte_id_is_named_not_echoed():
    _, found = _parse("patient", {"patient_id": "A" * 1_000_000})
    assert found["rule_id"].tolist() == ["FLD008"]
    assert "1,000,000 characters; at most 64" in found["message"].iloc[0]
    assert max(len(str(v)) for v in found.iloc[0]) < 200


def test_a_value_outside_a_vocabulary_is_not_also_too_long():
    _, found = _parse("patient", {"patient_id": "P1", "sex": "female"})
    assert "FLD008" not in set(found["rule_id"])


@pytest.mark.parametrize("where", [0, 2, 4], ids=["first", "middle", "last"])
@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param(" lead", "lead", id="leading-space"),
        pytest.param("trail\t", "trail", id="trailing-tab"),
        pytest.param("", None, id="empty"),
        pytest.param(" \u00a0 ", None, id="blank-no-break-space"),
        pytest.param("\u2003wide", "wide", id="em-space"),
        pytest.param("sep\x1f", "sep", id="unit-separator-is-whitespace"),
        pytest.param("in side", "in side", id="inner-space-kept"),
    ],
)
def test_one_cell_to_strip_among_many_is_stripped_and_only_it(where, cell, expected):
    """A column is searched whole for cells to strip or empty; the one such cell, wherever it is, is found."""
    cells = ["x1", "x2", "x3", "x4", "x5"]
    cells[where] = cell
    frame, found = _parse("exposure", *({**EXPOSURE, "note": c} for c in cells))
    want = ["x1", "x2", "x3", "x4", "x5"]
    want[where] = expected
    assert [None if pd.isna(v) else v for v in frame["note"]] == want
    assert found.empty


@pytest.mark.parametrize("where", [0, 2, 4], ids=["first", "middle", "last"])
def test_one_control_character_among_many_cells_is_fld010_on_its_row(where):
    cells = ["x1", "x2", "x3", "x4", "x5"]
    cells[where] = "bell\x07"
    frame, found = _parse("exposure", *({**EXPOSURE, "note": c} for c in cells))
    assert _problems(found) == [("P1", where + 1, "note", "FLD010", "error", r"bell\x07")]
    assert [pd.isna(v) for v in frame["note"]] == [i == where for i in range(5)]


def test_bad_and_overflowing_numbers_among_good_ones_are_reported_on_their_rows():
    """Only the cells to_numeric refuses are looked at again: digits out of range are FLD011, text FLD006."""
    doses = ["200", "1e999", "abc", "", "-inf", "12.5", "NaN", "1e5"]
    frame, found = _parse("exposure", *({**EXPOSURE, "dose": d} for d in doses))
    assert [(r[1], r[3], r[5]) for r in _problems(found)] == [
        (3, "FLD006", "abc"), (7, "FLD006", "NaN"), (2, "FLD011", "1e999"), (5, "FLD011", "-inf")]  # fmt: skip
    assert [None if pd.isna(v) else v for v in frame["dose"]] == [200.0, None, None, None, None, 12.5, None, 1e5]


def test_dates_read_once_per_distinct_value_give_each_row_its_own_result():
    """A date column is read per distinct value and spread back: repeated, missing, invalid and timed cells in one
    column come out (typed columns and DT001 rows) as each row parsed on its own does, on a non-default index."""
    cells = ["2019-06", "2019-02-30", None, "2019-06", " 2019-06 ", "", "2019-06-14T10:30", "2019-02-30", "2019"]
    raw = pd.DataFrame({"patient_id": [f"P{i}" for i in range(len(cells))], "drug": "crizotinib", "dose": "1",
                        "unit": "mg", "frequency": "QD", "start": cells}, index=range(50, 50 + len(cells)))  # fmt: skip
    frame, found = parse_records("exposure", raw)
    for i in range(len(cells)):
        one, one_found = parse_records("exposure", raw.iloc[[i]], rows=pd.Series([i + 1], index=raw.index[[i]]))
        for col in ("start_dtc", "start", "start_dtf"):
            assert frame[col].iloc[[i]].equals(one[col]), (i, col)
        assert found[found["row"] == i + 1].astype(object).values.tolist() == one_found.astype(object).values.tolist()
    assert list(frame["start_dtf"].fillna("-")) == ["D", "-", "-", "D", "D", "-", "-", "-", "M"]
    assert list(found["row"]) == [2, 8] and list(frame.index) == list(raw.index)


def test_booleans_of_a_column_read_once_per_distinct_text():
    """Hand-worked: repeated words in any case, blanks and non-words in one column; a flag that defaults to false
    (verbatim) is false where empty or not a word; the FLD007 rows are those of the non-words."""
    given = ["Yes", "no", "YES", None, "maybe", "yes", " N ", "", "maybe", "T"]
    raw = pd.DataFrame([{**AE, "patient_id": f"P{i}", "verbatim": g} for i, g in enumerate(given)])
    frame, found = parse_records("ae", raw)
    assert frame["verbatim"].tolist() == [True, False, True, False, False, True, False, False, False, True]
    assert [(r, v) for r, v in zip(found["row"], found["value"], strict=True)] == [(5, "maybe"), (9, "maybe")]


def test_numbers_read_once_per_distinct_value_keep_the_whole_number_boundary():
    """Numbers are read per distinct text and spread back: 2147483647 (the largest whole number kept) on every
    row it is on, 2147483648 FLD011 on every row, 2.5 FLD006 in a whole-number column, missing cells missing."""
    grades = ["2147483647", "2147483648", "", "2147483647", "2.5", "2147483648", "3", "3", "-2147483647"]
    frame, found = _parse("ae", *({**AE, "grade": g} for g in grades))
    assert [(r[1], r[3], r[5]) for r in _problems(found)] == [
        (5, "FLD006", "2.5"), (2, "FLD011", "2147483648"), (6, "FLD011", "2147483648")]  # fmt: skip
    assert frame["grade"].dtype == "Int64"
    assert [None if pd.isna(v) else v for v in frame["grade"]] == [
        2147483647, None, None, 2147483647, None, None, 3, 3, -2147483647]  # fmt: skip


@pytest.mark.parametrize("doses", [["12", "12", "7"], ["12", "", "12", "7.25"], ["", ""], ["1e5", "abc", "1e5"]])
def test_numbers_read_once_per_distinct_value_match_each_row_read_alone(doses):
    """Whole columns, columns with missing cells, all missing, repeated refusals: each row as parsed on its own."""
    frame, found = _parse("exposure", *({**EXPOSURE, "dose": d} for d in doses))
    alone = [_parse("exposure", {**EXPOSURE, "dose": d}) for d in doses]
    assert [None if pd.isna(v) else v for v in frame["dose"]] == [
        None if pd.isna(f["dose"].iloc[0]) else f["dose"].iloc[0] for f, _ in alone
    ]
    assert [r[3] for r in _problems(found)] == [r[3] for _, p in alone for r in _problems(p)]
    assert frame["dose"].dtype == "float64"


def test_cells_stripped_once_per_distinct_value_keep_each_rows_control_character_and_blank():
    """Text is stripped per distinct cell and spread back: a control character repeated on rows 2 and 5 is FLD010
    on both, ' x ' and 'x' are one value, blank and missing cells are missing."""
    notes = ["x", "bell\x07", " x ", "", "bell\x07", None, "  "]
    frame, found = _parse("exposure", *({**EXPOSURE, "note": n} for n in notes))
    assert _problems(found) == [("P1", 2, "note", "FLD010", "error", r"bell\x07"),
                                ("P1", 5, "note", "FLD010", "error", r"bell\x07")]  # fmt: skip
    assert [None if pd.isna(v) else v for v in frame["note"]] == ["x", None, "x", None, None, None, None]
