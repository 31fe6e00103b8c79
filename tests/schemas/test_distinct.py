"""schemas/distinct.py: text columns as codes into their distinct values, per-value transforms done once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tkitrack.schemas.distinct import per_distinct_text, text_codes
from tkitrack.schemas.sdtm_tumour import impute_text, text


def test_text_codes_of_text_with_missing_cells():
    codes, distinct = text_codes(pd.Series(["b", None, "a", "b", np.nan, pd.NA]))
    assert codes.tolist() == [0, -1, 1, 0, -1, -1] and distinct.tolist() == ["b", "a"]
    codes, distinct = text_codes(pd.Series(["x", None], dtype="string"))
    assert codes.tolist() == [0, -1] and distinct.tolist() == ["x"]


def test_only_columns_of_text_get_codes():
    # True == 1 == 1.0: one distinct value by equality, three different texts
    assert text_codes(pd.Series(["1", 1, True, 1.0], dtype=object)) is None
    assert text_codes(pd.Series([1.0, 2.0])) is None
    assert text(pd.Series(["1", 1, True, 1.0], dtype=object)).tolist() == ["1", "1", "True", "1.0"]


def test_text_and_imputed_dates_keep_index_name_and_missing_cells():
    values = pd.Series([" 2020-02 ", None, "2020-02", "2019", "junk", ""], index=[9, 7, 5, 3, 1, 0], name="X")
    out = text(values)
    assert out.tolist() == ["2020-02", "", "2020-02", "2019", "junk", ""]
    assert out.index.tolist() == [9, 7, 5, 3, 1, 0] and out.name == "X" and out.dtype == object
    last = impute_text(values, "last")
    assert last.dtype == "datetime64[ns]" and last.name == "X" and last.index.equals(values.index)
    assert last.tolist()[:4] == [pd.Timestamp("2020-02-29"), pd.NaT, pd.Timestamp("2020-02-29"),
                                 pd.Timestamp("2019-12-31")]  # fmt: skip
    assert last.iloc[4:].isna().all()


def test_per_distinct_text_is_the_transform_of_the_whole_column():
    values = pd.Series(["ab", "cd", "ab"], index=[2, 1, 0], name="Q")
    out = per_distinct_text(values, lambda v: v.str.extract(r"^a(\w*)$")[0])
    pd.testing.assert_series_equal(out, values.str.extract(r"^a(\w*)$")[0])
    with_missing = pd.Series(["ab", None])  # transformed whole: a missing cell is the transform's business
    pd.testing.assert_series_equal(per_distinct_text(with_missing, lambda v: v.str.upper()), with_missing.str.upper())


def test_per_distinct_text_of_a_string_column_transforms_its_missing_value_once():
    values = pd.Series([" cr", None, "pd", " cr", None], dtype="string", index=[4, 3, 2, 1, 0])
    for transform in (lambda r: r.astype(str).str.strip().str.upper(), lambda r: r.str.strip().str.upper()):
        out = per_distinct_text(values, transform)
        pd.testing.assert_series_equal(out, transform(values), check_exact=True)
    assert per_distinct_text(values, lambda r: r.astype(str).str.upper()).tolist() == [
        " CR",
        "<NA>",
        "PD",
        " CR",
        "<NA>",
    ]


def test_a_row_rule_on_distinct_rows_is_the_rule_on_every_row():
    from tkitrack.schemas.distinct import per_distinct_rows
    from tkitrack.schemas.vocabulary import response_allowed

    crit = pd.Series(["RECIST1.1", None, "PERCIST", "RECIST1.1", "PERCIST", None, "iRECIST", "PERCIST"] * 3,
                     dtype="string")  # fmt: skip
    resp = pd.Series(["CR", "CMR", "CMR", "CMR", None, "PR", "iCPD", "PD"] * 3, dtype="string")
    frame = pd.DataFrame({"response": resp, "criteria": crit}).set_axis(np.arange(24)[::-1] * 10)
    calls = []

    def rule(df):
        calls.append(len(df))
        return ~response_allowed(df["criteria"], df["response"])

    out = per_distinct_rows(frame, rule)
    assert calls == [8]  # eight distinct (response, criteria) rows, missing cells included
    expected = ~response_allowed(frame["criteria"], frame["response"])
    pd.testing.assert_series_equal(out, expected, check_exact=True)
    assert out.tolist()[:8] == [False, True, False, True, False, False, False, True]
    objects = frame.astype(object)  # not every column pandas text: the rule runs on the whole frame
    pd.testing.assert_series_equal(per_distinct_rows(objects, rule), expected, check_exact=True)
    assert calls == [8, 24]
