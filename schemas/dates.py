"""Partial ISO 8601 dates (``2019``, ``2019-06``, ``2019-06-14``): parsing and imputation, as SDTM/ADaM do."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd

from tkitrack.schemas.errors import InputError

__all__ = [
    "PARTIAL_DATE_PATTERN",
    "Imputation",
    "impute_partial_date",
    "impute_partial_dates",
    "parse_partial_date",
    "read_partial_dates",
]

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


def read_partial_dates(values: pd.Series, rule: Imputation = "first") -> tuple[pd.Series, pd.Series, pd.Series]:
    """Read partial ISO 8601 dates in one pass: (the date part as given, imputed datetime64, flag).

    Cells that are not real dates (wrong shape, month 13, 30 February) come back missing in all three, so the
    caller can report them; empty cells are missing too. A time part (``T10:30``) is dropped.
    """
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    core = text.astype(object)
    timed = text.str.contains("T", regex=False).fillna(False).to_numpy(bool)
    if timed.any():  # split only the cells that carry a time
        core[timed] = text[timed].str.split("T", n=1).str[0]
    core = pd.Series(core, index=values.index, dtype="string")
    length = core.str.len()
    imputed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    flag = pd.Series(pd.NA, index=values.index, dtype="string")
    for n, fmt, code in ((10, "%Y-%m-%d", None), (7, "%Y-%m", "D"), (4, "%Y", "M")):
        sel = (length == n).fillna(False).to_numpy(bool)
        if not sel.any():
            continue
        parsed = pd.to_datetime(core[sel], format=fmt, errors="coerce")
        if rule == "last" and code == "D":
            parsed = parsed + pd.offsets.MonthEnd(0)
        elif rule == "last" and code == "M":
            parsed = parsed + pd.offsets.YearEnd(0)
        imputed[sel] = parsed.to_numpy()
        if code:
            flag[sel] = np.where(parsed.notna(), code, None)
    ok = imputed.notna()
    return core.where(ok), imputed, flag.where(ok)


def impute_partial_dates(values: pd.Series, rule: Imputation = "first") -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`impute_partial_date`: returns (datetime64 series, flag series) aligned to ``values``.

    Empty and missing values give NaT and no flag. Invalid values raise InputError naming the first row.
    """
    given, imputed, flag = read_partial_dates(values, rule)
    present = values.astype("string").str.strip().replace("", pd.NA).notna()
    bad = present & given.isna()
    if bad.any():
        row = bad[bad].index[0]
        if _PARTIAL.match(str(values.loc[row]).strip().split("T", 1)[0]):
            raise InputError(f"row {row}: '{values.loc[row]}' is not a real calendar date")
        raise InputError(
            f"row {row}: '{values.loc[row]}' is not an ISO 8601 date; expected YYYY, YYYY-MM or YYYY-MM-DD"
        )
    return imputed, flag
