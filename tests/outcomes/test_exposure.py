"""Tests for tkitrack.outcomes.exposure: days on drug, dose, intensity, treatment time and gaps, by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tkitrack.outcomes.exposure import (
    derive_exposure_summary,
    derive_time_to_first_ae,
)
from tkitrack.schemas.errors import InputError

# Seed 003: crizotinib 200 mg once daily from 2019-01-01 to 2019-07-01 (6 months). Height and weight are not
# in the letter; 116 cm and 20.5 kg (about the 50th centile for a 6-year-old girl) are assumed here.
SEED_EX = pd.DataFrame(
    {
        "patient_id": ["IMT-003"],
        "drug": ["crizotinib"],
        "dose": [200.0],
        "unit": ["mg"],
        "frequency": ["QD"],
        "start": ["2019-01-01"],
        "end": ["2019-07-01"],
        "reason": ["toxicity"],
    }
)
SEED_PT = pd.DataFrame({"patient_id": ["IMT-003"], "height_cm": [116.0], "weight_kg": [20.5]})
SEED_FU = pd.DataFrame({"patient_id": ["IMT-003"], "date": ["2023-07-01"], "death_date": [None]})

# P1: crizotinib 280 mg/m2 BID d1-10, then 200 mg BID d11-20 (reduced), a gap, then 200 mg QD from Feb 1,
# ongoing, last contact Feb 10. P2: larotrectinib 4 mg/kg QD for 10 days.
MULTI_EX = pd.DataFrame(
    {
        "patient_id": ["P1", "P1", "P1", "P2"],
        "drug": ["crizotinib"] * 3 + ["larotrectinib"],
        "dose": [280.0, 200.0, 200.0, 4.0],
        "unit": ["mg/m2", "mg", "mg", "mg/kg"],
        "frequency": ["BID", "BID", "QD", "QD"],
        "start": ["2020-01-01", "2020-01-11", "2020-02-01", "2021-01-01"],
        "end": ["2020-01-10", "2020-01-20", None, "2021-01-10"],
        "reason": ["toxicity", "dose_change", None, "completed"],
    }
)
MULTI_PT = pd.DataFrame({"patient_id": ["P1", "P2"], "height_cm": [120.0, 100.0], "weight_kg": [22.0, 16.0]})
MULTI_FU = pd.DataFrame({"patient_id": ["P1", "P2"], "date": ["2020-02-10", "2021-06-30"]})


def test_seed_exposure():
    row = derive_exposure_summary(SEED_EX, SEED_PT, SEED_FU).iloc[0]
    bsa = math.sqrt(116 * 20.5 / 3600)  # Mosteller, by hand: 0.8127
    assert row["days_on_drug"] == 182  # Jan 1 .. Jul 1 inclusive
    assert row["cumulative_dose_mg"] == pytest.approx(200 * 182)
    assert row["dose_intensity_mg_m2_day"] == pytest.approx(200 / bsa)
    assert (row["n_dose_changes"], row["n_interruptions"], row["stop_reason"]) == (0, 0, "toxicity")
    assert not row["ongoing"]


def test_multi_interval_summary():
    out = derive_exposure_summary(MULTI_EX, MULTI_PT, MULTI_FU).set_index("patient_id")
    bsa1 = math.sqrt(120 * 22 / 3600)
    p1 = out.loc["P1"]
    # 10 + 10 + 10 days (Feb 1 .. last contact Feb 10); one gap (Jan 21-31); two regimen changes
    assert (p1["days_on_drug"], p1["n_intervals"], p1["n_interruptions"], p1["n_dose_changes"]) == (30, 3, 1, 2)
    assert p1["dose_change_reasons"] == "toxicity; dose_change"
    assert p1["ongoing"] and pd.isna(p1["last_end"]) and pd.isna(p1["stop_reason"])
    mg = 280 * bsa1 * 2 * 10 + 200 * 2 * 10 + 200 * 10
    mg_m2 = 280 * 2 * 10 + (200 * 2 * 10 + 200 * 10) / bsa1
    assert p1["cumulative_dose_mg"] == pytest.approx(mg)
    assert p1["cumulative_dose_mg_m2"] == pytest.approx(mg_m2)
    assert p1["dose_intensity_mg_m2_day"] == pytest.approx(mg_m2 / 30)
    p2 = out.loc["P2"]
    assert p2["cumulative_dose_mg"] == pytest.approx(4 * 16 * 10)  # mg/kg x weight x days
    assert p2["dose_intensity_mg_m2_day"] == pytest.approx(4 * 16 / math.sqrt(100 * 16 / 3600))


def test_cutoff_closes_open_intervals_earlier_than_last_contact():
    out = derive_exposure_summary(MULTI_EX, MULTI_PT, MULTI_FU, cutoff="2020-02-05").set_index("patient_id")
    assert out.loc["P1", "days_on_drug"] == 25  # Feb 1 .. Feb 5 = 5 days


def test_no_body_size_gives_unknown_mg_m2_not_zero():
    out = derive_exposure_summary(MULTI_EX, None, MULTI_FU).set_index("patient_id")
    assert np.isnan(out.loc["P1", "cumulative_dose_mg"])  # the mg/m2 interval cannot be converted to mg
    assert np.isnan(out.loc["P1", "dose_intensity_mg_m2_day"])


def test_overlapping_intervals_are_not_counted_twice():
    ex = SEED_EX.loc[[0, 0]].assign(start=["2019-01-01", "2019-03-01"], end=["2019-03-10", "2019-03-31"])
    assert derive_exposure_summary(ex, SEED_PT).loc[0, "days_on_drug"] == 90  # Jan 1 .. Mar 31


def test_open_interval_needs_followup_or_cutoff():
    with pytest.raises(InputError, match="P1 has an ongoing interval"):
        derive_exposure_summary(MULTI_EX, MULTI_PT)


def test_missing_column_is_named():
    with pytest.raises(InputError, match=r"exposure: column\(s\) \['frequency'\] missing"):
        derive_exposure_summary(MULTI_EX.drop(columns="frequency"))


def test_time_to_first_ae_seed():
    # gait disturbance (grade 2) at 5 months: 2019-06-01 - 2019-01-01 + 1 = 152 days
    ae = pd.DataFrame(
        {
            "patient_id": ["IMT-003"] * 3,
            "term": ["Nausea", "Gait disturbance", "Gait disturbance"],
            "grade": [1, 2, 1],
            "start": ["2018-12-01", "2019-06-01", "2019-06-20"],
        }
    )
    out = derive_time_to_first_ae(ae, SEED_EX, SEED_FU, term="gait disturbance").iloc[0]
    assert (out["days"], out["event"], out["grade"]) == (152, 1, 2)
    anything = derive_time_to_first_ae(ae, SEED_EX, SEED_FU).iloc[0]  # nausea came before the first dose
    assert anything["term"] == "Gait disturbance"
    none = derive_time_to_first_ae(ae, SEED_EX, SEED_FU, term="gait disturbance", min_grade=3).iloc[0]
    # censored at last contact: 2019-01-01 .. 2023-07-01 is 4 * 365 + 1 (2020) + 181 = 1642 days apart, + 1
    assert (none["days"], none["event"]) == (1643, 0)


@pytest.mark.parametrize("dtype", [object, "string"])
def test_a_blank_date_cell_is_missing_and_the_first_cell_that_is_not_a_date_is_named(dtype):
    from tkitrack.outcomes.courses import derive_courses
    from tkitrack.outcomes.exposure import check_frame

    start = pd.Series(["2020-01-02", " ", None, "soon", "later"], dtype=dtype)
    frame = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4", "P5"], "drug": "crizotinib", "start": start,
                          "end": None})  # fmt: skip
    with pytest.raises(InputError, match="patient P4 holds 'soon', which is not a date"):
        check_frame(frame, "exposure", ["patient_id"], dates=["start"])
    with pytest.raises(InputError, match="patient P4 holds 'soon', which is not a date"):
        derive_courses(frame)
    ok = check_frame(frame.iloc[:3], "exposure", ["patient_id"], dates=["start"])["start"]
    assert ok.dtype == "datetime64[ns]" and ok.tolist()[0] == pd.Timestamp("2020-01-02") and ok.iloc[1:].isna().all()
