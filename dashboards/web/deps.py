"""Request dependencies: the database, the signed-in user and their rights, and the CSRF check.

Every route gets the signed-in user through :func:`requires` (a role check) and every state-changing request
passes :func:`verify_csrf`, which the app factory installs for all routes: the checks hold by construction,
not by each route remembering them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from tkitrack.schemas.storage import transaction
from tkitrack.schemas.users import SESSION_ABSOLUTE, Account, read_session, same_token

__all__ = [
    "COOKIE",
    "DOWNLOAD",
    "MANAGE_ACCOUNTS",
    "PERMISSIONS",
    "PRE_COOKIE",
    "READ_PATIENTS",
    "SignInRequired",
    "Viewer",
    "WebState",
    "current_viewer",
    "requires",
    "verify_csrf",
]

#: The signed session cookie, and the signed token a sign-in form is checked against before any session exists.
COOKIE = "tk_session"
PRE_COOKIE = "tk_signin"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

#: permission -> roles that have it. ``edit_records``: data entry and answering queries; ``manage_data``: raising,
#: closing and reopening queries, verifying, locking and unlocking records.
PERMISSIONS: dict[str, frozenset[str]] = {
    "read_patients": frozenset({"site", "data_manager", "investigator"}),
    "see_identifiers": frozenset({"site", "data_manager"}),
    "download": frozenset({"site", "data_manager", "investigator"}),
    "edit_records": frozenset({"site", "data_manager"}),
    "manage_data": frozenset({"data_manager"}),
    "manage_accounts": frozenset({"admin"}),
}


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one request, with the CSRF token of their session."""

    account: Account
    csrf: str

    @property
    def name(self) -> str:
        return self.account.name

    @property
    def role(self) -> str:
        return self.account.role

    @property
    def site_scope(self) -> str | None:
        """The one site a site user sees; None for roles that see every site."""
        return self.account.site if self.account.role == "site" else None

    def may(self, permission: str) -> bool:
        return self.account.role in PERMISSIONS[permission]


class WebState:
    """What every request shares: the engine, the cookie signer, and (SQLite) the write lock."""

    def __init__(self, engine: Engine, cookie_key: str, pseudonym_key: str, *, secure_cookies: bool = False):
        self.engine = engine
        self.signer = TimestampSigner(cookie_key, salt="tkitrack-session")
        self.pseudonym_key = pseudonym_key
        self.secure_cookies = secure_cookies
        self.sqlite = engine.dialect.name == "sqlite"
        self._lock = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A transaction for reading."""
        with transaction(self.engine) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that may write; on SQLite one at a time in this process (SQLite has one writer)."""
        if not self.sqlite:
            with transaction(self.engine) as session:
                yield session
            return
        with self._lock, transaction(self.engine) as session:
            yield session

    def sign(self, token: str) -> str:
        return self.signer.sign(token).decode("ascii")

    def unsign(self, value: str | None) -> str | None:
        """The token inside a signed cookie value, or None when it is missing, forged or too old."""
        if not value:
            return None
        try:
            return self.signer.unsign(value, max_age=int(SESSION_ABSOLUTE.total_seconds())).decode("ascii")
        except (BadSignature, SignatureExpired, UnicodeDecodeError):
            return None


def _state(request: Request) -> WebState:
    return request.app.state.web


def _live_session(request: Request) -> tuple[Account, str] | None:
    web = _state(request)
    token = web.unsign(request.cookies.get(COOKIE))
    if token is None:
        return None
    with web.write() as session:  # reading may end an expired session or move last-seen on
        return read_session(session, token)


def current_viewer(request: Request) -> Viewer:
    """The signed-in user; SignInRequired when the session is missing, forged, expired or the account disabled."""
    cached = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached
    got = _live_session(request)
    if got is None:
        raise SignInRequired
    viewer = Viewer(*got)
    request.state.viewer = viewer
    return viewer


def requires(permission: str) -> Callable[..., Viewer]:
    """A dependency giving the signed-in user, refusing (403) a role without ``permission``."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def dependency(viewer: Viewer = Depends(current_viewer)) -> Viewer:
        if not viewer.may(permission):
            raise HTTPException(403, f"the {viewer.role} role does not give access to this page")
        return viewer

    dependency.__name__ = f"requires_{permission}"
    return dependency


READ_PATIENTS = requires("read_patients")
DOWNLOAD = requires("download")
MANAGE_ACCOUNTS = requires("manage_accounts")


async def verify_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request without the token of its session (or of its sign-in form).

    The token comes in the ``X-CSRF-Token`` header (htmx sends it) or a ``csrf_token`` form field; it is the
    session's, or for the sign-in form the one bound to that form's signed cookie.
    """
    if request.method in _SAFE:
        return
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if request.url.path == "/login":  # the sign-in form carries the token of its own signed cookie
        expected = _state(request).unsign(request.cookies.get(PRE_COOKIE))
    else:
        live = await run_in_threadpool(_live_session, request)
        expected = live[1] if live is not None else None
    if expected is None or not same_token(given, expected):
        raise HTTPException(403, "this form has expired or did not come from this site; reload the page and try again")
