"""Synthetic treatment courses, vectorised: doses, response trajectories, stops, relapses, deaths, AEs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AE_PROFILES", "DOSING", "RESPONSE_RATES", "Course", "simulate_course"]

#: Sentinel for "no date" in the integer day arrays (epoch days).
NODAY = np.iinfo(np.int64).min

#: Best-response probabilities (CR, PR, SD, PD) per histology. IMT follows COG ADVL0912 (crizotinib, 14 IMT:
#: 5 CR, 7 PR, 2 SD); the others are rough values from the larotrectinib / crizotinib paediatric series.
RESPONSE_RATES: dict[str, tuple[float, float, float, float]] = {
    "IMT": (5 / 14, 7 / 14, 2 / 14, 0.0),
    "ALK_IFS_LIKE": (0.30, 0.50, 0.15, 0.05),
    "NTRK_SCN": (0.25, 0.55, 0.12, 0.08),
    "IFS_CCMN": (0.40, 0.45, 0.10, 0.05),
}

#: Drug -> (target mg/m2 per administration, reduced mg/m2, frequency, cap in mg per administration).
DOSING: dict[str, tuple[float, float, str, float]] = {
    "crizotinib": (280.0, 215.0, "BID", 250.0),  # ADVL0912 280 mg/m2 BID, first reduction level 215 mg/m2
    "larotrectinib": (100.0, 75.0, "BID", 100.0),  # label: 100 mg/m2 BID, at most 100 mg BID
    "entrectinib": (300.0, 200.0, "QD", 600.0),  # label: 300 mg/m2 QD by BSA band, at most 600 mg
    "lorlatinib": (115.0, 90.0, "QD", 100.0),  # COG ANBL1531 115 mg/m2 QD; adult 100 mg QD
}

#: Drug profile -> (CTCAE terms, relative frequency, grade 1-4 probabilities); every grade used exists for the term.
AE_PROFILES: dict[str, list[tuple[str, float, tuple[float, float, float, float]]]] = {
    "ALK": [
        ("Nausea", 0.15, (0.70, 0.27, 0.03, 0.0)),
        ("Vomiting", 0.16, (0.65, 0.30, 0.05, 0.0)),
        ("Diarrhea", 0.13, (0.70, 0.25, 0.05, 0.0)),
        ("Neutrophil count decreased", 0.17, (0.20, 0.40, 0.30, 0.10)),
        ("Alanine aminotransferase increased", 0.12, (0.65, 0.25, 0.08, 0.02)),
        ("Fatigue", 0.08, (0.70, 0.27, 0.03, 0.0)),
        ("Blurred vision", 0.08, (0.85, 0.15, 0.0, 0.0)),
        ("Gait disturbance", 0.04, (0.55, 0.40, 0.05, 0.0)),
        ("Peripheral sensory neuropathy", 0.05, (0.70, 0.27, 0.03, 0.0)),
        ("Pain in extremity", 0.02, (0.60, 0.40, 0.0, 0.0)),
    ],
    "NTRK": [
        ("Alanine aminotransferase increased", 0.20, (0.65, 0.25, 0.08, 0.02)),
        ("Aspartate aminotransferase increased", 0.15, (0.70, 0.22, 0.07, 0.01)),
        ("Dizziness", 0.12, (0.80, 0.18, 0.02, 0.0)),
        ("Fatigue", 0.12, (0.70, 0.27, 0.03, 0.0)),
        ("Vomiting", 0.12, (0.65, 0.30, 0.05, 0.0)),
        ("Neutrophil count decreased", 0.12, (0.25, 0.40, 0.28, 0.07)),
        ("Weight gain", 0.10, (0.60, 0.35, 0.05, 0.0)),
        ("Constipation", 0.07, (0.75, 0.23, 0.02, 0.0)),
    ],
}

CR, PR, SD, PD = 0, 1, 2, 3
N_ASSESS = 24  # assessment slots per patient: enough to cover eight years of follow-up


@dataclass
class Course:
    """Per-patient and per-assessment arrays of the simulated courses (days are epoch days, NODAY = none)."""

    category: np.ndarray  # intended best response per patient (CR, PR, SD, PD codes)
    sum0: np.ndarray  # baseline sum of diameters (mm)
    baseline_day: np.ndarray
    adate: np.ndarray  # (n, N_ASSESS) assessment days
    asum: np.ndarray  # (n, N_ASSESS) sums of diameters (mm)
    aresp: np.ndarray  # (n, N_ASSESS) response codes
    akeep: np.ndarray  # (n, N_ASSESS) assessment is recorded
    stop: np.ndarray  # last day of the first course (NODAY: ongoing)
    stop_reason: np.ndarray  # reason text ("" when ongoing)
    reduce_day: np.ndarray  # end of the first interval when the dose was reduced (NODAY: no reduction)
    reduce_gap: np.ndarray  # days from reduce_day to the reduced interval's start
    reduce_toxic: np.ndarray  # the reduction followed a grade 3-4 event (else a planned dose change)
    surgery_day: np.ndarray  # resection during the course (NODAY: none)
    pd_day: np.ndarray  # progression on treatment (NODAY: none)
    relapse_day: np.ndarray  # relapse detected after stopping (NODAY: none)
    second_start: np.ndarray  # second-line inhibitor start (NODAY: none)
    rechallenge_start: np.ndarray  # same drug restarted after relapse (NODAY: none)
    death_day: np.ndarray  # NODAY: alive
    last_contact: np.ndarray


def _pick(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of a (n, k) probability matrix, vectorised."""
    u = rng.random(len(probs))[:, None]
    return (u > np.cumsum(probs, axis=1)).sum(axis=1).clip(0, probs.shape[1] - 1)


