"""Tests for tkitrack.outcomes.rmst: hand-worked areas and R survival's rmean / se(rmean)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes.rmst import compute_rmst
from tkitrack.schemas.errors import InputError

DATA = Path(__file__).parents[1] / "data"
R_REF = DATA / "r_reference"
Z = 1.959963984540054


def test_hand_worked_area_and_se():
    # times 2 (death), 4 (death), 6 (censored); S = 1 on [0, 2), 2/3 on [2, 4), 1/3 on [4, 6]
    # RMST(6) = 2 + 2 * 2/3 + 2 * 1/3 = 4
    # A_1 (area after 2) = 4/3 + 2/3 = 2, d/(n(n-d)) = 1/(3*2); A_2 (after 4) = 2/3, 1/(2*1)
    # Var = 4/6 + (4/9)/2 = 8/9
    r = compute_rmst([2, 4, 6], [1, 1, 0], 6)
    assert r.estimate == pytest.approx(4.0) and r.se == pytest.approx(math.sqrt(8 / 9))
    assert (r.lower, r.upper) == pytest.approx((4 - Z * math.sqrt(8 / 9), min(6.0, 4 + Z * math.sqrt(8 / 9))))
    assert r.note == ""


def test_event_on_the_horizon_counts_no_area_after_it():
    # the death at 4 is on the horizon: the area up to 4 is 2 + 2 * 2/3; its A_j is 0 so it adds no variance
    r = compute_rmst([2, 4, 6], [1, 1, 0], 4)
    assert r.estimate == pytest.approx(2 + 4 / 3)
    assert r.se == pytest.approx(math.sqrt((4 / 3) ** 2 / 6))


def test_horizon_beyond_follow_up_is_said():
    r = compute_rmst([2, 4, 6], [1, 1, 0], 10)
    assert r.estimate == pytest.approx(4 + 4 / 3) and r.note.startswith("horizon beyond the last follow-up")


@pytest.mark.parametrize("horizon", [pytest.param(365, id="365"), pytest.param(730, id="730")])
@pytest.mark.parametrize("sex", [pytest.param(0, id="all"), pytest.param(1, id="male"), pytest.param(2, id="female")])
def test_lung_matches_r(sex, horizon):
    # R 4.2.2, survival 3.5-3 (tests/data/r_reference/km.R):
    #   summary(survfit(Surv(time, dead) ~ 1, data = d), rmean = tau)$table[c("rmean", "se(rmean)")]
    #   all patients, tau 365: 263.2219 (se 7.798859)
    ref = pd.read_csv(R_REF / "km_lung_r.csv").query("what == 'rmst' and sex == @sex and p == @horizon").iloc[0]
    lung = pd.read_csv(DATA / "lung" / "lung.csv")
    d = lung if sex == 0 else lung[lung["sex"] == sex]
    r = compute_rmst(d["time"], d["status"] == 2, horizon)
    assert r.estimate == pytest.approx(ref["value"], rel=1e-12) and r.se == pytest.approx(ref["lower"], rel=1e-12)


def test_small_series_match_r():
    # R: summary(survfit(Surv(time, event) ~ 1, d), rmean = 300)$table on 12 small series, some ending in a death
    data = pd.read_csv(R_REF / "km_small_input.csv")
    ref = pd.read_csv(R_REF / "km_small_r.csv").set_index("series")
    for series, d in data.groupby("series"):
        r = compute_rmst(d["time"], d["event"], 300)
        assert r.estimate == pytest.approx(ref.loc[series, "rmst_300"], rel=1e-12)
        assert r.se == pytest.approx(ref.loc[series, "rmst_300_se"], rel=1e-12)


def test_text_and_bad_horizon():
    assert compute_rmst([2, 4, 6], [1, 1, 0], 6, conf=0.9).text.startswith("4 (90% CI 2-")
    with pytest.raises(InputError, match="positive number of days"):
        compute_rmst([1, 2], [1, 0], 0)
