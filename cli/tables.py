"""Publication tables: `tkitrack table NAME` writes Table 1, response, AE, exposure or time-to-event tables."""

from __future__ import annotations

from pathlib import Path

import typer

from tkitrack.cli._common import command, fail, read_records, render

__all__ = ["app"]

app = typer.Typer()
_NAMES = ("table1", "response", "ae", "exposure", "tte", "all")


def _frames(cutoff: str | None = None):
    return read_records(cutoff)


@command(app, "table")
def table(
    name: str = typer.Argument(..., help="table1, response, ae, exposure, tte, or all"),
    output: Path = typer.Option(Path("tables"), "--output", "-o", help="Folder for NAME.html, NAME.csv, NAME.docx"),
    fmt: str = typer.Option("html,csv,docx", "--format", "-f", help="Any of html, csv, docx (comma-separated)"),
    by: str | None = typer.Option(None, "--by", help="(table1) extra columns: histology, index_drug, sex, source"),
    conf_level: float = typer.Option(0.95, "--conf-level", help="(response, tte) confidence level"),
    show: bool = typer.Option(True, "--show/--no-show", help="Also print the table in the terminal"),
) -> None:
    """Write publication tables as HTML, CSV and DOCX, with reader labels, k/n and whole %, exact intervals, and
    footnotes for methods, exclusions and synthetic patients."""
    from tkitrack.dashboards.report import TABLE_FORMATS, write_table
    from tkitrack.dashboards.tables import TABLES, build_table

    if name not in _NAMES:
        raise fail(f"unknown table {name!r}; choose one of {', '.join(_NAMES)}", 2)
    formats = [f.strip().lower() for f in fmt.split(",") if f.strip()]
    bad = [f for f in formats if f not in TABLE_FORMATS]
    if bad or not formats:
        raise fail(f"--format takes html, csv and/or docx (comma-separated), got {fmt!r}", 2)
    if not 0 < conf_level < 1:
        raise fail(f"--conf-level must lie between 0 and 1 (e.g. 0.95), got {conf_level}", 2)
    if by is not None and by not in ("histology", "index_drug", "sex", "source"):
        raise fail(f"--by must be histology, index_drug, sex or source, got {by!r}", 2)
    frames = _frames()
    for key in TABLES if name == "all" else (name,):
        options = {"table1": {"by": by}, "response": {"conf": conf_level}, "tte": {"conf": conf_level}}.get(key, {})
        pub = build_table(key, frames, **options)
        paths = write_table(pub, output, formats)
        if show:
            render(pub.to_frame(), "table", title=pub.title, wide=tuple(pub.to_frame().columns[:2]))
            for note in pub.footnotes:
                typer.echo(f"note: {note}")
        typer.echo(f"wrote {', '.join(str(p) for p in paths)}")
