"""One endpoint summarised honestly: KM per group, quartiles, RMST, numbers at risk, follow-up, log-rank, Cox, CIF."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tkitrack.outcomes.comparisons import CoxResult, LogRankResult, compare_groups, fit_cox
from tkitrack.outcomes.competing import GrayTestResult, compare_cif, compute_cif
from tkitrack.outcomes.reporting import format_number, format_with_interval
from tkitrack.outcomes.rmst import compute_rmst
from tkitrack.outcomes.survival import (
    KMSummary,
    compute_km,
    compute_median_followup,
    compute_risk_table,
    compute_time_ticks,
    summarise_survival,
)
from tkitrack.schemas.errors import InputError

__all__ = [
    "CompetingSummary",
    "SurvivalSummary",
    "best_response_rows",
    "summarise_competing",
    "summarise_endpoint",
    "summarise_response",
]

#: Below this many events a median or hazard ratio is shown with a warning.
FEW_EVENTS = 5


def _group_labels(values: pd.Series) -> pd.Series:
    """Group labels as text: whole numbers without ``.0`` (a column with a gap reads as float), gaps "missing"."""
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")
    return values.astype("string").fillna("missing")


@dataclass(frozen=True)
class SurvivalSummary:
    """Everything an honest survival table needs, per group (``all`` when ungrouped).

    ``table`` is :func:`tkitrack.outcomes.survival.summarise_survival` plus ``rmst`` columns when a horizon
    was given; ``followup_km`` the reverse Kaplan-Meier summary behind ``followup`` (its text).
    """

    table: pd.DataFrame
    risk: pd.DataFrame
    followup: str
    curves: dict[str, pd.DataFrame]
    logrank: LogRankResult | None = None
    cox: CoxResult | None = None
    notes: list[str] = field(default_factory=list)
    conf: float = 0.95
    landmarks: tuple[float, ...] = ()
    rmst_horizon: float | None = None
    followup_km: KMSummary | None = None

    def text_table(self, *, decimals: int = 0, quartiles: bool = False) -> pd.DataFrame:
        """The summary as a reader sees it: group, patients, events, median (and quartiles) with CI, landmarks.

        Landmarks read ``41% (95% CI 35-49%)``, "not estimable" for an interval without width (100% before any
        event), "beyond follow-up" after the last follow-up; RMST (when computed) ``263 (95% CI 248-279)``.
        """
        t = self.table
        level = f"{self.conf * 100:g}% CI"
        out = pd.DataFrame({"Group": t["group"].astype(str), "Patients": t["n"], "Events": t["events"]})
        out[f"Median, days ({level})"] = t["median_text"]
        if quartiles:
            out[f"25th percentile, days ({level})"] = t["q25_text"]
            out[f"75th percentile, days ({level})"] = t["q75_text"]
        for day in self.landmarks:
            key = f"survival_{day:g}"
            out[f"At {day:g} days, % ({level})"] = [
                format_with_interval(e, lo, hi, note=n, conf=self.conf, decimals=decimals, percent=True)
                for e, lo, hi, n in zip(t[key], t[f"{key}_lower"], t[f"{key}_upper"], t[f"{key}_note"], strict=True)
            ]
        if self.rmst_horizon is not None:
            out[f"Restricted mean to {format_number(self.rmst_horizon)} days ({level})"] = t["rmst_text"]
        return out


def summarise_endpoint(
    data: pd.DataFrame,
    *,
    time: str = "time",
    event: str = "event",
    group: str | None = None,
    conf_type: str = "log",
    median_rule: str = "first",
    landmarks: Sequence[float] = (),
    risk_times: Sequence[float] | None = None,
    cox: bool = False,
    conf: float = 0.95,
    rmst_horizon: float | None = None,
    cox_reference: str | None = None,
) -> SurvivalSummary:
    """Summarise one time-to-event endpoint (``time`` in days, ``event`` true/1 for an event).

    Returns per-group n, events, quartiles with CI ("not reached" / "not estimable" where the data do not give
    them), landmark estimates, the restricted mean to ``rmst_horizon``, numbers at risk at ``risk_times``, the
    median follow-up by reverse Kaplan-Meier (same CI transform and median rule), and, with two or more groups,
    the log-rank test (exploratory) and, with ``cox=True``, the Cox hazard ratio of each group against
    ``cox_reference`` (default the first group); each with the event counts it rests on, and notes where
    they are too few.
    """
    missing = [c for c in (time, event, group) if c and c not in data.columns]
    if missing:
        raise InputError(f"column(s) {', '.join(missing)} not found; the data has {', '.join(map(str, data.columns))}")
    df = data[[c for c in (time, event, group) if c]].copy()
    df = df[df[time].notna()]
    if df.empty:
        raise InputError("no patient has a time for this endpoint; nothing to summarise")
    df["_e"] = df[event].astype(float).astype(int)
    df["_g"] = _group_labels(df[group]) if group else "all"
    marks = tuple(float(x) for x in landmarks)
    table = summarise_survival(df, time, "_e", "_g", conf_type=conf_type, median_rule=median_rule,
                               landmarks=marks, conf=conf)  # fmt: skip
    t = df[time].to_numpy(float)
    ticks = np.asarray(risk_times if risk_times is not None else compute_time_ticks(float(t.max())), dtype=float)
    risk = pd.DataFrame({"time": ticks})
    curves = {}
    rmst_rows = []
    for label, sub in df.groupby("_g", sort=True):
        risk[str(label)] = compute_risk_table(sub[time], ticks)
        curves[str(label)] = compute_km(sub[time], sub["_e"], conf_type=conf_type, conf=conf)
        if rmst_horizon is not None:
            r = compute_rmst(sub[time], sub["_e"], rmst_horizon, conf=conf)
            rmst_rows.append({"rmst": r.estimate, "rmst_se": r.se, "rmst_lower": r.lower, "rmst_upper": r.upper,
                              "rmst_text": r.text, "rmst_note": r.note})  # fmt: skip
    if rmst_rows:
        table = pd.concat([table, pd.DataFrame(rmst_rows)], axis=1)
    fu = compute_median_followup(t, df["_e"].to_numpy(), conf=conf, conf_type=conf_type, median_rule=median_rule)
    notes = []
    for row in table[table["events"] < FEW_EVENTS].itertuples():
        notes.append(f"{row.group}: {row.events} event(s) in {row.n} patients; the median and its CI are fragile")
    notes += sorted({n for n in table.get("rmst_note", pd.Series(dtype=str)) if n})
    logrank = coxres = None
    if group and df["_g"].nunique() >= 2:
        logrank = compare_groups(df[time], df["_e"], df["_g"])
        notes.append(f"log-rank is exploratory: {int(df['_e'].sum())} events in {len(df)} patients")
        if cox:
            try:
                coxres = fit_cox(df, time=time, event="_e", group="_g", reference=cox_reference, conf=conf)
            except InputError as err:  # a model that cannot be fitted is said, the rest of the summary stands
                notes.append(f"Cox model not fitted: {err}")
            else:
                notes += coxres.notes
    return SurvivalSummary(table, risk, fu.median_text, curves, logrank, coxres, notes, float(conf), marks,
                           rmst_horizon, fu)  # fmt: skip


@dataclass(frozen=True)
class CompetingSummary:
    """Cumulative incidence per group with its CI at landmark times, and Gray's test between groups."""

    table: pd.DataFrame
    curves: dict[str, pd.DataFrame]
    gray: GrayTestResult | None
    conf: float = 0.95
    landmarks: tuple[float, ...] = ()
    notes: list[str] = field(default_factory=list)

    def text_table(self, *, decimals: int = 0) -> pd.DataFrame:
        """Group, patients, events, competing events, and each landmark as ``12% (95% CI 4-25%)``."""
        t = self.table
        level = f"{self.conf * 100:g}% CI"
        out = pd.DataFrame({"Group": t["group"].astype(str), "Patients": t["n"], "Events": t["events"],
                            "Competing events": t["competing"]})  # fmt: skip
        for day in self.landmarks:
            key = f"cif_{day:g}"
            out[f"At {day:g} days, % ({level})"] = [
                format_with_interval(e, lo, hi, note=n, conf=self.conf, decimals=decimals, percent=True)
                for e, lo, hi, n in zip(t[key], t[f"{key}_lower"], t[f"{key}_upper"], t[f"{key}_note"], strict=True)
            ]
        return out


