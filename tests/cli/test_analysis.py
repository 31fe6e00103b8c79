"""`tkitrack derive / survival / stopping / safety` on the database and on files, checked against oracles."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_derive_from_pharmaverse_sdtm_reproduces_the_adam_oracle(run_cli, tmp_path):
    result = run_cli("sqlite:///unused.db", "derive", "--adam", str(tmp_path), "--sdtm", str(DATA / "pharmaverse" / "sdtm"),
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
    result = run_cli("sqlite:///unused.db", "derive", "-o", str(tmp_path / "x"), "--format", "banana")
    assert result.exit_code == 2 and "--format must be one of xpt, json, csv, parquet, got 'banana'" in result.output
    result = run_cli("sqlite:///unused.db", "derive", "--adam", str(tmp_path / "a"), "-o", str(tmp_path / "b"))
    assert result.exit_code == 2 and "two folders given" in result.output
    assert not any(tmp_path.iterdir())


def test_survival_on_a_csv_reproduces_r(run_cli):
    # R: survfit(Surv(time, status) ~ sex, data = lung); survdiff(...): chisq 10.3; coxph: HR 0.588 (0.424-0.816)
    result = run_cli("sqlite:///unused.db", "survival", "--csv", str(DATA / "lung" / "lung.csv"), "--time", "time",
                     "--event", "status==2", "--group", "sex", "--cox", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    rows = {r["group"]: r for r in out["summary"]}
    assert (rows["1"]["median"], rows["1"]["lower"], rows["1"]["upper"]) == (270, 212, 310)
    assert (rows["2"]["median"], rows["2"]["lower"], rows["2"]["upper"]) == (426, 348, 550)
    assert out["logrank"]["chisq"] == pytest.approx(10.33, abs=0.01) and out["logrank"]["label"] == "exploratory"
    assert out["cox"][0]["hazard_ratio"] == pytest.approx(0.588, abs=0.001) and out["cox"][0]["events"] == 165


def test_survival_table_says_not_reached_and_bad_options_exit_2(run_cli):
    lung = str(DATA / "lung" / "lung.csv")
    table = run_cli("sqlite:///unused.db", "survival", "--csv", lung, "--time", "time", "--event", "status==2")
    assert table.exit_code == 0 and "310 (95% CI 285-363)" in table.stdout
    bad = run_cli("sqlite:///unused.db", "survival", "--csv", lung, "--time", "time", "--event", "status==2",
                  "--conf-type", "probit")  # fmt: skip
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    missing = run_cli("sqlite:///unused.db", "survival", "--csv", lung, "--time", "days", "--event", "status==2")
    assert missing.exit_code == 2 and "--time 'days'" in missing.stderr


def test_stopping_on_the_published_letter_case(cli):
    assert cli("import", str(SAMPLE / "published")).exit_code == 0
    result = cli("stopping", "--format", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["cohort"].startswith("1 patients reached CR on an inhibitor; 1 stopped it")
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
    assert (row["n"], row["events"], row["median_text"]) == (1, 0, "not reached (95% CI not reached-not reached)")
    safety = cli("safety", "--format", "json")
    assert safety.exit_code == 0
    out = json.loads(safety.stdout)
    (letter,) = [r for r in out["exposure"] if r["patient_id"] == "LETTER-IMT-1"]
    assert (letter["drug"], letter["days_on_drug"], letter["cumulative_dose_mg"]) == ("crizotinib", 182, 200 * 182)
    gait = next(r for r in out["ae_incidence"] if r["term"] == "Gait disturbance")
    assert (gait["n_any"], gait["N"]) == (1, 7)
    assert cli("survival", "--by", "eye_colour").exit_code == 2
