"""Tests for tkitrack.dashboards.compact: packed hover details give back the very strings, in Python and in
Chromium; the report inlines the smallest plotly.js bundle that draws its figures; long listings are cut."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly
import plotly.graph_objects as go
import pytest

from tkitrack.dashboards.compact import (
    BASIC_TRACE_TYPES,
    MIN_PACKED,
    PackedFigure,
    figure_html,
    mirror_lines,
    pack_figure,
    plotly_bundle,
    unpack_strings,
)
from tkitrack.dashboards.pubtable import PubTable
from tkitrack.dashboards.report import MAX_LISTING_ROWS, Section, write_report
from tkitrack.dashboards.swimmer import figure_swimmer
from tkitrack.outcomes.cohort import derive_swimmer_from_records


@pytest.fixture(scope="module")
def swimmer(cohort_frames):
    return figure_swimmer(derive_swimmer_from_records(cohort_frames, ae_min_grade=1), title="Swimmer")


def _as_list(values) -> list:
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values]


def test_packed_hover_text_unpacks_to_the_figure_strings(swimmer):
    figure, packed = pack_figure(swimmer)
    assert packed["traces"], "the swimmer's hover text is long enough to pack"
    for trace, keys in packed["traces"].items():
        original = swimmer.data[int(trace)]
        assert "hovertext" not in figure["data"][int(trace)]
        for key, parts in keys.items():
            assert unpack_strings(packed["tables"], parts) == _as_list(original[key]), (trace, key)
    # nothing reads the record keys in a static page: they are not written
    assert all("customdata" not in t for t in figure["data"])
    # every distinct string is written once, whatever the number of points
    for table in packed["tables"]:
        assert len(table) == len(set(table))


def test_a_consumed_figure_packs_the_same_and_keeps_no_array(cohort_frames):
    """``consume`` (the report: the figure is drawn no more) unsets the figure's arrays once read, so that they are
    freed as they are packed; what is packed is the same, and so is the page's HTML of the packed figure."""
    data = derive_swimmer_from_records(cohort_frames, ae_min_grade=1)
    kept, consumed = (figure_swimmer(data, title="Swimmer") for _ in range(2))
    assert json.dumps(pack_figure(consumed, consume=True), default=str) == json.dumps(pack_figure(kept), default=str)
    assert any(isinstance(v, (np.ndarray, tuple)) for t in kept.data for v in (t[n] for n in t))
    assert not any(isinstance(v, (np.ndarray, tuple)) for t in consumed.data for v in (t[n] for n in t))
    assert [t.name for t in consumed.data] == [t.name for t in kept.data]  # the traces stay, emptied
    again = figure_swimmer(data, title="Swimmer")
    packed = PackedFigure.of(again, consume=True)
    assert packed.trace_types == {t.type for t in kept.data}
    assert (packed.width, packed.height) == (kept.layout.width, kept.layout.height)
    assert figure_html(packed, "f", {}) == figure_html(kept, "f", {})


def test_short_arrays_and_mixed_values_stay_as_they_are():
    short = ["<b>P1</b>"] * (MIN_PACKED - 1)
    mixed = ["a"] * MIN_PACKED + [3]
    fig = go.Figure([go.Scatter(x=np.arange(len(short)), y=np.arange(len(short)), hovertext=short),
                     go.Scatter(x=np.arange(len(mixed)), y=np.arange(len(mixed)), customdata=mixed,
                                hovertemplate="%{customdata}")])  # fmt: skip
    figure, packed = pack_figure(fig)
    assert packed["traces"] == {}
    assert figure["data"][0]["hovertext"] == short and list(figure["data"][1]["customdata"]) == mixed


def test_exactly_min_packed_strings_are_packed_and_customdata_a_template_reads_is_kept():
    values = [f"<b>P{i % 3}</b><br>day {i}" for i in range(MIN_PACKED)]
    fig = go.Figure(go.Scatter(x=np.arange(MIN_PACKED), y=np.zeros(MIN_PACKED), customdata=values,
                               hovertemplate="%{customdata}<extra></extra>"))  # fmt: skip
    figure, packed = pack_figure(fig)
    assert unpack_strings(packed["tables"], packed["traces"]["0"]["customdata"]) == values
    assert (
        "customdata" not in figure["data"][0] and figure["data"][0]["hovertemplate"] == "%{customdata}<extra></extra>"
    )
    assert packed["tables"][0] == [None, "<b>P0</b>", "<b>P1</b>", "<b>P2</b>"]


