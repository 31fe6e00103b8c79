"""The app factory: routers, security headers, error pages, static assets (htmx, plotly.js, CSS: no CDN)."""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

import plotly
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from tkitrack.dashboards.web import (
    routes_admin,
    routes_auth,
    routes_cohort,
    routes_downloads,
    routes_entry,
    routes_patients,
    routes_queries,
)
from tkitrack.dashboards.web.deps import SignInRequired, WebState, verify_csrf
from tkitrack.dashboards.web.render import make_templates, page
from tkitrack.schemas.storage import make_engine, require_current, transaction
from tkitrack.schemas.users import read_setting

__all__ = ["CSP", "create_app", "create_app_from_env"]

log = logging.getLogger("tkitrack.web")

#: Scripts only from this server (no inline script, no eval); plotly.js sets inline styles, hence style-src.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")  # fmt: skip
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def _plotly_js() -> Path:
    """plotly.js as shipped inside the plotly package (the version the figures were made for)."""
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app(db: str | None = None, *, engine: Engine | None = None, secure_cookies: bool = False) -> FastAPI:
    """The tkitrack web application on the database ``db`` (a URL or SQLite path, as ``--db``) or ``engine``.

    The database must be at the newest schema. ``secure_cookies`` marks cookies Secure even when the app sees
    plain HTTP (behind a TLS-terminating proxy that does not forward the scheme); over HTTPS they always are.
    """
    engine = engine or make_engine(db)
    require_current(engine)
    with transaction(engine) as session:
        cookie_key, pseudonym_key = read_setting(session, "cookie_key"), read_setting(session, "pseudonym_key")
    app = FastAPI(title="tkitrack", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(verify_csrf)])  # fmt: skip
    app.state.web = WebState(engine, cookie_key, pseudonym_key, secure_cookies=secure_cookies)
    app.state.templates = make_templates()

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"  # patient data stays out of shared caches
        if request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, _exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request") == "true" or request.url.path.endswith(".json"):
            return JSONResponse({"message": "signed out"}, status_code=401, headers={"HX-Redirect": "/login"})
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {400: "Bad request", 401: "Sign-in needed", 403: "Not allowed", 404: "Not found",
                  405: "Not allowed", 422: "Bad request"}  # fmt: skip
        message = exc.detail if isinstance(exc.detail, str) else "the request could not be handled"
        if request.url.path.endswith(".json"):
            return JSONResponse({"message": message}, status_code=exc.status_code)
        return page(request, "error.html", {"title": titles.get(exc.status_code, "Error"), "message": message},
                    status=exc.status_code)  # fmt: skip

    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return page(request, "error.html", {"title": "Bad request", "message": f"missing or invalid: {fields}"},
                    status=400)  # fmt: skip

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return page(request, "error.html", {"title": "Internal error", "message": "something went wrong on the "
                    "server; nothing was changed. The error is in the server log."}, status=500)  # fmt: skip

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return FileResponse(_plotly_js(), media_type="text/javascript")

    static = resources.files("tkitrack.dashboards.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    # data entry first: /patients/new is a form, not the patient 'new'
    for module in (
        routes_auth,
        routes_entry,
        routes_queries,
        routes_patients,
        routes_cohort,
        routes_downloads,
        routes_admin,
    ):
        app.include_router(module.router)
    return app


def create_app_from_env() -> FastAPI:
    """The app on ``$TKITRACK_DB`` (what ``tkitrack serve`` runs in each uvicorn worker)."""
    return create_app(os.environ.get("TKITRACK_DB"), secure_cookies=os.environ.get("TKITRACK_SECURE_COOKIES") == "1")
