"""Swimmer above MARKER_LANES_MAX lanes: events as glyph paths, solid lane stretches as bars, the same legend; the
boundary on both sides, hand-worked glyph geometry, hover text, compact packing, and the drawing in Chromium."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from tkitrack.dashboards.compact import join_shapes, pack_figure, shape_columns, shape_period, unpack_figure
from tkitrack.dashboards.notes import FOOTNOTE_NAME
from tkitrack.dashboards.swimmer import MARKER_LANES_MAX, _glyph_trace, figure_swimmer, glyph_outline
from tkitrack.outcomes.swimmer import derive_swimmer_data

_spec = importlib.util.spec_from_file_location("_swimmer_cases", Path(__file__).with_name("test_swimmer.py"))
_cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cases)  # the synthetic cohorts of test_swimmer.py (its tests are not collected here)
make_records, make_swimmer = _cases.make_records, _cases.make_swimmer


@pytest.fixture(scope="module")
def at_limit():
    return figure_swimmer(make_swimmer(MARKER_LANES_MAX))


@pytest.fixture(scope="module")
def over_data():
    return make_swimmer(MARKER_LANES_MAX + 1)


@pytest.fixture(scope="module")
def over(over_data):
    return figure_swimmer(over_data)


def _footnote(fig) -> str:
    notes = [a.text for a in fig.layout.annotations if a.name == FOOTNOTE_NAME]
    return notes[0].replace("<br>", " ") if notes else ""


def _shapes(values) -> np.ndarray:
    """The vertices of a glyph path, one row per glyph (the way back through the first vertices dropped)."""
    a = np.asarray(values, dtype="float64")
    p = shape_period(a, np.zeros(len(a)))
    assert p is not None
    n = (len(a) + 1) // (p + 1)
    return a[: n * p].reshape(n, p)


def test_at_the_limit_events_are_markers_and_lanes_lines(at_limit):
    assert len(make_swimmer(MARKER_LANES_MAX).lanes) == MARKER_LANES_MAX
    modes = [t.mode for t in at_limit.data]
    assert set(modes) == {"lines", "markers"} and all(t.fill is None for t in at_limit.data)
    assert "drawn as filled shapes" not in _footnote(at_limit)


def test_one_lane_over_events_are_glyph_paths_with_the_same_legend(at_limit, over, over_data):
    assert len(over_data.lanes) == MARKER_LANES_MAX + 1
    # trace count, names, legend groups and group titles, colours: identical on both sides of the boundary
    assert [t.name for t in over.data] == [t.name for t in at_limit.data]
    assert [t.legendgroup for t in over.data] == [t.legendgroup for t in at_limit.data]
    assert [t.legendgrouptitle.text for t in over.data] == [t.legendgrouptitle.text for t in at_limit.data]
    for before, after in zip(at_limit.data, over.data, strict=True):
        if before.mode == "markers":
            assert (after.mode, after.fill, after.hoveron) == ("none", "toself", "points")
            assert after.fillcolor == before.marker.color
        else:  # lane stretches: bars of the line's colour, a dotted or dashed line's filled with dots or strokes
            assert (after.mode, after.fill, after.fillcolor) == ("none", "toself", before.line.color)
            shape = {None: None, "solid": None, "dot": ".", "dash": "|"}[before.line.dash]
            assert after.fillpattern.shape == shape and (shape is None or after.fillpattern.fillmode == "replace")
    # every event is one glyph
    events = sum(len(t.x) for t in at_limit.data if t.mode == "markers")
    n_events = len(over_data.markers) + int(over_data.lanes[["ongoing_treatment", "ongoing_response"]].to_numpy().sum()
                                            + (over_data.lanes["ongoing_followup"]
                                               & ~over_data.lanes["ongoing_treatment"]).sum())  # fmt: skip
    glyphs = sum(len(_shapes(t.x)) for t, b in zip(over.data, at_limit.data, strict=True) if b.mode == "markers")
    assert glyphs == n_events and events > 0
    note = _footnote(over)
    assert f"{MARKER_LANES_MAX + 1:,} lanes: above {MARKER_LANES_MAX:,} lanes the {n_events:,} events are drawn" in note
    assert "filled shapes of their marker's form and size" in note


def test_glyph_outlines_are_plotlys_marker_shapes():
    # hand-worked from plotly.js symbol_defs.js, r = size / 2 = 5
    assert glyph_outline("diamond", 5).tolist() == [[6.5, 0], [0, 6.5], [-6.5, 0], [0, -6.5], [6.5, 0]]
    assert glyph_outline("square", 5).tolist() == [[5, 5], [-5, 5], [-5, -5], [5, -5], [5, 5]]
    down = glyph_outline("triangle-down", 5)  # apex down (screen y grows downwards), top edge at -r/2
    np.testing.assert_allclose(down, [[-5.773503, -2.5], [5.773503, -2.5], [0, 5], [-5.773503, -2.5]], atol=1e-6)
    assert glyph_outline("arrow-right", 5).tolist() == [[0, 0], [-10, -5], [-10, 5], [0, 0]]  # tip at the point
    circle = glyph_outline("circle", 5)
    np.testing.assert_allclose(np.hypot(circle[:, 0], circle[:, 1]), 5.0)
    star = glyph_outline("star", 5)  # 10 points, outer radius 1.4 r
    assert len(star) == 11 and np.isclose(np.hypot(star[:, 0], star[:, 1]).max(), 7.0, rtol=2e-4)
    # drawn by a 2 px stroke in plotly: a filled cross 2 px wide, a triangle ring 1 px either side of the outline
    thin = glyph_outline("x-thin", 5, 2.0)
    assert np.isclose(np.abs(thin).max(), 5 + np.sqrt(0.5)) and len(thin) == 13
    ring = glyph_outline("triangle-right-open", 5, 2.0)
    assert np.isclose(ring[:, 0].max(), 5 * (1 + 1 / 2.5)) and np.isclose(ring[4:, 0].max(), 5 * (1 - 1 / 2.5))
    with pytest.raises(ValueError, match="no glyph"):
        glyph_outline("pentagon", 5)


def test_a_glyph_in_data_units_for_a_known_scale():
    """A diamond of size 10 at (day 100, lane 3) with 2 days and 0.1 lane per pixel: from the centre to the
    vertices 6.5 px out and back to the centre."""
    markers = go.Scatter(x=[100], y=[3], hovertext=["<b>P1</b><br>day 100<br>PR"], customdata=["P1\tassessment\t3"],
                         mode="markers", name="Partial response (first)",
                         marker={"symbol": "diamond", "color": "#56B4E9", "size": 10, "line": {"width": 0.3}})  # fmt: skip
    glyph = _glyph_trace(markers, (2.0, 0.1))
    np.testing.assert_allclose(glyph.x, [100, 113, 100, 87, 100, 113, 100])
    np.testing.assert_allclose(glyph.y, [3, 3, 3.65, 3, 2.35, 3, 3])
    assert list(glyph.hovertext) == ["<b>P1</b><br>day 100<br>PR"] * 7
    assert list(glyph.customdata) == ["P1\tassessment\t3"] * 7
    # two events: the second glyph follows the first, then the path goes back to the first centre
    markers.update(x=[100, 200], y=[3, 5], hovertext=["a", "b"], customdata=["k", "l"])
    two = _glyph_trace(markers, (2.0, 0.1))
    np.testing.assert_allclose(two.x, [100, 113, 100, 87, 100, 113, 100, 200, 213, 200, 187, 200, 213, 200, 100])
    assert list(two.hovertext) == ["a"] * 7 + ["b"] * 7 + ["a"]


def test_glyph_size_follows_the_axis_ranges_and_the_figures_pixels(over):
    """Surgery squares at 1,001 lanes: lane 3000/1001 px, marker 9 x 0.35 = 3.15 px, half-side 1.575 px.

    Plot area: 3,000 px tall for 1,001 lanes. Width: the legend's widest text is the 57-character lanes title,
    57 x 6 = 342 px, so the x axis is (1100 - 90 - 342 - 12) / 1.02 = 643.137 px across its range."""
    surgery = next(t for t in over.data if t.name == "Surgery")
    xs, ys = _shapes(surgery.x), _shapes(surgery.y)
    span = over.layout.xaxis.range[1] - over.layout.xaxis.range[0]
    assert over.layout.height - over.layout.margin.t - over.layout.margin.b == 3000
    half_x, half_y = 1.575 * span / ((1100 - 90 - 342 - 12) / 1.02), 1.575 * 1001 / 3000
    centre_x, centre_y = xs[:, :1], ys[:, :1]  # first and last vertex: the event's own point
    np.testing.assert_allclose(xs[:, 1:5].mean(axis=1, keepdims=True), centre_x)
    square_x, square_y = (
        [0, half_x, -half_x, -half_x, half_x, half_x, 0],
        [0, half_y, half_y, -half_y, -half_y, half_y, 0],
    )
    np.testing.assert_allclose(xs - centre_x, np.broadcast_to(square_x, xs.shape), atol=1e-9)
    np.testing.assert_allclose(ys - centre_y, np.broadcast_to(square_y, ys.shape), atol=1e-9)


def test_glyph_hover_text_is_the_markers(at_limit, over):
    """The same event (same patient, day, kind) carries the same hover text as glyph vertex and as marker."""
    for before, after in zip(at_limit.data, over.data, strict=True):
        if before.mode != "markers":
            continue
        n, p = len(_shapes(after.x)), _shapes(after.x).shape[1]
        glyph_text = np.asarray(after.hovertext, dtype=object)[: n * p].reshape(n, p)
        assert (glyph_text == glyph_text[:, :1]).all()
        shared = set(before.hovertext) & set(glyph_text[:, 0])  # P00000-P00999 are the same patients on both sides
        assert len(shared) >= 0.99 * len(before.hovertext), before.name


def test_glyph_text_equals_marker_text_for_one_event():
    """One patient's AE drawn as a marker (10 lanes) and as a glyph (one over the limit): the same label."""
    small, large = make_swimmer(10), make_swimmer(MARKER_LANES_MAX + 1)
    marker = next(t for t in figure_swimmer(small).data if t.name == "AE onset, grade 1")
    glyph = next(t for t in figure_swimmer(large).data if t.name == "AE onset, grade 1")
    first = marker.hovertext[0]
    assert first.startswith("<b>P00000</b>")
    assert list(glyph.hovertext[: len(glyph_outline("circle", 1)) + 2]) == [first] * (
        len(glyph_outline("circle", 1)) + 2
    )
    assert glyph.hovertext[len(glyph_outline("circle", 1)) + 2] != first  # the next patient's AE


