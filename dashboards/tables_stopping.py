"""Stopping after complete response: the landmark table and the listing of everyone who stopped, as a reader sees
them (one presentation for the terminal, the report and the web pages)."""

from __future__ import annotations

import pandas as pd

from tkitrack.dashboards.labels import present_frame
from tkitrack.dashboards.pubtable import PubTable

__all__ = ["table_landmarks", "table_stopped"]

_LANDMARK_COLUMNS = {
    "landmark_day": "Days after CR",
    "status": "Status at the landmark",
    "n": "Patients",
    "events": "Relapses or deaths",
    "n_not_at_risk": "Left out (relapsed, died or out of follow-up by then)",
    "median_text": "Median, days (95% CI)",
    "warning_text": "Note",
}
_STOPPED_COLUMNS = {
    "patient_id": "Patient",
    "cr_date": "First CR",
    "stop_date": "Stopped",
    "stop_reason": "Reason for stopping",
    "days_on_drug": "Days on drug",
    "days_in_cr_before_stop": "Days from CR to stop",
    "days_off_drug_followup": "Days off drug in follow-up",
    "relapse": "Relapse",
    "days_stop_to_relapse": "Days from stop to relapse",
    "relapse_kind": "Relapse kind",
    "vital_status": "Vital status",
}


def table_landmarks(marks: pd.DataFrame, *, conf: float = 0.95) -> PubTable:
    """:func:`tkitrack.outcomes.stopping.landmark_analysis` as a table: status fixed at each landmark."""
    shown = marks[list(_LANDMARK_COLUMNS)].assign(
        status=marks["status"].map({"stopped": "Stopped", "on_drug": "On drug"}),
        warning_text=marks["warning_text"].str.capitalize(),
    )
    columns = dict(_LANDMARK_COLUMNS, median_text=f"Median, days ({conf * 100:g}% CI)")
    notes = [
        "Status is fixed at the landmark from the record of the stop; follow-up counts from the landmark, so no "
        "patient is credited with the time they had to survive to stop (immortal time). Patients who relapsed, "
        "died or left follow-up before a landmark are left out of it and counted."
    ]
    return PubTable.from_frame("landmarks", "Landmark analysis: relapse or death after the landmark",
                               present_frame(shown.rename(columns=columns)), notes)  # fmt: skip


def table_stopped(stopped: pd.DataFrame) -> PubTable:
    """:func:`tkitrack.outcomes.stopping.list_stopped_patients` as a listing with reader labels and values."""
    shown = stopped[[c for c in _STOPPED_COLUMNS if c in stopped.columns]]
    presented = present_frame(
        shown, kinds={"stop_reason": "reason", "relapse_kind": "reason", "vital_status": "reason"}
    )
    presented.columns = [_STOPPED_COLUMNS[c] for c in shown.columns]
    notes = ["Days count from the first CR and from the stop; 'Days off drug in follow-up' runs to a restart or the "
             "last contact."]  # fmt: skip
    return PubTable.from_frame(
        "stopped", "Everyone who stopped the inhibitor after complete response", presented, notes
    )
