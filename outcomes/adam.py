"""ADaM for submission: ADSL core variables, STUDYID and PARAMN on ADRS / ADTTE, and ADAE and ADEX.

A layer applied after the outcome derivations (``derive_adam``): it adds what a submission needs and never
changes a derived value. The rules follow the pharmaverse admiral templates (ADSL, ADAE, ADEX), checked against
``pharmaverseadam::adsl``: TRT01P = ARM, TRT01A = ACTARM; SAFFL Y when the subject received any dose of any drug
(an EX record with EXDOSE > 0, or a placebo at 0: admiral's template; DESIGN's safety population), else N; treatment-emergent as ``derive_var_trtemfl(end_window = 30)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import read_partial_dates
from tkitrack.schemas.errors import InputError

__all__ = [
    "ADRS_PARAMS",
    "ADTTE_PARAMS",
    "derive_adae",
    "derive_adam_datasets",
    "derive_adex",
    "derive_adsl_core",
    "derive_paramn",
    "derive_studyid",
]

#: PARAMN of each known response parameter, in this order; others follow, alphabetically.
ADRS_PARAMS = ("OVR", "BOR", "CBOR", "RSP", "CRSP", "CB", "CCB", "BCP", "CBCP", "PD", "DEATH", "LSTA")
#: PARAMN of each known time-to-event parameter, in this order; others follow, alphabetically.
ADTTE_PARAMS = ("OS", "PFS", "RSD", "TTR", "TTD", "TFI", "RFSSTP")
#: ADEX parameters: per record, and per subject and drug.
ADEX_PARAMS = {"DOSE": "Dose per Administration", "DURD": "Duration of Interval (days)",
               "TDURD": "Total Duration of Exposure (days)"}  # fmt: skip
_ADSL_LEAD = ("STUDYID", "USUBJID", "SUBJID", "SITEID", "COUNTRY", "AGE", "AGEU", "SEX", "RACE", "ETHNIC", "ARM",
              "ACTARM", "TRT01P", "TRT01A", "TRTSDT", "TRTEDT", "RANDDT", "SAFFL", "ITTFL", "DTHFL", "DTHDT", "DTHDTF",
              "LSTALVDT")  # fmt: skip


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series("", index=frame.index, dtype="object")
    return frame[name].astype("object").where(frame[name].notna(), "").astype(str).str.strip()


def derive_adsl_core(adsl: pd.DataFrame, dm: pd.DataFrame, ex: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add the ADSL core variables from SDTM DM and the derived dates.

    Parameters
    ----------
    adsl : DataFrame
        ADSL from :func:`~tkitrack.outcomes.adsl.derive_adsl` (USUBJID, TRTSDT, ... as datetime64).
    dm : DataFrame
        SDTM DM: STUDYID, USUBJID, SUBJID, SITEID, AGE, AGEU, SEX, RACE, ETHNIC, COUNTRY, ARM, ACTARM, ARMNRS.
    ex : DataFrame, optional
        SDTM EX (USUBJID, EXTRT, EXDOSE): the doses that make a subject part of the safety population. Without
        it, a first dose of the index therapy (TRTSDT) stands in.

    Returns
    -------
    DataFrame
        One row per ADSL subject: the core variables first (STUDYID ... LSTALVDT), then any other column of
        ``adsl``. TRT01P = ARM, TRT01A = ACTARM; SAFFL = Y when the subject received a dose of any drug (EXDOSE
        > 0, or 0 of a placebo, as admiral's ADSL template; a patient given only chemotherapy before any kinase
        inhibitor is in the safety population although TRTSDT is empty), else N; ITTFL = Y when
        an arm was assigned (ARM given and no ARMNRS), else N; AGE numeric (years).
    """
    if "USUBJID" not in dm.columns:
        raise InputError(f"DM has no USUBJID column; it has {', '.join(map(str, dm.columns))}")
    info = dm.drop_duplicates("USUBJID").set_index(_col(dm.drop_duplicates("USUBJID"), "USUBJID"))
    ids = adsl["USUBJID"].astype(str)
    out = adsl.copy()
    for name in ("STUDYID", "SUBJID", "SITEID", "COUNTRY", "AGEU", "SEX", "RACE", "ETHNIC", "ARM", "ACTARM"):
        out[name] = ids.map(_col(info, name)).fillna("").to_numpy()
    out["AGE"] = pd.to_numeric(ids.map(_col(info, "AGE")), errors="coerce").to_numpy()
    out["TRT01P"], out["TRT01A"] = out["ARM"], out["ACTARM"]
    out["SAFFL"] = np.where(_dosed(ex, ids) if ex is not None else out["TRTSDT"].notna(), "Y", "N")
    assigned = (out["ARM"] != "") & (ids.map(_col(info, "ARMNRS")).fillna("") == "").to_numpy()
    out["ITTFL"] = np.where(assigned, "Y", "N")
    out["DTHFL"] = out["DTHFL"].astype("object").where(out["DTHFL"].notna(), "")
    lead = [c for c in _ADSL_LEAD if c in out.columns]
    return out[lead + [c for c in out.columns if c not in lead]]


