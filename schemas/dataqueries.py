"""Data queries with a life: raised on a record's field, answered by the site, closed or reopened by a data manager.

A query (table ``data_query``) points at one data point (record type, record id, field) of one patient and is
assigned to that patient's site. Its states follow REDCap's data resolution workflow::

    open --answer--> answered --close--> closed --reopen--> reopened --answer--> answered ...
    open --close--> closed (raised in error)          answered --reopen--> reopened (the answer is not enough)

Every step is a row of ``data_query_event`` (who, when, from which state to which, the text) and an entry of the
hash-chained audit trail (``table query``), written in the caller's transaction. Queries are raised by hand, or
by the edit checks: a warning found when a record is saved opens a query (:func:`open_warning_queries`), once per
data point and rule. Who may do what (the site answers, a data manager closes) is the web app's and the CLI's
business; the state machine is enforced here for every caller.

Not to be confused with :mod:`tkitrack.schemas.queries`, the validation listings of ``tkitrack validate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlmodel import Session, SQLModel

from tkitrack.schemas.audit import append_entries
from tkitrack.schemas.errors import InputError, NotFoundError
from tkitrack.schemas.fields import field as _f
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS

__all__ = [
    "QUERY_STATES",
    "TRANSITIONS",
    "DataQuery",
    "QueryEvent",
    "answer_query",
    "close_query",
    "list_queries",
    "open_query_counts",
    "open_warning_queries",
    "query_events",
    "raise_query",
    "read_query",
    "reopen_query",
]

QUERY_STATES = ("open", "answered", "closed", "reopened")
#: action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "answer": (("open", "reopened"), "answered"),
    "close": (("open", "answered", "reopened"), "closed"),
    "reopen": (("answered", "closed"), "reopened"),
}
_PAST = {"answer": "answered", "close": "closed", "reopen": "reopened"}
#: States in which a query waits for someone (the counts on the patient list).
OPEN_STATES = ("open", "answered", "reopened")
_MAX_TEXT = 2000


class DataQuery(SQLModel, table=True):
    """One query on one data point, assigned to the patient's site."""

    __tablename__ = "data_query"

    id: int | None = _f(None, label="Query id", primary_key=True)
    patient_id: str = _f(label="Patient id", max_length=64, index=True)
    record: str = _f(label="Record type (patient, exposure, ae, ...)", max_length=32)
    record_id: str = _f(label="Record id (the patient id for the patient record)", max_length=64)
    field: str = _f(label="Field the query is about ('*' for the whole record)", max_length=64)
    site: str | None = _f(label="Site the query is assigned to (the patient's)", max_length=64, index=True)
    rule_id: str | None = _f(label="Edit check that raised it (empty when raised by hand)", max_length=16)
    message: str = _f(label="What is asked", max_length=_MAX_TEXT)
    state: str = _f(label="open, answered, closed or reopened", max_length=16, index=True)
    raised_by: str = _f(label="Who raised it", max_length=128)
    raised_ts: str = _f(label="When it was raised (UTC)", max_length=40)
    updated_by: str = _f(label="Who moved it last", max_length=128)
    updated_ts: str = _f(label="When it last moved (UTC)", max_length=40)


class QueryEvent(SQLModel, table=True):
    """One step in a query's life: raised, answered, closed, reopened, with its text."""

    __tablename__ = "data_query_event"

    id: int | None = _f(None, label="Event id", primary_key=True)
    query_id: int = _f(label="Query", foreign_key="data_query.id", index=True)
    ts: str = _f(label="When (UTC)", max_length=40)
    user: str = _f(label="Who", max_length=128)
    action: str = _f(label="raise, answer, close or reopen", max_length=16)
    old_state: str | None = _f(label="State before", max_length=16)
    new_state: str = _f(label="State after", max_length=16)
    text: str | None = _f(label="Message, answer or reason", max_length=_MAX_TEXT)


@dataclass(frozen=True)
class _Point:
    patient_id: str
    site: str | None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _text(value: str | None, what: str, *, required: bool = True) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise InputError(f"{what} needs a message; say what is asked or answered")
    if len(text) > _MAX_TEXT:
        raise InputError(f"{what}: the message has {len(text):,} characters, at most {_MAX_TEXT:,} are kept")
    return text or None


