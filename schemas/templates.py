"""The import template: one CSV/XLSX file per record type, its data dictionary, and reading such files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.outputs import check_outputs, write_csv, write_xlsx
from tkitrack.schemas.readers import read_csv_cells, read_workbook

__all__ = ["TEMPLATE_SUFFIXES", "data_dictionary", "is_template_folder", "read_template", "write_template"]

TEMPLATE_SUFFIXES = (".csv", ".xlsx")
#: Files (and sheets) a template folder may hold besides the records: read by people, not imported.
_IGNORED = frozenset({"data_dictionary", "expected_listing", "queries"})


def data_dictionary() -> pd.DataFrame:
    """One row per template column: record, column, type, label, allowed values or range, unit, required."""
    from tkitrack.schemas.export import data_dictionary as _dictionary

    return _dictionary({record: input_columns(record) for record in RECORD_MODELS})


def write_template(folder: str | Path, *, fmt: str = "csv", force: bool = False) -> list[Path]:
    """Write an empty template (header row only) per record type plus ``data_dictionary.csv``.

    Files that exist already are refused, all of them named and nothing written, unless ``force``.
    """
    out = Path(folder)
    paths = [out / f"{record}.{fmt}" for record in RECORD_MODELS] + [out / "data_dictionary.csv"]
    check_outputs(paths, force=force)
    for record, path in zip(RECORD_MODELS, paths, strict=False):
        empty = pd.DataFrame(columns=input_columns(record))
        if fmt == "xlsx":
            write_xlsx({record: empty}, path, force=force)
        else:
            write_csv(empty, path, force=force)
    write_csv(data_dictionary(), paths[-1], force=force)
    return paths


def _workbook_records(path: Path) -> list[tuple[str, str, pd.DataFrame]]:
    """(record, source, frame) of each sheet of a workbook that holds records.

    A workbook with one sheet holds the record its sheet or, failing that, its file is named after; in a
    workbook with several sheets every sheet is named after a record type (sheets named after the files tkitrack
    ignores are skipped). Any other sheet is refused by name: a misnamed sheet would otherwise be left out.
    """
    sheets = read_workbook(path)
    if len(sheets) == 1:
        ((sheet, frame),) = sheets.items()
        name = sheet.strip().lower()
        if name in RECORD_MODELS and path.stem in RECORD_MODELS and name != path.stem:
            raise InputError(f"{path}: the file is named {path.stem} but its sheet {sheet!r} names {name}; "
                             "name both after the same record type")  # fmt: skip
        record = name if name in RECORD_MODELS else path.stem
        if record in RECORD_MODELS:
            return [(record, str(path), frame)]
    found, unknown = [], []
    for sheet, frame in sheets.items():
        name = sheet.strip().lower()
        if name in RECORD_MODELS:
            found.append((name, f"{path}!{sheet}", frame))
        elif name not in _IGNORED:
            unknown.append(repr(sheet))
    if unknown:
        raise InputError(f"{path}: sheet(s) {', '.join(unknown)} are not record types; name each sheet after one of "
                         f"{', '.join(RECORD_MODELS)}, or remove it (nothing was read)")  # fmt: skip
    return found


def _read_one(path: Path) -> pd.DataFrame:
    frame = read_csv_cells(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def is_template_folder(path: Path) -> bool:
    """True when the folder holds at least one ``<record>.csv|.xlsx`` file or any workbook."""
    return any((path / f"{r}{s}").exists() for r in RECORD_MODELS for s in TEMPLATE_SUFFIXES) or any(
        p.suffix.lower() == ".xlsx" for p in path.iterdir()
    )


def read_template(path: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read template files: a folder of ``<record>.csv|.xlsx`` files and workbooks, or one such file.

    A workbook may hold several record types, one sheet each (see :func:`_workbook_records`). Returns (text
    frames by record type, file by record type: ``folder/site.xlsx!ae`` for a sheet). Unknown file or sheet
    names are an InputError naming them (a misnamed file would otherwise be silently left out), and so is a
    record type given twice (two files, or a file and a sheet).
    """
    src = Path(path)
    if not src.exists():
        raise InputError(f"{src} does not exist; give a folder of template files or one <record>.csv file")
    files = [src] if src.is_file() else sorted(p for p in src.iterdir() if p.suffix.lower() in TEMPLATE_SUFFIXES)
    unknown = [p.name for p in files if p.suffix.lower() == ".csv" and p.stem not in RECORD_MODELS
               and p.stem not in _IGNORED]  # fmt: skip
    if src.is_file() and src.suffix.lower() not in TEMPLATE_SUFFIXES:
        unknown.append(src.name)
    if unknown:
        raise InputError(
            f"{src}: file(s) {', '.join(unknown)} are not record types; name files after one of "
            f"{', '.join(RECORD_MODELS)} (run `tkitrack template DIR` for the template)"
        )
    raws, sources = {}, {}
    for p in files:
        if p.suffix.lower() == ".xlsx":
            if p.stem in _IGNORED:
                continue
            parts = _workbook_records(p)
        else:
            parts = [] if p.stem in _IGNORED else [(p.stem, str(p), _read_one(p))]
        for record, source, frame in parts:
            if record in raws:
                raise InputError(f"{src}: two sources for {record} ({sources[record]} and {source}); keep one")
            frame.columns = [str(c).strip() for c in frame.columns]
            raws[record], sources[record] = frame, source
    if not raws:
        raise InputError(f"{src}: no template files found (expected e.g. patient.csv, exposure.csv)")
    return raws, sources
