"""Is it safe to stop the inhibitor after complete response? Analyses free of immortal-time bias.

"Stopped" versus "continued" is not known at baseline: a patient can only stop after staying relapse-free
long enough to stop, so comparing the two groups from the start credits that relapse-free time to stopping
(immortal-time bias). This module therefore offers only
(1) a landmark analysis: status fixed at a landmark after CR, follow-up from the landmark, among patients
still relapse-free and in follow-up then; (2) a Cox model with stopping as a time-varying covariate; and
(3) a patient-by-patient listing of what happened after stopping. Every output states its n and events.

Days here are ``date - origin_date`` (day 0 is the CR date, or the first dose with ``origin="first_dose"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from tkitrack.outcomes.comparisons import fit_cox
from tkitrack.outcomes.exposure import _OPEN, _last_contact, _merge_blocks, _select_drugs, check_frame
from tkitrack.outcomes.survival import summarise_km
from tkitrack.schemas.errors import InputError

__all__ = [
    "INHIBITORS",
    "TimeVaryingCoxResult",
    "derive_landmark_cohort",
    "derive_stopping_cohort",
    "fit_time_varying_cox",
    "landmark_analysis",
    "list_stopped_patients",
]

#: Columns of :func:`derive_stopping_cohort` (one row per treated patient).
COHORT_COLUMNS = (
    "patient_id", "first_dose_date", "cr_date", "stop_date", "stop_reason", "restart_date", "relapse_date",
    "relapse_kind", "death_date", "last_contact_date", "days_on_drug",
)  # fmt: skip

#: ALK, ROS1 and NTRK inhibitors counted as "the inhibitor" by default (switching between them is no stop).
INHIBITORS = (
    "crizotinib",
    "ceritinib",
    "alectinib",
    "brigatinib",
    "lorlatinib",
    "ensartinib",
    "entrectinib",
    "larotrectinib",
    "repotrectinib",
    "selitrectinib",
    "taletrectinib",
)
RELAPSE_KINDS = ("recurrence", "progression", "metastasis")
Origin = Literal["cr", "first_dose"]
DeathRule = Literal["event", "censor"]


def derive_stopping_cohort(
    exposure: pd.DataFrame,
    assessment: pd.DataFrame,
    disease_event: pd.DataFrame,
    followup: pd.DataFrame,
    *,
    drugs: Sequence[str] = INHIBITORS,
    relapse_kinds: Sequence[str] = RELAPSE_KINDS,
    pd_is_relapse: bool = True,
) -> pd.DataFrame:
    """One row per patient treated with an inhibitor: first CR, stop, restart, relapse, death, last contact.

    - ``cr_date``: first overall response CR on or after the first dose (NaT when never in CR).
    - relapse: first ``disease_event`` of ``relapse_kinds`` after the CR (and, with ``pd_is_relapse``, a PD
      assessment after the CR, whichever is first).
    - stop: the end of the last block of inhibitor intervals that began before the relapse (intervals of any
      of ``drugs`` that touch or overlap form one block, so a switch is not a stop; a gap is an
      interruption, not a stop, when treatment resumes before relapse). NaT while treatment is ongoing.
      ``stop_reason`` is the recorded reason of the interval that ended then (any reason counts).
    - ``days_on_drug``: inhibitor days (end inclusive) before the stop, relapse or last contact.

    Returns
    -------
    DataFrame
        ``patient_id, first_dose_date, cr_date, stop_date, stop_reason, restart_date, relapse_date,
        relapse_kind, death_date, last_contact_date, days_on_drug``.
    """
    ex = _select_drugs(
        check_frame(exposure, "exposure", ["patient_id", "drug", "start", "end"], dates=["start", "end"]), drugs
    )
    if "reason" not in ex.columns:
        ex["reason"] = None
    rs = check_frame(assessment, "assessment", ["patient_id", "date", "response"], dates=["date"])
    ev = check_frame(disease_event, "disease_event", ["patient_id", "kind", "date"], dates=["date"])
    last = _last_contact(followup)
    out = ex.groupby("patient_id")["start"].min().rename("first_dose_date").to_frame()
    lost = out.index.difference(last.index)
    if len(lost):
        raise InputError(f"followup: no last contact for treated patient(s) {list(lost)[:5]}; add a followup record")
    response = rs["response"].astype(str).str.strip().str.upper()
    rs = rs.assign(first=rs["patient_id"].map(out["first_dose_date"]))
    cr = rs[(response == "CR") & (rs["date"] >= rs["first"])].groupby("patient_id")["date"].min()
    out["cr_date"] = cr.reindex(out.index)
    ev = ev[ev["kind"].str.lower().isin(relapse_kinds)][["patient_id", "date", "kind"]]
    if pd_is_relapse:
        pd_rows = rs.loc[response == "PD", ["patient_id", "date"]].assign(kind="progression (assessment)")
        parts = [f for f in (ev, pd_rows) if len(f)]
        ev = pd.concat(parts, ignore_index=True) if parts else ev
    ev = ev[ev["date"] > ev["patient_id"].map(out["cr_date"])].sort_values(["patient_id", "date"])
    first_ev = ev.drop_duplicates("patient_id").set_index("patient_id")
    out["relapse_date"] = first_ev["date"].reindex(out.index)
    out["relapse_kind"] = first_ev["kind"].reindex(out.index)
    out = out.join(last, how="left")

    ex = ex.assign(relapse=ex["patient_id"].map(out["relapse_date"]))
    before = ex[ex["relapse"].isna() | (ex["start"] < ex["relapse"])]
    blocks = _merge_blocks(before.assign(end=before["end"].fillna(_OPEN)), ["patient_id"])
    last_block = blocks.sort_values("start").drop_duplicates("patient_id", keep="last").set_index("patient_id")
    stop = last_block["end"].where(last_block["end"] < _OPEN)
    stop = stop.where(stop < out["relapse_date"].reindex(stop.index).fillna(_OPEN))
    out["stop_date"] = stop.reindex(out.index)
    ended = before[before["end"].notna()].sort_values("end").drop_duplicates("patient_id", keep="last")
    out["stop_reason"] = ended.set_index("patient_id")["reason"].reindex(out.index).where(out["stop_date"].notna())
    later = ex[ex["start"] > ex["patient_id"].map(out["stop_date"])]
    out["restart_date"] = later.groupby("patient_id")["start"].min().reindex(out.index)
    horizon = out[["relapse_date", "last_contact_date"]].min(axis=1).fillna(out["last_contact_date"])
    blocks["end"] = blocks["end"].clip(upper=blocks["patient_id"].map(horizon))
    blocks["days"] = ((blocks["end"] - blocks["start"]).dt.days + 1).clip(lower=0)
    out["days_on_drug"] = blocks.groupby("patient_id")["days"].sum().reindex(out.index).fillna(0).astype(int)
    return out[list(COHORT_COLUMNS[1:])].reset_index()


def _timeline(cohort: pd.DataFrame, origin: Origin, death: DeathRule) -> pd.DataFrame:
    """CR patients with day numbers from the origin: stop_day, end_day and event (relapse, or death too)."""
    if origin not in ("cr", "first_dose"):
        raise InputError(f"origin must be 'cr' or 'first_dose'; found {origin!r}")
    if death not in ("event", "censor"):
        raise InputError(f"death must be 'event' (relapse-free survival) or 'censor'; found {death!r}")
    cols = ["patient_id", "first_dose_date", "cr_date", "stop_date", "relapse_date", "death_date", "last_contact_date"]
    c = check_frame(cohort, "cohort", cols, dates=cols[1:])
    c = c[c["cr_date"].notna()]
    zero = c["cr_date"] if origin == "cr" else c["first_dose_date"]
    event_date = c["relapse_date"] if death == "censor" else c["relapse_date"].fillna(c["death_date"])
    end = event_date.fillna(c["last_contact_date"])
    return pd.DataFrame(
        {
            "patient_id": c["patient_id"],
            "stop_day": (c["stop_date"] - zero).dt.days,
            "end_day": (end - zero).dt.days,
            "event": event_date.notna().astype(int),
        }
    ).reset_index(drop=True)


def _warning(n: int, events: int, min_n: int, min_events: int) -> str:
    """Plain words on how little an estimate rests on; empty when n and events are both enough."""
    parts = [
        f"only {n} patient{'' if n == 1 else 's'} (< {min_n})" if n < min_n else "",
        f"only {events} event{'' if events == 1 else 's'} (< {min_events})" if events < min_events else "",
    ]
    text = " and ".join(p for p in parts if p)
    return f"{text}: descriptive only, too few to compare" if text else ""


def derive_landmark_cohort(
    cohort: pd.DataFrame, landmark_day: float, origin: Origin = "cr", *, death: DeathRule = "event"
) -> pd.DataFrame:
    """Patients relapse-free and in follow-up at the landmark, status fixed there, time from the landmark.

    Returns
    -------
    DataFrame
        ``patient_id, status ("stopped" / "on_drug"), time, event``; ``time = end_day - landmark_day``.
    """
    tl = _timeline(cohort, origin, death)
    at = tl[tl["end_day"] > landmark_day]
    status = np.where(at["stop_day"].notna() & (at["stop_day"] <= landmark_day), "stopped", "on_drug")
    return pd.DataFrame(
        {"patient_id": at["patient_id"], "status": status, "time": at["end_day"] - landmark_day, "event": at["event"]}
    ).reset_index(drop=True)


def landmark_analysis(
    cohort: pd.DataFrame,
    landmarks_days: Sequence[float] = (90, 180, 365),
    origin: Origin = "cr",
    *,
    death: DeathRule = "event",
    min_n: int = 10,
    min_events: int = 5,
    median_rule: str = "first",
    conf_type: str = "log",
    conf: float = 0.95,
) -> pd.DataFrame:
    """Relapse-free survival from each landmark by status at the landmark (stopped vs on drug).

    Medians and their CIs follow ``median_rule``, ``conf_type`` and ``conf`` (as :func:`summarise_km`).

    Returns
    -------
    DataFrame
        One row per landmark and status: ``landmark_day, status, n, events, n_not_at_risk, median,
        median_lower, median_upper, median_text, warning, warning_text``. ``n_not_at_risk`` counts CR
        patients already relapsed, dead or out of follow-up by the landmark (left out, as they must be).
    """
    rows = []
    n_cr = len(_timeline(cohort, origin, death))
    for day in landmarks_days:  # a handful of landmarks, not patients
        lm = derive_landmark_cohort(cohort, day, origin, death=death)
        for status in ("stopped", "on_drug"):
            grp = lm[lm["status"] == status]
            n, events = len(grp), int(grp["event"].sum())
            km = (
                summarise_km(grp["time"], grp["event"], median_rule=median_rule, conf_type=conf_type, conf=conf)
                if n
                else None
            )
            text = _warning(n, events, min_n, min_events)
            rows.append(
                {
                    "landmark_day": day,
                    "status": status,
                    "n": n,
                    "events": events,
                    "n_not_at_risk": n_cr - len(lm),
                    "median": km.median if km else np.nan,
                    "median_lower": km.median_lower if km else np.nan,
                    "median_upper": km.median_upper if km else np.nan,
                    "median_text": km.median_text if km else "no patients",
                    "warning": bool(text),
                    "warning_text": text,
                }
            )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class TimeVaryingCoxResult:
    """Hazard ratio of relapse for off-drug vs on-drug time (stopping as a time-varying covariate)."""

    hazard_ratio: float
    lower: float
    upper: float
    p: float
    n_patients: int
    n_events: int
    n_events_off_drug: int
    n_stopped: int
    warning: bool
    warning_text: str
    long: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


def fit_time_varying_cox(
    cohort: pd.DataFrame,
    *,
    origin: Origin = "cr",
    death: DeathRule = "event",
    min_events: int = 5,
    conf: float = 0.95,
) -> TimeVaryingCoxResult:
    """Cox model with ``stopped`` switching from 0 to 1 at the stop date (counting-process data, Efron ties).

    Follow-up is split at the stop: (0, stop] on drug, (stop, end] off drug. The hazard ratio is estimated
    (R ``coxph(Surv(start, stop, event) ~ stopped)``, see :func:`tkitrack.outcomes.comparisons.fit_cox`) only when
    the data carry information on it: events both on and off drug, each while someone in the other state was
    at risk; otherwise, or with fewer than ``min_events`` events, the result carries ``warning`` and says why.
    ``long`` is the split data: ``patient_id, start, stop, stopped, event``.
    """
    tl = _timeline(cohort, origin, death)
    tl = tl[tl["end_day"] > 0]
    split = tl["stop_day"].notna() & (tl["stop_day"] > 0) & (tl["stop_day"] < tl["end_day"])
    off_from_0 = tl["stop_day"].notna() & (tl["stop_day"] <= 0)
    first = pd.DataFrame(
        {
            "patient_id": tl["patient_id"],
            "start": 0.0,
            "stop": tl["end_day"].astype(float).where(~split, tl["stop_day"]),
            "stopped": off_from_0.astype(int),
            "event": tl["event"].where(~split, 0),
        }
    )
    second = pd.DataFrame(
        {
            "patient_id": tl.loc[split, "patient_id"],
            "start": tl.loc[split, "stop_day"],
            "stop": tl.loc[split, "end_day"].astype(float),
            "stopped": 1,
            "event": tl.loc[split, "event"],
        }
    )
    long = pd.concat([first, second], ignore_index=True).sort_values(["patient_id", "start"], ignore_index=True)
    n_events, n_off = int(long["event"].sum()), int(long.loc[long["stopped"] == 1, "event"].sum())
    n_stopped = int(long.groupby("patient_id")["stopped"].max().sum())
    base = dict(n_patients=len(tl), n_events=n_events, n_events_off_drug=n_off, n_stopped=n_stopped, long=long)
    nan = dict(hazard_ratio=np.nan, lower=np.nan, upper=np.nan, p=np.nan)
    if n_events == 0 or long["stopped"].nunique() < 2:
        why = f"{n_events} events, {n_stopped} patients stopped: the hazard ratio cannot be estimated"
        return TimeVaryingCoxResult(**nan, warning=True, warning_text=why, **base)
    state = long.assign(state=np.where(long["stopped"] == 1, "off drug", "on drug"))
    try:
        fit = fit_cox(state, time="stop", entry="start", event="event", group="state", reference="on drug", conf=conf)
    except InputError as exc:
        return TimeVaryingCoxResult(**nan, warning=True, warning_text=f"model not fitted: {exc}", **base)
    row = fit.table.iloc[0]
    if not row["estimable"]:
        why = f"{n_events} events, {n_off} of them off drug: the hazard ratio is not estimable ({row['note']})"
        return TimeVaryingCoxResult(**nan, warning=True, warning_text=why, **base)
    notes = [f"only {n_events} events (< {min_events})"] if n_events < min_events else []
    text = "; ".join(notes) + (": exploratory only" if notes else "")
    return TimeVaryingCoxResult(
        hazard_ratio=float(row["hazard_ratio"]),
        lower=float(row["lower"]),
        upper=float(row["upper"]),
        p=float(row["p"]),
        warning=bool(notes),
        warning_text=text,
        **base,
    )


def list_stopped_patients(cohort: pd.DataFrame) -> pd.DataFrame:
    """One row per patient who stopped the inhibitor: what came before the stop and what followed it.

    Returns
    -------
    DataFrame
        ``patient_id, first_dose_date, cr_date, stop_date, stop_reason, days_on_drug,
        days_in_cr_before_stop (negative: CR came after stopping; NaN: never in CR),
        days_off_drug_followup (stop to restart or last contact), relapse, days_stop_to_relapse,
        relapse_kind, restart_date, vital_status``.
    """
    cols = list(COHORT_COLUMNS)
    c = check_frame(cohort, "cohort", cols, dates=[x for x in cols if x.endswith("_date")])
    c = c[c["stop_date"].notna()].sort_values("stop_date")
    off_end = c["restart_date"].fillna(c["last_contact_date"])
    relapse = c["relapse_date"].notna() & (c["relapse_date"] > c["stop_date"])
    out = c[["patient_id", "first_dose_date", "cr_date", "stop_date", "stop_reason", "days_on_drug"]].assign(
        days_in_cr_before_stop=(c["stop_date"] - c["cr_date"]).dt.days,
        days_off_drug_followup=(off_end - c["stop_date"]).dt.days,
        relapse=relapse,
        days_stop_to_relapse=(c["relapse_date"] - c["stop_date"]).dt.days.where(relapse),
        relapse_kind=c["relapse_kind"].where(relapse),
        restart_date=c["restart_date"],
        vital_status=np.where(c["death_date"].notna(), "dead", "alive"),
    )
    return out.reset_index(drop=True)
