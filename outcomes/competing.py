"""Cumulative incidence with competing events (Aalen-Johansen, cmprsk's variance) and Gray's test between groups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from tkitrack.outcomes.reporting import format_p_clause
from tkitrack.schemas.errors import InputError

__all__ = ["CIF_COLUMNS", "GrayTestResult", "compare_cif", "compute_cif"]

CifConfType = Literal["log-log", "log", "plain"]
Variance = Literal["gray", "delta"]
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
    if conf_type not in ("log-log", "log", "plain"):
        raise InputError(f"conf_type must be 'log-log', 'log' or 'plain'; found {conf_type!r}")
    return t, s


def compute_cif(
    time,
    status,
    *,
    event: int = 1,
    competing: Sequence[int] = (2,),
    conf: float = 0.95,
    conf_type: CifConfType = "log-log",
    variance: Variance = "gray",
) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of one event type in the presence of competing events.

    CIF(t) = sum over event times t_j <= t of S(t_j-) * d1_j / n_j, where S is the Kaplan-Meier estimate of
    being free of any event. Unlike 1 - KM (which treats competing events as censored and overstates the
    risk), it never exceeds the probability of still being event-free.

    ``variance="gray"`` (default) is the estimator of R ``cmprsk::cuminc`` (Gray 1988, with its correction for
    tied events): Var F(t) = sum_j S(t_j-)^2 / n_j^2 [ c1_j d1_j (1 - (F(t) - F(t_j)) / S(t_j))^2
    + c2_j d2_j ((F(t) - F(t_j)) / S(t_j))^2 ], c_j = 1 - (d_j - 1) / (n_j - 1) for the d_j tied events of
    each kind. ``variance="delta"`` is the delta-method (multinomial) estimator of lifelines'
    AalenJohansenFitter: Var F(t) = sum_j (F(t) - F(t_j))^2 d_j / (n_j (n_j - d_j))
    + S(t_j-)^2 d1_j (n_j - d1_j) / n_j^3 - 2 (F(t) - F(t_j)) S(t_j-) d1_j / n_j^2.
    The default interval is symmetric on log(-log F) (cmprsk users' usual choice), so it stays within [0, 1];
    ``"log"`` is symmetric on log F, ``"plain"`` on F.

    Parameters
    ----------
    time : array-like of float
        Time to the first event or censoring.
    status : array-like of int
        0 censored, ``event`` for the event of interest, any of ``competing`` for a competing event.
    event, competing : int, sequence of int
        Status codes of the event of interest and of the competing events.
    conf, conf_type, variance : float, {"log-log", "log", "plain"}, {"gray", "delta"}
        Confidence level, transform and variance estimator.

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
    if variance not in ("gray", "delta"):
        raise InputError(f"variance must be 'gray' (cmprsk) or 'delta' (lifelines); found {variance!r}")
    times, inverse, counts = np.unique(t, return_inverse=True, return_counts=True)
    d1 = np.bincount(inverse, weights=(s == event).astype(float), minlength=times.size)
    d2 = np.bincount(inverse, weights=np.isin(s, competing).astype(float), minlength=times.size)
    d = d1 + d2
    n = t.size - np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(float)
    surv = np.cumprod(1.0 - d / n)
    surv_before = np.concatenate([[1.0], surv[:-1]])
    cif = np.cumsum(surv_before * d1 / n)
    var = (
        _gray_variance(n, d1, d2, surv, surv_before, cif)
        if variance == "gray"
        else _delta_variance(n, d, d1, surv_before, cif)
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


def _tie_factor(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Gray's correction for ``d`` tied events among ``n`` at risk: 1 - (d - 1) / (n - 1) (1 without ties)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 1, 1.0 - (d - 1.0) / (n - 1.0), 1.0)


def _gray_variance(n, d1, d2, surv, surv_before, cif) -> np.ndarray:
    """cmprsk's variance at every time, expanded into cumulative sums (linear in the number of times)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_s = np.where(surv > 0, 1.0 / surv, 0.0)
    a = surv_before**2 * _tie_factor(d1, n) * d1 / n**2  # event of interest at t_j
    b = np.where(surv > 0, surv_before**2 * _tie_factor(d2, n) * d2 / n**2, 0.0)  # competing event at t_j
    c = (a + b) * inv_s**2
    # sum_j a_j (1 - (F - F_j) u_j)^2 + b_j (F - F_j)^2 u_j^2, with u_j = 1 / S(t_j)
    return (
        np.cumsum(a)
        - 2 * (cif * np.cumsum(a * inv_s) - np.cumsum(a * inv_s * cif))
        + cif**2 * np.cumsum(c)
        - 2 * cif * np.cumsum(c * cif)
        + np.cumsum(c * cif**2)
    )