def _data_point(session: Session, record: str, record_id: str | int, field: str) -> _Point:
    """The patient and site of an existing record; InputError/NotFoundError for a bad record or field."""
    from tkitrack.schemas.store import read_record

    if record not in RECORD_MODELS:
        raise InputError(f"unknown record type {record!r}; expected one of {', '.join(RECORD_MODELS)}")
    fields = input_columns(record)
    if field != "*" and field not in fields:
        raise InputError(f"{record} has no field {field!r}; fields: {', '.join(fields)}")
    row = read_record(session, record, record_id)
    patient = read_record(session, "patient", row["patient_id"])
    return _Point(row["patient_id"], patient["site"])


def _audit(session: Session, query: dict, *, action: str, old: str | None, new: str, text: str | None, user: str):
    append_entries(session, [{
        "action": "insert" if old is None else "update", "table_name": "query", "record_id": query["id"],
        "patient_id": query["patient_id"], "field": "state", "old_value": old, "new_value": new,
        "reason": f"query {query['id']} on {query['record']} {query['record_id']} {query['field']}: {action}"
                  + (f": {text}" if text else ""),
    }], user=user)  # fmt: skip


def raise_query(
    session: Session, record: str, record_id: str | int, field: str, message: str, *, user: str,
    rule_id: str | None = None,
) -> int:  # fmt: skip
    """Open a query on one data point (``field`` may be ``*``: the whole record); returns its id."""
    text = _text(message, f"a query on {record} {record_id}")
    point = _data_point(session, record, record_id, field)
    now = _now()
    values = {"patient_id": point.patient_id, "record": record, "record_id": str(record_id), "field": field,
              "site": point.site, "rule_id": rule_id, "message": text, "state": "open", "raised_by": user,
              "raised_ts": now, "updated_by": user, "updated_ts": now}  # fmt: skip
    qid = session.execute(insert(DataQuery).values(values).returning(DataQuery.id)).scalar_one()
    session.execute(insert(QueryEvent).values(query_id=qid, ts=now, user=user, action="raise", old_state=None,
                                              new_state="open", text=text))  # fmt: skip
    _audit(session, values | {"id": qid}, action="raised", old=None, new="open", text=text, user=user)
    return qid


def read_query(session: Session, query_id: int | str, *, lock: bool = False) -> dict:
    """One query as a dict; NotFoundError when there is none with that id."""
    try:
        qid = int(query_id)
    except (TypeError, ValueError):
        raise InputError(f"a query id is a whole number, got {query_id!r}") from None
    stmt = select(DataQuery.__table__).where(DataQuery.id == qid)
    row = session.execute(stmt.with_for_update() if lock else stmt).mappings().first()
    if row is None:
        raise NotFoundError(f"query {query_id} does not exist; list them with `tkitrack queries list`")
    return dict(row)


def _move(session: Session, query_id: int | str, action: str, text: str | None, *, user: str) -> dict:
    allowed, target = TRANSITIONS[action]
    query = read_query(session, query_id, lock=True)  # read inside the write transaction, row locked
    if query["state"] not in allowed:
        raise InputError(f"query {query['id']} is {query['state']}; only a query that is "
                         f"{' or '.join(allowed)} can be {_PAST[action]}")  # fmt: skip
    now = _now()
    session.execute(update(DataQuery).where(DataQuery.id == query["id"])
                    .values(state=target, updated_by=user, updated_ts=now))  # fmt: skip
    session.execute(insert(QueryEvent).values(query_id=query["id"], ts=now, user=user, action=action,
                                              old_state=query["state"], new_state=target, text=text))  # fmt: skip
    _audit(session, query, action=_PAST[action], old=query["state"], new=target, text=text, user=user)
    return query | {"state": target, "updated_by": user, "updated_ts": now}


def answer_query(session: Session, query_id: int | str, answer: str, *, user: str) -> dict:
    """The site's reply (with or without a change of the value, made separately): open/reopened -> answered."""
    return _move(session, query_id, "answer", _text(answer, f"the answer to query {query_id}"), user=user)