def test_glyph_and_bar_paths_pack_small_and_unpack_to_the_figure(over):
    figure, packed = pack_figure(over)
    shapes = packed["glyphs"]
    assert {over.data[int(t)].name for t in shapes} == {t.name for t in over.data if t.mode == "none"}
    data = unpack_figure(figure, packed)
    for original, rebuilt in zip(over.data, data, strict=True):
        if original.mode != "none":
            continue  # lines are packed as before (their gaps in one axis only)
        for key in ("x", "y"):  # float32 in long traces: 7 significant digits
            np.testing.assert_allclose(rebuilt[key], np.asarray(original[key], dtype="float64"), rtol=2e-7, atol=1e-9)
        if original.hovertext is not None:
            assert list(rebuilt["hovertext"]) == list(original.hovertext)
    # a glyph path goes as one value per glyph and axis (its position), a bar as its ends, its middle and its lane
    surgery = next(t for t, props in shapes.items() if over.data[int(t)].name == "Surgery")
    assert (len(shapes[surgery]["x"]["cols"]), len(shapes[surgery]["y"]["cols"])) == (1, 1)
    assert shapes[surgery]["x"]["cols"][0]["dtype"] == "i2"  # whole days: glyph offsets moved to "off"
    off = next(t for t in shapes if over.data[int(t)].name == "Off treatment")
    assert (len(shapes[off]["x"]["cols"]), len(shapes[off]["y"]["cols"])) == (3, 1)


