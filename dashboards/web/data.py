"""What a signed-in user may read, and nothing more: patient lists, one patient's records, the cohort's frames.

Site isolation lives here, in the queries: every read names the patients the user's scope allows, so a patient
of another site is never read at all and answers exactly like one that does not exist.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import case, exists, func, select, true
from sqlmodel import Session

from tkitrack.dashboards.web.deps import Viewer
from tkitrack.outcomes.cohort import derive_patient_attributes
from tkitrack.outcomes.cutoff import derive_records_at_cutoff
from tkitrack.schemas.audit import AuditHead, read_audit_log
from tkitrack.schemas.errors import NotFoundError
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.models import RECORD_MODELS, Exposure, FollowUp, Patient
from tkitrack.schemas.store import read_frames

__all__ = [
    "IDENTIFIERS",
    "STATUSES",
    "CohortFilters",
    "PatientPage",
    "cache_key",
    "cohort_frames",
    "cohort_options",
    "data_version",
    "filter_options",
    "find_patient",
    "list_patients",
    "mask_audit",
    "mask_frames",
    "patient_records",
    "patient_status",
    "remember",
    "scope_clause",
    "scoped_cohort",
]

#: What the patient list calls a patient's status, from the records (death first, then an open drug interval).
STATUSES = ("dead", "on treatment", "off treatment", "untreated")
#: record -> fields that identify a person (masked for roles without ``see_identifiers``), with derived dates.
IDENTIFIERS: dict[str, frozenset[str]] = {
    record: frozenset(
        name
        for base in model.model_fields
        if field_info(model, base).identifier
        for name in (base, base.removesuffix("_dtc"), base.removesuffix("_dtc") + "_dtf")
    )
    for record, model in RECORD_MODELS.items()
}
MASK = "(masked)"


def scope_clause(viewer: Viewer):
    """The patients this user may see: their site's for a site user, every patient otherwise."""
    site = viewer.site_scope
    return Patient.site == site if site is not None else true()


def patient_status():
    """SQL expression of :data:`STATUSES` for each patient row."""
    fu, ex = FollowUp.__table__, Exposure.__table__
    pid = Patient.__table__.c.patient_id
    dead = exists().where((fu.c.patient_id == pid) & fu.c.deleted.is_(False)
                          & ((fu.c.vital_status == "dead") | fu.c.death_date.isnot(None)))  # fmt: skip
    live = ex.c.deleted.is_(False) & (ex.c.patient_id == pid)
    return case(
        (dead, "dead"),
        (exists().where(live & ex.c.end.is_(None)), "on treatment"),
        (exists().where(live), "off treatment"),
        else_="untreated",
    )


@dataclass(frozen=True)
class PatientPage:
    """One page of the patient list."""

    rows: list[dict]
    total: int
    page: int
    pages: int


def list_patients(session: Session, viewer: Viewer, *, q: str = "", site: str = "", histology: str = "",
                  status: str = "", page: int = 1, per_page: int = 50) -> PatientPage:  # fmt: skip
    """Patients in the user's scope matching the search (id contains ``q``) and filters, a page at a time."""
    p = Patient.__table__
    status_col = patient_status().label("status")
    where = [scope_clause(viewer), p.c.deleted.is_(False)]
    if q.strip():
        where.append(func.lower(p.c.patient_id).contains(q.strip().lower(), autoescape=True))
    if site:
        where.append(p.c.site == site)
    if histology:
        where.append(p.c.histology == histology)
    base = select(p.c.patient_id, p.c.site, p.c.sex, p.c.histology, p.c.diagnosis_date_dtc, p.c.primary_site,
                  status_col).where(*where)  # fmt: skip
    if status:
        sub = base.subquery()
        stmt = select(sub).where(sub.c.status == status)
        total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        stmt = stmt.order_by(sub.c.patient_id)
    else:
        total = session.execute(select(func.count()).select_from(p).where(*where)).scalar_one()
        stmt = base.order_by(p.c.patient_id)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).mappings().all()
    return PatientPage([dict(r) for r in rows], total, page, pages)


def filter_options(session: Session, viewer: Viewer) -> dict[str, list[str]]:
    """The sites and histologies present among the patients this user may see (for the filter menus)."""
    p = Patient.__table__
    where = [scope_clause(viewer), p.c.deleted.is_(False)]
    out = {}
    for column in ("site", "histology"):
        values = session.execute(select(p.c[column]).where(*where, p.c[column].isnot(None)).distinct()).scalars()
        out[column] = sorted(values)
    return out


def find_patient(session: Session, viewer: Viewer, patient_id: str) -> dict:
    """The patient row if this user may see it; NotFoundError (the same for every reason) otherwise."""
    p = Patient.__table__
    row = session.execute(select(p).where(p.c.patient_id == patient_id, p.c.deleted.is_(False),
                                          scope_clause(viewer))).mappings().first()  # fmt: skip
    if row is None:
        raise NotFoundError(f"patient {patient_id} not found")
    return dict(row)


def mask_frames(frames: dict[str, pd.DataFrame], viewer: Viewer) -> dict[str, pd.DataFrame]:
    """Identifier fields replaced by ``(masked)`` for a role that may not see them."""
    if viewer.may("see_identifiers"):
        return frames
    out = {}
    for record, frame in frames.items():
        cols = [c for c in frame.columns if c in IDENTIFIERS.get(record, ())]
        out[record] = frame.assign(**{c: frame[c].map(lambda v: v if v is None or pd.isna(v) else MASK).astype(object)
                                      for c in cols})  # fmt: skip
    return out


