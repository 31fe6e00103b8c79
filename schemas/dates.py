"""Partial ISO 8601 dates (``2019``, ``2019-06``, ``2019-06-14``): parsing and imputation, as SDTM/ADaM do."""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd

from tkitrack.schemas.distinct import text_codes
from tkitrack.schemas.errors import InputError

__all__ = [
    "DATE_FORMS",
    "PARTIAL_DATE_PATTERN",
    "TIME_PATTERN",
    "Imputation",
    "as_datetime",
    "date_problems",
    "impute_partial_date",
    "impute_partial_dates",
    "parse_partial_date",
    "read_partial_dates",
    "stripped_cells",
    "stripped_text",
    "unparsed_cells",
]

Imputation = Literal["first", "last"]
#: The date part: ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``.
PARTIAL_DATE_PATTERN = r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
#: An optional time after a complete date, as ISO 8601 and SDTM write it: ``Thh``, ``Thh:mm``, ``Thh:mm:ss``,
#: ``Thh:mm:ss.fff``, with an optional zone ``Z`` or ``+hh:mm``.
TIME_PATTERN = (
    r"T(?P<hour>[0-9]{2})(?::(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.[0-9]{1,6})?)?)?"
    r"(?P<zone>Z|[+-](?P<zone_hour>[0-9]{2})(?::?(?P<zone_minute>[0-9]{2}))?)?"
)
_PARTIAL = re.compile(PARTIAL_DATE_PATTERN)
_TIME = re.compile(f"^{TIME_PATTERN}$")
#: (group, largest value) of each part of a time.
_TIME_LIMITS = (("hour", 23), ("minute", 59), ("second", 59), ("zone_hour", 14), ("zone_minute", 59))
DATE_FORMS = "YYYY, YYYY-MM or YYYY-MM-DD"


def as_datetime(values: pd.Series, **kwargs) -> pd.Series:
    """``pd.to_datetime(values, **kwargs)``; a Series that is already ``datetime64[ns]`` comes back as a copy.

    pandas gives such a Series no shortcut: above 50 rows it tests whether caching pays by turning the first
    chunk into ``Timestamp`` objects, then maps every cell through a table of its distinct dates (a million
    record dates: a quarter of a second, for the values it was given).
    """
    if isinstance(values, pd.Series) and values.dtype == np.dtype("datetime64[ns]"):
        return values.copy()
    return pd.to_datetime(values, **kwargs)


def _time_problem(raw: str, time: str) -> str | None:
    """What is wrong with the time part ``time`` (``T10:30``...) of ``raw``, or None when it is a real time."""
    found = _TIME.match(time)
    if found is None:
        return (f"'{raw}' has a time part that is not ISO 8601; after a full date a time is THH:MM or THH:MM:SS "
                "(for example 2019-06-14T10:30)")  # fmt: skip
    for group, largest in _TIME_LIMITS:
        value = found.group(group)
        if value is not None and int(value) > largest:
            return f"'{raw}' has {group.replace('_', ' ')} {value}; it is 00 to {largest:02d}"
    return None


def parse_partial_date(text: str) -> tuple[int, int | None, int | None]:
    """Split a partial ISO 8601 date into (year, month, day); month and day may be None.

    A time part after a complete date (``2019-06-14T10:30``, ``T10:30:15``, ``T10:30Z``) is checked whole and
    then set aside. Raises InputError naming the value when it is not a date, names an impossible day, or
    carries a time that is not a real time (``2019-07-29T99:99junk``).

    >>> parse_partial_date("2019-06")
    (2019, 6, None)
    """
    raw = str(text).strip()
    core, sep, time = raw.partition("T")
    if not _PARTIAL.match(core) or (sep and len(core) != 10):
        raise InputError(f"'{raw}' is not an ISO 8601 date; expected {DATE_FORMS} (for example 2019-06-14)")
    parts = [int(p) for p in core.split("-")]
    year, month, day = parts[0], (parts[1] if len(parts) > 1 else None), (parts[2] if len(parts) > 2 else None)
    if month is not None and not 1 <= month <= 12:
        raise InputError(f"'{raw}' has month {month}; a month is 01 to 12")
    if day is not None:
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise InputError(f"'{raw}' has day {day}; {year}-{month:02d} has days 01 to {last}")
    problem = _time_problem(raw, sep + time) if sep else None
    if problem:
        raise InputError(problem)
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


def stripped_text(values: pd.Series) -> pd.Series:
    """Cells as text (pandas ``string``), stripped, empty ones missing: one pass over the cells (``str.strip``
    returns a cell with nothing to strip as it is) instead of a pandas string method and a comparison each."""
    return stripped_cells(values)[0]