def test_coordinates_go_as_float32_only_when_exact_in_small_traces():
    exact = np.arange(MIN_PACKED, dtype=float) / 4  # quarters: float32 holds them exactly
    inexact = exact + 0.1
    fig = go.Figure([go.Scatter(x=exact, y=inexact)])
    figure, _ = pack_figure(fig)
    assert figure["data"][0]["x"]["dtype"] == "f4" and figure["data"][0]["y"]["dtype"] == "f8"
    figure, _ = pack_figure(fig, lossy_points=MIN_PACKED)  # a big trace: both go as float32
    assert figure["data"][0]["y"]["dtype"] == "f4"


def test_bundle_is_basic_when_every_trace_is_scatter_bar_or_pie(swimmer):
    name, source = plotly_bundle([swimmer, go.Figure(go.Bar(x=[1], y=[2]))])
    assert name == "plotly.js basic"
    version = plotly.offline.get_plotlyjs_version()  # the bundle is of the version plotly.py draws for
    assert f"plotly.js (basic - minified) v{version}" in source[:300]
    assert len(source) < len(plotly.offline.get_plotlyjs()) / 3
    name, source = plotly_bundle([swimmer, go.Figure(go.Heatmap(z=[[1, 2]]))])
    assert name == "plotly.js" and source == plotly.offline.get_plotlyjs()
    assert {"scatter", "bar", "pie"} == BASIC_TRACE_TYPES


def _listing(n: int) -> PubTable:
    import pandas as pd

    return PubTable.from_frame(
        "stopped", "Everyone who stopped", pd.DataFrame({"Patient": [f"P{i:04d}" for i in range(n)]})
    )


@pytest.mark.parametrize(
    ("rows", "shown", "cut"),
    [
        pytest.param(MAX_LISTING_ROWS, MAX_LISTING_ROWS, False, id="at-the-limit-all-shown"),
        pytest.param(MAX_LISTING_ROWS + 1, MAX_LISTING_ROWS, True, id="one-over-cut"),
    ],
)
def test_long_listings_show_their_first_rows_and_say_so(tmp_path, rows, shown, cut):
    path = write_report([Section("Listing", tables=[_listing(rows)])], tmp_path / "r.html", title="t", provenance={})
    page = path.read_text()
    assert len(re.findall(r">P\d{4}<", page)) == shown
    note = f"The report shows the first {MAX_LISTING_ROWS:,} of {rows:,} rows"
    assert (note in page) is cut


@pytest.mark.browser
def test_report_in_chromium_shows_the_hover_details(swimmer, tmp_path, chromium):
    path = write_report([Section("Swimmer", figures=[swimmer])], tmp_path / "report.html", title="t", provenance={})
    page_text = path.read_text()
    assert "plotly.js (basic - minified)" in page_text
    with chromium.open(path) as (page, errors):
        drawn = page.evaluate("JSON.stringify(document.getElementById('fig-s1-1').data.map(t => t.hovertext))")
        # hover a marker the way a reader does (plotly's documented Fx.hover) and read the label shown
        marker = next(i for i, t in enumerate(swimmer.data) if t.mode == "markers")
        page.evaluate(f"Plotly.Fx.hover('fig-s1-1', [{{curveNumber: {marker}, pointNumber: 0}}])")
        label = chromium.hover_label(page, "fig-s1-1")
    assert errors == []
    assert json.loads(drawn) == [_as_list(t.hovertext) for t in swimmer.data]
    expected = swimmer.data[marker].hovertext[0]
    assert label == [re.sub("<[^>]+>", "", line) for line in expected.split("<br>")]