def simulate_course(
    rng: np.random.Generator,
    histology: np.ndarray,
    treated: np.ndarray,
    first_dose: np.ndarray,
    last_contact: np.ndarray,
    has_second_line: np.ndarray,
) -> Course:
    """Simulate response, stopping, relapse and death for every patient at once (untreated rows stay empty)."""
    n = len(histology)
    rates = np.array(list(RESPONSE_RATES.values()))
    hidx = np.select([histology == h for h in RESPONSE_RATES], list(range(len(RESPONSE_RATES))), default=0)
    cat = _pick(rng, rates[hidx])
    sum0 = np.clip(np.round(rng.lognormal(np.log(55.0), 0.5, n)), 12, 250)
    baseline_day = first_dose - rng.integers(1, 15, n)

    kk = np.arange(1, N_ASSESS + 1)[None, :]
    # scans every 2-3 months for the first year and a half, then every 3-6 months
    gaps = np.where(kk <= 6, rng.integers(56, 93, (n, N_ASSESS)), rng.integers(84, 183, (n, N_ASSESS)))
    adate = first_dose[:, None] + np.cumsum(gaps, axis=1)
    k_cr = rng.integers(2, 6, n)[:, None]
    k_pr = rng.integers(1, 4, n)[:, None]
    nadir = rng.uniform(0.2, 0.62, n)[:, None]
    sd_level = rng.uniform(0.75, 1.12, n)[:, None]
    frac = np.select(
        [cat[:, None] == CR, cat[:, None] == PR, cat[:, None] == SD],
        [
            np.clip(1.0 - kk / k_cr, 0.0, 1.0) ** 0.7,
            1.0 - (1.0 - nadir) * np.minimum(kk / k_pr, 1.0),
            1.0 - (1.0 - sd_level) * np.minimum(kk / 2.0, 1.0),
        ],
        default=rng.uniform(1.25, 1.7, n)[:, None] + 0.0 * kk,
    )
    asum = np.round(sum0[:, None] * frac)
    asum = np.where(cat[:, None] == PD, np.maximum(asum, sum0[:, None] + 5), asum)
    prev_nadir = np.minimum.accumulate(np.column_stack([sum0, asum[:, :-1]]), axis=1)
    aresp = np.select(
        [
            (asum == 0) & (cat[:, None] == CR),
            asum <= 0.7 * sum0[:, None],
            (asum >= 1.2 * prev_nadir) & (asum - prev_nadir >= 5),
        ],
        [CR, PR, PD],
        default=SD,
    )

    def first_day(mask: np.ndarray) -> np.ndarray:
        has = mask.any(axis=1)
        return np.where(has, adate[np.arange(n), mask.argmax(axis=1)], NODAY)

    cr_day, pr_day = first_day(aresp == CR), first_day(aresp <= PR)
    pd_day = np.where(treated & (cat == PD), adate[:, 0], NODAY)

    # how the first course ends
    stop = first_dose + rng.integers(640, 801, n)  # about two years, then stop ("completed")
    reason = np.full(n, "completed", dtype=object)
    stop = np.where(cat == SD, first_dose + rng.integers(300, 731, n), stop)
    elective = (cat == CR) & (rng.random(n) < 0.45)
    stop = np.where(elective, cr_day + rng.integers(90, 366, n), stop)
    reason[elective] = "complete_response"
    surgery = (cat == PR) & (rng.random(n) < 0.10)
    surgery_day = np.where(surgery, pr_day + rng.integers(60, 181, n), NODAY)
    stop = np.where(surgery, surgery_day - rng.integers(1, 8, n), stop)
    reason[surgery] = "surgery"
    toxic_stop = (cat != PD) & (rng.random(n) < 0.04)
    tox_day = first_dose + rng.integers(60, 241, n)
    toxic_stop &= tox_day < stop
    stop = np.where(toxic_stop, tox_day, stop)
    reason[toxic_stop] = "toxicity"
    surgery_day = np.where(toxic_stop, NODAY, surgery_day)
    stop = np.where(cat == PD, pd_day, stop)
    reason[cat == PD] = "progression"

    # relapse after an elective or completed stop
    p_relapse = np.where(reason == "complete_response", 0.30, np.where(cat == PR, 0.40, 0.15))
    relapsing = treated & np.isin(reason, ["complete_response", "completed"]) & (cat <= PR)
    relapsing &= (rng.random(n) < p_relapse) & (stop < last_contact)
    relapse_from = stop + 30 + rng.exponential(200.0, n).astype(np.int64)
    after = adate >= relapse_from[:, None]
    j = after.argmax(axis=1)
    rows = np.arange(n)
    relapse_day = np.where(relapsing & after.any(axis=1), adate[rows, j], NODAY)
    relapsing = relapse_day != NODAY
    relapsing &= relapse_day <= last_contact
    relapse_day = np.where(relapsing, relapse_day, NODAY)
    nadir_sum = prev_nadir[rows, j]
    regrowth = np.maximum(np.round(nadir_sum * 1.4), nadir_sum + 5)
    relapse_sum = np.where(cat == CR, np.maximum(10, np.round(0.4 * sum0)), regrowth)
    asum[rows[relapsing], j[relapsing]] = relapse_sum[relapsing]
    aresp[rows[relapsing], j[relapsing]] = PD

    # deaths: some patients progressing on treatment
    dies = treated & (cat == PD) & (rng.random(n) < 0.35)
    death_day = pd_day + rng.integers(60, 721, n)
    dies &= death_day <= last_contact
    death_day = np.where(dies, death_day, NODAY)
    last_contact = np.where(dies, death_day, last_contact)

    # dose reduction during the first course: a new interval at the reduced dose
    course_end = np.minimum(stop, last_contact)
    reduce_day = first_dose + rng.integers(30, 181, n)
    reduces = treated & (cat != PD) & (rng.random(n) < 0.20) & (reduce_day + 30 <= course_end)
    reduce_toxic = rng.random(n) < 0.6
    reduce_gap = np.where(reduce_toxic, rng.integers(7, 15, n), 1)
    reduce_day = np.where(reduces, reduce_day, NODAY)

    second_start = pd_day + rng.integers(7, 22, n)
    second = has_second_line & (pd_day != NODAY) & (second_start < last_contact)
    second_start = np.where(second, second_start, NODAY)
    rechallenge_start = relapse_day + rng.integers(7, 22, n)
    rechallenge = relapsing & (rechallenge_start <= last_contact)
    rechallenge_start = np.where(rechallenge, rechallenge_start, NODAY)

    ongoing = (stop > last_contact) | (surgery & (surgery_day > last_contact))
    stop = np.where(ongoing | ~treated, NODAY, stop)
    reason[ongoing | ~treated] = ""
    end_of_scans = np.minimum(last_contact, np.where(surgery_day != NODAY, surgery_day, last_contact))
    first_pd = np.where(pd_day != NODAY, pd_day, np.where(relapsing, relapse_day, end_of_scans))
    akeep = treated[:, None] & (adate <= np.minimum(end_of_scans, first_pd)[:, None])
    return Course(
        category=cat,
        sum0=sum0,
        baseline_day=baseline_day,
        adate=adate,
        asum=asum,
        aresp=aresp,
        akeep=akeep,
        stop=stop,
        stop_reason=reason.astype(str),
        reduce_day=reduce_day,
        reduce_gap=reduce_gap,
        reduce_toxic=reduce_toxic & reduces,
        surgery_day=np.where(treated & (surgery_day <= last_contact), surgery_day, NODAY),
        pd_day=np.where(treated, pd_day, NODAY),
        relapse_day=relapse_day,
        second_start=second_start,
        rechallenge_start=rechallenge_start,
        death_day=death_day,
        last_contact=last_contact,
    )
