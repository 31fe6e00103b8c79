"""Tests for tkitrack.outcomes.competing: Aalen-Johansen cumulative incidence and Gray's test, hand-worked, by
property, and against R cmprsk 2.2-11 (R 4.2.2; tests/data/r_reference/cuminc.R writes the reference CSVs)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tkitrack.outcomes.competing import compare_cif, compute_cif
from tkitrack.outcomes.survival import compute_km
from tkitrack.schemas.errors import InputError

R_REF = Path(__file__).parents[1] / "data" / "r_reference"

# Four patients worked by hand: relapse at 1, death (competing) at 2, relapse at 3, censored at 4.
# all-cause KM before each time: S(1-) = 1, S(2-) = 3/4, S(3-) = 3/4 * 2/3 = 1/2, S(4-) = 1/4
# CIF(1) = 1 * 1/4 = 0.25; CIF(3) = 0.25 + 1/2 * 1/2 = 0.5
# delta method: Var CIF(1) = S(1-)^2 d1 (n - d1) / n^3 = 3/64
#   Var CIF(3) = (0.25^2 / 12 + 3/64 - 2 * 0.25 / 16) [j = 1] + 0.25^2 / 6 [j = 2] + 0.25 / 8 [j = 3] = 1/16
# Gray (cmprsk): Var CIF(1) = S(1-)^2 d1 / n^2 = 1/16;
#   Var CIF(3) = 1/16 (1 - 0.25 / (3/4))^2 [j = 1] + (9/16) / 9 (0.25 / (1/2))^2 [j = 2, competing] + 1/16 [j = 3]
#              = 1/36 + 1/64 + 1/16 = 61/576
HAND_TIME, HAND_STATUS = [1, 2, 3, 4], [1, 2, 1, 0]


def test_hand_worked_cif_gray_variance():
    out = compute_cif(HAND_TIME, HAND_STATUS)
    assert out["cif"].tolist() == [0, 0.25, 0.25, 0.5, 0.5]
    assert out["se"].tolist() == pytest.approx([0, 0.25, 0.25, math.sqrt(61 / 576), math.sqrt(61 / 576)])


def test_hand_worked_cif():
    out = compute_cif(HAND_TIME, HAND_STATUS, variance="delta")
    expected = pd.DataFrame(
        {
            "time": [0.0, 1, 2, 3, 4],
            "n_risk": [4, 4, 3, 2, 1],
            "n_event": [0, 1, 0, 1, 0],
            "n_competing": [0, 0, 1, 0, 0],
            "n_censor": [0, 0, 0, 0, 1],
            "cif": [0, 0.25, 0.25, 0.5, 0.5],
            "se": [0, math.sqrt(3 / 64), math.sqrt(3 / 64), 0.25, 0.25],
        }
    )
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False)


def test_hand_worked_loglog_bounds():
    # log-log interval at t = 3: F = 0.5, se = 0.25 (delta); g = log(-log F), se_g = se / (F |log F|)
    g, se_g = math.log(math.log(2)), 0.25 / (0.5 * math.log(2))
    z = 1.959963984540054
    row = compute_cif(HAND_TIME, HAND_STATUS, variance="delta").iloc[3]
    assert row["lower"] == pytest.approx(math.exp(-math.exp(g + z * se_g)), abs=1e-12)
    assert row["upper"] == pytest.approx(math.exp(-math.exp(g - z * se_g)), abs=1e-12)


def test_hand_worked_log_bounds_and_confidence_level():
    # log interval at t = 3: F exp(-+ z se / F) with se = sqrt(61/576) (Gray), z = qnorm(0.95) for 90%
    z, se = 1.6448536269514722, math.sqrt(61 / 576)
    row = compute_cif(HAND_TIME, HAND_STATUS, conf_type="log", conf=0.9).iloc[3]
    assert row["lower"] == pytest.approx(0.5 * math.exp(-z * se / 0.5), abs=1e-12)
    assert row["upper"] == pytest.approx(min(1.0, 0.5 * math.exp(z * se / 0.5)), abs=1e-12)


def test_estimates_and_variances_match_cmprsk():
    # R: tp <- timepoints(cuminc(time, status, group, cencode = 0), c(10, 30, 60, 120)); tp$est, tp$var
    # on 8 series of 15-60 patients (whole days, so ties), 2 or 3 groups, both causes (cuminc_*.csv)
    data = pd.read_csv(R_REF / "cuminc_input.csv")
    ref = pd.read_csv(R_REF / "cuminc_est_r.csv")
    checked = 0
    for (series, group, cause), want in ref.groupby(["series", "group", "cause"]):
        d = data[(data["series"] == series) & (data["group"] == group)]
        cif = compute_cif(d["time"], d["status"], event=cause, competing=(3 - cause,))
        row = np.searchsorted(cif["time"].to_numpy(), want["time"].to_numpy(), side="right") - 1
        defined = want["est"].notna().to_numpy()  # cmprsk gives NA beyond the last follow-up time
        assert (want["time"].to_numpy()[~defined] > d["time"].max()).all()
        assert cif["cif"].to_numpy()[row][defined] == pytest.approx(want["est"].to_numpy()[defined], abs=1e-12)
        var = cif["se"].to_numpy()[row][defined] ** 2
        assert var == pytest.approx(want["var"].to_numpy()[defined], rel=1e-9, abs=1e-15)
        checked += int(defined.sum())
    assert checked > 150


def test_gray_test_matches_cmprsk():
    # R: cuminc(time, status, group, cencode = 0)$Tests -> stat, pv, df for causes 1 and 2, 2 or 3 groups
    data = pd.read_csv(R_REF / "cuminc_input.csv")
    ref = pd.read_csv(R_REF / "cuminc_test_r.csv")
    for r in ref.itertuples():
        d = data[data["series"] == r.series]
        res = compare_cif(d["time"], d["status"], d["group"], event=r.cause, competing=(3 - r.cause,))
        assert res.df == r.df
        assert (res.stat, res.p) == pytest.approx((r.stat, r.p), rel=1e-9), (r.series, r.cause)


def test_gray_test_small_case_and_no_events():
    # R 4.2.2, cmprsk 2.2-11: cuminc(c(1, 3, 2, 4), c(1, 1, 1, 1), c("a", "a", "b", "b"))$Tests
    #   -> stat 0.6129901, pv 0.4336642, df 1 (close to, but not, the log-rank 8/13: Gray's variance differs)
    res = compare_cif([1, 3, 2, 4], [1, 1, 1, 1], ["a", "a", "b", "b"])
    assert (res.stat, res.p, res.df) == pytest.approx((0.6129901, 0.4336642, 1), abs=5e-8)
    assert res.text == "Gray's test 0.61 on 1 df, p = 0.43"
    none = compare_cif([1, 2, 3, 4], [0, 2, 0, 2], ["a", "a", "b", "b"])
    assert none.df == 0 and np.isnan(none.p) and none.text == "not available: no events of interest"
    assert none.table[["events", "competing"]].to_numpy().tolist() == [[0, 1], [0, 1]]


def test_differs_from_one_minus_km():
    # 1 - KM treats the death at 2 as censored: 1 - (3/4)(1/2) = 0.625 > Aalen-Johansen 0.5
    km = compute_km(HAND_TIME, [s == 1 for s in HAND_STATUS])
    one_minus_km = 1 - km["survival"].iloc[-1]
    assert one_minus_km == pytest.approx(0.625)
    assert compute_cif(HAND_TIME, HAND_STATUS)["cif"].iloc[-1] == pytest.approx(0.5)


def test_no_competing_events_equals_one_minus_km():
    time, status = [1, 2, 3, 4, 5], [1, 0, 1, 1, 0]
    km = compute_km(time, [s == 1 for s in status])
    assert compute_cif(time, status)["cif"].to_numpy() == pytest.approx(1 - km["survival"].to_numpy())


@pytest.mark.parametrize("conf_type", [pytest.param(c, id=c) for c in ("log-log", "log", "plain")])
@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed{s}") for s in (1, 2, 3)])
def test_bounds_in_order_and_monotone(seed, conf_type):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 40, 60)  # ties on purpose
    status = rng.choice([0, 1, 2], 60, p=[0.3, 0.4, 0.3])
    out = compute_cif(time, status, conf_type=conf_type)
    assert (out["lower"] <= out["cif"] + 1e-12).all() and (out["cif"] <= out["upper"] + 1e-12).all()
    assert ((out["lower"] >= 0) & (out["upper"] <= 1)).all()
    assert (np.diff(out["cif"]) >= -1e-12).all()
    # the two cumulative incidences and the all-cause KM add up to 1 at every time
    other = compute_cif(time, status, event=2, competing=(1,))
    km = compute_km(time, status > 0)
    assert (out["cif"] + other["cif"] + km["survival"]).to_numpy() == pytest.approx(1.0)


def test_matches_lifelines_aalen_johansen():
    # an independent implementation: lifelines AalenJohansenFitter (the delta-method variance), no tied times
    from lifelines import AalenJohansenFitter

    rng = np.random.default_rng(7)
    time = np.round(rng.exponential(10, 50), 4)
    status = rng.choice([0, 1, 2], 50)
    aj = AalenJohansenFitter(calculate_variance=True).fit(time, status, event_of_interest=1)
    ours = compute_cif(time, status, variance="delta").set_index("time")
    theirs = aj.cumulative_density_.iloc[:, 0]
    assert ours["cif"].reindex(theirs.index).to_numpy() == pytest.approx(theirs.to_numpy())
    bounds = np.sort(aj.confidence_interval_.to_numpy(), axis=1)  # lifelines labels the two swapped
    defined = ~np.isnan(bounds).any(axis=1)  # lifelines leaves them undefined while the CIF is 0
    assert defined.sum() > 20
    mine = ours[["lower", "upper"]].reindex(theirs.index).to_numpy()
    assert mine[defined] == pytest.approx(bounds[defined], abs=1e-9)


@pytest.mark.parametrize(
    ("status", "kwargs", "match"),
    [
        pytest.param([1, 3, 0, 0], {}, "neither censored", id="unknown-code"),
        pytest.param([1, 2, 0, 0], {"competing": (1,)}, "also listed", id="event-is-competing"),
        pytest.param([1, 2, 0, 0], {"conf_type": "arcsin"}, "conf_type", id="conf-type"),
        pytest.param([1, 2, 0, 0], {"variance": "aalen"}, "variance must be", id="variance"),
    ],
)
def test_bad_input(status, kwargs, match):
    with pytest.raises(InputError, match=match):
        compute_cif([1, 2, 3, 4], status, **kwargs)
