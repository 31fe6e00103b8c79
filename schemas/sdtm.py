"""SDTM in and out: read a folder of SDTM datasets, map them to records, and records back to SDTM shapes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.frames import column_dtypes
from tkitrack.schemas.sdtm_records import AE_ACTIONS, AE_OUTCOMES_SDTM, AE_RELATIONS, ROUTES_SDTM, sdtm_to_records
from tkitrack.schemas.sdtm_tumour import CRITERIA_SDTM

__all__ = ["SDTM_DOMAINS", "read_sdtm", "records_to_sdtm", "sdtm_to_records"]

#: Domains tkitrack maps; others found in a folder are returned as read, SUPP-- datasets are skipped.
SDTM_DOMAINS = ("DM", "DS", "EX", "AE", "RS", "TU", "TR")
_SUFFIXES = {".csv", ".xpt"}


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
        return _as_text(pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
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
        A folder (every ``*.csv`` / ``*.xpt`` in it) or a single file.

    Returns
    -------
    dict
        Domain code (``DM``, ``DS``, ``EX``, ``AE``, ``RS``, ``TU``, ``TR``, and any other domain found) ->
        frame with upper-case column names and text cells (missing values as ``""``). ``frame.attrs["files"]``
        names the files read and ``frame.attrs["dropped"]`` counts rows left out per file (see Notes).

    Notes
    -----
    The domain is the file's DOMAIN column, else the file name up to the first ``_`` (``rs_onco_recist.csv``
    -> RS). Supplemental qualifiers (``supp*`` files, RDOMAIN) are skipped. When several files hold one
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
    files = [p for p in files if not p.name.lower().startswith("supp")]
    if not files:
        raise InputError(f"{root} holds no SDTM dataset (*.csv or *.xpt)")
    parts: dict[str, list[tuple[Path, pd.DataFrame]]] = {}
    for file in files:
        frame = _read_one(file)
        if "RDOMAIN" in frame.columns:
            continue
        if "USUBJID" not in frame.columns:
            raise InputError(f"{file}: no USUBJID column; every SDTM domain (but trial design) is keyed by USUBJID")
        parts.setdefault(_domain(file, frame), []).append((file, frame))
    out = {}
    for domain, found in parts.items():
        found.sort(key=lambda item: (-len(item[0].stem), item[0].name))
        kept, seen, dropped = [], set(), {}
        for file, frame in found:
            mine = ~frame["USUBJID"].isin(seen)
            dropped[file.name] = int((~mine).sum())
            kept.append(frame[mine])
            seen |= set(frame["USUBJID"])
        combined = pd.concat(kept, ignore_index=True).fillna("") if len(kept) > 1 else kept[0].reset_index(drop=True)
        combined.attrs = {"files": [f.name for f, _ in found], "dropped": dropped}
        out[domain] = combined
    return out


def _first_by_date(frame: pd.DataFrame, column: str, dates: pd.Series, last: bool = False) -> pd.Series:
    order = frame.assign(_d=dates).sort_values("_d", kind="stable", na_position="first" if last else "last")
    picked = order.dropna(subset=["_d"]).groupby("patient_id")[column]
    return picked.last() if last else picked.first()


def _seq(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    frame.insert(3, f"{prefix}SEQ", frame.groupby("USUBJID").cumcount() + 1)
    return frame


def _head(frame: pd.DataFrame, study: str, domain: str) -> dict:
    return {"STUDYID": study, "DOMAIN": domain, "USUBJID": frame["patient_id"].astype(str).to_numpy()}


def _txt(series: pd.Series) -> np.ndarray:
    return series.astype("object").where(series.notna(), "").astype(str).to_numpy()


def _invert(table: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        out.setdefault(value, key)
    return out


def records_to_sdtm(frames: Mapping[str, pd.DataFrame], *, study: str = "TKITRACK") -> dict[str, pd.DataFrame]:
    """SDTM-shaped DM, DS, EX, AE, RS and TR from typed record frames (:func:`~tkitrack.schemas.store.read_frames`).

    Parameters
    ----------
    frames : mapping of str to DataFrame
        Typed frames: ``patient`` required; ``exposure``, ``ae``, ``assessment``, ``followup`` used when given.
    study : str
        STUDYID of every row.

    Returns
    -------
    dict
        ``DM`` (USUBJID, RFSTDTC = RFXSTDTC = first exposure start, else the reference date; RFXENDTC; RFPENDTC
        = last follow-up contact or death; DTHDTC, DTHFL, SITEID, BRTHDTC, SEX), ``DS`` (RANDOMIZED rows
        where the reference date is set, DEATH rows), ``EX``, ``AE``, ``RS`` (OVRLRESP, TRGRESP, NTRGRESP,
        NEWLPROG with RSEVAL ``INVESTIGATOR`` / ``INDEPENDENT ASSESSOR``) and ``TR`` (SUMDIAM). Dates are the
        partial ISO 8601 text as given; first and last dates are chosen on the imputed dates.
    """
    if "patient" not in frames:
        raise InputError("records_to_sdtm needs the patient frame; read it with read_frames(session)")
    pt, ex, ae, a, fu = (_typed(frames, r) for r in ("patient", "exposure", "ae", "assessment", "followup"))
    first_dose = _first_by_date(ex, "start_dtc", ex["start"])
    last_dose = _first_by_date(ex, "end_dtc", ex["end"], last=True)
    deaths = _first_by_date(fu, "death_date_dtc", fu["death_date"])
    contacts = pd.concat([fu[["patient_id", "date_dtc", "date"]],
                          fu[["patient_id", "death_date_dtc", "death_date"]].set_axis(["patient_id", "date_dtc", "date"],
                                                                                      axis=1)])  # fmt: skip
    last_contact = _first_by_date(contacts, "date_dtc", contacts["date"], last=True)
    ids = pt["patient_id"]
    rfst = ids.map(first_dose).fillna(pt["reference_date_dtc"])
    dth = ids.map(deaths)
    dead = dth.notna() | ids.isin(fu.loc[fu["vital_status"] == "dead", "patient_id"])
    dm = pd.DataFrame({**_head(pt, study, "DM"), "SUBJID": _txt(ids), "RFSTDTC": _txt(rfst),
                       "RFXSTDTC": _txt(ids.map(first_dose)), "RFXENDTC": _txt(ids.map(last_dose)),
                       "RFPENDTC": _txt(ids.map(last_contact)), "DTHDTC": _txt(dth),
                       "DTHFL": np.where(dead, "Y", ""), "SITEID": _txt(pt["site"]),
                       "BRTHDTC": _txt(pt["birth_date_dtc"]), "SEX": _txt(pt["sex"])})  # fmt: skip
    rand = pt[pt["reference_date_dtc"].notna()]
    died = fu[fu["death_date_dtc"].notna()].drop_duplicates("patient_id")
    ds = pd.concat([
        pd.DataFrame({**_head(rand, study, "DS"), "DSTERM": "RANDOMIZED", "DSDECOD": "RANDOMIZED",
                      "DSCAT": "PROTOCOL MILESTONE", "DSSTDTC": _txt(rand["reference_date_dtc"])}),
        pd.DataFrame({**_head(died, study, "DS"), "DSTERM": np.where(_txt(died["death_cause"]) != "",
                                                                     _txt(died["death_cause"]), "DEATH"),
                      "DSDECOD": "DEATH", "DSCAT": "DISPOSITION EVENT", "DSSTDTC": _txt(died["death_date_dtc"])}),
    ], ignore_index=True).sort_values("USUBJID", kind="stable").reset_index(drop=True)  # fmt: skip
    rs, tr = _rs_tr(a, study)
    return {"DM": dm, "DS": _seq(ds, "DS"), "EX": _seq(_ex(ex, study), "EX"), "AE": _seq(_ae(ae, study), "AE"),
            "RS": rs, "TR": tr}  # fmt: skip


def _typed(frames: Mapping[str, pd.DataFrame], record: str) -> pd.DataFrame:
    """The record's typed frame, or an empty one with its columns when it was not given."""
    if record in frames:
        return frames[record]
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in column_dtypes(record).items()})


