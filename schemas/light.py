"""A single-record write without pandas, pandera or the models: the fast path of ``tkitrack <record> add``.

``tkitrack ae add ...`` must answer within a few times a bare command's start-up (issue 16.3); the full path
(:func:`tkitrack.schemas.store.add_records`) imports pandas, pandera and sqlmodel, which alone cost ten times that.
This module *certifies* that a row is clean and writes it; it never reports a problem itself:

- the row is parsed and checked from the field declarations (:mod:`tkitrack.schemas._specs`, generated from the
  models: type, default, vocabulary, range, required, length, imputation), with the record type's frame rules
  and the error-severity edit checks over the patient's stored records plus the new one;
- every check here answers with the rule ids the full path would give, or ``LIGHT`` where this path does not
  decide (a time of day, an unusual number, an assessment response, a date outside 1700-2200): then
- **anything found sends the row to the full path** (:func:`add_one` returns False, nothing written), so that every
  error and warning a user sees, and every exit code, is the full path's own: the listing of `tkitrack import`.

Warnings do not stop a write and an add does not print them, so only the error rules are certified here; the full
path's warnings (AE007, DT004, PT003, ...) on a clean row are not part of what the command shows. The row and its
audit entry are written with SQLAlchemy Core as the full path writes them (same values, same chained entry).
tests/schemas/test_light.py proves the parity on generated rows and patients for every record type.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
import json
import re

from sqlalchemy import Connection, Engine, text

from tkitrack.schemas._specs import CTCAE, DATE_INPUTS, FIELDS, INPUT_COLUMNS, VOCABULARIES
from tkitrack.schemas.audit_chain import GENESIS, chain_columns
from tkitrack.schemas.errors import CONTROL_CHARACTERS

__all__ = ["LIGHT", "add_one", "edit_errors", "parse_row", "row_errors"]

#: The rule id of "this path does not decide": the full path runs instead.
LIGHT = "LIGHT"
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_CONTROL = re.compile(CONTROL_CHARACTERS)
#: Numbers this path reads itself (plain decimals); anything else (exponents, 20 digits) is the full path's.
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]{1,12}(\.[0-9]{1,9})?")
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_LARGEST_INT = 2**31 - 1
_KEYED_BY_ID = ("molecular", "ihc", "exposure", "ae", "assessment", "procedure", "disease_event", "followup")
RECORDS = ("patient", *_KEYED_BY_ID)


def _date(value: str, rule: str) -> tuple[dt.date, str | None] | None:
    """A partial ISO 8601 date (no time) -> (imputed date, flag), None when this path does not read it."""
    m = _DATE.fullmatch(value)
    if not m:
        return None
    year = int(m[1])
    if not 1700 <= year <= 2200:  # pandas' datetime64[ns] ends in 1677 and 2262: the full path decides
        return None
    month = int(m[2]) if m[2] else None
    day = int(m[3]) if m[3] else None
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None:
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            return None
        return dt.date(year, month, day), None
    if month is not None:
        last = calendar.monthrange(year, month)[1]
        return dt.date(year, month, last if rule == "last" else 1), "D"
    return (dt.date(year, 12, 31) if rule == "last" else dt.date(year, 1, 1)), "M"


def parse_row(record: str, raw: dict[str, str | None]) -> tuple[dict, list[str]]:
    """Typed-in text of one record -> (the typed row, rule ids found), as :func:`~tkitrack.schemas.parse.parse_records`
    reads it: dates imputed with their flag, numbers, booleans, defaults for columns not given, the AE's MedDRA
    code, the drug in lower case. The row is only meaningful when no rule id was found."""
    found: list[str] = []
    specs = FIELDS[record]
    allowed = INPUT_COLUMNS[record]
    if any(c not in allowed for c in raw) or any(
        spec[7] and spec[0].removesuffix("_dtc") not in raw for spec in specs if spec[0].removesuffix("_dtc") in allowed
    ):
        return {}, [LIGHT]  # an unknown or a missing required column: the full path's InputError
    cells: dict[str, str | None] = {}
    for column, value in raw.items():
        value = None if value is None else str(value).strip()
        if value and _CONTROL.search(value):
            found.append("FLD010")
            value = None
        cells[column] = value or None
    row: dict = {}
    for name, dtype, default, vocab, _ge, _gt, _le, _required, imputed, derived, max_length in specs:
        if imputed or name.endswith("_dtf"):
            continue
        column = name[:-4] if name.endswith("_dtc") else name
        if column not in raw and not name.endswith("_dtc"):
            row[name] = None if default is None or (derived and dtype != "boolean") else default
            continue
        value = cells.get(column)
        if name.endswith("_dtc"):
            row[name], row[column], row[f"{column}_dtf"] = None, None, None
            if value is not None:
                rule = next(s[8] for s in specs if s[0] == column)
                read = _date(value, rule)
                if read is None:
                    found.append(LIGHT)
                else:
                    row[name], (row[column], row[f"{column}_dtf"]) = value, read
            continue
        if value is None:
            row[name] = False if dtype == "boolean" and default is False else None
        elif dtype in ("Int64", "float64"):
            if not _PLAIN_NUMBER.fullmatch(value):
                found.append(LIGHT)
                row[name] = None
                continue
            number = float(value)
            if dtype == "Int64":
                if number % 1 != 0:
                    found.append("FLD006")
                    number = None
                elif abs(number) > _LARGEST_INT:
                    found.append("FLD011")
                    number = None
                else:
                    number = int(number)
            row[name] = number
        elif dtype == "boolean":
            low = value.lower()
            if low in _TRUE or low in _FALSE:
                row[name] = low in _TRUE
            else:
                found.append("FLD007")
                row[name] = False if default is False else None
        else:
            if max_length and not vocab and len(value) > max_length:
                found.append("FLD008")
                value = value[:max_length]
            row[name] = value
    row = {spec[0]: row.get(spec[0]) for spec in specs}
    if record == "ae":
        row["term_code"] = CTCAE[row["term"]][0] if row["term"] in CTCAE else None
    if record == "exposure" and row["drug"] is not None:
        row["drug"] = row["drug"].lower()
    return row, found


def row_errors(record: str, row: dict) -> list[str]:
    """The field rules (FLD001-FLD003) and the error-severity frame rules of one typed row (see :mod:`frames`)."""
    found = []
    for name, dtype, _default, vocab, ge, gt, le, required, _imp, _derived, _max in FIELDS[record]:
        value = row.get(name)
        if value is None:
            if required or name == "deleted":
                found.append("FLD001")
            continue
        if vocab and vocab != "ctcae_term" and value not in VOCABULARIES[vocab]:
            found.append("FLD002")
        if dtype in ("Int64", "float64") and (
            (ge is not None and not value >= ge)
            or (gt is not None and not value > gt)
            or (le is not None and not value <= le)
        ):
            found.append("FLD003")
    named = row.get("constructed_dates")
    if named is not None and any(n.strip() not in DATE_INPUTS[record] for n in named.split(",")):
        found.append("DT005")
    start, end = row.get("start"), row.get("end")
    if record in ("exposure", "ae") and start is not None and end is not None and end < start:
        found.append("EX001" if record == "exposure" else "AE001")
    # a missing drug is FLD001's; whether dose 0 is allowed (placebo) is then undecided, as in frames.py
    if record == "exposure" and row["dose"] is not None and row["drug"] is not None and row["dose"] <= 0 \
            and row["drug"] != "placebo":  # fmt: skip
        found.append("EX006")
    if record == "ae" and row["term"] is not None:
        if row["term"] not in CTCAE and not row["verbatim"]:
            found.append("AE002")
        if row["term"] in CTCAE and row["grade"] is not None and row["grade"] not in CTCAE[row["term"]][1]:
            found.append("AE003")
    if (
        record == "molecular"
        and row["gene_5p_candidates"] is not None
        and (len(row["gene_5p_candidates"].split("|")) < 2 or row["gene_5p"] is not None)
    ):
        found.append("MO001")
    if record == "assessment" and any(
        row[c] is not None for c in ("response", "target_response", "nontarget_response")
    ):
        found.append(LIGHT)  # AS005 (responses under their criteria) is decided by the full path
    return found


def _lt(a, b) -> bool:
    return a is not None and b is not None and a < b


def _min(values) -> dt.date | None:
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _max(values) -> dt.date | None:
    values = [v for v in values if v is not None]
    return max(values) if values else None


def edit_errors(records: dict[str, list[dict]]) -> list[str]:
    """The error-severity edit checks of :mod:`tkitrack.schemas.checks` over one patient's typed records (the
    stored ones and the new one): REF001, PT001, DT002, DT003, EX002, EX003, AS001, AE004, AE005, FU001, FU002."""
    found = []
    patients = records.get("patient", [])
    fu, ex = records.get("followup", []), records.get("exposure", [])
    if not patients:
        if any(records.get(r) for r in _KEYED_BY_ID):
            found.append("REF001")
        return found
    p = patients[0]  # one patient: a second row of the same id is PT010/PT011, refused before
    birth = p["birth_date"]
    death = _min(f["death_date"] for f in fu)
    last = _max([f["date"] for f in fu] + [f["death_date"] for f in fu])
    reference = p["reference_date"] if p["reference_date"] is not None else _min(e["start"] for e in ex)
    if _lt(p["diagnosis_date"], birth):
        found.append("PT001")
    for record, rows in records.items():
        dated = [s[0] for s in FIELDS[record] if s[8] and s[0] != "birth_date"]
        for r in rows:
            for name in dated:
                if _lt(r[name], birth):
                    found.append("DT002")
                late = record != "exposure" and not (record == "followup" and name in ("date", "death_date"))
                if late and _lt(last, r[name]):
                    found.append("DT003")
    for e in ex:
        after = _lt(death, e["start"]) or _lt(death, e["end"]) or (e["end"] is None and death is not None)
        if after or _lt(last, e["start"]) or _lt(last, e["end"]):
            found.append("EX002")
    by_drug: dict[str, list[dict]] = {}
    for e in ex:
        if e["drug"] is not None:
            by_drug.setdefault(e["drug"], []).append(e)
    for rows in by_drug.values():
        rows = sorted(rows, key=lambda e: (e["start"] is None, e["start"] or dt.date.min))  # stable, as pandas
        for before, e in itertools.pairwise(rows):
            if e["start"] is not None and (before["end"] is None or e["start"] < before["end"]):
                found.append("EX003")
    for a in records.get("assessment", []):
        if _lt(a["date"], reference) and not a["baseline"]:
            found.append("AS001")
    dead = any(f["vital_status"] == "dead" or f["death_date"] is not None for f in fu)
    for ae in records.get("ae", []):
        if ae["grade"] == 5 and not dead:
            found.append("AE004")
        if ae["outcome"] == "fatal" and ae["grade"] != 5:
            found.append("AE005")
    for f in fu:
        if f["vital_status"] == "dead" and f["death_date"] is None:
            found.append("FU001")
        if f["vital_status"] == "alive" and f["death_date"] is not None:
            found.append("FU002")
    return found


def _typed_stored(record: str, row: dict) -> dict:
    """A stored row as the driver gives it -> the typed values of :func:`parse_row` (SQLite: ISO text, 0/1)."""
    out = dict(row)
    for name, dtype, *_ in FIELDS[record]:
        value = out.get(name)
        if value is None:
            continue
        if dtype == "datetime64[ns]" and isinstance(value, str):
            out[name] = dt.date.fromisoformat(value[:10])
        elif dtype == "datetime64[ns]" and isinstance(value, dt.datetime):
            out[name] = value.date()
        elif dtype == "boolean":
            out[name] = bool(value)
    return out


def _stored(conn: Connection, patient_id: str) -> dict[str, list[dict]]:
    """The patient's live records of every type, typed, in stored order (the rows the full path's checks read)."""
    out = {}
    for record in RECORDS:
        order = "patient_id" if record == "patient" else "id"
        stmt = text(f"SELECT * FROM {record} WHERE patient_id = :pid AND NOT deleted ORDER BY {order}")
        out[record] = [_typed_stored(record, dict(r)) for r in conn.execute(stmt, {"pid": patient_id}).mappings()]
    return out


def _bind(dialect: str, value: object) -> object:
    if dialect == "sqlite" and isinstance(value, dt.date):
        return value.isoformat()  # as SQLAlchemy's Date stores it on SQLite
    if dialect == "sqlite" and isinstance(value, bool):
        return int(value)
    return value


def _insert(conn: Connection, table: str, values: dict, returning: str | None = None):
    dialect = conn.dialect.name
    names = list(values)
    sql = (f'INSERT INTO {table} ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) '
           f'VALUES ({", ".join(f":p{i}" for i in range(len(names)))})')  # fmt: skip
    if returning:
        sql += f" RETURNING {returning}"
    params = {f"p{i}": _bind(dialect, values[n]) for i, n in enumerate(names)}
    result = conn.execute(text(sql), params)
    return result.scalar_one() if returning else None


def _append_audit(conn: Connection, entry: dict, user: str) -> None:
    """One audit entry chained after the head, as :func:`tkitrack.schemas.audit.append_entries` chains it."""
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    head = conn.execute(text(f"SELECT seq, hash FROM audit_head WHERE id = 1{lock}")).first()
    if head is None:
        _insert(conn, "audit_head", {"id": 1, "seq": 0, "hash": GENESIS})
        seq, prev = 0, GENESIS
    else:
        seq, prev = head
    columns, seq, prev = chain_columns([entry], seq=seq, prev=prev, user=user)
    _insert(conn, "audit_log", {k: v[0] for k, v in columns.items()})
    conn.execute(text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"), {"seq": seq, "hash": prev})


def check_one(conn: Connection, record: str, raw: dict[str, str | None]) -> tuple[dict, list[str]]:
    """(typed row, rule ids) of one new record against the patient's stored records, inside the write lock."""
    from tkitrack.schemas.storage import lock_for_write

    if record not in RECORDS:
        return {}, [LIGHT]
    row, found = parse_row(record, raw)
    if found:
        return row, found
    found = row_errors(record, row)
    if found:
        return row, found
    lock_for_write(conn)
    pid = row["patient_id"]
    stored = _stored(conn, pid)
    if record == "patient":
        if conn.execute(text("SELECT 1 FROM patient WHERE patient_id = :pid"), {"pid": pid}).first():
            return row, ["PT011"]
        stored["patient"] = [row]
    else:
        stored[record].append(row)
    return row, edit_errors(stored)


