"""Define-XML 2.1 for the SDTM or ADaM datasets tkitrack writes: datasets, variables, labels, types, lengths,
codelists, origins and the method or comment of each derived or mapped variable."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from tkitrack.schemas.cdisc_meta import CODELISTS, country_codes, dataset_info

__all__ = ["DEF_NS", "ODM_NS", "define_xml", "write_define"]

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
_XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("", ODM_NS)
ET.register_namespace("def", DEF_NS)
ET.register_namespace("xlink", _XLINK)
_STANDARDS = {"SDTM": ("STD.SDTMIG", "SDTMIG", "3.4"), "ADaM": ("STD.ADAMIG", "ADaMIG", "1.3")}
_DATATYPE = {"text": "text", "integer": "integer", "float": "float", "date": "integer", "iso8601": "partialDate"}


def _o(tag: str) -> str:
    return f"{{{ODM_NS}}}{tag}"


def _d(tag: str) -> str:
    return f"{{{DEF_NS}}}{tag}"


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    node = ET.SubElement(parent, tag)
    ET.SubElement(node, _o("TranslatedText"), {"{http://www.w3.org/XML/1998/namespace}lang": "en"}).text = text
    return node


def _codelist_terms(name: str, values: pd.Series) -> tuple[str, ...]:
    used = set(values[values != ""])
    if name == "COUNTRY":  # the countries of the data, not all 249
        return tuple(c for c in country_codes() if c in used) or country_codes()[:1]
    if name.startswith("PARAMCD"):  # parameters are the sponsor's: the known ones and any other derived
        return CODELISTS[name] + tuple(sorted(used - set(CODELISTS[name])))
    return CODELISTS[name]


def define_xml(datasets: Mapping[str, pd.DataFrame], *, study: str, standard: str, fmt: str = "xpt") -> bytes:
    """The Define-XML 2.1 document (UTF-8 bytes) describing ``datasets`` as written in format ``fmt``."""
    from tkitrack.schemas.cdisc_files import _lengths, typed_columns

    oid, std_name, std_version = _STANDARDS[standard]
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element(_o("ODM"), {
        "FileType": "Snapshot", "FileOID": f"DEF.{study}.{standard}", "CreationDateTime": now, "ODMVersion": "1.3.2",
        "Originator": "tkitrack", "SourceSystem": "tkitrack", _d("Context"): "Other",
    })  # fmt: skip
    st = ET.SubElement(root, _o("Study"), {"OID": f"ST.{study}"})
    gv = ET.SubElement(st, _o("GlobalVariables"))
    ET.SubElement(gv, _o("StudyName")).text = study
    ET.SubElement(gv, _o("StudyDescription")).text = f"{study}: {standard} datasets written by tkitrack"
    ET.SubElement(gv, _o("ProtocolName")).text = study
    mdv = ET.SubElement(st, _o("MetaDataVersion"), {
        "OID": f"MDV.{study}.{standard}", "Name": f"{study} {standard}", _d("DefineVersion"): "2.1.0",
    })  # fmt: skip
    stds = ET.SubElement(mdv, _d("Standards"))
    ET.SubElement(stds, _d("Standard"), {"OID": oid, "Name": std_name, "Type": "IG", "Version": std_version,
                                         "Status": "Final"})  # fmt: skip
    ET.SubElement(stds, _d("Standard"), {"OID": "STD.CT", "Name": "CDISC/NCI", "Type": "CT", "PublishingSet": standard,
                                         "Version": "2024-09-27", "Status": "Final"})  # fmt: skip
    suffix = {"xpt": ".xpt", "json": ".json", "csv": ".csv", "parquet": ".parquet"}[fmt]
    groups, items, codelists, methods, comments = [], [], {}, [], []
    for name, frame in datasets.items():
        typed, meta = typed_columns(name, frame)
        lengths = _lengths(typed, meta)
        info = dataset_info(name)
        keys = {k: n for n, k in enumerate(info.keys, 1)}
        group = ET.Element(_o("ItemGroupDef"), {
            "OID": f"IG.{name}", "Name": name, "Repeating": "No" if name in ("DM", "ADSL") else "Yes",
            "IsReferenceData": "No", "SASDatasetName": name, "Purpose": "Tabulation" if standard == "SDTM" else "Analysis",
            _d("Structure"): info.structure, _d("StandardOID"): oid, _d("ArchiveLocationID"): f"LF.{name}",
            **({"Domain": name[4:] if name.startswith("SUPP") else name} if standard == "SDTM" else {}),
        })  # fmt: skip
        _text(group, _o("Description"), info.label)
        for order, row in enumerate(meta.itertuples(index=False), 1):
            item_oid = f"IT.{name}.{row.variable}"
            ref = {"ItemOID": item_oid, "OrderNumber": str(order), "Mandatory": "Yes" if row.variable in keys else "No"}
            if row.variable in keys:
                ref["KeySequence"] = str(keys[row.variable])
            if row.origin == "Derived":
                ref["MethodOID"] = f"MT.{name}.{row.variable}"
                method = ET.Element(_o("MethodDef"), {"OID": ref["MethodOID"], "Name": f"{name}.{row.variable}",
                                                      "Type": "Computation"})  # fmt: skip
                _text(method, _o("Description"), row.comment or f"Derived by tkitrack ({row.label})")
                methods.append(method)
            ET.SubElement(group, _o("ItemRef"), ref)
            item = ET.Element(_o("ItemDef"), {"OID": item_oid, "Name": row.variable, "SASFieldName": row.variable,
                                              "DataType": _DATATYPE[row.type]})  # fmt: skip
            if row.type in ("text", "integer", "float"):
                item.set("Length", str(lengths[row.variable]))
            if row.type == "float":
                item.set("SignificantDigits", "3")
            if row.type == "date":
                item.set(_d("DisplayFormat"), "DATE9.")
            if row.comment and row.origin != "Derived":
                item.set(_d("CommentOID"), f"COM.{name}.{row.variable}")
                comment = ET.Element(_d("CommentDef"), {"OID": f"COM.{name}.{row.variable}"})
                _text(comment, _o("Description"), row.comment)
                comments.append(comment)
            _text(item, _o("Description"), row.label)
            if row.codelist:
                ET.SubElement(item, _o("CodeListRef"), {"CodeListOID": f"CL.{row.codelist}"})
                terms = _codelist_terms(row.codelist, typed[row.variable].astype(str))
                codelists.setdefault(row.codelist, set()).update(terms)
            origin_type = row.origin if row.origin != "Not Available" else "Not Available"
            origin = ET.SubElement(item, _d("Origin"), {"Type": origin_type})
            if origin_type == "Collected":
                origin.set("Source", "Investigator")
            items.append(item)
        ET.SubElement(group, _d("Class"), {"Name": info.klass})
        leaf = ET.SubElement(group, _d("leaf"), {"ID": f"LF.{name}", f"{{{_XLINK}}}href": f"{name.lower()}{suffix}"})
        ET.SubElement(leaf, _d("title")).text = f"{name.lower()}{suffix}"
        groups.append(group)
    for element in groups + items:
        mdv.append(element)
    for name, terms in codelists.items():
        declared = CODELISTS.get(name, ())
        ordered = [t for t in declared if t in terms] + sorted(terms - set(declared))
        cl = ET.SubElement(mdv, _o("CodeList"), {"OID": f"CL.{name}", "Name": name, "DataType": "text"})
        for n, term in enumerate(ordered, 1):
            ET.SubElement(cl, _o("EnumeratedItem"), {"CodedValue": term, "OrderNumber": str(n)})
    for element in methods + comments:
        mdv.append(element)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_define(datasets: Mapping[str, pd.DataFrame], path: str | Path, *, study: str, standard: str,
                 fmt: str = "xpt") -> Path:  # fmt: skip
    """Write :func:`define_xml` to ``path``; returns it."""
    out = Path(path)
    out.write_bytes(define_xml(datasets, study=study, standard=standard, fmt=fmt))
    return out
