"""Tests of tkitrack.schemas.cdisc_meta: the declared metadata is transport-safe and covers what is exported."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes.adam import derive_adam_datasets
from tkitrack.outcomes.tte import derive_adam
from tkitrack.schemas.cdisc_meta import CODELISTS, DATASETS, column_metadata, dataset_info, order_columns, variables
from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.sdtm import read_sdtm, records_to_sdtm

SDTM = Path(__file__).resolve().parents[1] / "data" / "pharmaverse" / "sdtm"
NAME = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")


@pytest.mark.parametrize("name", [*DATASETS, "SUPPAE"])
def test_names_and_labels_fit_sas_transport(name):
    table = variables(name)
    assert len(table) > 0 and table["variable"].is_unique
    assert table["variable"].map(NAME.match).all()
    assert (table["label"].str.len() <= 40).all() and table["label"].map(str.isascii).all()
    assert len(dataset_info(name).label) <= 40
    assert set(table["codelist"]) - {""} <= set(CODELISTS) | {"COUNTRY"}
    assert set(table["type"]) <= {"text", "integer", "float", "date", "iso8601"}
    assert set(dataset_info(name).keys) <= set(table["variable"])


def test_every_exported_variable_and_qualifier_is_declared(rich_records):
    typed = {r: parse_records(r, raw)[0] for r, raw in rich_records.items()}
    sdtm = records_to_sdtm(typed, study="S")
    pharma = read_sdtm(SDTM)
    adam = derive_adam_datasets(pharma, derive_adam({k.lower(): pharma[k] for k in ("DM", "DS", "EX", "RS")}))
    for name, frame in {**sdtm, **adam}.items():
        meta = column_metadata(name, frame)
        assert meta.loc[~meta["declared"], "variable"].tolist() == [], name
    supp = pd.concat([f for n, f in sdtm.items() if n.startswith("SUPP")])
    assert supp["QNAM"].map(NAME.match).all() and (supp["QLABEL"].str.len() <= 40).all()
    assert set(supp["QNAM"].str.replace(r"\d+$", "", regex=True)) <= {
        "AGEDIAG", "DIAGDTC", "HISTOL", "PRIMSITE", "FNCLCCGR", "ARMFRTRT", "NOTE", "CONSTDT", "DISCFL", "ENDRSN",
        "AETERM", "AETRTREL", "MODALITY", "DISSTAT", "DTHCAUS", "CONFBY", "CAND5P", "EXON5P", "PANEL", "FISHPCT",
        "SPECSRC", "VAF", "TMB", "RESMUT", "KARYO", "MARKER", "PATTERN", "MARGIN", "DETAIL", "CELOC", "PRLOC"}  # fmt: skip


def test_undeclared_columns_are_described_from_their_values_and_put_last():
    frame = pd.DataFrame({"EXTRA": [1.5], "USUBJID": ["A"], "STUDYID": ["S"]})
    assert list(order_columns("DM", frame).columns) == ["STUDYID", "USUBJID", "EXTRA"]
    meta = column_metadata("DM", frame).set_index("variable")
    assert meta.loc["EXTRA", ["label", "type", "declared"]].tolist() == ["EXTRA", "float", False]
    assert meta.loc["USUBJID", ["label", "declared"]].tolist() == ["Unique Subject Identifier", True]
