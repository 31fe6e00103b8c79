"""SDTM CE, GF, MI and PR mapped to tkitrack disease events, molecular findings, IHC results and procedures.

tkitrack's own export (``exact``) comes back field by field (see :mod:`tkitrack.schemas.sdtm_out_clinical`).
Other SDTM is mapped only where the mapping is unambiguous; the rows left out are named, with the reason, by
:func:`left_out` (the import's reconciliation prints them):

- CE: rows whose CEDECOD is DISEASE RECURRENCE, DISEASE PROGRESSION or METASTASIS;
- GF: sequence rearrangements (GFTESTCD SEQREAR) of a kinase gene (GFSYM ALK, ROS1, NTRK1-3, ...); the 5'
  partner from GFORRES in HGNC fusion notation (``STRN::ALK``), the 3' exon from GFGENSR (``Exon 20``);
- MI: immunohistochemistry results (MIMETHOD IMMUNOHISTOCHEMISTRY or IHC) that are positive, negative, focal or
  equivocal;
- PR: every procedure; a PRTRT that is not a tkitrack kind is kind ``other`` with the PRTRT as its details.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from tkitrack.schemas.sdtm_out import DISEASE_EVENT_DECOD
from tkitrack.schemas.sdtm_out_clinical import GF_METHODS, GF_TEST
from tkitrack.schemas.sdtm_qualifiers import supp_values
from tkitrack.schemas.sdtm_records import _column, _frame, _join_notes, _mapped
from tkitrack.schemas.vocabulary import IHC_RESULTS, PROCEDURE_KINDS, vocabulary

__all__ = ["CLINICAL_DOMAINS", "clinical_from_sdtm", "left_out"]

#: Domain -> the record type it is mapped to.
CLINICAL_DOMAINS = {"CE": "disease_event", "GF": "molecular", "MI": "ihc", "PR": "procedure"}
_IHC_METHODS = ("IMMUNOHISTOCHEMISTRY", "IHC")
_WHY = {
    "CE": "that are not a disease event tkitrack keeps (CEDECOD DISEASE RECURRENCE, DISEASE PROGRESSION or METASTASIS)",
    "GF": "that are not a rearrangement of a kinase gene tkitrack keeps (GFTESTCD SEQREAR, GFSYM ALK, ROS1, NTRK1-3, ...)",
    "MI": "that are not an immunohistochemistry result tkitrack keeps (MIMETHOD IMMUNOHISTOCHEMISTRY; positive, negative, "
    "focal or equivocal)",
    "PR": "without PRTRT (the name of the procedure)",
}


def _invert(table: Mapping[str, str]) -> dict[str, str]:
    return {v: k for k, v in table.items()}


def left_out(domain: str, frame: pd.DataFrame) -> pd.Series:
    """Why each row of a CE, GF, MI or PR frame is not imported ("" when it is)."""
    if domain == "CE":
        keep = _column(frame, "CEDECOD").str.upper().isin(list(DISEASE_EVENT_DECOD.values()))
    elif domain == "GF":
        kinase = _column(frame, "GFSYM").str.upper().isin([g.upper() for g in vocabulary("kinase_gene").values])
        keep = (_column(frame, "GFTESTCD").str.upper() == GF_TEST[0]) & kinase
    elif domain == "MI":
        keep = _column(frame, "MIMETHOD").str.upper().isin(_IHC_METHODS) & _ihc_result(frame).isin(IHC_RESULTS)
    else:
        keep = _column(frame, "PRTRT") != ""
    return pd.Series("", index=frame.index).mask(~keep, _WHY[domain])


def _ihc_result(mi: pd.DataFrame) -> pd.Series:
    original = _column(mi, "MIORRES").str.lower()
    return original.mask(~original.isin(IHC_RESULTS), _column(mi, "MISTRESC").str.lower())


def _notes(exact: bool, supp: pd.DataFrame, *mapping: pd.Series) -> pd.Series:
    return supp["NOTE"] if exact or not mapping else _join_notes(*mapping, supp["NOTE"])


def _events(ce: pd.DataFrame, sdtm: Mapping[str, pd.DataFrame], exact: bool) -> pd.DataFrame:
    supp = supp_values(sdtm, "CE", ce, ["CELOC1", "CONFBY", "NOTE", "CONSTDT"], idvar="CESEQ")
    cols = {
        "patient_id": _column(ce, "USUBJID"), "kind": _column(ce, "CEDECOD").str.upper().map(_invert(DISEASE_EVENT_DECOD)),
        "date": _column(ce, "CESTDTC"), "site": _column(ce, "CELOC") + supp["CELOC1"], "confirmed_by": supp["CONFBY"],
        "note": supp["NOTE"], "constructed_dates": supp["CONSTDT"],
    }  # fmt: skip
    return _frame("disease_event", cols, ce.index)


def _molecular(gf: pd.DataFrame, sdtm: Mapping[str, pd.DataFrame], exact: bool) -> pd.DataFrame:
    names = ["CAND5P", "EXON5P", "PANEL", "FISHPCT", "SPECSRC", "VAF", "TMB", "RESMUT", "KARYO", "NOTE", "CONSTDT"]
    supp = supp_values(sdtm, "GF", gf, names, idvar="GFSEQ")
    gene_3p = _column(gf, "GFSYM")
    fusion = _column(gf, "GFORRES").str.extract(r"^(.+?)::(.+)$")  # 5'::3' (HGNC); its 3' gene must be GFSYM's
    gene_5p = fusion[0].str.strip().where(fusion[1].str.strip().str.upper() == gene_3p.str.upper()).fillna("")
    method, method_note = _mapped(_column(gf, "GFMETHOD"), _invert(GF_METHODS), "GFMETHOD")
    cols = {
        "patient_id": _column(gf, "USUBJID"), "gene_5p": gene_5p, "gene_5p_candidates": supp["CAND5P"],
        "exon_5p": supp["EXON5P"], "gene_3p": gene_3p,
        "exon_3p": _column(gf, "GFGENSR").str.extract(r"(?i)^\s*exon\s*(\d+)\s*$")[0].fillna(""),
        "method": method, "panel": supp["PANEL"], "fish_percent": supp["FISHPCT"], "specimen_date": _column(gf, "GFDTC"),
        "specimen": supp["SPECSRC"], "vaf": supp["VAF"], "tmb": supp["TMB"], "resistance_mutation": supp["RESMUT"],
        "karyotype": supp["KARYO"], "note": _notes(exact, supp, method_note), "constructed_dates": supp["CONSTDT"],
    }  # fmt: skip
    return _frame("molecular", cols, gf.index)


def _ihc(mi: pd.DataFrame, sdtm: Mapping[str, pd.DataFrame], exact: bool) -> pd.DataFrame:
    supp = supp_values(sdtm, "MI", mi, ["MARKER", "PATTERN", "SPECSRC", "NOTE", "CONSTDT"], idvar="MISEQ")
    test = _column(mi, "MITEST").mask(lambda t: t == "", _column(mi, "MITESTCD"))
    cols = {
        "patient_id": _column(mi, "USUBJID"), "marker": supp["MARKER"].mask(supp["MARKER"] == "", test),
        "result": _column(mi, "MIORRES") if exact else _ihc_result(mi), "pattern": supp["PATTERN"],
        "specimen_date": _column(mi, "MIDTC"), "specimen": supp["SPECSRC"], "note": supp["NOTE"],
        "constructed_dates": supp["CONSTDT"],
    }  # fmt: skip
    return _frame("ihc", cols, mi.index)


def _procedures(pr: pd.DataFrame, sdtm: Mapping[str, pd.DataFrame], exact: bool) -> pd.DataFrame:
    supp = supp_values(sdtm, "PR", pr, ["PRLOC1", "MARGIN", "DETAIL", "NOTE", "CONSTDT"], idvar="PRSEQ")
    name = _column(pr, "PRTRT")
    known = name.str.lower().isin(PROCEDURE_KINDS)
    details = supp["DETAIL"] if exact else _join_notes(name.where(~known, ""), supp["DETAIL"])
    cols = {
        "patient_id": _column(pr, "USUBJID"), "kind": name.str.lower().where(known | exact, "other"),
        "date": _column(pr, "PRSTDTC"), "margin": supp["MARGIN"], "site": _column(pr, "PRLOC") + supp["PRLOC1"], "details": details,
        "note": supp["NOTE"], "constructed_dates": supp["CONSTDT"],
    }  # fmt: skip
    return _frame("procedure", cols, pr.index)


_READERS = {"CE": _events, "GF": _molecular, "MI": _ihc, "PR": _procedures}


def clinical_from_sdtm(sdtm: Mapping[str, pd.DataFrame], exact: bool) -> dict[str, pd.DataFrame]:
    """Template text frames of the records in CE, GF, MI and PR (those domains that are given), by record type."""
    out = {}
    for domain, record in CLINICAL_DOMAINS.items():
        frame = sdtm.get(domain)
        if frame is None or "USUBJID" not in frame.columns:
            continue
        out[record] = _READERS[domain](frame[left_out(domain, frame) == ""], sdtm, exact)
    return out
