"""Overall responses per visit (OVR) and per-subject response parameters (BOR, CBOR, RSP, CRSP, CB, ...) as ADRS.

Defaults reproduce the pharmaverse/admiralonco RECIST 1.1 ADRS template (``ad_adrs.R`` with the event objects
``bor_cr`` ... ``cbor_pr``), checked against ``pharmaverseadam::adrs_onco``. Every rule is a keyword:
the evaluator, the reference date column, the day-imputation of partial dates, the per-date ranking, the
truncation at the first PD, the 42-day window for SD / NON-CR/NON-PD and the 28-day confirmation with at most
one NE in between. All steps are group-wise pandas operations (sorts, cumulative counts, ``merge_asof``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import as_datetime, impute_partial_dates
from tkitrack.schemas.distinct import per_distinct_text, text_codes
from tkitrack.schemas.errors import InputError

__all__ = [
    "AVAL_RESP",
    "RECIST_CRITERIA",
    "WORST_ORDER",
    "adrs_in_order",
    "adrs_pieces",
    "derive_adrs",
    "derive_ovr",
    "derive_response_params",
    "derive_time_to_response",
]

#: admiralonco ``aval_resp()``: numeric codes of the RECIST overall responses.
AVAL_RESP = {"CR": 1, "PR": 2, "SD": 3, "NON-CR/NON-PD": 4, "PD": 5, "NE": 6, "MISSING": 7}
#: Ranking used to keep one response per date, best to worst: the last one listed present on a date wins.
WORST_ORDER = ("NE", "CR", "PR", "SD", "NON-CR/NON-PD", "PD")
#: RSCAT of the responses behind OVR, BOR and CBOR: RECIST 1.1 and investigator calls (a blank RSCAT is RECIST 1.1).
#: PERCIST and iRECIST records have their own parameters (:mod:`tkitrack.outcomes.response_criteria`).
RECIST_CRITERIA = ("RECIST 1.1", "INVESTIGATOR")
_LABELS = {
    "OVR": "Overall Response by {ev}",
    "MOVR": "Overall Metabolic Response (PERCIST) by {ev}",
    "IOVR": "iRECIST Overall Response by {ev}",
    "PD": "Disease Progression by {ev}",
    "RSP": "Response by {ev} (confirmation not required)",
    "CB": "Clinical Benefit by {ev} (confirmation for response not required)",
    "BOR": "Best Overall Response by {ev} (confirmation not required)",
    "BCP": "Best Overall Response of CR/PR by {ev} (confirmation not required)",
    "CRSP": "Confirmed Response by {ev}",
    "CCB": "Confirmed Clinical Benefit by {ev}",
    "CBOR": "Best Confirmed Overall Response by {ev}",
    "CBCP": "Best Confirmed Overall Response of CR/PR by {ev}",
    "DEATH": "Death",
    "LSTA": "Last Disease Assessment by {ev}",
}
_BENEFIT = ("CR", "PR", "SD", "NON-CR/NON-PD")
_NO_DATE = np.iinfo(np.int64).max  # "no date yet" while the earliest is looked for (NaT is the smallest int64)


def _require(frame: pd.DataFrame, columns: Iterable[str], dataset: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{dataset} has no column {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}. "
            f"Rename the column or pass {dataset} in SDTM/ADaM shape."
        )


def _dates(values: pd.Series) -> pd.Series:
    return as_datetime(values, errors="coerce").astype("datetime64[ns]")


def _reference(adsl: pd.DataFrame, reference_date: str) -> pd.Series:
    _require(adsl, ["USUBJID", reference_date], "ADSL")
    return _dates(adsl.drop_duplicates("USUBJID").set_index("USUBJID")[reference_date])


def _label(paramcd: str, evaluator: str | None) -> str:
    return _LABELS[paramcd].format(ev=(evaluator or "Any Evaluator").title())


def _criteria_mask(rscat: pd.Series, criteria: Sequence[str]) -> pd.Series:
    """Rows whose RSCAT is one of ``criteria``, compared without case and spaces; a blank RSCAT is RECIST 1.1."""
    found = text_codes(rscat)
    if found is None:
        return _criteria_keep(rscat, criteria)
    codes, distinct = found  # each distinct RSCAT compared once; a missing one (-1) is the None appended last
    keep = _criteria_keep(pd.Series(np.append(distinct, None), dtype=object), criteria)
    return pd.Series(keep.array.take(codes), index=rscat.index, name=rscat.name)


def _criteria_keep(rscat: pd.Series, criteria: Sequence[str]) -> pd.Series:
    wanted = {c.upper().replace(" ", "") for c in criteria}
    cat = rscat.astype("string").str.upper().str.replace(" ", "", regex=False).fillna("")
    return cat.isin(wanted) | ((cat == "") & ("RECIST1.1" in wanted))


def derive_ovr(
    rs: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    reference_date: str = "RANDDT",
    evaluator: str | None = "INVESTIGATOR",
    testcd: str = "OVRLRESP",
    criteria: Sequence[str] | None = RECIST_CRITERIA,
    date_imputation: str = "last",
    impute_month: bool = False,
    worst_order: Sequence[str] = WORST_ORDER,
    truncate_at_first_pd: bool = True,
    responses: Mapping[str, int] = AVAL_RESP,
    progression: str = "PD",
    paramcd: str = "OVR",
) -> pd.DataFrame:
    """Select the overall responses that count: one per date, on or after the reference date, up to first PD.

    Parameters
    ----------
    rs : DataFrame
        SDTM RS: ``USUBJID, RSTESTCD, RSSTRESC, RSEVAL, RSDTC`` (``RSSEQ``, ``VISIT``, ``VISITNUM`` kept if present).
    adsl : DataFrame
        ``USUBJID`` and the ``reference_date`` column.
    reference_date : str
        ADSL column of the time origin (``RANDDT``; ``TRTSDT`` for single-arm series).
    evaluator : str or None
        RSEVAL kept (``INVESTIGATOR``); None keeps every evaluator.
    testcd : str
        RSTESTCD of the overall response.
    criteria : sequence of str or None
        RSCAT values kept (compared without case and spaces): RECIST 1.1 and investigator calls by default, so
        that PERCIST and iRECIST records never feed BOR/CBOR. A blank RSCAT counts as RECIST 1.1; RS without
        an RSCAT column (pharmaverse) keeps every record. None keeps every criteria.
    date_imputation : {"last", "first"}
        Where a missing day of RSDTC is put (admiralonco: last day of the month).
    impute_month : bool
        Also impute a missing month (admiralonco: no; such records get no ADT and are not analysed).
    worst_order : sequence of str
        Responses from best to worst kept for a date with several records; the worst present wins
        (ties: the highest RSSEQ).
    truncate_at_first_pd : bool
        Keep only records up to and including the first PD among the analysed records (``ANL02FL``).
    responses, progression, paramcd : mapping, str, str
        The categories of the criteria with their AVAL codes (matched without case), the category that ends the
        analysed records, and the PARAMCD of the rows (``OVR``; ``MOVR`` / ``IOVR`` for PERCIST / iRECIST).

    Returns
    -------
    DataFrame
        One ``PARAMCD == paramcd`` row per selected RS record (RS order) with ``AVALC, AVAL, ADT, ADTF`` and the
        flags ``ANL01FL`` (valid, on/after reference, worst of its date) and ``ANL02FL`` (up to first PD).
    """
    _require(rs, ["USUBJID", "RSTESTCD", "RSSTRESC", "RSDTC"] + (["RSEVAL"] if evaluator else []), "RS")
    ref = _reference(adsl, reference_date)
    keep = rs["RSTESTCD"] == testcd
    if evaluator is not None:
        keep &= rs["RSEVAL"] == evaluator
    if criteria is not None and "RSCAT" in rs.columns:
        keep &= _criteria_mask(rs["RSCAT"], criteria)
    extra = [c for c in ("STUDYID", "VISITNUM", "VISIT", "RSSEQ", "RSEVAL", "RSDTC") if c in rs.columns]
    out = rs.loc[keep, ["USUBJID"] + [c for c in extra if c != "USUBJID"]]  # one copy, of the columns kept only
    out.index = pd.RangeIndex(len(out))
    stresc = rs.loc[keep, "RSSTRESC"]
    adt, adtf = impute_partial_dates(out["RSDTC"], date_imputation)  # type: ignore[arg-type]
    if not impute_month:
        month = (adtf == "M").fillna(False).astype(bool)
        adt, adtf = adt.mask(month), adtf.mask(month)
    out.insert(1, "PARAMCD", paramcd)
    out.insert(2, "PARAM", _label(paramcd, evaluator))
    canonical = {k.upper(): k for k in responses}

    def avalc(values: pd.Series) -> pd.Series:  # a cell's result depends on that cell alone: once per distinct value
        upper = values.astype("string").str.strip().str.upper()
        return upper.map(canonical).fillna(upper)

    out["AVALC"] = per_distinct_text(stresc, avalc).to_numpy()
    del stresc
    out["AVAL"] = out["AVALC"].map(responses).astype("float64")
    out["ADT"] = adt.astype("datetime64[ns]")
    out["ADTF"] = adtf
    subject, distinct = pd.factorize(out["USUBJID"])  # a subject as an integer code (-1: missing) from here on
    found = np.append(ref.index.get_indexer(distinct), -1)[subject]
    refdt = np.where(found >= 0, ref.to_numpy(dtype="datetime64[ns]")[found], np.datetime64("NaT"))
    when = out["ADT"].to_numpy(dtype="datetime64[ns]")
    valid = out["AVAL"].notna().to_numpy() & ~np.isnat(when) & ~np.isnat(refdt) & (when >= refdt)

    # per subject and date the worst response (by worst_order, then RSSEQ, missing last, then row): the last of
    # its (subject, date) rows in that order
    rank = out["AVALC"].map({v: i for i, v in enumerate(worst_order)}).fillna(-1).to_numpy(dtype="float64")
    seq = pd.to_numeric(out["RSSEQ"], errors="coerce") if "RSSEQ" in out else pd.Series(np.nan, index=out.index)
    rows = np.flatnonzero(valid)
    keys = (seq.to_numpy(dtype="float64")[rows], rank[rows], when.view("int64")[rows], subject[rows])
    rows = rows[np.lexsort(keys)]  # stable: ties in row order (and NaN sorts last, as in sort_values)
    same = (subject[rows][1:] == subject[rows][:-1]) & (when[rows][1:] == when[rows][:-1])
    anl01 = np.zeros(len(out), dtype=bool)
    anl01[rows[np.r_[~same, True][: len(rows)]]] = True
    out["ANL01FL"] = pd.Series(pd.NA, index=out.index, dtype="string").mask(anl01, "Y")

    dated = ~np.isnat(when)
    if truncate_at_first_pd:  # up to the subject's first progression (no limit without one)
        hit = anl01 & (out["AVALC"] == progression).to_numpy(dtype=bool) & (subject >= 0) & dated
        limit = np.full(len(distinct) + 1, _NO_DATE, dtype="int64")  # the last: a missing USUBJID, never limited
        np.minimum.at(limit, subject[hit], when.view("int64")[hit])
        anl02 = dated & (when.view("int64") <= limit[subject])
    else:
        anl02 = dated
    out["ANL02FL"] = pd.Series(pd.NA, index=out.index, dtype="string").mask(anl02, "Y")
    return out


def _analysed(ovr: pd.DataFrame) -> pd.DataFrame:
    _require(ovr, ["USUBJID", "AVALC", "ADT", "ANL01FL", "ANL02FL"], "OVR records")
    used = ovr.loc[(ovr["ANL01FL"] == "Y") & (ovr["ANL02FL"] == "Y"), ["USUBJID", "AVALC", "ADT"]]
    used = used.assign(ADT=_dates(used["ADT"]))
    return used.sort_values(["USUBJID", "ADT"], kind="stable").reset_index(drop=True)


def _first(used: pd.DataFrame, mask: pd.Series) -> pd.Series:
    """Earliest ADT per subject among the rows where ``mask`` holds."""
    return used.loc[mask].groupby("USUBJID")["ADT"].min()


def _confirmed(used: pd.DataFrame, kind: str, *, confirm_days: int, max_ne: int,
               subject: np.ndarray | None = None) -> pd.Series:  # fmt: skip
    """First date per subject of a ``kind`` (CR or PR) response that is confirmed, as admiralonco's cbor_cr/pr.

    A record i is confirmed by the first later record j of the confirming responses (CR; for PR: CR or PR)
    at least ``confirm_days`` later. Records in (i, j] may only be CR/NE (CR) or CR/PR/NE (PR), hold at most
    ``max_ne`` NE, and, for PR, no PR may follow a CR. ``subject``: an integer code of each record's subject
    (faster to match than USUBJID text), by which the result is then indexed.
    """
    val = used["AVALC"]
    pos = pd.Series(np.arange(len(used)), index=used.index)
    by = used["USUBJID"] if subject is None else pd.Series(subject, index=used.index)
    allowed = ["CR", "NE"] if kind == "CR" else ["CR", "PR", "NE"]
    confirming = ["CR"] if kind == "CR" else ["CR", "PR"]
    cum_bad = (~val.isin(allowed)).cumsum().to_numpy()
    cum_ne = (val == "NE").cumsum().to_numpy()
    cum_pr = (val == "PR").cumsum().to_numpy()
    left = pd.DataFrame(
        {"USUBJID": by, "ADT": used["ADT"], "i": pos, "KEY": used["ADT"] + pd.Timedelta(days=confirm_days)}
    )[val == kind]
    right = pd.DataFrame({"USUBJID": by, "CONF_ADT": used["ADT"], "j": pos})[val.isin(confirming)]
    if left.empty or right.empty:
        return pd.Series(dtype="datetime64[ns]", name="ADT").rename_axis("USUBJID")
    pairs = pd.merge_asof(
        left.sort_values("KEY"),
        right.sort_values("CONF_ADT"),
        left_on="KEY",
        right_on="CONF_ADT",
        by="USUBJID",
        direction="forward",
    ).dropna(subset=["j"])
    i = pairs["i"].to_numpy(dtype=int)
    j = pairs["j"].to_numpy(dtype=int)
    ok = ((cum_bad[j] - cum_bad[i]) == 0) & ((cum_ne[j] - cum_ne[i]) <= max_ne)
    if kind == "PR":
        next_cr = pos.where(val == "CR").shift(-1).bfill().to_numpy()
        has_cr = ~np.isnan(next_cr[i]) & (np.nan_to_num(next_cr[i], nan=-1) <= j)
        k = np.where(has_cr, np.nan_to_num(next_cr[i], nan=0), 0).astype(int)
        ok &= ~(has_cr & ((cum_pr[j] - cum_pr[k]) > 0))
    return pairs.loc[ok].groupby("USUBJID")["ADT"].min()


def _confirmed_in_order(used: pd.DataFrame, subject: np.ndarray, kind: str, *, confirm_days: int,
                        max_ne: int) -> pd.Series:  # fmt: skip
    """:func:`_confirmed` indexed by ``subject`` (an integer code per record), the confirming record found by binary
    search when the records are in order of subject code and date, one record per subject and date, dated at
    midnight (:func:`_analysed` of :func:`derive_ovr`'s records); else :func:`_confirmed` itself."""
    when = used["ADT"].to_numpy(dtype="datetime64[ns]")
    day = np.timedelta64(1, "D").astype("timedelta64[ns]").astype("int64")
    stamps = when.view("int64")
    if np.isnat(when).any() or (stamps % day).any():
        return _confirmed(used, kind, confirm_days=confirm_days, max_ne=max_ne, subject=subject)
    days = stamps // day - (stamps.min(initial=0) // day)
    width = 1 << 22  # days of one subject in the key (subject, date) as one integer: subject * width + day
    key = subject.astype("int64") * width + days
    if days.max(initial=0) + confirm_days >= width or (subject < 0).any() or (np.diff(key) <= 0).any():
        return _confirmed(used, kind, confirm_days=confirm_days, max_ne=max_ne, subject=subject)
    val = used["AVALC"]
    allowed = ["CR", "NE"] if kind == "CR" else ["CR", "PR", "NE"]
    confirming = np.flatnonzero(val.isin(["CR"] if kind == "CR" else ["CR", "PR"]).to_numpy())
    cum_bad = (~val.isin(allowed)).cumsum().to_numpy()
    cum_ne = (val == "NE").cumsum().to_numpy()
    cum_pr = (val == "PR").cumsum().to_numpy()
    i = np.flatnonzero((val == kind).to_numpy())
    # the first confirming record of the subject at least confirm_days later (merge_asof forward, by subject)
    found = np.searchsorted(key[confirming], key[i] + confirm_days, side="left")
    i, found = i[found < len(confirming)], found[found < len(confirming)]
    j = confirming[found]
    i, j = i[subject[j] == subject[i]], j[subject[j] == subject[i]]
    ok = ((cum_bad[j] - cum_bad[i]) == 0) & ((cum_ne[j] - cum_ne[i]) <= max_ne)
    if kind == "PR":  # no PR after a CR in (i, j]: the first CR after i
        crs = np.flatnonzero((val == "CR").to_numpy())
        after = np.searchsorted(crs, i, side="right")
        has_cr = after < len(crs)
        next_cr = crs[np.minimum(after, len(crs) - 1)] if len(crs) else np.zeros(len(i), dtype="int64")
        has_cr &= next_cr <= j
        k = np.where(has_cr, next_cr, 0)
        ok &= ~(has_cr & ((cum_pr[j] - cum_pr[k]) > 0))
    return pd.Series(when[i[ok]], name="ADT").groupby(subject[i[ok]]).min()


def _pick(subjects: pd.Series, events: Sequence[tuple[str, pd.Series]], fallback: str | None) -> pd.DataFrame:
    """For each subject the first listed event that occurred (its earliest date), else ``fallback``."""
    avalc = pd.Series(pd.NA, index=subjects.index, dtype="object")
    adt = pd.Series(pd.NaT, index=subjects.index, dtype="datetime64[ns]")
    for value, dates in events:  # a handful of events, not a loop over patients
        when = subjects.map(dates)
        hit = avalc.isna() & when.notna()
        avalc = avalc.mask(hit, value)
        adt = adt.mask(hit, when)
    if fallback is not None:
        avalc = avalc.fillna(fallback)
    return pd.DataFrame({"USUBJID": subjects, "AVALC": avalc, "ADT": adt})


class _Subjects:
    """The ADSL subjects (``names``, in ADSL order) and, per record of a frame, its subject's position among them
    (-1: not an ADSL subject): per-subject dates are then arrays aligned with the subjects, found with integer
    positions instead of USUBJID text."""

    def __init__(self, names: pd.Series) -> None:
        self.names = names
        self.index = pd.Index(names)

    def coded(self, usubjid: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Each record's subject as a code (-1: USUBJID missing) and, per code, its position among the subjects
        (-1: not an ADSL subject; one -1 appended, which code -1 indexes); each distinct USUBJID looked up once."""
        codes, distinct = pd.factorize(usubjid)
        return codes, np.append(self.index.get_indexer(distinct), -1)

    def positions(self, usubjid: pd.Series) -> np.ndarray:
        codes, position = self.coded(usubjid)
        return position[codes]

    def earliest(self, at: np.ndarray, dates: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Per subject the earliest of ``dates`` (datetime64[ns]) among the records where ``mask`` holds; NaT when
        there is none."""
        stamps = dates.view("int64")
        keep = mask & (at >= 0) & ~np.isnat(dates)
        out = np.full(len(self.names), _NO_DATE, dtype="int64")
        np.minimum.at(out, at[keep], stamps[keep])
        return _as_dates(out)

    def pick(self, events: Sequence[tuple[str, np.ndarray]], fallback: str) -> pd.DataFrame:
        """:func:`_pick` of dates aligned with the subjects."""
        avalc = np.full(len(self.names), fallback, dtype=object)
        adt = np.full(len(self.names), np.datetime64("NaT"), dtype="datetime64[ns]")
        found = np.zeros(len(self.names), dtype=bool)
        for value, dates in events:  # a handful of events, not a loop over patients
            hit = ~found & ~np.isnat(dates)
            avalc[hit], adt[hit] = value, dates[hit]
            found |= hit
        return pd.DataFrame({"USUBJID": self.names, "AVALC": avalc, "ADT": adt})


def _as_dates(stamps: np.ndarray) -> np.ndarray:
    """int64 nanoseconds as datetime64[ns], ``_NO_DATE`` as NaT."""
    return np.where(stamps == _NO_DATE, np.iinfo(np.int64).min, stamps).view("datetime64[ns]")


def _earliest_of(*dates: np.ndarray) -> np.ndarray:
    """Elementwise the earliest of aligned dates, NaT only where all are NaT."""
    stamps = [np.where(np.isnat(d), _NO_DATE, d.view("int64")) for d in dates]
    return _as_dates(np.minimum.reduce(stamps))


def _aligned(dates: pd.Series, position: np.ndarray, size: int) -> np.ndarray:
    """Dates indexed by subject code as an array of ``size`` subjects, code c going to ``position[c]`` (-1: none)."""
    out = np.full(size, np.datetime64("NaT"), dtype="datetime64[ns]")
    at = position[dates.index.to_numpy(dtype="int64")]
    keep = at >= 0
    out[at[keep]] = dates.to_numpy(dtype="datetime64[ns]")[keep]
    return out


def derive_response_params(
    ovr: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    reference_date: str = "RANDDT",
    evaluator: str | None = "INVESTIGATOR",
    window_days: int = 42,
    confirm_days: int = 28,
    max_ne: int = 1,
) -> pd.DataFrame:
    """Per-subject parameters PD, RSP, CB, BOR, BCP, CRSP, CCB, CBOR, CBCP, DEATH, LSTA for every ADSL subject.

    Parameters
    ----------
    ovr : DataFrame
        Output of :func:`derive_ovr` (``ANL01FL``/``ANL02FL`` choose the records used).
    adsl : DataFrame
        ``USUBJID``, ``reference_date`` and, for DEATH, ``DTHDT``.
    reference_date : str
        ADSL column from which ``window_days`` is counted.
    evaluator : str or None
        Only used in the PARAM labels.
    window_days : int
        CR/PR/SD (as SD) and NON-CR/NON-PD count for BOR, CBOR and clinical benefit only on or after
        reference + ``window_days``; earlier ones give NE.
    confirm_days, max_ne : int
        Confirmation of CR/PR: a confirming record at least ``confirm_days`` later, at most ``max_ne`` NE between.

    Returns
    -------
    DataFrame
        ``USUBJID, PARAMCD, PARAM, AVALC, AVAL, ADT, ANL01FL`` (``ANL01FL`` is "Y"; Y/N parameters have AVAL
        1/0, BOR, CBOR and LSTA the codes of ``AVAL_RESP``).
    """
    ref = _reference(adsl, reference_date)
    subjects = _Subjects(pd.Series(ref.index, name="USUBJID"))
    used = _analysed(ovr)
    code, position = subjects.coded(used["USUBJID"])  # each record's subject: a code, and its ADSL position
    at = position[code]
    adt = used["ADT"].to_numpy(dtype="datetime64[ns]")
    kinds, names = pd.factorize(used["AVALC"])  # each response compared as a small integer

    def val(*responses: str) -> np.ndarray:
        return np.isin(kinds, [n for n, name in enumerate(names) if name in responses])

    window = ref.to_numpy(dtype="datetime64[ns]") + np.timedelta64(window_days, "D")
    in_window = (at >= 0) & (adt >= np.where(at >= 0, window[at], np.datetime64("NaT")))

    def first(mask: np.ndarray) -> np.ndarray:
        return subjects.earliest(at, adt, mask)

    first_cr, first_pr = first(val("CR")), first(val("PR"))
    sd = first(val("CR", "PR", "SD") & in_window)
    non = first(val("NON-CR/NON-PD") & in_window)
    pdd = first(val("PD"))
    ne = first(val(*_BENEFIT, "NE"))
    rsp = first(val("CR", "PR"))
    benefit = first(val(*_BENEFIT) & in_window)
    conf_cr, conf_pr = (
        _aligned(_confirmed_in_order(used, code, kind, confirm_days=confirm_days, max_ne=max_ne), position, len(ref))
        for kind in ("CR", "PR")
    )
    crsp = _earliest_of(conf_cr, conf_pr)
    tail = [("SD", sd), ("NON-CR/NON-PD", non), ("PD", pdd), ("NE", ne)]
    del used, code, in_window  # the analysed records: 1M+ rows

    read = [c for c in ovr.columns if c in ("USUBJID", "AVALC", "ADT", "RSSEQ")]  # not every OVR column: 1M+ rows
    anl01 = ovr.loc[ovr["ANL01FL"] == "Y", read].assign(ADT=lambda d: _dates(d["ADT"]))
    anl01["AT"] = subjects.positions(anl01["USUBJID"])
    # LSTA: each subject's last record by date and RSSEQ (missing last), ties in OVR order
    order = ["AT", "ADT"] + (["RSSEQ"] if "RSSEQ" in anl01 else [])
    last = anl01.sort_values(order, kind="stable").drop_duplicates("AT", keep="last")
    last = last[last["AT"] >= 0]
    lsta_avalc = np.full(len(ref), np.nan, dtype=object)
    lsta_avalc[last["AT"].to_numpy()] = last["AVALC"].to_numpy()
    lsta_adt = np.full(len(ref), np.datetime64("NaT"), dtype="datetime64[ns]")
    lsta_adt[last["AT"].to_numpy()] = last["ADT"].to_numpy(dtype="datetime64[ns]")
    lsta = pd.DataFrame({"USUBJID": subjects.names, "AVALC": lsta_avalc, "ADT": lsta_adt})
    if "DTHDT" in adsl:  # ADSL's subjects in their order, as ref
        death = _dates(adsl.drop_duplicates("USUBJID")["DTHDT"]).to_numpy(dtype="datetime64[ns]")
    else:
        death = np.full(len(subjects.names), np.datetime64("NaT"), dtype="datetime64[ns]")
    progressed = subjects.earliest(anl01["AT"].to_numpy(), anl01["ADT"].to_numpy(dtype="datetime64[ns]"),
                                   (anl01["AVALC"] == "PD").to_numpy(dtype=bool, na_value=False))  # fmt: skip
    del anl01, last

    def responders(best: pd.DataFrame) -> np.ndarray:
        return np.where(best["AVALC"].isin(["CR", "PR"]).to_numpy(), best["ADT"].to_numpy(), np.datetime64("NaT"))

    pick = subjects.pick
    bor = pick([("CR", first_cr), ("PR", first_pr), *tail], "MISSING")
    cbor = pick([("CR", conf_cr), ("PR", conf_pr), *tail], "MISSING")
    params = {
        "PD": pick([("Y", progressed)], "N"),
        "RSP": pick([("Y", rsp)], "N"),
        "CB": pick([("Y", _earliest_of(rsp, benefit))], "N"),
        "BOR": bor,
        "BCP": pick([("Y", responders(bor))], "N"),
        "CRSP": pick([("Y", crsp)], "N"),
        "CCB": pick([("Y", _earliest_of(crsp, benefit))], "N"),
        "CBOR": cbor,
        "CBCP": pick([("Y", responders(cbor))], "N"),
        "DEATH": pick([("Y", death)], "N"),
        "LSTA": lsta,
    }
    frames = []
    columns = ["USUBJID", "PARAMCD", "PARAM", "AVALC", "AVAL", "ADT", "ANL01FL"]
    for paramcd, frame in params.items():  # eleven parameters, each built for all subjects at once
        aval = frame["AVALC"].map({"Y": 1, "N": 0} if paramcd not in ("BOR", "CBOR", "LSTA") else AVAL_RESP)
        frames.append(frame.assign(PARAMCD=paramcd, PARAM=_label(paramcd, evaluator), AVAL=aval.astype("float64"),
                                   ANL01FL="Y")[columns])  # fmt: skip
    return pd.concat(frames, ignore_index=True)  # one copy of the eleven, in their columns' order


def derive_adrs(
    rs: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    reference_date: str = "RANDDT",
    evaluator: str | None = "INVESTIGATOR",
    testcd: str = "OVRLRESP",
    criteria: Sequence[str] | None = RECIST_CRITERIA,
    date_imputation: str = "last",
    worst_order: Sequence[str] = WORST_ORDER,
    truncate_at_first_pd: bool = True,
    window_days: int = 42,
    confirm_days: int = 28,
    max_ne: int = 1,
    metabolic: bool | None = None,
    irecist: bool | None = None,
) -> pd.DataFrame:
    """Derive ADRS: the OVR records of :func:`derive_ovr` plus the parameters of :func:`derive_response_params`.

    Keywords are those of the two functions. BOR, CBOR and the other RECIST parameters use the ``criteria``
    records only (RECIST 1.1 and investigator calls). ``metabolic`` adds the PERCIST parameters (``MOVR``
    records and ``MBOR``) and ``irecist`` the iRECIST ones (``IOVR`` records and ``IBOR``) from
    :mod:`tkitrack.outcomes.response_criteria`; None (default) adds each when RS holds records of those criteria.
    Rows are ordered by subject, PARAMCD, ADT, VISITNUM, RSSEQ and numbered in ``ASEQ`` per subject (admiral's
    order).

    Examples
    --------
    >>> adsl = pd.DataFrame({"USUBJID": ["P1"], "RANDDT": pd.to_datetime(["2020-01-01"])})
    >>> rs = pd.DataFrame({"USUBJID": ["P1"] * 2, "RSTESTCD": "OVRLRESP", "RSEVAL": "INVESTIGATOR",
    ...                    "RSSTRESC": ["PR", "CR"], "RSDTC": ["2020-02-12", "2020-03-11"]})
    >>> adrs = derive_adrs(rs, adsl)
    >>> adrs.set_index("PARAMCD").loc[["BOR", "CBOR", "RSP", "CRSP"], "AVALC"].tolist()
    ['CR', 'PR', 'Y', 'Y']
    """
    pieces = adrs_pieces(rs, adsl, reference_date=reference_date, evaluator=evaluator, testcd=testcd,
                         criteria=criteria, date_imputation=date_imputation, worst_order=worst_order,
                         truncate_at_first_pd=truncate_at_first_pd, window_days=window_days,
                         confirm_days=confirm_days, max_ne=max_ne, metabolic=metabolic, irecist=irecist)  # fmt: skip
    return adrs_in_order(pieces)


def adrs_pieces(
    rs: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    reference_date: str = "RANDDT",
    evaluator: str | None = "INVESTIGATOR",
    testcd: str = "OVRLRESP",
    criteria: Sequence[str] | None = RECIST_CRITERIA,
    date_imputation: str = "last",
    worst_order: Sequence[str] = WORST_ORDER,
    truncate_at_first_pd: bool = True,
    window_days: int = 42,
    confirm_days: int = 28,
    max_ne: int = 1,
    metabolic: bool | None = None,
    irecist: bool | None = None,
) -> list[pd.DataFrame]:
    """The parts of :func:`derive_adrs` (its keywords) before they are put together by :func:`adrs_in_order`:
    everything that reads ``rs``, so that a caller can let go of RS (a registry's: a million rows) first."""
    ovr = derive_ovr(
        rs,
        adsl,
        reference_date=reference_date,
        evaluator=evaluator,
        testcd=testcd,
        criteria=criteria,
        date_imputation=date_imputation,
        worst_order=worst_order,
        truncate_at_first_pd=truncate_at_first_pd,
    )
    params = derive_response_params(
        ovr,
        adsl,
        reference_date=reference_date,
        evaluator=evaluator,
        window_days=window_days,
        confirm_days=confirm_days,
        max_ne=max_ne,
    )
    from tkitrack.outcomes.response_criteria import derive_irecist_response, derive_metabolic_response

    other = []
    for wanted, rscat, derive in ((metabolic, "PERCIST", derive_metabolic_response),
                                  (irecist, "IRECIST", derive_irecist_response)):  # fmt: skip
        present = "RSCAT" in rs.columns and bool(_criteria_mask(rs["RSCAT"], [rscat]).any())
        if wanted or (wanted is None and present):
            other.append(derive(rs, adsl, reference_date=reference_date, evaluator=evaluator, testcd=testcd,
                                date_imputation=date_imputation, window_days=window_days))  # fmt: skip
    return [params, ovr, *other]


def adrs_in_order(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    """ADRS of :func:`adrs_pieces`, which it takes over (the list is emptied: each piece is let go of once put
    together): rows ordered by subject, PARAMCD, ADT, VISITNUM, RSSEQ and numbered in ``ASEQ`` per subject."""
    out = pd.concat(pieces, ignore_index=True)
    pieces.clear()
    order = ["USUBJID", "PARAMCD", "ADT"] + [c for c in ("VISITNUM", "RSSEQ") if c in out.columns]
    # the order from the key columns alone, then every column taken once (millions of rows at registry scale:
    # sort_values().reset_index() copies the whole frame twice)
    rows = out[order].sort_values(order, kind="stable", na_position="last").index.to_numpy()
    out = out.take(rows)
    out.index = pd.RangeIndex(len(out))
    out.insert(1, "ASEQ", out.groupby("USUBJID").cumcount() + 1)
    return out


def derive_time_to_response(
    adrs: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    reference_date: str = "RANDDT",
    paramcd: str = "RSP",
) -> pd.DataFrame:
    """Time to response of the responders: days from the reference date to the first response, ``end - start + 1``.

    Parameters
    ----------
    adrs : DataFrame
        ADRS with the response parameter ``paramcd`` (``RSP``; ``CRSP`` for confirmed responses).
    adsl : DataFrame
        ``USUBJID`` and ``reference_date``.

    Returns
    -------
    DataFrame
        ``USUBJID, STARTDT, ADT, AVAL`` (AVAL in days), one row per subject with ``AVALC == "Y"``.
    """
    _require(adrs, ["USUBJID", "PARAMCD", "AVALC", "ADT"], "ADRS")
    ref = _reference(adsl, reference_date)
    resp = adrs.loc[(adrs["PARAMCD"] == paramcd) & (adrs["AVALC"] == "Y"), ["USUBJID", "ADT"]]
    resp = resp.drop_duplicates("USUBJID").reset_index(drop=True)
    start = resp["USUBJID"].map(ref)
    adt = _dates(resp["ADT"])
    aval = (adt - start).dt.days + 1
    return pd.DataFrame({"USUBJID": resp["USUBJID"], "STARTDT": start, "ADT": adt, "AVAL": aval})
