"""Database commands: `tkitrack init`, `tkitrack db upgrade`, `tkitrack db status`."""

from __future__ import annotations

import typer

from tkitrack.cli._common import command, group, open_db

__all__ = ["app", "init"]

app = group("Create, upgrade and inspect the database schema.")


def _counts(engine) -> dict[str, int]:
    from sqlalchemy import func, select

    from tkitrack.schemas.models import RECORD_MODELS
    from tkitrack.schemas.storage import transaction

    with transaction(engine) as session:
        return {r: session.execute(select(func.count()).select_from(m.__table__)
                                   .where(m.__table__.c.deleted.is_(False))).scalar_one()
                for r, m in RECORD_MODELS.items()}  # fmt: skip


def init() -> None:
    """Create the database (SQLite ./tkitrack.db unless --db / TKITRACK_DB) or bring it to the newest schema."""
    from tkitrack.schemas.storage import redact_url, upgrade

    engine = open_db(create=True)
    before, after = upgrade(engine)
    where = redact_url(str(engine.url))
    if before is None:
        typer.echo(f"created database {where} (schema {after})")
    elif before == after:
        typer.echo(f"database {where} is already at schema {after}")
    else:
        typer.echo(f"upgraded database {where} from schema {before} to {after}")
    counts = _counts(engine)
    typer.echo("records: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


command(app, "upgrade", help="Apply the migrations the database has not had yet.")(init)


@command(app, "status")
def status() -> None:
    """Show the database URL, its schema revision and the number of records of each type."""
    from tkitrack.schemas.storage import current_revision, head_revision, redact_url

    engine = open_db(create=True)
    rev = current_revision(engine)
    typer.echo(f"database: {redact_url(str(engine.url))}")
    typer.echo(f"schema: {rev or 'none (run tkitrack init)'}; newest: {head_revision()}")
    if rev is not None:
        typer.echo("records: " + ", ".join(f"{k} {v}" for k, v in _counts(engine).items()))
