"""Exploratory group comparisons: log-rank (R ``survdiff``) and Cox hazard ratios (R ``coxph``, Efron ties).

Both are reported with the events they rest on, and both say so when the data carry no information: a log-rank
test where fewer than two groups have anyone at risk at an event time has 0 degrees of freedom and no p-value
(R prints "0 on 0 df"); a hazard ratio whose partial likelihood keeps growing as the coefficient goes to plus or
minus infinity (a group without events, or every event of one group happening after the other group has left
follow-up: "monotone likelihood", R's "coefficient may be infinite") is "not estimable", never a number.

Which hazard ratios are estimable is decided from the data, not from a failed fit: draw an arrow from group b to
group a whenever someone of group a has the event while someone of group b is at risk. The partial likelihood
has a finite maximum exactly when this graph is strongly connected; otherwise it factorises into one Cox
likelihood per strongly connected component, each fitted on that component's patients, and a hazard ratio
between two components is not estimable. The fits use lifelines with Newton steps until the step itself is
negligible (R stops on the change in log-likelihood, which with lifelines' damped steps ends too early).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from tkitrack.outcomes.reporting import NOT_ESTIMABLE, format_p_clause, format_ratio
from tkitrack.outcomes.survival import _check_survival_input
from tkitrack.schemas.errors import InputError

__all__ = ["COX_COLUMNS", "COX_FIT_OPTIONS", "CoxResult", "LogRankResult", "compare_groups", "fit_cox"]

#: lifelines Newton-Raphson settings that reach R ``coxph``'s estimates (to ~1e-8 relative): stop on the size of
#: the Newton step (its decrement), never on a small change in log-likelihood.
COX_FIT_OPTIONS: dict[str, float] = {"precision": 1e-20, "r_precision": 0.0}
_STEP_SIZES = (0.95, 0.5, 0.25)

#: Columns of :attr:`CoxResult.table`, one row per group compared with the reference.
COX_COLUMNS = (
    "group", "reference", "n", "events", "coef", "se", "hazard_ratio", "lower", "upper", "z", "p", "estimable", "note",
)  # fmt: skip


@dataclass(frozen=True)
class LogRankResult:
    """Log-rank test (R ``survdiff``): exploratory, read with the event counts in ``table``.

    ``df`` counts the groups with expected events minus one (R); with ``df == 0`` there is no test and
    ``p`` is NaN, with ``note`` saying why.
    """

    chisq: float
    df: int
    p: float
    table: pd.DataFrame
    label: str = "exploratory"
    note: str = ""

    @property
    def text(self) -> str:
        """``chi-square 10.33 on 1 df, p = 0.001`` or ``not available: ...``."""
        if self.df == 0:
            return f"not available: {self.note}"
        return f"chi-square {self.chisq:.2f} on {self.df} df, {format_p_clause(self.p)}"


def _groups(group, size: int) -> tuple[np.ndarray, np.ndarray]:
    g = pd.Series(np.asarray(group, dtype=object).ravel())
    if g.size != size or g.isna().any():
        raise InputError(f"group must give one non-missing label per patient; found {int(g.isna().sum())} missing")
    labels, codes = np.unique(g.astype(str).to_numpy(), return_inverse=True)
    return labels, codes


def _risk_and_events(entry, exit_, event, codes, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event times, number at risk (entry < t <= exit) and events per (event time, group); loops over groups."""
    times = np.unique(exit_[event == 1])
    n_risk = np.empty((times.size, k))
    d = np.empty((times.size, k))
    for j in range(k):
        mine = codes == j
        ends, starts = np.sort(exit_[mine]), np.sort(entry[mine])
        exited_before = np.searchsorted(ends, times, side="left")  # exit < t
        not_entered = starts.size - np.searchsorted(starts, times, side="left")  # entry >= t
        n_risk[:, j] = ends.size - exited_before - not_entered
        d[:, j] = np.bincount(np.searchsorted(times, exit_[mine & (event == 1)]), minlength=times.size)[: times.size]
    return times, n_risk, d


