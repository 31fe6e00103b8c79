"""The cohort page: swimmer (a lane opens its patient), Kaplan-Meier by endpoint and group, response and AE tables."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from tkitrack.dashboards.web.data import (
    CohortFilters,
    cache_key,
    cohort_frames,
    cohort_options,
    remember,
    scoped_cohort,
)
from tkitrack.dashboards.web.deps import READ_PATIENTS, Viewer
from tkitrack.dashboards.web.figures import (
    SwimmerParts,
    cohort_adam,
    figure_cohort_km,
    figure_json,
    response_and_ae_tables,
)
from tkitrack.dashboards.web.render import page, table_rows
from tkitrack.outcomes.cohort import ENDPOINTS, GROUPINGS
from tkitrack.schemas.errors import InputError

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(READ_PATIENTS)])


def _filters(histology: str = "", fusion_partner: str = "", drug: str = "", site: str = "",
             cutoff: str = "") -> CohortFilters:  # fmt: skip
    if cutoff:
        try:
            dt.date.fromisoformat(cutoff)
        except ValueError:
            raise HTTPException(400, f"data cut-off {cutoff!r} is not a date; use YYYY-MM-DD") from None
    return CohortFilters(histology, fusion_partner, drug, site, cutoff)


def _adam(session, viewer: Viewer, filters: CohortFilters, frames: dict) -> dict | None:
    """ADaM of the selection, derived once per selection and data version (the KM and the tables share it)."""
    return remember(cache_key(session, viewer, "adam", filters), lambda: cohort_adam(frames))


def _query(filters: CohortFilters, **extra: str) -> str:
    values = {k: v for k, v in vars(filters).items() if v} | {k: v for k, v in extra.items() if v}
    return urlencode(values)


@router.get("/cohort")
def cohort(request: Request, endpoint: str = "PFS", group: str = "", filters: CohortFilters = Depends(_filters),
           viewer: Viewer = Depends(READ_PATIENTS)) -> Response:  # fmt: skip
    """The page shell with the filters; the figures and tables load from their own URLs (htmx, fetch)."""
    web = request.app.state.web
    with web.read() as session:
        options = cohort_options(scoped_cohort(session, viewer))
    context = {
        "filters": filters, "options": options, "endpoints": ENDPOINTS, "groupings": GROUPINGS,
        "endpoint": endpoint if endpoint in ENDPOINTS else "PFS", "group": group if group in GROUPINGS else "",
        "query": _query(filters), "km_query": _query(filters, endpoint=endpoint, group=group),
    }  # fmt: skip
    return page(request, "cohort.html", context)


@router.get("/cohort/swimmer.json")
def swimmer(request: Request, group: str = "", part: int = 0, filters: CohortFilters = Depends(_filters),
            viewer: Viewer = Depends(READ_PATIENTS)) -> Response:  # fmt: skip
    """One part of the swimmer plot of the selection: ``{"part": k, "parts": n, "figure": plotly JSON}``.

    The lanes come in consecutive parts (:data:`~tkitrack.dashboards.web.figures.SWIMMER_CHUNK` lanes each) that
    the browser fetches and draws one after another; the parts are computed once per selection and data version.
    """
    with request.app.state.web.read() as session:
        key = cache_key(session, viewer, "swimmer", filters, group)
        frames = cohort_frames(session, viewer, filters)
        if frames["patient"].empty:
            return Response('{"message": "no patient matches these filters"}', media_type="application/json")
        parts = remember(key, lambda: SwimmerParts(frames, group_by=group or "histology"))
    if not 0 <= part < len(parts):
        raise HTTPException(400, f"part must be 0 to {len(parts) - 1}")
    figure = remember((*key, part), lambda: figure_json(parts.figure(part)))
    body = f'{{"part": {part}, "parts": {len(parts)}, "figure": {figure}}}'
    return Response(body, media_type="application/json")


@router.get("/cohort/km.json")
def km(request: Request, endpoint: str = "PFS", group: str = "", filters: CohortFilters = Depends(_filters),
       viewer: Viewer = Depends(READ_PATIENTS)) -> Response:  # fmt: skip
    """Kaplan-Meier of the endpoint by the group (plotly JSON), one clickable mark per patient."""
    if endpoint not in ENDPOINTS or (group and group not in GROUPINGS):
        raise HTTPException(400, f"endpoint must be one of {', '.join(ENDPOINTS)}; group one of {', '.join(GROUPINGS)}")
    with request.app.state.web.read() as session:
        frames = cohort_frames(session, viewer, filters)
        adam = _adam(session, viewer, filters, frames)
    try:
        fig, _ = figure_cohort_km(frames, endpoint=endpoint, group=group or None, adam=adam)
    except InputError as err:
        import json

        return Response(json.dumps({"message": str(err)}), media_type="application/json")
    return Response(figure_json(fig), media_type="application/json")


@router.get("/cohort/tables")
def tables(request: Request, filters: CohortFilters = Depends(_filters),
           viewer: Viewer = Depends(READ_PATIENTS)) -> Response:  # fmt: skip
    """Response (k/n, exact 95% CI) and AE (worst grade per term) tables of the selection (an htmx fragment)."""
    with request.app.state.web.read() as session:
        frames = cohort_frames(session, viewer, filters)
        adam = _adam(session, viewer, filters, frames)
    n = len(frames["patient"])
    found = response_and_ae_tables(frames, adam=adam) if n else {}
    context = {
        "n": n,
        "response": table_rows(found["response"]) if "response" in found else None,
        "ae": table_rows(found["ae"]) if "ae" in found else None,
        "ae_footnotes": found.get("ae_footnotes", []),
    }
    return page(request, "_cohort_tables.html", context)
