"""Kaplan-Meier curves, quartiles with R's confidence intervals, landmarks, risk tables, median follow-up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from tkitrack.outcomes.reporting import BEYOND_FOLLOW_UP, NOT_ESTIMABLE, NOT_REACHED, format_with_interval
from tkitrack.schemas.errors import InputError

__all__ = [
    "KM_COLUMNS",
    "LANDMARK_COLUMNS",
    "QUANTILE_COLUMNS",
    "KMSummary",
    "compute_km",
    "compute_km_quantiles",
    "compute_landmarks",
    "compute_median_followup",
    "compute_risk_table",
    "compute_time_ticks",
    "summarise_km",
    "summarise_survival",
]

ConfType = Literal["log", "log-log", "plain"]
MedianRule = Literal["first", "midpoint"]
_TOL = float(np.sqrt(np.finfo(float).eps))  # R survival's tolerance for a flat stretch at the quantile
KM_COLUMNS = ["time", "n_risk", "n_event", "n_censor", "survival", "lower", "upper"]
QUANTILE_COLUMNS = ["p", "time", "lower", "upper", "time_note", "lower_note", "upper_note"]
LANDMARK_COLUMNS = ["time", "n_risk", "survival", "lower", "upper", "note"]


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


def _quantile_time(time: np.ndarray, surv: np.ndarray, p: float, rule: MedianRule) -> tuple[float, str]:
    """First time the curve reaches ``1 - p`` (R ``quantile.survfit``; "midpoint" averages a flat stretch).

    Returns the time and a note: "" when reached; "not reached" when the curve is defined to the end of
    follow-up and stays above ``1 - p``; "not estimable" when it becomes undefined (a confidence curve once
    the estimate reaches 0) before reaching ``1 - p``.
    """
    defined = ~np.isnan(surv)
    x, y = np.r_[0.0, time[defined]], np.r_[0.0, 1.0 - surv[defined]]
    if x.size == 1:
        return float("nan"), NOT_ESTIMABLE
    xmax = x[-1]
    reached = np.flatnonzero(y >= p - _TOL)
    if reached.size == 0:
        return float("nan"), NOT_REACHED if defined.all() else NOT_ESTIMABLE
    first = reached[0]
    if rule == "first" or abs(y[first] - p) >= _TOL:
        return float(x[first]), ""
    beyond = np.flatnonzero(y > p + _TOL)
    return float((x[first] + (x[beyond[0]] if beyond.size else xmax)) / 2), ""


def compute_km_quantiles(
    km: pd.DataFrame, probs: Sequence[float] = (0.25, 0.5, 0.75), *, median_rule: MedianRule = "first"
) -> pd.DataFrame:
    """Times by which ``p`` of patients had the event, with their CI, from a :func:`compute_km` table.

    The CI of a quantile is where the lower and upper confidence curves reach ``1 - p`` (Brookmeyer-Crowley
    as R ``quantile.survfit`` computes it). Without any event the interval is not estimable (the band has no
    width), and a zero-width interval is not estimable either.

    Returns
    -------
    DataFrame
        ``p, time, lower, upper, time_note, lower_note, upper_note`` (notes "", "not reached" or "not
        estimable"; the value is NaN whenever its note is not "").
    """
    x = km["time"].to_numpy(dtype="float64")
    no_events = int(km["n_event"].sum()) == 0
    rows = []
    for p in probs:  # a handful of quantiles
        est, est_note = _quantile_time(x, km["survival"].to_numpy(dtype="float64"), p, median_rule)
        lo, lo_note = _quantile_time(x, km["lower"].to_numpy(dtype="float64"), p, median_rule)
        hi, hi_note = _quantile_time(x, km["upper"].to_numpy(dtype="float64"), p, median_rule)
        if no_events or (lo_note == hi_note == "" and lo == hi):
            lo, hi, lo_note, hi_note = np.nan, np.nan, NOT_ESTIMABLE, NOT_ESTIMABLE
        rows.append((p, est, lo, hi, est_note, lo_note, hi_note))
    return pd.DataFrame(rows, columns=QUANTILE_COLUMNS)


@dataclass(frozen=True)
class KMSummary:
    """What a Kaplan-Meier curve says: n, events, quartiles with CIs, and estimates at landmark times.

    ``quantiles`` is :func:`compute_km_quantiles` (rows for 0.25, 0.5, 0.75); ``landmarks`` has columns
    ``time, n_risk, survival, lower, upper, note`` (note "beyond follow-up" after the last follow-up, "not
    estimable" when the interval has no width, as at 100% before any event).
    """

    n: int
    events: int
    quantiles: pd.DataFrame
    conf: float = 0.95
    conf_type: str = "log"
    median_rule: str = "first"
    landmarks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LANDMARK_COLUMNS))

    def quantile(self, p: float) -> pd.Series:
        hit = self.quantiles[np.isclose(self.quantiles["p"], p)]
        if hit.empty:
            raise InputError(f"quantile {p} was not computed; pass probs=(..., {p}) to summarise_km")
        return hit.iloc[0]

    @property
    def median(self) -> float:
        """Median time (NaN when not reached or not estimable)."""
        return float(self.quantile(0.5)["time"])

    @property
    def median_lower(self) -> float:
        return float(self.quantile(0.5)["lower"])

    @property
    def median_upper(self) -> float:
        return float(self.quantile(0.5)["upper"])

    @property
    def median_reached(self) -> bool:
        """True when the curve drops to 0.5 or below."""
        return not np.isnan(self.median)

    def quantile_text(self, p: float = 0.5, *, decimals: int = 0) -> str:
        """``310 (95% CI 285-363)``; "not reached" / "not estimable" for any part the data do not give."""
        q = self.quantile(p)
        return format_with_interval(q["time"], q["lower"], q["upper"], note=q["time_note"],
                                    lower_note=q["lower_note"], upper_note=q["upper_note"], conf=self.conf,
                                    decimals=decimals)  # fmt: skip

    @property
    def median_text(self) -> str:
        """``310 (95% CI 285-363)``; "not reached" / "not estimable" for any part the data do not give."""
        return self.quantile_text(0.5)

    def landmark_text(self, *, decimals: int = 0) -> list[str]:
        """Each landmark as ``41% (95% CI 35-49%)``, ``100% (95% CI not estimable)`` or "beyond follow-up"."""
        return [
            format_with_interval(
                r.survival, r.lower, r.upper, note=r.note, conf=self.conf, decimals=decimals, percent=True
            )
            for r in self.landmarks.itertuples()
        ]


def summarise_km(
    time,
    event,
    *,
    conf_type: ConfType = "log",
    median_rule: MedianRule = "first",
    landmarks: Sequence[float] = (),
    conf: float = 0.95,
    probs: Sequence[float] = (0.25, 0.5, 0.75),
) -> KMSummary:
    """Quartiles (median first among them) with their CIs (R's convention) and survival at landmark times.

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
    quantiles = compute_km_quantiles(km, tuple(probs) if 0.5 in probs else (*probs, 0.5), median_rule=median_rule)
    t = np.asarray(time, dtype="float64").ravel()
    marks = compute_landmarks(km, t, landmarks)
    return KMSummary(int(t.size), int(km["n_event"].sum()), quantiles, conf, conf_type, median_rule, marks)


def compute_landmarks(km: pd.DataFrame, time, landmarks: Sequence[float]) -> pd.DataFrame:
    """Survival with its CI and the number at risk at each landmark time, from a :func:`compute_km` table.

    A landmark after the last follow-up time has no estimate (note "beyond follow-up"); an interval without
    width (100% before the first event, 0% after the last patient's event) is "not estimable".
    """
    t = np.asarray(time, dtype="float64").ravel()
    x = km["time"].to_numpy()
    at = np.asarray(landmarks, dtype="float64")
    row = np.searchsorted(x, at, side="right") - 1
    beyond = at > (t.max() if t.size else -np.inf)
    pick = km.iloc[np.clip(row, 0, None)]
    values = {c: np.where(beyond, np.nan, pick[c].to_numpy(dtype="float64")) for c in ("survival", "lower", "upper")}
    flat = ~beyond & ~(values["upper"] > values["lower"])  # zero width, or undefined once survival is 0
    note = np.where(beyond, BEYOND_FOLLOW_UP, np.where(flat, NOT_ESTIMABLE, ""))
    return pd.DataFrame({"time": at, "n_risk": compute_risk_table(t, at), **values, "note": note})


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


def compute_median_followup(
    time, event, *, conf: float = 0.95, conf_type: ConfType = "log", median_rule: MedianRule = "first"
) -> KMSummary:
    """Median follow-up by reverse Kaplan-Meier: censorings are the events and events are censored.

    Returns the :class:`KMSummary` of the reverse curve; its ``median`` is the median potential follow-up,
    with the same CI transform and median rule as the survival estimates it accompanies.

    >>> compute_median_followup([2, 4, 6, 8], [1, 0, 0, 1]).median
    6.0
    """
    t, e = _check_survival_input(time, event, conf, conf_type)
    return summarise_km(t, 1 - e, conf=conf, conf_type=conf_type, median_rule=median_rule, probs=(0.5,))


def summarise_survival(
    df: pd.DataFrame,
    time_col: str,
    event_col: str,
    group_col: str | None = None,
    *,
    event_codes: Sequence | None = None,
    **kw,
) -> pd.DataFrame:
    """One tidy row per group (or one overall row): n, events, quartiles with CIs and notes, landmark estimates.

    ``event_codes`` turns a coded status into events (``event_codes=(2,)`` for R's lung data); other keyword
    arguments go to :func:`summarise_km`. Quartile columns: ``median, lower, upper`` (and their
    ``*_note``), ``q25``/``q75`` with ``_lower``/``_upper``/``_note``; landmark columns are ``survival_<t>``,
    ``survival_<t>_lower``, ``survival_<t>_upper``, ``survival_<t>_note``.

    Returns
    -------
    DataFrame
        ``group, n, events, median, lower, upper, median_text``, the notes, quartiles, then the landmark columns.
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
        med = s.quantile(0.5)
        row = {
            "group": label,
            "n": s.n,
            "events": s.events,
            "median": med["time"],
            "lower": med["lower"],
            "upper": med["upper"],
            "median_text": s.median_text,
            "median_note": med["time_note"],
            "lower_note": med["lower_note"],
            "upper_note": med["upper_note"],
        }
        for q in s.quantiles.itertuples():
            if q.p in (0.25, 0.75):
                key = f"q{round(q.p * 100)}"
                row |= {key: q.time, f"{key}_lower": q.lower, f"{key}_upper": q.upper, f"{key}_note": q.time_note,
                        f"{key}_text": s.quantile_text(q.p)}  # fmt: skip
        for m in s.landmarks.itertuples():
            row |= {
                f"survival_{m.time:g}": m.survival,
                f"survival_{m.time:g}_lower": m.lower,
                f"survival_{m.time:g}_upper": m.upper,
                f"survival_{m.time:g}_note": m.note,
            }
        rows.append(row)
    return pd.DataFrame(rows)
