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
from tkitrack.outcomes.exposure import _OPEN, _last_contact, check_frame
from tkitrack.outcomes.survival import summarise_km
from tkitrack.schemas.distinct import per_distinct_text
from tkitrack.schemas.errors import InputError

__all__ = [
    "TimeVaryingCoxResult",
    "derive_landmark_cohort",
    "derive_relapse_after_stop",
    "derive_stopping_cohort",
    "derive_stopping_exclusions",
    "fit_time_varying_cox",
    "landmark_analysis",
    "list_stopped_patients",
    "restrict_stopping_cohort",
]

#: Columns of :func:`derive_stopping_cohort` (one row per treated patient).
COHORT_COLUMNS = (
    "patient_id", "first_dose_date", "cr_date", "stop_date", "stop_reason", "in_cr_at_stop", "restart_date",
    "relapse_date", "relapse_kind", "death_date", "last_contact_date", "days_on_drug",
)  # fmt: skip

RELAPSE_KINDS = ("recurrence", "progression", "metastasis")
Origin = Literal["cr", "first_dose"]
DeathRule = Literal["event", "censor"]


def derive_stopping_cohort(
    exposure: pd.DataFrame,
    assessment: pd.DataFrame,
    disease_event: pd.DataFrame,
    followup: pd.DataFrame,
    *,
    index_drug: str | None = None,
    relapse_kinds: Sequence[str] = RELAPSE_KINDS,
    pd_is_relapse: bool = True,
) -> pd.DataFrame:
    """One row per patient with an index therapy: first CR, the stop of the index course, restart, relapse, death.

    - the index therapy and its course: :func:`tkitrack.outcomes.courses.derive_index_therapy` (the first
      kinase-inhibitor course unless ``index_drug``); ``first_dose_date`` is day 1;
    - ``cr_date``: the first overall response CR on or after day 1 (RECIST 1.1 and investigator calls when the
      assessments say their criteria);
    - ``stop_date``: the last dose of the index course when it was recorded as discontinued (``exposure stop``),
      whatever happened later; a hold is no stop; ``stop_reason`` is the reason recorded with it;
    - ``in_cr_at_stop``: the last overall response on or before the stop is CR, with no progression from the
      first CR to the stop (both inclusive);
    - ``restart_date``: the first dose of the first later course (re-challenge or another drug) on or after the stop;
    - ``relapse_date``: the first progression after the first CR (a disease event of ``relapse_kinds``, and with
      ``pd_is_relapse`` a PD response), ``relapse_kind`` what it was;
    - ``days_on_drug``: days of the index course's intervals (holds excluded) before the stop, relapse or last
      contact.

    Returns
    -------
    DataFrame
        ``COHORT_COLUMNS``.
    """
    from tkitrack.outcomes.courses import derive_courses, derive_index_therapy

    ex = check_frame(exposure, "exposure", ["patient_id", "drug", "start", "end"], dates=["start", "end"])
    rs = _checked_columns(assessment, "assessment", ["patient_id", "date", "response"], dates=["date"],
                          also=["criteria"])  # fmt: skip
    ev = check_frame(disease_event, "disease_event", ["patient_id", "kind", "date"], dates=["date"])
    if "criteria" in rs.columns:  # PERCIST and iRECIST have their own categories, never mixed into RECIST
        crit = per_distinct_text(rs["criteria"], lambda c: c.astype("string").str.upper().str.replace(" ", ""))
        rs = rs[crit.isna() | crit.isin(["RECIST1.1", "RECIST", "INVESTIGATOR"])]
    courses = derive_courses(exposure)  # the frame given (its dates parse as ex's): shared when the caller shares it
    idx = derive_index_therapy(courses, index_drug=index_drug).set_index("patient_id")
    last = _last_contact(followup).reindex(idx.index)
    # last known alive: the latest follow-up contact, or a later record (at a cut-off the contact may come after it)
    seen = pd.concat([rs[["patient_id", "date"]], ev[["patient_id", "date"]],
                      ex[["patient_id", "start"]].rename(columns={"start": "date"}),
                      ex[["patient_id", "end"]].rename(columns={"end": "date"})]).dropna()  # fmt: skip
    latest = seen.groupby("patient_id")["date"].max().reindex(idx.index)
    latest = latest.where(~(latest > last["death_date"]))
    last["last_contact_date"] = pd.concat([last["last_contact_date"], latest], axis=1).max(axis=1)
    out = pd.DataFrame({"first_dose_date": idx["index_start"], "stop_date": idx["index_end"],
                        "stop_reason": idx["index_stop_reason"].where(idx["index_end"].notna())})  # fmt: skip
    response = per_distinct_text(rs["response"], lambda r: r.astype(str).str.strip().str.upper())
    rs = rs.assign(response=response, first=rs["patient_id"].map(out["first_dose_date"]))
    rs = rs[rs["date"].notna() & (rs["date"] >= rs["first"])]
    out["cr_date"] = rs[rs["response"] == "CR"].groupby("patient_id")["date"].min().reindex(out.index)
    prog = ev[ev["kind"].str.lower().isin(relapse_kinds) & ev["date"].notna()][["patient_id", "date", "kind"]]
    if pd_is_relapse:
        pd_rows = rs.loc[rs["response"] == "PD", ["patient_id", "date"]].assign(kind="progression (assessment)")
        prog = pd.concat([f for f in (prog, pd_rows) if len(f)], ignore_index=True) if len(pd_rows) else prog
    prog = prog.sort_values(["patient_id", "date"], kind="stable")
    after_cr = prog[prog["date"] > prog["patient_id"].map(out["cr_date"])].drop_duplicates("patient_id")
    out["relapse_date"] = after_cr.set_index("patient_id")["date"].reindex(out.index)
    out["relapse_kind"] = after_cr.set_index("patient_id")["kind"].reindex(out.index)
    upto = rs[rs["date"] <= rs["patient_id"].map(out["stop_date"])].sort_values(["patient_id", "date"], kind="stable")
    last_cr = upto.drop_duplicates("patient_id", keep="last").set_index("patient_id")["response"].eq("CR")
    crp = prog["patient_id"].map(out["cr_date"])
    broken = prog[(prog["date"] >= crp) & (prog["date"] <= prog["patient_id"].map(out["stop_date"]))]["patient_id"]
    out["in_cr_at_stop"] = out.index.map(last_cr).fillna(False).astype(bool) & ~out.index.isin(set(broken))
    later = courses.merge(idx[["index_course", "index_end"]], left_on="patient_id", right_index=True)
    later = later[(later["course"] != later["index_course"]) & (later["start"] >= later["index_end"])]
    out["restart_date"] = later.groupby("patient_id")["start"].min().reindex(out.index)
    out = out.join(last, how="left")
    horizon = out[["stop_date", "relapse_date", "last_contact_date"]].min(axis=1)
    mine = ex.assign(drug=ex["drug"].str.strip().str.lower()).merge(
        idx[["index_drug", "index_start", "index_end"]], left_on="patient_id", right_index=True)  # fmt: skip
    mine = mine[(mine["drug"] == mine["index_drug"]) & (mine["start"] >= mine["index_start"])
                & (mine["index_end"].isna() | (mine["start"] <= mine["index_end"]))]  # fmt: skip
    end = mine["end"].fillna(_OPEN).clip(upper=mine["patient_id"].map(horizon))
    days = ((end - mine["start"]).dt.days + 1).clip(lower=0)
    out["days_on_drug"] = days.groupby(mine["patient_id"]).sum().reindex(out.index).fillna(0).astype(int)
    return out.rename_axis("patient_id")[list(COHORT_COLUMNS[1:])].reset_index()


