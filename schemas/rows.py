"""One patient's records as plain dicts, read with SQLAlchemy Core alone (no models, no ORM, no pandas).

The single-record commands (`tkitrack timeline P`) answer within a few times a bare command's start-up; importing
the table models (sqlmodel, pydantic) or pandas would cost several times that. The statements are text naming the
tables and two columns every record table has (``patient_id``, ``deleted``); the values come back as the driver
gives them (SQLite: dates as ISO text), and :mod:`tkitrack.outcomes.timeline` reads either.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, bindparam, text

__all__ = ["read_patient_records"]

#: Record tables that have an ``id`` column (every one but ``patient``, keyed by ``patient_id``).
_KEYED_BY_ID = ("molecular", "ihc", "exposure", "ae", "assessment", "procedure", "disease_event", "followup")


def read_patient_records(engine: Engine, patient_id: str, records: Iterable[str]) -> dict[str, list[dict]]:
    """The patient's live (not deleted) records of each type, in stored order (by id), as dicts of column values."""
    out: dict[str, list[dict]] = {}
    with engine.connect() as conn:
        for record in records:
            if record != "patient" and record not in _KEYED_BY_ID:
                raise ValueError(f"unknown record type {record!r}")
            order = "patient_id" if record == "patient" else "id"
            stmt = text(f"SELECT * FROM {record} WHERE patient_id = :pid AND NOT deleted ORDER BY {order}")
            result = conn.execute(stmt.bindparams(bindparam("pid", patient_id)))
            out[record] = [dict(row) for row in result.mappings()]
    return out
