"""Adverse-event summaries: incidence by CTCAE term and worst grade per patient, and on- vs off-treatment onset."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tkitrack.outcomes.exposure import _OPEN, _select_drugs, check_frame
from tkitrack.schemas.errors import InputError

__all__ = [
    "ANY_TERM",
    "derive_ae_drug_onsets",
    "derive_ae_treatment_phase",
    "derive_safety_population",
    "summarise_ae_incidence",
    "summarise_ae_on_off_treatment",
    "summarise_worst_grade",
]

#: Label of the first row of :func:`summarise_ae_incidence`: patients with any adverse event.
ANY_TERM = "Any adverse event"
_GRADE_BANDS = {"grade_1_2": (1, 2), "grade_3": (3, 3), "grade_4": (4, 4), "grade_5": (5, 5)}


def _check_ae(ae: pd.DataFrame, required: Sequence[str]) -> pd.DataFrame:
    """All AE frame checks in one place: columns, and grades that are whole numbers 1 to 5."""
    a = check_frame(ae, "ae", required, dates=[c for c in ("start", "end") if c in required])
    grade = pd.to_numeric(a["grade"], errors="coerce")
    bad = grade.isna() | ~grade.isin([1, 2, 3, 4, 5])
    if bad.any():
        row = a.loc[bad].iloc[0]
        raise InputError(
            f"ae: patient {row['patient_id']}, term {row['term']!r} has grade {row['grade']}; "
            "a CTCAE grade is a whole number 1 to 5"
        )
    return a.assign(grade=grade.astype(int))


def derive_safety_population(patients: pd.DataFrame, exposure: pd.DataFrame) -> pd.DataFrame:
    """The safety population: the rows of ``patients`` with at least one dose (an exposure interval with a start
    date and a dose that is not zero)."""
    pt = check_frame(patients, "patients", ["patient_id"])
    ex = check_frame(exposure, "exposure", ["patient_id", "start"], dates=["start"])
    dosed = ex["start"].notna()
    if "dose" in ex.columns:
        dosed &= ~(pd.to_numeric(ex["dose"], errors="coerce") == 0)
    return pt[pt["patient_id"].isin(set(ex.loc[dosed, "patient_id"]))].reset_index(drop=True)


def summarise_ae_incidence(
    ae: pd.DataFrame, patients: pd.DataFrame, exposure: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Patients (not events) with each CTCAE term, by their worst grade, over the safety population.

    Each patient counts once per term, at the worst grade recorded for that term; the first row
    (:data:`ANY_TERM`) counts each patient once at their worst grade of any term. Percentages are of N: with
    ``exposure``, the patients of ``patients`` with at least one dose (:func:`derive_safety_population`; the
    AEs of untreated patients are left out); without it, every patient in ``patients`` (so patients without
    any AE count in the denominator).

    Returns
    -------
    DataFrame
        ``term, n_any, pct_any, n_grade_1_2, pct_grade_1_2, n_grade_3, pct_grade_3, n_grade_4, pct_grade_4,
        n_grade_5, pct_grade_5, N``; terms sorted by n_any (descending) then name.

    Examples
    --------
    >>> ae = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "term": ["Nausea"] * 3, "grade": [1, 3, 2]})
    >>> out = summarise_ae_incidence(ae, pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"]}))
    >>> out.loc[1, ["term", "n_any", "n_grade_1_2", "n_grade_3", "pct_any"]].astype(str).tolist()
    ['Nausea', '2', '1', '1', '50.0']
    """
    a = _check_ae(ae, ["patient_id", "term", "grade"])
    pt = check_frame(patients, "patients", ["patient_id"])
    unknown = sorted(set(a["patient_id"]) - set(pt["patient_id"]))
    if unknown:
        raise InputError(
            f"ae: patient(s) {unknown[:5]} are not in patients, so the denominator would be wrong; "
            "pass the full patient frame (every patient treated)"
        )
    if exposure is not None:
        pt = derive_safety_population(pt, exposure)
        a = a[a["patient_id"].isin(set(pt["patient_id"]))]
    n_total = pt["patient_id"].nunique()
    per_term = a.groupby(["term", "patient_id"], as_index=False)["grade"].max()
    any_term = a.groupby("patient_id", as_index=False)["grade"].max().assign(term=ANY_TERM)
    worst = pd.concat([any_term, per_term], ignore_index=True)
    for name, (lo, hi) in _GRADE_BANDS.items():
        worst[name] = worst["grade"].between(lo, hi)
    counts = worst.groupby("term", sort=False).agg(
        n_any=("patient_id", "size"), **{f"n_{b}": (b, "sum") for b in _GRADE_BANDS}
    )
    counts = counts.reset_index()
    counts["is_any"] = counts["term"] == ANY_TERM
    counts = counts.sort_values(["is_any", "n_any", "term"], ascending=[False, False, True]).drop(columns="is_any")
    out = counts[["term"]].copy()
    for band in ["any", *_GRADE_BANDS]:
        out[f"n_{band}"] = counts[f"n_{band}"].astype(int)
        out[f"pct_{band}"] = 100.0 * counts[f"n_{band}"] / n_total
    out["N"] = n_total
    return out.reset_index(drop=True)