def stripped_cells(values: pd.Series) -> tuple[pd.Series, list[str]]:
    """:func:`stripped_text` and the texts of its cells as a list of ``str`` (``""`` for a missing cell): each
    cell's, or for a column of text (pandas ``string`` in python storage, or object holding only text and missing
    cells) each distinct cell's once, so that a search over the list finds what a search over the cells would.

    A column of text is stripped once per distinct value and spread back by the codes (ids, codes and dates
    repeat). Otherwise ``str.strip`` is mapped over the cells in C (a missing cell read as ``""``); the cells left
    empty are then found by one comparison of the array and made missing."""
    python = values.dtype == object and pd.StringDtype().storage == "python"
    found = text_codes(values) if python or values.dtype == pd.StringDtype("python") else None
    if found is not None:
        codes, distinct = found
        plain = list(map(str.strip, distinct.tolist()))
        stripped = np.array([*plain, ""], dtype=object)  # a missing cell's code is -1: the "" appended last
        stripped[stripped == ""] = pd.NA
        text = pd.arrays.StringArray(stripped).take(codes)
        return pd.Series(text, index=values.index, name=values.name), plain + [""] * bool((codes < 0).any())
    text = values.astype("string")
    plain = list(map(str.strip, text.to_numpy(dtype=object, na_value="")))
    out = np.array(plain, dtype=object)
    if len(out):
        out[out == ""] = pd.NA
    if isinstance(text.array, pd.arrays.StringArray):  # python storage: only str and pd.NA, checked once in C
        return pd.Series(pd.arrays.StringArray(out), index=values.index, name=values.name), plain
    return pd.Series(pd.array(out, dtype=text.dtype), index=values.index, name=values.name), plain


def unparsed_cells(values: pd.Series, parsed: pd.Series) -> pd.Series:
    """Cells of ``values`` that ``parsed`` (their ``pd.to_datetime(..., errors="coerce")``) left missing and that
    are not blank: what is neither a date nor empty. Only those cells are made text (a column of dates has none,
    and writing every date as text was most of a date check's time)."""
    bad = parsed.isna() & values.notna()
    if bad.any():
        bad[bad] = (values[bad].astype(str).str.strip() != "").to_numpy(dtype=bool)
    return bad


def _times_ok(times: pd.Series) -> pd.Series:
    """True where a time part (``T10:30``...) is ISO 8601 with real hours, minutes, seconds and zone."""
    parts = times.str.extract(_TIME)
    ok = parts["hour"].notna()
    for group, largest in _TIME_LIMITS:
        ok &= ~(pd.to_numeric(parts[group], errors="coerce") > largest).fillna(False)
    return ok.astype(bool)


def read_partial_dates(
    values: pd.Series, rule: Imputation = "first", *, stripped: bool = False
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Read partial ISO 8601 dates in one pass: (the text as given, imputed datetime64, flag).

    The whole text is checked: the date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, a real calendar day) and,
    after a complete date only, an optional time (``T10:30``, ``T10:30:15``, ``T10:30Z``: real hours, minutes,
    seconds and zone). A valid cell keeps its text as given, time included; a cell that is not valid as a whole
    (``2019-07-29T99:99junk``, month 13, 30 February) comes back missing in all three, so the caller can report
    it (:func:`date_problems` says why); empty cells are missing too. The imputed date ignores the time.
    ``stripped``: ``values`` is :func:`stripped_text` already (pandas ``string``, stripped, empty cells missing),
    as :func:`tkitrack.schemas.parse.parse_records` passes its cells; they are not stripped again.
    """
    text = values if stripped else stripped_text(values)
    core = text.copy()
    time_ok = pd.Series(True, index=values.index)
    timed = text.str.contains("T", regex=False).fillna(False).to_numpy(bool)
    if timed.any():  # split and check only the cells that carry a time
        split = text[timed].str.partition("T")
        core[timed] = split[0]
        time_ok[timed] = (_times_ok("T" + split[2]) & (split[0].str.len() == 10)).to_numpy()
    shaped = core.str.fullmatch(PARTIAL_DATE_PATTERN[1:-1]).fillna(False).to_numpy(bool)
    length = core.str.len().where(shaped)
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
    ok = imputed.notna() & time_ok
    return text.where(ok), imputed.where(ok), flag.where(ok)


def date_problems(values: pd.Series) -> pd.Series:
    """Why each cell is not a valid partial ISO 8601 date (time included): a message per cell, aligned to
    ``values`` (missing where the cell is valid or empty). Each distinct value is examined once."""
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    given, _, _ = read_partial_dates(text)
    bad = text[text.notna() & given.isna()]
    messages = {}
    for value in pd.unique(bad.astype(object)):
        try:
            parse_partial_date(value)
            messages[value] = f"'{value}' is not a real calendar date"
        except InputError as err:
            messages[value] = str(err)
    return bad.astype(object).map(messages).reindex(values.index)


def impute_partial_dates(values: pd.Series, rule: Imputation = "first") -> tuple[pd.Series, pd.Series]:
    """Vectorised :func:`impute_partial_date`: returns (datetime64 series, flag series) aligned to ``values``.

    Empty and missing values give NaT and no flag. Invalid values raise InputError naming the first row.
    Each distinct text is read once.
    """
    from tkitrack.schemas.distinct import text_codes

    found = text_codes(values)
    if found is not None:
        codes, distinct = found
        cells = pd.Series(np.append(distinct, None), dtype=object)  # a missing cell (-1) is the None appended last
        given, imputed, flag = read_partial_dates(cells, rule)
        if not (cells.astype("string").str.strip().replace("", pd.NA).notna() & given.isna()).any():
            return (pd.Series(imputed.to_numpy()[codes], index=values.index),
                    pd.Series(flag.array.take(codes), index=values.index))  # fmt: skip
        # an invalid value: read every cell, to name its first row
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
