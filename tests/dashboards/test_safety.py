"""Tests for tkitrack.dashboards.safety: worst-grade stacked bars and the one-patient timeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tkitrack.dashboards.safety import figure_ae_summary, figure_patient_timeline
from tkitrack.outcomes.swimmer import derive_swimmer_data
from tkitrack.schemas.errors import NotFoundError

T = pd.Timestamp


def test_ae_summary_stacks_worst_grade_per_term():
    incidence = pd.DataFrame(
        {
            "term": ["Gait disturbance", "Nausea", "Nausea", "Neutrophil count decreased"],
            "grade": [2, 1, 3, 4],
            "n_patients": [1, 3, 1, 2],
        }
    )
    fig = figure_ae_summary(incidence, n_total=14)
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["Grade 1", "Grade 2", "Grade 3", "Grade 4"]
    by_grade = {t.name: t for t in fig.data}
    assert list(by_grade["Grade 1"].y) == ["Nausea"] and list(by_grade["Grade 1"].x) == [3]
    assert list(by_grade["Grade 3"].x) == [1] and by_grade["Grade 3"].orientation == "h"
    assert list(fig.layout.yaxis.categoryarray) == ["Nausea", "Neutrophil count decreased", "Gait disturbance"]
    assert list(by_grade["Grade 4"].customdata) == [" (14%)"]
    assert len({t.marker.color for t in fig.data}) == 4
    assert fig.layout.xaxis.title.text == "Patients of 14"


def test_patient_timeline_rows_and_spans():
    patients = pd.DataFrame({"patient_id": ["P1"], "diagnosis_date": [T("2018-01-01")]})
    exposure = pd.DataFrame(
        {
            "patient_id": ["P1"],
            "drug": ["crizotinib"],
            "dose": [200],
            "unit": ["mg"],
            "frequency": ["QD"],
            "start": [T("2018-01-11")],
            "end": [T("2018-07-01")],
        }
    )
    assessment = pd.DataFrame({"patient_id": ["P1"], "date": [T("2018-05-01")], "response": ["CR"]})
    ae = pd.DataFrame(
        {
            "patient_id": ["P1", "P1"],
            "term": ["Gait disturbance", "Pain in extremity"],
            "grade": [2, 1],
            "start": [T("2018-06-01"), T("2018-06-05")],
            "end": [T("2018-07-20"), pd.NaT],
        }
    )
    followup = pd.DataFrame({"patient_id": ["P1"], "date": [T("2022-01-01")], "vital_status": ["alive"]})
    data = derive_swimmer_data(patients, exposure, assessment, None, None, followup, ae)
    fig = figure_patient_timeline(data, "P1")
    assert list(fig.layout.yaxis.ticktext) == [
        "crizotinib",
        "Response",
        "Disease / surgery",
        "AE: Gait disturbance",
        "AE: Pain in extremity",
    ]
    by_name = {t.name: t for t in fig.data}
    assert [v for v in by_name["crizotinib, starting dose"].x if np.isfinite(v)][::2] == [10, 182]
    gait = by_name["AE grade 2"]  # onset day 151, resolved day 200
    assert [v for v in gait.x if np.isfinite(v)] == [151, 200] and set(gait.y[:2]) == {3.0}
    pain = by_name["AE grade 1"]  # unresolved: drawn to the last known day (2022-01-01 = day 1461)
    assert [v for v in pain.x if np.isfinite(v)] == [155, 1461]
    assert list(by_name["Complete response (first)"].x) == [120]
    with pytest.raises(NotFoundError, match="P9"):
        figure_patient_timeline(data, "P9")
