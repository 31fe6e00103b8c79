"""Layout arithmetic for lane figures (swimmer, spider, timeline): polylines, lane positions, marker dodging.

Pure array functions (``compute_*``): they place things, they draw nothing.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from tkitrack.schemas.errors import InputError

__all__ = ["SortKey", "compute_lane_positions", "compute_line_arrays", "compute_marker_offsets", "compute_record_keys"]

SortKey = Literal["duration", "start", "id"]


def compute_line_arrays(
    x0: np.ndarray,
    x1: np.ndarray,
    y0: np.ndarray,
    y1: np.ndarray,
    text: np.ndarray | None = None,
    *,
    midpoint: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Interleave segment ends into one NaN-separated polyline: ``x0, (mid), x1, NaN, x0, ...``.

    Parameters
    ----------
    x0, x1, y0, y1 : numpy.ndarray
        Segment starts and ends, one element per segment.
    text : numpy.ndarray, optional
        Hover text per segment, repeated on each drawn point (empty at the separators).
    midpoint : bool
        Add a point halfway along each segment so that hovering in the middle of a long segment finds it.

    Returns
    -------
    tuple of numpy.ndarray
        ``x``, ``y`` (float, NaN separated) and the repeated text (object) or None.

    Examples
    --------
    >>> x, y, _ = compute_line_arrays(np.array([0, 5]), np.array([2, 9]), np.zeros(2), np.zeros(2), midpoint=False)
    >>> x.tolist()
    [0.0, 2.0, nan, 5.0, 9.0, nan]
    """
    x0 = np.asarray(x0, dtype="float64")
    x1 = np.asarray(x1, dtype="float64")
    y0 = np.asarray(y0, dtype="float64")
    y1 = np.asarray(y1, dtype="float64")
    nan = np.full(x0.shape, np.nan)
    if midpoint:
        xs, ys = [x0, (x0 + x1) / 2.0, x1, nan], [y0, (y0 + y1) / 2.0, y1, nan]
    else:
        xs, ys = [x0, x1, nan], [y0, y1, nan]
    x = np.column_stack(xs).ravel()
    y = np.column_stack(ys).ravel()
    if text is None:
        return x, y, None
    text = np.asarray(text, dtype=object)
    blank = np.full(text.shape, "", dtype=object)
    t = np.column_stack([text] * (len(xs) - 1) + [blank]).ravel()
    return x, y, t


def compute_lane_positions(
    lanes: pd.DataFrame,
    segments: pd.DataFrame,
    *,
    sort: SortKey = "duration",
    group_by: str | None = None,
    header_rows: int = 1,
) -> tuple[pd.Series, list[tuple[float, str, int]]]:
    """Vertical position of each patient's lane, and the group headers (position, group value, size).

    Lanes are sorted within each group (groups in sorted order, missing values last); every group is preceded
    by ``header_rows`` empty rows, the header sitting in their middle. ``sort="duration"`` puts the longest lane first, ``"start"`` the
    earliest first dose first (lanes without treatment last), ``"id"`` sorts by patient id.
    """
    if sort not in ("duration", "start", "id"):
        raise InputError(f"sort={sort!r} is not known; use 'duration', 'start' or 'id'.")
    frame = lanes[["patient_id"]].copy()
    frame["_duration"] = lanes["lane_end_day"] - lanes["lane_start_day"]
    first_dose = segments.loc[segments["on_treatment"]].groupby("patient_id")["start_day"].min()
    frame["_start"] = lanes["patient_id"].map(first_dose).astype("float64").fillna(np.inf)
    keys = {
        "duration": (["_duration", "patient_id"], [False, True]),
        "start": (["_start", "patient_id"], [True, True]),
        "id": (["patient_id"], [True]),
    }[sort]
    if group_by is None:
        order = frame.sort_values(keys[0], ascending=keys[1], kind="stable")
        return pd.Series(np.arange(len(order), dtype="float64"), index=order["patient_id"].to_numpy()), []
    if group_by not in lanes.columns:
        raise InputError(
            f"group_by={group_by!r} is not a lane column; lanes have {', '.join(map(str, lanes.columns))}."
        )
    frame["_group"] = lanes[group_by].astype("string").fillna("(missing)")
    frame["_missing"] = lanes[group_by].isna()
    order = frame.sort_values(["_missing", "_group", *keys[0]], ascending=[True, True, *keys[1]], kind="stable")
    group_index = pd.factorize(order["_group"])[0] + 1  # groups are contiguous after sorting; 1 for the first
    position = np.arange(len(order)) + group_index * header_rows
    starts = order.assign(_pos=position).groupby("_group", sort=False).agg(pos=("_pos", "min"), n=("_pos", "size"))
    centre = (header_rows + 1) / 2.0
    headers = [
        (float(p - centre), str(g), int(n)) for g, p, n in zip(starts.index, starts["pos"], starts["n"], strict=True)
    ]
    return pd.Series(position.astype("float64"), index=order["patient_id"].to_numpy()), headers


