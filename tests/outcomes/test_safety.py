"""Tests for tkitrack.outcomes.safety: AE incidence per patient by worst grade, on- vs off-treatment onset."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.outcomes.safety import (
    ANY_TERM,
    derive_ae_drug_onsets,
    derive_ae_treatment_phase,
    derive_safety_population,
    summarise_ae_incidence,
    summarise_ae_on_off_treatment,
)
from tkitrack.schemas.errors import InputError

PATIENTS = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4", "P5"]})  # N = 5; P4 had no AE
AE = pd.DataFrame(
    {
        "patient_id": ["P1", "P1", "P2", "P3", "P3", "P5"],
        "term": ["Nausea", "Nausea", "Nausea", "Gait disturbance", "Neutrophil count decreased", "Sepsis"],
        "grade": [1, 3, 2, 2, 4, 5],
        "start": ["2020-01-15", "2020-03-01", "2020-03-02", "2019-12-31", "2021-01-01", "2020-01-20"],
    }
)


def test_incidence_counts_patients_at_worst_grade():
    # Nausea: P1 twice (worst 3) counts once, P2 grade 2. Any AE: P1 3, P2 2, P3 4, P5 5 -> 4 of 5
    out = summarise_ae_incidence(AE, PATIENTS)
    expected = pd.DataFrame(
        {
            "term": [ANY_TERM, "Nausea", "Gait disturbance", "Neutrophil count decreased", "Sepsis"],
            "n_any": [4, 2, 1, 1, 1],
            "pct_any": [80.0, 40.0, 20.0, 20.0, 20.0],
            "n_grade_1_2": [1, 1, 1, 0, 0],
            "n_grade_3": [1, 1, 0, 0, 0],
            "n_grade_4": [1, 0, 0, 1, 0],
            "pct_grade_4": [20.0, 0.0, 0.0, 20.0, 0.0],
            "n_grade_5": [1, 0, 0, 0, 1],
            "N": [5] * 5,
        }
    )
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False)


def test_incidence_over_the_safety_population():
    # dosed: P1, P2 (crizotinib), P3 (a dose of 0 and a real one); P4 only a zero dose; P5 never treated.
    # Safety population P1, P2, P3 (N = 3); P5's sepsis is not counted. Any AE: P1 3, P2 2, P3 4 -> 3 of 3
    exposure = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P3", "P4"], "dose": [200, 200, 0, 200, 0],
                             "start": ["2020-01-01", "2020-01-01", "2020-05-01", "2020-06-01", "2020-01-01"]})  # fmt: skip
    out = summarise_ae_incidence(AE, PATIENTS, exposure).set_index("term")
    assert out["N"].unique().tolist() == [3]
    assert out.loc[ANY_TERM, ["n_any", "n_grade_3", "n_grade_4", "n_grade_5"]].tolist() == [3, 1, 1, 0]
    assert out.loc["Nausea", "pct_any"] == pytest.approx(200 / 3)
    assert "Sepsis" not in out.index
    assert derive_safety_population(PATIENTS, exposure)["patient_id"].tolist() == ["P1", "P2", "P3"]


@pytest.mark.parametrize(
    ("ae", "patients", "match"),
    [
        pytest.param(AE, PATIENTS.iloc[:2], r"not in patients", id="denominator"),
        pytest.param(AE.assign(grade=[1, 3, 2, 2, 4, 6]), PATIENTS, "grade 6", id="grade-6"),
        pytest.param(AE.drop(columns="grade"), PATIENTS, r"\['grade'\] missing", id="no-grade"),
    ],
)
def test_incidence_bad_input(ae, patients, match):
    with pytest.raises(InputError, match=match):
        summarise_ae_incidence(ae, patients)


# P1 and P2: crizotinib Jan 1 - Jan 31 2020; P3: crizotinib from 2020-06-01, ongoing; P5 none
EXPOSURE = pd.DataFrame(
    {
        "patient_id": ["P1", "P2", "P3"],
        "drug": ["crizotinib"] * 3,
        "start": ["2020-01-01", "2020-01-01", "2020-06-01"],
        "end": ["2020-01-31", "2020-01-31", None],
    }
)


@pytest.mark.parametrize(
    ("window", "phases"),
    [
        # Jan 15 within; Mar 1 = Jan 31 + 30 days (2020: Feb has 29) is the last day of the window; Mar 2 out;
        # Dec 31 2019 before the first dose; 2021-01-01 during an ongoing interval; P5 never exposed
        pytest.param(30, ["on", "on", "off", "off", "on", "off"], id="window-30"),
        pytest.param(0, ["on", "off", "off", "off", "on", "off"], id="window-0"),
    ],
)
def test_treatment_phase(window, phases):
    out = derive_ae_treatment_phase(AE, EXPOSURE, window_days=window)
    assert out["phase"].tolist() == [f"{p}_treatment" for p in phases]
    assert out["on_treatment"].tolist() == [p == "on" for p in phases]
    assert out["term"].tolist() == AE["term"].tolist()  # same rows, same order


def test_drug_onsets_pair_each_ae_with_every_drug_it_is_on():
    """Hand-worked: P1 takes crizotinib Jan 1-31 and, overlapping it, Larotrectinib Jan 20 - Feb 10 (2020); an
    onset on Jan 20 (the second drug's first day) is on both; Mar 1 (Jan 31 + 30) is the last day of
    crizotinib's window, Mar 11 (Feb 10 + 30) the last of larotrectinib's, Mar 12 neither's. The per-drug
    phases are these pairs, drug names matched case-insensitively."""
    ae = pd.DataFrame({"patient_id": ["P1"] * 5, "term": ["Nausea"] * 5, "grade": [1] * 5,
                       "start": ["2019-12-31", "2020-01-20", "2020-03-01", "2020-03-11", "2020-03-12"]})  # fmt: skip
    ex = pd.DataFrame({"patient_id": ["P1", "P1"], "drug": ["crizotinib", "Larotrectinib"],
                       "start": ["2020-01-01", "2020-01-20"], "end": ["2020-01-31", "2020-02-10"]})  # fmt: skip
    checked, hits = derive_ae_drug_onsets(ae, ex)
    assert checked["start"].tolist() == pd.to_datetime(ae["start"]).tolist()
    assert sorted(zip(hits["row"], hits["drug"], strict=True)) == [
        (1, "Larotrectinib"), (1, "crizotinib"), (2, "Larotrectinib"), (2, "crizotinib"), (3, "Larotrectinib")]  # fmt: skip
    phase = derive_ae_treatment_phase(ae, ex, drugs=["CRIZOTINIB"])
    assert phase["on_treatment"].tolist() == [False, True, True, False, False]
    phase = derive_ae_treatment_phase(ae, ex, drugs=["larotrectinib"])
    assert phase["on_treatment"].tolist() == [False, True, True, True, False]
    assert derive_ae_treatment_phase(ae, ex, drugs=[])["on_treatment"].tolist() == [False] * 5
    assert derive_ae_treatment_phase(ae, ex)["on_treatment"].tolist() == [False, True, True, True, False]
    with pytest.raises(InputError, match="window_days must be >= 0"):
        derive_ae_drug_onsets(ae, ex, window_days=-1)


def test_on_off_summary():
    out = summarise_ae_on_off_treatment(AE, EXPOSURE).set_index("term")
    expected = pd.DataFrame(
        {
            "term": ["Gait disturbance", "Nausea", "Neutrophil count decreased", "Sepsis"],
            "n_events_on": [0, 2, 1, 0],
            "n_patients_on": [0, 1, 1, 0],
            "n_events_off": [1, 1, 0, 1],
            "n_patients_off": [1, 1, 0, 1],
            "worst_grade_on": [0, 3, 4, 0],
            "worst_grade_off": [2, 2, 0, 5],
        }
    ).set_index("term")
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False)


def test_negative_window():
    with pytest.raises(InputError, match="window_days"):
        derive_ae_treatment_phase(AE, EXPOSURE, window_days=-1)