def _ex(ex: pd.DataFrame, study: str) -> pd.DataFrame:
    ex = ex.sort_values(["patient_id", "start"], kind="stable")
    return pd.DataFrame({**_head(ex, study, "EX"), "EXTRT": np.char.upper(_txt(ex["drug"]).astype(str)),
                         "EXDOSE": ex["dose"].to_numpy(), "EXDOSU": _txt(ex["unit"]),
                         "EXDOSFRM": np.char.upper(_txt(ex["formulation"]).astype(str)),
                         "EXDOSFRQ": _txt(ex["frequency"]), "EXROUTE": _txt(ex["route"].replace(_invert(ROUTES_SDTM))),
                         "EXSTDTC": _txt(ex["start_dtc"]), "EXENDTC": _txt(ex["end_dtc"])})  # fmt: skip


def _ae(ae: pd.DataFrame, study: str) -> pd.DataFrame:
    ae = ae.sort_values(["patient_id", "start"], kind="stable")
    grade = ae["grade"].astype("Int64").astype("string")
    return pd.DataFrame({**_head(ae, study, "AE"), "AETERM": _txt(ae["term"]), "AEDECOD": _txt(ae["term"]),
                         "AETOXGR": _txt(grade), "AESER": np.where(ae["serious"].fillna(False), "Y", "N"),
                         "AEREL": _txt(ae["attribution"].map(_invert(AE_RELATIONS))),
                         "AEACN": _txt(ae["action"].map(_invert(AE_ACTIONS))),
                         "AEOUT": _txt(ae["outcome"].map(_invert(AE_OUTCOMES_SDTM))),
                         "AESDTH": np.where(ae["outcome"].eq("fatal").fillna(False), "Y", "N"),
                         "AESTDTC": _txt(ae["start_dtc"]), "AEENDTC": _txt(ae["end_dtc"])})  # fmt: skip


