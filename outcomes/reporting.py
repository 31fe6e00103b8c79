"""How an estimate reads: "not reached", "not estimable", intervals, whole percentages with k/n, p-values.

Every number tkitrack prints for a reader goes through these few functions, so the terminal, the report, the
tables (HTML, CSV, DOCX) and the web pages say the same thing in the same words. A value is NaN when the data do
not give it; a *note* beside it says why: :data:`NOT_REACHED` (the curve stays above the level through the end
of follow-up), :data:`NOT_ESTIMABLE` (the data carry no information on it: an undefined or zero-width interval,
a hazard ratio with no events on one side), :data:`BEYOND_FOLLOW_UP` (a landmark after the last follow-up).
"""

from __future__ import annotations

import math

__all__ = [
    "BEYOND_FOLLOW_UP",
    "NOT_AVAILABLE",
    "NOT_ESTIMABLE",
    "NOT_REACHED",
    "format_count_percent",
    "format_interval",
    "format_number",
    "format_p",
    "format_p_clause",
    "format_percent",
    "format_ratio",
    "format_with_interval",
    "is_missing",
]

NOT_REACHED = "not reached"
NOT_ESTIMABLE = "not estimable"
BEYOND_FOLLOW_UP = "beyond follow-up"
NOT_AVAILABLE = "not available"


def is_missing(value: object) -> bool:
    """True for None, NaN, NaT and pandas' NA (anything a reader must not see as a number)."""
    if value is None:
        return True
    try:
        return bool(value != value) or str(value) in ("NaT", "<NA>")  # NaN, NaT and NA compare unequal to itself
    except (TypeError, ValueError):
        return str(value) in ("NaT", "<NA>")


def format_number(value: float, note: str = "", *, decimals: int = 0) -> str:
    """``310``, ``12.5``; the note (``not reached``...) when the value is missing.

    >>> format_number(182.0), format_number(float("nan"), "not reached"), format_number(21.0, decimals=1)
    ('182', 'not reached', '21.0')
    """
    if is_missing(value) or (isinstance(value, float) and math.isinf(value)):
        return note or NOT_ESTIMABLE
    value = float(value)
    return f"{round(value):d}" if decimals == 0 else f"{value:.{decimals}f}"


def format_percent(fraction: float, *, decimals: int = 0, sign: bool = True) -> str:
    """A fraction as a percentage: ``0.409 -> 41%`` (whole by default); NaN gives :data:`NOT_ESTIMABLE`.

    >>> format_percent(0.80597015), format_percent(0.409, decimals=1), format_percent(1.0, sign=False)
    ('81%', '40.9%', '100')
    """
    if is_missing(fraction):
        return NOT_ESTIMABLE
    text = f"{100 * float(fraction):.{decimals}f}"
    return text + "%" if sign else text


def format_interval(
    lower: float,
    upper: float,
    lower_note: str = "",
    upper_note: str = "",
    *,
    decimals: int = 0,
    percent: bool = False,
) -> str:
    """``285-363``; ``3-not reached``; :data:`NOT_ESTIMABLE` for an undefined or zero-width interval.

    A bound that is missing reads as its note (``not reached``); when both bounds are missing with the same
    note, or the interval has no width (``100%-100%``), the interval as a whole is not estimable.

    >>> format_interval(285, 363), format_interval(1.0, 1.0, percent=True), format_interval(3, float("nan"), "", "not reached")
    ('285-363', 'not estimable', '3-not reached')
    """
    lo_missing, hi_missing = is_missing(lower), is_missing(upper)
    if not lo_missing and not hi_missing and float(lower) == float(upper):
        return NOT_ESTIMABLE
    if lo_missing and hi_missing:
        notes = {lower_note or NOT_ESTIMABLE, upper_note or NOT_ESTIMABLE}
        return notes.pop() if len(notes) == 1 and NOT_REACHED not in notes else _pair(lower_note, upper_note)
    if percent:
        lo = (lower_note or NOT_ESTIMABLE) if lo_missing else format_percent(lower, decimals=decimals, sign=False)
        hi = (upper_note or NOT_ESTIMABLE) if hi_missing else format_percent(upper, decimals=decimals, sign=False)
        return f"{lo}-{hi}" + ("" if hi_missing else "%")
    return (
        f"{format_number(lower, lower_note, decimals=decimals)}-{format_number(upper, upper_note, decimals=decimals)}"
    )


