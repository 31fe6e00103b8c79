"""Turn typed-in text (a template row, a CSV cell, a command-line option) into a typed record frame."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import date_problems, read_partial_dates, stripped_cells
from tkitrack.schemas.errors import CONTROL_CHARACTERS, InputError, shorten
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import column_dtypes, concat_frames, input_columns, listing, shown_values
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.vocabulary import ctcae

__all__ = ["CONTROL_CHARACTERS", "FALSE_WORDS", "TRUE_WORDS", "parse_records"]

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
#: A number as digits (sign, decimals and exponent allowed): what a cell that would not parse "looks like".
_NUMERIC = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
#: Whole numbers beyond this are refused before pandas' integer columns see them.
_LARGEST_INT = 2**31 - 1


_CONTROL = re.compile(CONTROL_CHARACTERS)


def _control_cells(text: pd.Series, plain: list[str]) -> pd.Series | None:
    """Cells holding a control character; None when none does, found by one search over the column's cells
    (``plain``: ``text`` as str, ``""`` where missing) joined by a newline (not a control character) instead of
    one search per cell."""
    if not _CONTROL.search("\n".join(plain)):
        return None
    return text.str.contains(CONTROL_CHARACTERS, regex=True).fillna(False).astype(bool)


def _na_text(index: pd.Index) -> pd.Series:
    return pd.Series(pd.NA, index=index, dtype="string")


def _problem(raw, record, mask, field, rule_id, value, message, rows):
    sub = raw.loc[mask]
    return listing(
        pd.DataFrame(
            {
                "patient_id": shown_values(sub["patient_id"]) if "patient_id" in sub else None,
                "record": record,
                "record_id": sub["id"] if "id" in sub and record != "patient" else None,
                "row": rows.loc[sub.index],
                "field": field,
                "rule_id": rule_id,
                "severity": "error",
                "value": shown_values(value.loc[mask]),
                "message": message if isinstance(message, str) else message.loc[mask],
            }
        )
    )


def _check_columns(record: str, raw: pd.DataFrame, source: str) -> None:
    model = RECORD_MODELS[record]
    allowed = input_columns(record)
    unknown = [c for c in raw.columns if c not in allowed and c != "id"]
    if unknown:
        raise InputError(
            f"{source}: unknown column(s) {', '.join(shorten(str(c)) for c in unknown[:20])} for record type "
            f"{record}; expected columns: {', '.join(allowed)} (run `tkitrack template DIR` for the template)"
        )
    missing = [c for c in allowed if field_info(model, c).required and c not in raw.columns]
    if missing:
        raise InputError(f"{source}: required column(s) {', '.join(missing)} missing for record type {record}")


def _numbers(text: pd.Series, dtype: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(numbers, cells that are not numbers, cells that are numbers but not finite or too large)."""
    num = _to_numbers(text)
    # whether a cell looks like digits matters only where to_numeric refused it (an overflowing 1e999 or such)
    refused = (text.notna() & num.isna()).to_numpy(dtype=bool)
    looks = pd.Series(False, index=text.index)
    if refused.any():
        looks[refused] = text[refused].str.fullmatch(_NUMERIC).fillna(False).astype(bool).to_numpy()
    infinite = text.notna() & (num.isin([np.inf, -np.inf]) | (num.isna() & looks))
    if dtype == "Int64":
        infinite |= num.abs().gt(_LARGEST_INT).fillna(False)
    bad = text.notna() & num.isna() & ~infinite
    if dtype == "Int64":
        bad |= (num.notna() & (num % 1 != 0) & ~infinite).fillna(False)
    return num.where(~bad & ~infinite), bad, infinite


def _to_numbers(text: pd.Series) -> pd.Series:
    """``pd.to_numeric(text, errors="coerce")`` of a column of text, each distinct text read once and spread back
    by the codes (measurements repeat). The distinct values are the column's set of values, its missing value
    included when it has one, so that to_numeric picks the same type (integer or float, nullable for text) as for
    the whole column."""
    codes, distinct = pd.factorize(text.array, use_na_sentinel=True)
    values = np.asarray(distinct, dtype=object)
    if (codes < 0).any():  # a missing cell's code is -1: the missing value appended last
        values = np.append(values, text.dtype.na_value if isinstance(text.dtype, pd.StringDtype) else None)
    read = pd.to_numeric(pd.Series(pd.array(values, dtype=text.dtype)), errors="coerce")
    return pd.Series(read.array.take(codes), index=text.index, name=text.name)


