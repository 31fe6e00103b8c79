"""Molecular findings, IHC, procedures and disease events out as SDTMIG 3.4 GF, MI, PR and CE with SUPP--.

One SDTM row per tkitrack record, --SEQ 1, 2, ... per subject in date order, so that the SUPP-- qualifiers
point to their record with IDVAR ``--SEQ`` and :func:`~tkitrack.schemas.sdtm_clinical.clinical_from_sdtm`
gives the records back. Mapping rules, variable by variable: docs/cdisc.md and ``schemas/cdisc/variables.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tkitrack.schemas.sdtm_out import (
    DISEASE_EVENT_DECOD,
    _record_supp,
    _split,
    add_seq,
    derive_study_day,
    epoch,
    head,
    num_text,
    supp_rows,
    txt,
)

__all__ = ["GF_METHODS", "GF_TEST", "ce", "fusion_text", "gf", "mi", "mi_testcd", "pr"]

#: molecular.method -> GFMETHOD (CDISC CT METHOD, C85492).
GF_METHODS = {
    "RNA_NGS": "TARGETED TRANSCRIPTOME SEQUENCING",
    "DNA_NGS": "TARGETED GENOME SEQUENCING",
    "FISH": "FLUORESCENCE IN SITU HYBRIDIZATION",
    "WGS": "WHOLE GENOME SEQUENCING",
    "RT_PCR": "REVERSE TRANSCRIPTASE POLYMERASE CHAIN REACTION",
    "IHC_ONLY": "IMMUNOHISTOCHEMISTRY",
    "OTHER": "OTHER",
}
#: GFTESTCD, GFTEST of every molecular record (CDISC CT C181178 / C181179): a fusion is a sequence rearrangement.
GF_TEST = ("SEQREAR", "Sequence Rearrangement")


def _series(values, index: pd.Index) -> pd.Series:
    return pd.Series(txt(values), index=index)


def _finish(out: pd.DataFrame, prefix: str, dtc: str, ref: pd.DataFrame) -> pd.DataFrame:
    """--DY of the date column ``dtc`` (from RFSTDTC, no day 0), then --SEQ."""
    day = dtc[:-3] + "DY" if dtc.endswith("STDTC") else f"{prefix}DY"
    out[day] = derive_study_day(out[dtc], out["USUBJID"], ref["rfst_complete"]).array
    return add_seq(out, prefix)


def _first_piece(out: pd.DataFrame, column: str) -> pd.Series:
    """Keep the first 200 bytes of a text column in ``out``; the rest (a long site in a multi-byte script) as a
    Series for SUPP-- ``<column>1``, so that the transport limit holds and the value comes back whole."""
    pieces = _split(out[column])
    out[column] = [p[0] for p in pieces]
    return pd.Series(["".join(p[1:]) for p in pieces], index=out.index)


def fusion_text(gene_5p: pd.Series, gene_3p: pd.Series) -> np.ndarray:
    """The finding as GFORRES: ``5'::3'`` (HGNC fusion notation, ``STRN::ALK``), or ``ALK REARRANGEMENT`` when
    the 5' partner is not known."""
    five, three = txt(gene_5p), txt(gene_3p)
    return np.where(five != "", np.char.add(np.char.add(five.astype(str), "::"), three.astype(str)),
                    np.char.add(three.astype(str), " REARRANGEMENT"))  # fmt: skip


