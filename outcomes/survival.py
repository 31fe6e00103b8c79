"""Kaplan-Meier curves, medians with R's confidence intervals, landmarks, risk tables, log-rank and Cox."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from tkitrack.schemas.errors import InputError

__all__ = [
    "KMSummary",
    "LogRankResult",
    "compare_groups",
    "compute_km",
    "compute_median_followup",
    "compute_risk_table",
    "compute_time_ticks",
    "fit_cox",
    "summarise_km",
    "summarise_survival",
]

ConfType = Literal["log", "log-log", "plain"]
MedianRule = Literal["first", "midpoint"]
_TOL = float(np.sqrt(np.finfo(float).eps))  # R survival's tolerance for a flat stretch at the quantile
KM_COLUMNS = ["time", "n_risk", "n_event", "n_censor", "survival", "lower", "upper"]


def _check_survival_input(time, event, conf=0.95, conf_type="log") -> tuple[np.ndarray, np.ndarray]:
    """All input checks for the array functions of this module; returns float times and 0/1 events."""
    t = np.asarray(time, dtype="float64").ravel()
    e = np.asarray(event).ravel()
    if t.shape != e.shape:
        raise InputError(f"time and event differ in length ({t.size} and {e.size}); pass one value per patient")
    if np.isnan(t).any() or (t < 0).any():
        bad = t[np.isnan(t) | (t < 0)][:5]
        raise InputError(f"time must be >= 0 and not missing; found {bad.tolist()}: drop or fix those patients")
    e_float = pd.to_numeric(pd.Series(e), errors="coerce").to_numpy(dtype="float64")
    if not np.isin(e_float, (0.0, 1.0)).all():
        bad = pd.unique(pd.Series(e)[~np.isin(e_float, (0.0, 1.0))])[:5]
        raise InputError(
            f"event must be 0/1 or False/True; found {list(bad)}: recode it (for R's lung data, status == 2)"
        )
    if not 0 < float(conf) < 1:
        raise InputError(f"conf must lie strictly between 0 and 1 (for example 0.95); found {conf!r}")
    if conf_type not in ("log", "log-log", "plain"):
        raise InputError(f"conf_type must be 'log', 'log-log' or 'plain'; found {conf_type!r}")
    return t, e_float.astype("int64")


def _confidence_band(surv, se_log, conf, conf_type) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise bounds as R ``survfit`` computes them; ``se_log`` is Greenwood's SE of log S."""
    z = stats.norm.ppf(1 - (1 - conf) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            lower, upper = surv - z * surv * se_log, surv + z * surv * se_log
        elif conf_type == "log":
            lower, upper = surv * np.exp(-z * se_log), surv * np.exp(z * se_log)
        else:  # log-log: symmetric on log(-log S)
            loglog, se_ll = np.log(-np.log(surv)), se_log / np.abs(np.log(surv))
            lower, upper = np.exp(-np.exp(loglog + z * se_ll)), np.exp(-np.exp(loglog - z * se_ll))
    lower, upper = np.clip(lower, 0, 1), np.clip(upper, 0, 1)
    whole = surv >= 1.0
    lower[whole], upper[whole] = 1.0, 1.0
    gone = surv <= 0.0  # R leaves the bounds undefined once the curve reaches 0
    lower[gone], upper[gone] = np.nan, np.nan
    return lower, upper


def compute_km(time, event, *, conf_type: ConfType = "log", conf: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier estimate with Greenwood variance and R ``survfit``'s confidence transforms.

    Parameters
    ----------
    time : array-like of float
        Follow-up time per patient (>= 0).
    event : array-like of 0/1 or bool
        1 when the time is an event, 0 when censored.
    conf_type : {"log", "log-log", "plain"}
        Transform for the pointwise interval (R's ``conf.type``; R's default is "log").
    conf : float
        Confidence level.

    Returns
    -------
    DataFrame
        One row per distinct time, plus a first row at time 0 with survival 1 (unless a time is 0):
        ``time, n_risk, n_event, n_censor, survival, lower, upper``. Bounds are NaN once survival is 0.

    Examples
    --------
    >>> compute_km([1, 2, 2, 3], [1, 1, 0, 0])["survival"].round(3).tolist()
    [1.0, 0.75, 0.5, 0.5]
    """
    t, e = _check_survival_input(time, event, conf, conf_type)
    times, inverse, counts = np.unique(t, return_inverse=True, return_counts=True)
    n_event = np.bincount(inverse, weights=e, minlength=times.size)
    n_risk = t.size - np.concatenate([[0], np.cumsum(counts)[:-1]])
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        increments = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    se_log = np.sqrt(np.cumsum(increments))
    lower, upper = _confidence_band(surv, se_log, conf, conf_type)
    table = pd.DataFrame(
        {
            "time": times,
            "n_risk": n_risk,
            "n_event": n_event.astype("int64"),
            "n_censor": (counts - n_event).astype("int64"),
            "survival": surv,
            "lower": lower,
            "upper": upper,
        }
    )
    if t.size == 0 or times[0] > 0:
        origin = pd.DataFrame([[0.0, t.size, 0, 0, 1.0, 1.0, 1.0]], columns=KM_COLUMNS)
        table = pd.concat([origin.astype(table.dtypes.to_dict()), table], ignore_index=True)
    return table


def _quantile_time(time: np.ndarray, surv: np.ndarray, p: float, rule: MedianRule) -> float:
    """First time the curve reaches ``1 - p`` (R ``quantile.survfit``; "midpoint" averages a flat stretch)."""
    keep = ~np.isnan(surv)
    x, y = np.r_[0.0, time[keep]], np.r_[0.0, 1.0 - surv[keep]]
    if x.size == 1:
        return float("nan")
    xmax = x[-1]
    reached = np.flatnonzero(y >= p - _TOL)
    if reached.size == 0:
        return float("nan")
    first = reached[0]
    if rule == "first" or abs(y[first] - p) >= _TOL:
        return float(x[first])
    beyond = np.flatnonzero(y > p + _TOL)
    return float((x[first] + (x[beyond[0]] if beyond.size else xmax)) / 2)


@dataclass(frozen=True)
class KMSummary:
    """What a Kaplan-Meier curve says: n, events, median with CI, and estimates at landmark times.

    ``landmarks`` has columns ``time, n_risk, survival, lower, upper`` (NaN beyond the last follow-up).
    """

    n: int
    events: int
    median: float
    median_lower: float
    median_upper: float
    conf: float = 0.95
    conf_type: str = "log"
    landmarks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["time", "survival"]))

    @property
    def median_reached(self) -> bool:
        """True when the curve drops to 0.5 or below."""
        return not np.isnan(self.median)

    @property
    def median_text(self) -> str:
        """``310 (95% CI 285-363)``; ``not reached`` for any part that the data do not reach."""

        def fmt(value: float) -> str:
            return "not reached" if np.isnan(value) else f"{value:g}"

        level = f"{self.conf * 100:g}%"
        return f"{fmt(self.median)} ({level} CI {fmt(self.median_lower)}-{fmt(self.median_upper)})"


def summarise_km(
    time,
    event,
    *,
    conf_type: ConfType = "log",
    median_rule: MedianRule = "first",
    landmarks: Sequence[float] = (),
    conf: float = 0.95,
) -> KMSummary:
    """Median survival with its CI (R's convention) and survival at landmark times.

    The CI of the median is where the lower and upper confidence curves reach 0.5 (Brookmeyer-Crowley as
    R ``survfit`` prints it). ``median_rule="first"`` takes the first time survival is <= 0.5;
    ``"midpoint"`` reproduces R's rule for a curve flat at exactly 0.5 (midpoint of the flat stretch).

    Examples
    --------
    >>> summarise_km([1, 2, 3, 4], [1, 1, 1, 1]).median
    2.0
    >>> summarise_km([1, 2, 3, 4], [1, 1, 1, 1], median_rule="midpoint").median
    2.5
    """
    if median_rule not in ("first", "midpoint"):
        raise InputError(f"median_rule must be 'first' or 'midpoint'; found {median_rule!r}")
    km = compute_km(time, event, conf_type=conf_type, conf=conf)
    x = km["time"].to_numpy()
    med = _quantile_time(x, km["survival"].to_numpy(), 0.5, median_rule)
    med_lower = _quantile_time(x, km["lower"].to_numpy(), 0.5, median_rule)  # lower curve reaches 0.5 first
    med_upper = _quantile_time(x, km["upper"].to_numpy(), 0.5, median_rule)
    t = np.asarray(time, dtype="float64").ravel()
    at = np.asarray(landmarks, dtype="float64")
    row = np.searchsorted(x, at, side="right") - 1
    beyond = at > (t.max() if t.size else -np.inf)
    pick = km.iloc[np.clip(row, 0, None)]
    marks = pd.DataFrame(
        {
            "time": at,
            "n_risk": compute_risk_table(t, at),
            **{c: np.where(beyond, np.nan, pick[c].to_numpy()) for c in ("survival", "lower", "upper")},
        }
    )
    return KMSummary(int(t.size), int(km["n_event"].sum()), med, med_lower, med_upper, conf, conf_type, marks)


def compute_risk_table(time, times) -> np.ndarray:
    """Numbers at risk (time >= t) at each of ``times``, for the table under a Kaplan-Meier plot.

    >>> compute_risk_table([1, 2, 2, 5], [0, 2, 3]).tolist()
    [4, 3, 1]
    """
    t = np.sort(np.asarray(time, dtype="float64").ravel())
    return (t.size - np.searchsorted(t, np.asarray(times, dtype="float64"), side="left")).astype("int64")


def compute_time_ticks(max_time: float, target: int = 6) -> np.ndarray:
    """Round tick values from 0 to at most ``max_time`` with a 1, 2, 2.5 or 5 x 10^k step.

    >>> compute_time_ticks(1461).tolist()
    [0.0, 250.0, 500.0, 750.0, 1000.0, 1250.0]
    """
    if not np.isfinite(max_time) or max_time <= 0:
        return np.array([0.0])
    raw = max_time / target
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * power >= raw)
    return np.arange(0.0, max_time + step * 1e-9, step)


def compute_median_followup(time, event, *, conf: float = 0.95) -> KMSummary:
    """Median follow-up by reverse Kaplan-Meier: censorings are the events and events are censored.

    Returns the :class:`KMSummary` of the reverse curve; its ``median`` is the median potential follow-up.

    >>> compute_median_followup([2, 4, 6, 8], [1, 0, 0, 1]).median
    6.0
    """
    t, e = _check_survival_input(time, event, conf)
    return summarise_km(t, 1 - e, conf=conf)


@dataclass(frozen=True)
class LogRankResult:
    """Log-rank test (R ``survdiff``): exploratory, read with the event counts in ``table``."""

    chisq: float
    df: int
    p: float
    table: pd.DataFrame
    label: str = "exploratory"


def compare_groups(time, event, group) -> LogRankResult:
    """Log-rank test of equal survival across groups, with n, observed and expected events per group.

    Returns
    -------
    LogRankResult
        ``chisq``, ``df`` (groups - 1), ``p`` and ``table`` with columns ``group, n, events, expected``.

    Examples
    --------
    >>> res = compare_groups([1, 2, 3, 4], [1, 1, 1, 1], ["a", "b", "a", "b"])
    >>> res.df, res.table["events"].tolist()
    (1, [2, 2])
    """
    t, e = _check_survival_input(time, event)
    g = pd.Series(np.asarray(group, dtype=object).ravel())
    if g.size != t.size or g.isna().any():
        raise InputError(f"group must give one non-missing label per patient; found {g.isna().sum()} missing")
    labels, codes = np.unique(g.astype(str).to_numpy(), return_inverse=True)
    if labels.size < 2:
        raise InputError(f"log-rank needs at least two groups; found only {labels.tolist()}")
    times = np.unique(t[e == 1])
    k = labels.size
    # at risk and events per (event time, group), built with sorted searches: linear in patients
    n_risk = np.empty((times.size, k))
    d = np.empty((times.size, k))
    for j in range(k):  # loop over groups, not patients
        tj, ej = np.sort(t[codes == j]), t[(codes == j) & (e == 1)]
        n_risk[:, j] = tj.size - np.searchsorted(tj, times, side="left")
        d[:, j] = np.bincount(np.searchsorted(times, ej), minlength=times.size)[: times.size]
    n_tot, d_tot = n_risk.sum(1), d.sum(1)
    expected = n_risk * (d_tot / n_tot)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_tot > 1, d_tot * (n_tot - d_tot) / (n_tot**2 * (n_tot - 1)), 0.0)
    cov = np.einsum("t,tg,gh->gh", w * n_tot, n_risk, np.eye(k)) - np.einsum("t,tg,th->gh", w, n_risk, n_risk)
    diff = d.sum(0) - expected.sum(0)
    chisq = float(diff[:-1] @ np.linalg.pinv(cov[:-1, :-1]) @ diff[:-1])
    table = pd.DataFrame(
        {
            "group": labels,
            "n": np.bincount(codes, minlength=k),
            "events": d.sum(0).astype("int64"),
            "expected": expected.sum(0),
        }
    )
    return LogRankResult(chisq, k - 1, float(stats.chi2.sf(chisq, k - 1)), table)


def fit_cox(df: pd.DataFrame, duration_col: str, event_col: str, covariates: Sequence[str]) -> pd.DataFrame:
    """Cox proportional-hazards fit (lifelines, Efron ties as R ``coxph``); exploratory, events shown.

    Returns
    -------
    DataFrame
        One row per covariate: ``covariate, coef, se, hazard_ratio, lower, upper, z, p, n, events`` with
        Wald 95% bounds. Rows with a missing value in any used column are dropped (as R does) and not
        counted in ``n``. Convergence warnings from lifelines are raised as InputError naming the cause.
    """
    from lifelines import CoxPHFitter  # heavy import kept local
    from lifelines.exceptions import ConvergenceError, ConvergenceWarning

    cols = [duration_col, event_col, *covariates]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"fit_cox: column(s) {missing} not in the frame; it has {list(df.columns)}")
    data = df[cols].dropna()
    _check_survival_input(data[duration_col], data[event_col])
    bad = [c for c in covariates if not pd.api.types.is_numeric_dtype(data[c])]
    if bad:
        raise InputError(f"fit_cox: covariate(s) {bad} are not numeric; encode them as 0/1 indicator columns")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            cph = CoxPHFitter().fit(data, duration_col=duration_col, event_col=event_col)
        except (ConvergenceWarning, ConvergenceError) as exc:
            raise InputError(
                f"fit_cox: the model did not converge ({exc}); too few events for the covariates?"
            ) from exc
    s = cph.summary
    return pd.DataFrame(
        {
            "covariate": list(s.index),
            "coef": s["coef"].to_numpy(),
            "se": s["se(coef)"].to_numpy(),
            "hazard_ratio": s["exp(coef)"].to_numpy(),
            "lower": s["exp(coef) lower 95%"].to_numpy(),
            "upper": s["exp(coef) upper 95%"].to_numpy(),
            "z": s["z"].to_numpy(),
            "p": s["p"].to_numpy(),
            "n": len(data),
            "events": int(data[event_col].sum()),
        }
    )


def summarise_survival(
    df: pd.DataFrame,
    time_col: str,
    event_col: str,
    group_col: str | None = None,
    *,
    event_codes: Sequence | None = None,
    **kw,
) -> pd.DataFrame:
    """One tidy row per group (or one overall row): n, events, median with CI, text, landmark estimates.

    ``event_codes`` turns a coded status into events (``event_codes=(2,)`` for R's lung data); other keyword
    arguments go to :func:`summarise_km`. Landmark columns are ``survival_<t>``, ``survival_<t>_lower``,
    ``survival_<t>_upper``.

    Returns
    -------
    DataFrame
        ``group, n, events, median, lower, upper, median_text`` then the landmark columns.
    """
    needed = [time_col, event_col] + ([group_col] if group_col else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(f"summarise_survival: column(s) {missing} not in the frame; it has {list(df.columns)}")
    event = df[event_col].isin(event_codes).astype(int) if event_codes is not None else df[event_col]
    groups = df[group_col] if group_col else pd.Series("all", index=df.index)
    rows = []
    for label, idx in groups.groupby(groups, sort=True).groups.items():  # loop over groups only
        s = summarise_km(df.loc[idx, time_col], event.loc[idx], **kw)
        row = {
            "group": label,
            "n": s.n,
            "events": s.events,
            "median": s.median,
            "lower": s.median_lower,
            "upper": s.median_upper,
            "median_text": s.median_text,
        }
        for m in s.landmarks.itertuples():
            row |= {
                f"survival_{m.time:g}": m.survival,
                f"survival_{m.time:g}_lower": m.lower,
                f"survival_{m.time:g}_upper": m.upper,
            }
        rows.append(row)
    return pd.DataFrame(rows)