def _dosed(ex: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    """Whether each subject of ``ids`` has an EX dose: EXDOSE > 0, or EXDOSE = 0 of a placebo (admiral)."""
    if not len(ex):
        return np.zeros(len(ids), dtype=bool)
    dose = pd.to_numeric(_col(ex, "EXDOSE"), errors="coerce")
    placebo = _col(ex, "EXTRT").astype("string").str.upper().str.contains("PLACEBO", regex=False).fillna(False)
    given = (dose > 0) | ((dose == 0) & placebo)
    return ids.isin(set(_col(ex, "USUBJID").astype(str)[given.fillna(False).to_numpy()])).to_numpy()


def derive_studyid(frame: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """STUDYID of every row from ADSL (by USUBJID), as the first column."""
    out = frame.drop(columns="STUDYID", errors="ignore")
    study = out["USUBJID"].map(adsl.drop_duplicates("USUBJID").set_index("USUBJID")["STUDYID"])
    out.insert(0, "STUDYID", study.fillna("").to_numpy())
    return out


def derive_paramn(frame: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """PARAMN after PARAMCD: the position of PARAMCD in ``order`` (1-based), other codes after, alphabetically."""
    known = {code: n for n, code in enumerate(order, 1)}
    others = sorted(set(frame["PARAMCD"]) - set(known))
    known |= {code: len(order) + n for n, code in enumerate(others, 1)}
    out = frame.drop(columns="PARAMN", errors="ignore")
    out.insert(out.columns.get_loc("PARAMCD") + 1, "PARAMN", out["PARAMCD"].map(known).astype("int64"))
    return out


def _dates(values: pd.Series, rule: str) -> tuple[pd.Series, pd.Series]:
    _, imputed, flag = read_partial_dates(values.astype("string"), rule)  # type: ignore[arg-type]
    return imputed.astype("datetime64[ns]"), flag


def _onset(values: pd.Series, trtsdt: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Start dates imputed to the first day, or to TRTSDT when the partial period holds it (admiral's
    ``derive_vars_dt(highest_imputation = "M", min_dates = TRTSDT)``): an onset in the month treatment began
    is not placed before it."""
    first, flag = _dates(values, "first")
    last, _ = _dates(values, "last")
    holds = flag.notna() & (first < trtsdt) & (trtsdt <= last)
    return first.mask(holds.fillna(False), trtsdt), flag


def _study_day(dates: pd.Series, start: pd.Series) -> pd.Series:
    diff = (dates - start).dt.days
    return (diff + (diff >= 0).astype("int64")).astype("Int64")


def derive_adae(ae: pd.DataFrame, adsl: pd.DataFrame, *, end_window: int = 30) -> pd.DataFrame:
    """ADAE: SDTM AE with analysis dates, grade, the treatment-emergent flag and the worst-grade flags.

    Parameters
    ----------
    ae : DataFrame
        SDTM AE (USUBJID, AESEQ, AETERM, AEDECOD, AEBODSYS, AETOXGR, AESER, AEREL, AEACN, AEOUT, AESTDTC, AEENDTC).
    adsl : DataFrame
        ADSL with STUDYID, USUBJID, TRTSDT, TRTEDT, TRT01A, SAFFL.
    end_window : int
        Days after the last dose during which an onset is still treatment-emergent.

    Returns
    -------
    DataFrame
        ASTDT / AENDT imputed (first / last day of a partial month or year, a start not before TRTSDT when the
        partial period holds it; ASTDTF / AENDTF say so), ASTDY /
        AENDY from TRTSDT, ATOXGR / ATOXGRN, TRTEMFL = Y when TRTSDT <= ASTDT <= TRTEDT + ``end_window`` (no
        TRTEDT while treatment is ongoing), AOCCIFL = Y on the subject's first treatment-emergent AE of the
        highest grade, AOCCPIFL = Y on the first of the highest grade within each AEDECOD (AETERM when not coded).
    """
    base = adsl.drop_duplicates("USUBJID").set_index("USUBJID")
    out = pd.DataFrame({"STUDYID": "", "USUBJID": _col(ae, "USUBJID")}, index=ae.index)
    for name in ("AESEQ", "AETERM", "AEDECOD", "AEBODSYS", "AESER", "AEREL", "AEACN", "AEOUT", "AESTDTC", "AEENDTC"):
        out[name] = _col(ae, name)
    out["AESEQ"] = pd.to_numeric(out["AESEQ"], errors="coerce").astype("Int64")
    out = derive_studyid(out, adsl)
    out["TRTA"] = out["USUBJID"].map(_col(base, "TRT01A")).fillna("")
    trtsdt = out["USUBJID"].map(base["TRTSDT"]).astype("datetime64[ns]")
    trtedt = out["USUBJID"].map(base["TRTEDT"]).astype("datetime64[ns]")
    out["ASTDT"], out["ASTDTF"] = _onset(out["AESTDTC"], trtsdt)
    out["AENDT"], out["AENDTF"] = _dates(out["AEENDTC"], "last")
    out["ASTDY"] = _study_day(out["ASTDT"], trtsdt)
    out["AENDY"] = _study_day(out["AENDT"], trtsdt)
    out["ATOXGR"] = _col(ae, "AETOXGR")
    out["ATOXGRN"] = pd.to_numeric(out["ATOXGR"], errors="coerce").astype("Int64")
    window = trtedt + pd.Timedelta(days=end_window)
    emergent = (out["ASTDT"] >= trtsdt) & (trtedt.isna() | (out["ASTDT"] <= window))
    out["TRTEMFL"] = np.where(emergent.fillna(False), "Y", "")
    term = out["AEDECOD"].mask(out["AEDECOD"] == "", out["AETERM"])
    ranked = out[emergent.fillna(False) & out["ATOXGRN"].notna()].assign(_term=term)
    ranked = ranked.sort_values(["USUBJID", "ATOXGRN", "ASTDT", "AESEQ"], ascending=[True, False, True, True],
                                kind="stable")  # fmt: skip
    out["AOCCIFL"] = np.where(out.index.isin(ranked.drop_duplicates("USUBJID").index), "Y", "")
    out["AOCCPIFL"] = np.where(out.index.isin(ranked.drop_duplicates(["USUBJID", "_term"]).index), "Y", "")
    return out.reset_index(drop=True)


def derive_adex(ex: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """ADEX (BDS): per EX record DOSE (EXDOSE, unit EXDOSU) and DURD (AENDT - ASTDT + 1, none while ongoing),
    and per subject and drug TDURD (the sum of its DURD; none when an interval is open or undated).

    Dates are imputed like ADAE's (first day for the start, last for the end); PARAMN follows ADEX_PARAMS.
    """
    base = adsl.drop_duplicates("USUBJID").set_index("USUBJID")
    rec = pd.DataFrame({"USUBJID": _col(ex, "USUBJID"), "EXSEQ": pd.to_numeric(_col(ex, "EXSEQ"), errors="coerce"),
                        "EXTRT": _col(ex, "EXTRT"), "EXDOSU": _col(ex, "EXDOSU"), "EXDOSFRQ": _col(ex, "EXDOSFRQ"),
                        "EXSTDTC": _col(ex, "EXSTDTC"), "EXENDTC": _col(ex, "EXENDTC")}, index=ex.index)  # fmt: skip
    rec["ASTDT"], rec["ASTDTF"] = _dates(rec["EXSTDTC"], "first")
    rec["AENDT"], rec["AENDTF"] = _dates(rec["EXENDTC"], "last")
    trtsdt = rec["USUBJID"].map(base["TRTSDT"]).astype("datetime64[ns]")
    rec["ASTDY"], rec["AENDY"] = _study_day(rec["ASTDT"], trtsdt), _study_day(rec["AENDT"], trtsdt)
    dose = pd.to_numeric(_col(ex, "EXDOSE"), errors="coerce")
    durd = ((rec["AENDT"] - rec["ASTDT"]).dt.days + 1).astype("Float64")
    rows = [rec.assign(PARAMCD="DOSE", AVAL=dose.to_numpy(), AVALU=rec["EXDOSU"]),
            rec.assign(PARAMCD="DURD", AVAL=durd.to_numpy(), AVALU="DAYS")]  # fmt: skip
    total = rec.assign(DURD=durd).groupby(["USUBJID", "EXTRT"], sort=False).agg(
        AVAL=("DURD", lambda d: d.sum() if d.notna().all() else np.nan), ASTDT=("ASTDT", "min"), AENDT=("AENDT", "max")
    )  # fmt: skip
    rows.append(total.reset_index().assign(PARAMCD="TDURD", AVALU="DAYS"))
    with warnings.catch_warnings():  # all-NA parts (every interval ongoing, at a cut-off): dtypes are set below
        warnings.simplefilter("ignore", FutureWarning)
        out = pd.concat(rows, ignore_index=True)
    out["AVAL"] = out["AVAL"].astype("float64")
    out[["ASTDT", "AENDT"]] = out[["ASTDT", "AENDT"]].astype("datetime64[ns]")
    out["PARAM"] = out["PARAMCD"].map(ADEX_PARAMS)
    out = out.sort_values(["USUBJID", "EXTRT", "PARAMCD", "EXSEQ"], kind="stable").reset_index(drop=True)
    out.insert(1, "ASEQ", (out.groupby("USUBJID", sort=False).cumcount() + 1).astype("int64"))
    out = derive_studyid(out, adsl)
    out["EXSEQ"] = out["EXSEQ"].astype("Int64")
    lead = ["STUDYID", "USUBJID", "ASEQ", "EXSEQ", "EXTRT", "PARAMCD", "PARAM", "AVAL", "AVALU", "EXDOSFRQ",
            "ASTDT", "ASTDTF", "AENDT", "AENDTF", "ASTDY", "AENDY", "EXSTDTC", "EXENDTC"]  # fmt: skip
    return derive_paramn(out[lead], tuple(ADEX_PARAMS))


def derive_adam_datasets(sdtm: Mapping[str, pd.DataFrame], adam: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The submission ADaM datasets from SDTM and the outcome derivations (``derive_adam`` output).

    Returns ``ADSL`` (core variables), ``ADRS`` and ``ADTTE`` (STUDYID on every row, PARAMN), ``ADAE`` and
    ``ADEX`` (from SDTM AE and EX, empty without them). STUDYID comes from DM.
    """
    domains = {str(k).upper(): v for k, v in sdtm.items()}
    sets = {str(k).upper(): v for k, v in adam.items()}
    if "DM" not in domains or "ADSL" not in sets:
        raise InputError("ADaM datasets need SDTM DM and the derived ADSL; derive them first (derive_adam)")
    adsl = derive_adsl_core(sets["ADSL"], domains["DM"], domains.get("EX"))
    out = {"ADSL": adsl}
    for name, order in (("ADRS", ADRS_PARAMS), ("ADTTE", ADTTE_PARAMS)):
        if name in sets:
            out[name] = derive_paramn(derive_studyid(sets[name], adsl), order)
    empty_ae = pd.DataFrame(columns=["USUBJID", "AESEQ", "AETERM", "AETOXGR", "AESTDTC", "AEENDTC"])
    out["ADAE"] = derive_adae(domains.get("AE", empty_ae), adsl)
    empty_ex = pd.DataFrame(columns=["USUBJID", "EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "EXSTDTC", "EXENDTC"])
    out["ADEX"] = derive_adex(domains.get("EX", empty_ex), adsl)
    return out
