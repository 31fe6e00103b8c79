"""The cohort report's content: the publication tables and the figures of every section (no file writing).

Every table is a :class:`~tkitrack.dashboards.pubtable.PubTable` (the same ones `tkitrack table` writes); every
figure names its endpoint and time origin, says in a footnote whom it leaves out and why, and says when synthetic
patients are pooled in it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from tkitrack.dashboards.compact import PackedFigure
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
from tkitrack.outcomes.cache import Derived, trim_heap
from tkitrack.outcomes.courses import derive_index_therapy
from tkitrack.outcomes.endpoints import endpoint_info
from tkitrack.outcomes.safety import derive_safety_population, summarise_worst_grade
from tkitrack.outcomes.stopping import (
    fit_time_varying_cox,
    landmark_analysis,
    list_stopped_patients,
    restrict_stopping_cohort,
)
from tkitrack.outcomes.summary import best_response_rows, summarise_competing, summarise_endpoint
from tkitrack.outcomes.tumour import (
    derive_best_percent_change,
    derive_best_response_from_adrs,
    derive_percent_change,
    derive_unmeasured,
)
from tkitrack.schemas.errors import InputError

__all__ = [
    "KM_ENDPOINTS",
    "build_cohort_sections",
    "cohort_description",
    "figure_endpoint",
    "iter_cohort_sections",
    "write_cohort_report",
]

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
    d = derived if derived is not None else Derived(frames)
    patients = d.patient_notes()
    ids = patients["patient_id"]
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
    notes += [n for n in [abbreviations, synthetic_note(patients, data["patient_id"])] if n]
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


def _cached_text(derived: Derived, name: str, compute) -> str:
    """A paragraph computed from the records once per data version (kept as a one-cell frame)."""
    return str(derived.get(name, lambda f: pd.DataFrame({"text": [compute(f)]}))["text"].iloc[0])


def build_cohort_sections(frames: Mapping[str, pd.DataFrame] | None = None, *, listing: pd.DataFrame | None = None,
                          group_by: str = "histology", index_drug: str | None = None,
                          derived: Derived | None = None) -> list[Section]:  # fmt: skip
    """Every section of the cohort report, in reading order, computed from typed record frames (day 1: the first
    dose of the index therapy, the first kinase-inhibitor course unless ``index_drug`` names another drug).

    ``derived`` (of the same records and index drug; then ``frames`` may be None) supplies datasets already
    derived. Everything the sections show that is computed from the records (datasets, tables, the figures' data)
    goes through it, so it is derived once per data version: a report of unchanged data reads it back without
    reading the records.
    """
    return list(iter_cohort_sections(frames, listing=listing, group_by=group_by, index_drug=index_drug,
                                     derived=derived))  # fmt: skip


def iter_cohort_sections(frames: Mapping[str, pd.DataFrame] | None = None, *, listing: pd.DataFrame | None = None,
                         group_by: str = "histology", index_drug: str | None = None,
                         derived: Derived | None = None,
                         finish: Callable[[Section], Section] | None = None,
                         best: Sequence[pd.DataFrame] = ()) -> Iterator[Section]:  # fmt: skip
    """:func:`build_cohort_sections` one section at a time, each passed through ``finish`` (e.g. packing its
    figures and letting go of its data) as soon as it is built. With ``finish`` the swimmer, a registry's
    largest figure, is built first, while the least is held; the sections still come in reading order.
    ``best``: ADRS's best-response rows when already taken (:func:`_adam_first`), for the response section."""
    d = derived if derived is not None else Derived(frames, index_drug=index_drug)
    done = finish if finish is not None else (lambda section: section)
    counts = d.record_counts()
    swimmer = done(_swimmer_section(group_by, d)) if finish is not None else None
    yield done(Section("Cohort", _cached_text(d, "cohort_description", cohort_description),
                       tables=[d.get("table_characteristics", table_characteristics)]))  # fmt: skip
    treated = counts["exposure"] > 0
    if treated:
        yield done(_response_section(d, best))
    yield swimmer if swimmer is not None else done(_swimmer_section(group_by, d))
    if treated:
        figures = [figure_endpoint(None, code, landmarks=(365.25, 730.5), derived=d) for code in KM_ENDPOINTS]
        table = d.get("table_time_to_event", lambda f: table_time_to_event(f, endpoint_data=d.endpoint))
        yield done(Section(
            "Time-to-event endpoints", "Kaplan-Meier estimates with 95% pointwise confidence bands (log transform); "
            "numbers at risk under each plot at the x-axis ticks; each curve's legend entry gives its patients and "
            "events. Each endpoint starts where its title says.", tables=[table], figures=figures))  # fmt: skip
        del figures
    yield done(_stopping_section(counts, d))
    if treated:
        summary = _exposure_summary()
        yield done(Section(
            "Drug exposure", "Days on each drug (union of its intervals; gaps are interruptions), dose changes with "
            "their reasons, and dose intensity against the catalogue dose.",
            tables=[d.get("table_exposure", lambda f: table_exposure(f, summary=summary(f))),
                    d.get("table_exposure_listing", lambda f: table_exposure_listing(f, summary=summary(f)))]))  # fmt: skip
        del summary
    if counts["ae"]:
        yield done(_ae_section(counts, d))
    yield done(_validation_section(listing))


def _exposure_summary() -> Callable[[Mapping[str, pd.DataFrame]], pd.DataFrame]:
    """The records' exposure summary for the two exposure tables, derived at most once (when either is not in
    the cache) and held only while the section is made."""
    from tkitrack.outcomes.exposure import derive_exposure_summary

    held: list[pd.DataFrame] = []

    def summary(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        if not held:
            held.append(derive_exposure_summary(frames["exposure"], frames["patient"], frames["followup"]))
        return held[0]

    return summary


def _response_data(frames: Mapping[str, pd.DataFrame], adrs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """What the response section draws: the treated, best and per-assessment percent change with the confirmed
    best response, the unmeasured, and the response rates."""
    from tkitrack.outcomes.summary import summarise_response

    treated = derive_index_therapy(frames["exposure"])["patient_id"]
    every_change = derive_percent_change(frames["assessment"])  # once for the three uses below
    every_best = derive_best_percent_change(frames["assessment"], change=every_change)
    best = derive_best_response_from_adrs(every_best[every_best["patient_id"].isin(treated)], adrs)
    changes = derive_best_response_from_adrs(every_change[every_change["patient_id"].isin(treated)], adrs)
    return {"treated": pd.DataFrame({"patient_id": treated.to_numpy()}), "best": best, "changes": changes,
            "unmeasured": derive_unmeasured(frames["assessment"], treated, best=every_best),
            "rates": summarise_response(adrs, subjects=list(treated))[["measure", "labelled"]]}  # fmt: skip


def _response_section(derived: Derived, best: Sequence[pd.DataFrame] = ()) -> Section:
    held: list[pd.DataFrame] = list(best)

    def best_rows() -> pd.DataFrame:
        if not held:  # the ADaM (ADRS: a registry's millions of rows) is let go once its best responses are taken
            held.append(best_response_rows(derived.adam()["adrs"]))
            derived.release()
        return held[0]

    data = derived.get("response_data", lambda f: _response_data(f, best_rows()))
    table = derived.get("table_response", lambda f: table_response(f, adam={"adrs": best_rows()}))
    held.clear()
    treated, best = data["treated"]["patient_id"], data["best"]
    figures = []
    synthetic = [n for n in [synthetic_note(derived.patient_notes(), treated)] if n]
    if len(best):
        unmeasured = excluded_note(data["unmeasured"])
        legend = "Best overall response (confirmed)"
        figures.append(figure_waterfall(best, legend_title=legend, footnotes=[*unmeasured, *synthetic]))
        figures.append(figure_spider(data["changes"], legend_title=legend, footnotes=[*unmeasured, *synthetic]))
    rates = data["rates"].set_index("measure")["labelled"]
    text = (f"Confirmed objective response (CR or PR) among patients who received a kinase inhibitor: "
            f"{rates['confirmed objective response']}; unconfirmed: {rates['objective response (CR+PR)']}. "
            "Below, the best overall response, confirmed (the headline) and unconfirmed, by histology and index "
            "therapy; the waterfall and spider plots show the target-lesion measurements, coloured by the "
            "confirmed best overall response.")  # fmt: skip
    return Section("Response", text, tables=[table], figures=figures)


def _adam_first(derived: Derived) -> list[pd.DataFrame]:
    """ADRS's best-response rows (what the response section reads of the ADaM), derived before anything else
    when the ADaM is not on disk yet. The ADaM is a registry's largest derivation (ADRS: millions of rows), so it
    is derived while only the records are held; the rest of it is let go (kept on disk: the time-to-event section
    reads ADTTE back). Nothing when the ADaM is on disk already, or when nothing is kept on disk (then it would
    be held under every section)."""
    if not derived.keeps_on_disk or derived.stored("adam", reference="TRTSDT"):
        return []
    rows = best_response_rows(derived.adam()["adrs"])
    derived.release()
    gc.collect()  # the derivation's frames in reference cycles are otherwise held until some later sweep
    trim_heap()
    return [rows]


def _swimmer_section(group_by: str, derived: Derived) -> Section:
    swim = derived.swimmer(origin="diagnosis", ae_min_grade=2)
    notes = [n for n in [synthetic_note(derived.patient_notes(), swim.lanes["patient_id"])] if n]
    fig = figure_swimmer(swim, group_by=group_by if group_by in swim.lanes else None,
                         title="Treatment and follow-up from diagnosis", footnotes=notes,
                         record_keys=False)  # fmt: skip
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

    def finish(section: Section) -> Section:
        d.release()  # a registry's report holds one section's figures at a time, not the data they were made from
        packed = _packed(section)
        gc.collect()  # figures hold reference cycles (trace <-> figure): free them now, not at some later sweep
        # what is left is held to the end (the records, the packed sections) or is the libraries' own (plotly's
        # validators...): frozen, the next sweep goes over what the next section made, not over all of it again
        gc.freeze()
        trim_heap()  # what a section freed is otherwise kept resident under the next one
        return packed

    try:
        best = _adam_first(d)
        sections = list(iter_cohort_sections(frames, listing=d.get("validation", validate_frames),
                                             index_drug=index_drug, derived=d, finish=finish, best=best))  # fmt: skip
    finally:
        gc.unfreeze()  # a long-running caller (the web application) gets its later sweeps back over all of it
    return write_report(sections, output, title=title, provenance=provenance, force=force)


def _packed(section: Section) -> Section:
    """The section with its figures packed as the page draws them and the ``go.Figure`` objects let go (each one's
    traces as soon as they are packed)."""
    figures = [(item[0], PackedFigure.of(item[1], consume=True)) if isinstance(item, tuple)
               else PackedFigure.of(item, consume=True) for item in section.figures]  # fmt: skip
    return replace(section, figures=figures)


def _ae_data(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The safety population and each term's patients at their worst grade among them."""
    treated = derive_safety_population(frames["patient"], frames["exposure"])[["patient_id"]].reset_index(drop=True)
    ae = frames["ae"][frames["ae"]["patient_id"].isin(set(treated["patient_id"]))]
    return {"treated": treated, "worst": summarise_worst_grade(ae)}


def _ae_section(counts: Mapping[str, int], derived: Derived) -> Section:
    data = derived.get("ae_data", _ae_data)
    treated = data["treated"]["patient_id"]
    n = len(treated)
    notes = [f"Each patient counted once per term at the worst grade; bars are of the {n} patients with at least "
             "one dose (safety population); adverse events of untreated patients are not counted."]  # fmt: skip
    notes += [n for n in [synthetic_note(derived.patient_notes(), treated)] if n]
    fig = figure_ae_summary(data["worst"], n_total=n, footnotes=notes)
    listings = [derived.get("table_ae_on_off", table_ae_on_off)] if counts["exposure"] else []
    return Section("Adverse events", "CTCAE v5.0 terms, worst grade per patient; the denominator of each drug's "
                   "columns is the patients who received it.",
                   tables=[derived.get("table_adverse_events", table_adverse_events), *listings],
                   figures=[fig])  # fmt: skip


def _stopping_section(counts: Mapping[str, int], derived: Derived) -> Section:
    heading = "Stopping the inhibitor after complete response"
    if not counts["exposure"]:
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
    fig = figure_endpoint(None, "RELAPSE_AFTER_CR", landmarks=(365.25,), derived=derived)
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
