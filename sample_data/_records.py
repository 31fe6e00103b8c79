"""Record rows of the synthetic cohort built from the simulated courses: exposure, AE, assessment, events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tkitrack.sample_data._course import AE_PROFILES, CR, DOSING, NODAY, Course
from tkitrack.schemas.frames import input_columns

__all__ = [
    "ae_rows",
    "assessment_rows",
    "date_text",
    "disease_event_rows",
    "exposure_rows",
    "followup_rows",
    "procedure_rows",
    "text_frame",
]

_RESPONSE_TEXT = np.array(["CR", "PR", "SD", "PD"], dtype=object)
_SMALL_FORM = {"crizotinib": "oral pellets", "larotrectinib": "oral solution", "entrectinib": "oral pellets"}
_LATE_TERMS = ["Gait disturbance", "Peripheral sensory neuropathy", "Pain in extremity"]


def date_text(days: np.ndarray) -> np.ndarray:
    """ISO 8601 text of epoch-day integers; ``""`` where the day is ``NODAY``."""
    days = np.asarray(days, dtype=np.int64)
    missing = days == NODAY
    text = np.datetime_as_string(np.where(missing, 0, days).astype("datetime64[D]"), unit="D")
    return np.where(missing, "", text).astype(object)


def text_frame(record: str, columns: dict[str, np.ndarray], order: np.ndarray | None = None) -> pd.DataFrame:
    """A template-format frame: every input column of ``record``, text cells, ``""`` for missing.

    ``order`` (patient index per row) sorts the rows by patient, keeping the given order within a patient.
    """
    n = len(next(iter(columns.values())))
    data = {
        c: np.asarray(columns[c]).astype(str).astype(object) if c in columns else np.full(n, "", dtype=object)
        for c in input_columns(record)
    }
    frame = pd.DataFrame(data)
    if order is not None:
        frame = frame.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)
    return frame


def _lookup(keys: np.ndarray, table: dict[str, object], pos: int) -> np.ndarray:
    return pd.Series(keys).map({k: v[pos] for k, v in table.items()}).to_numpy()  # type: ignore[index]


def _round_step(mg: np.ndarray) -> np.ndarray:
    """Round a dose in mg to capsule/pellet/solution-like steps: 5 mg below 50, 10 below 100, 25 below 250, else 50."""
    step = np.select([mg < 50, mg < 100, mg < 250], [5.0, 10.0, 25.0], default=50.0)
    return np.maximum(step, np.round(mg / step) * step), step


def compute_doses(drug: np.ndarray, bsa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Full and reduced dose in mg per administration from the drug's mg/m2 target and the BSA (capped)."""
    full_m2, red_m2, cap = (_lookup(drug, DOSING, i).astype(float) for i in (0, 1, 3))
    full, _ = _round_step(full_m2 * bsa)
    full = np.minimum(full, cap)
    red, _ = _round_step(np.minimum(red_m2 * bsa, cap * red_m2 / full_m2))
    _, step = _round_step(full)
    red = np.where(red >= full, np.maximum(full - step, step / 2), red)
    return full, red


def _rows(columns: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate(v) for k, v in columns.items()}


