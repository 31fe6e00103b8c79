"""SDTM RS, TR and TU mapped to tkitrack tumour assessments (one per subject, evaluator and date), plus helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import PARTIAL_DATE_PATTERN
from tkitrack.schemas.distinct import text_codes
from tkitrack.schemas.vocabulary import response_allowed, vocabulary

__all__ = [
    "CRITERIA_SDTM",
    "EVALUATORS_SDTM",
    "MODALITIES_SDTM",
    "assessments_from_sdtm",
    "evaluator_status",
    "impute_text",
    "nodal_lesions",
    "text",
]

#: RSEVAL / TREVAL -> tkitrack evaluator.
EVALUATORS_SDTM = {"INVESTIGATOR": "INVESTIGATOR", "INDEPENDENT ASSESSOR": "INDEPENDENT", "INDEPENDENT": "INDEPENDENT"}
#: TRMETHOD / TUMETHOD -> tkitrack modality (other methods leave it empty).
MODALITIES_SDTM = {
    "CT SCAN": "CT", "CT": "CT", "MRI": "MRI", "MRI SCAN": "MRI", "PET-CT": "PET-CT", "PET/CT": "PET-CT",
    "PET-CT SCAN": "PET-CT", "ULTRASOUND": "US", "X-RAY": "XRAY", "XRAY": "XRAY",
    "PHYSICAL EXAMINATION": "CLINICAL", "CLINICAL": "CLINICAL",
}  # fmt: skip
#: RSCAT -> tkitrack criteria.
CRITERIA_SDTM = {
    "RECIST 1.1": "RECIST1.1",
    "RECIST1.1": "RECIST1.1",
    "IRECIST": "iRECIST",
    "PERCIST": "PERCIST",
    "INVESTIGATOR": "INVESTIGATOR",
}
_NEW_LESION = {"Y": "true", "UNEQUIVOCAL": "true", "N": "false"}
_KEY = ["patient_id", "evaluator", "date"]


def text(values: pd.Series | str) -> pd.Series:
    """Cells as stripped text, missing values as empty text."""
    if not isinstance(values, pd.Series):
        return values  # a constant, broadcast by the caller
    found = text_codes(values)
    if found is None:
        return values.astype("object").where(values.notna(), "").astype(str).str.strip()
    codes, distinct = found  # each distinct value stripped once; a missing cell (-1) is the "" appended last
    stripped = np.array([value.strip() for value in distinct] + [""], dtype=object)
    return pd.Series(stripped[codes], index=values.index, name=values.name)


def impute_text(values: pd.Series, rule: str = "first") -> pd.Series:
    """Imputed dates of partial ISO 8601 text (first or last day); anything that is not a date gives NaT."""
    found = text_codes(values) if isinstance(values, pd.Series) else None
    if found is not None:  # each distinct text imputed once; a missing cell (-1) is the "" appended last: NaT
        codes, distinct = found
        dates = _impute(pd.Series(np.append(distinct, ""), dtype=object), rule).to_numpy()
        return pd.Series(dates[codes], index=values.index, name=values.name)
    return _impute(values, rule)


def _impute(values: pd.Series, rule: str) -> pd.Series:
    core = text(values).str.split("T").str[0]
    core = core.where(core.str.match(PARTIAL_DATE_PATTERN))
    length = core.str.len()
    full = pd.to_datetime(core.where(length == 10), format="%Y-%m-%d", errors="coerce")
    month = pd.to_datetime(core.where(length == 7), format="%Y-%m", errors="coerce")
    year = pd.to_datetime(core.where(length == 4), format="%Y", errors="coerce")
    if rule == "last":
        month, year = month + pd.offsets.MonthEnd(0), year + pd.offsets.YearEnd(0)
    return full.fillna(month).fillna(year).astype("datetime64[ns]")


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return text(frame[name]) if name in frame.columns else pd.Series("", index=frame.index)


def evaluator_status(frame: pd.DataFrame, prefix: str, evaluators: tuple[str, ...],
                     keep_blank: bool = False) -> tuple[pd.Series, pd.Series]:  # fmt: skip
    """(tkitrack evaluator, why the row is left out: "" when kept) of each RS/TR/TU row.

    A row is kept when its evaluator is one of ``evaluators`` and it is the investigator's or the accepted
    independent read (--ACPTFL = Y, when any row has it). Left out: ``evaluator <--EVAL>`` (not chosen, or not
    an evaluator tkitrack knows) and ``not accepted <--EVAL>``. A blank evaluator is the investigator, unless
    ``keep_blank`` (tkitrack's own export: it was not recorded).
    """
    given = _col(frame, f"{prefix}EVAL").str.upper()
    evaluator = given.replace("", "INVESTIGATOR").map(EVALUATORS_SDTM)
    if keep_blank:
        evaluator = evaluator.mask(given == "", "")
        evaluators = (*evaluators, "")
    accepted = _col(frame, f"{prefix}ACPTFL").str.upper() == "Y"
    chosen = evaluator.isin(evaluators)
    shown = given.replace("", "(blank)")
    status = pd.Series("", index=frame.index, dtype=object)
    status = status.mask(~chosen, "evaluator " + shown)
    status = status.mask(chosen & (evaluator != "INVESTIGATOR") & ~accepted & accepted.any(), "not accepted " + shown)
    return evaluator, status


def _reads(frame: pd.DataFrame, prefix: str, evaluators: tuple[str, ...], keep_blank: bool = False) -> pd.DataFrame:
    """The rows read by a kept evaluator (see :func:`evaluator_status`), with patient_id / evaluator / date."""
    evaluator, status = evaluator_status(frame, prefix, evaluators, keep_blank)
    keep = status == ""
    out = frame[keep].copy()
    out["patient_id"] = text(out["USUBJID"])
    out["evaluator"] = evaluator[keep]
    out["date"] = text(out[f"{prefix}DTC"])
    out["_testcd"] = text(out[f"{prefix}TESTCD"]).str.upper()
    return out


def _responses(rs: pd.DataFrame, evaluators: tuple[str, ...], linked: bool) -> pd.DataFrame:
    """One row per (subject, evaluator, date, n): OVRLRESP, TRGRESP, NTRGRESP, NEWLPROG side by side; ``n`` is
    the link group (RSLNKGRP) when ``linked``, else the rank of the test on that date."""
    r = _reads(rs, "RS", evaluators, keep_blank=linked)
    r["_value"] = _col(r, "RSSTRESC").mask(lambda s: s == "", _col(r, "RSORRES")).str.upper()
    canonical = {v.upper(): v for v in vocabulary("response").values}  # iUPD, not IUPD
    r["_value"] = r["_value"].map(canonical).fillna(r["_value"])
    r["n"] = _col(r, "RSLNKGRP") if linked else r.groupby([*_KEY, "_testcd"], sort=False).cumcount()
    wide = r.set_index([*_KEY, "n", "_testcd"])["_value"].unstack("_testcd")
    info = r.assign(VISIT=_col(r, "VISIT"), VISITNUM=_col(r, "VISITNUM"), RSCAT=_col(r, "RSCAT"),
                    RSBLFL=_col(r, "RSBLFL")).groupby([*_KEY, "n"])[["VISIT", "VISITNUM", "RSCAT", "RSBLFL"]].first()  # fmt: skip
    for code in ("OVRLRESP", "TRGRESP", "NTRGRESP", "NEWLPROG"):
        if code not in wide.columns:
            wide[code] = pd.NA
    return wide[["OVRLRESP", "TRGRESP", "NTRGRESP", "NEWLPROG"]].join(info).reset_index()


def nodal_lesions(tr: pd.DataFrame, tu: pd.DataFrame | None) -> pd.Series:
    """Whether each TR row measures a lymph node (its TRLNKID is a TU lesion whose TULOC names a lymph node)."""
    if tu is None or "TULNKID" not in tu.columns:
        return pd.Series(False, index=tr.index)
    loc = _col(tu, "TULOC").str.upper().str.contains("LYMPH NODE", regex=False)
    nodes = pd.MultiIndex.from_arrays([text(tu["USUBJID"]), text(tu["TULNKID"])])[loc.to_numpy()]
    return pd.Series(pd.MultiIndex.from_arrays([text(tr["USUBJID"]), _col(tr, "TRLNKID")]).isin(nodes), index=tr.index)


def _sums(tr: pd.DataFrame, tu: pd.DataFrame | None, evaluators: tuple[str, ...], linked: bool) -> pd.DataFrame:
    """Sum of target-lesion diameters per (subject, evaluator, date): TR SUMDIAM when given, else the sum of
    DIAMETER, else of LDIAM for non-nodal and LPERP (short axis) for nodal lesions (TU.TULOC LYMPH NODE)."""
    t = _reads(tr, "TR", evaluators, keep_blank=linked)
    t = t[_col(t, "TRGRPID").str.upper().isin(["TARGET", ""])]
    value = pd.to_numeric(_col(t, "TRSTRESN").mask(lambda s: s == "", _col(t, "TRSTRESC")), errors="coerce")
    nodal = nodal_lesions(t, tu)
    method = pd.Series("", index=t.index)
    if tu is not None and "TULNKID" in tu.columns:
        first = _col(tu, "TUMETHOD").groupby(text(tu["USUBJID"])).first()
        method = t["patient_id"].map(first).fillna("")
    method = _col(t, "TRMETHOD") if linked else _col(t, "TRMETHOD").mask(lambda s: s == "", method)
    code = t["_testcd"]
    groups = [t[k] for k in _KEY] + ([_col(t, "TRLNKGRP").rename("n")] if linked else [])
    sumdiam = value.where(code == "SUMDIAM").groupby(groups).first()
    diameter = value.where(code == "DIAMETER").groupby(groups).sum(min_count=1)
    longest = value.where(((code == "LDIAM") & ~nodal) | ((code == "LPERP") & nodal)).groupby(groups).sum(min_count=1)
    out = pd.DataFrame({"sum_diameters": sumdiam.fillna(diameter).fillna(longest)})
    info = pd.DataFrame({"tr_visit": _col(t, "VISIT"), "tr_visitnum": _col(t, "VISITNUM"), "method": method,
                         "tr_blfl": _col(t, "TRBLFL"), "tr_cat": _col(t, "TRCAT")}).groupby(groups).first()  # fmt: skip
    out = out.join(info).reset_index()
    out = out[out["sum_diameters"].notna()]
    return out if linked else out.assign(n=0)


def _qualifiers(sdtm: dict, merged: pd.DataFrame) -> pd.DataFrame:
    """SUPPRS (by RSLNKGRP) and SUPPTR (by TRLNKGRP) MODALITY, NOTE, CONSTDT of each merged assessment."""
    from tkitrack.schemas.sdtm_qualifiers import supp_values

    names = ["MODALITY", "NOTE", "CONSTDT"]
    parent = pd.DataFrame({"USUBJID": merged["patient_id"], "LNKGRP": merged["n"].astype(str)})
    by_rs = supp_values(sdtm, "RS", parent.rename(columns={"LNKGRP": "RSLNKGRP"}), names, idvar="RSLNKGRP")
    by_tr = supp_values(sdtm, "TR", parent.rename(columns={"LNKGRP": "TRLNKGRP"}), names, idvar="TRLNKGRP")
    return by_rs.mask(by_rs == "", by_tr)


def _attach_by_visit(merged: pd.DataFrame) -> pd.DataFrame:
    """Give a response row without a TR sum the sum of the same subject's and evaluator's visit (VISITNUM),
    where TR dated that visit differently; each side must be the only one of its visit."""
    rs_only = merged[merged["_merge"] == "left_only"]
    tr_only = merged[merged["_merge"] == "right_only"]
    pairs = rs_only.reset_index().merge(
        tr_only.reset_index()[["index", "patient_id", "evaluator", "tr_visitnum"]],
        left_on=["patient_id", "evaluator", "VISITNUM"], right_on=["patient_id", "evaluator", "tr_visitnum"],
        suffixes=("", "_tr"),
    )  # fmt: skip
    pairs = pairs[(pairs["VISITNUM"] != "") & ~pairs["index"].duplicated(keep=False)]
    pairs = pairs[~pairs["index_tr"].duplicated(keep=False)]
    for column in ("sum_diameters", "method"):
        merged.loc[pairs["index"].to_numpy(), column] = merged.loc[pairs["index_tr"].to_numpy(), column].to_numpy()
    return merged.drop(index=pairs["index_tr"].to_numpy())


def assessments_from_sdtm(
    rs: pd.DataFrame | None,
    tr: pd.DataFrame | None,
    tu: pd.DataFrame | None,
    reference: pd.Series,
    evaluators: tuple[str, ...] = ("INVESTIGATOR",),
    *,
    supp: dict | None = None,
    exact: bool = False,
) -> pd.DataFrame:
    """Tumour assessments (template text columns) from RS responses and TR measurements.

    Parameters
    ----------
    rs, tr, tu : DataFrame or None
        SDTM RS (OVRLRESP -> response, TRGRESP -> target_response, NTRGRESP -> nontarget_response,
        NEWLPROG -> new_lesion), TR (sum of diameters) and TU (nodal lesions, method).
    reference : Series
        Reference date text per patient_id (randomisation); an assessment dated before it is a baseline.
    evaluators : tuple of str
        Evaluators kept (``INVESTIGATOR``, ``INDEPENDENT``).
    supp : mapping, optional
        The SDTM domains, for SUPPRS / SUPPTR (MODALITY, NOTE, CONSTDT by RSLNKGRP / TRLNKGRP).
    exact : bool
        tkitrack's own export: RS and TR rows of one assessment share --LNKGRP, the baseline flag is
        RSBLFL / TRBLFL alone, the modality TRMETHOD (else SUPPRS MODALITY), and no note is added.

    Returns
    -------
    DataFrame
        One row per subject, evaluator and date (a second response of the same date is a row of its own);
        TR dates with no response become rows with only the sum of diameters (baseline scans).
        ``baseline`` is true for a VISIT named baseline or screening, --BLFL = Y, or a date (last day when
        partial) before the reference date. An EQUIVOCAL new lesion leaves new_lesion empty, with a note.
    """
    columns = ["patient_id", "date", "modality", "criteria", "baseline", "sum_diameters", "target_response",
               "nontarget_response", "new_lesion", "response", "response_given", "evaluator", "note",
               "constructed_dates"]  # fmt: skip
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    linked = exact and (rs is None or "RSLNKGRP" in rs.columns) and (tr is None or "TRLNKGRP" in tr.columns)
    resp = _responses(rs, evaluators, linked) if rs is not None else None
    sums = _sums(tr, tu, evaluators, linked) if tr is not None else None
    if resp is None and sums is None:
        return empty
    if resp is None:
        resp = pd.DataFrame(columns=[*_KEY, "n", "OVRLRESP", "TRGRESP", "NTRGRESP", "NEWLPROG", "VISIT", "VISITNUM",
                                     "RSCAT", "RSBLFL"])  # fmt: skip
    if sums is None:
        sums = pd.DataFrame(columns=[*_KEY, "n", "sum_diameters", "tr_visit", "tr_visitnum", "method", "tr_blfl",
                                     "tr_cat"])  # fmt: skip
    merged = resp.merge(sums, on=[*_KEY, "n"], how="outer", indicator=True)
    merged = merged.reset_index(drop=True) if linked else _attach_by_visit(merged.reset_index(drop=True))
    merged = merged.fillna({c: "" for c in merged.columns if merged[c].dtype == object})
    visit = merged["VISIT"].where(merged["VISIT"] != "", merged["tr_visit"]).astype(str).str.upper()
    when = impute_text(merged["date"], "last")
    before = (when < impute_text(merged["patient_id"].map(reference).fillna(""), "first")).fillna(False)
    flagged = (merged["RSBLFL"].astype(str).str.upper() == "Y") | (merged["tr_blfl"].astype(str).str.upper() == "Y")
    baseline = flagged if exact else flagged | visit.str.contains("BASELINE|SCREEN", regex=True) | before
    newl = merged["NEWLPROG"].astype(str)
    note = ("SDTM visit " + visit.str.title()).where(visit != "", "")
    note = note.mask(newl == "EQUIVOCAL", note.where(note == "", note + "; ") + "new lesion equivocal (NEWLPROG)")
    total = pd.to_numeric(merged["sum_diameters"], errors="coerce").round(4)
    # a response outside RECIST (pharmaverse has "CHECK") is kept as given, never guessed: AS004 queries it
    overall = merged["OVRLRESP"].astype(str)
    category = merged["RSCAT"].astype(str).mask(merged["RSCAT"].astype(str) == "", merged["tr_cat"].astype(str))
    criteria = category.str.upper().map(CRITERIA_SDTM).fillna("")
    known = response_allowed(criteria.where(criteria != ""), overall) | (overall == "")
    note = note.mask(~known, note.where(note == "", note + "; ") + "overall response as given: " + overall)
    quals = _qualifiers(supp or {}, merged)
    note = (
        quals["NOTE"] if exact else note.mask(quals["NOTE"] != "", note.where(note == "", note + "; ") + quals["NOTE"])
    )
    modality = merged["method"].astype(str).str.upper().map(MODALITIES_SDTM).fillna("")
    modality = modality.mask(modality == "", quals["MODALITY"])
    out = pd.DataFrame({
        "patient_id": merged["patient_id"],
        "date": merged["date"],
        "modality": modality,
        "criteria": criteria,
        "baseline": baseline.map({True: "true", False: "false"}),
        "sum_diameters": total.astype("string").fillna(""),
        "target_response": merged["TRGRESP"],
        "nontarget_response": merged["NTRGRESP"],
        "new_lesion": newl.map(_NEW_LESION).fillna(""),
        "response": overall.where(known, ""),
        "response_given": overall.where(~known, ""),
        "evaluator": merged["evaluator"],
        "note": note,
        "constructed_dates": quals["CONSTDT"],
    })  # fmt: skip
    order = pd.DataFrame({"p": out["patient_id"], "d": when, "e": out["evaluator"]}).sort_values(["p", "d", "e"],
                                                                                              kind="stable")  # fmt: skip
    return out.loc[order.index].reset_index(drop=True)
