"""`tkitrack serve`: the web application (FastAPI under uvicorn) on the database."""

from __future__ import annotations

from pathlib import Path

import typer

from tkitrack.cli._common import command, fail, state

__all__ = ["app"]

app = typer.Typer()


@command(app, "serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on"),
    db: str | None = typer.Option(None, "--db", help="Database URL or SQLite path [default: the global --db]"),
    workers: int = typer.Option(1, "--workers", min=1, help="uvicorn worker processes (SQLite: 1; see docs/web.md)"),
    ssl_certfile: Path | None = typer.Option(None, "--ssl-certfile", help="TLS certificate (PEM): serve HTTPS"),
    ssl_keyfile: Path | None = typer.Option(None, "--ssl-keyfile", help="TLS private key (PEM)"),
    proxy: str | None = typer.Option(None, "--forwarded-allow-ips",
                                     help="Address of a TLS-terminating reverse proxy whose X-Forwarded-Proto to trust"),
    secure_cookies: bool = typer.Option(False, "--secure-cookies",
                                        help="Mark cookies Secure even when the app sees plain HTTP (behind TLS)"),
) -> None:  # fmt: skip
    """Serve the web application: sign-in, patients, the cohort, downloads (Ctrl-C stops it)."""
    import os

    import uvicorn

    from tkitrack.schemas.storage import make_engine, redact_url, require_current, resolve_url, transaction
    from tkitrack.schemas.users import read_setting, read_users

    url = resolve_url(db or state().db)
    engine = make_engine(url)
    require_current(engine)
    if engine.dialect.name == "sqlite" and workers > 1:
        raise fail("--workers must be 1 on SQLite (one writer at a time: several processes would fail each "
                   "other's writes); use PostgreSQL for more, see docs/web.md", 2)  # fmt: skip
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise fail("--ssl-certfile and --ssl-keyfile go together", 2)
    with transaction(engine) as session:  # the secrets exist before any worker starts, so all share them
        read_setting(session, "cookie_key")
        read_setting(session, "pseudonym_key")
        accounts = read_users(session)
    engine.dispose()
    scheme = "https" if ssl_certfile else "http"
    typer.echo(f"serving {redact_url(url)} at {scheme}://{host}:{port}/ ({workers} worker(s)); Ctrl-C stops")
    if not accounts:
        typer.echo("no accounts yet: add one with `tkitrack user add NAME --role data_manager` (or admin)", err=True)
    os.environ["TKITRACK_DB"] = url
    if secure_cookies:
        os.environ["TKITRACK_SECURE_COOKIES"] = "1"
    uvicorn.run(
        "tkitrack.dashboards.web.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None, ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        proxy_headers=proxy is not None, forwarded_allow_ips=proxy, server_header=False, log_level="info",
    )  # fmt: skip
