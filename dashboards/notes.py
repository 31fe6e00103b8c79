"""Footnotes inside a figure: who is not shown and why, synthetic patients, methods; kept in PNG and PDF exports.

A note is part of the figure (a paper-anchored annotation under the plot, named ``footnotes``), not of the page
around it, so a figure copied into a manuscript or exported for print still says what it leaves out.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

__all__ = ["FOOTNOTE_NAME", "add_footnotes", "escape_text", "excluded_note"]

#: ``name`` of the annotation that holds a figure's footnotes.
FOOTNOTE_NAME = "footnotes"
_LINE_PX = 15


def excluded_note(excluded: pd.DataFrame, what: str = "patients", *, limit: int = 8) -> list[str]:
    """One sentence per reason: ``Not shown: 4 patients without a diagnosis date (TAN-2022-1, ...).``

    ``excluded`` has ``patient_id`` and ``reason``, a phrase that follows "patients" ("without a diagnosis date").
    """
    if excluded is None or excluded.empty:
        return []
    out = []
    for reason, ids in excluded.groupby("reason", sort=True)["patient_id"]:  # a handful of reasons
        listed = sorted(ids.astype(str).unique())
        shown = ", ".join(listed[:limit]) + (f" and {len(listed) - limit} more" if len(listed) > limit else "")
        noun = what if len(listed) != 1 else what.rstrip("s")
        out.append(f"Not shown: {len(listed)} {noun} {reason} ({shown}).")

    return out


def add_footnotes(fig: go.Figure, notes: Sequence[str]) -> go.Figure:
    """Write ``notes`` under the plot (wrapped to the figure width) and make room for them; returns ``fig``."""
    notes = [n for n in notes if n]
    if not notes:
        return fig
    width = fig.layout.width or 900
    per_line = max(40, int((width - 40) / 6.6))
    lines = [line for note in notes for line in textwrap.wrap(note, per_line)]
    margin = fig.layout.margin
    bottom = (margin.b if margin and margin.b is not None else 60) + 8 + _LINE_PX * len(lines)
    height = (fig.layout.height or 500) + 8 + _LINE_PX * len(lines)
    fig.add_annotation(
        name=FOOTNOTE_NAME,
        text="<br>".join(escape_text(line) for line in lines),
        xref="paper",
        yref="paper",
        x=0,
        xanchor="left",
        y=0,
        yanchor="top",
        yshift=-(bottom - _LINE_PX * len(lines) - 8),
        showarrow=False,
        align="left",
        font={"size": 11, "color": "#444444"},
    )
    fig.update_layout(height=height, margin={"b": bottom})
    return fig


def escape_text(text: str) -> str:
    """Plotly annotation text is a small HTML subset: escape what a patient id or term could carry."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