def compute_marker_offsets(
    patient: np.ndarray,
    day: np.ndarray,
    order: np.ndarray | None = None,
    *,
    tolerance: float = 0.0,
    step: float = 0.28,
    max_spread: float = 0.8,
) -> np.ndarray:
    """Vertical offsets (lane units) that spread one patient's markers lying within ``tolerance`` days of each
    other around the lane's centre line, so that none hides another.

    Markers of a patient, sorted by day (then ``order``), form a cluster while each is within ``tolerance`` of
    the previous one; the i-th of k markers in a cluster moves by ``(i - (k - 1) / 2) * s`` with
    ``s = min(step, max_spread / (k - 1))``. A marker alone stays on the line. Linear in the number of markers.

    >>> compute_marker_offsets(np.array(["P1", "P1", "P1", "P2"]), np.array([5, 5, 40, 5])).tolist()
    [-0.14, 0.14, 0.0, 0.0]
    """
    patient = np.asarray(patient, dtype=object)
    day = np.asarray(day, dtype="float64")
    if day.size == 0:
        return np.zeros(0)
    tie = np.zeros(day.size) if order is None else np.asarray(order, dtype="float64")
    codes = pd.factorize(patient)[0]
    sort = np.lexsort((tie, day, codes))
    p, d = codes[sort], day[sort]
    new = np.r_[True, (p[1:] != p[:-1]) | (np.diff(d) > tolerance)]
    cluster = np.cumsum(new) - 1
    size = np.bincount(cluster)[cluster]
    rank = np.arange(d.size) - np.flatnonzero(new)[cluster]
    spacing = np.where(size > 1, np.minimum(step, max_spread / np.maximum(size - 1, 1)), 0.0)
    offsets = np.empty(d.size)
    offsets[sort] = np.round((rank - (size - 1) / 2.0) * spacing, 10)
    return offsets


def compute_record_keys(
    patient_id: pd.Series, record: pd.Series | np.ndarray | str, record_id: pd.Series
) -> np.ndarray:
    """Each point's ``customdata``: ``"patient<TAB>record<TAB>record id"``, the record the point comes from.

    A browser reads it back (split at the tabs) to open the patient and the record; ``record`` and the id are
    empty where a point comes from no single record (an off-treatment stretch, an ongoing arrow).

    >>> compute_record_keys(pd.Series(["P1"]), "ae", pd.Series(["7"])).tolist()
    ['P1\tae\t7']
    """
    rec = record if isinstance(record, str) else pd.Series(record, index=patient_id.index).astype("string").fillna("")
    rid = pd.Series(record_id, index=patient_id.index).astype("string").fillna("")
    return (patient_id.astype(str) + "\t" + rec + "\t" + rid).to_numpy(dtype=object)
