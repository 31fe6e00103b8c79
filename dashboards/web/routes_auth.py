"""Sign-in and sign-out: generic failure message, lock-out, session cookie (HttpOnly, SameSite, Secure on TLS)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from tkitrack.dashboards.web.deps import COOKIE, PRE_COOKIE, current_viewer
from tkitrack.dashboards.web.render import page
from tkitrack.schemas.users import LOCKOUT, MAX_FAILED_SIGN_INS, authenticate, end_session, log_event, start_session

__all__ = ["router"]

router = APIRouter()
#: One message for an unknown name, a wrong password, a locked or a disabled account: names stay secret.
FAILED = (f"Name or password not accepted. After {MAX_FAILED_SIGN_INS} failed attempts an account is locked for "
          f"{int(LOCKOUT.total_seconds() // 60)} minutes; an administrator can unlock it.")  # fmt: skip


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.web.secure_cookies


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no ``//``): never an open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\n" in target:
        return "/"
    return target


def _cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=_secure(request), path="/")


def _signin_page(request: Request, *, error: str = "", status: int = 200, next_url: str = "/") -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", {"csrf": token, "error": error, "next": _safe_next(next_url)},
                    status=status)  # fmt: skip
    _cookie(response, request, PRE_COOKIE, request.app.state.web.sign(token))
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form (with a fresh CSRF token bound to a signed cookie)."""
    return _signin_page(request, next_url=next)


@router.post("/login")
def login(request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("/")) -> Response:
    """Check the name and password; on success start a new session (a new token: no session fixation)."""
    web = request.app.state.web
    previous = web.unsign(request.cookies.get(COOKIE))
    with web.write() as session:
        result = authenticate(session, name.strip(), password, client=_client(request))
        if result.account is not None and previous is not None:
            end_session(session, previous)  # signing in again replaces the session this browser had
        account = result.account
        outcome = None if account is None else start_session(session, account, client=_client(request))
    if outcome is None:
        return _signin_page(request, error=FAILED, status=401, next_url=next)
    token, _ = outcome
    target = _safe_next(next)
    if result.account.role == "admin" and target == "/":
        target = "/admin/users"
    response = RedirectResponse(target, status_code=303)
    _cookie(response, request, COOKIE, web.sign(token))
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session on the server and clear the cookie."""
    web = request.app.state.web
    token = web.unsign(request.cookies.get(COOKIE))
    if token is not None:
        with web.write() as session:
            who = end_session(session, token)
            if who:
                log_event(session, "sign_out", user=who, client=_client(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.get("/")
def home(request: Request) -> Response:
    """The patient list, or the accounts page for an administrator."""
    viewer = current_viewer(request)
    return RedirectResponse("/admin/users" if viewer.role == "admin" else "/patients", status_code=303)