_RS_TESTS = {"OVRLRESP": ("response", "Overall Response"), "TRGRESP": ("target_response", "Target Response"),
             "NTRGRESP": ("nontarget_response", "Non-target Response"),
             "NEWLPROG": ("new_lesion", "New Lesion Progression")}  # fmt: skip


def _rs_tr(a: pd.DataFrame, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    a = a.sort_values(["patient_id", "date"], kind="stable")
    evaluator = a["evaluator"].map({"INVESTIGATOR": "INVESTIGATOR", "INDEPENDENT": "INDEPENDENT ASSESSOR"})
    criteria = a["criteria"].map(_invert(CRITERIA_SDTM))
    parts = []
    for code, (column, label) in _RS_TESTS.items():
        values = a[column]
        if code == "NEWLPROG":
            values = values.astype("boolean").map({True: "Y", False: "N"}, na_action="ignore")
        sub = a[values.notna()]
        parts.append(pd.DataFrame({**_head(sub, study, "RS"), "RSTESTCD": code, "RSTEST": label,
                                   "RSCAT": _txt(criteria[values.notna()]), "RSORRES": _txt(values[values.notna()]),
                                   "RSSTRESC": _txt(values[values.notna()]), "RSEVAL": _txt(evaluator[values.notna()]),
                                   "RSDTC": _txt(sub["date_dtc"]), "_order": np.flatnonzero(values.notna())}))  # fmt: skip
    rs = pd.concat(parts, ignore_index=True).sort_values(["_order"], kind="stable").drop(columns="_order")
    measured = a[a["sum_diameters"].notna()]
    tr = pd.DataFrame({**_head(measured, study, "TR"), "TRGRPID": "TARGET", "TRTESTCD": "SUMDIAM",
                       "TRTEST": "Sum of Diameter", "TRSTRESC": _txt(measured["sum_diameters"]),
                       "TRSTRESN": measured["sum_diameters"].to_numpy(), "TRSTRESU": "mm",
                       "TREVAL": _txt(evaluator[measured.index]), "TRDTC": _txt(measured["date_dtc"])})  # fmt: skip
    return _seq(rs.reset_index(drop=True), "RS"), _seq(tr, "TR")
