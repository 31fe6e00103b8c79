"""Swimmer-plot data: one lane per patient, treatment segments and dated markers, derived from record frames.

Day convention: ``day = (date - origin).days`` (integers), so the origin itself is day 0 and earlier dates are
negative.
Treatment segments are half-open intervals ``[start_day, end_day)``: ``end_day`` is the day after the last dose
day, so that two contiguous exposure intervals (a dose change) touch without a gap and an interruption is any
stretch not covered by an interval. Everything is grouped pandas work; no loop runs per patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import as_datetime
from tkitrack.schemas.distinct import per_distinct_rows
from tkitrack.schemas.dosing import FREQUENCY_PER_DAY
from tkitrack.schemas.errors import InputError

__all__ = [
    "DEFAULT_GROUP_COLUMNS",
    "LANE_COLUMNS",
    "MARKER_COLUMNS",
    "MARKER_KINDS",
    "SEGMENT_COLUMNS",
    "SURGERY_KINDS",
    "Origin",
    "SwimmerData",
    "derive_swimmer_data",
]

Origin = Literal["diagnosis", "first_dose", "reference"]

#: Patient columns carried onto the lanes (when present) so that lanes can be grouped and sorted by them.
DEFAULT_GROUP_COLUMNS: tuple[str, ...] = ("cohort", "site", "histology", "primary_site", "fusion", "sex")
#: Marker kinds in legend order.
MARKER_KINDS: tuple[str, ...] = ("CR", "PR", "PD", "recurrence", "metastasis", "surgery", "death", "AE")
#: Procedure kinds drawn as surgery (a biopsy is not).
SURGERY_KINDS: tuple[str, ...] = ("resection", "amputation")
LANE_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "lane_start_day",
    "lane_end_day",
    "ongoing_treatment",
    "ongoing_response",
    "ongoing_followup",
    "alive",
)
SEGMENT_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "start_day",
    "end_day",
    "on_treatment",
    "drug",
    "dose_level",
    "dose",
    "reason",
    "ongoing",
    "record_id",
)
MARKER_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "day",
    "end_day",
    "kind",
    "grade",
    "label",
    "detail",
    "record",
    "record_id",
)


@dataclass(frozen=True)
class SwimmerData:
    """Everything a swimmer plot draws, as three frames.

    Attributes
    ----------
    lanes : pandas.DataFrame
        One row per patient: ``patient_id``, the group columns found, ``lane_start_day`` (0, or earlier when a
        record predates the origin), ``lane_end_day`` (last known day), ``ongoing_treatment`` (an open exposure
        interval and alive), ``ongoing_response`` (last CR/PR not followed by PD, recurrence or death),
        ``ongoing_followup`` (alive with a follow-up record), ``alive`` (no death recorded).
    segments : pandas.DataFrame
        ``patient_id, start_day, end_day, on_treatment, drug, dose_level, dose, reason, ongoing``; off-treatment
        rows (before the first dose, interruptions, after the last) have ``on_treatment`` False and no drug.
        ``dose_level`` is relative to the patient's first interval of that drug: starting, reduced,
        escalated, or changed (unit changed, not comparable).
    markers : pandas.DataFrame
        ``patient_id, day, end_day, kind, grade, label, detail``; ``kind`` is one of :data:`MARKER_KINDS`,
        ``grade`` (nullable Int64) is set for AEs, ``end_day`` is the AE resolution day where known.
    origin : str
        The time origin the days count from.
    excluded : pandas.DataFrame
        ``patient_id, reason``: patients without a lane (no origin date) and why ("without a diagnosis date"),
        so that a figure can say who is not shown.

    """

    lanes: pd.DataFrame
    segments: pd.DataFrame
    markers: pd.DataFrame
    origin: str = "diagnosis"
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["patient_id", "reason"]))


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return as_datetime(frame[column], errors="coerce")


def _frame(frame: pd.DataFrame | None, name: str, required: Sequence[str]) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in ("patient_id", *required)})
    missing = [c for c in ("patient_id", *required) if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name} frame lacks column(s) {', '.join(missing)}; expected the {name} record columns listed in "
            "docs/architecture.md."
        )
    return frame


def _origins(patients: pd.DataFrame, exposure: pd.DataFrame, origin: str) -> pd.Series:
    first_dose = exposure.assign(_s=_dates(exposure, "start")).groupby("patient_id")["_s"].min()
    per_patient = patients.drop_duplicates("patient_id").set_index("patient_id")
    if origin == "diagnosis":
        return _dates(per_patient, "diagnosis_date")
    if origin == "first_dose":
        return first_dose.reindex(per_patient.index)
    if origin == "reference":
        return _dates(per_patient, "reference_date").fillna(first_dose.reindex(per_patient.index))
    raise InputError(f"origin={origin!r} is not known; use 'diagnosis', 'first_dose' or 'reference'.")


def _ids(frame: pd.DataFrame) -> pd.Series:
    """The records' ids as text (empty when the frame has no ``id`` column)."""
    if "id" not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame["id"].astype("Int64").astype("string")


