"""Tests for tkitrack.schemas.vocabulary: CTCAE v5.0, the drug catalogue and the other shipped vocabularies."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pytest

from tkitrack.schemas.fields import field_info
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.vocabulary import (
    ctcae,
    ctcae_grades,
    drugs,
    genes,
    histologies,
    response_allowed,
    response_categories,
    responses,
    vocabulary,
)

#: The drugs issue 2 asks the catalogue to hold (ALK, ROS1 and NTRK inhibitors) ...
ISSUE_2_INHIBITORS = [
    "crizotinib", "alectinib", "ceritinib", "brigatinib", "lorlatinib", "ensartinib", "larotrectinib",
    "entrectinib", "repotrectinib",
]  # fmt: skip
#: ... and common chemotherapy agents in paediatric soft-tissue sarcoma and IMT regimens.
CHEMOTHERAPY = ["vincristine", "vinblastine", "methotrexate", "cyclophosphamide", "ifosfamide", "doxorubicin",
                "dactinomycin", "etoposide"]  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, id=n) for n in ("ctcae_v5", "drugs", "genes", "histologies", "responses")],
)
def test_vocabulary_files_ship_as_package_data(name):
    path = resources.files("tkitrack.schemas").joinpath("vocab", f"{name}.csv")
    assert path.is_file()
    assert path.read_text(encoding="utf-8").splitlines()[0] != ""


def test_ctcae_has_837_terms_with_unique_names_and_codes():
    table = ctcae()
    assert len(table) == 837
    assert table["term"].is_unique
    assert table["meddra_code"].is_unique
    assert list(table.columns) == [
        "meddra_code", "meddra_soc", "term", "grade_1", "grade_2", "grade_3", "grade_4", "grade_5", "definition",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("term", "grades"),
    [
        pytest.param("Gait disturbance", {1, 2, 3}, id="gait-disturbance"),
        pytest.param("Anemia", {1, 2, 3, 4, 5}, id="anemia"),
        pytest.param("Sepsis", {3, 4, 5}, id="sepsis"),
        pytest.param("Alopecia", {1, 2}, id="alopecia"),
    ],
)
def test_ctcae_grades_that_exist(term, grades):
    assert ctcae_grades()[term] == frozenset(grades)


def test_ctcae_term_code_for_gait_disturbance():
    row = ctcae().set_index("term").loc["Gait disturbance"]
    assert row["meddra_code"] == "10017577"
    assert row["meddra_soc"] == "General disorders and administration site conditions"


@pytest.mark.parametrize("drug", [pytest.param(d, id=d) for d in ISSUE_2_INHIBITORS + CHEMOTHERAPY])
def test_drug_catalogue_holds_every_drug_issue_2_lists(drug):
    assert drug in vocabulary("drug")
    row = drugs().set_index("drug").loc[drug]
    assert row["drug_class"] != ""
    assert (row["target"] != "") == (drug in ISSUE_2_INHIBITORS)  # chemotherapy has no kinase target


def test_inhibitors_have_a_usual_paediatric_dose_and_a_plausible_range():
    cat = drugs().set_index("drug").loc[ISSUE_2_INHIBITORS]
    assert cat["usual_dose"].gt(0).all()
    assert (cat["min_mg_m2_day"] < cat["max_mg_m2_day"]).all()
    assert cat["usual_unit"].isin(["mg", "mg/m2", "mg/kg"]).all()


def test_crizotinib_usual_dose_is_280_mg_m2_bid():
    # COG ADVL0912 (Mossé et al., JCO 2017): crizotinib 280 mg/m2 twice daily in IMT.
    row = drugs().set_index("drug").loc["crizotinib"]
    assert (row["usual_dose"], row["usual_unit"], row["usual_frequency"]) == (280.0, "mg/m2", "BID")
    assert row["target"] == "ALK/ROS1/MET"


def test_responses_are_ranked_ne_cr_pr_sd_noncr_pd():
    table = responses()
    recist = table[table["criteria"].isin(["RECIST", "ALL"])].sort_values("rank")
    assert recist["response"].tolist() == ["NE", "CR", "PR", "SD", "NON-CR/NON-PD", "PD"]


@pytest.mark.parametrize(
    ("criteria", "categories"),
    [
        pytest.param("RECIST1.1", ("NE", "CR", "PR", "SD", "NON-CR/NON-PD", "PD"), id="RECIST1.1"),
        pytest.param(None, ("NE", "CR", "PR", "SD", "NON-CR/NON-PD", "PD"), id="missing-is-RECIST"),
        pytest.param("INVESTIGATOR", ("NE", "CR", "PR", "SD", "NON-CR/NON-PD", "PD"), id="INVESTIGATOR"),
        pytest.param("PERCIST", ("NE", "CMR", "PMR", "SMD", "PMD"), id="PERCIST"),
        pytest.param("iRECIST", ("NE", "iCR", "iPR", "iSD", "iUPD", "iCPD"), id="iRECIST"),
        pytest.param("WHO", (), id="unknown"),
    ],
)
def test_response_categories_per_criteria(criteria, categories):
    assert response_categories(criteria) == categories


def test_response_allowed_row_by_row():
    crit = pd.Series(["PERCIST", None, "iRECIST", "RECIST1.1", "PERCIST"])
    resp = pd.Series(["CMR", "CMR", "iUPD", None, "CR"])
    assert response_allowed(crit, resp).tolist() == [True, False, True, True, False]


def test_response_allowed_with_unknown_criteria_missing_values_and_a_string_index():
    """Each distinct criteria's rows are looked up together; the rows keep their own answers and index."""
    crit = pd.Series(["XYZ", "XYZ", pd.NA, "INVESTIGATOR", "iRECIST", "PERCIST", None, "RECIST1.1"],
                     index=list("abcdefgh"), dtype="string")  # fmt: skip
    resp = pd.Series(["CR", None, "PR", "CR", "CR", "NE", "iCR", "SD"], index=list("abcdefgh"), dtype="string")
    got = response_allowed(crit, resp)
    assert got.index.tolist() == list("abcdefgh")
    # unknown criteria: no category (a missing response is allowed); missing criteria: RECIST 1.1;
    # iRECIST takes iCR, not CR; NE under every criteria
    assert got.tolist() == [False, True, True, True, False, True, False, True]


