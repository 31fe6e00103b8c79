"""A patient's history as one date-ordered table: diagnosis, drug courses, AEs, scans, procedures, events.

The rows are built in plain Python (:func:`timeline_rows`, from records as dicts), so that `tkitrack timeline P`
answers without importing pandas; :func:`derive_timeline` is the same rows as a DataFrame for typed frames.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["TIMELINE_COLUMNS", "derive_timeline", "timeline_rows"]

TIMELINE_COLUMNS = ["patient_id", "date", "date_given", "day", "kind", "record", "record_id", "detail"]
#: Order of the kinds on one day: the diagnosis first, then the molecular finding, a dose change's stop, its start.
_ORDER = {"diagnosis": 0, "molecular": 1, "stop": 2, "start": 3}


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")  # pandas' NA and NaT, without importing pandas


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _num(value: Any) -> str:
    return "" if _missing(value) else f"{float(value):g}"


def _date(value: Any) -> dt.date | None:
    """A stored date (a date, a datetime/Timestamp, or ISO text as SQLite returns it) as a date; None if missing."""
    if _missing(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _true(value: Any) -> bool:
    return not _missing(value) and bool(value)


def _details(record: str, r: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(date field, kind, detail) of the timeline rows one record gives."""
    g = r.get
    if record == "patient":
        return [("diagnosis_date", "diagnosis", f"{_text(g('histology'))} {_text(g('primary_site'))}")]
    if record == "molecular":
        return [("specimen_date", "molecular", f"{_text(g('gene_5p'))}::{_text(g('gene_3p'))} ({_text(g('method'))})")]
    if record == "exposure":
        dose = f"{_text(g('drug'))} {_num(g('dose'))} {_text(g('unit'))} {_text(g('frequency'))}"
        ongoing = " (ongoing)" if _missing(g("end")) else ""
        return [("start", "start", dose + ongoing), ("end", "stop", f"{dose} stopped: {_text(g('reason'))}")]
    if record == "ae":
        what = f"{_text(g('term'))} grade {_num(g('grade'))}"
        serious = " (serious)" if _true(g("serious")) else ""
        return [("start", "AE onset", what + serious), ("end", "AE resolved", f"{what} {_text(g('outcome'))}")]
    if record == "assessment":
        response = _text(g("response")) or ("baseline" if _true(g("baseline")) else "")
        size = "" if _missing(g("sum_diameters")) else f", sum {float(g('sum_diameters')):g} mm"
        return [("date", "assessment", f"{_text(g('modality'))}: {response}{size}")]
    if record == "procedure":
        return [("date", _text(g("kind")), f"{_text(g('site'))} {_text(g('margin'))}")]
    if record == "disease_event":
        return [("date", _text(g("kind")), f"{_text(g('site'))} ({_text(g('confirmed_by'))})")]
    if record == "followup":
        return [("date", "last contact", _text(g("vital_status"))), ("death_date", "death", _text(g("death_cause")))]
    return []


#: The record types a timeline shows, in the order their rows are gathered (ties on a day keep this order).
RECORDS = ("patient", "molecular", "exposure", "ae", "assessment", "procedure", "disease_event", "followup")


def timeline_rows(records: Mapping[str, Iterable[Mapping[str, Any]]], patient_id: str | None = None) -> list[dict]:
    """Every dated fact of the given records (dicts by record type), in date order, with days from diagnosis.

    ``date`` is a :class:`datetime.date`, ``date_given`` the date as entered (partial dates as given), ``day``
    counts from the patient's diagnosis date (day 0) and is None without one. An exposure interval gives a
    ``start`` row and, when ended, a ``stop`` row with the reason; open intervals are marked ongoing.
    """
    rows: list[dict] = []
    diagnosis: dict[str, dt.date | None] = {}
    for record in RECORDS:
        mine = [r for r in records.get(record, ()) if patient_id is None or r.get("patient_id") == patient_id]
        if record == "patient":
            diagnosis = {str(r["patient_id"]): _date(r.get("diagnosis_date")) for r in mine}
        by_field: dict[int, list[dict]] = {}
        for r in mine:
            for i, (field, kind, detail) in enumerate(_details(record, r)):
                when = _date(r.get(field))
                if when is None:
                    continue
                rid = r.get("id") if record != "patient" and not _missing(r.get("id")) else r["patient_id"]
                by_field.setdefault(i, []).append({
                    "patient_id": str(r["patient_id"]), "date": when, "date_given": _text(r.get(f"{field}_dtc")),
                    "kind": kind, "record": record, "record_id": str(rid), "detail": detail.strip(),
                })  # fmt: skip
        for i in sorted(by_field):  # a record type's start rows, then its stop rows (as the tables are read)
            rows += by_field[i]
    for row in rows:
        dx = diagnosis.get(row["patient_id"])
        row["day"] = None if dx is None else (row["date"] - dx).days
    rows.sort(key=lambda r: (r["patient_id"], r["date"], _ORDER.get(r["kind"], 5)))  # stable
    return [{c: row[c] for c in TIMELINE_COLUMNS} for row in rows]


def derive_timeline(frames: Mapping[str, Any], patient_id: str | None = None):
    """:func:`timeline_rows` of typed record frames, as a DataFrame.

    Parameters
    ----------
    frames : dict of typed record frames (``patient``, ``exposure``, ``ae``, ``assessment``, ``procedure``,
        ``disease_event``, ``followup``, ``molecular``); missing ones count as empty.
    patient_id : keep only this patient.

    Returns
    -------
    DataFrame with ``patient_id, date, date_given, day, kind, record, record_id, detail``; ``date`` as datetime64,
    ``day`` as Int64 (empty without a diagnosis date), the text columns as strings.
    """
    import pandas as pd

    records = {}
    for record, frame in frames.items():
        if patient_id is not None and "patient_id" in frame:
            frame = frame[frame["patient_id"] == patient_id]
        records[record] = frame.to_dict("records")
    out = pd.DataFrame(timeline_rows(records, patient_id), columns=TIMELINE_COLUMNS)
    if out.empty:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    out["date"] = pd.to_datetime(out["date"])
    out["day"] = pd.array(out["day"].tolist(), dtype="Int64")
    for col in ("patient_id", "date_given", "kind", "record", "record_id", "detail"):
        out[col] = out[col].astype("string")
    return out
