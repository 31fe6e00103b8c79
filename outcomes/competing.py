"""Cumulative incidence with competing events (Aalen-Johansen) and its delta-method confidence interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from tkitrack.schemas.errors import InputError

__all__ = ["CIF_COLUMNS", "compute_cif"]

CIF_COLUMNS = ["time", "n_risk", "n_event", "n_competing", "n_censor", "cif", "se", "lower", "upper"]


def _check_cif_input(time, status, event, competing, conf, conf_type) -> tuple[np.ndarray, np.ndarray]:
    """All input checks for :func:`compute_cif`; returns float times and integer status codes."""
    t = np.asarray(time, dtype="float64").ravel()
    s = pd.to_numeric(pd.Series(np.asarray(status).ravel()), errors="coerce").to_numpy(dtype="float64")
    if t.shape != s.shape:
        raise InputError(f"time and status differ in length ({t.size} and {s.size}); one value per patient")
    if np.isnan(t).any() or (t < 0).any():
        raise InputError(f"time must be >= 0 and not missing; found {t[np.isnan(t) | (t < 0)][:5].tolist()}")
    if event in competing:
        raise InputError(f"event code {event!r} is also listed in competing={tuple(competing)!r}; pick one")
    known = {0, event, *competing}
    unknown = sorted({v for v in s.tolist() if v not in known}, key=str)
    if unknown:
        raise InputError(
            f"status has code(s) {unknown[:5]} that are neither censored (0), the event ({event!r}) nor "
            f"competing {tuple(competing)!r}; recode them or list them in competing="
        )
    if not 0 < float(conf) < 1:
        raise InputError(f"conf must lie strictly between 0 and 1 (for example 0.95); found {conf!r}")
    if conf_type not in ("log-log", "plain"):
        raise InputError(f"conf_type must be 'log-log' or 'plain'; found {conf_type!r}")
    return t, s


def compute_cif(
    time,
    status,
    *,
    event: int = 1,
    competing: Sequence[int] = (2,),
    conf: float = 0.95,
    conf_type: Literal["log-log", "plain"] = "log-log",
) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of one event type in the presence of competing events.

    CIF(t) = sum over event times t_j <= t of S(t_j-) * d1_j / n_j, where S is the Kaplan-Meier estimate of
    being free of any event. Unlike 1 - KM (which treats competing events as censored and overstates the
    risk), it never exceeds the probability of still being event-free.

    The variance is the delta-method (Greenwood-type) one, treating event counts at each time as
    multinomial: Var F(t) = sum_j (F(t) - F(t_j))^2 d_j / (n_j (n_j - d_j))
    + S(t_j-)^2 d1_j (n_j - d1_j) / n_j^3 - 2 (F(t) - F(t_j)) S(t_j-) d1_j / n_j^2.
    The default interval is symmetric on log(-log F), so it stays within [0, 1] and contains F.

    Parameters
    ----------
    time : array-like of float
        Time to the first event or censoring.
    status : array-like of int
        0 censored, ``event`` for the event of interest, any of ``competing`` for a competing event.
    event, competing : int, sequence of int
        Status codes of the event of interest and of the competing events.
    conf, conf_type : float, {"log-log", "plain"}
        Confidence level and transform.

    Returns
    -------
    DataFrame
        ``time, n_risk, n_event, n_competing, n_censor, cif, se, lower, upper``; first row at time 0.

    Examples
    --------
    >>> compute_cif([1, 2, 3, 4], [1, 2, 1, 0])["cif"].tolist()
    [0.0, 0.25, 0.25, 0.5, 0.5]
    """
    t, s = _check_cif_input(time, status, event, tuple(competing), conf, conf_type)
    times, inverse, counts = np.unique(t, return_inverse=True, return_counts=True)
    d1 = np.bincount(inverse, weights=(s == event).astype(float), minlength=times.size)
    d2 = np.bincount(inverse, weights=np.isin(s, competing).astype(float), minlength=times.size)
    d = d1 + d2
    n = t.size - np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(float)
    surv = np.cumprod(1.0 - d / n)
    surv_before = np.concatenate([[1.0], surv[:-1]])
    cif = np.cumsum(surv_before * d1 / n)
    # Var F(t_i) expanded so each piece is a cumulative sum (linear time):
    # sum_j<=i a_j (F_i - F_j)^2 + b_j - 2 c_j (F_i - F_j)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(n > d, d / (n * (n - d)), 0.0)  # where n == d nothing follows, F_i - F_j is 0
    b = surv_before**2 * d1 * (n - d1) / n**3
    c = surv_before * d1 / n**2
    var = (
        cif**2 * np.cumsum(a)
        - 2 * cif * np.cumsum(a * cif)
        + np.cumsum(a * cif**2)
        + np.cumsum(b)
        - 2 * cif * np.cumsum(c)
        + 2 * np.cumsum(c * cif)
    )
    se = np.sqrt(np.clip(var, 0.0, None))
    lower, upper = _cif_band(cif, se, conf, conf_type)
    table = pd.DataFrame(
        {
            "time": times,
            "n_risk": n.astype("int64"),
            "n_event": d1.astype("int64"),
            "n_competing": d2.astype("int64"),
            "n_censor": (counts - d).astype("int64"),
            "cif": cif,
            "se": se,
            "lower": lower,
            "upper": upper,
        }
    )
    if t.size == 0 or times[0] > 0:
        origin = pd.DataFrame([[0.0, t.size, 0, 0, 0, 0.0, 0.0, 0.0, 0.0]], columns=CIF_COLUMNS)
        table = pd.concat([origin.astype(table.dtypes.to_dict()), table], ignore_index=True)
    return table


def _cif_band(cif, se, conf, conf_type) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise bounds; log-log: F ** exp(+-z se / (F log F)), ordered so lower <= F <= upper."""
    z = stats.norm.ppf(1 - (1 - conf) / 2)
    if conf_type == "plain":
        return np.clip(cif - z * se, 0, 1), np.clip(cif + z * se, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        loglog, se_ll = np.log(-np.log(cif)), se / (cif * np.abs(np.log(cif)))
        lower, upper = np.exp(-np.exp(loglog + z * se_ll)), np.exp(-np.exp(loglog - z * se_ll))
    none, all_ = cif <= 0, cif >= 1
    lower[none], upper[none] = 0.0, 0.0
    lower[all_], upper[all_] = 1.0, 1.0
    return lower, upper
