"""Tests of tkitrack.schemas.define_xml: valid against the Define-XML 2.1 schema and true to the datasets.

The schema is CDISC's define2-1-0.xsd as shipped in the odmlib package (MIT), a test-only dependency.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes.adam import derive_adam_datasets
from tkitrack.outcomes.tte import derive_adam
from tkitrack.schemas.cdisc_files import write_datasets
from tkitrack.schemas.define_xml import DEF_NS, ODM_NS
from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.sdtm import read_sdtm, records_to_sdtm

SDTM = Path(__file__).resolve().parents[1] / "data" / "pharmaverse" / "sdtm"
NS = {"odm": ODM_NS, "def": DEF_NS}


def _schema():
    import odmlib  # test extras: the schema files ship with odmlib, the validator is xmlschema
    import xmlschema

    return xmlschema.XMLSchema(str(Path(odmlib.__file__).parent / "schemas" / "define" / "2.1" / "define2-1-0.xsd"))


@pytest.fixture
def written(rich_records, tmp_path) -> dict[str, tuple[Path, dict[str, pd.DataFrame]]]:
    typed = {r: parse_records(r, raw)[0] for r, raw in rich_records.items()}
    sdtm = records_to_sdtm(typed, study="IMT-01")
    pharma = read_sdtm(SDTM)
    adam = derive_adam_datasets(pharma, derive_adam({k.lower(): pharma[k] for k in ("DM", "DS", "EX", "RS")}))
    write_datasets(sdtm, tmp_path / "sdtm", fmt="xpt", study="IMT-01", standard="SDTM")
    write_datasets(adam, tmp_path / "adam", fmt="xpt", study="CDISCPILOT01", standard="ADaM")
    return {"SDTM": (tmp_path / "sdtm", sdtm), "ADaM": (tmp_path / "adam", adam)}


@pytest.mark.parametrize("standard", ["SDTM", "ADaM"])
def test_define_is_valid_against_the_define_xml_2_1_schema(written, standard):
    errors = [str(e).splitlines()[0] for e in _schema().iter_errors(str(written[standard][0] / "define.xml"))]
    assert errors == []


@pytest.mark.parametrize("standard", ["SDTM", "ADaM"])
def test_define_describes_the_transport_files_as_written(written, standard):
    pyreadstat = pytest.importorskip("pyreadstat")
    folder, datasets = written[standard]
    root = ET.parse(folder / "define.xml").getroot()
    mdv = root.find("odm:Study/odm:MetaDataVersion", NS)
    items = {i.get("OID"): i for i in mdv.findall("odm:ItemDef", NS)}
    codelists = {c.get("OID"): {e.get("CodedValue") for e in c.findall("odm:EnumeratedItem", NS)}
                 for c in mdv.findall("odm:CodeList", NS)}  # fmt: skip
    groups = mdv.findall("odm:ItemGroupDef", NS)
    assert [g.get("Name") for g in groups] == list(datasets)
    if standard == "SDTM":  # every record type's home is described, with its supplemental qualifiers
        assert {"CE", "GF", "MI", "PR", "SUPPCE", "SUPPGF", "SUPPMI", "SUPPPR"} <= set(datasets)
    for group in groups:
        name = group.get("Name")
        data, meta = pyreadstat.read_xport(str(folder / f"{name.lower()}.xpt"))
        assert group.find("def:leaf", NS).get("{http://www.w3.org/1999/xlink}href") == f"{name.lower()}.xpt"
        assert group.find("odm:Description/odm:TranslatedText", NS).text == meta.file_label
        refs = [items[r.get("ItemOID")] for r in group.findall("odm:ItemRef", NS)]
        assert [i.get("Name") for i in refs] == meta.column_names, name
        for item in refs:
            column = item.get("Name")
            label = item.find("odm:Description/odm:TranslatedText", NS).text
            assert label == meta.column_names_to_labels[column], (name, column)
            values = data[column]
            if item.get("DataType") == "text":  # the length is the longest value in bytes, at least 1
                longest = values.map(lambda v: len(str(v).encode("utf-8"))).max() if len(values) else 1
                assert int(item.get("Length")) == max(1, int(longest)), (name, column)
            ref = item.find("odm:CodeListRef", NS)
            if ref is not None:  # controlled terminology: every value written is a term of its codelist
                used = {str(v) for v in values if str(v) not in ("", "nan")}
                assert used <= codelists[ref.get("CodeListOID")], (
                    name,
                    column,
                    used - codelists[ref.get("CodeListOID")],
                )
            origin = item.find("def:Origin", NS).get("Type")
            assert origin in ("Collected", "Derived", "Assigned", "Predecessor", "Protocol", "Not Available")


def test_derived_variables_carry_their_method(written):
    root = ET.parse(written["SDTM"][0] / "define.xml").getroot()
    mdv = root.find("odm:Study/odm:MetaDataVersion", NS)
    methods = {
        m.get("OID"): m.find("odm:Description/odm:TranslatedText", NS).text for m in mdv.findall("odm:MethodDef", NS)
    }
    ref = next(r for g in mdv.findall("odm:ItemGroupDef", NS) if g.get("Name") == "AE"
               for r in g.findall("odm:ItemRef", NS) if r.get("ItemOID") == "IT.AE.AESTDY")  # fmt: skip
    assert methods[ref.get("MethodOID")].startswith("AESTDTC - RFSTDTC + 1 on or after RFSTDTC, without day 0")