def summarise_competing(
    data: pd.DataFrame,
    *,
    time: str = "time",
    status: str = "status",
    group: str | None = None,
    event: int = 1,
    competing: Sequence[int] = (2,),
    conf: float = 0.95,
    conf_type: str = "log-log",
    landmarks: Sequence[float] = (),
) -> CompetingSummary:
    """Aalen-Johansen cumulative incidence of ``event`` per group (competing events not censored), its CI
    (cmprsk's variance; log-log or log transform) at ``landmarks``, and Gray's test with two or more groups."""
    missing = [c for c in (time, status, group) if c and c not in data.columns]
    if missing:
        raise InputError(f"column(s) {', '.join(missing)} not found; the data has {', '.join(map(str, data.columns))}")
    df = data[data[time].notna()]
    if df.empty:
        raise InputError("no patient has a time for this endpoint; nothing to summarise")
    groups = _group_labels(df[group]) if group else pd.Series("all", index=df.index)
    marks = tuple(float(x) for x in landmarks)
    rows, curves = [], {}
    for label, sub in df.groupby(groups, sort=True):  # loop over groups only
        cif = compute_cif(sub[time], sub[status], event=event, competing=competing, conf=conf, conf_type=conf_type)
        curves[str(label)] = cif
        row = {"group": str(label), "n": len(sub), "events": int(cif["n_event"].sum()),
               "competing": int(cif["n_competing"].sum())}  # fmt: skip
        x = cif["time"].to_numpy()
        last = float(sub[time].max())
        for day in marks:
            i = int(np.searchsorted(x, day, side="right") - 1)
            beyond = day > last
            est, lo, hi = (np.nan,) * 3 if beyond else (cif["cif"].iat[i], cif["lower"].iat[i], cif["upper"].iat[i])
            note = "beyond follow-up" if beyond else ("not estimable" if not hi > lo else "")
            row |= {f"cif_{day:g}": est, f"cif_{day:g}_lower": lo, f"cif_{day:g}_upper": hi, f"cif_{day:g}_note": note}
        rows.append(row)
    gray = None
    notes = []
    if group and groups.nunique() >= 2:
        gray = compare_cif(df[time], df[status], groups, event=event, competing=competing)
        notes.append(f"Gray's test is exploratory: {int(gray.table['events'].sum())} events in {len(df)} patients")
    return CompetingSummary(pd.DataFrame(rows), curves, gray, float(conf), marks, notes)


