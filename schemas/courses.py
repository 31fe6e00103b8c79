"""Drug-course operations on exposure intervals: change dose, interrupt, resume, stop (each audited, read for update)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from tkitrack.schemas.dates import impute_partial_date
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.models import Exposure
from tkitrack.schemas.storage import lock_for_write
from tkitrack.schemas.store import add_records, read_record, update_record
from tkitrack.schemas.vocabulary import REASONS

__all__ = ["change_dose", "resume_course", "stop_course"]

_COPY = ("drug", "dose", "unit", "frequency", "route", "formulation")


def _day(text: str, what: str) -> dt.date:
    day, flag = impute_partial_date(text)
    if day is None or flag is not None:
        raise InputError(f"{what} must be a full date YYYY-MM-DD, got {text!r}")
    return day


def _reason(code: str) -> str:
    if code not in REASONS:
        raise InputError(f"reason {code!r} is not one of {', '.join(REASONS)}")
    return code


def _open_interval(session: Session, exposure_id: int | str, on: dt.date) -> dict:
    old = read_record(session, "exposure", exposure_id, for_update=True)
    if old["start"] is not None and on <= old["start"]:
        raise InputError(f"exposure {exposure_id} starts {old['start']}; the date must be after it, got {on}")
    if old["end"] is not None and old["end"] < on - dt.timedelta(days=1):
        raise InputError(f"exposure {exposure_id} already ended on {old['end']}; use `exposure resume` instead")
    return old


def stop_course(
    session: Session,
    exposure_id: int | str,
    *,
    last_dose: str,
    reason: str,
    user: str,
    comment: str = "",
    discontinue: bool = True,
) -> dict:
    """End an interval on the day of the last dose, with why (toxicity, complete_response, ...).

    ``discontinue`` (``exposure stop``) records a permanent discontinuation of the drug there; without it
    (``exposure interrupt``) the end is a hold that ``exposure resume`` continues within the same course.
    Whether a patient stopped is read from this record, never guessed from what happened later.
    """
    _reason(reason)
    day = _day(last_dose, "--last-dose")
    old = read_record(session, "exposure", exposure_id, for_update=True)
    if old["start"] is not None and day < old["start"]:
        raise InputError(f"exposure {exposure_id} starts {old['start']}; the last dose cannot be before it")
    why = f"{'stopped' if discontinue else 'interrupted'} ({reason})" + (f": {comment}" if comment else "")
    changes = {"end": day.isoformat(), "reason": reason, "discontinued": "true" if discontinue else "false"}
    return update_record(session, "exposure", exposure_id, changes, reason=why, user=user)


def change_dose(
    session: Session,
    exposure_id: int | str,
    *,
    on: str,
    dose: str,
    user: str,
    unit: str | None = None,
    frequency: str | None = None,
    reason: str = "dose_change",
    comment: str = "",
) -> None:
    """Close the interval the day before ``on`` and open a new one at the new dose from ``on``."""
    _reason(reason)
    day = _day(on, "--date")
    old = _open_interval(session, exposure_id, day)
    why = f"dose changed to {dose} from {day}" + (f": {comment}" if comment else "")
    closed = {"end": (day - dt.timedelta(days=1)).isoformat(), "reason": reason, "discontinued": "false"}
    update_record(session, "exposure", exposure_id, closed, reason=why, user=user)
    new = {c: old[c] for c in _COPY}
    new.update(dose=dose, unit=unit or old["unit"], frequency=frequency or old["frequency"])
    ended = old["end"] is not None  # a change inside a finished interval: the new one ends as the old one did
    new.update(
        patient_id=old["patient_id"],
        start=day.isoformat(),
        end=old["end"].isoformat() if ended else None,
        reason=old["reason"] if ended else None,
        discontinued="true" if ended and old["discontinued"] else "false",
    )
    add_records(session, {"exposure": _frame(new)}, user=user, source=f"dose change of exposure {exposure_id}")


def resume_course(
    session: Session, patient_id: str, drug: str, *, on: str, user: str, dose: str | None = None,
    unit: str | None = None, frequency: str | None = None,
) -> None:  # fmt: skip
    """Start a new interval of ``drug`` after an interruption, at the last dose unless another is given."""
    day = _day(on, "--date")
    lock_for_write(session)
    last = session.execute(
        select(Exposure).where((Exposure.patient_id == patient_id) & (Exposure.drug == drug.lower())
                               & Exposure.deleted.is_(False))
        .order_by(Exposure.start.desc().nulls_last(), Exposure.id.desc())  # PostgreSQL sorts NULL first
        .with_for_update(key_share=True)  # the interval resumed is the newest when this transaction writes
    ).scalars().first()  # fmt: skip
    if last is None:
        raise InputError(f"patient {patient_id} has no {drug} interval to resume; use `exposure add`")
    new = {c: getattr(last, c) for c in _COPY}
    new.update(patient_id=patient_id, start=day.isoformat(), end=None, reason=None, discontinued="false")
    for key, value in (("dose", dose), ("unit", unit), ("frequency", frequency)):
        if value is not None:
            new[key] = value
    add_records(session, {"exposure": _frame(new)}, user=user, source=f"resume of {drug}")


def _frame(row: dict) -> pd.DataFrame:
    return pd.DataFrame([{k: (None if v is None else str(v)) for k, v in row.items()}])
