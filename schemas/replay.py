"""Replay the audit trail and compare it with the tables: every stored value, row and deletion state must be what
the trail's entries, applied in order, produce (docs/audit.md).

Per record type, the table's rows (by key) and the trail's entries for that table (by record id, then position)
are read as two ordered streams and merged, a chunk of records at a time, so memory stays bounded. A record's
expected row is its insert entry's values (as typed) parsed the way the import parsed them, then each update
entry's new value and each deletion applied in order. Values are compared as the trail writes them (dates ISO,
booleans true/false, numbers as Python prints them, empty as null).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from tkitrack.schemas.audit import AuditEntry, expanded_trail
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS

__all__ = ["Finding", "ReplayReport", "replay_trail"]

ROW_NOT_IN_TRAIL = "row not in the trail (no insert entry explains it)"
ROW_MISSING = "row missing from the table (the trail inserted it; it was removed outside tkitrack)"
VALUE_DIFFERS = "value not explained by the trail"
NO_INSERT = "the trail changes this record but never inserted it"


@dataclass(frozen=True)
class Finding:
    """One thing in the tables the trail does not explain."""

    table: str
    record_id: str
    field: str
    table_value: str | None
    trail_value: str | None
    problem: str

    def __str__(self) -> str:
        return (f"{self.table} {self.record_id} {self.field}: table {_show(self.table_value)}, "
                f"trail {_show(self.trail_value)} ({self.problem})")  # fmt: skip


def _show(value: str | None) -> str:
    if value is None:
        return "(none)"
    return repr(value if len(value) <= 80 else value[:77] + "...")


@dataclass
class ReplayReport:
    """``records``: table rows compared; ``findings``: the first ``limit`` problems; ``total``: all of them."""

    records: int = 0
    tables: int = 0
    total: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.total == 0


def _canon(value: object) -> str | None:
    """A stored value as the trail writes it (``_json_value`` then text, as ``append_entries`` stores it)."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return None
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return None if value != value else str(value)
    if kind is dt.date:
        return value.isoformat()
    from tkitrack.schemas.store import _json_value

    value = _json_value(value)
    return None if value is None else str(value)


def _text_cell(value: object) -> str | None:
    """An insert entry's JSON value back to template text (what the import read)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _trail_key(record: str, record_id: str) -> tuple:
    if record == "patient":
        return (record_id,)
    digits = record_id.lstrip("0")
    return (len(digits), digits)


def _trail_groups(session: Session, record: str, batch: int) -> Iterator[tuple[tuple, str, list]]:
    """(key, record id, entries oldest first) for every record of ``record`` the trail names."""
    t = expanded_trail(
        ("record_id", "seq", "action", "field", "new_value", "patient_id"), where=lambda c: c.table_name == record
    )  # a batch's rows as its insert entries
    rid = t.c.record_id
    if session.get_bind().dialect.name == "postgresql":
        rid = rid.collate("C")  # code-point order, as Python compares the keys
    if record == "patient":
        order = [rid]
    else:
        stripped = func.ltrim(t.c.record_id, "0")
        if session.get_bind().dialect.name == "postgresql":
            stripped = stripped.collate("C")
        order = [func.length(func.ltrim(t.c.record_id, "0")), stripped]
    stmt = (select(t.c.record_id, t.c.seq, t.c.action, t.c.field, t.c.new_value, t.c.patient_id)
            .order_by(*order, t.c.seq, t.c.part))  # fmt: skip
    result = session.execute(stmt.execution_options(stream_results=True, yield_per=batch))
    key, rid_text, entries = None, None, []
    for part in result.partitions(batch):
        for row in part:
            k = _trail_key(record, row[0])
            if k != key:
                if key is not None:
                    yield key, rid_text, entries
                key, rid_text, entries = k, row[0], []
            entries.append(row)
    if key is not None:
        yield key, rid_text, entries
    result.close()


def _table_rows(session: Session, record: str, batch: int) -> Iterator[tuple[tuple, dict]]:
    table = RECORD_MODELS[record].__table__
    if record == "patient":
        col = table.c.patient_id
        if session.get_bind().dialect.name == "postgresql":
            col = col.collate("C")
        stmt = select(table).order_by(col)
    else:
        stmt = select(table).order_by(table.c.id)
    result = session.execute(stmt.execution_options(stream_results=True, yield_per=batch))
    for part in result.mappings().partitions(batch):
        for row in part:
            rid = row["patient_id"] if record == "patient" else str(row["id"])
            yield _trail_key(record, rid), row
    result.close()


def _merged(session: Session, record: str, batch: int) -> Iterator[tuple[str, dict | None, list]]:
    """(record id, table row or None, trail entries) in key order: a merge of the two ordered streams."""
    rows, groups = _table_rows(session, record, batch), _trail_groups(session, record, batch)
    row, group = next(rows, None), next(groups, None)
    while row is not None or group is not None:
        if group is None or (row is not None and row[0] < group[0]):
            rid = row[1]["patient_id"] if record == "patient" else str(row[1]["id"])
            yield rid, row[1], []
            row = next(rows, None)
        elif row is None or group[0] < row[0]:
            yield group[1], None, group[2]
            group = next(groups, None)
        else:
            yield group[1], row[1], group[2]
            row, group = next(rows, None), next(groups, None)


def _expected_inserts(record: str, inserts: list[tuple[str | None, str]]) -> list[dict[str, str | None]]:
    """Each insert entry's values (patient id, JSON of the typed columns) as stored columns in trail text."""
    from tkitrack.schemas.parse import parse_records
    from tkitrack.schemas.store import _db_columns

    cols = input_columns(record)
    raw_rows = []
    for patient_id, values in inserts:
        try:
            given = json.loads(values) if values else {}
        except ValueError:
            given = {}
        if not isinstance(given, dict):
            given = {}
        cells = {c: _text_cell(given.get(c)) for c in cols}
        if "patient_id" in cols:
            cells["patient_id"] = patient_id
        raw_rows.append(cells)
    raw = pd.DataFrame(raw_rows, columns=cols, dtype=object)
    frame, _ = parse_records(record, raw, source="audit trail")
    data = _db_columns(record, frame)
    names = list(data)
    return [dict(zip(names, (_canon(v) for v in values), strict=True)) for values in zip(*data.values(), strict=True)]


