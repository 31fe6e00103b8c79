"""Reading CSV and XLSX files strictly, every cell as text: ragged rows, formulas without a value and errors refused.

A CSV row must have exactly as many fields as its header (a longer or shorter row is refused with the file and
line, never shifted or padded); a workbook is read sheet by sheet as Excel users write it (date cells are
dates, formula cells give their cached value, and a formula without one is refused with its cell address).
Cells that :mod:`tkitrack.schemas.outputs` neutralised on export get their value back (:func:`restore_cells`).
The rules are in docs/input-rules.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd

from tkitrack.schemas.errors import InputError, shorten

__all__ = ["read_csv_cells", "read_workbook", "restore_cells"]

#: An apostrophe that neutralised a formula character on export (one is removed on import).
_NEUTRALISED = r"^'(?='*[=+\-@\t\r])"
#: How many problems of one kind a message lists before it says "and N more".
_SHOWN = 10
#: Values Excel stores in a cell whose formula failed.
_EXCEL_ERRORS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
                           "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"})  # fmt: skip


def restore_cells(values: pd.Series) -> pd.Series:
    """Undo :func:`tkitrack.schemas.outputs.neutralise_cells`: one leading apostrophe before a formula character
    (``'=x`` -> ``=x``, ``''=x`` -> ``'=x``) is removed, as a spreadsheet hides it; other cells are unchanged."""
    text = values.astype("string")
    marked = text.str.startswith("'").fillna(False).astype(bool)
    if not marked.any():
        return values
    return values.mask(marked, text.str.replace(_NEUTRALISED, "", n=1, regex=True))


def _listed(items: list[str]) -> str:
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return "; ".join(items[:_SHOWN]) + more


def _header(names: list[str], where: str) -> list[str]:
    header = [str(c).strip() for c in names]
    seen, twice = set(), []
    for name in header:
        if name and name in seen:
            twice.append(name)
        seen.add(name)
    if twice:
        raise InputError(f"{where}: column(s) {', '.join(map(shorten, twice))} appear twice in the header; keep one")
    return header


def _frame(header: list[str], rows: list[list], where: str, cell_of) -> pd.DataFrame:
    """Rows under a header as a text frame; a column without a name must be empty (its first value is named)."""
    frame = pd.DataFrame(rows, columns=range(len(header)), dtype=object) if rows else None
    keep = []
    for i, name in enumerate(header):
        if name:
            keep.append(i)
            continue
        if frame is not None:
            filled = frame[i].astype("string").str.strip().fillna("") != ""
            if filled.any():
                first = int(filled.to_numpy().argmax())
                raise InputError(f"{cell_of(first, i)}: a value ({shorten(frame.iat[first, i], 40)!r}) in a column "
                                 f"without a header in {where}; name the column or remove the value")  # fmt: skip
    if frame is None:
        return pd.DataFrame({header[i]: pd.Series(dtype=object) for i in keep})
    out = frame[keep].set_axis([header[i] for i in keep], axis=1)
    return out.apply(restore_cells)


def read_csv_cells(path: str | Path) -> pd.DataFrame:
    """Read a CSV file (UTF-8, with or without BOM) as text cells: the first line is the header, blank lines
    are skipped, and every other row must have exactly one field per header column.

    Raises
    ------
    InputError
        Naming the file and line: not UTF-8 (with the byte offset), a broken quote, a row longer or shorter than
        the header (a comma inside a value needs quotes), a header naming a column twice, or a value in a
        column without a header.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read it ({err.strerror or err})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line} is not UTF-8 (byte {err.start}); save the file as UTF-8 CSV") from None
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))  # a long cell is FLD008's, named by field
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = [row for row in reader if row]
    except csv.Error as err:
        raise InputError(f"{path}: line {reader.line_num}: {err}; check the quotes of that line") from None
    if not rows:
        raise InputError(f"{path}: the file is empty; it needs a header row (run `tkitrack template DIR`)")
    header = _header(rows[0], str(path))
    width = len(header)
    if any(len(row) != width for row in rows):
        raise InputError(f"{path}: {_ragged(text, width)}; the header has {width} fields, and every row must have "
                         "one field per column (put a value holding a comma in double quotes)")  # fmt: skip
    return _frame(header, rows[1:], str(path), lambda row, col: f"{path} line {_line_of(text, row + 1)}")


