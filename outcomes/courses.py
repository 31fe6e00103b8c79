"""Drug courses and the index therapy, read from exposure intervals and their discontinuation flag.

A **course** is the run of consecutive intervals of one drug up to an interval recorded as a permanent
discontinuation (``discontinued`` true, set by ``exposure stop``). A hold (an end without discontinuation, then a
resume) stays within the course; a start of the same drug after a discontinuation is a **re-challenge** (a new
course); a course of another drug is a **switch** when it follows another course. Whether a patient stopped is
read from the record of the stop, never from what happened later.

The **index therapy** is the first course of a kinase inhibitor (a catalogue drug with a kinase target), or of
the drug the user names; its first dose is day 1 of a case series (ADSL TRTSDT). Earlier chemotherapy is prior
therapy.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import as_datetime, unparsed_cells
from tkitrack.schemas.errors import InputError

__all__ = [
    "ANY_DRUG",
    "COURSE_COLUMNS",
    "INDEX_COLUMNS",
    "SharedCourses",
    "derive_courses",
    "derive_exposure_from_ex",
    "derive_index_therapy",
]

#: ``index_drug`` value naming every drug (a trial of a drug outside the kinase-inhibitor catalogue).
ANY_DRUG = "any"
COURSE_COLUMNS = (
    "patient_id", "course", "drug", "start", "end", "status", "discontinued", "stop_reason", "n_intervals",
    "n_holds", "rechallenge", "previous_drug", "switch",
)  # fmt: skip
INDEX_COLUMNS = ("patient_id", "index_drug", "index_course", "index_start", "index_end", "index_status",
                 "index_discontinued", "index_stop_reason")  # fmt: skip


class SharedCourses:
    """The courses of one exposure frame, derived at most once while it is in use (``with shared: ...``).

    Inside the block, :func:`derive_courses` of that very frame object derives its courses the first time and
    gives a copy of them after, and so does :func:`derive_index_therapy` of it for each index drug: a report
    derives the courses and index therapy of the same records for many tables and figures. The frame must not change while it is shared
    (:class:`tkitrack.outcomes.cache.Derived` shares its records' exposure frame, which its derivations only
    read); any other frame is derived as always.
    """

    def __init__(self, exposure: object) -> None:
        self.exposure = exposure
        self.courses: pd.DataFrame | None = None
        self.index_therapy: dict[str | None, pd.DataFrame] = {}  # by index drug
        self._tokens: list = []

    def __enter__(self) -> SharedCourses:
        self._tokens.append(_SHARED.set(self))
        return self

    def __exit__(self, *exc: object) -> None:
        _SHARED.reset(self._tokens.pop())


_SHARED: ContextVar[SharedCourses | None] = ContextVar("tkitrack_shared_courses", default=None)


def _exposure(exposure: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(exposure, pd.DataFrame):
        raise InputError(f"exposure: expected a pandas DataFrame, found {type(exposure).__name__}")
    missing = [c for c in ("patient_id", "drug", "start", "end") if c not in exposure.columns]
    if missing:
        raise InputError(f"exposure: column(s) {missing} missing; found {list(exposure.columns)}. "
                         "Give the exposure record frame (patient_id, drug, start, end, discontinued)")  # fmt: skip
    ex = exposure.copy()
    for col in ("start", "end"):
        parsed = as_datetime(ex[col], errors="coerce")
        bad = unparsed_cells(ex[col], parsed)
        if bad.any():
            row = ex.loc[bad].iloc[0]
            raise InputError(f"exposure: column '{col}' of patient {row['patient_id']} holds '{row[col]}', which "
                             "is not a date; give an ISO date (YYYY-MM-DD)")  # fmt: skip
        ex[col] = parsed.astype("datetime64[ns]")
    undated = ex["start"].isna()
    if undated.any():
        who = ex.loc[undated, "patient_id"].iloc[0]
        raise InputError(f"exposure: patient {who} has an interval without a start date; a course needs the first "
                         "dose: add the start (a partial date is imputed to the first day)")  # fmt: skip
    flag = ex["discontinued"] if "discontinued" in ex.columns else pd.Series(False, index=ex.index)
    ex["discontinued"] = flag.astype("boolean").fillna(False).astype(bool)
    if "reason" not in ex.columns:
        ex["reason"] = None
    ex["drug"] = ex["drug"].astype("string").str.strip().str.lower()
    return ex


def derive_courses(exposure: pd.DataFrame) -> pd.DataFrame:
    """One row per course of each patient, courses numbered by their first dose.

    Parameters
    ----------
    exposure : DataFrame
        Exposure intervals: ``patient_id, drug, start, end`` (end empty while ongoing), ``discontinued``
        (missing counts as false) and ``reason``.

    Returns
    -------
    DataFrame
        ``COURSE_COLUMNS``: ``start`` the first dose; ``end`` the last dose when the course was discontinued
        (else NaT); ``status`` "discontinued", "ongoing" (its last interval is open) or "on hold" (its last
        interval ended without a discontinuation and nothing followed yet); ``stop_reason`` of the discontinued
        interval; ``n_holds`` gaps of more than a day between its intervals; ``rechallenge`` true for a course of
        a drug the patient had discontinued before; ``previous_drug`` of the course before it (by first dose)
        and ``switch`` true when that was another drug.

    Examples
    --------
    >>> ex = pd.DataFrame({"patient_id": ["P1"] * 3, "drug": ["crizotinib"] * 3,
    ...     "start": ["2020-01-01", "2020-03-01", "2021-01-01"], "end": ["2020-01-31", "2020-06-30", None],
    ...     "discontinued": [False, True, False]})
    >>> derive_courses(ex)[["course", "status", "n_holds", "rechallenge"]].values.tolist()
    [[1, 'discontinued', 1, False], [2, 'ongoing', 0, True]]
    """
    shared = _SHARED.get()
    if shared is None or exposure is not shared.exposure:
        return _derive_courses(exposure)
    if shared.courses is None:
        shared.courses = _derive_courses(exposure)
    return shared.courses.copy()


def _derive_courses(exposure: pd.DataFrame) -> pd.DataFrame:
    ex = _exposure(exposure).sort_values(["patient_id", "drug", "start", "end"], kind="stable", na_position="last")
    keys = [ex["patient_id"], ex["drug"]]
    # a new course begins after every discontinued interval of the same drug
    ex["_n"] = ex["discontinued"].astype(int).groupby(keys).shift(fill_value=0).groupby(keys).cumsum()
    prev_end = ex.groupby([ex["patient_id"], ex["drug"], ex["_n"]])["end"].shift()
    ex["_hold"] = (prev_end.notna() & (ex["start"] > prev_end + pd.Timedelta(days=1))).astype(int)
    g = ex.groupby(["patient_id", "drug", "_n"], sort=False)
    out = g.agg(start=("start", "min"), n_intervals=("start", "size"), n_holds=("_hold", "sum")).reset_index()
    last = ex.drop_duplicates(["patient_id", "drug", "_n"], keep="last").set_index(["patient_id", "drug", "_n"])
    idx = pd.MultiIndex.from_frame(out[["patient_id", "drug", "_n"]])
    last_end, stopped = last["end"].reindex(idx).to_numpy(), last["discontinued"].reindex(idx).to_numpy()
    out["discontinued"] = stopped.astype(bool)
    out["end"] = pd.Series(last_end, index=out.index).where(out["discontinued"]).astype("datetime64[ns]")
    out["status"] = np.select([out["discontinued"], pd.isna(last_end)], ["discontinued", "ongoing"], "on hold")
    out["stop_reason"] = pd.Series(last["reason"].reindex(idx).to_numpy(), index=out.index).where(out["discontinued"])
    out["rechallenge"] = out["_n"] > 0
    out = out.sort_values(["patient_id", "start", "drug"], kind="stable").reset_index(drop=True)
    out["course"] = out.groupby("patient_id").cumcount() + 1
    out["previous_drug"] = out.groupby("patient_id")["drug"].shift()
    out["switch"] = out["previous_drug"].notna() & (out["previous_drug"] != out["drug"])
    out["previous_drug"] = out["previous_drug"].astype("object").where(out["previous_drug"].notna(), None)
    out["n_holds"] = out["n_holds"].astype(int)
    return out[list(COURSE_COLUMNS)]


def derive_index_therapy(courses: pd.DataFrame, *, index_drug: str | None = None) -> pd.DataFrame:
    """The index therapy of each treated patient: their first course of a kinase inhibitor, or of ``index_drug``.

    Parameters
    ----------
    courses : DataFrame
        :func:`derive_courses` output, or the exposure intervals themselves (their courses are derived).
    index_drug : str, optional
        None: the first course of a catalogue kinase inhibitor (``schemas.vocabulary.kinase_inhibitors``).
        A drug name: the first course of that drug. :data:`ANY_DRUG`: the first course of any drug (a trial
        of a drug outside the catalogue, where admiral's first dose of study treatment is day 1).

    Returns
    -------
    DataFrame
        ``INDEX_COLUMNS``, one row per patient who has such a course (patients without one have no index
        therapy, so no day 1): the drug, the course number, first dose, last dose (NaT unless discontinued),
        status, discontinued and stop reason of that course.
    """
    if "course" not in courses.columns:  # exposure intervals: their courses first
        shared = _SHARED.get()
        if shared is not None and courses is shared.exposure:
            if index_drug not in shared.index_therapy:
                shared.index_therapy[index_drug] = _derive_index_therapy(derive_courses(courses), index_drug)
            return shared.index_therapy[index_drug].copy()
        courses = derive_courses(courses)
    return _derive_index_therapy(courses, index_drug)


def _derive_index_therapy(courses: pd.DataFrame, index_drug: str | None) -> pd.DataFrame:
    from tkitrack.schemas.vocabulary import kinase_inhibitors

    missing = [c for c in COURSE_COLUMNS if c not in courses.columns]
    if missing:
        raise InputError(f"courses: column(s) {missing} missing; derive them with derive_courses(exposure)")
    if index_drug is None:
        chosen = courses[courses["drug"].isin(kinase_inhibitors())]
    elif str(index_drug).strip().lower() == ANY_DRUG:
        chosen = courses
    else:
        chosen = courses[courses["drug"] == str(index_drug).strip().lower()]
    first = chosen.sort_values(["patient_id", "course"], kind="stable").drop_duplicates("patient_id")
    out = first.rename(columns={"drug": "index_drug", "course": "index_course", "start": "index_start",
                                "end": "index_end", "status": "index_status", "discontinued": "index_discontinued",
                                "stop_reason": "index_stop_reason"})  # fmt: skip
    return out[list(INDEX_COLUMNS)].reset_index(drop=True)


def derive_exposure_from_ex(sdtm: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Exposure intervals (``patient_id, drug, start, end, discontinued, reason, dose``) from SDTM EX.

    Dates are the first day of a partial start and the last day of a partial end. The discontinuation is
    SUPPEX DISCFL where given, else (SDTM EX has no flag) the last EX record of a drug with an end date; the
    reason is SUPPEX ENDRSN. A record with a dose of zero (other than placebo) is not a dose and is left out.
    """
    from tkitrack.schemas.sdtm_out import EXPOSURE_REASONS
    from tkitrack.schemas.sdtm_qualifiers import supp_values
    from tkitrack.schemas.sdtm_records import infer_discontinued
    from tkitrack.schemas.sdtm_tumour import impute_text, text

    domains = {str(k).upper(): v for k, v in sdtm.items()}
    ex = domains.get("EX")
    columns = ["patient_id", "drug", "start", "end", "discontinued", "reason", "dose"]
    if ex is None or not len(ex):
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c in ("start", "end") else "object")
                             for c in columns})  # fmt: skip
    missing = [c for c in ("USUBJID", "EXTRT", "EXSTDTC") if c not in ex.columns]
    if missing:
        raise InputError(f"SDTM EX has no column {', '.join(missing)}; it has {', '.join(map(str, ex.columns))}")
    end_text = text(ex["EXENDTC"]) if "EXENDTC" in ex.columns else pd.Series("", index=ex.index)
    out = pd.DataFrame({"patient_id": text(ex["USUBJID"]), "drug": text(ex["EXTRT"]).str.lower(),
                        "start": impute_text(ex["EXSTDTC"], "first"), "end": impute_text(end_text, "last"),
                        "dose": pd.to_numeric(text(ex.get("EXDOSE", pd.Series("", index=ex.index))),
                                              errors="coerce")}, index=ex.index)  # fmt: skip
    supp = supp_values(domains, "EX", ex, ["DISCFL", "ENDRSN"], idvar="EXSEQ")
    inferred = infer_discontinued(out["patient_id"], out["drug"], text(ex["EXSTDTC"]), end_text) == "true"
    flagged = supp["DISCFL"].str.upper().map({"Y": True, "N": False})
    out["discontinued"] = flagged.astype("boolean").fillna(inferred).astype(bool)
    out["reason"] = supp["ENDRSN"].str.upper().map({v: k for k, v in EXPOSURE_REASONS.items()})
    not_a_dose = (out["dose"] == 0) & ~out["drug"].str.contains("placebo", regex=False)
    return out.loc[~not_a_dose & out["start"].notna(), columns].reset_index(drop=True)