def add_one(engine: Engine, record: str, raw: dict[str, str | None], *, user: str, source: str) -> bool:
    """Add one record when every check passes here; False (nothing written) when the full path must decide.

    One transaction: the write lock, the checks on the patient's stored records, the insert and its audit entry.
    """
    from sqlalchemy.exc import IntegrityError

    from tkitrack.schemas.storage import core_transaction

    try:
        with core_transaction(engine) as conn:
            row, found = check_one(conn, record, raw)
            if found:
                raise _LeftToFullPath  # rolls back: nothing written; the full path reports what is wrong
            _write(conn, record, row, user, source)
    except _LeftToFullPath:
        return False
    except IntegrityError:
        # PostgreSQL: another writer added the same patient after the PT011 check; the full path refuses it as
        # PT011 with its listing (SQLite took the write lock before the check, so it cannot happen there)
        return False
    return True


class _LeftToFullPath(Exception):
    """The light path found something or does not decide: roll back, let the full path run."""


def _write(conn: Connection, record: str, row: dict, user: str, source: str) -> None:
    """Insert the typed row and its audit entry (what :func:`~tkitrack.schemas.store.add_records` writes)."""
    values = {k: v for k, v in row.items() if not (k == "id" and record != "patient")}
    if record == "patient":
        _insert(conn, record, values)
        record_id = row["patient_id"]
    else:
        record_id = _insert(conn, record, values, returning="id")
    cols = [c for c in INPUT_COLUMNS[record] if c != "patient_id"]
    shown = {c: values[f"{c}_dtc"] if f"{c}_dtc" in values else values[c] for c in cols}
    entry = {"action": "insert", "table_name": record, "record_id": record_id, "patient_id": row["patient_id"],
             "field": "*", "new_value": json.dumps(shown), "reason": f"added from {source}"}  # fmt: skip
    _append_audit(conn, entry, user)