def _decoded(value: dict) -> np.ndarray:
    import base64

    return np.frombuffer(
        base64.b64decode(value["bdata"]),
        dtype={"i1": "i1", "u1": "u1", "i2": "<i2", "u2": "<u2", "i4": "<i4", "u4": "<u4", "f4": "<f4", "f8": "<f8"}[
            value["dtype"]
        ],
    )


@pytest.mark.parametrize(
    ("top", "dtype"), [pytest.param(2**15 - 1, "i2", id="int16-max"), pytest.param(2**15, "i4", id="past-int16")]
)
def test_whole_number_axis_goes_as_integers_and_the_other_axis_keeps_the_gaps(top, dtype):
    # segments [start, end, gap] as a swimmer draws them: days whole, lanes fractional
    n = MIN_PACKED
    x = np.array([[i, top, np.nan] for i in range(n)], dtype=float).ravel()
    y = np.array([[i + 0.5, i + 0.5, np.nan] for i in range(n)], dtype=float).ravel()
    figure, _ = pack_figure(go.Figure(go.Scatter(x=x, y=y, mode="lines")))
    xs, ys = figure["data"][0]["x"], figure["data"][0]["y"]
    assert xs["dtype"] == dtype and ys["dtype"] in ("f4", "f8")
    got_x, got_y = _decoded(xs), _decoded(ys)
    assert np.isnan(got_y[2::3]).all()  # the line still breaks after every segment
    np.testing.assert_array_equal(got_x[~np.isnan(x)], x[~np.isnan(x)])
    np.testing.assert_array_equal(got_x[2::3], got_x[1::3])  # a gap takes the value before it
    np.testing.assert_array_equal(got_y, y.astype(got_y.dtype))


def test_gaps_in_one_axis_only_keep_it_float():
    n = MIN_PACKED
    x = np.arange(n, dtype=float)
    x[5] = np.nan  # a gap in x alone: turning x into integers would join the line there
    y = np.arange(n, dtype=float) + 0.25
    figure, _ = pack_figure(go.Figure(go.Scatter(x=x, y=y)))
    assert figure["data"][0]["x"]["dtype"] in ("f4", "f8") and np.isnan(_decoded(figure["data"][0]["x"])[5])


def test_a_figure_written_as_html_is_packed_like_the_report_s():
    """`tkitrack swimmer/plot -o FILE.html` write through write_figure: hover text once per distinct string and
    typed coordinates, not plotly's to_html (a 10,000-patient swimmer was 131 MiB that way)."""
    from tkitrack.dashboards.compact import standalone_html

    label = "patient SYN-00001<br>crizotinib 280 mg BID<br>day 0-365"
    fig = go.Figure(go.Scatter(x=np.arange(20_000), y=np.arange(20_000) % 7, mode="markers",
                               hovertext=[label] * 20_000, name="events"))  # fmt: skip
    page = standalone_html(fig)
    plain = fig.to_html(include_plotlyjs=False, full_html=False)
    assert page.count("crizotinib 280 mg BID") == 1 and plain.count("crizotinib 280 mg BID") == 20_000
    assert "plotly.js (basic - minified)" in page and 'tkPlot("figure"' in page


def test_a_figure_file_draws_in_chromium_with_its_hover_details(swimmer, tmp_path, chromium):
    from tkitrack.dashboards.report import write_figure

    path = write_figure(swimmer, tmp_path / "swimmer.html")
    with chromium.open(path, "figure") as (page, errors):
        drawn = page.evaluate("JSON.stringify(document.getElementById('figure').data.map(t => t.hovertext))")
        title = page.title()
    assert errors == []
    assert json.loads(drawn) == [_as_list(t.hovertext) for t in swimmer.data]
    assert title == swimmer.layout.title.text


def test_mirror_lines_lays_each_polyline_out_and_back_single_points_included():
    # hand-worked: 3 points out and back to the second (0 1 2 1), a single point once (3), 2 points out only (4 5)
    assert mirror_lines(np.array([3, 1, 2])).tolist() == [0, 1, 2, 1, 3, 4, 5]
    assert mirror_lines(np.array([4])).tolist() == [0, 1, 2, 3, 2, 1]


