"""Data entry: a form for every record type, drug-course operations, the CTCAE term search, record states.

Every save runs in one write transaction (``web.write()``): the patient is looked up in the user's scope first
(another site's patient is not found), then the store functions of the command line run with ``user=`` the
signed-in user, so the field rules, the edit checks, the locks and the audit trail are the CLI's. An error in
the query listing blocks the save and is shown beside its field with its rule id; a warning saves and opens a
data query (:func:`tkitrack.schemas.dataqueries.open_warning_queries`) in the same transaction. An edit carries
the values the form showed: the store compares them with the record inside the transaction and refuses the save
when someone else changed it meanwhile, showing their change.
"""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlmodel import Session

from tkitrack.dashboards.web.data import find_patient
from tkitrack.dashboards.web.deps import Viewer, requires
from tkitrack.dashboards.web.forms import (
    COURSE_OPERATIONS,
    RECORD_TITLES,
    FormField,
    ctcae_suggestions,
    errors_by_field,
    form_fields,
    grades_for,
    posted_values,
    shown_values,
)
from tkitrack.dashboards.web.render import page
from tkitrack.schemas.dataqueries import open_warning_queries
from tkitrack.schemas.errors import ConcurrentEditError, NotFoundError, TkitrackError, ValidationFailed
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.recordstate import patient_records, set_locked, set_verified

__all__ = ["EDIT", "MANAGE", "router"]

EDIT = requires("edit_records")
MANAGE = requires("manage_data")
router = APIRouter(dependencies=[Depends(EDIT)])


class _Gone(Exception):
    """The patient or record is not in this user's scope (answered 404, like one that does not exist)."""


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, f"{what} not found")


def _check_record(record: str) -> None:
    if record not in RECORD_MODELS:
        raise _not_found(f"record type {record}")


def _patient(session: Session, viewer: Viewer, patient_id: str) -> dict:
    try:
        return find_patient(session, viewer, patient_id)
    except NotFoundError:
        raise _Gone(f"patient {patient_id}") from None


def _own_record(session: Session, viewer: Viewer, patient_id: str, record: str, record_id: str) -> dict:
    """The record if it belongs to this patient and the patient is in the user's scope; _Gone otherwise."""
    from tkitrack.schemas.store import read_record

    _patient(session, viewer, patient_id)
    try:
        row = read_record(session, record, record_id)
    except (NotFoundError, TkitrackError):
        raise _Gone(f"{record} {record_id}") from None
    if row["patient_id"] != patient_id:
        raise _Gone(f"{record} {record_id}")
    return row


def _anchor(record: str, record_id: object) -> str:
    return "#record-patient" if record == "patient" else f"#record-{record}-{record_id}"


def _saved(patient_id: str, record: str, record_id: object, note: str, opened: list[int]) -> Response:
    query = f"?saved={quote(note)}" + (f"&opened={len(opened)}" if opened else "")
    return RedirectResponse(f"/patients/{quote(patient_id, safe='')}{query}{_anchor(record, record_id)}", 303)


def _fields(record: str, values: dict[str, str], *, new_patient: bool) -> list[FormField]:
    fields = form_fields(record, with_patient_id=new_patient)
    if record != "ae":
        return fields
    verbatim = values.get("verbatim", "").lower() in ("true", "yes", "1")
    grades = () if verbatim else grades_for(values.get("term", ""))
    choices = tuple(str(g) for g in (grades or range(1, 6)))
    return [FormField(f.name, f.label, "select", f.required, choices) if f.name == "grade" else f for f in fields]


def _form(request: Request, *, record: str, patient_id: str | None, values: dict[str, str], action: str,
          title: str, shown: dict[str, str] | None = None, failures=None, message: str | None = None,
          conflicts: list[dict] | None = None, status: int = 200, record_id: str | None = None) -> Response:  # fmt: skip
    new_patient = record == "patient" and shown is None
    fields = _fields(record, values, new_patient=new_patient)
    per, other = errors_by_field(failures, [f.name for f in fields])
    context = {"record": record, "patient_id": patient_id, "record_id": record_id, "fields": fields,
               "values": values, "shown": shown, "errors": per, "other_errors": other, "message": message,
               "conflicts": conflicts or [], "action": action, "title": title,
               "needs_reason": shown is not None}  # fmt: skip
    return page(request, "form.html", context, status=status)


