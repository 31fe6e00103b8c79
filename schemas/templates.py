"""The import template: one CSV/XLSX file per record type, its data dictionary, and reading such files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS

__all__ = ["TEMPLATE_SUFFIXES", "data_dictionary", "is_template_folder", "read_template", "write_template"]

TEMPLATE_SUFFIXES = (".csv", ".xlsx")


def data_dictionary() -> pd.DataFrame:
    """One row per template column: record, column, type, label, allowed values or range, unit, required."""
    from tkitrack.schemas.export import data_dictionary as _dictionary

    return _dictionary({record: input_columns(record) for record in RECORD_MODELS})


def write_template(folder: str | Path, *, fmt: str = "csv") -> list[Path]:
    """Write an empty template (header row only) per record type plus ``data_dictionary.csv``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for record in RECORD_MODELS:
        empty = pd.DataFrame(columns=input_columns(record))
        path = out / f"{record}.{fmt}"
        if fmt == "xlsx":
            empty.to_excel(path, index=False, sheet_name=record)
        else:
            empty.to_csv(path, index=False)
        written.append(path)
    path = out / "data_dictionary.csv"
    data_dictionary().to_csv(path, index=False)
    return [*written, path]


def _read_one(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".xlsx":
            frame = pd.read_excel(path, dtype=str, keep_default_na=False)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
        raise InputError(
            f"{path}: cannot read it ({type(err).__name__}: {err}); save it as UTF-8 CSV or XLSX"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def is_template_folder(path: Path) -> bool:
    """True when the folder holds at least one ``<record>.csv|.xlsx`` file."""
    return any((path / f"{r}{s}").exists() for r in RECORD_MODELS for s in TEMPLATE_SUFFIXES)


def read_template(path: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read template files: a folder of ``<record>.csv|.xlsx`` or one such file.

    Returns (text frames by record type, file name by record type). Unknown file names in a folder are an
    InputError naming them (a misnamed file would otherwise be silently left out).
    """
    src = Path(path)
    if not src.exists():
        raise InputError(f"{src} does not exist; give a folder of template files or one <record>.csv file")
    files = [src] if src.is_file() else sorted(p for p in src.iterdir() if p.suffix.lower() in TEMPLATE_SUFFIXES)
    raws, sources = {}, {}
    ignored = {"data_dictionary", "expected_listing", "queries"}
    unknown = [p.name for p in files if p.stem not in RECORD_MODELS and p.stem not in ignored]
    if unknown:
        raise InputError(
            f"{src}: file(s) {', '.join(unknown)} are not record types; name files after one of "
            f"{', '.join(RECORD_MODELS)} (run `tkitrack template DIR` for the template)"
        )
    for p in files:
        if p.stem in RECORD_MODELS:
            if p.stem in raws:
                raise InputError(f"{src}: two files for {p.stem} ({sources[p.stem]} and {p.name}); keep one")
            raws[p.stem] = _read_one(p)
            sources[p.stem] = str(p)
    if not raws:
        raise InputError(f"{src}: no template files found (expected e.g. patient.csv, exposure.csv)")
    return raws, sources
