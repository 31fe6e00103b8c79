"""Tests for tkitrack.schemas.reconcile: every row of the pharmaverse SDTM files accounted for, exactly.

The expected counts are read off the files by hand (pandas value counts of RSEVAL, RSACPTFL, TRGRPID, TRTESTCD
in tests/data/pharmaverse/sdtm, shown in the comments) and must add up to the rows read.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tkitrack.schemas.reconcile import file_sha256, import_entry, reconcile_sdtm, reconcile_template
from tkitrack.schemas.sdtm import read_sdtm, sdtm_to_records

SDTM = Path(__file__).resolve().parents[1] / "data" / "pharmaverse" / "sdtm"
HINT = "not imported; use --evaluator ALL to keep them"
NOT_ACCEPTED = "not imported; not the accepted read ({}ACPTFL is not Y)"
NOT_SUMMED = ("of the short axis of a non-nodal lesion or the longest diameter of a nodal one: not imported; a "
              "RECIST sum does not use them")  # fmt: skip
NON_TARGET = ("of non-target lesions: not imported; tkitrack keeps the sum of the target lesions (the non-target "
              "response comes from RS NTRGRESP)")  # fmt: skip


def _raw(name: str) -> pd.DataFrame:
    return pd.read_csv(SDTM / name, dtype=str, keep_default_na=False)


def test_the_hand_counts_are_those_of_the_files():
    rs, tr = _raw("rs_onco_recist.csv"), _raw("tr_onco_recist.csv")
    assert len(rs) == 66 and rs["RSEVAL"].value_counts().to_dict() == {"INDEPENDENT ASSESSOR": 44, "INVESTIGATOR": 22}
    assert rs.groupby(["RSEVAL", "RSACPTFL"]).size().to_dict() == {("INDEPENDENT ASSESSOR", ""): 22,
                                                                   ("INDEPENDENT ASSESSOR", "Y"): 22,
                                                                   ("INVESTIGATOR", ""): 22}  # fmt: skip
    investigator = tr[tr["TREVAL"] == "INVESTIGATOR"]
    assert len(tr) == 546 and len(investigator) == 182
    assert investigator.groupby(["TRGRPID", "TRTESTCD"]).size().to_dict() == {
        ("NON-TARGET", "TUMSTATE"): 26, ("TARGET", "LDIAM"): 78, ("TARGET", "LPERP"): 78}  # fmt: skip


def _groups(evaluators: tuple[str, ...]) -> tuple[pd.DataFrame, dict]:
    domains = read_sdtm(SDTM)
    records = sdtm_to_records(domains, evaluators=evaluators)
    return reconcile_sdtm(domains, records, evaluators=evaluators), records


def _table(found: pd.DataFrame, file: str) -> list[tuple]:
    part = found[found["file"] == file]
    return sorted(zip(part["rows"], part["outcome"], part["records"].fillna(-1).astype(int), part["reason"],
                      strict=True))  # fmt: skip


def test_investigator_reads_by_default_and_the_independent_ones_said_not_imported():
    found, records = _groups(("INVESTIGATOR",))
    assert len(records["assessment"]) == 28
    assert _table(found, "rs_onco_recist.csv") == [
        (22, "merged", 28, "responses by subject, evaluator and date"),
        (44, "not imported", -1, f"44 RS rows of evaluator INDEPENDENT ASSESSOR: {HINT}"),
    ]
    assert _table(found, "tr_onco_recist.csv") == [
        (26, "not imported", -1, f"26 TR rows {NON_TARGET}"),
        (78, "merged", 28, "sum of target-lesion diameters"),
        (78, "not imported", -1, f"78 TR rows {NOT_SUMMED}"),
        (364, "not imported", -1, f"364 TR rows of evaluator INDEPENDENT ASSESSOR: {HINT}"),
    ]
    assert _table(found, "tu_onco_recist.csv") == [
        (25, "merged", 28, "lesion sites (nodal or not) and method of the sums"),
        (50, "not imported", -1, f"50 TU rows of evaluator INDEPENDENT ASSESSOR: {HINT}"),
    ]
    assert _table(found, "dm.csv") == [(306, "imported", 306, "")]
    assert _table(found, "ae.csv") == [(1191, "imported", 1191, "")]
    assert _table(found, "ex.csv") == [(591, "imported", 591, "")]
    assert _table(found, "ds.csv") == [(850, "merged", -1, "randomisation, death and last-contact dates")]


def test_every_row_of_every_file_is_accounted_for():
    for evaluators in [("INVESTIGATOR",), ("INDEPENDENT",), ("INVESTIGATOR", "INDEPENDENT")]:
        found, _ = _groups(evaluators)
        sums = found.groupby("file").agg(rows=("rows", "sum"), read=("rows_read", "first"))
        assert (sums["rows"] == sums["read"]).all(), sums
        assert {f: len(_raw(f)) for f in sums.index} == sums["read"].to_dict()


def test_all_evaluators_import_the_accepted_independent_reads():
    found, records = _groups(("INVESTIGATOR", "INDEPENDENT"))
    assert records["assessment"]["evaluator"].value_counts().to_dict() == {"INDEPENDENT": 28, "INVESTIGATOR": 28}
    assert _table(found, "rs_onco_recist.csv") == [
        (22, "not imported", -1, f"22 RS rows of evaluator INDEPENDENT ASSESSOR: {NOT_ACCEPTED.format('RS')}"),
        (44, "merged", 56, "responses by subject, evaluator and date"),
    ]
    assert _table(found, "tr_onco_recist.csv") == [
        (52, "not imported", -1, f"52 TR rows {NON_TARGET}"),
        (156, "merged", 56, "sum of target-lesion diameters"),
        (156, "not imported", -1, f"156 TR rows {NOT_SUMMED}"),
        (182, "not imported", -1, f"182 TR rows of evaluator INDEPENDENT ASSESSOR: {NOT_ACCEPTED.format('TR')}"),
    ]


def test_an_unknown_evaluator_and_an_unmapped_domain_are_named(tmp_path):
    rs = _raw("rs_onco_recist.csv").head(3).assign(RSEVAL=["INVESTIGATOR", "RADIOLOGIST", "INVESTIGATOR"])
    rs.to_csv(tmp_path / "rs.csv", index=False)
    _raw("dm.csv").to_csv(tmp_path / "dm.csv", index=False)
    pd.DataFrame({"USUBJID": ["01-701-1015"] * 2, "LBTESTCD": ["ALB", "ALT"]}).to_csv(tmp_path / "lb.csv", index=False)
    domains = read_sdtm(tmp_path)
    found = reconcile_sdtm(domains, sdtm_to_records(domains))
    assert _table(found, "rs.csv") == [
        (1, "not imported", -1, "1 RS rows of evaluator RADIOLOGIST: not imported; not an evaluator tkitrack knows "
                                "(INDEPENDENT, INDEPENDENT ASSESSOR, INVESTIGATOR)"),
        (2, "merged", 2, "responses by subject, evaluator and date"),
    ]  # fmt: skip
    assert _table(found, "lb.csv") == [(2, "not imported", -1, "2 LB rows of domain LB: not imported; not a domain "
                                                                "tkitrack maps")]  # fmt: skip


def test_the_import_entry_keeps_each_file_with_its_checksum():
    found, _ = _groups(("INVESTIGATOR",))
    entry = import_entry(found, source="site/sdtm", kind="SDTM")
    detail = json.loads(entry["new_value"])
    assert (entry["action"], entry["table_name"], entry["field"], entry["reason"]) == (
        "import", "import", "*", "import of site/sdtm (SDTM)")  # fmt: skip
    rs = next(f for f in detail["files"] if f["file"] == "rs_onco_recist.csv")
    # PROVENANCE.md: rs_onco_recist.csv is byte-identical to pharmaversesdtm's, sha256 a5aeb0a7...
    assert rs["sha256"] == "a5aeb0a783d1bdc2170df4b34d80dc19ae26d534d215c964c62b992e6eae61b5"
    assert rs == {"file": "rs_onco_recist.csv", "sha256": rs["sha256"], "rows_read": 66, "groups": [
        {"rows": 44, "outcome": "not imported", "record": "", "records": None,
         "reason": f"44 RS rows of evaluator INDEPENDENT ASSESSOR: {HINT}"},
        {"rows": 22, "outcome": "merged", "record": "assessment", "records": 28,
         "reason": "responses by subject, evaluator and date"}]}  # fmt: skip
    assert [f["file"] for f in detail["files"]] == ["ae.csv", "dm.csv", "ds.csv", "ex.csv", "rs_onco_recist.csv",
                                                    "tr_onco_recist.csv", "tu_onco_recist.csv"]  # fmt: skip


@pytest.mark.parametrize("rows", [pytest.param(0, id="empty-file"), pytest.param(3, id="three-rows")])
def test_a_template_import_is_one_record_per_row(tmp_path, rows):
    path = tmp_path / "ae.csv"
    path.write_text("patient_id\n" + "P1\n" * rows)
    raws = {"ae": pd.DataFrame({"patient_id": ["P1"] * rows})}
    found = reconcile_template(raws, {"ae": str(path)}, {"ae": rows})
    assert found.to_dict("records") == [{"file": str(path), "sha256": file_sha256(path), "rows_read": rows,
                                         "rows": rows, "outcome": "imported", "record": "ae", "records": rows,
                                         "reason": ""}]  # fmt: skip
