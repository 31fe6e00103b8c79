"""Swimmer plot: one lane per patient, built from a handful of traces (one per legend entry), never one per patient.

Every legend entry is a single plotly trace whose coordinates are numpy arrays: lane segments are drawn as one
line trace with NaN separators between segments, markers as one scatter trace per event kind (and per CTCAE
grade for adverse events). The number of traces therefore depends on the number of drugs, dose levels and
event kinds present, not on the number of patients; 10,000 lanes build as fast as a few hundred.

Above :data:`MARKER_LANES_MAX` lanes the events are not plotly markers (each an SVG element of its own: the
10,000-patient report's 41,000 took seconds of its load in Chromium) but glyphs: each event is a small closed
polygon of the marker's shape and pixel size, drawn in data coordinates, and each event kind is one filled path
(``fill="toself"``, no line, no gaps: plotly makes an SVG element for each piece of a line between gaps).
Lane stretches are filled bars the same way (dotted ones filled with a dot pattern). Hover gives the same text
on every vertex of a glyph; the figure says so in a footnote.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tkitrack.dashboards.compact import add_trace, join_shapes, shapes_trace
from tkitrack.dashboards.labels import column_label, value_label
from tkitrack.dashboards.layout import (
    SortKey,
    compute_lane_positions,
    compute_line_arrays,
    compute_marker_offsets,
    compute_record_keys,
)
from tkitrack.dashboards.notes import add_footnotes, escape_text, excluded_note
from tkitrack.dashboards.palette import (
    AE_GRADE_COLOURS,
    AE_GRADE_SIZES,
    ARROW_STYLES,
    DOSE_LEVEL_DASHES,
    DOSE_LEVEL_LOOKS,
    DOSE_LEVEL_WIDTHS,
    EVENT_STYLES,
    OFF_TREATMENT_COLOUR,
    darken,
    drug_colour,
)
from tkitrack.outcomes.swimmer import MARKER_KINDS, SwimmerData

__all__ = ["LEGEND_GROUPS", "MARKER_LANES_MAX", "figure_swimmer", "glyph_outline"]


#: Legend groups (legendgroup -> title) in legend order.
LEGEND_GROUPS: dict[str, str] = {
    "lanes": "Treatment (colour = drug, pattern and width = dose level)",
    "responses": "Response",
    "events": "Events",
}
_DOSE_LEVEL_ORDER = ("starting", "reduced", "escalated", "changed")
_ORIGIN_LABEL = {"diagnosis": "diagnosis", "first_dose": "first dose", "reference": "reference date"}

#: Lanes up to which events are drawn as plotly markers; above, as glyph paths (one path per event kind).
MARKER_LANES_MAX = 1_000
#: Vertices of the polygon that stands for a circle marker.
CIRCLE_VERTICES = 8
_SQRT3 = np.sqrt(3.0)


def _moves(start: tuple[float, float], steps: list[tuple[float, float]]) -> np.ndarray:
    """The points of an SVG path of relative moves (``M start l step l step ...``)."""
    return np.cumsum(np.array([start, *steps], dtype="float64"), axis=0)


def _ring(pts: np.ndarray, width: float) -> np.ndarray:
    """A closed outline of stroke ``width`` as one filled polygon: the shape grown by half the width, then, the
    other way round, shrunk by it (a hole under the nonzero fill rule), joined by a seam of no width."""
    edges = np.roll(pts, -1, axis=0) - pts
    cross = pts[:, 0] * edges[:, 1] - pts[:, 1] * edges[:, 0]  # twice each edge's triangle with the centre
    inradius = float(np.min(np.abs(cross) / np.hypot(edges[:, 0], edges[:, 1])))  # centre to the nearest edge
    outer = pts * (1 + width / 2 / inradius)
    inner = pts * max(0.0, 1 - width / 2 / inradius)
    return np.vstack([outer, outer[:1], inner[:1], inner[:0:-1]])


def glyph_outline(symbol: str, r: float, line_width: float = 0.0) -> np.ndarray:
    """A plotly marker ``symbol`` of radius ``r`` (half its ``size``) in pixels, as the vertices of one filled polygon.

    Offsets from the marker's centre, y pointing down (screen), first vertex repeated at the end. The shapes are
    plotly.js's own symbol definitions (``src/components/drawing/symbol_defs.js``); a circle is a regular polygon
    of :data:`CIRCLE_VERTICES` vertices. Symbols plotly draws as a stroke of ``line_width`` (``-open``: the
    outline; ``x-thin``: two diagonals) become a filled ring and a filled thin cross of that width.

    >>> glyph_outline("square", 2.0).tolist()
    [[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0], [2.0, 2.0]]
    """
    base = symbol.removesuffix("-open")
    if base == "circle":
        a = 2 * np.pi * np.arange(CIRCLE_VERTICES) / CIRCLE_VERTICES
        pts = np.column_stack([r * np.cos(a), r * np.sin(a)])
    elif base == "square":
        pts = np.array([[r, r], [-r, r], [-r, -r], [r, -r]])
    elif base == "diamond":
        d = 1.3 * r
        pts = np.array([[d, 0], [0, d], [-d, 0], [0, -d]])
    elif base == "x":
        e = 0.8 * r / np.sqrt(2.0)
        ne, se, sw, nw = (e, e), (e, -e), (-e, -e), (-e, e)
        pts = _moves((0, e), [ne, se, sw, se, sw, nw, sw, nw, ne, nw, ne])
    elif base == "x-thin":  # the two diagonals, corner to corner, as a cross of arms line_width wide
        h, arm = line_width / 2, r * np.sqrt(2.0)
        plus = np.array([[h, h], [arm, h], [arm, -h], [h, -h], [h, -arm], [-h, -arm], [-h, -h], [-arm, -h],
                         [-arm, h], [-h, h], [-h, arm], [h, arm]])  # fmt: skip
        c = np.sqrt(0.5)
        pts = plus @ np.array([[c, c], [-c, c]])  # turned by 45 degrees
    elif base in ("triangle-down", "triangle-right"):
        t, h = 2 * r / _SQRT3, r / 2
        pts = (
            np.array([[-t, -h], [t, -h], [0, r]]) if base == "triangle-down" else np.array([[-h, -t], [-h, t], [r, 0]])
        )
    elif base == "star":
        s = 1.4 * r
        x1, x2, x3, x4 = 0.225 * s, 0.951 * s, 0.363 * s, 0.588 * s
        y1, y3, y4, y5 = -0.309 * s, 0.118 * s, 0.809 * s, 0.382 * s
        pts = np.array([[x1, y1], [x2, y1], [x3, y3], [x4, y4], [0, y5], [-x4, y4], [-x3, y3], [-x2, y1], [-x1, y1],
                        [0, -s]])  # fmt: skip
    elif base == "hexagram":
        h, x1, x2 = 0.66 * r, 0.38 * r, 0.76 * r
        pts = _moves((-x2, 0), [(-x1, -h), (x2, 0), (x1, -h), (x1, h), (x2, 0), (-x1, h), (x1, h), (-x2, 0),
                                (-x1, h), (-x1, -h), (-x2, 0)])  # fmt: skip
    elif base == "arrow-right":
        pts = np.array([[0, 0], [-2 * r, -r], [-2 * r, r]])
    elif base == "arrow-bar-right":
        w = 0.3 * r  # the bar plotly strokes with the marker's outline, as a thin filled bar
        pts = np.array([[0, 0], [-2 * r, -r], [-2 * r, r], [0, 0], [0, r], [w, r], [w, -r], [0, -r]])
    else:
        raise ValueError(f"no glyph for marker symbol {symbol!r}")
    pts = np.asarray(pts, dtype="float64")
    if symbol.endswith("-open"):
        return _ring(pts, line_width) + 0.0
    return np.vstack([pts, pts[:1]]) + 0.0  # + 0.0: no negative zeros


def _hover_segments(seg: pd.DataFrame) -> np.ndarray:
    """Each lane stretch's hover text: the patient, then the drug, dose and how it ended, or "off treatment",
    then the days (each text made for the stretches it is for only)."""
    on = seg["on_treatment"].to_numpy(dtype=bool)
    days = "days " + seg["start_day"].astype(str) + "–" + seg["end_day"].astype(str)
    drug = seg.loc[on]
    ended = np.where(drug["ongoing"], "ongoing", "ended: " + drug["reason"].fillna("not recorded").astype(str))
    on_text = (
        "<b>"
        + drug["patient_id"].astype(str)
        + "</b><br>"
        + drug["drug"].fillna("").astype(str)
        + " "
        + drug["dose"].fillna("").astype(str)
        + " ("
        + drug["dose_level"].fillna("").astype(str)
        + " dose)<br>"
        + days[on]
        + "<br>"
        + ended
    )
    off_text = "<b>" + seg.loc[~on, "patient_id"].astype(str) + "</b><br>off treatment<br>" + days[~on]
    text = np.empty(len(seg), dtype=object)
    text[on] = on_text.to_numpy(dtype=object)
    text[~on] = off_text.to_numpy(dtype=object)
    return text


def _legend(group: str, first: set[str]) -> dict[str, object]:
    out: dict[str, object] = {"legendgroup": group}
    if group not in first:
        first.add(group)
        out["legendgrouptitle"] = {"text": LEGEND_GROUPS[group]}
    return out


def _lane_traces(
    segments: pd.DataFrame, y: pd.Series, px: float, first: set[str], *, record_keys: bool
) -> list[go.Scatter]:
    traces = []
    seg = segments.loc[segments["patient_id"].isin(y.index)]
    text = _hover_segments(seg)
    ypos = seg["patient_id"].map(y).to_numpy()
    off = ~seg["on_treatment"].to_numpy(dtype=bool)
    keys = (
        compute_record_keys(seg["patient_id"], np.where(seg["on_treatment"], "exposure", ""), seg["record_id"])
        if record_keys
        else None
    )
    x, yy, t = compute_line_arrays(
        seg["start_day"].to_numpy()[off], seg["end_day"].to_numpy()[off], ypos[off], ypos[off], text[off]
    )
    k = _line_keys(seg, ypos, keys, off)
    traces.append(
        go.Scatter(
            x=x,
            y=yy,
            hovertext=t,
            customdata=k,
            hoverinfo="text",
            mode="lines",
            name="Off treatment",
            line={"color": OFF_TREATMENT_COLOUR, "width": max(0.4, 0.25 * px)},
            **_legend("lanes", first),
        )
    )
    on = seg.loc[~off]
    drugs = sorted(on["drug"].dropna().unique().tolist(), key=str.lower)
    level_rank = {lvl: i for i, lvl in enumerate(_DOSE_LEVEL_ORDER)}
    combos = on[["drug", "dose_level"]].drop_duplicates()
    combos = combos.assign(_d=combos["drug"].map(drugs.index), _l=combos["dose_level"].map(level_rank))
    # each stretch's drug and dose level as codes, compared as numbers for each combination (-1: missing)
    drug_code, drug_values = pd.factorize(seg["drug"])
    level_code, level_values = pd.factorize(seg["dose_level"])
    drug_at, level_at = {v: i for i, v in enumerate(drug_values)}, {v: i for i, v in enumerate(level_values)}
    for drug, level in combos.sort_values(["_d", "_l"])[["drug", "dose_level"]].itertuples(index=False):
        mask = (~off) & (drug_code == drug_at.get(drug, -2)) & (level_code == level_at.get(level, -2))
        x, yy, t = compute_line_arrays(
            seg["start_day"].to_numpy()[mask], seg["end_day"].to_numpy()[mask], ypos[mask], ypos[mask], text[mask]
        )
        k = _line_keys(seg, ypos, keys, mask)
        colour = drug_colour(drug, drugs)
        look = DOSE_LEVEL_LOOKS.get(level, "")
        traces.append(
            go.Scatter(
                x=x,
                y=yy,
                hovertext=t,
                customdata=k,
                hoverinfo="text",
                mode="lines",
                name=f"{drug}, {level} dose" + (f" ({look})" if look and level != "starting" else ""),
                line={
                    "color": darken(colour, 0.6) if level == "escalated" else colour,
                    "width": max(0.5, 0.7 * px * DOSE_LEVEL_WIDTHS.get(level, 1.0)),
                    "dash": DOSE_LEVEL_DASHES.get(level, "solid"),
                },
                **_legend("lanes", first),
            )
        )
    return traces


def _line_keys(seg: pd.DataFrame, ypos: np.ndarray, keys: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
    """The record keys of the segments in ``mask``, laid out as their line's points (None without keys)."""
    if keys is None:
        return None
    start, end = seg["start_day"].to_numpy()[mask], seg["end_day"].to_numpy()[mask]
    return compute_line_arrays(start, end, ypos[mask], ypos[mask], keys[mask])[2]


