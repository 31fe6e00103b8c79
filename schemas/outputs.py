"""Writing output files safely: no silent overwrite, no write through a symlink, spreadsheet formulas neutralised.

Every file tkitrack writes (templates, exports, listings, ADaM datasets, figures, reports) goes through
:func:`open_output`: the content is written to a new temporary file beside the target and then moved into place,
so a failed write leaves nothing half-written; an existing file is replaced only with ``force`` (the command
line's ``--force``), and a symbolic link at the target is replaced itself, never followed. CSV and XLSX cells
that a spreadsheet would run as a formula are neutralised as OWASP recommends (see :func:`neutralise_cells`),
and :mod:`tkitrack.schemas.readers` restores them on import. The rules are in docs/input-rules.md.
"""

from __future__ import annotations

import csv
import io
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pandas as pd

from tkitrack.schemas.errors import InputError

__all__ = [
    "FORMULA_START",
    "check_outputs",
    "neutralise_cells",
    "open_output",
    "write_bytes",
    "write_csv",
    "write_text",
    "write_xlsx",
]

#: A cell starting with one of these is run as a formula by spreadsheets (OWASP "CSV injection").
FORMULA_START = "=+-@\t\r"
#: Cells neutralised on export: optional apostrophes, then a formula character (the apostrophes make it reversible).
_TRIGGER = r"^'*[=+\-@\t\r]"
#: A plain decimal number (sign, decimals, exponent): left as it is, so "-5" stays the number -5.
_PLAIN_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


def neutralise_cells(values: pd.Series) -> pd.Series:
    """Cells as text, those a spreadsheet would run as a formula prefixed with an apostrophe (OWASP).

    A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return, possibly after apostrophes, gets one
    more apostrophe in front: ``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``, ``'=x`` -> ``''=x``. A cell that is a
    plain number (``-5``, ``+1.5e3``) is left as it is: spreadsheets read it as the number, and a re-import gets
    the number back. :func:`tkitrack.schemas.readers.restore_cells` removes exactly one apostrophe again, so
    every value round-trips. Missing values stay missing.

    >>> neutralise_cells(pd.Series(["=1+1", "-5", "-5+cmd", "'@x", "plain"])).tolist()
    ["'=1+1", '-5', "'-5+cmd", "''@x", 'plain']
    """
    text = values.astype("string")
    risky = text.str.match(_TRIGGER).fillna(False) & ~text.str.fullmatch(_PLAIN_NUMBER).fillna(False)
    if not risky.any():
        return text
    return text.mask(risky.astype(bool), "'" + text)


def check_outputs(paths: Iterable[str | Path], *, force: bool = False) -> None:
    """Raise InputError naming every path that exists (unless ``force``) or is a folder, before anything is written.

    Commands that write several files call this first, so a refusal leaves the folder exactly as it was.
    """
    existing, folders = [], []
    for path in map(Path, paths):
        if path.is_dir() and not path.is_symlink():
            folders.append(str(path))
        elif os.path.lexists(path) and not force:
            existing.append(str(path))
    if folders:
        raise InputError(f"{', '.join(folders)}: a folder is in the way of a file to write; choose another name")
    if existing:
        shown = ", ".join(existing[:10]) + (f" and {len(existing) - 10} more" if len(existing) > 10 else "")
        raise InputError(f"{shown} already exist(s); nothing was written. Pass --force to replace, or choose "
                         "another output")  # fmt: skip


def _publish(tmp: Path, path: Path, force: bool) -> None:
    """Move the finished temporary file to ``path``: replacing (force) or only where nothing is (atomically)."""
    if force:
        os.replace(tmp, path)  # a symlink at path is replaced itself, never followed
        return
    try:
        os.link(tmp, path, follow_symlinks=False)  # fails when anything, a dangling symlink included, is there
    except FileExistsError:
        raise InputError(f"{path} already exists; nothing was written. Pass --force to replace it, or choose "
                         "another name") from None  # fmt: skip
    except OSError:  # a file system without hard links: check, then move
        if os.path.lexists(path):
            raise InputError(f"{path} already exists; nothing was written. Pass --force to replace it") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


