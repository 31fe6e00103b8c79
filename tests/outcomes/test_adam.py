"""Tests of tkitrack.outcomes.adam: ADSL core variables against pharmaverse, ADAE flags and ADEX by hand.

``adsl_core.csv`` is pharmaverseadam's ADSL (Apache-2.0; see tests/data/pharmaverse/PROVENANCE.md).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes.adam import (
    ADTTE_PARAMS,
    derive_adae,
    derive_adam_datasets,
    derive_adex,
    derive_adsl_core,
    derive_paramn,
)
from tkitrack.outcomes.tte import derive_adam
from tkitrack.schemas.sdtm import read_sdtm

DATA = Path(__file__).resolve().parents[1] / "data" / "pharmaverse"


@pytest.fixture(scope="module")
def pharmaverse() -> dict[str, pd.DataFrame]:
    sdtm = read_sdtm(DATA / "sdtm")
    adam = derive_adam({k.lower(): sdtm[k] for k in ("DM", "DS", "EX", "RS")})
    return derive_adam_datasets(sdtm, adam)


def test_adsl_core_variables_equal_pharmaverseadam(pharmaverse):
    ours = pharmaverse["ADSL"].set_index("USUBJID")
    oracle = pd.read_csv(DATA / "adsl_core.csv", dtype=str, keep_default_na=False).set_index("USUBJID")
    assert len(ours) == len(oracle) == 306
    ours = ours.loc[oracle.index]
    for column in ("STUDYID", "SUBJID", "SITEID", "COUNTRY", "AGEU", "SEX", "RACE", "ETHNIC", "ARM", "ACTARM",
                   "TRT01P", "TRT01A", "SAFFL"):  # fmt: skip
        assert ours[column].tolist() == oracle[column].tolist(), column
    assert ours["AGE"].tolist() == oracle["AGE"].astype(float).tolist()
    assert ours["TRTSDT"].dt.strftime("%Y-%m-%d").fillna("").tolist() == oracle["TRTSDT"].tolist()
    # the 52 screen failures: no dose (SAFFL N) and ARMNRS SCREEN FAILURE, so not in the ITT population
    assert (ours["SAFFL"] == "N").sum() == 52 and (ours["ITTFL"] == "N").sum() == 52
    assert list(pharmaverse["ADSL"].columns[:5]) == ["STUDYID", "USUBJID", "SUBJID", "SITEID", "COUNTRY"]


def test_studyid_and_paramn_on_every_adrs_and_adtte_row(pharmaverse):
    for name in ("ADRS", "ADTTE"):
        frame = pharmaverse[name]
        assert (frame["STUDYID"] == "CDISCPILOT01").all() and frame.columns[0] == "STUDYID"
        assert frame.columns[frame.columns.get_loc("PARAMCD") + 1] == "PARAMN"
    tte = pharmaverse["ADTTE"].drop_duplicates("PARAMCD").set_index("PARAMCD")["PARAMN"]
    assert tte.to_dict() == {"OS": 1, "PFS": 2, "RSD": 3, "TTR": 4, "TTD": 5, "TFI": 6, "RFSSTP": 7}


def test_paramn_of_an_unknown_code_comes_after_the_known_ones():
    frame = pd.DataFrame({"USUBJID": ["A"] * 4, "PARAMCD": ["ZZZ", "PFS", "AAA", "OS"]})
    got = derive_paramn(frame, ADTTE_PARAMS)
    assert got["PARAMN"].tolist() == [len(ADTTE_PARAMS) + 2, 2, len(ADTTE_PARAMS) + 1, 1]


def _adsl(**dates) -> pd.DataFrame:
    base = {"STUDYID": "S", "USUBJID": "P1", "TRTSDT": "2020-01-10", "TRTEDT": "2020-03-01", "TRT01A": "CRIZOTINIB"}
    base |= dates
    out = pd.DataFrame([base])
    for column in ("TRTSDT", "TRTEDT"):
        out[column] = pd.to_datetime(out[column])
    return out


@pytest.mark.parametrize(
    ("onset", "trtedt", "emergent"),
    [
        pytest.param("2020-01-09", "2020-03-01", "", id="day-before-first-dose"),
        pytest.param("2020-01-10", "2020-03-01", "Y", id="first-dose-day"),
        pytest.param("2020-03-31", "2020-03-01", "Y", id="last-dose-plus-30"),
        pytest.param("2020-04-01", "2020-03-01", "", id="last-dose-plus-31"),
        pytest.param("2024-01-01", None, "Y", id="treatment-ongoing"),
        pytest.param("2020-01", "2020-03-01", "Y", id="partial-onset-in-the-first-month-is-imputed-to-trtsdt"),
        pytest.param("2019-12", "2020-03-01", "", id="partial-onset-the-month-before"),
        pytest.param("", "2020-03-01", "", id="no-onset"),
    ],
)
def test_treatment_emergent_flag(onset, trtedt, emergent):
    ae = pd.DataFrame({"USUBJID": ["P1"], "AESEQ": ["1"], "AETERM": ["Nausea"], "AEDECOD": ["Nausea"],
                       "AETOXGR": ["2"], "AESTDTC": [onset], "AEENDTC": [""]})  # fmt: skip
    out = derive_adae(ae, _adsl(TRTEDT=trtedt))
    assert out["TRTEMFL"].tolist() == [emergent]


def test_study_days_and_imputation_flags():
    ae = pd.DataFrame({"USUBJID": ["P1", "P1"], "AESEQ": ["1", "2"], "AETERM": ["Nausea", "Rash"],
                       "AETOXGR": ["1", "1"], "AESTDTC": ["2020-01-09", "2020-02"], "AEENDTC": ["2020-01", ""]})  # fmt: skip
    out = derive_adae(ae, _adsl())
    assert out["ASTDY"].tolist() == [-1, 23]  # 2020-02-01 is day 23 of a course from 2020-01-10
    assert out["ASTDTF"].fillna("").tolist() == ["", "D"]
    assert out["AENDT"].dt.strftime("%Y-%m-%d").fillna("").tolist() == ["2020-01-31", ""]
    assert out["AENDTF"].fillna("").tolist() == ["D", ""]


def test_worst_grade_flags_take_the_first_of_the_highest_grade():
    """Nausea 2 then 3 then 3 again, fatigue 3 first of all, a grade 4 rash before treatment (not emergent)."""
    ae = pd.DataFrame({
        "USUBJID": "P1", "AESEQ": ["1", "2", "3", "4", "5"],
        "AETERM": ["Nausea", "Nausea", "Nausea", "Fatigue", "Rash"], "AEDECOD": ["Nausea"] * 3 + ["Fatigue", "Rash"],
        "AETOXGR": ["2", "3", "3", "3", "4"],
        "AESTDTC": ["2020-01-15", "2020-02-01", "2020-02-10", "2020-01-12", "2020-01-01"], "AEENDTC": "",
    })  # fmt: skip
    out = derive_adae(ae, _adsl())
    assert out["TRTEMFL"].tolist() == ["Y", "Y", "Y", "Y", ""]
    assert out["AOCCIFL"].tolist() == ["", "", "", "Y", ""]  # fatigue: grade 3 on 2020-01-12, before nausea's
    assert out["AOCCPIFL"].tolist() == ["", "Y", "", "Y", ""]  # the first grade 3 within each term


def test_adex_durations_and_total():
    ex = pd.DataFrame({"USUBJID": ["P1", "P1", "P1"], "EXSEQ": ["1", "2", "3"], "EXTRT": ["CRIZOTINIB"] * 2 + ["VINBLASTINE"],
                       "EXDOSE": ["280", "200", "6"], "EXDOSU": ["mg/m2", "mg/m2", "mg/m2"], "EXDOSFRQ": "BID",
                       "EXSTDTC": ["2020-01-10", "2020-02-01", "2020-05-01"], "EXENDTC": ["2020-01-31", "2020-02-29", ""]})  # fmt: skip
    out = derive_adex(ex, _adsl())
    got = out[["EXTRT", "PARAMCD", "PARAMN", "AVAL"]].astype(str).values.tolist()
    assert got == [
        ["CRIZOTINIB", "DOSE", "1", "280.0"], ["CRIZOTINIB", "DOSE", "1", "200.0"],
        ["CRIZOTINIB", "DURD", "2", "22.0"], ["CRIZOTINIB", "DURD", "2", "29.0"],  # 10-31 Jan: 22 days; Feb 2020: 29
        ["CRIZOTINIB", "TDURD", "3", "51.0"],
        ["VINBLASTINE", "DOSE", "1", "6.0"], ["VINBLASTINE", "DURD", "2", "nan"],  # ongoing: no duration yet
        ["VINBLASTINE", "TDURD", "3", "nan"],
    ]  # fmt: skip
    assert out["ASEQ"].tolist() == list(range(1, 9)) and (out["STUDYID"] == "S").all()


def test_adsl_core_from_a_planned_arm_and_a_case_series():
    dm = pd.DataFrame({"STUDYID": "S", "USUBJID": ["P1", "P2", "P3"], "SUBJID": ["P1", "P2", "P3"], "AGE": [6, "", 3],
                       "ARM": ["Crizotinib", "CRIZOTINIB", ""], "ACTARM": ["CRIZOTINIB", "CRIZOTINIB", ""],
                       "ARMNRS": ["", "", "NOT ASSIGNED"]})  # fmt: skip
    adsl = pd.DataFrame({"USUBJID": ["P1", "P2", "P3"], "TRTSDT": pd.to_datetime(["2020-01-01", "2020-02-01", None]),
                         "DTHFL": [None, "Y", None]})  # fmt: skip
    out = derive_adsl_core(adsl, dm)
    assert out[["TRT01P", "TRT01A", "SAFFL", "ITTFL", "DTHFL"]].values.tolist() == [
        ["Crizotinib", "CRIZOTINIB", "Y", "Y", ""], ["CRIZOTINIB", "CRIZOTINIB", "Y", "Y", "Y"], ["", "", "N", "N", ""]]  # fmt: skip
    assert out["AGE"].tolist()[0] == 6 and pd.isna(out["AGE"].iloc[1])


def test_saffl_is_any_dose_of_any_drug_not_the_index_therapy():
    """DESIGN's safety population (at least one dose) and admiral's ADSL rule: EXDOSE > 0, or 0 of a placebo.
    C1 had only vinblastine (no kinase inhibitor, so no TRTSDT): in the safety population. Z1's only record is
    0 mg of crizotinib (a planned dose never given): not. P1 had 0 mg of placebo: in. N1 has no EX record."""
    dm = pd.DataFrame({"STUDYID": "S", "USUBJID": ["C1", "Z1", "P1", "N1"]})
    adsl = pd.DataFrame({"USUBJID": ["C1", "Z1", "P1", "N1"], "TRTSDT": pd.to_datetime([None, None, None, None]),
                         "DTHFL": None})  # fmt: skip
    ex = pd.DataFrame({"USUBJID": ["C1", "Z1", "P1"], "EXTRT": ["VINBLASTINE", "CRIZOTINIB", "Placebo"],
                       "EXDOSE": ["6", "0", "0"]})  # fmt: skip
    assert derive_adsl_core(adsl, dm, ex)["SAFFL"].tolist() == ["Y", "N", "Y", "N"]
    assert derive_adsl_core(adsl, dm, ex.iloc[0:0])["SAFFL"].tolist() == ["N", "N", "N", "N"]
    # without EX the first dose of the index therapy stands in
    treated = adsl.assign(TRTSDT=pd.to_datetime(["2020-01-01", None, None, None]))
    assert derive_adsl_core(treated, dm)["SAFFL"].tolist() == ["Y", "N", "N", "N"]
