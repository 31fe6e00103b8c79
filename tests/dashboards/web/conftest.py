"""Fixtures for the web application: a small two-site registry, one account per role, signed-in clients.

Site A holds A-001 (treated: crizotinib, PR then CR, a grade 2 AE, a note with a script tag and an AE note with
an onerror image) and A-002 (untreated); site B holds B-001 (treated, CR then PR, a finding AS003, then PD; died). Accounts: ``site_a`` (site A),
``site_b`` (site B), ``dm`` (data_manager), ``inv`` (investigator), ``admin`` (admin); every password is
:data:`PASSWORD`.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tkitrack.schemas.storage import make_engine, transaction, upgrade
from tkitrack.schemas.store import add_records
from tkitrack.schemas.users import add_user

PASSWORD = "correct horse battery"
SCRIPT_NOTE = "<script>alert('note')</script>"
IMG_NOTE = '<img src=x onerror="alert(1)">'
ACCOUNTS = {"site_a": ("site", "A"), "site_b": ("site", "B"), "dm": ("data_manager", None),
            "inv": ("investigator", None), "admin": ("admin", None)}  # fmt: skip
ROLES = tuple(ACCOUNTS)


def registry() -> dict[str, pd.DataFrame]:
    """The two-site registry as template text frames."""
    return {
        "patient": pd.DataFrame({
            "patient_id": ["A-001", "A-002", "B-001"], "site": ["A", "A", "B"], "mrn": ["MRN-111", "MRN-222", "MRN-333"],
            "sex": ["F", "M", "F"], "birth_date": ["2013-02", "2015-06-01", "2010"],
            "diagnosis_date": ["2019-01-10", "2020-03-01", "2018-05-01"], "histology": ["IMT", "IMT", "NTRK_SCN"],
            "primary_site": ["mesentery", "lung", "thigh"], "height_cm": ["116", None, "140"],
            "weight_kg": ["20.5", None, "35"], "note": [SCRIPT_NOTE, None, None],
        }),
        "molecular": pd.DataFrame({"patient_id": ["A-001", "B-001"], "gene_5p": ["CLTC", "TPM3"],
                                   "gene_3p": ["ALK", "NTRK1"], "method": ["WGS", "RNA_NGS"],
                                   "specimen_date": ["2019-01", "2018-05"]}),
        "exposure": pd.DataFrame({
            "patient_id": ["A-001", "B-001"], "drug": ["crizotinib", "larotrectinib"], "dose": ["200", "100"],
            "unit": ["mg", "mg/m2"], "frequency": ["QD", "BID"], "start": ["2019-02-01", "2018-06-01"],
            "end": [None, "2018-12-31"], "reason": [None, "progression"], "discontinued": ["false", "true"],
        }),
        "assessment": pd.DataFrame({
            "patient_id": ["A-001", "A-001", "A-001", "B-001", "B-001", "B-001"],
            "date": ["2019-01-20", "2019-03-20", "2019-06-01", "2018-09-01", "2018-10-01", "2018-12-01"],
            "baseline": ["true", "false", "false", "false", "false", "false"],
            "modality": ["MRI", "MRI", "MRI", "CT", "CT", "CT"], "response": [None, "PR", "CR", "CR", "PR", "PD"],
        }),
        "ae": pd.DataFrame({"patient_id": ["A-001"], "term": ["Gait disturbance"], "grade": ["2"],
                            "start": ["2019-07"], "attributed_drug": ["crizotinib"], "note": [IMG_NOTE]}),
        "followup": pd.DataFrame({
            "patient_id": ["A-001", "A-002", "B-001"], "date": ["2023-08-01", "2021-01-01", "2019-02-01"],
            "vital_status": ["alive", "alive", "dead"], "death_date": [None, None, "2019-02-01"],
        }),
    }  # fmt: skip


def build_registry(url: str) -> None:
    """Migrate ``url``, add the registry's records and the five accounts."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with transaction(engine) as session:
            add_records(session, registry(), user="importer", source="test registry")
            for name, (role, site) in ACCOUNTS.items():
                add_user(session, name, role, PASSWORD, site=site, by="root")
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The registry as a SQLite file, built once per session; tests copy it."""
    path = tmp_path_factory.mktemp("web") / "registry.db"
    build_registry(f"sqlite:///{path}")
    return path


@pytest.fixture
def registry_url(tmp_path: Path, registry_template: Path) -> str:
    """A fresh copy of the registry (SQLite) for a test that writes."""
    path = tmp_path / "registry.db"
    shutil.copyfile(registry_template, path)
    return f"sqlite:///{path}"


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> object:
    """Sign in through the form (GET /login for its token, then POST); returns the POST response."""
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password, "csrf_token": csrf_of(page.text),
                                       "next": "/"}, follow_redirects=False)  # fmt: skip


def make_client(url: str) -> TestClient:
    from tkitrack.dashboards.web import create_app

    return TestClient(create_app(url), base_url="http://127.0.0.1", follow_redirects=False)


@pytest.fixture
def client_factory(registry_url: str) -> Iterator[Callable[[str | None], TestClient]]:
    """``client_factory(name)``: a client of a fresh registry copy, signed in as ``name`` (None: not signed in)."""
    made: list[TestClient] = []

    def factory(name: str | None) -> TestClient:
        client = make_client(registry_url)
        made.append(client)
        if name is not None:
            response = sign_in(client, name)
            assert response.status_code == 303, response.text
        return client

    yield factory
    for client in made:
        client.app.state.web.engine.dispose()
        client.close()


@pytest.fixture(scope="module")
def shared_clients(tmp_path_factory: pytest.TempPathFactory, registry_template: Path) -> Iterator[dict]:
    """One signed-in client per role (and an anonymous one) on one registry copy, for read-only tests."""
    path = tmp_path_factory.mktemp("shared") / "registry.db"
    shutil.copyfile(registry_template, path)
    url = f"sqlite:///{path}"
    clients: dict[str | None, TestClient] = {}
    for name in (*ROLES, None):
        client = make_client(url)
        if name is not None:
            assert sign_in(client, name).status_code == 303
        clients[name] = client
    yield clients
    for client in clients.values():
        client.app.state.web.engine.dispose()
        client.close()
