"""`tkitrack derive / survival / stopping / safety` on the database and on files, checked against oracles."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_derive_from_pharmaverse_sdtm_reproduces_the_adam_oracle(run_cli, tmp_path):
    result = run_cli("sqlite:///unused.db", "derive", "-o", str(tmp_path), "--sdtm", str(DATA / "pharmaverse" / "sdtm"),
                     "--last-alive", str(DATA / "pharmaverse" / "adsl.csv"))  # fmt: skip
    assert result.exit_code == 0, result.output
    key = ["USUBJID", "PARAMCD"]
    ours = pd.read_csv(tmp_path / "adrs.csv")
    oracle = pd.read_csv(DATA / "pharmaverse" / "adrs_onco.csv")
    params = ["BOR", "CBOR", "RSP", "CRSP"]
    merged = ours[ours["PARAMCD"].isin(params)].merge(
        oracle[oracle["PARAMCD"].isin(params)], on=key, suffixes=("", "_o")
    )
    assert len(merged) == 306 * 4
    assert (merged["AVALC"].fillna("") == merged["AVALC_o"].fillna("")).all()
    tte = pd.read_csv(tmp_path / "adtte.csv").merge(pd.read_csv(DATA / "pharmaverse" / "adtte_onco.csv"), on=key,
                                                    suffixes=("", "_o"))  # fmt: skip
    assert len(tte) == 512
    assert (tte["AVAL"] == tte["AVAL_o"]).all() and (tte["CNSR"] == tte["CNSR_o"]).all()


@pytest.mark.parametrize("fmt", ["xpt", "json", "parquet"])
def test_derive_writes_the_five_adam_datasets_in_the_chosen_format(run_cli, tmp_path, fmt):
    result = run_cli("sqlite:///unused.db", "derive", "-o", str(tmp_path), "--sdtm", str(DATA / "pharmaverse" / "sdtm"),
                     "--format", fmt)  # fmt: skip
    assert result.exit_code == 0, result.output
    names = ["adsl", "adrs", "adtte", "adae", "adex"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{n}.{fmt}" for n in names] + ["define.xml", "manifest.json"]
    )
    assert result.stdout.startswith(f"wrote adsl.{fmt} (306 rows), adrs.{fmt} (")


def test_derive_format_is_a_validated_choice(run_cli, tmp_path):
    result = run_cli(
        "sqlite:///unused.db", "derive", "-o", str(tmp_path / "x"), "--format", "banana", env={"COLUMNS": "250"}
    )
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "'banana' is not one of 'xpt', 'json', 'csv', 'parquet'" in text
    result = run_cli("sqlite:///unused.db", "derive", "--adam", str(tmp_path / "a"), "-o", str(tmp_path / "b"))
    assert result.exit_code == 2 and "--adam DIR and -o DIR both given" in result.stderr
    assert "warning: --adam DIR is deprecated and will be removed in the next release; use -o DIR" in result.stderr
    assert not any(tmp_path.iterdir())


def test_survival_on_a_csv_reproduces_r(run_cli):
    # R: survfit(Surv(time, status) ~ sex, data = lung); survdiff(...): chisq 10.3; coxph: HR 0.588 (0.424-0.816)
    result = run_cli("sqlite:///unused.db", "survival", "--csv", str(DATA / "lung" / "lung.csv"), "--time", "time",
                     "--event", "status==2", "--by", "sex", "--cox", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    rows = {r["group"]: r for r in out["summary"]}
    assert (rows["1"]["median"], rows["1"]["lower"], rows["1"]["upper"]) == (270, 212, 310)
    assert (rows["2"]["median"], rows["2"]["lower"], rows["2"]["upper"]) == (426, 348, 550)
    assert out["logrank"]["chisq"] == pytest.approx(10.33, abs=0.01) and out["logrank"]["label"] == "exploratory"
    (hr,) = out["cox"]["comparisons"]
    assert hr["hazard_ratio"] == pytest.approx(0.588002818563589, rel=1e-6) and out["cox"]["events"] == 165
    assert (hr["group"], hr["reference"], hr["estimable"]) == ("2", "1", True)
    assert out["cox"]["text"] == ["2 vs 1: HR 0.59 (95% CI 0.42-0.82), p = 0.001"]


def test_survival_table_says_not_reached_and_bad_options_exit_2(run_cli):
    lung = str(DATA / "lung" / "lung.csv")
    table = run_cli("sqlite:///unused.db", "survival", "--csv", lung, "--time", "time", "--event", "status==2")
    assert table.exit_code == 0 and "310 (95% CI 285-363)" in table.stdout
    bad = run_cli("sqlite:///unused.db", "survival", "--csv", lung, "--time", "time", "--event", "status==2",
                  "--conf-type", "probit")  # fmt: skip
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    missing = run_cli("sqlite:///unused.db", "survival", "--csv", lung, "--time", "days", "--event", "status==2")
    assert missing.exit_code == 2 and "--time 'days'" in missing.stderr


def test_survival_cox_more_than_two_groups_matches_r(run_cli, tmp_path):
    # R 4.2.2, survival 3.5-3: summary(coxph(Surv(time, status == 2) ~ factor(ph.ecog), data = lung))
    #   HR 1.446056 (0.979688-2.134434), 2.500241, 9.097324; LR 18.44455 on 3 df (cox_lung_r.csv). The one
    #   patient without ph.ecog is left out of R's model; here it is its own group "missing", so give --group
    #   a column without it.
    lung = pd.read_csv(DATA / "lung" / "lung.csv").dropna(subset=["ph.ecog"])
    ref = pd.read_csv(DATA / "r_reference" / "cox_lung_r.csv").query("model == 'ecog' and conf == 0.95")
    path = tmp_path / "lung_ecog.csv"
    lung.to_csv(path, index=False)
    result = run_cli("sqlite:///unused.db", "survival", "--csv", str(path), "--time", "time", "--event",
                         "status==2", "--by", "ph.ecog", "--cox", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    cox = json.loads(result.stdout)["cox"]
    assert [c["group"] for c in cox["comparisons"]] == ["1", "2", "3"]
    assert [c["hazard_ratio"] for c in cox["comparisons"]] == pytest.approx(ref["hazard_ratio"].tolist(), rel=1e-6)
    assert cox["likelihood_ratio"]["chisq"] == pytest.approx(ref["lr_chisq"].iloc[0], rel=1e-6)


def test_survival_cox_without_information_prints_the_summary(run_cli, tmp_path):
    # group b has no events: before, `survival --cox` exited 2 with nothing; now the HR says why it is missing
    path = tmp_path / "arms.csv"
    pd.DataFrame({"days": [5, 8, 12, 20, 7, 9, 30], "dead": [1, 1, 0, 1, 0, 0, 0], "arm": list("aaaabbb")}).to_csv(
        path, index=False
    )
    result = run_cli(
        "sqlite:///unused.db",
        "survival",
        "--csv",
        str(path),
        "--time",
        "days",
        "--event",
        "dead==1",
        "--group",
        "arm",
        "--cox",
    )  # fmt: skip (the retired spelling of --by, one release more)
    assert result.exit_code == 0, result.output
    assert "warning: --group COL is deprecated and will be removed in the next release; use --by COL" in result.stderr
    out = result.stdout
    assert "b vs a: HR not estimable (no events in b)" in out
    assert "Median, days (95% CI)" in out and "log-rank (exploratory): chi-square" in out
    assert "not every hazard ratio is estimable" in out


def test_survival_quartiles_rmst_and_confidence_level(run_cli):
    # R 4.2.2, survival 3.5-3 (km.R -> km_lung_r.csv): quantile(survfit(Surv(time, dead) ~ 1, lung,
    # conf.int = 0.9), c(0.25, 0.5, 0.75)); summary(..., rmean = 365): rmean 263.2
    ref = pd.read_csv(DATA / "r_reference" / "km_lung_r.csv")
    q = ref.query("what == 'quantile' and sex == 0 and conf_type == 'log' and conf == 0.9").set_index("p")
    result = run_cli("sqlite:///unused.db", "survival", "--csv", str(DATA / "lung" / "lung.csv"), "--time", "time",
                     "--event", "status==2", "--quartiles", "--rmst", "365", "--conf-level", "0.9",
                     "--median-rule", "midpoint")  # fmt: skip
    assert result.exit_code == 0, result.output
    for p in (0.25, 0.5, 0.75):
        assert f"{q.loc[p, 'value']:g} (90% CI {q.loc[p, 'lower']:g}-{q.loc[p, 'upper']:g})" in result.stdout
    assert "Restricted mean to 365 days (90% CI)" in result.stdout and "263 (90% CI" in result.stdout
    assert "median follow-up (reverse Kaplan-Meier), days: 588 (90% CI 529-840)" in result.stdout
    bad = run_cli("sqlite:///unused.db", "survival", "--csv", str(DATA / "lung" / "lung.csv"), "--time", "time",
                  "--event", "status==2", "--conf-level", "95")  # fmt: skip
    assert bad.exit_code == 2 and "--conf-level must lie between 0 and 1" in bad.stderr


def test_cuminc_on_a_csv_matches_cmprsk(run_cli, tmp_path):
    # R 4.2.2, cmprsk 2.2-11 (cuminc.R): series 4 by group, cause 1: Tests stat 3.183655, df 2
    data = pd.read_csv(DATA / "r_reference" / "cuminc_input.csv").query("series == 4")
    path = tmp_path / "cr.csv"
    data.to_csv(path, index=False)
    est = pd.read_csv(DATA / "r_reference" / "cuminc_est_r.csv").query("series == 4 and cause == 1 and time == 60")
    result = run_cli("sqlite:///unused.db", "cuminc", "--csv", str(path), "--time", "time", "--status", "status",
                     "--by", "group", "--landmarks", "60", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["gray_test"]["stat"] == pytest.approx(3.18365504379877, rel=1e-9) and out["gray_test"]["df"] == 2
    got = {r["group"]: r["cif_60"] for r in out["summary"]}
    assert got == pytest.approx(dict(zip(est["group"], est["est"], strict=True)), abs=1e-9)  # JSON: 10 digits
    table = run_cli("sqlite:///unused.db", "cuminc", "--csv", str(path), "--time", "time", "--status", "status",
                    "--group", "group", "--conf-type", "log")  # fmt: skip
    assert table.exit_code == 0 and "Gray's test 3.18 on 2 df, p = 0.20 (exploratory)" in table.stdout
    assert "warning: --group COL is deprecated" in table.stderr
    bad = run_cli("sqlite:///unused.db", "cuminc", "--csv", str(path), "--time", "time", "--status", "status",
                  "--conf-type", "plain", env={"COLUMNS": "250"})  # fmt: skip
    assert bad.exit_code == 2 and "'plain' is not one of 'log-log', 'log'" in " ".join(bad.stderr.split())


def test_cuminc_on_the_database(cli):
    assert cli("import", str(SAMPLE / "published")).exit_code == 0
    result = cli("cuminc", "--endpoint", "RELAPSE_AFTER_STOP", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["title"] == "Cumulative incidence of relapse from stopping the index therapy in complete response, days"
    (row,) = out["summary"]
    assert (row["n"], row["events"], row["competing"]) == (1, 0, 0)  # the letter's patient: no relapse in 4 years
    assert cli("cuminc", "--endpoint", "OS").exit_code == 2


def test_stopping_on_the_published_letter_case(cli):
    assert cli("import", str(SAMPLE / "published")).exit_code == 0
    result = cli("stopping", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["cohort"].startswith("1 patients with an index therapy; 1 analysed (in CR on it), 1 of them stopped it")
    assert out["excluded"] == []
    assert out["relapse_after_stop"]["text"] == ("relapse after stopping in CR (death competing): 1 patients, "
                                                 "0 relapses, 0 deaths without relapse")  # fmt: skip
    (stopped,) = out["stopped"]
    # the letter: CR at 4 months, stopped at 6 months, no relapse 4 years later
    assert stopped["patient_id"] == "LETTER-IMT-1" and stopped["relapse"] is False
    assert stopped["days_in_cr_before_stop"] == pytest.approx(61, abs=3)
    assert stopped["days_off_drug_followup"] >= 4 * 365
    assert out["time_varying_cox"]["n_events"] == 0 and out["time_varying_cox"]["warning"]


def test_survival_and_safety_on_the_database(cli):
    assert cli("import", str(SAMPLE / "published")).exit_code == 0
    surv = cli("survival", "--endpoint", "OS", "--format", "json")
    assert surv.exit_code == 0, surv.output
    row = json.loads(surv.stdout)["summary"][0]
    assert (row["n"], row["events"], row["median_text"]) == (1, 0, "not reached (95% CI not estimable)")
    safety = cli("safety", "--format", "json")
    assert safety.exit_code == 0
    out = json.loads(safety.stdout)
    (letter,) = [r for r in out["exposure"] if r["patient_id"] == "LETTER-IMT-1"]
    assert (letter["drug"], letter["days_on_drug"], letter["cumulative_dose_mg"]) == ("crizotinib", 182, 200 * 182)
    gait = next(r for r in out["ae_incidence"] if r["term"] == "Gait disturbance")
    assert (gait["n_any"], gait["N"]) == (1, 1)  # the safety population: only the letter's patient took a drug
    assert cli("survival", "--by", "eye_colour").exit_code == 2
    table = cli("safety")
    assert table.exit_code == 0, table.output
    out = table.stdout
    assert "Days on drug" in out and "Dose intensity (mg/m²/day)" in out and "182" in out
    for raw in ("days_on_drug", "NaT", "<NA>", "True", "False", "182.0", "n_any", "pct_"):
        assert raw not in out, raw


def test_derive_from_the_database_equals_derive_from_its_sdtm_export(cli, tmp_path):
    """One derivation: the database path and --sdtm on the database's own SDTM export give the same ADTTE rows."""
    assert cli("import", str(SAMPLE / "published")).exit_code == 0
    assert cli("derive", "-o", str(tmp_path / "db")).exit_code == 0
    assert cli("export", "--sdtm", str(tmp_path / "sdtm"), "--format", "csv").exit_code == 0
    result = cli("derive", "-o", str(tmp_path / "files"), "--sdtm", str(tmp_path / "sdtm"), "--reference", "TRTSDT")
    assert result.exit_code == 0, result.output
    db, files = (pd.read_csv(tmp_path / f / "adtte.csv") for f in ("db", "files"))
    pd.testing.assert_frame_equal(db, files)
    # the letter (first dose 2019-02-01, last 2019-08-01, last contact 2023-08-01); the disease events of
    # OUYANG-2025-2 come through CE, but that patient was never treated: no origin, no row
    assert set(db["USUBJID"]) == {"LETTER-IMT-1"}
    got = db.set_index("PARAMCD").loc[["OS", "TTD", "TFI"], ["STARTDT", "ADT", "AVAL", "CNSR"]]
    assert got.values.tolist() == [["2019-02-01", "2023-08-01", 1643, 1], ["2019-02-01", "2019-08-01", 182, 0],
                                   ["2019-08-01", "2023-08-01", 1462, 1]]  # fmt: skip


