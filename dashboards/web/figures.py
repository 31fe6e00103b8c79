"""The web pages' figures and tables, from record frames: each figure's points carry the record they come from.

A point's ``customdata`` is ``patient<TAB>record<TAB>id`` (:func:`~tkitrack.dashboards.layout.compute_record_keys`);
the browser opens that patient's page at that record when the point is clicked.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tkitrack.dashboards.layout import compute_lane_positions, compute_record_keys
from tkitrack.dashboards.safety import figure_patient_timeline
from tkitrack.dashboards.survival import compute_step_value, figure_km
from tkitrack.dashboards.swimmer import figure_swimmer
from tkitrack.outcomes.cohort import (
    ENDPOINTS,
    GROUPINGS,
    derive_adam_from_records,
    derive_endpoint,
    derive_patient_attributes,
    derive_swimmer_from_records,
)
from tkitrack.outcomes.endpoints import endpoint_info
from tkitrack.outcomes.summary import SurvivalSummary, summarise_endpoint, summarise_response
from tkitrack.outcomes.swimmer import SwimmerData
from tkitrack.schemas.errors import InputError, NotFoundError

__all__ = [
    "SWIMMER_CHUNK",
    "SwimmerParts",
    "figure_cohort_km",
    "figure_cohort_swimmer",
    "figure_json",
    "figure_patient",
    "response_and_ae_tables",
]


def figure_json(fig: go.Figure) -> str:
    """The figure as plotly JSON (data and layout) for ``Plotly.newPlot`` in the browser."""
    return fig.to_json(validate=False)


def figure_patient(frames: dict[str, pd.DataFrame], patient_id: str) -> go.Figure | None:
    """The patient's timeline from diagnosis (or the first dose without a diagnosis date); None without either."""
    for origin in ("diagnosis", "first_dose"):
        data = derive_swimmer_from_records(frames, origin=origin)  # type: ignore[arg-type]
        try:
            fig = figure_patient_timeline(data, patient_id)
        except NotFoundError:
            continue
        fig.update_layout(
            width=None, autosize=True, title={"text": f"{patient_id}: days from {origin.replace('_', ' ')}"}
        )
        return fig
    return None


#: Lanes per swimmer figure in the browser: each is drawn in its own task, so no single step blocks the page long.
SWIMMER_CHUNK = 500


