"""Case-series ADTTE parameters (TTR, TTD, TFI, RFSSTP) and the disease events PFS and DoR count as progression.

Definitions (DESIGN.md "Case-series endpoints"; choices in docs/case-series.md). Day 1 is the first dose of the
index therapy (:mod:`tkitrack.outcomes.courses`); ``AVAL = ADT - STARTDT + 1``; CNSR 0 is an event; a patient
without an origin has no row.

- progression: the first overall response PD (ADRS) or disease event (SDTM CE: recurrence, progression,
  metastasis) after day 1; a disease event on day 1 is the disease the therapy was started for;
- **TTR**: day 1 to the first response (CR or PR); otherwise censored at the last tumour assessment;
- **TTD**: first to last dose of the index course (a discontinuation), or death while on it (holds included);
  otherwise censored at the last date known alive;
- **TFI**: patients whose index course was discontinued: its last dose to the first dose of any later course
  (re-challenge included) or death; otherwise censored at the last date known alive;
- **RFSSTP**: patients whose index course was discontinued in complete response (the last overall response on or
  before the last dose is CR, with no progression from the first CR to the last dose): the last dose to relapse
  (PD or disease event after it) or death, each only up to a restart of therapy; otherwise censored at the last
  date known relapse-free up to the restart (an evaluable non-PD assessment, or a follow-up contact with disease
  status NED), not before the last dose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tkitrack.outcomes.tte import LASTA_CENSOR, LASTALIVE_CENSOR, TteSource, derive_param_tte
from tkitrack.schemas.dates import as_datetime
from tkitrack.schemas.sdtm_out import DISEASE_EVENT_DECOD

__all__ = [
    "derive_case_series_tte",
    "derive_disease_events",
    "derive_in_cr_at_stop",
    "derive_ned_contacts",
]

_EVALUABLE = ("CR", "PR", "SD", "NON-CR/NON-PD")
_EMPTY_EVENTS = {"USUBJID": "object", "CESEQ": "float64", "KIND": "object", "ADT": "datetime64[ns]"}


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype="object")
    return frame[column].astype("object").where(frame[column].notna(), "").astype(str).str.strip()


def derive_disease_events(sdtm: Mapping[str, pd.DataFrame], adsl: pd.DataFrame) -> pd.DataFrame:
    """Disease events (recurrence, progression, metastasis) from SDTM CE, one row per event.

    Returns ``USUBJID, CESEQ, KIND, ADT, ANL01FL``: ADT with a missing day imputed to the last of the month (as
    response dates), ANL01FL "Y" for events after the subject's REFDT (day 1 itself is the disease treated).
    """
    from tkitrack.schemas.sdtm_tumour import impute_text

    ce = {str(k).upper(): v for k, v in sdtm.items()}.get("CE")
    if ce is None or not len(ce) or "USUBJID" not in ce.columns:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _EMPTY_EVENTS.items()}).assign(ANL01FL="")
    decod = _text(ce, "CEDECOD").str.upper().mask(lambda d: d == "", _text(ce, "CETERM").str.upper())
    kinds = {v: k for k, v in DISEASE_EVENT_DECOD.items()} | {k.upper(): k for k in DISEASE_EVENT_DECOD}
    kind = decod.map(kinds)
    out = pd.DataFrame({"USUBJID": _text(ce, "USUBJID"), "CESEQ": pd.to_numeric(_text(ce, "CESEQ"), errors="coerce"),
                        "KIND": kind, "ADT": impute_text(_text(ce, "CESTDTC"), "last")})  # fmt: skip
    out = out[out["KIND"].notna() & out["ADT"].notna()].reset_index(drop=True)
    refdt = out["USUBJID"].map(adsl.drop_duplicates("USUBJID").set_index("USUBJID")["REFDT"])
    out["ANL01FL"] = np.where((out["ADT"] > refdt).fillna(False), "Y", "")
    return out


def derive_ned_contacts(sdtm: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Follow-up contacts with disease status NED (SS SURVSTAT rows whose SUPPSS DISSTAT is NED): USUBJID, ADT."""
    from tkitrack.schemas.sdtm_qualifiers import supp_values
    from tkitrack.schemas.sdtm_tumour import impute_text

    domains = {str(k).upper(): v for k, v in sdtm.items()}
    ss = domains.get("SS")
    if ss is None or not len(ss) or "USUBJID" not in ss.columns:
        return pd.DataFrame({"USUBJID": pd.Series(dtype="object"), "ADT": pd.Series(dtype="datetime64[ns]")})
    status = supp_values(domains, "SS", ss, ["DISSTAT"], idvar="SSSEQ")["DISSTAT"].str.upper()
    out = pd.DataFrame({"USUBJID": _text(ss, "USUBJID"), "ADT": impute_text(_text(ss, "SSDTC"), "first")})
    return out[(status == "NED").to_numpy() & out["ADT"].notna().to_numpy()].reset_index(drop=True)


def _per_subject(frame: pd.DataFrame, mask: pd.Series, how: str) -> pd.Series:
    picked = frame.loc[mask.fillna(False).astype(bool)]
    return picked.groupby("USUBJID")["ADT"].agg(how)