def _partial_dates(text: pd.Series, rule: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """:func:`read_partial_dates` of a column of :func:`stripped_cells` text, read once per distinct value and
    spread back by the codes: a cell's result depends on that cell alone, and dates repeat (a registry's million
    dates hold a few thousand distinct days), so the pattern matches and date parses run per distinct date."""
    codes, distinct = pd.factorize(text.array, use_na_sentinel=True)
    # a missing cell's code is -1: the missing value appended last, read like any other cell
    cells = pd.array(np.append(np.asarray(distinct, dtype=object), pd.NA), dtype=text.dtype)
    good, imputed, flag = read_partial_dates(pd.Series(cells), rule, stripped=True)
    return (pd.Series(good.array.take(codes), index=text.index, name=text.name),
            pd.Series(imputed.array.take(codes), index=text.index),
            pd.Series(flag.array.take(codes), index=text.index))  # fmt: skip


def _booleans(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(the cells as pandas ``boolean``: a true or false word in any case, else missing; the cells that are text
    but neither), each distinct text lowered and looked up once (a flag column holds a handful)."""
    codes, distinct = pd.factorize(text.array, use_na_sentinel=True)
    lowered = [str(v).lower() for v in distinct]
    # a missing cell's code is -1: the False appended last
    true = np.array([w in TRUE_WORDS for w in lowered] + [False], dtype=bool)[codes]
    false = np.array([w in FALSE_WORDS for w in lowered] + [False], dtype=bool)[codes]
    known = true | false
    val = pd.Series(pd.arrays.BooleanArray(true, ~known), index=text.index)
    return val, pd.Series((codes >= 0) & ~known, index=text.index)


def parse_records(
    record: str, raw: pd.DataFrame, *, source: str = "input", rows: pd.Series | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse a frame of text cells into a typed record frame and a listing of the cells that would not parse.

    Columns are the template columns (:func:`tkitrack.schemas.frames.input_columns`); a date column ``X``
    holds partial ISO 8601 text and becomes ``X_dtc`` (as given, a valid time included), ``X`` (imputed) and
    ``X_dtf`` (flag). Missing optional columns are filled with nulls. Unknown or missing required columns raise
    InputError naming ``source`` and the columns, since no row of such a file can be read.

    Every cell is checked whole before anything can be written (docs/input-rules.md): control characters
    (FLD010), text longer than its field's declared maximum (FLD008; the frame keeps the first characters
    only), numbers that are not numbers (FLD006) or not finite (FLD011), booleans (FLD007), dates (DT001).
    """
    if record not in RECORD_MODELS:
        raise InputError(
            f"{source}: unknown record type {shorten(record)!r}; expected one of {', '.join(RECORD_MODELS)}"
        )
    model = RECORD_MODELS[record]
    _check_columns(record, raw, source)
    rows = rows if rows is not None else pd.Series(np.arange(1, len(raw) + 1), index=raw.index)
    dtypes = column_dtypes(record)
    problems: list[pd.DataFrame] = []
    cells = {}
    for column in raw.columns:
        text, plain = stripped_cells(raw[column])
        control = _control_cells(text, plain)
        if control is not None and control.any():
            problems.append(_problem(raw, record, control, column, "FLD010", text,
                                     "holds a control character (shown as \\xNN, e.g. a NUL byte \\x00); remove it: "
                                     "a cell holds printable text only", rows))  # fmt: skip
            text = text.mask(control)
        cells[column] = text
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
        text = cells[source_col] if source_col in cells else _na_text(raw.index)
        if name.endswith("_dtc"):
            base = name[:-4]
            rule = field_info(model, base).imputed or "first"
            good, imputed, flag = _partial_dates(text, rule)
            ok = good.notna() | text.isna()
            if (~ok).any():
                why = date_problems(text.where(~ok))
                problems.append(_problem(raw, record, ~ok, base, "DT001", text, why, rows))
            out[name] = good
            out[base] = imputed
            out[f"{base}_dtf"] = flag
            continue
        dtype = dtypes[name]
        if dtype in ("Int64", "float64"):
            num, bad, infinite = _numbers(text, dtype)
            if bad.any():
                problems.append(_problem(raw, record, bad, name, "FLD006", text,
                                         f"not a {'whole ' if dtype == 'Int64' else ''}number; type digits only "
                                         "(units belong in their own column)", rows))  # fmt: skip
            if infinite.any():
                problems.append(_problem(raw, record, infinite, name, "FLD011", text,
                                         "not a finite number in range (infinity, NaN and overflowing values such as "
                                         "1e308 are refused); type the measured value", rows))  # fmt: skip
            out[name] = num.astype(dtype)
        elif dtype == "boolean":
            val, bad = _booleans(text)
            if bad.any():
                problems.append(_problem(raw, record, bad, name, "FLD007", text, "expected true or false", rows))
            if model.model_fields[name].default is False:  # a flag that defaults to false: empty means false
                val = val.fillna(False)
            out[name] = val
        else:
            limit = None if info.vocab else info.max_length  # a value outside a vocabulary is FLD002's
            long = text.str.len().gt(limit).fillna(False).astype(bool) if limit else None
            if long is not None and long.any():
                length = text.str.len().astype("Int64").astype("string")
                problems.append(_problem(raw, record, long, name, "FLD008", text,
                                         f"{info.label}: " + length.str.replace(r"\B(?=(\d{3})+(?!\d))", ",", regex=True)
                                         + f" characters; at most {limit} are allowed: shorten it", rows))  # fmt: skip
                text = text.where(~long, text.str.slice(0, limit))
            out[name] = text.astype("string")
    # the columns in field order without copying them (each is a new array made above, shared with nothing else)
    frame = pd.DataFrame({name: out[name] for name in model.model_fields}, index=raw.index, copy=False)
    frame = frame.astype(dtypes, copy=False)
    if record == "ae":
        codes = ctcae().set_index("term")["meddra_code"]
        frame["term_code"] = frame["term"].map(codes).astype("string")
    if record == "exposure":
        frame["drug"] = frame["drug"].str.lower()
    found = concat_frames(problems) if problems else listing()
    return frame, found
