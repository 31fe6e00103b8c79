"""Tests for tkitrack.schemas.dosing: Mosteller body surface area and mg/m2/day."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tkitrack.schemas.dosing import FREQUENCY_PER_DAY, compute_bsa_mosteller, compute_mg_m2_day


@pytest.mark.parametrize(
    ("height", "weight", "expected"),
    [
        # Mosteller (NEJM 1987): BSA = sqrt(height_cm * weight_kg / 3600), worked by hand.
        pytest.param(120.0, 22.0, math.sqrt(2640 / 3600), id="six-year-old"),  # 0.8563
        pytest.param(180.0, 80.0, 2.0, id="adult-exact-2"),  # 14400 / 3600 = 4
        pytest.param(60.0, 6.0, 0.3162278, id="infant"),  # sqrt(0.1)
    ],
)
def test_compute_bsa_mosteller_by_hand(height, weight, expected):
    assert float(compute_bsa_mosteller(height, weight)) == pytest.approx(expected, rel=1e-6)


def test_compute_bsa_mosteller_is_vectorised_and_keeps_missing():
    out = compute_bsa_mosteller([120.0, np.nan, 180.0], [22.0, 20.0, 80.0])
    assert out[0] == pytest.approx(0.8563, abs=1e-4)
    assert np.isnan(out[1])
    assert out[2] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("dose", "unit", "frequency", "bsa", "weight", "expected"),
    [
        # COG ADVL0912: crizotinib 280 mg/m2 BID = 560 mg/m2/day whatever the BSA
        pytest.param(280, "mg/m2", "BID", 0.856, None, 560.0, id="crizotinib-280-mg-m2-bid"),
        # the seeds' 6-year-old: crizotinib 200 mg daily at BSA 0.856 -> 200 / 0.856 = 233.64
        pytest.param(200, "mg", "QD", 0.856, None, 233.6449, id="200-mg-qd-bsa-0.856"),
        pytest.param(10, "mg/kg", "BID", 0.856, 22.0, 10 * 2 * 22 / 0.856, id="mg-per-kg-bid"),
        pytest.param(100, "mg", "TID", 1.0, None, 300.0, id="tid"),
        pytest.param(70, "mg", "QW", 1.0, None, 10.0, id="weekly"),
        pytest.param(100, "mg", "QOD", 2.0, None, 25.0, id="every-other-day"),
        pytest.param(280, "MG/M2", "bid", 1.0, None, 560.0, id="case-insensitive"),
    ],
)
def test_compute_mg_m2_day(dose, unit, frequency, bsa, weight, expected):
    out = compute_mg_m2_day([dose], [unit], [frequency], bsa, weight)
    assert out.shape == (1,)
    assert out[0] == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(
    ("unit", "frequency", "weight"),
    [
        pytest.param("mg", "ONCE", None, id="single-dose"),
        pytest.param("mg", "Q6H", None, id="unknown-frequency"),
        pytest.param("g", "QD", None, id="unknown-unit"),
        pytest.param("mg/kg", "QD", None, id="mg-per-kg-without-weight"),
    ],
)
def test_compute_mg_m2_day_is_nan_when_it_cannot_be_derived(unit, frequency, weight):
    assert np.isnan(compute_mg_m2_day([100], [unit], [frequency], 1.0, weight)[0])


def test_compute_mg_m2_day_vectorised_per_row_bsa():
    out = compute_mg_m2_day([200, 280, 200], ["mg", "mg/m2", "mg"], ["QD", "BID", "BID"], [0.856, 1.2, 2.0])
    np.testing.assert_allclose(out, [233.6449, 560.0, 200.0], rtol=1e-5)


def test_frequency_per_day_table():
    assert FREQUENCY_PER_DAY["QD"] == 1.0
    assert FREQUENCY_PER_DAY["BID"] == 2.0
    assert FREQUENCY_PER_DAY["Q3W"] == pytest.approx(1 / 21)
    assert np.isnan(FREQUENCY_PER_DAY["ONCE"])


def test_a_missing_unit_or_frequency_gives_nan_not_an_error():
    """Issue 17.2: a blank exposure unit crashed validation (TypeError); it is FLD001's query, not a dose."""
    got = compute_mg_m2_day(pd.Series([200.0, 200.0, 200.0]), pd.Series(["mg", pd.NA, None], dtype=object),
                            pd.Series([pd.NA, "QD", "QD"], dtype=object), 1.0)  # fmt: skip
    assert np.isnan(got).all()