class SwimmerParts:
    """The cohort's swimmer plot (lanes from diagnosis, AEs of grade 3 or more) grouped by a patient attribute, as
    consecutive parts of ``chunk`` lanes, each drawn on demand (:meth:`figure`).

    The lanes are ordered once for the whole cohort (group, then longest first); every part shares the x range, a
    part that continues a group says so, and group sizes are the whole group's. Only the first part has the legend
    (horizontal, above the lanes, so that every part's plotting area lines up) and the title.
    """

    def __init__(self, frames: dict[str, pd.DataFrame], *, group_by: str | None, chunk: int = SWIMMER_CHUNK):
        self.data = derive_swimmer_from_records(frames, origin="diagnosis", ae_min_grade=3)
        lanes = self.data.lanes
        self.group = group_by if group_by in lanes.columns else None
        order, _ = compute_lane_positions(lanes, self.data.segments, sort="duration", group_by=self.group)
        self.ids = order.sort_values(kind="stable").index.to_numpy()
        self.chunk = chunk
        n = len(self.ids)
        x_min = min(float(lanes["lane_start_day"].min()) if n else 0.0, 0.0)
        x_max = float(lanes["lane_end_day"].max()) if n else 1.0
        pad = 0.015 * max(x_max - x_min, 1.0)
        self.x_range = [x_min - pad, x_max + 3.5 * pad]
        groups = lanes.set_index("patient_id")[self.group].astype("string").fillna("(missing)") if self.group else None
        self.totals = groups.value_counts() if groups is not None else pd.Series(dtype=int)
        #: the group of each part's first lane, and whether that group began in an earlier part
        self.groups = groups.reindex(self.ids) if groups is not None else None

    def __len__(self) -> int:
        return max(1, -(-len(self.ids) // self.chunk))

    def figure(self, k: int) -> go.Figure:
        """Part ``k`` (0-based) as a plotly figure."""
        n, start = len(self.ids), k * self.chunk
        part = set(self.ids[start : start + self.chunk])
        d = self.data
        sub = SwimmerData(lanes=d.lanes.loc[d.lanes["patient_id"].isin(part)],
                          segments=d.segments.loc[d.segments["patient_id"].isin(part)],
                          markers=d.markers.loc[d.markers["patient_id"].isin(part)], origin=d.origin)  # fmt: skip
        end = min(start + self.chunk, n)
        span = f" (lanes {start + 1}-{end} of {n})" if n > self.chunk else ""
        title = f"{n} patients: click a lane to open the patient{span}" if k == 0 else f"Lanes {start + 1}-{end} of {n}"
        fig = figure_swimmer(sub, sort="duration", group_by=self.group, title=title, max_plot_height=1500)
        earlier = set(self.groups.iloc[:start]) if self.groups is not None else set()
        for note in fig.layout.annotations:
            found = re.match(r"<b>(.*): (.*)</b> \(n=\d+\)$", note.text or "")
            if found and (note.name or "").startswith("group:"):
                value = note.name.removeprefix("group:")  # the recorded value; the text shows its label
                more = ", continued" if value in earlier else ""
                note.text = f"<b>{found.group(1)}: {found.group(2)}</b> (n={int(self.totals.get(value, 0))}{more})"

        fig.update_layout(width=None, autosize=True, showlegend=k == 0, margin={"r": 30},
                          legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0.0,
                                  "itemclick": False, "itemdoubleclick": False})  # fmt: skip
        fig.update_xaxes(range=self.x_range)
        return fig


def figure_cohort_swimmer(
    frames: dict[str, pd.DataFrame], *, group_by: str | None, chunk: int = SWIMMER_CHUNK
) -> list[go.Figure]:
    """Every part of :class:`SwimmerParts` at once (the browser fetches them one by one instead)."""
    parts = SwimmerParts(frames, group_by=group_by, chunk=chunk)
    return [parts.figure(k) for k in range(len(parts))]


def figure_cohort_km(
    frames: dict[str, pd.DataFrame], *, endpoint: str, group: str | None, adam: dict | None = None
) -> tuple[go.Figure, SurvivalSummary]:
    """Kaplan-Meier of an endpoint of :data:`ENDPOINTS`, by a grouping of :data:`GROUPINGS`, plus one marker per
    patient at their event or censoring time on their group's curve (click: that patient)."""
    if endpoint not in ENDPOINTS:
        raise InputError(f"endpoint {endpoint!r} is not known; use one of {', '.join(ENDPOINTS)}")
    if group is not None and group not in GROUPINGS:
        raise InputError(f"group {group!r} is not known; use one of {', '.join(GROUPINGS)}")
    data = derive_endpoint(frames, endpoint, adam=adam)
    if data.empty:
        raise InputError(f"no patient has a {endpoint} time in this selection")
    if group is not None:
        data = data.merge(derive_patient_attributes(frames)[["patient_id", group]], on="patient_id", how="left")
        data[group] = data[group].astype(str)
    summary = summarise_endpoint(data, group=group)
    info = endpoint_info(endpoint)  # title, axes and origin from the endpoint's one declaration
    fig = figure_km(summary.curves, medians=True, title=info.title, time_label=info.x_label, y_title=info.y_label)
    for name, curve in summary.curves.items():
        part = data if group is None else data.loc[data[group] == name]
        part = part.loc[part["time"].notna()]  # no origin, no time: not on the curve
        times = part["time"].to_numpy(dtype="float64")
        what = np.where(part["event"].to_numpy(dtype=bool), "event", "censored")
        fig.add_trace(go.Scatter(
            x=times, y=compute_step_value(curve, "survival", times), mode="markers", name=f"{name}: patients",
            legendgroup=str(name), showlegend=False, marker={"size": 5, "symbol": "line-ns-open", "color": "#555555"},
            customdata=compute_record_keys(part["patient_id"], "", pd.Series(pd.NA, index=part.index, dtype="string")),
            hovertext=(part["patient_id"].astype(str) + ": " + what + " at day " + part["time"].map("{:g}".format)).to_numpy(),
            hoverinfo="text",
        ))  # fmt: skip
    fig.update_layout(width=None, autosize=True)
    return fig, summary


def response_and_ae_tables(frames: dict[str, pd.DataFrame], *, adam: dict | None) -> dict[str, object]:
    """The response table (k/n with exact 95% CI among treated patients) and AE incidence (worst grade per term)."""
    out: dict[str, pd.DataFrame] = {}
    if adam is not None:
        treated = adam["adsl"].loc[adam["adsl"]["TRTSDT"].notna(), "USUBJID"]
        resp = summarise_response(adam["adrs"], subjects=treated)
        out["response"] = resp[["measure", "text"]].rename(columns={"text": "k/n (%, exact 95% CI)"})
    if len(frames["ae"]):
        from tkitrack.dashboards.tables_safety import table_ae_incidence  # the reader form of the CLI and report

        incidence = table_ae_incidence(frames)
        out["ae"] = incidence.to_frame()
        out["ae_footnotes"] = incidence.footnotes  # the denominator: the safety population, not everyone selected
    return out


def cohort_adam(frames: dict[str, pd.DataFrame]) -> dict | None:
    """ADSL/ADRS/ADTTE of the selection (None when nobody has a drug course)."""
    return derive_adam_from_records(frames) if len(frames["exposure"]) else None
