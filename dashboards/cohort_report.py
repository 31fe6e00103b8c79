"""The cohort report's content: tables and figures for every section, from record frames (no file writing)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tkitrack.dashboards.report import Section, write_report
from tkitrack.dashboards.response import figure_spider, figure_waterfall
from tkitrack.dashboards.safety import figure_ae_summary
from tkitrack.dashboards.survival import figure_cif, figure_km
from tkitrack.dashboards.swimmer import figure_swimmer
from tkitrack.outcomes.cohort import derive_adam_from_records, derive_patient_attributes, derive_relapse_after_cr
from tkitrack.outcomes.competing import compute_cif
from tkitrack.outcomes.exposure import derive_exposure_summary
from tkitrack.outcomes.safety import summarise_ae_incidence, summarise_ae_on_off_treatment, summarise_worst_grade
from tkitrack.outcomes.stopping import (
    derive_stopping_cohort,
    fit_time_varying_cox,
    landmark_analysis,
    list_stopped_patients,
)
from tkitrack.outcomes.summary import summarise_endpoint, summarise_response
from tkitrack.outcomes.swimmer import derive_swimmer_data
from tkitrack.outcomes.tumour import derive_best_percent_change, derive_percent_change
from tkitrack.schemas.errors import InputError

__all__ = ["build_cohort_sections", "cohort_description", "write_cohort_report"]


def _counts(series: pd.Series, label: str, n: int) -> pd.DataFrame:
    counts = series.value_counts(dropna=False)
    return pd.DataFrame({label: counts.index.astype(str), "patients": counts.to_numpy(),
                         "%": np.round(100 * counts.to_numpy() / max(n, 1), 1)})  # fmt: skip


def cohort_description(frames: dict[str, pd.DataFrame]) -> tuple[str, list[tuple[str, pd.DataFrame]]]:
    """A paragraph and tables describing who is in the cohort (sex, age, histology, fusion, treatment)."""
    attrs = derive_patient_attributes(frames)
    p = frames["patient"]
    n = len(p)
    age = p["age_at_diagnosis"].where(
        p["age_at_diagnosis"].notna(), (p["diagnosis_date"] - p["birth_date"]).dt.days / 365.25
    )
    treated = frames["exposure"]["patient_id"].nunique()
    age_text = (f"median age at diagnosis {age.median():.1f} years (range {age.min():.1f}-{age.max():.1f}; "
                f"known for {int(age.notna().sum())})") if age.notna().any() else "age not recorded"  # fmt: skip
    text = (f"{n} patients; {age_text}; {treated} received a recorded drug course. Counts are patients; "
            "percentages are of all patients.")  # fmt: skip
    drugs = frames["exposure"].groupby("drug")["patient_id"].nunique().rename("patients").reset_index()
    tables = [
        ("Sex", _counts(attrs["sex"], "sex", n)),
        ("Histology", _counts(attrs["histology"], "histology", n)),
        (
            "Kinase fusion (5' partner :: 3' kinase)",
            _counts(attrs["fusion_partner"] + " :: " + attrs["kinase_gene"], "fusion", n),
        ),
        ("Drugs received", drugs),
    ]
    return text, tables


def _km_section(heading: str, data: pd.DataFrame, group: str | None, landmarks=(365, 730)) -> Section:
    s = summarise_endpoint(data, group=group, landmarks=landmarks)
    shown = s.text_table(decimals=0)
    medians = {g: float(m) for g, m in zip(s.table["group"], s.table["median"], strict=True) if not pd.isna(m)}
    text = (f"Kaplan-Meier estimates with 95% log-transformed confidence intervals; median follow-up by reverse "
            f"Kaplan-Meier {s.followup} days. " + " ".join(s.notes))  # fmt: skip
    fig = figure_km(s.curves, medians=medians, landmarks=list(landmarks), title=heading)
    return Section(heading, text, tables=[("Summary", shown), ("Numbers at risk", s.risk.astype({"time": int}))],
                   figures=[fig])  # fmt: skip


def build_cohort_sections(frames: dict[str, pd.DataFrame], *, listing: pd.DataFrame | None = None,
                          group_by: str = "histology") -> list[Section]:  # fmt: skip
    """Every section of the cohort report, in reading order, computed from typed record frames."""
    sections = []
    text, tables = cohort_description(frames)
    sections.append(Section("Cohort", text, tables=tables))
    adam = derive_adam_from_records(frames) if len(frames["exposure"]) else None
    if adam is not None:
        resp = summarise_response(adam["adrs"], subjects=adam["adsl"].loc[adam["adsl"]["TRTSDT"].notna(), "USUBJID"])
        table = resp[["measure", "text"]].rename(columns={"text": "k/n (%, exact 95% CI)"})
        figs = []
        best = derive_best_percent_change(frames["assessment"])
        if len(best):
            figs.append(figure_waterfall(best))
            figs.append(figure_spider(derive_percent_change(frames["assessment"])))
        sections.append(Section(
            "Response", "Best overall response (RECIST 1.1 rules as admiralonco: response on or after day 42 of "
            "the first dose, confirmation after 28 days) among patients who received a drug; intervals are exact "
            "(Clopper-Pearson).", tables=[("Response", table)], figures=figs))  # fmt: skip
    attrs = derive_patient_attributes(frames)
    patients = frames["patient"].merge(attrs[["patient_id", "fusion_partner"]], on="patient_id", how="left")
    swim = derive_swimmer_data(patients, frames["exposure"], frames["assessment"], frames["disease_event"],
                               frames["procedure"], frames["followup"], frames["ae"], origin="diagnosis",
                               ae_min_grade=2)  # fmt: skip
    sections.append(Section("Treatment and follow-up", f"One lane per patient ({len(swim.lanes)}), from diagnosis "
                            "(day 0) to the last contact; AEs of grade 2 or more are marked.",
                            figures=[figure_swimmer(swim, group_by=group_by if group_by in swim.lanes else None)]))  # fmt: skip
    if adam is not None:
        tte = adam["adtte"].merge(attrs, left_on="USUBJID", right_on="patient_id", how="left")
        for paramcd, heading in (("PFS", "Progression-free survival"), ("OS", "Overall survival")):
            t = tte[tte["PARAMCD"] == paramcd]
            data = pd.DataFrame({"time": t["AVAL"].astype(float), "event": t["CNSR"].eq(0), group_by: t[group_by]})
            sections.append(_km_section(f"{heading} from the first dose", data, None))
    sections.append(_stopping_section(frames))
    if len(frames["exposure"]):
        summary = derive_exposure_summary(frames["exposure"], frames["patient"], frames["followup"])
        per_drug = summary.groupby("drug").agg(
            patients=("patient_id", "nunique"), median_days=("days_on_drug", "median"),
            dose_changes=("n_dose_changes", "sum"), interruptions=("n_interruptions", "sum"),
            median_mg_m2_day=("dose_intensity_mg_m2_day", "median"),
        ).round(1).reset_index()  # fmt: skip
        sections.append(Section(
            "Drug exposure", "Days on each drug (union of its intervals; gaps are interruptions), dose changes with "
            "their reasons, cumulative dose and dose intensity (mg/m2/day from height and weight, Mosteller).",
            tables=[("By drug", per_drug), ("Per patient and drug", summary.round(1))]))  # fmt: skip
    if len(frames["ae"]):
        incidence = summarise_ae_incidence(frames["ae"], frames["patient"])
        onoff = summarise_ae_on_off_treatment(frames["ae"], frames["exposure"]) if len(frames["exposure"]) else None
        tables = [("Incidence by term and worst grade (patients)", incidence)]
        if onoff is not None:
            tables.append(("On vs off treatment (onset within an interval or 30 days after it)", onoff))
        sections.append(Section("Adverse events", "CTCAE v5.0 terms; each patient counted once per term at the worst "
                                 "grade; the denominator is every patient.", tables=tables,
                                 figures=[figure_ae_summary(summarise_worst_grade(frames["ae"]), n_total=len(frames["patient"]))]))  # fmt: skip
    sections.append(_validation_section(listing))
    return sections


def write_cohort_report(frames: dict[str, pd.DataFrame], output, *, title: str, provenance: dict):
    """Validate, derive and write the cohort report for these frames (the CLI's report and demo, the web download)."""
    from tkitrack.schemas.queries import validate_frames

    sections = build_cohort_sections(frames, listing=validate_frames(frames))
    return write_report(sections, output, title=title, provenance=provenance)


def _stopping_section(frames: dict[str, pd.DataFrame]) -> Section:
    heading = "Stopping the inhibitor after complete response"
    if not len(frames["exposure"]):
        return Section(heading, "No drug courses recorded.")
    try:
        cohort = derive_stopping_cohort(
            frames["exposure"], frames["assessment"], frames["disease_event"], frames["followup"]
        )
    except InputError as err:  # e.g. a treated patient without follow-up: say so instead of guessing
        return Section(heading, f"Not computed: {err}.")
    in_cr = cohort[cohort["cr_date"].notna()]
    if in_cr.empty:
        return Section(heading, "No patient reached a complete response on an inhibitor.")
    marks = landmark_analysis(in_cr, (90, 180, 365))
    tv = fit_time_varying_cox(in_cr)
    stopped = list_stopped_patients(in_cr)
    cols = ["landmark_day", "status", "n", "events", "n_not_at_risk", "median_text", "warning_text"]
    tv_text = (f"Cox model with stopping as a time-varying covariate: {tv.n_patients} patients, {tv.n_events} "
               + (f"relapses or deaths; not estimated: {tv.warning_text}." if tv.warning_text or np.isnan(tv.hazard_ratio)
                  else f"relapses or deaths; HR off vs on drug {tv.hazard_ratio:.2f} (95% CI {tv.lower:.2f}-"
                  f"{tv.upper:.2f}), exploratory."))  # fmt: skip
    text = (f"{len(in_cr)} patients reached a complete response on an inhibitor; {len(stopped)} stopped it. "
            "Comparing those who stopped with those who continued from the start would credit the stoppers with "
            "the time they had to survive to stop (immortal-time bias), so status is fixed at landmarks after the "
            "CR and follow-up counted from there, and the Cox model lets stopping change over time. " + tv_text)  # fmt: skip
    comp = derive_relapse_after_cr(cohort)
    cif = compute_cif(comp["time"], comp["status"], event=1, competing=(2,))
    fig = figure_cif({"relapse after CR": cif}, title="Cumulative incidence of relapse after CR (death competing)")
    return Section(heading, text, tables=[("Landmark analysis (relapse or death after the landmark)", marks[cols]),
                                          ("Everyone who stopped after CR", stopped)], figures=[fig])  # fmt: skip


def _validation_section(listing: pd.DataFrame | None) -> Section:
    if listing is None:
        return Section("Data validation", "Validation was not run for this report.")
    if not len(listing):
        return Section("Data validation", "Every field, frame and edit check passed: no queries.")
    summary = listing.groupby(["rule_id", "severity"]).size().rename("queries").reset_index()
    errors = int((listing["severity"] == "error").sum())
    return Section("Data validation", f"{errors} error(s) and {int((listing['severity'] == 'warning').sum())} "
                   "warning(s) from `tkitrack validate`; errors must be resolved before analysis.",
                   tables=[("Queries by rule", summary)])  # fmt: skip
