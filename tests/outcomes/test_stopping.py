"""Tests for tkitrack.outcomes.stopping: the seed case, landmark status, time-varying Cox, stopped-patient list."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from tkitrack.outcomes.stopping import (
    derive_landmark_cohort,
    derive_stopping_cohort,
    derive_stopping_exclusions,
    fit_time_varying_cox,
    landmark_analysis,
    list_stopped_patients,
    restrict_stopping_cohort,
)
from tkitrack.schemas.errors import InputError

CR = date(2020, 1, 1)


def day(n: int) -> str:
    """ISO date n days after the common CR date of the small cohort."""
    return (CR + timedelta(days=n)).isoformat()


# ---- the seed case (seeds/003): 6-year-old girl, mesenteric ALK+ IMT --------------------------------------
# crizotinib 200 mg daily from day 0, PR at 1 month, CR at 4 months, gait disturbance (grade 2) at 5 months,
# stopped at 6 months (gait change; in CR), no recurrence and no further treatment 4 years later, alive.
# Dates are built from the intervals the letter gives (it gives none): first dose 2019-01-01.
SEED_EXPOSURE = pd.DataFrame(
    {
        "patient_id": ["IMT-003"],
        "id": [1],
        "drug": ["crizotinib"],
        "dose": [200.0],
        "unit": ["mg"],
        "frequency": ["QD"],
        "start": [date(2019, 1, 1)],
        "end": [date(2019, 7, 1)],
        "reason": ["toxicity"],
        "discontinued": [True],
    }
)
SEED_ASSESSMENT = pd.DataFrame(
    {
        "patient_id": ["IMT-003"] * 3,
        "id": [1, 2, 3],
        "date": [date(2018, 12, 28), date(2019, 2, 1), date(2019, 5, 1)],
        "modality": ["MRI", "PET-CT", "PET-CT"],
        "response": [None, "PR", "CR"],
        "baseline": [True, False, False],
    }
)
SEED_DISEASE_EVENT = pd.DataFrame(
    {
        "patient_id": pd.Series(dtype=str),
        "id": pd.Series(dtype=int),
        "kind": pd.Series(dtype=str),
        "date": pd.Series(dtype="datetime64[ns]"),
    }
)
SEED_FOLLOWUP = pd.DataFrame(
    {
        "patient_id": ["IMT-003"],
        "id": [1],
        "date": [date(2023, 7, 1)],
        "vital_status": ["alive"],
        "death_date": [None],
        "death_cause": [None],
    }
)


@pytest.fixture(scope="module")
def seed_cohort() -> pd.DataFrame:
    return derive_stopping_cohort(SEED_EXPOSURE, SEED_ASSESSMENT, SEED_DISEASE_EVENT, SEED_FOLLOWUP)


def test_seed_cohort(seed_cohort):
    row = seed_cohort.iloc[0]
    assert row["patient_id"] == "IMT-003"
    assert row["first_dose_date"] == pd.Timestamp("2019-01-01")
    assert row["cr_date"] == pd.Timestamp("2019-05-01")  # the PR at 1 month is not a CR
    assert row["stop_date"] == pd.Timestamp("2019-07-01") and row["stop_reason"] == "toxicity"
    assert pd.isna(row["relapse_date"]) and pd.isna(row["death_date"]) and pd.isna(row["restart_date"])
    assert row["last_contact_date"] == pd.Timestamp("2023-07-01")
    # 2019-01-01 .. 2019-07-01 inclusive: 31 + 28 + 31 + 30 + 31 + 30 + 1 = 182 days
    assert row["days_on_drug"] == 182


def test_seed_listing(seed_cohort):
    out = list_stopped_patients(seed_cohort)
    assert len(out) == 1
    row = out.iloc[0]
    assert row["days_in_cr_before_stop"] == 61  # May 31 + June 30
    assert row["days_off_drug_followup"] == 1461  # 4 years, one of them (2020) a leap year
    assert not row["relapse"] and np.isnan(row["days_stop_to_relapse"])
    assert row["vital_status"] == "alive"


def test_seed_landmarks(seed_cohort):
    # stopped on day 61 after CR: on drug at a 30-day landmark, stopped at a 90-day one; n = 1, no events
    out = landmark_analysis(seed_cohort, (30, 90)).set_index(["landmark_day", "status"])
    assert out.loc[(30, "on_drug"), "n"] == 1 and out.loc[(30, "stopped"), "n"] == 0
    assert out.loc[(90, "stopped"), "n"] == 1 and out.loc[(90, "on_drug"), "n"] == 0
    assert (out["events"] == 0).all() and out["warning"].all()
    # one patient without events: no median, and the interval has no width (no information): not estimable
    assert out.loc[(90, "stopped"), "median_text"] == "not reached (95% CI not estimable)"
    assert out.loc[(90, "stopped"), "warning_text"].startswith("only 1 patient (< 10) and only 0 events")


def test_seed_time_varying_cox(seed_cohort):
    res = fit_time_varying_cox(seed_cohort)
    assert (res.n_patients, res.n_events, res.n_stopped) == (1, 0, 1)
    assert res.warning and math.isnan(res.hazard_ratio)
    # CR 2019-05-01 to last contact 2023-07-01 = 1522 days, split at the stop on day 61
    expected = pd.DataFrame(
        {
            "patient_id": ["IMT-003"] * 2,
            "start": [0.0, 61.0],
            "stop": [61.0, 1522.0],
            "stopped": [0, 1],
            "event": [0, 0],
        }
    )
    pd.testing.assert_frame_equal(res.long, expected, check_dtype=False)


# ---- a small cohort worked by hand (day 0 = CR for all; first dose 122 days before) -----------------------
# A stops d60, no relapse, last contact d400      B never stops, recurrence d50 (on drug)
# C stops d200, recurrence d300, last contact d450  D stops d10, metastasis d120
# F stops d100, dies d250 without relapse          E never reaches CR (PR only): in no analysis
def _small_cohort() -> pd.DataFrame:
    first = day(-122)
    ex = pd.DataFrame(
        {
            "patient_id": list("ABCDFE"),
            "drug": ["crizotinib"] * 6,
            "start": [first] * 6,
            "end": [day(60), None, day(200), day(10), day(100), None],
            "reason": ["complete_response", None, "complete_response", "toxicity", "complete_response", None],
            "discontinued": [True, False, True, True, True, False],
        }
    )
    rs = pd.DataFrame({"patient_id": list("ABCDFE"), "date": [day(0)] * 6, "response": ["CR"] * 5 + ["PR"]})
    ev = pd.DataFrame(
        {
            "patient_id": list("BCD"),
            "kind": ["progression", "recurrence", "metastasis"],
            "date": [day(50), day(300), day(120)],
        }
    )
    fu = pd.DataFrame(
        {
            "patient_id": list("ABCDFE"),
            "date": [day(400), day(500), day(450), day(300), day(250), day(300)],
            "death_date": [None, None, None, None, day(250), None],
        }
    )
    return derive_stopping_cohort(ex, rs, ev, fu)


def test_small_cohort_derivation():
    c = _small_cohort().set_index("patient_id")
    stop_day = (c["stop_date"] - pd.Timestamp(CR)).dt.days
    assert stop_day.to_dict() == pytest.approx(
        {"A": 60, "B": np.nan, "C": 200, "D": 10, "E": np.nan, "F": 100}, nan_ok=True
    )
    assert c.loc["D", "relapse_kind"] == "metastasis" and pd.isna(c.loc["E", "cr_date"])


@pytest.mark.parametrize(
    ("landmark", "death", "expected"),
    [
        # d30: at risk A B C D F; only D has stopped. Events after d30: B, C, D, F (death counts in RFS)
        pytest.param(30, "event", {"stopped": (1, 1), "on_drug": (4, 3)}, id="d30-rfs"),
        # d90: B relapsed before, left out; A and D have stopped (D relapses), C and F on drug (both events)
        pytest.param(90, "event", {"stopped": (2, 1), "on_drug": (2, 2)}, id="d90-rfs"),
        # death censored: F is no event
        pytest.param(90, "censor", {"stopped": (2, 1), "on_drug": (2, 1)}, id="d90-relapse-only"),
        # d250: A (stopped) and C (stopped d200; relapse d300); F died on d250, so not at risk
        pytest.param(250, "event", {"stopped": (2, 1), "on_drug": (0, 0)}, id="d250"),
    ],
)
def test_landmark_counts(landmark, death, expected):
    out = landmark_analysis(_small_cohort(), (landmark,), death=death).set_index("status")
    got = {s: (int(out.loc[s, "n"]), int(out.loc[s, "events"])) for s in expected}
    assert got == expected
    assert out["warning"].all()


def test_landmark_status_is_fixed_at_the_landmark():
    # C stops on day 200: counted on drug at the 90-day landmark although it stops later (no immortal time)
    lm = derive_landmark_cohort(_small_cohort(), 90).set_index("patient_id")
    assert lm.loc["C", "status"] == "on_drug"
    assert (lm.loc["C", "time"], lm.loc["C", "event"]) == (210, 1)
    assert "B" not in lm.index and "E" not in lm.index
    out = landmark_analysis(_small_cohort(), (90,))
    assert (out["n_not_at_risk"] == 1).all()  # B


def test_landmark_median_stopped_d90():
    # stopped at d90: D relapses 30 days later, A censored at 310: KM 0.5 from day 30 -> median 30
    out = landmark_analysis(_small_cohort(), (90,)).set_index("status")
    assert out.loc["stopped", "median"] == 30


def test_landmark_median_honours_the_median_rule():
    # the stopped curve at d90 is flat at exactly 0.5 from day 30 to the end of follow-up (A censored at 310):
    # R's midpoint rule gives (30 + 310) / 2 = 170
    out = landmark_analysis(_small_cohort(), (90,), median_rule="midpoint").set_index("status")
    assert out.loc["stopped", "median"] == 170
    assert out.loc["stopped", "median_text"].startswith("170 (95% CI")


def test_time_varying_cox_hand_worked():
    # Risk sets at each relapse/death (x = 1 once stopped):
    #   d50 B(x0): A0 B0 C0 D1 F0 -> 1 / (4 + u);  d120 D(x1): A1 C0 D1 F1 -> u / (1 + 3u)
    #   d250 F(x1): A1 C1 F1 -> 1/3;  d300 C(x1): A1 C1 -> 1/2   (u = hazard ratio; no tied times)
    # d/du log L = 0  ->  4 (1 + 3u) = 3u (4 + u)  ->  u^2 = 4/3  ->  HR = 2 / sqrt(3) = 1.1547
    # R 4.2.2, survival 3.5-3: summary(coxph(Surv(start, stop, event) ~ stopped, data = res.long))
    #   exp(coef) 1.15470053838, lower .95 0.0415755959707, upper .95 32.070095502, Pr(>|z|) 0.932410583778
    res = fit_time_varying_cox(_small_cohort())
    assert res.hazard_ratio == pytest.approx(2 / math.sqrt(3), rel=1e-9)
    assert (res.lower, res.upper, res.p) == pytest.approx((0.0415755959707, 32.070095502, 0.932410583778), rel=1e-6)
    assert (res.n_patients, res.n_events, res.n_events_off_drug, res.n_stopped) == (5, 4, 3, 4)
    assert res.warning and "only 4 events" in res.warning_text
    assert res.lower < res.hazard_ratio < res.upper


def test_list_stopped_patients_small_cohort():
    out = list_stopped_patients(_small_cohort())
    expected = pd.DataFrame(
        {
            "patient_id": list("DAFC"),
            "days_in_cr_before_stop": [10, 60, 100, 200],
            "days_off_drug_followup": [290, 340, 150, 250],
            "relapse": [True, False, False, True],
            "days_stop_to_relapse": [110, np.nan, np.nan, 100],
            "vital_status": ["alive", "alive", "dead", "alive"],
        }
    )
    pd.testing.assert_frame_equal(out[expected.columns], expected, check_dtype=False)


def test_a_switch_stops_the_index_course_and_a_hold_is_no_stop():
    # P: crizotinib discontinued d30 for toxicity, lorlatinib from d31 (a switch: the restart, a new course)
    # Q: crizotinib held d50-d60 (not discontinued), resumed to the elective stop on d200: one course
    ex = pd.DataFrame(
        {
            "patient_id": ["P", "P", "Q", "Q"],
            "drug": ["crizotinib", "lorlatinib", "crizotinib", "crizotinib"],
            "start": [day(-100), day(31), day(-100), day(60)],
            "end": [day(30), day(200), day(50), day(200)],
            "reason": ["toxicity", "complete_response", "toxicity", "complete_response"],
            "discontinued": [True, True, False, True],
        }
    )
    rs = pd.DataFrame({"patient_id": ["P", "Q"], "date": [day(0)] * 2, "response": ["CR"] * 2})
    ev = pd.DataFrame({"patient_id": ["P"], "kind": ["recurrence"], "date": [day(400)]})
    fu = pd.DataFrame({"patient_id": ["P", "Q"], "date": [day(500)] * 2})
    c = derive_stopping_cohort(ex, rs, ev, fu).set_index("patient_id")
    assert (c.loc["P", "stop_date"], c.loc["P", "stop_reason"]) == (pd.Timestamp(day(30)), "toxicity")
    assert c.loc["P", "restart_date"] == pd.Timestamp(day(31)) and c.loc["P", "in_cr_at_stop"]
    assert c.loc["P", "relapse_date"] == pd.Timestamp(day(400))
    assert c.loc["P", "days_on_drug"] == 131  # d-100..d30 of the index course
    assert (c.loc["Q", "stop_date"], c.loc["Q", "stop_reason"]) == (pd.Timestamp(day(200)), "complete_response")
    assert pd.isna(c.loc["Q", "restart_date"])
    assert c.loc["Q", "days_on_drug"] == 151 + 141  # d-100..d50 and d60..d200: the hold is not counted
    # the hold is on-drug time in the time-varying Cox model: Q is off drug only from d200
    long = fit_time_varying_cox(c.reset_index()).long
    assert long[long["patient_id"] == "Q"][["start", "stop", "stopped"]].values.tolist() == [[0, 200, 0], [200, 500, 1]]
    # P: off drug d30-d31, on lorlatinib again from d31 to the relapse on d400 (the event, on drug)
    assert long[long["patient_id"] == "P"][["start", "stop", "stopped", "event"]].values.tolist() == [
        [0, 30, 0, 0], [30, 31, 1, 0], [31, 400, 0, 1]]  # fmt: skip


def test_restart_after_relapse_keeps_the_stop_and_pd_counts_as_relapse():
    ex = pd.DataFrame(
        {
            "patient_id": ["P"] * 2,
            "drug": ["crizotinib"] * 2,
            "start": [day(-100), day(320)],
            "end": [day(100), None],
            "reason": ["complete_response", None],
            "discontinued": [True, False],
        }
    )
    rs = pd.DataFrame({"patient_id": ["P"] * 2, "date": [day(0), day(300)], "response": ["CR", "PD"]})
    ev = pd.DataFrame({"patient_id": pd.Series(dtype=str), "kind": pd.Series(dtype=str), "date": pd.Series(dtype=str)})
    fu = pd.DataFrame({"patient_id": ["P"], "date": [day(500)]})
    row = derive_stopping_cohort(ex, rs, ev, fu).iloc[0]
    assert row["stop_date"] == pd.Timestamp(day(100))
    assert row["relapse_date"] == pd.Timestamp(day(300)) and row["relapse_kind"] == "progression (assessment)"
    assert row["restart_date"] == pd.Timestamp(day(320))


@pytest.mark.parametrize(
    ("frame", "change", "match"),
    [
        pytest.param("exposure", {"start": "first day"}, "not a date", id="bad-date"),
        pytest.param("assessment", None, r"column\(s\) \['response'\] missing", id="missing-column"),
    ],
)
def test_bad_input(frame, change, match):
    frames = {
        "exposure": SEED_EXPOSURE,
        "assessment": SEED_ASSESSMENT,
        "disease_event": SEED_DISEASE_EVENT,
        "followup": SEED_FOLLOWUP,
    }
    if change is None:
        frames[frame] = frames[frame].drop(columns="response")
    elif change == "empty":
        frames[frame] = frames[frame].iloc[0:0]
    else:
        frames[frame] = frames[frame].assign(**change)
    with pytest.raises(InputError, match=match):
        derive_stopping_cohort(**frames)


def test_bad_origin(seed_cohort):
    with pytest.raises(InputError, match="origin"):
        landmark_analysis(seed_cohort, (30,), origin="diagnosis")


# ---- boundaries: a stop on the landmark day, an event on it, a restart before it (origin: the CR date) ----------
def _boundary_cohort() -> pd.DataFrame:
    cr = pd.Timestamp(CR)

    def d(n):
        return cr + pd.Timedelta(days=n) if n is not None else pd.NaT

    rows = [  # patient, stop, restart, relapse, last contact (days after CR)
        ("S1", 90, None, 200, 500),  # last dose on the 90-day landmark: stopped at it
        ("S2", 60, 80, None, 300),  # stopped, restarted before the landmark: on drug at it
        ("S3", None, None, 90, 500),  # relapse on the landmark day: relapsed by then, left out
        ("S4", None, None, 150, 500),  # on drug throughout
        ("S5", 30, None, None, 400),  # stopped, no relapse
        ("S6", 91, None, 250, 500),  # stops the day after the landmark: on drug at it
    ]
    return pd.DataFrame(
        {
            "patient_id": [r[0] for r in rows],
            "first_dose_date": cr - pd.Timedelta(days=100),
            "cr_date": cr,
            "stop_date": [d(r[1]) for r in rows],
            "stop_reason": ["complete_response" if r[1] is not None else None for r in rows],
            "in_cr_at_stop": [r[1] is not None for r in rows],
            "restart_date": [d(r[2]) for r in rows],
            "relapse_date": [d(r[3]) for r in rows],
            "relapse_kind": ["recurrence" if r[3] is not None else None for r in rows],
            "death_date": pd.NaT,
            "last_contact_date": [d(r[3] if r[3] is not None else r[4]) for r in rows],
            "days_on_drug": 0,
        }
    )


def test_landmark_boundaries():
    lm = derive_landmark_cohort(_boundary_cohort(), 90).set_index("patient_id")
    assert lm["status"].to_dict() == {"S1": "stopped", "S2": "on_drug", "S4": "on_drug", "S5": "stopped",
                                      "S6": "on_drug"}  # fmt: skip
    assert lm[["time", "event"]].values.tolist() == [[110, 1], [210, 0], [60, 1], [310, 0], [160, 1]]
    out = landmark_analysis(_boundary_cohort(), (90,)).set_index("status")
    assert out.loc["stopped", ["n", "events"]].tolist() == [2, 1] and out.loc["on_drug", ["n", "events"]].tolist() == [
        3,
        2,
    ]
    assert (out["n_not_at_risk"] == 1).all()  # S3
    # R 4.2.2, survival 3.5.3: survfit(Surv(time, event) ~ g) on these landmark rows: medians 110 and 160
    assert out.loc["stopped", "median"] == 110 and out.loc["on_drug", "median"] == 160


def test_time_varying_cox_with_a_restart_matches_r():
    res = fit_time_varying_cox(_boundary_cohort())
    assert res.long[res.long["patient_id"] == "S2"][["start", "stop", "stopped"]].values.tolist() == [
        [0, 60, 0], [60, 80, 1], [80, 300, 0]]  # fmt: skip
    assert (res.n_patients, res.n_events, res.n_events_off_drug, res.n_stopped) == (6, 4, 2, 4)
    # R 4.2.2, survival 3.5.3: coxph(Surv(start, stop, event) ~ stopped, ties = "efron") on res.long:
    # exp(coef) 0.7954257034, 95% CI 0.0903103657-7.0058630016, Wald p 0.8366424462
    assert res.hazard_ratio == pytest.approx(0.7954257034, rel=1e-6)
    assert (res.lower, res.upper) == (pytest.approx(0.0903103657, rel=1e-5), pytest.approx(7.0058630016, rel=1e-5))
    assert res.p == pytest.approx(0.8366424462, rel=1e-4)


def test_exclusions_say_why():
    c = _boundary_cohort()
    c.loc[c["patient_id"] == "S5", "stop_reason"] = "toxicity"
    c.loc[c["patient_id"] == "S4", "cr_date"] = pd.NaT
    c.loc[c["patient_id"] == "S6", "stop_date"] = pd.Timestamp(CR) - pd.Timedelta(days=1)
    out = derive_stopping_exclusions(c, ["complete_response"]).set_index("patient_id")["reason"].to_dict()
    assert out == {"S4": "never in complete response on the index therapy",
                   "S5": "stopped for another reason (toxicity)",
                   "S6": "index therapy stopped before the first complete response"}  # fmt: skip
    assert sorted(restrict_stopping_cohort(c, ["complete_response"])["patient_id"]) == ["S1", "S2", "S3"]


def test_stopping_cohort_reads_only_the_assessment_columns_it_needs_and_names_every_column_when_one_is_missing():
    from tkitrack.outcomes.stopping import derive_stopping_cohort
    from tkitrack.schemas.errors import InputError

    T = pd.Timestamp
    ex = pd.DataFrame({"patient_id": ["P1"], "drug": ["larotrectinib"], "start": [T("2020-01-01")],
                       "end": [T("2020-06-30")], "discontinued": [True], "reason": ["complete_response"]})  # fmt: skip
    rs = pd.DataFrame({"patient_id": ["P1", "P1"], "date": [T("2020-03-01"), T("2020-06-01")],
                       "response": [" cr", "CR"], "criteria": ["RECIST 1.1", "recist 1.1"],
                       "note": ["a note", None], "sum_diameters": [0.0, 0.0]})  # fmt: skip
    ev = pd.DataFrame({"patient_id": pd.Series(dtype=object), "kind": pd.Series(dtype=object),
                       "date": pd.Series(dtype="datetime64[ns]")})  # fmt: skip
    fu = pd.DataFrame({"patient_id": ["P1"], "date": [T("2021-01-01")], "vital_status": ["alive"],
                       "death_date": [pd.NaT]})  # fmt: skip
    out = derive_stopping_cohort(ex, rs, ev, fu).set_index("patient_id")
    assert out.loc["P1", "cr_date"] == T("2020-03-01") and bool(out.loc["P1", "in_cr_at_stop"])
    with pytest.raises(InputError, match=r"column\(s\) \['response'\] missing; found \['patient_id', 'date', "
                                         r"'criteria', 'note', 'sum_diameters'\]"):  # fmt: skip
        derive_stopping_cohort(ex, rs.drop(columns="response"), ev, fu)
