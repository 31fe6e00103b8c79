"""Drug exposure derivations: days on drug, dose changes, cumulative dose and dose intensity, and time to the
first adverse event.

Day counts follow the ADaM convention ``end - start + 1`` for a period whose first day is ``start``: days on
drug count both the first and the last dose day. Time on treatment, the treatment-free interval and relapse after
stopping are case-series endpoints of the index therapy's courses (:mod:`tkitrack.outcomes.courses`,
:mod:`tkitrack.outcomes.case_series`: ADTTE TTD, TFI, RFSSTP), not of every drug's first and last dose.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import as_datetime, unparsed_cells
from tkitrack.schemas.distinct import per_distinct_text
from tkitrack.schemas.dosing import FREQUENCY_PER_DAY, compute_bsa_mosteller, compute_mg_m2_day
from tkitrack.schemas.errors import InputError

__all__ = [
    "check_frame",
    "derive_exposure_summary",
    "derive_time_to_first_ae",
]

_OPEN = pd.Timestamp("2261-12-31")  # stands in for "ongoing" where a date is needed; pandas ends at 2262


def check_frame(frame: pd.DataFrame, name: str, required: Sequence[str], dates: Sequence[str] = ()) -> pd.DataFrame:
    """Check a record frame has ``required`` columns and parse ``dates`` to datetime64; returns a copy.

    Raises InputError naming the frame, the missing column or the patient and value that is not a date.

    >>> check_frame(pd.DataFrame({"patient_id": ["P1"], "start": ["2020-01-02"]}), "exposure",
    ...             ["patient_id", "start"], dates=["start"])["start"].dt.day.tolist()
    [2]
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{name}: expected a pandas DataFrame, found {type(frame).__name__}")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name}: column(s) {missing} missing; found {list(frame.columns)}. "
            "Use the record frame column names of docs/architecture.md"
        )
    out = frame.copy()
    for col in dates:
        if col not in out.columns:
            continue
        parsed = as_datetime(out[col], errors="coerce")
        bad = unparsed_cells(out[col], parsed)
        if bad.any():
            row = out.loc[bad].iloc[0]
            who = row["patient_id"] if "patient_id" in out.columns else bad.idxmax()
            raise InputError(
                f"{name}: column '{col}' of patient {who} holds '{row[col]}', which is not a date; "
                "give an imputed ISO date (YYYY-MM-DD)"
            )
        out[col] = parsed.astype("datetime64[ns]")
    return out


def _select_drugs(exposure: pd.DataFrame, drugs: Sequence[str] | None) -> pd.DataFrame:
    """Rows of ``exposure`` (any frame with a ``drug`` column) whose drug is in ``drugs`` (case-insensitive); all
    rows when None. Each distinct name is lower-cased once (a registry's AE-drug pairs: a million rows, a few
    drugs)."""
    if drugs is None:
        return exposure
    lower = per_distinct_text(exposure["drug"], lambda d: d.str.lower())
    return exposure[lower.isin([d.lower() for d in drugs]).to_numpy(dtype=bool)]


def _close_open_intervals(ex: pd.DataFrame, followup: pd.DataFrame | None, cutoff) -> pd.Series:
    """End dates with open (ongoing) intervals closed at the cutoff or last contact, whichever is earlier."""
    end = ex["end"].copy()
    stop_at = pd.Series(pd.NaT, index=ex.index, dtype="datetime64[ns]")
    if followup is not None:
        last = _last_contact(followup)
        stop_at = ex["patient_id"].map(last["last_contact_date"]).astype("datetime64[ns]")
    if cutoff is not None:
        stop_at = stop_at.where(stop_at.notna() & (stop_at <= pd.Timestamp(cutoff)), pd.Timestamp(cutoff))
    open_ = end.isna()
    if (open_ & stop_at.isna()).any():
        who = ex.loc[open_ & stop_at.isna(), "patient_id"].iloc[0]
        raise InputError(
            f"exposure: patient {who} has an ongoing interval (no end) and no last contact date; "
            "pass followup= with that patient's last contact, or cutoff= a data cut-off date"
        )
    return end.where(~open_, stop_at)


def _last_contact(followup: pd.DataFrame) -> pd.DataFrame:
    """Per patient: latest contact date and earliest death date (index patient_id)."""
    fu = check_frame(followup, "followup", ["patient_id", "date"], dates=["date", "death_date"])
    if "death_date" not in fu.columns:
        fu["death_date"] = pd.NaT
    g = fu.groupby("patient_id")
    last = pd.DataFrame({"last_contact_date": g["date"].max(), "death_date": g["death_date"].min()})
    last["last_contact_date"] = last[["last_contact_date", "death_date"]].max(axis=1)
    return last