def test_cutoff_and_index_drug_on_derive_survival_and_safety(cli, tmp_path):
    assert cli("import", str(SAMPLE / "published")).exit_code == 0
    # cut off 2019-07-31, the day before the letter's last dose: the course is ongoing at the cut-off
    assert cli("derive", "-o", str(tmp_path), "--cutoff", "2019-07-31").exit_code == 0
    tte = pd.read_csv(tmp_path / "adtte.csv").set_index("PARAMCD")
    # censored at the last date the records show the patient alive: the MRI of 2019-07-01
    assert tte.loc["TTD", ["ADT", "AVAL", "CNSR"]].tolist() == ["2019-07-01", 151, 1]
    assert tte.loc["OS", ["ADT", "AVAL", "CNSR"]].tolist() == ["2019-07-01", 151, 1]
    assert "TFI" not in tte.index and "RFSSTP" not in tte.index
    surv = cli("survival", "--endpoint", "TTD", "--cutoff", "2019-08-01", "--format", "json")
    assert surv.exit_code == 0, surv.output
    assert json.loads(surv.stdout)["summary"][0]["events"] == 1  # the stop on the cut-off day is known
    none = cli("survival", "--endpoint", "OS", "--index-drug", "larotrectinib", "--format", "json")
    assert "no patient has a time for this endpoint" in none.output  # nobody took larotrectinib: no day 1, no row
    early = cli("safety", "--format", "json", "--cutoff", "2019-01-31")
    assert early.exit_code == 0 and json.loads(early.stdout)["ae_incidence"] == []
    bad = cli("derive", "-o", str(tmp_path / "x"), "--cutoff", "31/07/2019")
    assert bad.exit_code == 2 and "--cutoff must be a date YYYY-MM-DD" in bad.stderr