def _days(frame: pd.DataFrame, column: str, origin: pd.Series) -> pd.Series:
    return (_dates(frame, column) - frame["patient_id"].map(origin)).dt.days


def _exposure_segments(exposure: pd.DataFrame, origin: pd.Series, last_day: pd.Series) -> pd.DataFrame:
    ex = exposure.loc[exposure["patient_id"].isin(origin.dropna().index)].copy()
    ex["start_day"] = _days(ex, "start", origin)
    ex["ongoing"] = _dates(ex, "end").isna()
    ex["end_day"] = (_days(ex, "end", origin) + 1).fillna(ex["patient_id"].map(last_day))
    ex["end_day"] = np.maximum(ex["end_day"], ex["start_day"])
    ex = ex.dropna(subset=["start_day"]).sort_values(["patient_id", "start_day"], kind="stable")
    freq = ex["frequency"] if "frequency" in ex.columns else pd.Series("", index=ex.index)
    unit = (ex["unit"] if "unit" in ex.columns else pd.Series("", index=ex.index)).fillna("")
    daily = pd.to_numeric(ex["dose"], errors="coerce") * freq.map(FREQUENCY_PER_DAY).fillna(1.0)
    first = ex.assign(_daily=daily, _unit=unit).groupby(["patient_id", "drug"])[["_daily", "_unit"]].transform("first")
    level = np.select(
        [unit.ne(first["_unit"]), daily < first["_daily"] - 1e-9, daily > first["_daily"] + 1e-9],
        ["changed", "reduced", "escalated"],
        default="starting",
    )
    dose_text = ex["dose"].astype("string").fillna("?") + " " + unit.astype("string").fillna("")
    dose_text = (dose_text + " " + freq.astype("string").fillna("")).str.strip()
    reason = ex["reason"] if "reason" in ex.columns else pd.Series(pd.NA, index=ex.index)
    return pd.DataFrame(
        {
            "patient_id": ex["patient_id"],
            "start_day": ex["start_day"],
            "end_day": ex["end_day"],
            "on_treatment": True,
            "drug": ex["drug"].astype("string"),
            "dose_level": level,
            "dose": dose_text,
            "reason": reason.astype("string"),
            "ongoing": ex["ongoing"].astype(bool),
            "record_id": _ids(ex),
        }
    )


def _off_segments(on: pd.DataFrame, lanes: pd.DataFrame) -> pd.DataFrame:
    """Complement of the union of on-treatment intervals within each lane (grouped cumulative maximum)."""
    lane = lanes[["patient_id", "lane_start_day", "lane_end_day"]]
    on = on.sort_values(["patient_id", "start_day"], kind="stable")
    covered_to = on.groupby("patient_id")["end_day"].cummax()
    prev_cover = covered_to.groupby(on["patient_id"]).shift()
    gaps = pd.DataFrame(
        {
            "patient_id": on["patient_id"],
            "start_day": prev_cover,
            "end_day": on["start_day"],
        }
    ).dropna()
    last = covered_to.groupby(on["patient_id"]).max().rename("start_day").reset_index()
    first = on.groupby("patient_id")["start_day"].min().rename("end_day").reset_index()
    before = lane.merge(first, on="patient_id", how="left")
    before = before.assign(start_day=before["lane_start_day"], end_day=before["end_day"].fillna(before["lane_end_day"]))
    after = lane.merge(last, on="patient_id", how="inner").assign(end_day=lambda f: f["lane_end_day"])
    columns = ["patient_id", "start_day", "end_day"]
    off = pd.concat([f[columns] for f in (before, gaps, after) if len(f)] or [before[columns]])
    off = off.loc[off["end_day"] > off["start_day"]]
    return off.assign(
        on_treatment=False,
        drug=pd.NA,
        dose_level=pd.NA,
        dose=pd.NA,
        reason=pd.NA,
        ongoing=False,
        record_id=pd.NA,
    ).astype({"drug": "string", "dose_level": "object", "dose": "string", "reason": "string", "record_id": "string"})