def _delta_variance(n, d, d1, surv_before, cif) -> np.ndarray:
    """Delta-method variance: sum_j<=i a_j (F_i - F_j)^2 + b_j - 2 c_j (F_i - F_j), as cumulative sums."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(n > d, d / (n * (n - d)), 0.0)  # where n == d nothing follows, F_i - F_j is 0
    b = surv_before**2 * d1 * (n - d1) / n**3
    c = surv_before * d1 / n**2
    return (
        cif**2 * np.cumsum(a)
        - 2 * cif * np.cumsum(a * cif)
        + np.cumsum(a * cif**2)
        + np.cumsum(b)
        - 2 * cif * np.cumsum(c)
        + 2 * np.cumsum(c * cif)
    )


def _cif_band(cif, se, conf, conf_type) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise bounds; log-log: F ** exp(+-z se / (F log F)); log: F exp(+-z se / F); within [0, 1]."""
    z = stats.norm.ppf(1 - (1 - conf) / 2)
    if conf_type == "plain":
        return np.clip(cif - z * se, 0, 1), np.clip(cif + z * se, 0, 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "log":
            lower, upper = cif * np.exp(-z * se / cif), np.clip(cif * np.exp(z * se / cif), 0, 1)
        else:
            loglog, se_ll = np.log(-np.log(cif)), se / (cif * np.abs(np.log(cif)))
            lower, upper = np.exp(-np.exp(loglog + z * se_ll)), np.exp(-np.exp(loglog - z * se_ll))
    none, all_ = cif <= 0, cif >= 1
    lower[none], upper[none] = 0.0, 0.0
    lower[all_], upper[all_] = 1.0, 1.0
    return lower, upper


@dataclass(frozen=True)
class GrayTestResult:
    """Gray's K-sample test of equal cumulative incidence (R ``cmprsk::cuminc``'s ``Tests``): exploratory.

    ``table`` has ``group, n, events, competing`` per group; ``df`` 0 (and ``p`` NaN) when there is no test.
    """

    stat: float
    df: int
    p: float
    table: pd.DataFrame
    label: str = "exploratory"
    note: str = ""

    @property
    def text(self) -> str:
        """``Gray's test 0.91 on 2 df, p = 0.63`` or ``not available: ...``."""
        if self.df == 0:
            return f"not available: {self.note}"
        return f"Gray's test {self.stat:.2f} on {self.df} df, {format_p_clause(self.p)}"


def compare_cif(
    time, status, group, *, event: int = 1, competing: Sequence[int] = (2,), rho: float = 0.0
) -> GrayTestResult:
    """Gray's (1988) test that the cumulative incidence of ``event`` is the same in every group.

    The score of group k sums, over the event times, W(t) (d1_k - d1 R_k (1 - F1_k(t-)) / (S_k(t-) Q(t))): the
    events of interest in the group against those expected from the pooled subdistribution hazard, with
    R_k / S_k(t-) the group's subdistribution risk set, Q = sum of R_k (1 - F1_k(t-)) / S_k(t-), F1_k and S_k the
    group's Aalen-Johansen and all-cause Kaplan-Meier estimates and W = (1 - F(t-))^rho. Its variance is Gray's
    asymptotic one with cmprsk's correction for ties; the statistic s' V^-1 s of the first K - 1 scores is
    chi-square with K - 1 df. Computed as arrays over (event time, group, group): no loop over patients or times.

    Examples
    --------
    >>> res = compare_cif([1, 2, 3, 4, 5, 6], [1, 2, 1, 1, 0, 2], ["a", "a", "a", "b", "b", "b"])
    >>> res.df, res.table["events"].tolist()
    (1, [2, 1])
    """
    t, s = _check_cif_input(time, status, event, tuple(competing), 0.95, "log-log")
    g = pd.Series(np.asarray(group, dtype=object).ravel())
    if g.size != t.size or g.isna().any():
        raise InputError(f"group must give one non-missing label per patient; found {int(g.isna().sum())} missing")
    labels, codes = np.unique(g.astype(str).to_numpy(), return_inverse=True)
    k = labels.size
    is1, is2 = s == event, np.isin(s, competing)
    table = pd.DataFrame({"group": labels, "n": np.bincount(codes, minlength=k),
                          "events": np.bincount(codes, weights=is1, minlength=k).astype(int),
                          "competing": np.bincount(codes, weights=is2, minlength=k).astype(int)})  # fmt: skip
    if k < 2:
        raise InputError(f"Gray's test needs at least two groups; found only {labels.tolist()}")
    if not is1.any():
        return GrayTestResult(0.0, 0, float("nan"), table, note="no events of interest")
    times = np.unique(t[is1 | is2])
    pos = np.searchsorted(times, t)
    r = np.stack([(codes == j).sum() - np.searchsorted(np.sort(t[codes == j]), times) for j in range(k)], axis=1)
    d1 = np.zeros((times.size, k))
    d2 = np.zeros((times.size, k))
    np.add.at(d1, (pos[is1], codes[is1]), 1.0)
    np.add.at(d2, (pos[is2], codes[is2]), 1.0)
    r = r.astype(float)
    at_risk = r > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(at_risk, 1.0 - (d1 + d2) / r, 1.0), axis=0)
        surv_before = np.vstack([np.ones((1, k)), surv[:-1]])
        f1 = np.cumsum(np.where(at_risk, surv_before * d1 / r, 0.0), axis=0)
        f1_before = np.vstack([np.zeros((1, k)), f1[:-1]])
        h = np.where(at_risk, r / surv_before, 0.0)  # subdistribution risk set per group
        tr = h.sum(1)
        tq = np.where(at_risk, r * (1 - f1_before) / surv_before, 0.0).sum(1)
        nd1 = d1.sum(1)
        pooled = np.cumsum(nd1 / tr)
        pooled_before = np.r_[0.0, pooled[:-1]]
        w = (1.0 - pooled_before) ** rho
        score = (
            w[:, None] * np.where(at_risk, d1 - nd1[:, None] * r * (1 - f1_before) / (surv_before * tq[:, None]), 0.0)
        ).sum(0)
        eye = np.eye(k)
        a = w[:, None, None] * h[:, :, None] * (eye[None] - h[:, None, :] / tr[:, None, None])
        c = np.cumsum(a * np.where(pooled_before < 1, nd1 / (tr * (1 - pooled_before)), 0.0)[:, None, None], axis=0)
        # events of interest: every group at risk
        t4 = np.where(surv > 0, 1 - (1 - pooled[:, None]) / surv, 1.0)
        t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * surv_before - 1), 1.0)
        t3 = np.where(at_risk & (nd1[:, None] > 0), t5 * surv_before * nd1[:, None] / (tr[:, None] * r), 0.0)
        m1 = a - t4[:, None, :] * c
        # competing events: groups with one, still event-free somewhere
        t4b = np.where(surv > 0, (1 - pooled[:, None]) / surv, 0.0)
        t5b = np.where(d2 > 1, 1 - (d2 - 1) / (r - 1), 1.0)
        t3b = np.where((surv > 0) & (d2 > 0), t5b * surv_before**2 * d2 / r**2, 0.0)
        m2 = t4b[:, None, :] * c
    var = np.einsum("tik,tjk,tk->ij", m1, m1, t3) + np.einsum("tik,tjk,tk->ij", m2, m2, t3b)
    v3 = (t4**2 * t3).sum(0) + (t4b**2 * t3b).sum(0)
    v2 = np.einsum("tik,tk->ik", m1, t4 * t3) - np.einsum("tik,tk->ik", m2, t4b * t3b)
    cf = c[-1]
    var += np.einsum("ik,jk,k->ij", cf, cf, v3) + cf @ v2.T + v2 @ cf.T
    sub, u = var[: k - 1, : k - 1], score[: k - 1]
    df = int(np.linalg.matrix_rank(sub))
    if df == 0:
        return GrayTestResult(0.0, 0, float("nan"), table, note="no information to compare the groups")
    stat = float(u @ np.linalg.pinv(sub) @ u)
    return GrayTestResult(stat, df, float(stats.chi2.sf(stat, df)), table)
