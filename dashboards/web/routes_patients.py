"""Patient list and patient page: search and filters, every record with its values, audit history, findings."""

from __future__ import annotations

import json

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from fastapi.responses import Response

from tkitrack.dashboards.web.data import (
    IDENTIFIERS,
    MASK,
    STATUSES,
    filter_options,
    find_patient,
    list_patients,
    mask_audit,
    mask_frames,
)
from tkitrack.dashboards.web.deps import READ_PATIENTS, Viewer
from tkitrack.dashboards.web.figures import figure_json, figure_patient
from tkitrack.dashboards.web.forms import RECORD_TITLES
from tkitrack.dashboards.web.render import page, table_rows
from tkitrack.schemas.audit import read_audit_log
from tkitrack.schemas.dataqueries import OPEN_STATES, list_queries, open_query_counts
from tkitrack.schemas.errors import NotFoundError
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.recordstate import record_states
from tkitrack.schemas.store import read_frames
from tkitrack.schemas.users import log_event

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(READ_PATIENTS)])
_AUDIT_COLUMNS = ["seq", "ts", "user", "action", "table_name", "record_id", "field", "old_value", "new_value", "reason"]
_QUERY_COLUMNS = ["id", "record", "record_id", "field", "state", "message", "raised_by", "updated_by", "updated_ts"]
_FINDING_COLUMNS = ["record", "record_id", "field", "rule_id", "severity", "value", "message"]


def _not_found(patient_id: str) -> HTTPException:
    """The one answer for a patient that does not exist, was deleted, or belongs to another site."""
    return HTTPException(404, f"patient {patient_id} not found")


@router.get("/patients")
def patients(request: Request, q: str = "", site: str = "", histology: str = "", status: str = "", page_no: int = 1,
             viewer: Viewer = Depends(READ_PATIENTS)) -> Response:  # fmt: skip
    """The patients this user may see, searched by id and filtered by site, histology and status."""
    web = request.app.state.web
    with web.read() as session:
        result = list_patients(session, viewer, q=q, site=site, histology=histology,
                               status=status if status in STATUSES else "", page=page_no)  # fmt: skip
        options = filter_options(session, viewer)
        counts = open_query_counts(session, [r["patient_id"] for r in result.rows])
    context = {"result": result, "options": options, "statuses": STATUSES, "query_counts": counts,
               "filters": {"q": q, "site": site, "histology": histology, "status": status}}  # fmt: skip
    partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "patient-rows"
    return page(request, "_patient_rows.html" if partial else "patients.html", context)


def _record_tables(frames: dict, viewer: Viewer) -> list[dict]:
    tables = []
    for record, model in RECORD_MODELS.items():
        frame = frames[record]
        cols = [] if record == "patient" else ["id"]
        for name in input_columns(record):
            if name == "patient_id" and record != "patient":
                continue  # the page is the patient's
            cols.append(f"{name}_dtc" if f"{name}_dtc" in frame.columns else name)
        header, rows = table_rows(frame, cols)
        labels = [field_info(model, c).label if c in model.model_fields else c for c in cols]
        keys = [f"record-{record}-{r[0]}" if record != "patient" else "record-patient" for r in rows]
        ids = [r[0] if record != "patient" else frame["patient_id"].iloc[i] for i, r in enumerate(rows)]
        tables.append({"record": record, "header": [h.removesuffix("_dtc") for h in header], "labels": labels,
                       "rows": list(zip(keys, ids, rows, strict=True))})  # fmt: skip
    return tables


def _readable(value: str | None) -> str | None:
    """An inserted record's JSON as ``field: value; ...`` (empty fields left out), for reading on the page."""
    try:
        values = json.loads(value) if value else None
    except ValueError:
        return value
    if not isinstance(values, dict):
        return value
    return "; ".join(f"{k}: {v}" for k, v in values.items() if v is not None and v != "")


def _findings(frames: dict, viewer: Viewer) -> tuple[list[str], list[list[str]]]:
    from tkitrack.schemas.queries import validate_frames

    found = validate_frames(frames).reindex(columns=_FINDING_COLUMNS)
    if not viewer.may("see_identifiers") and len(found):
        hidden = found.apply(lambda r: r["field"] in IDENTIFIERS.get(r["record"], ()), axis=1)
        found.loc[hidden, ["value", "message"]] = MASK
    return table_rows(found, _FINDING_COLUMNS)


