"""Audit-trail commands: `tkitrack audit verify` and `tkitrack audit log PATIENT`."""

from __future__ import annotations

import typer

from tkitrack.cli._common import (
    ListingFormat,
    command,
    fail,
    group,
    open_db,
    patient_argument,
    render,
)

__all__ = ["app"]

app = group("Check and read the audit trail.")


@command(app, "verify")
def verify() -> None:
    """Recompute the hash chain; report the first entry that was altered or removed (exit 1 if any)."""
    from tkitrack.schemas.audit import verify_chain
    from tkitrack.schemas.storage import transaction

    with transaction(open_db()) as session:
        report = verify_chain(session)
    if not report.ok:
        raise fail(f"audit trail broken at entry {report.broken_seq}: {report.problem} "
                   f"({report.entries} entries read)")  # fmt: skip
    typer.echo(f"audit trail intact: {report.entries} entries, every hash and link verified")


@command(app, "log")
def log(
    patient_id: str | None = patient_argument(False, "Only this patient (all patients when omitted)"),
    table: str | None = typer.Option(None, "--record", help="Only this record type (ae, exposure, ...)"),
    fmt: ListingFormat = typer.Option("table", "--format", "-f", help="Output format"),
) -> None:
    """List the audit trail (who, when, record, field, old and new value, reason), oldest first."""
    from tkitrack.schemas.audit import read_audit_log
    from tkitrack.schemas.storage import transaction

    with transaction(open_db()) as session:
        trail = read_audit_log(session, patient_id=patient_id, table=table)
    if patient_id is not None and trail.empty:
        raise fail(f"no audit entries for patient {patient_id}; check the id with `tkitrack patient list`")
    cols = ["seq", "ts", "user", "action", "table_name", "record_id", "field", "old_value", "new_value", "reason"]
    shown = trail[cols].rename(columns={"table_name": "record"})
    if fmt == "table":  # a terminal gets a readable digest; json and csv keep every character
        shown = shown.assign(
            ts=shown["ts"].str.slice(0, 19).str.replace("T", " ") + "Z",
            new_value=shown["new_value"].map(lambda v: v if v is None or len(v) <= 60 else v[:57] + "..."),
        )
    render(shown, fmt, title="Audit trail (UTC)", wide=("new_value", "reason"))
