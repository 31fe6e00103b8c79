"""`tkitrack timeline PATIENT`: the patient's history in date order, for a terminal or as JSON."""

from __future__ import annotations

import typer

from tkitrack.cli._common import ListingFormat, command, open_db, patient_argument, render

__all__ = ["app"]

app = typer.Typer()


@command(app, "timeline")
def timeline(
    patient_id: str = patient_argument(),
    fmt: ListingFormat = typer.Option("table", "--format", "-f", help="Output format"),
) -> None:
    """Print a patient's history in date order: drug courses with dose, AEs with grade, scans with response."""
    from tkitrack.outcomes.timeline import derive_timeline
    from tkitrack.schemas.errors import NotFoundError
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import read_frames

    with transaction(open_db()) as session:
        frames = read_frames(session, patients=[patient_id])
    if frames["patient"].empty:
        raise NotFoundError(f"patient {patient_id} does not exist; list patients with `tkitrack patient list`")
    table = derive_timeline(frames, patient_id)
    if fmt == "table":
        p = frames["patient"].iloc[0]
        dx = "" if p["diagnosis_date_dtc"] is None else f", diagnosed {p['diagnosis_date_dtc']}"
        title = f"{patient_id}: {p['histology'] or 'histology not recorded'}{dx} (day 0 = diagnosis)"
        render(table.drop(columns=["patient_id", "date"]).rename(columns={"date_given": "date"}), fmt, title=title)
    else:
        render(table, fmt)
