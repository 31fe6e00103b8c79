"""Tests for tkitrack.schemas.templates: template files written once, workbooks read sheet by sheet."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import Workbook

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.templates import read_template, write_template


def _book(path, sheets: dict[str, list[list]]):
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


PATIENT = [["patient_id", "sex", "diagnosis_date"], ["P1", "F", dt.datetime(2019, 6, 14)]]
EXPOSURE = [["patient_id", "drug", "dose", "unit", "frequency", "start"],
            ["P1", "crizotinib", 280, "mg/m2", "BID", dt.datetime(2019, 7, 1)]]  # fmt: skip


def test_every_sheet_named_after_a_record_type_is_read(tmp_path):
    """Issue 17.3: sheets after the first were ignored silently."""
    _book(tmp_path / "site3.xlsx", {"patient": PATIENT, "exposure": EXPOSURE, "data_dictionary": [["record"]]})
    raws, sources = read_template(tmp_path)
    assert sorted(raws) == ["exposure", "patient"]
    assert sources["exposure"] == f"{tmp_path / 'site3.xlsx'}!exposure"
    frame, found = parse_records("exposure", raws["exposure"])
    assert found.empty and frame.loc[0, "start_dtc"] == "2019-07-01" and frame.loc[0, "dose"] == 280.0


def test_other_sheets_are_refused_by_name(tmp_path):
    _book(tmp_path / "site3.xlsx", {"patient": PATIENT, "Exposures 2019": EXPOSURE, "notes": [["x"]]})
    with pytest.raises(InputError, match=r"sheet\(s\) 'Exposures 2019', 'notes' are not record types"):
        read_template(tmp_path)


def test_a_single_sheet_workbook_is_the_record_of_its_file_name(tmp_path):
    _book(tmp_path / "patient.xlsx", {"Sheet1": PATIENT})
    raws, sources = read_template(tmp_path / "patient.xlsx")
    assert list(raws) == ["patient"] and sources["patient"].endswith("patient.xlsx")
    _book(tmp_path / "patient.xlsx", {"exposure": EXPOSURE})
    with pytest.raises(InputError, match="named patient but its sheet 'exposure' names exposure"):
        read_template(tmp_path / "patient.xlsx")


def test_a_record_given_twice_is_refused(tmp_path):
    _book(tmp_path / "site3.xlsx", {"patient": PATIENT, "exposure": EXPOSURE})
    (tmp_path / "patient.csv").write_text("patient_id\nP2\n")
    with pytest.raises(InputError, match=r"two sources for patient \(.*patient\.csv and .*site3\.xlsx!patient\)"):
        read_template(tmp_path)


def test_template_files_are_not_overwritten_without_force(tmp_path):
    paths = write_template(tmp_path / "t")
    assert [p.name for p in paths] == [f"{r}.csv" for r in RECORD_MODELS] + ["data_dictionary.csv"]
    (tmp_path / "t" / "ae.csv").write_text("patient_id,term,grade\nP1,Nausea,2\n")  # filled in by a site
    with pytest.raises(InputError, match=r"ae\.csv.* already exist"):
        write_template(tmp_path / "t")
    assert "Nausea" in (tmp_path / "t" / "ae.csv").read_text()
    write_template(tmp_path / "t", force=True)
    assert (tmp_path / "t" / "ae.csv").read_text().strip() == ",".join(input_columns("ae"))


def test_xlsx_template_reads_back_as_empty_records(tmp_path):
    write_template(tmp_path / "x", fmt="xlsx")
    raws, _ = read_template(tmp_path / "x")
    assert sorted(raws) == sorted(RECORD_MODELS)
    assert all(list(raws[r].columns) == input_columns(r) and raws[r].empty for r in RECORD_MODELS)