def _site_rule(viewer: Viewer, values: dict[str, str]) -> pd.DataFrame | None:
    """A site user's patient is of their own site: another site is refused beside the field."""
    scope = viewer.site_scope
    if scope is None or values.get("site", "") in ("", scope):
        return None
    return pd.DataFrame([{"patient_id": values.get("patient_id"), "record": "patient", "record_id": None,
                          "row": 1, "field": "site", "rule_id": "WEB001", "severity": "error",
                          "value": values.get("site"),
                          "message": f"a site user adds and keeps patients of site {scope} only"}])  # fmt: skip


def _typed_row(record: str, values: dict[str, str]) -> dict[str, str | None]:
    """The form's values for add_records: an empty field is missing, or left out where the model has a default
    (route ORAL, criteria RECIST1.1, ...: as an option the CLI was not given)."""
    fields = RECORD_MODELS[record].model_fields
    row: dict[str, str | None] = {}
    for name, value in values.items():
        if value:
            row[name] = value
        elif (name in fields and fields[name].default is None) or f"{name}_dtc" in fields:
            row[name] = None
    return row


def _last_id(session: Session, record: str, patient_id: str) -> object:
    if record == "patient":
        return patient_id
    table = RECORD_MODELS[record].__table__
    return session.execute(select(func.max(table.c.id)).where(table.c.patient_id == patient_id)).scalar_one()


def _add(request: Request, viewer: Viewer, record: str, patient_id: str | None, values: dict[str, str],
         title: str, action: str) -> Response:  # fmt: skip
    from tkitrack.schemas.store import add_records

    web = request.app.state.web
    if record == "patient":
        patient_id = values.get("patient_id", "")
        if viewer.site_scope is not None and not values.get("site"):
            values["site"] = viewer.site_scope
        refused = _site_rule(viewer, values)
        if refused is not None:
            return _form(request, record=record, patient_id=None, values=values, action=action, title=title,
                         failures=refused, status=422)  # fmt: skip
    row = _typed_row(record, values) | {"patient_id": patient_id}
    try:
        with web.write() as session:
            if record != "patient":
                _patient(session, viewer, patient_id)
            add_records(session, {record: pd.DataFrame([row])}, user=viewer.name, source="the web form")
            new_id = _last_id(session, record, patient_id)
            opened = open_warning_queries(session, patient_id, user=viewer.name)
    except _Gone as gone:
        raise _not_found(str(gone)) from None
    except ValidationFailed as err:
        return _form(request, record=record, patient_id=patient_id, values=values, action=action, title=title,
                     failures=err.failures, message=str(err).replace(" and run the command again", ""),
                     status=422)  # fmt: skip
    except TkitrackError as err:
        return _form(request, record=record, patient_id=patient_id, values=values, action=action, title=title,
                     message=str(err), status=422)  # fmt: skip
    return _saved(patient_id, record, new_id, f"{record} added", opened)


@router.get("/patients/new")
def new_patient(request: Request, viewer: Viewer = Depends(EDIT)) -> Response:
    """The form of a new patient (a site user's patient is of their site)."""
    values = {"site": viewer.site_scope} if viewer.site_scope else {}
    return _form(request, record="patient", patient_id=None, values=values, action="/patients/new",
                 title="New patient")  # fmt: skip


@router.post("/patients/new")
async def add_patient(request: Request, viewer: Viewer = Depends(EDIT)) -> Response:
    form = await request.form()
    values = posted_values("patient", form)
    return _add(request, viewer, "patient", None, values, "New patient", "/patients/new")


