"""Kaplan-Meier and cumulative-incidence figures with a numbers-at-risk table aligned to the same x ticks.

Input curves are frames the outcomes layer has already estimated (one per group), never raw records:
Kaplan-Meier frames have ``time, n_risk, n_event, n_censor, survival, lower, upper`` with a row at time 0;
cumulative-incidence frames have ``time, cif, lower, upper`` (and ``n_risk`` for an at-risk table).
The at-risk table is a second subplot row sharing the x axis, its numbers placed at the tick values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from tkitrack.dashboards.notes import add_footnotes
from tkitrack.dashboards.palette import series_colour
from tkitrack.outcomes.survival import compute_time_ticks  # one tick rule for tables and figures
from tkitrack.schemas.errors import InputError

__all__ = [
    "CENSOR_MARKS_MAX",
    "CIF_COLUMNS",
    "KM_COLUMNS",
    "compute_at_risk",
    "compute_step_value",
    "compute_time_ticks",
    "figure_cif",
    "figure_km",
    "legend_name",
]


KM_COLUMNS: tuple[str, ...] = ("time", "n_risk", "n_event", "n_censor", "survival", "lower", "upper")
CIF_COLUMNS: tuple[str, ...] = ("time", "cif", "lower", "upper")


def compute_at_risk(curve: pd.DataFrame, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Numbers at risk at each time: ``n_risk`` of the first row with ``time >= t``, 0 after the last row.

    >>> c = pd.DataFrame({"time": [0, 2, 5], "n_risk": [4, 4, 2]})
    >>> compute_at_risk(c, [0, 1, 2, 3, 5, 6]).tolist()
    [4, 4, 4, 2, 2, 0]
    """
    ordered = curve.sort_values("time", kind="stable")
    t = ordered["time"].to_numpy(dtype="float64")
    n = ordered["n_risk"].to_numpy(dtype="int64")
    idx = np.searchsorted(t, np.asarray(times, dtype="float64"), side="left")
    return np.where(idx < len(t), n[np.minimum(idx, len(t) - 1)], 0)


def compute_step_value(curve: pd.DataFrame, column: str, times: Sequence[float] | np.ndarray) -> np.ndarray:
    """Right-continuous step-function value of ``column`` at each time (the last row with ``time <= t``).

    >>> c = pd.DataFrame({"time": [0, 2, 5], "survival": [1.0, 0.75, 0.5]})
    >>> compute_step_value(c, "survival", [1, 2, 9]).tolist()
    [1.0, 0.75, 0.5]
    """
    ordered = curve.sort_values("time", kind="stable")
    t = ordered["time"].to_numpy(dtype="float64")
    v = ordered[column].to_numpy(dtype="float64")
    idx = np.searchsorted(t, np.asarray(times, dtype="float64"), side="right") - 1
    return np.where(idx >= 0, v[np.maximum(idx, 0)], np.nan)


def _check(curves: Mapping[str, pd.DataFrame], required: Sequence[str]) -> None:
    if not curves:
        raise InputError("no curves given; pass a dict of group name -> curve frame.")
    for name, frame in curves.items():
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise InputError(f"curve {name!r} lacks column(s) {', '.join(missing)}; expected {', '.join(required)}.")


def _fill(colour: str, alpha: float = 0.18) -> str:
    value = colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _curve_traces(
    name: str,
    frame: pd.DataFrame,
    value: str,
    colour: str,
    ci: bool,
    time_label: str,
) -> list[go.Scatter]:
    f = frame.sort_values("time", kind="stable")
    t = f["time"].to_numpy(dtype="float64")
    traces = []
    if ci and {"lower", "upper"} <= set(f.columns):
        traces.append(
            go.Scatter(
                x=t,
                y=f["upper"].to_numpy(dtype="float64"),
                mode="lines",
                line_shape="hv",
                line={"width": 0, "color": colour},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=name,
                name=f"{name} upper",
            )
        )
        traces.append(
            go.Scatter(
                x=t,
                y=f["lower"].to_numpy(dtype="float64"),
                mode="lines",
                line_shape="hv",
                line={"width": 0, "color": colour},
                fill="tonexty",
                fillcolor=_fill(colour),
                hoverinfo="skip",
                showlegend=False,
                legendgroup=name,
                name=f"{name} CI",
            )
        )
    v = f[value].to_numpy(dtype="float64")
    traces.append(
        go.Scatter(
            x=t,
            y=v,
            mode="lines",
            line_shape="hv",
            line={"color": colour, "width": 2.2},
            name=name,
            legendgroup=name,
            hovertemplate=f"<b>{name}</b><br>{time_label} %{{x}}<br>{value} %{{y:.3f}}<extra></extra>",
        )
    )
    if "n_censor" in f.columns:
        cens = f["n_censor"].to_numpy(dtype="float64") > 0
        traces.append(
            go.Scatter(
                x=t[cens],
                y=v[cens],
                mode="markers",
                name=f"{name} censored",
                legendgroup=name,
                showlegend=False,
                marker={"symbol": "line-ns-open", "size": 9, "color": colour, "line": {"width": 1.6, "color": colour}},
                customdata=f["n_censor"].to_numpy()[cens],
                hovertemplate=f"<b>{name}</b><br>censored: %{{customdata}} at %{{x}}<extra></extra>",
            )
        )
    return traces


