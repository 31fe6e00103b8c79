"""The cohort report's content: the publication tables and the figures of every section (no file writing).

Every table is a :class:`~tkitrack.dashboards.pubtable.PubTable` (the same ones `tkitrack table` writes); every
figure names its endpoint and time origin, says in a footnote whom it leaves out and why, and says when synthetic
patients are pooled in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tkitrack.dashboards.labels import abbreviation_note, present_frame, value_labels
from tkitrack.dashboards.notes import excluded_note
from tkitrack.dashboards.pubtable import PubTable
from tkitrack.dashboards.report import Section, write_report
from tkitrack.dashboards.response import figure_spider, figure_waterfall
from tkitrack.dashboards.safety import figure_ae_summary
from tkitrack.dashboards.survival import figure_cif, figure_km
from tkitrack.dashboards.swimmer import figure_swimmer
from tkitrack.dashboards.tables import (
    synthetic_note,
    table_characteristics,
    table_response,
    table_time_to_event,
)
from tkitrack.dashboards.tables_safety import (
    table_adverse_events,
    table_ae_on_off,
    table_exposure,
    table_exposure_listing,
)
from tkitrack.dashboards.tables_stopping import table_landmarks, table_stopped
from tkitrack.outcomes.cache import Derived
from tkitrack.outcomes.courses import derive_index_therapy
from tkitrack.outcomes.endpoints import endpoint_info
from tkitrack.outcomes.safety import derive_safety_population, summarise_worst_grade
from tkitrack.outcomes.stopping import (
    fit_time_varying_cox,
    landmark_analysis,
    list_stopped_patients,
    restrict_stopping_cohort,
)
from tkitrack.outcomes.summary import summarise_competing, summarise_endpoint
from tkitrack.outcomes.tumour import (
    derive_best_percent_change,
    derive_best_response_from_adrs,
    derive_percent_change,
    derive_unmeasured,
)
from tkitrack.schemas.errors import InputError

__all__ = ["KM_ENDPOINTS", "build_cohort_sections", "cohort_description", "figure_endpoint", "write_cohort_report"]

#: Endpoints drawn as Kaplan-Meier figures in the report, in reading order.
KM_ENDPOINTS: tuple[str, ...] = ("PFS", "OS", "DOR", "TOT")


def cohort_description(frames: Mapping[str, pd.DataFrame]) -> str:
    """A paragraph on who is in the cohort: patients, treated, synthetic."""
    n = len(frames["patient"])
    treated = derive_index_therapy(frames["exposure"])["patient_id"].nunique()
    text = (f"{n} patients; {treated} received a kinase inhibitor (the index therapy, day 1 of their time-to-event "
            "endpoints). Counts are patients; percentages are whole numbers of the stated denominator.")  # fmt: skip
    note = synthetic_note(frames["patient"])
    return text + (f"\n\n{note}" if note else "")


def _left_out(all_ids: Sequence[str], shown: Sequence[str], reason: str) -> pd.DataFrame:
    missing = pd.Index(pd.Series(all_ids, dtype="object").unique()).difference(pd.Index(shown))
    return pd.DataFrame({"patient_id": missing.astype(str), "reason": reason})


def figure_endpoint(
    frames: Mapping[str, pd.DataFrame],
    code: str,
    *,
    by: str | None = None,
    adam: Mapping[str, pd.DataFrame] | None = None,
    landmarks: Sequence[float] = (),
    conf: float = 0.95,
    conf_type: str = "log",
    median_rule: str = "first",
    derived: Derived | None = None,
) -> go.Figure:
    """The curve of an endpoint: Kaplan-Meier (with medians) or cumulative incidence for a competing-risks one.

    Title, axis titles and footnotes come from the endpoint's declaration: its name and time origin, who is left
    out (patients without its starting point, listed) and whether synthetic patients are pooled.
    """
    info = endpoint_info(code)
    ids = frames["patient"]["patient_id"]
    d = derived if derived is not None else Derived(frames)
    if info.kind == "incidence":
        data = d.competing_endpoint(code)
    elif adam is not None and derived is None:
        from tkitrack.outcomes.cohort import derive_endpoint

        data = derive_endpoint(frames, code, adam=adam)
    else:
        data = d.endpoint(code)
    data = data[data["time"].notna()]  # a row without a time has no origin: the patient is left out, and said so

    abbreviations = ""
    if by is not None:
        data = data.merge(d.patient_attributes()[["patient_id", by]], on="patient_id", how="left")
    if by is not None:
        abbreviations = abbreviation_note(by, data[by])
        data[by] = value_labels(by, data[by], short=True)
    notes = excluded_note(_left_out(ids, data["patient_id"], f"without {info.requires}"))
    notes += [n for n in [abbreviations, synthetic_note(frames["patient"], data["patient_id"])] if n]
    title = info.title
    if data.empty:
        fig = go.Figure().update_layout(title={"text": title}, template="simple_white", width=900, height=300)
        from tkitrack.dashboards.notes import add_footnotes

        return add_footnotes(fig, [f"No patient has {info.requires}: nothing to draw.", *notes])
    if info.kind == "incidence":
        s = summarise_competing(data, group=by, conf=conf, landmarks=landmarks)
        return figure_cif(s.curves, title=title, time_label=info.x_label, y_title=info.y_label, footnotes=notes,
                          landmarks=list(landmarks) or None)  # fmt: skip
    s = summarise_endpoint(data, group=by, conf=conf, conf_type=conf_type, median_rule=median_rule,
                           landmarks=landmarks)  # fmt: skip
    medians = {str(g): float(m) for g, m in zip(s.table["group"], s.table["median"], strict=True) if not pd.isna(m)}
    return figure_km(s.curves, medians=medians, landmarks=list(landmarks) or None, title=title,
                     time_label=info.x_label, y_title=info.y_label, footnotes=notes)  # fmt: skip


def build_cohort_sections(frames: Mapping[str, pd.DataFrame], *, listing: pd.DataFrame | None = None,
                          group_by: str = "histology", index_drug: str | None = None,
                          derived: Derived | None = None) -> list[Section]:  # fmt: skip
    """Every section of the cohort report, in reading order, computed from typed record frames (day 1: the first
    dose of the index therapy, the first kinase-inhibitor course unless ``index_drug`` names another drug).

    ``derived`` (of the same records and index drug) supplies datasets already derived; every derivation runs once
    per report.
    """
    d = derived if derived is not None else Derived(frames, index_drug=index_drug)
    sections = [Section("Cohort", cohort_description(frames), tables=[table_characteristics(frames)])]
    treated = len(frames["exposure"]) > 0
    adam = d.adam() if treated else None
    if adam is not None:
        sections.append(_response_section(frames, adam))
    sections.append(_swimmer_section(frames, group_by, d))
    if adam is not None:
        figures = [figure_endpoint(frames, code, landmarks=(365.25, 730.5), derived=d) for code in KM_ENDPOINTS]
        sections.append(Section(
            "Time-to-event endpoints", "Kaplan-Meier estimates with 95% pointwise confidence bands (log transform); "
            "numbers at risk under each plot at the x-axis ticks; each curve's legend entry gives its patients and "
            "events. Each endpoint starts where its title says.", tables=[table_time_to_event(frames, endpoint_data=d.endpoint)],
            figures=figures))  # fmt: skip
    sections.append(_stopping_section(frames, d))
    if treated:
        listings = [table_exposure_listing(frames)]
        sections.append(Section(
            "Drug exposure", "Days on each drug (union of its intervals; gaps are interruptions), dose changes with "
            "their reasons, and dose intensity against the catalogue dose.",
            tables=[table_exposure(frames), *listings]))  # fmt: skip
    if len(frames["ae"]):
        sections.append(_ae_section(frames))
    sections.append(_validation_section(listing))
    return sections


def _response_section(frames: Mapping[str, pd.DataFrame], adam: Mapping[str, pd.DataFrame]) -> Section:
    treated = derive_index_therapy(frames["exposure"])["patient_id"]
    best = derive_best_percent_change(frames["assessment"])
    best = derive_best_response_from_adrs(best[best["patient_id"].isin(treated)], adam["adrs"])
    figures = []
    synthetic = [n for n in [synthetic_note(frames["patient"], treated)] if n]
    if len(best):
        unmeasured = excluded_note(derive_unmeasured(frames["assessment"], treated))
        legend = "Best overall response (confirmed)"
        figures.append(figure_waterfall(best, legend_title=legend, footnotes=[*unmeasured, *synthetic]))
        changes = derive_percent_change(frames["assessment"])
        changes = derive_best_response_from_adrs(changes[changes["patient_id"].isin(treated)], adam["adrs"])
        figures.append(figure_spider(changes, legend_title=legend, footnotes=[*unmeasured, *synthetic]))
    from tkitrack.outcomes.summary import summarise_response

    rates = summarise_response(adam["adrs"], subjects=list(treated)).set_index("measure")["labelled"]
    text = (f"Confirmed objective response (CR or PR) among patients who received a kinase inhibitor: "
            f"{rates['confirmed objective response']}; unconfirmed: {rates['objective response (CR+PR)']}. "
            "Below, the best overall response, confirmed (the headline) and unconfirmed, by histology and index "
            "therapy; the waterfall and spider plots show the target-lesion measurements, coloured by the "
            "confirmed best overall response.")  # fmt: skip
    return Section("Response", text, tables=[table_response(frames, adam=adam)], figures=figures)


def _swimmer_section(frames: Mapping[str, pd.DataFrame], group_by: str, derived: Derived) -> Section:
    swim = derived.swimmer(origin="diagnosis", ae_min_grade=2)
    notes = [n for n in [synthetic_note(frames["patient"], swim.lanes["patient_id"])] if n]
    fig = figure_swimmer(swim, group_by=group_by if group_by in swim.lanes else None,
                         title="Treatment and follow-up from diagnosis", footnotes=notes)  # fmt: skip
    text = (f"One lane per patient ({len(swim.lanes)}), from diagnosis (day 0) to the last contact; AEs of grade 2 "
            "or more are marked. Markers on the same day are spread across the lane.")  # fmt: skip
    return Section("Treatment and follow-up", text, figures=[fig])


def write_cohort_report(
    frames: Mapping[str, pd.DataFrame], output, *, title: str, provenance: dict, force: bool = False,
    index_drug: str | None = None,
    derived: Derived | None = None,
):  # fmt: skip
    """Validate, derive and write the cohort report for these frames (the CLI's report and demo, the web download).

    An existing ``output`` is replaced only with ``force`` (see :func:`tkitrack.schemas.outputs.open_output`).
    ``derived`` (of the same records) supplies datasets and the validation listing already derived.
    """
    from tkitrack.schemas.queries import validate_frames

    d = derived if derived is not None else Derived(frames, index_drug=index_drug)
    sections = build_cohort_sections(frames, listing=d.get("validation", validate_frames), index_drug=index_drug,
                                     derived=d)  # fmt: skip
    return write_report(sections, output, title=title, provenance=provenance, force=force)


def _ae_section(frames: Mapping[str, pd.DataFrame]) -> Section:
    treated = derive_safety_population(frames["patient"], frames["exposure"])["patient_id"]
    n = len(treated)
    notes = [f"Each patient counted once per term at the worst grade; bars are of the {n} patients with at least "
             "one dose (safety population); adverse events of untreated patients are not counted."]  # fmt: skip
    notes += [n for n in [synthetic_note(frames["patient"], treated)] if n]
    ae = frames["ae"][frames["ae"]["patient_id"].isin(set(treated))]
    fig = figure_ae_summary(summarise_worst_grade(ae), n_total=n, footnotes=notes)
    listings = [table_ae_on_off(frames)] if len(frames["exposure"]) else []
    return Section("Adverse events", "CTCAE v5.0 terms, worst grade per patient; the denominator of each drug's "
                   "columns is the patients who received it.", tables=[table_adverse_events(frames), *listings],
                   figures=[fig])  # fmt: skip


def _stopping_section(frames: Mapping[str, pd.DataFrame], derived: Derived) -> Section:
    heading = "Stopping the inhibitor after complete response"
    if not len(frames["exposure"]):
        return Section(heading, "No drug courses recorded.")
    try:
        cohort = derived.stopping_cohort()
    except InputError as err:  # e.g. a treated patient without follow-up: say so instead of guessing
        return Section(heading, f"Not computed: {err}.")
    in_cr = restrict_stopping_cohort(cohort)
    if in_cr.empty:
        return Section(heading, "No patient reached a complete response on an inhibitor.")
    marks = landmark_analysis(in_cr, (90, 180, 365))
    tv = fit_time_varying_cox(in_cr)
    stopped = list_stopped_patients(in_cr)
    tv_text = (f"Cox model with stopping as a time-varying covariate: {tv.n_patients} patients, {tv.n_events} "
               + (f"relapses or deaths; not estimated: {tv.warning_text}." if tv.warning_text or np.isnan(tv.hazard_ratio)
                  else f"relapses or deaths; HR off vs on drug {tv.hazard_ratio:.2f} (95% CI {tv.lower:.2f}-"
                  f"{tv.upper:.2f}), exploratory."))  # fmt: skip
    text = (f"{len(in_cr)} patients reached a complete response on an inhibitor; {len(stopped)} stopped it. "
            "Comparing those who stopped with those who continued from the start would credit the stoppers with "
            "the time they had to survive to stop (immortal-time bias), so status is fixed at landmarks after the "
            "CR and follow-up counted from there, and the Cox model lets stopping change over time. " + tv_text)  # fmt: skip
    fig = figure_endpoint(frames, "RELAPSE_AFTER_CR", landmarks=(365.25,), derived=derived)
    return Section(heading, text, tables=[table_landmarks(marks), table_stopped(stopped)], figures=[fig])


def _validation_section(listing: pd.DataFrame | None) -> Section:
    if listing is None:
        return Section("Data validation", "Validation was not run for this report.")
    if not len(listing):
        return Section("Data validation", "Every field, frame and edit check passed: no queries.")
    summary = listing.groupby(["rule_id", "severity"]).size().rename("queries").reset_index()
    table = PubTable.from_frame("queries", "Queries by rule", present_frame(
        summary.rename(columns={"rule_id": "Rule", "severity": "Severity", "queries": "Queries"})))  # fmt: skip
    errors = int((listing["severity"] == "error").sum())
    return Section("Data validation", f"{errors} error(s) and {int((listing['severity'] == 'warning').sum())} "
                   "warning(s) from `tkitrack validate`; errors must be resolved before analysis.",
                   tables=[table])  # fmt: skip