def _checked_columns(frame: pd.DataFrame, name: str, required: Sequence[str], *, dates: Sequence[str],
                     also: Sequence[str] = ()) -> pd.DataFrame:  # fmt: skip
    """``check_frame`` of the ``required`` and ``also`` columns alone: a registry's assessments are millions of
    rows of a dozen more columns than the cohort reads, each copied by ``check_frame``. A frame that lacks a
    required column is checked whole, so that the error names every column it has."""
    if not isinstance(frame, pd.DataFrame) or any(c not in frame.columns for c in required):
        return check_frame(frame, name, required, dates=dates)
    return check_frame(frame[[c for c in frame.columns if c in {*required, *also}]], name, required, dates=dates)


def derive_stopping_exclusions(cohort: pd.DataFrame, stop_reasons: Sequence[str] | None = None) -> pd.DataFrame:
    """Who the stopping analyses leave out, and why: ``patient_id, reason``.

    Left out: patients never in CR on the index therapy; patients whose index course was discontinued before
    their first CR (no stop after CR); with ``stop_reasons``, patients who stopped for another reason.
    """
    c = cohort
    why = pd.Series(pd.NA, index=c.index, dtype="object")
    why = why.mask(c["cr_date"].isna(), "never in complete response on the index therapy")
    before = c["stop_date"].notna() & (c["stop_date"] < c["cr_date"])
    why = why.mask(why.isna() & before, "index therapy stopped before the first complete response")
    if stop_reasons is not None:
        wanted = [str(r).lower() for r in stop_reasons]
        other = c["stop_date"].notna() & ~c["stop_reason"].astype("string").str.lower().isin(wanted).fillna(False)
        why = why.mask(why.isna() & other, "stopped for another reason (" + c["stop_reason"].fillna("none") + ")")
    out = pd.DataFrame({"patient_id": c["patient_id"], "reason": why})
    return out[out["reason"].notna()].reset_index(drop=True)


