"""Tumour response figures: waterfall of the best % change and spider plot of % change over time.

Both take frames derived in :mod:`tkitrack.outcomes.tumour` and draw the RECIST 1.1 thresholds: -30% (partial
response) and +20% (progression). Traces are one per best-response category, never one per patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tkitrack.dashboards.compact import add_trace, join_shapes, mirror_lines, shapes_trace
from tkitrack.dashboards.labels import RESPONSE_LABELS
from tkitrack.dashboards.notes import add_footnotes
from tkitrack.dashboards.palette import RESPONSE_COLOURS
from tkitrack.schemas.distinct import in_key_order, per_distinct_text
from tkitrack.schemas.errors import InputError

__all__ = [
    "BARS_MAX",
    "MARKED_POINTS_MAX",
    "PD_THRESHOLD",
    "PR_THRESHOLD",
    "RESPONSE_ORDER",
    "figure_spider",
    "figure_waterfall",
]

#: RECIST 1.1 thresholds in % change of the sum of diameters.
PR_THRESHOLD = -30.0
PD_THRESHOLD = 20.0
RESPONSE_ORDER: tuple[str, ...] = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "MISSING")
_PATTERNS = {"CR": "", "PR": "/", "SD": "", "NON-CR/NON-PD": ".", "PD": "x", "NE": "-", "MISSING": "-"}


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what} frame lacks column(s) {', '.join(missing)}; expected {', '.join(columns)}.")


def _threshold_shapes() -> list[dict]:
    return [
        {
            "type": "line",
            "xref": "paper",
            "x0": 0,
            "x1": 1,
            "yref": "y",
            "y0": y,
            "y1": y,
            "line": {"color": "#444444", "dash": "dash", "width": 1},
            "name": name,
        }
        for y, name in ((PR_THRESHOLD, "PR threshold -30%"), (PD_THRESHOLD, "PD threshold +20%"))
    ]


def _threshold_labels() -> list[dict]:
    return [
        {
            "xref": "paper",
            "x": 1.005,
            "xanchor": "left",
            "y": y,
            "yref": "y",
            "yanchor": "middle",
            "text": text,
            "showarrow": False,
            "font": {"size": 11, "color": "#444444"},
        }
        for y, text in ((PR_THRESHOLD, "-30%"), (PD_THRESHOLD, "+20%"))
    ]


#: Patients up to which the waterfall draws a plotly bar each (:func:`figure_waterfall`); above, one filled path
#: of bars per best response.
BARS_MAX = 2_000
_BARGAP = 0.15


def _fixed1(value: float) -> str:
    """``value`` as plotly's ``%{y:.1f}`` writes it (JavaScript's ``toFixed``: ties away from zero; no "-0.0").

    >>> [_fixed1(v) for v in (2.25, -2.25, -0.04, 35.0)]
    ['2.3', '-2.3', '0.0', '35.0']
    """
    text = str(Decimal(abs(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return "-" + text if value < 0 and text != "0.0" else text


def _filled_bars(part: pd.DataFrame, response: str) -> dict[str, object]:
    """Bars as one fill-only path: per patient a rectangle ``_BARGAP`` narrower than its rank's slot (base left,
    top left, top middle, top right, base right, base left), joined without gaps (:func:`join_shapes`); the hover
    text of the bar's template, written out, on every vertex."""
    x = part["rank"].to_numpy(dtype="float64")
    y = part["best_pct_change"].to_numpy(dtype="float64")
    half, zero = (1 - _BARGAP) / 2, np.zeros(len(x))
    codes, changes = pd.factorize(part["best_pct_change"])  # each distinct change written once (none missing)
    change = np.array([_fixed1(v) for v in changes], dtype=object)[codes]
    text = ("<b>" + part["patient_id"].astype(str) + "</b><br>best change " + change + "%<br>"
            + response).to_numpy(dtype=object)  # fmt: skip
    ids = part["patient_id"].astype(str).to_numpy(dtype=object)
    gx, gy, per_bar, per_id = join_shapes(
        np.column_stack([x - half, x - half, x, x + half, x + half, x - half]),
        np.column_stack([zero, y, y, y, zero, zero]),
        np.repeat(text[:, None], 6, axis=1),
        np.repeat(ids[:, None], 6, axis=1),
    )
    return {"x": gx, "y": gy, "hovertext": per_bar, "customdata": per_id}


