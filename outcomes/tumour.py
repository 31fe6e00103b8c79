"""Percent change in the target-lesion sum of diameters from baseline, and the best change per patient.

Baseline is the assessment flagged ``baseline`` (the earliest flagged one if several), else the patient's first
assessment with a measured sum. Changes are ``100 * (sum - baseline_sum) / baseline_sum``; the best change is the
smallest (most shrinkage) post-baseline change up to and including the first PD, as RECIST waterfall plots draw
it. Days count from the baseline assessment (day 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import as_datetime
from tkitrack.schemas.errors import InputError

__all__ = [
    "BEST_RESPONSE_ORDER",
    "derive_best_percent_change",
    "derive_best_response_from_adrs",
    "derive_percent_change",
    "derive_unmeasured",
]


#: Best observed response, best first (unconfirmed; no minimum-duration window).
BEST_RESPONSE_ORDER: tuple[str, ...] = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE")


_READ = ("patient_id", "date", "sum_diameters", "baseline", "response")


def _checked(assessment: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("patient_id", "date", "sum_diameters") if c not in assessment.columns]
    if missing:
        raise InputError(
            f"assessment frame lacks column(s) {', '.join(missing)}; % change needs patient_id, date and "
            "sum_diameters (mm)."
        )
    # the columns read below alone: a registry's assessments have a dozen more, millions of rows of them
    a = assessment[[c for c in assessment.columns if c in _READ]].copy()
    a["date"] = as_datetime(a["date"], errors="coerce")
    a["sum_diameters"] = pd.to_numeric(a["sum_diameters"], errors="coerce")
    if "baseline" not in a.columns:
        a["baseline"] = False
    a["baseline"] = a["baseline"].astype("boolean").fillna(False).astype(bool)
    if "response" not in a.columns:
        a["response"] = pd.NA
    return a.sort_values(["patient_id", "date"], kind="stable")


def derive_percent_change(assessment: pd.DataFrame) -> pd.DataFrame:
    """Percent change from baseline of the sum of diameters, one row per measured assessment.

    Parameters
    ----------
    assessment : pandas.DataFrame
        Assessment records: ``patient_id``, ``date``, ``sum_diameters`` and optionally ``baseline`` (bool),
        ``response`` and ``id``.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, date, day, sum_diameters, baseline_sum, pct_change, is_baseline, response``; ``day`` is
        days from the baseline date; assessments before baseline or without a measured sum are dropped,
        as are patients whose baseline sum is missing or 0.

    Examples
    --------
    >>> a = pd.DataFrame({"patient_id": ["P1"] * 3, "date": pd.to_datetime(["2020-01-01", "2020-03-01",
    ...                   "2020-05-01"]), "sum_diameters": [50.0, 30.0, 20.0]})
    >>> derive_percent_change(a)["pct_change"].tolist()
    [0.0, -40.0, -60.0]
    """
    a = _checked(assessment)
    a = a.loc[a["sum_diameters"].notna() & a["date"].notna()]
    flagged = a.loc[a["baseline"]].groupby("patient_id")["date"].min()
    first = a.groupby("patient_id")["date"].min()
    base_date = flagged.reindex(first.index).fillna(first)
    a = a.assign(_base_date=a["patient_id"].map(base_date))
    a = a.loc[a["date"] >= a["_base_date"]]
    is_base = a["date"].eq(a["_base_date"])
    base_sum = a.loc[is_base].groupby("patient_id")["sum_diameters"].first()
    a = a.assign(baseline_sum=a["patient_id"].map(base_sum), is_baseline=is_base)
    a = a.loc[a["baseline_sum"] > 0]
    # Several rows on the baseline date: keep one baseline row.
    a = a.loc[~(a["is_baseline"] & a.duplicated(["patient_id", "date"]))]
    out = pd.DataFrame(
        {
            "patient_id": a["patient_id"],
            "date": a["date"],
            "day": (a["date"] - a["_base_date"]).dt.days,
            "sum_diameters": a["sum_diameters"],
            "baseline_sum": a["baseline_sum"],
            "pct_change": 100.0 * (a["sum_diameters"] - a["baseline_sum"]) / a["baseline_sum"],
            "is_baseline": a["is_baseline"],
            "response": a["response"],
        }
    )
    return out.reset_index(drop=True)


def derive_best_percent_change(assessment: pd.DataFrame, *, change: pd.DataFrame | None = None) -> pd.DataFrame:
    """Best (smallest) post-baseline % change up to and including the first PD, with the best response seen.

    Parameters
    ----------
    assessment : pandas.DataFrame
        As for :func:`derive_percent_change`; ``response`` gives the overall response per assessment.
    change : pandas.DataFrame, optional
        :func:`derive_percent_change` of ``assessment`` when the caller has it already (not derived again).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, best_pct_change, best_day, best_response, n_assessments``. ``best_response`` is the best
        overall response recorded after baseline up to the first PD, in :data:`BEST_RESPONSE_ORDER`,
        unconfirmed and without the 42-day SD window; where a confirmed BOR from ``outcomes.response`` is
        available, merge it over this column. Patients without a post-baseline measurement are left out.

    Examples
    --------
    >>> a = pd.DataFrame({"patient_id": ["P1"] * 4, "date": pd.to_datetime(["2020-01-01", "2020-03-01",
    ...                   "2020-05-01", "2020-07-01"]), "sum_diameters": [50.0, 30.0, 60.0, 10.0],
    ...                   "response": [None, "PR", "PD", "PR"]})
    >>> derive_best_percent_change(a)[["best_pct_change", "best_response"]].to_numpy().tolist()
    [[-40.0, 'PR']]
    """
    change = derive_percent_change(assessment) if change is None else change
    post = change.loc[~change["is_baseline"]]
    first_pd = (
        post.loc[post["response"].eq("PD").to_numpy(dtype=bool, na_value=False)].groupby("patient_id")["date"].min()
    )
    post = post.loc[post["date"] <= post["patient_id"].map(first_pd).fillna(pd.Timestamp.max)]
    if post.empty:
        return pd.DataFrame(
            {
                "patient_id": pd.Series(dtype="object"),
                "best_pct_change": pd.Series(dtype="float64"),
                "best_day": pd.Series(dtype="int64"),
                "best_response": pd.Series(dtype="string"),
                "n_assessments": pd.Series(dtype="int64"),
            }
        )
    best = post.loc[post.groupby("patient_id")["pct_change"].idxmin()]
    rank = post["response"].map({r: i for i, r in enumerate(BEST_RESPONSE_ORDER)}).astype("float64")
    best_rank = rank.groupby(post["patient_id"]).min()
    labels = np.array(BEST_RESPONSE_ORDER, dtype=object)
    best_response = best_rank.map(lambda r: labels[int(r)] if np.isfinite(r) else "MISSING")
    out = pd.DataFrame(
        {
            "patient_id": best["patient_id"].to_numpy(),
            "best_pct_change": best["pct_change"].to_numpy(),
            "best_day": best["day"].to_numpy(),
            "best_response": best["patient_id"].map(best_response).astype("string").to_numpy(),
            "n_assessments": best["patient_id"].map(post.groupby("patient_id").size()).to_numpy(),
        }
    )
    return out.sort_values("best_pct_change", kind="stable").reset_index(drop=True)


def derive_best_response_from_adrs(frame: pd.DataFrame, adrs: pd.DataFrame, *, paramcd: str = "CBOR") -> pd.DataFrame:
    """``frame`` (per patient or per assessment) with ``best_response`` set from the ADRS parameter ``paramcd``.

    The waterfall and spider plots colour each patient by the same best overall response as the response table
    (confirmed, CBOR, by default); patients without that parameter get "MISSING".
    """
    best = adrs[adrs["PARAMCD"] == paramcd].drop_duplicates("USUBJID").set_index("USUBJID")["AVALC"]
    return frame.assign(best_response=frame["patient_id"].map(best).fillna("MISSING").astype("object"))


def derive_unmeasured(assessment: pd.DataFrame, patients: pd.Series | list, *,
                      best: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """Patients of ``patients`` without a best % change, and why: ``patient_id, reason``.

    Reasons: "without a measured target lesion" (no sum of diameters recorded) or "without a measurement after
    baseline" (a baseline sum only, or a baseline sum of 0). Figures drawn from :func:`derive_best_percent_change`
    name them in a footnote instead of dropping them silently. ``best``: that function's result for
    ``assessment`` (every patient's) when the caller has it already.
    """
    wanted = pd.Index(pd.Series(patients, dtype="object").unique())
    best = derive_best_percent_change(assessment) if best is None else best
    missing = wanted.difference(pd.Index(best["patient_id"]))
    a = _checked(assessment)
    measured = a.loc[a["sum_diameters"].notna() & a["date"].notna(), "patient_id"].unique()
    reason = np.where(
        missing.isin(measured), "without a measurement after baseline", "without a measured target lesion"
    )

    return pd.DataFrame({"patient_id": missing.to_numpy(dtype=object), "reason": reason})