def _marker_trace(
    x: np.ndarray,
    y: np.ndarray,
    text: np.ndarray,
    keys: np.ndarray | None,
    *,
    name: str,
    symbol: str,
    colour: str,
    size: float,
    group: str,
    first: set[str],
    px: float,
) -> go.Scatter:
    line_only = symbol.endswith(("-thin", "-open"))  # drawn by their outline: outline in the symbol's colour
    outline = {"color": colour, "width": 2.0} if line_only else {"color": "#000000", "width": 0.8 if px >= 6 else 0.3}
    return go.Scatter(
        x=x,
        y=y,
        hovertext=text,
        customdata=keys,
        hoverinfo="text",
        mode="markers",
        name=name,
        marker={"symbol": symbol, "color": colour, "size": size, "line": outline},
        **_legend(group, first),
    )


def _legend_of(trace: go.Scatter) -> dict[str, object]:
    """Name, legend group and group title of ``trace``: what a redrawn trace keeps."""
    return {"name": trace.name, "legendgroup": trace.legendgroup, "legendgrouptitle": trace.legendgrouptitle}


def _glyph_trace(markers: go.Scatter, units: tuple[float, float]) -> go.Scatter:
    """A marker trace (:func:`_marker_trace`) as one filled path: a glyph of the marker's shape and pixel size around
    each point (:func:`glyph_outline`); ``units`` are data units per pixel across and down.

    The path is fill only (``mode="none"``, ``fill="toself"``) and has no gaps (:func:`join_shapes`): plotly
    makes an SVG element for each piece of a line between gaps, but a fill is one element. Each glyph starts and
    ends at its centre, the event's own point (where a lane's vertex may be too: the nearest point wins the
    hover); every vertex carries its event's hover text and record key. Name, legend group and title, and colour
    are the marker trace's; the marker's thin black outline is not drawn.
    """
    m = markers.marker
    outline = glyph_outline(m.symbol, float(m.size) / 2.0, float(m.line.width or 0.0))
    shape = np.vstack([[0.0, 0.0], outline, [0.0, 0.0]])
    n = len(markers.x)
    gx = np.asarray(markers.x, dtype="float64")[:, None] + shape[:, 0] * units[0]
    gy = np.asarray(markers.y, dtype="float64")[:, None] + shape[:, 1] * units[1]
    text = np.repeat(np.asarray(markers.hovertext, dtype=object)[:, None], len(shape), axis=1)
    keys = _per_vertex(markers.customdata, lambda k: np.repeat(k[:, None], len(shape), axis=1))
    x, y, text, *keys = join_shapes(gx.reshape(n, -1), gy.reshape(n, -1), text, *keys)
    return shapes_trace(x=x, y=y, hovertext=text, fillcolor=m.color, **_keys_of(keys), **_legend_of(markers))


