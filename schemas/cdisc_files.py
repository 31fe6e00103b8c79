"""SDTM and ADaM datasets to disk: SAS transport v5, Dataset-JSON v1.1, CSV or Parquet, with a manifest and a
Define-XML 2.1 describing them; and Dataset-JSON read back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from tkitrack.schemas.cdisc_meta import column_metadata, dataset_info, order_columns
from tkitrack.schemas.csv_out import write_csv
from tkitrack.schemas.errors import InputError

__all__ = [
    "FORMATS",
    "check_xpt",
    "read_dataset_json",
    "typed_columns",
    "write_dataset",
    "write_datasets",
]

FORMATS = ("xpt", "json", "csv", "parquet")
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
_SUFFIX = {"xpt": ".xpt", "json": ".json", "csv": ".csv", "parquet": ".parquet"}


def typed_columns(name: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frame with each column in its declared type, its column metadata), columns in the declared order.

    text: str with missing as ""; integer: nullable Int64; float: float64; date (ADaM): datetime64 at midnight;
    iso8601 (SDTM --DTC): the ISO text as given.
    """
    frame = order_columns(name, frame)
    meta = column_metadata(name, frame)
    out = {}
    for column, kind in zip(meta["variable"], meta["type"], strict=True):
        values = frame[column]
        blank = values.astype("string").str.strip().eq("").fillna(False).to_numpy()  # "" is missing, not 0
        if kind == "integer":
            out[column] = pd.to_numeric(values.mask(blank), errors="coerce").round().astype("Int64")
        elif kind == "float":
            out[column] = pd.to_numeric(values.mask(blank), errors="coerce").astype("float64")
        elif kind == "date":
            out[column] = pd.to_datetime(values, errors="coerce").dt.normalize().astype("datetime64[ns]")
        else:
            out[column] = values.astype("object").where(values.notna(), "").astype(str)
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True), meta


def _lengths(frame: pd.DataFrame, meta: pd.DataFrame) -> dict[str, int]:
    """Bytes of the longest value of each text column (at least 1), digits of each integer column."""
    out = {}
    for column, kind in zip(meta["variable"], meta["type"], strict=True):
        if kind in ("text", "iso8601"):
            sizes = frame[column].map(lambda v: len(v.encode("utf-8")))
            out[column] = max(1, int(sizes.max()) if len(sizes) else 1)
        elif kind == "integer":
            shown = frame[column].dropna().astype("int64").astype(str)
            out[column] = max(1, int(shown.str.len().max()) if len(shown) else 1)
        else:
            out[column] = 8
    return out


def check_xpt(name: str, frame: pd.DataFrame, meta: pd.DataFrame) -> list[str]:
    """Every reason SAS transport v5 cannot hold this dataset: a dataset or variable name that is not 1-8
    upper-case ASCII letters, digits or _, a label over 40 characters or not ASCII, a character value over
    200 bytes (each problem names the dataset, variable, row and value)."""
    problems = []
    if not _NAME.match(name):
        problems.append(f"dataset {name!r}: a transport dataset name is 1-8 upper-case letters, digits or _")
    label = dataset_info(name).label
    if len(label) > 40 or not label.isascii():
        problems.append(f"dataset {name}: label {label!r} is over 40 characters or not ASCII")
    for column, text, kind in zip(meta["variable"], meta["label"], meta["type"], strict=True):
        if not _NAME.match(column):
            problems.append(f"{name}.{column}: a transport variable name is 1-8 upper-case letters, digits or _")
        if len(text) > 40 or not text.isascii():
            problems.append(f"{name}.{column}: label {text!r} is over 40 characters or not ASCII")
        if kind in ("text", "iso8601"):
            sizes = frame[column].map(lambda v: len(v.encode("utf-8")))
            for row in np.flatnonzero(sizes.to_numpy() > 200)[:3]:
                value = frame[column].iloc[row]
                problems.append(f"{name}.{column} row {row + 1}: value {value[:60]!r}... is {sizes.iloc[row]} bytes; "
                                "a transport character value holds at most 200 bytes")  # fmt: skip
    return problems


