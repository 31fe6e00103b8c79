"""Figure 2: field and frame rules on 1,000,000 typed exposure rows (1% bad), failure table included.

Project: :func:`tkitrack.schemas.frames.check_frame` (the pandera schema built from the models plus the frame
rules). Baseline: the same rules written by hand as vectorised pandas, producing the same query listing
(checked row for row before timing). Peak memory is measured in a fresh process per side.

``python -m bench.validation --memory project|baseline PICKLE`` is the isolated memory run.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench._harness import Result, paired_times, peak_rss_delta, run_isolated

__all__ = ["baseline_check", "make_exposure_frame", "run"]

TARGET = 1.5
BAD_SHARE = 0.01


def make_exposure_frame(n_rows: int, *, seed: int = 7) -> pd.DataFrame:
    """``n_rows`` typed exposure rows: generated-cohort rows, parsed once and tiled, 1% of them made bad.

    The bad rows are split evenly over five faults: a drug outside the vocabulary, a negative dose (a field
    rule and EX006), an end before the start (EX001), an unknown frequency, a missing unit.
    """
    from tkitrack.sample_data.generate import generate_cohort
    from tkitrack.schemas.parse import parse_records

    raw = generate_cohort(max(50, min(n_rows, 20_000) * 4 // 5), seed=seed)["exposure"]
    typed, problems = parse_records("exposure", raw)
    assert not len(problems), "the generated exposure rows should parse cleanly"
    frame = typed.iloc[np.resize(np.arange(len(typed)), n_rows)].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    bad = rng.choice(n_rows, size=int(n_rows * BAD_SHARE), replace=False)
    kinds = np.array_split(bad, 5)
    frame.loc[kinds[0], "drug"] = "crizotinibb"
    frame.loc[kinds[1], "dose"] = -frame.loc[kinds[1], "dose"] - 1
    end = frame.loc[kinds[2], "end"]
    frame.loc[kinds[2], "end"] = frame.loc[kinds[2], "start"] - pd.Timedelta(days=3)
    frame.loc[kinds[2], "end_dtc"] = frame.loc[kinds[2], "end"].dt.strftime("%Y-%m-%d").where(end.notna(), pd.NA)
    frame.loc[kinds[3], "frequency"] = "QXD"
    frame.loc[kinds[4], "unit"] = pd.NA
    return frame


# ---------------------------------------------------------------- baseline: the same rules, written by hand
_REQUIRED = ("patient_id", "deleted", "drug", "dose", "unit", "frequency")
_VOCAB = ("drug", "unit", "frequency", "route", "reason")


def _rules() -> tuple[dict[str, str], dict[str, list[str]], dict[str, str], dict[str, str]]:
    """Expected dtypes, vocabularies (values and message text) and labels: data, read once, not the checker."""
    from tkitrack.schemas.fields import field_info
    from tkitrack.schemas.frames import column_dtypes
    from tkitrack.schemas.models import Exposure
    from tkitrack.schemas.vocabulary import vocabulary

    dtypes = dict(column_dtypes("exposure"))
    values, expected = {}, {}
    for col in _VOCAB:
        voc = vocabulary(field_info(Exposure, col).vocab)
        values[col] = list(voc.values)
        expected[col] = ", ".join(voc.values[:12]) + (", ..." if len(voc.values) > 12 else "") + f" ({voc.source})"
    labels = {c: field_info(Exposure, c).label for c in Exposure.model_fields}
    return dtypes, values, expected, labels


def _part(frame: pd.DataFrame, mask: np.ndarray, rownum: np.ndarray, field: str, rule_id: str,
          value: pd.Series | None, message: pd.Series | str) -> pd.DataFrame:  # fmt: skip
    idx = np.flatnonzero(mask)
    return pd.DataFrame({
        "patient_id": frame["patient_id"].to_numpy()[idx],
        "record": "exposure",
        "record_id": frame["id"].to_numpy()[idx],
        "row": rownum[idx],
        "field": field,
        "rule_id": rule_id,
        "severity": "error",
        "value": None if value is None else value.to_numpy(),
        "message": message if isinstance(message, str) else message.to_numpy(),
    })  # fmt: skip


def baseline_check(frame: pd.DataFrame, rows: pd.Series | None = None) -> pd.DataFrame:
    """The exposure field and frame rules as plain vectorised pandas; returns the query listing."""
    dtypes, values, expected, labels = _rules()
    rownum = rows.to_numpy() if rows is not None else np.arange(1, len(frame) + 1)
    parts = []
    for col, dtype in dtypes.items():
        if col in frame and str(frame[col].dtype) != pd.api.types.pandas_dtype(dtype).name:
            parts.append(pd.DataFrame([{"patient_id": None, "record": "exposure", "record_id": None, "row": None,
                                        "field": col, "rule_id": "FLD005", "severity": "error",
                                        "value": str(frame[col].dtype),
                                        "message": f"column {col} has the wrong type ({frame[col].dtype}); "
                                                   f"expected {dtype}"}]))  # fmt: skip
    na = {col: frame[col].isna().to_numpy() for col in (*_REQUIRED, *_VOCAB)}  # one NA scan per column
    for col in _REQUIRED:
        if na[col].any():
            parts.append(_part(frame, na[col], rownum, col, "FLD001", None, f"{labels[col]} is required; fill it in"))
    for col in _VOCAB:
        s = frame[col]
        mask = ~s.isin(values[col]).to_numpy() & ~na[col]
        if mask.any():
            v = s[mask].astype(str)
            msg = "'" + v + f"' is not an allowed {col}; expected one of {expected[col]}"
            parts.append(_part(frame, mask, rownum, col, "FLD002", v, msg))
    dose = frame["dose"]
    mask = (dose < 0).to_numpy()
    if mask.any():
        v = dose[mask].astype(str)
        parts.append(_part(frame, mask, rownum, "dose", "FLD003", v,
                           v + f" is out of range for {labels['dose']}; expected at least 0"))  # fmt: skip
    mask = (dose <= 0).to_numpy() & (frame["drug"].to_numpy(object) != "placebo")
    if mask.any():
        v, drug = dose[mask].astype(str), frame["drug"][mask].astype(str)
        parts.append(_part(frame, mask, rownum, "dose", "EX006", v,
                           "dose " + v + " of " + drug + " is not greater than 0; a dose is > 0 (record an "
                           "interruption as a gap between intervals, placebo as drug placebo)"))  # fmt: skip
    mask = (frame["end"] < frame["start"]).to_numpy()
    if mask.any():
        end, start = frame["end"][mask].dt.strftime("%Y-%m-%d"), frame["start"][mask].dt.strftime("%Y-%m-%d")
        parts.append(_part(frame, mask, rownum, "end", "EX001", end,
                           "end " + end + " is before start " + start + "; expected end >= start: correct either "
                           "date, or leave end empty while ongoing"))  # fmt: skip
    if not parts:
        return pd.DataFrame(columns=["patient_id", "record", "record_id", "row", "field", "rule_id", "severity",
                                     "value", "message"])  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _normalised(listing: pd.DataFrame) -> pd.DataFrame:
    cols = ["row", "rule_id", "field", "patient_id", "record", "record_id", "severity", "value", "message"]
    out = listing[cols].astype("string").fillna("").astype(object)
    out["row"] = pd.to_numeric(out["row"], errors="coerce")
    return out.sort_values(cols, kind="stable").reset_index(drop=True)


def _project(frame: pd.DataFrame) -> pd.DataFrame:
    from tkitrack.schemas.frames import check_frame

    return check_frame("exposure", frame)


def _memory_child(side: str, path: str) -> None:
    frame = pd.read_pickle(path)
    func = _project if side == "project" else baseline_check
    func(frame.head(1000))  # import and cache everything before measuring
    listing, peak = peak_rss_delta(lambda: func(frame))
    print(json.dumps({"peak": peak, "failures": len(listing)}))


def run(n_rows: int = 1_000_000, repeats: int = 5) -> list[Result]:
    from tkitrack.schemas.frames import check_frame

    frame = make_exposure_frame(n_rows)
    check_frame("exposure", frame.head(1000))  # build and cache the schema, import pandera
    project, baseline = _project(frame), baseline_check(frame)
    a, b = _normalised(project), _normalised(baseline)
    if not a.equals(b):
        diff = pd.concat([a, b]).drop_duplicates(keep=False)
        raise AssertionError(f"baseline and project listings differ ({len(a)} vs {len(b)} rows):\n{diff.head(10)}")
    p, q = paired_times(lambda: _project(frame), lambda: baseline_check(frame), repeats)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "exposure.pkl")
        frame.to_pickle(path)
        mem = {side: json.loads(run_isolated("bench.validation", "--memory", side, path))["peak"]
               for side in ("project", "baseline")}  # fmt: skip
    notes = {
        "failures": len(project),
        "peak memory project": f"{mem['project'] / 2**20:.0f} MiB",
        "peak memory baseline": f"{mem['baseline'] / 2**20:.0f} MiB",
        "frame": f"{frame.memory_usage(deep=True).sum() / 2**20:.0f} MiB",
    }
    return [Result("2 validation", f"check_frame, {n_rows:,} exposure rows, 1% bad", p, q, TARGET, repeats, notes)]


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--memory":
    _memory_child(sys.argv[2], sys.argv[3])
