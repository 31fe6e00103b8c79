"""Swimmer plot: one lane per patient, built from a handful of traces (one per legend entry), never one per patient.

Every legend entry is a single plotly trace whose coordinates are numpy arrays: lane segments are drawn as one
line trace with NaN separators between segments, markers as one scatter trace per event kind (and per CTCAE
grade for adverse events). The number of traces therefore depends on the number of drugs, dose levels and
event kinds present, not on the number of patients; 10,000 lanes build as fast as a few hundred.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

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

__all__ = ["LEGEND_GROUPS", "figure_swimmer"]


#: Legend groups (legendgroup -> title) in legend order.
LEGEND_GROUPS: dict[str, str] = {
    "lanes": "Treatment (colour = drug, pattern and width = dose level)",
    "responses": "Response",
    "events": "Events",
}
_DOSE_LEVEL_ORDER = ("starting", "reduced", "escalated", "changed")
_ORIGIN_LABEL = {"diagnosis": "diagnosis", "first_dose": "first dose", "reference": "reference date"}


def _hover_segments(seg: pd.DataFrame) -> np.ndarray:
    days = "days " + seg["start_day"].astype(str) + "–" + seg["end_day"].astype(str)
    ended = np.where(seg["ongoing"], "ongoing", "ended: " + seg["reason"].fillna("not recorded").astype(str))
    on_text = (
        "<b>"
        + seg["patient_id"].astype(str)
        + "</b><br>"
        + seg["drug"].fillna("").astype(str)
        + " "
        + seg["dose"].fillna("").astype(str)
        + " ("
        + seg["dose_level"].fillna("").astype(str)
        + " dose)<br>"
        + days
        + "<br>"
        + ended
    )
    off_text = "<b>" + seg["patient_id"].astype(str) + "</b><br>off treatment<br>" + days
    return np.where(seg["on_treatment"], on_text, off_text).astype(object)


def _legend(group: str, first: set[str]) -> dict[str, object]:
    out: dict[str, object] = {"legendgroup": group}
    if group not in first:
        first.add(group)
        out["legendgrouptitle"] = {"text": LEGEND_GROUPS[group]}
    return out


def _lane_traces(segments: pd.DataFrame, y: pd.Series, px: float, first: set[str]) -> list[go.Scatter]:
    traces = []
    seg = segments.loc[segments["patient_id"].isin(y.index)]
    text = _hover_segments(seg)
    ypos = seg["patient_id"].map(y).to_numpy()
    off = ~seg["on_treatment"].to_numpy(dtype=bool)
    keys = compute_record_keys(seg["patient_id"], np.where(seg["on_treatment"], "exposure", ""), seg["record_id"])
    x, yy, t = compute_line_arrays(
        seg["start_day"].to_numpy()[off], seg["end_day"].to_numpy()[off], ypos[off], ypos[off], text[off]
    )
    _, _, k = compute_line_arrays(seg["start_day"].to_numpy()[off], seg["end_day"].to_numpy()[off], ypos[off],
                                  ypos[off], keys[off])  # fmt: skip
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
    for drug, level in combos.sort_values(["_d", "_l"])[["drug", "dose_level"]].itertuples(index=False):
        mask = (~off) & (seg["drug"].eq(drug) & seg["dose_level"].eq(level)).to_numpy(dtype=bool, na_value=False)
        x, yy, t = compute_line_arrays(
            seg["start_day"].to_numpy()[mask], seg["end_day"].to_numpy()[mask], ypos[mask], ypos[mask], text[mask]
        )
        _, _, k = compute_line_arrays(seg["start_day"].to_numpy()[mask], seg["end_day"].to_numpy()[mask],
                                      ypos[mask], ypos[mask], keys[mask])  # fmt: skip
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


def _marker_trace(
    x: np.ndarray,
    y: np.ndarray,
    text: np.ndarray,
    keys: np.ndarray,
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


def _event_traces(
    markers: pd.DataFrame, y: pd.Series, px: float, first: set[str], tolerance: float = 0.0
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
    keys = compute_record_keys(mk["patient_id"], mk["record"], mk["record_id"])
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
                        keys[mask],
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
                        keys[mask],
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


def _arrow_traces(lanes: pd.DataFrame, y: pd.Series, pad: float, px: float, first: set[str]) -> list[go.Scatter]:
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
        text = (
            "<b>"
            + ln["patient_id"].astype(str)
            + "</b><br>"
            + str(style["name"])
            + " at day "
            + ln["lane_end_day"].astype(str)
        ).to_numpy(dtype=object)[mask]
        keys = compute_record_keys(ln["patient_id"], "", pd.Series(pd.NA, index=ln.index, dtype="string"))[mask]
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

    Returns
    -------
    plotly.graph_objects.Figure
        Traces, in order: off treatment, one per (drug, dose level), one per marker kind (AE per grade), then
        the ongoing arrows; grouped in the legend as lanes / responses / events.
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
    traces = _lane_traces(segments, y, px, first)
    traces += _event_traces(markers, y, px, first, tolerance=marker_days)

    traces += _arrow_traces(lanes, y, pad, px, first)
    fig = go.Figure(data=traces)
    show_ids = px >= 9.0
    legend_height = 21 * len(traces) + 36 * len(first)  # entries plus group titles, so the legend never scrolls
    fig.update_layout(
        title={"text": title} if title else None,
        width=width,
        height=max(height, legend_height + margin["t"] + margin["b"]),
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
        range=[min(x_min, 0.0) - pad, x_max + 3.5 * pad],
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
