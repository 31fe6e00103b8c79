"""Validation runs and their query listings: check typed frames, compare with an earlier listing."""

from __future__ import annotations

import pandas as pd

from tkitrack.schemas.checks import check_records
from tkitrack.schemas.frames import LISTING_COLUMNS, check_frame, concat_frames, listing
from tkitrack.schemas.models import RECORD_MODELS

__all__ = ["QUERY_KEY", "compare_listings", "validate_frames"]

#: What identifies one query across runs: the data point and the rule.
QUERY_KEY = ["patient_id", "record", "record_id", "row", "field", "rule_id"]


def validate_frames(typed: dict[str, pd.DataFrame], *, parse_problems: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every field, frame and edit check over typed record frames: the full query listing, sorted.

    ``parse_problems`` (cells that did not parse, from :func:`tkitrack.schemas.parse.parse_records`) are
    included. Frames may carry ``_row`` (the row in their file) so that queries point at it.
    """
    parts = [parse_problems if parse_problems is not None else listing()]
    for record in RECORD_MODELS:
        frame = typed.get(record)
        if frame is not None and len(frame):
            rows = frame["_row"] if "_row" in frame else None
            parts.append(check_frame(record, frame, rows=rows))
    parts.append(check_records(typed))
    found = concat_frames([p.astype("object") for p in parts])[LISTING_COLUMNS]
    if not len(found):
        return listing()
    order = {"error": 0, "warning": 1}
    found = found.assign(_sev=found["severity"].map(order)).sort_values(
        ["_sev", "patient_id", "record", "rule_id", "row"], kind="stable", na_position="last"
    )
    return found.drop(columns="_sev").drop_duplicates().reset_index(drop=True)


def _key(frame: pd.DataFrame) -> pd.Series:
    parts = [frame[c].astype("string").fillna("") for c in QUERY_KEY]
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out


def compare_listings(current: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """Mark each query ``new``, ``open`` (also in the previous listing) or ``resolved`` (only in the previous).

    Queries are matched on patient, record, record id, row, field and rule id. Resolved queries are appended
    with their previous value and message.
    """
    missing = [c for c in QUERY_KEY if c not in previous.columns]
    if missing:
        from tkitrack.schemas.errors import InputError

        raise InputError(f"the previous listing lacks column(s) {', '.join(missing)}; give a listing written by "
                         "`tkitrack validate --format csv|json`")  # fmt: skip
    cur_key, prev_key = _key(current), _key(previous)
    now = current.assign(status=cur_key.isin(set(prev_key)).map({True: "open", False: "new"}))
    gone = previous[~prev_key.isin(set(cur_key))].assign(status="resolved")
    cols = [*LISTING_COLUMNS, "status"]
    return concat_frames([now[cols].astype("object"), gone.reindex(columns=cols).astype("object")])