def restrict_stopping_cohort(cohort: pd.DataFrame, stop_reasons: Sequence[str] | None = None) -> pd.DataFrame:
    """The patients the landmark analysis and the time-varying Cox model rest on (see
    :func:`derive_stopping_exclusions` for those left out)."""
    gone = set(derive_stopping_exclusions(cohort, stop_reasons)["patient_id"])
    return cohort[~cohort["patient_id"].isin(gone)].reset_index(drop=True)


def _timeline(cohort: pd.DataFrame, origin: Origin, death: DeathRule) -> pd.DataFrame:
    """CR patients with day numbers from the origin: stop_day, end_day and event (relapse, or death too)."""
    if origin not in ("cr", "first_dose"):
        raise InputError(f"origin must be 'cr' or 'first_dose'; found {origin!r}")
    if death not in ("event", "censor"):
        raise InputError(f"death must be 'event' (relapse-free survival) or 'censor'; found {death!r}")
    cols = ["patient_id", "first_dose_date", "cr_date", "stop_date", "relapse_date", "death_date", "last_contact_date"]
    c = check_frame(cohort, "cohort", cols, dates=[*cols[1:], "restart_date"])
    if "restart_date" not in c.columns:
        c["restart_date"] = pd.NaT
    c = c[c["cr_date"].notna()]
    zero = c["cr_date"] if origin == "cr" else c["first_dose_date"]
    event_date = c["relapse_date"] if death == "censor" else c["relapse_date"].fillna(c["death_date"])
    end = event_date.fillna(c["last_contact_date"])
    return pd.DataFrame(
        {
            "patient_id": c["patient_id"],
            "stop_day": (c["stop_date"] - zero).dt.days,
            "restart_day": (c["restart_date"] - zero).dt.days.where(c["stop_date"].notna()),
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
    at = tl[tl["end_day"] > landmark_day]  # an event on the landmark day came before follow-up from it began
    off = at["stop_day"].notna() & (at["stop_day"] <= landmark_day)  # the last dose on the landmark day: stopped
    off &= ~(at["restart_day"].notna() & (at["restart_day"] <= landmark_day))  # restarted by then: on drug
    status = np.where(off, "stopped", "on_drug")
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

    Follow-up is split at the stop and at a restart: (0, stop] on drug, (stop, restart] off drug, (restart, end]
    on drug again; a hold is no stop (the stop is the recorded discontinuation of the index course). The hazard ratio is estimated
    (R ``coxph(Surv(start, stop, event) ~ stopped)``, see :func:`tkitrack.outcomes.comparisons.fit_cox`) only when
    the data carry information on it: events both on and off drug, each while someone in the other state was
    at risk; otherwise, or with fewer than ``min_events`` events, the result carries ``warning`` and says why.
    ``long`` is the split data: ``patient_id, start, stop, stopped, event``.
    """
    tl = _timeline(cohort, origin, death)
    tl = tl[tl["end_day"] > 0]
    # off drug from the stop (switched on at a discontinuation) to a restart (switched off again), within (0, end]
    off_start = tl["stop_day"].clip(lower=0)
    off_end = tl["restart_day"].fillna(np.inf).clip(upper=tl["end_day"])
    has_off = tl["stop_day"].notna() & (off_start < off_end)
    cuts = pd.DataFrame({"patient_id": tl["patient_id"], "a": 0.0, "b": off_start.where(has_off, tl["end_day"]),
                         "c": off_end.where(has_off, tl["end_day"]), "d": tl["end_day"].astype(float),
                         "event": tl["event"]})  # fmt: skip
    parts = []
    for lo, hi, state in (("a", "b", 0), ("b", "c", 1), ("c", "d", 0)):  # three pieces, each for all patients
        piece = cuts[cuts[hi] > cuts[lo]]
        parts.append(pd.DataFrame({"patient_id": piece["patient_id"], "start": piece[lo].astype(float),
                                   "stop": piece[hi].astype(float), "stopped": state,
                                   "event": piece["event"].where(piece[hi] == piece["d"], 0)}))  # fmt: skip
    long = pd.concat(parts, ignore_index=True).sort_values(["patient_id", "start"], ignore_index=True)
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
        ``patient_id, first_dose_date, cr_date, stop_date, stop_reason, in_cr_at_stop, days_on_drug,
        days_in_cr_before_stop (negative: CR came after stopping; NaN: never in CR),
        days_off_drug_followup (stop to restart or last contact), relapse, days_stop_to_relapse,
        relapse_kind, restart_date, vital_status``.
    """
    cols = list(COHORT_COLUMNS)
    c = check_frame(cohort, "cohort", cols, dates=[x for x in cols if x.endswith("_date")])
    c = c[c["stop_date"].notna()].sort_values("stop_date")
    off_end = c["restart_date"].fillna(c["last_contact_date"])
    relapse = c["relapse_date"].notna() & (c["relapse_date"] > c["stop_date"])
    out = c[
        ["patient_id", "first_dose_date", "cr_date", "stop_date", "stop_reason", "in_cr_at_stop", "days_on_drug"]
    ].assign(
        days_in_cr_before_stop=(c["stop_date"] - c["cr_date"]).dt.days,
        days_off_drug_followup=(off_end - c["stop_date"]).dt.days,
        relapse=relapse,
        days_stop_to_relapse=(c["relapse_date"] - c["stop_date"]).dt.days.where(relapse),
        relapse_kind=c["relapse_kind"].where(relapse),
        restart_date=c["restart_date"],
        vital_status=np.where(c["death_date"].notna(), "dead", "alive"),
    )
    return out.reset_index(drop=True)


def derive_relapse_after_stop(adtte: pd.DataFrame) -> pd.DataFrame:
    """Competing-risks data of relapse after stopping in CR, from the ADTTE RFSSTP rows (one definition).

    Returns ``patient_id, time, status``: time AVAL (days from the last dose, ``ADT - STARTDT + 1``); status 1
    relapse (a PD response or a disease event), 2 death without relapse (the competing event), 0 censored.
    """
    t = check_frame(adtte, "adtte", ["USUBJID", "PARAMCD", "AVAL", "CNSR", "EVNTDESC"])
    t = t[t["PARAMCD"] == "RFSSTP"]
    death = t["EVNTDESC"].astype("string").str.lower().eq("death").fillna(False)
    status = np.select([t["CNSR"] != 0, death], [0, 2], default=1)
    return pd.DataFrame({"patient_id": t["USUBJID"].to_numpy(), "time": t["AVAL"].to_numpy(dtype=float),
                         "status": status}).reset_index(drop=True)  # fmt: skip
