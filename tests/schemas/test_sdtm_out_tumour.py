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


def test_keys_in_order_with_ties_missing_values_and_no_rows():
    from tkitrack.schemas.distinct import in_key_order as _in_order

    keys = pd.DataFrame({"p": ["A", "A", "A", "B"], "d": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-02",
                                                                          "2019-01-01"]), "i": [1, 3, 2, 1]})  # fmt: skip
    assert not _in_order(keys)  # A 2020-01-02: id 3 before 2
    assert _in_order(keys.iloc[[0, 2, 1, 3]])
    assert _in_order(keys.iloc[[0, 1, 1, 3]])  # equal keys keep their order
    assert not _in_order(keys.iloc[[3, 0]])
    assert not _in_order(keys.iloc[[0, 2, 1, 3]].assign(d=lambda k: k["d"].where(k.index != 3)))  # missing: sort
    assert _in_order(keys.iloc[:0]) and _in_order(keys.iloc[:1])


def test_rs_of_assessments_in_any_order_is_that_of_sorted_ones():
    from tkitrack.schemas.sdtm_out import records_to_sdtm as build

    later = {**PR, "date": "2019-11-01", "response": "SD", "target_response": "SD"}
    raws = {
        "patient": pd.DataFrame([{"patient_id": p, "primary_site": "mesentery"} for p in ("P1", "P2")]),
        "exposure": pd.DataFrame(
            [
                {
                    "patient_id": p,
                    "drug": "crizotinib",
                    "dose": "280",
                    "unit": "mg/m2",
                    "frequency": "BID",
                    "start": "2019-07-01",
                }
                for p in ("P1", "P2")
            ]
        ),
        "assessment": pd.DataFrame([{"patient_id": p, **a} for p in ("P2", "P1") for a in (later, PR, BASE)]),
    }
    typed = {r: parse_records(r, f)[0] for r, f in raws.items()}
    shuffled = build(typed, study="S", domains=["RS"], rs_first_rows=True)["RS"]
    typed["assessment"] = typed["assessment"].sort_values(["patient_id", "date"], kind="stable")
    ordered = build(typed, study="S", domains=["RS"], rs_first_rows=True)["RS"]
    pd.testing.assert_frame_equal(shuffled, ordered, check_exact=True)
    # per subject: the baseline has no RS row; the PR's three rows (OVRLRESP, TRGRESP, NEWLPROG) come before SD's
    assert shuffled["USUBJID"].tolist() == ["P1", "P1", "P2", "P2"] and shuffled["RSSEQ"].tolist() == [1, 4, 1, 4]
