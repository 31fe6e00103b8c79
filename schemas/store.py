"""Reading and writing records: every write validated, audited and done as one transaction by the caller."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import String, any_, bindparam, column, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tkitrack.schemas.audit import append_batch, append_entries, expanded_trail
from tkitrack.schemas.audit_chain import json_objects
from tkitrack.schemas.bulk import IsoDates, bulk_cache, insert_columns
from tkitrack.schemas.distinct import spread
from tkitrack.schemas.errors import ConcurrentEditError, InputError, NotFoundError, ValidationFailed, shorten
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import check_frame, column_dtypes, concat_frames, input_columns, listing
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.storage import lock_for_write

__all__ = [
    "WRITE_ORDER",
    "add_records",
    "delete_record",
    "patient_ids",
    "read_frames",
    "read_record",
    "update_record",
]

#: Record types in the order they are written (patients before anything that refers to them).
WRITE_ORDER = tuple(RECORD_MODELS)
Progress = Callable[[int], None]
#: Above this many patients, a read for some patients passes their ids as one array (PostgreSQL) or one JSON
#: text (SQLite) instead of one bound parameter each (drivers cap those at 32,767-65,535 per statement).
_MANY_IDS = 1_000


def _table(record: str):
    return RECORD_MODELS[record].__table__


#: Rows fetched and typed at a time by :func:`read_frames`: its peak memory is the typed frames plus one chunk.
READ_CHUNK_ROWS = 100_000


def _typed_column(values: Sequence, dtype: str):
    """One column of driver values as the record dtype (text columns: see :class:`_TextColumn`)."""
    arr = np.array(values, dtype=object)
    if dtype == "string":
        return pd.array(arr, dtype="string")
    if dtype == "datetime64[ns]":
        return pd.to_datetime(pd.Series(arr, dtype=object), format="ISO8601").to_numpy(dtype="datetime64[ns]")
    if dtype == "float64":
        return pd.to_numeric(pd.Series(arr, dtype=object)).to_numpy(dtype="float64")
    return pd.array(arr, dtype=dtype)


class _TextColumn:
    """A text column read chunk by chunk, kept as codes into its distinct values until it is complete.

    The driver makes a new ``str`` per cell, scattered over the memory the chunks' rows took. The column is
    made of one new ``str`` per distinct value, allocated together once the column is read: most of the memory
    of a registry's ids and coded values, and where every later derivation looks (hashing, comparing). A
    registry's derivations run 1.5-2x faster on text laid out so than on the driver's scattered objects
    (100,000 patients: the swimmer data 8.8 s -> 4.6 s CPU).
    """

    def __init__(self) -> None:
        self.index: dict[str, int] = {}  # distinct value -> its code, in the order first seen
        self.codes: list[np.ndarray] = []

    def add(self, values: Sequence) -> None:
        codes, uniques = pd.factorize(np.array(values, dtype=object))
        index = self.index
        known = np.array([index.setdefault(u, len(index)) for u in uniques] + [-1], dtype=np.int64)
        self.codes.append(known[codes])  # a missing cell's code (-1) takes the -1 appended

    def array(self):
        # new objects for the distinct values, made in one pass (pickle makes a new str for each; this list is
        # our own, not outside data), so that they sit together in memory
        distinct = pickle.loads(pickle.dumps(list(self.index), protocol=pickle.HIGHEST_PROTOCOL))
        codes = np.concatenate(self.codes) if self.codes else np.empty(0, dtype=np.int64)
        return pd.array(spread(distinct, codes), dtype="string")


def _typed_chunks(record: str, keys: list[str], chunks: Iterable[Sequence[Sequence]]) -> pd.DataFrame:
    """Columns (in the order of ``keys``), chunk by chunk, as a frame with the record's dtypes.

    Each chunk is typed column by column and dropped before the next is fetched, so the driver's rows never all
    exist at once.
    """
    dtypes = column_dtypes(record)
    parts: dict[str, list] = {name: [] for name, dtype in dtypes.items() if dtype != "string"}
    texts = {name: _TextColumn() for name, dtype in dtypes.items() if dtype == "string"}
    for columns in chunks:
        for key, values in zip(keys, columns, strict=True):
            if key in texts:
                texts[key].add(values)
            elif key in parts:
                parts[key].append(_typed_column(values, dtypes[key]))
    columns = {}
    for name, dtype in dtypes.items():
        if name in texts:
            columns[name] = pd.Series(texts[name].array())
            continue
        if not parts[name]:
            parts[name] = [_typed_column((), dtype)]
        columns[name] = pd.concat([pd.Series(p) for p in parts[name]], ignore_index=True)
    return pd.DataFrame(columns, columns=list(dtypes))


def read_frames(
    session: Session,
    records: Iterable[str] = WRITE_ORDER,
    *,
    patients: Iterable[str] | Callable[[], Iterable[str]] | None = None,
    include_deleted: bool = False,
) -> dict[str, pd.DataFrame]:
    """Every record of the given types as typed frames (dates as datetime64), optionally for some patients.

    ``patients`` may also be a function returning them, called once, at the first table that has any row (into
    an empty database nothing needs the ids: a first import's 46,000 are not collected at all).
    """
    out = {}
    wanted = None
    for record in records:
        table = _table(record)
        stmt = select(table)
        if not include_deleted:
            stmt = stmt.where(table.c.deleted.is_(False))
        if patients is not None:
            # a table with no row at all has none of these patients: one probe instead of a look-up per patient
            # (a first import of 46,000 patients otherwise probes each table's index 46,000 times)
            if session.execute(select(table.c.patient_id).limit(1)).first() is None:
                out[record] = _typed_chunks(record, [c.key for c in table.c], ())
                continue
            if wanted is None:
                wanted = list(patients() if callable(patients) else patients)
            stmt = stmt.where(_patient_filter(session, table, wanted))
        order = [table.c.patient_id] + ([table.c.id] if "id" in table.c else [])
        stmt = stmt.order_by(*order)
        if patients is None and session.get_bind().dialect.name == "sqlite":
            out[record] = _typed_chunks(record, [c.name for c in stmt.selected_columns], _sqlite_chunks(session, stmt))
            continue
        result = session.execute(stmt.execution_options(yield_per=READ_CHUNK_ROWS))
        columns = (list(zip(*rows, strict=True)) for rows in result.partitions())
        out[record] = _typed_chunks(record, list(result.keys()), columns)
    return out


def _sqlite_chunks(session: Session, stmt) -> Iterator[list[np.ndarray]]:
    """The columns of ``stmt`` as the sqlite3 driver gives them, :data:`READ_CHUNK_ROWS` rows at a time, in the
    session's transaction: text, integers, reals and NULL, which :func:`_typed_column` types as it types
    SQLAlchemy's values (a DATE column's ISO text parses to the same day as its ``date``; a BOOLEAN's 0/1 to
    False/True). Skipping SQLAlchemy's rows and result processors is a third of reading a registry (100,000
    patients: some 9 s). The rows are turned into columns by numpy in one pass (a cell of SQLite is never a
    sequence that numpy would spread), three times faster than ``zip(*rows)``."""
    compiled = stmt.compile(dialect=session.get_bind().dialect)
    params = [compiled.params[name] for name in (compiled.positiontup or [])]
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        width = len(cursor.description)
        while rows := cursor.fetchmany(READ_CHUNK_ROWS):
            block = np.empty((len(rows), width), dtype=object)
            block[:] = rows
            del rows
            yield [block[:, j] for j in range(width)]
    finally:
        cursor.close()


def _patient_filter(session: Session, table, wanted: list[str]):
    """``patient_id IN (...)``; for many ids one array (PostgreSQL) or one JSON text (SQLite) parameter."""
    if len(wanted) > _MANY_IDS:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import ARRAY

            return table.c.patient_id == any_(bindparam("patient_ids", wanted, type_=ARRAY(String)))
        if dialect == "sqlite":
            ids = bindparam("patient_ids", json.dumps(wanted))
            return table.c.patient_id.in_(select(column("value", String)).select_from(func.json_each(ids)))
    return table.c.patient_id.in_(wanted)


def patient_ids(session: Session, *, include_deleted: bool = False) -> list[str]:
    """The ids of all patients."""
    table = _table("patient")
    stmt = select(table.c.patient_id).order_by(table.c.patient_id)
    if not include_deleted:
        stmt = stmt.where(table.c.deleted.is_(False))
    return list(session.execute(stmt).scalars())


def read_record(session: Session, record: str, record_id: str | int, *, for_update: bool = False) -> dict:
    """One record as a dict; NotFoundError when it does not exist or was deleted.

    ``for_update``: read it for a change inside the write transaction: the record stays as read until the
    transaction ends (SQLite: the database's write lock, taken first; PostgreSQL: ``SELECT ... FOR NO KEY
    UPDATE`` on the row), so the value an audit entry says was replaced is the value that was replaced.
    """
    table = _table(record)
    key = table.c.patient_id if record == "patient" else table.c.id
    value = str(record_id) if record == "patient" else _int_id(record, record_id)
    stmt = select(table).where(key == value)
    if for_update:
        lock_for_write(session)
        stmt = stmt.with_for_update(key_share=True)
    row = session.execute(stmt).mappings().first()
    if row is None or row["deleted"]:
        what = "was deleted" if row is not None else "does not exist"
        raise NotFoundError(f"{record} {record_id} {what}; list them with `tkitrack {_cli_group(record)} list`")
    return dict(row)


def _cli_group(record: str) -> str:
    return {"assessment": "assess", "disease_event": "event", "molecular": "molecular"}.get(record, record)


def _int_id(record: str, record_id: str | int) -> int:
    try:
        return int(record_id)
    except (TypeError, ValueError):
        raise InputError(f"{record} id must be a whole number, got {record_id!r}") from None


def _json_value(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, bool | np.bool_):  # as typed and as the delete entries write it
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _db_columns(record: str, frame: pd.DataFrame, *, iso_dates: bool = False) -> dict[str, list]:
    """Typed frame -> {column: plain Python values} for the database (dates as datetime.date, NA as None).

    ``iso_dates``: a date column as :class:`~tkitrack.schemas.bulk.IsoDates` instead, each day's
    ``date.isoformat()`` text (what SQLite stores), made once per distinct day.
    """
    cols = [c for c in RECORD_MODELS[record].model_fields if not (c == "id" and record != "patient")]
    data = {}
    for col in cols:
        series = frame[col]
        if column_dtypes(record)[col] == "datetime64[ns]" and iso_dates:
            data[col] = _iso_dates(series)
            continue
        if isinstance(series.dtype, pd.StringDtype):  # the text as it is, NA as None: one scan for the missing
            data[col] = series.array.to_numpy(dtype=object, na_value=None).tolist()
            continue
        if column_dtypes(record)[col] == "datetime64[ns]":
            values = np.array(series.dt.date, dtype=object)
        else:  # numpy and masked arrays box their values as Python int, float, bool or str
            values = series.to_numpy(dtype=object)
        values[series.isna().to_numpy()] = None
        data[col] = values.tolist()
    return data


def _iso_dates(series: pd.Series) -> IsoDates:
    """A datetime64 column's days as ``date.isoformat()`` text (None for NaT), each distinct day converted once
    (as ``series.dt.date`` converts it) and spread back by the codes."""
    codes, days = pd.factorize(series.to_numpy(dtype="datetime64[ns]"), use_na_sentinel=True)
    texts = [d.isoformat() for d in pd.DatetimeIndex(days).date]
    return IsoDates(spread(texts, codes).tolist())  # a missing day (code -1) as None


def _db_rows(record: str, frame: pd.DataFrame) -> list[dict]:
    """Typed frame -> list of plain dicts for the database (dates as datetime.date, NA as None)."""
    data = _db_columns(record, frame)
    return [dict(zip(data, values, strict=True)) for values in zip(*data.values(), strict=True)]


def _run_edit_checks(session: Session, new: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Cross-record edit checks on the affected patients' stored records plus the new ones.

    New rows carry ``_row`` (their 1-based row in the input) so that a query points at the file row.
    """
    from tkitrack.schemas.checks import check_records

    def ids() -> list[str]:  # collected only when a table holds records (read_frames)
        # the distinct ids of each frame as a numpy object array: iterating a pandas string array boxes every cell
        return sorted({p for f in new.values()
                       for p in pd.unique(f["patient_id"].dropna().to_numpy(dtype=object)).tolist()})  # fmt: skip

    stored = read_frames(session, patients=ids)
    combined = {}
    for record in WRITE_ORDER:
        parts = [stored[record]]
        if record in new and len(new[record]):
            parts.append(new[record].assign(_row=np.arange(1, len(new[record]) + 1)))
        parts = [p for p in parts if len(p)]
        if len(parts) == 1 and parts[0] is not stored[record]:  # new rows only: their frame is a copy already
            parts[0].index = pd.RangeIndex(len(parts[0]))  # as concat_frames numbers them, without a second copy
            combined[record] = parts[0]
        else:
            combined[record] = concat_frames(parts) if parts else stored[record]
    return check_records(combined)


