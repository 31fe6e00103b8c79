"""Tests for tkitrack.dashboards.web.routes_auth: sign-in, cookie flags, lock-out, sign-out, redirects."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tkitrack.dashboards.web import create_app
from tkitrack.dashboards.web.routes_auth import FAILED
from tkitrack.schemas.storage import make_engine, transaction
from tkitrack.schemas.users import MAX_FAILED_SIGN_INS, WebEvent

from .conftest import PASSWORD, csrf_of, sign_in


def _events(url: str) -> list[tuple[str, str | None]]:
    engine = make_engine(url)
    try:
        with transaction(engine) as s:
            return [(e.event, e.user_name) for e in s.execute(select(WebEvent).order_by(WebEvent.id)).scalars()]
    finally:
        engine.dispose()


def _cookie_header(response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def test_session_cookie_is_httponly_samesite_strict_and_not_secure_over_http(client_factory):
    response = sign_in(client_factory(None), "dm")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = _cookie_header(response, "tk_session").lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie.replace("tk_session", "")
    assert "max-age" not in cookie and "expires" not in cookie  # a browser-session cookie; the server expires it


def test_session_cookie_is_secure_over_tls(registry_url):
    client = TestClient(create_app(registry_url), base_url="https://127.0.0.1", follow_redirects=False)
    try:
        response = sign_in(client, "dm")
        assert "; secure" in _cookie_header(response, "tk_session").lower()
        assert client.get("/patients").headers["strict-transport-security"] == "max-age=31536000"
    finally:
        client.app.state.web.engine.dispose()
        client.close()


def test_secure_cookies_option_behind_a_tls_proxy(registry_url):
    client = TestClient(create_app(registry_url, secure_cookies=True), base_url="http://127.0.0.1",
                        follow_redirects=False)  # fmt: skip
    try:  # the sign-in form's cookie is Secure too, so a plain-HTTP client cannot even send it back
        assert "; secure" in _cookie_header(client.get("/login"), "tk_signin").lower()
    finally:
        client.app.state.web.engine.dispose()
        client.close()


@pytest.mark.parametrize(
    ("name", "password"),
    [pytest.param("dm", "wrong password here", id="wrong-password"),
     pytest.param("nobody", PASSWORD, id="unknown-user"),
     pytest.param("", "", id="empty")],
)  # fmt: skip
def test_failed_sign_in_gives_one_message_whatever_was_wrong(client_factory, name, password):
    client = client_factory(None)
    response = sign_in(client, name, password)
    assert response.status_code == 401
    assert FAILED in response.text.replace("&#39;", "'")
    assert "tk_session" not in response.headers.get("set-cookie", "")
    assert client.get("/patients").status_code == 303


def test_lock_out_after_five_failures_through_the_form(client_factory, registry_url):
    client = client_factory(None)
    for _ in range(MAX_FAILED_SIGN_INS):
        assert sign_in(client, "site_a", "not the password!").status_code == 401
    response = sign_in(client, "site_a")  # right password, locked account: the same message
    assert response.status_code == 401 and FAILED in response.text.replace("&#39;", "'")
    assert sign_in(client, "site_b").status_code == 303  # only that account is locked
    events = _events(registry_url)
    assert events.count(("sign_in_failed", "site_a")) == MAX_FAILED_SIGN_INS + 1
    assert ("locked_out", "site_a") in events


def test_sign_out_ends_the_session_on_the_server(client_factory, registry_url):
    client = client_factory("dm")
    stolen = client.cookies.get("tk_session")
    token = csrf_of(client.get("/patients").text)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert 'tk_session=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]
    assert client.get("/patients").status_code == 303
    replay = client_factory(None)
    replay.cookies.set("tk_session", stolen)  # the old cookie, replayed: the server no longer knows it
    assert replay.get("/patients").status_code == 303
    assert ("sign_out", "dm") in _events(registry_url)


def test_each_sign_in_gets_a_new_session_token(client_factory):
    client = client_factory("dm")
    first = client.cookies.get("tk_session")
    assert sign_in(client, "dm").status_code == 303
    assert client.cookies.get("tk_session") != first


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        pytest.param("/patients/A-001", "/patients/A-001", id="local-path"),
        pytest.param("https://evil.example/", "/", id="absolute-url"),
        pytest.param("//evil.example/x", "/", id="scheme-relative"),
        pytest.param("/\\evil.example", "/", id="backslash"),
        pytest.param("", "/", id="empty"),
    ],
)
def test_sign_in_returns_only_to_a_page_of_this_site(client_factory, next_url, expected):
    client = client_factory(None)
    page = client.get("/login", params={"next": next_url})
    response = client.post("/login", data={"name": "dm", "password": PASSWORD, "csrf_token": csrf_of(page.text),
                                           "next": next_url})  # fmt: skip
    assert response.headers["location"] == expected


def test_protected_page_sends_to_sign_in_and_back(client_factory):
    client = client_factory(None)
    response = client.get("/patients/A-001")
    assert response.headers["location"] == "/login?next=/patients/A-001"
    page = client.get(response.headers["location"])
    assert 'name="next" value="/patients/A-001"' in page.text


def test_home_sends_each_role_to_its_start_page(client_factory):
    assert client_factory("dm").get("/").headers["location"] == "/patients"
    assert client_factory("admin").get("/").headers["location"] == "/admin/users"


def test_admin_lands_on_accounts_after_sign_in(client_factory):
    assert sign_in(client_factory(None), "admin").headers["location"] == "/admin/users"


def test_signing_in_again_ends_the_previous_session(client_factory):
    client = client_factory("dm")
    first = client.cookies.get("tk_session")
    assert sign_in(client, "inv").status_code == 303
    again = client_factory(None)
    again.cookies.set("tk_session", first)
    assert again.get("/patients").status_code == 303
    assert "inv (investigator)" in client.get("/patients").text
