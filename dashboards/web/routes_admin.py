"""Accounts (admin role only): list, add, disable or enable, reset a password; and the access log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from tkitrack.dashboards.web.deps import MANAGE_ACCOUNTS, Viewer
from tkitrack.dashboards.web.render import page
from tkitrack.schemas.errors import TkitrackError
from tkitrack.schemas.users import ROLES, WebEvent, add_user, read_users, set_disabled, set_password

__all__ = ["router"]

router = APIRouter(prefix="/admin", dependencies=[Depends(MANAGE_ACCOUNTS)])


def _accounts_page(request: Request, *, error: str = "", done: str = "", status: int = 200) -> Response:
    with request.app.state.web.read() as session:
        users = read_users(session)
    return page(request, "admin_users.html", {"users": users, "roles": ROLES, "error": error, "done": done},
                status=status)  # fmt: skip


_DONE = {"added": "account added", "disabled": "account disabled", "enabled": "account enabled",
         "password": "password set; the account's sessions were ended"}  # fmt: skip


@router.get("/users")
def accounts(request: Request, done: str = "", viewer: Viewer = Depends(MANAGE_ACCOUNTS)) -> Response:
    """Every account with its role, site, state and last sign-in."""
    return _accounts_page(request, done=_DONE.get(done, ""))


def _apply(request: Request, change, done: str) -> Response:
    try:
        with request.app.state.web.write() as session:
            change(session)
    except TkitrackError as err:
        return _accounts_page(request, error=str(err), status=400)
    return RedirectResponse(f"/admin/users?done={done}", status_code=303)


@router.post("/users")
def create(request: Request, name: str = Form(...), role: str = Form(...), site: str = Form(""),
           password: str = Form(...), viewer: Viewer = Depends(MANAGE_ACCOUNTS)) -> Response:  # fmt: skip
    """Add an account (audited with the administrator as 'who')."""
    return _apply(request, lambda s: add_user(s, name.strip(), role, password, site=site.strip() or None,
                                              by=viewer.name), "added")  # fmt: skip


@router.post("/users/{name}/disable")
def disable(request: Request, name: str, reason: str = Form(""), viewer: Viewer = Depends(MANAGE_ACCOUNTS)) -> Response:
    """Disable an account: its sessions end at once."""
    if name == viewer.name:
        return _accounts_page(request, error="you cannot disable your own account", status=400)
    return _apply(request, lambda s: set_disabled(s, name, True, by=viewer.name, reason=reason), "disabled")


@router.post("/users/{name}/enable")
def enable(request: Request, name: str, reason: str = Form(""), viewer: Viewer = Depends(MANAGE_ACCOUNTS)) -> Response:
    """Enable an account again (also clears a lock-out)."""
    return _apply(request, lambda s: set_disabled(s, name, False, by=viewer.name, reason=reason), "enabled")


@router.post("/users/{name}/password")
def password(request: Request, name: str, password: str = Form(...), reason: str = Form("password reset"),
             viewer: Viewer = Depends(MANAGE_ACCOUNTS)) -> Response:  # fmt: skip
    """Set a new password: unlocks the account and ends its sessions."""
    return _apply(request, lambda s: set_password(s, name, password, by=viewer.name, reason=reason or "password reset"),
                  "password")  # fmt: skip


@router.get("/events")
def events(request: Request, viewer: Viewer = Depends(MANAGE_ACCOUNTS)) -> Response:
    """The newest 500 lines of the access log."""
    with request.app.state.web.read() as session:
        rows = session.execute(select(WebEvent).order_by(WebEvent.id.desc()).limit(500)).scalars().all()
    return page(request, "admin_events.html", {"events": rows})
