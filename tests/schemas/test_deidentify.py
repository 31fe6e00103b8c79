"""Tests for tkitrack.schemas.deidentify: identifiers planted in every field of every record must not leak."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tkitrack.schemas.deidentify import AGE_CAP, FREE_TEXT, WITHHELD
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.export import write_export
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import column_dtypes, input_columns
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.storage import make_engine, transaction
from tkitrack.schemas.store import add_records, read_frames

SECRET = "a-long-random-secret-of-32-chars"
PID = "MRN-PID-778812"
#: A date of every precision in every date field (birth is an identifier: dropped whole).
DATES = {
    "patient": {"birth_date": "2005-04-17", "diagnosis_date": "2011-03-09", "reference_date": "2011-04",
                "height_date": "2011-03-10", "weight_date": "2009"},
    "molecular": {"specimen_date": "2011-02"}, "ihc": {"specimen_date": "2011-03-01"},
    "exposure": {"start": "2011-04-02", "end": "2011-10"}, "ae": {"start": "2011-06", "end": "2011-07-15"},
    "assessment": {"date": "2011-09-20"}, "procedure": {"date": "2014"}, "disease_event": {"date": "2012-05"},
    "followup": {"date": "2016-01-05", "death_date": ""},
}  # fmt: skip
#: Valid coded values; every other text field gets a planted identifier.
CODED = {
    "patient": {"sex": "F", "histology": "IMT", "height_cm": "140", "weight_kg": "35", "initials": "QXZ"},
    "molecular": {"gene_3p": "ALK", "method": "RNA_NGS"}, "ihc": {"result": "positive"},
    "exposure": {"drug": "crizotinib", "dose": "280", "unit": "mg/m2", "frequency": "BID", "reason": "toxicity"},
    "ae": {"verbatim": "true", "grade": "2"}, "assessment": {"response": "PR", "modality": "MRI"},
    "procedure": {"kind": "biopsy"}, "disease_event": {"kind": "recurrence"}, "followup": {"vital_status": "alive"},
}  # fmt: skip


def _planted(record: str, column: str) -> str:
    info = field_info(RECORD_MODELS[record], column)
    text = f"Dr Quux {record[:3]}{column[:6]} MRN778812 2011-03-09"
    return text[-info.max_length :] if info.max_length and len(text) > info.max_length else text


def _raw() -> dict[str, pd.DataFrame]:
    out = {}
    for record in RECORD_MODELS:
        row = {"patient_id": PID, **CODED[record], **DATES[record]}
        for column in input_columns(record):
            info = field_info(RECORD_MODELS[record], column)
            typed = column_dtypes(record).get(column, "string") == "string"
            if column not in row and typed and not info.vocab and column != "constructed_dates":
                row[column] = _planted(record, column)
        out[record] = pd.DataFrame([row])
    # an uncertain partner is two candidates with gene_5p empty (MO001): a second row plants the candidates
    molecular = out["molecular"]
    out["molecular"] = pd.concat([molecular.assign(gene_5p_candidates=""),
                                  molecular.assign(gene_5p="", gene_5p_candidates="Dr Quux|MRN778812 2011-03-09")],
                                 ignore_index=True)  # fmt: skip
    out["patient"] = pd.concat([out["patient"], pd.DataFrame([
        {"patient_id": "OLD-95", "age_at_diagnosis": "95", "diagnosis_date": "2019-01-01"},
        {"patient_id": "NO-AGE", "diagnosis_date": "2019-01-01"},
        {"patient_id": "TURNS-90", "age_at_diagnosis": "88", "diagnosis_date": "2010-01-01"},
        {"patient_id": "YOUNG", "age_at_diagnosis": "7.5", "diagnosis_date": "2010-01-01"},
    ])], ignore_index=True).fillna("")  # fmt: skip
    out["followup"] = pd.concat([out["followup"], pd.DataFrame([
        {"patient_id": p, "date": "2019-06-01", "vital_status": "alive"} for p in ("OLD-95", "NO-AGE")] + [
        {"patient_id": p, "date": "2015-06-01", "vital_status": "alive"} for p in ("TURNS-90", "YOUNG")])],
        ignore_index=True).fillna("")  # fmt: skip
    return out


@pytest.fixture
def stored(sqlite_url):
    engine = make_engine(sqlite_url)
    try:
        with transaction(engine) as session:
            add_records(session, _raw(), user="tester", source="planted")
        with transaction(engine) as session:
            return read_frames(session)
    finally:
        engine.dispose()


def _cells(path) -> list[str]:
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix == ".xlsx":
        frame = pd.concat(pd.read_excel(path, sheet_name=None, dtype=str).values())
    elif path.suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        return []
    return [str(v) for v in frame.to_numpy().ravel()]


def test_every_text_field_of_every_record_was_planted():
    raw = _raw()
    planted = {(r, c) for r, f in raw.items() for c in f.columns if f[c].astype(str).str.contains("MRN778812").any()}
    texts = {(r, c) for r, c in FREE_TEXT} | {("patient", "mrn"), ("patient", "initials")}
    assert texts - {("patient", "initials")} <= planted  # initials hold 8 characters: planted as QXZ


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
@pytest.mark.parametrize("mode", ["days", "shift"])
def test_no_planted_identifier_or_date_reaches_any_output_file(stored, tmp_path, mode, fmt):
    paths = write_export(stored, tmp_path, fmt=fmt, deidentify=True, secret=SECRET, date_mode=mode)
    full = [d for dates in DATES.values() for d in dates.values() if len(d) == 10]
    partial = {d for dates in DATES.values() for d in dates.values() if len(d) in (4, 7)}
    leaks = []
    for path in paths:
        blob = path.read_bytes()
        for needle in [PID, "MRN778812", "Quux", "QXZ", *full, *(d.replace("-", "") for d in full)]:
            if needle.encode() in blob:
                leaks.append((path.name, needle))
        leaks += [(path.name, cell) for cell in _cells(path) if cell in partial]
    assert leaks == []


def test_days_mode_turns_every_date_into_days(stored, tmp_path):
    write_export(stored, tmp_path, deidentify=True, secret=SECRET, date_mode="days")
    for record, dates in DATES.items():
        columns = pd.read_csv(tmp_path / f"{record}.csv", nrows=0).columns
        for column in dates:
            assert column not in columns, (record, column)
            if column != "birth_date":
                assert f"{column}_day" in columns and f"{column}_dtf" in columns, (record, column)


def test_shift_mode_keeps_the_precision_of_every_partial_date(stored, tmp_path):
    write_export(stored, tmp_path, deidentify=True, secret=SECRET, date_mode="shift")
    pt = pd.read_csv(tmp_path / "patient.csv", dtype=str, keep_default_na=False)
    row = pt[pt["reference_date"] != ""].iloc[0]
    assert re.fullmatch(r"\d{4}-\d{2}", row["reference_date"]) and row["reference_date"] != "2011-04"
    assert re.fullmatch(r"\d{4}", row["weight_date"]) and row["weight_date"] in ("2008", "2010")
    assert pd.read_csv(tmp_path / "procedure.csv", dtype=str)["date"].iloc[0] in ("2013", "2015")


def test_ages_missing_stays_missing_and_safe_harbor_caps(stored, tmp_path):
    write_export(stored, tmp_path, deidentify=True, secret=SECRET, date_mode="days")
    from tkitrack.schemas.deidentify import pseudonyms

    ids = ["OLD-95", "NO-AGE", "TURNS-90", "YOUNG", PID]
    by = dict(zip(pseudonyms(pd.Series(ids), SECRET), ids, strict=True))
    pt = pd.read_csv(tmp_path / "patient.csv", dtype=str, keep_default_na=False)
    ages = dict(zip(pt["patient_id"].map(by), pt["age_at_diagnosis"], strict=True))
    # 95 -> 90; no age and no birth date -> missing (not 90); 88 at diagnosis in 2010 and alive in 2015: older
    # than 89 in the record -> 90; 7.5 stays; the planted patient's age comes from birth (2005-04) to 2011-03: 5
    assert ages == {"OLD-95": str(float(AGE_CAP)), "NO-AGE": "", "TURNS-90": str(float(AGE_CAP)), "YOUNG": "7.5",
                    PID: "5.0"}  # fmt: skip


def test_free_text_is_kept_only_by_name_and_identifiers_never(stored, tmp_path):
    write_export(stored, tmp_path / "a", deidentify=True, secret=SECRET, keep_text=["molecular.panel"])
    molecular = pd.read_csv(tmp_path / "a" / "molecular.csv", dtype=str)
    assert molecular["panel"].iloc[0] == _planted("molecular", "panel")
    assert "specimen" not in molecular and "karyotype" not in molecular
    ihc = pd.read_csv(tmp_path / "a" / "ihc.csv", dtype=str)
    assert ihc["marker"].tolist() == [WITHHELD]  # required free text: the column stays, the value is withheld
    with pytest.raises(InputError, match=r"patient\.mrn \(a direct identifier: never exported"):
        write_export(stored, tmp_path / "b", deidentify=True, secret=SECRET, keep_text=["patient.mrn"])
    with pytest.raises(InputError, match=r"cannot keep ae\.grade"):
        write_export(stored, tmp_path / "c", deidentify=True, secret=SECRET, keep_text=["ae.grade"])


def test_a_known_gene_is_kept_and_other_text_in_its_column_withheld(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    try:
        with transaction(engine) as session:
            add_records(session, {"patient": pd.DataFrame({"patient_id": ["A", "B"]}), "molecular": pd.DataFrame(
                {"patient_id": ["A", "B"], "gene_3p": "ALK", "gene_5p": ["TPM3", ""],
                 "gene_5p_candidates": ["", "PTRH2|MRN778812"]})}, user="t")  # fmt: skip
        with transaction(engine) as session:
            frames = read_frames(session)
    finally:
        engine.dispose()
    write_export(frames, tmp_path, deidentify=True, secret=SECRET)
    molecular = pd.read_csv(tmp_path / "molecular.csv", dtype=str, keep_default_na=False)
    assert sorted(molecular["gene_5p"]) == ["", "TPM3"]
    assert sorted(molecular["gene_5p_candidates"]) == ["", WITHHELD]


def test_every_text_field_is_declared_coded_or_free_text():
    """A new text field without a vocabulary must say it is free text, or a de-identified export would leak it."""
    coded = {"patient_id", "constructed_dates"}  # pseudonymised; names of date fields (DT005)
    undeclared = [
        (record, name) for record, model in RECORD_MODELS.items() for name, f in model.model_fields.items()
        if "str" in str(f.annotation) and not name.endswith("_dtc") and name not in coded
        and not (lambda i: i.vocab or i.free_text or i.identifier or i.derived)(field_info(model, name))
    ]  # fmt: skip
    assert undeclared == []
