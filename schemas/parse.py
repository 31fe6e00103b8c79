"""Turn typed-in text (a template row, a CSV cell, a command-line option) into a typed record frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import read_partial_dates
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import column_dtypes, concat_frames, input_columns, listing
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.vocabulary import ctcae

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "parse_records"]

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


def _blank_to_na(col: pd.Series) -> pd.Series:
    text = col.astype("string").str.strip()
    return text.mask(text == "")


def _na_text(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="string")


def _problem(raw, record, mask, field, rule_id, value, message, rows):
    sub = raw.loc[mask]
    return listing(
        pd.DataFrame(
            {
                "patient_id": sub.get("patient_id"),
                "record": record,
                "record_id": sub["id"] if "id" in sub and record != "patient" else None,
                "row": rows.loc[sub.index],
                "field": field,
                "rule_id": rule_id,
                "severity": "error",
                "value": value.loc[mask].astype("string"),
                "message": message if isinstance(message, str) else message.loc[mask],
            }
        )
    )


def parse_records(
    record: str, raw: pd.DataFrame, *, source: str = "input", rows: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse a frame of text cells into a typed record frame and a listing of the cells that would not parse.

    Columns are the template columns (:func:`tkitrack.schemas.frames.input_columns`); a date column ``X``
    holds partial ISO 8601 text and becomes ``X_dtc`` (as given), ``X`` (imputed) and ``X_dtf`` (flag).
    Missing optional columns are filled with nulls. Unknown or missing required columns raise InputError naming
    ``source`` and the columns, since no row of such a file can be read.
    """
    if record not in RECORD_MODELS:
        raise InputError(f"{source}: unknown record type {record!r}; expected one of {', '.join(RECORD_MODELS)}")
    model = RECORD_MODELS[record]
    allowed = input_columns(record)
    extra_ok = {"id"}
    unknown = [c for c in raw.columns if c not in allowed and c not in extra_ok]
    if unknown:
        raise InputError(
            f"{source}: unknown column(s) {', '.join(map(str, unknown))} for record type {record}; "
            f"expected columns: {', '.join(allowed)} (run `tkitrack template DIR` for the template)"
        )
    required = [c for c in allowed if field_info(model, c).required]
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise InputError(f"{source}: required column(s) {', '.join(missing)} missing for record type {record}")
    rows = rows if rows is not None else pd.Series(np.arange(1, len(raw) + 1), index=raw.index)
    dtypes = column_dtypes(record)
    problems: list[pd.DataFrame] = []
    out = {}
    for name in model.model_fields:
        info = field_info(model, name)
        if info.imputed or name.endswith("_dtf"):
            continue  # filled together with its _dtc column below
        source_col = name[:-4] if name.endswith("_dtc") else name
        if source_col not in raw.columns and not name.endswith("_dtc"):
            default = model.model_fields[name].default
            if default in (None, ...) or (info.derived and dtypes[name] != "boolean"):
                out[name] = pd.Series(index=raw.index, dtype=dtypes[name])
            else:
                out[name] = pd.Series(default, index=raw.index, dtype=dtypes[name])
            continue
        text = _blank_to_na(raw[source_col]) if source_col in raw.columns else _na_text(raw.index)
        if name.endswith("_dtc"):
            base = name[:-4]
            good, imputed, flag = read_partial_dates(text, field_info(model, base).imputed or "first")
            ok = good.notna() | text.isna()
            if (~ok).any():
                problems.append(
                    _problem(
                        raw,
                        record,
                        ~ok,
                        base,
                        "DT001",
                        text,
                        "'" + text.astype(str) + "' is not an ISO 8601 date; expected YYYY, YYYY-MM or "
                        "YYYY-MM-DD (for example 2019-06-14)",
                        rows,
                    )
                )
            out[name] = good
            out[base] = imputed
            out[f"{base}_dtf"] = flag
            continue
        dtype = dtypes[name]
        if dtype in ("Int64", "float64"):
            num = pd.to_numeric(text, errors="coerce")
            bad = text.notna() & num.isna()
            if dtype == "Int64":
                frac = num.notna() & (num % 1 != 0)
                bad = bad | frac
                num = num.where(~frac)
            if bad.any():
                problems.append(
                    _problem(
                        raw,
                        record,
                        bad,
                        name,
                        "FLD006",
                        text,
                        f"not a {'whole ' if dtype == 'Int64' else ''}number; type digits only "
                        "(units belong in their own column)",
                        rows,
                    )
                )
            out[name] = num.where(~bad).astype(dtype)
        elif dtype == "boolean":
            low = text.str.lower()
            val = pd.Series(pd.NA, index=raw.index, dtype="boolean")
            val[low.isin(TRUE_WORDS).fillna(False).astype(bool)] = True
            val[low.isin(FALSE_WORDS).fillna(False).astype(bool)] = False
            bad = text.notna() & val.isna()
            if bad.any():
                problems.append(_problem(raw, record, bad, name, "FLD007", text, "expected true or false", rows))
            if model.model_fields[name].default is False:  # a flag that defaults to false: empty means false
                val = val.fillna(False)
            out[name] = val
        else:
            out[name] = text.astype("string")
    frame = pd.DataFrame(out, index=raw.index)[list(model.model_fields)].astype(dtypes)
    if record == "ae":
        codes = ctcae().set_index("term")["meddra_code"]
        frame["term_code"] = frame["term"].map(codes).astype("string")
    if record == "exposure":
        frame["drug"] = frame["drug"].str.lower()
    found = concat_frames(problems) if problems else listing()
    return frame, found