#: Censor marks per figure up to which they are plotly markers; above, each curve's marks are one line (see
#: :func:`_censor_line`).
CENSOR_MARKS_MAX = 1_000
_TICK_PX = 1.4 * 9 / 2  # half a "line-ns-open" marker of size 9: plotly.js draws it 1.4 radii either side


def _censor_line(marks: go.Scatter, curve: go.Scatter, half: float) -> go.Scatter:
    """A curve's censor marks (markers) as one line: the curve's own steps (``hv``) with an upright tick ``half``
    (y units) above and below each censored point, in the marks' colour and width.

    Plotly draws each marker as an SVG element of its own; this is one element per curve and looks the same: the
    line's way between ticks runs inside the curve's wider stroke of the same colour. Hover: at a tick the marks'
    label, elsewhere the curve's (the same text the curve trace shows there).
    """
    t, v = np.asarray(curve.x, dtype="float64"), np.asarray(curve.y, dtype="float64")
    ct, cv = np.asarray(marks.x, dtype="float64"), np.asarray(marks.y, dtype="float64")
    censored = dict(zip(zip(ct.tolist(), cv.tolist(), strict=True), np.asarray(marks.customdata).tolist(), strict=True))
    xs, ys, data, templates = [], [], [], []
    for ti, vi in zip(t.tolist(), v.tolist(), strict=True):
        n = censored.pop((ti, vi), None)
        if n is None:
            xs.append(ti), ys.append(vi), data.append(""), templates.append(curve.hovertemplate)
            continue
        xs += [ti] * 4
        ys += [vi, vi + half, vi - half, vi]
        data += [str(n)] * 4
        templates += [marks.hovertemplate] * 4
    if censored:  # a mark off the curve's points: keep the markers
        return marks
    return go.Scatter(
        x=np.asarray(xs),
        y=np.asarray(ys),
        mode="lines",
        line={"color": marks.marker.color, "width": marks.marker.line.width, "shape": "hv", "simplify": False},
        name=marks.name,
        legendgroup=marks.legendgroup,
        showlegend=False,
        customdata=np.asarray(data, dtype=object),
        hovertemplate=np.asarray(templates, dtype=object),
    )


def _median_trace(name: str, median: float, level: float, colour: str) -> go.Scatter:
    return go.Scatter(
        x=[0.0, median, median],
        y=[level, level, 0.0],
        mode="lines",
        line={"color": colour, "dash": "dash", "width": 1},
        name=f"{name} median",
        legendgroup=name,
        showlegend=False,
        hovertemplate=f"<b>{name}</b><br>median {median:g}<extra></extra>",
    )


def _landmark_trace(name: str, frame: pd.DataFrame, value: str, landmarks: Sequence[float], colour: str) -> go.Scatter:
    times = np.asarray(landmarks, dtype="float64")
    est = compute_step_value(frame, value, times)
    has_ci = {"lower", "upper"} <= set(frame.columns)
    lo = compute_step_value(frame, "lower", times) if has_ci else est
    hi = compute_step_value(frame, "upper", times) if has_ci else est
    text = [
        f"<b>{name}</b><br>at {t:g}: {e:.3f} ({a:.3f}-{b:.3f})" for t, e, a, b in zip(times, est, lo, hi, strict=True)
    ]
    return go.Scatter(
        x=times,
        y=est,
        mode="markers",
        name=f"{name} landmarks",
        legendgroup=name,
        showlegend=False,
        marker={"symbol": "diamond", "size": 9, "color": colour, "line": {"width": 1, "color": "#000000"}},
        error_y={"type": "data", "symmetric": False, "array": hi - est, "arrayminus": est - lo, "color": colour},
        hovertext=text,
        hoverinfo="text",
    )


def _median_from_curve(frame: pd.DataFrame, value: str, level: float, increasing: bool) -> float | None:
    f = frame.sort_values("time", kind="stable")
    hit = f[value] >= level if increasing else f[value] <= level
    return float(f.loc[hit, "time"].iloc[0]) if hit.any() else None


