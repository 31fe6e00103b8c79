"""Data queries in the browser: the listing per site and per user, raising, answering, closing, reopening.

A data manager raises a query on a record's field and closes or reopens it; the site answers it, with or
without a change of the value (the change and the answer are one transaction, the change audited with the
answer as its reason). A site user sees and answers only the queries of their site's patients; another site's
query answers 404, like one that does not exist. Every step is in the query's history and the audit trail.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from tkitrack.dashboards.web.data import find_patient
from tkitrack.dashboards.web.deps import Viewer
from tkitrack.dashboards.web.render import page, table_rows
from tkitrack.dashboards.web.routes_entry import EDIT, MANAGE
from tkitrack.schemas.dataqueries import (
    OPEN_STATES,
    QUERY_STATES,
    answer_query,
    close_query,
    list_queries,
    open_warning_queries,
    query_events,
    raise_query,
    read_query,
    reopen_query,
)
from tkitrack.schemas.errors import ConcurrentEditError, NotFoundError, TkitrackError, ValidationFailed
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(EDIT)])
_LIST_COLUMNS = ["id", "patient_id", "record", "record_id", "field", "state", "message", "site", "raised_by",
                 "updated_by", "updated_ts"]  # fmt: skip
_STEP_COLUMNS = ["ts", "user", "action", "old_state", "new_state", "text"]
#: what the listing's state filter offers: the waiting states together, each state, or all
STATE_FILTERS = ("waiting", *QUERY_STATES, "all")


def _gone(query_id: object) -> HTTPException:
    return HTTPException(404, f"query {query_id} not found")


@router.get("/queries")
def queries(request: Request, state: str = "waiting", mine: str = "", site: str = "",
            viewer: Viewer = Depends(EDIT)) -> Response:  # fmt: skip
    """The queries of the user's site (a site user) or of every site, by state; ``mine``: raised or moved by me."""
    state = state if state in STATE_FILTERS else "waiting"
    states = OPEN_STATES if state == "waiting" else () if state == "all" else (state,)
    scope = viewer.site_scope or (site or None)
    with request.app.state.web.read() as session:
        found = list_queries(session, site=scope, states=states, by=viewer.name if mine else None)
    found = found.assign(updated_ts=found["updated_ts"].str.slice(0, 19).str.replace("T", " "))
    context = {"rows": table_rows(found, _LIST_COLUMNS)[1], "columns": _LIST_COLUMNS, "state": state,
               "states": STATE_FILTERS, "mine": bool(mine), "site": scope or ""}  # fmt: skip
    return page(request, "queries.html", context)


def _scoped_query(session, viewer: Viewer, query_id: str, *, lock: bool = False) -> dict:
    try:
        query = read_query(session, query_id, lock=lock)
        find_patient(session, viewer, query["patient_id"])
    except (NotFoundError, TkitrackError):
        raise _gone(query_id) from None
    return query


def _current_value(session, query: dict) -> str:
    from tkitrack.dashboards.web.forms import shown_values
    from tkitrack.schemas.store import read_record

    if query["field"] == "*":
        return ""
    try:
        row = read_record(session, query["record"], query["record_id"])
    except TkitrackError:
        return ""
    return shown_values(query["record"], row).get(query["field"], "")


def _detail(request: Request, viewer: Viewer, query_id: str, *, message: str | None = None,
            conflicts: list[dict] | None = None, status: int = 200) -> Response:  # fmt: skip
    with request.app.state.web.read() as session:
        query = _scoped_query(session, viewer, query_id)
        steps = query_events(session, query_id)
        value = _current_value(session, query)
    steps = steps.assign(ts=steps["ts"].str.slice(0, 19).str.replace("T", " "))
    context = {"query": query, "steps": table_rows(steps, _STEP_COLUMNS)[1], "step_columns": _STEP_COLUMNS,
               "value": value, "message": message, "conflicts": conflicts or [],
               "can_answer": query["state"] in ("open", "reopened"),
               "can_close": viewer.may("manage_data") and query["state"] in ("open", "answered", "reopened"),
               "can_reopen": viewer.may("manage_data") and query["state"] in ("answered", "closed")}  # fmt: skip
    return page(request, "query.html", context, status=status)


