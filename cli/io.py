"""Data-manager commands: `template`, `import`, `validate`, `export`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Literal

import typer

from tkitrack.cli._common import (
    ListingFormat,
    command,
    fail,
    force_option,
    open_db,
    publish_head,
    renamed,
    render_listing,
    report_failures,
    retired_option,
    user,
)

__all__ = ["app"]

app = typer.Typer()


def write_listing(listing, output: Path, *, fmt: str = "csv", force: bool = False) -> None:
    """A query listing to a file: JSON (by suffix or --format json) or CSV (the one CSV writer)."""
    from tkitrack.schemas.outputs import write_csv, write_text

    if output.suffix == ".json" or fmt == "json":
        write_text(output, listing.to_json(orient="records", indent=2) + "\n", force=force)
    else:
        write_csv(listing, output, force=force)


def _is_sdtm(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() == ".xpt"
    suffixes = (".csv", ".xpt", ".json", ".parquet")
    names = {p.stem.lower().split("_")[0] for p in path.iterdir() if p.suffix.lower() in suffixes}
    return "dm" in names and not (path / "patient.csv").exists() and not (path / "patient.parquet").exists()


_EVALUATORS = {"INVESTIGATOR": ("INVESTIGATOR",), "INDEPENDENT": ("INDEPENDENT",),
               "ALL": ("INVESTIGATOR", "INDEPENDENT")}  # fmt: skip


def _read_input(path: Path, evaluator: str = "INVESTIGATOR", domains: dict | None = None):
    """(text frames by record, file by record, kind) for a template folder/file or an SDTM folder; ``domains``
    (a dict) receives the SDTM domains as read."""
    from tkitrack.schemas.errors import InputError

    if not path.exists():
        raise InputError(f"{path} does not exist; give a folder of template files, an SDTM folder or one file")
    if _is_sdtm(path):
        from tkitrack.schemas.sdtm import read_sdtm_records

        raws = read_sdtm_records(path, evaluators=_EVALUATORS[evaluator], domains=domains)
        return raws, {r: f"{path} (SDTM, mapped to {r})" for r in raws}, "SDTM"
    if path.is_dir() and (path / "manifest.json").exists():
        from tkitrack.schemas.export import read_export

        raws = read_export(path)
        return raws, {r: str(path / f"{r}.csv") for r in raws}, "tkitrack export"
    from tkitrack.schemas.templates import read_template

    raws, sources = read_template(path)
    return raws, sources, "template"


@command(app, "template")
def template(
    output: Path | None = typer.Option(None, "--output", "-o", help="Folder to write the empty template files into"),
    fmt: Literal["csv", "xlsx"] = typer.Option("csv", "--format", "-f", help="File format"),
    force: bool = force_option(),
    old_folder: Path | None = typer.Argument(None, hidden=True),
    old_xlsx: bool = retired_option("--xlsx", flag=True),
) -> None:
    """Write the import template: one file per record type (header row) and data_dictionary.csv."""
    from tkitrack.schemas.templates import write_template

    folder = renamed(output, old_folder, old="the folder argument", new="-o DIR")
    if renamed(None, old_xlsx, old="--xlsx", new="--format xlsx"):
        fmt = "xlsx"
    if folder is None:
        raise fail("give the folder to write into: tkitrack template -o DIR", 2)
    paths = write_template(folder, fmt=fmt, force=force)
    typer.echo(f"wrote {len(paths)} files to {folder}: " + ", ".join(p.name for p in paths))


@command(app, "import")
def import_(
    path: Path = typer.Argument(..., help="Template folder/file (CSV or XLSX), export folder, or SDTM folder"),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="When the import is refused: write its full query listing here (CSV/JSON)"),
    force: bool = force_option(),
    evaluator: str = typer.Option("INVESTIGATOR", "--evaluator", case_sensitive=False,
                                  help="SDTM RS/TR/TU reads to import: INVESTIGATOR (default), INDEPENDENT or ALL"),
) -> None:  # fmt: skip
    """Import records all-or-nothing: any error rejects the whole import and the database stays as it was.

    A refused import prints its errors first and its warnings summarised by rule; -o writes every query. An
    import prints its reconciliation (per file: rows read, imported, merged, not imported and why) and keeps it,
    with each file's SHA-256, in its audit entry.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tkitrack.schemas.audit import append_entries
    from tkitrack.schemas.errors import ValidationFailed
    from tkitrack.schemas.outputs import check_outputs
    from tkitrack.schemas.reconcile import import_entry, reconcile_sdtm, reconcile_template
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import add_records

    evaluator = evaluator.upper()
    if evaluator not in _EVALUATORS:
        raise fail(f"--evaluator must be one of {', '.join(_EVALUATORS)}, got {evaluator!r}", 2)
    if output is not None:
        check_outputs([output], force=force)
    engine = open_db()
    domains: dict = {}
    raws, sources, kind = _read_input(path, evaluator, domains)
    total = sum(len(f) for f in raws.values())
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    try:
        # a bar from 5,000 rows, on a terminal only: on a pipe or file rich draws nothing but writes an empty line
        # when the bar stops (before rich 15 even when disabled), ahead of the summary
        bar = Progress(*columns, transient=True) if total >= 5000 else None
        if bar is not None and not bar.console.is_terminal:
            bar = None
        with bar if bar is not None else contextlib.nullcontext():
            task = bar.add_task(f"importing {total} rows", total=total) if bar is not None else None
            with transaction(engine) as session:
                counts = add_records(session, raws, user=user(), source=str(path), sources=sources,
                                     progress=None if bar is None else lambda n: bar.advance(task, n))  # fmt: skip
                if kind == "SDTM":
                    exact = _exact_sdtm(path)
                    found = reconcile_sdtm(domains, raws, evaluators=_EVALUATORS["ALL" if exact else evaluator],
                                           exact=exact)  # fmt: skip
                else:
                    found = reconcile_template(raws, sources, counts)
                append_entries(session, [import_entry(found, source=str(path), kind=kind)], user=user())
    except ValidationFailed as err:
        failures = err.failures
        if output is not None and failures is not None:
            write_listing(failures, output, force=force)
            hint = f"every query ({len(failures)}) written to {output}"
        else:
            hint = "the full listing: rerun with -o FILE.csv (or tkitrack validate on the same input)"
        report_failures(failures, hint=hint)
        raise fail(str(err), 1) from None
    typer.echo(f"imported {sum(counts.values())} records from {path} ({kind}): "
               + ", ".join(f"{k} {v}" for k, v in counts.items()))  # fmt: skip
    _print_reconciliation(found)


