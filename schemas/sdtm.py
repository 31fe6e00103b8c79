"""SDTM in and out: read a folder of SDTM datasets, map them to records (sdtm_records), records back (sdtm_out)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.readers import read_csv_cells
from tkitrack.schemas.sdtm_out import records_to_sdtm
from tkitrack.schemas.sdtm_records import sdtm_to_records

__all__ = ["SDTM_DOMAINS", "read_sdtm", "read_sdtm_records", "records_to_sdtm", "sdtm_to_records"]

#: Domains tkitrack maps (both ways); others found in a folder are returned as read, SUPP-- as SUPP + RDOMAIN.
SDTM_DOMAINS = ("DM", "DS", "EX", "AE", "RS", "TU", "TR", "SS", "VS", "CE", "GF", "MI", "PR")
_SUFFIXES = {".csv", ".xpt", ".json", ".parquet"}


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text: missing -> "", whole numbers without ".0" (SAS transport stores numbers as doubles)."""
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_numeric_dtype(col):
            num = col.astype("float64")
            whole = num.notna() & (num % 1 == 0)
            shown = num.astype("string").where(~whole, num.round().astype("Int64").astype("string"))
            out[str(name).upper()] = shown.fillna("").astype(str)
        else:
            out[str(name).upper()] = col.astype("object").where(col.notna(), "").astype(str).str.strip()
    return pd.DataFrame(out, index=frame.index)


def _read_one(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".xpt":
            import pyreadstat

            frame, _ = pyreadstat.read_xport(str(path))
            return _as_text(frame)
        if path.suffix.lower() == ".json":
            from tkitrack.schemas.cdisc_files import read_dataset_json

            return _as_text(read_dataset_json(path))
        if path.suffix.lower() == ".parquet":
            return _as_text(pd.read_parquet(path))
        return _as_text(read_csv_cells(path))
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(f"{path}: cannot be read as {path.suffix.lstrip('.').upper()} ({err}); "
                         "export it again as CSV (UTF-8) or SAS transport v5 (.xpt)") from None  # fmt: skip
    except Exception as err:  # pyreadstat raises its own ReadstatError for damaged transport files
        if type(err).__module__.startswith("pyreadstat"):
            raise InputError(f"{path}: not a readable SAS transport file ({err}); export it again") from None
        raise


def _domain(path: Path, frame: pd.DataFrame) -> str:
    if "DOMAIN" in frame.columns:
        found = frame["DOMAIN"].replace("", np.nan).dropna().str.upper().unique()
        if len(found) > 1:
            raise InputError(f"{path}: DOMAIN holds several domains ({', '.join(found)}); one domain per file")
        if len(found):
            return str(found[0])
    return re.split(r"[_\-. ]", path.stem.upper(), maxsplit=1)[0]


def read_sdtm(path: str | Path) -> dict[str, pd.DataFrame]:
    """Read a folder of SDTM datasets (CSV or SAS transport ``.xpt``), every value as text.

    Parameters
    ----------
    path : str or Path
        A folder (every ``*.csv``, ``*.xpt``, ``*.json``, ``*.parquet`` in it) or a single file.

    Returns
    -------
    dict
        Domain code (``DM``, ``DS``, ``EX``, ``AE``, ``RS``, ``TU``, ``TR``, and any other domain found) ->
        frame with upper-case column names and text cells (missing values as ``""``). ``frame.attrs["files"]``
        names the files read, ``frame.attrs["dropped"]`` counts rows left out per file (see Notes),
        ``frame.attrs["kept"]`` the rows kept per file (in the frame's row order) and ``paths`` their paths.

    Notes
    -----
    The domain is the file's DOMAIN column, else the file name up to the first ``_`` (``rs_onco_recist.csv``
    -> RS); supplemental qualifiers (files with RDOMAIN) are ``SUPP`` + RDOMAIN (``SUPPAE``). Dataset-JSON
    (``.json``) and Parquet files are read too (``manifest.json`` is not a dataset). When several files hold one
    domain they are combined, and each subject's rows come from one file only: the most specific one, i.e.
    the longest file name (``rs_onco_recist`` before ``rs_onco``; ties alphabetically). Such files are
    alternative versions of the domain (their --SEQ numbers overlap), and mixing two of a subject's series
    would build a timeline that neither file holds. Subjects found only in another file are kept.

    Raises
    ------
    InputError
        The folder does not exist or holds no dataset, a file cannot be read, or it has no USUBJID.
    """
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root} does not exist; give the folder holding the SDTM .csv or .xpt files")
    files = [root] if root.is_file() else sorted(p for p in root.iterdir() if p.suffix.lower() in _SUFFIXES)
    if not files:
        raise InputError(f"{root} holds no SDTM dataset (*.csv or *.xpt)")
    parts: dict[str, list[tuple[Path, pd.DataFrame]]] = {}
    for file in files:
        if file.name == "manifest.json":
            continue
        frame = _read_one(file)
        if "USUBJID" not in frame.columns:
            raise InputError(f"{file}: no USUBJID column; every SDTM domain (but trial design) is keyed by USUBJID")
        domain = _domain(file, frame)
        if "RDOMAIN" in frame.columns:  # supplemental qualifiers: SUPP + the parent domain
            parents = frame["RDOMAIN"].replace("", np.nan).dropna().str.upper().unique()
            domain = f"SUPP{parents[0]}" if len(parents) == 1 else re.split(r"[_\-. ]", file.stem.upper())[0]
        parts.setdefault(domain, []).append((file, frame))
    out = {}
    for domain, found in parts.items():
        found.sort(key=lambda item: (-len(item[0].stem), item[0].name))
        kept, seen, dropped, counts = [], set(), {}, {}
        for file, frame in found:
            mine = ~frame["USUBJID"].isin(seen)
            dropped[file.name] = int((~mine).sum())
            counts[file.name] = int(mine.sum())
            kept.append(frame[mine])
            seen |= set(frame["USUBJID"])
        combined = pd.concat(kept, ignore_index=True).fillna("") if len(kept) > 1 else kept[0].reset_index(drop=True)
        combined.attrs = {"files": [f.name for f, _ in found], "dropped": dropped, "kept": counts,
                          "paths": [str(f) for f, _ in found]}  # fmt: skip
        out[domain] = combined
    return out


