"""Tests of tkitrack.schemas.sdtm_out_tumour: RS, TU, TR and their SUPP-- from tumour assessments, by hand."""

from __future__ import annotations

import pandas as pd

from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.sdtm import records_to_sdtm


def _out(assessments: list[dict]) -> dict[str, pd.DataFrame]:
    crizotinib = {"patient_id": "P1", "drug": "crizotinib", "dose": "280", "unit": "mg/m2", "frequency": "BID"}
    raws = {
        "patient": pd.DataFrame([{"patient_id": "P1", "primary_site": "mesentery"}]),
        "exposure": pd.DataFrame([{**crizotinib, "start": "2019-07-01"}]),
        "assessment": pd.DataFrame([{"patient_id": "P1", **a} for a in assessments]),
    }
    return records_to_sdtm({r: parse_records(r, f)[0] for r, f in raws.items()}, study="S")


BASE = {
    "evaluator": "INVESTIGATOR",
    "date": "2019-06-20",
    "modality": "MRI",
    "criteria": "RECIST1.1",
    "baseline": "true",
    "sum_diameters": "41.5",
}
PR = {"evaluator": "INVESTIGATOR", "date": "2019-09-01", "modality": "CT", "criteria": "RECIST1.1", "sum_diameters": "20", "target_response": "PR",
      "new_lesion": "false", "response": "PR"}  # fmt: skip
READ = {
    "date": "2019-09-01",
    "modality": "US",
    "criteria": "INVESTIGATOR",
    "response": "SD",
    "evaluator": "INDEPENDENT",
}


def test_each_assessment_is_a_link_group_of_its_rs_and_tr_rows():
    out = _out([BASE, PR, READ])
    rs = out["RS"][["RSLNKGRP", "RSTESTCD", "RSCAT", "RSORRES", "RSSTRESC", "RSEVAL", "RSDTC", "RSDY", "EPOCH"]]
    assert rs.astype(str).values.tolist() == [
        ["A2", "OVRLRESP", "RECIST 1.1", "PR", "PR", "INVESTIGATOR", "2019-09-01", "63", "TREATMENT"],
        ["A2", "TRGRESP", "RECIST 1.1", "PR", "PR", "INVESTIGATOR", "2019-09-01", "63", "TREATMENT"],
        ["A2", "NEWLPROG", "RECIST 1.1", "N", "N", "INVESTIGATOR", "2019-09-01", "63", "TREATMENT"],
        ["A3", "OVRLRESP", "INVESTIGATOR", "SD", "SD", "INDEPENDENT ASSESSOR", "2019-09-01", "63", "TREATMENT"],
    ]  # fmt: skip
    tr = out["TR"][["TRLNKGRP", "TRLNKID", "TRTESTCD", "TRORRES", "TRSTRESN", "TRMETHOD", "TRBLFL", "TRDY", "EPOCH"]]
    assert tr.astype(str).values.tolist() == [
        ["A1", "T01", "SUMDIAM", "41.5", "41.5", "MRI", "Y", "-11", "SCREENING"],
        ["A2", "T01", "SUMDIAM", "20", "20.0", "CT SCAN", "", "63", "TREATMENT"],
    ]  # fmt: skip
    tu = out["TU"].iloc[0]
    assert tu[["TULNKID", "TUTESTCD", "TUORRES", "TULOC", "TUMETHOD", "TUEVAL", "TUDTC"]].tolist() == [
        "T01", "TUMIDENT", "TARGET", "mesentery", "MRI", "INVESTIGATOR", "2019-06-20"]  # fmt: skip
    assert len(out["TU"]) == 1  # the independent read measured nothing: no target disease of its own
    # the modality of an assessment without a TR row has no SDTM variable: SUPPRS MODALITY, by link group
    supp = out["SUPPRS"]
    assert supp[["IDVAR", "IDVARVAL", "QNAM", "QVAL"]].values.tolist() == [["RSLNKGRP", "A3", "MODALITY", "US"]]


def test_a_response_outside_the_criteria_is_original_result_only():
    out = _out([{"date": "2019-09-01", "response_given": "CHECK", "criteria": "RECIST1.1"}])
    assert out["RS"][["RSTESTCD", "RSORRES", "RSSTRESC"]].values.tolist() == [["OVRLRESP", "CHECK", ""]]


def test_an_assessment_with_only_a_measurement_carries_its_qualifiers_on_tr():
    out = _out([{**BASE, "note": "baseline MRI", "constructed_dates": "date"}])
    assert out["RS"].empty and "SUPPRS" not in out
    assert out["SUPPTR"][["IDVAR", "IDVARVAL", "QNAM", "QVAL"]].values.tolist() == [
        ["TRLNKGRP", "A1", "CONSTDT", "date"], ["TRLNKGRP", "A1", "NOTE", "baseline MRI"]]  # fmt: skip
