"""Tests for tkitrack.dashboards.web.deps: the role x route matrix, site isolation, CSRF on every POST."""

from __future__ import annotations

import pytest

from tkitrack.dashboards.web.deps import PERMISSIONS, requires

from .conftest import ROLES, csrf_of

#: GET routes and the roles that get 200 (others: 403, anonymous: sign-in). ``A`` / ``B``: the site's patient.
PATIENT_ROUTES = ["/patients/{p}", "/patients/{p}/timeline.json", "/patients/{p}/findings"]
READERS = {"site_a", "site_b", "dm", "inv"}
EDITORS = {"site_a", "site_b", "dm"}
ROUTES = {
    "/patients/new": EDITORS,
    "/queries": EDITORS,
    "/queries?state=all&mine=1": EDITORS,
    "/forms/ctcae?term=nausea": EDITORS,
    "/queries/new?patient_id=A-001&record=exposure&record_id=1": {"dm"},
    "/patients": READERS,
    "/patients?q=001&site=A&histology=IMT&status=on+treatment": READERS,
    "/cohort": READERS,
    "/cohort/swimmer.json": READERS,
    "/cohort/km.json?endpoint=OS&group=histology": READERS,
    "/cohort/tables": READERS,
    "/downloads": READERS,
    "/downloads/report.html": READERS,
    "/downloads/records.zip": READERS,
    "/downloads/cdisc.zip": READERS,
    "/admin/users": {"admin"},
    "/admin/events": {"admin"},
}
SEES = {"site_a": {"A-001", "A-002"}, "site_b": {"B-001"}, "dm": {"A-001", "A-002", "B-001"},
        "inv": {"A-001", "A-002", "B-001"}, "admin": set()}  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(ROUTES))
def test_role_by_route(shared_clients, role, route):
    response = shared_clients[role].get(route)
    expected = 200 if role in ROUTES[route] else 403
    assert response.status_code == expected, (role, route, response.text[:300])
    if expected == 403:
        assert f"the {role_of(role)} role does not give access to this page" in response.text


def role_of(name: str) -> str:
    return {"site_a": "site", "site_b": "site", "dm": "data_manager", "inv": "investigator", "admin": "admin"}[name]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("patient", ["A-001", "A-002", "B-001", "NOBODY"])
@pytest.mark.parametrize("template", PATIENT_ROUTES)
def test_patient_routes_answer_only_within_the_site(shared_clients, role, patient, template):
    """Another site's patient answers exactly like a patient that does not exist (status and body)."""
    response = shared_clients[role].get(template.format(p=patient))
    if role == "admin":
        assert response.status_code == 403
    elif patient in SEES[role]:
        assert response.status_code == 200
    else:
        assert response.status_code == 404
        twin = shared_clients[role].get(template.format(p="NO-SUCH-PATIENT"))
        assert response.text.replace(patient, "X") == twin.text.replace("NO-SUCH-PATIENT", "X")


@pytest.mark.parametrize("role", ["site_a", "site_b", "dm", "inv"])
def test_search_and_filters_never_reach_another_site(shared_clients, role):
    for query in ("/patients", "/patients?q=B-", "/patients?site=B", "/patients?q=A-&site=A", "/patients?q=001"):
        text = shared_clients[role].get(query).text
        shown = {p for p in ("A-001", "A-002", "B-001") if f">{p}</a>" in text}
        assert shown <= SEES[role], (role, query, shown)
    text = shared_clients[role].get("/patients").text
    assert {p for p in ("A-001", "A-002", "B-001") if f">{p}</a>" in text} == SEES[role]


@pytest.mark.parametrize("route", [*ROUTES, "/patients/A-001", "/"])
def test_anonymous_is_sent_to_sign_in(shared_clients, route):
    response = shared_clients[None].get(route)
    if route.split("?")[0].endswith(".json"):
        assert response.status_code == 401 and response.headers["hx-redirect"] == "/login"
    else:
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/")


def test_forged_or_foreign_cookie_is_not_a_session(shared_clients, client_factory):
    client = client_factory(None)
    client.cookies.set("tk_session", "forged.value.sig")
    assert client.get("/patients").status_code == 303
    signed_elsewhere = shared_clients["dm"].cookies.get("tk_session")  # another database's secret signed it
    client.cookies.set("tk_session", signed_elsewhere)
    assert client.get("/patients").status_code == 303


POSTS = ["/logout", "/admin/users", "/admin/users/site_a/disable", "/admin/users/site_a/enable",
         "/admin/users/site_a/password", "/login"]  # fmt: skip


@pytest.mark.parametrize("route", POSTS)
@pytest.mark.parametrize("token", ["missing", "wrong"])
def test_state_changing_request_without_the_csrf_token_is_refused(client_factory, route, token):
    client = client_factory("admin")
    data = {"name": "x", "role": "admin", "password": "a long enough passphrase", "reason": "test"}
    if token == "wrong":
        data["csrf_token"] = "not-the-token"
    response = client.post(route, data=data)
    assert response.status_code == 403
    assert "this form has expired or did not come from this site" in response.text
    assert client.get("/admin/users").status_code == 200  # still signed in: nothing happened


def test_csrf_token_in_the_header_is_accepted(client_factory):
    client = client_factory("admin")
    token = csrf_of(client.get("/admin/users").text)
    response = client.post("/admin/users/site_a/disable", data={"reason": "left"}, headers={"X-CSRF-Token": token})
    assert response.status_code == 303


def test_csrf_token_of_another_session_is_refused(client_factory):
    first, second = client_factory("admin"), client_factory("admin")
    other = csrf_of(first.get("/admin/users").text)
    assert second.post("/admin/users/site_a/disable", data={"reason": "x", "csrf_token": other}).status_code == 403


@pytest.mark.parametrize("role", ["site_a", "dm", "inv"])
def test_account_changes_need_the_admin_role_even_with_a_valid_token(client_factory, role):
    client = client_factory(role)
    token = csrf_of(client.get("/patients").text)
    response = client.post("/admin/users/site_b/disable", data={"reason": "x", "csrf_token": token})
    assert response.status_code == 403


def test_every_permission_names_known_roles():
    assert set().union(*PERMISSIONS.values()) == {"site", "data_manager", "investigator", "admin"}
    with pytest.raises(ValueError, match="unknown permission"):
        requires("fly")