def _check_patient(request: Request, viewer: Viewer, patient_id: str) -> None:
    with request.app.state.web.read() as session:
        try:
            _patient(session, viewer, patient_id)
        except _Gone:
            raise _not_found(f"patient {patient_id}") from None


@router.get("/patients/{patient_id}/records/{record}/new")
def new_record(request: Request, patient_id: str, record: str, viewer: Viewer = Depends(EDIT)) -> Response:
    """An empty form of one record type for this patient."""
    _check_record(record)
    if record == "patient":
        raise _not_found("record type patient")
    _check_patient(request, viewer, patient_id)
    action = f"/patients/{quote(patient_id, safe='')}/records/{record}/new"
    return _form(request, record=record, patient_id=patient_id, values={}, action=action,
                 title=f"New {RECORD_TITLES[record].lower()} for {patient_id}")  # fmt: skip


@router.post("/patients/{patient_id}/records/{record}/new")
async def add_record(request: Request, patient_id: str, record: str, viewer: Viewer = Depends(EDIT)) -> Response:
    _check_record(record)
    if record == "patient":
        raise _not_found("record type patient")
    form = await request.form()
    values = posted_values(record, form)
    values.pop("patient_id", None)
    action = f"/patients/{quote(patient_id, safe='')}/records/{record}/new"
    return _add(request, viewer, record, patient_id, values, f"New {RECORD_TITLES[record].lower()} for {patient_id}",
                action)  # fmt: skip


def _editable(values: dict[str, str], record: str) -> dict[str, str]:
    """The values of an edit form: every field but the record's patient (which is not edited)."""
    return {k: v for k, v in values.items() if k != "patient_id"}


@router.get("/patients/{patient_id}/records/{record}/{record_id}/edit")
def edit_record(request: Request, patient_id: str, record: str, record_id: str,
                viewer: Viewer = Depends(EDIT)) -> Response:  # fmt: skip
    """The form of a stored record with its values as given; it carries them back to detect a concurrent edit."""
    _check_record(record)
    with request.app.state.web.read() as session:
        try:
            row = _own_record(session, viewer, patient_id, record, record_id)
        except _Gone as gone:
            raise _not_found(str(gone)) from None
    shown = _editable(shown_values(record, row), record)
    action = f"/patients/{quote(patient_id, safe='')}/records/{record}/{quote(record_id, safe='')}/edit"
    return _form(request, record=record, patient_id=patient_id, values=dict(shown), shown=shown, action=action,
                 title=f"{RECORD_TITLES[record]} {record_id if record != 'patient' else ''} of {patient_id}",
                 record_id=record_id)  # fmt: skip


def _conflict_rows(err: ConcurrentEditError) -> list[dict]:
    return [{"field": c["field"], "seen": "" if c["seen"] is None else str(c["seen"]),
             "current": "" if c["current"] is None else str(c["current"]), "changed_by": c["changed_by"] or "",
             "changed_at": (c["changed_at"] or "")[:19].replace("T", " ")} for c in err.conflicts]  # fmt: skip


