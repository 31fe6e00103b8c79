"""Record command groups (patient, exposure, ae, assess, procedure, event, followup, molecular, ihc): add/edit/delete/list."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer

from tkitrack.cli import _common
from tkitrack.cli._common import (
    ListingFormat,
    command,
    open_db,
    patient_argument,
    renamed,
    render,
    retired_option,
    user,
)
from tkitrack.cli._fields import FIELDS

__all__ = ["GROUPS", "make_record_app"]

#: command-line group name -> record type
GROUPS = {
    "patient": "patient",
    "molecular": "molecular",
    "ihc": "ihc",
    "exposure": "exposure",
    "ae": "ae",
    "assess": "assessment",
    "procedure": "procedure",
    "event": "disease_event",
    "followup": "followup",
}
#: fields whose option name would clash with a command option (--reason is the audit reason)
_FLAG_NAMES = {"reason": "end_reason"}


def _option(name: str, label: str) -> inspect.Parameter:
    flag = "--" + _FLAG_NAMES.get(name, name).replace("_", "-")
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=typer.Option(None, flag, help=label), annotation=str | None
    )


def _with_signature(func: Callable, params: list[inspect.Parameter]) -> Callable:
    func.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    func.__annotations__ = {p.name: p.annotation for p in params}
    return func


def _given(values: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in values.items() if v is not None}


def _id_param(record: str) -> inspect.Parameter:
    """The record to change: a patient is named PATIENT_ID, as everywhere; other records by their id."""
    if record == "patient":
        default = patient_argument()
    else:
        default = typer.Argument(..., metavar="RECORD_ID", help=f"{record} record id (see `list`)")
    return inspect.Parameter("record_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default, annotation=str)


def _reason_param(verb: str) -> inspect.Parameter:
    return inspect.Parameter(
        "why", inspect.Parameter.KEYWORD_ONLY, annotation=str,
        default=typer.Option(..., "--reason", help=f"Why you {verb} it (kept in the audit trail; required)"),
    )  # fmt: skip


def make_record_app(group: str) -> typer.Typer:
    """A typer group with add / edit / delete / list for one record type, options from the models."""
    record = GROUPS[group]
    fields = FIELDS[record]
    app = _common.group(f"Add, edit, delete and list {record} records.")
    others = [(n, lbl) for n, lbl, _ in fields if n != "patient_id"]
    required = ", ".join(n for n, _, req in fields if req and n != "patient_id")

    def add(**values: Any) -> None:
        from tkitrack.schemas.light import add_one

        row = _given(values)
        engine, source = open_db(), f"tkitrack {group} add"
        # a clean row is written without pandas (issue 16.3); anything the light path does not certify clean is
        # decided by the full path, which prints its own listing and exit code
        if not add_one(engine, record, row, user=user(), source=source):
            import pandas as pd

            from tkitrack.schemas.storage import transaction
            from tkitrack.schemas.store import add_records

            with transaction(engine) as session:
                add_records(session, {record: pd.DataFrame([row])}, user=user(), source=source)
        typer.echo(f"added {record} for patient {row['patient_id']}")

    pid = inspect.Parameter(
        "patient_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str, default=patient_argument()
    )
    add.__doc__ = (
        f"Add a {record} record."
        + (f" Required: {required}." if required else "")
        + (" Dates are ISO 8601; a partial date (2019-06, 2019) is kept as given and imputed.")
    )
    command(app, "add")(_with_signature(add, [pid] + [_option(n, lbl) for n, lbl in others]))

    def edit(record_id: str, why: str, **values: Any) -> None:
        from tkitrack.schemas.storage import transaction
        from tkitrack.schemas.store import update_record

        changes = _given(values)
        if not changes:
            raise typer.BadParameter("give at least one field to change, e.g. --grade 2")
        with transaction(open_db()) as session:
            diff = update_record(session, record, record_id, changes, reason=why, user=user())
        if not diff:
            typer.echo(f"{record} {record_id}: nothing changed")
        typed = {n for n, _, _ in fields}
        for col, (old, new) in diff.items():  # what was typed; imputed dates and flags are in the audit trail
            name = col.removesuffix("_dtc")
            if name in typed and (col.endswith("_dtc") or f"{name}_dtc" not in diff):
                typer.echo(f"{record} {record_id}: {name} {'(empty)' if old is None else old} -> {new}")

    edit.__doc__ = f"Change fields of a {record} record (audited; --reason required)."
    command(app, "edit")(_with_signature(edit, [_id_param(record), _reason_param("change")]
                                         + [_option(n, lbl) for n, lbl in others]))  # fmt: skip

    def delete(record_id: str, why: str) -> None:
        from tkitrack.schemas.storage import transaction
        from tkitrack.schemas.store import delete_record

        with transaction(open_db()) as session:
            n = delete_record(session, record, record_id, reason=why, user=user())
        typer.echo(f"deleted {record} {record_id} ({n} record(s) marked deleted; kept in the audit trail)")

    delete.__doc__ = f"Delete a {record} record (marked deleted, never erased; --reason required)."
    command(app, "delete")(_with_signature(delete, [_id_param(record), _reason_param("delete")]))

    @command(app, "list")
    def list_(
        patient_id: str | None = patient_argument(False, "Only this patient (all patients when omitted)"),
        fmt: ListingFormat = typer.Option("table", "--format", "-f", help="Output format"),
        deleted: bool = typer.Option(False, "--deleted", help="Include deleted records"),
        old_patient: str | None = retired_option("--patient", "-p"),
    ) -> None:
        """List records (newest schema columns; dates as given)."""
        from tkitrack.schemas.storage import transaction
        from tkitrack.schemas.store import read_frames

        patient = renamed(patient_id, old_patient, old="--patient/-p", new="the argument PATIENT_ID")
        with transaction(open_db()) as session:
            frame = read_frames(session, [record], patients=[patient] if patient else None,
                                include_deleted=deleted)[record]  # fmt: skip
        shown = [c for c in ("id", "patient_id") if c in frame.columns and (c != "id" or record != "patient")]
        for name, _, _ in fields:
            col = f"{name}_dtc" if f"{name}_dtc" in frame.columns else name
            if name != "patient_id" and col in frame.columns:
                shown.append(col)
        if deleted:
            shown.append("deleted")
        out = frame[shown].rename(columns=lambda c: c.removesuffix("_dtc"))
        out = out.dropna(axis=1, how="all") if fmt == "table" else out
        render(out, fmt, title=f"{record} records")

    return app
