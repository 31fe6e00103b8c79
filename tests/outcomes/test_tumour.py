"""Tests for tkitrack.outcomes.tumour: % change from the flagged (or first) baseline, best change to first PD."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.outcomes.tumour import derive_best_percent_change, derive_percent_change
from tkitrack.schemas.errors import InputError


@pytest.fixture
def assessment() -> pd.DataFrame:
    """P1: screening scan (40 mm) before the flagged baseline (50 mm), PR at 30, PD at 60, a later 10 mm after PD.
    P2: no flag, the first scan is baseline. P3: baseline only."""
    return pd.DataFrame(
        {
            "patient_id": ["P1"] * 5 + ["P2"] * 2 + ["P3"],
            "date": pd.to_datetime(
                [
                    "2020-01-01",
                    "2020-01-10",
                    "2020-03-10",
                    "2020-05-10",
                    "2020-07-10",
                    "2021-01-01",
                    "2021-02-01",
                    "2021-01-01",
                ]
            ),
            "sum_diameters": [40.0, 50.0, 30.0, 60.0, 10.0, 20.0, 25.0, 33.0],
            "baseline": [False, True, False, False, False, False, False, True],
            "response": [None, None, "PR", "PD", "CR", None, "SD", None],
        }
    )


def test_percent_change(assessment):
    out = derive_percent_change(assessment)
    p1 = out.loc[out["patient_id"] == "P1"]
    assert p1["pct_change"].tolist() == [0.0, -40.0, 20.0, -80.0]  # the screening scan is before baseline
    assert p1["day"].tolist() == [0, 60, 121, 182] and p1["is_baseline"].tolist() == [True, False, False, False]
    assert out.loc[out["patient_id"] == "P2", "pct_change"].tolist() == [0.0, 25.0]


def test_best_change_up_to_first_pd(assessment):
    best = derive_best_percent_change(assessment).set_index("patient_id")
    assert best.index.tolist() == ["P1", "P2"]  # P3 has no post-baseline scan
    assert best.loc["P1", "best_pct_change"] == -40.0  # -80 after PD does not count
    assert best.loc["P1", "best_response"] == "PR" and best.loc["P2", "best_response"] == "SD"
    assert best.loc["P1", "n_assessments"] == 2 and best.loc["P1", "best_day"] == 60


def test_missing_column(assessment):
    with pytest.raises(InputError, match="sum_diameters"):
        derive_percent_change(assessment.drop(columns="sum_diameters"))


def test_best_change_and_unmeasured_from_a_change_already_derived(assessment):
    from tkitrack.outcomes.tumour import derive_unmeasured

    change = derive_percent_change(assessment)
    best = derive_best_percent_change(assessment)
    pd.testing.assert_frame_equal(derive_best_percent_change(assessment, change=change), best, check_exact=True)
    patients = [*assessment["patient_id"].unique(), "NOBODY"]
    pd.testing.assert_frame_equal(derive_unmeasured(assessment, patients, best=best),
                                  derive_unmeasured(assessment, patients), check_exact=True)  # fmt: skip
