"""Tests of tkitrack.outcomes.response_criteria and of the criteria split of derive_adrs: PERCIST (MBOR) and
iRECIST (IBOR) have their own best responses and never feed the RECIST 1.1 BOR/CBOR. Hand-worked patients."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.outcomes.response import derive_adrs
from tkitrack.outcomes.response_criteria import derive_irecist_response, derive_metabolic_response

REF = pd.Timestamp("2021-03-01")  # day 1: first dose of the index therapy
ADSL = pd.DataFrame({"USUBJID": ["P1"], "TRTSDT": [REF], "DTHDT": [pd.NaT]})


def _rs(visits: list[tuple[int, str, str]]) -> pd.DataFrame:
    """RS of P1; a visit is (days after day 1, RSCAT, response)."""
    return pd.DataFrame(
        {
            "USUBJID": "P1",
            "RSTESTCD": "OVRLRESP",
            "RSEVAL": "INVESTIGATOR",
            "RSCAT": [c for _, c, _ in visits],
            "RSSTRESC": [r for _, _, r in visits],
            "RSDTC": [(REF + pd.Timedelta(days=d)).strftime("%Y-%m-%d") for d, _, _ in visits],
            "RSSEQ": range(1, len(visits) + 1),
        }
    )


def _got(adrs: pd.DataFrame, paramcd: str) -> tuple[str, int | None]:
    row = adrs[adrs["PARAMCD"] == paramcd].iloc[0]
    return row["AVALC"], None if pd.isna(row["ADT"]) else int((row["ADT"] - REF).days)


def _adrs(visits, **kwargs) -> pd.DataFrame:
    return derive_adrs(_rs(visits), ADSL, reference_date="TRTSDT", **kwargs)


def test_percist_beside_recist_hand_worked_patient():
    """MRI read by RECIST 1.1 and PET-CT read by PERCIST on the same days (the letter's imaging, made concrete):
    PR on both reads at 4 weeks, RECIST PR again at 16 weeks while PET shows a complete metabolic response.
    RECIST: BOR PR (day 28), confirmed by the PR 84 days later (CBOR PR). PERCIST: MBOR CMR (day 112). Mixing
    the CMR into RECIST would have made neither of these (CMR is no RECIST category)."""
    visits = [(28, "RECIST 1.1", "PR"), (28, "PERCIST", "PMR"), (112, "RECIST 1.1", "PR"), (112, "PERCIST", "CMR")]
    adrs = _adrs(visits)
    assert {code: _got(adrs, code) for code in ("BOR", "CBOR", "RSP", "CRSP", "MBOR")} == {
        "BOR": ("PR", 28), "CBOR": ("PR", 28), "RSP": ("Y", 28), "CRSP": ("Y", 28), "MBOR": ("CMR", 112)}  # fmt: skip
    assert adrs.loc[adrs["PARAMCD"] == "OVR", "AVALC"].tolist() == ["PR", "PR"]
    assert adrs.loc[adrs["PARAMCD"] == "MOVR", "AVALC"].tolist() == ["PMR", "CMR"]
    assert adrs.loc[adrs["PARAMCD"] == "MBOR", "AVAL"].item() == 1.0
    assert "IBOR" not in set(adrs["PARAMCD"])  # no iRECIST record: no iRECIST parameter


@pytest.mark.parametrize(
    ("visits", "bor"),
    [
        pytest.param([(21, "PERCIST", "NE")], ("MISSING", None), id="percist-ne-does-not-make-bor-ne"),
        pytest.param([(21, "IRECIST", "NE")], ("MISSING", None), id="irecist-ne-does-not-make-bor-ne"),
        pytest.param([(50, "PERCIST", "PMD"), (60, "RECIST 1.1", "SD")], ("SD", 60), id="pmd-is-no-recist-pd"),
        pytest.param([(50, "", "PR")], ("PR", 50), id="blank-criteria-is-recist"),
        pytest.param([(50, "INVESTIGATOR", "CR")], ("CR", 50), id="investigator-call-counts"),
        pytest.param([(50, "recist1.1", "PR")], ("PR", 50), id="criteria-spelling-without-case-and-space"),
    ],
)
def test_bor_uses_recist_and_investigator_calls_only(visits, bor):
    assert _got(_adrs(visits), "BOR") == bor


def test_criteria_none_mixes_every_call_as_before():
    assert _got(_adrs([(21, "PERCIST", "NE")], criteria=None), "BOR") == ("NE", 21)


@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        pytest.param([(0, "CMR")], ("CMR", 0), id="cmr-on-day-1"),
        pytest.param([(-1, "CMR")], ("MISSING", None), id="cmr-before-day-1-not-used"),
        pytest.param([(20, "PMR"), (80, "CMR")], ("CMR", 80), id="cmr-beats-earlier-pmr"),
        pytest.param([(20, "SMD"), (41, "SMD")], ("NE", 20), id="smd-before-window-is-ne"),
        pytest.param([(20, "SMD"), (42, "SMD")], ("SMD", 42), id="smd-on-window-day"),
        pytest.param([(42, "SMD"), (70, "PMD"), (98, "CMR")], ("SMD", 42), id="pmd-ends-the-records"),
        pytest.param([(30, "PMD")], ("PMD", 30), id="pmd"),
        pytest.param([(30, "PMR"), (30, "PMD")], ("PMD", 30), id="worst-of-a-date"),
        pytest.param([], ("MISSING", None), id="no-pet-is-missing"),
    ],
)
def test_best_metabolic_response(visits, expected):
    out = derive_metabolic_response(_rs([(d, "PERCIST", r) for d, r in visits]), ADSL, reference_date="TRTSDT")
    assert _got(out, "MBOR") == expected


@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        pytest.param([(0, "iCR")], ("iCR", 0), id="icr-on-day-1"),
        pytest.param([(30, "iPR"), (90, "iCR")], ("iCR", 90), id="icr-beats-ipr"),
        pytest.param([(41, "iSD")], ("NE", 41), id="isd-before-window-is-ne"),
        pytest.param([(42, "iSD")], ("iSD", 42), id="isd-on-window-day"),
        pytest.param([(30, "iUPD"), (58, "iCPD")], ("iCPD", 30), id="icpd-dated-at-the-iupd-it-confirms"),
        pytest.param([(30, "iUPD"), (44, "NE"), (58, "iCPD")], ("iCPD", 30), id="ne-between-allowed"),
        pytest.param(
            [(14, "iSD"), (21, "iUPD"), (28, "iSD"), (35, "iUPD"), (49, "iCPD")],
            ("iCPD", 35),
            id="iupd-reset-by-isd-is-not-the-one-confirmed",
        ),
        pytest.param([(30, "iUPD")], ("iUPD", 30), id="unconfirmed-iupd"),
        pytest.param([(30, "iUPD"), (58, "iSD")], ("iSD", 58), id="isd-after-iupd-from-day-42"),
        pytest.param([(30, "iCPD"), (60, "iPR")], ("iCPD", 30), id="icpd-without-iupd-dated-itself-and-ends"),
    ],
)
def test_irecist_best_overall_response(visits, expected):
    out = derive_irecist_response(_rs([(d, "IRECIST", r) for d, r in visits]), ADSL, reference_date="TRTSDT")
    assert _got(out, "IBOR") == expected


def test_irecist_parameter_beside_recist_and_aval_codes():
    adrs = _adrs([(30, "RECIST 1.1", "PD"), (30, "IRECIST", "iUPD"), (60, "IRECIST", "iPR")])
    assert _got(adrs, "BOR") == ("PD", 30)
    assert _got(adrs, "IBOR") == ("iPR", 60)
    assert adrs.loc[adrs["PARAMCD"] == "IBOR", ["AVAL", "PARAM"]].values.tolist() == [
        [2.0, "iRECIST Best Overall Response by Investigator (confirmation not required)"]]  # fmt: skip
    assert adrs.loc[adrs["PARAMCD"] == "IOVR", "AVALC"].tolist() == ["iUPD", "iPR"]


def test_parameters_added_on_request_for_every_subject():
    adrs = _adrs([(30, "RECIST 1.1", "SD")], metabolic=True, irecist=True)
    assert _got(adrs, "MBOR") == ("MISSING", None) and _got(adrs, "IBOR") == ("MISSING", None)
    adrs = _adrs([(30, "PERCIST", "CMR")], metabolic=False)
    assert "MBOR" not in set(adrs["PARAMCD"]) and "MOVR" not in set(adrs["PARAMCD"])


def test_percist_beside_recist_from_tkitrack_records():
    """The same patient typed as tkitrack records: the assessment's criteria travel to RSCAT and split the calls."""
    from tkitrack.outcomes.cohort import derive_adam_from_records
    from tkitrack.schemas.parse import parse_records

    raw = {
        "patient": [{"patient_id": "P1", "sex": "F", "diagnosis_date": "2021-02-01", "histology": "IMT"}],
        "exposure": [{"patient_id": "P1", "drug": "crizotinib", "dose": "280", "unit": "mg/m2", "frequency": "BID",
                      "start": "2021-03-01"}],
        "assessment": [
            {"patient_id": "P1", "date": "2021-02-20", "modality": "MRI", "baseline": "true", "sum_diameters": "60"},
            {"patient_id": "P1", "date": "2021-03-29", "modality": "MRI", "criteria": "RECIST1.1",
             "sum_diameters": "40", "response": "PR"},
            {"patient_id": "P1", "date": "2021-03-29", "modality": "PET-CT", "criteria": "PERCIST", "response": "PMR"},
            {"patient_id": "P1", "date": "2021-06-21", "modality": "MRI", "criteria": "RECIST1.1",
             "sum_diameters": "30", "response": "PR"},
            {"patient_id": "P1", "date": "2021-06-21", "modality": "PET-CT", "criteria": "PERCIST", "response": "CMR"},
        ],
        "followup": [{"patient_id": "P1", "date": "2021-12-01", "vital_status": "alive", "disease_status": "AWD"}],
    }  # fmt: skip
    frames = {}
    for record, rows in raw.items():
        frames[record], problems = parse_records(record, pd.DataFrame(rows))
        assert problems.empty, problems.to_dict("records")
    adrs = derive_adam_from_records(frames)["adrs"]
    assert {code: _got(adrs, code) for code in ("BOR", "CBOR", "MBOR")} == {
        "BOR": ("PR", 28), "CBOR": ("PR", 28), "MBOR": ("CMR", 112)}  # fmt: skip
