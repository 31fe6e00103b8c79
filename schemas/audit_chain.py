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
from itertools import chain, repeat

__all__ = [
    "ENTRY_FIELDS",
    "GENESIS",
    "chain_columns",
    "chain_entry_columns",
    "current_user",
    "entry_hash",
    "json_cells",
    "json_objects",
]

#: The ``prev_hash`` of the first entry.
GENESIS = "0" * 64
_HASHED = ("seq", "ts", "user", "action", "table_name", "record_id", "patient_id", "field", "old_value",
           "new_value", "reason", "prev_hash")  # fmt: skip
#: What a caller gives for each entry (the rest of ``_HASHED`` and the hash are filled in here).
ENTRY_FIELDS = ("action", "table_name", "record_id", "patient_id", "field", "old_value", "new_value", "reason")
#: ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` with its encoder built once, not per entry.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
#: Between the items of a column encoded in one call (see :func:`json_cells`): a control character, which both
#: encoders escape (``\u001f``) inside a string, so that a raw one only ever separates two items.
_SEP = "\x1f"
#: Rows encoded at a time by :func:`json_objects` and :func:`chain_entry_columns`: an encoded cell per field and
#: row exists for one chunk only (for every row at once they took more memory than the import's frames).
_CHUNK_ROWS = 10_000
#: After each row's text in :func:`json_objects`: a control character, escaped inside any encoded string.
_ROW_END = "\x1e"
_CELL = {
    True: json.JSONEncoder(ensure_ascii=True, separators=(_SEP, ": ")).encode,  # json.dumps' defaults
    False: json.JSONEncoder(ensure_ascii=False, separators=(_SEP, ":")).encode,  # the chain's (_ENCODE)
}


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


def json_cells(values: list, *, ensure_ascii: bool = False) -> list[str]:
    """Each value as JSON text, exactly as ``json.dumps`` writes it as a list item (``ensure_ascii=False``: as
    :data:`_ENCODE` and the chain write it; True: as ``json.dumps``' defaults), the whole column in one call of
    the C encoder instead of one call per value.

    The values are encoded as one list with a control character between the items and split there; a string
    never holds that character raw (it is escaped). Only a value that is itself a list or dict of several items
    would add separators: then the count is off and each value is encoded on its own, as before.
    """
    if not values:
        return []
    cells = _CELL[ensure_ascii](values)[1:-1].split(_SEP)
    if len(cells) != len(values):
        encode = json.dumps if ensure_ascii else _ENCODE
        cells = [encode(v) for v in values]
    return cells


def json_objects(keys: list[str], columns: list[list]) -> list[str]:
    """``json.dumps(dict(zip(keys, row)))`` for every row of the given columns (plain values), built column-wise:
    each column JSON-encoded in one call (:func:`json_cells`), then the rows' texts joined in one call and split.

    A column holding one value in every row of a chunk (null, or the same text, flag or whole number: the
    optional columns nobody filled, a site's constant) is written into the text between the cells once per
    chunk instead of encoded per row. The rows are joined with a control character after each (an encoded
    value holds none raw: it is escaped) and split there, so no format string runs per row.
    """
    n = len(columns[0]) if columns else 0
    if not keys:
        return ["{}"] * n
    names = [json.dumps(k) + ": " for k in keys]
    out: list[str] = []
    for start in range(0, n, _CHUNK_ROWS):  # the encoded cells of a chunk of rows at a time (bounded memory)
        m = min(_CHUNK_ROWS, n - start)
        pieces: list = []  # per row in turn: the fixed text before a varying cell, the cell
        fixed = "{"
        for i, (name, column) in enumerate(zip(names, columns, strict=True)):
            part = column[start : start + _CHUNK_ROWS]
            lead = (", " if i else "") + name
            constant = _constant(part)
            if constant is not None:
                fixed += lead + constant
            else:
                pieces += [repeat(fixed + lead), json_cells(part, ensure_ascii=True)]
                fixed = ""
        if not pieces:
            out += [fixed + "}"] * m
            continue
        pieces.append(repeat(fixed + "}" + _ROW_END))
        rows = "".join(chain.from_iterable(zip(*pieces, strict=False))).split(_ROW_END)  # repeat() is endless
        rows.pop()  # after the last row's end
        if len(rows) != m:  # not expected (every encoder escapes the end character): then row by row
            rows = [
                json.dumps(dict(zip(keys, row, strict=True)))
                for row in zip(*(c[start : start + m] for c in columns), strict=True)
            ]
        out += rows
    return out


#: Types whose equal values are one value written one way (not float: 0.0 == -0.0; not a subclass).
_EXACT = (type(None), str, bool, int)


def _constant(values: list) -> str | None:
    """The JSON text (``json.dumps``') of the value every item of ``values`` is, or None when they differ.

    ``list.count`` compares in C; equal values of one exact type (None, str, bool, int) are encoded alike, while
    ``1 == 1.0 == True`` across types, so the types are compared too."""
    first = values[0]
    if type(first) not in _EXACT or values.count(first) != len(values):
        return None
    # only None equals None, and only text equals text (written as that text): the types need no second pass
    if first is not None and type(first) is not str and set(map(type, values)) != {type(first)}:
        return None
    return json.dumps(first)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def chain_columns(entries: list[dict], *, seq: int, prev: str, user: str) -> tuple[dict[str, list], int, str]:
    """The audit_log columns of ``entries`` chained after entry ``seq`` of hash ``prev``: (columns, new head seq,
    new head hash). Each entry gives action, table_name, record_id, patient_id, field, old_value, new_value, reason.
    """
    return chain_entry_columns({k: [e.get(k) for e in entries] for k in ENTRY_FIELDS}, seq=seq, prev=prev, user=user)


def chain_entry_columns(
    entries: dict[str, list], *, seq: int, prev: str, user: str
) -> tuple[dict[str, list], int, str]:
    """:func:`chain_columns` of entries given column-wise (``{field: values}`` for each of :data:`ENTRY_FIELDS`).

    Each entry's hash is :func:`entry_hash`'s: SHA-256 of the JSON list of its fields and the previous hash. The
    fields are JSON-encoded column by column (:func:`json_cells`), so the loop that must be sequential (each hash
    covers the previous one) only appends the previous hash to each entry's encoded fields and hashes that.
    """
    ts = _now()
    n = len(entries["action"])
    columns: dict[str, list] = {k: list(entries[k]) if k in entries else [None] * n for k in ENTRY_FIELDS}
    for k in ("record_id", "old_value", "new_value"):
        columns[k] = [None if v is None else str(v) for v in columns[k]]
    columns.update(seq=list(range(seq + 1, seq + n + 1)), ts=[ts] * n, user=[user] * n)
    prevs, hashes = [], []
    sha256 = hashlib.sha256
    # the previous hash as JSON text: a hex digest as it is; a head of any other text (altered) escaped
    last = _ENCODE(prev)
    for start in range(0, n, _CHUNK_ROWS):  # the encoded fields of a chunk of entries at a time (bounded memory)
        cells = [json_cells(columns[k][start : start + _CHUNK_ROWS]) for k in _HASHED[:-1]]
        for values in zip(*cells, strict=True):
            prevs.append(prev)
            prev = sha256(("[" + ",".join(values) + "," + last + "]").encode("utf-8")).hexdigest()
            last = '"' + prev + '"'
            hashes.append(prev)
    columns["prev_hash"], columns["hash"] = prevs, hashes
    return {k: columns[k] for k in (*_HASHED, "hash")}, seq + n, prev