def _plain(value):
    """plotly JSON with every typed array decoded to a list of numbers (integer widths aside), tuples as lists."""
    if isinstance(value, dict) and {"dtype", "bdata"} <= set(value) and "shape" not in value:
        return _plain(_decoded(value).astype("float64"))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.astype("float64").tolist() if value.dtype.kind in "fiu" else value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return None if isinstance(value, float) and np.isnan(value) else value


def _make_swimmer(n: int):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_tkitrack_test_swimmer", Path(__file__).with_name("test_swimmer.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_swimmer(n)


def test_figure_dict_is_to_dict_without_the_copy(cohort_frames):
    """Every figure of the cohort report and a glyph-drawn swimmer (over the lane limit): the same JSON as
    plotly's own ``to_dict``, trace by trace and key by key, with the figure's arrays read, not copied."""
    from tkitrack.dashboards.cohort_report import build_cohort_sections
    from tkitrack.dashboards.compact import figure_dict
    from tkitrack.dashboards.swimmer import MARKER_LANES_MAX

    figures = [f for s in build_cohort_sections(cohort_frames) for f in s.figures]
    figures.append(figure_swimmer(_make_swimmer(MARKER_LANES_MAX + 1)))
    assert len(figures) >= 9
    for fig in figures:
        ours, plotly_s = figure_dict(fig), fig.to_dict()
        assert [sorted(t) for t in ours["data"]] == [sorted(t) for t in plotly_s["data"]]
        assert _plain(ours) == _plain(plotly_s)
    glyphs = figure_dict(figures[-1])["data"][0]
    assert glyphs["hovertext"] is figures[-1].data[0].hovertext  # read, not copied


