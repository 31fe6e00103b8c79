"""Tests of tkitrack.schemas.export and .deidentify: round trips, data dictionary, manifest, de-identification."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from tkitrack.schemas.deidentify import SHIFT_DAYS, WITHHELD, pseudonyms, shift_offsets
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.export import read_export, write_export
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.storage import make_engine, transaction
from tkitrack.schemas.store import add_records, read_frames

SECRET = "correct horse battery staple 42"

# fmt: off
#: Three patients with direct identifiers, partial dates, free text holding identifiers, and a 95-year-old.
RAW = {
    "patient": pd.DataFrame({
        "patient_id": ["ZZ-SITE7-0001", "ZZ-SITE7-0002", "ZZ-SITE9-0003"],
        "site": ["SITE7", "SITE7", "SITE9"],
        "mrn": ["MRN88123401", "MRN88123402", "MRN77000017"],
        "initials": ["QXZ", "JQV", "WKX"],
        "sex": ["F", "M", "F"],
        "birth_date": ["2013-04-17", "2016-11-03", "1924-03-02"],
        "age_at_diagnosis": ["", "", ""],
        "diagnosis_date": ["2019-06-14", "2020-03", "2019-08-01"],
        "histology": ["IMT", "ALK_IFS_LIKE", "OTHER"],
        "primary_site": ["mesentery", "left forearm", "lung"],
        "height_cm": ["118.5", "95", "160"],
        "height_date": ["2019-06-14", "2020-03-20", ""],
        "weight_kg": ["21.7", "14.2", "55"],
        "weight_date": ["2019-06-14", "2020-03-20", ""],
        "note": ["seen by Dr Okafor on 2019-06-10, MRN88123401", "", "referred 2019-07-30 (QXZ's clinic)"],
    }),
    "molecular": pd.DataFrame({"patient_id": ["ZZ-SITE7-0001"], "gene_5p": ["TPM3"], "exon_5p": ["7"],
                               "gene_3p": ["ALK"], "exon_3p": ["20"], "method": ["RNA_NGS"],
                               "specimen_date": ["2019-06-12"], "vaf": ["12.5"]}),
    "exposure": pd.DataFrame({
        "patient_id": ["ZZ-SITE7-0001", "ZZ-SITE7-0001", "ZZ-SITE7-0002"],
        "drug": ["crizotinib", "crizotinib", "larotrectinib"],
        "dose": ["280", "200", "100"], "unit": ["mg/m2", "mg/m2", "mg/m2"], "frequency": ["BID", "BID", "BID"],
        "route": ["ORAL", "ORAL", ""], "formulation": ["capsule", "oral solution", ""],
        "start": ["2019-07-01", "2019-11-03", "2020-04-02"], "end": ["2019-11-02", "2020-01-10", ""],
        "reason": ["dose_change", "complete_response", ""], "note": ["", "stopped after CR on 2020-01-10", ""],
    }),
    "ae": pd.DataFrame({
        "patient_id": ["ZZ-SITE7-0001", "ZZ-SITE7-0002"], "term": ["Gait disturbance", "fell at home 2020-05-01"],
        "verbatim": ["false", "true"], "grade": ["2", "1"], "start": ["2019-12-01", "2020-05"],
        "end": ["2020-02-01", ""], "serious": ["false", "true"], "attributed_drug": ["crizotinib", ""],
        "attribution": ["possible", ""], "action": ["withdrawn", "none"], "outcome": ["recovered", "recovering"],
    }),
    "assessment": pd.DataFrame({
        "patient_id": ["ZZ-SITE7-0001", "ZZ-SITE7-0001", "ZZ-SITE7-0002"],
        "date": ["2019-06-20", "2019-10-15", "2020-06-30"], "modality": ["MRI", "MRI", "US"],
        "baseline": ["true", "false", "false"], "sum_diameters": ["41.5", "0", ""],
        "response": ["", "CR", "PR"], "new_lesion": ["", "false", ""],
    }),
    "procedure": pd.DataFrame({"patient_id": ["ZZ-SITE7-0002"], "kind": ["biopsy"], "date": ["2020-03-12"],
                               "details": ["core biopsy by Dr Lindqvist, MRN88123402"]}),
    "followup": pd.DataFrame({
        "patient_id": ["ZZ-SITE7-0001", "ZZ-SITE7-0002", "ZZ-SITE9-0003"],
        "date": ["2023-10-01", "2021-02-15", "2019-09-30"], "vital_status": ["alive", "alive", "dead"],
        "death_date": ["", "", "2019-09-30"], "death_cause": ["", "", "pneumonia at St Hild's, 2019-09-30"],
    }),
}
# fmt: on


def _identifiers() -> list[str]:
    """Every identifying string of the input: ids, MRNs, initials, every date in several spellings."""
    pt = RAW["patient"]
    found = [*pt["patient_id"], *pt["mrn"], *pt["initials"], SECRET]
    dates = set()
    for frame in RAW.values():
        for cell in frame.to_numpy().ravel():
            dates.update(re.findall(r"\d{4}-\d{2}-\d{2}", str(cell)))
    for day in sorted(dates):
        y, m, d = day.split("-")
        found += [day, f"{y}{m}{d}", f"{d}/{m}/{y}", f"{m}/{d}/{y}", f"{d}.{m}.{y}"]
    return found


def _store(engine: Engine) -> dict[str, pd.DataFrame]:
    with transaction(engine) as session:
        add_records(session, RAW, user="tester", source="test")
    with transaction(engine) as session:
        return read_frames(session)


@pytest.fixture
def stored_anywhere(engine: Engine) -> dict[str, pd.DataFrame]:
    """RAW stored and read back, on SQLite and on PostgreSQL."""
    return _store(engine)


@pytest.fixture
def stored(sqlite_url: str) -> dict[str, pd.DataFrame]:
    """RAW stored in SQLite and read back (the export itself does not depend on the backend)."""
    eng = make_engine(sqlite_url)
    try:
        return _store(eng)
    finally:
        eng.dispose()


def _fresh(url_engine: Engine, raws: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    with transaction(url_engine) as session:
        add_records(session, raws, user="tester", source="export")
    with transaction(url_engine) as session:
        return read_frames(session)


@pytest.fixture
def fresh_engine(sqlite_url: str):
    eng = make_engine(sqlite_url.replace("tkitrack.db", "fresh.db"))
    from tkitrack.schemas.storage import upgrade

    upgrade(eng)
    yield eng
    eng.dispose()


def _without_ids(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {r: f.drop(columns=[c for c in ("id",) if c in f and r != "patient"]).reset_index(drop=True)
            for r, f in frames.items()}  # fmt: skip


@pytest.mark.parametrize("fmt", [pytest.param("csv", id="csv"), pytest.param("parquet", id="parquet")])
def test_export_then_import_gives_the_same_records(stored_anywhere, fresh_engine, tmp_path, fmt):
    stored = stored_anywhere
    paths = write_export(stored, tmp_path / "out", fmt=fmt)
    names = [p.name for p in paths]
    assert names[-2:] == ["data_dictionary.csv", "manifest.json"]
    assert names[:-2] == [f"{r}.{fmt}" for r in stored]
    raws = read_export(tmp_path / "out")
    assert {r: list(f.columns) for r, f in raws.items()} == {r: input_columns(r) for r in stored}
    assert raws["ae"].loc[0, "start"] == "2019-12-01" and raws["ae"].loc[1, "start"] == "2020-05"
    again = _fresh(fresh_engine, raws)
    expected = _without_ids(stored)
    for record, frame in _without_ids(again).items():
        pd.testing.assert_frame_equal(frame, expected[record], check_dtype=True, obj=record)


def test_data_dictionary_and_manifest(stored, tmp_path):
    write_export(stored, tmp_path)
    dictionary = pd.read_csv(tmp_path / "data_dictionary.csv", dtype=str, keep_default_na=False)
    assert len(dictionary) == sum(len(input_columns(r)) for r in stored)
    row = dictionary.set_index(["record", "column"])
    assert row.loc[("patient", "sex"), "allowed"] == "M | F | U"
    assert row.loc[("patient", "height_cm"), ["type", "unit"]].tolist() == ["number", "cm"]
    assert row.loc[("patient", "age_at_diagnosis"), ["allowed", "unit"]].tolist() == [">= 0; <= 120", "years"]
    assert row.loc[("assessment", "sum_diameters"), "unit"] == "mm"
    assert row.loc[("exposure", "start"), "type"].startswith("date (ISO 8601, partial allowed")
    assert row.loc[("exposure", "drug"), "allowed"].startswith("crizotinib | alectinib | ")
    assert row.loc[("exposure", "drug"), "required"] == "yes"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["records"] == {r: len(f) for r, f in stored.items()}
    assert manifest["deidentified"] is False and manifest["format"] == "csv"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", manifest["created_utc"])
    assert manifest["tkitrack_version"]
    import hashlib

    assert manifest["files"]["ae.csv"]["sha256"] == hashlib.sha256((tmp_path / "ae.csv").read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", [pytest.param("days", id="days"), pytest.param("shift", id="shift")])
def test_deidentified_csv_holds_no_identifier_anywhere(stored, tmp_path, mode):
    paths = write_export(stored, tmp_path, deidentify=True, secret=SECRET, date_mode=mode)
    leaks = []
    for path in paths:
        content = path.read_bytes()
        leaks += [(path.name, s) for s in _identifiers() if s.encode() in content]
    assert not leaks
    pt = pd.read_csv(tmp_path / "patient.csv", dtype=str, keep_default_na=False)
    assert not {"mrn", "initials", "birth_date", "birth_date_day", "note"} & set(pt.columns)
    assert sorted(pt["age_at_diagnosis"]) == ["3.0", "6.0", "90.0"]  # 95 years old -> 90 (90 or older)
    assert not {"note", "details"} & set(pd.read_csv(tmp_path / "procedure.csv").columns)
    ae = pd.read_csv(tmp_path / "ae.csv", dtype=str, keep_default_na=False)
    assert sorted(ae["term"]) == ["Gait disturbance", WITHHELD]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["deidentified"] is True and manifest["deidentification"]["date_mode"] == mode


def test_days_from_the_anchor_keep_intervals_and_precision(stored, tmp_path):
    write_export(stored, tmp_path, deidentify=True, secret=SECRET, date_mode="days")
    p1 = pseudonyms(pd.Series(["ZZ-SITE7-0001", "ZZ-SITE7-0002"]), SECRET).tolist()
    pt = pd.read_csv(tmp_path / "patient.csv", keep_default_na=False).set_index("patient_id")
    assert pt.loc[p1[0], ["diagnosis_date_day", "anchor"]].tolist() == [0, "diagnosis_date"]
    assert pt.loc[p1[1], ["diagnosis_date_day", "diagnosis_date_dtf"]].tolist() == [0, "D"]  # 2020-03 -> day 0
    ex = pd.read_csv(tmp_path / "exposure.csv", dtype={"start_day": "Int64", "end_day": "Int64"})
    first = ex[ex["patient_id"] == p1[0]]
    assert first[["start_day", "end_day"]].values.tolist() == [[17, 141], [142, 210]]  # 2019-06-14 is day 0
    ae = pd.read_csv(tmp_path / "ae.csv", keep_default_na=False).set_index("patient_id")
    assert ae.loc[p1[1], ["start_day", "start_dtf"]].tolist() == [61, "D"]  # 2020-05 counts from 2020-05-01
    with pytest.raises(InputError, match="dates as days"):
        read_export(tmp_path)


def test_shifted_export_keeps_intervals_and_reimports(stored, fresh_engine, tmp_path):
    write_export(stored, tmp_path, deidentify=True, secret=SECRET, date_mode="shift")
    raws = read_export(tmp_path)
    again = _fresh(fresh_engine, raws)
    ids = pd.Series(["ZZ-SITE7-0001", "ZZ-SITE7-0002", "ZZ-SITE9-0003"])
    offsets = shift_offsets(ids, SECRET)
    assert offsets.abs().between(1, SHIFT_DAYS).all()
    before = stored["exposure"].sort_values(["patient_id", "start"]).reset_index(drop=True)
    ex = again["exposure"].sort_values(["patient_id", "start"]).reset_index(drop=True)
    by_id = dict(zip(pseudonyms(ids, SECRET), offsets, strict=True))
    moved = ex["start"] - pd.to_timedelta(ex["patient_id"].map(by_id).astype(int), unit="D")
    assert sorted(moved) == sorted(before["start"])  # every start moved by its patient's offset
    assert sorted((ex["end"] - ex["start"]).dropna()) == sorted((before["end"] - before["start"]).dropna())
    assert "mrn" not in raws["patient"] and again["patient"]["mrn"].isna().all()
    assert sorted(again["ae"]["start_dtc"].str.len()) == [7, 10]  # the partial date stays partial


def test_pseudonyms_are_stable_per_secret_and_rows_are_reordered():
    ids = pd.Series(["ZZ-SITE7-0002", "ZZ-SITE7-0001", "ZZ-SITE7-0002"])
    a, b = pseudonyms(ids, SECRET), pseudonyms(ids, SECRET + "!")
    assert a.tolist() == pseudonyms(ids, SECRET).tolist() and a.iloc[0] == a.iloc[2] != a.iloc[1]
    assert all(re.fullmatch(r"P[0-9a-f]{16}", p) for p in a) and not set(a) & set(b)
    offsets = shift_offsets(pd.Series([f"id{i}" for i in range(2000)]), SECRET)
    assert offsets.min() == -SHIFT_DAYS and offsets.max() == SHIFT_DAYS and (offsets != 0).all()


@pytest.mark.parametrize(
    ("secret", "message"),
    [pytest.param(None, "needs a secret", id="none"), pytest.param("short", "at least 16", id="short")],
)
def test_deidentification_needs_a_real_secret(stored, tmp_path, secret, message):
    with pytest.raises(InputError, match=message):
        write_export(stored, tmp_path, deidentify=True, secret=secret)


def test_deidentified_parquet_values_hold_no_identifier(stored, tmp_path):
    write_export(stored, tmp_path, fmt="parquet", deidentify=True, secret=SECRET, date_mode="shift")
    cells = []
    for path in tmp_path.glob("*.parquet"):
        frame = pd.read_parquet(path)
        cells += [str(v) for v in frame.to_numpy().ravel()] + list(frame.columns)
    text = "\n".join(cells)
    assert not [s for s in _identifiers() if s in text]
    assert pd.read_parquet(tmp_path / "exposure.parquet")["dose"].dtype == np.float64


def test_bad_calls_are_input_errors(stored, tmp_path):
    with pytest.raises(InputError, match="format 'docx' is not known; use csv, xlsx, parquet"):
        write_export(stored, tmp_path, fmt="docx")
    with pytest.raises(InputError, match="date_mode 'weeks'"):
        write_export(stored, tmp_path, deidentify=True, secret=SECRET, date_mode="weeks")
    with pytest.raises(InputError, match="holds no exported records"):
        read_export(tmp_path / "empty")
