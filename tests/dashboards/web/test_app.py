"""Tests for tkitrack.dashboards.web.app: security headers, assets served locally, error pages, no API docs."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest
from fastapi.testclient import TestClient

from tkitrack.dashboards.web import create_app
from tkitrack.dashboards.web.app import CSP
from tkitrack.schemas.errors import ConfigError

HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"  # htmx.org 2.0.11 dist/htmx.min.js


@pytest.mark.parametrize("path", ["/login", "/patients", "/patients/A-001", "/cohort/swimmer.json", "/nowhere"])
def test_security_headers_on_every_answer(shared_clients, path):
    headers = shared_clients["dm"].get(path).headers
    assert headers["content-security-policy"] == CSP
    assert "script-src 'self';" in CSP and "unsafe-eval" not in CSP and "frame-ancestors 'none'" in CSP
    assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    assert "server" not in headers or "uvicorn" not in headers["server"]


def test_pages_have_no_inline_script_and_no_outside_asset(shared_clients):
    import re

    for path in ("/login", "/patients", "/patients/A-001", "/cohort", "/downloads"):
        html = shared_clients["dm"].get(path).text
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert scripts and all(body == "" and 'src="/static/' in attrs for attrs, body in scripts), path
        assert not re.search(r"""(src|href)=["'](https?:)?//""", html), path


def test_htmx_and_plotly_are_served_from_the_package(shared_clients):
    client = shared_clients[None]
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and hashlib.sha256(htmx.content).hexdigest() == HTMX_SHA256
    shipped = resources.files("tkitrack.dashboards.web").joinpath("static/THIRD-PARTY.md").read_text()
    assert "2.0.11" in shipped and "0BSD" in shipped
    plotly_js = client.get("/static/plotly.min.js")
    assert plotly_js.status_code == 200 and plotly_js.headers["content-type"].startswith("text/javascript")
    from plotly.offline import get_plotlyjs

    assert plotly_js.text == get_plotlyjs()
    assert "Plotly.newPlot" in client.get("/static/app.js").text and client.get("/static/app.css").status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_no_api_documentation_is_exposed(shared_clients, path):
    assert shared_clients["dm"].get(path).status_code == 404


def test_unknown_page_is_a_plain_404(shared_clients):
    response = shared_clients["dm"].get("/nowhere")
    assert response.status_code == 404 and "<h1>Not found</h1>" in response.text


def test_internal_error_shows_no_traceback(registry_url, monkeypatch):
    from tkitrack.dashboards.web import routes_patients

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes_patients, "list_patients", boom)
    client = TestClient(create_app(registry_url), base_url="http://127.0.0.1", raise_server_exceptions=False)
    try:
        from .conftest import sign_in

        sign_in(client, "dm")
        response = client.get("/patients")
    finally:
        client.app.state.web.engine.dispose()
        client.close()
    assert response.status_code == 500
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert "something went wrong on the server; nothing was changed" in response.text


def test_app_refuses_a_database_that_is_not_at_the_newest_schema(tmp_path):
    with pytest.raises(ConfigError, match="is empty; run `tkitrack init`"):
        create_app(f"sqlite:///{tmp_path / 'empty.db'}")


def test_cookie_key_is_shared_by_apps_on_one_database(registry_url, client_factory):
    """Two workers (two apps on one database) accept each other's cookies: the key lives in the database."""
    first = client_factory("dm")
    second = TestClient(create_app(registry_url), base_url="http://127.0.0.1", follow_redirects=False)
    try:
        second.cookies.set("tk_session", first.cookies.get("tk_session"))
        assert second.get("/patients").status_code == 200
    finally:
        second.app.state.web.engine.dispose()
        second.close()