def _xpt(name: str, frame: pd.DataFrame, meta: pd.DataFrame, path: Path) -> None:
    import pyreadstat

    problems = check_xpt(name, frame, meta)
    if problems:
        raise InputError(f"{name} cannot be written as SAS transport v5 ({len(problems)} problem(s)): "
                         + "; ".join(problems[:10]) + ". Write it as --format json, csv or parquet, or shorten the "
                         "values (SDTM splits long text into SUPP--)")  # fmt: skip
    out = frame.copy()
    formats = {}
    for column, kind in zip(meta["variable"], meta["type"], strict=True):
        if kind == "date":  # a SAS date: days since 1960-01-01, a double with format DATE9.
            out[column] = ((out[column] - pd.Timestamp("1960-01-01")).dt.days).astype("float64")
            formats[column] = "DATE9."
        elif kind in ("integer", "float"):
            out[column] = out[column].astype("float64")
    pyreadstat.write_xport(out, str(path), file_label=dataset_info(name).label, table_name=name,
                           column_labels=dict(zip(meta["variable"], meta["label"], strict=True)),
                           file_format_version=5, variable_format=formats)  # fmt: skip


def _json_type(kind: str) -> dict:
    return {
        "text": {"dataType": "string"},
        "integer": {"dataType": "integer"},
        "float": {"dataType": "double"},
        "date": {"dataType": "date", "targetDataType": "integer", "displayFormat": "DATE9."},
        "iso8601": {"dataType": "date"},
    }[kind]


def _json(name: str, frame: pd.DataFrame, meta: pd.DataFrame, path: Path, study: str, created: str) -> None:
    info = dataset_info(name)
    lengths = _lengths(frame, meta)
    keys = {k: n for n, k in enumerate(info.keys, 1)}
    columns = []
    for column, label, kind in zip(meta["variable"], meta["label"], meta["type"], strict=True):
        spec = {"itemOID": f"IT.{name}.{column}", "name": column, "label": label, **_json_type(kind)}
        if kind in ("text", "iso8601"):
            spec["length"] = lengths[column]
        if column in keys:
            spec["keySequence"] = keys[column]
        columns.append(spec)
    cells = {}
    for column, kind in zip(meta["variable"], meta["type"], strict=True):
        values = frame[column]
        if kind == "date":
            cells[column] = [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in values]
        elif kind == "integer":
            cells[column] = [None if pd.isna(v) else int(v) for v in values]
        elif kind == "float":
            cells[column] = [None if pd.isna(v) else float(v) for v in values]
        else:
            cells[column] = values.tolist()
    rows = [list(r) for r in zip(*cells.values(), strict=True)] if cells else []
    document = {
        "datasetJSONCreationDateTime": created, "datasetJSONVersion": "1.1.0",
        "fileOID": f"tkitrack/{study}/{name}", "originator": "tkitrack",
        "sourceSystem": {"name": "tkitrack", "version": _version()}, "studyOID": study,
        "metaDataVersionOID": f"MDV.{study}", "metaDataRef": "define.xml", "itemGroupOID": f"IG.{name}",
        "records": len(frame), "name": name, "label": info.label, "columns": columns, "rows": rows,
    }  # fmt: skip
    path.write_text(json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8")


def read_dataset_json(path: str | Path) -> pd.DataFrame:
    """A Dataset-JSON v1.1 file as a frame (column names from ``columns``, values as stored)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        names = [c["name"] for c in document["columns"]]
        return pd.DataFrame(document.get("rows", []), columns=names)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: not a Dataset-JSON v1.1 file ({err}); export it again") from None


def _parquet(name: str, frame: pd.DataFrame, meta: pd.DataFrame, path: Path) -> None:
    """Typed columns with their labels in the field metadata; a date32 beside each date's ISO text:
    SDTM ``--DTC`` text gets ``--DT`` (complete dates only), an ADaM date ``ADT`` gets the text ``ADTC``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, fields = [], []

    def add(column: str, array: pa.Array, label: str, extra: dict | None = None) -> None:
        arrays.append(array)
        fields.append(pa.field(column, array.type, metadata={"label": label, **(extra or {})}))

    for column, label, kind in zip(meta["variable"], meta["label"], meta["type"], strict=True):
        values = frame[column]
        if kind == "date":
            add(column, pa.array(values.dt.date.where(values.notna(), None), type=pa.date32()), label)
            text = values.dt.strftime("%Y-%m-%d").where(values.notna(), None)
            add(f"{column}C", pa.array(text, type=pa.string()), f"{label} (ISO 8601)"[:40], {"iso8601_of": column})
        elif kind == "iso8601":
            add(column, pa.array(values, type=pa.string()), label)
            day = pd.to_datetime(values.where(values.str.len() == 10), format="%Y-%m-%d", errors="coerce")
            typed = column[:-1] if column.endswith("DTC") else f"{column}_DATE"
            add(typed, pa.array(day.dt.date.where(day.notna(), None), type=pa.date32()),
                f"{label} (complete date)"[:40], {"date_of": column})  # fmt: skip
        elif kind == "integer":
            add(column, pa.array(values, type=pa.int64(), from_pandas=True), label)
        elif kind == "float":
            add(column, pa.array(values, type=pa.float64(), from_pandas=True), label)
        else:
            add(column, pa.array(values, type=pa.string()), label)
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata={"label": dataset_info(name).label}))
    pq.write_table(table, path)