@router.post("/patients/{patient_id}/records/{record}/{record_id}/edit")
async def save_record(request: Request, patient_id: str, record: str, record_id: str,
                      viewer: Viewer = Depends(EDIT)) -> Response:  # fmt: skip
    """Save (or delete) a record with a reason; refused when the record changed since the form was opened."""
    from tkitrack.schemas.store import delete_record, update_record

    _check_record(record)
    form = await request.form()
    values = _editable(posted_values(record, form), record)
    shown = _editable(posted_values(record, form, prefix="shown_"), record)
    why = str(form.get("why") or "").strip()
    deleting = form.get("_do") == "delete"  # not "action": an AE field
    action = f"/patients/{quote(patient_id, safe='')}/records/{record}/{quote(record_id, safe='')}/edit"
    title = f"{RECORD_TITLES[record]} {record_id if record != 'patient' else ''} of {patient_id}"
    again = {"record": record, "patient_id": patient_id, "action": action, "title": title, "record_id": record_id}
    if record == "patient":
        refused = _site_rule(viewer, values)
        if refused is not None:
            return _form(request, values=values, shown=shown, failures=refused, status=422, **again)
    if not why:
        verb = "deleting" if deleting else "a change"
        return _form(request, values=values, shown=shown, status=422, **again,
                     message=f"{verb} needs a reason (kept in the audit trail)")  # fmt: skip
    changes = {k: (v or None) for k, v in values.items() if v != shown.get(k, "")}
    web = request.app.state.web
    try:
        with web.write() as session:
            _own_record(session, viewer, patient_id, record, record_id)
            if deleting:
                delete_record(session, record, record_id, reason=why, user=viewer.name, expected=shown or None)
                opened: list[int] = []
            else:
                if not changes:
                    return _saved(patient_id, record, record_id, "nothing changed", [])
                update_record(session, record, record_id, changes, reason=why, user=viewer.name,
                              expected=shown or None)  # fmt: skip
                opened = open_warning_queries(session, patient_id, user=viewer.name)
    except _Gone as gone:
        raise _not_found(str(gone)) from None
    except ConcurrentEditError as err:
        return _form(request, values=values, shown=shown, status=409, **again, message=str(err),
                     conflicts=_conflict_rows(err))  # fmt: skip
    except ValidationFailed as err:
        return _form(request, values=values, shown=shown, failures=err.failures, message=str(err), status=422,
                     **again)  # fmt: skip
    except TkitrackError as err:
        return _form(request, values=values, shown=shown, message=str(err), status=409, **again)
    if deleting:
        return RedirectResponse(f"/patients/{quote(patient_id, safe='')}?saved={quote(f'{record} deleted')}", 303)
    return _saved(patient_id, record, record_id, f"{record} saved", opened)


def _course_form(request: Request, patient_id: str, record_id: str, op: str, values: dict[str, str], *,
                 row: dict, failures=None, message: str | None = None, status: int = 200) -> Response:  # fmt: skip
    title, fields = COURSE_OPERATIONS[op]
    per, other = errors_by_field(failures, [f.name for f in fields])
    context = {"record": "exposure", "patient_id": patient_id, "record_id": record_id, "fields": fields,
               "values": values, "shown": None, "errors": per, "other_errors": other, "message": message,
               "conflicts": [], "needs_reason": False,
               "action": f"/patients/{quote(patient_id, safe='')}/exposure/{quote(record_id, safe='')}/{op}",
               "title": f"{title}: {row['drug']} {row['dose']:g} {row['unit']} {row['frequency']} from "
                        f"{row['start_dtc'] or '?'} ({patient_id}, exposure {record_id})"}  # fmt: skip
    return page(request, "form.html", context, status=status)


def _course_record(request: Request, viewer: Viewer, patient_id: str, record_id: str, op: str) -> dict:
    if op not in COURSE_OPERATIONS:
        raise _not_found(f"operation {op}")
    with request.app.state.web.read() as session:
        try:
            return _own_record(session, viewer, patient_id, "exposure", record_id)
        except _Gone as gone:
            raise _not_found(str(gone)) from None


@router.get("/patients/{patient_id}/exposure/{record_id}/{op}")
def course_form(request: Request, patient_id: str, record_id: str, op: str, viewer: Viewer = Depends(EDIT)) -> Response:
    """Change the dose, interrupt, stop or resume the drug of an interval (schemas/courses.py)."""
    row = _course_record(request, viewer, patient_id, record_id, op)
    defaults = {"change": {"reason": "dose_change"}, "interrupt": {"reason": "toxicity"}}.get(op, {})
    return _course_form(request, patient_id, record_id, op, dict(defaults), row=row)


