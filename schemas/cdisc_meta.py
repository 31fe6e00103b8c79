"""Metadata of the SDTM and ADaM datasets tkitrack writes: dataset labels and keys, variable labels, types,
origins and codelists (``schemas/cdisc/variables.csv``), read by the file writers and the Define-XML."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandas as pd

from tkitrack.schemas.sdtm_out_clinical import GF_METHODS
from tkitrack.schemas.vocabulary import (
    ETHNICITIES,
    FREQUENCIES,
    IHC_RESULTS,
    PROCEDURE_KINDS,
    RACES,
    countries,
)

__all__ = ["CODELISTS", "DATASETS", "Dataset", "column_metadata", "dataset_info", "order_columns", "variables"]


@dataclass(frozen=True)
class Dataset:
    """What Define-XML says of a dataset: label, class, structure, keys and whether it is SDTM or ADaM."""

    label: str
    klass: str
    structure: str
    keys: tuple[str, ...]
    standard: str  # "SDTM" or "ADaM"


DATASETS: dict[str, Dataset] = {
    "DM": Dataset("Demographics", "SPECIAL PURPOSE", "One record per subject", ("STUDYID", "USUBJID"), "SDTM"),
    "DS": Dataset("Disposition", "EVENTS", "One record per disposition status or protocol milestone per subject",
                  ("STUDYID", "USUBJID", "DSDECOD", "DSSTDTC"), "SDTM"),
    "EX": Dataset("Exposure", "INTERVENTIONS", "One record per constant dosing interval per subject",
                  ("STUDYID", "USUBJID", "EXTRT", "EXSTDTC"), "SDTM"),
    "AE": Dataset("Adverse Events", "EVENTS", "One record per adverse event per subject",
                  ("STUDYID", "USUBJID", "AEDECOD", "AESTDTC"), "SDTM"),
    "RS": Dataset("Disease Response", "FINDINGS", "One record per response assessment per time point per subject",
                  ("STUDYID", "USUBJID", "RSTESTCD", "RSEVAL", "RSDTC", "RSLNKGRP"), "SDTM"),
    "TU": Dataset("Tumor/Lesion Identification", "FINDINGS", "One record per identified tumor per evaluator per subject",
                  ("STUDYID", "USUBJID", "TUEVAL", "TULNKID"), "SDTM"),
    "TR": Dataset("Tumor/Lesion Results", "FINDINGS", "One record per tumor measurement per time point per subject",
                  ("STUDYID", "USUBJID", "TRTESTCD", "TREVAL", "TRDTC", "TRLNKGRP"), "SDTM"),
    "SS": Dataset("Subject Status", "FINDINGS", "One record per status assessment per subject",
                  ("STUDYID", "USUBJID", "SSTESTCD", "SSDTC", "SSSEQ"), "SDTM"),
    "CE": Dataset("Clinical Events", "EVENTS", "One record per disease event per subject",
                  ("STUDYID", "USUBJID", "CEDECOD", "CESTDTC"), "SDTM"),
    "GF": Dataset("Genomics Findings", "FINDINGS", "One record per genomic finding (fusion) per specimen per subject",
                  ("STUDYID", "USUBJID", "GFTESTCD", "GFSYM", "GFDTC", "GFSEQ"), "SDTM"),
    "MI": Dataset("Microscopic Findings", "FINDINGS", "One record per finding per specimen per subject",
                  ("STUDYID", "USUBJID", "MITESTCD", "MIDTC", "MISEQ"), "SDTM"),
    "PR": Dataset("Procedures", "INTERVENTIONS", "One record per recorded procedure per occurrence per subject",
                  ("STUDYID", "USUBJID", "PRTRT", "PRSTDTC", "PRSEQ"), "SDTM"),
    "VS": Dataset("Vital Signs", "FINDINGS", "One record per vital sign measurement per subject",
                  ("STUDYID", "USUBJID", "VSTESTCD", "VSDTC"), "SDTM"),
    "ADSL": Dataset("Subject-Level Analysis Dataset", "SUBJECT LEVEL ANALYSIS DATASET", "One record per subject",
                    ("STUDYID", "USUBJID"), "ADaM"),
    "ADRS": Dataset("Response Analysis Dataset", "BASIC DATA STRUCTURE",
                    "One record per subject per parameter per analysis date", ("STUDYID", "USUBJID", "PARAMCD", "ASEQ"),
                    "ADaM"),
    "ADTTE": Dataset("Time-to-Event Analysis Dataset", "BASIC DATA STRUCTURE", "One record per subject per parameter",
                     ("STUDYID", "USUBJID", "PARAMCD"), "ADaM"),
    "ADAE": Dataset("Adverse Events Analysis Dataset", "OCCURRENCE DATA STRUCTURE",
                    "One record per adverse event per subject", ("STUDYID", "USUBJID", "AESEQ"), "ADaM"),
    "ADEX": Dataset("Exposure Analysis Dataset", "BASIC DATA STRUCTURE",
                    "One record per subject per parameter per exposure record", ("STUDYID", "USUBJID", "ASEQ"), "ADaM"),
}  # fmt: skip

#: Codelists named in variables.csv: their terms (CDISC controlled terminology where CDISC has it).
CODELISTS: dict[str, tuple[str, ...]] = {
    "NY": ("N", "Y"),
    "SEX": ("F", "M", "U", "UNDIFFERENTIATED"),
    "RACE": RACES,
    "ETHNIC": ETHNICITIES,
    "AGEU": ("YEARS",),
    "EPOCH": ("SCREENING", "TREATMENT", "FOLLOW-UP"),
    "ARMNULRS": ("ASSIGNED, NOT TREATED", "NOT ASSIGNED", "SCREEN FAILURE", "UNPLANNED TREATMENT"),
    "NCOMPLT": (
        "ADVERSE EVENT",
        "COMPLETED",
        "DEATH",
        "OTHER",
        "PHYSICIAN DECISION",
        "PROGRESSIVE DISEASE",
        "RANDOMIZED",
        "WITHDRAWAL BY SUBJECT",
    ),
    "DSCAT": ("DISPOSITION EVENT", "PROTOCOL MILESTONE"),
    "UNIT": ("mg", "mg/m2", "mg/kg", "mm", "cm", "kg"),
    "FREQ": FREQUENCIES,
    "ROUTE": ("INTRAMUSCULAR", "INTRAVENOUS", "ORAL", "SUBCUTANEOUS", "TOPICAL", "TRANSDERMAL"),
    "ACN": ("DOSE NOT CHANGED", "DOSE REDUCED", "DRUG INTERRUPTED", "DRUG WITHDRAWN", "NOT APPLICABLE"),
    "OUT": (
        "FATAL",
        "NOT RECOVERED/NOT RESOLVED",
        "RECOVERED/RESOLVED",
        "RECOVERED/RESOLVED WITH SEQUELAE",
        "RECOVERING/RESOLVING",
        "UNKNOWN",
    ),
    "TOXGR": ("1", "2", "3", "4", "5"),
    "RSTESTCD": ("NEWLPROG", "NTRGRESP", "OVRLRESP", "TRGRESP"),
    "RSTEST": ("New Lesion Progression", "Non-target Response", "Overall Response", "Target Response"),
    "TUTESTCD": ("TUMIDENT",),
    "TUTEST": ("Tumor Identification",),
    "TRTESTCD": ("SUMDIAM",),
    "TRTEST": ("Sum of Diameter",),
    "METHOD": ("CT SCAN", "MRI", "PET-CT SCAN", "PHYSICAL EXAMINATION", "ULTRASOUND", "X-RAY"),
    "EVAL": ("INDEPENDENT ASSESSOR", "INVESTIGATOR"),
    "CEDECOD": ("DISEASE RECURRENCE", "DISEASE PROGRESSION", "METASTASIS"),
    "GFTESTCD": ("SEQREAR",),
    "GFTEST": ("Sequence Rearrangement",),
    "GFMETHOD": tuple(GF_METHODS.values()),
    "MISTRESC": tuple(r.upper() for r in IHC_RESULTS),
    "MISPEC": ("TISSUE",),
    "MIMETHOD": ("IMMUNOHISTOCHEMISTRY",),
    "PRTRT": tuple(k.upper() for k in PROCEDURE_KINDS),
    "SSTESTCD": ("SURVSTAT",),
    "SSTEST": ("Survival Status",),
    "SSSTRESC": ("ALIVE", "DEAD", "UNKNOWN"),
    "VSTESTCD": ("HEIGHT", "WEIGHT"),
    "VSTEST": ("Height", "Weight"),
    "DATEFL": ("D", "M", "Y"),
    "PARAMCD_ADRS": ("OVR", "BOR", "CBOR", "RSP", "CRSP", "CB", "CCB", "BCP", "CBCP", "PD", "DEATH", "LSTA"),
    "PARAMCD_ADTTE": ("OS", "PFS", "RSD", "TTR", "TTD", "TFI", "RFSSTP"),
    "PARAMCD_ADEX": ("DOSE", "DURD", "TDURD"),
}


@cache
def _table() -> pd.DataFrame:
    path = resources.files("tkitrack.schemas").joinpath("cdisc", "variables.csv")
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def dataset_info(name: str) -> Dataset:
    """The :class:`Dataset` of ``name``; SUPP-- datasets are described from their parent domain."""
    if name.startswith("SUPP"):
        parent = name[4:]
        return Dataset(f"Supplemental Qualifiers for {parent}", "RELATIONSHIP",
                       "One record per supplemental qualifier per related parent domain record",
                       ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"), "SDTM")  # fmt: skip
    if name not in DATASETS:
        raise KeyError(f"no metadata for dataset {name!r}; known: {', '.join(DATASETS)}, SUPP--")
    return DATASETS[name]


def variables(name: str) -> pd.DataFrame:
    """The declared variables of a dataset, in order: variable, label, type, origin, codelist, comment."""
    key = "SUPP" if name.startswith("SUPP") else name
    table = _table()
    return table[table["dataset"] == key].drop(columns="dataset").reset_index(drop=True)


def order_columns(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame's columns in the declared order, undeclared ones after them."""
    declared = [v for v in variables(name)["variable"] if v in frame.columns]
    return frame[declared + [c for c in frame.columns if c not in declared]]


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return "float"
    return "text"


def column_metadata(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column of ``frame`` (in its order): variable, label, type, origin, codelist, comment, declared.

    An undeclared column is described from its values (label = its name, origin Derived) and ``declared`` is
    False, so that a caller can refuse it or say so.
    """
    declared = variables(name).set_index("variable")
    rows = []
    for column in frame.columns:
        if column in declared.index:
            row = declared.loc[column]
            rows.append([column, row["label"], row["type"], row["origin"], row["codelist"], row["comment"], True])
        else:
            rows.append([column, column, _kind(frame[column]), "Derived", "", "", False])
    return pd.DataFrame(rows, columns=["variable", "label", "type", "origin", "codelist", "comment", "declared"])


@cache
def country_codes() -> tuple[str, ...]:
    """The ISO 3166-1 alpha-3 codes (codelist COUNTRY)."""
    return tuple(countries()["code"])
