"""Tests for tkitrack.outcomes.comparisons: log-rank and Cox against R survival, and the no-information cases.

Reference values come from R 4.2.2 (2022-11-10) with survival 3.5-3; the scripts that wrote them are
tests/data/r_reference/cox.R and km.R (inputs and outputs are the CSV files beside them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tkitrack.outcomes.comparisons import COX_COLUMNS, compare_groups, fit_cox
from tkitrack.schemas.errors import InputError

DATA = Path(__file__).parents[1] / "data"
R_REF = DATA / "r_reference"
TOL = 1e-6  # relative, on HR, CI bounds and p


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    df = pd.read_csv(DATA / "lung" / "lung.csv")
    return df.assign(dead=(df["status"] == 2).astype(int), ecog=df["ph.ecog"].astype("Int64").astype("string"))


def _rel(ours, theirs) -> float:
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    return float(np.max(np.abs(ours / theirs - 1)))


# ---- log-rank --------------------------------------------------------------------------------------------


def test_lung_logrank_by_sex(lung):
    # R: survdiff(Surv(time, status) ~ sex, data = lung)
    #    Chisq = 10.3 on 1 degrees of freedom, p = 0.001; observed 112 / 53, expected 91.6 / 73.4
    res = compare_groups(lung["time"], lung["dead"], lung["sex"])
    assert res.chisq == pytest.approx(10.3267, abs=5e-5)
    assert res.df == 1 and res.p == pytest.approx(0.0013, abs=5e-5)
    assert res.table["events"].tolist() == [112, 53]
    assert res.table["expected"].tolist() == pytest.approx([91.6, 73.4], abs=0.05)
    assert res.label == "exploratory" and res.text == "chi-square 10.33 on 1 df, p = 0.001"


def test_logrank_hand_worked():
    # A dies at 1 and 3, B at 2 and 4. Per death time: E_A = n_A d / n, V = d (n - d) n_A n_B / (n^2 (n - 1))
    # t1: E 2/4, V 1/4; t2: E 1/3, V 2/9; t3: E 1/2, V 1/4; t4: E 0, V 0
    # O - E = 2 - 4/3 = 2/3; V = 13/18; chisq = (4/9) / (13/18) = 8/13
    res = compare_groups([1, 3, 2, 4], [1, 1, 1, 1], ["A", "A", "B", "B"])
    assert res.chisq == pytest.approx(8 / 13, abs=1e-12)
    assert res.table["expected"].tolist() == pytest.approx([4 / 3, 8 / 3])


def test_logrank_three_groups_match_r():
    # R: survdiff(Surv(time, event) ~ group, data = d) on 15 three-group series (cox.R): chisq, df, p
    data = pd.read_csv(R_REF / "cox_three_input.csv")
    ref = pd.read_csv(R_REF / "logrank_three_r.csv").set_index("series")
    for series, d in data.groupby("series"):
        res = compare_groups(d["time"], d["event"], d["group"])
        assert res.df == ref.loc[series, "df"]
        assert _rel([res.chisq, res.p], ref.loc[series, ["chisq", "p"]]) < TOL, series


def test_logrank_with_nobody_at_risk_in_one_group_has_no_test():
    # R: survdiff(Surv(t, e) ~ grp, data.frame(t = c(1, 2, 3, 0.5, 0.7), e = c(1, 1, 0, 0, 0),
    #    grp = c("a", "a", "a", "b", "b"))) -> "Chisq= 0 on 0 degrees of freedom"; group b has expected 0
    res = compare_groups([1, 2, 3, 0.5, 0.7], [1, 1, 0, 0, 0], ["a", "a", "a", "b", "b"])
    assert (res.chisq, res.df) == (0.0, 0) and np.isnan(res.p)
    assert res.text == "not available: only one group has patients at risk when events happen"
    assert res.table["expected"].tolist() == [2.0, 0.0]


def test_logrank_without_events_has_no_test():
    res = compare_groups([1, 2, 3, 4], [0, 0, 0, 0], ["a", "b", "a", "b"])
    assert res.df == 0 and res.text == "not available: no events"


def test_logrank_needs_two_groups():
    with pytest.raises(InputError, match="at least two groups"):
        compare_groups([1, 2], [1, 1], ["a", "a"])


# ---- Cox: R-exact ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("conf", [pytest.param(0.95, id="95"), pytest.param(0.90, id="90")])
@pytest.mark.parametrize("model", [pytest.param("sex", id="sex"), pytest.param("ecog", id="ph.ecog-4-groups")])
def test_lung_cox_matches_r(lung, model, conf):
    # R: summary(coxph(Surv(time, dead) ~ factor(sex), data = lung), conf.int = conf)  (Efron, R's default)
    #    summary(coxph(Surv(time, dead) ~ factor(ph.ecog), data = lung), conf.int = conf)  (one patient NA)
    #    sex: HR 0.588003 (95% CI 0.423718-0.815985), p 0.00149123; LR 10.6336 on 1 df
    #    ph.ecog 1, 2, 3 vs 0: HR 1.44606, 2.50024, 9.09732; LR 18.4445 on 3 df (km.R -> cox_lung_r.csv)
    ref = pd.read_csv(R_REF / "cox_lung_r.csv").query("model == @model and conf == @conf")
    res = fit_cox(lung, time="time", event="dead", group="sex" if model == "sex" else "ecog", conf=conf)
    t = res.table
    assert list(t.columns) == list(COX_COLUMNS) and t["estimable"].all()
    for col in ("hazard_ratio", "lower", "upper", "p", "coef", "se"):
        assert _rel(t[col], ref[col]) < TOL, col
    assert _rel([res.lr_chisq, res.lr_p], ref[["lr_chisq", "lr_p"]].iloc[0]) < TOL and res.lr_df == ref["lr_df"].iloc[0]
    assert (res.n, res.events) == (ref["n"].iloc[0], ref["events"].iloc[0])
    if model == "sex":
        assert res.text() == [
            f"2 vs 1: HR 0.59 ({conf * 100:g}% CI {'0.42-0.82' if conf == 0.95 else '0.45-0.77'}), p = 0.001"
        ]


def test_lung_cox_with_two_one_patient_groups_converges_to_r(lung):
    # lifelines' undamped Newton steps overshoot here (ph.ecog 3 and missing are one patient each); the fit is
    # retried with a smaller step and must land on R's estimate. R 4.2.2, survival 3.5-3:
    #   lung$g <- ifelse(is.na(lung$ph.ecog), "missing", lung$ph.ecog)
    #   s <- summary(coxph(Surv(time, status == 2) ~ factor(g), lung)); s$conf.int; s$coefficients[, 5]; s$logtest
    res = fit_cox(lung.assign(g=lung["ecog"].fillna("missing")), time="time", event="dead", group="g")
    t = res.table
    assert t["group"].tolist() == ["1", "2", "3", "missing"]
    assert _rel(t["hazard_ratio"], [1.445946629, 2.501225145, 9.084290590, 16.273948692]) < TOL
    assert _rel(t["lower"], [0.9796128114, 1.6107225681, 1.2164747153, 2.1382335839]) < TOL
    assert _rel(t["upper"], [2.134273489, 3.884050146, 67.838923807, 123.859903807]) < TOL
    assert _rel(t["p"], [6.341383459e-02, 4.448507407e-05, 3.147722645e-02, 7.062681669e-03]) < TOL
    assert _rel([res.lr_chisq, res.lr_p], [2.127795128e01, 2.789114518e-04]) < TOL and res.lr_df == 4


def test_two_group_series_match_r_and_infinite_ones_are_not_estimable():
    # R: coxph(Surv(time, event) ~ factor(group), data = d, ties = "efron") on 40 small series (8-30 patients,
    # ties). Series 5, 15, 25, 35 (group 1 leaves follow-up before any event of group 0) and 10, 20, 30, 40
    # (no event in group 1) make R warn "Loglik converged before variable 1; coefficient may be infinite" and
    # print HRs like 1.5e9 or 8e-11 with CI 0-Inf: those must be "not estimable"; all others within 1e-6.
    data = pd.read_csv(R_REF / "cox_two_input.csv")
    ref = pd.read_csv(R_REF / "cox_two_r.csv").set_index("series")
    infinite = set(ref.index[ref["infinite"]])
    assert infinite == {5, 10, 15, 20, 25, 30, 35, 40}
    for series, d in data.groupby("series"):
        row = fit_cox(d, time="time", event="event", group="group").table.iloc[0]
        if series in infinite:
            assert not row["estimable"] and np.isnan(row["hazard_ratio"]) and np.isnan(row["p"]), series
            expected = "no events in 1" if series % 10 == 0 else "monotone likelihood"
            assert expected in row["note"], (series, row["note"])
        else:
            assert row["estimable"], (series, row["note"])
            assert (
                _rel(
                    row[["hazard_ratio", "lower", "upper", "p"]],
                    ref.loc[series, ["hazard_ratio", "lower", "upper", "p"]],
                )
                < TOL
            )


def test_three_group_series_match_r_where_estimable():
    # R: summary(coxph(Surv(time, event) ~ factor(group), data = d), conf.int = 0.90) on 15 three-group series;
    # in series 5, 10, 15 group c has no events: R's "c vs a" is infinite, while "b vs a" is still estimated
    # (the likelihood factorises) and must match R; the likelihood-ratio test is then not available.
    data = pd.read_csv(R_REF / "cox_three_input.csv")
    ref = pd.read_csv(R_REF / "cox_three_r.csv")
    for series, d in data.groupby("series"):
        res = fit_cox(d, time="time", event="event", group="group", conf=0.90)
        theirs = ref[ref["series"] == series].reset_index(drop=True)
        for i, row in res.table.iterrows():
            if theirs.loc[i, "infinite"] and series % 5 == 0 and row["group"] == "c":
                assert not row["estimable"] and row["note"] == "no events in c"
                continue
            assert row["estimable"], (series, row["group"], row["note"])
            cols = ["hazard_ratio", "lower", "upper", "p"]
            assert _rel(row[cols], theirs.loc[i, cols]) < TOL, (series, row["group"])
        if series % 5 == 0:
            assert np.isnan(res.lr_chisq) and res.notes
        else:
            assert _rel([res.lr_chisq, res.lr_p], theirs.loc[0, ["lr_chisq", "lr_p"]]) < TOL


def test_counting_process_series_match_r():
    # R: coxph(Surv(start, stop, event) ~ stopped, data = d) on 15 series where the covariate switches on at a
    # stop date (cox.R -> cox_tv_*.csv); series 8 has every event after the switch: R's HR 2e10 -> not estimable
    data = pd.read_csv(R_REF / "cox_tv_input.csv")
    ref = pd.read_csv(R_REF / "cox_tv_r.csv").set_index("series")
    for series, d in data.groupby("series"):
        row = fit_cox(d, time="stop", entry="start", event="event", group="stopped").table.iloc[0]
        if ref.loc[series, "infinite"]:
            assert series == 8 and not row["estimable"]
            continue
        assert (
            _rel(row[["hazard_ratio", "lower", "upper", "p"]], ref.loc[series, ["hazard_ratio", "lower", "upper", "p"]])
            < TOL
        )


# ---- Cox: no information ---------------------------------------------------------------------------------


def test_cox_without_events_says_so_and_does_not_raise():
    # R: coxph(Surv(t, e) ~ grp) with no events -> coef NA, "Likelihood ratio test=0 on 0 df"
    res = fit_cox(pd.DataFrame({"time": [1, 2, 3, 4, 5], "event": 0, "group": list("aabbb")}))
    row = res.table.iloc[0]
    assert not row["estimable"] and row["note"] == "no events" and np.isnan(row["hazard_ratio"])
    assert res.lr_df == 0 and np.isnan(res.lr_p)
    assert res.text() == ["b vs a: HR not estimable (no events)"]


def test_cox_reference_without_events():
    res = fit_cox(pd.DataFrame({"time": [1, 2, 3, 4], "event": [0, 0, 1, 1], "group": list("aabb")}))
    assert res.table.iloc[0]["note"] == "no events in the reference group (a)"


def test_cox_group_never_at_risk_at_an_event_is_not_estimable():
    # group b's patients all leave before the first event: R gives coef NA (the likelihood does not depend on it)
    res = fit_cox(pd.DataFrame({"time": [1, 2, 3, 0.5, 0.7], "event": [1, 1, 0, 0, 0], "group": list("aaabb")}))
    assert res.table.iloc[0]["note"] == "no events in b"


def test_cox_chosen_reference_and_missing_rows():
    d = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6, np.nan], "event": [1, 0, 1, 1, 0, 1, 1], "group": list("abababa")})
    res = fit_cox(d, reference="b")
    assert res.table["group"].tolist() == ["a"] and res.table["reference"].tolist() == ["b"]
    assert res.n == 6  # the row without a time is left out, as R does


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"reference": "z"}, "reference group 'z' is not among", id="reference"),
        pytest.param({"group": "arm"}, "column\\(s\\) \\['arm'\\] not in the frame", id="column"),
        pytest.param({"conf": 95}, "conf must lie strictly between 0 and 1", id="conf"),
        pytest.param({"entry": "start"}, "start must be before time on every row; found 1", id="entry-after-exit"),
    ],
)
def test_cox_bad_input(kwargs, match):
    d = pd.DataFrame({"time": [1, 2, 3, 4], "start": [0, 5, 0, 0], "event": [1, 0, 1, 1], "group": list("abab")})
    with pytest.raises(InputError, match=match):
        fit_cox(d, **kwargs)
