"""The exposure group: the record commands plus course operations (start, change dose, interrupt, resume, stop)."""

from __future__ import annotations

import typer

from tkitrack.cli._common import EXIT_CODES, command, open_db, patient_argument, user
from tkitrack.cli.records import make_record_app

__all__ = ["app"]

app = make_record_app("exposure")
_add = next(c for c in app.registered_commands if c.name == "add")
app.command(
    "start", help="Start a course: the same as `exposure add` (one row per constant-dose interval).", epilog=EXIT_CODES
)(_add.callback)


@command(app, "change")
def change(
    exposure_id: str = typer.Argument(..., help="The current interval's id (see `exposure list`)"),
    date: str = typer.Option(..., "--date", help="First day at the new dose (YYYY-MM-DD)"),
    dose: str = typer.Option(..., "--dose", help="New dose per administration"),
    unit: str | None = typer.Option(None, "--unit", help="New unit (default: unchanged)"),
    frequency: str | None = typer.Option(None, "--frequency", help="New frequency (default: unchanged)"),
    reason: str = typer.Option("dose_change", "--reason", help="Why: dose_change, toxicity, ..."),
    comment: str = typer.Option("", "--comment", help="Free text for the audit trail"),
) -> None:
    """Change the dose from DATE: the interval ends the day before and a new one starts."""
    from tkitrack.schemas.courses import change_dose
    from tkitrack.schemas.storage import transaction

    with transaction(open_db()) as session:
        change_dose(session, exposure_id, on=date, dose=dose, unit=unit, frequency=frequency, reason=reason,
                    comment=comment, user=user())  # fmt: skip
    typer.echo(f"exposure {exposure_id}: dose {dose} from {date}")


def _stop(exposure_id: str, last_dose: str, reason: str, comment: str, verb: str) -> None:
    from tkitrack.schemas.courses import stop_course
    from tkitrack.schemas.storage import transaction

    with transaction(open_db()) as session:
        stop_course(session, exposure_id, last_dose=last_dose, reason=reason, comment=comment, user=user(),
                    discontinue=verb == "stopped")  # fmt: skip
    typer.echo(f"exposure {exposure_id}: {verb}, last dose {last_dose} ({reason})")


@command(app, "stop")
def stop(
    exposure_id: str = typer.Argument(..., help="The interval's id"),
    last_dose: str = typer.Option(..., "--last-dose", help="Day of the last dose (YYYY-MM-DD)"),
    reason: str = typer.Option(..., "--reason", help="complete_response, toxicity, progression, ..."),
    comment: str = typer.Option("", "--comment", help="Free text for the audit trail"),
) -> None:
    """Stop the drug for good (a discontinuation): the interval ends on the last dose, with the reason.

    A later start of the same drug is a re-challenge, a new course; for a break use `exposure interrupt`.
    """
    _stop(exposure_id, last_dose, reason, comment, "stopped")


@command(app, "interrupt")
def interrupt(
    exposure_id: str = typer.Argument(..., help="The interval's id"),
    last_dose: str = typer.Option(..., "--last-dose", help="Day of the last dose before the break"),
    reason: str = typer.Option("toxicity", "--reason", help="Why: toxicity, surgery, patient_choice, ..."),
    comment: str = typer.Option("", "--comment", help="Free text for the audit trail"),
) -> None:
    """Interrupt (hold) the drug; `exposure resume` continues the same course (the gap is the hold)."""
    _stop(exposure_id, last_dose, reason, comment, "interrupted")


@command(app, "resume")
def resume(
    patient_id: str = patient_argument(),
    drug: str = typer.Option(..., "--drug", help="Drug to resume"),
    date: str = typer.Option(..., "--date", help="First day back on the drug"),
    dose: str | None = typer.Option(None, "--dose", help="Dose (default: the last one)"),
    unit: str | None = typer.Option(None, "--unit", help="Unit (default: the last one)"),
    frequency: str | None = typer.Option(None, "--frequency", help="Frequency (default: the last one)"),
) -> None:
    """Resume a drug after an interruption: a new interval from DATE."""
    from tkitrack.schemas.courses import resume_course
    from tkitrack.schemas.storage import transaction

    with transaction(open_db()) as session:
        resume_course(session, patient_id, drug, on=date, dose=dose, unit=unit, frequency=frequency, user=user())
    typer.echo(f"{patient_id}: {drug} resumed from {date}")