def _log_view(web, viewer: Viewer, patient_id: str, client: str | None) -> None:
    with web.write() as session:
        log_event(session, "view", user=viewer.name, detail=f"patient {patient_id}", client=client)


@router.get("/patients/{patient_id}")
def patient(request: Request, patient_id: str, background: BackgroundTasks, saved: str = "", opened: int = 0,
            viewer: Viewer = Depends(READ_PATIENTS)) -> Response:  # fmt: skip
    """One patient: every record with its values and the audit trail; the timeline figure and the validation
    findings load from their own URLs (they take longer than the page)."""
    web = request.app.state.web
    with web.read() as session:
        try:
            row = find_patient(session, viewer, patient_id)
        except NotFoundError:
            raise _not_found(patient_id) from None
        frames = read_frames(session, patients=[patient_id])
        trail = mask_audit(read_audit_log(session, patient_id=patient_id), viewer)
        states = record_states(session, patient_id)
        found = list_queries(session, patient_id=patient_id) if viewer.may("edit_records") else None
    waiting: dict[tuple[str, str], int] = {}
    if found is not None:
        for q in found[found["state"].isin(OPEN_STATES)].itertuples():
            waiting[(q.record, q.record_id)] = waiting.get((q.record, q.record_id), 0) + 1
        found = found.assign(updated_ts=found["updated_ts"].str.slice(0, 19).str.replace("T", " "))
    if len(trail):
        inserted = trail["field"].eq("*")
        trail = trail.assign(ts=trail["ts"].str.slice(0, 19).str.replace("T", " ") + "Z",
                             new_value=trail["new_value"].where(~inserted, trail["new_value"].map(_readable)))  # fmt: skip
    context = {
        "patient": mask_frames({"patient": frames["patient"]}, viewer)["patient"].iloc[0].to_dict(),
        "site": row["site"],
        "tables": _record_tables(mask_frames(frames, viewer), viewer),
        "audit": table_rows(trail.reindex(columns=_AUDIT_COLUMNS), _AUDIT_COLUMNS),
        "states": {f"{r} {i}": v for (r, i), v in states.items()},
        "waiting": {f"{r} {i}": n for (r, i), n in waiting.items()},
        "queries": table_rows(found, _QUERY_COLUMNS)[1] if found is not None else None,
        "query_columns": _QUERY_COLUMNS,
        "saved": saved,
        "opened": opened,
        "titles": RECORD_TITLES,
    }
    # the access log line is written once the page is on its way (it needs the write lock, not the reader)
    background.add_task(_log_view, web, viewer, patient_id, request.client.host if request.client else None)
    return page(request, "patient.html", context)


@router.get("/patients/{patient_id}/findings")
def patient_findings(request: Request, patient_id: str, viewer: Viewer = Depends(READ_PATIENTS)) -> Response:
    """The validation findings of one patient's records (an htmx fragment: the checks take a while)."""
    with request.app.state.web.read() as session:
        try:
            find_patient(session, viewer, patient_id)
        except NotFoundError:
            raise _not_found(patient_id) from None
        frames = read_frames(session, patients=[patient_id])
    return page(request, "_findings.html", {"findings": _findings(frames, viewer)})


@router.get("/patients/{patient_id}/timeline.json")
def patient_timeline(request: Request, patient_id: str, viewer: Viewer = Depends(READ_PATIENTS)) -> Response:
    """The patient's timeline figure (plotly JSON); each point names its record."""
    web = request.app.state.web
    with web.read() as session:
        try:
            find_patient(session, viewer, patient_id)
        except NotFoundError:
            raise _not_found(patient_id) from None
        frames = read_frames(session, patients=[patient_id])
    fig = figure_patient(frames, patient_id)
    if fig is None:
        return Response('{"message": "no diagnosis date and no drug course: nothing to place on a timeline"}',
                        media_type="application/json")  # fmt: skip
    return Response(figure_json(fig), media_type="application/json")
