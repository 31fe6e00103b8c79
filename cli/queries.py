"""Data queries and record states from the command line: `tkitrack queries ...` and `tkitrack record ...`.

The same queries as the web application's (schemas/dataqueries.py), so that a data manager can work from either.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from tkitrack.cli._common import command, group, open_db, patient_argument, renamed, render, retired_option, user

__all__ = ["app", "state_app"]

app = group("Raise, answer, close, reopen and list data queries.")
state_app = group("Mark records source data verified, lock and unlock them.")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


_FORMAT = typer.Option(Format.table, "--format", "-f", help="table, json or csv")
_LIST_COLUMNS = ["id", "patient_id", "record", "record_id", "field", "site", "state", "rule_id", "message",
                 "raised_by", "updated_by", "updated_ts"]  # fmt: skip


@command(app, "list")
def list_(
    patient_id: str | None = patient_argument(False, "Only this patient's queries (every patient when omitted)"),
    site: str | None = typer.Option(None, "--site", help="Only queries assigned to this site"),
    state: list[str] = typer.Option([], "--state", "-s", help="Only these states (repeat): open, answered, closed, "
                                    "reopened [default: every state]"),
    who: str | None = typer.Option(None, "--who", help="Only queries raised or last moved by this user"),
    fmt: Format = _FORMAT,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the listing to this file (csv or json "
                                       "by --format) instead of the terminal"),
    old_patient: str | None = retired_option("--patient", "-p"),
    old_by: str | None = retired_option("--by"),
) -> None:  # fmt: skip
    """List data queries, oldest first."""
    fmt = fmt.value
    patient = renamed(patient_id, old_patient, old="--patient/-p", new="the argument PATIENT_ID")
    by = renamed(who, old_by, old="--by USER", new="--who USER")  # --by is for grouping, everywhere else
    from tkitrack.schemas.dataqueries import list_queries
    from tkitrack.schemas.storage import transaction

    with transaction(open_db()) as session:
        found = list_queries(session, patient_id=patient, site=site, states=tuple(state), by=by)
    shown = found[_LIST_COLUMNS].assign(updated_ts=found["updated_ts"].str.slice(0, 19) + "Z")
    if output is not None:
        if fmt == "table":
            fmt = "json" if output.suffix.lower() == ".json" else "csv"
        from tkitrack.schemas.outputs import write_csv

        if fmt == "csv":
            write_csv(shown, output)
        else:
            shown.to_json(output, orient="records", indent=2)
        typer.echo(f"wrote {len(shown)} queries to {output}")
        return
    if fmt == "table" and not len(shown):
        typer.echo("no queries")
        return
    render(shown, fmt, title="Data queries (UTC)")


@command(app, "show")
def show(query_id: str = typer.Argument(..., help="Query id (see `queries list`)"), fmt: Format = _FORMAT) -> None:
    """One query and every step of its life (who, when, text)."""
    fmt = fmt.value
    from tkitrack.schemas.dataqueries import query_events, read_query
    from tkitrack.schemas.storage import transaction

    with transaction(open_db()) as session:
        query = read_query(session, query_id)
        steps = query_events(session, query_id)
    if fmt == "table":
        typer.echo(f"query {query['id']} on {query['patient_id']} {query['record']} {query['record_id']} "
                   f"{query['field']} (site {query['site']}): {query['state']}")  # fmt: skip
    render(steps[["ts", "user", "action", "old_state", "new_state", "text"]], fmt, title="Steps (UTC)",
           wide=("text",))  # fmt: skip


@command(app, "raise")
def raise_(
    record: str = typer.Argument(..., help="Record type: patient, molecular, ihc, exposure, ae, assessment, ..."),
    record_id: str = typer.Argument(..., help="Record id (the patient id for a patient record)"),
    field: str = typer.Argument(..., help="Field the query is about ('*' for the whole record)"),
    message: str = typer.Option(..., "--message", "-m", help="What is asked"),
) -> None:
    """Raise a query on one data point; it is assigned to the patient's site."""
    from tkitrack.schemas.dataqueries import raise_query
    from tkitrack.schemas.storage import transaction

    with transaction(open_db()) as session:
        qid = raise_query(session, record, record_id, field, message, user=user())
    typer.echo(f"query {qid} raised on {record} {record_id} {field}")


