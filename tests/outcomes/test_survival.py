"""Tests for tkitrack.outcomes.survival: hand-worked Kaplan-Meier cases and R's results on the NCCTG lung data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tkitrack.outcomes.survival import (
    compare_groups,
    compute_km,
    compute_median_followup,
    compute_risk_table,
    fit_cox,
    summarise_km,
    summarise_survival,
)
from tkitrack.schemas.errors import InputError

LUNG = Path(__file__).parents[1] / "data" / "lung" / "lung.csv"
Z = 1.959963984540054  # qnorm(0.975)

# Six patients, worked by hand:
# time   n_risk  d  c   S                       sum d/(n(n-d))           (Greenwood, for log S)
#  2       6     1  0   5/6      = 0.8333       1/30                = 0.03333
#  3       5     1  1   5/6*4/5  = 0.6667       1/30+1/20           = 0.08333
#  5       3     1  0   4/6*2/3  = 0.4444       0.08333+1/6         = 0.25
#  7       2     0  1   0.4444                  0.25
#  9       1     1  0   0                       (undefined)
SIX_TIME = [2, 3, 3, 5, 7, 9]
SIX_EVENT = [1, 1, 0, 1, 0, 1]


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    df = pd.read_csv(LUNG)
    return df.assign(dead=(df["status"] == 2).astype(int))


def test_km_hand_worked_table():
    km = compute_km(SIX_TIME, SIX_EVENT)
    expected = pd.DataFrame(
        {
            "time": [0.0, 2, 3, 5, 7, 9],
            "n_risk": [6, 6, 5, 3, 2, 1],
            "n_event": [0, 1, 1, 1, 0, 1],
            "n_censor": [0, 0, 1, 0, 1, 0],
            "survival": [1, 5 / 6, 4 / 6, 4 / 9, 4 / 9, 0.0],
        }
    )
    pd.testing.assert_frame_equal(km[expected.columns], expected, check_dtype=False)


@pytest.mark.parametrize(
    ("conf_type", "row", "lower", "upper"),
    [
        # log: S * exp(-+ z * se), se = sqrt(0.25) = 0.5 at t = 5; upper capped at 1
        pytest.param("log", 3, 4 / 9 * math.exp(-Z * 0.5), 1.0, id="log-t5"),
        # log at t = 3: se = sqrt(1/30 + 1/20)
        pytest.param("log", 2, 4 / 6 * math.exp(-Z * math.sqrt(1 / 12)), 1.0, id="log-t3"),
        # plain at t = 3: S -+ z * S * se, upper capped at 1
        pytest.param("plain", 2, 4 / 6 - Z * 4 / 6 * math.sqrt(1 / 12), 1.0, id="plain-t3"),
        # log-log at t = 5: exp(-exp(log(-log S) +- z * se / |log S|))
        pytest.param(
            "log-log",
            3,
            math.exp(-math.exp(math.log(-math.log(4 / 9)) + Z * 0.5 / -math.log(4 / 9))),
            math.exp(-math.exp(math.log(-math.log(4 / 9)) - Z * 0.5 / -math.log(4 / 9))),
            id="loglog-t5",
        ),
    ],
)
def test_km_hand_worked_bounds(conf_type, row, lower, upper):
    km = compute_km(SIX_TIME, SIX_EVENT, conf_type=conf_type)
    assert km.loc[row, "lower"] == pytest.approx(lower, abs=1e-12)
    assert km.loc[row, "upper"] == pytest.approx(upper, abs=1e-12)


def test_km_bounds_undefined_once_survival_is_zero():
    km = compute_km(SIX_TIME, SIX_EVENT)
    assert np.isnan(km.loc[5, "lower"]) and np.isnan(km.loc[5, "upper"])


def test_km_hand_worked_median():
    # S first <= 0.5 at t = 5; the lower curve drops below 0.5 at t = 3 (0.6667 * exp(-z * 0.2887) = 0.379);
    # the upper curve never does (1 up to t = 7, undefined at 9): upper limit not reached
    s = summarise_km(SIX_TIME, SIX_EVENT)
    assert (s.n, s.events, s.median, s.median_lower) == (6, 4, 5.0, 3.0)
    assert np.isnan(s.median_upper) and s.median_reached
    assert s.median_text == "5 (95% CI 3-not reached)"


@pytest.mark.parametrize(
    ("time", "event", "rule", "median"),
    [
        # S = 0.75, 0.5, 0.25, 0: flat at exactly 0.5 on [2, 3). R survfit prints (2 + 3) / 2 = 2.5
        pytest.param([1, 2, 3, 4], [1, 1, 1, 1], "midpoint", 2.5, id="flat-midpoint"),
        pytest.param([1, 2, 3, 4], [1, 1, 1, 1], "first", 2.0, id="flat-first"),
        # 3 deaths of 6 then 3 censored: flat at 0.5 to the end. R: (3 + last time 6) / 2 = 4.5
        pytest.param([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 0, 0], "midpoint", 4.5, id="flat-to-end-midpoint"),
        pytest.param([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 0, 0], "first", 3.0, id="flat-to-end-first"),
        # no flat stretch: both rules agree (S = 0.8, 0.6, 0.4 ...)
        pytest.param([1, 2, 3, 4, 5], [1, 1, 1, 1, 1], "midpoint", 3.0, id="no-flat"),
    ],
)
def test_median_rule(time, event, rule, median):
    assert summarise_km(time, event, median_rule=rule).median == median


def test_median_not_reached():
    s = summarise_km([1, 2, 3, 4], [1, 0, 0, 0])
    assert not s.median_reached
    assert s.median_text == "not reached (95% CI 1-not reached)"


# ---- NCCTG lung data against R survival (tolerance: R prints whole days, so exact; probabilities 5e-4) ----


@pytest.mark.parametrize(
    ("conf_type", "median", "lower", "upper"),
    [
        # R: survfit(Surv(time, status) ~ 1, data = lung)  -> n 228, events 165, median 310, 285-363
        pytest.param("log", 310, 285, 363, id="R-log"),
        # R: survfit(Surv(time, status) ~ 1, data = lung, conf.type = "log-log") -> 310, 284-361
        pytest.param("log-log", 310, 284, 361, id="R-log-log"),
    ],
)
def test_lung_overall_median(lung, conf_type, median, lower, upper):
    s = summarise_km(lung["time"], lung["dead"], conf_type=conf_type)
    assert (s.n, s.events) == (228, 165)
    assert (s.median, s.median_lower, s.median_upper) == (median, lower, upper)


def test_lung_one_year_landmark(lung):
    # R: summary(survfit(Surv(time, status) ~ 1, data = lung), times = 365.25)
    #    n.risk 65, survival 0.409, lower 95% CI 0.345, upper 95% CI 0.486
    lm = summarise_km(lung["time"], lung["dead"], landmarks=(365.25,)).landmarks.iloc[0]
    assert lm["n_risk"] == 65
    assert lm[["survival", "lower", "upper"]].tolist() == pytest.approx([0.409, 0.345, 0.486], abs=5e-4)
    assert compute_risk_table(lung["time"], [365.25])[0] == 65


def test_lung_by_sex(lung):
    # R: survfit(Surv(time, status) ~ sex, data = lung)
    #    sex=1  n 138  events 112  median 270  0.95LCL 212  0.95UCL 310
    #    sex=2  n  90  events  53  median 426  0.95LCL 348  0.95UCL 550
    out = summarise_survival(lung, "time", "status", "sex", event_codes=(2,), landmarks=(365.25,))
    expected = pd.DataFrame(
        {
            "group": [1, 2],
            "n": [138, 90],
            "events": [112, 53],
            "median": [270.0, 426.0],
            "lower": [212.0, 348.0],
            "upper": [310.0, 550.0],
            "median_text": ["270 (95% CI 212-310)", "426 (95% CI 348-550)"],
        }
    )
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False)
    assert "survival_365.25_lower" in out.columns


def test_lung_logrank_by_sex(lung):
    # R: survdiff(Surv(time, status) ~ sex, data = lung)
    #    Chisq = 10.3 on 1 degrees of freedom, p = 0.001; observed 112 / 53, expected 91.6 / 73.4
    res = compare_groups(lung["time"], lung["dead"], lung["sex"])
    assert res.chisq == pytest.approx(10.33, abs=0.005)
    assert res.df == 1
    assert res.p == pytest.approx(0.0013, abs=5e-5)
    assert res.table["events"].tolist() == [112, 53]
    assert res.table["expected"].tolist() == pytest.approx([91.6, 73.4], abs=0.05)
    assert res.label == "exploratory"


def test_lung_cox_sex(lung):
    # R: coxph(Surv(time, status) ~ sex, data = lung)   (ties = "efron", R's default)
    #    coef -0.5310, exp(coef) 0.588, se 0.1672, lower .95 0.4237, upper .95 0.8160, p 0.00149
    row = fit_cox(lung, "time", "dead", ["sex"]).iloc[0]
    assert row["covariate"] == "sex"
    assert row["coef"] == pytest.approx(-0.5310, abs=5e-4)
    assert row["hazard_ratio"] == pytest.approx(0.588, abs=5e-4)
    assert (row["lower"], row["upper"]) == pytest.approx((0.424, 0.816), abs=5e-4)
    assert row["p"] == pytest.approx(0.00149, abs=1e-5)
    assert (row["n"], row["events"]) == (228, 165)


def test_logrank_hand_worked():
    # A dies at 1 and 3, B at 2 and 4. Per death time: E_A = n_A d / n, V = d (n - d) n_A n_B / (n^2 (n - 1))
    # t1: E 2/4, V 1/4; t2: E 1/3, V 2/9; t3: E 1/2, V 1/4; t4: E 0, V 0
    # O - E = 2 - 4/3 = 2/3; V = 13/18; chisq = (4/9) / (13/18) = 8/13
    res = compare_groups([1, 3, 2, 4], [1, 1, 1, 1], ["A", "A", "B", "B"])
    assert res.chisq == pytest.approx(8 / 13, abs=1e-12)
    assert res.table["expected"].tolist() == pytest.approx([4 / 3, 8 / 3])


def test_risk_table_hand():
    assert compute_risk_table(SIX_TIME, [0, 3, 3.5, 9, 10]).tolist() == [6, 5, 3, 1, 0]


def test_median_followup_reverse_km():
    # Reverse KM of the six: censorings at 3 (n 5) and 7 (n 2) are its events.
    # S_rev = 1 - 1/5 = 0.8 after 3, 0.8 * (1 - 1/2) = 0.4 after 7 -> median follow-up 7
    assert compute_median_followup(SIX_TIME, SIX_EVENT).median == 7.0


def test_landmark_beyond_follow_up_is_nan():
    lm = summarise_km(SIX_TIME, SIX_EVENT, landmarks=(4, 20)).landmarks
    assert lm.loc[0, "survival"] == pytest.approx(4 / 6)
    assert np.isnan(lm.loc[1, "survival"])


@pytest.mark.parametrize(
    ("time", "event", "kwargs", "match"),
    [
        pytest.param([1, 2], [1, 2], {}, "event must be 0/1", id="coded-status"),
        pytest.param([1, -2], [1, 0], {}, "time must be >= 0", id="negative-time"),
        pytest.param([1, 2], [1], {}, "differ in length", id="length"),
        pytest.param([1, 2], [1, 0], {"conf_type": "arcsin"}, "conf_type", id="conf-type"),
        pytest.param([1, 2], [1, 0], {"median_rule": "last"}, "median_rule", id="median-rule"),
    ],
)
def test_bad_input(time, event, kwargs, match):
    with pytest.raises(InputError, match=match):
        summarise_km(time, event, **kwargs)


def test_cox_rejects_text_covariate(lung):
    with pytest.raises(InputError, match="not numeric"):
        fit_cox(lung.assign(sex=lung["sex"].map({1: "M", 2: "F"})), "time", "dead", ["sex"])


def test_cox_complete_separation_is_reported():
    # every death has sex = 1 and no censored patient does: lifelines cannot estimate the hazard ratio
    df = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6], "dead": [1, 1, 1, 0, 0, 0], "sex": [1, 1, 1, 0, 0, 0]})
    with pytest.raises(InputError, match="did not converge"):
        fit_cox(df, "time", "dead", ["sex"])
