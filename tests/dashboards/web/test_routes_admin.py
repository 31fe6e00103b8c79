"""Tests for tkitrack.dashboards.web.routes_admin: accounts through the browser, audited with the admin as 'who'."""

from __future__ import annotations

import re

from tkitrack.schemas.audit import read_audit_log, verify_chain
from tkitrack.schemas.storage import transaction

from .conftest import PASSWORD, csrf_of, sign_in


def _post(client, url: str, **data):
    token = csrf_of(client.get("/admin/users").text)
    return client.post(url, data={**data, "csrf_token": token})


def test_admin_adds_an_account_and_the_audit_trail_names_the_admin(client_factory):
    admin = client_factory("admin")
    response = _post(admin, "/admin/users", name="nurse1", role="site", site="A", password="a long passphrase!")
    assert response.status_code == 303 and response.headers["location"] == "/admin/users?done=added"
    html = admin.get(response.headers["location"]).text
    assert re.search(r'<tr id="user-nurse1"><td>nurse1</td><td>site</td><td>A</td>\s*<td>active</td>', html)
    assert '<p class="done" id="admin-done">account added</p>' in html
    with transaction(admin.app.state.web.engine) as s:
        trail = read_audit_log(s, table="app_user")
        assert verify_chain(s).ok
    last = trail.iloc[-1]
    assert (last["user"], last["action"], last["record_id"]) == ("admin", "insert", "nurse1")
    nurse = client_factory(None)
    assert sign_in(nurse, "nurse1", "a long passphrase!").status_code == 303


def test_bad_account_is_refused_with_the_reason(client_factory):
    admin = client_factory("admin")
    response = _post(admin, "/admin/users", name="nurse2", role="site", site="", password="a long passphrase!")
    assert response.status_code == 400
    assert "a site user sees one site&#39;s patients; give --site for nurse2" in response.text
    response = _post(admin, "/admin/users", name="nurse2", role="admin", password="short")
    assert response.status_code == 400 and "at least 12 characters" in response.text


def test_disabling_an_account_ends_its_open_session(client_factory):
    admin, site_a = client_factory("admin"), client_factory("site_a")
    assert site_a.get("/patients").status_code == 200
    assert _post(admin, "/admin/users/site_a/disable", reason="left the hospital").status_code == 303
    assert site_a.get("/patients").status_code == 303  # signed out at once
    assert sign_in(client_factory(None), "site_a").status_code == 401
    assert _post(admin, "/admin/users/site_a/enable", reason="back").status_code == 303
    assert sign_in(client_factory(None), "site_a").status_code == 303


def test_disable_needs_a_reason_and_not_oneself(client_factory):
    admin = client_factory("admin")
    assert _post(admin, "/admin/users/site_a/disable", reason="").status_code == 400
    response = _post(admin, "/admin/users/admin/disable", reason="oops")
    assert response.status_code == 400 and "you cannot disable your own account" in response.text


def test_password_reset_ends_sessions_and_the_old_password(client_factory):
    admin, dm = client_factory("admin"), client_factory("dm")
    assert _post(admin, "/admin/users/dm/password", password="the new passphrase").status_code == 303
    assert dm.get("/patients").status_code == 303
    assert sign_in(client_factory(None), "dm", PASSWORD).status_code == 401
    assert sign_in(client_factory(None), "dm", "the new passphrase").status_code == 303


def test_unknown_account_is_a_clear_error(client_factory):
    response = _post(client_factory("admin"), "/admin/users/ghost/disable", reason="x")
    assert response.status_code == 400 and "user ghost does not exist" in response.text


def test_access_log_lists_sign_ins(client_factory):
    admin = client_factory("admin")
    sign_in(client_factory(None), "dm", "wrong password 123")
    html = admin.get("/admin/events").text
    assert "<td>dm</td><td>sign_in_failed</td><td>wrong password</td>" in html
    assert "<td>admin</td><td>sign_in</td>" in html
