"""The synthetic cohort generator: reproducible, valid under every rule, rates near the published ones."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tkitrack.sample_data.generate import generate_cohort
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.vocabulary import ctcae_grades


@pytest.fixture(scope="module")
def cohort() -> dict[str, pd.DataFrame]:
    return generate_cohort(2000, seed=11)


@pytest.fixture(scope="module")
def typed(cohort, sample_checks) -> dict[str, pd.DataFrame]:
    return sample_checks.typed(cohort)


def test_same_seed_same_frames_other_seed_differs():
    a, b, c = generate_cohort(150, seed=3), generate_cohort(150, seed=3), generate_cohort(150, seed=4)
    for record in RECORD_MODELS:
        pd.testing.assert_frame_equal(a[record], b[record])
    assert not a["patient"].equals(c["patient"])
    assert not a["exposure"].equals(c["exposure"])


def test_template_format(cohort):
    assert set(cohort) == set(RECORD_MODELS)
    for record, frame in cohort.items():
        assert list(frame.columns) == input_columns(record)
        assert all(frame[c].map(type).eq(str).all() for c in frame.columns), record
    ids = cohort["patient"]["patient_id"]
    assert ids.iloc[0] == "SYN-00001" and ids.is_unique and len(ids) == 2000
    assert generate_cohort(3, prefix="DEMO", start=dt.date(2020, 1, 1))["patient"]["patient_id"].iloc[2] == "DEMO-00003"


def test_rejects_an_empty_cohort():
    with pytest.raises(ValueError, match="at least 1"):
        generate_cohort(0)


@pytest.mark.parametrize("seed", [pytest.param(0, id="seed0"), pytest.param(1, id="seed1")])
def test_field_and_frame_rules_are_clean(seed, sample_checks):
    assert sample_checks.field(generate_cohort(400, seed=seed)).empty


def test_cross_record_invariants_hold(cohort, sample_checks):
    assert sample_checks.cross_record(cohort) == []


def test_edit_checks_are_clean(cohort, sample_checks):
    found = sample_checks.listing(cohort)
    assert found.empty, found.head(20).to_string()


def test_ae_grades_exist_for_their_terms(typed):
    grades = ctcae_grades()
    ae = typed["ae"]
    assert all(int(g) in grades[t] for t, g in zip(ae["term"], ae["grade"], strict=True))
    assert ae["grade"].between(1, 4).all()  # no grade 5: deaths here are from disease


def _best_response(typed: dict[str, pd.DataFrame]) -> pd.Series:
    a = typed["assessment"]
    a = a[~a["baseline"] & a["response"].notna()]
    rank = a["response"].map({"CR": 0, "PR": 1, "SD": 2, "PD": 3})
    return rank.groupby(a["patient_id"]).min().map({0: "CR", 1: "PR", 2: "SD", 3: "PD"})


def test_imt_response_follows_advl0912(typed):
    # COG ADVL0912, crizotinib in IMT: 12/14 responses (86%), 5 CR / 7 PR / 2 SD (Mosse et al., JCO 2017)
    p = typed["patient"].set_index("patient_id")
    best = _best_response(typed)
    imt = best[best.index.map(p["histology"]) == "IMT"]
    assert len(imt) > 1000
    share = imt.value_counts(normalize=True)
    assert share[["CR", "PR"]].sum() == pytest.approx(12 / 14, abs=0.05)
    assert share["CR"] == pytest.approx(5 / 14, abs=0.06)
    assert share["SD"] == pytest.approx(2 / 14, abs=0.05)


def test_sums_of_diameters_agree_with_responses(typed):
    a = typed["assessment"].sort_values(["patient_id", "date"])
    base = a[a["baseline"]].set_index("patient_id")["sum_diameters"]
    post = a[~a["baseline"]]
    b = post["patient_id"].map(base)
    assert (post.loc[post["response"] == "PR", "sum_diameters"] <= 0.7 * b[post["response"] == "PR"]).all()
    assert (post.loc[post["response"] == "CR", "sum_diameters"] == 0).all()
    nadir = pd.concat([base.rename("s").reset_index(), post[["patient_id", "sum_diameters"]].rename(
        columns={"sum_diameters": "s"})]).groupby("patient_id")["s"].min()  # fmt: skip
    pd_rows = post[post["response"] == "PD"]
    assert (pd_rows["sum_diameters"] >= 1.2 * pd_rows["patient_id"].map(nadir)).all()
    first = a.groupby("patient_id").head(1)
    assert first["baseline"].all(), "every treated patient's first scan is the baseline"


def test_demographics(typed):
    p = typed["patient"]
    assert p["age_at_diagnosis"].between(0, 21).all()
    assert p.loc[p["histology"] == "IMT", "age_at_diagnosis"].median() == pytest.approx(8.5, abs=1.5)
    assert p.loc[p["histology"] == "IFS_CCMN", "age_at_diagnosis"].max() <= 2
    assert (p["sex"] == "M").mean() == pytest.approx(0.5, abs=0.05)
    assert (p["histology"] == "IMT").mean() == pytest.approx(0.70, abs=0.04)
    assert set(p["histology"]) == {"IMT", "ALK_IFS_LIKE", "NTRK_SCN", "IFS_CCMN"}
    bmi = p["weight_kg"] / (p["height_cm"] / 100) ** 2
    assert bmi.between(9, 35).all()


def test_drugs_doses_and_fusions(typed):
    ex, mol = typed["exposure"], typed["molecular"]
    assert set(ex["drug"]) == {"crizotinib", "larotrectinib", "entrectinib", "lorlatinib"}
    assert set(ex["unit"]) == {"mg", "mg/m2"}
    criz = ex[(ex["drug"] == "crizotinib") & (ex["unit"] == "mg/m2")]
    assert set(criz["dose"]) == {280.0, 215.0} and set(criz["frequency"]) == {"BID"}
    assert (ex.loc[ex["unit"] == "mg", "dose"] % 5 == 0).all()
    kinase = mol.set_index("patient_id")["gene_3p"]
    ntrk = ex["patient_id"].map(kinase).str.startswith("NTRK")
    assert ex.loc[ntrk, "drug"].isin(["larotrectinib", "entrectinib"]).all()
    assert {"TPM3", "TPM4", "CLTC", "RANBP2", "EML4", "ETV6"} <= set(mol["gene_5p"].dropna())


def test_course_events_occur_at_plausible_rates(typed):
    n = len(typed["patient"])
    ex, ev, fu = typed["exposure"], typed["disease_event"], typed["followup"]
    reasons = ex["reason"].value_counts()
    for reason in ["complete_response", "completed", "toxicity", "dose_change", "progression", "surgery"]:
        assert reasons.get(reason, 0) > 0, reason
    reduced = ex.groupby(["patient_id", "drug"]).size().gt(1).mean()
    assert 0.1 < reduced < 0.5  # dose reductions and rechallenges
    assert (ev["kind"] == "recurrence").sum() > 0.03 * n
    assert (fu["vital_status"] == "dead").mean() < 0.05
    assert (fu["vital_status"] == "dead").sum() > 0
    assert fu["patient_id"].is_unique and len(fu) == n
    stopped_cr = set(ex.loc[ex["reason"] == "complete_response", "patient_id"])
    relapsed = set(ev.loc[ev["kind"] == "recurrence", "patient_id"])
    assert 0.1 < len(stopped_cr & relapsed) / len(stopped_cr) < 0.5


def test_ten_thousand_patients_build(sample_checks):
    frames = generate_cohort(10_000, seed=7)  # size only; timing lives in the benchmarks
    assert len(frames["patient"]) == 10_000
    assert np.isin(frames["assessment"]["patient_id"].unique(), frames["patient"]["patient_id"]).all()
