"""Tests of the GF, MI, PR and CE domains: hand-worked rows out (sdtm_out_clinical) and the mapping of other
SDTM back to records (sdtm_clinical), with the rows it leaves out named by the import's reconciliation.

Every case has RFSTDTC 2019-07-01 (first crizotinib dose): 2019-06-30 is day -1, 2019-07-01 day 1 (no day 0).
"""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.reconcile import reconcile_sdtm
from tkitrack.schemas.sdtm import records_to_sdtm, sdtm_to_records
from tkitrack.schemas.sdtm_out_clinical import mi_testcd

CRIZ = {"patient_id": "P1", "drug": "crizotinib", "dose": "280", "unit": "mg/m2", "frequency": "BID",
        "start": "2019-07-01"}  # fmt: skip


def _out(**records: list[dict]) -> dict[str, pd.DataFrame]:
    raws = {"patient": pd.DataFrame([{"patient_id": "P1"}]), "exposure": pd.DataFrame([CRIZ])}
    raws |= {k: pd.DataFrame([{"patient_id": "P1", **row} for row in v]) for k, v in records.items()}
    typed = {}
    for record, raw in raws.items():
        typed[record], problems = parse_records(record, raw)
        assert problems.empty, problems.to_string()
    return records_to_sdtm(typed, study="S")


def _supp(out: dict[str, pd.DataFrame], name: str) -> list[list[str]]:
    return out[name][["IDVARVAL", "QNAM", "QVAL"]].astype(str).values.tolist()


def test_a_fusion_is_a_sequence_rearrangement_of_the_kinase_gene_with_its_partner_in_gforres():
    out = _out(molecular=[
        {"gene_5p": "STRN", "exon_5p": "3", "gene_3p": "ALK", "exon_3p": "20", "method": "RNA_NGS",
         "specimen_date": "2019-06-30", "karyotype": "t(2;17)(p23.2;q23.1)"},
        {"gene_5p_candidates": "PTRH2|CLTC", "gene_3p": "ALK", "method": "FISH", "fish_percent": "62.5",
         "specimen_date": "2019-07-01"},
    ])  # fmt: skip
    gf = out["GF"][["GFSEQ", "GFTESTCD", "GFTEST", "GFORRES", "GFSTRESC", "GFSYM", "GFGENSR", "GFMETHOD", "GFDTC",
                    "GFDY", "EPOCH"]]  # fmt: skip
    assert gf.astype(str).values.tolist() == [
        ["1", "SEQREAR", "Sequence Rearrangement", "STRN::ALK", "STRN::ALK", "ALK", "Exon 20",
         "TARGETED TRANSCRIPTOME SEQUENCING", "2019-06-30", "-1", "SCREENING"],
        ["2", "SEQREAR", "Sequence Rearrangement", "ALK REARRANGEMENT", "ALK REARRANGEMENT", "ALK", "",
         "FLUORESCENCE IN SITU HYBRIDIZATION", "2019-07-01", "1", "TREATMENT"],
    ]  # fmt: skip
    assert _supp(out, "SUPPGF") == [["2", "CAND5P", "PTRH2|CLTC"], ["1", "EXON5P", "3"], ["2", "FISHPCT", "62.5"],
                                    ["1", "KARYO", "t(2;17)(p23.2;q23.1)"]]  # fmt: skip


@pytest.mark.parametrize(
    ("date", "day"),
    [
        pytest.param("2019-06-30", "-1", id="day-before-is--1"),
        pytest.param("2019-07-01", "1", id="reference-day-is-1"),
        pytest.param("2019-07-02", "2", id="day-after-is-2"),
        pytest.param("2019-07", "<NA>", id="partial-date-no-day"),
    ],
)
def test_procedure_study_day_has_no_day_zero(date, day):
    out = _out(procedure=[{"kind": "resection", "date": date, "margin": "R1", "site": "mesentery"}])
    pr = out["PR"].iloc[0]
    assert pr[["PRTRT", "PRLOC", "PRSTDTC"]].tolist() == ["RESECTION", "mesentery", date]
    assert str(pr["PRSTDY"]) == day
    assert _supp(out, "SUPPPR") == [["1", "MARGIN", "R1"]]


def test_ihc_goes_to_mi_with_a_test_code_from_the_marker():
    long = "pan-TRK (clone EPR17341), Abcam, 1:100, automated"  # 50 characters: MITEST holds 40
    out = _out(ihc=[{"marker": "ALK D5F3", "result": "positive", "pattern": "cytoplasmic", "specimen_date": "2019-07-01"},
                    {"marker": long, "result": "focal", "specimen_date": "2019-07-02"}])  # fmt: skip
    mi = out["MI"][["MITESTCD", "MITEST", "MIORRES", "MISTRESC", "MISPEC", "MIMETHOD", "MIDY"]]
    assert mi.astype(str).values.tolist() == [
        ["ALKD5F3", "ALK D5F3", "positive", "POSITIVE", "TISSUE", "IMMUNOHISTOCHEMISTRY", "1"],
        ["PANTRKCL", "pan-TRK (clone EPR17341), Abcam, 1:100,", "focal", "FOCAL", "TISSUE", "IMMUNOHISTOCHEMISTRY", "2"],
    ]  # fmt: skip
    assert _supp(out, "SUPPMI") == [["2", "MARKER", long], ["1", "PATTERN", "cytoplasmic"]]


@pytest.mark.parametrize(
    ("marker", "code"),
    [("pan-TRK", "PANTRK"), ("S100", "S100"), ("5-HT2B", "M5HT2B"), ("desmin (D33)", "DESMIND3"), ("--", "MARKER")],
)
def test_mi_test_codes_are_sas_names(marker, code):
    assert mi_testcd(pd.Series([marker])).tolist() == [code]