def write_dataset(name: str, frame: pd.DataFrame, folder: Path, fmt: str, *, study: str, created: str) -> Path:
    """Write one dataset as ``<name lower case>.<fmt>``; returns its path."""
    typed, meta = typed_columns(name, frame)
    path = folder / f"{name.lower()}{_SUFFIX[fmt]}"
    if fmt == "xpt":
        _xpt(name, typed, meta, path)
    elif fmt == "json":
        _json(name, typed, meta, path, study, created)
    elif fmt == "parquet":
        _parquet(name, typed, meta, path)
    else:
        write_csv(typed, path)
    return path


def write_datasets(
    datasets: Mapping[str, pd.DataFrame], folder: str | Path, *, fmt: str = "xpt", study: str, standard: str
) -> list[Path]:
    """Write SDTM or ADaM datasets, ``define.xml`` and ``manifest.json`` into ``folder``.

    Parameters
    ----------
    datasets : mapping of str to DataFrame
        Dataset name (``DM``, ``SUPPAE``, ``ADSL``, ...) -> frame.
    folder : str or Path
        Created when missing; files of the same names are replaced.
    fmt : {"xpt", "json", "csv", "parquet"}
        SAS transport v5 (every dataset checked first: nothing is written when one cannot be), Dataset-JSON
        v1.1, CSV, or Parquet with typed dates and labels.
    study : str
        STUDYID, named in the manifest, the Dataset-JSON files and the Define-XML.
    standard : {"SDTM", "ADaM"}

    Returns
    -------
    list of Path
        The dataset files in the order given, then ``define.xml`` and ``manifest.json``.
    """
    from tkitrack.schemas.define_xml import write_define

    if fmt not in FORMATS:
        raise InputError(f"format {fmt!r} is not known; use one of {', '.join(FORMATS)}")
    if fmt == "xpt":  # check everything before writing anything
        problems = [p for name, frame in datasets.items() for p in check_xpt(name, *typed_columns(name, frame))]
        if problems:
            raise InputError(f"cannot write SAS transport v5 ({len(problems)} problem(s)): " + "; ".join(problems[:10])
                             + ". Use --format json, csv or parquet, or shorten the values")  # fmt: skip
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    written, files = [], {}
    for name, frame in datasets.items():
        path = write_dataset(name, frame, out_dir, fmt, study=study, created=created)
        written.append(path)
        files[path.name] = {
            "dataset": name,
            "rows": len(frame),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
    written.append(write_define(datasets, out_dir / "define.xml", study=study, standard=standard, fmt=fmt))
    standards = {"SDTM": "SDTMIG 3.4", "ADaM": "ADaMIG 1.3"}
    manifest = {"source": "tkitrack", "tkitrack_version": _version(), "created_utc": created + "Z",
                "standard": standards.get(standard, standard), "study": study, "format": fmt, "files": files}  # fmt: skip
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    written.append(path)
    return written


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tkitrack")
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "unknown"