def add_records(
    session: Session,
    raws: dict[str, pd.DataFrame],
    *,
    user: str,
    source: str = "input",
    sources: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Validate and insert records of several types (template text frames) as one unit.

    Every field, frame and edit check runs first, on all of the input together with the affected patients'
    stored records; any error raises ValidationFailed with the full query listing and nothing is written.
    Then rows are inserted with SQLAlchemy Core (no ORM object per row) and audited as one batch entry per record
    type with a row per record (:func:`tkitrack.schemas.audit.append_batch`).
    The caller's transaction (see :func:`tkitrack.schemas.storage.transaction`) makes it all-or-nothing.
    Returns the number of records added per type.
    """
    unknown = [r for r in raws if r not in RECORD_MODELS]
    if unknown:
        raise InputError(f"unknown record type(s) {', '.join(unknown)}; expected {', '.join(RECORD_MODELS)}")
    typed: dict[str, pd.DataFrame] = {}
    problems = []
    for record in WRITE_ORDER:
        if record not in raws:
            continue
        where = (sources or {}).get(record, source)
        frame, found = parse_records(record, raws[record], source=where)
        problems += [found, check_frame(record, frame)]
        typed[record] = frame
    # SQLite: the write lock before reading what the checks compare with (a patient added by someone else
    # meanwhile is PT011, as when added before); the parsing above runs without it
    lock_for_write(session)
    if "patient" in typed:
        problems.append(_duplicate_patients(session, typed["patient"]))
    problems.append(_run_edit_checks(session, typed))  # cells that did not parse are missing there
    found = concat_frames(problems) if any(len(p) for p in problems) else listing()
    _refuse_errors(found, source, sources)

    def found_again() -> pd.DataFrame:  # the listing as a sequential duplicate gets it (see _insert_patients)
        again = [*problems[:-2], _duplicate_patients(session, typed["patient"]), problems[-1]]
        return concat_frames(again) if any(len(p) for p in again) else listing()

    counts = {}
    sqlite = session.get_bind().dialect.name == "sqlite"
    with bulk_cache(session):
        for record, frame in typed.items():
            if not len(frame):
                continue
            # column-wise: no ORM object and no dict per row; SQLite's dates as the text it stores, once per day
            data = _db_columns(record, frame, iso_dates=sqlite)
            table = _table(record)
            if record == "patient":
                _insert_patients(session, table, data, found_again, source, sources)
                ids = data["patient_id"]
            else:
                ids = insert_columns(session, table, data, returning_ids=True)
            cols = [c for c in input_columns(record) if c != "patient_id"]
            # the values as typed: a date by its given text; the values are plain Python already (see _json_value)
            shown = [data[f"{c}_dtc"] if f"{c}_dtc" in data else data[c] for c in cols]
            # one chain entry for the record type, its records as rows (new_value: json.dumps of {field: value})
            append_batch(session, table_name=record, record_ids=ids, patient_ids=data["patient_id"],
                         new_values=json_objects(cols, shown),
                         reason=f"added from {(sources or {}).get(record, source)}", user=user)  # fmt: skip
            counts[record] = len(frame)
            if progress:
                progress(len(frame))
    return counts


def _refuse_errors(found: pd.DataFrame, source: str, sources: dict[str, str] | None) -> None:
    """ValidationFailed with the whole listing when it holds an error (nothing is written)."""
    errors = found[found["severity"] == "error"] if len(found) else found
    if len(errors):
        where = found["record"].map(lambda r: (sources or {}).get(r, source))
        raise ValidationFailed(
            f"{len(errors)} error(s) in {source}; nothing was written. Fix them and run the command again.",
            failures=found.assign(file=where.to_numpy()),
        )


def _insert_patients(session: Session, table, data: dict[str, list], found_again: Callable[[], pd.DataFrame],
                     source: str, sources: dict[str, str] | None) -> None:  # fmt: skip
    """Insert patients; one that another writer added after the PT011 check is PT011 too, not an IntegrityError.

    PostgreSQL checks in parallel transactions: the insert waits for the other writer's commit, then fails on
    the key; a savepoint keeps this transaction usable to read what was added and refuse it as PT011. SQLite has
    taken its write lock before the check (:func:`add_records`), so no other writer can add one in between.
    """
    if session.get_bind().dialect.name == "sqlite":
        insert_columns(session, table, data)
        return
    try:
        with session.begin_nested():
            insert_columns(session, table, data)
    except IntegrityError:
        _refuse_errors(found_again(), source, sources)  # PT011 now, with the warnings a sequential one gets
        raise


def _duplicate_patients(session: Session, patients: pd.DataFrame) -> pd.DataFrame:
    """PT011: patients of the input already in the database (one listed twice in the input is PT010, a frame rule)."""
    ids = patients["patient_id"].dropna()
    table = _table("patient")
    # one array / JSON parameter above _MANY_IDS ids: a bound parameter per id fails above 32,767-65,535
    wanted = list(dict.fromkeys(ids))
    found = session.execute(select(table.c.patient_id).where(_patient_filter(session, table, wanted))).scalars()
    existing = set(found)
    rows = [
        {"patient_id": p, "record": "patient", "row": int(i) + 1, "field": "patient_id", "rule_id": "PT011",
         "severity": "error", "value": p,
         "message": f"patient {p} is already in the database; change it with `tkitrack patient edit`"}
        for i, p in ids.items() if p in existing
    ]  # fmt: skip
    return listing(rows)


def _as_shown(value: object) -> str:
    """A stored or typed value as text for comparing what a user saw with what is stored ("" for missing)."""
    value = _json_value(value)
    return "" if value is None else str(value).strip()


def _same(seen: object, current: object) -> bool:
    a, b = _as_shown(seen), _as_shown(current)
    if a == b or (a.lower() == b.lower() and a.lower() in ("true", "false")):
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def _last_change(session: Session, record: str, key: object, field: str) -> tuple[str | None, str | None]:
    """Who changed ``field`` of the record last and when (UTC), from the audit trail (the insert if never)."""
    t = expanded_trail(("seq", "ts", "user"), where=lambda c: (c.table_name == record) & (c.record_id == str(key))
                       & c.field.in_([field, f"{field}_dtc", "*", "deleted"]))  # fmt: skip
    stmt = select(t.c.user, t.c.ts).order_by(t.c.seq.desc()).limit(1)
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row else (None, None)


def _check_expected(session: Session, record: str, record_id: str | int, old: dict, expected: dict | None) -> None:
    """Refuse an edit when a field the user saw (``expected``: field -> value shown) has changed since."""
    if not expected:
        return
    fields = input_columns(record)
    unknown = [f for f in expected if f not in fields]
    if unknown:
        raise InputError(f"{record} has no field(s) {', '.join(unknown)} to compare; fields: {', '.join(fields)}")
    key = old["patient_id"] if record == "patient" else old["id"]
    conflicts = []
    for name, seen in expected.items():
        current = old.get(f"{name}_dtc", old.get(name))
        if not _same(seen, current):
            who, when = _last_change(session, record, key, name)
            conflicts.append({"field": name, "seen": _json_value(seen), "current": _json_value(current),
                              "changed_by": who, "changed_at": when})  # fmt: skip
    if conflicts:
        said = "; ".join(
            f"{c['field']} is now {shorten(_as_shown(c['current']) or '(empty)')}, not "
            f"{shorten(_as_shown(c['seen']) or '(empty)')} as you saw it (changed by {c['changed_by'] or 'unknown'}"
            f" at {(c['changed_at'] or '?')[:19].replace('T', ' ')} UTC)"
            for c in conflicts
        )
        raise ConcurrentEditError(
            f"{record} {key} was changed by someone else after you opened it: {said}; nothing was saved. "
            "Reload the record, check their change, and make yours again if it is still needed.",
            record=record, record_id=str(key), conflicts=conflicts,
        )  # fmt: skip


def update_record(
    session: Session,
    record: str,
    record_id: str | int,
    changes: dict[str, str | None],
    *,
    reason: str,
    user: str,
    expected: dict[str, object] | None = None,
) -> dict[str, tuple[object, object]]:
    """Change fields of one record (values as typed text, dates partial ISO), validated and audited per field.

    The record is read for update inside the caller's write transaction (see :func:`read_record`), so the old
    value in each audit entry is the value this edit replaced, even with other people editing at once.
    ``expected`` (field -> the value the user saw, e.g. when a form was opened) makes the edit optimistic: when
    any of those fields holds another value now, ConcurrentEditError names the field, both values, and who
    changed it when; nothing is written. Returns {column: (old, new)} for the columns that changed. A reason is
    required.
    """
    if not (reason or "").strip():
        raise InputError(f'editing {record} {record_id} needs a reason; pass --reason "..."')
    old = read_record(session, record, record_id, for_update=True)
    _check_expected(session, record, record_id, old, expected)
    from tkitrack.schemas.recordstate import clear_verification, refuse_locked

    refuse_locked(session, record, record_id)
    allowed = [c for c in input_columns(record) if c != "patient_id"]
    bad = [c for c in changes if c not in allowed]
    if bad:
        raise InputError(f"{record} has no editable field(s) {', '.join(bad)}; editable: {', '.join(allowed)}")
    current = {c: old.get(f"{c}_dtc", old.get(c)) for c in input_columns(record)}
    current.update(changes)
    raw = pd.DataFrame([{k: (None if v is None else str(v) if not isinstance(v, bool) else str(v).lower())
                         for k, v in current.items()}])  # fmt: skip
    frame, found = parse_records(record, raw, source=f"{record} {record_id}")
    found = concat_frames([found, check_frame(record, frame)])
    if record != "patient":
        frame["id"] = old["id"]
    if not len(found):
        pid = old["patient_id"]
        stored = read_frames(session, patients=[pid])
        key = "patient_id" if record == "patient" else "id"
        others = stored[record][stored[record][key] != old[key]]
        merged = dict(stored)
        merged[record] = concat_frames([others, frame])
        from tkitrack.schemas.checks import check_records

        found = check_records(merged)
    errors = found[found["severity"] == "error"] if len(found) else found
    if len(errors):
        raise ValidationFailed(f"the edit of {record} {record_id} breaks {len(errors)} rule(s); nothing changed",
                               failures=found)  # fmt: skip
    new = _db_rows(record, frame)[0]
    diff = {
        c: (old[c], new[c]) for c in new if c not in ("id", "deleted") and _json_value(old[c]) != _json_value(new[c])
    }
    if not diff:
        return {}
    table = _table(record)
    key_col = table.c.patient_id if record == "patient" else table.c.id
    key = old["patient_id" if record == "patient" else "id"]
    session.execute(update(table).where(key_col == key).values({c: v[1] for c, v in diff.items()}))
    append_entries(session, [
        {"action": "update", "table_name": record, "record_id": key, "patient_id": old["patient_id"],
         "field": c, "old_value": _json_value(o), "new_value": _json_value(n), "reason": reason}
        for c, (o, n) in diff.items()
    ], user=user)  # fmt: skip
    clear_verification(session, record, record_id, old["patient_id"], list(diff), user=user)
    return diff


def delete_record(
    session: Session,
    record: str,
    record_id: str | int,
    *,
    reason: str,
    user: str,
    expected: dict[str, object] | None = None,
) -> int:
    """Mark a record deleted (nothing is hard deleted), with its reason in the audit trail.

    Deleting a patient marks every record of that patient deleted too. The records are read for update inside
    the write transaction (a record deleted by someone else meanwhile is not deleted, nor audited, twice);
    ``expected`` refuses the deletion when a field the user saw has changed since (see :func:`update_record`).
    Returns how many records were marked.
    """
    if not (reason or "").strip():
        raise InputError(f'deleting {record} {record_id} needs a reason; pass --reason "..."')
    old = read_record(session, record, record_id, for_update=True)
    _check_expected(session, record, record_id, old, expected)
    from tkitrack.schemas.recordstate import refuse_locked

    refuse_locked(session, record, record_id, verb="deleted")
    entries = []
    if record == "patient":
        pid = old["patient_id"]
        for child in WRITE_ORDER[1:]:
            table = _table(child)
            live = (table.c.patient_id == pid) & table.c.deleted.is_(False)
            ids = list(session.execute(
                select(table.c.id).where(live).order_by(table.c.id).with_for_update(key_share=True)
            ).scalars())  # fmt: skip
            for i in ids:
                refuse_locked(session, child, i, verb=f"deleted with patient {pid}")
            if ids:  # the same rows (locked in this transaction): no parameter per id
                session.execute(update(table).where(live).values(deleted=True))
                entries += [{"action": "delete", "table_name": child, "record_id": i, "patient_id": pid,
                             "field": "deleted", "old_value": "false", "new_value": "true",
                             "reason": f"{reason} (patient {pid} deleted)"} for i in ids]  # fmt: skip
        key = _table("patient").c.patient_id == pid
        rid = pid
    else:
        key = _table(record).c.id == old["id"]
        rid = old["id"]
    session.execute(update(_table(record)).where(key).values(deleted=True))
    entries.append({"action": "delete", "table_name": record, "record_id": rid,
                    "patient_id": old["patient_id"], "field": "deleted", "old_value": "false",
                    "new_value": "true", "reason": reason})  # fmt: skip
    append_entries(session, entries, user=user)
    return len(entries)


def field_label(record: str, name: str) -> str:
    """The human label of a field (for tables and data dictionaries)."""
    return field_info(RECORD_MODELS[record], name).label
