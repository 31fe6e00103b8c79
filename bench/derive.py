"""Figure 4: ``derive_adam`` (ADSL, ADRS, ADTTE) at 1k, 10k and 100k patients with 10 assessments each.

SDTM-shaped DM, DS, EX and RS frames are made directly with numpy (randomisation, one or two dosing intervals,
ten overall responses on a six-weekly schedule drawn so that responses, confirmations, progressions and deaths
all occur). Linear scaling shows as a constant time per patient: the ratios against the smallest size are printed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench._harness import Result, median_time

__all__ = ["growth_exponent", "make_sdtm", "run"]

_RESP = np.array(["CR", "PR", "SD", "PD", "NE"], dtype=object)


def _iso(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D").astype(object)


def make_sdtm(n: int, *, visits: int = 10, seed: int = 3) -> dict[str, pd.DataFrame]:
    """DM, DS, EX and RS for ``n`` subjects with ``visits`` overall responses each (RECIST, investigator)."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("BENCH-", np.char.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object)
    rand = np.datetime64("2015-01-01", "D").astype(np.int64) + rng.integers(0, 5 * 365, n)
    first = rand + rng.integers(0, 8, n)
    last = first + rng.integers(60, 900, n)
    dead = rng.random(n) < 0.15
    death = last + rng.integers(1, 400, n)
    dm = pd.DataFrame({"STUDYID": "BENCH", "USUBJID": ids, "DTHDTC": np.where(dead, _iso(death), ""),
                       "DTHFL": np.where(dead, "Y", "")})  # fmt: skip
    ds = pd.DataFrame({"USUBJID": ids, "DSDECOD": "RANDOMIZED", "DSSTDTC": _iso(rand)})
    split = rng.random(n) < 0.3  # a dose reduction: two intervals
    mid = first + (last - first) // 2
    ex = pd.DataFrame({
        "USUBJID": np.concatenate([ids, ids[split]]),
        "EXTRT": "CRIZOTINIB",
        "EXDOSE": np.concatenate([np.full(n, 280.0), np.full(split.sum(), 165.0)]),
        "EXSTDTC": _iso(np.concatenate([first, mid[split] + 1])),
        "EXENDTC": _iso(np.concatenate([np.where(split, mid, last), last[split]])),
    }).sort_values("USUBJID", kind="stable").reset_index(drop=True)  # fmt: skip
    # responses: a per-subject trajectory plus noise (not evaluable; a late progression)
    kind = rng.choice(4, size=n, p=[0.35, 0.25, 0.25, 0.15])  # complete, partial, stable, progressing
    step = np.arange(1, visits + 1)
    base = np.select([kind[:, None] == 0, kind[:, None] == 1, kind[:, None] == 2],
                     [np.where(step < 3, 1, 0), np.full(visits, 1), np.full(visits, 2)], 3)  # fmt: skip
    base = np.broadcast_to(base, (n, visits)).copy()
    noise = rng.random((n, visits))
    base[noise < 0.05] = 4  # NE
    base[(noise > 0.97) & (step[None, :] > 5)] = 3  # late PD
    days = rand[:, None] + 42 * step[None, :] + rng.integers(-5, 6, (n, visits))
    rs = pd.DataFrame({
        "STUDYID": "BENCH",
        "USUBJID": np.repeat(ids, visits),
        "RSSEQ": np.tile(step, n),
        "RSTESTCD": "OVRLRESP",
        "RSEVAL": "INVESTIGATOR",
        "RSSTRESC": _RESP[base.ravel()],
        "RSDTC": _iso(days.ravel()),
        "VISITNUM": np.tile(step, n).astype(float),
    })  # fmt: skip
    return {"dm": dm, "ds": ds, "ex": ex, "rs": rs}


def run(sizes: tuple[int, ...] = (1_000, 10_000, 100_000), repeats: int = 3) -> list[Result]:
    from tkitrack.outcomes.tte import derive_adam

    derive_adam(make_sdtm(200))  # imports and caches
    results, per_patient = [], {}
    for n in sizes:
        sdtm = make_sdtm(n)
        out = derive_adam(sdtm)
        t = median_time(lambda sdtm=sdtm: derive_adam(sdtm), repeats)
        per_patient[n] = t / n
        notes = {
            "per patient": f"{t / n * 1e6:.0f} us",
            "vs smallest": f"{per_patient[n] / per_patient[sizes[0]]:.2f}x per patient",
            "rows": f"ADRS {len(out['adrs']):,}, ADTTE {len(out['adtte']):,}",
        }
        results.append(Result("4 derive_adam", f"{n:,} patients x 10 assessments", t, None, None, repeats, notes))
    times = {n: p * n for n, p in per_patient.items()}
    if len(times) > 1:
        k = growth_exponent(times)
        results[-1].notes["exponent"] = f"{k:.2f} (time ~ n^k over {', '.join(f'{n:,}' for n in times)}; 1 = linear)"
    return results


def growth_exponent(times: dict[int, float]) -> float:
    """k in time = c * n**k, fitted by least squares on log time against log n (1.0: linear; 2.0: quadratic).

    >>> round(growth_exponent({1_000: 1.0, 10_000: 10.0, 100_000: 100.0}), 2)
    1.0
    """
    import numpy as np

    n = np.log(np.array(list(times), dtype=float))
    t = np.log(np.array(list(times.values()), dtype=float))
    return float(np.polyfit(n, t, 1)[0])
