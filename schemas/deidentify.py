"""De-identification of exported records: pseudonyms, dates as days or shifted, identifiers and free text out."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.vocabulary import vocabulary

__all__ = [
    "AGE_CAP",
    "FREE_TEXT",
    "SHIFT_DAYS",
    "WITHHELD",
    "date_columns",
    "deidentify_text",
    "identifier_columns",
    "pseudonyms",
    "shift_offsets",
]

#: Ages above 89 are exported as 90, meaning "90 or older" (HIPAA Safe Harbor); so is the age at diagnosis of a
#: patient who is older than 89 at any later date of the record (their dates would otherwise reveal that age).
AGE_CAP = 90
#: With date_mode="shift", each patient's dates move by a whole number of days in -SHIFT_DAYS..SHIFT_DAYS (never 0).
SHIFT_DAYS = 182
#: (record, column) of every free-text field (FieldInfo.free_text): text that may hold names, places or dates.
#: A de-identified export leaves it out unless the user keeps the column by name; a required one keeps its
#: column with every value withheld, and one with a vocabulary (FieldInfo.known) keeps the values found there.
FREE_TEXT: tuple[tuple[str, str], ...] = tuple(
    (record, name) for record, model in RECORD_MODELS.items() for name in model.model_fields
    if field_info(model, name).free_text
)  # fmt: skip
#: What a withheld free-text value becomes (a verbatim AE term, a gene not in the vocabulary, an IHC marker).
WITHHELD = "[free text withheld]"


def _key(secret: str | bytes | None) -> bytes:
    if secret is None or (isinstance(secret, str | bytes) and not secret.strip()):
        raise InputError("a de-identified export needs a secret (the key of the pseudonyms and date shifts); "
                         "pass --secret-file with at least 16 characters and keep it with the data manager")  # fmt: skip
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key) < 16:
        raise InputError(f"the de-identification secret has {len(key)} characters; use at least 16 (random) ones")
    return key


def _digests(ids: pd.Series, key: bytes, purpose: bytes) -> pd.Series:
    """HMAC-SHA256 of each distinct id (one hash per patient, mapped back to the rows)."""
    unique = pd.unique(ids.dropna().astype(str))
    table = {p: hmac.new(key, purpose + p.encode("utf-8"), hashlib.sha256).hexdigest() for p in unique}
    return ids.astype(str).map(table).where(ids.notna())


def pseudonyms(ids: pd.Series, secret: str | bytes) -> pd.Series:
    """Keyed pseudonyms: ``P`` + the first 16 hex digits of HMAC-SHA256(secret, patient id).

    The same secret gives the same pseudonym in every export (so exports can be linked); without the
    secret nobody can recompute or reverse them. Raises InputError on the (2^-64) chance of a collision.
    """
    out = "P" + _digests(ids, _key(secret), b"id\0").str.slice(0, 16)
    pairs = pd.DataFrame({"id": ids, "p": out}).drop_duplicates()
    if pairs["p"].duplicated().any():
        raise InputError("two patient ids share a pseudonym; choose another secret")
    return out


def shift_offsets(ids: pd.Series, secret: str | bytes, max_days: int = SHIFT_DAYS) -> pd.Series:
    """Per-patient date offsets in days, in -max_days..-1 and 1..max_days, from HMAC-SHA256(secret, id)."""
    number = _digests(ids, _key(secret), b"shift\0").str.slice(0, 12).map(lambda h: int(h, 16), na_action="ignore")
    magnitude = number // 2 % max_days + 1
    return (magnitude * np.where(number % 2 == 0, 1, -1)).astype("Int64")


def identifier_columns(record: str) -> list[str]:
    """Template columns of a record that are direct identifiers (FieldInfo.identifier)."""
    model = RECORD_MODELS[record]
    names = [n for n in model.model_fields if field_info(model, n).identifier]
    return [n[:-4] if n.endswith("_dtc") else n for n in names]


def date_columns(record: str) -> list[str]:
    """Template columns of a record that hold a date (typed as ``X``, stored as ``X_dtc``)."""
    return [n[:-4] for n in RECORD_MODELS[record].model_fields if n.endswith("_dtc")]


def _anchors(typed: Mapping[str, pd.DataFrame]) -> tuple[pd.Series, pd.Series]:
    """Per patient: the anchor date (diagnosis, else the earliest date of any record) and which it is."""
    parts = []
    for record, frame in typed.items():
        for column in date_columns(record):
            if column != "birth_date" and column in frame:
                parts.append(frame[["patient_id", column]].set_axis(["patient_id", "date"], axis=1))
    dates = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["patient_id", "date"])
    first = pd.to_datetime(dates["date"]).groupby(dates["patient_id"]).min()
    pt = typed["patient"].set_index("patient_id")
    diagnosis = pd.to_datetime(pt["diagnosis_date"])
    anchor = diagnosis.fillna(pt.index.to_series().map(first))
    kind = pd.Series(np.where(diagnosis.notna(), "diagnosis_date", np.where(anchor.notna(), "first_record_date", "")),
                     index=pt.index)  # fmt: skip
    return anchor, kind


def _shift_text(given: pd.Series, offset: pd.Series) -> pd.Series:
    """Shift partial ISO dates by the patient's offset, keeping their precision: a complete date by the days (a
    time part is dropped), YYYY-MM by the offset in whole months (at least one), YYYY by one year in the
    direction of the offset (a year is the finest it can move without inventing a month). Nothing is kept."""
    text = given.astype("string").str.slice(0, 10)
    length = text.str.len()
    days = offset.astype("float64")
    full = pd.to_datetime(text.where(length == 10), format="%Y-%m-%d", errors="coerce") + pd.to_timedelta(days, "D")
    months = np.sign(days) * np.maximum(1, np.round(np.abs(days) / 30.4375))
    start = pd.to_datetime(text.where(length == 7), format="%Y-%m", errors="coerce")
    index = (start.dt.year * 12 + start.dt.month - 1 + months).astype("Int64")
    month_text = (index // 12).astype("string").str.zfill(4) + "-" + (index % 12 + 1).astype("string").str.zfill(2)
    years = pd.to_numeric(text.where(length == 4), errors="coerce") + np.sign(days)
    year_text = years.astype("Int64").astype("string").str.zfill(4)
    out = full.dt.strftime("%Y-%m-%d").astype("string")
    out = out.fillna(month_text.where(length == 7)).fillna(year_text.where(length == 4))
    return out.fillna("")


def _check_keep(keep: set[str]) -> None:
    free = {f"{r}.{c}" for r, c in FREE_TEXT}
    wrong = sorted(keep - free)
    if wrong:
        idents = {f"{r}.{c}" for r in RECORD_MODELS for c in identifier_columns(r)}
        why = [f"{k} (a direct identifier: never exported)" if k in idents else k for k in wrong]
        raise InputError(f"cannot keep {', '.join(why)}: keep names free-text columns as record.column, from "
                         f"{', '.join(sorted(free))}")  # fmt: skip


def _free_text(record: str, frame: pd.DataFrame, keep: set[str]) -> tuple[pd.DataFrame, list[str]]:
    """Withhold free text (see :data:`FREE_TEXT`); returns the frame and the columns to drop."""
    model, gone = RECORD_MODELS[record], []
    for r, column in FREE_TEXT:
        if r != record or column not in frame or f"{record}.{column}" in keep:
            continue
        info = field_info(model, column)
        if info.known is None and not info.required:
            gone.append(column)
            continue
        cells = frame[column].astype("string")
        known = pd.Series(False, index=frame.index)
        if info.known is not None:  # coded when the value is a vocabulary value (every one of a | list)
            parts = cells.str.split("|").explode().str.strip()
            found = parts.isin(vocabulary(info.known).values) | parts.isna() | (parts == "")
            known = found.groupby(level=0).all().reindex(frame.index, fill_value=True)
        frame[column] = cells.where(known.to_numpy() | (cells == "").fillna(True).to_numpy(), WITHHELD).to_numpy()
    return frame, gone


def deidentify_text(
    text: Mapping[str, pd.DataFrame],
    typed: Mapping[str, pd.DataFrame],
    *,
    secret: str | bytes | None,
    date_mode: str = "days",
    keep_text: Iterable[str] = (),
) -> tuple[dict[str, pd.DataFrame], dict]:
    """De-identify template text frames (row-aligned with their typed frames); return them and a description.

    Parameters
    ----------
    text : mapping of str to DataFrame
        Template text frames per record (the plain export).
    typed : mapping of str to DataFrame
        The typed frames they were made from (same rows, same order): imputed dates and flags.
    secret : str or bytes
        Key of the pseudonyms and date offsets (at least 16 characters); kept by the data manager.
    date_mode : {"days", "shift"}
        ``days``: every date ``X`` becomes ``X_day``, whole days from the patient's anchor (day 0: diagnosis,
        else the earliest date of any record), with ``X_dtf`` saying when the day (D) or month (M) was
        imputed. ``shift``: dates stay dates, moved by the patient's offset (see :func:`shift_offsets`).
    keep_text : iterable of str
        ``record.column`` free-text columns to keep after review (for example ``ae.term``).

    Returns
    -------
    tuple
        ``(frames, description)``; rows are ordered by pseudonym so the original id order is not kept.
    """
    if date_mode not in ("days", "shift"):
        raise InputError(f"date_mode '{date_mode}' is not known; use 'days' or 'shift'")
    keep = set(keep_text)
    _check_keep(keep)
    ids = pd.concat([f["patient_id"] for f in text.values()], ignore_index=True).drop_duplicates()
    pseudo = pd.Series(pseudonyms(ids, secret).to_numpy(), index=ids.to_numpy())
    anchor, kind = _anchors(typed) if date_mode == "days" else (None, None)
    offsets = pd.Series(shift_offsets(ids, secret).to_numpy(), index=ids.to_numpy()) if date_mode == "shift" else None
    out, dropped = {}, {}
    for record, frame in text.items():
        frame, source = frame.copy(), typed[record]
        gone = [c for c in identifier_columns(record) if c in frame]
        frame, withheld = _free_text(record, frame, keep)
        gone += withheld
        if record == "patient":
            frame["age_at_diagnosis"] = _ages(source, _latest_dates(typed)).to_numpy()
        for column in [c for c in date_columns(record) if c in frame and c not in gone]:
            if date_mode == "shift":
                frame[column] = _shift_text(source[f"{column}_dtc"], source["patient_id"].map(offsets)).to_numpy()
                continue
            days = (pd.to_datetime(source[column]) - source["patient_id"].map(anchor)).dt.days.astype("Int64")
            at = frame.columns.get_loc(column)
            frame.insert(at, f"{column}_day", days.astype("string").fillna("").to_numpy())
            frame.insert(at + 1, f"{column}_dtf", source[f"{column}_dtf"].astype("string").fillna("").to_numpy())
            gone.append(column)
        if record == "patient" and date_mode == "days":
            frame["anchor"] = frame["patient_id"].map(kind).fillna("").to_numpy()
        frame["patient_id"] = frame["patient_id"].map(pseudo)
        dropped[record] = gone
        frame = frame.drop(columns=gone)
        out[record] = frame.iloc[np.argsort(frame["patient_id"].to_numpy(), kind="stable")].reset_index(drop=True)
    description = {
        "patient_id": "pseudonym: 'P' + first 16 hex digits of HMAC-SHA256(secret, patient id); the secret stays "
                      "with the data manager, who alone can link a pseudonym back to a patient",
        "dates": (
            "whole days from the patient's anchor (day 0 = diagnosis date, else the earliest date of any record; "
            "see patient.anchor); partial dates count from their imputed day and keep their flag in <date>_dtf"
            if date_mode == "days" else
            f"shifted by a per-patient offset of 1 to {SHIFT_DAYS} days either way from HMAC-SHA256(secret, "
            "patient id): intervals between complete dates are exact; YYYY-MM dates move by the offset in whole "
            "months (at least one), YYYY dates keep their year"
        ),
        "date_mode": date_mode,
        "dropped_columns": dropped,
        "free_text": "free-text columns dropped (coded columns only); in a required one (ae.term, ihc.marker) "
                     f"and in gene names every value outside the vocabulary is replaced by '{WITHHELD}'"
                     + (f"; kept after review: {', '.join(sorted(keep))}" if keep else ""),
        "age_cap": f"age_at_diagnosis above {AGE_CAP - 1}, or of a patient older than {AGE_CAP - 1} at any date of "
                   f"the record, exported as {AGE_CAP} (meaning {AGE_CAP} or older, HIPAA Safe Harbor); where not "
                   "recorded it is computed from birth and diagnosis dates (whole years); missing stays missing. "
                   "Birth dates (year included) are never exported",
    }  # fmt: skip
    return out, description


def _latest_dates(typed: Mapping[str, pd.DataFrame]) -> pd.Series:
    """Per patient: the latest date of any record (birth dates aside)."""
    parts = [
        pd.DataFrame({"patient_id": frame["patient_id"], "date": pd.to_datetime(frame[column])})
        for record, frame in typed.items() for column in date_columns(record)
        if column != "birth_date" and column in frame
    ]  # fmt: skip
    dates = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["patient_id", "date"])
    return dates.groupby("patient_id")["date"].max()


def _ages(patient: pd.DataFrame, latest: pd.Series) -> pd.Series:
    """Age at diagnosis (recorded, else whole years from birth to diagnosis), as text; missing stays missing.

    Safe Harbor: an age above 89 is exported as AGE_CAP ("90 or older"), and so is the age of a patient who is
    older than 89 at the latest date of the record (the age at diagnosis plus the years since, or from birth).
    """
    birth, diagnosis = pd.to_datetime(patient["birth_date"]), pd.to_datetime(patient["diagnosis_date"])
    years = diagnosis.dt.year - birth.dt.year - ((diagnosis.dt.month * 100 + diagnosis.dt.day)
                                                 < (birth.dt.month * 100 + birth.dt.day)).astype(int)  # fmt: skip
    age = patient["age_at_diagnosis"].astype("float64").fillna(years.astype("float64"))
    last = patient["patient_id"].map(latest).astype("datetime64[ns]")
    since = (last - diagnosis).dt.days.astype("float64") / 365.25
    oldest = np.fmax(age + since.clip(lower=0), (last - birth).dt.days.astype("float64") / 365.25)
    capped = age.notna() & ((age >= AGE_CAP) | (oldest >= AGE_CAP))
    age = age.mask(capped, float(AGE_CAP))
    return age.astype("string").fillna("")
