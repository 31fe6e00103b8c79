"""ADSL reference dates (randomisation, first/last dose, last known alive, death) derived from SDTM DM, DS, EX.

The rules follow the pharmaverse admiral ADSL template for the CDISC pilot study, checked against
``pharmaverseadam::adsl``: RANDDT from the DS record with ``DSDECOD == "RANDOMIZED"``; TRTSDT / TRTEDT from the
first EXSTDTC / last EXENDTC of the EX records with a dose above zero, or a zero dose of placebo; DTHDT from
DM.DTHDTC with a missing day or month imputed to the first. LSTALVDT is supplied by the caller (ADSL derives it
from lab and vital-sign domains that SDTM inputs here may not have) or, when not supplied, taken as the latest
complete date known for the subject.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import impute_partial_dates
from tkitrack.schemas.distinct import text_codes
from tkitrack.schemas.errors import InputError

__all__ = ["ADSL_COLUMNS", "Reference", "derive_adsl"]

Reference = Literal["RANDDT", "TRTSDT"]
ADSL_COLUMNS = ("USUBJID", "RANDDT", "TRTSDT", "TRTEDT", "LSTALVDT", "DTHDT", "DTHDTF", "DTHFL", "REFDT")


def _require(frame: pd.DataFrame, columns: Iterable[str], dataset: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{dataset} has no column {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}. "
            f"Rename the column or pass a {dataset} frame in SDTM shape."
        )


def _complete_dates(values: pd.Series, column: str) -> pd.Series:
    """Dates from ISO text (partial dates and times allowed); partial dates give NaT (no imputation)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.normalize().astype("datetime64[ns]")
    found = text_codes(values)
    if found is not None:  # each distinct text read once (a missing cell, -1, is the None appended last)
        codes, distinct = found
        dates, bad = _read_complete(pd.Series(np.append(distinct, None), dtype=object))
        if not bad.any():
            return pd.Series(dates.to_numpy()[codes], index=values.index, name=values.name)
    dates, bad = _read_complete(values)  # every cell, to name the first bad row
    if bad.any():
        row = bad[bad].index[0]
        raise InputError(f"{column} row {row}: '{values.loc[row]}' is not a calendar date (YYYY-MM-DD)")
    return dates