def test_stopping_reason_filter_cutoff_and_exclusions(cli):
    assert cli("import", str(SAMPLE / "published")).exit_code == 0
    # the letter's crizotinib was stopped for toxicity (the gait change): an elective-only analysis leaves it out
    out = json.loads(cli("stopping", "--stop-reason", "complete_response", "--format", "json").stdout)
    assert out["excluded"] == [{"patient_id": "LETTER-IMT-1", "reason": "stopped for another reason (toxicity)"}]
    assert out["stopped"] == [] and out["relapse_after_stop"]["summary"] == []
    tox = json.loads(cli("stopping", "--stop-reason", "toxicity", "--format", "json").stdout)
    assert [r["patient_id"] for r in tox["stopped"]] == ["LETTER-IMT-1"]
    # the ADTTE behind the relapse estimate is cached per stop reason: the toxicity run is not served the
    # complete_response run's (empty) RFSSTP population
    assert [r["n"] for r in tox["relapse_after_stop"]["summary"]] == [1]
    # at a cut-off before the stop the course is ongoing: nobody stopped yet
    early = json.loads(cli("stopping", "--cutoff", "2019-07-31", "--format", "json").stdout)
    assert early["stopped"] == [] and early["cohort"].startswith("1 patients with an index therapy; 1 analysed")
    bad = cli("stopping", "--stop-reason", "boredom")
    assert bad.exit_code == 2 and "--stop-reason 'boredom' is not one of" in bad.stderr


def test_stopping_a_second_time_reads_no_record(cli, monkeypatch):
    """`stopping` takes its cohort and ADaM from the derive-once cache (outcomes/cache.py): run again on the same
    data it gives the same answer without reading the records."""
    import tkitrack.schemas.store as store

    assert cli("import", str(SAMPLE / "published")).exit_code == 0
    first = cli("stopping", "--stop-reason", "toxicity", "--format", "json")
    assert first.exit_code == 0, first.output

    def unread(*args, **kwargs):
        raise AssertionError("the records were read again")

    monkeypatch.setattr(store, "read_frames", unread)
    again = cli("stopping", "--stop-reason", "toxicity", "--format", "json")
    assert again.exit_code == 0, again.output
    assert again.stdout == first.stdout