@contextmanager
def open_output(
    path: str | Path, *, force: bool = False, binary: bool = False, encoding: str = "utf-8", newline: str | None = ""
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing safely: ``with open_output(path, force=...) as fh: fh.write(...)``.

    The content goes to a new temporary file in the same folder (created for the user with the usual permissions,
    never through a symlink) and is moved to ``path`` when the block ends without error; on an error the
    temporary file is removed and ``path`` is untouched. Without ``force`` an existing ``path`` (file or
    symlink) is an InputError; with ``force`` it is replaced, a symlink by a regular file (its target is never
    written). Parent folders are created.
    """
    path = Path(path)
    check_outputs([path], force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)  # the umask applies, as for any new file
    try:
        handle = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline=newline)
        with handle:
            yield handle
        _publish(tmp, path, force)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write text (UTF-8) to ``path`` through :func:`open_output`; returns the path."""
    with open_output(path, force=force) as fh:
        fh.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes, *, force: bool = False) -> Path:
    """Write bytes to ``path`` through :func:`open_output`; returns the path."""
    with open_output(path, force=force, binary=True) as fh:
        fh.write(data)
    return Path(path)


def _text_columns(frame: pd.DataFrame) -> list:
    return [c for c, col in frame.items() if pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)]


def _safe_frame(frame: pd.DataFrame, date_format: str | None) -> pd.DataFrame:
    """The frame with every text cell neutralised (numbers, booleans and dates cannot hold a formula)."""
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col) and date_format:
            out[name] = col.dt.strftime(date_format)
        elif pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col):
            out[name] = neutralise_cells(col)
        else:
            out[name] = col
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def write_csv(
    frame: pd.DataFrame, target: str | Path | IO[str], *, force: bool = False, date_format: str | None = "%Y-%m-%d"
) -> None:
    """Write a frame as CSV (UTF-8, header, no index, ``\\n`` line ends), formula cells neutralised.

    ``target`` is a path (written through :func:`open_output`, so ``force`` decides over an existing file) or
    an open text stream such as ``sys.stdout``. This is the one CSV writer of tkitrack: exports, ADaM datasets,
    listings and ``--format csv`` tables all use it.
    """
    safe = _safe_frame(frame, date_format)
    # Python's csv writer quotes a field holding "\n" but not one holding a bare "\r", which a reader takes for a
    # line end: a file with such a cell (rare: old Mac line ends in a note) gets every field quoted instead
    bare_cr = any(safe[c].astype("string").str.contains("\r", regex=False).any() for c in _text_columns(safe))
    options = {"index": False, "lineterminator": "\n", "date_format": date_format,
               "quoting": csv.QUOTE_ALL if bare_cr else csv.QUOTE_MINIMAL}  # fmt: skip
    if hasattr(target, "write"):
        safe.to_csv(target, **options)
        return
    with open_output(target, force=force) as fh:
        safe.to_csv(fh, **options)


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: str | Path, *, force: bool = False) -> Path:
    """Write frames as the sheets of one workbook (sheet name -> frame), every cell as text, formulas neutralised.

    Text cells are written as strings, so nothing becomes a formula; cells a spreadsheet would run are also
    prefixed with an apostrophe (:func:`neutralise_cells`), so a CSV and an XLSX export hold the same text.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    for name, frame in sheets.items():
        sheet = book.create_sheet(title=str(name)[:31])
        sheet.append([str(c) for c in frame.columns])
        text = {c: neutralise_cells(frame[c]).astype(object).where(frame[c].notna(), None) for c in frame.columns}
        for values in zip(*(text[c].to_numpy() for c in frame.columns), strict=True):
            row = []
            for value in values:
                cell = WriteOnlyCell(sheet, value=value)
                if value is not None:
                    cell.data_type = "s"
                row.append(cell)
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return write_bytes(path, buffer.getvalue(), force=force)
