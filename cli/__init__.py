"""tkitrack command line: one typer app composed of one module per command group (light imports only)."""

from __future__ import annotations

import os

import typer

from tkitrack.cli import (
    analysis,
    audit,
    db,
    demo,
    exposure,
    io,
    plots,
    queries,
    sample,
    serve,
    tables,
    timeline,
    users,
    vocab,
)
from tkitrack.cli._common import CONTEXT, EXIT_CODES, command, state
from tkitrack.cli.records import GROUPS, make_record_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="tkitrack",
    help="Track targeted therapy and outcomes in kinase-fusion tumours: log timelines, validate, derive, plot.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"tkitrack {version('tkitrack')}")
        raise typer.Exit()


@app.callback()
def _options(
    db: str | None = typer.Option(None, "--db", envvar="TKITRACK_DB",
                                  help="Database: a SQLite file path or any SQLAlchemy URL [default: ./tkitrack.db]"),
    user: str | None = typer.Option(None, "--user", envvar="TKITRACK_USER",
                                    help="Who is making changes (audit trail) [default: the OS user]"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version"),
) -> None:  # fmt: skip
    """Global options, given before the command."""
    state().db = db
    state().user = user


command(app, "init")(db.init)
for _module in (demo, timeline, io, analysis, plots, serve, tables):
    app.registered_commands += _module.app.registered_commands
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(sample.app, name="sample")
app.add_typer(vocab.app, name="vocab")
app.add_typer(users.app, name="user")
app.add_typer(queries.app, name="queries")
app.add_typer(queries.state_app, name="record")
for _group in GROUPS:
    app.add_typer(exposure.app if _group == "exposure" else make_record_app(_group), name=_group)


def main() -> None:
    """Console-script entry point."""
    # Arrow (the derived-data cache's Parquet) allocates from the C library's heap like pandas and numpy, not from
    # arenas of its own: memory one lets go of the other reuses (a registry's first report peaks 0.1 GiB lower
    # writing its ADaM). Arrow's documented setting, read when pyarrow is loaded; a value the user gives is kept.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
