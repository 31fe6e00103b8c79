"""The audit trail's hash chain in plain Python (no pandas, no models): shared by every writer of the trail.

:func:`tkitrack.schemas.audit.append_entries` (the session path) and :mod:`tkitrack.schemas.light` (a single-record
write with SQLAlchemy Core alone) both build the chained columns here, so an entry is hashed one way only.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from datetime import UTC, datetime

__all__ = ["GENESIS", "chain_columns", "current_user", "entry_hash"]

#: The ``prev_hash`` of the first entry.
GENESIS = "0" * 64
_HASHED = ("seq", "ts", "user", "action", "table_name", "record_id", "patient_id", "field", "old_value",
           "new_value", "reason", "prev_hash")  # fmt: skip
#: ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` with its encoder built once, not per entry.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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


def chain_columns(entries: list[dict], *, seq: int, prev: str, user: str) -> tuple[dict[str, list], int, str]:
    """The audit_log columns of ``entries`` chained after entry ``seq`` of hash ``prev``: (columns, new head seq,
    new head hash). Each entry gives action, table_name, record_id, patient_id, field, old_value, new_value, reason.
    """
    ts = _now()
    n = len(entries)
    # built column by column; only the chain itself is a loop (each hash covers the previous one, as entry_hash)
    columns: dict[str, list] = {k: [e.get(k) for e in entries] for k in _HASHED if k not in ("seq", "ts", "user",
                                                                                             "prev_hash")}  # fmt: skip
    for k in ("record_id", "old_value", "new_value"):
        columns[k] = [None if v is None else str(v) for v in columns[k]]
    columns.update(seq=list(range(seq + 1, seq + n + 1)), ts=[ts] * n, user=[user] * n)
    prevs, hashes = [], []
    sha256, encode = hashlib.sha256, _ENCODE
    for values in zip(*(columns[k] for k in _HASHED[:-1]), strict=True):
        prevs.append(prev)
        prev = sha256(encode([*values, prev]).encode("utf-8")).hexdigest()
        hashes.append(prev)
    columns["prev_hash"], columns["hash"] = prevs, hashes
    return {k: columns[k] for k in (*_HASHED, "hash")}, seq + n, prev
