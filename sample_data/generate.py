"""Synthetic cohort generator: seeded, vectorised, template-format record frames at any size."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from tkitrack.sample_data._course import NODAY, Course, simulate_course
from tkitrack.sample_data._records import (
    ae_rows,
    assessment_rows,
    date_text,
    disease_event_rows,
    exposure_rows,
    followup_rows,
    procedure_rows,
    text_frame,
)
from tkitrack.schemas.dosing import compute_bsa_mosteller

__all__ = ["FUSIONS", "HISTOLOGY_MIX", "date_text", "generate_cohort", "text_frame"]

#: Share of each histology in the synthetic cohort.
HISTOLOGY_MIX: dict[str, float] = {"IMT": 0.70, "ALK_IFS_LIKE": 0.08, "NTRK_SCN": 0.12, "IFS_CCMN": 0.10}

#: (histology, 5' gene, 5' exon, 3' gene, 3' exon, share within the histology).
FUSIONS: list[tuple[str, str, int, str, int, float]] = [
    ("IMT", "TPM3", 7, "ALK", 20, 0.17),
    ("IMT", "TPM4", 7, "ALK", 20, 0.15),
    ("IMT", "CLTC", 31, "ALK", 20, 0.13),
    ("IMT", "RANBP2", 18, "ALK", 20, 0.07),
    ("IMT", "EML4", 6, "ALK", 20, 0.07),
    ("IMT", "CARS1", 17, "ALK", 20, 0.05),
    ("IMT", "ATIC", 7, "ALK", 20, 0.05),
    ("IMT", "SEC31A", 21, "ALK", 20, 0.05),
    ("IMT", "PPFIBP1", 12, "ALK", 20, 0.04),
    ("IMT", "DCTN1", 26, "ALK", 20, 0.04),
    ("IMT", "TFG", 5, "ALK", 20, 0.03),
    ("IMT", "TFG", 4, "ROS1", 35, 0.04),
    ("IMT", "YWHAE", 5, "ROS1", 35, 0.03),
    ("IMT", "TPM3", 8, "ROS1", 35, 0.03),
    ("IMT", "ETV6", 5, "NTRK3", 15, 0.05),
    ("ALK_IFS_LIKE", "EML4", 6, "ALK", 20, 0.20),
    ("ALK_IFS_LIKE", "STRN", 3, "ALK", 20, 0.15),
    ("ALK_IFS_LIKE", "PLEKHH2", 6, "ALK", 20, 0.15),
    ("ALK_IFS_LIKE", "KIF5B", 24, "ALK", 20, 0.10),
    ("ALK_IFS_LIKE", "TPM3", 7, "ALK", 20, 0.15),
    ("ALK_IFS_LIKE", "CLTC", 31, "ALK", 20, 0.10),
    ("ALK_IFS_LIKE", "DCTN1", 26, "ALK", 20, 0.15),
    ("NTRK_SCN", "TPM3", 8, "NTRK1", 10, 0.30),
    ("NTRK_SCN", "LMNA", 2, "NTRK1", 11, 0.35),
    ("NTRK_SCN", "ETV6", 5, "NTRK3", 15, 0.25),
    ("NTRK_SCN", "EML4", 2, "NTRK3", 14, 0.10),
    ("IFS_CCMN", "ETV6", 5, "NTRK3", 15, 0.85),
    ("IFS_CCMN", "EML4", 2, "NTRK3", 14, 0.07),
    ("IFS_CCMN", "TPM3", 8, "NTRK1", 10, 0.08),
]

_PRIMARY_SITES = {
    "IMT": ["lung", "mesentery", "abdomen/pelvis", "bladder", "head and neck", "liver", "mediastinum"],
    "ALK_IFS_LIKE": ["trunk soft tissue", "extremity soft tissue", "kidney", "skin/subcutis"],
    "NTRK_SCN": ["extremity soft tissue", "trunk soft tissue", "head and neck", "skin/subcutis"],
    "IFS_CCMN": ["extremity soft tissue", "trunk soft tissue", "kidney", "head and neck"],
}
_PANELS = np.array(["Archer FusionPlex Sarcoma", "TruSight RNA Fusion", "AmpliSeq RNA SARC Fusion", "MSK-Fusion"])
_DAY0 = np.datetime64("1970-01-01", "D")


def _choice(rng: np.random.Generator, values: list[str], n: int, p: list[float] | None = None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)]


def _growth(rng: np.random.Generator, age: np.ndarray, male: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rough height (cm) and weight (kg) for age and sex: piecewise growth velocity and a BMI-for-age curve."""
    height = (
        50
        + 25 * np.clip(age, 0, 1)
        + 12 * np.clip(age - 1, 0, 1)
        + 7 * np.clip(age - 2, 0, 2)
        + 6 * np.clip(age - 4, 0, 8)
        + np.where(male, 6.0, 4.0) * np.clip(age - 12, 0, 4)
        + np.where(male, 1.5, 0.5) * np.clip(age - 16, 0, 4)
    ) * (1 + rng.normal(0, 0.035, len(age)))
    bmi = np.interp(age, [0, 0.75, 2, 5, 10, 14, 18, 22], [13.5, 17, 16.2, 15.4, 17, 19.5, 21.5, 22.5])
    weight = bmi * (height / 100) ** 2 * rng.lognormal(0, 0.1, len(age))
    return np.round(height, 1), np.round(weight, 1)