@router.post("/patients/{patient_id}/exposure/{record_id}/{op}")
async def course_save(request: Request, patient_id: str, record_id: str, op: str,
                      viewer: Viewer = Depends(EDIT)) -> Response:  # fmt: skip
    from tkitrack.schemas.courses import change_dose, resume_course, stop_course

    row = _course_record(request, viewer, patient_id, record_id, op)
    form = await request.form()
    values = {f.name: str(form.get(f.name) or "").strip() for f in COURSE_OPERATIONS[op][1]}
    missing = [f.name for f in COURSE_OPERATIONS[op][1] if f.required and not values[f.name]]
    if missing:
        failures = pd.DataFrame([{"field": m, "rule_id": "FLD001", "severity": "error", "record": "exposure",
                                  "message": "required"} for m in missing])  # fmt: skip
        return _course_form(request, patient_id, record_id, op, values, row=row, failures=failures, status=422)
    given = {k: v or None for k, v in values.items()}
    try:
        with request.app.state.web.write() as session:
            _own_record(session, viewer, patient_id, "exposure", record_id)
            if op == "change":
                change_dose(session, record_id, on=values["date"], dose=values["dose"], unit=given["unit"],
                            frequency=given["frequency"], reason=values["reason"], comment=values["comment"],
                            user=viewer.name)  # fmt: skip
            elif op in ("interrupt", "stop"):
                stop_course(session, record_id, last_dose=values["last_dose"], reason=values["reason"],
                            comment=values["comment"], user=viewer.name, discontinue=op == "stop")  # fmt: skip
            else:
                resume_course(session, patient_id, row["drug"], on=values["date"], dose=given["dose"],
                              unit=given["unit"], frequency=given["frequency"], user=viewer.name)  # fmt: skip
            opened = open_warning_queries(session, patient_id, user=viewer.name)
    except _Gone as gone:
        raise _not_found(str(gone)) from None
    except ValidationFailed as err:
        return _course_form(request, patient_id, record_id, op, values, row=row, failures=err.failures,
                            message=str(err), status=422)  # fmt: skip
    except TkitrackError as err:
        return _course_form(request, patient_id, record_id, op, values, row=row, message=str(err), status=422)
    return _saved(patient_id, "exposure", record_id, f"exposure {op}", opened)


@router.get("/forms/ctcae")
def ctcae_search(request: Request, term: str = "") -> Response:
    """The CTCAE v5.0 terms nearest to what was typed, each with the grades that exist for it (htmx fragment)."""
    found = ctcae_suggestions(term)
    exact = next((t for t in found if t[0].lower() == " ".join(term.split()).lower()), None)
    return page(request, "_ctcae.html", {"found": found, "exact": exact, "typed": term})


@router.post("/patients/{patient_id}/state")
async def record_state(request: Request, patient_id: str, viewer: Viewer = Depends(MANAGE)) -> Response:
    """A data manager marks records verified, locks or unlocks them (one record, or all of the patient's)."""
    form = await request.form()
    op = str(form.get("op") or "")
    record, record_id = str(form.get("record") or ""), str(form.get("record_id") or "")
    why = str(form.get("why") or "").strip()
    if op not in ("verify", "unverify", "lock", "unlock"):
        raise HTTPException(400, "op must be verify, unverify, lock or unlock")
    try:
        with request.app.state.web.write() as session:
            _patient(session, viewer, patient_id)
            if record == "all":
                targets = patient_records(session, patient_id)
            else:
                _check_record(record)
                _own_record(session, viewer, patient_id, record, record_id)
                targets = [(record, record_id)]
            for r, i in targets:
                if op in ("verify", "unverify"):
                    set_verified(session, r, i, op == "verify", user=viewer.name, reason=why)
                else:
                    set_locked(session, r, i, op == "lock", user=viewer.name, reason=why)
    except _Gone as gone:
        raise _not_found(str(gone)) from None
    except TkitrackError as err:
        raise HTTPException(422, str(err)) from None
    anchor = "" if record == "all" else _anchor(record, record_id)
    return RedirectResponse(f"/patients/{quote(patient_id, safe='')}?saved={quote(f'{op}: {len(targets)} record(s)')}"
                            f"{anchor}", 303)  # fmt: skip