def test_shape_columns_and_period_boundaries():
    x, y = join_shapes(np.array([[0, 1, 2, 0], [5, 6, 7, 5]]), np.array([[0, 1, 1, 0], [3, 4, 4, 3]]))
    assert x.tolist() == [0, 1, 2, 0, 5, 6, 7, 5, 0] and shape_period(x, y) == 4
    assert shape_period(x[:-1], y[:-1]) is None  # no way back
    bad = x.copy()
    bad[-1] = 1  # back to a point that is not the first shape's start
    assert shape_period(bad, y) is None
    with_gap = x.astype(float)
    with_gap[4] = np.nan
    assert shape_period(with_gap, y) is None
    cols, src, off = shape_columns(np.array([[0.5, 1.5], [3.5, 4.5]]))
    assert [c.tolist() for c in cols] == [[0.0, 3.0]] and src == [0, 0] and off == [0.5, 1.5]
    cols, src, off = shape_columns(np.array([[0.0, 1.0], [3.0, 7.0]]))  # second vertex not a fixed offset
    assert len(cols) == 2 and src == [0, 1]


def test_a_glyph_path_with_varying_text_inside_a_glyph_is_not_packed():
    n = 40
    base = np.arange(n, dtype=float)[:, None]
    x, y = join_shapes(np.add(base, [0, 0.5, 0.25, 0]), np.add(base, [0, 0, 1, 0]))
    text = np.repeat(np.array([f"P{i}" for i in range(n)], dtype=object)[:, None], 4, axis=1)
    (same,) = join_shapes(text)
    text[:, 1] = "other"
    (varying,) = join_shapes(text)
    _, packed = pack_figure(go.Figure(go.Scatter(x=x, y=y, hovertext=varying, mode="none", fill="toself")))
    assert "glyphs" not in packed
    _, packed = pack_figure(go.Figure(go.Scatter(x=x, y=y, hovertext=same, mode="none", fill="toself")))
    assert packed["glyphs"]["0"]["period"] == 4