def derive_ae_treatment_phase(
    ae: pd.DataFrame, exposure: pd.DataFrame, *, window_days: int = 30, drugs: Sequence[str] | None = None
) -> pd.DataFrame:
    """Add ``phase`` to each AE: "on_treatment" when its onset falls within an exposure interval of ``drugs``
    or up to ``window_days`` after the interval's end (an ongoing interval never ends), else "off_treatment".

    Returns
    -------
    DataFrame
        The AE frame (same rows, same order) plus ``on_treatment`` (bool) and ``phase``.

    Examples
    --------
    >>> ae = pd.DataFrame({"patient_id": ["P1", "P1"], "term": ["Nausea"] * 2, "grade": [1, 1],
    ...                    "start": ["2020-01-20", "2020-03-20"]})
    >>> ex = pd.DataFrame({"patient_id": ["P1"], "drug": ["crizotinib"], "start": ["2020-01-01"],
    ...                    "end": ["2020-01-31"]})
    >>> derive_ae_treatment_phase(ae, ex)["phase"].tolist()
    ['on_treatment', 'off_treatment']
    """
    a, hits = derive_ae_drug_onsets(ae, exposure, window_days=window_days)
    on = np.isin(np.arange(len(a)), _select_drugs(hits, drugs)["row"].to_numpy())
    return a.assign(on_treatment=on, phase=np.where(on, "on_treatment", "off_treatment"))


def derive_ae_drug_onsets(
    ae: pd.DataFrame, exposure: pd.DataFrame, *, window_days: int = 30
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The checked AE frame and, for each of its rows (by position), the drugs it is on (the rule of
    :func:`derive_ae_treatment_phase`): ``row, drug``, one per exposure interval whose start is on or before the
    AE's onset and whose end, plus ``window_days``, is on or after it (an ongoing interval never ends).

    Matched once for every drug, so that a summary per drug filters these rows instead of matching every AE
    against the exposure again for each drug.
    """
    if window_days < 0:
        raise InputError(f"window_days must be >= 0; found {window_days}")
    a = _check_ae(ae, ["patient_id", "term", "grade", "start"])
    ex = check_frame(exposure, "exposure", ["patient_id", "drug", "start", "end"], dates=["start", "end"])
    ex = ex.assign(until=ex["end"].fillna(_OPEN - pd.Timedelta(days=window_days)) + pd.Timedelta(days=window_days))
    pairs = (
        a[["patient_id", "start"]]
        .assign(row=np.arange(len(a)))
        .merge(ex[["patient_id", "drug", "start", "until"]], on="patient_id", suffixes=("", "_ex"))
    )
    hit = (pairs["start"] >= pairs["start_ex"]) & (pairs["start"] <= pairs["until"])
    return a, pairs.loc[hit, ["row", "drug"]].reset_index(drop=True)


def summarise_ae_on_off_treatment(
    ae: pd.DataFrame, exposure: pd.DataFrame, *, window_days: int = 30, drugs: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per CTCAE term: events and patients with onset on treatment (window included) and off treatment.

    Returns
    -------
    DataFrame
        ``term, n_events_on, n_patients_on, n_events_off, n_patients_off, worst_grade_on, worst_grade_off``
        (worst grades are 0 when there is no event in that phase).
    """
    a = derive_ae_treatment_phase(ae, exposure, window_days=window_days, drugs=drugs)
    g = a.groupby(["term", "phase"]).agg(
        events=("grade", "size"), patients=("patient_id", "nunique"), worst=("grade", "max")
    )
    wide = (
        g.unstack("phase")
        .reindex(
            columns=pd.MultiIndex.from_product([["events", "patients", "worst"], ["on_treatment", "off_treatment"]])
        )
        .fillna(0)
        .astype(int)
    )
    out = pd.DataFrame(
        {
            "term": wide.index,
            "n_events_on": wide[("events", "on_treatment")].to_numpy(),
            "n_patients_on": wide[("patients", "on_treatment")].to_numpy(),
            "n_events_off": wide[("events", "off_treatment")].to_numpy(),
            "n_patients_off": wide[("patients", "off_treatment")].to_numpy(),
            "worst_grade_on": wide[("worst", "on_treatment")].to_numpy(),
            "worst_grade_off": wide[("worst", "off_treatment")].to_numpy(),
        }
    )
    return out.reset_index(drop=True)


def summarise_worst_grade(ae: pd.DataFrame) -> pd.DataFrame:
    """Patients per CTCAE term at their worst grade: ``term, grade, n_patients`` (each patient once per term)."""
    a = _check_ae(ae, ["patient_id", "term", "grade"])
    worst = a.groupby(["patient_id", "term"], as_index=False)["grade"].max()
    out = worst.groupby(["term", "grade"], as_index=False).size().rename(columns={"size": "n_patients"})
    return out.astype({"grade": "int64", "n_patients": "int64"})