def compare_groups(time, event, group) -> LogRankResult:
    """Log-rank test of equal survival across groups, with n, observed and expected events per group.

    As R ``survdiff``: the statistic uses the groups with expected events > 0, ``df`` is their number minus 1.

    Examples
    --------
    >>> res = compare_groups([1, 2, 3, 4], [1, 1, 1, 1], ["a", "b", "a", "b"])
    >>> res.df, res.table["events"].tolist()
    (1, [2, 2])
    """
    t, e = _check_survival_input(time, event)
    labels, codes = _groups(group, t.size)
    if labels.size < 2:
        raise InputError(f"log-rank needs at least two groups; found only {labels.tolist()}")
    k = labels.size
    _, n_risk, d = _risk_and_events(np.full(t.size, -np.inf), t, e, codes, k)
    n_tot, d_tot = n_risk.sum(1), d.sum(1)
    expected = n_risk * (d_tot / n_tot)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n_tot > 1, d_tot * (n_tot - d_tot) / (n_tot**2 * (n_tot - 1)), 0.0)
    cov = np.einsum("t,tg,gh->gh", w * n_tot, n_risk, np.eye(k)) - np.einsum("t,tg,th->gh", w, n_risk, n_risk)
    exp_sum = expected.sum(0)
    used = np.flatnonzero(exp_sum > 0)
    df = int(used.size) - 1
    table = pd.DataFrame(
        {"group": labels, "n": np.bincount(codes, minlength=k), "events": d.sum(0).astype("int64"), "expected": exp_sum}
    )
    if df < 1:
        why = "no events" if not e.any() else "only one group has patients at risk when events happen"
        return LogRankResult(0.0, 0, float("nan"), table, note=why)
    diff = (d.sum(0) - exp_sum)[used][1:]
    var = cov[np.ix_(used, used)][1:, 1:]
    chisq = float(diff @ np.linalg.lstsq(var, diff, rcond=None)[0])
    return LogRankResult(chisq, df, float(stats.chi2.sf(chisq, df)), table)


@dataclass(frozen=True)
class CoxResult:
    """Hazard ratios of each group against a reference group (exploratory), with what they rest on.

    ``n`` counts the rows used (patients, or (entry, exit] intervals with ``entry``), ``events`` the events.

    ``table`` has :data:`COX_COLUMNS`; a comparison that is not estimable has NaN numbers, ``estimable``
    False and a ``note``. ``lr_chisq``, ``lr_df`` and ``lr_p`` are the likelihood-ratio test of all groups
    (R ``summary(coxph)$logtest``), NaN unless every hazard ratio is estimable.
    """

    table: pd.DataFrame
    n: int
    events: int
    conf: float = 0.95
    lr_chisq: float = float("nan")
    lr_df: int = 0
    lr_p: float = float("nan")
    notes: list[str] = field(default_factory=list)

    def text(self) -> list[str]:
        """One line per comparison: ``2 vs 1: HR 0.59 (95% CI 0.42-0.82), p = 0.001`` or ``... not estimable``."""
        level = f"{self.conf * 100:g}% CI"
        out = []
        for r in self.table.itertuples():
            head = f"{r.group} vs {r.reference}: HR "
            if not r.estimable:
                out.append(head + f"{NOT_ESTIMABLE} ({r.note})")
            else:
                ci = f"{format_ratio(r.lower)}-{format_ratio(r.upper)}"
                out.append(head + f"{format_ratio(r.hazard_ratio)} ({level} {ci}), {format_p_clause(r.p)}")
        return out


def _components(entry, exit_, event, codes, k) -> np.ndarray:
    """Strongly connected component of each group in the "event while at risk" graph (see the module doc)."""
    _, n_risk, d = _risk_and_events(entry, exit_, event, codes, k)
    reaches = ((d > 0).T.astype(float) @ (n_risk > 0).astype(float)) > 0  # [a, b]: a had an event, b at risk
    np.fill_diagonal(reaches, False)
    _, label = connected_components(csr_matrix(reaches.T), directed=True, connection="strong")
    return label


