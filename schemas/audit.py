"""Append-only, hash-chained audit trail: who changed what, when, from which value to which, and why."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import insert, select, update
from sqlmodel import Session, SQLModel

from tkitrack.schemas.bulk import insert_columns
from tkitrack.schemas.errors import AuditError
from tkitrack.schemas.fields import field as _f

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditHead",
    "ChainReport",
    "append_entries",
    "current_user",
    "entry_hash",
    "read_audit_log",
    "verify_chain",
]

#: The ``prev_hash`` of the first entry.
GENESIS = "0" * 64
_HASHED = ("seq", "ts", "user", "action", "table_name", "record_id", "patient_id", "field", "old_value",
           "new_value", "reason", "prev_hash")  # fmt: skip
#: ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` with its encoder built once, not per entry.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class AuditEntry(SQLModel, table=True):
    """One audited change of one field (or one whole record for an insert)."""

    __tablename__ = "audit_log"

    seq: int = _f(
        label="Position in the chain (1, 2, ...)", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    ts: str = _f(label="When (UTC, ISO 8601)", max_length=40)
    user: str = _f(label="Who", max_length=128)
    action: str = _f(label="insert, update or delete", max_length=16)
    table_name: str = _f(label="Table", max_length=64)
    record_id: str = _f(label="Record id", max_length=64)
    patient_id: str | None = _f(label="Patient id", max_length=64, index=True)
    field: str = _f(label="Field ('*' for a whole inserted record)", max_length=64)
    old_value: str | None = _f(label="Value before")
    new_value: str | None = _f(label="Value after")
    reason: str | None = _f(label="Reason for the change")
    prev_hash: str = _f(label="Hash of the previous entry", max_length=64)
    hash: str = _f(label="SHA-256 of this entry and the previous hash", max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's last position and hash, so that removing the newest entries is detected too."""

    __tablename__ = "audit_head"

    id: int = _f(1, label="Always 1", primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = _f(0, label="Last position")
    hash: str = _f(GENESIS, label="Hash of the last entry", max_length=64)


def current_user(user: str | None = None) -> str:
    """Who is making a change: ``--user``, else ``$TKITRACK_USER``, else the operating-system user."""
    name = user or os.environ.get("TKITRACK_USER")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            name = f"uid-{os.getuid()}"
    return name


def entry_hash(entry: dict) -> str:
    """SHA-256 over the entry's fields (in a fixed order, JSON-encoded) and the previous entry's hash."""
    payload = _ENCODE([entry.get(k) for k in _HASHED])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def append_entries(session: Session, entries: list[dict], *, user: str) -> int:
    """Chain and append audit entries inside the caller's transaction; returns how many were written.

    Each entry gives action, table_name, record_id, patient_id, field, old_value, new_value, reason. Updates
    and deletions without a reason are refused (AuditError). The chain head is locked for the transaction
    (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers itself).
    """
    if not entries:
        return 0
    for e in entries:
        if e["action"] in ("update", "delete") and not (e.get("reason") or "").strip():
            raise AuditError(f'{e["action"]} of {e["table_name"]} {e["record_id"]} needs a reason; pass --reason "..."')
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        session.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS))
        seq, prev = 0, GENESIS
    else:
        seq, prev = head.seq, head.hash
    ts = _now()
    columns: dict[str, list] = {k: [] for k in (*_HASHED, "hash")}
    given = [k for k in _HASHED if k not in ("seq", "ts", "user", "prev_hash")]
    as_text = ("record_id", "old_value", "new_value")
    sha256 = hashlib.sha256
    for e in entries:  # the chain is sequential: each hash covers the previous one (as entry_hash does)
        seq += 1
        row = {k: e.get(k) for k in given}
        for k in as_text:
            if row[k] is not None:
                row[k] = str(row[k])
        row.update(seq=seq, ts=ts, user=user, prev_hash=prev)
        values = [row[k] for k in _HASHED]
        for k, v in zip(_HASHED, values, strict=True):
            columns[k].append(v)
        prev = sha256(_ENCODE(values).encode("utf-8")).hexdigest()
        columns["hash"].append(prev)
    insert_columns(session, AuditEntry.__table__, columns)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return len(entries)


@dataclass(frozen=True)
class ChainReport:
    """The result of :func:`verify_chain`: ``ok``, how many entries were read, and the first broken link."""

    ok: bool
    entries: int
    broken_seq: int | None = None
    problem: str | None = None


def verify_chain(session: Session, *, batch: int = 50_000) -> ChainReport:
    """Walk the trail in order and recompute every hash; report the first entry that was altered or removed."""
    prev, expected_seq, count = GENESIS, 1, 0
    last = 0
    stmt = select(*[AuditEntry.__table__.c[k] for k in (*_HASHED, "hash")]).order_by(AuditEntry.seq)
    for part in session.execute(stmt).mappings().partitions(batch):
        for row in part:
            count += 1
            seq = row["seq"]
            if seq != expected_seq:
                return ChainReport(False, count, expected_seq, f"entry {expected_seq} is missing (next is {seq})")
            if row["prev_hash"] != prev:
                return ChainReport(False, count, seq, f"entry {seq} does not link to entry {seq - 1}")
            if entry_hash(dict(row)) != row["hash"]:
                return ChainReport(False, count, seq, f"entry {seq} was altered after it was written")
            prev, expected_seq, last = row["hash"], seq + 1, seq
    head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if head_seq != last or head_hash != prev:
        first_gone = last + 1
        return ChainReport(False, count, first_gone,
                           f"the chain ends at entry {last} but its head says {head_seq}: entry {first_gone} "
                           "onwards was removed")  # fmt: skip
    return ChainReport(True, count)


def read_audit_log(session: Session, *, patient_id: str | None = None, table: str | None = None) -> pd.DataFrame:
    """The trail as a frame (oldest first), for one patient and/or table."""
    stmt = select(AuditEntry.__table__).order_by(AuditEntry.seq)
    if patient_id is not None:
        stmt = stmt.where(AuditEntry.patient_id == patient_id)
    if table is not None:
        stmt = stmt.where(AuditEntry.table_name == table)
    rows = session.execute(stmt).mappings().all()
    return pd.DataFrame(rows, columns=list(AuditEntry.model_fields))
