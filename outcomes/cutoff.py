"""The data cut-off: the records as they stood on a date, so that nothing after it is used."""

from __future__ import annotations

import datetime as dt

import pandas as pd

__all__ = ["CUTOFF_DATES", "derive_records_at_cutoff"]

#: record -> the date that says when the record happened (records dated after the cut-off are left out).
CUTOFF_DATES: dict[str, str] = {
    "patient": "diagnosis_date",
    "molecular": "specimen_date",
    "ihc": "specimen_date",
    "exposure": "start",
    "ae": "start",
    "assessment": "date",
    "procedure": "date",
    "disease_event": "date",
    "followup": "date",
}
#: record -> (end date, columns that only mean something once it ended): an end after the cut-off is not known yet.
_ENDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "exposure": ("end", ("reason", "discontinued")),
    "ae": ("end", ("outcome",)),
    "followup": ("death_date", ("death_cause",)),
}


def _blank(frame: pd.DataFrame, mask: pd.Series, column: str) -> None:
    if column not in frame.columns or not mask.any():
        return
    if pd.api.types.is_bool_dtype(frame[column]):
        frame.loc[mask, column] = False  # "discontinued": not (yet) at the cut-off
    else:
        frame.loc[mask, column] = None


def derive_records_at_cutoff(frames: dict[str, pd.DataFrame], cutoff: dt.date | str | None) -> dict[str, pd.DataFrame]:
    """Typed record frames as known on ``cutoff`` (inclusive); the input frames are not changed.

    A record dated after the cut-off is left out (by the date of :data:`CUTOFF_DATES`; a patient diagnosed after
    it leaves with every record), an undated record is kept; an exposure interval or AE that ended after the
    cut-off is open (ongoing) at it, with its stop reason, discontinuation and outcome unknown; a death after it
    is not yet known. ``None`` returns the frames as given.
    """
    if cutoff is None:
        return frames
    day = pd.Timestamp(cutoff)
    out: dict[str, pd.DataFrame] = {}
    for record, frame in frames.items():
        date = CUTOFF_DATES.get(record)
        keep = pd.Series(True, index=frame.index)
        if date in frame.columns:
            keep = ~(pd.to_datetime(frame[date]) > day)
        kept = frame.loc[keep].copy()
        if record in _ENDS:
            end, meaning = _ENDS[record]
            if end in kept.columns:
                later = pd.to_datetime(kept[end]) > day
                for column in (end, f"{end}_dtc", f"{end}_dtf", *meaning):
                    _blank(kept, later, column)
                if record == "followup" and later.any() and "vital_status" in kept.columns:
                    kept.loc[later, "vital_status"] = "alive"  # the contact itself was before the cut-off
        out[record] = kept
    if "patient" in out:
        ids = set(out["patient"]["patient_id"])
        out = {r: (f if r == "patient" else f.loc[f["patient_id"].isin(ids)]) for r, f in out.items()}
    return out