def read_sdtm_records(
    path: str | Path, *, evaluators: tuple[str, ...] = ("INVESTIGATOR",), domains: dict | None = None
) -> dict[str, pd.DataFrame]:
    """Read an SDTM folder and map it to template text frames, ready for ``add_records``.

    A folder written by ``tkitrack export --sdtm`` (its ``manifest.json`` says so) is read exactly: SUPP--
    qualifiers as they are, investigator and independent reads both, nothing inferred (see
    :func:`~tkitrack.schemas.sdtm_records.sdtm_to_records`), so that its import gives the exported records back.
    Otherwise ``evaluators`` are the RS/TR evaluators imported (``INVESTIGATOR``, ``INDEPENDENT``). ``domains``:
    when given (a dict), it receives the domains as read, for the reconciliation of the import.
    """
    import json

    root = Path(path)
    manifest = root / "manifest.json" if root.is_dir() else root.parent / "manifest.json"
    exact = False
    if manifest.exists():
        try:
            info = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"{manifest}: not a readable manifest ({err}); export the datasets again") from None
        exact = info.get("source") == "tkitrack" and str(info.get("standard", "")).startswith("SDTM")
    read = read_sdtm(root)
    if domains is not None:
        domains.update(read)
    if exact:
        return sdtm_to_records(read, evaluators=("INVESTIGATOR", "INDEPENDENT"), exact=True)
    return sdtm_to_records(read, evaluators=evaluators)
