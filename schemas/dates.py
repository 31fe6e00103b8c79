"""Partial ISO 8601 dates (``2019``, ``2019-06``, ``2019-06-14``): parsing and imputation, as SDTM/ADaM do."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd

from tkitrack.schemas.errors import InputError

__all__ = ["PARTIAL_DATE_PATTERN", "Imputation", "impute_partial_date", "impute_partial_dates", "parse_partial_date"]

Imputation = Literal["first", "last"]
PARTIAL_DATE_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"
_PARTIAL = re.compile(PARTIAL_DATE_PATTERN)


def parse_partial_date(text: str) -> tuple[int, int | None, int | None]:
    """Split a partial ISO 8601 date into (year, month, day); month and day may be None.

    A time part (``2019-06-14T10:30``) is accepted and ignored. Raises InputError naming the value when it is
    not a date or names an impossible day.

    >>> parse_partial_date("2019-06")
    (2019, 6, None)
    """
    raw = str(text).strip()
    core = raw.split("T", 1)[0]
    if not _PARTIAL.match(core):
        raise InputError(
            f"'{raw}' is not an ISO 8601 date; expected YYYY, YYYY-MM or YYYY-MM-DD (for example 2019-06-14)"
        )
    parts = [int(p) for p in core.split("-")]
    year, month, day = parts[0], (parts[1] if len(parts) > 1 else None), (parts[2] if len(parts) > 2 else None)
    if month is not None and not 1 <= month <= 12:
        raise InputError(f"'{raw}' has month {month}; a month is 01 to 12")
    if day is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise InputError(f"'{raw}' has day {day}; {year}-{month:02d} has days 01 to {last}")
    return year, month, day


def impute_partial_date(text: str | date | None, rule: Imputation = "first") -> tuple[date | None, str | None]:
    """Impute one partial date: returns (date, flag) with flag ``None`` (complete), ``"D"`` or ``"M"``.

    ``rule="first"`` takes the first day (of the month, or of the year); ``"last"`` the last.

    >>> impute_partial_date("2019-02", "last")
    (datetime.date(2019, 2, 28), 'D')
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NaT:
        return None, None
    if isinstance(text, datetime):
        return text.date(), None
    if isinstance(text, date):
        return text, None
    raw = str(text).strip()
    if raw == "":
        return None, None
    year, month, day = parse_partial_date(raw)
    if day is not None:
        return date(year, month, day), None
    if month is not None:
        d = 1 if rule == "first" else calendar.monthrange(year, month)[1]
        return date(year, month, d), "D"
    return (date(year, 1, 1) if rule == "first" else date(year, 12, 31)), "M"


def impute_partial_dates(values: pd.Series, rule: Imputation = "first") -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`impute_partial_date`: returns (datetime64 series, flag series) aligned to ``values``.

    Empty and missing values give NaT and no flag. Invalid values raise InputError naming the first row.
    """
    text = values.astype("string").str.strip().str.split("T", n=1).str[0]
    text = text.mask(text == "")
    present = text.notna()
    ok = text.str.match(PARTIAL_DATE_PATTERN).astype("boolean").fillna(False) | ~present
    if not ok.all():
        bad = text[~ok].index[0]
        raise InputError(
            f"row {bad}: '{values.loc[bad]}' is not an ISO 8601 date; expected YYYY, YYYY-MM or YYYY-MM-DD"
        )
    length = text.str.len()
    full = pd.to_datetime(text.where(length == 10), format="%Y-%m-%d", errors="coerce")
    bad_full = (length == 10) & full.isna()
    if bad_full.any():
        bad = bad_full[bad_full].index[0]
        raise InputError(f"row {bad}: '{values.loc[bad]}' is not a real calendar date")
    month_start = pd.to_datetime(text.where(length == 7), format="%Y-%m", errors="coerce")
    year_start = pd.to_datetime(text.where(length == 4), format="%Y", errors="coerce")
    if rule == "first":
        month_val, year_val = month_start, year_start
    else:
        month_val = month_start + pd.offsets.MonthEnd(0)
        year_val = year_start + pd.offsets.YearEnd(0)
    out = full.fillna(month_val).fillna(year_val)
    flag = pd.Series(pd.NA, index=values.index, dtype="string")
    flag[length == 7] = "D"
    flag[length == 4] = "M"
    return out, flag