def exposure_rows(ctx: dict, c: Course) -> pd.DataFrame:
    """Exposure intervals: first course (split at a dose reduction), rechallenge after relapse, second line."""
    rng, pid, idx, drug, bsa, treated = (ctx[k] for k in ("rng", "pid", "idx", "drug", "bsa", "treated"))
    n = len(pid)
    mg_full, mg_red = compute_doses(drug, bsa)
    unit_mg = rng.random(n) < np.where(drug == "crizotinib", 0.6, 0.5)
    full_m2, red_m2 = (_lookup(drug, DOSING, i).astype(float) for i in (0, 1))
    dose_full = np.where(unit_mg, mg_full, full_m2).astype(np.int64)
    dose_red = np.where(unit_mg, mg_red, red_m2).astype(np.int64)
    unit = np.where(unit_mg, "mg", "mg/m2")
    freq = _lookup(drug, DOSING, 2).astype(object)
    small = np.where(unit_mg, mg_full < 150, bsa < 0.6)
    form = np.where(small, _lookup(drug, {k: (v,) for k, v in _SMALL_FORM.items()}, 0).astype(object), "capsule")
    red = c.reduce_day != NODAY
    dead = c.death_day != NODAY
    parts = [
        (
            treated,
            drug,
            dose_full,
            unit,
            freq,
            form,
            ctx["first_dose"],
            np.where(red, c.reduce_day, c.stop),
            np.where(red, np.where(c.reduce_toxic, "toxicity", "dose_change"), c.stop_reason),
            np.where(~red & (c.stop_reason != ""), "true", "false"),  # a stop (exposure stop), not a dose change
        ),
        (
            red,
            drug,
            dose_red,
            unit,
            freq,
            form,
            c.reduce_day + c.reduce_gap,
            c.stop,
            c.stop_reason,
            np.where(c.stop_reason != "", "true", "false"),
        ),
        (
            c.rechallenge_start != NODAY,
            drug,
            np.where(red, dose_red, dose_full),
            unit,
            freq,
            form,
            c.rechallenge_start,
            np.full(n, NODAY),
            np.full(n, ""),
            np.full(n, "false"),
        ),
        (
            c.second_start != NODAY,
            np.full(n, "lorlatinib"),
            np.full(n, 115),
            np.full(n, "mg/m2"),
            np.full(n, "QD"),
            np.full(n, "tablet"),
            c.second_start,
            np.where(dead, c.death_day, NODAY),
            np.where(dead, "progression", ""),
            np.full(n, "false"),  # ends at death: on treatment, not a discontinuation
        ),
    ]
    cols: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "patient_id",
            "drug",
            "dose",
            "unit",
            "frequency",
            "formulation",
            "start",
            "end",
            "reason",
            "discontinued",
            "_i",
        )
    }
    for sel, *vals in parts:  # four kinds of interval, each built for all patients at once
        for key, v in zip(
            ("drug", "dose", "unit", "frequency", "formulation", "start", "end", "reason", "discontinued"),
            vals,
            strict=True,
        ):
            v = np.asarray(v)[sel]
            cols[key].append(date_text(v) if key in ("start", "end") else v)
        cols["patient_id"].append(pid[sel])
        cols["_i"].append(idx[sel])
    data = _rows(cols)
    order = data.pop("_i")
    data["route"] = np.full(len(order), "ORAL")
    return text_frame("exposure", data, order)