def test_a_disease_event_on_the_reference_day_is_ce_day_1_with_its_site_and_how_it_was_confirmed():
    out = _out(disease_event=[{"kind": "metastasis", "date": "2019-07-01", "site": "left axilla",
                               "confirmed_by": "histology"}])  # fmt: skip
    ce = out["CE"].iloc[0]
    assert ce[["CETERM", "CEDECOD", "CECAT", "CELOC", "CESTDTC", "CESTDY"]].tolist() == [
        "METASTASIS, left axilla", "METASTASIS", "DISEASE EVENT", "left axilla", "2019-07-01", 1]  # fmt: skip
    assert _supp(out, "SUPPCE") == [["1", "CONFBY", "histology"]]


# --- other SDTM (a sponsor's): the unambiguous rows only --------------------------------------------------------


def _foreign() -> dict[str, pd.DataFrame]:
    return {
        "DM": pd.DataFrame({"STUDYID": ["X"], "USUBJID": ["X-1"]}),
        "GF": pd.DataFrame({
            "USUBJID": ["X-1", "X-1", "X-1"], "GFTESTCD": ["SEQREAR", "SNV", "SEQREAR"],
            "GFSYM": ["ALK", "BRAF", "NTRK1"], "GFORRES": ["EML4::ALK", "p.Val600Glu", "TPM3::NTRK1"],
            "GFGENSR": ["Exon 20", "Exon 15", ""], "GFMETHOD": ["FLUORESCENCE IN SITU HYBRIDIZATION", "", "NANOSTRING"],
            "GFDTC": ["2020-01-02", "2020-01-02", "2020-03"],
        }),
        "MI": pd.DataFrame({
            "USUBJID": ["X-1", "X-1"], "MITESTCD": ["ALK", "MITOSIS"], "MITEST": ["ALK Protein", "Mitotic Count"],
            "MIORRES": ["Positive", "4"], "MIMETHOD": ["IHC", "H&E"], "MIDTC": ["2020-01-02", "2020-01-02"],
        }),
        "PR": pd.DataFrame({"USUBJID": ["X-1", "X-1"], "PRTRT": ["Biopsy", "Wisdom Teeth Extraction"],
                            "PRSTDTC": ["2020-01-02", "2010-06-08"]}),
        "CE": pd.DataFrame({"USUBJID": ["X-1", "X-1"], "CETERM": ["Progressive disease", "Headache"],
                            "CEDECOD": ["DISEASE PROGRESSION", "Headache"], "CESTDTC": ["2021-05", "2021-01-01"]}),
    }  # fmt: skip


def test_other_sdtm_gives_the_records_it_maps_unambiguously():
    records = sdtm_to_records(_foreign())
    mol = records["molecular"]
    assert mol[["gene_5p", "gene_3p", "exon_3p", "method", "specimen_date", "note"]].values.tolist() == [
        ["EML4", "ALK", "20", "FISH", "2020-01-02", ""],
        ["TPM3", "NTRK1", "", "", "2020-03", "GFMETHOD 'NANOSTRING' has no tkitrack equivalent"],
    ]  # fmt: skip
    assert records["ihc"][["marker", "result", "specimen_date"]].values.tolist() == [["ALK Protein", "positive",
                                                                                       "2020-01-02"]]  # fmt: skip
    assert records["procedure"][["kind", "date", "details"]].values.tolist() == [
        ["biopsy", "2020-01-02", ""], ["other", "2010-06-08", "Wisdom Teeth Extraction"]]  # fmt: skip
    assert records["disease_event"][["kind", "date"]].values.tolist() == [["progression", "2021-05"]]


def test_the_reconciliation_names_the_rows_left_out():
    sdtm = _foreign()
    table = reconcile_sdtm(sdtm, sdtm_to_records(sdtm))
    got = {(r.file, r.outcome, r.record, r.rows) for r in table.itertuples()}
    assert {("GF", "imported", "molecular", 2), ("GF", "not imported", "", 1), ("MI", "imported", "ihc", 1),
            ("MI", "not imported", "", 1), ("PR", "imported", "procedure", 2), ("CE", "imported", "disease_event", 1),
            ("CE", "not imported", "", 1)} <= got  # fmt: skip
    reasons = table.loc[table["outcome"] == "not imported", "reason"].tolist()
    assert "1 GF rows that are not a rearrangement of a kinase gene tkitrack keeps (GFTESTCD SEQREAR, GFSYM ALK, " \
           "ROS1, NTRK1-3, ...)" in reasons  # fmt: skip


def test_a_site_over_200_bytes_is_split_for_transport_and_comes_back_whole(tmp_path):
    from tkitrack.schemas.cdisc_files import write_datasets
    from tkitrack.schemas.sdtm import read_sdtm_records

    site = "é" * 120  # 120 characters, 240 bytes in UTF-8: over the 200 bytes of a transport value
    out = _out(procedure=[{"kind": "biopsy", "date": "2019-07-01", "site": site}],
               disease_event=[{"kind": "recurrence", "date": "2020-01-01", "site": site}])  # fmt: skip
    assert [len(out[d].iloc[0][v].encode()) for d, v in (("PR", "PRLOC"), ("CE", "CELOC"))] == [200, 200]
    write_datasets(out, tmp_path, fmt="xpt", study="S", standard="SDTM")
    back = read_sdtm_records(tmp_path)
    assert back["procedure"]["site"].tolist() == [site] and back["disease_event"]["site"].tolist() == [site]