def figure_waterfall(
    best_change: pd.DataFrame,
    *,
    title: str | None = "Best change in target lesions",
    legend_title: str = "Best overall response",
    footnotes: Sequence[str] = (),
) -> go.Figure:
    """Waterfall plot: one bar per patient, largest growth on the left, bars coloured by best response.

    Parameters
    ----------
    best_change : pandas.DataFrame
        ``patient_id, best_pct_change, best_response`` (for example from
        :func:`tkitrack.outcomes.tumour.derive_best_percent_change`); rows without a change are left out.
    title, legend_title : str, optional
        Figure and legend titles.
    footnotes : sequence of str
        Notes under the plot: patients without a measurement (not drawn) and why, synthetic patients.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace per best response present (legend, named by :data:`RESPONSE_LABELS`), x = rank (1 =
        largest increase), the -30% and +20% lines as layout shapes named ``PR threshold -30%`` and ``PD
        threshold +20%``. Above :data:`BARS_MAX` patients each of those traces is one filled path of the same
        bars (fill-only scatter, same colour and pattern, no outline), and a footnote says so.
    """
    _require(best_change, ("patient_id", "best_pct_change", "best_response"), "best change")
    data = best_change.loc[best_change["best_pct_change"].notna()].copy()
    data["best_response"] = data["best_response"].astype("string").fillna("MISSING")
    data = data.sort_values(["best_pct_change", "patient_id"], ascending=[False, True], kind="stable")
    data["rank"] = np.arange(1, len(data) + 1)
    found = set(data["best_response"].unique())
    present = [r for r in RESPONSE_ORDER if r in found]
    present += sorted(found - set(present))
    # Above BARS_MAX patients the bars are not plotly bars (an SVG element each: 10,000 took about 1 s of the
    # report's load in Chromium) but one filled path per response; hover still gives each patient. The figure
    # says so.
    filled = len(data) > BARS_MAX
    if filled:
        footnotes = [*footnotes, f"{len(data):,} patients: above {BARS_MAX:,} the bars of each best response are "
                                 "drawn as one filled shape, without outlines; hover a bar for its patient."]  # fmt: skip
    fig = go.Figure()
    for response in present:
        part = data.loc[data["best_response"] == response]
        colour = RESPONSE_COLOURS.get(response, "#999999")
        pattern = {"shape": _PATTERNS.get(response, ""), "fgcolor": "#333333", "size": 6}
        if filled:
            add_trace(fig, shapes_trace(**_filled_bars(part, response), name=RESPONSE_LABELS.get(response, response),
                                        fillcolor=colour, fillpattern=pattern))  # fmt: skip
            continue
        add_trace(
            fig,
            go.Bar(
                x=part["rank"].to_numpy(),
                y=part["best_pct_change"].to_numpy(dtype="float64"),
                name=RESPONSE_LABELS.get(response, response),
                marker={
                    "color": colour,
                    "line": {"color": "#333333", "width": 0.8},
                    "pattern": pattern,
                },
                customdata=part["patient_id"].astype(str).to_numpy(),
                hovertemplate="<b>%{customdata}</b><br>best change %{y:.1f}%<br>" + response + "<extra></extra>",
            ),
        )
    top = max(float(data["best_pct_change"].max()) if len(data) else 0.0, PD_THRESHOLD) + 10
    bottom = min(float(data["best_pct_change"].min()) if len(data) else 0.0, PR_THRESHOLD) - 10
    fig.update_layout(
        template="simple_white",
        title={"text": title} if title else None,
        bargap=0.15,
        width=900,
        height=500,
        shapes=_threshold_shapes(),
        annotations=_threshold_labels(),
        showlegend=True,
        legend={"title": {"text": legend_title}, "x": 1.06},
    )
    fig.update_xaxes(title_text=f"Patients (n={len(data)}), ordered by best change", showticklabels=False, ticks="")
    if filled:  # the range plotly gives the bars: half a slot either side
        fig.update_xaxes(range=[0.5, len(data) + 0.5])
    fig.update_yaxes(title_text="Best change from baseline in sum of diameters (%)", range=[bottom, top], zeroline=True)
    return add_footnotes(fig, footnotes)


