"""Tests for tkitrack.dashboards.notes: footnotes inside a figure, and who is left out of it."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from tkitrack.dashboards.notes import FOOTNOTE_NAME, add_footnotes, excluded_note


def test_excluded_note_one_sentence_per_reason_with_the_ids():
    excluded = pd.DataFrame(
        {
            "patient_id": ["P3", "P1", "P2", *[f"Q{i}" for i in range(10)]],
            "reason": ["without a diagnosis date"] * 3 + ["without a response (CR or PR)"] * 10,
        }
    )
    notes = excluded_note(excluded)
    assert notes[0] == "Not shown: 3 patients without a diagnosis date (P1, P2, P3)."
    assert notes[1].startswith("Not shown: 10 patients without a response (CR or PR) (Q0, Q1,")
    assert notes[1].endswith("Q7 and 2 more).")
    one = excluded_note(pd.DataFrame({"patient_id": ["P9"], "reason": ["without a drug course"]}))
    assert one == ["Not shown: 1 patient without a drug course (P9)."]
    assert excluded_note(pd.DataFrame(columns=["patient_id", "reason"])) == []


def test_footnotes_are_in_the_figure_wrapped_and_make_room():
    fig = go.Figure().update_layout(width=500, height=400, margin={"b": 60})
    long = "Synthetic data: " + "x " * 120
    add_footnotes(fig, ["Not shown: 1 patient <b>X</b> (P1).", long, ""])
    (note,) = [a for a in fig.layout.annotations if a.name == FOOTNOTE_NAME]
    lines = note.text.split("<br>")
    assert lines[0] == "Not shown: 1 patient &lt;b&gt;X&lt;/b&gt; (P1)."  # patient text is never markup
    assert len(lines) >= 4 and all(len(line) <= 70 for line in lines)  # wrapped to the 500-px width
    grow = 8 + 15 * len(lines)
    assert (fig.layout.height, fig.layout.margin.b) == (400 + grow, 60 + grow)
    assert add_footnotes(go.Figure(), []).layout.annotations == ()
