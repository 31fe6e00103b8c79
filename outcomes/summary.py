"""One endpoint summarised honestly: KM per group, numbers at risk, follow-up, exploratory log-rank and Cox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tkitrack.outcomes.survival import (
    LogRankResult,
    compare_groups,
    compute_km,
    compute_median_followup,
    compute_risk_table,
    compute_time_ticks,
    fit_cox,
    summarise_survival,
)
from tkitrack.schemas.errors import InputError

__all__ = ["SurvivalSummary", "summarise_endpoint", "summarise_response"]

#: Below this many events a median or hazard ratio is shown with a warning.
FEW_EVENTS = 5


@dataclass(frozen=True)
class SurvivalSummary:
    """Everything an honest survival table needs, per group (``all`` when ungrouped)."""

    table: pd.DataFrame
    risk: pd.DataFrame
    followup: str
    curves: dict[str, pd.DataFrame]
    logrank: LogRankResult | None = None
    cox: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def text_table(self, *, decimals: int = 1) -> pd.DataFrame:
        """The summary as text: group, n, events, median with CI, and each landmark as ``S% (lo-hi%)``.

        A landmark beyond the last follow-up reads "beyond follow-up".
        """
        t = self.table
        out = t[["group", "n", "events", "median_text"]].rename(columns={"median_text": "median days (95% CI)"})
        for col in [c for c in t.columns if c.startswith("survival_") and not c.endswith(("_lower", "_upper"))]:
            est, lo, hi = t[col], t[f"{col}_lower"], t[f"{col}_upper"]
            out[f"at {col.removeprefix('survival_')} days (95% CI)"] = [
                "beyond follow-up" if pd.isna(e) else f"{e:.{decimals}%} ({a:.{decimals}%}-{b:.{decimals}%})"
                for e, a, b in zip(est, lo, hi, strict=True)
            ]
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
) -> SurvivalSummary:
    """Summarise one time-to-event endpoint (``time`` in days, ``event`` true/1 for an event).

    Returns per-group n, events, median with CI ("not reached" when it is not), landmark estimates, numbers at
    risk at ``risk_times``, the median follow-up by reverse Kaplan-Meier, and, with two or more groups, the
    log-rank test (exploratory) and, with ``cox=True`` and exactly two groups, the Cox hazard ratio; each with
    the event counts it rests on, and notes where they are too few.
    """
    missing = [c for c in (time, event, group) if c and c not in data.columns]
    if missing:
        raise InputError(f"column(s) {', '.join(missing)} not found; the data has {', '.join(map(str, data.columns))}")
    df = data[[c for c in (time, event, group) if c]].copy()
    df = df[df[time].notna()]
    if df.empty:
        raise InputError("no patient has a time for this endpoint; nothing to summarise")
    df["_e"] = df[event].astype(float).astype(int)
    df["_g"] = df[group].astype("string").fillna("missing") if group else "all"
    table = summarise_survival(df, time, "_e", "_g", conf_type=conf_type, median_rule=median_rule,
                               landmarks=tuple(landmarks))  # fmt: skip
    t = df[time].to_numpy(float)
    ticks = np.asarray(risk_times if risk_times is not None else compute_time_ticks(float(t.max())), dtype=float)
    risk = pd.DataFrame({"time": ticks})
    curves = {}
    for label, sub in df.groupby("_g", sort=True):
        risk[str(label)] = compute_risk_table(sub[time], ticks)
        curves[str(label)] = compute_km(sub[time], sub["_e"], conf_type=conf_type)
    fu = compute_median_followup(t, df["_e"].to_numpy())
    notes = []
    low = table[table["events"] < FEW_EVENTS]
    for row in low.itertuples():
        notes.append(f"{row.group}: {row.events} event(s) in {row.n} patients; the median and its CI are fragile")
    logrank = coxres = None
    if group and df["_g"].nunique() >= 2:
        logrank = compare_groups(df[time], df["_e"], df["_g"])
        notes.append(f"log-rank is exploratory: {int(df['_e'].sum())} events in {len(df)} patients")
        if cox and df["_g"].nunique() == 2:
            levels = sorted(df["_g"].unique())
            df["_x"] = (df["_g"] == levels[1]).astype(int)
            coxres = fit_cox(df, time, "_e", ["_x"]).assign(comparison=f"{levels[1]} vs {levels[0]}")
    return SurvivalSummary(table, risk, fu.median_text, curves, logrank, coxres, notes)


def summarise_response(adrs: pd.DataFrame, *, subjects: Sequence[str] | None = None) -> pd.DataFrame:
    """Best overall response and response rates as k/n with exact Clopper-Pearson 95% intervals.

    ``adrs`` is the ADRS from :func:`tkitrack.outcomes.response.derive_adrs`; ``subjects`` the evaluable
    population (default: every subject with a BOR row). Rows: each BOR category, then ORR (CR+PR, best
    response), confirmed ORR (CR+PR, confirmed BOR) and CR rate; columns ``measure, k, n, percent, lower,
    upper, text``.
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
    ]
    out = []
    for measure, k in rows:
        p = compute_proportion(k, n)
        out.append({"measure": measure, "k": k, "n": n, "percent": 100 * p.estimate, "lower": 100 * p.lower,
                    "upper": 100 * p.upper, "text": p.text})  # fmt: skip
    return pd.DataFrame(out)
