"""Tests for tkitrack.dashboards.response: waterfall bars by best response, spider lines, RECIST lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tkitrack.dashboards.response import BARS_MAX, MARKED_POINTS_MAX, figure_spider, figure_waterfall


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


def _best(n: int) -> pd.DataFrame:
    responses = np.array(["CR", "PR", "SD", "PD", "NE"])
    return pd.DataFrame({"patient_id": [f"P{i:05d}" for i in range(n)],
                         "best_pct_change": np.linspace(-100.0, 80.0, n).round(2),
                         "best_response": responses[np.arange(n) % 5]})  # fmt: skip


@pytest.mark.parametrize(("patients", "filled"), [(BARS_MAX, False), (BARS_MAX + 1, True)])
def test_waterfall_draws_bars_up_to_2000_patients_then_one_filled_path_per_response(patients, filled):
    """A bar is an SVG element of its own (10,000 took about 1 s of the report's load in Chromium). Above
    2,000 patients each response's bars are one fill-only path: same traces, names, colours and patterns."""
    assert BARS_MAX == 2_000
    fig = figure_waterfall(_best(patients))
    bars = figure_waterfall(_best(5))  # the legend of the same responses, drawn as bars
    assert [t.name for t in fig.data] == [t.name for t in bars.data]
    assert {t.type for t in fig.data} == ({"scatter"} if filled else {"bar"})
    notes = " ".join(a.text for a in fig.layout.annotations if a.name == "footnotes")
    assert (f"{patients:,} patients: above 2,000 the bars" in notes) == filled
    for trace, bar in zip(fig.data, bars.data, strict=True):
        colour = trace.fillcolor if filled else trace.marker.color
        pattern = trace.fillpattern if filled else trace.marker.pattern
        assert colour == bar.marker.color and pattern.shape == bar.marker.pattern.shape
        if filled:
            assert (trace.mode, trace.fill, trace.hoveron, trace.hoverinfo) == ("none", "toself", "points", "text")
            bars_of = sum(_best(patients)["best_response"] == trace.hovertext[0][-2:])
            assert len(trace.x) == 6 * bars_of + bars_of - 1  # 6 vertices a bar, then back through the first ones
    if filled:
        assert list(fig.layout.xaxis.range) == [0.5, patients + 0.5]


def test_filled_bar_vertices_and_hover_text_hand_worked():
    """P2 at rank 2 with -45.0%: a rectangle 0.85 wide from 0 to -45, the bar template's text on each vertex."""
    best = _best(BARS_MAX + 1)
    best.loc[best["patient_id"] == "P00001", ["best_pct_change", "best_response"]] = [2.25, "SD"]
    fig = figure_waterfall(best)
    sd = next(t for t in fig.data if t.name == "Stable disease (SD)")
    ranked = best.sort_values(["best_pct_change", "patient_id"], ascending=[False, True]).reset_index(drop=True)
    rank = int(ranked.index[ranked["patient_id"] == "P00001"][0]) + 1
    at = list(sd.customdata).index("P00001")
    assert at % 6 == 0
    np.testing.assert_allclose(sd.x[at : at + 6], [rank - 0.425, rank - 0.425, rank, rank + 0.425, rank + 0.425,
                                                    rank - 0.425])  # fmt: skip
    np.testing.assert_allclose(sd.y[at : at + 6], [0, 2.25, 2.25, 2.25, 0, 0])
    # plotly's %{y:.1f} rounds a tie away from zero (2.25 -> 2.3), as the bar's label did
    assert list(sd.hovertext[at : at + 6]) == ["<b>P00001</b><br>best change 2.3%<br>SD"] * 6


@pytest.mark.browser
def test_filled_bar_hover_label_is_the_bars_in_chromium(tmp_path, chromium):
    """The same patients drawn as bars (2,000) and as a filled path (2,001): plotly shows the same label."""
    from tkitrack.dashboards.report import Section, write_report

    best = _best(BARS_MAX + 1)
    figs = [figure_waterfall(best.iloc[:BARS_MAX]), figure_waterfall(best)]
    path = write_report([Section("Waterfall", figures=figs)], tmp_path / "r.html", title="t", provenance={})
    labels = []
    with chromium.open(path, "fig-s1-2") as (page, _):
        for div, trace, point in (("fig-s1-1", 1, 3), ("fig-s1-2", 1, 3 * 6 + 1)):  # the 4th PR patient
            page.evaluate(f"Plotly.Fx.hover('{div}', [{{curveNumber: {trace}, pointNumber: {point}}}])")
            labels.append(chromium.hover_label(page, div))
        fills = page.evaluate("document.querySelectorAll('#fig-s1-2 .scatterlayer path.js-fill').length")
    assert labels[0] == labels[1] and labels[0][0].startswith("P0") and "best change" in labels[0][1]
    assert fills == 5  # one filled path per response


def _assessments(patients: int, per_patient: int = 3) -> pd.DataFrame:
    ids = np.repeat([f"P{i:05d}" for i in range(patients)], per_patient)
    day = np.tile(np.arange(per_patient) * 60, patients)
    change = np.where(day == 0, 0.0, -np.tile(np.arange(per_patient), patients) * 7.5 - (np.arange(len(ids)) % 11))
    return pd.DataFrame({"patient_id": ids, "day": day, "pct_change": change})


def test_spider_lines_above_2000_go_out_and_back_from_baseline_without_gaps():
    """All polylines start at baseline (day 0, 0%): above 2,000 assessments each goes out and back along itself,
    so the next starts where it began; one line, no gaps (plotly draws each piece between gaps as an element)."""
    changes = _assessments(667)  # 2,001 assessments
    fig = figure_spider(changes)
    (trace,) = fig.data
    x, y = np.asarray(trace.x, dtype="float64"), np.asarray(trace.y, dtype="float64")
    assert not np.isnan(x).any() and len(x) == 667 * 4  # 3 out, 1 back (the 2nd point) per patient
    first = changes[changes["patient_id"] == "P00000"]
    np.testing.assert_array_equal(x[:5], [0, 60, 120, 60, 0])
    np.testing.assert_array_equal(y[:4], [*first["pct_change"], first["pct_change"].iloc[1]])
    assert list(trace.customdata[:5]) == ["<b>P00000</b>"] * 4 + ["<b>P00001</b>"]
    # at 2,000 assessments (marked) the NaN-separated layout stays
    marked = figure_spider(changes.iloc[:2000])
    assert np.isnan(np.asarray(marked.data[0].x, dtype="float64")).any()


def test_spider_keeps_its_gaps_when_lines_do_not_share_a_start():
    changes = _assessments(667)
    changes.loc[changes.index[3], "pct_change"] = 5.0  # P00001's first point is not the others' start
    (trace,) = figure_spider(changes).data
    assert np.isnan(np.asarray(trace.x, dtype="float64")).sum() == 666


def test_out_and_back_spider_packs_once_and_unpacks_to_the_figure():
    from tkitrack.dashboards.compact import pack_figure, unpack_figure

    fig = figure_spider(_assessments(667))
    figure, packed = pack_figure(fig)
    assert packed["mirror"]["0"]["keys"] == ["customdata"]
    (rebuilt,) = unpack_figure(figure, packed)
    np.testing.assert_allclose(rebuilt["x"], np.asarray(fig.data[0].x, dtype="float64"))
    np.testing.assert_allclose(rebuilt["y"], np.asarray(fig.data[0].y, dtype="float64"), rtol=1e-6)
    assert list(rebuilt["customdata"]) == list(fig.data[0].customdata)
    assert figure["data"][0]["x"]["dtype"] == "i2"  # each polyline once: days as int16


@pytest.mark.browser
def test_out_and_back_spider_in_chromium_is_one_line_with_every_point(tmp_path, chromium):
    from tkitrack.dashboards.report import Section, write_report

    fig = figure_spider(_assessments(667))
    path = write_report([Section("Spider", figures=[fig])], tmp_path / "r.html", title="t", provenance={})
    with chromium.open(path) as (page, _):
        drawn = page.evaluate("(() => { const t = document.getElementById('fig-s1-1').data[0];"
                              " return [Array.from(t.x), Array.from(t.y), t.customdata]; })()")  # fmt: skip
        lines = page.evaluate("document.querySelectorAll('#fig-s1-1 .scatterlayer path.js-line').length")
        page.evaluate("Plotly.Fx.hover('fig-s1-1', [{curveNumber: 0, pointNumber: 6}])")
        label = chromium.hover_label(page, "fig-s1-1")
    assert lines == 1
    np.testing.assert_allclose(drawn[0], np.asarray(fig.data[0].x, dtype="float64"))
    np.testing.assert_allclose(drawn[1], np.asarray(fig.data[0].y, dtype="float64"), rtol=1e-6)
    assert drawn[2] == list(fig.data[0].customdata)
    y6 = float(fig.data[0].y[6])
    assert label == ["P00001", f"day {int(fig.data[0].x[6])}: {y6:+.1f}%"]


def test_spider_rows_in_any_order_give_the_figure_of_rows_in_order():
    """Rows already in patient and day order are not sorted again; rows out of order, ties on a day, a missing
    patient id or a day that is not a number are sorted as before: the same figure either way."""
    from tkitrack.dashboards.response import _in_order

    rows = pd.DataFrame({"patient_id": ["P2", "P1", "P1", "P2", "P1", "P10"], "day": [0, 60, 0, 30, 60, 0],
                         "pct_change": [0.0, -10.0, 0.0, 5.0, -12.0, 0.0],
                         "best_response": ["SD", "PR", "PR", "SD", "PR", "PD"]})  # fmt: skip
    ordered = rows.sort_values(["patient_id", "day"], kind="stable")
    assert not _in_order(rows["patient_id"], rows["day"]) and _in_order(ordered["patient_id"], ordered["day"])
    assert figure_spider(rows).to_json() == figure_spider(ordered).to_json()
    assert not _in_order(pd.Series(["A", None], dtype="string"), pd.Series([0, 1]))
    assert not _in_order(pd.Series(["A", "A"]), pd.Series(["0", "1"], dtype=object))
    assert not _in_order(pd.Series(["A", 1], dtype=object), pd.Series([0, 1]))
    assert _in_order(pd.Series(["A", "A", "B"], dtype="string"), pd.Series([3, 3, 0]))


def test_filled_bars_write_each_change_as_plotly_would():
    """The hover text of each bar: its change written as JavaScript's toFixed(1) does, each distinct change once."""
    from tkitrack.dashboards.response import _filled_bars, _fixed1

    part = pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "best_pct_change": [2.25, -2.25, 2.25, -0.04],
                         "rank": [1, 2, 3, 4]})  # fmt: skip
    text = _filled_bars(part, "PR")["hovertext"]
    firsts = [text[i * 6] for i in range(4)]
    assert firsts == [f"<b>{p}</b><br>best change {_fixed1(v)}%<br>PR"
                      for p, v in zip(part["patient_id"], part["best_pct_change"], strict=True)]  # fmt: skip
    assert [f.split("change ")[1].split("%")[0] for f in firsts] == ["2.3", "-2.3", "2.3", "0.0"]