def gf(mol: pd.DataFrame, ref: pd.DataFrame, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GF (one SEQREAR row per molecular record) and SUPPGF."""
    mol = mol.sort_values(["patient_id", "specimen_date", "id"], kind="stable")
    result = fusion_text(mol["gene_5p"], mol["gene_3p"])
    exon = mol["exon_3p"].astype("Int64").astype("string")
    out = pd.DataFrame({
        **head(mol, study, "GF"), "GFREFID": "", "GFTESTCD": GF_TEST[0], "GFTEST": GF_TEST[1], "GFORRES": result,
        "GFSTRESC": result, "GFSYM": txt(mol["gene_3p"]),
        "GFGENSR": txt(("Exon " + exon).where(exon.notna())), "GFMETHOD": txt(mol["method"].map(GF_METHODS)),
        "VISITNUM": np.nan, "EPOCH": epoch(mol["specimen_date"], mol["patient_id"], ref),
        "GFDTC": txt(mol["specimen_date_dtc"]),
    })  # fmt: skip
    out = _finish(out, "GF", "GFDTC", ref)
    supp = supp_rows(out, "GF", {
        "CAND5P": ("Candidate 5' Partner Genes", _series(mol["gene_5p_candidates"], out.index)),
        "EXON5P": ("5' Partner Gene Exon", _series(mol["exon_5p"].astype("Int64").astype("string"), out.index)),
        "PANEL": ("Panel or Probe Name", _series(mol["panel"], out.index)),
        "FISHPCT": ("FISH Break-Apart Positive Nuclei (%)", pd.Series(num_text(mol["fish_percent"]), index=out.index)),
        "SPECSRC": ("Specimen Source (Primary, Relapse, ...)", _series(mol["specimen"], out.index)),
        "VAF": ("Variant Allele Fraction (%)", pd.Series(num_text(mol["vaf"]), index=out.index)),
        "TMB": ("Tumour Mutational Burden (mut/Mb)", pd.Series(num_text(mol["tmb"]), index=out.index)),
        "RESMUT": ("Resistance Mutation at Relapse", _series(mol["resistance_mutation"], out.index)),
        "KARYO": ("Karyotype or Rearrangement (ISCN)", _series(mol["karyotype"], out.index)),
        **_record_supp(mol, out.index),
    }, idvar="GFSEQ")  # fmt: skip
    return out, supp


def mi_testcd(marker: pd.Series) -> np.ndarray:
    """MITESTCD of a marker: its letters and digits in upper case, at most 8, never starting with a digit
    (``ALK D5F3`` -> ``ALKD5F3``, ``pan-TRK`` -> ``PANTRK``)."""
    code = pd.Series(txt(marker)).str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    code = code.mask(code.str.match(r"^[0-9]"), "M" + code).mask(code == "", "MARKER")
    return code.str.slice(0, 8).to_numpy()


def mi(ihc: pd.DataFrame, ref: pd.DataFrame, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MI (one immunohistochemistry result per row, MIMETHOD IMMUNOHISTOCHEMISTRY) and SUPPMI."""
    ihc = ihc.sort_values(["patient_id", "specimen_date", "id"], kind="stable")
    marker = pd.Series(txt(ihc["marker"]), index=ihc.index)
    out = pd.DataFrame({
        **head(ihc, study, "MI"), "MITESTCD": mi_testcd(marker), "MITEST": txt(marker.str.slice(0, 40).str.rstrip()),
        "MIORRES": txt(ihc["result"]), "MISTRESC": np.char.upper(txt(ihc["result"]).astype(str)),
        "MISPEC": "TISSUE", "MISPCCND": "", "MIMETHOD": "IMMUNOHISTOCHEMISTRY", "MILOBXFL": "", "VISITNUM": np.nan,
        "EPOCH": epoch(ihc["specimen_date"], ihc["patient_id"], ref), "MIDTC": txt(ihc["specimen_date_dtc"]),
    })  # fmt: skip
    out = _finish(out, "MI", "MIDTC", ref)
    supp = supp_rows(out, "MI", {
        "MARKER": ("Marker (Whole Name)", _series(marker.where(marker.str.len() > 40), out.index)),
        "PATTERN": ("Staining Pattern", _series(ihc["pattern"], out.index)),
        "SPECSRC": ("Specimen Source (Primary, Relapse, ...)", _series(ihc["specimen"], out.index)),
        **_record_supp(ihc, out.index),
    }, idvar="MISEQ")  # fmt: skip
    return out, supp


def pr(proc: pd.DataFrame, ref: pd.DataFrame, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PR (one procedure per row: PRTRT the kind, PRLOC the site) and SUPPPR."""
    proc = proc.sort_values(["patient_id", "date", "id"], kind="stable")
    out = pd.DataFrame({
        **head(proc, study, "PR"), "PRTRT": np.char.upper(txt(proc["kind"]).astype(str)), "PRLOC": txt(proc["site"]),
        "EPOCH": epoch(proc["date"], proc["patient_id"], ref), "PRSTDTC": txt(proc["date_dtc"]),
    })  # fmt: skip
    out = _finish(out, "PR", "PRSTDTC", ref)
    supp = supp_rows(out, "PR", {
        "PRLOC1": ("Location of Procedure (continued)", _first_piece(out, "PRLOC")),
        "MARGIN": ("Resection Margin", _series(proc["margin"], out.index)),
        "DETAIL": ("Procedure Details", _series(proc["details"], out.index)),
        **_record_supp(proc, out.index),
    }, idvar="PRSEQ")  # fmt: skip
    return out, supp


def ce(ev: pd.DataFrame, ref: pd.DataFrame, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disease events (recurrence, progression, metastasis) as CE, category DISEASE EVENT, CELOC the site; and
    SUPPCE (how the event was confirmed, note, constructed dates)."""
    ev = ev.sort_values(["patient_id", "date", "id"], kind="stable")
    kind = ev["kind"].astype("string").str.lower()
    site = txt(ev["site"])
    term = np.char.upper(txt(kind).astype(str))
    out = pd.DataFrame({
        **head(ev, study, "CE"), "CETERM": np.where(site != "", np.char.add(np.char.add(term, ", "),
                                                                          site.astype(str)), term),
        "CEDECOD": txt(kind.map(DISEASE_EVENT_DECOD)), "CECAT": "DISEASE EVENT", "CELOC": site,
        "EPOCH": epoch(ev["date"], ev["patient_id"], ref), "CESTDTC": txt(ev["date_dtc"]),
    })  # fmt: skip
    out["CETERM"] = [p[0] for p in _split(out["CETERM"])]
    out = _finish(out, "CE", "CESTDTC", ref)
    supp = supp_rows(out, "CE", {
        "CELOC1": ("Location of Event (continued)", _first_piece(out, "CELOC")),
        "CONFBY": ("Confirmed by", _series(ev["confirmed_by"], out.index)),
        **_record_supp(ev, out.index),
    }, idvar="CESEQ")  # fmt: skip
    return out, supp