def close_query(session: Session, query_id: int | str, comment: str = "", *, user: str) -> dict:
    """A data manager accepts the answer (or withdraws the query): -> closed."""
    return _move(session, query_id, "close", _text(comment, "closing", required=False), user=user)


def reopen_query(session: Session, query_id: int | str, reason: str, *, user: str) -> dict:
    """A data manager sends a query back (the answer is not enough, or a closed query was wrong): -> reopened."""
    return _move(session, query_id, "reopen", _text(reason, f"reopening query {query_id}"), user=user)


def list_queries(
    session: Session, *, patient_id: str | None = None, site: str | None = None, states: tuple[str, ...] = (),
    by: str | None = None, patients: list[str] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Queries (oldest first), filtered by patient, assigned site, states, and ``by`` (raised or last moved by)."""
    bad = [s for s in states if s not in QUERY_STATES]
    if bad:
        raise InputError(f"unknown query state(s) {', '.join(bad)}; expected {', '.join(QUERY_STATES)}")
    t = DataQuery.__table__
    stmt = select(t).order_by(t.c.id)
    if patient_id is not None:
        stmt = stmt.where(t.c.patient_id == patient_id)
    if patients is not None:
        stmt = stmt.where(t.c.patient_id.in_(patients))
    if site is not None:
        stmt = stmt.where(t.c.site == site)
    if states:
        stmt = stmt.where(t.c.state.in_(states))
    if by is not None:
        stmt = stmt.where((t.c.raised_by == by) | (t.c.updated_by == by))
    rows = session.execute(stmt).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=list(DataQuery.model_fields))


def query_events(session: Session, query_id: int | str) -> pd.DataFrame:
    """The steps of one query, oldest first."""
    query = read_query(session, query_id)
    t = QueryEvent.__table__
    rows = session.execute(select(t).where(t.c.query_id == query["id"]).order_by(t.c.id)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=list(QueryEvent.model_fields))


def open_query_counts(session: Session, patients: list[str]) -> dict[str, int]:
    """For each of ``patients`` that has any, how many of its queries wait (open, answered or reopened)."""
    if not patients:
        return {}
    t = DataQuery.__table__
    stmt = (select(t.c.patient_id, func.count()).where(t.c.patient_id.in_(patients), t.c.state.in_(OPEN_STATES))
            .group_by(t.c.patient_id))  # fmt: skip
    return {pid: int(n) for pid, n in session.execute(stmt).all()}


def open_warning_queries(session: Session, patient_id: str, *, user: str) -> list[int]:
    """Run the checks on one patient's stored records and open a query for each warning not queried before.

    Called in the transaction of a save, after the write: "a warning saves and opens a query". A data point and
    rule that already has a query (in any state, closed too: a data manager who closed it accepted the value) is
    not queried again. Returns the ids of the queries opened.
    """
    from tkitrack.schemas.queries import validate_frames
    from tkitrack.schemas.store import read_frames

    found = validate_frames(read_frames(session, patients=[patient_id]))
    if not len(found):
        return []
    warnings = found[(found["severity"] == "warning") & (found["patient_id"] == patient_id)]
    t = DataQuery.__table__
    stmt = select(t.c.record, t.c.record_id, t.c.field, t.c.rule_id).where(
        t.c.patient_id == patient_id, t.c.rule_id.isnot(None)
    )
    seen = {tuple(r) for r in session.execute(stmt)}
    opened = []
    for w in warnings.itertuples(index=False):
        rid = patient_id if w.record == "patient" else w.record_id
        if rid is None or pd.isna(rid):
            continue
        rid = str(int(rid)) if w.record != "patient" else str(rid)
        field = str(w.field) if w.field in input_columns(w.record) else "*"
        key = (w.record, rid, field, w.rule_id)
        if key in seen:
            continue
        seen.add(key)
        opened.append(raise_query(session, w.record, rid, field, f"{w.rule_id}: {w.message}", user=user,
                                  rule_id=str(w.rule_id)))  # fmt: skip
    return opened
