"""SDTM in: supplemental qualifiers (SUPP--) put back beside their parent rows, follow-ups from SS, sizes from VS."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from tkitrack.schemas.distinct import per_distinct_text
from tkitrack.schemas.sdtm_tumour import text

__all__ = ["followups_from_ss", "sizes_from_vs", "supp_values"]


def supp_values(
    sdtm: Mapping[str, pd.DataFrame], domain: str, parent: pd.DataFrame, names: list[str], idvar: str | None = None
) -> pd.DataFrame:
    """The SUPP-- values ``names`` (QNAMs) of each parent row, aligned with ``parent`` (empty text when none).

    Text split over several QNAMs (``NOTE``, ``NOTE1``, ``NOTE2``, ...) is joined back in order. ``idvar`` is
    the parent variable the qualifiers point to (``AESEQ``, ``RSLNKGRP``); without it they belong to the
    subject (SUPPDM).
    """
    out = pd.DataFrame({name: "" for name in names}, index=parent.index)
    supp = sdtm.get(f"SUPP{domain}")
    if supp is None or not len(parent) or not {"USUBJID", "QNAM", "QVAL"} <= set(supp.columns):
        return out
    rows = supp
    if idvar is not None:
        if "IDVAR" not in supp.columns or idvar not in parent.columns:
            return out
        rows = supp[text(supp["IDVAR"]).str.upper() == idvar]
    qnam = per_distinct_text(text(rows["QNAM"]), lambda q: q.str.upper())
    for name in names:  # a few qualifier names, each matched for all rows at once
        pattern = rf"^{name}(\d*)$"
        piece = per_distinct_text(qnam, lambda q, pattern=pattern: q.str.extract(pattern)[0])
        hit = rows[piece.notna()].assign(_k=pd.to_numeric(piece[piece.notna()].replace("", "0")))
        if hit.empty:
            continue
        hit = hit.assign(_s=text(hit["USUBJID"]), _v=text(hit["QVAL"]),
                         _i=_seq_text(hit["IDVARVAL"]) if idvar else "")  # fmt: skip
        key = ["_s", "_i"] if idvar else ["_s"]
        split = hit.duplicated(key, keep=False)  # only text over 200 bytes comes in several pieces: join those
        pieces = hit[split].sort_values("_k", kind="stable").groupby(key, sort=False)["_v"].agg("".join)
        joined = pd.concat([hit[~split].set_index(key)["_v"], pieces])
        mine = [text(parent["USUBJID"])] + ([_seq_text(parent[idvar])] if idvar else [])
        index = pd.MultiIndex.from_arrays(mine) if idvar else mine[0]
        found = joined.reindex(index) if idvar else joined.reindex(index.to_numpy())
        out[name] = pd.Series(found.to_numpy(), index=parent.index).fillna("").astype(str)
    return out


def _seq_text(values: pd.Series) -> pd.Series:
    """--SEQ / IDVARVAL as text without a trailing ``.0`` (a number read from a file as float)."""
    return per_distinct_text(text(values), lambda v: v.str.replace(r"\.0$", "", regex=True))


def sizes_from_vs(vs: pd.DataFrame | None, ids: pd.Series) -> dict[str, pd.Series]:
    """Patient height (cm) and weight (kg) with their dates: the first HEIGHT and WEIGHT row of each subject."""
    out = {c: pd.Series("", index=ids.index) for c in ("height_cm", "height_date", "weight_kg", "weight_date")}
    if vs is None or not {"USUBJID", "VSTESTCD"} <= set(vs.columns):
        return out
    code = text(vs["VSTESTCD"]).str.upper()
    value = text(vs["VSSTRESN"]) if "VSSTRESN" in vs.columns else text(vs.get("VSORRES", pd.Series("", vs.index)))
    when = text(vs["VSDTC"]).str.split("T").str[0] if "VSDTC" in vs.columns else pd.Series("", vs.index)
    for test, column in (("HEIGHT", "height"), ("WEIGHT", "weight")):
        rows = pd.DataFrame({"id": text(vs["USUBJID"]), "v": value, "d": when})[code == test].drop_duplicates("id")
        unit = "cm" if test == "HEIGHT" else "kg"
        out[f"{column}_{unit}"] = ids.map(rows.set_index("id")["v"]).fillna("")
        out[f"{column}_date"] = ids.map(rows.set_index("id")["d"]).fillna("")
    return out


def followups_from_ss(sdtm: Mapping[str, pd.DataFrame], dm: pd.DataFrame, exact: bool) -> pd.DataFrame:
    """One follow-up per SS SURVSTAT row: date, vital status, and from SUPPSS the disease status, cause of death,
    note and constructed dates; a DEAD row gets the subject's DM.DTHDTC as death date."""
    ss = sdtm["SS"]
    ss = ss[text(ss["SSTESTCD"]).str.upper() == "SURVSTAT"] if "SSTESTCD" in ss.columns else ss
    status = text(ss["SSSTRESC"] if "SSSTRESC" in ss.columns else ss["SSORRES"]).str.lower()
    death = text(dm["DTHDTC"]).str.split("T").str[0] if "DTHDTC" in dm.columns else pd.Series("", dm.index)
    deaths = pd.Series(death.to_numpy(), index=text(dm["USUBJID"]).to_numpy())
    supp = supp_values(sdtm, "SS", ss, ["DISSTAT", "DTHCAUS", "NOTE", "CONSTDT"], idvar="SSSEQ")
    pid = text(ss["USUBJID"])
    dead = status == "dead"
    note = supp["NOTE"] if exact else supp["NOTE"].mask(supp["NOTE"] == "", "survival status from SDTM SS")
    return pd.DataFrame({
        "patient_id": pid, "date": text(ss["SSDTC"]).str.split("T").str[0], "vital_status": status,
        "disease_status": supp["DISSTAT"], "death_date": pid.map(deaths).fillna("").where(dead, ""),
        "death_cause": supp["DTHCAUS"].where(dead, ""), "note": note, "constructed_dates": supp["CONSTDT"],
    })  # fmt: skip