def _compare_chunk(record: str, chunk: list[tuple[str, dict | None, list]], report: ReplayReport, limit: int):
    def found(*args) -> None:
        report.total += 1
        if len(report.findings) < limit:
            report.findings.append(Finding(record, *args))

    needs = []  # (index in chunk, patient id, values) of the records whose insert entry is replayed
    for i, (_, _, entries) in enumerate(chunk):
        first = next((e for e in entries if e[2] == "insert" and e[3] == "*"), None)
        if first is not None:
            needs.append((i, first[5], first[4]))
    expected = dict(zip((n[0] for n in needs), _expected_inserts(record, [(n[1], n[2]) for n in needs]), strict=True)) \
        if needs else {}  # fmt: skip
    key = "patient_id" if record == "patient" else "id"
    for i, (rid, row, entries) in enumerate(chunk):
        if row is not None:
            report.records += 1
        if row is not None and not entries:
            shown = json.dumps({k: _canon(v) for k, v in row.items() if k != key and v is not None})
            found(rid, "*", shown, None, ROW_NOT_IN_TRAIL)
            continue
        if i not in expected:
            found(rid, "*", None if row is None else "(row)", None, NO_INSERT)
            continue
        state = {**expected[i], "deleted": "false"}
        for entry in entries:
            seq, action, name, new = entry[1], entry[2], entry[3], entry[4]
            if action == "insert" and name == "*":
                inserted_at = seq
            elif action in ("update", "delete"):
                state[name] = new
        if row is None:
            found(rid, "*", None, f"inserted at entry {inserted_at}", ROW_MISSING)
            continue
        for name, value in row.items():
            if name == key:
                continue
            shown = _canon(value)
            if shown != state.get(name):
                found(rid, name, shown, state.get(name), VALUE_DIFFERS)


def _state_trail(session: Session, batch: int) -> dict[tuple[str, str], dict[str, tuple[str | None, str]]]:
    """The trail's last value and its user of ``verified`` and ``locked``, per ``(record, record id)``."""
    t = AuditEntry.__table__
    stmt = (select(t.c.record_id, t.c.field, t.c.new_value, t.c.user).where(t.c.table_name == "record_state")
            .order_by(t.c.seq))  # fmt: skip
    out: dict[tuple[str, str], dict[str, tuple[str | None, str]]] = {}
    result = session.execute(stmt.execution_options(stream_results=True, yield_per=batch))
    for record_id, name, new, user in result:
        record, _, rid = str(record_id).partition(" ")
        out.setdefault((record, rid), {})[name] = (new, user)
    result.close()
    return out


def _replay_record_states(session: Session, report: ReplayReport, limit: int, batch: int) -> None:
    """Compare ``record_state`` (verified, locked and by whom) with its trail entries (schemas/recordstate.py).

    A flag the trail never set is false; a row holding a true flag without an entry, a flag that differs from its
    last entry, a ``*_by`` that is not that entry's user, or a state the trail leaves true whose row is gone, is
    a finding. Holds one entry per record whose state ever changed (verification and locks are set by people,
    record by record, so this stays small beside the record tables).
    """
    from tkitrack.schemas.recordstate import RecordState

    def found(*args) -> None:
        report.total += 1
        if len(report.findings) < limit:
            report.findings.append(Finding("record_state", *args))

    trail = _state_trail(session, batch)
    t = RecordState.__table__
    result = session.execute(select(t).execution_options(stream_results=True, yield_per=batch))
    for row in result.mappings():
        report.records += 1
        key = (row["record"], row["record_id"])
        entries = trail.pop(key, {})
        rid = " ".join(key)
        for flag in ("verified", "locked"):
            value, user = entries.get(flag, ("false", None))
            shown = _canon(bool(row[flag]))
            if shown != value:
                found(rid, flag, shown, value if flag in entries else None,
                      VALUE_DIFFERS if flag in entries else ROW_NOT_IN_TRAIL)  # fmt: skip
            elif value == "true" and row[f"{flag}_by"] != user:
                found(rid, f"{flag}_by", _canon(row[f"{flag}_by"]), user, VALUE_DIFFERS)
    result.close()
    for key, entries in trail.items():
        for flag, (value, _user) in entries.items():
            if value == "true":
                found(" ".join(key), flag, None, value, ROW_MISSING)


def replay_trail(session: Session, *, limit: int = 1_000, chunk: int = 20_000, batch: int = 20_000) -> ReplayReport:
    """Replay the trail for every record type and the records' verification and lock states, and report what the
    tables hold that the trail does not explain.

    Reads each table and the trail once, in order, ``chunk`` records at a time. ``limit`` findings are kept
    (``total`` counts all).
    """
    report = ReplayReport()
    for record in RECORD_MODELS:
        report.tables += 1
        part: list[tuple[str, dict | None, list]] = []
        for item in _merged(session, record, batch):
            part.append(item)
            if len(part) >= chunk:
                _compare_chunk(record, part, report, limit)
                part = []
        if part:
            _compare_chunk(record, part, report, limit)
    report.tables += 1
    _replay_record_states(session, report, limit, batch)
    return report
