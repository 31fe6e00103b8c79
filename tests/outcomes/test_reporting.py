"""Tests for tkitrack.outcomes.reporting: the words and numbers a reader sees, on every boundary."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tkitrack.outcomes.reporting import (
    format_count_percent,
    format_interval,
    format_number,
    format_p,
    format_p_clause,
    format_percent,
    format_ratio,
    format_with_interval,
    is_missing,
)

NAN = float("nan")


@pytest.mark.parametrize("value", [None, NAN, pd.NaT, pd.NA, float("nan")])
def test_missing_values(value):
    assert is_missing(value)


@pytest.mark.parametrize("value", [0, 0.0, "", "x", False])
def test_present_values(value):
    assert not is_missing(value)


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        pytest.param((182.0,), {}, "182", id="whole-float"),
        pytest.param((21.0,), {"decimals": 1}, "21.0", id="whole-with-decimals"),
        pytest.param((182.4,), {}, "182", id="rounded"),
        pytest.param((12.25,), {"decimals": 1}, "12.2", id="one-decimal"),
        pytest.param((NAN, "not reached"), {}, "not reached", id="note"),
        pytest.param((NAN,), {}, "not estimable", id="nan-default"),
        pytest.param((math.inf,), {}, "not estimable", id="inf"),
    ],
)
def test_format_number(args, kwargs, text):
    assert format_number(*args, **kwargs) == text


@pytest.mark.parametrize(
    ("fraction", "decimals", "text"),
    [
        pytest.param(0.80597015, 0, "81%", id="whole"),
        pytest.param(0.005, 0, "0%", id="half-rounds-to-even"),
        pytest.param(1.0, 0, "100%", id="all"),
        pytest.param(0.409, 1, "40.9%", id="decimal"),
        pytest.param(NAN, 0, "not estimable", id="nan"),
    ],
)
def test_format_percent(fraction, decimals, text):
    assert format_percent(fraction, decimals=decimals) == text


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        pytest.param((285, 363), {}, "285-363", id="days"),
        pytest.param((1.0, 1.0), {"percent": True}, "not estimable", id="zero-width-percent"),
        pytest.param((5, 5), {}, "not estimable", id="zero-width-days"),
        pytest.param((3, NAN, "", "not reached"), {}, "3-not reached", id="open-upper"),
        pytest.param((NAN, NAN, "not reached", "not reached"), {}, "not reached-not reached", id="both-not-reached"),
        pytest.param((NAN, NAN, "not estimable", "not estimable"), {}, "not estimable", id="both-not-estimable"),
        pytest.param((NAN, NAN), {}, "not estimable", id="both-missing"),
        pytest.param((0.345, 0.486), {"percent": True}, "34-49%", id="percent"),
        pytest.param((0.5, NAN, "", "not estimable"), {"percent": True}, "50-not estimable", id="percent-open"),
    ],
)
def test_format_interval(args, kwargs, text):
    assert format_interval(*args, **kwargs) == text


def test_format_with_interval():
    assert format_with_interval(310, 285, 363) == "310 (95% CI 285-363)"
    assert format_with_interval(NAN, 10, NAN, note="not reached", upper_note="not reached", conf=0.9) == (
        "not reached (90% CI 10-not reached)"
    )
    assert format_with_interval(1.0, 1.0, 1.0, percent=True) == "100% (95% CI not estimable)"
    assert format_with_interval(NAN, NAN, NAN, note="beyond follow-up", percent=True) == "beyond follow-up"


def test_counts_ratios_and_p_values():
    assert format_count_percent(12, 14) == "12/14 (86%)" and format_count_percent(0, 0) == "0/0"
    assert format_count_percent(3, 12, with_n=False) == "3 (25%)"
    assert [format_ratio(x) for x in (0.588, 9.0843, 0.031, NAN, math.inf, 0.0)] == [
        "0.59", "9.08", "0.031", "not estimable", "not estimable", "not estimable"
    ]  # fmt: skip
    assert [format_p(x) for x in (0.3094, 0.049, 0.00149, 0.001, 0.00099, NAN)] == [
        "0.31", "0.05", "0.001", "0.001", "<0.001", "not available"
    ]  # fmt: skip
    assert format_p_clause(0.0009) == "p < 0.001" and format_p_clause(0.2) == "p = 0.20"
