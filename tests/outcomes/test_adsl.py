"""Tests of tkitrack.outcomes.adsl: reference dates against pharmaverse ADSL and small hand-made cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes.adsl import ADSL_COLUMNS, derive_adsl
from tkitrack.schemas.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "pharmaverse"
# Source: pharmaverse/pharmaversesdtm and pharmaverseadam (Apache-2.0), see tests/data/pharmaverse/PROVENANCE.md.


@pytest.fixture(scope="module")
def sdtm() -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(DATA / f"{name}.csv") for name in ("dm", "ds", "ex")}


@pytest.fixture(scope="module")
def oracle_adsl() -> pd.DataFrame:
    return pd.read_csv(DATA / "adsl.csv")


def test_reference_dates_equal_pharmaverse_for_all_306_subjects(sdtm, oracle_adsl):
    adsl = derive_adsl(sdtm["dm"], sdtm["ds"], sdtm["ex"], lstalvdt=oracle_adsl[["USUBJID", "LSTALVDT"]])
    merged = adsl.merge(oracle_adsl, on="USUBJID", how="outer", suffixes=("", "_oracle"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged["_merge"].value_counts().to_dict()
    assert len(merged) == 306
    counts = {}
    for column in ("RANDDT", "TRTSDT", "TRTEDT", "LSTALVDT", "DTHDT"):
        a, b = merged[column], pd.to_datetime(merged[f"{column}_oracle"])
        counts[column] = int((~((a == b) | (a.isna() & b.isna()))).sum())
    counts["DTHFL"] = int((merged["DTHFL"].fillna("") != merged["DTHFL_oracle"].fillna("")).sum())
    assert not any(counts.values()), f"mismatches per column out of 306 subjects: {counts}"


def test_output_shape_and_reference(sdtm):
    adsl = derive_adsl(sdtm["dm"], sdtm["ds"], sdtm["ex"], reference="TRTSDT")
    assert list(adsl.columns) == ["STUDYID", *ADSL_COLUMNS]
    assert adsl["REFDT"].equals(adsl["TRTSDT"])
    assert adsl["USUBJID"].tolist() == sdtm["dm"]["USUBJID"].tolist()


DM = pd.DataFrame({"USUBJID": ["A", "B"], "DTHDTC": ["2021-03", ""]})
EX = pd.DataFrame(
    {
        "USUBJID": ["A", "A", "A", "B"],
        "EXTRT": ["CRIZOTINIB", "CRIZOTINIB", "PLACEBO", "CRIZOTINIB"],
        "EXDOSE": [0.0, 200.0, 0.0, 250.0],
        "EXSTDTC": ["2020-01-01", "2020-01-10", "2020-02-01", "2020-05-01"],
        "EXENDTC": ["2020-01-09", "2020-01-31", "2020-02-20", None],
    }
)
DS = pd.DataFrame(
    {
        "USUBJID": ["A", "B", "B"],
        "DSDECOD": ["RANDOMIZED", "RANDOMIZED", "COMPLETED"],
        "DSSTDTC": ["2019-12-30", "2020-04-28", "2020-09-30"],
    }
)


def test_dose_rules_death_imputation_and_latest_known_date():
    adsl = derive_adsl(DM, DS, EX).set_index("USUBJID")
    fmt = {
        c: [None if pd.isna(d) else d.strftime("%Y-%m-%d") for d in adsl[c]]
        for c in ("RANDDT", "TRTSDT", "TRTEDT", "DTHDT", "LSTALVDT")
    }
    assert fmt == {
        "RANDDT": ["2019-12-30", "2020-04-28"],
        "TRTSDT": ["2020-01-10", "2020-05-01"],  # a zero dose of active drug is not treatment
        "TRTEDT": ["2020-02-20", None],  # a zero dose of placebo is (admiral's pilot-study rule)
        "DTHDT": ["2021-03-01", None],  # missing day imputed to the first
        "LSTALVDT": ["2021-03-01", "2020-09-30"],  # latest of DS, EX and death dates
    }
    assert adsl["DTHDTF"].fillna("").tolist() == ["D", ""]
    assert adsl["DTHFL"].fillna("").tolist() == ["Y", ""]


@pytest.mark.parametrize(
    "lstalvdt",
    [
        pytest.param(pd.DataFrame({"USUBJID": ["A", "B"], "LSTALVDT": ["2022-01-01", "2022-02-02"]}), id="frame"),
        pytest.param(pd.Series({"A": "2022-01-01", "B": "2022-02-02"}), id="series"),
        pytest.param({"A": "2022-01-01", "B": "2022-02-02"}, id="mapping"),
    ],
)
def test_supplied_last_known_alive_date_is_used(lstalvdt):
    adsl = derive_adsl(DM, DS, EX, lstalvdt=lstalvdt)
    assert adsl["LSTALVDT"].dt.strftime("%Y-%m-%d").tolist() == ["2022-01-01", "2022-02-02"]


def test_inputs_are_not_mutated():
    dm, ds, ex = DM.copy(), DS.copy(), EX.copy()
    derive_adsl(dm, ds, ex)
    pd.testing.assert_frame_equal(dm, DM)
    pd.testing.assert_frame_equal(ds, DS)
    pd.testing.assert_frame_equal(ex, EX)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"ex": EX.drop(columns="EXDOSE")}, "EXDOSE", id="missing-ex-column"),
        pytest.param({"reference": "DIAGDT"}, "RANDDT", id="unknown-reference"),
        pytest.param({"ds": DS.assign(DSSTDTC="2020-13-01")}, "DSSTDTC", id="impossible-date"),
        pytest.param({"ds": None}, "reference='TRTSDT'", id="single-arm-needs-first-dose-reference"),
    ],
)
def test_bad_input_names_the_problem(kwargs, message):
    with pytest.raises(InputError, match=message):
        derive_adsl(DM, **{"ds": DS, "ex": EX, **kwargs})


def test_a_date_that_is_no_calendar_date_is_named_by_its_row_among_repeated_dates():
    dm = pd.DataFrame({"USUBJID": ["P1", "P2"]})
    ds = pd.DataFrame({"USUBJID": ["P1", "P2", "P1"], "DSDECOD": "RANDOMIZED",
                       "DSSTDTC": ["2020-01-01", "2020-02-30", "2020-01-01"]})  # fmt: skip
    with pytest.raises(InputError, match=r"DS.DSSTDTC row 1: '2020-02-30'"):
        derive_adsl(dm, ds)
    ds.loc[1, "DSSTDTC"] = " 2020-02-03T10:00 "
    out = derive_adsl(dm, ds, reference="RANDDT")
    assert out["RANDDT"].dt.strftime("%Y-%m-%d").tolist() == ["2020-01-01", "2020-02-03"]