def best_response_rows(adrs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ADRS that response summaries read (:func:`summarise_response`,
    :func:`tkitrack.outcomes.tabulate.summarise_response_by`,
    :func:`tkitrack.outcomes.tumour.derive_best_response_from_adrs`): each subject's best overall response,
    confirmed (CBOR) and unconfirmed (BOR), in ADRS order. A registry's ADRS has millions of other rows."""
    return adrs[adrs["PARAMCD"].isin(("BOR", "CBOR"))].reset_index(drop=True)


def summarise_response(adrs: pd.DataFrame, *, subjects: Sequence[str] | None = None) -> pd.DataFrame:
    """Best overall response and response rates as k/n with exact Clopper-Pearson 95% intervals.

    ``adrs`` is the ADRS from :func:`tkitrack.outcomes.response.derive_adrs`; ``subjects`` the evaluable
    population (default: every subject with a BOR row). Rows: each BOR category, then ORR (CR+PR, best
    response), confirmed ORR (CR+PR, confirmed BOR), CR rate and confirmed CR rate; columns ``measure, k, n,
    percent, lower, upper, text, labelled`` (``labelled`` names the exact Clopper-Pearson interval).
    """
    from tkitrack.outcomes.proportions import compute_proportion

    bor = adrs[adrs["PARAMCD"] == "BOR"].drop_duplicates("USUBJID").set_index("USUBJID")["AVALC"]
    cbor = adrs[adrs["PARAMCD"] == "CBOR"].drop_duplicates("USUBJID").set_index("USUBJID")["AVALC"]
    pop = pd.Index(subjects if subjects is not None else bor.index).unique()
    bor = bor.reindex(pop).fillna("MISSING")
    cbor = cbor.reindex(pop).fillna("MISSING")
    n = len(pop)
    rows = []
    for cat in ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "MISSING"):
        k = int((bor == cat).sum())
        if k or cat in ("CR", "PR", "SD", "PD"):
            rows.append((f"best response {cat}", k))
    rows += [
        ("objective response (CR+PR)", int(bor.isin(["CR", "PR"]).sum())),
        ("confirmed objective response", int(cbor.isin(["CR", "PR"]).sum())),
        ("complete response", int((bor == "CR").sum())),
        ("confirmed complete response", int((cbor == "CR").sum())),
    ]
    out = []
    for measure, k in rows:
        p = compute_proportion(k, n)
        out.append({"measure": measure, "k": k, "n": n, "percent": 100 * p.estimate, "lower": 100 * p.lower,
                    "upper": 100 * p.upper, "text": p.text, "labelled": p.labelled})  # fmt: skip
    return pd.DataFrame(out)
