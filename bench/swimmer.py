"""Figure 5: a 10,000-patient swimmer plot: derive + figure build against the same traces built from numpy arrays.

Project: :func:`~tkitrack.outcomes.swimmer.derive_swimmer_data` on the generated cohort's typed record frames,
then :func:`~tkitrack.dashboards.swimmer.figure_swimmer`. Baseline: ``go.Figure`` built from the very traces the
project drew (same kinds, same properties, the same layout), every coordinate and text a numpy array made
beforehand: what plotly itself costs for that figure. The trace count is shown at two cohort sizes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench._harness import Result, median_time, paired_times

__all__ = ["run", "typed_cohort"]

_RECORDS = ("patient", "exposure", "assessment", "disease_event", "procedure", "followup", "ae")


def typed_cohort(n: int, *, seed: int = 5) -> dict[str, pd.DataFrame]:
    """The generated cohort parsed into typed record frames (as read back from the database)."""
    from tkitrack.sample_data.generate import generate_cohort
    from tkitrack.schemas.parse import parse_records

    raw = generate_cohort(n, seed=seed)
    return {r: parse_records(r, raw[r])[0] for r in _RECORDS}


def _derive(frames: dict[str, pd.DataFrame]):
    from tkitrack.outcomes.swimmer import derive_swimmer_data

    return derive_swimmer_data(frames["patient"], frames["exposure"], frames["assessment"],
                               frames["disease_event"], frames["procedure"], frames["followup"], frames["ae"])  # fmt: skip


def _figure(frames: dict[str, pd.DataFrame]):
    from tkitrack.dashboards.swimmer import figure_swimmer

    return figure_swimmer(_derive(frames))


def _as_arrays(value):
    if isinstance(value, dict):
        return {k: _as_arrays(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    return value


def _specs(fig) -> tuple[list[tuple[type, dict]], dict]:
    """Each trace's class and properties with every sequence as a numpy array; the layout as a dict."""
    import plotly.graph_objects as go

    specs = []
    for trace in fig.data:
        props = trace.to_plotly_json()
        kind = props.pop("type")
        specs.append((getattr(go, kind[0].upper() + kind[1:]), _as_arrays(props)))
    return specs, fig.layout.to_plotly_json()


def _from_arrays(specs: list[tuple[type, dict]], layout: dict):
    import plotly.graph_objects as go

    return go.Figure(data=[cls(**props) for cls, props in specs], layout=layout)


def run(n: int = 10_000, repeats: int = 5, small: int = 1_000) -> list[Result]:
    frames = typed_cohort(n)
    fig = _figure(frames)
    specs, layout = _specs(fig)
    again = _from_arrays(specs, layout)
    assert [t.name for t in again.data] == [t.name for t in fig.data]
    p, b = paired_times(lambda: _figure(frames), lambda: _from_arrays(specs, layout), repeats)
    data = _derive(frames)
    derive_t = median_time(lambda: _derive(frames), repeats)

    def build() -> None:
        from tkitrack.dashboards.swimmer import figure_swimmer

        figure_swimmer(data)

    build_t = median_time(build, repeats)
    from tkitrack.dashboards.compact import figure_html

    html = figure_html(fig, "figure", {})  # as `swimmer -o FILE.html` and the report write it
    small_fig = _figure(typed_cohort(small))
    points = sum(len(t.x) for t in fig.data if t.x is not None)
    notes = {
        "derive": f"{derive_t:.2f} s",
        "figure_swimmer": f"{build_t:.2f} s",
        "traces": f"{len(fig.data)} at {n:,} patients, {len(small_fig.data)} at {small:,}",
        "points": f"{points:,}",
        "HTML": f"{len(html.encode()) / 2**20:.1f} MiB packed, without plotly.js",
    }
    return [
        Result("5 swimmer", f"{n:,} patients: derive + figure", p, b, None, repeats, notes),
        Result("5 swimmer", f"{n:,} patients: figure_swimmer only", build_t, b, None, repeats),
    ]
