"""Tests for tkitrack.dashboards.tables: Table 1, the response table and the time-to-event table, each cell checked
against a count made here from the record frames, and no raw value anywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tkitrack.dashboards.tables import TABLES, build_table, synthetic_note
from tkitrack.outcomes.cohort import derive_adam_from_records, derive_endpoint, derive_patient_attributes
from tkitrack.outcomes.proportions import compute_proportion
from tkitrack.outcomes.summary import summarise_endpoint
from tkitrack.schemas.errors import InputError


def _cell(table, label, column=0, group=None):
    rows = table.rows
    hit = rows[(rows["label"] == label) & ((rows["group"] == group) if group is not None else True)]
    assert len(hit) == 1, f"{label!r}: {len(hit)} rows"
    return hit.iloc[0][table.columns[column].key]


@pytest.mark.parametrize("name", list(TABLES))
def test_every_table_is_reader_text(cohort_frames, raw_artefacts, name):
    table = build_table(name, cohort_frames)
    cells = table.to_frame().astype(str).to_numpy().ravel()
    assert raw_artefacts(cells, [*table.footnotes, *(c.label for c in table.columns), table.title]) == []
    assert any(n.startswith("Synthetic data: ") for n in table.footnotes)  # the demo mixes published and synthetic


def test_table1_counts_and_age(cohort_frames):
    t = build_table("table1", cohort_frames)
    patients = cohort_frames["patient"]
    n = len(patients)
    assert t.columns[0].label == f"All patients (N={n})"
    females = int((patients["sex"] == "F").sum())
    assert _cell(t, "Female", group="Sex") == f"{females} ({100 * females / n:.0f}%)"
    ages = derive_patient_attributes(cohort_frames)["age_years"].dropna()
    q1, med, q3 = np.quantile(ages, [0.25, 0.5, 0.75])
    assert _cell(t, "Median (IQR)") == f"{med:.1f} ({q1:.1f}-{q3:.1f})"
    imt = int((patients["histology"] == "IMT").sum())
    assert _cell(t, "Inflammatory myofibroblastic tumour") == f"{imt} ({100 * imt / n:.0f}%)"
    untreated = sorted(set(patients["patient_id"]) - set(cohort_frames["exposure"]["patient_id"]))
    note = next(x for x in t.footnotes if "received no kinase inhibitor" in x)
    assert note.startswith(f"{len(untreated)} patients received no kinase inhibitor") and untreated[0] in note
    assert synthetic_note(patients) in t.footnotes
    index_rows = t.rows.loc[t.rows["group"] == "Index therapy (first kinase inhibitor)", "label"].tolist()
    assert index_rows[-1] == "None (no kinase inhibitor)" and len(index_rows) == len(set(index_rows))


def test_table1_by_histology_adds_columns_under_a_spanner(cohort_frames):
    t = build_table("table1", cohort_frames, by="histology")
    spanned = [c for c in t.columns if c.spanner]
    assert {c.spanner for c in spanned} == {"Histology"}
    assert sum(int(c.label.rsplit("N=", 1)[1].rstrip(")")) for c in spanned) == len(cohort_frames["patient"])
    with pytest.raises(InputError, match="--by 'eye_colour'"):
        build_table("table1", cohort_frames, by="eye_colour")


def test_response_table_matches_the_adrs(cohort_frames):
    t = build_table("response", cohort_frames)
    adam = derive_adam_from_records(cohort_frames)
    treated = sorted(set(adam["adsl"].loc[adam["adsl"]["TRTSDT"].notna(), "USUBJID"]))
    cbor = adam["adrs"][adam["adrs"]["PARAMCD"] == "CBOR"].set_index("USUBJID")["AVALC"].reindex(treated)
    n = len(treated)
    assert t.columns[0].label == f"All treated patients (N={n})"
    k = int(cbor.isin(["CR", "PR"]).sum())
    p = compute_proportion(k, n)
    expected = f"{k}/{n}, {100 * k / n:.0f}% ({100 * p.lower:.0f}-{100 * p.upper:.0f}%)"
    assert _cell(t, "Objective response (CR or PR), confirmed") == expected
    cr = int((cbor == "CR").sum())
    assert _cell(t, "Complete response (CR)", group="Best overall response, confirmed") == f"{cr} ({100 * cr / n:.0f}%)"
    assert [c.spanner for c in t.columns[1:]] and {c.spanner for c in t.columns[1:]} == {"Histology", "Index therapy"}
    assert any(x.startswith("Not in this table: ") for x in t.footnotes)
    # the headline leads: the confirmed rate, the unconfirmed one beside it, each with its exact interval named
    assert t.rows["group"].iloc[0] == "Response rate, k/n, % (exact Clopper-Pearson 95% CI)"
    assert t.rows["label"].iloc[:2].tolist() == ["Objective response (CR or PR), confirmed",
                                                 "Objective response (CR or PR), unconfirmed"]  # fmt: skip
    note = t.footnotes[0]
    assert "A CR or PR counts for the best response whenever it occurs" in note
    assert "stable disease (and NON-CR/NON-PD) counts only from 42 days after the first dose" in note
    assert "CR or PR counts for the best response from day 42" not in note  # the sentence that was wrong


def test_time_to_event_rows_name_their_origin_and_agree_with_the_summary(cohort_frames):
    t = build_table("tte", cohort_frames)
    assert t.rows["label"].tolist() == [
        "Overall survival", "Progression-free survival", "Duration of response", "Time on treatment",
        "Relapse-free survival",
    ]  # fmt: skip
    row = t.rows.set_index("label").loc["Duration of response"]
    assert row["origin"] == "From the first response (CR or PR)"
    data = derive_endpoint(cohort_frames, "DOR")
    s = summarise_endpoint(data, landmarks=(365.25, 730.5)).table.iloc[0]
    assert (row["n"], row["events"]) == (str(len(data)), str(int(data["event"].sum())))
    assert (int(row["n"]), int(row["events"])) == (s["n"], s["events"])
    assert [c.label for c in t.columns][-3:] == ["At 1 year, % (95% CI)", "At 2 years, % (95% CI)",
                                                 "Median follow-up, months (95% CI)"]  # fmt: skip
    tot = t.rows.set_index("label").loc["Time on treatment"]
    median_months = summarise_endpoint(derive_endpoint(cohort_frames, "TOT")).table["median"].iloc[0] / 30.4375
    assert tot["median"].startswith(f"{median_months:.1f} (")


def test_unknown_table():
    with pytest.raises(InputError, match="unknown table 'table9'"):
        build_table("table9", {})


def test_synthetic_note_counts():
    p = pd.DataFrame(
        {"patient_id": ["A", "B", "C"], "note": ["synthetic patient (seed 1)", "Synthetic patient x", "x"]}
    )
    assert synthetic_note(p).startswith("Synthetic data: 2 of the 3 patients are synthetic")
    assert (
        synthetic_note(p, ["A", "B"])
        == "Synthetic data: all 2 patients are synthetic (generated by tkitrack, not real people)."
    )
    assert synthetic_note(p, ["C"]) == ""