def ae_rows(ctx: dict, c: Course) -> pd.DataFrame:
    """Adverse events from each drug's profile, plus the events behind dose reductions and toxicity stops."""
    rng, pid, idx, drug, treated = (ctx[k] for k in ("rng", "pid", "idx", "drug", "treated"))
    n = len(pid)
    course_end = np.minimum(np.where(c.stop != NODAY, c.stop, c.last_contact), c.last_contact)
    counts = rng.poisson(2.5, n) * treated
    pi = np.repeat(idx, counts)
    m = len(pi)
    profile = np.where(np.char.startswith(drug[pi].astype(str), "crizotinib"), "ALK", "NTRK")
    term = np.empty(m, dtype=object)
    grade = np.zeros(m, dtype=np.int64)
    for name, table in AE_PROFILES.items():  # two profiles, not patients
        sel = profile == name
        weights = np.array([t[1] for t in table])
        ti = rng.choice(len(table), size=int(sel.sum()), p=weights / weights.sum())
        gp = np.array([t[2] for t in table])[ti]
        term[sel] = np.array([t[0] for t in table], dtype=object)[ti]
        grade[sel] = (rng.random(len(ti))[:, None] > np.cumsum(gp, axis=1)).sum(axis=1).clip(0, 3) + 1
    late = np.isin(term, _LATE_TERMS)
    offset = np.where(late, 90 + rng.exponential(120.0, m), rng.exponential(45.0, m)).astype(np.int64)
    onset = ctx["first_dose"][pi] + 1 + offset
    end = onset + 3 + rng.exponential(21.0, m).astype(np.int64)
    keep = onset <= course_end[pi]
    action = np.full(m, "none", dtype=object)
    # linked events: the grade 3-4 or grade 2 event behind a dose reduction, the event behind a toxicity stop
    red = np.flatnonzero(c.reduce_day != NODAY)
    tox = c.reduce_toxic[red]
    red_term = np.where(
        tox,
        "Neutrophil count decreased",
        np.array(["Nausea", "Alanine aminotransferase increased", "Fatigue"], dtype=object)[
            rng.integers(0, 3, len(red))
        ],
    )
    red_grade = np.where(tox, np.where(rng.random(len(red)) < 0.75, 3, 4), 2)
    red_onset = c.reduce_day[red] - np.where(tox, rng.integers(0, 4, len(red)), rng.integers(14, 31, len(red)))
    red_end = np.where(
        tox, c.reduce_day[red] + c.reduce_gap[red] - 1, c.reduce_day[red] + rng.integers(7, 31, len(red))
    )
    stop = np.flatnonzero((c.stop_reason == "toxicity") & treated)
    alk = drug[stop] == "crizotinib"
    choice = rng.integers(0, 4, len(stop))
    stop_term = np.where(
        alk,
        np.array(
            ["Neutrophil count decreased", "Alanine aminotransferase increased", "Gait disturbance", "Blurred vision"],
            dtype=object,
        )[choice],
        np.array(["Alanine aminotransferase increased", "Dizziness"] * 2, dtype=object)[choice],
    )
    stop_grade = np.where(alk & (choice == 0), 4, 3)
    stop_onset = c.stop[stop] - rng.integers(3, 15, len(stop))
    stop_end = c.stop[stop] + rng.integers(14, 61, len(stop))
    pi = np.concatenate([pi[keep], red, stop])
    term = np.concatenate([term[keep], red_term, stop_term])
    grade = np.concatenate([grade[keep], red_grade, stop_grade])
    onset = np.concatenate([onset[keep], red_onset, stop_onset])
    end = np.concatenate([end[keep], red_end, stop_end])
    action = np.concatenate([action[keep], np.full(len(red), "dose_reduced"), np.full(len(stop), "withdrawn")])
    by_date = np.lexsort((onset, pi))
    pi, term, grade, onset, end, action = (a[by_date] for a in (pi, term, grade, onset, end, action))
    m = len(pi)
    open_end = end > c.last_contact[pi]
    serious = (grade >= 3) & ((rng.random(m) < 0.3) | (action == "withdrawn"))
    data = {
        "patient_id": pid[pi],
        "term": term,
        "verbatim": np.full(m, "false"),
        "grade": grade,
        "start": date_text(onset),
        "end": date_text(np.where(open_end, NODAY, end)),
        "serious": np.where(serious, "true", "false"),
        "serious_hospitalisation": np.where(serious, "true", ""),  # the usual criterion of a grade 3-4 SAE
        "attributed_drug": drug[pi],
        "attribution": np.asarray(["possible", "probable", "definite"], dtype=object)[
            rng.choice(3, size=m, p=[0.4, 0.45, 0.15])
        ],
        "action": action,
        "outcome": np.where(open_end, np.where(rng.random(m) < 0.5, "recovering", "not_recovered"), "recovered"),
    }
    return text_frame("ae", data, pi)


def assessment_rows(ctx: dict, c: Course) -> pd.DataFrame:
    """A baseline scan before the first dose, then scans every 2-3 months up to the first PD or last contact."""
    rng, pid, idx, treated = (ctx[k] for k in ("rng", "pid", "idx", "treated"))
    n = len(pid)
    modality = np.asarray(["MRI", "CT", "US"], dtype=object)[rng.choice(3, size=n, p=[0.6, 0.3, 0.1])]
    pr, kr = np.nonzero(c.akeep)
    b = np.flatnonzero(treated)
    resp = _RESPONSE_TEXT[c.aresp[pr, kr]]
    data = {
        "patient_id": np.concatenate([pid[b], pid[pr]]),
        "date": np.concatenate([date_text(c.baseline_day[b]), date_text(c.adate[pr, kr])]),
        "modality": np.concatenate([modality[b], modality[pr]]),
        "criteria": np.full(len(b) + len(pr), "RECIST1.1"),
        "baseline": np.concatenate([np.full(len(b), "true"), np.full(len(pr), "false")]),
        "sum_diameters": np.concatenate([c.sum0[b], c.asum[pr, kr]]).astype(np.int64),
        "target_response": np.concatenate([np.full(len(b), ""), resp]),
        "new_lesion": np.concatenate([np.full(len(b), ""), np.full(len(pr), "false")]),
        "response": np.concatenate([np.full(len(b), ""), resp]),
        "evaluator": np.full(len(b) + len(pr), "INVESTIGATOR"),
    }
    return text_frame("assessment", data, np.concatenate([idx[b], idx[pr]]))


