"""Tests for tkitrack.dashboards.labels: reader labels for codes and columns, and frames put in reader form."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tkitrack.dashboards.labels import (
    abbreviation_note,
    column_label,
    humanize,
    present_frame,
    value_label,
    value_labels,
)


@pytest.mark.parametrize(
    ("kind", "code", "label"),
    [
        pytest.param("histology", "ALK_IFS_LIKE", "ALK-rearranged infantile-fibrosarcoma-like tumour", id="histology"),
        pytest.param("histology", "IMT", "Inflammatory myofibroblastic tumour", id="histology-imt"),
        pytest.param("sex", "F", "Female", id="sex"),
        pytest.param("response", "NON-CR/NON-PD", "Non-CR/non-PD", id="response"),
        pytest.param("response", "MISSING", "No response assessment", id="response-missing"),
        pytest.param("fnclcc", "NA", "Not applicable", id="fnclcc-na"),
        pytest.param("age_group", "<2", "Under 2 years", id="age"),
        pytest.param("reason", "complete_response", "Complete response (elective stop)", id="reason"),
        pytest.param("reason", "toxicity", "Toxicity", id="reason-humanized"),
        pytest.param("drug", "crizotinib", "crizotinib", id="drug-as-recorded"),
        pytest.param("primary_site", "head and neck", "Head and neck", id="site-capitalised"),
        pytest.param("histology", None, "Not recorded", id="missing"),
        pytest.param("histology", "NEW_CODE", "NEW CODE", id="unknown-code-humanized"),
    ],
)
def test_value_label(kind, code, label):
    assert value_label(kind, code) == label


def test_short_labels_and_their_footnote():
    values = pd.Series(["ALK_IFS_LIKE", "IMT", None, "IFS_CCMN"])
    assert value_labels("histology", values, short=True).tolist() == ["ALK-IFS-like", "IMT", "Not recorded", "IFS/CMN"]
    assert abbreviation_note("histology", values) == (
        "ALK-IFS-like: ALK-rearranged infantile-fibrosarcoma-like tumour; "
        "IFS/CMN: infantile fibrosarcoma / cellular congenital mesoblastic nephroma; "
        "IMT: inflammatory myofibroblastic tumour."
    )
    assert abbreviation_note("sex", pd.Series(["F"])) == ""


@pytest.mark.parametrize(
    ("column", "record", "label"),
    [
        pytest.param("dose_intensity_mg_m2_day", None, "Dose intensity (mg/m²/day)", id="derived"),
        pytest.param("age_at_diagnosis", "patient", "Age at diagnosis (years)", id="unit-kept"),
        pytest.param("sex", "patient", "Sex", id="code-list-dropped"),
        pytest.param("histology", "patient", "Histology", id="vocab-path-dropped"),
        pytest.param("grade", "ae", "CTCAE grade", id="declared-and-listed"),
        pytest.param("some_new_column", None, "Some new column", id="humanized"),
    ],
)
def test_column_label(column, record, label):
    assert column_label(column, record) == label


def test_humanize():
    assert humanize("dose_change") == "Dose change" and humanize(None) == "" and humanize(np.nan) == ""


def test_present_frame_leaves_nothing_raw():
    frame = pd.DataFrame(
        {
            "patient_id": ["SYN-1", "SYN-2"],
            "days_on_drug": [182.0, np.nan],
            "dose_intensity_mg_m2_day": [80.597015, 560.0],
            "ongoing": [True, False],
            "last_end": pd.to_datetime(["2020-01-31", None]),
            "stop_reason": ["complete_response", pd.NA],
            "n_interruptions": pd.array([1, None], dtype="Int64"),
        }
    )
    out = present_frame(frame, kinds={"stop_reason": "reason"}, decimals={"dose_intensity_mg_m2_day": 0})
    assert list(out.columns) == ["Patient", "Days on drug", "Dose intensity (mg/m²/day)", "Ongoing", "Last dose",
                                 "Reason for stopping", "Interruptions"]  # fmt: skip
    assert out.iloc[0].tolist() == ["SYN-1", "182", "81", "Yes", "2020-01-31", "Complete response (elective stop)", "1"]
    assert out.iloc[1].tolist() == ["SYN-2", "", "560", "No", "", "", ""]


def test_present_frame_writes_each_cell_as_present_value_does():
    """Numbers and text without a kind are written without present_value's checks per value: the same text, cell
    for cell, for floats (whole, halves, negative zero, infinity), integers, strings (a "NaT" or "<NA>" read as
    missing) in a pandas string column and in an object column, mixed objects and a coded column."""
    from tkitrack.dashboards.labels import present_value

    frame = pd.DataFrame(
        {
            "f": [1.0, 2.25, -0.0, np.inf, np.nan, 80.597015],
            "f32": np.array([1.0, 0.5, 3.0, 2.0, 7.25, 1.0], dtype="float32"),
            "i": np.array([3, -4, 0, 5, 3, 12], dtype="int64"),
            "s": pd.array(["a", "NaT", None, "<NA>", "b", "a"], dtype="string"),
            "o": np.array(["x", "NaT", None, "y", "<NA>", "x"], dtype=object),
            "mixed": np.array([True, 1.5, "z", pd.Timestamp("2024-01-02"), None, 7], dtype=object),
            "sex": ["F", "M", None, "U", "F", "F"],
        }
    )
    kinds, decimals = {"sex": "sex"}, {"f": 2}
    out = present_frame(frame, kinds=kinds, decimals=decimals)
    for col, shown in zip(frame.columns, out.columns, strict=True):
        want = ["" if pd.isna(v) else present_value(v, kinds.get(col), decimals=decimals.get(col, 1))
                for v in frame[col].tolist()]  # fmt: skip
        assert out[shown].tolist() == want, col
    assert out.iloc[:, 0].tolist() == ["1", "2.25", "0", "inf", "", "80.60"]
    assert out.iloc[:, 3].tolist() == ["a", "", "", "", "b", "a"]
