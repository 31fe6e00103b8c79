"""Restricted mean survival time (RMST): the area under the Kaplan-Meier curve up to a chosen horizon.

RMST(tau) is the mean event-free time over the first ``tau`` days: unlike the median it exists whatever the
number of events, which suits small cohorts where the median is not reached. Its standard error is the
Greenwood-type one R ``survival`` prints (``print(survfit(...), rmean = tau)``) and survRM2 uses:
Var = sum over event times t_j <= tau of A_j^2 d_j / (n_j (n_j - d_j)), A_j the area under the curve from t_j to
tau; the interval is RMST +- z SE, bounded by 0 and tau.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from tkitrack.outcomes.reporting import format_with_interval
from tkitrack.outcomes.survival import _check_survival_input, compute_km
from tkitrack.schemas.errors import InputError

__all__ = ["RMST", "compute_rmst"]


@dataclass(frozen=True)
class RMST:
    """Restricted mean survival time to ``horizon`` with its standard error and interval (days)."""

    horizon: float
    estimate: float
    se: float
    lower: float
    upper: float
    n: int
    events: int
    conf: float = 0.95
    note: str = ""

    @property
    def text(self) -> str:
        """``263 (95% CI 248-279)``."""
        return format_with_interval(self.estimate, self.lower, self.upper, conf=self.conf, note=self.note)


def compute_rmst(time, event, horizon: float, *, conf: float = 0.95) -> RMST:
    """Area under the Kaplan-Meier curve from 0 to ``horizon`` with its standard error (R, survRM2).

    Parameters
    ----------
    time, event : array-like
        Follow-up times and 0/1 events.
    horizon : float
        Restriction time tau (days), > 0. A horizon beyond the last follow-up time extends the last value of
        the curve, as R does; ``note`` then says so.
    conf : float
        Confidence level of the interval.

    Examples
    --------
    >>> r = compute_rmst([2, 4, 6], [1, 1, 0], 6)
    >>> round(r.estimate, 4)  # 2 * 1 + 2 * (2/3) + 2 * (1/3)
    4.0
    """
    t, e = _check_survival_input(time, event, conf)
    if not np.isfinite(horizon) or horizon <= 0:
        raise InputError(f"the RMST horizon must be a positive number of days; found {horizon!r}")
    km = compute_km(t, e)
    x, s = km["time"].to_numpy(dtype="float64"), km["survival"].to_numpy(dtype="float64")
    inside = x <= horizon
    x, s = x[inside], s[inside]
    widths = np.diff(np.r_[x, horizon])
    pieces = s * widths  # the curve is flat at s[i] from x[i] to the next time (or the horizon)
    estimate = float(pieces.sum())
    area_after = np.cumsum(pieces[::-1])[::-1]  # area from x[i] to the horizon
    n, d = km["n_risk"].to_numpy()[inside], km["n_event"].to_numpy()[inside]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where((d > 0) & (n > d), area_after**2 * d / (n * (n - d)), 0.0)
    # the area from x[i] onward belongs to the curve after the jump at x[i]: A_j is the area after t_j
    se = float(np.sqrt(terms.sum()))
    z = stats.norm.ppf(1 - (1 - conf) / 2)
    lower, upper = max(estimate - z * se, 0.0), min(estimate + z * se, float(horizon))
    note = (
        "horizon beyond the last follow-up: the last value of the curve is carried to it" if t.max() < horizon else ""
    )
    return RMST(float(horizon), estimate, se, lower, upper, int(t.size), int(e.sum()), float(conf), note)
