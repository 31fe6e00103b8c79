"""Append-only, hash-chained audit trail: who changed what, when, from which value to which, and why."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain
from pathlib import Path

import pandas as pd
from sqlalchemy import String, Text, and_, cast, insert, literal, null, select, true, union_all, update
from sqlmodel import Session, SQLModel

from tkitrack.schemas.audit_chain import (
    _CHUNK_ROWS,
    _ENCODE,
    _HASHED,
    ENTRY_FIELDS,
    GENESIS,
    _now,
    chain_entry_columns,
    current_user,
    entry_hash,
)
from tkitrack.schemas.bulk import insert_columns
from tkitrack.schemas.errors import AuditError
from tkitrack.schemas.fields import field as _f

__all__ = [
    "BATCH_ACTION",
    "GENESIS",
    "Anchor",
    "AuditBatchRow",
    "AuditEntry",
    "AuditHead",
    "ChainReport",
    "append_anchor",
    "append_batch",
    "append_columns",
    "append_entries",
    "batch_digest",
    "chain_head",
    "current_user",
    "entry_hash",
    "expanded_trail",
    "read_anchors",
    "read_audit_log",
    "verify_chain",
]


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


#: The action of a chain entry that stands for many inserted records (:func:`append_batch`).
BATCH_ACTION = "insert batch"


class AuditBatchRow(SQLModel, table=True):
    """One record inserted by a batch entry: its id, patient and values as inserted. Who, when, why (the file) and
    the link into the chain are the batch entry's (``audit_log.seq = batch_seq``), whose hash commits to a SHA-256
    over all of its rows (:func:`batch_digest`); ``verify_chain`` recomputes it."""

    __tablename__ = "audit_batch_row"

    id: int | None = _f(None, label="Row number (the order the batch's digest covers)", primary_key=True)
    batch_seq: int = _f(label="The batch entry (audit_log.seq)")
    record_id: str = _f(label="Record id", max_length=64)
    patient_id: str | None = _f(label="Patient id", max_length=64, index=True)
    new_value: str | None = _f(label="The record as inserted (JSON object of its template columns)")


def append_entries(session: Session, entries: list[dict], *, user: str) -> int:
    """Chain and append audit entries inside the caller's transaction; returns how many were written.

    Each entry gives action, table_name, record_id, patient_id, field, old_value, new_value, reason. Updates
    and deletions without a reason are refused (AuditError). The chain head is locked for the transaction
    (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers itself).
    """
    return append_columns(session, {k: [e.get(k) for e in entries] for k in ENTRY_FIELDS}, user=user)


def append_columns(session: Session, entries: dict[str, list], *, user: str) -> int:
    """:func:`append_entries` of entries given column-wise: ``{field: values}`` for the fields an entry gives
    (a field left out is empty for every entry), with no dict per entry (the import's many inserts)."""
    n = len(entries["action"]) if "action" in entries else 0
    if not n:
        return 0
    reasons = entries.get("reason") or [None] * n
    for i, (action, reason) in enumerate(zip(entries["action"], reasons, strict=True)):
        if action in ("update", "delete") and not (reason or "").strip():
            raise AuditError(f'{action} of {entries["table_name"][i]} {entries["record_id"][i]} needs a reason; '
                             'pass --reason "..."')  # fmt: skip
    _append(session, entries, user)
    return n


def _append(session: Session, entries: dict[str, list], user: str) -> int:
    """Chain the entries after the locked head and write them; returns the new head's position."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        session.execute(insert(AuditHead).values(id=1, seq=0, hash=GENESIS))
        seq, prev = 0, GENESIS
    else:
        seq, prev = head.seq, head.hash
    columns, seq, prev = chain_entry_columns(entries, seq=seq, prev=prev, user=user)
    insert_columns(session, AuditEntry.__table__, columns)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return seq


def _cell(value: str | None) -> str:
    return "-" if value is None else f"{len(value)}:{value}"


@cache
def _prefix_table() -> tuple[str, ...]:
    """``f"{n}:"`` for each length n below 4,096, made once (immutable: shared by threads as it is)."""
    return tuple(f"{n}:" for n in range(4096))


def _length_prefixes(values: Sequence[str]) -> list[str]:
    """``f"{len(v)}:"`` of each value (TypeError for a null), looked up by length in :func:`_prefix_table`."""
    lengths = list(map(len, values))
    table = _prefix_table()
    if max(lengths, default=0) < len(table):
        return list(map(table.__getitem__, lengths))
    return [f"{n}:" for n in lengths]  # a value of 4,096 characters or more among them


def _row_lines(record_ids: Sequence, patient_ids: Sequence, new_values: Sequence) -> bytes:
    """The bytes a batch digest covers for these rows: per row, each of record id, patient id and value as its
    length in characters, ``:`` and the text (``-`` for null), back to back: unambiguous without escaping, so no
    encoder runs over the values (UTF-8)."""
    try:
        # column-wise: each column's length prefixes (``"12:"``) looked up by length, then one join of the pieces
        columns = (record_ids, patient_ids, new_values)
        pieces = [piece for col in columns for piece in (_length_prefixes(col), col)]
        text = "".join(chain.from_iterable(zip(*pieces, strict=True)))
    except TypeError:  # a null among them
        text = "".join([_cell(a) + _cell(b) + _cell(c) for a, b, c in zip(record_ids, patient_ids, new_values,
                                                                          strict=True)])  # fmt: skip
    return text.encode("utf-8")


def batch_digest(record_ids: Sequence[str], patient_ids: Sequence[str | None], new_values: Sequence[str | None]) -> str:
    """SHA-256 over a batch's rows in order (see :func:`_row_lines`), a chunk of rows at a time."""
    digest = hashlib.sha256()
    for start in range(0, len(record_ids), _CHUNK_ROWS):
        end = start + _CHUNK_ROWS
        digest.update(_row_lines(record_ids[start:end], patient_ids[start:end], new_values[start:end]))
    return digest.hexdigest()


def append_batch(
    session: Session,
    *,
    table_name: str,
    record_ids: Sequence,
    patient_ids: Sequence[str | None],
    new_values: Sequence[str | None],
    reason: str,
    user: str,
) -> int:
    """Audit many inserted records of one table as one chain entry plus a narrow row per record, written in bulk.

    The entry (action :data:`BATCH_ACTION`, ``new_value`` ``{"rows": n, "sha256": digest}``) is hashed into the
    chain like any other, so the digest over the rows' record id, patient id and values (:func:`batch_digest`)
    is as tamper-evident as the entry itself; its user, time and reason (the file) hold for every row. The rows
    go to ``audit_batch_row`` in order (with the head locked, so rows of two batches never interleave).
    Readers see each row as an insert entry of the batch's position (:func:`expanded_trail`). Returns the count.
    """
    n = len(record_ids)
    if not n:
        return 0
    ids = list(map(str, record_ids))
    detail = json.dumps({"rows": n, "sha256": batch_digest(ids, patient_ids, new_values)})
    seq = _append(session, {"action": [BATCH_ACTION], "table_name": [table_name], "record_id": ["*"],
                            "patient_id": [None], "field": ["*"], "new_value": [detail], "reason": [reason]},
                  user)  # fmt: skip
    rows = {"batch_seq": [seq] * n, "record_id": ids, "patient_id": list(patient_ids), "new_value": list(new_values)}
    insert_columns(session, AuditBatchRow.__table__, rows)
    return n


def expanded_trail(columns: Sequence[str] = (*_HASHED, "hash"), *, where=None):
    """A select of the trail with every batch entry replaced by its rows, each as the insert entry it stands for
    (``action`` insert, ``field`` ``*``, the batch's seq, time, user, reason and hashes), in the given columns plus
    ``part`` (0 for a chain entry, the row number for a batch row; order by ``seq`` then ``part``).

    ``where(c)`` gives the filter on the columns ``c`` (of either part), e.g. ``lambda c: c.patient_id == "P1"``.
    The result is a subquery: select from it and order as needed.
    """
    t, r = AuditEntry.__table__, AuditBatchRow.__table__
    from_row = {"action": literal("insert", String), "record_id": r.c.record_id, "patient_id": r.c.patient_id,
                "field": literal("*", String), "old_value": cast(null(), Text), "new_value": r.c.new_value}  # fmt: skip
    plain = select(*[t.c[k] for k in columns], literal(0).label("part")).where(t.c.action != BATCH_ACTION)
    rows = select(*[from_row[k].label(k) if k in from_row else t.c[k] for k in columns], r.c.id.label("part"))
    rows = rows.select_from(r.join(t, t.c.seq == r.c.batch_seq))
    if where is not None:
        plain = plain.where(where(_Cols(t.c, {})))
        rows = rows.where(where(_Cols(t.c, from_row)))
    return union_all(plain, rows).subquery("trail")


class _Cols:
    """The columns a ``where`` of :func:`expanded_trail` names: a batch row's own where it has them."""

    def __init__(self, table_columns, overrides: dict) -> None:
        self._c, self._o = table_columns, overrides

    def __getattr__(self, name: str):
        return self._o.get(name, self._c[name])


@dataclass(frozen=True)
class ChainReport:
    """The result of :func:`verify_chain`: ``ok``, how many entries were read, the first broken link, the chain
    head (``head_seq``, ``head_hash``: what to publish as an anchor), the anchors checked, and how many batch
    entries and batch rows were verified."""

    ok: bool
    entries: int
    broken_seq: int | None = None
    problem: str | None = None
    head_seq: int = 0
    head_hash: str = GENESIS
    anchors: int = 0
    batches: int = 0
    batch_rows: int = 0


@dataclass(frozen=True)
class Anchor:
    """A chain head published outside the database: entry ``seq`` had hash ``hash`` (``seq`` None: any entry)."""

    seq: int | None
    hash: str
    origin: str = "--anchor"

    @classmethod
    def parse(cls, text: str, origin: str = "--anchor") -> Anchor:
        """``HASH`` or ``SEQ:HASH`` (64 hex digits), as `audit verify` prints it; ValueError otherwise."""
        seq_text, _, digest = text.strip().rpartition(":")
        digest = digest.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{origin}: {text.strip()!r} is not a chain head (64 hex digits, optionally SEQ:HASH)")
        if seq_text and not seq_text.isdigit():
            raise ValueError(f"{origin}: {text.strip()!r}: the entry number before ':' must be a whole number")
        return cls(int(seq_text) if seq_text else None, digest, origin)

    def __str__(self) -> str:
        return self.hash if self.seq is None else f"{self.seq}:{self.hash}"


def chain_head(session: Session) -> tuple[int, str]:
    """The newest entry's position and hash as ``audit_head`` records them ((0, GENESIS) for an empty trail)."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    return (0, GENESIS) if head is None else (head.seq, head.hash)


def _broken(count: int, seq: int, problem: str, head: tuple[int, str]) -> ChainReport:
    return ChainReport(False, count, seq, problem, head[0], head[1])


def verify_chain(
    session: Session, *, anchors: tuple[Anchor, ...] | list[Anchor] = (), batch: int = 20_000
) -> ChainReport:
    """Walk the trail in order and recompute every hash; report the first entry that was altered or removed.

    The entries are streamed (a server-side cursor on PostgreSQL), ``batch`` at a time, so memory does not grow
    with the trail; then the rows of the batch entries, in order, each batch's digest recomputed and compared with
    the one its entry committed to. Each anchor (a head published earlier) must be an entry of the verified
    chain: a trail that was truncated, or rebuilt with recomputed hashes, no longer holds it.
    """
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    shown = (0, GENESIS) if head is None else (head.seq, head.hash)
    prev, expected_seq, count = GENESIS, 1, 0
    last = 0
    checked = [a for a in anchors if a.hash != GENESIS or a.seq not in (None, 0)]  # the empty chain is in every one
    pending: dict[str, list[Anchor]] = {}
    for a in checked:
        pending.setdefault(a.hash, []).append(a)
    batches: dict[int, tuple[str, str | None]] = {}  # seq -> (table, new_value) of each batch entry
    stmt = select(*[AuditEntry.__table__.c[k] for k in (*_HASHED, "hash")]).order_by(AuditEntry.seq)
    result = session.execute(stmt.execution_options(stream_results=True, yield_per=batch))
    for part in result.partitions(batch):
        for row in part:
            count += 1
            seq = row[0]
            if seq != expected_seq:
                return _broken(count, expected_seq, f"entry {expected_seq} is missing (next is {seq})", shown)
            if row[11] != prev:
                return _broken(count, seq, f"entry {seq} does not link to entry {seq - 1}", shown)
            digest = sha256_entry(row)
            if digest != row[12]:
                return _broken(count, seq, f"entry {seq} was altered after it was written", shown)
            if digest in pending:  # the same hash at another position does not prove an anchor that names one
                left = [a for a in pending.pop(digest) if a.seq is not None and a.seq != seq]
                if left:
                    pending[digest] = left
            if row[3] == BATCH_ACTION:
                batches[seq] = (row[4], row[9])
            prev, expected_seq, last = digest, seq + 1, seq
    result.close()
    if head is None:
        return _broken(count, last + 1, "the chain head (audit_head) was removed", shown)
    if head.seq != last or head.hash != prev:
        first_gone = last + 1
        return _broken(count, first_gone,
                       f"the chain ends at entry {last} but its head says {head.seq}: entry {first_gone} "
                       "onwards was removed", shown)  # fmt: skip
    if pending:
        missing = next(iter(pending.values()))[0]
        n_missing = sum(len(v) for v in pending.values())
        where = f"entry {missing.seq}" if missing.seq is not None else "any entry"
        return _broken(count, missing.seq or 0,
                       f"anchor {missing} ({missing.origin}) is not {where} of the chain: the trail was truncated "
                       f"or rebuilt after that head was published ({n_missing} of {len(checked)} anchors missing)",
                       shown)  # fmt: skip
    problem, rows = _verify_batches(session, batches, batch)
    if problem is not None:
        return _broken(count, problem[0], problem[1], shown)
    return ChainReport(True, count, head_seq=shown[0], head_hash=shown[1], anchors=len(checked),
                       batches=len(batches), batch_rows=rows)  # fmt: skip


def _verify_batches(
    session: Session, batches: dict[int, tuple[str, str | None]], batch: int
) -> tuple[tuple[int, str] | None, int]:
    """Recompute each batch entry's digest from its rows (streamed in row order) and find rows of no batch entry:
    ((position, problem) of the first batch whose rows differ from what its entry committed to, or None; the
    number of rows read)."""
    r = AuditBatchRow.__table__
    stmt = select(r.c.batch_seq, r.c.record_id, r.c.patient_id, r.c.new_value).order_by(r.c.id)
    seen: dict[int, list] = {}  # seq -> [rows, running SHA-256]
    result = session.execute(stmt.execution_options(stream_results=True, yield_per=batch))
    for part in result.partitions(batch):
        start = 0
        while start < len(part):  # runs of one batch within the partition
            seq, end = part[start][0], start + 1
            while end < len(part) and part[end][0] == seq:
                end += 1
            run = part[start:end]
            state = seen.setdefault(seq, [0, hashlib.sha256()])
            state[0] += len(run)
            state[1].update(_row_lines([x[1] for x in run], [x[2] for x in run], [x[3] for x in run]))
            start = end
    result.close()
    problems = []
    for seq in sorted(seen.keys() - batches.keys()):
        problems.append((seq, f"{seen[seq][0]} audit_batch_row row(s) name entry {seq}, which is not a batch entry: "
                              "rows were added outside tkitrack"))  # fmt: skip
    for seq, (table, detail) in batches.items():
        try:
            committed = json.loads(detail or "")
            n, digest = int(committed["rows"]), str(committed["sha256"])
        except (ValueError, KeyError, TypeError):
            problems.append((seq, f"batch entry {seq} does not name its rows' count and digest"))
            continue
        count, running = seen.get(seq, [0, hashlib.sha256()])
        if count != n or running.hexdigest() != digest:
            problems.append((seq, f"the {n} {table} record(s) of batch entry {seq} were altered, removed or added "
                                  f"to after it was written ({count} row(s) found in audit_batch_row)"))  # fmt: skip
    return (min(problems) if problems else None), sum(state[0] for state in seen.values())


def sha256_entry(row) -> str:
    """:func:`entry_hash` of a row given as a sequence in the order of the hashed columns."""
    return hashlib.sha256(_ENCODE(list(row[:12])).encode("utf-8")).hexdigest()


def read_anchors(path: Path, database: str) -> list[Anchor]:
    """The anchors of ``database`` in an anchors file (see :func:`append_anchor`); none when it does not exist."""
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 4:
            raise ValueError(f"{path} line {number}: expected UTC time, entry, hash and database separated by tabs")
        if parts[3] != database:
            continue
        out.append(Anchor.parse(f"{parts[1]}:{parts[2]}", origin=f"{path} line {number}, {parts[0]}"))
    return out


def append_anchor(path: Path, database: str, head: tuple[int, str], what: str) -> None:
    """Append the chain head to the anchors file: UTC time, entry, hash, database (redacted URL), what printed it."""
    clean = " ".join(what.split())
    with path.open("a", encoding="utf-8") as out:
        out.write(f"{_now()}\t{head[0]}\t{head[1]}\t{database}\t{clean}\n")


def read_audit_log(session: Session, *, patient_id: str | None = None, table: str | None = None) -> pd.DataFrame:
    """The trail as a frame (oldest first), for one patient and/or table; a batch entry's rows as the insert
    entries they stand for (:func:`expanded_trail`)."""

    def where(c):
        terms = [c.patient_id == patient_id] if patient_id is not None else []
        terms += [c.table_name == table] if table is not None else []
        return and_(true(), *terms)

    fields = list(AuditEntry.model_fields)
    trail = expanded_trail(fields, where=where)
    rows = session.execute(select(*[trail.c[k] for k in fields]).order_by(trail.c.seq, trail.c.part)).all()
    return pd.DataFrame(rows, columns=fields)
