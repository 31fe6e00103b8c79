"""Tests for tkitrack.outcomes.tabulate: the counts behind the publication tables, worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.outcomes.courses import derive_index_therapy
from tkitrack.outcomes.safety import ANY_TERM
from tkitrack.outcomes.tabulate import (
    AE_DISCONTINUATION,
    AE_SERIOUS,
    ANY_DRUG,
    derive_column_membership,
    derive_data_source,
    derive_prior_therapy,
    derive_relative_dose_intensity,
    summarise_ae_by_drug,
    summarise_categories,
    summarise_numbers,
    summarise_response_by,
)

T = pd.Timestamp


@pytest.fixture
def exposure() -> pd.DataFrame:
    # P1: vincristine, then crizotinib from 2020-03-01 (index); P2: larotrectinib; P3: chemotherapy only
    return pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P3"],
            "drug": ["vincristine", "crizotinib", "larotrectinib", "vincristine"],
            "start": [T("2020-01-01"), T("2020-03-01"), T("2021-05-01"), T("2020-02-01")],
            "end": [T("2020-02-01"), T("2020-12-31"), pd.NaT, T("2020-05-01")],
        }
    )


def test_index_therapy_is_the_first_kinase_inhibitor(exposure):
    idx = derive_index_therapy(exposure)
    assert idx[["patient_id", "index_drug"]].to_numpy().tolist() == [["P1", "crizotinib"], ["P2", "larotrectinib"]]
    assert idx.loc[0, "index_start"] == T("2020-03-01")  # earlier chemotherapy is prior therapy, not day 1


def test_prior_therapy_before_the_index_start_only(exposure):
    patients = pd.DataFrame({"patient_id": ["P1", "P2", "P3"]})
    procedure = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P2"],
            "kind": ["biopsy", "resection", "resection"],
            # P2: a resection on the index day itself is not "before"; a biopsy is never surgery
            "date": [T("2019-12-01"), T("2021-05-01"), T("2021-09-01")],
        }
    )
    out = derive_prior_therapy(patients, exposure, procedure, derive_index_therapy(exposure)).set_index("patient_id")
    assert out.loc["P1", ["status", "prior_systemic", "prior_drugs", "prior_surgery"]].tolist() == [
        "treated", True, "vincristine", False,
    ]  # fmt: skip
    assert out.loc["P2", ["prior_systemic", "prior_surgery"]].tolist() == [False, False]
    assert out.loc["P3", "status"] == "no index therapy" and not out.loc["P3", "prior_systemic"]


def test_column_membership_and_categories():
    ids = pd.Series(["P1", "P2", "P3", "P4"])
    hist = pd.Series({"P1": "IMT", "P2": "IMT", "P3": "NTRK_SCN", "P4": None})
    m = derive_column_membership({"All": None, "Histology": hist}, ids)
    assert m.groupby(["group", "column"], sort=False).size().to_dict() == {
        ("All", "All"): 4,
        ("Histology", "IMT"): 2,
        ("Histology", "NTRK_SCN"): 1,
    }  # fmt: skip  (P4's missing histology puts P4 in no histology column)
    sex = pd.Series({"P1": "F", "P2": "M", "P3": "F", "P4": None})
    counts = summarise_categories(sex, m, order=["F", "M", "U"])
    got = counts.set_index(["column", "category"])[["n", "N"]].to_dict("index")
    assert got[("All", "F")] == {"n": 2, "N": 4} and got[("All", "not recorded")] == {"n": 1, "N": 4}
    assert got[("NTRK_SCN", "M")] == {"n": 0, "N": 1}  # every category in every column, 0 where absent
    assert "U" not in set(counts["category"])  # an ordered category nobody has is not a row


def test_numbers_median_quartiles_range():
    ids = pd.Series(["P1", "P2", "P3", "P4", "P5"])
    m = derive_column_membership({"All": None}, ids)
    ages = pd.Series({"P1": 1.0, "P2": 2.0, "P3": 4.0, "P4": 10.0, "P5": None})
    row = summarise_numbers(ages, m).iloc[0]
    # pandas' linear quantiles of 1, 2, 4, 10: q1 1.75, median 3, q3 5.5 (R's quantile type 7)
    assert (row["n"], row["missing"], row["median"], row["q1"], row["q3"], row["min"], row["max"]) == (
        4, 1, 3.0, 1.75, 5.5, 1.0, 10.0,
    )  # fmt: skip


def test_response_by_column_with_exact_intervals():
    adrs = pd.DataFrame(
        {
            "USUBJID": ["A", "B", "C", "D"] * 2,
            "PARAMCD": ["BOR"] * 4 + ["CBOR"] * 4,
            "AVALC": ["CR", "PR", "PR", "SD", "CR", "PR", "SD", "SD"],
        }
    )
    m = derive_column_membership({"All": None, "Drug": pd.Series({"A": "x", "B": "x", "C": "y", "D": "y"})},
                                 pd.Series(list("ABCD")))  # fmt: skip
    out = summarise_response_by(adrs, m).set_index(["section", "column", "measure"]).sort_index()
    assert not out.index.duplicated().any()
    # R: binom.test(2, 4)$conf.int -> 0.06758598649 0.93241401351 (confirmed ORR, all); unconfirmed ORR 3/4
    orr = out.loc[("rates", "All", "ORR confirmed")]
    assert (orr["k"], orr["n"]) == (2, 4)
    assert (orr["lower"], orr["upper"]) == pytest.approx((0.06758598649, 0.93241401351), abs=1e-10)
    assert out.loc[("rates", "All", "ORR unconfirmed"), "k"] == 3 and out.loc[("rates", "y", "CR confirmed"), "k"] == 0
    conf = out.loc[("confirmed", "All")]
    assert conf.loc[["CR", "PR", "SD", "MISSING"], "k"].tolist() == [1, 1, 2, 0]


@pytest.fixture
def ae_frames():
    ex = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "drug": ["crizotinib", "crizotinib", "larotrectinib"],
            "start": [T("2020-01-01")] * 3,
            "end": [T("2020-01-31")] * 3,
        }
    )
    ae = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P2", "P3", "P3"],
            "term": ["Nausea", "Nausea", "Nausea", "Fatigue", "Fatigue", "Rash maculo-papular"],
            "grade": [2, 3, 1, 2, 3, 1],
            # P2 fatigue 30 days after the last dose (in the window), P3 rash 31 days after (outside)
            "start": [
                T("2020-01-05"),
                T("2020-01-20"),
                T("2020-01-10"),
                T("2020-03-01"),
                T("2020-01-02"),
                T("2020-03-02"),
            ],
            "serious": [False, True, False, False, False, False],
            "action": ["none", "withdrawn", "none", "none", "dose_reduced", "none"],
        }
    )
    return ae, ex


def test_ae_worst_grade_per_patient_and_drug(ae_frames):
    ae, ex = ae_frames
    counts, outside = summarise_ae_by_drug(ae, ex)
    c = counts.set_index(["drug", "term"])
    # crizotinib (N=2): P1 nausea worst grade 3, P2 nausea grade 1 -> any 2, grade >= 3: 1
    assert c.loc[("crizotinib", "Nausea"), ["N", "n_any", "n_grade3"]].tolist() == [2, 2, 1]
    assert c.loc[("crizotinib", "Fatigue"), ["n_any", "n_grade3"]].tolist() == [1, 0]  # day 30 after: in
    assert c.loc[("crizotinib", ANY_TERM), ["n_any", "n_grade3"]].tolist() == [2, 1]
    assert c.loc[("crizotinib", AE_SERIOUS), "n_any"] == 1 and c.loc[("crizotinib", AE_DISCONTINUATION), "n_any"] == 1
    assert ("larotrectinib", AE_DISCONTINUATION) not in c.index  # a dose reduction is no discontinuation
    assert c.loc[("larotrectinib", "Fatigue"), "n_grade3"] == 1  # grade 3 counts as >= 3
    assert c.loc[(ANY_DRUG, ANY_TERM), ["N", "n_any", "n_grade3"]].tolist() == [3, 3, 2]
    assert outside[["patient_id", "term"]].to_numpy().tolist() == [["P3", "Rash maculo-papular"]]  # day 31: out
    assert counts["term"].tolist()[0] == ANY_TERM and counts["term"].tolist()[-1] == AE_DISCONTINUATION


def test_ae_by_drug_matches_drug_names_in_any_case(ae_frames):
    """Drugs named in another case than the exposure records (``drugs=``, or the records themselves mixing
    cases) are the same drug: each table row counts as for the lower-case name."""
    ae, ex = ae_frames
    counts = summarise_ae_by_drug(ae, ex)[0].set_index(["drug", "term"])
    upper = summarise_ae_by_drug(ae, ex, drugs=["CRIZOTINIB", "Larotrectinib"])[0].set_index(["drug", "term"])
    assert upper.loc[("CRIZOTINIB", "Nausea"), ["N", "n_any", "n_grade3"]].tolist() == [2, 2, 1]
    assert upper.loc[("Larotrectinib", "Fatigue"), "n_grade3"] == 1
    assert upper.loc[(ANY_DRUG, ANY_TERM), "n_any"] == counts.loc[(ANY_DRUG, ANY_TERM), "n_any"]
    mixed = ex.assign(drug=ex["drug"].str.upper().where(ex["patient_id"] == "P2", ex["drug"]))
    c = summarise_ae_by_drug(ae, mixed, drugs=["crizotinib"])[0].set_index(["drug", "term"])
    assert c.loc[("crizotinib", "Nausea"), ["N", "n_any"]].tolist() == [2, 2]  # P2's CRIZOTINIB among them


def test_relative_dose_intensity_in_the_catalogue_unit():
    summary = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "drug": ["crizotinib", "alectinib", "unknown-drug"],
            "days_on_drug": [100.0, 10.0, 5.0],
            "cumulative_dose_mg": [40_000.0, 6000.0, 10.0],
            "dose_intensity_mg_m2_day": [504.0, 600.0, 1.0],
        }
    )
    catalogue = pd.DataFrame(
        {
            "drug": ["crizotinib", "alectinib"],
            "usual_dose": [280.0, 600.0],
            "usual_unit": ["mg/m2", "mg"],
            "usual_frequency": ["BID", "BID"],
        }
    )
    out = derive_relative_dose_intensity(summary, pd.DataFrame({"patient_id": ["P1", "P2", "P3"],
                                                                "weight_kg": [20.0, 30.0, 40.0]}), catalogue)  # fmt: skip
    # crizotinib 504 mg/m2/day of 560 -> 0.9; alectinib 6000 mg / 10 days = 600 mg/day of 1200 -> 0.5
    assert out["relative_dose_intensity"].tolist()[:2] == pytest.approx([0.9, 0.5])
    assert pd.isna(out["relative_dose_intensity"].iloc[2])  # not in the catalogue: not computable
    assert out["months_on_drug"].iloc[0] == pytest.approx(100 / 30.4375)


def test_data_source_recognises_the_generator_note():
    from tkitrack.sample_data.generate import generate_cohort

    patients = generate_cohort(2, seed=1)["patient"]
    patients = pd.concat([patients, pd.DataFrame({"patient_id": ["LETTER"], "note": ["6-year-old girl"]})])
    assert derive_data_source(patients).to_dict() == {"SYN-00001": "synthetic", "SYN-00002": "synthetic",
                                                      "LETTER": "recorded"}  # fmt: skip
    # the note is read per distinct value: a missing note, spaces and capitals around the generator's note, and
    # the same note on patients apart from each other (the index repeats after the concat) are each their own
    more = pd.DataFrame({"patient_id": ["NONE", "UPPER", "AGAIN"],
                         "note": [None, "  " + patients["note"].iloc[0].upper(), "6-year-old girl"]})  # fmt: skip
    source = derive_data_source(pd.concat([patients, more]))
    assert source.tolist() == ["synthetic", "synthetic", "recorded", "recorded", "synthetic", "recorded"]
    assert source.index.tolist() == ["SYN-00001", "SYN-00002", "LETTER", "NONE", "UPPER", "AGAIN"]