def _per_vertex(customdata, spread) -> list[np.ndarray]:
    """The record keys spread over the vertices, as a list of one array; none when the trace has none."""
    return [] if customdata is None else [spread(np.asarray(customdata, dtype=object))]


def _keys_of(keys: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {"customdata": keys[0]} if keys else {}


#: A dotted or dashed lane stretch as a bar: its colour in dots or upright strokes on nothing (``fillmode``
#: "replace"), so that the bar reads as the line's pattern, in the lane and in the legend.
_BAR_PATTERNS: dict[str, dict[str, object]] = {
    "dot": {"shape": ".", "fillmode": "replace", "size": 6, "solidity": 0.5},
    "dash": {"shape": "|", "fillmode": "replace", "size": 9, "solidity": 0.6},
}


def _bar_trace(lines: go.Scatter, units: tuple[float, float]) -> go.Scatter:
    """A lane trace (``x0, mid, x1, gap`` per segment, :func:`compute_line_arrays`) as one filled path: a bar as
    tall as the line is wide around each segment, vertices at both ends and the middle of both edges (hover finds
    them, as it found the line's points), joined without gaps (:func:`join_shapes`); a dotted or dashed line's
    bar is filled with dots or strokes (:data:`_BAR_PATTERNS`). Returned unchanged if it is not made of such
    segments."""
    x, y = np.asarray(lines.x, dtype="float64"), np.asarray(lines.y, dtype="float64")
    if len(x) == 0 or len(x) % 4 or not np.isnan(x[3::4]).all() or np.isnan(x.reshape(-1, 4)[:, :3]).any():
        return lines
    x, y = x.reshape(-1, 4), y.reshape(-1, 4)
    x0, mid, x1 = x[:, 0], x[:, 1], x[:, 2]
    half = float(lines.line.width) / 2.0 * units[1]
    top, bottom = y[:, 0] - half, y[:, 0] + half
    gx = np.column_stack([x0, mid, x1, x1, mid, x0, x0])
    gy = np.column_stack([top, top, top, bottom, bottom, bottom, top])
    text = np.repeat(np.asarray(lines.hovertext, dtype=object).reshape(-1, 4)[:, :1], 7, axis=1)
    keys = _per_vertex(lines.customdata, lambda k: np.repeat(k.reshape(-1, 4)[:, :1], 7, axis=1))
    gx, gy, text, *keys = join_shapes(gx, gy, text, *keys)
    return shapes_trace(x=gx, y=gy, hovertext=text, fillcolor=lines.line.color, **_keys_of(keys),
                        fillpattern=_BAR_PATTERNS.get(lines.line.dash or "solid"), **_legend_of(lines))  # fmt: skip


def _event_traces(
    markers: pd.DataFrame, y: pd.Series, px: float, first: set[str], tolerance: float = 0.0, *, record_keys: bool
) -> list[go.Scatter]:
    traces = []
    mk = markers.loc[markers["patient_id"].isin(y.index)]
    scale = min(1.0, max(0.35, px / 14.0))
    text = (
        "<b>"
        + mk["patient_id"].astype(str)
        + "</b><br>day "
        + mk["day"].astype(str)
        + "<br>"
        + mk["detail"].astype(str)
    ).to_numpy(dtype=object)
    keys = compute_record_keys(mk["patient_id"], mk["record"], mk["record_id"]) if record_keys else None
    kind = mk["kind"].to_numpy(dtype=object)
    kind_rank = pd.Series(kind).map({k: i for i, k in enumerate(MARKER_KINDS)}).fillna(len(MARKER_KINDS)).to_numpy()
    offsets = compute_marker_offsets(mk["patient_id"].to_numpy(), mk["day"].to_numpy(), kind_rank, tolerance=tolerance)
    ypos = mk["patient_id"].map(y).to_numpy(dtype="float64") + offsets
    grade = mk["grade"].astype("float64").fillna(0).to_numpy()
    for k in MARKER_KINDS:
        style = EVENT_STYLES[k]
        group = "responses" if k in ("CR", "PR", "PD") else "events"
        if k != "AE":
            mask = kind == k
            if mask.any():
                traces.append(
                    _marker_trace(
                        mk["day"].to_numpy()[mask],
                        ypos[mask],
                        text[mask],
                        None if keys is None else keys[mask],
                        name=str(style["name"]),
                        symbol=str(style["symbol"]),
                        colour=str(style["color"]),
                        size=float(style["size"]) * scale,
                        group=group,
                        first=first,
                        px=px,
                    )
                )
            continue
        for g, colour in AE_GRADE_COLOURS.items():
            mask = (kind == "AE") & (grade == g)
            if mask.any():
                traces.append(
                    _marker_trace(
                        mk["day"].to_numpy()[mask],
                        ypos[mask],
                        text[mask],
                        None if keys is None else keys[mask],
                        name=f"AE onset, grade {g}",
                        symbol=str(style["symbol"]),
                        colour=colour,
                        size=AE_GRADE_SIZES[g] * scale,
                        group=group,
                        first=first,
                        px=px,
                    )
                )
    return traces


def _arrow_traces(
    lanes: pd.DataFrame, y: pd.Series, pad: float, px: float, first: set[str], *, record_keys: bool
) -> list[go.Scatter]:
    traces = []
    ln = lanes.loc[lanes["patient_id"].isin(y.index)]
    ypos = ln["patient_id"].map(y).to_numpy(dtype="float64")
    end = ln["lane_end_day"].to_numpy(dtype="float64")
    masks = {
        "treatment": ln["ongoing_treatment"].to_numpy(dtype=bool),
        "followup": (ln["ongoing_followup"] & ~ln["ongoing_treatment"]).to_numpy(dtype=bool),
        "response": ln["ongoing_response"].to_numpy(dtype=bool),
    }
    offsets = {"treatment": 1.0, "followup": 1.0, "response": 2.6}
    scale = min(1.0, max(0.35, px / 14.0))
    for key in ("treatment", "followup", "response"):
        mask = masks[key]
        if not mask.any():
            continue
        style = ARROW_STYLES[key]
        shown = ln.loc[mask]  # the text of the lanes with this arrow only
        text = (
            "<b>"
            + shown["patient_id"].astype(str)
            + "</b><br>"
            + str(style["name"])
            + " at day "
            + shown["lane_end_day"].astype(str)
        ).to_numpy(dtype=object)
        no_record = pd.Series(pd.NA, index=shown.index, dtype="string")
        keys = compute_record_keys(shown["patient_id"], "", no_record) if record_keys else None
        traces.append(
            _marker_trace(
                end[mask] + offsets[key] * pad,
                ypos[mask],
                text,
                keys,
                name=str(style["name"]),
                symbol=str(style["symbol"]),
                colour=str(style["color"]),
                size=float(style["size"]) * scale,
                group="responses" if key == "response" else "lanes",
                first=first,
                px=px,
            )
        )
    return traces


#: Legend text: pixels per character (plotly's 12 px default font) and what an entry adds (its symbol, gaps).
_LEGEND_CHAR_PX = 6.0
_LEGEND_ENTRY_PX = 40.0


def _plot_width(width: int, margin: dict[str, int], traces: list[go.Scatter]) -> float:
    """The x axis's length in pixels once plotly has made room for the legend on the right (an estimate: the
    legend's width depends on the browser's font; 5% off makes a glyph 5% wider or narrower than tall).

    Plotly puts the legend at ``x=1.02`` of the plot area and moves the right margin to the legend's width plus
    12 px, so ``margin.l + 1.02 * plot + legend + 12 = width`` (measured in Chromium: 642 px of a 1,100 px swimmer
    at 10,000 lanes, with a 343 px legend).
    """
    names = [len(str(t.name or "")) * _LEGEND_CHAR_PX + _LEGEND_ENTRY_PX for t in traces if t.showlegend is not False]
    titles = [len(str(t.legendgrouptitle.text or "")) * _LEGEND_CHAR_PX for t in traces if t.legendgrouptitle]
    legend = max([*names, *titles], default=0.0)
    return min(width - margin["l"] - margin["r"], (width - margin["l"] - legend - 12.0) / 1.02)


def figure_swimmer(
    data: SwimmerData,
    *,
    sort: SortKey = "duration",
    group_by: str | None = None,
    title: str | None = "Swimmer plot",
    max_plot_height: int = 3000,
    max_lane_px: float = 22.0,
    width: int = 1100,
    footnotes: Sequence[str] = (),
    record_keys: bool = True,
) -> go.Figure:
    """Draw a swimmer plot: a lane per patient, segments by drug and dose level, markers, ongoing arrows.

    Markers of one patient within a marker's width of each other are spread across the lane
    (:func:`compute_marker_offsets`) so that none hides another; patients without a lane (``data.excluded``)
    are named in a footnote under the plot, with ``footnotes`` (synthetic patients, ...).

    Parameters
    ----------
    data : SwimmerData
        From :func:`tkitrack.outcomes.swimmer.derive_swimmer_data`.
    sort : {"duration", "start", "id"}
        Lane order within each group (longest first, earliest first dose first, or by patient id).
    group_by : str, optional
        A lane column (for example ``histology``): lanes are grouped with a header row above each group.
    title : str, optional
        Figure title.
    max_plot_height : int
        Cap on the height of the plotting area in pixels; beyond ``max_plot_height / max_lane_px`` patients
        the lanes get thinner instead of the figure getting taller (3 px per lane at 1,000 patients with the
        default cap); patient ids move from the axis to the hover text once a lane is under 9 px.
    max_lane_px : float
        Lane height for small cohorts.
    width : int
        Figure width in pixels.
    footnotes : sequence of str
        More notes under the plot.
    record_keys : bool
        Give every point its record key (``customdata``, ``patient<TAB>record<TAB>id``) for the web
        application's click-through; a static page (the report) has no use for them, and on a registry's
        swimmer they are one object per glyph vertex, held several times over while the figure is built.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces, in order: off treatment, one per (drug, dose level), one per marker kind (AE per grade), then
        the ongoing arrows; grouped in the legend as lanes / responses / events. Above :data:`MARKER_LANES_MAX`
        lanes the same traces are fill-only paths (glyphs for the markers, bars for the lane stretches; their
        legend entries show a filled swatch) and a footnote says so.
    """
    lanes, segments, markers = data.lanes, data.segments, data.markers
    n_groups = int(lanes[group_by].nunique(dropna=False)) if group_by in lanes.columns else 0
    px_guess = min(max_plot_height / max(len(lanes) + n_groups, 1), max_lane_px)
    header_rows = max(1, int(np.ceil(18.0 / px_guess)))  # a header needs ~18 px whatever the lane height
    y, headers = compute_lane_positions(lanes, segments, sort=sort, group_by=group_by, header_rows=header_rows)
    n_rows = int(y.max() + 1) if len(y) else 1
    px = float(min(max_plot_height / n_rows, max_lane_px))
    plot_height = n_rows * px
    margin = {"l": 90, "r": 30, "t": 70 if title else 30, "b": 60}
    height = int(plot_height + margin["t"] + margin["b"])
    x_max = float(lanes["lane_end_day"].max()) if len(lanes) else 1.0
    x_min = float(lanes["lane_start_day"].min()) if len(lanes) else 0.0
    pad = 0.015 * max(x_max - x_min, 1.0)

    first: set[str] = set()
    marker_days = 12.0 * (x_max - x_min + 4.5 * pad) / (0.62 * width)  # about one marker's width, in days
    traces = _lane_traces(segments, y, px, first, record_keys=record_keys)
    traces += _event_traces(markers, y, px, first, tolerance=marker_days, record_keys=record_keys)
    traces += _arrow_traces(lanes, y, pad, px, first, record_keys=record_keys)
    legend_height = 21 * len(traces) + 36 * len(first)  # entries plus group titles, so the legend never scrolls
    height = max(height, legend_height + margin["t"] + margin["b"])
    x_range = [min(x_min, 0.0) - pad, x_max + 3.5 * pad]
    if len(y) > MARKER_LANES_MAX:
        # each event kind as one path of glyphs, sized in data units so that a glyph is as many pixels as its marker
        units = (
            (x_range[1] - x_range[0]) / _plot_width(width, margin, traces),
            n_rows / (height - margin["t"] - margin["b"]),  # the y axis runs down: one lane is n_rows / height px
        )
        events = sum(len(t.x) for t in traces if t.mode == "markers")
        for i in range(len(traces)):  # in place: each marker or line trace is let go once redrawn
            traces[i] = (_glyph_trace if traces[i].mode == "markers" else _bar_trace)(traces[i], units)
        footnotes = [*footnotes, f"{len(y):,} lanes: above {MARKER_LANES_MAX:,} lanes the {events:,} events are drawn "
                                 "as filled shapes of their marker's form and size and lane stretches as filled bars "
                                 "of the line's width (dotted ones filled with dots; one path per legend entry), not "
                                 "as markers and lines; hover a shape or bar for its details."]  # fmt: skip
    fig = go.Figure()
    for _ in range(len(traces)):  # one at a time: a trace is copied into the figure, then its original let go
        add_trace(fig, traces.pop(0))
    show_ids = px >= 9.0
    fig.update_layout(
        title={"text": title} if title else None,
        width=width,
        height=height,
        margin=margin,
        template="simple_white",
        hovermode="closest",
        legend={"groupclick": "toggleitem", "tracegroupgap": 12, "itemsizing": "constant"},
        annotations=[
            {
                "x": 0.0,
                "xref": "paper",
                "y": pos,
                "yref": "y",
                "xanchor": "left",
                "showarrow": False,
                "text": f"<b>{escape_text(column_label(group_by))}: {escape_text(value_label(group_by, value))}</b> (n={n})",
                "name": f"group:{value}",  # the group's value as recorded, for code that rewrites the header
                "font": {"size": max(9, min(13, px * 0.9 + 4))},
            }
            for pos, value, n in headers
        ],
    )
    fig.update_xaxes(
        title_text=f"Days from {_ORIGIN_LABEL.get(data.origin, data.origin)}",
        range=x_range,
        zeroline=True,
        showgrid=True,
        gridcolor="#EEEEEE",
    )
    fig.update_yaxes(
        range=[n_rows - 0.5, -0.5],
        showgrid=False,
        ticks="",
        tickmode="array",
        tickvals=y.to_numpy() if show_ids else [],
        ticktext=y.index.astype(str) if show_ids else [],
        showticklabels=show_ids,
        title_text="Patient" if show_ids else f"Patients (n={len(y)}, id on hover)",
        tickfont={"size": max(8, min(12, px * 0.6))},
    )
    return add_footnotes(fig, [*excluded_note(data.excluded), *footnotes])
