"""Tests of tkitrack.schemas.cdisc_files: each format read back by others (pyreadstat, pandas, jsonschema, DuckDB).

The Dataset-JSON schema is the CDISC one shipped in schemas/cdisc/ (see its README for provenance).
"""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes.adam import derive_adam_datasets
from tkitrack.outcomes.tte import derive_adam
from tkitrack.schemas.cdisc_files import read_dataset_json, typed_columns, write_datasets
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.sdtm import read_sdtm, records_to_sdtm

SDTM = Path(__file__).resolve().parents[1] / "data" / "pharmaverse" / "sdtm"


@pytest.fixture(scope="module")
def adam() -> dict[str, pd.DataFrame]:
    sdtm = read_sdtm(SDTM)
    return derive_adam_datasets(sdtm, derive_adam({k.lower(): sdtm[k] for k in ("DM", "DS", "EX", "RS")}))


@pytest.fixture
def sdtm(rich_records) -> dict[str, pd.DataFrame]:
    typed = {}
    for record, raw in rich_records.items():
        typed[record], _ = parse_records(record, raw)
    return records_to_sdtm(typed, study="IMT-01")


def _days(day: str) -> float:
    return float((dt.date.fromisoformat(day) - dt.date(1960, 1, 1)).days)


def test_xpt_read_back_by_pyreadstat_and_pandas_keeps_labels_and_types(adam, tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    write_datasets(adam, tmp_path, fmt="xpt", study="CDISCPILOT01", standard="ADaM")
    for name, frame in adam.items():
        data, meta = pyreadstat.read_xport(str(tmp_path / f"{name.lower()}.xpt"))
        expected = typed_columns(name, frame)[1]  # the declared order
        assert meta.table_name == name and meta.file_label == {"ADSL": "Subject-Level Analysis Dataset",
                                                               "ADRS": "Response Analysis Dataset",
                                                               "ADTTE": "Time-to-Event Analysis Dataset",
                                                               "ADAE": "Adverse Events Analysis Dataset",
                                                               "ADEX": "Exposure Analysis Dataset"}[name]  # fmt: skip
        assert meta.column_names == expected["variable"].tolist()
        assert [meta.column_names_to_labels[c] for c in meta.column_names] == expected["label"].tolist()
        for column, kind in zip(expected["variable"], expected["type"], strict=True):
            stored = meta.readstat_variable_types[column]
            assert stored == ("string" if kind in ("text", "iso8601") else "double"), (name, column)
            if kind == "date":
                assert meta.original_variable_types[column] == "DATE9.", (name, column)
        assert len(data) == len(frame)
    adsl = pd.read_sas(tmp_path / "adsl.xpt", format="xport", encoding="utf-8").set_index("USUBJID")
    # a SAS date is the number of days since 1960-01-01: 01-701-1015's first dose is 2014-01-02
    assert adsl.loc["01-701-1015", "TRTSDT"] == _days("2014-01-02")
    assert adsl.loc["01-701-1015", "AGE"] == 63.0 and adsl.loc["01-701-1015", "SAFFL"] == "Y"
    data, _ = pyreadstat.read_xport(str(tmp_path / "adsl.xpt"))
    assert data.set_index("USUBJID").loc["01-701-1015", "TRTSDT"] == dt.date(2014, 1, 2)


def test_xpt_problems_are_named_and_nothing_is_written(adam, tmp_path):
    adsl = adam["ADSL"].copy()
    adsl.loc[1, "ARM"] = "x" * 201
    adsl["LONGNAME9"] = "a"
    with pytest.raises(InputError) as err:
        write_datasets({"ADSL": adsl, "ADRS": adam["ADRS"]}, tmp_path / "out", fmt="xpt", study="S", standard="ADaM")
    message = str(err.value)
    assert "ADSL.ARM row 2: value 'xxxx" in message and "is 201 bytes" in message
    assert "ADSL.LONGNAME9: a transport variable name is 1-8" in message
    assert not (tmp_path / "out").exists()  # checked before anything was written
    write_datasets({"ADSL": adsl}, tmp_path / "json", fmt="json", study="S", standard="ADaM")  # JSON holds them


def test_dataset_json_is_valid_against_the_cdisc_schema_and_reads_back(adam, sdtm, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema_file = resources.files("tkitrack.schemas").joinpath("cdisc", "dataset.schema.json")
    validator = jsonschema.Draft201909Validator(json.loads(schema_file.read_text(encoding="utf-8")))
    for standard, datasets in (("ADaM", adam), ("SDTM", sdtm)):
        folder = tmp_path / standard
        write_datasets(datasets, folder, fmt="json", study="S1", standard=standard)
        for name, frame in datasets.items():
            document = json.loads((folder / f"{name.lower()}.json").read_text(encoding="utf-8"))
            errors = [e.message for e in validator.iter_errors(document)]
            assert errors == [], (name, errors[:3])
            assert document["records"] == len(frame) and document["datasetJSONVersion"] == "1.1.0"
            back = read_dataset_json(folder / f"{name.lower()}.json")
            typed, _ = typed_columns(name, frame)
            assert list(back.columns) == list(typed.columns)
    adsl = json.loads((tmp_path / "ADaM" / "adsl.json").read_text(encoding="utf-8"))
    trtsdt = next(c for c in adsl["columns"] if c["name"] == "TRTSDT")
    assert trtsdt == {"itemOID": "IT.ADSL.TRTSDT", "name": "TRTSDT", "label": "Date of First Exposure to Treatment",
                      "dataType": "date", "targetDataType": "integer", "displayFormat": "DATE9."}  # fmt: skip
    usubjid = next(c for c in adsl["columns"] if c["name"] == "USUBJID")
    assert usubjid["length"] == 11 and usubjid["keySequence"] == 2


def test_parquet_dates_are_dates_to_duckdb_with_labels_in_the_field_metadata(adam, sdtm, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    import pyarrow.parquet as pq

    write_datasets(adam, tmp_path / "adam", fmt="parquet", study="S", standard="ADaM")
    write_datasets(sdtm, tmp_path / "sdtm", fmt="parquet", study="S", standard="SDTM")
    adtte = str(tmp_path / "adam" / "adtte.parquet")
    con = duckdb.connect()
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '{adtte}')").fetchall())
    assert types["ADT"] == "DATE" and types["STARTDT"] == "DATE" and types["ADTC"] == "VARCHAR"
    rows = con.execute(f"SELECT AVAL, ADT - STARTDT + 1, ADTC = strftime(ADT, '%Y-%m-%d') FROM '{adtte}'").fetchall()
    assert len(rows) == len(adam["ADTTE"]) and all(aval == days and same for aval, days, same in rows)
    ae = str(tmp_path / "sdtm" / "ae.parquet")
    got = con.execute(f"SELECT AESTDTC, AESTDT, AEENDT - AESTDT FROM '{ae}' ORDER BY AESEQ").fetchall()
    # a partial date stays text and has no typed date; complete dates subtract as dates
    assert got[0][:2] == ("2019-08-02", dt.date(2019, 8, 2)) and got[0][2] is None
    assert ("2019-12", None, None) in got and ("2020-03-01", dt.date(2020, 3, 1), 8) in got
    field = pq.read_schema(adtte).field("ADT")
    assert field.metadata[b"label"] == b"Analysis Date"
    assert pq.read_schema(ae).metadata[b"label"] == b"Adverse Events"


def test_csv_holds_the_declared_columns_in_order(sdtm, tmp_path):
    write_datasets(sdtm, tmp_path, fmt="csv", study="IMT-01", standard="SDTM")
    dm = pd.read_csv(tmp_path / "dm.csv", dtype=str, keep_default_na=False)
    assert list(dm.columns[:6]) == ["STUDYID", "DOMAIN", "USUBJID", "SUBJID", "RFSTDTC", "RFENDTC"]
    assert dm.set_index("USUBJID").loc["P1", ["COUNTRY", "RACE", "AGE"]].tolist() == ["FRA", "WHITE", "6"]
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"] == "tkitrack" and manifest["standard"] == "SDTMIG 3.4" and manifest["study"] == "IMT-01"
    assert manifest["files"]["dm.csv"]["rows"] == 3


def test_an_unknown_format_is_refused(sdtm, tmp_path):
    with pytest.raises(InputError, match="format 'sas7bdat' is not known; use one of xpt, json, csv, parquet"):
        write_datasets(sdtm, tmp_path, fmt="sas7bdat", study="S", standard="SDTM")


def test_a_date_column_without_any_date_is_still_a_numeric_sas_date(tmp_path):
    pyreadstat = pytest.importorskip("pyreadstat")
    adsl = pd.DataFrame({"STUDYID": "S", "USUBJID": ["A", "B"], "RANDDT": pd.to_datetime([None, None]),
                         "TRTSDT": pd.to_datetime(["1960-01-02", None])})  # fmt: skip
    write_datasets({"ADSL": adsl}, tmp_path, fmt="xpt", study="S", standard="ADaM")
    data, meta = pyreadstat.read_xport(str(tmp_path / "adsl.xpt"))
    assert meta.readstat_variable_types["RANDDT"] == "double" and meta.original_variable_types["RANDDT"] == "DATE9."
    assert data["RANDDT"].isna().all() and data["TRTSDT"].iloc[0] == dt.date(1960, 1, 2)
    raw = pd.read_sas(tmp_path / "adsl.xpt", format="xport", encoding="utf-8")
    assert raw["TRTSDT"].iloc[0] == 1.0 and raw["RANDDT"].isna().all()  # SAS day 1 is 1960-01-02


@pytest.mark.parametrize("standard", ["SDTM", "ADaM"])
def test_every_xpt_reads_back_in_pyreadstat_and_pandas_with_its_labels_and_types(adam, sdtm, tmp_path, standard):
    pyreadstat = pytest.importorskip("pyreadstat")
    datasets = sdtm if standard == "SDTM" else adam
    write_datasets(datasets, tmp_path, fmt="xpt", study="S", standard=standard)
    for name, frame in datasets.items():
        path = tmp_path / f"{name.lower()}.xpt"
        typed, meta = typed_columns(name, frame)
        rows, info = pyreadstat.read_xport(str(path))
        assert [info.column_names_to_labels[c] for c in info.column_names] == meta["label"].tolist(), name
        assert len(rows) == len(frame), name
        data = pd.read_sas(path, format="xport", encoding="utf-8")
        # pandas takes every blank 8-byte word of the last 80-byte card for padding when a record is shorter than
        # 80 bytes (pandas.io.sas.sas_xport, _record_count), so it can miss the last row of such a file (PR)
        short = sum(info.variable_storage_width.values()) < 80
        assert list(data.columns) == meta["variable"].tolist() and (len(data) == len(frame) or short), name
        typed = typed.iloc[: len(data)]
        for column, kind in zip(meta["variable"], meta["type"], strict=True):
            numeric = pd.api.types.is_float_dtype(data[column])
            assert numeric == (kind in ("integer", "float", "date")) or data[column].isna().all(), (name, column)
            if kind in ("text", "iso8601") and len(data):  # the text as written, trailing blanks aside
                assert data[column].fillna("").tolist() == typed[column].str.rstrip().tolist(), (name, column)