def legend_name(name: str, frame: pd.DataFrame) -> str:
    """A curve's legend entry with what it rests on: ``IMT (n=46, 8 events)``; ``all`` reads "All patients".

    >>> legend_name("all", pd.DataFrame({"time": [0, 5], "n_risk": [3, 3], "n_event": [0, 1]}))
    'All patients (n=3, 1 event)'
    """
    label = "All patients" if name == "all" else name
    parts = []
    if "n_risk" in frame.columns and len(frame):
        parts.append(f"n={int(frame.sort_values('time', kind='stable')['n_risk'].iloc[0])}")
    if "n_event" in frame.columns:
        k = int(frame["n_event"].sum())
        parts.append(f"{k} event{'' if k == 1 else 's'}")
    if "n_competing" in frame.columns:
        parts.append(f"{int(frame['n_competing'].sum())} competing")
    return f"{label} ({', '.join(parts)})" if parts else label


def _build(
    curves: Mapping[str, pd.DataFrame],
    *,
    value: str,
    ci: bool,
    risk_times: Sequence[float] | None,
    medians: Mapping[str, float | None] | bool | None,
    landmarks: Sequence[float] | None,
    title: str | None,
    time_label: str,
    y_title: str,
    risk_table: bool,
    footnotes: Sequence[str] = (),
) -> go.Figure:
    names = list(curves)
    max_time = max(float(f["time"].max()) for f in curves.values())
    ticks = np.asarray(risk_times if risk_times is not None else compute_time_ticks(max_time), dtype="float64")
    rows = 2 if risk_table else 1
    table_share = min(0.35, 0.08 + 0.05 * len(names))
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1 if risk_table else 0.02,
        row_heights=[1 - table_share, table_share] if risk_table else None,
    )
    increasing = value == "cif"
    for i, name in enumerate(names):
        frame, colour = curves[name], series_colour(i)
        for trace in _curve_traces(name, frame, value, colour, ci, time_label):
            if trace.name == name:
                trace.name = legend_name(name, frame)
                trace.showlegend = True
            fig.add_trace(trace, row=1, col=1)
        if medians is True:
            median = _median_from_curve(frame, value, 0.5, increasing)
        elif isinstance(medians, Mapping):
            median = medians.get(name)
        else:
            median = None
        if median is not None and np.isfinite(median):
            fig.add_trace(_median_trace(name, float(median), 0.5, colour), row=1, col=1)
        if landmarks:
            fig.add_trace(_landmark_trace(name, frame, value, landmarks, colour), row=1, col=1)
        if risk_table:
            at_risk = compute_at_risk(frame, ticks)
            fig.add_trace(
                go.Scatter(
                    x=ticks,
                    y=np.full(len(ticks), float(i)),
                    mode="text",
                    text=at_risk.astype(str),
                    textfont={"color": colour, "size": 12},
                    name=f"{name} at risk",
                    legendgroup=name,
                    showlegend=False,
                    hovertemplate=f"<b>{name}</b><br>at risk at %{{x}}: %{{text}}<extra></extra>",
                ),
                row=2,
                col=1,
            )
    pad = 0.03 * (ticks[-1] if len(ticks) and ticks[-1] > 0 else max_time)
    x_range = [-pad, max(max_time, float(ticks[-1]) if len(ticks) else 0.0) + pad]
    fig.update_xaxes(tickmode="array", tickvals=ticks, range=x_range, showgrid=True, gridcolor="#EEEEEE")
    fig.update_xaxes(title_text=time_label, row=rows, col=1)
    fig.update_yaxes(title_text=y_title, range=[0, 1.03], tickformat=".0%", row=1, col=1)
    if risk_table:
        fig.update_yaxes(
            tickmode="array",
            tickvals=list(range(len(names))),
            ticktext=["All" if n == "all" else n for n in names],
            range=[len(names) - 0.5, -0.5],
            showgrid=False,
            zeroline=False,
            showline=False,
            ticks="",
            title_text="At risk",
            row=2,
            col=1,
        )
        fig.update_xaxes(showline=False, ticks="", row=2, col=1)
    fig.update_layout(
        template="simple_white",
        title={"text": title} if title else None,
        width=900,
        height=520 + (40 * len(names) if risk_table else 0),
        hovermode="closest",
        showlegend=True,  # even for one curve: its entry carries n and events
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        margin={"l": 110, "r": 30, "t": 90 if title else 40, "b": 60},
    )
    marks = [i for i, t in enumerate(fig.data) if t.mode == "markers" and (t.name or "").endswith(" censored")]
    n_marks = sum(len(fig.data[i].x) for i in marks)
    if n_marks > CENSOR_MARKS_MAX:
        # each curve's marks as one line (plotly draws a marker as an SVG element of its own); a tick's half height
        # in y units: the top row's pixels from the figure's height, margins and the row's share of the plot
        lay = fig.layout
        domain = lay.yaxis.domain or (0.0, 1.0)
        row_px = (lay.height - lay.margin.t - lay.margin.b) * (domain[1] - domain[0])
        half = _TICK_PX * 1.03 / row_px  # the top row's y range is [0, 1.03]
        curves_by_group = {t.legendgroup: t for t in fig.data if t.mode == "lines" and t.showlegend}
        data = list(fig.data)
        for i in marks:
            data[i] = _censor_line(data[i], curves_by_group[data[i].legendgroup], half)
        fig.data = []
        fig.add_traces(data)  # each keeps the axes it was added on
        footnotes = [*footnotes, f"{n_marks:,} censor marks: above {CENSOR_MARKS_MAX:,} each curve's marks are drawn "
                                 "as one line along the curve with an upright tick at each (hover a tick for it)."]  # fmt: skip
    return add_footnotes(fig, footnotes)


