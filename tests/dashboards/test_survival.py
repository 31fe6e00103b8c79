"""Tests for tkitrack.dashboards.survival: at-risk numbers at each tick, shared axes, censor marks, medians."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tkitrack.dashboards.survival import (
    CENSOR_MARKS_MAX,
    compute_at_risk,
    compute_step_value,
    compute_time_ticks,
    figure_cif,
    figure_km,
)
from tkitrack.schemas.errors import InputError


def km_curves() -> dict[str, pd.DataFrame]:
    """Hand-built Kaplan-Meier tables.

    A: 5 patients, events at 2, 4, 8; censored at 3, 6.  B: 3 patients, event at 1; censored at 5, 10.
    """
    a = pd.DataFrame(
        {
            "time": [0, 2, 3, 4, 6, 8],
            "n_risk": [5, 5, 4, 3, 2, 1],
            "n_event": [0, 1, 0, 1, 0, 1],
            "n_censor": [0, 0, 1, 0, 1, 0],
            "survival": [1.0, 0.8, 0.8, 0.8 * 2 / 3, 0.8 * 2 / 3, 0.0],
        }
    )
    a["lower"], a["upper"] = a["survival"] * 0.7, np.minimum(1.0, a["survival"] * 1.2)
    b = pd.DataFrame(
        {
            "time": [0, 1, 5, 10],
            "n_risk": [3, 3, 2, 1],
            "n_event": [0, 1, 0, 0],
            "n_censor": [0, 0, 1, 1],
            "survival": [1.0, 2 / 3, 2 / 3, 2 / 3],
        }
    )
    b["lower"], b["upper"] = b["survival"] * 0.6, np.minimum(1.0, b["survival"] * 1.3)
    return {"A": a, "B": b}


@pytest.fixture
def curves() -> dict[str, pd.DataFrame]:
    return km_curves()


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        pytest.param(0, 5, id="origin"),
        pytest.param(1, 5, id="before-first-event"),
        pytest.param(2, 5, id="at-event"),
        pytest.param(2.5, 4, id="between"),
        pytest.param(5, 2, id="after-censor"),
        pytest.param(8, 1, id="last"),
        pytest.param(9, 0, id="after-last"),
    ],
)
def test_at_risk_matches_hand_counts(curves, t, expected):
    # hand count: patients A with follow-up time >= t among 2, 3, 4, 6, 8
    assert sum(x >= t for x in (2, 3, 4, 6, 8)) == expected
    assert compute_at_risk(curves["A"], [t]).tolist() == [expected]


def test_time_ticks_and_step_value(curves):
    assert compute_time_ticks(10).tolist() == [0, 2, 4, 6, 8, 10]
    assert compute_time_ticks(0).tolist() == [0]
    assert compute_step_value(curves["A"], "survival", [1.9, 2, 5]) == pytest.approx([1.0, 0.8, 0.8 * 2 / 3])


def test_risk_table_shares_the_tick_values(curves):
    fig = figure_km(curves)
    ticks = [0, 2, 4, 6, 8, 10]
    assert list(fig.layout.xaxis.tickvals) == ticks and list(fig.layout.xaxis2.tickvals) == ticks
    assert fig.layout.xaxis.matches == "x2"  # make_subplots(shared_xaxes=True): one zoom for both rows
    table = {t.legendgroup: t for t in fig.data if t.mode == "text"}
    assert list(table["A"].x) == ticks and list(table["A"].text) == ["5", "5", "3", "2", "1", "0"]
    assert list(table["B"].text) == ["3", "2", "2", "1", "1", "1"]
    assert table["A"].xaxis == "x2" and table["A"].yaxis == "y2"
    assert list(fig.layout.yaxis2.ticktext) == ["A", "B"]


def test_risk_times_given(curves):
    fig = figure_km(curves, risk_times=[0, 3, 7])
    table = {t.legendgroup: t for t in fig.data if t.mode == "text"}
    assert list(table["A"].text) == ["5", "4", "1"] and list(fig.layout.xaxis2.tickvals) == [0, 3, 7]


def test_censor_marks_ci_band_median_and_landmarks(curves):
    fig = figure_km(curves, medians=True, landmarks=[5])
    by_name = {t.name: t for t in fig.data}
    cens = by_name["A censored"]
    assert list(cens.x) == [3, 6] and list(cens.y) == pytest.approx([0.8, 0.8 * 2 / 3])
    assert by_name["A CI"].fill == "tonexty" and by_name["A upper"].line.width == 0
    # the legend entry of each curve carries its n and events (A: 5 patients, 3 events; B: 3 patients, 1 event)
    curve = by_name["A (n=5, 3 events)"]
    assert curve.line.shape == "hv" and curve.legendgroup == "A" and curve.showlegend
    assert "B (n=3, 1 event)" in by_name
    assert [t.name for t in fig.data if t.showlegend] == ["A (n=5, 3 events)", "B (n=3, 1 event)"]
    median = by_name["A median"]  # first time S(t) <= 0.5 is 8
    assert list(median.x) == [0, 8, 8] and list(median.y) == [0.5, 0.5, 0]
    assert "B median" not in by_name  # not reached
    land = by_name["B landmarks"]
    assert list(land.y) == pytest.approx([2 / 3]) and list(land.error_y.arrayminus) == pytest.approx([0.4 * 2 / 3])
    fig = figure_km(curves, medians={"A": 8.0, "B": None}, ci=False)
    assert "A CI" not in {t.name for t in fig.data}


def test_single_curve_is_named_and_shown_with_axis_titles_and_footnotes(curves):
    # one curve still gets a legend entry (its n and events); the axes name the endpoint and its origin
    fig = figure_km({"all": curves["A"]}, title="Duration of response from the first response (CR or PR)",
                    time_label="Days from the first response (CR or PR)", y_title="Probability of remaining in response",
                    footnotes=["Not shown: 2 patients without a response (CR or PR) (P8, P9)."])  # fmt: skip
    assert fig.layout.showlegend and [t.name for t in fig.data if t.showlegend] == ["All patients (n=5, 3 events)"]
    assert fig.layout.yaxis.title.text == "Probability of remaining in response"
    assert fig.layout.xaxis2.title.text == "Days from the first response (CR or PR)"
    assert fig.layout.title.text == "Duration of response from the first response (CR or PR)"
    (note,) = [a for a in fig.layout.annotations if a.name == "footnotes"]
    assert note.text == "Not shown: 2 patients without a response (CR or PR) (P8, P9)."
    assert list(fig.layout.yaxis2.ticktext) == ["All"]


def test_cif_without_and_with_at_risk():
    cif = pd.DataFrame({"time": [0, 3, 7], "cif": [0.0, 0.2, 0.45], "lower": [0, 0.05, 0.2], "upper": [0, 0.5, 0.7]})
    fig = figure_cif({"relapse": cif}, y_title="Cumulative incidence of relapse")
    assert [t.name for t in fig.data] == ["relapse upper", "relapse CI", "relapse"]
    assert fig.layout.yaxis.title.text == "Cumulative incidence of relapse" and "xaxis2" not in fig.layout
    fig = figure_cif({"relapse": cif.assign(n_risk=[10, 8, 4])})
    table = next(t for t in fig.data if t.mode == "text")  # ticks 0, 2, 4, 6
    assert list(table.x) == [0, 2, 4, 6] and list(table.text) == ["10", "8", "4", "4"]


def test_missing_columns_raise(curves):
    with pytest.raises(InputError, match="lacks column"):
        figure_km({"A": curves["A"].drop(columns="n_censor")})


def _many_marks(marks: int) -> pd.DataFrame:
    """One curve with a censored patient at each of the first ``marks`` times after 0 (an event at every other)."""
    n = marks + 5
    t = np.arange(n + 1, dtype=float)
    surv = np.cumprod(np.r_[1.0, np.where(np.arange(n) % 2 == 1, 0.999, 1.0)])
    censor = np.r_[0, (np.arange(n) < marks).astype(int)]
    return pd.DataFrame({"time": t, "n_risk": np.arange(n + 1, 0, -1) + 2 * n, "n_event": np.r_[0, np.arange(n) % 2],
                         "n_censor": censor, "survival": surv, "lower": surv * 0.9, "upper": np.minimum(surv * 1.1, 1.0)})  # fmt: skip


@pytest.mark.parametrize(("marks", "line"), [(CENSOR_MARKS_MAX, False), (CENSOR_MARKS_MAX + 1, True)])
def test_censor_marks_up_to_1000_are_markers_then_one_line_per_curve(marks, line):
    """A marker is an SVG element of its own; above 1,000 marks each curve's marks are one line (the curve's steps
    with an upright tick at each mark), same trace names and colours, and a footnote says so."""
    assert CENSOR_MARKS_MAX == 1_000
    fig = figure_km({"A": _many_marks(marks)})
    small = figure_km({"A": _many_marks(3)})
    assert [t.name.split(" (n=")[0] for t in fig.data] == [t.name.split(" (n=")[0] for t in small.data]
    cens = next(t for t in fig.data if t.name == "A censored")
    notes = " ".join(a.text for a in fig.layout.annotations if a.name == "footnotes")
    assert (f"{marks:,} censor marks: above 1,000" in notes) == line
    if not line:
        assert cens.mode == "markers" and len(cens.x) == marks
        return
    assert cens.mode == "lines" and cens.line.shape == "hv" and cens.line.color == small.data[3].marker.color
    assert cens.line.width == small.data[3].marker.line.width and not cens.showlegend
    assert sum(1 for h in cens.hovertemplate if "censored" in h) == 4 * marks


def test_censor_line_tick_is_the_markers_height_hand_worked():
    """Figure 560 px tall (one at-risk row), margins 90 + 60: 410 px; the top row gets 0.9 x 0.87 of it (0.1
    spacing, 13% table): 321.03 px for y 0-1.03. A size-9 "line-ns" marker reaches 1.4 x 4.5 = 6.3 px either side
    (plotly.js's symbol), so the tick reaches 6.3 x 1.03 / 321.03 = 0.020213 in y."""
    frame = _many_marks(CENSOR_MARKS_MAX + 1)
    fig = figure_km({"A": frame})
    cens = next(t for t in fig.data if t.name == "A censored")
    half = 6.3 * 1.03 / (410 * 0.9 * 0.87)
    assert round(half, 6) == 0.020213
    # time 0 (not censored), then time 1 (censored: S = 1.0): up, down, back; time 2 (censored, S = 0.999)
    np.testing.assert_allclose(cens.x[:9], [0, 1, 1, 1, 1, 2, 2, 2, 2])
    np.testing.assert_allclose(cens.y[:5], [1.0, 1.0, 1.0 + half, 1.0 - half, 1.0], rtol=1e-4)
    curve = next(t for t in fig.data if t.showlegend)
    assert list(cens.hovertemplate[:2]) == [
        curve.hovertemplate,
        "<b>A</b><br>censored: %{customdata} at %{x}<extra></extra>",
    ]
    assert list(cens.customdata[:5]) == ["", "1", "1", "1", "1"]
    # every curve point is on the line, in order: between ticks it runs along the curve
    on_curve = np.r_[True, np.diff(np.asarray(cens.x)) != 0]
    np.testing.assert_allclose(np.asarray(cens.x)[on_curve], curve.x)


def test_censor_line_packs_for_the_report_and_unpacks_to_the_figure():
    """The per-point templates and counts go packed (distinct strings once) and come back as the figure had them."""
    from tkitrack.dashboards.compact import pack_figure, unpack_figure

    fig = figure_km({"A": _many_marks(CENSOR_MARKS_MAX + 1)})
    index = next(i for i, t in enumerate(fig.data) if t.name == "A censored")
    figure, packed = pack_figure(fig)
    assert set(packed["traces"][str(index)]) == {"customdata", "hovertemplate"}
    rebuilt = unpack_figure(figure, packed)[index]
    assert rebuilt["hovertemplate"] == list(fig.data[index].hovertemplate)
    assert rebuilt["customdata"] == list(fig.data[index].customdata)