def _move(action: str, query_id: str, text: str) -> None:
    from tkitrack.schemas import dataqueries
    from tkitrack.schemas.storage import transaction

    func = {"answer": dataqueries.answer_query, "close": dataqueries.close_query,
            "reopen": dataqueries.reopen_query}[action]  # fmt: skip
    with transaction(open_db()) as session:
        query = func(session, query_id, text, user=user())
    typer.echo(f"query {query['id']}: {query['state']}")


@command(app, "answer")
def answer(query_id: str = typer.Argument(..., help="Query id"),
           message: str = typer.Option(..., "--message", "-m", help="The answer")) -> None:  # fmt: skip
    """Answer a query (open or reopened -> answered); change the value itself with `tkitrack <record> edit`."""
    _move("answer", query_id, message)


@command(app, "close")
def close(query_id: str = typer.Argument(..., help="Query id"),
          message: str = typer.Option("", "--message", "-m", help="Why it is closed (optional)")) -> None:  # fmt: skip
    """Close a query (the answer is accepted, or the query was raised in error)."""
    _move("close", query_id, message)


@command(app, "reopen")
def reopen(query_id: str = typer.Argument(..., help="Query id"),
           message: str = typer.Option(..., "--message", "-m", help="Why it is reopened")) -> None:  # fmt: skip
    """Reopen an answered or closed query."""
    _move("reopen", query_id, message)


def _state(record: str, record_id: str | None, patient: str | None, flag: str, value: bool, reason: str) -> None:
    from tkitrack.schemas.errors import InputError
    from tkitrack.schemas.recordstate import patient_records, set_locked, set_verified
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import read_record

    setter = set_verified if flag == "verified" else set_locked
    with transaction(open_db()) as session:
        if record == "all":
            patient = renamed(record_id, patient, old="all --patient P", new="all P (the patient id as RECORD_ID)")
            if not patient:
                raise InputError("`all` needs the patient: tkitrack record verify|lock|unlock all PATIENT_ID")
            read_record(session, "patient", patient)
            targets = patient_records(session, patient)
        else:
            if record_id is None:
                raise InputError(f"give the {record} record id (see `tkitrack {record} list`)")
            targets = [(record, record_id)]
        changed = sum(setter(session, r, i, value, user=user(), reason=reason) for r, i in targets)
    word = {("verified", True): "verified", ("verified", False): "unverified", ("locked", True): "locked",
            ("locked", False): "unlocked"}[(flag, value)]  # fmt: skip
    typer.echo(f"{word} {changed} record(s) ({len(targets) - changed} already were)")


_RECORD = typer.Argument(..., help="Record type (patient, exposure, ae, ...), or `all`: every record of a patient")
_ID = typer.Argument(None, metavar="RECORD_ID", help="Record id (the patient id for a patient record and for `all`)")
_PATIENT = retired_option("--patient", "-p")


@command(state_app, "verify")
def verify(record: str = _RECORD, record_id: str | None = _ID, patient: str | None = _PATIENT,
           reason: str = typer.Option("", "--reason", help="Note for the audit trail")) -> None:  # fmt: skip
    """Mark records source data verified (a later change of a value clears it)."""
    _state(record, record_id, patient, "verified", True, reason)


@command(state_app, "lock")
def lock(record: str = _RECORD, record_id: str | None = _ID, patient: str | None = _PATIENT,
         reason: str = typer.Option("", "--reason", help="Note for the audit trail")) -> None:  # fmt: skip
    """Lock records: no edit or deletion (CLI, import, web) until unlocked."""
    _state(record, record_id, patient, "locked", True, reason)


@command(state_app, "unlock")
def unlock(record: str = _RECORD, record_id: str | None = _ID, patient: str | None = _PATIENT,
           reason: str = typer.Option(..., "--reason", help="Why it is unlocked (required)")) -> None:  # fmt: skip
    """Unlock records (a reason is required)."""
    _state(record, record_id, patient, "locked", False, reason)
