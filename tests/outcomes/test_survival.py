"""Tests for tkitrack.outcomes.survival: hand-worked Kaplan-Meier cases and R's results on the NCCTG lung data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tkitrack.outcomes.survival import (
    compute_km,
    compute_median_followup,
    compute_risk_table,
    summarise_km,
    summarise_survival,
)
from tkitrack.schemas.errors import InputError

LUNG = Path(__file__).parents[1] / "data" / "lung" / "lung.csv"
R_REF = Path(__file__).parents[1] / "data" / "r_reference"
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
    # the upper curve stays at 1 up to t = 7 and is undefined at 9, where the last patient dies (R: NA):
    # the data cannot place the upper limit, so it is not estimable (it would be "not reached" only if the
    # curve were still defined at the end of follow-up)
    s = summarise_km(SIX_TIME, SIX_EVENT)
    assert (s.n, s.events, s.median, s.median_lower) == (6, 4, 5.0, 3.0)
    assert np.isnan(s.median_upper) and s.median_reached
    assert s.median_text == "5 (95% CI 3-not estimable)"


def test_one_patient_with_an_event_has_a_median_and_no_interval():
    # R 4.2.2, survival 3.5-3: survfit(Surv(5, 1) ~ 1) -> median 5, 0.95LCL NA, 0.95UCL NA
    s = summarise_km([5], [1])
    assert s.median == 5 and np.isnan(s.median_lower) and np.isnan(s.median_upper)
    assert s.median_text == "5 (95% CI not estimable)"


def test_no_events_median_not_reached_interval_not_estimable():
    # every patient censored: the curve stays at 1 and its band has no width
    s = summarise_km([10, 20, 30], [0, 0, 0])
    assert s.median_text == "not reached (95% CI not estimable)"


def test_curve_defined_to_the_end_says_not_reached():
    # the last patient is censored, so the upper curve is defined to the end and stays above 0.5
    s = summarise_km([1, 2, 3, 4], [1, 0, 0, 0])
    assert s.median_text == "not reached (95% CI 1-not reached)"


def test_zero_width_landmark_interval_is_not_estimable():
    # R: summary(survfit(Surv(t, e) ~ 1, data.frame(t = c(10, 20, 30, 400, 500), e = c(0, 0, 0, 1, 0))),
    #    times = 365) -> survival 1, std.err 0, lower 1, upper 1: a zero-width interval, which we do not print
    s = summarise_km([10, 20, 30, 400, 500], [0, 0, 0, 1, 0], landmarks=(365, 400, 9999))
    lm = s.landmarks
    assert lm["note"].tolist() == ["not estimable", "", "beyond follow-up"]
    assert s.landmark_text() == ["100% (95% CI not estimable)", "50% (95% CI 13-100%)", "beyond follow-up"]


def test_landmark_on_an_event_day_includes_the_event():
    # the survival at a landmark is the right-continuous step value: an event on the landmark day counts
    s = summarise_km([2, 3, 3, 5, 7, 9], [1, 1, 0, 1, 0, 1], landmarks=(2, 4.999, 5))
    assert s.landmarks["survival"].tolist() == pytest.approx([5 / 6, 4 / 6, 4 / 9])
    assert s.landmarks["n_risk"].tolist() == [6, 3, 3]


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


def test_risk_table_hand():
    assert compute_risk_table(SIX_TIME, [0, 3, 3.5, 9, 10]).tolist() == [6, 5, 3, 1, 0]


def test_median_followup_reverse_km():
    # Reverse KM of the six: censorings at 3 (n 5) and 7 (n 2) are its events.
    # S_rev = 1 - 1/5 = 0.8 after 3, 0.8 * (1 - 1/2) = 0.4 after 7 -> median follow-up 7
    assert compute_median_followup(SIX_TIME, SIX_EVENT).median == 7.0


@pytest.mark.parametrize(
    ("rule", "median"), [pytest.param("first", 3.0, id="first"), pytest.param("midpoint", 4.5, id="midpoint")]
)
def test_median_followup_honours_the_median_rule(rule, median):
    # censorings at 1, 2, 3 are the events of the reverse curve: S_rev = 5/6, 4/6, 3/6 (exactly 0.5 from 3 to
    # the end, 6). First time <= 0.5: 3; R's midpoint of the flat stretch: (3 + 6) / 2 = 4.5
    # (R: quantile(survfit(Surv(1:6, c(1, 1, 1, 0, 0, 0)) ~ 1), 0.5) -> 4.5)
    assert compute_median_followup([1, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1], median_rule=rule).median == median


def test_median_followup_matches_r_on_lung(lung):
    # R 4.2.2, survival 3.5-3 (tests/data/r_reference/km.R):
    #   quantile(survfit(Surv(time, 1 - dead) ~ 1, data = lung), 0.5) -> 588 (511, 1010) with R's midpoint rule
    fu = compute_median_followup(lung["time"], lung["dead"], median_rule="midpoint")
    assert (fu.median, fu.median_lower, fu.median_upper) == (588, 511, 1010)


def _r_rows(what: str) -> pd.DataFrame:
    return pd.read_csv(R_REF / "km_lung_r.csv").query("what == @what")


@pytest.mark.parametrize(
    "row",
    [pytest.param(r, id=f"sex{r.sex}-{r.conf_type}-{r.conf:g}-p{r.p:g}") for r in _r_rows("quantile").itertuples()],
)
def test_lung_quartiles_match_r(lung, row):
    # R 4.2.2, survival 3.5-3 (tests/data/r_reference/km.R, values in km_lung_r.csv):
    #   quantile(survfit(Surv(time, dead) ~ 1, data = d, conf.type = ct, conf.int = cl), c(0.25, 0.5, 0.75))
    #   for d = lung and each sex, ct in log / log-log / plain, cl in 0.95 / 0.90 (R's midpoint rule): exact days
    d = lung if row.sex == 0 else lung[lung["sex"] == row.sex]
    q = summarise_km(d["time"], d["dead"], conf_type=row.conf_type, conf=row.conf, median_rule="midpoint").quantile(
        row.p
    )
    got = np.array([q["time"], q["lower"], q["upper"]], dtype=float)
    assert np.array_equal(got, [row.value, row.lower, row.upper], equal_nan=True)


def test_small_series_quartiles_match_r_including_undefined_bounds():
    # R 4.2.2, survival 3.5-3 (tests/data/r_reference/km.R): quantile(survfit(Surv(time, event) ~ 1, d),
    # c(0.25, 0.5, 0.75)) on 12 small series (5-25 patients, ties, some ending in an event): every value and
    # every NA in the same place (NA is our "not reached" / "not estimable")
    data = pd.read_csv(R_REF / "km_small_input.csv")
    ref = pd.read_csv(R_REF / "km_small_r.csv").set_index("series")
    for series, d in data.groupby("series"):
        s = summarise_km(d["time"], d["event"], median_rule="midpoint")
        for p, key in ((0.25, "q25"), (0.5, "q50"), (0.75, "q75")):
            q = s.quantile(p)
            expected = ref.loc[series, [key, f"{key}_lower", f"{key}_upper"]].to_numpy(dtype=float)
            got = np.array([q["time"], q["lower"], q["upper"]], dtype=float)
            assert np.array_equal(got, expected, equal_nan=True), (series, p)
            assert all(
                (note != "") == np.isnan(v)
                for note, v in zip(q[["time_note", "lower_note", "upper_note"]], got, strict=True)
            )


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
