"""outcomes/summary.py: endpoint summaries and response tables against R and hand-worked values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes.summary import best_response_rows, summarise_competing, summarise_endpoint, summarise_response

LUNG = Path(__file__).resolve().parents[1] / "data" / "lung" / "lung.csv"


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = pd.read_csv(LUNG)
    return d.assign(dead=d["status"] == 2)


def test_lung_overall_matches_r(lung):
    # R: survfit(Surv(time, status) ~ 1, data = lung): n 228, events 165, median 310 (285, 363)
    # R: summary(fit, times = 365.25)$n.risk == 65
    s = summarise_endpoint(lung, time="time", event="dead", risk_times=[0, 365.25])
    row = s.table.iloc[0]
    assert (row["n"], row["events"], row["median"], row["lower"], row["upper"]) == (228, 165, 310, 285, 363)
    assert s.risk["all"].tolist() == [228, 65]
    assert s.logrank is None and s.cox is None


def test_lung_by_sex_reports_logrank_and_cox_with_event_counts(lung):
    # R: survdiff(Surv(time, status) ~ sex, lung): chisq 10.3; coxph: HR 0.588 (0.424-0.816)
    s = summarise_endpoint(lung, time="time", event="dead", group="sex", cox=True)
    assert s.logrank.chisq == pytest.approx(10.33, abs=0.01)
    assert s.logrank.table["events"].tolist() == [112, 53]
    cox = s.cox.table.iloc[0]
    assert cox["hazard_ratio"] == pytest.approx(0.588002818563589, rel=1e-6)
    assert (cox["lower"], cox["upper"]) == pytest.approx((0.423717830353915, 0.815984813171386), rel=1e-6)
    assert s.cox.events == 165 and (cox["group"], cox["reference"]) == ("2", "1")
    assert any("exploratory" in n for n in s.notes)


def test_few_events_are_flagged_and_not_reached_is_said():
    data = pd.DataFrame({"time": [10, 20, 30, 40], "event": [1, 0, 0, 0]})
    s = summarise_endpoint(data)
    assert s.table["median_text"].item() == "not reached (95% CI 10-not reached)"
    assert s.notes == ["all: 1 event(s) in 4 patients; the median and its CI are fragile"]


def test_missing_column_is_named():
    from tkitrack.schemas.errors import InputError

    with pytest.raises(InputError, match="column\\(s\\) days, event not found; the data has t"):
        summarise_endpoint(pd.DataFrame({"t": [1]}), time="days")


def test_response_table_has_exact_intervals():
    adrs = pd.DataFrame({
        "USUBJID": ["A", "B", "C", "D", "A", "B", "C", "D"],
        "PARAMCD": ["BOR"] * 4 + ["CBOR"] * 4,
        "AVALC": ["CR", "PR", "SD", "PD", "CR", "SD", "SD", "PD"],
    })  # fmt: skip
    table = summarise_response(adrs).set_index("measure")
    # R: binom.test(2, 4)$conf.int = 0.06758599 0.93241401
    orr = table.loc["objective response (CR+PR)"]
    assert (orr["k"], orr["n"]) == (2, 4)
    assert (orr["lower"], orr["upper"]) == pytest.approx((6.758599, 93.241401), abs=1e-4)
    assert table.loc["confirmed objective response", "k"] == 1
    assert (table.loc["complete response", "k"], table.loc["confirmed complete response", "k"]) == (1, 1)
    # R: binom.test(1, 4)$conf.int = 0.006309463 0.805879550
    assert table.loc["confirmed objective response", "labelled"] == "1/4 (25%, exact Clopper-Pearson 95% CI 1-81%)"
    # COG ADVL0912: 12/14 responses -> 86% (57-98%)
    many = pd.DataFrame({"USUBJID": [f"S{i}" for i in range(14)], "PARAMCD": "BOR",
                         "AVALC": ["CR"] * 5 + ["PR"] * 7 + ["SD"] * 2})  # fmt: skip
    assert summarise_response(many).set_index("measure").loc["objective response (CR+PR)", "text"] == (
        "12/14 (86%, 95% CI 57-98%)"
    )


def test_response_population_counts_missing_bor():
    adrs = pd.DataFrame({"USUBJID": ["A"], "PARAMCD": ["BOR"], "AVALC": ["PR"]})
    table = summarise_response(adrs, subjects=["A", "B"]).set_index("measure")
    assert table.loc["objective response (CR+PR)", "n"] == 2
    assert table.loc["best response MISSING", "k"] == 1


def test_default_risk_times_are_the_figure_ticks(lung):
    # the numbers-at-risk table and the KM figure share one tick rule (1, 2, 2.5 or 5 x 10^k steps)
    s = summarise_endpoint(lung, time="time", event="dead")
    assert s.risk["time"].tolist() == [0, 200, 400, 600, 800, 1000]
    # hand count of patients with time >= t in lung.csv
    assert s.risk["all"].tolist() == [int((lung["time"] >= t).sum()) for t in (0, 200, 400, 600, 800, 1000)]
    assert s.risk["all"].tolist()[0] == 228


def test_text_table_formats_landmarks_and_says_beyond_follow_up(lung):
    # R: summary(survfit(Surv(time, status) ~ 1, lung), times = 365.25): 0.409 (0.345, 0.486)
    s = summarise_endpoint(lung, time="time", event="dead", landmarks=[365.25, 5000])
    row = s.text_table().iloc[0]
    assert row["Median, days (95% CI)"] == "310 (95% CI 285-363)"
    assert row["At 365.25 days, % (95% CI)"] == "41% (95% CI 34-49%)"  # 0.3447 rounds to 34
    assert row["At 5000 days, % (95% CI)"] == "beyond follow-up"
    assert s.text_table(decimals=1).iloc[0]["At 365.25 days, % (95% CI)"] == "40.9% (95% CI 34.5-48.6%)"


def test_cox_without_information_still_gives_the_summary():
    # group b has no events: its hazard ratio is not estimable; everything else is still reported
    data = pd.DataFrame({"time": [5, 8, 12, 20, 7, 9, 30], "event": [1, 1, 0, 1, 0, 0, 0], "arm": list("aaaabbb")})
    s = summarise_endpoint(data, group="arm", cox=True)
    assert s.table["events"].tolist() == [3, 0]
    assert s.cox.text() == ["b vs a: HR not estimable (no events in b)"]
    assert s.logrank.df == 1
    assert "the likelihood-ratio test is not available: not every hazard ratio is estimable" in s.notes


def test_cox_more_than_two_groups_and_reference(lung):
    s = summarise_endpoint(
        lung.assign(ecog=lung["ph.ecog"]), time="time", event="dead", group="ecog", cox=True, cox_reference="1"
    )
    # labels of a float column with a gap read as whole numbers; the missing one is its own group
    assert s.table["group"].tolist() == ["0", "1", "2", "3", "missing"]
    assert s.cox.table["group"].tolist() == ["0", "2", "3", "missing"] and set(s.cox.table["reference"]) == {"1"}


def test_followup_quartiles_rmst_and_confidence_level(lung):
    # R: quantile(survfit(Surv(time, dead) ~ 1, lung, conf.int = 0.9), 0.25) and summary(..., rmean = 365): the values
    # written by tests/data/r_reference/km.R into km_lung_r.csv (R 4.2.2, survival 3.5-3)
    ref = pd.read_csv(LUNG.parents[1] / "r_reference" / "km_lung_r.csv")
    q25 = ref.query("what == 'quantile' and sex == 0 and conf_type == 'log' and conf == 0.9 and p == 0.25").iloc[0]
    rmst = ref.query("what == 'rmst' and sex == 0 and p == 365").iloc[0]
    s = summarise_endpoint(lung, time="time", event="dead", conf=0.9, median_rule="midpoint", rmst_horizon=365)
    row = s.table.iloc[0]
    assert (row["q25"], row["q25_lower"], row["q25_upper"]) == (q25["value"], q25["lower"], q25["upper"])
    assert row["rmst"] == pytest.approx(rmst["value"]) and row["rmst_se"] == pytest.approx(rmst["lower"])
    # the reverse-KM follow-up uses the same rule and level: R quantile(survfit(Surv(time, 1 - dead) ~ 1, lung,
    # conf.int = 0.9), 0.5) -> 588 (90% CI 529-840)
    assert s.followup == "588 (90% CI 529-840)"
    table = s.text_table(quartiles=True)
    assert list(table.columns) == ["Group", "Patients", "Events", "Median, days (90% CI)",
                                   "25th percentile, days (90% CI)", "75th percentile, days (90% CI)",
                                   "Restricted mean to 365 days (90% CI)"]  # fmt: skip


def test_competing_summary_by_group_with_gray_test():
    # R 4.2.2, cmprsk 2.2-11 (cuminc.R): series 2 of cuminc_input.csv, cause 1 by group: Tests stat 0.910975
    data = pd.read_csv(LUNG.parents[1] / "r_reference" / "cuminc_input.csv").query("series == 2")
    est = pd.read_csv(LUNG.parents[1] / "r_reference" / "cuminc_est_r.csv").query("series == 2 and cause == 1")
    s = summarise_competing(data, group="group", landmarks=(30, 60, 9999))
    assert s.gray.df == 2 and s.gray.stat == pytest.approx(0.910975251679898, rel=1e-9)
    a = s.table.set_index("group").loc["a"]
    want = est.query("group == 'a'").set_index("time")["est"]
    assert (a["cif_30"], a["cif_60"]) == pytest.approx((want[30], want[60]), abs=1e-12)
    assert a["cif_9999_note"] == "beyond follow-up"
    text = s.text_table()
    assert list(text.columns)[:4] == ["Group", "Patients", "Events", "Competing events"]
    assert text["At 9999 days, % (95% CI)"].tolist() == ["beyond follow-up"] * 3


def test_best_response_rows_are_all_the_response_summary_reads():
    adrs = pd.DataFrame({
        "USUBJID": ["P1", "P1", "P1", "P1", "P2", "P2", "P2"],
        "PARAMCD": ["OVR", "BOR", "CBOR", "RSP", "CBOR", "OVR", "BOR"],
        "AVALC": ["PR", "PR", "SD", "Y", "NE", "NE", "NE"],
    })  # fmt: skip
    rows = best_response_rows(adrs)
    assert rows.values.tolist() == [["P1", "BOR", "PR"], ["P1", "CBOR", "SD"], ["P2", "CBOR", "NE"],
                                    ["P2", "BOR", "NE"]]  # fmt: skip
    assert list(rows.index) == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(summarise_response(rows), summarise_response(adrs))
