"""Best responses under PERCIST (best overall metabolic response, MBOR) and iRECIST (iBOR), as ADRS parameters.

PERCIST and iRECIST calls are never mixed into the RECIST 1.1 BOR/CBOR of :mod:`tkitrack.outcomes.response`:
each criteria has its own per-visit records (``MOVR``, ``IOVR``: :func:`~tkitrack.outcomes.response.derive_ovr`
with the criteria's categories) and its own best response, built with the same rules as admiralonco's RECIST
BOR (first of the best categories, the stable category only on or after reference + ``window_days``, records up
to the first progression). The iRECIST events follow admiralonco's iRECIST vignette (``ibor_*`` events): iCR,
iPR, iSD, NON-iCR/NON-iUPD, iCPD (an iUPD confirmed by a later iCPD with only iUPD or NE between, dated at that
iUPD), iUPD, NE, MISSING.
"""

from __future__ import annotations

import pandas as pd

from tkitrack.outcomes.response import _analysed, _first, _pick, _reference, derive_ovr

__all__ = [
    "AVAL_IRECIST",
    "AVAL_METABOLIC",
    "WORST_ORDER_IRECIST",
    "WORST_ORDER_METABOLIC",
    "derive_irecist_response",
    "derive_metabolic_response",
]

#: PERCIST 1.0 categories with their AVAL codes (best 1 .. worst, then NE and MISSING, as ``AVAL_RESP``).
AVAL_METABOLIC = {"CMR": 1, "PMR": 2, "SMD": 3, "PMD": 5, "NE": 6, "MISSING": 7}
#: iRECIST categories with their AVAL codes.
AVAL_IRECIST = {"iCR": 1, "iPR": 2, "iSD": 3, "NON-iCR/NON-iUPD": 4, "iUPD": 5, "iCPD": 6, "NE": 7, "MISSING": 8}
#: One record per date: the last one listed present on a date wins (worst).
WORST_ORDER_METABOLIC = ("NE", "CMR", "PMR", "SMD", "PMD")
WORST_ORDER_IRECIST = ("NE", "iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "iUPD", "iCPD")
_PARAMS = {
    "MBOR": "Best Overall Metabolic Response (PERCIST) by {ev}",
    "IBOR": "iRECIST Best Overall Response by {ev} (confirmation not required)",
}


def _param_label(paramcd: str, evaluator: str | None) -> str:
    return _PARAMS[paramcd].format(ev=(evaluator or "Any Evaluator").title())


def _records(rs, adsl, *, criteria, responses, worst, progression, paramcd, reference_date, evaluator, testcd,
             date_imputation) -> pd.DataFrame:  # fmt: skip
    return derive_ovr(
        rs,
        adsl,
        reference_date=reference_date,
        evaluator=evaluator,
        testcd=testcd,
        criteria=[criteria],
        date_imputation=date_imputation,
        worst_order=worst,
        responses=responses,
        progression=progression,
        paramcd=paramcd,
    )


def _rows(best: pd.DataFrame, paramcd: str, evaluator: str | None, codes: dict) -> pd.DataFrame:
    out = best.assign(PARAMCD=paramcd, PARAM=_param_label(paramcd, evaluator),
                      AVAL=best["AVALC"].map(codes).astype("float64"), ANL01FL="Y")  # fmt: skip
    return out[["USUBJID", "PARAMCD", "PARAM", "AVALC", "AVAL", "ADT", "ANL01FL"]]


def derive_metabolic_response(
    rs: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    reference_date: str = "RANDDT",
    evaluator: str | None = "INVESTIGATOR",
    testcd: str = "OVRLRESP",
    date_imputation: str = "last",
    window_days: int = 42,
) -> pd.DataFrame:
    """PERCIST records (``MOVR``) and the best overall metabolic response (``MBOR``) of every ADSL subject.

    ``MBOR`` is the first that occurred of: CMR; PMR; SMD (a CMR, PMR or SMD on or after reference +
    ``window_days``); PMD; NE (any earlier CMR, PMR, SMD or NE); else MISSING. Only RS records with
    ``RSCAT == "PERCIST"`` are used, one per date (the worst), on or after the reference date, up to the first PMD.
    No confirmation is required (PERCIST 1.0 reports the best response without one).

    Examples
    --------
    >>> adsl = pd.DataFrame({"USUBJID": ["P1"], "TRTSDT": pd.to_datetime(["2020-01-01"])})
    >>> rs = pd.DataFrame({"USUBJID": "P1", "RSTESTCD": "OVRLRESP", "RSEVAL": "INVESTIGATOR",
    ...                    "RSCAT": ["PERCIST", "RECIST 1.1"], "RSSTRESC": ["CMR", "PR"],
    ...                    "RSDTC": ["2020-03-01", "2020-03-01"]})
    >>> derive_metabolic_response(rs, adsl, reference_date="TRTSDT").set_index("PARAMCD").loc["MBOR", "AVALC"]
    'CMR'
    """
    ovr = _records(rs, adsl, criteria="PERCIST", responses=AVAL_METABOLIC, worst=WORST_ORDER_METABOLIC,
                   progression="PMD", paramcd="MOVR", reference_date=reference_date, evaluator=evaluator,
                   testcd=testcd, date_imputation=date_imputation)  # fmt: skip
    ref = _reference(adsl, reference_date)
    subjects = pd.Series(ref.index, name="USUBJID")
    used = _analysed(ovr)
    val = used["AVALC"]
    in_window = used["ADT"] >= used["USUBJID"].map(ref) + pd.Timedelta(days=window_days)
    events = [
        ("CMR", _first(used, val == "CMR")),
        ("PMR", _first(used, val == "PMR")),
        ("SMD", _first(used, val.isin(["CMR", "PMR", "SMD"]) & in_window)),
        ("PMD", _first(used, val == "PMD")),
        ("NE", _first(used, val.isin(["CMR", "PMR", "SMD", "NE"]))),
    ]
    best = _rows(_pick(subjects, events, "MISSING"), "MBOR", evaluator, AVAL_METABOLIC)
    return pd.concat([best, ovr], ignore_index=True)


def _confirmed_progression(used: pd.DataFrame) -> pd.Series:
    """Per subject: the date of the iUPD that a later iCPD confirms (only iUPD or NE between), as admiralonco's
    ``ibor_icpd``; the records end at the first iCPD, so the run of iUPD/NE just before it is searched. An iCPD
    with no such iUPD (a data error under iRECIST, which admiralonco's events would call MISSING) is dated itself."""
    val = used["AVALC"]
    block = (~val.isin(["iUPD", "NE", "iCPD"])).astype(int).groupby(used["USUBJID"]).cumsum()
    icpd = used.loc[val == "iCPD", ["USUBJID", "ADT"]].assign(block=block).drop_duplicates("USUBJID")
    iupd = used.loc[val == "iUPD", ["USUBJID", "ADT"]].assign(block=block)
    confirmed = iupd.merge(icpd[["USUBJID", "block"]], on=["USUBJID", "block"]).groupby("USUBJID")["ADT"].min()
    return confirmed.combine_first(icpd.set_index("USUBJID")["ADT"])


def derive_irecist_response(
    rs: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    reference_date: str = "RANDDT",
    evaluator: str | None = "INVESTIGATOR",
    testcd: str = "OVRLRESP",
    date_imputation: str = "last",
    window_days: int = 42,
) -> pd.DataFrame:
    """iRECIST records (``IOVR``) and the iRECIST best overall response (``IBOR``) of every ADSL subject.

    ``IBOR`` is the first that occurred of: iCR; iPR; iSD (an iCR, iPR or iSD on or after reference +
    ``window_days``); NON-iCR/NON-iUPD (same window); iCPD (dated at the iUPD it confirms, else itself); iUPD; NE; else
    MISSING. Only RS records with ``RSCAT == "IRECIST"`` are used, one per date (the worst), on or after the
    reference date, up to the first iCPD.

    Examples
    --------
    >>> adsl = pd.DataFrame({"USUBJID": ["P1"], "TRTSDT": pd.to_datetime(["2020-01-01"])})
    >>> rs = pd.DataFrame({"USUBJID": "P1", "RSTESTCD": "OVRLRESP", "RSEVAL": "INVESTIGATOR", "RSCAT": "IRECIST",
    ...                    "RSSTRESC": ["iUPD", "iCPD"], "RSDTC": ["2020-02-01", "2020-03-01"]})
    >>> ibor = derive_irecist_response(rs, adsl, reference_date="TRTSDT").set_index("PARAMCD").loc["IBOR"]
    >>> ibor["AVALC"], ibor["ADT"].strftime("%Y-%m-%d")
    ('iCPD', '2020-02-01')
    """
    ovr = _records(rs, adsl, criteria="IRECIST", responses=AVAL_IRECIST, worst=WORST_ORDER_IRECIST,
                   progression="iCPD", paramcd="IOVR", reference_date=reference_date, evaluator=evaluator,
                   testcd=testcd, date_imputation=date_imputation)  # fmt: skip
    ref = _reference(adsl, reference_date)
    subjects = pd.Series(ref.index, name="USUBJID")
    used = _analysed(ovr)
    val = used["AVALC"]
    in_window = used["ADT"] >= used["USUBJID"].map(ref) + pd.Timedelta(days=window_days)
    events = [
        ("iCR", _first(used, val == "iCR")),
        ("iPR", _first(used, val == "iPR")),
        ("iSD", _first(used, val.isin(["iCR", "iPR", "iSD"]) & in_window)),
        ("NON-iCR/NON-iUPD", _first(used, (val == "NON-iCR/NON-iUPD") & in_window)),
        ("iCPD", _confirmed_progression(used)),
        ("iUPD", _first(used, val == "iUPD")),
        ("NE", _first(used, val.isin(["iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "NE"]))),
    ]
    best = _rows(_pick(subjects, events, "MISSING"), "IBOR", evaluator, AVAL_IRECIST)
    return pd.concat([best, ovr], ignore_index=True)