def _shown(values: pd.Series, template: str) -> pd.Series:
    """``template`` filled with each cell, "" for a missing or empty one; once per distinct value of a text
    column (hundreds of thousands of markers repeat a few criteria, sites and drugs)."""
    from tkitrack.schemas.distinct import per_distinct_text

    return per_distinct_text(values, lambda s: s.map(lambda v: template.format(v) if pd.notna(v) and v != "" else ""))


def _markers(
    assessment: pd.DataFrame,
    disease_event: pd.DataFrame,
    procedure: pd.DataFrame,
    ae: pd.DataFrame,
    death_day: pd.Series,
    death_record: pd.Series,
    origin: pd.Series,
    ae_min_grade: int,
) -> pd.DataFrame:
    parts = []
    rs = assessment.loc[assessment["response"].isin(["CR", "PR", "PD"])]
    shown = [c for c in ("response", "criteria", "modality") if c in rs.columns]

    def detail(cells: pd.DataFrame) -> pd.Series:  # row by row: once per distinct row of record text columns
        text = "Overall response " + cells["response"].astype(str)
        for extra in shown[1:]:
            text = text + _shown(cells[extra], ", {}")
        return text

    rs_detail = per_distinct_rows(rs[shown], detail)
    parts.append(
        pd.DataFrame(
            {
                "patient_id": rs["patient_id"],
                "day": _days(rs, "date", origin),
                "kind": rs["response"],
                "label": rs["response"],
                "detail": rs_detail,
                "record": "assessment",
                "record_id": _ids(rs),
            }
        )
    )
    de = disease_event.loc[disease_event["kind"].isin(["recurrence", "metastasis", "progression"])]
    site = _shown(de["site"], " ({})") if "site" in de else ""
    kind = de["kind"].replace({"progression": "PD"})
    parts.append(
        pd.DataFrame(
            {
                "patient_id": de["patient_id"],
                "day": _days(de, "date", origin),
                "kind": kind,
                "label": de["kind"],
                "detail": de["kind"].str.capitalize() + site,
                "record": "disease_event",
                "record_id": _ids(de),
            }
        )
    )
    pr = procedure.loc[procedure["kind"].isin(SURGERY_KINDS)]
    margin = _shown(pr["margin"], ", margin {}") if "margin" in pr else ""
    parts.append(
        pd.DataFrame(
            {
                "patient_id": pr["patient_id"],
                "day": _days(pr, "date", origin),
                "kind": "surgery",
                "label": pr["kind"],
                "detail": pr["kind"].str.capitalize() + margin,
                "record": "procedure",
                "record_id": _ids(pr),
            }
        )
    )
    dead = death_day.dropna()
    parts.append(
        pd.DataFrame(
            {"patient_id": dead.index, "day": dead.to_numpy(), "kind": "death", "label": "death", "detail": "Death",
             "record": "followup", "record_id": death_record.reindex(dead.index).to_numpy()}
        )
    )  # fmt: skip
    parts = [p.assign(grade=np.nan, end_day=np.nan) for p in parts]
    grade = pd.to_numeric(ae["grade"], errors="coerce").astype("float64")
    ae = ae.loc[grade >= ae_min_grade]
    grade = grade.loc[ae.index]
    attributed = _shown(ae["attributed_drug"], ", attributed to {}") if "attributed_drug" in ae else ""
    parts.append(
        pd.DataFrame(
            {
                "patient_id": ae["patient_id"],
                "day": _days(ae, "start", origin).astype("float64"),
                "end_day": _days(ae, "end", origin).astype("float64"),
                "kind": "AE",
                "grade": grade,
                "label": ae["term"].astype(str),
                "detail": ae["term"].astype(str) + ", grade " + grade.astype("Int64").astype(str) + attributed,
                "record": "ae",
                "record_id": _ids(ae),
            }
        )
    )
    parts = [p.astype({"day": "float64"}) for p in parts if len(p)]
    empty = pd.DataFrame(
        {c: pd.Series(dtype="float64" if "day" in c or c == "grade" else "object") for c in MARKER_COLUMNS}
    )
    markers = pd.concat(parts, ignore_index=True) if parts else empty
    del parts
    # the kept rows' order from the two key columns, then each column taken once and typed (a registry's markers
    # are millions of rows: filtering, sorting, reordering and typing the whole frame copied it four times)
    keep = markers["patient_id"].isin(origin.dropna().index) & markers["day"].notna()
    rows = markers.loc[keep, ["patient_id", "day"]].sort_values(["patient_id", "day"], kind="stable").index.to_numpy()
    return pd.DataFrame(
        {c: markers[c].take(rows).astype(_MARKER_TYPES.get(c, markers[c].dtype)).array for c in MARKER_COLUMNS},
        index=pd.Index(rows),
    )


