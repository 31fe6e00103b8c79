"""Tests for tkitrack.dashboards.palette: distinct symbols and colours, helpers."""

from __future__ import annotations

from tkitrack.dashboards.palette import (
    AE_GRADE_COLOURS,
    AE_GRADE_PATTERNS,
    EVENT_STYLES,
    OKABE_ITO,
    darken,
    drug_colour,
    series_colour,
)


def test_every_event_kind_has_its_own_symbol():
    symbols = [s["symbol"] for s in EVENT_STYLES.values()]
    assert len(set(symbols)) == len(symbols)


def test_grades_have_distinct_colours_and_bars_distinct_patterns():
    assert sorted(AE_GRADE_COLOURS) == [1, 2, 3, 4, 5] and len(set(AE_GRADE_COLOURS.values())) == 5
    assert len({AE_GRADE_PATTERNS[g] for g in (2, 3, 4)}) == 3


def test_helpers():
    assert series_colour(0) == OKABE_ITO["blue"] and series_colour(7) == series_colour(0)
    assert drug_colour("Crizotinib") == drug_colour("crizotinib")
    assert drug_colour("vincristine", ["vincristine", "actinomycin"]) != drug_colour(
        "actinomycin", ["vincristine", "actinomycin"]
    )
    assert darken("#0072B2", 1.0) == "#0072B2" and darken("#808080", 0.5) == "#404040"
