"""Time-to-event parameters (OS, PFS, duration of response) as ADTTE, from event and censoring sources given as data.

As admiral's ``derive_param_tte()``: each source names a dataset, a filter, a date column and the values it
sets (EVNTDESC, CNSDTDSC, SRCDOM, SRCVAR, SRCSEQ). A subject's event is the earliest event date (ties go to the
first listed event source); without an event, the subject is censored at the latest censoring date (ties go to
the last listed censoring source, as admiral does). ``AVAL = ADT - STARTDT + 1`` days; ``CNSR`` 0 is an event.
The predefined sources reproduce admiralonco's ``death_event``, ``pd_event``, ``lastalive_censor``,
``lasta_censor``, ``rand_censor`` and ``trts_censor``, checked against ``pharmaverseadam::adtte_onco``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from tkitrack.outcomes.adsl import Reference, derive_adsl
from tkitrack.outcomes.response import adrs_in_order, adrs_pieces
from tkitrack.schemas.dates import as_datetime
from tkitrack.schemas.errors import InputError

__all__ = [
    "DEATH_EVENT",
    "DISEASE_EVENT",
    "LASTALIVE_CENSOR",
    "LASTA_CENSOR",
    "NO_DISEASE_EVENTS",
    "OS",
    "PD_EVENT",
    "PFS",
    "RAND_CENSOR",
    "RSD",
    "TRTS_CENSOR",
    "TTE_COLUMNS",
    "Endpoint",
    "TteSource",
    "derive_adam",
    "derive_adam_of",
    "derive_duration_of_response",
    "derive_param_tte",
]

TTE_COLUMNS = (
    "USUBJID",
    "PARAMCD",
    "PARAM",
    "STARTDT",
    "ADT",
    "AVAL",
    "CNSR",
    "EVNTDESC",
    "CNSDTDSC",
    "SRCDOM",
    "SRCVAR",
    "SRCSEQ",
)


@dataclass(frozen=True)
class TteSource:
    """Where an event or a censoring date comes from (admiral's ``event_source`` / ``censor_source``).

    Attributes
    ----------
    dataset_name : str
        Key of the dataset in ``source_datasets`` (``"adsl"`` is always the ADSL passed in).
    date : str
        Column holding the date.
    filter : str or None
        A :meth:`pandas.DataFrame.eval` expression selecting the rows (missing values count as False), e.g. ``'PARAMCD == "PD" and AVALC == "Y"'``.
    cnsr : int
        0 for an event, 1 (or another positive code) for a censoring.
    evntdesc, cnsdtdsc, srcdom, srcvar : str or None
        Values written to EVNTDESC, CNSDTDSC, SRCDOM, SRCVAR.
    srcseq : str or None
        Column of the dataset copied to SRCSEQ (for ADRS: ``ASEQ``).
    """

    dataset_name: str
    date: str
    filter: str | None = None
    cnsr: int = 0
    evntdesc: str | None = None
    cnsdtdsc: str | None = None
    srcdom: str | None = None
    srcvar: str | None = None
    srcseq: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """A time-to-event parameter: its code and label, and its event and censoring sources, in priority order."""

    paramcd: str
    param: str
    event_sources: tuple[TteSource, ...]
    censor_sources: tuple[TteSource, ...]


DEATH_EVENT = TteSource(
    "adrs", "ADT", 'PARAMCD == "DEATH" and AVALC == "Y" and ANL01FL == "Y"', 0, "Death", None, "ADRS", "ADT", "ASEQ"
)
PD_EVENT = TteSource(
    "adrs",
    "ADT",
    'PARAMCD == "PD" and AVALC == "Y" and ANL01FL == "Y"',
    0,
    "Disease Progression",
    None,
    "ADRS",
    "ADT",
    "ASEQ",
)
LASTALIVE_CENSOR = TteSource("adsl", "LSTALVDT", None, 1, "Alive", "Alive During Study", "ADSL", "LSTALVDT")
LASTA_CENSOR = TteSource(
    "adrs",
    "ADT",
    'PARAMCD == "LSTA" and ANL01FL == "Y"',
    1,
    "Last Tumor Assessment",
    "Last Tumor Assessment",
    "ADRS",
    "ADT",
    "ASEQ",
)
RAND_CENSOR = TteSource("adsl", "RANDDT", None, 1, "Randomization", "Randomization", "ADSL", "RANDDT")
TRTS_CENSOR = TteSource("adsl", "TRTSDT", None, 1, "Treatment Start", "Treatment Start", "ADSL", "TRTSDT")

#: A disease event (recurrence, progression, metastasis; SDTM CE) after day 1: progression as much as a PD response.
DISEASE_EVENT = TteSource("adce", "ADT", 'ANL01FL == "Y"', 0, "Disease Event", None, "CE", "CESTDTC", "CESEQ")
#: The ``adce`` source dataset when there are no disease events.
NO_DISEASE_EVENTS = pd.DataFrame(
    {
        "USUBJID": pd.Series(dtype="object"),
        "CESEQ": pd.Series(dtype="float64"),
        "ADT": pd.Series(dtype="datetime64[ns]"),
        "ANL01FL": pd.Series(dtype="object"),
    }
)

OS = Endpoint("OS", "Overall Survival", (DEATH_EVENT,), (LASTALIVE_CENSOR, RAND_CENSOR))
PFS = Endpoint("PFS", "Progression Free Survival", (PD_EVENT, DISEASE_EVENT, DEATH_EVENT), (LASTA_CENSOR, RAND_CENSOR))
RSD = Endpoint("RSD", "Duration of Response", (PD_EVENT, DISEASE_EVENT, DEATH_EVENT), (LASTA_CENSOR,))


def _require(frame: pd.DataFrame, columns: Iterable[str], dataset: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{dataset} has no column {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}. "
            f"Rename the column or point the source at another dataset."
        )


def _collect(sources: Sequence[TteSource], datasets: Mapping[str, pd.DataFrame], subjects: pd.Index) -> pd.DataFrame:
    """One row per dated record of every source: USUBJID, ADT, SRCSEQ, NR (the source's position) and AT (the
    position of the subject in ``subjects``)."""
    parts = [
        pd.DataFrame(
            {
                "USUBJID": pd.Series(dtype="object"),
                "ADT": pd.Series(dtype="datetime64[ns]"),
                "SRCSEQ": pd.Series(dtype="float64"),
                "NR": pd.Series(dtype="int64"),
                "AT": pd.Series(dtype="int64"),
            }
        )
    ]
    for nr, src in enumerate(sources):  # a few sources, not a loop over patients
        if src.dataset_name not in datasets:
            raise InputError(
                f"source dataset '{src.dataset_name}' (for {src.evntdesc or src.date}) was not given; "
                f"pass it in source_datasets (have: {', '.join(datasets)})"
            )
        data = datasets[src.dataset_name]
        _require(data, ["USUBJID", src.date] + ([src.srcseq] if src.srcseq else []), f"dataset '{src.dataset_name}'")
        if src.filter:
            try:
                keep = pd.Series(data.eval(src.filter, engine="python"), index=data.index)
            except Exception as exc:  # pandas raises many types for a bad expression
                raise InputError(f"filter {src.filter!r} of source '{src.evntdesc}' cannot be applied: {exc}") from exc
            data = data[keep.astype("boolean").fillna(False).astype(bool)]
        seq = pd.to_numeric(data[src.srcseq], errors="coerce") if src.srcseq else pd.Series(float("nan"), data.index)
        rows = pd.DataFrame(
            {
                "USUBJID": data["USUBJID"].astype("object").to_numpy(),
                "ADT": as_datetime(data[src.date], errors="coerce").astype("datetime64[ns]").to_numpy(),
                "SRCSEQ": seq.astype("float64").to_numpy(),
                "NR": nr,
                "AT": subjects.get_indexer(data["USUBJID"]),
            }
        )
        parts.append(rows[rows["ADT"].notna().to_numpy() & (rows["AT"] >= 0).to_numpy()])
    return pd.concat(parts, ignore_index=True).astype({"NR": "int64", "AT": "int64"})


def _one_per_subject(rows: pd.DataFrame, keys: list[str], *, last: bool) -> pd.DataFrame:
    """The first (or last) row of each subject (AT) in the order of ``keys`` (integer or datetime columns without
    missing values), equal keys in the order of ``rows``."""
    order = np.lexsort([rows[k].to_numpy().view("int64") for k in reversed(["AT", *keys])])  # stable
    at = rows["AT"].to_numpy()[order]
    change = at[1:] != at[:-1]
    keep = np.r_[change, True] if last else np.r_[True, change]
    return rows.iloc[order[keep[: len(order)]]]


def _describe(chosen: pd.DataFrame, sources: Sequence[TteSource]) -> pd.DataFrame:
    """Add CNSR, EVNTDESC, CNSDTDSC, SRCDOM, SRCVAR of the source each chosen row came from."""
    table = pd.DataFrame(
        [(s.cnsr, s.evntdesc, s.cnsdtdsc, s.srcdom, s.srcvar) for s in sources],
        columns=["CNSR", "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR"],
        dtype="object",
    )
    described = table.reindex(chosen["NR"].to_numpy()).reset_index(drop=True)
    return pd.concat([chosen.reset_index(drop=True), described], axis=1)


def derive_param_tte(
    adsl: pd.DataFrame,
    *,
    event_sources: Sequence[TteSource],
    censor_sources: Sequence[TteSource],
    paramcd: str,
    param: str | None = None,
    start_date: str = "RANDDT",
    source_datasets: Mapping[str, pd.DataFrame] | None = None,
    censor_ties: Literal["last", "first"] = "last",
    add_one: bool = True,
    events_from_start: bool = True,
) -> pd.DataFrame:
    """Derive one time-to-event parameter for the ADSL subjects that have an event or a censoring date.

    Parameters
    ----------
    adsl : DataFrame
        Subjects (``USUBJID``) and the ``start_date`` column; also the ``"adsl"`` source dataset.
    event_sources, censor_sources : sequence of TteSource
        Events (``cnsr == 0``) and censorings (``cnsr > 0``) in priority order.
    paramcd, param : str
        PARAMCD and PARAM of the new rows (PARAM defaults to PARAMCD).
    start_date : str
        ADSL column of the time origin, copied to STARTDT.
    source_datasets : mapping of str to DataFrame, optional
        Datasets the sources name (e.g. ``{"adrs": adrs}``).
    censor_ties : {"last", "first"}
        Which censoring source wins when two give the same latest date (admiral: the last listed).
    add_one : bool
        ``AVAL = ADT - STARTDT + 1`` days when True (admiral's ``derive_vars_duration`` default), else without +1.
    events_from_start : bool
        Events dated before the subject's STARTDT are not events of this parameter (a disease event before the
        first response is no end of that response); False keeps them (admiral does not filter).

    Returns
    -------
    DataFrame
        ``TTE_COLUMNS``: one row per subject with a ``start_date`` (no origin, no row), ordered as in ADSL.

    Examples
    --------
    >>> adsl = pd.DataFrame({"USUBJID": ["P1", "P2"], "RANDDT": pd.to_datetime(["2020-01-01", "2020-01-01"]),
    ...                      "DTHDT": pd.to_datetime(["2020-03-01", None]),
    ...                      "LSTALVDT": pd.to_datetime(["2020-03-01", "2020-06-30"])})
    >>> death = TteSource("adsl", "DTHDT", "DTHDT.notna()", 0, "Death", None, "ADSL", "DTHDT")
    >>> os_ = derive_param_tte(adsl, event_sources=[death], censor_sources=[LASTALIVE_CENSOR], paramcd="OS")
    >>> os_[["USUBJID", "AVAL", "CNSR"]].values.tolist()
    [['P1', 61, 0], ['P2', 182, 1]]
    """
    _require(adsl, ["USUBJID", start_date], "ADSL")
    if any(s.cnsr != 0 for s in event_sources) or any(s.cnsr == 0 for s in censor_sources):
        raise InputError("event sources need cnsr=0 and censoring sources cnsr>0; check the TteSource definitions")
    datasets = {**(source_datasets or {}), "adsl": adsl}
    base = adsl.drop_duplicates("USUBJID")
    subjects = pd.Index(base["USUBJID"])  # a subject is its position (AT) here: integers sort and match fast

    events = _collect(event_sources, datasets, subjects)
    if events_from_start:
        origin = as_datetime(base[start_date], errors="coerce").to_numpy(dtype="datetime64[ns]")
        events = events[~(events["ADT"].to_numpy() < origin[events["AT"].to_numpy()])]
    events = _describe(_one_per_subject(events, ["ADT", "NR"], last=False), event_sources)
    censors = _collect(censor_sources, datasets, subjects)
    tie = censors["NR"] if censor_ties == "last" else -censors["NR"]
    censors = _one_per_subject(censors.assign(TIE=tie), ["ADT", "TIE"], last=True).drop(columns="TIE")
    censors = _describe(censors, censor_sources)
    has_event = np.zeros(len(subjects), dtype=bool)
    has_event[events["AT"].to_numpy()] = True
    chosen = pd.concat([events, censors[~has_event[censors["AT"].to_numpy()]]], ignore_index=True)
    row = np.full(len(subjects), -1)  # each subject's chosen row
    row[chosen["AT"].to_numpy()] = np.arange(len(chosen))

    out = base.loc[row >= 0, ["USUBJID", start_date]].reset_index(drop=True)
    out = out.rename(columns={start_date: "STARTDT"})
    out["STARTDT"] = as_datetime(out["STARTDT"], errors="coerce").astype("datetime64[ns]")
    dated = out["STARTDT"].notna().to_numpy()
    out = out[dated].reset_index(drop=True)  # no origin, no row
    picked = chosen.iloc[row[row >= 0][dated]].reset_index(drop=True)
    out["PARAMCD"], out["PARAM"] = paramcd, param or paramcd
    for column in ("ADT", "CNSR", "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR", "SRCSEQ"):
        out[column] = picked[column].to_numpy()
    out["ADT"] = out["ADT"].astype("datetime64[ns]")
    out["CNSR"] = out["CNSR"].astype("int64")
    days = (out["ADT"] - out["STARTDT"]).dt.days
    out["AVAL"] = (days + (1 if add_one else 0)).astype("Int64")
    return out[list(TTE_COLUMNS)]


def derive_duration_of_response(
    adsl: pd.DataFrame,
    adrs: pd.DataFrame,
    *,
    endpoint: Endpoint = RSD,
    response_paramcd: str = "RSP",
    events: pd.DataFrame | None = None,
    **kwargs,
) -> pd.DataFrame:
    """Duration of response: from the first response (``response_paramcd`` Y) to progression or death, else
    censored.

    Only responders get a row. ``events`` are the disease events (``adce``, see
    :func:`tkitrack.outcomes.case_series.derive_disease_events`). ``kwargs`` go to :func:`derive_param_tte`
    (``censor_ties``, ``add_one``).
    """
    _require(adrs, ["USUBJID", "PARAMCD", "AVALC", "ADT"], "ADRS")
    resp = adrs.loc[(adrs["PARAMCD"] == response_paramcd) & (adrs["AVALC"] == "Y")]
    respdt = pd.to_datetime(resp.drop_duplicates("USUBJID").set_index("USUBJID")["ADT"])
    responders = adsl.loc[adsl["USUBJID"].isin(respdt.index)]
    responders = responders.assign(RESPDT=responders["USUBJID"].map(respdt))
    return derive_param_tte(
        responders,
        event_sources=endpoint.event_sources,
        censor_sources=endpoint.censor_sources,
        paramcd=endpoint.paramcd,
        param=endpoint.param,
        start_date="RESPDT",
        source_datasets={"adrs": adrs, "adce": NO_DISEASE_EVENTS if events is None else events},
        **kwargs,
    )


def derive_adam(
    sdtm: Mapping[str, pd.DataFrame],
    *,
    lstalvdt: pd.DataFrame | pd.Series | Mapping | None = None,
    reference: Reference = "RANDDT",
    index_drug: str | None = None,
    stop_reasons: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Derive ADSL, ADRS and ADTTE (OS, PFS, RSD, TTR, TTD, TFI, RFSSTP) from SDTM domains.

    Parameters
    ----------
    sdtm : mapping of str to DataFrame
        ``"dm"`` (required), ``"ds"``, ``"ex"`` (with ``"suppex"``: DISCFL, ENDRSN), ``"rs"`` (overall
        responses; without it every subject's BOR is MISSING), ``"ce"`` (disease events), ``"ss"`` (with
        ``"suppss"`` DISSTAT: follow-up contacts). Keys are matched case-insensitively.
    lstalvdt : DataFrame, Series or mapping, optional
        Last known alive date per subject (see :func:`~tkitrack.outcomes.adsl.derive_adsl`); when None and SS
        is given, the latest SS contact of each subject.
    reference : {"RANDDT", "TRTSDT"}
        Time origin of the response window, PFS, OS and TTR, and the censoring date of subjects with nothing
        later.
    index_drug : str, optional
        The index therapy (:func:`~tkitrack.outcomes.courses.derive_index_therapy`): None is the first
        kinase-inhibitor course, whose first dose is TRTSDT (a case series); when no subject has a kinase
        inhibitor, the first course of any drug, TRTSDT staying admiral's first dose of study treatment.
    stop_reasons : sequence of str, optional
        RFSSTP only for index courses discontinued for these reasons (``complete_response``, ``toxicity``...).

    Returns
    -------
    dict
        ``{"adsl": ..., "adrs": ..., "adtte": ...}``.
    """
    return derive_adam_of(
        {str(k).lower(): v for k, v in sdtm.items()},
        lstalvdt=lstalvdt,
        reference=reference,
        index_drug=index_drug,
        stop_reasons=stop_reasons,
    )


def derive_adam_of(
    domains: dict[str, pd.DataFrame],
    *,
    lstalvdt: pd.DataFrame | pd.Series | Mapping | None = None,
    reference: Reference = "RANDDT",
    index_drug: str | None = None,
    stop_reasons: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`derive_adam` of ``domains`` (SDTM datasets by lower-case name), which it takes over: each dataset is
    removed from ``domains`` once nothing left to derive reads it, so that a caller who holds no other reference
    (:func:`tkitrack.outcomes.cohort.derive_adam_from_records`) does not keep every SDTM dataset of a registry in
    memory while ADRS is derived."""
    from tkitrack.outcomes.case_series import derive_case_series_tte, derive_disease_events, derive_ned_contacts
    from tkitrack.outcomes.courses import ANY_DRUG, derive_courses, derive_exposure_from_ex, derive_index_therapy

    if "dm" not in domains:
        raise InputError(f"SDTM domain 'dm' is required to derive ADaM; given: {', '.join(domains) or 'none'}")
    courses = derive_courses(derive_exposure_from_ex(domains))
    index = derive_index_therapy(courses, index_drug=index_drug)
    first_dose = index.set_index("patient_id")["index_start"]
    if index_drug is None and index.empty:  # no kinase inhibitor in the data: a trial of another treatment
        index, first_dose = derive_index_therapy(courses, index_drug=ANY_DRUG), None
    if lstalvdt is None and "ss" in domains:
        lstalvdt = _last_contact(domains)
    adsl = derive_adsl(domains["dm"], domains.get("ds"), domains.get("ex"), lstalvdt=lstalvdt, reference=reference,
                       trtsdt=first_dose)  # fmt: skip
    for name in ("dm", "ds", "ex", "suppex", "ae"):  # read only for the courses, ADSL and the last contact
        domains.pop(name, None)
    rs = domains.pop("rs", None)
    if rs is None:
        rs = pd.DataFrame(columns=["USUBJID", "RSTESTCD", "RSSTRESC", "RSEVAL", "RSDTC"])
    events = derive_disease_events(domains, adsl)  # CE, SS and SUPPSS read: let go of before ADRS is derived
    ned = derive_ned_contacts(domains)
    domains.clear()
    pieces = adrs_pieces(rs, adsl, reference_date=reference)
    del rs  # before the pieces are put together: ADRS is the largest of all
    adrs = adrs_in_order(pieces)
    origin = RAND_CENSOR if reference == "RANDDT" else TRTS_CENSOR
    # the ADRS rows OS, PFS and RSD read (their sources' PARAMCDs, and the responses): a fifth of ADRS, each source
    # filtering it rather than the millions of rows
    read = adrs[adrs["PARAMCD"].isin(["DEATH", "PD", "LSTA", "RSP"])]
    sets = {"adrs": read, "adce": events}
    frames = []
    for endpoint in (OS, PFS):  # two endpoints, each derived for all subjects at once
        censors = tuple(origin if s in (RAND_CENSOR, TRTS_CENSOR) else s for s in endpoint.censor_sources)
        frames.append(derive_param_tte(adsl, event_sources=endpoint.event_sources, censor_sources=censors,
                                       paramcd=endpoint.paramcd, param=endpoint.param, start_date=reference,
                                       source_datasets=sets))  # fmt: skip
    frames.append(derive_duration_of_response(adsl, read, events=events))
    del read
    frames.append(derive_case_series_tte(adsl, adrs, courses, index, events, ned,
                                         origin_censor=origin, stop_reasons=stop_reasons))  # fmt: skip
    adtte = pd.concat(frames, ignore_index=True)
    del frames
    order = {code: n for n, code in enumerate(("OS", "PFS", "RSD", "TTR", "TTD", "TFI", "RFSSTP"))}
    keys = pd.DataFrame({"USUBJID": adtte["USUBJID"], "_n": adtte["PARAMCD"].map(order)})
    adtte = adtte.take(keys.sort_values(["USUBJID", "_n"], kind="stable").index.to_numpy())  # one copy, in order
    adtte.index = pd.RangeIndex(len(adtte))
    adtte.insert(1, "ASEQ", adtte.groupby("USUBJID").cumcount() + 1)
    return {"adsl": adsl, "adrs": adrs, "adtte": adtte}


def _last_contact(domains: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """LSTALVDT of a case series: per subject the latest date the records show the patient alive: an SS contact,
    a tumour assessment (RS), a dose (EX start or end), an adverse event (AE start or end) or a disease event (CE);
    partial dates at their first day. A record after the death date does not count."""
    from tkitrack.schemas.sdtm_tumour import impute_text, text

    ss = domains["ss"]
    if not {"USUBJID", "SSDTC"} <= set(ss.columns):
        raise InputError(f"SDTM SS needs USUBJID and SSDTC; it has {', '.join(map(str, ss.columns))}")
    sources = {"ss": ("SSDTC",), "rs": ("RSDTC",), "ex": ("EXSTDTC", "EXENDTC"), "ae": ("AESTDTC", "AEENDTC"),
               "ce": ("CESTDTC",)}  # fmt: skip
    dm = domains["dm"]
    death = None
    if "DTHDTC" in dm.columns:
        death = pd.Series(impute_text(dm["DTHDTC"]).to_numpy(), index=text(dm["USUBJID"]).to_numpy())
    parts = []
    for name, columns in sources.items():  # a handful of domains, each read whole
        frame = domains.get(name)
        for column in columns:
            if frame is not None and column in frame.columns and "USUBJID" in frame.columns:
                dates = pd.DataFrame({"USUBJID": text(frame["USUBJID"]), "LSTALVDT": impute_text(frame[column])})
                dates = dates.dropna(subset=["LSTALVDT"])
                if death is not None:
                    dates = dates[~(dates["LSTALVDT"] > dates["USUBJID"].map(death))]
                parts.append(dates.groupby("USUBJID")["LSTALVDT"].max())  # each column's latest: the rows let go
    latest = pd.concat(parts).groupby(level=0).max()
    return pd.DataFrame({"USUBJID": latest.index, "LSTALVDT": latest.dt.strftime("%Y-%m-%d").to_numpy()})
