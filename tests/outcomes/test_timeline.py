"""outcomes/timeline.py: one patient's history in date order, days from diagnosis."""

from __future__ import annotations

import pandas as pd

from tkitrack.outcomes.timeline import TIMELINE_COLUMNS, derive_timeline

T = pd.Timestamp


def _frames() -> dict[str, pd.DataFrame]:
    return {
        "patient": pd.DataFrame({"patient_id": ["P1", "P2"], "diagnosis_date": [T("2019-01-10"), T("2020-01-01")],
                                 "diagnosis_date_dtc": ["2019-01-10", "2020"], "histology": ["IMT", "IMT"],
                                 "primary_site": ["mesentery", None]}),
        "exposure": pd.DataFrame({"id": [1, 2], "patient_id": ["P1", "P1"], "drug": ["crizotinib"] * 2,
                                  "dose": [200.0, 150.0], "unit": ["mg"] * 2, "frequency": ["QD"] * 2,
                                  "start": [T("2019-02-01"), T("2019-05-01")], "start_dtc": ["2019-02-01", "2019-05"],
                                  "end": [T("2019-04-30"), pd.NaT], "end_dtc": ["2019-04-30", None],
                                  "reason": ["toxicity", None]}),
        "ae": pd.DataFrame({"id": [7], "patient_id": ["P1"], "term": ["Gait disturbance"], "grade": [2],
                            "start": [T("2019-04-20")], "start_dtc": ["2019-04-20"], "end": [pd.NaT],
                            "end_dtc": [None], "serious": [False], "outcome": [None]}),
    }  # fmt: skip


def test_events_in_date_order_with_days_from_diagnosis():
    t = derive_timeline(_frames(), "P1")
    assert list(t.columns) == TIMELINE_COLUMNS
    assert t[["day", "kind", "detail"]].values.tolist() == [
        [0, "diagnosis", "IMT mesentery"],
        [22, "start", "crizotinib 200 mg QD"],
        [100, "AE onset", "Gait disturbance grade 2"],
        [110, "stop", "crizotinib 200 mg QD stopped: toxicity"],
        [111, "start", "crizotinib 150 mg QD (ongoing)"],
    ]
    assert t["date_given"].tolist()[-1] == "2019-05"  # a partial date is shown as given


def test_other_patients_are_left_out_and_missing_records_are_fine():
    t = derive_timeline({"patient": _frames()["patient"]}, "P2")
    assert t[["patient_id", "kind", "date_given"]].values.tolist() == [["P2", "diagnosis", "2020"]]
    assert derive_timeline({}, "P9").empty