def test_parts_of_repeated_strings_missing_values_and_uneven_widths_are_those_of_each_cell():
    """Each distinct string is split once: the parts are still each cell's own, a missing cell (None or NaN)
    gives no part, a shorter string none past its end, an empty string one empty part."""
    import pandas as pd

    from tkitrack.dashboards.compact import _string_parts
    from tkitrack.schemas.distinct import spread

    cells = ["<b>P1</b>", None, "<b>P1</b><br>day 3", "", float("nan"), "<b>P2</b><br>day 3<br>G2", "<b>P1</b>"]
    values = np.array(cells * (MIN_PACKED // len(cells) + 1), dtype=object)
    cells_codes, distinct_parts = _string_parts(values)
    parts = [pd.Series(spread(p, cells_codes)) for p in distinct_parts]
    assert len(parts) == 3 and all(len(p) == len(values) for p in parts)
    assert len(distinct_parts[0]) == 4  # each distinct string once
    expected = [["<b>P1</b>", None, "<b>P1</b>", "", None, "<b>P2</b>", "<b>P1</b>"],
                [None, None, "day 3", None, None, "day 3", None],
                [None, None, None, None, None, "G2", None]]  # fmt: skip
    for part, want in zip(parts, expected, strict=True):
        assert _as_list(part.tolist()[: len(cells)]) == want
        assert _as_list(part.tolist()) == want * (len(values) // len(cells))
    _, packed = pack_figure(go.Figure(go.Scatter(x=np.arange(len(values)), y=np.zeros(len(values)),
                                                      hovertext=values)))  # fmt: skip
    assert unpack_strings(packed["tables"], packed["traces"]["0"]["hovertext"]) == _as_list(values)
    # one value that is not text (a number among the strings): nothing is packed
    assert _string_parts(np.array([*values[:-1], 3], dtype=object)) is None


def test_parts_of_strings_utf_8_cannot_hold_are_split_the_same_way():
    """A lone surrogate (no UTF-8 for it) is split in Python, into the same parts; all-missing cells give one
    part of nothing."""
    from tkitrack.dashboards.compact import _split_parts

    strings = np.array(["a<br>\ud800", "é", "<br><br>x"], dtype=object)
    assert [p.tolist() for p in _split_parts(strings)] == [["a", "é", ""], ["\ud800", None, ""], [None, None, "x"]]
    assert [p.tolist() for p in _split_parts(strings[1:])] == [["é", ""], [None, ""], [None, "x"]]
    assert [p.tolist() for p in _split_parts(np.array([], dtype=object))] == [[]]


def test_add_trace_gives_the_figure_plotly_s_add_trace_gives_without_copying_strings(monkeypatch):
    """Same JSON, key for key and in the same order, as ``fig.add_trace``, for text in each of the three
    properties, a trace type without text arrays, and a subplot's row and column; plotly's deep copy of the
    trace sees no array of strings."""
    import plotly.basedatatypes
    from plotly.subplots import make_subplots

    from tkitrack.dashboards.compact import add_trace

    text = np.array([f"<b>P{i % 7}</b><br>day {i}" for i in range(100)], dtype=object)

    def traces():
        return [
            go.Scatter(x=np.arange(100.0), y=np.ones(100), hovertext=text, customdata=text, text=text,
                       mode="lines", line={"color": "#555555"}, hovertemplate="%{customdata}<extra></extra>"),
            go.Bar(x=["a", "b"], y=[1, 2], text=["1", "2"], name="bars"),
            go.Scatter(x=[1.0, 2.0], y=[3.0, 4.0], hovertext="same for every point"),
        ]  # fmt: skip

    copied = []
    deepcopy = plotly.basedatatypes.deepcopy

    def watched(value, *args):
        if isinstance(value, dict):
            copied.extend(k for k, v in value.items() if isinstance(v, np.ndarray) and v.dtype == object)
        return deepcopy(value, *args)

    for make, kwargs in ((go.Figure, {}), (lambda: make_subplots(rows=2, cols=1), {"row": 2, "col": 1})):
        ours, plotly_s = make(), make()
        with monkeypatch.context() as m:
            m.setattr(plotly.basedatatypes, "deepcopy", watched)
            for trace in traces():
                add_trace(ours, trace, **kwargs)
        assert copied == []
        for trace in traces():
            plotly_s.add_trace(trace, **kwargs)
        assert json.dumps(ours.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder) == json.dumps(
            plotly_s.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder
        )
        assert ours.data[0].hovertext.tolist() == text.tolist() and ours.data[0].yaxis == plotly_s.data[0].yaxis
    # the spy sees what plotly's own add_trace copies
    with monkeypatch.context() as m:
        m.setattr(plotly.basedatatypes, "deepcopy", watched)
        go.Figure().add_trace(traces()[0])
    assert sorted(copied) == ["customdata", "hovertext", "text"]


def test_script_json_is_plotly_s_json_with_and_without_nan():
    """Written once when no number is NaN or infinite (a string may say "NaN"), by plotly's encoder otherwise:
    the same text as plotly's encoder either way, NaN and infinities as null."""
    from plotly.utils import PlotlyJSONEncoder

    from tkitrack.dashboards.compact import _script_json

    def plotly_s(value):
        text = json.dumps(value, cls=PlotlyJSONEncoder, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

    finite = {"b": "NaNa</script>", "x": np.array([1.5, 2.0]), "t": ["é", 1, None], 2: {"y": -0.0}}
    with_nan = {**finite, "z": [float("nan"), float("inf")], "w": np.array([np.nan])}
    assert _script_json(finite) == plotly_s(finite)
    assert _script_json(with_nan) == plotly_s(with_nan)
    assert '"z":[null,null],"w":[null]' in _script_json(with_nan)


def test_split_parts_is_the_same_with_numpy_s_partition_and_without_it(monkeypatch):
    """numpy before 2.1 has no ``np.strings.partition``: strings are split in Python, into the same parts (with a
    newer numpy both ways are run)."""
    import tkitrack.dashboards.compact as compact

    strings = np.array(["a<br>b", "", "<br>", "a<br><br>b<br>", "no separator"], dtype=object)
    expected = [
        ["a", "", "", "a", "no separator"],
        ["b", None, "", "", None],
        [None, None, None, "b", None],
        [None, None, None, "", None],
    ]
    for numpy_partition in sorted({False, compact._NUMPY_PARTITION}):
        monkeypatch.setattr(compact, "_NUMPY_PARTITION", numpy_partition)
        assert [p.tolist() for p in compact._split_parts(strings)] == expected, numpy_partition