def _read_complete(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The complete dates of ISO text (NaT otherwise), and where a YYYY-MM-DD shaped text is no calendar date."""
    text = values.astype("string").str.strip().str.slice(0, 10)
    out = pd.to_datetime(text.where(text.str.len() == 10), format="%Y-%m-%d", errors="coerce")
    bad = text.notna() & (text.str.len() == 10) & out.isna()
    return out.astype("datetime64[ns]"), bad


def _supplied_lstalvdt(lstalvdt: pd.DataFrame | pd.Series | Mapping, subjects: pd.Series) -> pd.Series:
    if isinstance(lstalvdt, pd.DataFrame):
        _require(lstalvdt, ["USUBJID", "LSTALVDT"], "lstalvdt")
        table = lstalvdt.drop_duplicates("USUBJID").set_index("USUBJID")["LSTALVDT"]
    else:
        table = pd.Series(lstalvdt)
    dates = _complete_dates(table, "LSTALVDT")
    return subjects.map(dates).astype("datetime64[ns]")


def derive_adsl(
    dm: pd.DataFrame,
    ds: pd.DataFrame | None = None,
    ex: pd.DataFrame | None = None,
    *,
    lstalvdt: pd.DataFrame | pd.Series | Mapping | None = None,
    reference: Reference = "RANDDT",
    randomized_decod: str = "RANDOMIZED",
    placebo_pattern: str = "PLACEBO",
    death_imputation: Literal["first", "last"] = "first",
    trtsdt: pd.Series | Mapping | None = None,
) -> pd.DataFrame:
    """Derive one ADSL row per DM subject with the reference dates the outcome derivations use.

    Parameters
    ----------
    dm : DataFrame
        SDTM DM: ``USUBJID`` and, optionally, ``DTHDTC`` (partial dates allowed), ``DTHFL``, ``STUDYID``.
    ds : DataFrame, optional
        SDTM DS: ``USUBJID``, ``DSDECOD``, ``DSSTDTC``. Without it RANDDT is missing.
    ex : DataFrame, optional
        SDTM EX: ``USUBJID``, ``EXTRT``, ``EXDOSE``, ``EXSTDTC``, ``EXENDTC``. Without it TRTSDT / TRTEDT are missing.
    lstalvdt : DataFrame, Series or mapping, optional
        Last known alive date per subject: a frame with ``USUBJID`` and ``LSTALVDT``, or a Series / mapping
        indexed by USUBJID. When None it is the latest complete date among DS.DSSTDTC, EX.EXSTDTC,
        EX.EXENDTC and the death date.
    reference : {"RANDDT", "TRTSDT"}
        Which date is the time origin, copied to ``REFDT``: randomisation, or first dose (single-arm series).
    randomized_decod : str
        DS.DSDECOD value of the randomisation record.
    placebo_pattern : str
        Text in EXTRT that marks placebo, whose zero doses count as treatment (admiral's pilot-study rule).
    death_imputation : {"first", "last"}
        Imputation of a missing day or month of DTHDTC; ``DTHDTF`` flags it (``D`` or ``M``).
    trtsdt : Series or mapping, optional
        First dose of the index therapy per USUBJID (a case series: the first kinase-inhibitor course, see
        :func:`~tkitrack.outcomes.courses.derive_index_therapy`); it replaces the first dose of any treatment
        as TRTSDT, so that earlier chemotherapy is prior therapy. A subject not in it has no TRTSDT.

    Returns
    -------
    DataFrame
        ``USUBJID, RANDDT, TRTSDT, TRTEDT, LSTALVDT, DTHDT, DTHDTF, DTHFL, REFDT`` (dates as datetime64),
        plus ``STUDYID`` first when DM has it; one row per DM subject in DM order.

    Examples
    --------
    >>> dm = pd.DataFrame({"USUBJID": ["P1"], "DTHDTC": [""]})
    >>> ex = pd.DataFrame({"USUBJID": ["P1"], "EXTRT": ["CRIZOTINIB"], "EXDOSE": [200.0],
    ...                    "EXSTDTC": ["2018-01-15"], "EXENDTC": ["2018-07-15"]})
    >>> derive_adsl(dm, ex=ex, reference="TRTSDT")["REFDT"].dt.strftime("%Y-%m-%d").tolist()
    ['2018-01-15']
    """
    if reference not in ("RANDDT", "TRTSDT"):
        raise InputError(f"reference '{reference}' is not known; use 'RANDDT' (randomisation) or 'TRTSDT' (first dose)")
    _require(dm, ["USUBJID"], "DM")
    if dm["USUBJID"].duplicated().any():
        dup = dm.loc[dm["USUBJID"].duplicated(), "USUBJID"].iloc[0]
        raise InputError(f"DM has more than one row for USUBJID {dup}; DM holds one row per subject")
    subjects = dm["USUBJID"].reset_index(drop=True)
    out = pd.DataFrame({"USUBJID": subjects})
    if "STUDYID" in dm.columns:
        out.insert(0, "STUDYID", dm["STUDYID"].to_numpy())

    if ds is not None:
        _require(ds, ["USUBJID", "DSDECOD", "DSSTDTC"], "DS")
        rand = ds.loc[ds["DSDECOD"] == randomized_decod, ["USUBJID", "DSSTDTC"]]
        rand_dt = _complete_dates(rand["DSSTDTC"], "DS.DSSTDTC").groupby(rand["USUBJID"]).min()
        out["RANDDT"] = subjects.map(rand_dt).astype("datetime64[ns]")
    else:
        out["RANDDT"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")

    if ex is not None:
        _require(ex, ["USUBJID", "EXTRT", "EXDOSE", "EXSTDTC", "EXENDTC"], "EX")
        dose = pd.to_numeric(ex["EXDOSE"], errors="coerce")
        placebo = ex["EXTRT"].astype("string").str.upper().str.contains(placebo_pattern.upper(), regex=False)
        treated = (dose > 0) | ((dose == 0) & placebo.fillna(False).astype(bool))
        start = _complete_dates(ex.loc[treated, "EXSTDTC"], "EX.EXSTDTC")
        end = _complete_dates(ex.loc[treated, "EXENDTC"], "EX.EXENDTC")
        ids = ex.loc[treated, "USUBJID"]
        out["TRTSDT"] = subjects.map(start.groupby(ids).min()).astype("datetime64[ns]")
        out["TRTEDT"] = subjects.map(end.groupby(ids).max()).astype("datetime64[ns]")
    else:
        out["TRTSDT"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
        out["TRTEDT"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    if trtsdt is not None:
        out["TRTSDT"] = subjects.map(pd.to_datetime(pd.Series(trtsdt), errors="coerce")).astype("datetime64[ns]")

    if "DTHDTC" in dm.columns:
        dthdt, dthdtf = impute_partial_dates(dm["DTHDTC"].reset_index(drop=True), death_imputation)
    else:
        dthdt = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
        dthdtf = pd.Series(pd.NA, index=out.index, dtype="string")
    out["DTHDT"] = dthdt.astype("datetime64[ns]").to_numpy()
    out["DTHDTF"] = pd.Series(dthdtf.to_numpy(), index=out.index, dtype="string")
    out["DTHFL"] = pd.Series(pd.NA, index=out.index, dtype="string").mask(out["DTHDT"].notna(), "Y")

    if lstalvdt is not None:
        out["LSTALVDT"] = _supplied_lstalvdt(lstalvdt, subjects)
    else:
        out["LSTALVDT"] = _latest_known_date(out, ds, ex)
    other = "TRTSDT" if reference == "RANDDT" else "RANDDT"
    if len(out) and out[reference].isna().all() and out[other].notna().any():
        raise InputError(
            f"no subject has {reference}, but some have {other}; "
            + (
                "for a single-arm series without randomisation use reference='TRTSDT'"
                if reference == "RANDDT"
                else "add EX records or use reference='RANDDT'"
            )
        )
    out["REFDT"] = out[reference]
    lead = ["STUDYID"] if "STUDYID" in out.columns else []
    return out[lead + list(ADSL_COLUMNS)]


def _latest_known_date(out: pd.DataFrame, ds: pd.DataFrame | None, ex: pd.DataFrame | None) -> pd.Series:
    """Latest complete date per subject among DS, EX and the death date (the LSTALVDT fallback)."""
    parts = [out[["USUBJID", "DTHDT"]].rename(columns={"DTHDT": "DATE"})]
    if ds is not None:
        parts.append(pd.DataFrame({"USUBJID": ds["USUBJID"], "DATE": _complete_dates(ds["DSSTDTC"], "DS.DSSTDTC")}))
    if ex is not None:
        for column in ("EXSTDTC", "EXENDTC"):
            parts.append(pd.DataFrame({"USUBJID": ex["USUBJID"], "DATE": _complete_dates(ex[column], f"EX.{column}")}))
    dates = pd.concat(parts, ignore_index=True)
    return out["USUBJID"].map(dates.groupby("USUBJID")["DATE"].max()).astype("datetime64[ns]")
