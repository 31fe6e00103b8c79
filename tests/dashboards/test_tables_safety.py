"""Tests for tkitrack.dashboards.tables_safety: the AE and exposure tables on a cohort worked by hand, and the
`safety` listings in reader form."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.dashboards.tables_safety import safety_listings, table_adverse_events, table_exposure

T = pd.Timestamp


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    # BSA 1.0 m2 for everyone (100 cm, 36 kg): mg/m2 doses are mg doses.
    # P1 crizotinib 280 mg/m2 BID for 10 days (560 mg/m2/day, 100% of the catalogue dose), stopped for toxicity
    # P2 crizotinib 200 mg/m2 BID for 10 days (400 mg/m2/day, 71%), ongoing
    # P3 larotrectinib 100 mg (flat) BID, no height or weight: no mg/m2, so dose intensity is not computable
    patients = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3", "P4"],
            "height_cm": [100.0, 100.0, None, 100.0],
            "weight_kg": [36.0, 36.0, None, 36.0],
            "note": ["synthetic patient (seed 1)", "recorded", "recorded", "recorded"],
        }
    )
    exposure = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "drug": ["crizotinib", "crizotinib", "larotrectinib"],
            "dose": [280.0, 200.0, 100.0],
            "unit": ["mg/m2", "mg/m2", "mg"],
            "frequency": ["BID"] * 3,
            "start": [T("2020-01-01")] * 3,
            "end": [T("2020-01-10"), pd.NaT, T("2020-01-10")],
            "reason": ["toxicity", None, "completed"],
        }
    )
    followup = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3", "P4"],
            "date": [T("2020-06-01"), T("2020-01-10"), T("2020-06-01"), T("2020-06-01")],
            "vital_status": ["alive"] * 4,
            "death_date": [pd.NaT] * 4,
        }
    )
    ae = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P3", "P4"],
            "term": ["Nausea", "Nausea", "Nausea", "Dizziness", "Fatigue"],
            "grade": [1, 3, 2, 2, 1],
            "start": [T("2020-01-02"), T("2020-01-05"), T("2020-01-03"), T("2020-02-09"), T("2020-03-01")],
            "end": [pd.NaT] * 5,
            "serious": [False, True, False, False, False],
            "action": ["none", "withdrawn", "none", "none", "none"],
        }
    )
    return {"patient": patients, "exposure": exposure, "followup": followup, "ae": ae}


def _row(table, label):
    hit = table.rows[table.rows["label"] == label]
    assert len(hit) == 1, label
    return [hit.iloc[0][c.key] for c in table.columns]


def test_ae_table_by_drug_any_grade_and_grade_3(frames):
    t = table_adverse_events(frames)
    assert [(c.spanner, c.label) for c in t.columns] == [
        ("crizotinib (N=2)", "Any grade"), ("crizotinib (N=2)", "Grade ≥3"),
        ("larotrectinib (N=1)", "Any grade"), ("larotrectinib (N=1)", "Grade ≥3"),
        ("Any drug (N=3)", "Any grade"), ("Any drug (N=3)", "Grade ≥3"),
    ]  # fmt: skip
    # P1 nausea worst grade 3, P2 grade 2: 2/2 any grade, 1/2 grade >= 3
    assert _row(t, "Nausea") == ["2 (100%)", "1 (50%)", "0 (0%)", "0 (0%)", "2 (67%)", "1 (33%)"]
    # P3 dizziness 30 days after the last dose: still the drug's (the window includes day 30)
    assert _row(t, "Dizziness") == ["0 (0%)", "0 (0%)", "1 (100%)", "0 (0%)", "1 (33%)", "0 (0%)"]
    assert _row(t, "Serious adverse event")[:2] == ["1 (50%)", "1 (50%)"]
    assert _row(t, "Adverse event leading to discontinuation")[:2] == ["1 (50%)", "1 (50%)"]
    assert t.rows["group"].tolist() == ["Overall", "By CTCAE v5.0 term", "By CTCAE v5.0 term",
                                        "Serious or treatment-limiting", "Serious or treatment-limiting"]  # fmt: skip
    # P4 never took a drug: the fatigue is counted nowhere and said so
    assert "Not in this table: 1 adverse event that began outside any treatment period (patients P4)." in t.footnotes
    assert any(n.startswith("Synthetic data: 1 of the 3 patients") for n in t.footnotes)


def test_exposure_table_dose_intensity_against_the_catalogue(frames):
    t = table_exposure(frames)
    assert [c.label for c in t.columns] == ["crizotinib (N=2)", "larotrectinib (N=1)"]
    assert _row(t, "Catalogue dose") == ["280 mg/m² BID", "100 mg/m² BID"]
    # P1 10 days; P2 ongoing, closed at its last contact 2020-01-10: 10 days too -> 0.3 months
    assert _row(t, "Months on drug, median (IQR)") == ["0.3 (0.3-0.3)", "0.3 (0.3-0.3)"]
    # 560 and 400 mg/m2/day: median 480 (IQR 440-520); relative 100% and 71.4%: median 86 (79-93)
    assert _row(t, "Dose intensity, mg/m²/day, median (IQR)") == ["480 (440-520)", "not computable"]
    assert _row(t, "Relative dose intensity, % of the catalogue dose, median (IQR)") == ["86 (79-93)", "not computable"]
    assert _row(t, "Ongoing") == ["1 (50%)", "0 (0%)"]
    assert _row(t, "Stopped: toxicity") == ["1 (50%)", "0 (0%)"]
    assert _row(t, "Stopped: planned course completed") == ["0 (0%)", "1 (100%)"]
    assert ("Dose intensity not computable (no height or weight, or a dose that cannot be converted) for 1 "
            "patient-drug course: P3 (larotrectinib).") in t.footnotes  # fmt: skip


def test_safety_listings_are_reader_text(frames, raw_artefacts):
    tables = {t.name: t for t in safety_listings(frames)}
    assert list(tables) == ["exposure_listing", "ae_incidence", "ae_on_off"]
    listing = tables["exposure_listing"].to_frame()
    assert list(listing.columns) == ["Patient", "Drug", "Days on drug", "Interruptions", "Dose changes",
                                     "Reasons for dose changes", "Reason for stopping", "Cumulative dose (mg)",
                                     "Dose intensity (mg/m²/day)"]  # fmt: skip
    assert listing.iloc[1].tolist()[:7] == ["P2", "crizotinib", "10", "0", "0", "", "Ongoing"]
    assert listing.iloc[0, -2:].tolist() == ["5600", "560"]
    incidence = tables["ae_incidence"]
    # the safety population: P1-P3 took a drug; untreated P4 and P4's fatigue are not counted
    assert incidence.title == "Adverse events by worst grade (N=3)"
    assert _row(incidence, "Nausea") == ["2 (67%)", "1 (33%)", "1 (33%)", "0 (0%)", "0 (0%)"]
    assert "Fatigue" not in incidence.to_frame().iloc[:, 0].tolist()
    assert incidence.footnotes[0] == ("Patients with each term at their worst grade; percentages are of the 3 patients "
                                      "with at least one dose (safety population); 1 untreated patient and their "
                                      "adverse events are not counted.")  # fmt: skip
    for t in tables.values():
        cells = t.to_frame().astype(str).to_numpy().ravel()
        assert raw_artefacts(cells, [t.title, *t.footnotes, *(c.label for c in t.columns)]) == []


def test_exposure_tables_from_a_summary_already_derived_are_the_same_and_leave_it_unchanged(frames):
    from tkitrack.dashboards.tables_safety import table_exposure_listing
    from tkitrack.outcomes.exposure import derive_exposure_summary

    summary = derive_exposure_summary(frames["exposure"], frames["patient"], frames["followup"])
    kept = summary.copy()
    for make in (table_exposure, table_exposure_listing):
        shared, alone = make(frames, summary=summary), make(frames)
        pd.testing.assert_frame_equal(shared.rows, alone.rows, check_exact=True)
        assert shared.to_html() == alone.to_html()
    pd.testing.assert_frame_equal(summary, kept, check_exact=True)  # both tables change only their copy
