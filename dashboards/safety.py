"""Safety figures: adverse events by term stacked by worst CTCAE grade, and a one-patient timeline.

Grades are coloured on a colour-blind-safe sequential scale and carry a fill pattern as a second cue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tkitrack.dashboards.compact import add_trace
from tkitrack.dashboards.layout import compute_line_arrays, compute_record_keys
from tkitrack.dashboards.notes import add_footnotes
from tkitrack.dashboards.palette import (
    AE_GRADE_COLOURS,
    AE_GRADE_PATTERNS,
    AE_GRADE_SIZES,
    DOSE_LEVEL_DASHES,
    DOSE_LEVEL_LOOKS,
    DOSE_LEVEL_WIDTHS,
    EVENT_STYLES,
    OFF_TREATMENT_COLOUR,
    darken,
    drug_colour,
)
from tkitrack.outcomes.swimmer import SwimmerData
from tkitrack.schemas.errors import InputError, NotFoundError

__all__ = ["figure_ae_summary", "figure_patient_timeline"]


def figure_ae_summary(
    incidence: pd.DataFrame,
    *,
    n_total: int | None = None,
    title: str | None = "Adverse events by worst grade",
    max_terms: int | None = 30,
    footnotes: Sequence[str] = (),
) -> go.Figure:
    """Horizontal stacked bars: patients per AE term, split by their worst CTCAE grade for that term.

    Parameters
    ----------
    incidence : pandas.DataFrame
        ``term, grade, n_patients`` where each patient counts once per term, at the worst grade they had.
    n_total : int, optional
        Patients at risk (the safety population); adds percentages to the hover text and the axis title.
    title : str, optional
        Figure title.
    max_terms : int, optional
        Show the most frequent terms only; None shows all (a footnote says how many terms are left out).
    footnotes : sequence of str
        Notes under the plot (denominator, synthetic patients).

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace per grade present (``name`` "Grade g"), y = term, most frequent term on top.
    """
    missing = [c for c in ("term", "grade", "n_patients") if c not in incidence.columns]
    if missing:
        raise InputError(f"incidence frame lacks column(s) {', '.join(missing)}; expected term, grade, n_patients.")
    data = incidence.assign(grade=pd.to_numeric(incidence["grade"], errors="coerce").astype("Int64"))
    data = data.loc[data["grade"].notna() & (data["n_patients"] > 0)]
    totals = data.groupby("term")["n_patients"].sum().sort_values(ascending=False, kind="stable")
    worst = data.groupby("term")["grade"].max()
    order = pd.DataFrame({"n": totals, "worst": worst.reindex(totals.index)})
    order = order.sort_values(["n", "worst"], ascending=[False, False], kind="stable")
    terms = order.index.tolist()[: max_terms or None]
    left_out = len(order) - len(terms)
    if left_out:
        footnotes = [f"Not shown: the {left_out} least frequent terms (all terms are in the AE table).", *footnotes]
    data = data.loc[data["term"].isin(terms)]
    fig = go.Figure()
    for grade in sorted(int(g) for g in data["grade"].unique()):
        part = data.loc[data["grade"] == grade]
        n = part["n_patients"].to_numpy(dtype="int64")
        pct = [f" ({100 * k / n_total:.0f}%)" for k in n] if n_total else [""] * len(n)
        add_trace(
            fig,
            go.Bar(
                y=part["term"].astype(str).to_numpy(),
                x=n,
                orientation="h",
                name=f"Grade {grade}",
                marker={
                    "color": AE_GRADE_COLOURS.get(grade, "#777777"),
                    "line": {"color": "#333333", "width": 0.6},
                    "pattern": {"shape": AE_GRADE_PATTERNS.get(grade, ""), "fgcolor": "#333333", "size": 6},
                },
                customdata=np.array(pct, dtype=object),
                hovertemplate=f"<b>%{{y}}</b><br>worst grade {grade}: %{{x}} patients%{{customdata}}<extra></extra>",
            ),
        )
    denominator = f" of {n_total}" if n_total else ""
    fig.update_layout(
        template="simple_white",
        barmode="stack",
        title={"text": title} if title else None,
        width=900,
        height=max(320, 140 + 24 * len(terms)),
        legend={"title": {"text": "Worst CTCAE grade"}, "traceorder": "normal"},
        margin={"l": 220, "r": 30, "t": 70 if title else 30, "b": 60},
    )
    fig.update_yaxes(categoryorder="array", categoryarray=terms, autorange="reversed", title_text=None)
    fig.update_xaxes(
        title_text=f"Patients{denominator}", dtick=1 if (totals.max() if len(totals) else 0) <= 12 else None
    )
    return add_footnotes(fig, footnotes)


def figure_patient_timeline(data: SwimmerData, patient_id: str, *, title: str | None = None) -> go.Figure:
    """One patient's course: treatment by drug and dose, responses, disease events, and each AE term's span.

    Parameters
    ----------
    data : SwimmerData
        From :func:`tkitrack.outcomes.swimmer.derive_swimmer_data` (the whole cohort or this patient only).
    patient_id : str
        The patient to draw.
    title : str, optional
        Default "Patient <id>".

    Returns
    -------
    plotly.graph_objects.Figure
        Rows (y categories, top to bottom): one per drug, "Response", "Disease / surgery", then one per AE term
        with a line from onset to resolution (to the last known day when unresolved) coloured by grade.

    Raises
    ------
    NotFoundError
        The patient has no lane in ``data``.
    """
    lane = data.lanes.loc[data.lanes["patient_id"] == patient_id]
    if lane.empty:
        raise NotFoundError(f"patient {patient_id!r} has no lane in the swimmer data; check the id.")
    end = float(lane["lane_end_day"].iloc[0])
    seg = data.segments.loc[data.segments["patient_id"] == patient_id]
    mk = data.markers.loc[data.markers["patient_id"] == patient_id]
    on = seg.loc[seg["on_treatment"]]
    drugs = sorted(on["drug"].dropna().unique().tolist(), key=str.lower)
    ae = mk.loc[mk["kind"] == "AE"]
    ae_terms = ae.sort_values("day", kind="stable")["label"].drop_duplicates().astype(str).tolist()
    rows = [*drugs, "Response", "Disease / surgery", *(f"AE: {t}" for t in ae_terms)]
    ypos = {r: float(i) for i, r in enumerate(rows)}
    fig = go.Figure()
    off = seg.loc[~seg["on_treatment"]]
    for drug in drugs:
        y0 = np.full(len(off), ypos[drug])
        x, y, _ = compute_line_arrays(off["start_day"].to_numpy(), off["end_day"].to_numpy(), y0, y0, midpoint=False)
        add_trace(
            fig,
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                line={"color": OFF_TREATMENT_COLOUR, "width": 2},
                hoverinfo="skip",
                showlegend=drug == drugs[0],
                name="Off treatment",
                legendgroup="off",
            ),
        )
    for (drug, level), part in on.groupby(["drug", "dose_level"], sort=True):
        y0 = np.full(len(part), ypos[str(drug)])
        text = (
            part["dose"].fillna("").astype(str)
            + " ("
            + str(level)
            + "), days "
            + part["start_day"].astype(str)
            + "–"
            + part["end_day"].astype(str)
        ).to_numpy(dtype=object)
        x, y, t = compute_line_arrays(part["start_day"].to_numpy(), part["end_day"].to_numpy(), y0, y0, text)
        keys = compute_record_keys(part["patient_id"], "exposure", part["record_id"])
        _, _, k = compute_line_arrays(part["start_day"].to_numpy(), part["end_day"].to_numpy(), y0, y0, keys)
        colour = drug_colour(str(drug), drugs)
        add_trace(
            fig,
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                hovertext=t,
                customdata=k,
                hoverinfo="text",
                name=f"{drug}, {level} dose"
                + (
                    f" ({DOSE_LEVEL_LOOKS[str(level)]})"
                    if str(level) in DOSE_LEVEL_LOOKS and level != "starting"
                    else ""
                ),
                line={
                    "color": darken(colour, 0.6) if level == "escalated" else colour,
                    "width": 14 * DOSE_LEVEL_WIDTHS.get(str(level), 1.0),
                    "dash": DOSE_LEVEL_DASHES.get(str(level), "solid"),
                },
            ),
        )
    for kind, style in EVENT_STYLES.items():
        part = mk.loc[mk["kind"] == kind]
        if part.empty or kind == "AE":
            continue
        row = "Response" if kind in ("CR", "PR", "PD") else "Disease / surgery"
        add_trace(
            fig,
            go.Scatter(
                x=part["day"].to_numpy(),
                y=np.full(len(part), ypos[row]),
                mode="markers",
                name=str(style["name"]),
                marker={
                    "symbol": style["symbol"],
                    "color": style["color"],
                    "size": style["size"],
                    "line": {"color": "#000000", "width": 0.8},
                },
                hovertext=("day " + part["day"].astype(str) + ": " + part["detail"].astype(str)).to_numpy(),
                customdata=compute_record_keys(part["patient_id"], part["record"], part["record_id"]),
                hoverinfo="text",
            ),
        )
    for grade, colour in AE_GRADE_COLOURS.items():
        part = ae.loc[ae["grade"] == grade]
        if part.empty:
            continue
        y0 = part["label"].astype(str).map(lambda t: ypos[f"AE: {t}"]).to_numpy(dtype="float64")
        stop = part["end_day"].astype("float64").fillna(end).to_numpy()
        text = ("day " + part["day"].astype(str) + ": " + part["detail"].astype(str)).to_numpy(dtype=object)
        x, y, t = compute_line_arrays(part["day"].to_numpy(), stop, y0, y0, text, midpoint=False)
        keys = compute_record_keys(part["patient_id"], part["record"], part["record_id"])
        _, _, k = compute_line_arrays(part["day"].to_numpy(), stop, y0, y0, keys, midpoint=False)
        add_trace(
            fig,
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                name=f"AE grade {grade}",
                hovertext=t,
                customdata=k,
                hoverinfo="text",
                line={"color": colour, "width": 3},
                marker={"size": AE_GRADE_SIZES[grade], "color": colour, "line": {"color": "#000000", "width": 0.8}},
            ),
        )
    fig.update_layout(
        template="simple_white",
        title={"text": title or f"Patient {patient_id}"},
        width=1000,
        height=160 + 34 * len(rows),
        hovermode="closest",
        margin={"l": 200, "r": 30, "t": 60, "b": 50},
    )
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(ypos.values()),
        ticktext=rows,
        range=[len(rows) - 0.5, -0.5],
        showgrid=True,
        gridcolor="#F2F2F2",
    )
    fig.update_xaxes(
        title_text=f"Days from {data.origin.replace('_', ' ')}",
        range=[min(float(lane["lane_start_day"].iloc[0]), 0.0) - 0.02 * max(end, 1), end * 1.03 + 1],
    )
    return fig
