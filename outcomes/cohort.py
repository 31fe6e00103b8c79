"""The cohort as analysed: patient attributes for grouping, ADaM from tkitrack records, endpoint tables."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tkitrack.outcomes.swimmer import Origin, SwimmerData, derive_swimmer_data
from tkitrack.outcomes.tte import derive_adam_of
from tkitrack.schemas.errors import InputError

__all__ = [
    "ENDPOINTS",
    "GROUPINGS",
    "derive_adam_from_records",
    "derive_endpoint",
    "derive_patient_attributes",
    "derive_relapse_after_cr",
    "derive_swimmer_from_records",
]

#: Patient attributes a summary can be grouped by.
GROUPINGS = ("histology", "fusion_partner", "kinase_gene", "sex", "site", "age_group")

#: Endpoints ``derive_endpoint`` knows (ADTTE PARAMCD, or the alias on the left), with what each measures.
ENDPOINTS = {
    "OS": "overall survival from day 1 (first dose of the index therapy; ADTTE OS)",
    "PFS": "progression-free survival from day 1: PD, a disease event or death (ADTTE PFS)",
    "DOR": "duration of response from the first CR/PR (ADTTE RSD)",
    "TTR": "time to response from day 1 (ADTTE TTR)",
    "TTD": "time to discontinuation of the index course, holds included (ADTTE TTD)",
    "TOT": "time on treatment: the same as TTD",
    "TFI": "treatment-free interval after discontinuing the index course (ADTTE TFI)",
    "RFSSTP": "relapse-free survival after stopping the index therapy in CR (ADTTE RFSSTP)",
    "RFS_STOP": "relapse-free survival after stopping in CR: the same as RFSSTP",
}
_PARAMCD = {"DOR": "RSD", "TOT": "TTD", "RFS_STOP": "RFSSTP"}
#: The SDTM datasets :func:`~tkitrack.outcomes.tte.derive_adam` reads (the others are not built for it).
ADAM_SDTM = ("DM", "DS", "EX", "SUPPEX", "AE", "RS", "SS", "SUPPSS", "CE")


def derive_patient_attributes(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per patient: histology, 5' fusion partner, 3' kinase gene, sex, site, age (years) and age group.

    The fusion is the first molecular finding recorded for the patient (by specimen date, then id); patients
    without one get ``not tested``. Age at diagnosis (``age_years``) is the recorded age, else diagnosis date minus
    birth date in years of 365.25 days; age groups: <2, 2-11, 12-17, 18+ years at diagnosis.
    """
    p = frames["patient"]
    out = p[["patient_id", "histology", "sex", "site"]].copy()
    m = frames.get("molecular", pd.DataFrame(columns=["patient_id", "gene_5p", "gene_3p", "specimen_date", "id"]))
    first = m.sort_values(["patient_id", "specimen_date", "id"], kind="stable").drop_duplicates("patient_id")
    out["fusion_partner"] = out["patient_id"].map(first.set_index("patient_id")["gene_5p"]).astype("object")
    out["kinase_gene"] = out["patient_id"].map(first.set_index("patient_id")["gene_3p"]).astype("object")
    tested = out["patient_id"].isin(set(first["patient_id"]))
    out["fusion_partner"] = out["fusion_partner"].where(out["fusion_partner"].notna(), None)
    out.loc[tested & out["fusion_partner"].isna(), "fusion_partner"] = "partner unknown"
    out.loc[~tested, ["fusion_partner", "kinase_gene"]] = "not tested"
    age = p["age_at_diagnosis"].where(
        p["age_at_diagnosis"].notna(), (p["diagnosis_date"] - p["birth_date"]).dt.days / 365.25
    )
    out["age_years"] = age.to_numpy(dtype="float64")
    out["age_group"] = pd.cut(age, [-0.01, 2, 12, 18, 200], right=False, labels=["<2", "2-11", "12-17", "18+"])
    out["age_group"] = out["age_group"].astype("object").where(age.notna(), "unknown")
    for col in ("histology", "sex", "site"):
        out[col] = out[col].astype("object").where(out[col].notna(), "not recorded")
    return out.reset_index(drop=True)