def _retraced(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NaN-separated polylines that all start at one point (baseline: day 0, 0%) as one line without gaps: each
    polyline out from the start and back along itself (:func:`tkitrack.dashboards.compact.mirror_lines`).

    Plotly draws each piece of a line between gaps as an SVG element of its own; a line that goes back over
    itself looks the same (one stroke). Returned unchanged when the polylines do not share their first point.
    """
    gap = np.isnan(x) | np.isnan(y)
    if not len(x) or not gap.any():
        return x, y, t
    starts = np.r_[0, np.flatnonzero(gap) + 1]
    if not ((x[starts] == x[0]) & (y[starts] == y[0])).all():
        return x, y, t
    keep = np.flatnonzero(~gap)
    order = keep[mirror_lines(np.r_[np.flatnonzero(gap), len(x)] - starts)]
    return x[order], y[order], t[order]


def _in_order(patient_id: pd.Series, day: pd.Series) -> bool:
    """Whether rows are in order of patient and day already (what a stable sort by them would leave as it is), for
    numeric days (:func:`tkitrack.schemas.distinct.in_key_order`).

    >>> _in_order(pd.Series(["A", "A", "B"]), pd.Series([0, 5, 2])), _in_order(pd.Series(["B", "A"]), pd.Series([0, 0]))
    (True, False)
    """
    keys = pd.DataFrame({"patient_id": patient_id.to_numpy(dtype=object), "day": day.to_numpy()})
    return pd.api.types.is_numeric_dtype(day) and in_key_order(keys)


#: Assessments up to which the spider plot marks every point (:func:`figure_spider`).
MARKED_POINTS_MAX = 2_000


def figure_spider(
    assessment_changes: pd.DataFrame,
    *,
    title: str | None = "Change in target lesions over time",
    time_label: str = "Days from baseline",
    legend_title: str = "Best overall response",
    footnotes: Sequence[str] = (),
) -> go.Figure:
    """Spider plot: each patient's % change from baseline over time, as one polyline per response group.

    Parameters
    ----------
    assessment_changes : pandas.DataFrame
        ``patient_id, day, pct_change`` (for example from :func:`tkitrack.outcomes.tumour.derive_percent_change`);
        an optional ``best_response`` column colours the lines, otherwise one neutral trace is drawn.
    title, time_label, legend_title : str
        Figure title, x axis title and legend title.
    footnotes : sequence of str
        Notes under the plot.

    Returns
    -------
    plotly.graph_objects.Figure
        One NaN-separated line trace per best response (or one in total), the -30% / +20% lines as shapes.
    """
    _require(assessment_changes, ("patient_id", "day", "pct_change"), "assessment change")
    # only the columns read: every selection below copies the columns it is given (a registry's million rows)
    used = [c for c in ("patient_id", "day", "pct_change", "best_response") if c in assessment_changes.columns]
    data = assessment_changes.loc[assessment_changes["pct_change"].notna(), used]
    if not _in_order(data["patient_id"], data["day"]):  # as derived they are: sorting a million rows took 0.4 s
        data = data.sort_values(["patient_id", "day"], kind="stable")
    groups = (
        data["best_response"].astype("string").fillna("MISSING")
        if "best_response" in data.columns
        else pd.Series("all", index=data.index, dtype="string")
    )
    # Above MARKED_POINTS_MAX assessments the points are not marked: each marker is an SVG element of its own
    # (10,000 patients: 7 s of the report's load in Chromium), while the line's vertices show the same values and
    # hover still gives each one. The figure says so.
    marked = len(data) <= MARKED_POINTS_MAX
    if not marked:
        footnotes = [*footnotes, f"{len(data):,} assessments: points are not marked above {MARKED_POINTS_MAX:,}; "
                                 "each vertex of a line is one assessment (hover for its value)."]  # fmt: skip
    fig = go.Figure()
    codes, present = pd.factorize(groups)
    present = list(present)
    names = per_distinct_text(data["patient_id"], lambda ids: "<b>" + ids.astype(str) + "</b>").to_numpy(dtype=object)
    for response in [r for r in (*RESPONSE_ORDER, "all") if r in present]:
        rows = codes == present.index(response)
        part = data.loc[rows]
        # one polyline per patient with two points or more, a NaN gap between patients
        several = (part.groupby("patient_id", sort=False)["day"].transform("size") > 1).to_numpy()
        part, name = part[several], names[rows][several]
        ids = part["patient_id"].astype(str).to_numpy(dtype=object)
        first = np.r_[True, ids[1:] != ids[:-1]] if len(ids) else np.zeros(0, dtype=bool)
        where = np.arange(len(ids)) + np.cumsum(first) - 1  # each point's place, after a gap per earlier patient
        size = len(ids) + max(int(first.sum()) - 1, 0)
        x, y, t = np.full(size, np.nan), np.full(size, np.nan), np.full(size, "", dtype=object)
        x[where] = part["day"].to_numpy(dtype="float64")
        y[where] = part["pct_change"].to_numpy(dtype="float64")
        t[where] = name
        if not marked:
            x, y, t = _retraced(x, y, t)
        colour = "#555555" if response == "all" else RESPONSE_COLOURS.get(response, "#999999")
        colour = "#999999" if colour.upper() == "#FFFFFF" else colour
        add_trace(
            fig,
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers" if marked else "lines",
                name="Patients" if response == "all" else RESPONSE_LABELS.get(response, response),
                line={"color": colour, "width": 1.5},
                marker={"size": 5, "color": colour},
                customdata=t,
                hovertemplate="%{customdata}<br>day %{x}: %{y:+.1f}%<extra></extra>",
            ),
        )
    fig.update_layout(
        template="simple_white",
        title={"text": title} if title else None,
        width=900,
        height=500,
        shapes=_threshold_shapes(),
        annotations=_threshold_labels(),
        showlegend=True,
        legend={"title": {"text": legend_title}, "x": 1.06},
    )
    fig.update_xaxes(title_text=time_label)
    fig.update_yaxes(title_text="Change from baseline in sum of diameters (%)", zeroline=True)
    return add_footnotes(fig, footnotes)
