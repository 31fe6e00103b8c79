"""Body surface area (Mosteller) and daily dose per m2, derived from what was recorded, never typed twice."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FREQUENCY_PER_DAY", "compute_bsa_mosteller", "compute_mg_m2_day"]

#: Administrations per day for each frequency code (SDTM EXDOSFRQ style).
FREQUENCY_PER_DAY: dict[str, float] = {
    "QD": 1.0,
    "BID": 2.0,
    "TID": 3.0,
    "QID": 4.0,
    "QOD": 0.5,
    "QW": 1.0 / 7.0,
    "Q2W": 1.0 / 14.0,
    "Q3W": 1.0 / 21.0,
    "Q4W": 1.0 / 28.0,
    "ONCE": np.nan,
}


def compute_bsa_mosteller(height_cm, weight_kg):
    """Body surface area in m2 by Mosteller: sqrt(height_cm * weight_kg / 3600).

    >>> round(float(compute_bsa_mosteller(120.0, 22.0)), 3)
    0.856
    """
    h = np.asarray(height_cm, dtype="float64")
    w = np.asarray(weight_kg, dtype="float64")
    return np.sqrt(h * w / 3600.0)


def compute_mg_m2_day(dose, unit, frequency, bsa_m2, weight_kg=None) -> np.ndarray:
    """Daily dose per m2 of body surface: mg -> dose*n/BSA, mg/m2 -> dose*n, mg/kg -> dose*n*weight/BSA.

    ``n`` is the number of administrations per day from :data:`FREQUENCY_PER_DAY`; unknown or missing units and
    frequencies and single doses give NaN. Crizotinib 280 mg/m2 BID gives 560 mg/m2/day.
    """
    dose = np.asarray(dose, dtype="float64")
    # a missing unit or frequency (pd.NA, None: a required field left blank, queried elsewhere) gives NaN
    unit = pd.Series(np.asarray(unit, dtype=object)).astype("string").str.lower().fillna("").to_numpy(dtype=object)
    frequency = pd.Series(np.asarray(frequency, dtype=object)).astype("string").str.upper()
    per_day = frequency.map(FREQUENCY_PER_DAY).astype("float64").to_numpy()
    bsa = np.broadcast_to(np.asarray(bsa_m2, dtype="float64"), dose.shape)
    weight = np.broadcast_to(np.asarray(np.nan if weight_kg is None else weight_kg, dtype="float64"), dose.shape)
    daily = dose * per_day
    return np.select(
        [unit == "mg", unit == "mg/m2", unit == "mg/kg"],
        [daily / bsa, daily, daily * weight / bsa],
        default=np.nan,
    )
