"""`tkitrack timeline PATIENT`: the patient's history in date order, for a terminal or as JSON."""

from __future__ import annotations

import typer

from tkitrack.cli._common import ListingFormat, command, open_db, patient_argument, render_rows

__all__ = ["app"]

app = typer.Typer()


@command(app, "timeline")
def timeline(
    patient_id: str = patient_argument(),
    fmt: ListingFormat = typer.Option("table", "--format", "-f", help="Output format"),
) -> None:
    """Print a patient's history in date order: drug courses with dose, AEs with grade, scans with response."""
    from tkitrack.outcomes.timeline import RECORDS, TIMELINE_COLUMNS, timeline_rows
    from tkitrack.schemas.errors import NotFoundError
    from tkitrack.schemas.rows import read_patient_records

    records = read_patient_records(open_db(), patient_id, RECORDS)  # Core only: no models, no pandas
    if not records["patient"]:
        raise NotFoundError(f"patient {patient_id} does not exist; list patients with `tkitrack patient list`")
    rows = timeline_rows(records, patient_id)
    if fmt == "table":
        p = records["patient"][0]
        dx = "" if p["diagnosis_date_dtc"] is None else f", diagnosed {p['diagnosis_date_dtc']}"
        title = f"{patient_id}: {p['histology'] or 'histology not recorded'}{dx} (day 0 = diagnosis)"
        shown = [{"date": r["date_given"], **{k: r[k] for k in ("day", "kind", "record", "record_id", "detail")}}
                 for r in rows]  # fmt: skip
        render_rows(shown, ["date", "day", "kind", "record", "record_id", "detail"], title=title)
    else:
        render_rows([{**r, "date": r["date"].isoformat()} for r in rows], TIMELINE_COLUMNS, fmt=fmt)