def derive_adam_from_records(
    frames: dict[str, pd.DataFrame],
    *,
    reference: str = "TRTSDT",
    index_drug: str | None = None,
    stop_reasons: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """ADSL, ADRS and ADTTE for tkitrack records, through their SDTM shape (the same derivation as ``--sdtm``).

    Day 1 is the first dose of the index therapy (the first kinase-inhibitor course, or of ``index_drug``); the
    last known alive date is the latest follow-up contact (SDTM SS). ``reference="RANDDT"`` uses the patients'
    randomisation dates instead. ``stop_reasons`` narrows RFSSTP (see :func:`~tkitrack.outcomes.tte.derive_adam`).
    """
    from tkitrack.schemas.sdtm import records_to_sdtm

    # RS as its first row per assessment: derive_adam reads the OVRLRESP rows (each an assessment's first) for
    # ADRS, and of the others only their dates (LSTALVDT) and criteria (RSCAT), which are the assessment's
    # the datasets handed over by name alone: derive_adam_of lets go of each once read, not at the end
    # and AE as its dates (derive_adam reads no other AE column: the last known alive date)
    sdtm = {k.lower(): v for k, v in records_to_sdtm(frames, domains=ADAM_SDTM, rs_first_rows=True,
                                                     ae_dates_only=True).items()}  # fmt: skip
    return derive_adam_of(sdtm, reference=reference, index_drug=index_drug, stop_reasons=stop_reasons)  # type: ignore[arg-type]


def derive_endpoint(
    frames: dict[str, pd.DataFrame], endpoint: str, *, adam: dict | None = None, index_drug: str | None = None
) -> pd.DataFrame:
    """One row per patient with ``patient_id, time (days), event (bool)`` for an endpoint of :data:`ENDPOINTS`
    (its ADTTE rows: time AVAL, event CNSR 0); ``adam`` when already derived, else from ``frames``."""
    key = endpoint.upper()
    if key not in ENDPOINTS:
        raise InputError(f"unknown endpoint {endpoint!r}; choose one of {', '.join(ENDPOINTS)}")
    adam = adam or derive_adam_from_records(frames, index_drug=index_drug)
    t = adam["adtte"]
    t = t[t["PARAMCD"] == _PARAMCD.get(key, key)]
    return pd.DataFrame({"patient_id": t["USUBJID"].to_numpy(), "time": t["AVAL"].to_numpy(dtype=float),
                         "event": (t["CNSR"] == 0).to_numpy()})  # fmt: skip


def derive_relapse_after_cr(cohort: pd.DataFrame) -> pd.DataFrame:
    """Competing-risks data from the CR date: ``patient_id, time, status`` (1 relapse, 2 death, 0 censored).

    ``cohort`` is :func:`tkitrack.outcomes.stopping.derive_stopping_cohort`; patients without a CR are left
    out. Time runs from the first CR to relapse, death or the last contact, in days.
    """
    c = cohort[cohort["cr_date"].notna()]
    end = c["relapse_date"].fillna(c["death_date"]).fillna(c["last_contact_date"])
    status = pd.Series(0, index=c.index)
    status[c["death_date"].notna()] = 2
    status[c["relapse_date"].notna()] = 1
    return pd.DataFrame({"patient_id": c["patient_id"], "time": (end - c["cr_date"]).dt.days.astype(float),
                         "status": status}).reset_index(drop=True)  # fmt: skip


def derive_swimmer_from_records(
    frames: dict[str, pd.DataFrame], *, origin: Origin = "diagnosis", ae_min_grade: int = 1
) -> SwimmerData:
    """Swimmer data for typed record frames, lanes carrying every attribute of :data:`GROUPINGS` for grouping."""
    attrs = derive_patient_attributes(frames)
    extra = [c for c in GROUPINGS if c not in frames["patient"].columns]
    patients = frames["patient"].merge(attrs[["patient_id", *extra]], on="patient_id", how="left")
    return derive_swimmer_data(patients, frames["exposure"], frames["assessment"], frames["disease_event"],
                               frames["procedure"], frames["followup"], frames["ae"], origin=origin,
                               ae_min_grade=ae_min_grade, group_columns=list(GROUPINGS))  # fmt: skip