def _fit_component(data: pd.DataFrame, dummies: list[str], has_entry: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """lifelines Cox fit (Efron) of ``stop, event`` (and ``start``) on the dummy columns: coef, covariance, LR.

    lifelines' Newton steps have no line search, so on some data (two one-patient groups, say) the first steps
    overshoot; as lifelines advises, the fit is retried with a smaller step. The step size changes the path,
    not the end point: every attempt stops only when the Newton step itself is negligible.
    """
    from lifelines import CoxPHFitter  # heavy import kept local
    from lifelines.exceptions import ConvergenceError

    columns = ["stop", "event", *dummies] + (["start"] if has_entry else [])
    problem = ""
    for step in _STEP_SIZES:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = CoxPHFitter().fit(
                    data[columns],
                    duration_col="stop",
                    event_col="event",
                    entry_col="start" if has_entry else None,
                    fit_options={**COX_FIT_OPTIONS, "step_size": step},
                )
            except (ConvergenceError, np.linalg.LinAlgError) as exc:
                problem = str(exc).split(". ")[0]
                continue
        failed = [w for w in caught if "failed to converge" in str(w.message)]
        if failed:
            problem = str(failed[0].message).split(". ")[0]
            continue
        params = fit.params_.reindex(dummies).to_numpy(dtype="float64")
        cov = fit.variance_matrix_.reindex(index=dummies, columns=dummies).to_numpy(dtype="float64")
        return params, cov, float(fit.log_likelihood_ratio_test().test_statistic)
    raise InputError(
        f"the Cox model did not converge with Newton steps of {', '.join(map(str, _STEP_SIZES))} ({problem})"
    )


def fit_cox(
    data: pd.DataFrame,
    *,
    time: str = "time",
    event: str = "event",
    group: str = "group",
    entry: str | None = None,
    reference: object | None = None,
    conf: float = 0.95,
) -> CoxResult:
    """Cox proportional-hazards model of one grouping (as R ``coxph(Surv(time, event) ~ factor(group))``).

    Parameters
    ----------
    data : DataFrame
        One row per patient, or per (entry, exit] interval for a covariate that changes over time (pass
        ``entry``: R's ``Surv(start, stop, event)``).
    time, event, group, entry : str
        Column names; ``event`` is 0/1 or bool; rows with a missing value in any of them are left out (as R).
    reference : optional
        The reference group; default the first in sorted order (R's first factor level).
    conf : float
        Confidence level of the Wald intervals.

    Returns
    -------
    CoxResult
        One row per non-reference group (HR, CI, Wald p), "not estimable" where the data carry no information.
    """
    cols = list(dict.fromkeys(c for c in (time, event, group, entry) if c))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError(f"fit_cox: column(s) {missing} not in the frame; it has {list(data.columns)}")
    if not 0 < float(conf) < 1:
        raise InputError(f"conf must lie strictly between 0 and 1 (for example 0.95); found {conf!r}")
    d = data[cols].dropna()
    stop, ev = _check_survival_input(d[time], d[event])
    start = d[entry].to_numpy(dtype="float64") if entry else np.full(stop.size, -np.inf)
    if entry and (start >= stop).any():
        raise InputError(f"fit_cox: {entry} must be before {time} on every row; found {int((start >= stop).sum())}")
    labels, codes = _groups(d[group], stop.size)
    ref_label = str(labels[0] if reference is None else reference)
    if ref_label not in labels:
        raise InputError(f"fit_cox: reference group {ref_label!r} is not among {labels.tolist()}")
    ref = int(np.flatnonzero(labels == ref_label)[0])
    others = [j for j in range(labels.size) if j != ref]
    n_events = int(ev.sum())
    base = {"reference": ref_label, "coef": np.nan, "se": np.nan, "hazard_ratio": np.nan, "lower": np.nan,
            "upper": np.nan, "z": np.nan, "p": np.nan, "estimable": False}  # fmt: skip
    rows = {
        j: base | {"group": str(labels[j]), "n": int((codes == j).sum()), "events": int(ev[codes == j].sum())}
        for j in others
    }
    component = _components(start, stop, ev, codes, labels.size)
    same = [j for j in others if component[j] == component[ref]]
    for j in others:
        if j not in same:
            rows[j]["note"] = _why_not(rows[j], ref_label, int(ev[codes == ref].sum()), n_events)
    lr = (np.nan, 0, np.nan)
    if same:
        keep = np.isin(codes, [ref, *same])
        frame = pd.DataFrame({"start": start[keep], "stop": stop[keep], "event": ev[keep]})
        dummies = [f"_g{j}" for j in same]
        for j, name in zip(same, dummies, strict=True):
            frame[name] = (codes[keep] == j).astype(float)
        coef, cov, lr_stat = _fit_component(frame, dummies, entry is not None)
        se = np.sqrt(np.diag(cov))
        z = stats.norm.ppf(1 - (1 - conf) / 2)
        for i, j in enumerate(same):
            rows[j] |= {"coef": coef[i], "se": se[i], "hazard_ratio": np.exp(coef[i]),
                        "lower": np.exp(coef[i] - z * se[i]), "upper": np.exp(coef[i] + z * se[i]),
                        "z": coef[i] / se[i], "p": 2 * stats.norm.sf(abs(coef[i] / se[i])), "estimable": True,
                        "note": ""}  # fmt: skip
        if len(same) == len(others):
            lr = (lr_stat, len(same), float(stats.chi2.sf(lr_stat, len(same))))
    table = pd.DataFrame([rows[j] for j in others], columns=list(COX_COLUMNS))
    notes = [] if len(same) == len(others) else ["the likelihood-ratio test is not available: not every hazard ratio"
                                                 " is estimable"]  # fmt: skip
    return CoxResult(table, int(stop.size), n_events, float(conf), *lr, notes)


def _why_not(row: dict, reference: str, ref_events: int, total: int) -> str:
    if total == 0:
        return "no events"
    if row["events"] == 0:
        return f"no events in {row['group']}"
    if ref_events == 0:
        return f"no events in the reference group ({reference})"

    return "every event of one group happens after the other has left follow-up (monotone likelihood)"
