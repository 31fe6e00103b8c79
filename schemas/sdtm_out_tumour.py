"""Tumour assessments out as SDTMIG 3.4 RS (responses), TU (the target disease) and TR (sum of diameters).

One tkitrack assessment is one link group: its RS rows and its TR row share RSLNKGRP / TRLNKGRP (``A1``,
``A2``, ... per subject), which is how the import puts them back together. tkitrack records the sum of the
target-lesion diameters, not the lesions one by one, so TU identifies one target disease per subject and
evaluator (``T01``, at the patient's primary site) and the SUMDIAM rows point to it with TRLNKID.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tkitrack.schemas.distinct import in_key_order
from tkitrack.schemas.sdtm_out import add_seq, derive_study_day, epoch, head, num_text, supp_rows, txt
from tkitrack.schemas.sdtm_tumour import CRITERIA_SDTM, EVALUATORS_SDTM

__all__ = ["MODALITY_SDTM", "rs_tu_tr"]

#: assessment.modality -> TRMETHOD / TUMETHOD (CDISC CT METHOD).
MODALITY_SDTM = {"MRI": "MRI", "CT": "CT SCAN", "PET-CT": "PET-CT SCAN", "US": "ULTRASOUND", "XRAY": "X-RAY",
                 "CLINICAL": "PHYSICAL EXAMINATION"}  # fmt: skip
_RS_TESTS = {"OVRLRESP": ("response", "Overall Response"), "TRGRESP": ("target_response", "Target Response"),
             "NTRGRESP": ("nontarget_response", "Non-target Response"),
             "NEWLPROG": ("new_lesion", "New Lesion Progression")}  # fmt: skip


#: The assessment columns RS is built from (sorted by the first three).
_RS_COLUMNS = ("patient_id", "date", "id", "date_dtc", "evaluator", "criteria", "baseline", "response_given",
               *(column for column, _ in _RS_TESTS.values()))  # fmt: skip


def _invert(table: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        out.setdefault(value, key)
    return out


def _rs(a: pd.DataFrame, criteria: pd.Series, evaluator: pd.Series, blfl: np.ndarray, given: pd.Series,
        ref: pd.DataFrame, study: str, *, first_rows: bool = False) -> pd.DataFrame:  # fmt: skip
    """RS: per assessment (in ``a``'s order) one row per test of ``_RS_TESTS`` that has a value, in that order.

    Built as cells picked from whole columns (each cell made text once, after it is picked), not as a frame per
    test sorted back into order: RS has three or four rows per assessment, millions at registry scale.
    ``first_rows``: only the first row of each assessment (its OVRLRESP row when it has one), every cell and RSSEQ
    as in the whole RS, the other rows never built.
    """
    orres, stresc = [], []
    for code, (column, _) in _RS_TESTS.items():
        values = a[column]
        if code == "NEWLPROG":  # Y / N, missing as None
            flags = values.astype("boolean")
            shown = np.where(flags.to_numpy(dtype=bool, na_value=False), "Y", "N").astype(object)
            values = pd.Series(np.where(flags.isna().to_numpy(), None, shown), index=a.index, dtype=object)
        orres.append(values.where(~given, a["response_given"]) if code == "OVRLRESP" else values)
        stresc.append(values)
    present = np.column_stack([o.notna().to_numpy() for o in orres])  # assessment x test
    seq = None
    if first_rows:  # RSSEQ numbers the rows of the whole RS (1.. per subject in row order): the first row of an
        # assessment follows the rows of the subject's earlier assessments
        counts = present.sum(axis=1)
        subject = pd.factorize(a["patient_id"])[0]
        before = pd.Series(counts).groupby(subject, sort=False).cumsum().to_numpy() - counts
        row = np.flatnonzero(counts > 0)
        test = present.argmax(axis=1)[row]
        seq = (before[row] + 1).astype("int64")
    else:
        flat = present.ravel()  # row-major: assessment, then test
        row = np.repeat(np.arange(len(a)), len(_RS_TESTS))[flat]
        test = np.tile(np.arange(len(_RS_TESTS)), len(a))[flat]
    codes = np.array(list(_RS_TESTS), dtype=object)
    labels = np.array([label for _, label in _RS_TESTS.values()], dtype=object)
    rs = pd.DataFrame({
        "STUDYID": study, "DOMAIN": "RS", "USUBJID": txt(a["patient_id"].take(row)),
        "RSLNKGRP": txt(a["_grp"].take(row)), "RSTESTCD": codes[test], "RSTEST": labels[test],
        "RSCAT": txt(criteria.take(row)), "RSORRES": _picked(orres, test, row), "RSSTRESC": _picked(stresc, test, row),
        "RSEVAL": txt(evaluator.take(row)), "RSBLFL": blfl[row], "VISITNUM": np.nan,
    })  # fmt: skip
    when = pd.Series(a["date"].to_numpy()[row])
    rs["EPOCH"] = epoch(when, rs["USUBJID"], ref)
    rs["RSDTC"] = txt(a["date_dtc"].take(row))
    rs["RSDY"] = derive_study_day(rs["RSDTC"], rs["USUBJID"], ref["rfst_complete"]).array
    if seq is None:
        return add_seq(rs, "RS")
    rs.insert(3, "RSSEQ", seq)
    return rs


def _picked(columns: list[pd.Series], test: np.ndarray, row: np.ndarray) -> np.ndarray:
    """The text of cell ``row[k]`` of ``columns[test[k]]`` for each k."""
    out = np.empty(len(row), dtype=object)
    for n, column in enumerate(columns):
        mine = test == n
        out[mine] = txt(column.take(row[mine]))
    return out


def rs_tu_tr(
    a: pd.DataFrame,
    pt: pd.DataFrame,
    ref: pd.DataFrame,
    study: str,
    *,
    rs_only: bool = False,
    rs_first_rows: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]:
    """RS, TU, TR and SUPPRS, SUPPTR of typed assessment records (``ref``: the subjects' reference dates);
    ``rs_only``: RS alone, the others None; with it ``rs_first_rows``: RS of the first row of each assessment
    only (see :func:`tkitrack.schemas.sdtm_out.records_to_sdtm`)."""
    if rs_first_rows and not rs_only:
        raise ValueError("rs_first_rows needs rs_only: TU, TR and SUPP-- are built against the whole RS")
    keys = ["patient_id", "date", "id"]
    if rs_only:  # only the columns RS is made of (the assessment records have a dozen more), taken once, sorted
        columns = [c for c in a.columns if c in _RS_COLUMNS]
        if in_key_order(a[keys]):  # records read from the database come sorted: the columns as they are, not copied
            a = pd.DataFrame({c: a[c].array for c in columns}, copy=False)
        else:
            order = a[keys].reset_index(drop=True).sort_values(keys, kind="stable").index.to_numpy()
            a = a.iloc[order, [a.columns.get_loc(c) for c in columns]].reset_index(drop=True)
    else:
        a = a.sort_values(keys, kind="stable").reset_index(drop=True)
    number = (a.groupby("patient_id").cumcount() + 1).to_numpy()  # A1, A2, ...: each label one str object
    labels = np.array([f"A{n}" for n in range(int(number.max(initial=0)) + 1)], dtype=object)
    a["_grp"] = pd.Series(labels[number], index=a.index, dtype=object)
    evaluator = a["evaluator"].map(_invert(EVALUATORS_SDTM)).fillna(a["evaluator"])
    criteria = a["criteria"].map(_invert(CRITERIA_SDTM)).fillna(a["criteria"])
    blfl = np.where(a["baseline"].fillna(False).astype(bool), "Y", "")
    given = a["response"].isna() & a["response_given"].notna()
    rs = _rs(a, criteria, evaluator, blfl, given, ref, study, first_rows=rs_first_rows)
    if rs_only:
        return rs, None, None, None, None

    m = a[a["sum_diameters"].notna()]
    shown = num_text(m["sum_diameters"])
    tr = pd.DataFrame({
        **head(m, study, "TR"), "TRGRPID": "TARGET", "TRLNKGRP": txt(m["_grp"]), "TRLNKID": "T01",
        "TRTESTCD": "SUMDIAM", "TRTEST": "Sum of Diameter", "TRCAT": txt(criteria[m.index]), "TRORRES": shown,
        "TRORRESU": "mm", "TRSTRESC": shown, "TRSTRESN": m["sum_diameters"].to_numpy(), "TRSTRESU": "mm",
        "TRMETHOD": txt(m["modality"].map(MODALITY_SDTM)), "TREVAL": txt(evaluator[m.index]),
        "TRBLFL": blfl[m.index.to_numpy()], "VISITNUM": np.nan, "EPOCH": epoch(m["date"], m["patient_id"], ref), "TRDTC": txt(m["date_dtc"]),
    })  # fmt: skip
    tr["TRDY"] = derive_study_day(tr["TRDTC"], tr["USUBJID"], ref["rfst_complete"]).array
    tr = add_seq(tr, "TR")

    first = m.assign(_ev=evaluator[m.index]).drop_duplicates(["patient_id", "_ev"])
    site = first["patient_id"].map(pt.set_index("patient_id")["primary_site"])
    tu = pd.DataFrame({
        **head(first, study, "TU"), "TULNKID": "T01", "TUTESTCD": "TUMIDENT", "TUTEST": "Tumor Identification",
        "TUORRES": "TARGET", "TUSTRESC": "TARGET", "TULOC": txt(site), "TUMETHOD": txt(first["modality"].map(MODALITY_SDTM)),
        "TUEVAL": txt(first["_ev"]), "VISITNUM": np.nan, "EPOCH": epoch(first["date"], first["patient_id"], ref),
        "TUDTC": txt(first["date_dtc"]),
    })  # fmt: skip
    tu["TUDY"] = derive_study_day(tu["TUDTC"], tu["USUBJID"], ref["rfst_complete"]).array
    tu = add_seq(tu, "TU")

    # assessment-level qualifiers go with the RS rows of the assessment, or with its TR row when it has none
    keys = pd.MultiIndex.from_arrays([rs["USUBJID"], rs["RSLNKGRP"]])
    in_rs = pd.Series(pd.MultiIndex.from_arrays([a["patient_id"], a["_grp"]]).isin(keys), index=a.index)
    measured = a["sum_diameters"].notna()
    qualifiers = {
        "MODALITY": ("Modality of the Assessment", pd.Series(txt(a["modality"].where(~measured)), index=a.index)),
        "CONSTDT": ("Dates Built from Intervals", pd.Series(txt(a["constructed_dates"]), index=a.index)),
        "NOTE": ("Free-Text Note", pd.Series(txt(a["note"]), index=a.index)),
    }
    parent = pd.DataFrame({"STUDYID": study, "USUBJID": txt(a["patient_id"]), "RSLNKGRP": txt(a["_grp"]),
                           "TRLNKGRP": txt(a["_grp"])}, index=a.index)  # fmt: skip
    supp_rs = supp_rows(parent[in_rs], "RS", {k: (lab, v[in_rs]) for k, (lab, v) in qualifiers.items()},
                        idvar="RSLNKGRP")  # fmt: skip
    only_tr = ~in_rs & measured
    supp_tr = supp_rows(parent[only_tr], "TR", {k: (lab, v[only_tr]) for k, (lab, v) in qualifiers.items()},
                        idvar="TRLNKGRP")  # fmt: skip
    return rs, tu, tr, supp_rs, supp_tr