def _exact_sdtm(path: Path) -> bool:
    """Whether an SDTM folder was written by tkitrack (read exactly; see read_sdtm_records)."""
    import json

    manifest = path / "manifest.json" if path.is_dir() else path.parent / "manifest.json"
    try:
        info = json.loads(manifest.read_text(encoding="utf-8")) if manifest.exists() else {}
    except (OSError, ValueError):
        return False
    return info.get("source") == "tkitrack" and str(info.get("standard", "")).startswith("SDTM")


def _print_reconciliation(found) -> None:
    """Every source row accounted for: one line per file and group, then what was left out, if anything."""
    from tkitrack.cli._common import render

    shown = found.drop(columns=["sha256"]).fillna({"records": ""})
    shown["records"] = shown["records"].map(lambda v: "" if v == "" else str(int(v)))
    render(shown, title="Reconciliation (every source row; files' SHA-256 kept in the audit trail)",
           wide=("reason",))  # fmt: skip
    by = found.groupby("outcome")["rows"].sum()
    read = int(found.drop_duplicates("file")["rows_read"].sum())
    typer.echo(f"{read} source rows read: {int(by.get('imported', 0))} imported (a record each), "
               f"{int(by.get('merged', 0))} merged into records, {int(by.get('not imported', 0))} not imported")  # fmt: skip


