"""Safety tables: adverse events by worst grade per drug, and drug exposure against the catalogue dose."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from tkitrack.dashboards.labels import value_label
from tkitrack.dashboards.pubtable import Column, PubTable
from tkitrack.dashboards.tables import _listed, synthetic_note
from tkitrack.outcomes.reporting import format_count_percent, format_number
from tkitrack.outcomes.safety import ANY_TERM
from tkitrack.outcomes.tabulate import (
    AE_DISCONTINUATION,
    AE_SERIOUS,
    ANY_DRUG,
    derive_relative_dose_intensity,
    summarise_ae_by_drug,
)

__all__ = [
    "safety_listings",
    "table_adverse_events",
    "table_ae_incidence",
    "table_ae_on_off",
    "table_exposure",
    "table_exposure_listing",
]


_OVERALL = "Overall"
_BY_TERM = "By CTCAE v5.0 term"

_LIMITING = "Serious or treatment-limiting"


def table_adverse_events(frames: Mapping[str, pd.DataFrame], *, window_days: int = 30) -> PubTable:
    """Patients with each adverse event (worst CTCAE grade per patient and term), any grade and grade 3 or
    more, serious AEs and AEs leading to discontinuation, per drug (denominator: the drug's patients)."""
    counts, outside = summarise_ae_by_drug(frames["ae"], frames["exposure"], window_days=window_days)
    drugs = [d for d in dict.fromkeys(counts["drug"]) if d != ANY_DRUG] + [ANY_DRUG]
    sizes = counts.drop_duplicates("drug").set_index("drug")["N"]
    if counts.empty:
        sizes = frames["exposure"].groupby("drug")["patient_id"].nunique()
        drugs = list(sizes.index)
    columns = []
    for i, drug in enumerate(drugs):
        spanner = f"{drug if drug == ANY_DRUG else value_label('drug', drug)} (N={int(sizes.get(drug, 0))})"
        columns += [Column(f"a{i}", "Any grade", spanner), Column(f"g{i}", "Grade ≥3", spanner)]
    terms = list(dict.fromkeys(counts["term"]))
    cell = counts.set_index(["term", "drug"])
    rows = []
    for term in terms:
        group = {ANY_TERM: _OVERALL, AE_SERIOUS: _LIMITING, AE_DISCONTINUATION: _LIMITING}.get(term, _BY_TERM)
        row = {"group": group, "label": "Any adverse event" if term == ANY_TERM else term}
        for i, drug in enumerate(drugs):
            n_total = int(sizes.get(drug, 0))
            found = (term, drug) in cell.index
            row[f"a{i}"] = format_count_percent(
                int(cell.loc[(term, drug), "n_any"]) if found else 0, n_total, with_n=False
            )
            row[f"g{i}"] = format_count_percent(
                int(cell.loc[(term, drug), "n_grade3"]) if found else 0, n_total, with_n=False
            )
        rows.append(row)
    body = pd.DataFrame(rows, columns=["group", "label", *[c.key for c in columns]])
    body = pd.concat([body[body["group"] == g] for g in (_OVERALL, _BY_TERM, _LIMITING)])

    notes = [
        "Patients (not events) with each adverse event, counted once per term at the worst CTCAE v5.0 grade they "
        "had with that drug; percentages are of the patients who received the drug (whole numbers).",
        f"An adverse event belongs to a drug when it began during one of its dosing intervals or up to {window_days} "
        f"days after it; '{ANY_DRUG}' counts each patient once over all drugs. Discontinuation: the drug was "
        "withdrawn because of the event.",
    ]
    if len(outside):
        who = sorted(outside["patient_id"].astype(str).unique())
        events = "adverse event that" if len(outside) == 1 else "adverse events that"
        notes.append(f"Not in this table: {len(outside)} {events} began outside any treatment period "
                     f"(patients {_listed(who)}).")  # fmt: skip
    treated = frames["exposure"]["patient_id"].unique()
    notes += [n for n in [synthetic_note(frames["patient"], treated)] if n]
    return PubTable(
        "ae", "Table 3. Adverse events by worst grade", "Adverse event", columns, body.reset_index(drop=True), notes
    )


def _median_iqr(values: pd.Series, decimals: int = 1, scale: float = 1.0) -> str:
    v = values.dropna().astype("float64") * scale
    if v.empty:
        return "not computable"
    q1, med, q3 = v.quantile([0.25, 0.5, 0.75])
    return f"{format_number(med, decimals=decimals)} ({format_number(q1, decimals=decimals)}-{format_number(q3, decimals=decimals)})"


def _exposure_summary(frames: Mapping[str, pd.DataFrame], summary: pd.DataFrame | None) -> pd.DataFrame:
    from tkitrack.outcomes.exposure import derive_exposure_summary

    if summary is not None:  # the caller's, derived once for both exposure tables: never changed here
        return summary.copy()
    return derive_exposure_summary(frames["exposure"], frames["patient"], frames["followup"])


def table_exposure(frames: Mapping[str, pd.DataFrame], *, summary: pd.DataFrame | None = None) -> PubTable:
    """Per drug: patients, months on drug, catalogue dose, dose intensity and relative dose intensity,
    interruptions, dose changes, and how treatment ended. ``summary``: the records'
    :func:`~tkitrack.outcomes.exposure.derive_exposure_summary` when already derived."""
    from tkitrack.schemas.vocabulary import drugs as catalogue

    summary = _exposure_summary(frames, summary)
    ex = derive_relative_dose_intensity(summary, frames["patient"], catalogue())
    names = sorted(ex["drug"].unique(), key=str.lower)
    columns = [Column(f"d{i}", f"{value_label('drug', d)} (N={ex.loc[ex['drug'] == d, 'patient_id'].nunique()})")
               for i, d in enumerate(names)]  # fmt: skip
    rows = []
    of_drug = {d: ex[ex["drug"] == d] for d in names}  # each drug's rows selected once, not once per table row

    def add(group: str, label: str, fn) -> None:
        rows.append(
            {"group": group, "label": label, **{c.key: fn(of_drug[d]) for c, d in zip(columns, names, strict=True)}}
        )

    def count(mask_fn):
        return lambda g: format_count_percent(int(mask_fn(g).sum()), len(g), with_n=False)

    add("Duration", "Months on drug, median (IQR)", lambda g: _median_iqr(g["months_on_drug"]))
    add("Duration", "Months on drug, range", lambda g: f"{format_number(g['months_on_drug'].min(), decimals=1)}-"
        f"{format_number(g['months_on_drug'].max(), decimals=1)}")  # fmt: skip
    add("Dose", "Catalogue dose", lambda g: _catalogue(g.iloc[0]))
    add("Dose", "Dose intensity, mg/m²/day, median (IQR)", lambda g: _median_iqr(g["dose_intensity_mg_m2_day"], 0))
    add("Dose", "Relative dose intensity, % of the catalogue dose, median (IQR)",
        lambda g: _median_iqr(g["relative_dose_intensity"], 0, 100.0))  # fmt: skip
    add("Changes", "Patients with an interruption", count(lambda g: g["n_interruptions"] > 0))
    add("Changes", "Patients with a dose change", count(lambda g: g["n_dose_changes"] > 0))
    add("At the data cut-off", "Ongoing", count(lambda g: g["ongoing"]))
    reasons = ex.loc[~ex["ongoing"], "stop_reason"].fillna("not recorded").unique()
    for reason in sorted(reasons, key=str):
        add("At the data cut-off", f"Stopped: {value_label('reason', reason).lower()}",
            count(lambda g, r=reason: ~g["ongoing"] & g["stop_reason"].fillna("not recorded").eq(r)))  # fmt: skip
    body = pd.DataFrame(rows)
    missing = ex[ex["dose_intensity_mg_m2_day"].isna()]
    notes = [
        "Months on drug are the days covered by the drug's dosing intervals (interruptions not counted) / 30.4375. "
        "Dose intensity is the cumulative dose per m² (Mosteller body surface area from the recorded height and "
        "weight) over the days on drug; relative dose intensity compares the dose received per day with the "
        "catalogue dose (vocab/drugs.csv) in the catalogue's unit (mg/m², mg or mg/kg per day).",
        "Percentages are of the drug's patients; a patient who stopped and restarted a drug counts once, with the "
        "reason of the last stop.",
    ]
    if len(missing):
        courses = "course" if len(missing) == 1 else "courses"
        notes.append(f"Dose intensity not computable (no height or weight, or a dose that cannot be converted) for "
                     f"{len(missing)} patient-drug {courses}: {_listed(missing['patient_id'] + ' (' + missing['drug'] + ')')}.")  # fmt: skip
    notes += [n for n in [synthetic_note(frames["patient"], ex["patient_id"].unique())] if n]
    return PubTable("exposure", "Table 4. Drug exposure", "Exposure", columns, body, notes)


def _catalogue(row: pd.Series) -> str:
    if pd.isna(row["catalogue_dose"]):
        return "not in the catalogue"
    unit = str(row["catalogue_unit"]).replace("m2", "m²")
    return f"{row['catalogue_dose']:g} {unit} {row['catalogue_frequency']}"


def table_exposure_listing(frames: Mapping[str, pd.DataFrame], *, summary: pd.DataFrame | None = None) -> PubTable:
    """Exposure per patient and drug: days on drug, interruptions, dose changes and why, how it ended, doses.
    ``summary`` as for :func:`table_exposure`."""
    from tkitrack.dashboards.labels import present_frame

    ex = _exposure_summary(frames, summary)
    ex["stop_reason"] = ex["stop_reason"].where(~ex["ongoing"], "ongoing")
    ex["dose_change_reasons"] = ex["dose_change_reasons"].map(
        lambda text: "; ".join(value_label("reason", r).lower() for r in text.split("; ")) if text else ""
    )
    cols = ["patient_id", "drug", "days_on_drug", "n_interruptions", "n_dose_changes", "dose_change_reasons",
            "stop_reason", "cumulative_dose_mg", "dose_intensity_mg_m2_day"]  # fmt: skip
    shown = present_frame(ex[cols], kinds={"stop_reason": "reason"},
                          decimals={"cumulative_dose_mg": 0, "dose_intensity_mg_m2_day": 0})  # fmt: skip
    notes = ["Days on drug count the days covered by the drug's dosing intervals (interruptions excluded). Dose "
             "intensity is blank without a recorded height and weight."]  # fmt: skip
    notes += [n for n in [synthetic_note(frames["patient"], ex["patient_id"].unique())] if n]
    return PubTable.from_frame("exposure_listing", "Exposure per patient and drug", shown, notes)


def table_ae_incidence(frames: Mapping[str, pd.DataFrame]) -> PubTable:
    """Patients with each CTCAE term at their worst grade (any, 1-2, 3, 4, 5) over the safety population (patients
    with at least one dose)."""
    from tkitrack.outcomes.safety import derive_safety_population, summarise_ae_incidence

    inc = summarise_ae_incidence(frames["ae"], frames["patient"], frames["exposure"])
    treated = derive_safety_population(frames["patient"], frames["exposure"])
    n_total = int(inc["N"].iloc[0]) if len(inc) else len(treated)
    untreated = len(frames["patient"]) - n_total
    table = pd.DataFrame({"Adverse event (CTCAE v5.0 term)": inc["term"]})
    for band, label in (("any", "Any grade"), ("grade_1_2", "Grade 1-2"), ("grade_3", "Grade 3"),
                        ("grade_4", "Grade 4"), ("grade_5", "Grade 5")):  # fmt: skip
        table[label] = [format_count_percent(k, n_total, with_n=False) for k in inc[f"n_{band}"]]
    notes = [f"Patients with each term at their worst grade; percentages are of the {n_total} patients with at "
             f"least one dose (safety population)" + (f"; {untreated} untreated patient{'' if untreated == 1 else 's'}"
                                                      " and their adverse events are not counted." if untreated
                                                      else ".")]  # fmt: skip
    notes += [n for n in [synthetic_note(frames["patient"], treated["patient_id"])] if n]
    return PubTable.from_frame("ae_incidence", f"Adverse events by worst grade (N={n_total})", table, notes)


def table_ae_on_off(frames: Mapping[str, pd.DataFrame]) -> PubTable:
    """Per CTCAE term: events, patients and worst grade with onset on and off treatment."""
    from tkitrack.dashboards.labels import present_frame
    from tkitrack.outcomes.safety import summarise_ae_on_off_treatment

    onoff = summarise_ae_on_off_treatment(frames["ae"], frames["exposure"])
    for col in ("worst_grade_on", "worst_grade_off"):
        onoff[col] = onoff[col].where(onoff[col] > 0)
    notes = ["On treatment: onset during a drug's dosing interval or up to 30 days after it; worst grade blank when "
             "there was no event in that phase."]  # fmt: skip
    return PubTable.from_frame(
        "ae_on_off", "Adverse events with onset on and off treatment", present_frame(onoff), notes
    )


def safety_listings(frames: Mapping[str, pd.DataFrame]) -> list[PubTable]:
    """The `safety` command's tables as a reader sees them: exposure per patient and drug, AE incidence by worst
    grade, and AEs with onset on or off treatment (those the records allow)."""
    out = [table_exposure_listing(frames)] if len(frames["exposure"]) else []
    if len(frames["ae"]):
        out.append(table_ae_incidence(frames))
        if len(frames["exposure"]):
            out.append(table_ae_on_off(frames))
    return out
