"""Record states: source data verified (SDV) and locked, per record, each change audited.

A data manager marks a record verified after comparing it with the source, and locks it when it is final. The
store obeys the states for every caller (command line, import, web): :func:`tkitrack.schemas.store.update_record`
and :func:`~tkitrack.schemas.store.delete_record` refuse a locked record (:class:`RecordLocked`), and a change
to a verified record clears its verification (audited, with the fields that changed). Unlocking needs a reason.
New records may still be added to a patient whose records are locked: a lock protects the values that exist.

One row of ``record_state`` per record that was ever verified or locked; a record without a row is neither.
The record id of a patient record is its patient id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlmodel import Session, SQLModel

from tkitrack.schemas.audit import append_entries
from tkitrack.schemas.errors import InputError, TkitrackError
from tkitrack.schemas.fields import field as _f
from tkitrack.schemas.models import RECORD_MODELS

__all__ = [
    "RecordLocked",
    "RecordState",
    "clear_verification",
    "patient_records",
    "record_states",
    "refuse_locked",
    "set_locked",
    "set_verified",
]


class RecordLocked(TkitrackError):
    """A locked record was to be changed or deleted; a data manager must unlock it first (with a reason)."""

    exit_code = 3


class RecordState(SQLModel, table=True):
    """Whether one record is source data verified and whether it is locked, by whom and when."""

    __tablename__ = "record_state"

    record: str = _f(label="Record type", primary_key=True, max_length=32)
    record_id: str = _f(label="Record id (the patient id for the patient record)", primary_key=True, max_length=64)
    patient_id: str = _f(label="Patient id", max_length=64, index=True)
    verified: bool = _f(False, label="Source data verified")
    verified_by: str | None = _f(label="Verified by", max_length=128)
    verified_ts: str | None = _f(label="Verified at (UTC)", max_length=40)
    locked: bool = _f(False, label="Locked (no edit or deletion until unlocked)")
    locked_by: str | None = _f(label="Locked by", max_length=128)
    locked_ts: str | None = _f(label="Locked at (UTC)", max_length=40)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _key(record: str, record_id: str | int) -> str:
    if record not in RECORD_MODELS:
        raise InputError(f"unknown record type {record!r}; expected one of {', '.join(RECORD_MODELS)}")
    return str(record_id) if record == "patient" else str(int(record_id))


def _row(session: Session, record: str, record_id: str, *, lock: bool = False) -> dict | None:
    t = RecordState.__table__
    stmt = select(t).where(t.c.record == record, t.c.record_id == record_id)
    row = session.execute(stmt.with_for_update() if lock else stmt).mappings().first()
    return dict(row) if row is not None else None


def record_states(session: Session, patient_id: str) -> dict[tuple[str, str], dict]:
    """(record, record id) -> its state row, for one patient's records that were ever verified or locked."""
    t = RecordState.__table__
    rows = session.execute(select(t).where(t.c.patient_id == patient_id)).mappings().all()
    return {(r["record"], r["record_id"]): dict(r) for r in rows}


def refuse_locked(session: Session, record: str, record_id: str | int, *, verb: str = "changed") -> None:
    """Raise RecordLocked when the record is locked (read inside the caller's write transaction)."""
    state = _row(session, record, _key(record, record_id))
    if state is not None and state["locked"]:
        raise RecordLocked(f"{record} {record_id} is locked (by {state['locked_by']}, {state['locked_ts'][:10]}) "
                           f"and cannot be {verb}; a data manager must unlock it first, with a reason")  # fmt: skip


def _set(session: Session, record: str, record_id: str | int, flag: str, value: bool, *, user: str,
         reason: str) -> bool:  # fmt: skip
    """Set ``verified`` or ``locked`` of one record (audited); False when it already had that value."""
    from tkitrack.schemas.store import read_record

    rid = _key(record, record_id)
    row = read_record(session, record, rid)  # NotFoundError for a missing or deleted record
    if flag == "locked":  # hold the record row, so that an edit in flight finishes before or after the lock
        table = RECORD_MODELS[record].__table__
        key = table.c.patient_id if record == "patient" else table.c.id
        session.execute(select(key).where(key == (rid if record == "patient" else int(rid))).with_for_update())
    state = _row(session, record, rid, lock=True)
    old = bool(state[flag]) if state is not None else False
    if old == value:
        return False
    values = {flag: value, f"{flag}_by": user if value else None, f"{flag}_ts": _now() if value else None}
    t = RecordState.__table__
    if state is None:
        session.execute(insert(t).values(record=record, record_id=rid, patient_id=row["patient_id"], **values))
    else:
        session.execute(update(t).where(t.c.record == record, t.c.record_id == rid).values(values))
    append_entries(session, [{
        "action": "update", "table_name": "record_state", "record_id": f"{record} {rid}",
        "patient_id": row["patient_id"], "field": flag, "old_value": "true" if old else "false",
        "new_value": "true" if value else "false", "reason": reason,
    }], user=user)  # fmt: skip
    return True


def set_verified(session: Session, record: str, record_id: str | int, verified: bool = True, *, user: str,
                 reason: str = "") -> bool:  # fmt: skip
    """Mark a record source data verified (or not); returns False when it already was."""
    why = reason.strip() or ("source data verified" if verified else "verification withdrawn")
    return _set(session, record, record_id, "verified", verified, user=user, reason=why)


def set_locked(session: Session, record: str, record_id: str | int, locked: bool = True, *, user: str,
               reason: str = "") -> bool:  # fmt: skip
    """Lock a record (or unlock it: a reason is required); returns False when it already was."""
    if not locked and not reason.strip():
        raise InputError(f"unlocking {record} {record_id} needs a reason")
    why = reason.strip() or "locked"
    return _set(session, record, record_id, "locked", locked, user=user, reason=why)


def clear_verification(session: Session, record: str, record_id: str | int, patient_id: str, changed: list[str],
                       *, user: str) -> bool:  # fmt: skip
    """After a change of a verified record: its verification is cleared (audited); False when it was not verified."""
    rid = _key(record, record_id)
    state = _row(session, record, rid, lock=True)
    if state is None or not state["verified"]:
        return False
    names = sorted({c.removesuffix("_dtc") for c in changed if not c.endswith("_dtf")})
    t = RecordState.__table__
    session.execute(update(t).where(t.c.record == record, t.c.record_id == rid)
                    .values(verified=False, verified_by=None, verified_ts=None))  # fmt: skip
    append_entries(session, [{
        "action": "update", "table_name": "record_state", "record_id": f"{record} {rid}", "patient_id": patient_id,
        "field": "verified", "old_value": "true", "new_value": "false",
        "reason": f"verification cleared: {', '.join(names)} changed",
    }], user=user)  # fmt: skip
    return True


def patient_records(session: Session, patient_id: str) -> list[tuple[str, str]]:
    """(record, record id) of every record of a patient that is not deleted, the patient record first."""
    out = [("patient", patient_id)]
    for record, model in RECORD_MODELS.items():
        if record == "patient":
            continue
        t = model.__table__
        ids = session.execute(select(t.c.id).where(t.c.patient_id == patient_id, t.c.deleted.is_(False))
                              .order_by(t.c.id)).scalars()  # fmt: skip
        out += [(record, str(i)) for i in ids]
    return out
