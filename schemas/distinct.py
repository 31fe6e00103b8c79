"""Text columns as codes into their distinct values, so that a per-value transform runs once per distinct value.

Record and SDTM columns repeat the same ids, codes and dates on many rows (100,000 patients: some 2 million
dates, a few thousand distinct ones), so a string transform of every cell is mostly repeated work. A transform
whose result for a cell depends on that cell alone (strip, a date parsed with a fixed format) gives the same
result computed on the distinct values and spread back by the codes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["in_key_order", "per_distinct_rows", "per_distinct_text", "spread", "text_codes"]


def spread(distinct, codes: np.ndarray) -> np.ndarray:
    """``distinct[codes]`` as an object array, a code of -1 (a missing cell, as ``pd.factorize`` gives it) None."""
    return np.array([*distinct, None], dtype=object)[codes]


def text_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, distinct)`` of a column of text and missing cells: ``distinct[codes]`` is the column, a missing
    cell's code being -1; None for a column that holds anything else.

    Only text: distinct values are found by equality, and ``1 == 1.0 == True`` would make one value of cells
    that print differently. Missing cells (None, NaN, NA) are all -1.
    """
    text = isinstance(values.dtype, pd.StringDtype) or (
        values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")
    )
    if not text:
        return None
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    return codes, np.asarray(distinct, dtype=object)


def per_distinct_text(values: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``transform(values)`` for a cell-by-cell ``transform`` (a pandas string method, a map), computed on the
    distinct values of a column of text and spread back. Missing cells only in a pandas ``string`` column
    (they are all its one missing value, transformed once); any other column is transformed whole."""
    found = text_codes(values)
    if found is None:
        return transform(values)
    codes, distinct = found
    missing = bool((codes < 0).any())
    if missing and not isinstance(values.dtype, pd.StringDtype):  # None and NaN may transform differently
        return transform(values)
    cells = list(distinct) + ([values.dtype.na_value] if missing else [])  # a missing cell (-1) is the last
    out = transform(pd.Series(cells, dtype=values.dtype, name=values.name))
    return pd.Series(out.array.take(codes), index=values.index, name=out.name)


def per_distinct_rows(frame: pd.DataFrame, rule: Callable[[pd.DataFrame], pd.Series]) -> pd.Series:
    """``rule(frame)`` for a row-by-row ``rule`` (its result for a row depends on that row's cells alone),
    computed on the distinct rows of a frame of pandas ``string`` columns and spread back; any other frame is
    given to ``rule`` whole. (Each ``string`` column's missing cells are its one missing value.)"""
    if frame.empty or not all(isinstance(t, pd.StringDtype) for t in frame.dtypes):
        return rule(frame)
    codes, sizes = [], []
    for name in frame.columns:
        column_codes, distinct = pd.factorize(frame[name], use_na_sentinel=False)
        codes.append(column_codes)
        sizes.append(max(len(distinct), 1))
    if float(np.prod(sizes, dtype="float64")) >= 2**62:
        return rule(frame)
    key = np.ravel_multi_index(codes, sizes)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    out = rule(frame.iloc[first])
    return pd.Series(out.to_numpy()[inverse.ravel()], index=frame.index, name=out.name)


def in_key_order(keys: pd.DataFrame) -> bool:
    """Whether the rows are already in the order a stable sort by the columns of ``keys`` gives (equal keys in any
    order), so that a registry's millions of rows need not be sorted again. Compared only as the sort compares
    them: every column text, numbers or dates, none missing; anything else is False (sort it).

    >>> in_key_order(pd.DataFrame({"p": ["A", "A", "B"], "d": [0, 5, 2]})), in_key_order(pd.DataFrame({"p": ["B", "A"]}))
    (True, False)
    """
    if len(keys) < 2:
        return True
    for name in keys.columns:
        column = keys[name]
        comparable = (pd.api.types.infer_dtype(column, skipna=False) == "string"
                      or pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column))  # fmt: skip
        if not comparable or column.isna().any():
            return False
    ordered = np.ones(len(keys) - 1, dtype=bool)  # row i <= row i + 1 by the keys from the last one compared
    for name in reversed(keys.columns):
        values = keys[name].to_numpy()
        ordered = (values[:-1] < values[1:]) | ((values[:-1] == values[1:]) & ordered)
    return bool(ordered.all())
