"""Tests for tkitrack.dashboards.layout: polylines, lane positions and marker dodging, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tkitrack.dashboards.layout import compute_line_arrays, compute_marker_offsets


def test_compute_line_arrays_interleaves_nan_separators():
    x, y, t = compute_line_arrays(
        np.array([0, 10]), np.array([4, 20]), np.array([1, 2]), np.array([1, 2]), np.array(["a", "b"], dtype=object)
    )
    np.testing.assert_array_equal(x, [0.0, 2.0, 4.0, np.nan, 10.0, 15.0, 20.0, np.nan])
    assert np.isnan(y[[3, 7]]).all() and y[4:7].tolist() == [2.0, 2.0, 2.0]
    assert t.tolist() == ["a", "a", "a", "", "b", "b", "b", ""]


@pytest.mark.parametrize(
    ("patient", "day", "tolerance", "expected"),
    [
        pytest.param(["A", "A"], [5, 5], 0, [-0.14, 0.14], id="same-day-pair"),
        pytest.param(["A", "B"], [5, 5], 0, [0.0, 0.0], id="other-patient"),
        pytest.param(["A", "A"], [5, 6], 0, [0.0, 0.0], id="next-day-no-tolerance"),
        pytest.param(["A", "A"], [5, 6], 1, [-0.14, 0.14], id="next-day-within-tolerance"),  # boundary: 1 <= 1
        pytest.param(["A", "A", "A"], [5, 5, 5], 0, [-0.28, 0.0, 0.28], id="three"),
        # five markers: spacing shrinks to 0.8 / 4 = 0.2 so the spread stays within the lane
        pytest.param(["A"] * 5, [1] * 5, 0, [-0.4, -0.2, 0.0, 0.2, 0.4], id="five"),
        pytest.param([], [], 0, [], id="none"),
    ],
)
def test_marker_offsets(patient, day, tolerance, expected):
    out = compute_marker_offsets(np.array(patient, dtype=object), np.array(day), tolerance=tolerance)
    assert out.tolist() == pytest.approx(expected)


def test_marker_offsets_follow_the_tie_order_and_input_order():
    # given in reverse kind order, placed by kind rank: rank 0 goes lowest
    out = compute_marker_offsets(np.array(["A", "A"], dtype=object), np.array([5, 5]), np.array([3, 0]))
    assert out.tolist() == pytest.approx([0.14, -0.14])