def figure_km(
    curves: Mapping[str, pd.DataFrame],
    *,
    risk_times: Sequence[float] | None = None,
    ci: bool = True,
    medians: Mapping[str, float | None] | bool | None = None,
    landmarks: Sequence[float] | None = None,
    title: str | None = "Kaplan-Meier estimate",
    time_label: str = "Days",
    y_title: str = "Probability of remaining event-free",
    footnotes: Sequence[str] = (),
) -> go.Figure:
    """Kaplan-Meier curves with censor marks, CI bands, median lines, landmark estimates and numbers at risk.

    Each curve's legend entry says its n and events; ``y_title`` names the endpoint (from
    :func:`tkitrack.outcomes.endpoints.endpoint_info`, as the title and ``time_label`` name its origin), and
    ``footnotes`` go under the plot (patients left out and why, synthetic patients).

    Parameters
    ----------
    curves : mapping of str to pandas.DataFrame
        One frame per group with :data:`KM_COLUMNS` and a row at time 0.
    risk_times : sequence of float, optional
        Tick values of the shared x axis, where the numbers at risk are given; default round ticks.
    ci : bool
        Draw the pointwise confidence band (``lower``, ``upper``).
    medians : mapping of group to median (None = not reached), True to read them off the curves, or None
        Dashed lines from the y axis at 0.5 to the median and down to the x axis.
    landmarks : sequence of float, optional
        Times at which the estimate and its interval are marked.
    title, time_label, y_title : str
        Figure title, x and y axis titles.
    footnotes : sequence of str
        Notes written under the plot (:func:`tkitrack.dashboards.notes.add_footnotes`).

    Returns
    -------
    plotly.graph_objects.Figure
        Row 1 the curves (``xaxis``/``yaxis``), row 2 the at-risk table (``xaxis2``/``yaxis2``), both axes with
        ``tickvals`` equal to the risk times. Per group: [upper, CI,] curve, censor marks, [median], [landmarks],
        at-risk text; all in one legend group named after the group.
    """
    _check(curves, KM_COLUMNS)
    return _build(
        curves,
        value="survival",
        ci=ci,
        risk_times=risk_times,
        medians=medians,
        landmarks=landmarks,
        title=title,
        time_label=time_label,
        y_title=y_title,
        risk_table=True,
        footnotes=footnotes,
    )


def figure_cif(
    curves: Mapping[str, pd.DataFrame],
    *,
    risk_times: Sequence[float] | None = None,
    ci: bool = True,
    landmarks: Sequence[float] | None = None,
    title: str | None = "Cumulative incidence",
    time_label: str = "Days",
    y_title: str = "Cumulative incidence",
    footnotes: Sequence[str] = (),
) -> go.Figure:
    """Cumulative incidence curves (Aalen-Johansen estimates) with CI bands and optional landmarks.

    Frames have :data:`CIF_COLUMNS`; when every frame also has ``n_risk`` the numbers-at-risk row is added
    as in :func:`figure_km`, otherwise the figure has the curve row only.
    """
    _check(curves, CIF_COLUMNS)
    risk_table = all("n_risk" in f.columns for f in curves.values())
    return _build(
        curves,
        value="cif",
        ci=ci,
        risk_times=risk_times,
        medians=None,
        landmarks=landmarks,
        title=title,
        time_label=time_label,
        y_title=y_title,
        risk_table=risk_table,
        footnotes=footnotes,
    )
