"""Tests for tkitrack.dashboards.response: waterfall bars by best response, spider lines, RECIST lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tkitrack.dashboards.response import MARKED_POINTS_MAX, figure_spider, figure_waterfall


def _threshold_lines(fig) -> dict[str, float]:
    return {s.name: s.y0 for s in fig.layout.shapes if s.y0 == s.y1}


def test_waterfall_bars_and_thresholds():
    best = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3", "P4", "P5"],
            "best_pct_change": [-100.0, -45.0, 5.0, 35.0, np.nan],
            "best_response": ["CR", "PR", "SD", "PD", "NE"],
        }
    )
    fig = figure_waterfall(best, footnotes=["Not shown: 1 patient without a measurement after baseline (P5)."])
    bars = {t.name: t for t in fig.data}
    cr, pr, sd, pd_ = (
        "Complete response (CR)",
        "Partial response (PR)",
        "Stable disease (SD)",
        "Progressive disease (PD)",
    )
    assert list(bars) == [cr, pr, sd, pd_]  # P5 has no measurement: no bar, named in the footnote
    assert list(bars[pd_].x) == [1] and list(bars[cr].x) == [4]  # largest growth on the left
    assert list(bars[cr].y) == [-100.0] and list(bars[pr].customdata) == ["P2"]
    assert bars[cr].marker.color != bars[pd_].marker.color
    assert bars[pr].marker.pattern.shape != bars[cr].marker.pattern.shape
    (note,) = [a for a in fig.layout.annotations if a.name == "footnotes"]
    assert note.text == "Not shown: 1 patient without a measurement after baseline (P5)."
    assert fig.layout.legend.title.text == "Best overall response" and fig.layout.showlegend
    assert _threshold_lines(fig) == {"PR threshold -30%": -30.0, "PD threshold +20%": 20.0}
    assert fig.layout.yaxis.range[0] <= -110


def test_spider_one_trace_one_polyline_per_patient_nan_separated():
    changes = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P1", "P2", "P2", "P3"],
            "day": [0, 60, 120, 0, 50, 0],
            "pct_change": [0.0, -40.0, -60.0, 0.0, 25.0, 0.0],
        }
    )
    fig = figure_spider(changes)
    assert len(fig.data) == 1
    # P3 has a single measurement: no line to draw
    np.testing.assert_array_equal(fig.data[0].x, [0, 60, 120, np.nan, 0, 50])
    np.testing.assert_array_equal(fig.data[0].y, [0, -40, -60, np.nan, 0, 25])
    assert list(fig.data[0].customdata) == ["<b>P1</b>"] * 3 + [""] + ["<b>P2</b>"] * 2
    assert _threshold_lines(fig) == {"PR threshold -30%": -30.0, "PD threshold +20%": 20.0}


@pytest.mark.parametrize(("points", "mode"), [(2_000, "lines+markers"), (2_001, "lines")])
def test_spider_marks_points_up_to_2000_assessments_and_says_when_it_does_not(points, mode):
    """A marker is an SVG element of its own: a 10,000-patient spider drew 7 s in Chromium. Above 2,000
    assessments the vertices carry the values, and a footnote says so; at 2,000 every point is marked."""
    assert MARKED_POINTS_MAX == 2_000
    changes = pd.DataFrame({"patient_id": np.repeat([f"P{i}" for i in range(points // 2 + 1)], 2)[:points],
                            "day": np.tile([0, 56], points // 2 + 1)[:points], "pct_change": -10.0})  # fmt: skip
    fig = figure_spider(changes)
    assert {trace.mode for trace in fig.data} == {mode}
    notes = " ".join(a.text for a in fig.layout.annotations)
    assert ("points are not marked above 2,000" in notes) == (mode == "lines")
    if mode == "lines":
        assert "2,001 assessments" in notes


def test_spider_coloured_by_best_response():
    changes = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P2"],
            "day": [0, 60, 0, 50],
            "pct_change": [0.0, -40.0, 0.0, 25.0],
            "best_response": ["PR", "PR", "PD", "PD"],
        }
    )
    fig = figure_spider(changes, legend_title="Best overall response (confirmed)")
    assert [t.name for t in fig.data] == ["Partial response (PR)", "Progressive disease (PD)"]
    assert np.nanmax(fig.data[1].y) == 25.0
    assert fig.data[0].line.color != fig.data[1].line.color  # coloured by best response, not all grey
    assert fig.layout.legend.title.text == "Best overall response (confirmed)" and fig.layout.showlegend
