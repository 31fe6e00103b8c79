"""Publication tables: `tkitrack table NAME` writes Table 1, response, AE, exposure or time-to-event tables."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

import typer
from typer.core import TyperCommand

from tkitrack.cli._common import command, fail, read_records, render

__all__ = ["app"]

app = typer.Typer()
TableName = Literal["table1", "response", "ae", "exposure", "tte", "all"]


class TableFormat(StrEnum):
    """A file format of the publication tables (``--format`` is repeated for several)."""

    html = "html"
    csv = "csv"
    docx = "docx"


class _TableCommand(TyperCommand):
    """Reads the retired ``--format html,csv`` (comma-separated, one release more) as ``-f html -f csv``."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        out, it = [], iter(args)
        for arg in it:
            name, eq, value = arg.partition("=")
            if arg in ("--format", "-f") or (eq and name == "--format"):
                value = value if eq else next(it, "")
                if "," in value:
                    typer.echo("warning: --format html,csv is deprecated and will be removed in the next release; "
                               "repeat the option: --format html --format csv", err=True)  # fmt: skip
                for part in value.split(",") if "," in value else [value]:
                    out += ["--format", part.strip()]
            else:
                out.append(arg)
        return super().parse_args(ctx, out)


def _frames(cutoff: str | None = None):
    return read_records(cutoff)


@command(app, "table", cls=_TableCommand)
def table(
    name: TableName = typer.Argument(..., help="The table (all: every one)"),
    output: Path = typer.Option(Path("tables"), "--output", "-o", help="Folder for NAME.html, NAME.csv, NAME.docx"),
    fmt: list[TableFormat] = typer.Option(
        list(TableFormat), "--format", "-f", help="File format; repeat for several (-f html -f docx)"
    ),
    by: str | None = typer.Option(None, "--by", help="(table1) extra columns: histology, index_drug, sex, source"),
    conf_level: float = typer.Option(0.95, "--conf-level", help="(response, tte) confidence level"),
    show: bool = typer.Option(True, "--show/--no-show", help="Also print the table in the terminal"),
) -> None:
    """Write publication tables as HTML, CSV and DOCX, with reader labels, k/n and whole %, exact intervals, and
    footnotes for methods, exclusions and synthetic patients."""
    from tkitrack.dashboards.report import write_table
    from tkitrack.dashboards.tables import TABLES, build_table

    formats = list(dict.fromkeys(TableFormat(f).value for f in fmt))  # in the order given, once each
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
