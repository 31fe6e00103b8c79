"""Export of records as CSV or Parquet with a data dictionary and a manifest (optionally de-identified), and back."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from tkitrack.schemas.deidentify import date_columns, deidentify_text
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import column_dtypes, input_columns
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.outputs import check_outputs, write_bytes, write_csv, write_text, write_xlsx
from tkitrack.schemas.readers import read_csv_cells, read_workbook
from tkitrack.schemas.vocabulary import vocabulary

__all__ = [
    "DICTIONARY_COLUMNS",
    "EXPORT_FORMATS",
    "MANIFEST",
    "data_dictionary",
    "read_export",
    "record_text",
    "write_export",
]

MANIFEST = "manifest.json"
EXPORT_FORMATS = ("csv", "xlsx", "parquet")
DICTIONARY_COLUMNS = ["record", "column", "type", "label", "allowed", "unit", "required"]
_UNIT = re.compile(r"\((years|cm|kg|mm|%|mut/Mb)\)")
_KINDS = {"string": "text", "Int64": "integer", "float64": "number", "boolean": "boolean"}


def _text(series: pd.Series) -> pd.Series:
    """Cells as export text: booleans true/false, numbers in their shortest exact form, missing as ""."""
    if pd.api.types.is_bool_dtype(series) or str(series.dtype) == "boolean":
        return series.astype("boolean").map({True: "true", False: "false"}).astype("object").fillna("")
    return series.astype("string").fillna("").astype(str)


def record_text(record: str, frame: pd.DataFrame) -> pd.DataFrame:
    """A typed record frame as its template text frame: template columns, dates as the partial text given."""
    out = {}
    dates = set(date_columns(record))
    for column in input_columns(record):
        source = frame[f"{column}_dtc"] if column in dates else frame[column]
        out[column] = _text(source).to_numpy()
    return pd.DataFrame(out, columns=input_columns(record))


def _column_kind(record: str, column: str) -> tuple[str, str | None]:
    """(type shown in the dictionary, model field) of an exported column."""
    if column == "anchor":
        return "text", None
    for suffix, kind in (("_day", "integer (days from anchor)"), ("_dtf", "text (D day imputed, M month and day)")):
        if column.endswith(suffix) and column[: -len(suffix)] in date_columns(record):
            return kind, f"{column[: -len(suffix)]}_dtc"
    if column in date_columns(record):
        return "date (ISO 8601, partial allowed: YYYY, YYYY-MM, YYYY-MM-DD)", f"{column}_dtc"
    return _KINDS[column_dtypes(record)[column]], column


def data_dictionary(columns: Mapping[str, Iterable[str]], *, deidentified: bool = False) -> pd.DataFrame:
    """One row per exported column: record, column, type, label, allowed values or range, unit, required.

    Built from the table models' FieldInfo (labels, vocabularies, ranges), so it cannot drift from them.
    """
    rows = []
    for record, names in columns.items():
        model = RECORD_MODELS[record]
        for column in names:
            kind, field = _column_kind(record, column)
            info = field_info(model, field) if field else None
            label = info.label if info else "Which date is day 0: diagnosis_date or first_record_date"
            if column == "patient_id" and deidentified:
                label = "Pseudonym of the patient (HMAC-SHA256 of the study id; see manifest.json)"
            if column.endswith("_day"):
                label = f"{info.label}: days from the patient's anchor (day 0)"
            elif column.endswith("_dtf"):
                label = f"{info.label}: imputation flag"
            allowed = []
            if info and info.vocab and not column.endswith(("_day", "_dtf")):
                voc = vocabulary(info.vocab)
                allowed.append(" | ".join(voc.values) if len(voc.values) <= 30 else f"see {voc.source}")
            if info:
                bounds = [(">=", info.ge), (">", info.gt), ("<=", info.le)]
                allowed += [f"{op} {value:g}" for op, value in bounds if value is not None]
            found = _UNIT.search(info.label) if info else None
            unit = "days" if column.endswith("_day") else (found.group(1) if found else "")
            required = bool(info and info.required and not column.endswith(("_day", "_dtf")))
            rows.append([record, column, kind, label, "; ".join(allowed), unit, "yes" if required else ""])
    return pd.DataFrame(rows, columns=DICTIONARY_COLUMNS)


def _parquet_frame(record: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Export text frame -> typed columns for Parquet (numbers, booleans typed; dates stay partial text)."""
    out = {}
    for column in frame.columns:
        kind, _ = _column_kind(record, column)
        cells = frame[column].mask(frame[column] == "")
        if kind.startswith("integer"):
            out[column] = pd.to_numeric(cells).astype("Int64")
        elif kind == "number":
            out[column] = pd.to_numeric(cells).astype("float64")
        elif kind == "boolean":
            out[column] = cells.map({"true": True, "false": False}).astype("boolean")
        else:
            out[column] = cells.astype("string")
    return pd.DataFrame(out, index=frame.index)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_export(
    frames: Mapping[str, pd.DataFrame],
    folder: str | Path,
    *,
    fmt: str = "csv",
    deidentify: bool = False,
    secret: str | bytes | None = None,
    date_mode: str = "days",
    keep_text: Iterable[str] = (),
    force: bool = False,
) -> list[Path]:
    """Write every record type as ``<record>.csv`` (or ``.parquet``), ``data_dictionary.csv`` and ``manifest.json``.

    Parameters
    ----------
    frames : mapping of str to DataFrame
        Typed record frames (:func:`~tkitrack.schemas.store.read_frames`).
    folder : str or Path
        Created when missing. Files of the same names are refused, all named and nothing written, unless
        ``force`` (then they are replaced; a symlink is replaced, never written through).
    fmt : {"csv", "xlsx", "parquet"}
        CSV (and XLSX, one workbook per record type) holds the template columns as text (dates as the partial
        text given; cells a spreadsheet would run as formulas neutralised, see
        :func:`~tkitrack.schemas.outputs.neutralise_cells`), so that :func:`read_export` and an import give back
        the same records; Parquet holds the same columns typed.
    deidentify : bool
        Drop direct identifiers and free text, pseudonymise patient ids, turn dates into days from an anchor
        or shift them, cap ages (see :func:`~tkitrack.schemas.deidentify.deidentify_text`).
    secret : str or bytes, optional
        Key of the pseudonyms and date shifts; required with ``deidentify``.
    date_mode : {"days", "shift"}
        How a de-identified export shows dates.
    keep_text : iterable of str
        ``record.column`` free-text columns to keep in a de-identified export after review.
    force : bool
        Replace files that exist.

    Returns
    -------
    list of Path
        The files written, data files first, then the dictionary and the manifest.
    """
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"export format '{fmt}' is not known; use {', '.join(EXPORT_FORMATS)}")
    unknown = [r for r in frames if r not in RECORD_MODELS]
    if unknown:
        raise InputError(f"unknown record type(s) {', '.join(unknown)}; expected {', '.join(RECORD_MODELS)}")
    out_dir = Path(folder)
    text = {record: record_text(record, frames[record]) for record in RECORD_MODELS if record in frames}
    check_outputs([out_dir / f"{r}.{fmt}" for r in text] + [out_dir / "data_dictionary.csv", out_dir / MANIFEST],
                  force=force)  # fmt: skip
    description = None
    if deidentify:
        text, description = deidentify_text(text, frames, secret=secret, date_mode=date_mode, keep_text=keep_text)
    written, files = [], {}
    for record, frame in text.items():
        path = out_dir / f"{record}.{fmt}"
        if fmt == "csv":
            write_csv(frame, path, force=force)
        elif fmt == "xlsx":
            write_xlsx({record: frame}, path, force=force)
        else:
            buffer = io.BytesIO()
            _parquet_frame(record, frame).to_parquet(buffer, index=False)
            write_bytes(path, buffer.getvalue(), force=force)
        written.append(path)
        files[path.name] = {"record": record, "rows": len(frame), "sha256": _sha256(path)}
    dictionary = out_dir / "data_dictionary.csv"
    write_csv(data_dictionary({r: list(f.columns) for r, f in text.items()}, deidentified=deidentify), dictionary,
              force=force)  # fmt: skip
    written.append(dictionary)
    manifest = {
        "tkitrack_version": _version(),
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "format": fmt,
        "records": {r: len(f) for r, f in text.items()},
        "files": files,
        "deidentified": bool(deidentify),
        "deidentification": description,
    }
    path = out_dir / MANIFEST
    write_text(path, json.dumps(manifest, indent=2) + "\n", force=force)
    written.append(path)
    return written


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tkitrack")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "unknown"