def _ragged(text: str, width: int) -> str:
    """The lines whose field count differs from the header's (read again, on this error path only)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    bad = [f"line {reader.line_num} has {len(row)} field(s)" for row in reader if row and len(row) != width]
    return _listed(bad)


def _line_of(text: str, record: int) -> int:
    """The line on which the ``record``-th non-blank record (0 = header) ends."""
    reader = csv.reader(io.StringIO(text, newline=""))
    seen = -1
    for row in reader:
        seen += bool(row)
        if seen == record:
            return reader.line_num
    return reader.line_num


def _cell_text(value: object) -> str:
    """An Excel cell value as text: dates as ISO 8601 (a time only when there is one), whole numbers without .0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(timespec="seconds" if value.second or value.microsecond else "minutes")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def read_workbook(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read every sheet of an XLSX workbook as text cells: sheet name -> frame (empty sheets left out).

    The first non-empty row of a sheet is its header. Date cells become ISO 8601 dates (``2004-05-07``, or
    ``2004-05-07T10:30`` when the cell has a time), numbers lose a ``.0`` that Excel adds, and formula cells give
    the value Excel last computed.

    Raises
    ------
    InputError
        The file is not a readable workbook, or cells cannot be trusted: a formula without a computed value
        (the workbook was written by a program that does not calculate; open and save it in Excel), an Excel
        error value such as ``#DIV/0!``, or a value in a column without a header; each named by its address
        (``exposure.xlsx!F7``, with the sheet when the workbook has several: ``registry.xlsx!exposure!F7``).
    """
    from openpyxl import load_workbook

    path = Path(path)
    try:
        values = load_workbook(path, read_only=True, data_only=True)
        formulas = load_workbook(path, read_only=True, data_only=False)
    except Exception as err:  # openpyxl raises zipfile, KeyError and its own errors for files it cannot read
        raise InputError(f"{path}: not a readable XLSX workbook ({type(err).__name__}: {shorten(err, 120)}); "
                         "save it from Excel as .xlsx, or as UTF-8 CSV") from None  # fmt: skip
    try:
        several = len(values.sheetnames) > 1
        out = {}
        for name in values.sheetnames:
            where = f"{path.name}!{name}" if several else path.name
            frame = _read_sheet(values[name], formulas[name], where)
            if frame is not None:
                out[name] = frame
        return out
    finally:
        values.close()
        formulas.close()


def _read_sheet(sheet, formula_sheet, where: str) -> pd.DataFrame | None:
    rows, lines, problems, header = [], [], [], None
    sheet.reset_dimensions()  # some writers store wrong dimensions; read every row there is
    formula_sheet.reset_dimensions()
    for number, (cells, raw) in enumerate(zip(sheet.iter_rows(min_row=1), formula_sheet.iter_rows(min_row=1),
                                              strict=False), start=1):  # fmt: skip
        texts = []
        for cell, source in zip(cells, raw, strict=False):
            value = getattr(cell, "value", None)
            if value is None and getattr(source, "data_type", None) == "f":
                problems.append(f"{where}!{source.coordinate} holds a formula without a computed value")
            elif getattr(cell, "data_type", None) == "e" or (isinstance(value, str) and value in _EXCEL_ERRORS):
                problems.append(f"{where}!{cell.coordinate} holds the Excel error {value}")
            texts.append(_cell_text(value))
        if not any(t.strip() for t in texts):
            continue
        line = next((c.row for c in cells if getattr(c, "row", None)), number)
        if header is None:
            header = texts
            continue
        rows.append(texts)
        lines.append(line)
    if problems:
        raise InputError(f"{_listed(problems)}; nothing was read. Open the workbook in Excel and save it (so that "
                         "every formula has its value), or type the values")  # fmt: skip
    if header is None:
        return None
    width = max([len(header), *map(len, rows)])
    header = _header(header + [""] * (width - len(header)), where)
    rows = [r + [""] * (width - len(r)) for r in rows]

    def cell_of(row: int, col: int) -> str:
        from openpyxl.utils import get_column_letter

        return f"{where}!{get_column_letter(col + 1)}{lines[row]}"

    return _frame(header, rows, where, cell_of)