def procedure_rows(ctx: dict, c: Course) -> pd.DataFrame:
    """Diagnostic biopsy for everyone; resection for untreated patients and for some responders on treatment."""
    rng, pid, idx = ctx["rng"], ctx["pid"], ctx["idx"]
    n = len(pid)
    resect, surg = ctx["resect_day"] != NODAY, c.surgery_day != NODAY
    margin = np.asarray(["R0", "R1", "R2"], dtype=object)[rng.choice(3, size=n, p=[0.65, 0.28, 0.07])]
    sel = [np.ones(n, bool), resect, surg]
    data = {
        "patient_id": np.concatenate([pid[s] for s in sel]),
        "kind": np.concatenate(
            [np.full(n, "biopsy"), np.full(resect.sum(), "resection"), np.full(surg.sum(), "resection")]
        ),
        "date": np.concatenate(
            [date_text(ctx["diag"]), date_text(ctx["resect_day"][resect]), date_text(c.surgery_day[surg])]
        ),
        "margin": np.concatenate([np.full(n, ""), margin[resect], margin[surg]]),
        "site": np.concatenate([ctx["primary"][s] for s in sel]),
    }
    return text_frame("procedure", data, np.concatenate([idx[s] for s in sel]))


def disease_event_rows(ctx: dict, c: Course) -> pd.DataFrame:
    """Progression on treatment (sometimes with metastasis), relapse after stopping, recurrence after surgery."""
    rng, pid, idx = ctx["rng"], ctx["pid"], ctx["idx"]
    n = len(pid)
    prog, rel, rec = c.pd_day != NODAY, c.relapse_day != NODAY, ctx["recur_day"] != NODAY
    meta = prog & (rng.random(n) < 0.3)
    meta_site = np.asarray(["lung", "liver", "peritoneum"], dtype=object)[rng.integers(0, 3, n)]
    sel = [prog, meta, rel, rec]
    data = {
        "patient_id": np.concatenate([pid[s] for s in sel]),
        "kind": np.concatenate(
            [
                np.full(prog.sum(), "progression"),
                np.full(meta.sum(), "metastasis"),
                np.where(c.category[rel] == CR, "recurrence", "progression"),
                np.full(rec.sum(), "recurrence"),
            ]
        ),
        "date": np.concatenate(
            [
                date_text(c.pd_day[prog]),
                date_text(c.pd_day[meta]),
                date_text(c.relapse_day[rel]),
                date_text(ctx["recur_day"][rec]),
            ]
        ),
        "site": np.concatenate([ctx["primary"][prog], meta_site[meta], ctx["primary"][rel], ctx["primary"][rec]]),
        "confirmed_by": np.concatenate(
            [np.full(prog.sum() + meta.sum() + rel.sum(), "imaging"), np.full(rec.sum(), "histology")]
        ),
    }
    return text_frame("disease_event", data, np.concatenate([idx[s] for s in sel]))


def followup_rows(ctx: dict, c: Course) -> pd.DataFrame:
    """One row per patient: last contact, vital status, and death date and cause for those who died."""
    dead = c.death_day != NODAY
    data = {
        "patient_id": ctx["pid"],
        "date": date_text(c.last_contact),
        "vital_status": np.where(dead, "dead", "alive"),
        "death_date": date_text(c.death_day),
        "death_cause": np.where(dead, "disease progression", ""),
    }
    return text_frame("followup", data)