def read_export(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read an export folder back as template text frames (the input of ``add_records``).

    Raises
    ------
    InputError
        The folder holds no export, a file is unreadable, or the export is de-identified with dates as days
        (those cannot become dates again; export with ``date_mode="shift"`` to re-import de-identified data).
    """
    root = Path(folder)
    manifest = root / MANIFEST
    info = {}
    if manifest.exists():
        try:
            info = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"{manifest}: not a readable manifest ({err}); export the records again") from None
    described = info.get("deidentification") or {}
    if info.get("deidentified") and described.get("date_mode") == "days":
        raise InputError(f"{root} is a de-identified export with dates as days from an anchor; it cannot be "
                         "imported as records. Import the identified export, or export with date_mode='shift'")  # fmt: skip
    out = {}
    for record in RECORD_MODELS:
        for suffix in (".csv", ".xlsx", ".parquet"):
            path = root / f"{record}{suffix}"
            if not path.exists():
                continue
            if suffix == ".csv":
                frame = read_csv_cells(path)
            elif suffix == ".xlsx":
                sheets = read_workbook(path)
                frame = next(iter(sheets.values())) if sheets else pd.DataFrame(columns=input_columns(record))
            else:
                try:
                    frame = pd.read_parquet(path)
                except Exception as err:  # pyarrow raises its own errors for damaged files
                    raise InputError(
                        f"{path}: cannot be read ({type(err).__name__}); export the records again"
                    ) from None
                frame = pd.DataFrame({c: _text(frame[c]).to_numpy() for c in frame.columns})
            out[record] = frame
    if not out:
        raise InputError(f"{root} holds no exported records (patient.csv, exposure.csv, ... or .parquet)")
    return out