def derive_in_cr_at_stop(ovr: pd.DataFrame, events: pd.DataFrame, index: pd.DataFrame) -> pd.Series:
    """Per subject with a discontinued index course: True when it was discontinued in complete response.

    In CR: the last analysed overall response on or before the last dose is CR, and no progression (a PD
    response or a disease event) falls between the first CR and the last dose, both inclusive.
    ``index`` has ``USUBJID, STOPDT`` (the last dose); ``ovr`` ADRS OVR rows (``ANL01FL``), ``events`` of
    :func:`derive_disease_events`.
    """
    stop = index.set_index("USUBJID")["STOPDT"]
    o = ovr[(ovr["ANL01FL"] == "Y") & ovr["ADT"].notna()].assign(ADT=lambda d: as_datetime(d["ADT"]))
    o = o[o["ADT"] <= o["USUBJID"].map(stop)]
    last = o.sort_values(["USUBJID", "ADT"], kind="stable").drop_duplicates("USUBJID", keep="last")
    last_cr = last.set_index("USUBJID")["AVALC"].eq("CR")
    first_cr = _per_subject(o, o["AVALC"] == "CR", "min")
    prog = pd.concat([o.loc[o["AVALC"] == "PD", ["USUBJID", "ADT"]], events[["USUBJID", "ADT"]]])
    prog = prog[(prog["ADT"] >= prog["USUBJID"].map(first_cr)) & (prog["ADT"] <= prog["USUBJID"].map(stop))]
    ids = stop.index
    return pd.Series(ids.map(last_cr).fillna(False).astype(bool) & ~ids.isin(prog["USUBJID"]), index=ids)


def _later_start(courses: pd.DataFrame, index: pd.DataFrame) -> pd.Series:
    """Per subject: first dose of the first course that starts on or after the last dose of the index course."""
    c = courses.merge(index[["USUBJID", "INDEXCRS", "STOPDT"]], left_on="patient_id", right_on="USUBJID")
    later = c[(c["course"] != c["INDEXCRS"]) & (c["start"] >= c["STOPDT"])]
    return later.groupby("USUBJID")["start"].min()


def derive_case_series_tte(
    adsl: pd.DataFrame,
    adrs: pd.DataFrame,
    courses: pd.DataFrame,
    index: pd.DataFrame,
    events: pd.DataFrame,
    ned: pd.DataFrame,
    *,
    origin_censor: TteSource,
    stop_reasons: Sequence[str] | None = None,
) -> pd.DataFrame:
    """ADTTE rows of TTR, TTD, TFI and RFSSTP (module docstring), in TTE_COLUMNS shape.

    ``index`` is :func:`~tkitrack.outcomes.courses.derive_index_therapy` output (``patient_id`` = USUBJID);
    ``origin_censor`` the censoring source at the reference date (RAND_CENSOR or TRTS_CENSOR);
    ``stop_reasons`` narrows RFSSTP to index courses discontinued for those reasons (None: any reason).
    """
    base = adsl.drop_duplicates("USUBJID")
    sets = {"adrs": adrs, "adce": events}
    rsp = TteSource("adrs", "ADT", 'PARAMCD == "RSP" and AVALC == "Y"', 0, "Response", None, "ADRS", "ADT", "ASEQ")
    frames = [
        derive_param_tte(
            base,
            event_sources=(rsp,),
            censor_sources=(LASTA_CENSOR, origin_censor),
            paramcd="TTR",
            param="Time to Response",
            start_date="REFDT",
            source_datasets=sets,
        )
    ]

    idx = index.rename(columns={"patient_id": "USUBJID", "index_course": "INDEXCRS", "index_end": "STOPDT"})
    idx = idx[idx["USUBJID"].isin(base["USUBJID"])]
    ttd = base[base["USUBJID"].isin(idx["USUBJID"])].copy()
    status = ttd["USUBJID"].map(idx.set_index("USUBJID")["index_status"])
    ttd["STOPDT"] = ttd["USUBJID"].map(idx.set_index("USUBJID")["STOPDT"]).astype("datetime64[ns]")
    ttd["DTHONTRT"] = ttd["DTHDT"].where(status != "discontinued")
    stop_src = TteSource("adsl", "STOPDT", None, 0, "Treatment Discontinuation", None, "EX", "EXENDTC")
    death_on = TteSource("adsl", "DTHONTRT", None, 0, "Death on Treatment", None, "ADSL", "DTHDT")
    trt_censor = TteSource("adsl", "TRTSDT", None, 1, "Treatment Start", "Treatment Start", "ADSL", "TRTSDT")
    frames.append(derive_param_tte(ttd, event_sources=(stop_src, death_on),
                                   censor_sources=(LASTALIVE_CENSOR, trt_censor), paramcd="TTD",
                                   param="Time to Treatment Discontinuation", start_date="TRTSDT"))  # fmt: skip

    stopped = ttd[ttd["STOPDT"].notna()].copy()
    stopped["NEXTDT"] = stopped["USUBJID"].map(_later_start(courses, idx[idx["STOPDT"].notna()]))
    stopped["DTHDT"] = stopped["DTHDT"].where(stopped["DTHDT"] >= stopped["STOPDT"])
    next_src = TteSource("adsl", "NEXTDT", None, 0, "Next Systemic Therapy", None, "EX", "EXSTDTC")
    death = TteSource("adsl", "DTHDT", None, 0, "Death", None, "ADSL", "DTHDT")
    stop_censor = TteSource("adsl", "STOPDT", None, 1, "Last Dose", "Last Dose of Index Therapy", "EX", "EXENDTC")
    frames.append(derive_param_tte(stopped, event_sources=(next_src, death),
                                   censor_sources=(LASTALIVE_CENSOR, stop_censor), paramcd="TFI",
                                   param="Treatment-Free Interval", start_date="STOPDT"))  # fmt: skip

    frames.append(_rfsstp(stopped, adrs, events, ned, idx, stop_reasons, stop_censor))
    return pd.concat(frames, ignore_index=True)


