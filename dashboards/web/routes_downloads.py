"""Downloads within the user's rights: the HTML report, the record export (CSV) and CDISC SDTM/ADaM (CSV).

A site user gets their site's patients only; an investigator gets the record export de-identified (keyed
pseudonyms, dates as days, no free text) and SDTM without birth dates. Each download is in the access log.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from tkitrack.dashboards.web.data import data_version, scoped_cohort
from tkitrack.dashboards.web.deps import DOWNLOAD, Viewer
from tkitrack.dashboards.web.render import page
from tkitrack.schemas.storage import current_revision, redact_url
from tkitrack.schemas.users import log_event

__all__ = ["router"]

router = APIRouter(dependencies=[Depends(DOWNLOAD)])


def _attachment(body: bytes, name: str, media_type: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _frames_and_log(request: Request, viewer: Viewer, what: str) -> tuple[dict[str, pd.DataFrame], int]:
    web = request.app.state.web
    with web.read() as session:
        frames = scoped_cohort(session, viewer)
        version = data_version(session)
    if frames["patient"].empty:
        raise HTTPException(404, "there are no patients to download in your scope")
    with web.write() as session:
        log_event(session, "download", user=viewer.name, detail=f"{what} ({len(frames['patient'])} patients)",
                  client=request.client.host if request.client else None)  # fmt: skip
    return frames, version


def _scope_text(viewer: Viewer) -> str:
    return f"site {viewer.site_scope}" if viewer.site_scope is not None else "all sites"


@router.get("/downloads")
def downloads(request: Request, viewer: Viewer = Depends(DOWNLOAD)) -> Response:
    """What this user may download."""
    return page(
        request, "downloads.html", {"scope": _scope_text(viewer), "deidentified": not viewer.may("see_identifiers")}
    )


@router.get("/downloads/report.html")
def report(request: Request, viewer: Viewer = Depends(DOWNLOAD)) -> Response:
    """The offline HTML cohort report of the patients in scope."""
    from tkitrack.dashboards.cohort_report import write_cohort_report

    frames, version = _frames_and_log(request, viewer, "report")
    engine = request.app.state.web.engine
    provenance = {"database": redact_url(str(engine.url)), "schema revision": current_revision(engine),
                  "data version": f"audit entry {version}", "patients": len(frames["patient"]),
                  "scope": _scope_text(viewer), "downloaded by": viewer.name}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = write_cohort_report(frames, Path(tmp) / "report.html", title="tkitrack cohort report",
                                   provenance=provenance)  # fmt: skip
        body = path.read_bytes()
    return _attachment(body, f"tkitrack-report-{dt.date.today().isoformat()}.html", "text/html; charset=utf-8")


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


@router.get("/downloads/records.zip")
def records(request: Request, viewer: Viewer = Depends(DOWNLOAD)) -> Response:
    """Every record type as CSV with its data dictionary and manifest (de-identified for investigators)."""
    from tkitrack.schemas.export import write_export

    frames, _ = _frames_and_log(request, viewer, "records.zip")
    deid = not viewer.may("see_identifiers")
    with tempfile.TemporaryDirectory() as tmp:
        write_export(frames, tmp, fmt="csv", deidentify=deid,
                     secret=request.app.state.web.pseudonym_key if deid else None)  # fmt: skip
        body = _zip(Path(tmp))
    name = f"tkitrack-records{'-deidentified' if deid else ''}-{dt.date.today().isoformat()}.zip"
    return _attachment(body, name, "application/zip")


@router.get("/downloads/cdisc.zip")
def cdisc(request: Request, viewer: Viewer = Depends(DOWNLOAD)) -> Response:
    """SDTM (DM, DS, EX, AE, RS, ...) and ADaM (ADSL, ADRS, ADTTE) as CSV; no birth dates for investigators."""
    from tkitrack.outcomes.cohort import derive_adam_from_records
    from tkitrack.schemas.outputs import write_csv
    from tkitrack.schemas.sdtm import records_to_sdtm

    frames, _ = _frames_and_log(request, viewer, "cdisc.zip")
    identifiers = viewer.may("see_identifiers")
    sdtm = records_to_sdtm(frames, free_text=identifiers)  # notes and causes of death only for those who may
    adam = derive_adam_from_records(frames) if len(frames["exposure"]) else {}
    if not identifiers:
        sdtm = {k: v.drop(columns=[c for c in ("BRTHDTC",) if c in v.columns]) for k, v in sdtm.items()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder, datasets in (("sdtm", sdtm), ("adam", adam)):
            (root / folder).mkdir()
            for name, frame in datasets.items():
                write_csv(frame, root / folder / f"{name.lower()}.csv")  # formula cells neutralised
        body = _zip(root)
    return _attachment(body, f"tkitrack-cdisc-{dt.date.today().isoformat()}.zip", "application/zip")