@router.get("/queries/new")
def new_query(request: Request, patient_id: str, record: str, record_id: str, field: str = "",
              viewer: Viewer = Depends(MANAGE)) -> Response:  # fmt: skip
    """The form of a new query on one record (a data manager)."""
    from tkitrack.schemas.store import read_record

    if record not in RECORD_MODELS:
        raise HTTPException(404, f"record type {record} not found")
    with request.app.state.web.read() as session:
        try:
            find_patient(session, viewer, patient_id)
            row = read_record(session, record, record_id)
        except (NotFoundError, TkitrackError):
            raise HTTPException(404, f"{record} {record_id} not found") from None
    if row["patient_id"] != patient_id:
        raise HTTPException(404, f"{record} {record_id} not found")
    fields = [f for f in input_columns(record) if f != "patient_id" or record == "patient"]
    context = {"patient_id": patient_id, "record": record, "record_id": record_id, "fields": fields,
               "field": field, "message": None, "text": ""}  # fmt: skip
    return page(request, "query_new.html", context)


@router.post("/queries/new")
async def add_query(request: Request, viewer: Viewer = Depends(MANAGE)) -> Response:
    form = await request.form()
    patient_id, record, record_id, field, text = (str(form.get(k) or "").strip() for k in
                                                  ("patient_id", "record", "record_id", "field", "text"))  # fmt: skip
    try:
        with request.app.state.web.write() as session:
            try:
                find_patient(session, viewer, patient_id)
            except NotFoundError:
                raise HTTPException(404, f"patient {patient_id} not found") from None
            from tkitrack.schemas.store import read_record

            if record in RECORD_MODELS and read_record(session, record, record_id)["patient_id"] != patient_id:
                raise HTTPException(404, f"{record} {record_id} not found")
            qid = raise_query(session, record, record_id, field, text, user=viewer.name)
    except TkitrackError as err:
        fields = [f for f in input_columns(record) if f != "patient_id"] if record in RECORD_MODELS else []
        context = {"patient_id": patient_id, "record": record, "record_id": record_id, "fields": fields,
                   "field": field, "message": str(err), "text": text}  # fmt: skip
        return page(request, "query_new.html", context, status=422)
    return RedirectResponse(f"/queries/{qid}", 303)


@router.get("/queries/{query_id}")
def query_page(request: Request, query_id: str, viewer: Viewer = Depends(EDIT)) -> Response:
    """One query: the data point, its current value, every step, and what this user may do next."""
    return _detail(request, viewer, query_id)


@router.post("/queries/{query_id}/{action}")
async def move_query(request: Request, query_id: str, action: str, viewer: Viewer = Depends(EDIT)) -> Response:
    """Answer (the site or a data manager, optionally changing the value), close or reopen (a data manager)."""
    from tkitrack.schemas.store import update_record

    if action not in ("answer", "close", "reopen"):
        raise HTTPException(404, f"no query action {action}")
    if action in ("close", "reopen") and not viewer.may("manage_data"):
        raise HTTPException(403, f"the {viewer.role} role cannot {action} a query; a data manager does")
    form = await request.form()
    text = str(form.get("text") or "").strip()
    new_value = form.get("new_value")
    new_value = new_value.strip() if isinstance(new_value, str) else ""
    shown = str(form.get("shown_value") or "")
    try:
        with request.app.state.web.write() as session:
            query = _scoped_query(session, viewer, query_id, lock=True)
            if action == "answer":
                if new_value and query["field"] != "*" and new_value != shown:
                    update_record(session, query["record"], query["record_id"], {query["field"]: new_value},
                                  reason=f"answer to query {query['id']}: {text or 'value corrected'}",
                                  user=viewer.name, expected={query["field"]: shown})  # fmt: skip
                answer_query(session, query["id"], text, user=viewer.name)
                open_warning_queries(session, query["patient_id"], user=viewer.name)
            elif action == "close":
                close_query(session, query["id"], text, user=viewer.name)
            else:
                reopen_query(session, query["id"], text, user=viewer.name)
    except ConcurrentEditError as err:
        return _detail(request, viewer, query_id, message=str(err), status=409,
                       conflicts=[{"field": c["field"], "seen": c["seen"], "current": c["current"],
                                   "changed_by": c["changed_by"]} for c in err.conflicts])  # fmt: skip
    except ValidationFailed as err:
        found = err.failures
        said = "; ".join(f"{r.rule_id} {r.field}: {r.message}" for r in found[found["severity"] == "error"]
                         .itertuples()) if found is not None and len(found) else ""  # fmt: skip
        return _detail(request, viewer, query_id, message=f"{err} {said}".strip(), status=422)
    except TkitrackError as err:
        return _detail(request, viewer, query_id, message=str(err), status=422)
    return RedirectResponse(f"/queries/{quote(query_id, safe='')}", 303)