@command(app, "validate")
def validate(
    path: Path | None = typer.Argument(None, help="Folder of export/template files; the database when omitted"),
    fmt: ListingFormat = typer.Option(
        "table", "--format", "-f", help="Output format (with -o: json writes JSON, else CSV)"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the listing to this file"),
    previous: Path | None = typer.Option(None, "--previous", help="Earlier listing (CSV/JSON): mark new/open/resolved"),
    force: bool = force_option(),
) -> None:
    """Run every field, frame and edit check; write the query listing. Exit 0 clean, 1 errors, 2 usage error."""
    import pandas as pd

    from tkitrack.schemas.errors import InputError
    from tkitrack.schemas.frames import concat_frames
    from tkitrack.schemas.queries import compare_listings, validate_frames

    if output is not None:
        from tkitrack.schemas.outputs import check_outputs

        check_outputs([output], force=force)
    if path is None:
        from tkitrack.schemas.storage import transaction
        from tkitrack.schemas.store import read_frames

        with transaction(open_db()) as session:
            typed = read_frames(session)
        found = validate_frames(typed)
        where = "the database"
    else:
        from tkitrack.schemas.parse import parse_records

        raws, sources, _ = _read_input(path)
        typed, problems = {}, []
        for record, raw in raws.items():
            frame, bad = parse_records(record, raw, source=sources[record])
            typed[record] = frame.assign(_row=range(1, len(frame) + 1))
            problems.append(bad)
        found = validate_frames(typed, parse_problems=concat_frames(problems))
        where = str(path)
    if previous is not None:
        if previous.suffix == ".json":
            try:
                old = pd.read_json(previous, dtype=False)
            except (OSError, ValueError) as err:
                raise InputError(f"{previous}: cannot read the previous listing ({err})") from None
        else:
            from tkitrack.schemas.readers import read_csv_cells

            old = read_csv_cells(previous)
        found = compare_listings(found, old)
    if output is not None:
        write_listing(found, output, fmt=fmt, force=force)
        typer.echo(f"wrote {len(found)} queries to {output}")
    elif fmt == "table" and not len(found):
        typer.echo(f"{where}: no queries (every field, frame and edit check passed)")
    else:
        render_listing(found, fmt=fmt)
    errors = int((found["severity"] == "error").sum()) if len(found) else 0
    if "status" in found:
        errors = int(((found["severity"] == "error") & (found["status"] != "resolved")).sum())
    warnings = int((found["severity"] == "warning").sum()) if len(found) else 0
    typer.echo(f"{where}: {errors} error(s), {warnings} warning(s)", err=True)
    if errors:
        raise typer.Exit(1)


_DATASET_FORMATS = ("xpt", "json", "csv", "parquet")


@command(app, "export")
def export(
    output: Path | None = typer.Option(None, "--output", "-o", help="Folder to write into"),
    sdtm: bool = typer.Option(False, "--sdtm", help="Write SDTM datasets, define.xml and a manifest instead of the records"),
    fmt: Literal["csv", "xlsx", "parquet", "xpt", "json"] | None = typer.Option(
        None, "--format", "-f", help="File format; records: csv (default), xlsx or parquet; --sdtm: xpt (default), "
                                     "json, csv or parquet", show_default=False),
    study_id: str = typer.Option("TKITRACK", "--study-id", envvar="TKITRACK_STUDY_ID",
                                 help="STUDYID of the SDTM datasets (or set TKITRACK_STUDY_ID)"),
    deidentify: bool = typer.Option(False, "--deidentify", help="Drop identifiers, turn dates into days, cap ages"),
    date_mode: Literal["days", "shift"] = typer.Option("days", "--dates",
                                                       help="With --deidentify: days (from anchor) or shift"),
    secret: str | None = typer.Option(None, "--secret", envvar="TKITRACK_SECRET",
                                      help="Secret for pseudonyms and date shifts (--deidentify; prefer --secret-file)"),
    secret_file: Path | None = typer.Option(None, "--secret-file", help="File whose first line is the secret"),
    keep: list[str] = typer.Option([], "--keep",
                                   help="With --deidentify: keep this free-text column after review (record.column, "
                                        "e.g. molecular.panel); repeat for several"),
    force: bool = force_option(),
    old_folder: Path | None = typer.Argument(None, hidden=True),
) -> None:  # fmt: skip
    """Export every record type (CSV, XLSX or Parquet) with a data dictionary, optionally de-identified; or, with
    --sdtm, SDTMIG 3.4 datasets (SAS transport v5, Dataset-JSON v1.1, CSV or Parquet) with define.xml."""
    from tkitrack.schemas.audit import chain_head
    from tkitrack.schemas.export import EXPORT_FORMATS
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import read_frames

    if sdtm:
        target = renamed(output, old_folder, old="--sdtm DIR", new="--sdtm -o DIR")
    else:
        target = renamed(output, old_folder, old="the folder argument", new="-o DIR")
    if target is None:
        raise fail("give the folder to write into: tkitrack export -o DIR (with --sdtm for SDTM datasets)", 2)
    if sdtm:
        if deidentify:
            raise fail("--deidentify applies to the records export; SDTM is written identified (no MRN, initials)", 2)
        chosen = fmt or "xpt"
        if chosen not in _DATASET_FORMATS:
            raise fail(f"--format must be one of {', '.join(_DATASET_FORMATS)} with --sdtm, got {chosen!r}", 2)
        from tkitrack.schemas.cdisc_files import write_datasets
        from tkitrack.schemas.sdtm import records_to_sdtm

        engine = open_db()
        with transaction(engine) as session:
            frames = read_frames(session)
            head = chain_head(session)
        datasets = records_to_sdtm(frames, study=study_id)
        from tkitrack.schemas.outputs import check_outputs

        check_outputs([target / f"{k.lower()}.{chosen}" for k in datasets]
                      + [target / "define.xml", target / "manifest.json"], force=force)  # fmt: skip
        paths = write_datasets(datasets, target, fmt=chosen, study=study_id, standard="SDTM")
        typer.echo(f"wrote {len(datasets)} SDTM datasets ({chosen}), define.xml and manifest.json to {target}: "
                   + ", ".join(f"{k} {len(v)}" for k, v in datasets.items()))  # fmt: skip
        publish_head(engine, head, f"export --sdtm {target}")
        return
    chosen = fmt or "csv"
    if chosen not in EXPORT_FORMATS:
        raise fail(f"--format must be csv, xlsx or parquet for the records export, got {chosen!r} "
                   "(xpt and json are SDTM/ADaM formats: use --sdtm -o DIR)", 2)  # fmt: skip
    if keep and not deidentify:
        raise fail("--keep names free-text columns to keep in a de-identified export; add --deidentify", 2)
    if secret_file is not None:
        try:
            secret = secret_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError, UnicodeDecodeError) as err:
            raise fail(f"--secret-file {secret_file}: cannot read a secret from it ({err})", 2) from None
    from tkitrack.schemas.export import write_export

    engine = open_db()
    with transaction(engine) as session:
        frames = read_frames(session)
        head = chain_head(session)
    paths = write_export(frames, target, fmt=chosen, deidentify=deidentify, secret=secret, date_mode=date_mode,
                         keep_text=keep, force=force)  # fmt: skip
    typer.echo(f"wrote {len(paths)} files to {target}" + (" (de-identified)" if deidentify else ""))
    publish_head(engine, head, f"export {target}")