def _merge_blocks(ex: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Union of intervals per ``keys`` (overlapping or touching intervals merge): block start and end."""
    ex = ex.sort_values([*keys, "start"])
    running_end = ex.groupby(keys)["end"].cummax()
    prev_end = running_end.groupby([ex[k] for k in keys]).shift()
    block = ((ex["start"] > prev_end + pd.Timedelta(days=1)) | prev_end.isna()).cumsum()
    return ex.groupby([*keys, block.rename("block")]).agg(start=("start", "min"), end=("end", "max")).reset_index()


def derive_exposure_summary(
    exposure: pd.DataFrame,
    patients: pd.DataFrame | None = None,
    followup: pd.DataFrame | None = None,
    *,
    cutoff=None,
) -> pd.DataFrame:
    """Per patient and drug: days on drug, dose changes with reasons, cumulative dose and mg/m2/day.

    Days on drug are the days covered by the union of the drug's intervals (end inclusive; gaps are
    interruptions and do not count). Open intervals end at the patient's last contact (``followup``) or at
    ``cutoff``, whichever is earlier. Cumulative dose: mg given = dose per administration converted to mg
    (mg/m2 x BSA, mg/kg x weight; BSA by Mosteller from ``patients`` height_cm and weight_kg) x
    administrations per day x days; a ``ONCE`` interval counts one administration. Dose intensity is the
    cumulative mg/m2 divided by days on drug.

    Returns
    -------
    DataFrame
        ``patient_id, drug, first_start, last_end, ongoing, days_on_drug, n_intervals, n_interruptions,
        n_dose_changes, dose_change_reasons, stop_reason, cumulative_dose_mg, cumulative_dose_mg_m2,
        dose_intensity_mg_m2_day``. mg/m2 values are NaN without height and weight.

    Examples
    --------
    >>> ex = pd.DataFrame({"patient_id": ["P1"], "drug": ["crizotinib"], "dose": [200.0], "unit": ["mg"],
    ...     "frequency": ["QD"], "start": ["2020-01-01"], "end": ["2020-01-10"], "reason": ["toxicity"]})
    >>> derive_exposure_summary(ex)[["days_on_drug", "cumulative_dose_mg"]].values.tolist()
    [[10.0, 2000.0]]
    """
    req = ["patient_id", "drug", "dose", "unit", "frequency", "start", "end"]
    ex = check_frame(exposure, "exposure", req, dates=["start", "end"])
    if "reason" not in ex.columns:
        ex["reason"] = None
    ongoing = ex["end"].isna()
    ex["end"] = _close_open_intervals(ex, followup, cutoff)
    ex["ongoing"] = ongoing
    height = weight = pd.Series(np.nan, index=ex.index)
    if patients is not None:
        pt = check_frame(patients, "patients", ["patient_id", "height_cm", "weight_kg"]).set_index("patient_id")
        height, weight = ex["patient_id"].map(pt["height_cm"]), ex["patient_id"].map(pt["weight_kg"])
    bsa = compute_bsa_mosteller(height, weight)
    unit = ex["unit"].str.lower()
    dose_mg = np.select(
        [unit == "mg", unit == "mg/m2", unit == "mg/kg"],
        [ex["dose"], ex["dose"] * bsa, ex["dose"] * weight],
        default=np.nan,
    )
    per_day = ex["frequency"].str.upper().map(FREQUENCY_PER_DAY).astype(float)
    days = (ex["end"] - ex["start"]).dt.days + 1
    once = ex["frequency"].str.upper() == "ONCE"
    ex["mg"] = np.where(once, dose_mg, dose_mg * per_day * days)
    mg_m2_day = compute_mg_m2_day(ex["dose"], ex["unit"], ex["frequency"], bsa, weight)
    ex["mg_m2"] = np.where(once, dose_mg / bsa, mg_m2_day * days)

    ex["mg_na"], ex["mg_m2_na"] = ex["mg"].isna(), ex["mg_m2"].isna()
    ex = ex.sort_values(["patient_id", "drug", "start"])
    g = ex.groupby(["patient_id", "drug"], sort=False)
    regimen = ex["dose"].astype(str) + ex["unit"].astype(str) + ex["frequency"].astype(str)
    next_regimen = regimen.groupby([ex["patient_id"], ex["drug"]]).shift(-1)
    changed_after = next_regimen.notna() & (next_regimen != regimen)
    prev_end = g["end"].shift()
    ex["gap"] = (ex["start"] > prev_end + pd.Timedelta(days=1)).astype(int)
    ex["change"] = changed_after.astype(int)
    ex["change_reason"] = ex["reason"].where(changed_after)
    blocks = _merge_blocks(ex[["patient_id", "drug", "start", "end"]], ["patient_id", "drug"])
    blocks["days"] = (blocks["end"] - blocks["start"]).dt.days + 1
    out = g.agg(
        first_start=("start", "min"),
        last_end=("end", "max"),
        ongoing=("ongoing", "any"),
        n_intervals=("start", "size"),
        n_interruptions=("gap", "sum"),
        n_dose_changes=("change", "sum"),
        stop_reason=("reason", "last"),
        cumulative_dose_mg=("mg", "sum"),
        cumulative_dose_mg_m2=("mg_m2", "sum"),
        mg_missing=("mg_na", "any"),
        mg_m2_missing=("mg_m2_na", "any"),
    ).reset_index()
    # a dose that cannot be converted makes the total unknown, not smaller
    out["cumulative_dose_mg"] = out["cumulative_dose_mg"].mask(out.pop("mg_missing"))
    out["cumulative_dose_mg_m2"] = out["cumulative_dose_mg_m2"].mask(out.pop("mg_m2_missing"))
    out = out.merge(blocks.groupby(["patient_id", "drug"])["days"].sum().rename("days_on_drug").reset_index())
    changes = ex[changed_after].assign(change_reason=lambda d: d["change_reason"].fillna("not recorded").astype(str))
    reasons = changes.groupby(["patient_id", "drug"])["change_reason"].agg("; ".join).rename("dose_change_reasons")
    out = out.merge(reasons.reset_index(), how="left").fillna({"dose_change_reasons": ""})
    out["last_end"] = out["last_end"].where(~out["ongoing"])
    out["stop_reason"] = out["stop_reason"].where(~out["ongoing"])
    out["days_on_drug"] = out["days_on_drug"].astype(float)
    out["dose_intensity_mg_m2_day"] = out["cumulative_dose_mg_m2"] / out["days_on_drug"]
    cols = [
        "patient_id",
        "drug",
        "first_start",
        "last_end",
        "ongoing",
        "days_on_drug",
        "n_intervals",
        "n_interruptions",
        "n_dose_changes",
        "dose_change_reasons",
        "stop_reason",
        "cumulative_dose_mg",
        "cumulative_dose_mg_m2",
        "dose_intensity_mg_m2_day",
    ]
    return out[cols].reset_index(drop=True)


def derive_time_to_first_ae(
    ae: pd.DataFrame,
    exposure: pd.DataFrame,
    followup: pd.DataFrame | None = None,
    *,
    term: str | Sequence[str] | None = None,
    min_grade: int = 1,
    drugs: Sequence[str] | None = None,
    cutoff=None,
) -> pd.DataFrame:
    """Days from the first dose of ``drugs`` to the first AE of ``term`` (any term when None), grade >= min.

    AEs that began before the first dose do not count. Patients without such an AE are censored at last
    contact, death or ``cutoff`` (the earliest given). ``days = end_date - first_dose_date + 1``.

    Returns
    -------
    DataFrame
        ``patient_id, first_dose_date, end_date, days, event, term, grade`` (term and grade of the first AE).
    """
    a = check_frame(ae, "ae", ["patient_id", "term", "grade", "start"], dates=["start"])
    ex = _select_drugs(check_frame(exposure, "exposure", ["patient_id", "drug", "start"], dates=["start"]), drugs)
    first = ex.groupby("patient_id")["start"].min().rename("first_dose_date").reset_index()
    terms = [term] if isinstance(term, str) else term
    if terms is not None:
        a = a[a["term"].str.lower().isin([t.lower() for t in terms])]
    a = a[pd.to_numeric(a["grade"], errors="coerce") >= min_grade].merge(first, on="patient_id")
    a = a[a["start"] >= a["first_dose_date"]].sort_values(["patient_id", "start", "grade"], ascending=[1, 1, 0])
    first_ae = a.drop_duplicates("patient_id")[["patient_id", "start", "term", "grade"]]
    out = first.merge(first_ae, on="patient_id", how="left")
    censor = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    if followup is not None:
        censor = out["patient_id"].map(_last_contact(followup)["last_contact_date"]).astype("datetime64[ns]")
    if cutoff is not None:
        censor = censor.where(censor.notna() & (censor <= pd.Timestamp(cutoff)), pd.Timestamp(cutoff))
    if (out["start"].isna() & censor.isna()).any():
        who = out.loc[out["start"].isna() & censor.isna(), "patient_id"].iloc[0]
        raise InputError(f"patient {who} has no such AE and no last contact; pass followup= or cutoff=")
    out["event"] = out["start"].notna().astype(int)
    out["end_date"] = out["start"].fillna(censor)
    out["days"] = (out["end_date"] - out["first_dose_date"]).dt.days + 1
    return out[["patient_id", "first_dose_date", "end_date", "days", "event", "term", "grade"]]
