"""Tests for tkitrack.schemas.readers: strict CSV (ragged rows refused) and workbooks as Excel users write them."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import Workbook

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.readers import read_csv_cells, read_workbook


def _csv(tmp_path, text: str, name: str = "ds.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param("a,b\n1,2\n3,4,x,y,z\n", "line 3 has 5 field(s); the header has 2 fields", id="longer-row"),
        pytest.param("a,b,c\n1,2,3\n4,5\n", "line 3 has 2 field(s); the header has 3 fields", id="shorter-row"),
        pytest.param('a,b\n"x\ny",1\n1,2,3\n', "line 4 has 3 field(s)", id="line-counts-a-quoted-newline"),
        pytest.param("a,b\n1,2,\n", "line 2 has 3 field(s)", id="trailing-comma"),
        pytest.param('a,b\n"A,"x\n', "line 2: ", id="broken-quote"),
        pytest.param("a,a\n1,2\n", "column(s) a appear twice", id="duplicate-header"),
        pytest.param("", "the file is empty", id="empty-file"),
    ],
)
def test_a_ragged_or_broken_csv_is_refused_with_file_and_line(tmp_path, text, says):
    path = _csv(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_csv_cells(path)
    assert str(err.value).startswith(f"{path}: ") and says in str(err.value)


def test_a_row_with_three_extra_fields_no_longer_shifts_the_columns(tmp_path):
    """Issue 17: pandas took the extra fields as an index and every randomisation date was lost."""
    path = _csv(tmp_path, "USUBJID,DSDECOD,DSSTDTC\nA,RANDOMIZED,2014-01-02,x,y,z\nB,RANDOMIZED,2014-01-05\n")
    with pytest.raises(InputError, match="line 2 has 6 field"):
        read_csv_cells(path)


def test_csv_cells_stay_text_blank_lines_skipped_bom_removed(tmp_path):
    path = _csv(tmp_path, "\ufeffpatient_id,dose\n\nP1,007\nP2,\n")
    frame = read_csv_cells(path)
    assert list(frame.columns) == ["patient_id", "dose"]
    assert frame.values.tolist() == [["P1", "007"], ["P2", ""]]


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "patient.csv"
    path.write_bytes(b"patient_id,sex\nP1,F\n\xff\xfe,F\n")
    with pytest.raises(InputError, match=r"line 3 is not UTF-8 \(byte 20\)"):
        read_csv_cells(path)


def _book(path, sheets: dict[str, list[list]]):
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_excel_dates_numbers_and_cached_formulas_are_read_as_typed(tmp_path):
    path = _book(tmp_path / "exposure.xlsx", {"exposure": [
        ["patient_id", "dose", "start", "end", "serious"],
        [1001, 200.0, dt.datetime(2004, 5, 7), dt.datetime(2004, 6, 1, 10, 30), True],
        [],
        ["P2", 1.5, dt.date(2004, 5, 8), None, False],
    ]})  # fmt: skip
    frame = read_workbook(path)["exposure"]
    assert frame.values.tolist() == [["1001", "200", "2004-05-07", "2004-06-01T10:30", "true"],
                                     ["P2", "1.5", "2004-05-08", "", "false"]]  # fmt: skip


def test_a_formula_without_a_computed_value_is_refused_with_its_cell(tmp_path):
    path = _book(tmp_path / "exposure.xlsx", {"exposure": [["patient_id", "dose"], ["P1", 200],
                                                           ["P2", "=B2*0.8"], ["P3", "=B2/0"]]})  # fmt: skip
    with pytest.raises(InputError) as err:
        read_workbook(path)
    assert "exposure.xlsx!B3 holds a formula without a computed value; exposure.xlsx!B4" in str(err.value)
    assert "nothing was read" in str(err.value)


def test_cells_with_an_excel_error_are_refused(tmp_path):
    path = _book(tmp_path / "ae.xlsx", {"ae": [["patient_id", "grade"], ["P1", "#DIV/0!"]]})
    with pytest.raises(InputError, match=r"ae\.xlsx!B2 holds the Excel error #DIV/0!"):
        read_workbook(path)


def test_a_value_without_a_header_names_its_cell(tmp_path):
    path = _book(tmp_path / "multi.xlsx", {"patient": [["patient_id", "sex"], ["P1", "F", "extra"]],
                                           "ae": [["patient_id"]]})  # fmt: skip
    with pytest.raises(InputError, match=r"multi\.xlsx!patient!C2: a value \('extra'\) in a column without a header"):
        read_workbook(path)


def test_every_sheet_is_read_and_empty_ones_left_out(tmp_path):
    path = _book(tmp_path / "site.xlsx", {"patient": [["patient_id"], ["P1"]], "ae": [["patient_id", "term"]],
                                          "Sheet3": []})  # fmt: skip
    sheets = read_workbook(path)
    assert list(sheets) == ["patient", "ae"]
    assert sheets["patient"]["patient_id"].tolist() == ["P1"] and sheets["ae"].empty


def test_a_zip_that_is_not_a_workbook_is_an_input_error(tmp_path):
    import zipfile

    with zipfile.ZipFile(tmp_path / "x.xlsx", "w") as z:
        z.writestr("hello.txt", "not a workbook")
    with pytest.raises(InputError, match=r"x\.xlsx: not a readable XLSX workbook"):
        read_workbook(tmp_path / "x.xlsx")
