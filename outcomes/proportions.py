"""Proportions k/n with exact (Clopper-Pearson) confidence intervals, as small cohorts should report them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from tkitrack.schemas.errors import InputError

__all__ = ["Proportion", "compute_proportion"]


@dataclass(frozen=True)
class Proportion:
    """A proportion ``k/n`` with its exact confidence interval (fractions between 0 and 1).

    ``text`` renders it the way a paper reports it: ``12/14 (86%, 95% CI 57-98%)``.
    """

    k: int
    n: int
    estimate: float
    lower: float
    upper: float
    conf: float = 0.95
    method: str = "Clopper-Pearson"

    @property
    def text(self) -> str:
        """``k/n (p%, 95% CI lo-hi%)``; ``0/0 (no patients)`` when n is 0."""
        if self.n == 0:
            return "0/0 (no patients)"
        level = f"{self.conf * 100:g}%"
        return (
            f"{self.k}/{self.n} ({self.estimate * 100:.0f}%, {level} CI {self.lower * 100:.0f}-{self.upper * 100:.0f}%)"
        )

    @property
    def labelled(self) -> str:
        """``12/14 (86%, exact Clopper-Pearson 95% CI 57-98%)``: ``text`` naming the interval's method."""
        if self.n == 0:
            return self.text
        level = f"{self.conf * 100:g}%"
        return (
            f"{self.k}/{self.n} ({self.estimate * 100:.0f}%, exact {self.method} {level} CI "
            f"{self.lower * 100:.0f}-{self.upper * 100:.0f}%)"
        )


def _check_counts(k, n, conf) -> tuple[int, int, float]:
    """All input checks for :func:`compute_proportion` in one place."""
    try:
        k_int, n_int = int(k), int(n)
    except (TypeError, ValueError) as exc:
        raise InputError(f"k and n must be whole numbers; found k={k!r}, n={n!r}") from exc
    if k_int != k or n_int != n:
        raise InputError(f"k and n must be whole numbers; found k={k!r}, n={n!r}")
    if n_int < 0 or not 0 <= k_int <= n_int:
        raise InputError(f"need 0 <= k <= n; found k={k_int}, n={n_int}: count responders among the n patients")
    if not 0 < float(conf) < 1:
        raise InputError(f"conf must lie strictly between 0 and 1 (for example 0.95); found {conf!r}")
    return k_int, n_int, float(conf)


def compute_proportion(k: int, n: int, conf: float = 0.95) -> Proportion:
    """Exact binomial (Clopper-Pearson) interval for ``k`` successes among ``n``.

    The bounds are beta quantiles: lower = Beta(a/2; k, n-k+1), upper = Beta(1-a/2; k+1, n-k), with the
    lower bound 0 when k = 0 and the upper bound 1 when k = n (the interval is then one-sided at that end,
    as in R ``binom.test``).

    Parameters
    ----------
    k, n : int
        Number of patients with the outcome and number of patients evaluated (0 <= k <= n).
    conf : float
        Confidence level, default 0.95.

    Returns
    -------
    Proportion
        estimate, lower, upper as fractions; ``text`` for reports. n = 0 gives NaN estimate and bounds.

    Examples
    --------
    >>> compute_proportion(12, 14).text
    '12/14 (86%, 95% CI 57-98%)'
    """
    k, n, conf = _check_counts(k, n, conf)
    if n == 0:
        return Proportion(0, 0, float("nan"), float("nan"), float("nan"), conf)
    alpha = 1.0 - conf
    lower = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return Proportion(k, n, k / n, float(np.clip(lower, 0, 1)), float(np.clip(upper, 0, 1)), conf)
