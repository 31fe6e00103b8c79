"""Tests for tkitrack.outcomes.cutoff: records as they stood on the cut-off date (inclusive)."""

from __future__ import annotations

import pandas as pd

from tkitrack.outcomes.cutoff import derive_records_at_cutoff

T = pd.Timestamp
CUT = "2020-06-30"


def _frames() -> dict[str, pd.DataFrame]:
    return {
        "patient": pd.DataFrame({"patient_id": ["P1", "P2", "P3"],
                                 "diagnosis_date": [T("2019-01-01"), T("2020-06-30"), T("2020-07-01")]}),
        "exposure": pd.DataFrame({
            "id": [1, 2, 3, 4], "patient_id": ["P1", "P1", "P1", "P3"],
            "start": [T("2019-02-01"), T("2020-01-01"), T("2020-07-01"), T("2020-07-02")],
            "end": [T("2020-06-30"), T("2020-07-01"), pd.NaT, pd.NaT],
            "end_dtc": ["2020-06-30", "2020-07", None, None],
            "reason": ["dose_change", "complete_response", None, None],
            "discontinued": [False, True, False, False],
        }),
        "ae": pd.DataFrame({"id": [1, 2], "patient_id": ["P1", "P1"], "start": [T("2020-06-30"), pd.NaT],
                            "end": [T("2020-08-01"), pd.NaT], "outcome": ["recovered", None]}),
        "followup": pd.DataFrame({"id": [1, 2], "patient_id": ["P1", "P1"], "date": [T("2020-05-01"), T("2021-01-01")],
                                  "vital_status": ["dead", "dead"], "death_date": [T("2020-07-15"), T("2020-07-15")],
                                  "death_cause": ["disease", "disease"]}),
    }  # fmt: skip


def test_records_on_the_cutoff_are_kept_and_after_it_left_out():
    out = derive_records_at_cutoff(_frames(), CUT)
    assert out["patient"]["patient_id"].tolist() == ["P1", "P2"]  # P3 diagnosed the day after
    assert out["exposure"]["id"].tolist() == [1, 2]  # 3 starts the day after; 4 belongs to P3
    assert out["ae"]["id"].tolist() == [1, 2]  # onset on the cut-off day; an undated AE is kept
    assert out["followup"]["id"].tolist() == [1]


def test_ends_after_the_cutoff_are_open_at_it():
    out = derive_records_at_cutoff(_frames(), CUT)
    ex = out["exposure"].set_index("id")
    assert ex.loc[1, "end"] == T("2020-06-30") and ex.loc[1, "reason"] == "dose_change"  # ends on the day: kept
    assert pd.isna(ex.loc[2, "end"]) and ex.loc[2, "end_dtc"] is None and ex.loc[2, "reason"] is None
    assert not ex.loc[2, "discontinued"]
    ae = out["ae"].set_index("id")
    assert pd.isna(ae.loc[1, "end"]) and ae.loc[1, "outcome"] is None
    fu = out["followup"].iloc[0]
    assert pd.isna(fu["death_date"]) and fu["death_cause"] is None and fu["vital_status"] == "alive"


def test_no_cutoff_and_input_untouched():
    frames = _frames()
    assert derive_records_at_cutoff(frames, None) is frames
    derive_records_at_cutoff(frames, CUT)
    assert frames["exposure"]["reason"].tolist()[1] == "complete_response"
    assert len(frames["patient"]) == 3
