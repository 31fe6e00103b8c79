"""Tests for tkitrack.dashboards.tables_stopping: the landmark table and the stopped listing in reader form."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tkitrack.dashboards.tables_stopping import table_landmarks, table_stopped


def test_landmark_table(raw_artefacts):
    marks = pd.DataFrame(
        {
            "landmark_day": [90, 90],
            "status": ["stopped", "on_drug"],
            "n": [2, 15],
            "events": [0, 3],
            "n_not_at_risk": [1, 1],
            "median_text": ["not reached (90% CI not estimable)", "not reached (90% CI 829-not reached)"],
            "warning": [True, True],
            "warning_text": ["only 2 patients (< 10)", "only 3 events (< 5)"],
        }
    )
    t = table_landmarks(marks, conf=0.9)
    frame = t.to_frame()
    assert list(frame.columns) == ["Days after CR", "Status at the landmark", "Patients", "Relapses or deaths",
                                   "Left out (relapsed, died or out of follow-up by then)", "Median, days (90% CI)",
                                   "Note"]  # fmt: skip
    assert frame.iloc[0].tolist()[:2] == ["90", "Stopped"] and frame.iloc[1, 1] == "On drug"
    assert frame.iloc[1, -1] == "Only 3 events (< 5)"
    assert "immortal time" in t.footnotes[0]
    assert raw_artefacts(frame.to_numpy().ravel(), list(frame.columns)) == []


def test_stopped_listing(raw_artefacts):
    stopped = pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "first_dose_date": pd.to_datetime(["2019-01-01", "2019-02-01"]),
            "cr_date": pd.to_datetime(["2019-05-01", "2019-06-01"]),
            "stop_date": pd.to_datetime(["2019-07-01", "2019-08-01"]),
            "stop_reason": ["complete_response", "toxicity"],
            "days_on_drug": [182, 200],
            "days_in_cr_before_stop": [61, 61],
            "days_off_drug_followup": [1461.0, 300.0],
            "relapse": [False, True],
            "days_stop_to_relapse": [np.nan, 120.0],
            "relapse_kind": [None, "progression (assessment)"],
            "restart_date": pd.to_datetime([None, None]),
            "vital_status": ["alive", "alive"],
        }
    )
    frame = table_stopped(stopped).to_frame()
    assert frame.columns[0] == "Patient" and "Reason for stopping" in frame.columns
    assert frame.iloc[0].tolist() == ["P1", "2019-05-01", "2019-07-01", "Complete response (elective stop)", "182",
                                      "61", "1461", "No", "", "", "Alive"]  # fmt: skip
    assert frame.iloc[1]["Relapse"] == "Yes" and frame.iloc[1]["Days from stop to relapse"] == "120"
    assert raw_artefacts(frame.to_numpy().ravel(), list(frame.columns)) == []