def test_web_swimmer_parts_stay_markers():
    """The web app's swimmer parts are autosized (no fixed pixel width to size glyphs by): never over the limit."""
    from tkitrack.dashboards.web.figures import SWIMMER_CHUNK

    assert SWIMMER_CHUNK <= MARKER_LANES_MAX


@pytest.mark.browser
def test_glyphs_in_chromium_are_square_marker_sized_and_hover_their_event(tmp_path, chromium):
    """Over the limit with one surgery: its square's drawn box is as wide as tall, about the marker's 3.15 px (the
    width depends on the legend's real width, estimated); the mouse over it shows that event's hover text."""
    from tkitrack.dashboards.report import Section, write_report

    r = make_records(MARKER_LANES_MAX + 1)
    procedure = r["procedure"].iloc[[0]]
    fig = figure_swimmer(derive_swimmer_data(r["patients"], r["exposure"], r["assessment"], r["disease_event"],
                                             procedure, r["followup"], r["ae"]))  # fmt: skip
    index = next(i for i, t in enumerate(fig.data) if t.name == "Surgery")
    expected = fig.data[index].hovertext[0]
    path = write_report([Section("Swimmer", figures=[fig])], tmp_path / "report.html", title="t", provenance={})
    with chromium.open(path) as (page, errors):
        box = page.evaluate(
            f"(() => {{ const p = document.querySelectorAll('#fig-s1-1 .scatterlayer g.trace')[{index}]"
            ".querySelector('path.js-fill'); p.scrollIntoView({block: 'center'});"
            " const r = p.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })()"
        )
        counts = page.evaluate("[document.querySelectorAll('#fig-s1-1 path.point').length,"
                               " document.querySelectorAll('#fig-s1-1 path.js-fill').length]")  # fmt: skip
        page.mouse.move(box[0] + box[2] / 2, box[1] + box[3] / 2)
        page.wait_for_timeout(300)
        label = chromium.hover_label(page, "fig-s1-1")
    assert errors == []
    assert counts[0] == 0  # no marker is an SVG element of its own
    width, height = box[2], box[3]
    assert abs(width / height - 1) < 0.08, (width, height)
    assert 2.8 < height < 3.6, height  # 3.15 px, antialiasing aside
    assert label == [re.sub("<[^>]+>", "", line) for line in expected.split("<br>")]


@pytest.mark.parametrize("lanes", [MARKER_LANES_MAX, MARKER_LANES_MAX + 1], ids=["markers", "glyphs"])
def test_without_record_keys_the_figure_is_the_same_but_for_customdata(lanes):
    data = make_swimmer(lanes)
    keyed, bare = figure_swimmer(data), figure_swimmer(data, record_keys=False)
    assert all(t.customdata is not None for t in keyed.data if t.hovertext is not None)
    assert [t.customdata for t in bare.data] == [None] * len(bare.data)
    import json

    from plotly.utils import PlotlyJSONEncoder

    strip = [{k: v for k, v in t.items() if k != "customdata"} for t in keyed.to_dict()["data"]]
    assert json.dumps(strip, cls=PlotlyJSONEncoder) == json.dumps(bare.to_dict()["data"], cls=PlotlyJSONEncoder)
    assert keyed.layout == bare.layout