def mask_audit(trail: pd.DataFrame, viewer: Viewer) -> pd.DataFrame:
    """Audit entries with identifier values masked (in changed fields and inside inserted records' JSON)."""
    if viewer.may("see_identifiers") or trail.empty:
        return trail
    trail = trail.copy()
    ident = trail.apply(lambda r: r["field"] in IDENTIFIERS.get(r["table_name"], ()), axis=1)
    trail.loc[ident, ["old_value", "new_value"]] = trail.loc[ident, ["old_value", "new_value"]].map(
        lambda v: None if v is None else MASK
    )
    inserts = trail["field"].eq("*") & trail["table_name"].isin([r for r, f in IDENTIFIERS.items() if f])

    def _mask_json(row: pd.Series) -> str | None:
        try:
            values = json.loads(row["new_value"])
        except (TypeError, ValueError):
            return row["new_value"]
        hidden = IDENTIFIERS[row["table_name"]]
        return json.dumps({k: (MASK if k in hidden and v is not None else v) for k, v in values.items()})

    if inserts.any():
        trail.loc[inserts, "new_value"] = trail.loc[inserts].apply(_mask_json, axis=1)
    return trail


def patient_records(session: Session, viewer: Viewer, patient_id: str) -> tuple[dict, dict, pd.DataFrame]:
    """(patient row, every record frame, audit trail) of one patient in scope, identifiers masked as needed."""
    row = find_patient(session, viewer, patient_id)
    frames = read_frames(session, patients=[patient_id])
    trail = read_audit_log(session, patient_id=patient_id)
    return row, mask_frames(frames, viewer), mask_audit(trail, viewer)


def data_version(session: Session) -> int:
    """The audit chain's last position: any write moves it, so it keys caches of what was read."""
    return session.execute(select(AuditHead.seq).where(AuditHead.id == 1)).scalar_one_or_none() or 0


@dataclass(frozen=True)
class CohortFilters:
    """The cohort page's filters; empty strings mean no filter."""

    histology: str = ""
    fusion_partner: str = ""
    drug: str = ""
    site: str = ""
    cutoff: str = ""


_CACHE: OrderedDict[tuple, object] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def remember(key: tuple, compute):
    """``compute()``, kept for the next request with the same key (a few entries, least recently used dropped).

    Keys carry the data version (:func:`data_version`), so any write makes earlier entries unreachable.
    """
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = compute()
    with _CACHE_LOCK:
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return value


def cache_key(session: Session, viewer: Viewer, *parts: object) -> tuple:
    """Database, the user's scope, the data version, then ``parts``: what a cached answer depends on."""
    return (str(session.get_bind().url), viewer.site_scope, data_version(session), *parts)


def _scoped_frames(session: Session, viewer: Viewer) -> dict[str, pd.DataFrame]:
    """Every record of the patients in scope (cached per scope and data version: a write invalidates it).

    For analyses, not for display: identifiers stay (ages are computed from birth dates); pages that show records
    mask them with :func:`mask_frames`.
    """

    def read() -> dict[str, pd.DataFrame]:
        if viewer.site_scope is None:
            return read_frames(session)
        p = Patient.__table__
        ids = list(session.execute(select(p.c.patient_id).where(scope_clause(viewer))).scalars())
        return read_frames(session, patients=ids)

    return remember(cache_key(session, viewer, "frames"), read)


def cohort_frames(session: Session, viewer: Viewer, filters: CohortFilters) -> dict[str, pd.DataFrame]:
    """The records of the patients in scope that pass the filters, as they stood at the cut-off."""
    frames = derive_records_at_cutoff(_scoped_frames(session, viewer), filters.cutoff or None)
    if not any((filters.histology, filters.fusion_partner, filters.drug, filters.site)):
        return frames
    attrs = derive_patient_attributes(frames)
    keep = pd.Series(True, index=attrs.index)
    for column in ("histology", "fusion_partner", "site"):
        value = getattr(filters, column)
        if value:
            keep &= attrs[column].astype(str).eq(value)
    if filters.drug:
        ex = frames["exposure"]
        keep &= attrs["patient_id"].isin(set(ex.loc[ex["drug"].eq(filters.drug), "patient_id"]))
    ids = set(attrs.loc[keep, "patient_id"])
    return {r: f.loc[f["patient_id"].isin(ids)] for r, f in frames.items()}


def cohort_options(frames: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """Values the cohort filters offer, from the records in scope."""
    attrs = derive_patient_attributes(frames)
    return {
        "histology": sorted(attrs["histology"].astype(str).unique()),
        "fusion_partner": sorted(attrs["fusion_partner"].astype(str).unique()),
        "site": sorted(attrs["site"].astype(str).unique()),
        "drug": sorted(frames["exposure"]["drug"].dropna().astype(str).unique()),
    }


def scoped_cohort(session: Session, viewer: Viewer) -> dict[str, pd.DataFrame]:
    """All records in scope (no filters), for the filter menus and downloads."""
    return _scoped_frames(session, viewer)