def _pair(lower_note: str, upper_note: str) -> str:
    if (lower_note or NOT_ESTIMABLE) == NOT_ESTIMABLE and (upper_note or NOT_ESTIMABLE) == NOT_ESTIMABLE:
        return NOT_ESTIMABLE
    return f"{lower_note or NOT_ESTIMABLE}-{upper_note or NOT_ESTIMABLE}"


def format_with_interval(
    estimate: float,
    lower: float,
    upper: float,
    *,
    note: str = "",
    lower_note: str = "",
    upper_note: str = "",
    conf: float = 0.95,
    decimals: int = 0,
    percent: bool = False,
    label: bool = True,
) -> str:
    """``310 (95% CI 285-363)``, ``41% (95% CI 35-49%)``, ``100% (95% CI not estimable)``, ``not reached (...)``.

    ``label=False`` leaves out "95% CI" (a table whose column heading says it): ``310 (285-363)``.

    >>> format_with_interval(1.0, 1.0, 1.0, percent=True)
    '100% (95% CI not estimable)'
    """
    if note == BEYOND_FOLLOW_UP:
        return BEYOND_FOLLOW_UP
    if percent:
        head = (note or NOT_ESTIMABLE) if is_missing(estimate) else format_percent(estimate, decimals=decimals)
    else:
        head = format_number(estimate, note, decimals=decimals)
    interval = format_interval(lower, upper, lower_note, upper_note, decimals=decimals, percent=percent)
    return f"{head} ({conf * 100:g}% CI {interval})" if label else f"{head} ({interval})"


def format_count_percent(k: int, n: int, *, with_n: bool = True) -> str:
    """``12/14 (86%)`` (or ``12 (86%)`` with ``with_n=False``); ``0/0`` when there is nobody to count.

    >>> format_count_percent(54, 67), format_count_percent(3, 12, with_n=False), format_count_percent(0, 0)
    ('54/67 (81%)', '3 (25%)', '0/0')
    """
    head = f"{int(k)}/{int(n)}" if with_n else f"{int(k)}"
    return f"{head} ({format_percent(k / n)})" if n else head


def format_ratio(value: float, *, decimals: int = 2) -> str:
    """A hazard ratio: ``0.59``; two significant figures below 0.1; :data:`NOT_ESTIMABLE` when missing.

    >>> format_ratio(0.588), format_ratio(0.0312), format_ratio(float("nan"))
    ('0.59', '0.031', 'not estimable')
    """
    if is_missing(value) or math.isinf(float(value)) or float(value) <= 0:
        return NOT_ESTIMABLE
    value = float(value)
    return f"{value:.{decimals}f}" if value >= 0.1 else f"{value:.2g}"


def format_p(p: float) -> str:
    """A p-value as journals print it: ``0.31``, ``0.0013``, ``<0.001``; :data:`NOT_AVAILABLE` when missing.

    >>> format_p(0.3094), format_p(0.00149), format_p(2e-7), format_p(float("nan"))
    ('0.31', '0.001', '<0.001', 'not available')
    """
    if is_missing(p):
        return NOT_AVAILABLE
    p = float(p)
    if p < 0.001:
        return "<0.001"
    return f"{p:.2f}" if p >= 0.01 else f"{p:.3f}"


def format_p_clause(p: float) -> str:
    """``p = 0.31``, ``p < 0.001``, or ``p not available``.

    >>> format_p_clause(0.3094), format_p_clause(1e-5), format_p_clause(float("nan"))
    ('p = 0.31', 'p < 0.001', 'p not available')
    """
    text = format_p(p)
    return (
        f"p {text}"
        if text == NOT_AVAILABLE
        else f"p {text.replace('<', '< ')}"
        if text.startswith("<")
        else f"p = {text}"
    )
