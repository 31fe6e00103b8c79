"""Tests for tkitrack.dashboards.web.routes_downloads: report and exports within the user's rights."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith('attachment; filename="tkitrack-')
    return zipfile.ZipFile(io.BytesIO(response.content))


def _csv(archive: zipfile.ZipFile, name: str) -> pd.DataFrame:
    with archive.open(name) as handle:
        return pd.read_csv(handle, dtype=str)


@pytest.mark.parametrize(
    ("role", "patients"),
    [pytest.param("site_a", ["A-001", "A-002"], id="site-a"), pytest.param("site_b", ["B-001"], id="site-b"),
     pytest.param("dm", ["A-001", "A-002", "B-001"], id="data-manager")],
)  # fmt: skip
def test_record_export_holds_only_the_patients_in_scope(shared_clients, role, patients):
    archive = _zip(shared_clients[role].get("/downloads/records.zip"))
    assert {"patient.csv", "exposure.csv", "data_dictionary.csv", "manifest.json"} <= set(archive.namelist())
    assert _csv(archive, "patient.csv")["patient_id"].tolist() == patients
    assert set(_csv(archive, "assessment.csv")["patient_id"]) <= set(patients)


def test_investigator_export_is_deidentified(shared_clients):
    archive = _zip(shared_clients["inv"].get("/downloads/records.zip"))
    patient = _csv(archive, "patient.csv")
    assert "mrn" not in patient.columns and "note" not in patient.columns
    assert not set(patient["patient_id"]) & {"A-001", "A-002", "B-001"}  # keyed pseudonyms
    assert len(set(patient["patient_id"])) == 3
    assert "MRN-111" not in b"".join(archive.read(n) for n in archive.namelist()).decode()


def test_cdisc_export_sdtm_and_adam(shared_clients):
    archive = _zip(shared_clients["site_b"].get("/downloads/cdisc.zip"))
    names = set(archive.namelist())
    assert {"sdtm/dm.csv", "sdtm/ex.csv", "sdtm/rs.csv", "adam/adsl.csv", "adam/adtte.csv"} <= names
    dm = _csv(archive, "sdtm/dm.csv")
    assert dm["USUBJID"].tolist() == ["B-001"] and dm["BRTHDTC"].tolist() == ["2010"]
    inv = _zip(shared_clients["inv"].get("/downloads/cdisc.zip"))
    assert "BRTHDTC" not in _csv(inv, "sdtm/dm.csv").columns

    # free text may hold identifiers: the notes planted at site A reach a data manager, never an investigator
    def text(archive):
        return b"".join(archive.read(n) for n in archive.namelist()).decode()

    assert "alert('note')" in text(_zip(shared_clients["dm"].get("/downloads/cdisc.zip")))
    assert "alert('note')" not in text(inv)


def test_report_is_the_scope_only_and_says_who_downloaded_it(shared_clients):
    response = shared_clients["site_a"].get("/downloads/report.html")
    assert response.status_code == 200 and response.headers["content-disposition"].endswith('.html"')
    text = response.text
    assert "site A" in text and "<dd>site_a</dd>" in text and "B-001" not in text


def test_downloads_are_in_the_access_log(shared_clients):
    shared_clients["site_b"].get("/downloads/records.zip")
    html = shared_clients["admin"].get("/admin/events").text
    assert "<td>site_b</td><td>download</td><td>records.zip (1 patients)</td>" in html


def test_nothing_to_download_is_a_404(client_factory):
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.users import add_user

    client = client_factory(None)
    with transaction(client.app.state.web.engine) as s:
        add_user(s, "site_c", "site", "correct horse battery", site="C", by="root")
    from .conftest import sign_in

    assert sign_in(client, "site_c").status_code == 303
    response = client.get("/downloads/records.zip")
    assert response.status_code == 404 and "no patients to download in your scope" in response.text
