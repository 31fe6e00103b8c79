"""Controlled vocabularies shipped as package data: CTCAE v5.0, drugs, histologies, genes, responses."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

__all__ = [
    "ACTIONS",
    "AE_OUTCOMES",
    "ATTRIBUTIONS",
    "CONFIRMED_BY",
    "CRITERIA",
    "DISEASE_STATUSES",
    "ETHNICITIES",
    "EVALUATORS",
    "EVENT_KINDS",
    "FNCLCC_GRADES",
    "FREQUENCIES",
    "IHC_RESULTS",
    "MARGINS",
    "METHODS",
    "MODALITIES",
    "PROCEDURE_KINDS",
    "RACES",
    "REASONS",
    "ROUTES",
    "SEXES",
    "UNITS",
    "VITAL_STATUSES",
    "VOCABULARIES",
    "Vocabulary",
    "countries",
    "ctcae",
    "ctcae_grades",
    "drugs",
    "genes",
    "histologies",
    "kinase_inhibitors",
    "read_vocab",
    "response_allowed",
    "response_categories",
    "responses",
    "vocabulary",
]

SEXES = ("M", "F", "U")
#: CDISC controlled terminology RACE (C74457) and ETHNIC (C66790) submission values.
RACES = (
    "AMERICAN INDIAN OR ALASKA NATIVE",
    "ASIAN",
    "BLACK OR AFRICAN AMERICAN",
    "NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER",
    "WHITE",
    "MULTIPLE",
    "OTHER",
    "NOT REPORTED",
    "UNKNOWN",
)
ETHNICITIES = ("HISPANIC OR LATINO", "NOT HISPANIC OR LATINO", "NOT REPORTED", "UNKNOWN")
UNITS = ("mg", "mg/m2", "mg/kg")
FREQUENCIES = ("QD", "BID", "TID", "QID", "QOD", "QW", "Q2W", "Q3W", "Q4W", "ONCE")
ROUTES = ("ORAL", "IV", "SC", "IM", "TOPICAL", "TRANSDERMAL")
REASONS = (
    "toxicity",
    "progression",
    "complete_response",
    "surgery",
    "patient_choice",
    "completed",
    "dose_change",
    "other",
)
ACTIONS = ("none", "dose_reduced", "interrupted", "withdrawn", "not_applicable")
ATTRIBUTIONS = ("unrelated", "unlikely", "possible", "probable", "definite")
AE_OUTCOMES = ("recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown")
MODALITIES = ("MRI", "CT", "PET-CT", "US", "XRAY", "CLINICAL")
CRITERIA = ("RECIST1.1", "iRECIST", "PERCIST", "INVESTIGATOR")
EVALUATORS = ("INVESTIGATOR", "INDEPENDENT")
METHODS = ("RNA_NGS", "DNA_NGS", "FISH", "WGS", "RT_PCR", "IHC_ONLY", "OTHER")
IHC_RESULTS = ("positive", "negative", "focal", "equivocal")
PROCEDURE_KINDS = ("biopsy", "resection", "amputation", "cryotherapy", "radiotherapy", "other")
MARGINS = ("R0", "R1", "R2", "RX")
EVENT_KINDS = ("recurrence", "progression", "metastasis")
CONFIRMED_BY = ("histology", "imaging", "clinical", "molecular")
VITAL_STATUSES = ("alive", "dead", "unknown")
#: Disease status at a follow-up contact: no evidence of disease, alive with disease, unknown.
DISEASE_STATUSES = ("NED", "AWD", "unknown")
FNCLCC_GRADES = ("1", "2", "3", "NA")


@dataclass(frozen=True)
class Vocabulary:
    """A named set of allowed values, with the file or constant it comes from (for error messages)."""

    name: str
    values: tuple[str, ...]
    source: str

    def __contains__(self, value: object) -> bool:
        return value in self._set

    @property
    def _set(self) -> frozenset[str]:
        return frozenset(self.values)


def read_vocab(name: str) -> pd.DataFrame:
    """Read a vocabulary CSV shipped in ``tkitrack/schemas/vocab`` as strings (no NA conversion)."""
    path = resources.files("tkitrack.schemas").joinpath("vocab", f"{name}.csv")
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


@cache
def ctcae() -> pd.DataFrame:
    """CTCAE v5.0 terms: meddra_code, meddra_soc, term, grade_1..grade_5 text, definition."""
    return read_vocab("ctcae_v5")


@cache
def ctcae_grades() -> dict[str, frozenset[int]]:
    """For each CTCAE term, the grades that exist (a lone '-' in the grade column means it does not)."""
    table = ctcae()
    exists = {g: table[f"grade_{g}"].str.strip() != "-" for g in range(1, 6)}
    return {term: frozenset(g for g in range(1, 6) if exists[g].iloc[i]) for i, term in enumerate(table["term"])}


@cache
def drugs() -> pd.DataFrame:
    """The drug catalogue with target, class, usual paediatric dose and plausible mg/m2/day range."""
    table = read_vocab("drugs")
    for col in ("usual_dose", "min_mg_m2_day", "max_mg_m2_day"):
        table[col] = pd.to_numeric(table[col].replace("", None), errors="raise").astype(float)
    return table


@cache
def countries() -> pd.DataFrame:
    """ISO 3166-1 countries: alpha-3 code (what SDTM DM.COUNTRY holds), alpha-2 code and name."""
    return read_vocab("countries")


@cache
def kinase_inhibitors() -> tuple[str, ...]:
    """Catalogue drugs with a kinase target (ALK, ROS1, NTRK, ...): the drugs an index therapy is chosen from."""
    table = drugs()
    genes_ = genes().loc[genes()["role"] == "kinase", "gene"]
    kinases = set(genes_) | set(genes_.str.replace(r"\d+$", "", regex=True))  # NTRK stands for NTRK1-3
    targets = table["target"].str.split("/")
    return tuple(table.loc[targets.map(lambda t: bool(set(t) & kinases)), "drug"])


@cache
def histologies() -> pd.DataFrame:
    return read_vocab("histologies")


@cache
def genes() -> pd.DataFrame:
    return read_vocab("genes")


@cache
def responses() -> pd.DataFrame:
    """Overall response categories: response, rank (best 1 .. worst 5; NE 0), label, and the criteria family
    (``RECIST`` for RECIST 1.1 and investigator calls, ``PERCIST``, ``iRECIST``; ``ALL`` for NE)."""
    table = read_vocab("responses")
    table["rank"] = table["rank"].astype(int)
    return table


#: Criteria (assessment.criteria) -> the response family its categories come from.
_CRITERIA_FAMILY = {"RECIST1.1": "RECIST", "INVESTIGATOR": "RECIST", "PERCIST": "PERCIST", "iRECIST": "iRECIST"}


@cache
def response_categories(criteria: str | None) -> tuple[str, ...]:
    """The overall responses allowed under ``criteria`` (RECIST 1.1 when empty): PERCIST's CMR/PMR/SMD/PMD and
    iRECIST's iCR/iPR/iSD/iUPD/iCPD only under those criteria, RECIST's categories under RECIST 1.1 and
    investigator assessments; NE under all."""
    family = _CRITERIA_FAMILY.get(criteria or "RECIST1.1")
    if family is None:
        return ()
    table = responses()
    return tuple(table.loc[table["criteria"].isin([family, "ALL"]), "response"])


def response_allowed(criteria: pd.Series, response: pd.Series) -> pd.Series:
    """Per row: is ``response`` one of the categories of ``criteria`` (missing criteria: RECIST 1.1)?

    Vectorised over the rows (one lookup of the few distinct criteria); a missing response is allowed.
    """
    crit = criteria.astype("object").where(criteria.notna(), "RECIST1.1").to_numpy()
    crit_codes, crits = pd.factorize(crit)
    # each distinct response against each distinct criteria's categories once, spread back by the codes; a
    # missing response (code -1, the last column) is allowed
    given_codes, givens = pd.factorize(response.astype("object").to_numpy(), use_na_sentinel=True)
    table = np.ones((len(crits), len(givens) + 1), dtype=bool)
    for i, name in enumerate(crits):
        table[i, : len(givens)] = pd.Series(givens, dtype=object).isin(response_categories(name)).to_numpy()
    return pd.Series(table[crit_codes, given_codes], index=response.index)


_CONSTANTS = {
    "sex": SEXES,
    "race": RACES,
    "ethnicity": ETHNICITIES,
    "unit": UNITS,
    "frequency": FREQUENCIES,
    "route": ROUTES,
    "reason": REASONS,
    "action": ACTIONS,
    "attribution": ATTRIBUTIONS,
    "ae_outcome": AE_OUTCOMES,
    "modality": MODALITIES,
    "criteria": CRITERIA,
    "evaluator": EVALUATORS,
    "method": METHODS,
    "ihc_result": IHC_RESULTS,
    "procedure_kind": PROCEDURE_KINDS,
    "margin": MARGINS,
    "event_kind": EVENT_KINDS,
    "confirmed_by": CONFIRMED_BY,
    "vital_status": VITAL_STATUSES,
    "disease_status": DISEASE_STATUSES,
    "fnclcc": FNCLCC_GRADES,
}


@cache
def vocabulary(name: str) -> Vocabulary:
    """The allowed values of one named vocabulary (``drug``, ``ctcae_term``, ``histology``, ``sex``, ...)."""
    if name in _CONSTANTS:
        return Vocabulary(name, _CONSTANTS[name], f"`tkitrack vocab show {name}`")
    if name == "drug":
        return Vocabulary(name, tuple(drugs()["drug"]), "vocab/drugs.csv")
    if name == "ctcae_term":
        return Vocabulary(name, tuple(ctcae()["term"]), "vocab/ctcae_v5.csv (CTCAE v5.0)")
    if name == "country":
        return Vocabulary(name, tuple(countries()["code"]), "vocab/countries.csv (ISO 3166-1 alpha-3)")
    if name == "histology":
        return Vocabulary(name, tuple(histologies()["code"]), "vocab/histologies.csv")
    if name == "gene":
        return Vocabulary(name, tuple(genes()["gene"]), "vocab/genes.csv")
    if name == "kinase_gene":
        g = genes()
        return Vocabulary(name, tuple(g.loc[g["role"] == "kinase", "gene"]), "vocab/genes.csv")
    if name == "response":
        return Vocabulary(name, tuple(responses()["response"]), "vocab/responses.csv")
    raise KeyError(f"unknown vocabulary {name!r}; known: {', '.join(VOCABULARIES)}")


#: Every vocabulary name :func:`vocabulary` knows.
VOCABULARIES: tuple[str, ...] = (
    *_CONSTANTS,
    "drug",
    "ctcae_term",
    "country",
    "histology",
    "gene",
    "kinase_gene",
    "response",
)