def test_histologies_cover_design_list():
    assert {"IMT", "EIMS"} <= set(histologies()["code"])
    assert len(histologies()) == 6


def test_kinase_genes_are_the_3_prime_partners():
    kinases = set(vocabulary("kinase_gene").values)
    assert {"ALK", "ROS1", "NTRK1", "NTRK2", "NTRK3", "RET", "MET", "BRAF"} <= kinases
    assert kinases <= set(genes()["gene"])
    assert "STRN" not in kinases  # a 5' partner, not a kinase


def test_every_vocabulary_named_by_a_model_field_exists():
    names = {
        field_info(model, name).vocab
        for model in RECORD_MODELS.values()
        for name in model.model_fields
        if field_info(model, name).vocab
    }
    assert names == {
        "sex", "race", "ethnicity", "country", "histology", "fnclcc", "kinase_gene", "method", "ihc_result", "drug", "unit", "frequency", "route",
        "reason", "attribution", "action", "ae_outcome", "modality", "criteria", "response", "evaluator",
        "procedure_kind", "margin", "event_kind", "confirmed_by", "vital_status", "disease_status",
    }  # fmt: skip
    for name in names:
        assert len(vocabulary(name).values) > 0, name


@pytest.mark.parametrize(
    ("name", "inside", "outside", "source"),
    [
        pytest.param("sex", "F", "female", "`tkitrack vocab show sex`", id="sex"),
        pytest.param("reason", "complete_response", "CR", "`tkitrack vocab show reason`", id="reason"),
        pytest.param(
            "ctcae_term",
            "Gait disturbance",
            "gait disturbance",
            "vocab/ctcae_v5.csv (CTCAE v5.0)",
            id="ctcae-term-is-case-sensitive",
        ),
        pytest.param("drug", "crizotinib", "Xalkori", "vocab/drugs.csv", id="drug"),
        pytest.param("response", "NON-CR/NON-PD", "nonCR", "vocab/responses.csv", id="response"),
    ],
)
def test_vocabulary_membership_and_source(name, inside, outside, source):
    voc = vocabulary(name)
    assert inside in voc
    assert outside not in voc
    assert voc.source == source


def test_unknown_vocabulary_raises_key_error():
    with pytest.raises(KeyError, match="colour"):
        vocabulary("colour")


def test_response_allowed_per_distinct_pair_matches_row_by_row():
    """Every (criteria, response) pair, each repeated and in mixed order, answers as its own categories say: the
    per-distinct table spreads back to exactly the row-by-row result (a missing response allowed)."""
    crits = ["RECIST1.1", "iRECIST", "PERCIST", "INVESTIGATOR", "XYZ", None]
    resps = ["CR", "PR", "SD", "PD", "NE", "NON-CR/NON-PD", "iCR", "iUPD", "CMR", "PMD", "cr", "", None]
    pairs = [(c, r) for c in crits for r in resps] * 3
    pairs = pairs[1::2] + pairs[::2]
    crit = pd.Series([c for c, _ in pairs], dtype=object)
    resp = pd.Series([r for _, r in pairs], dtype=object)
    want = [r is None or r in response_categories(c or "RECIST1.1") for c, r in pairs]
    assert response_allowed(crit, resp).tolist() == want
    assert response_allowed(crit.astype("string"), resp.astype("string")).tolist() == want
    assert response_allowed(crit.iloc[:0], resp.iloc[:0]).tolist() == []
