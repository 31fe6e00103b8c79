"""Tumour-assessment arithmetic for the edit checks: recorded responses against RECIST 1.1 target-lesion sums.

RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247, section 4.3.1): a partial response is a decrease of
at least 30% in the sum of target-lesion diameters from the baseline sum; progression is an increase of at least
20% above the smallest sum on study (the nadir, the baseline included) that is also at least 5 mm; a complete
response has every non-nodal target gone (a sum of 0 when no target is a lymph node). A recorded response that
the sums contradict is a query (rule AS006 in :mod:`tkitrack.schemas.checks`), never a correction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["NEW_BASELINE_DAYS", "RECIST_ARITHMETIC_CRITERIA", "derive_course_starts", "find_sum_contradictions"]

#: Criteria whose overall and target responses are checked against the sums (a missing criteria is RECIST 1.1).
RECIST_ARITHMETIC_CRITERIA = ("RECIST1.1", "INVESTIGATOR")
#: A baseline after the first dose stands as a new baseline when a new course starts at most this many days
#: later (RECIST 1.1: baseline scans no more than 4 weeks before the start of treatment).
NEW_BASELINE_DAYS = 28
_DECIMALS = 6  # sums are typed in mm with a decimal or two: compare rounded percentages, not float noise


def derive_course_starts(exposure: pd.DataFrame) -> pd.DataFrame:
    """First dose of every course: ``patient_id, drug, start``.

    A course starts at a drug's first interval for the patient and at a restart after an interval recorded as
    ``discontinued`` (a re-challenge); a restart after a hold or a dose change continues the course.
    """
    ex = exposure.loc[exposure["start"].notna(), ["patient_id", "drug", "start", "discontinued"]]
    ex = ex.sort_values(["patient_id", "drug", "start"], kind="stable")
    stopped = ex["discontinued"].astype("boolean").fillna(False).astype(bool)
    previous = stopped.groupby([ex["patient_id"], ex["drug"]]).shift()
    new = previous.isna() | previous.astype("boolean").fillna(False).astype(bool)
    return ex.loc[new, ["patient_id", "drug", "start"]].reset_index(drop=True)


def _ordered_by_keys(a: pd.DataFrame, keep: np.ndarray, keys: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.Series]:
    """``a`` (the kept rows) in the order of ``sort_values(["patient_id", "_ev", "date", "_order"],
    kind="stable")`` and each row's (patient, reader) number (NaN without a patient id, as ``ngroup`` gives), from
    integer keys by position: a missing patient id sorts last, and np.lexsort is stable (ties keep their order)."""
    rows = np.flatnonzero(keep)
    patient = keys["patient"][rows].astype("int64")
    missing = patient < 0
    patient[missing] = patient.max(initial=0) + 1
    reader = keys["reader"][rows].astype("int64")
    order = np.lexsort((~a["_base"].to_numpy(dtype=bool), keys["date"][rows], reader, patient))
    number = (patient * keys["readers"] + reader).astype("float64")
    number[missing] = np.nan
    a = a.iloc[order]
    return a, pd.Series(number[order], index=a.index)


def _round(values: pd.Series) -> pd.Series:
    return values.astype("float64").round(_DECIMALS)


def _mm(values: pd.Series) -> pd.Series:
    return values.map(lambda v: f"{v:g} mm")


def _day(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d")


def _pr_text(r: pd.DataFrame, what: str) -> pd.Series:
    return (f"PR ({what}) on " + _day(r["date"]) + " with a target-lesion sum of " + _mm(r["sum"]) + " is "
            + r["from_base"].map(lambda v: f"{v:+.1f}%") + " from the baseline " + _mm(r["base"]) + " ("
            + _day(r["base_date"]) + "); RECIST 1.1 needs at least 30% below baseline for a PR")  # fmt: skip


def _growth_text(r: pd.DataFrame, what: str) -> pd.Series:
    pct = r["rise_pct"].map(lambda v: "infinitely" if np.isinf(v) else f"{v:.1f}%")
    return (r["response"] + f" ({what}) on " + _day(r["date"]) + " with a sum of " + _mm(r["sum"]) + " is "
            + _mm(r["rise"]) + " and " + pct + " above the smallest earlier sum " + _mm(r["nadir"])
            + "; RECIST 1.1 calls an increase of at least 20% and at least 5 mm progression")  # fmt: skip


def _cr_text(r: pd.DataFrame, what: str) -> pd.Series:
    return (f"CR ({what}) on " + _day(r["date"]) + " with a target-lesion sum of " + _mm(r["sum"])
            + "; a RECIST 1.1 complete response has a sum of 0 mm (unless the targets are lymph nodes, each now "
            "under 10 mm short axis: then answer the query)")  # fmt: skip


def find_sum_contradictions(assessment: pd.DataFrame, *, keys: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Recorded responses that RECIST 1.1 arithmetic on the target-lesion sums contradicts.

    Per patient and evaluator, over the assessments under RECIST 1.1 or investigator criteria that have a sum:
    the reference is the latest assessment flagged ``baseline`` on or before the assessment (a baseline recorded
    before a new course starts a new reference and a new nadir); the nadir is the smallest earlier sum since that
    baseline, the baseline included. For the overall and the target response of each later assessment:

    - PR while the sum is not at least 30% below the baseline sum;
    - SD or PR while the sum is at least 20% and at least 5 mm above the nadir (that is progression);
    - CR with a sum above 0 mm.

    ``keys`` (optional): the frame's patient, reader and date as integers by position, from the edit checks'
    ``_assessment_keys``, which order the rows as the ids and readers as text do, without sorting text again.

    Returns
    -------
    pandas.DataFrame
        One row per contradicted data point: ``index`` (the assessment's position in the frame), ``field`` (``response`` or
        ``target_response``), ``value`` and ``message`` (every contradiction of that data point).
    """
    cols = ["index", "field", "value", "message"]
    # only the columns used here: the row selection and sort below copy every column they are given
    used = ["patient_id", "date", "criteria", "evaluator", "baseline", "sum_diameters", "response", "target_response"]
    assessment = assessment[used].reset_index(drop=True)
    crit = assessment["criteria"].astype("object").where(assessment["criteria"].notna(), "RECIST1.1")
    keep = crit.isin(RECIST_ARITHMETIC_CRITERIA) & assessment["sum_diameters"].notna() & assessment["date"].notna()
    a = assessment.loc[keep].assign(
        _ev=assessment["evaluator"].astype("object").fillna("INVESTIGATOR"),
        _base=assessment["baseline"].astype("boolean").fillna(False).astype(bool),
    )
    if a.empty:
        return pd.DataFrame(columns=cols)
    # a baseline sorts before a follow-up of the same date, so that it is the follow-up's reference
    # (no row kept: assign gave the empty selection the whole frame's index, so ``a`` is not the kept rows)
    if keys is None or len(a) != int(keep.sum()):
        a = a.assign(_order=~a["_base"]).sort_values(["patient_id", "_ev", "date", "_order"], kind="stable")
        key = a.groupby([a["patient_id"], a["_ev"]], sort=False).ngroup()  # numbered once, not factorized per pass
    else:
        a, key = _ordered_by_keys(a, keep.to_numpy(dtype=bool), keys)
    segment = a["_base"].astype(int).groupby(key).cumsum()
    groups = a.groupby([key, segment], sort=False).ngroup()
    total = a["sum_diameters"].astype("float64")
    base = total.where(a["_base"] & (segment > 0)).groupby(groups).transform("first")
    base_date = a["date"].where(a["_base"]).groupby(groups).transform("first")
    nadir = total.groupby(groups).cummin().groupby(groups).shift()
    post = ~a["_base"]

    from_base = _round((total - base) / base.where(base > 0) * 100)
    rise = _round(total - nadir)
    rise_pct = _round(rise / nadir.where(nadir > 0) * 100).mask((nadir == 0) & (rise > 0), np.inf)
    progression = post & (rise >= 5) & (rise_pct >= 20)
    parts = []
    for field in ("response", "target_response"):
        response = a[field].astype("object")
        what = "overall" if field == "response" else "target"
        checks = (
            (response.eq("PR") & post & from_base.notna() & ~(from_base <= -30), _pr_text),
            (response.isin(["SD", "PR"]) & progression, _growth_text),
            (response.eq("CR") & post & (total > 0), _cr_text),
        )
        for mask, text in checks:
            mask = mask.fillna(False).astype(bool)
            if not mask.any():
                continue
            rows = pd.DataFrame({"date": a["date"], "sum": total, "base": base, "base_date": base_date,
                                 "from_base": from_base, "nadir": nadir, "rise": rise, "rise_pct": rise_pct,
                                 "response": response.astype(str)})[mask]  # fmt: skip
            parts.append(pd.DataFrame({"index": rows.index, "field": field, "value": rows["response"],
                                       "message": text(rows, what).to_numpy()}))  # fmt: skip
    if not parts:
        return pd.DataFrame(columns=cols)
    found = pd.concat(parts, ignore_index=True)
    found = found.groupby(["index", "field", "value"], sort=False)["message"].agg("; ".join).reset_index()
    found["message"] += ": correct the sum or the response, or record a new baseline before a new course"
    return found[cols]
