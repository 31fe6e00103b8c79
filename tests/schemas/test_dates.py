"""Tests for tkitrack.schemas.dates: partial ISO 8601 dates, parsed and imputed as SDTM/ADaM do."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from tkitrack.schemas.dates import impute_partial_date, impute_partial_dates, parse_partial_date
from tkitrack.schemas.errors import InputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2019", (2019, None, None), id="year"),
        pytest.param("2019-06", (2019, 6, None), id="year-month"),
        pytest.param("2019-06-14", (2019, 6, 14), id="full"),
        pytest.param(" 2019-06-14 ", (2019, 6, 14), id="surrounding-spaces"),
        pytest.param("2019-06-14T10:30", (2019, 6, 14), id="time-part-ignored"),
        pytest.param("2020-02-29", (2020, 2, 29), id="leap-day"),
    ],
)
def test_parse_partial_date(text, expected):
    assert parse_partial_date(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("14/06/2019", "is not an ISO 8601 date", id="day-first"),
        pytest.param("2019-6", "is not an ISO 8601 date", id="one-digit-month"),
        pytest.param("19-06-14", "is not an ISO 8601 date", id="two-digit-year"),
        pytest.param("June 2019", "is not an ISO 8601 date", id="words"),
        pytest.param("2019-13", "has month 13", id="month-13"),
        pytest.param("2019-00-10", "has month 0", id="month-0"),
        pytest.param("2019-02-29", "has day 29; 2019-02 has days 01 to 28", id="not-a-leap-year"),
        pytest.param("2019-04-31", "has day 31; 2019-04 has days 01 to 30", id="april-31"),
    ],
)
def test_parse_partial_date_rejects_with_the_value_and_the_expected_form(text, says):
    with pytest.raises(InputError) as err:
        parse_partial_date(text)
    assert says in str(err.value)
    assert text.strip() in str(err.value)


@pytest.mark.parametrize(
    ("text", "rule", "expected"),
    [
        pytest.param("2019-06-14", "first", (date(2019, 6, 14), None), id="full-first"),
        pytest.param("2019-06-14", "last", (date(2019, 6, 14), None), id="full-last"),
        pytest.param("2019-06", "first", (date(2019, 6, 1), "D"), id="month-first"),
        pytest.param("2019-06", "last", (date(2019, 6, 30), "D"), id="month-last"),
        pytest.param("2019-02", "last", (date(2019, 2, 28), "D"), id="february-last"),
        pytest.param("2020-02", "last", (date(2020, 2, 29), "D"), id="leap-february-last"),
        pytest.param("2019", "first", (date(2019, 1, 1), "M"), id="year-first"),
        pytest.param("2019", "last", (date(2019, 12, 31), "M"), id="year-last"),
        pytest.param("", "first", (None, None), id="empty"),
        pytest.param(None, "first", (None, None), id="none"),
        pytest.param(np.nan, "first", (None, None), id="nan"),
        pytest.param(pd.NaT, "first", (None, None), id="nat"),
        pytest.param(date(2019, 6, 14), "last", (date(2019, 6, 14), None), id="a-date"),
        pytest.param(datetime(2019, 6, 14, 10, 30), "first", (date(2019, 6, 14), None), id="a-datetime"),
    ],
)
def test_impute_partial_date(text, rule, expected):
    assert impute_partial_date(text, rule) == expected


def test_impute_partial_date_rejects_malformed():
    with pytest.raises(InputError, match="2019-13-01"):
        impute_partial_date("2019-13-01")


def test_impute_partial_dates_vectorised_first():
    values = pd.Series(["2019", None, "2019-06", "2019-06-14", "", "2019-06-14T08:00"], index=[10, 11, 12, 13, 14, 15])
    imputed, flag = impute_partial_dates(values, "first")
    expected = pd.Series(
        pd.to_datetime(["2019-01-01", None, "2019-06-01", "2019-06-14", None, "2019-06-14"]),
        index=values.index,
    )
    pd.testing.assert_series_equal(imputed, expected, check_names=False)
    assert flag.tolist() == ["M", pd.NA, "D", pd.NA, pd.NA, pd.NA]
    assert flag.index.tolist() == [10, 11, 12, 13, 14, 15]


def test_impute_partial_dates_vectorised_last():
    values = pd.Series(["2019", "2020-02", "2019-06-14"])
    imputed, flag = impute_partial_dates(values, "last")
    assert imputed.tolist() == [pd.Timestamp("2019-12-31"), pd.Timestamp("2020-02-29"), pd.Timestamp("2019-06-14")]
    assert flag.tolist() == ["M", "D", pd.NA]


def test_impute_partial_dates_agrees_with_the_scalar_version():
    texts = ["2019", "2019-02", "2020-02", "2019-12-31", "2000-01"]
    for rule in ("first", "last"):
        imputed, flag = impute_partial_dates(pd.Series(texts), rule)
        scalar = [impute_partial_date(t, rule) for t in texts]
        assert [d.date() for d in imputed] == [s[0] for s in scalar]
        assert [None if pd.isna(f) else f for f in flag] == [s[1] for s in scalar]


@pytest.mark.parametrize(
    ("values", "says"),
    [
        pytest.param(["2019", "14/06/2019"], "row 1: '14/06/2019' is not an ISO 8601 date", id="bad-shape"),
        pytest.param(["2019-02-30", "2019"], "row 0: '2019-02-30' is not a real calendar date", id="impossible-day"),
    ],
)
def test_impute_partial_dates_names_the_bad_row(values, says):
    with pytest.raises(InputError) as err:
        impute_partial_dates(pd.Series(values))
    assert says in str(err.value)


def test_stripped_cells_strip_and_make_empty_cells_missing():
    """Hand-worked: whitespace (Unicode's too) stripped, blank and missing cells missing; the plain list holds the
    same text with "" for each missing cell; a column of pandas string dtype comes back the same."""
    from tkitrack.schemas.dates import stripped_cells, stripped_text

    raw = pd.Series(["  a ", "", "   ", None, np.nan, "\t x\n", "b\x00", " \x0b", "é\u2028", pd.NA, "2019-06 "],
                    index=range(10, 21), name="c", dtype=object)  # fmt: skip
    text, plain = stripped_cells(raw)
    expected = pd.Series(["a", pd.NA, pd.NA, pd.NA, pd.NA, "x", "b\x00", pd.NA, "é", pd.NA, "2019-06"],
                         index=range(10, 21), name="c", dtype="string")  # fmt: skip
    pd.testing.assert_series_equal(text, expected)
    # a column of text: each distinct cell's text once ("" for the missing ones), as the cells would be searched
    assert sorted(plain) == sorted(["a", "", "", "x", "b\x00", "", "é", "2019-06", ""])
    assert set(stripped_cells(raw.astype("string"))[1]) == {"a", "", "x", "b\x00", "é", "2019-06"}
    mixed = pd.Series([" 1 ", 1, None], dtype=object)  # not all text: cell by cell, as before
    assert stripped_cells(mixed)[1] == ["1", "1", ""]
    pd.testing.assert_series_equal(stripped_text(raw.astype("string")), expected)
    empty, none = stripped_cells(pd.Series([], dtype=object))
    assert len(empty) == 0 and str(empty.dtype) == "string" and none == []


@pytest.mark.parametrize("n", [3, 60, 5000])  # pandas caches above 50 rows: both of its paths
def test_as_datetime_of_dates_already_parsed_is_what_to_datetime_gives_and_a_copy(n):
    import numpy as np

    from tkitrack.schemas.dates import as_datetime

    days = pd.Series(pd.to_datetime("2020-02-28") + pd.to_timedelta(np.arange(n) % 7, unit="D"),
                     index=np.arange(n) * 3, name="ADT")  # fmt: skip
    days.iloc[1] = pd.NaT
    got = as_datetime(days, errors="coerce")
    pd.testing.assert_series_equal(got, pd.to_datetime(days, errors="coerce"), check_exact=True)
    assert got.dtype == "datetime64[ns]" and not np.shares_memory(got.to_numpy(), days.to_numpy())
    text = pd.Series(["2020-01-02", None, "not a date"] * (n // 3 + 1), name="start")
    pd.testing.assert_series_equal(as_datetime(text, errors="coerce"), pd.to_datetime(text, errors="coerce"))