def _ages(rng: np.random.Generator, histology: np.ndarray) -> np.ndarray:
    n = len(histology)
    draws = {
        "IMT": np.clip(rng.gamma(2.5, 3.4, n), 0.1, 21),
        "ALK_IFS_LIKE": np.clip(rng.gamma(1.3, 2.2, n), 0.03, 18),
        "NTRK_SCN": np.clip(rng.gamma(2.0, 5.0, n), 0.05, 21),
        "IFS_CCMN": np.clip(rng.exponential(0.35, n), 0.03, 2),
    }
    return np.select([histology == h for h in draws], list(draws.values()))


def generate_cohort(
    n_patients: int, *, seed: int = 0, start: date = date(2014, 1, 1), prefix: str = "SYN"
) -> dict[str, pd.DataFrame]:
    """A synthetic cohort of kinase-fusion tumours treated with targeted inhibitors, as template text frames.

    Diagnoses fall in the six years from ``start``; data are cut off eight years after ``start``. Rates follow
    published ones: IMT on crizotinib 280 mg/m2 BID responds as in COG ADVL0912 (5 CR / 7 PR / 2 SD of 14);
    NTRK tumours get larotrectinib (100 mg/m2 BID) or entrectinib (300 mg/m2 QD). Doses are written as mg
    (rounded to capsule-like steps from the Mosteller BSA) or as mg/m2; some patients have a dose reduction
    (a new interval), an elective stop after complete response, a relapse after stopping (recurrence and a PD
    assessment, then a rechallenge), progression (second-line lorlatinib for ALK/ROS1), and a few die.
    Everything is built from numpy arrays; there is no per-patient Python loop.

    Parameters
    ----------
    n_patients : int
        Number of patients (ids ``{prefix}-00001`` ...).
    seed : int
        Seed of the random generator; the same seed gives the same frames.
    start : datetime.date
        First possible diagnosis date.
    prefix : str
        Patient id prefix.

    Returns
    -------
    dict of str to pandas.DataFrame
        One frame per record type (``patient``, ``molecular``, ``ihc``, ``exposure``, ``ae``, ``assessment``,
        ``procedure``, ``disease_event``, ``followup``) with the template columns
        (:func:`tkitrack.schemas.frames.input_columns`), text cells and ``""`` for missing: the same format
        as the files in ``sample_data/published``.

    Examples
    --------
    >>> frames = generate_cohort(5, seed=1)
    >>> frames["patient"]["patient_id"].tolist()[:2]
    ['SYN-00001', 'SYN-00002']
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be at least 1, got {n_patients}")
    rng = np.random.default_rng(seed)
    n = int(n_patients)
    idx = np.arange(n)
    width = max(5, len(str(n)))
    pid = np.char.add(f"{prefix}-", np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)

    histology = _choice(rng, list(HISTOLOGY_MIX), n, list(HISTOLOGY_MIX.values()))
    male = rng.random(n) < 0.5
    age = _ages(rng, histology)
    start_day = int((np.datetime64(start, "D") - _DAY0).astype(np.int64))
    diag = start_day + rng.integers(0, 6 * 365, n)
    birth = diag - np.round(age * 365.25).astype(np.int64)
    cutoff = start_day + 8 * 365

    # fusion per patient, from the histology's share table
    fus = pd.DataFrame(FUSIONS, columns=["histology", "gene_5p", "exon_5p", "gene_3p", "exon_3p", "p"])
    probs = np.where(histology[:, None] == fus["histology"].to_numpy()[None, :], fus["p"].to_numpy()[None, :], 0.0)
    probs /= probs.sum(axis=1, keepdims=True)
    f = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1).clip(0, len(fus) - 1)
    gene_5p, exon_5p = fus["gene_5p"].to_numpy()[f], fus["exon_5p"].to_numpy()[f]
    kinase, exon_3p = fus["gene_3p"].to_numpy()[f], fus["exon_3p"].to_numpy()[f]
    is_ntrk = np.char.startswith(kinase.astype(str), "NTRK")

    treated = rng.random(n) < 0.9
    drug = np.where(is_ntrk, np.where(rng.random(n) < 0.7, "larotrectinib", "entrectinib"), "crizotinib")
    first_dose = diag + rng.integers(14, 46, n)
    last_contact = cutoff - rng.integers(0, 121, n)
    lost = rng.random(n) < 0.08
    span = (last_contact - first_dose) * rng.uniform(0.35, 1.0, n)
    last_contact = np.where(lost, first_dose + span.astype(np.int64), last_contact)
    course: Course = simulate_course(rng, histology, treated, first_dose, last_contact, ~is_ntrk)

    measured = np.where(treated, course.baseline_day, diag)
    height, weight = _growth(rng, (measured - birth) / 365.25, male)
    bsa = compute_bsa_mosteller(height, weight)
    primary = np.empty(n, dtype=object)
    for h, sites in _PRIMARY_SITES.items():  # loop over 4 histologies, not patients
        sel = histology == h
        primary[sel] = _choice(rng, sites, int(sel.sum()))
    fnclcc = np.where(histology == "IMT", "NA", _choice(rng, ["1", "2", "3", ""], n, [0.45, 0.3, 0.15, 0.1]))
    sites = [f"SITE{i:02d}" for i in range(1, 13)]
    weights = 1.0 / np.arange(1, 13)
    patient = text_frame(
        "patient",
        {
            "patient_id": pid,
            "site": _choice(rng, sites, n, list(weights / weights.sum())),
            "sex": np.where(male, "M", "F"),
            "birth_date": date_text(birth),
            "age_at_diagnosis": np.round((diag - birth) / 365.25, 2),
            "diagnosis_date": date_text(diag),
            "histology": histology,
            "primary_site": primary,
            "fnclcc_grade": fnclcc,
            "height_cm": height,
            "height_date": date_text(measured),
            "weight_kg": weight,
            "weight_date": date_text(measured),
            "note": np.full(n, f"synthetic patient (tkitrack generate_cohort, seed={seed}); not a real person"),
        },
    )

    fish = rng.random(n) < 0.2
    molecular = text_frame(
        "molecular",
        {
            "patient_id": pid,
            "gene_5p": np.where(fish, "", gene_5p),
            "exon_5p": np.where(fish, "", exon_5p.astype(str)),
            "gene_3p": kinase,
            "exon_3p": np.where(fish, "", exon_3p.astype(str)),
            "method": np.where(fish, "FISH", "RNA_NGS"),
            "panel": np.where(
                fish, np.char.add(kinase.astype(str), " break-apart probe"), _PANELS[rng.integers(0, 4, n)]
            ),
            "fish_percent": np.where(fish, rng.integers(20, 91, n).astype(str), ""),
            "specimen_date": date_text(diag),
            "specimen": np.full(n, "primary"),
        },
    )

    marker = np.select([kinase == "ALK", kinase == "ROS1"], ["ALK D5F3", "ROS1"], default="pan-TRK")
    pattern = np.select(
        [gene_5p == "RANBP2", kinase == "NTRK3"], ["nuclear membrane", "nuclear and cytoplasmic"], default="cytoplasmic"
    )
    second = np.where(histology == "IMT", "SMA", "CD34")
    second_result = np.where(
        histology == "IMT",
        _choice(rng, ["positive", "focal"], n, [0.6, 0.4]),
        _choice(rng, ["positive", "negative", "focal"], n, [0.5, 0.3, 0.2]),
    )
    ihc = text_frame(
        "ihc",
        {
            "patient_id": np.concatenate([pid, pid]),
            "marker": np.concatenate([marker, second]),
            "result": np.concatenate([np.full(n, "positive"), second_result]),
            "pattern": np.concatenate([pattern, np.full(n, "")]),
            "specimen_date": np.concatenate([date_text(diag)] * 2),
            "specimen": np.full(2 * n, "primary"),
        },
        order=np.concatenate([idx, idx]),
    )

    # untreated patients: resection soon after diagnosis, sometimes a recurrence
    resect_day = np.where(treated, NODAY, diag + rng.integers(7, 31, n))
    recur_day = resect_day + 90 + rng.exponential(300.0, n).astype(np.int64)
    recurs = ~treated & (rng.random(n) < 0.15) & (recur_day <= course.last_contact)
    ctx = {
        "rng": rng,
        "pid": pid,
        "idx": idx,
        "drug": drug,
        "bsa": bsa,
        "treated": treated,
        "first_dose": first_dose,
        "diag": diag,
        "histology": histology,
        "primary": primary,
        "resect_day": resect_day,
        "recur_day": np.where(recurs, recur_day, NODAY),
    }
    return {
        "patient": patient,
        "molecular": molecular,
        "ihc": ihc,
        "exposure": exposure_rows(ctx, course),
        "ae": ae_rows(ctx, course),
        "assessment": assessment_rows(ctx, course),
        "procedure": procedure_rows(ctx, course),
        "disease_event": disease_event_rows(ctx, course),
        "followup": followup_rows(ctx, course),
    }
