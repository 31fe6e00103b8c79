"""Tests for tkitrack.dashboards.web.data: scoped queries on SQLite and PostgreSQL, status, paging, masking."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.dashboards.web.data import (
    MASK,
    CohortFilters,
    cohort_frames,
    find_patient,
    list_patients,
    mask_audit,
    mask_frames,
)
from tkitrack.dashboards.web.deps import Viewer
from tkitrack.schemas.audit import read_audit_log
from tkitrack.schemas.errors import NotFoundError
from tkitrack.schemas.storage import make_engine, transaction
from tkitrack.schemas.store import add_records
from tkitrack.schemas.users import Account

from .conftest import build_registry

SITE_A = Viewer(Account("site_a", "site", "A"), "t")
DM = Viewer(Account("dm", "data_manager", None), "t")
INV = Viewer(Account("inv", "investigator", None), "t")


@pytest.fixture
def reg(db_url):
    build_registry(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_scope_on_both_backends(reg):
    with transaction(reg) as s:
        assert [r["patient_id"] for r in list_patients(s, SITE_A).rows] == ["A-001", "A-002"]
        assert [r["patient_id"] for r in list_patients(s, DM).rows] == ["A-001", "A-002", "B-001"]
        assert [r["patient_id"] for r in list_patients(s, SITE_A, site="B").rows] == []
        assert find_patient(s, SITE_A, "A-001")["site"] == "A"
        with pytest.raises(NotFoundError, match="patient B-001 not found"):
            find_patient(s, SITE_A, "B-001")
        frames = cohort_frames(s, SITE_A, CohortFilters())
    assert all(set(f["patient_id"]) <= {"A-001", "A-002"} for f in frames.values())
    assert set(frames["assessment"]["patient_id"]) == {"A-001"} and set(frames["patient"]["patient_id"]) == {
        "A-001",
        "A-002",
    }


def test_status_and_filters_on_both_backends(reg):
    with transaction(reg) as s:
        status = {r["patient_id"]: r["status"] for r in list_patients(s, DM).rows}
        assert status == {"A-001": "on treatment", "A-002": "untreated", "B-001": "dead"}
        assert [r["patient_id"] for r in list_patients(s, DM, status="dead").rows] == ["B-001"]
        assert list_patients(s, DM, status="dead").total == 1
        assert [r["patient_id"] for r in list_patients(s, DM, q="_").rows] == []  # LIKE wildcards are literal


def test_deleted_patient_is_not_found(reg):
    from tkitrack.schemas.store import delete_record

    with transaction(reg) as s:
        delete_record(s, "patient", "A-002", reason="duplicate", user="dm")
    with transaction(reg) as s:
        with pytest.raises(NotFoundError, match="patient A-002 not found"):
            find_patient(s, DM, "A-002")
        assert [r["patient_id"] for r in list_patients(s, DM).rows] == ["A-001", "B-001"]


@pytest.mark.parametrize(("n", "pages", "last"), [(50, 1, 50), (51, 2, 1), (100, 2, 50), (101, 3, 1)])
def test_paging_boundaries(sqlite_url, n, pages, last):
    engine = make_engine(sqlite_url)
    try:
        with transaction(engine) as s:
            ids = [f"P{i:04d}" for i in range(n)]
            add_records(s, {"patient": pd.DataFrame({"patient_id": ids, "site": "A"})}, user="t")
        with transaction(engine) as s:
            first = list_patients(s, DM)
            final = list_patients(s, DM, page=pages)
            beyond = list_patients(s, DM, page=pages + 5)
    finally:
        engine.dispose()
    assert (first.total, first.pages, len(first.rows)) == (n, pages, min(n, 50))
    assert len(final.rows) == last and final.rows[-1]["patient_id"] == ids[-1]
    assert beyond.page == pages  # a page past the end shows the last one


def test_masking_for_a_role_without_identifiers(reg):
    with transaction(reg) as s:
        from tkitrack.schemas.store import read_frames

        frames = read_frames(s, patients=["A-001"])
        trail = read_audit_log(s, patient_id="A-001")
    masked = mask_frames(frames, INV)["patient"].iloc[0]
    assert masked["mrn"] == MASK and masked["birth_date_dtc"] == MASK and masked["birth_date"] == MASK
    assert masked["initials"] is None or pd.isna(masked["initials"])  # nothing to hide stays empty
    assert masked["histology"] == "IMT"
    assert mask_frames(frames, DM) is frames
    shown = mask_audit(trail, INV)
    insert = shown.loc[shown["table_name"].eq("patient"), "new_value"].iloc[0]
    assert "MRN-111" not in insert and '"mrn": "(masked)"' in insert and '"birth_date": "(masked)"' in insert
    assert '"histology": "IMT"' in insert