_MARKER_TYPES = {"day": "float64", "end_day": "float64", "grade": "Int64", "kind": "string", "label": "string",
                 "detail": "string", "record": "string", "record_id": "string"}  # fmt: skip


def _ongoing_response(markers: pd.DataFrame) -> pd.Series:
    """True per patient whose last CR/PR is not followed by PD, recurrence or death (all markers, sorted)."""
    relevant = markers.loc[markers["kind"].isin(["CR", "PR", "PD", "recurrence", "death"])]
    return relevant.groupby("patient_id")["kind"].last().isin(["CR", "PR"])


def _first_responses(markers: pd.DataFrame) -> pd.DataFrame:
    """Keep the first CR, the first PR and the first PD of each patient, every other marker."""
    first_only = markers["kind"].isin(["CR", "PR", "PD"])
    keep = ~first_only | ~markers.duplicated(["patient_id", "kind"])
    return markers.loc[keep].reset_index(drop=True)


def derive_swimmer_data(
    patients: pd.DataFrame,
    exposure: pd.DataFrame | None,
    assessment: pd.DataFrame | None,
    disease_event: pd.DataFrame | None,
    procedure: pd.DataFrame | None,
    followup: pd.DataFrame | None,
    ae: pd.DataFrame | None,
    *,
    origin: Origin = "diagnosis",
    ae_min_grade: int = 1,
    group_columns: Sequence[str] | None = None,
) -> SwimmerData:
    """Derive lanes, treatment segments and event markers for a swimmer plot.

    Parameters
    ----------
    patients, exposure, assessment, disease_event, procedure, followup, ae : pandas.DataFrame or None
        Record frames with the columns of ``docs/architecture.md``; ``None`` stands for no records. Dates may
        be ``datetime64`` or ``datetime.date``.
    origin : {"diagnosis", "first_dose", "reference"}
        Day 0 of every lane: the diagnosis date, the first exposure start, or ``reference_date`` falling back
        to the first dose. Patients without an origin date (for example no exposure with ``first_dose``) get
        no lane.
    ae_min_grade : int
        Adverse events below this CTCAE grade are left out.
    group_columns : sequence of str, optional
        Patient columns copied onto the lanes for grouping; default the :data:`DEFAULT_GROUP_COLUMNS` present.

    Returns
    -------
    SwimmerData
        The three frames described in :class:`SwimmerData`, ``day = (date - origin).days``.

    Examples
    --------
    >>> p = pd.DataFrame({"patient_id": ["P1"], "diagnosis_date": [pd.Timestamp("2020-01-01")]})
    >>> ex = pd.DataFrame({"patient_id": ["P1"], "drug": ["crizotinib"], "dose": [200], "unit": ["mg"],
    ...                    "frequency": ["QD"], "start": [pd.Timestamp("2020-01-11")], "end": [pd.NaT]})
    >>> fu = pd.DataFrame({"patient_id": ["P1"], "date": [pd.Timestamp("2020-04-10")], "vital_status": ["alive"]})
    >>> d = derive_swimmer_data(p, ex, None, None, None, fu, None)
    >>> d.segments[["start_day", "end_day", "on_treatment"]].to_numpy().tolist()
    [[0, 10, False], [10, 100, True]]
    """
    patients = _frame(patients, "patient", [])
    exposure = _frame(exposure, "exposure", ["drug", "dose", "start", "end"])
    assessment = _frame(assessment, "assessment", ["date", "response"])
    disease_event = _frame(disease_event, "disease_event", ["kind", "date"])
    procedure = _frame(procedure, "procedure", ["kind", "date"])
    followup = _frame(followup, "followup", ["date"])
    ae = _frame(ae, "ae", ["term", "grade", "start"])
    all_origins = _origins(patients, exposure, origin)
    origin_date = all_origins.dropna()
    ids = pd.Index(origin_date.index, name="patient_id")
    why = {"diagnosis": "without a diagnosis date", "first_dose": "without a drug course",
           "reference": "without a reference date or a drug course"}[origin]  # fmt: skip
    excluded = pd.DataFrame({"patient_id": all_origins.index[all_origins.isna()].astype(str), "reason": why})

    fu = followup.loc[followup["patient_id"].isin(ids)]
    death_date = _dates(fu, "death_date")
    if "vital_status" in fu.columns:
        death_date = death_date.fillna(_dates(fu, "date").where(fu["vital_status"].eq("dead")))
    death_days = (death_date - fu["patient_id"].map(origin_date)).dt.days
    death_day = death_days.groupby(fu["patient_id"]).min().reindex(ids)
    first_death = death_days.dropna().sort_values(kind="stable")
    death_record = _ids(fu).loc[first_death.index].groupby(fu["patient_id"].loc[first_death.index]).first()

    known = [
        _days(fu, "date", origin_date),
        _days(fu, "death_date", origin_date),
        _days(exposure, "start", origin_date),
        _days(exposure, "end", origin_date) + 1,
        _days(assessment, "date", origin_date),
        _days(disease_event, "date", origin_date),
        _days(procedure, "date", origin_date),
        _days(ae, "start", origin_date),
        _days(ae, "end", origin_date),
    ]
    frames = [fu, fu, exposure, exposure, assessment, disease_event, procedure, ae, ae]
    day_long = pd.concat(
        [
            pd.DataFrame({"patient_id": f["patient_id"], "day": d.astype("float64")}).dropna()
            for f, d in zip(frames, known, strict=True)
            if len(f)
        ]
        or [pd.DataFrame({"patient_id": pd.Series(dtype="object"), "day": pd.Series(dtype="float64")})]
    )
    last_day = day_long.groupby("patient_id")["day"].max().reindex(ids).fillna(0.0).clip(lower=0.0)
    last_day = last_day.where(death_day.isna(), death_day.fillna(0.0)).astype("float64")
    first_day = day_long.groupby("patient_id")["day"].min().reindex(ids).fillna(0.0).clip(upper=0.0)

    on = _exposure_segments(exposure, origin_date, last_day)
    on = on.assign(end_day=np.minimum(on["end_day"], on["patient_id"].map(last_day).fillna(on["end_day"])))
    on = on.assign(start_day=on["start_day"].astype("float64"), end_day=on["end_day"].astype("float64"))
    lane_end = pd.concat([last_day, on.groupby("patient_id")["end_day"].max().reindex(ids)], axis=1).max(axis=1)
    alive = death_day.isna()
    has_followup = pd.Series(ids.isin(fu["patient_id"]), index=ids)
    all_markers = _markers(assessment, disease_event, procedure, ae, death_day, death_record, origin_date,
                           ae_min_grade)  # fmt: skip
    markers = _first_responses(all_markers)
    lanes = pd.DataFrame(
        {
            "patient_id": ids,
            "lane_start_day": first_day.to_numpy(dtype="float64"),
            "lane_end_day": lane_end.to_numpy(dtype="float64"),
            "ongoing_treatment": (
                on.groupby("patient_id")["ongoing"].any().reindex(ids, fill_value=False) & alive
            ).to_numpy(dtype=bool),
            "ongoing_response": (_ongoing_response(all_markers).reindex(ids, fill_value=False) & alive).to_numpy(
                dtype=bool
            ),
            "ongoing_followup": (alive & has_followup).to_numpy(dtype=bool),
            "alive": alive.to_numpy(dtype=bool),
        }
    )
    wanted = [c for c in (group_columns or DEFAULT_GROUP_COLUMNS) if c in patients.columns and c != "patient_id"]
    if group_columns is not None and len(wanted) < len(group_columns):
        absent = sorted(set(group_columns) - set(wanted))
        raise InputError(f"group column(s) {', '.join(absent)} not in the patient frame; add them or drop them.")
    groups = patients.drop_duplicates("patient_id")[["patient_id", *wanted]]
    lanes = lanes.merge(groups, on="patient_id", how="left")[["patient_id", *wanted, *LANE_COLUMNS[1:]]]
    on = on.assign(ongoing=on["ongoing"] & on["patient_id"].map(alive).fillna(False).astype(bool))
    off = _off_segments(on, lanes)
    segments = pd.concat([on, off], ignore_index=True).sort_values(["patient_id", "start_day"], kind="stable")
    segments = segments.reset_index(drop=True)[list(SEGMENT_COLUMNS)].astype(
        {"start_day": "int64", "end_day": "int64", "dose_level": "string"}
    )
    lanes = lanes.astype({"lane_start_day": "int64", "lane_end_day": "int64"})
    markers = markers.astype({"day": "int64", "end_day": "Int64"})
    return SwimmerData(lanes=lanes, segments=segments, markers=markers, origin=origin, excluded=excluded)