def _rfsstp(stopped: pd.DataFrame, adrs: pd.DataFrame, events: pd.DataFrame, ned: pd.DataFrame, idx: pd.DataFrame,
            stop_reasons: Sequence[str] | None, stop_censor: TteSource) -> pd.DataFrame:  # fmt: skip
    # only the responses of the subjects who stopped are read below (any other row has no stop date, so it falls
    # out of every window and of the stop's CR), and only of those in CR at the stop for the windows; and only
    # the columns read (ADRS has 15, millions of rows at registry scale)
    keep = (adrs["PARAMCD"] == "OVR") & adrs["USUBJID"].isin(stopped["USUBJID"])
    columns = [c for c in adrs.columns if c in ("USUBJID", "ASEQ", "AVALC", "ADT", "ANL01FL")]
    ovr = adrs.loc[keep, columns].assign(ADT=lambda d: as_datetime(d["ADT"]))
    in_cr = derive_in_cr_at_stop(ovr, events, stopped[["USUBJID", "STOPDT"]])
    pop = stopped[stopped["USUBJID"].map(in_cr).fillna(False).astype(bool)].copy()
    if stop_reasons is not None:
        reason = pop["USUBJID"].map(idx.set_index("USUBJID")["index_stop_reason"]).astype("string").str.lower()
        pop = pop[reason.isin([str(r).lower() for r in stop_reasons]).fillna(False).to_numpy()]
    stop, until = pop.set_index("USUBJID")["STOPDT"], pop.set_index("USUBJID")["NEXTDT"]

    def window(frame: pd.DataFrame, *, after_stop: bool) -> pd.Series:
        s, u = frame["USUBJID"].map(stop), frame["USUBJID"].map(until)
        first = (frame["ADT"] > s) if after_stop else (frame["ADT"] >= s)
        return (first & (u.isna() | (frame["ADT"] <= u))).fillna(False)

    o = ovr[(ovr["ANL01FL"] == "Y") & ovr["ADT"].notna() & ovr["USUBJID"].isin(pop["USUBJID"])]
    o = o.assign(RELFL=np.where(window(o, after_stop=True) & (o["AVALC"] == "PD"), "Y", ""),
                 RFFL=np.where(window(o, after_stop=False) & o["AVALC"].isin(_EVALUABLE), "Y", ""))  # fmt: skip
    ev = events.assign(RELFL=np.where(window(events, after_stop=True), "Y", ""))
    nd = ned.assign(RFFL=np.where(window(ned, after_stop=False), "Y", ""))
    pop["DTHDT"] = pop["DTHDT"].where(pop["NEXTDT"].isna() | (pop["DTHDT"] <= pop["NEXTDT"]))
    sets = {"ovr": o, "ce": ev, "ned": nd}
    relapse_pd = TteSource("ovr", "ADT", 'RELFL == "Y"', 0, "Relapse (Disease Progression)", None, "ADRS", "ADT",
                           "ASEQ")  # fmt: skip
    relapse_ce = TteSource("ce", "ADT", 'RELFL == "Y"', 0, "Relapse (Disease Event)", None, "CE", "CESTDTC", "CESEQ")
    death = TteSource("adsl", "DTHDT", None, 0, "Death", None, "ADSL", "DTHDT")
    last_rf = TteSource("ovr", "ADT", 'RFFL == "Y"', 1, "Last Tumor Assessment Without Progression",
                        "Last Tumor Assessment Without Progression", "ADRS", "ADT", "ASEQ")  # fmt: skip
    ned_src = TteSource("ned", "ADT", 'RFFL == "Y"', 1, "Follow-up, No Evidence of Disease",
                        "Follow-up, No Evidence of Disease", "SS", "SSDTC")  # fmt: skip
    return derive_param_tte(pop, event_sources=(relapse_pd, relapse_ce, death),
                            censor_sources=(stop_censor, last_rf, ned_src), paramcd="RFSSTP",
                            param="Relapse-Free Survival After Stopping in CR", start_date="STOPDT",
                            source_datasets=sets)  # fmt: skip
