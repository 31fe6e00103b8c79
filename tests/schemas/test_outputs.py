"""Tests for tkitrack.schemas.outputs: no silent overwrite, no write through a symlink, formula cells neutralised."""

from __future__ import annotations

import io
import os

import pandas as pd
import pytest

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.outputs import check_outputs, neutralise_cells, open_output, write_csv, write_text, write_xlsx
from tkitrack.schemas.readers import read_csv_cells, read_workbook, restore_cells

#: Values a spreadsheet would run, values that look risky but are not, and values that must come back as given.
CELLS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "-5", "+5", "-1.5e3", "2019-06",
         "'=already quoted", "''@twice", "'plain apostrophe", "plain", "", "a,b \"quoted\""]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "written"),
    [
        pytest.param("=1+1", "'=1+1", id="equals"),
        pytest.param("+1+1", "'+1+1", id="plus"),
        pytest.param("-2+3", "'-2+3", id="minus-formula"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("\tx", "'\tx", id="tab"),
        pytest.param("\rx", "'\rx", id="carriage-return"),
        pytest.param("-5", "-5", id="negative-number-untouched"),
        pytest.param("+1.5e3", "+1.5e3", id="signed-exponent-untouched"),
        pytest.param("-", "'-", id="a-lone-minus-is-not-a-number"),
        pytest.param("'=x", "''=x", id="apostrophe-then-formula"),
        pytest.param("'x", "'x", id="apostrophe-then-text-untouched"),
        pytest.param("x=1", "x=1", id="formula-character-inside"),
    ],
)
def test_neutralise_exactly_the_cells_a_spreadsheet_would_run(value, written):
    assert neutralise_cells(pd.Series([value])).tolist() == [written]
    assert restore_cells(pd.Series([written])).tolist() == [value]


def test_csv_round_trip_restores_every_value(tmp_path):
    frame = pd.DataFrame({"text": [c for c in CELLS if c != "\rCR"], "n": range(len(CELLS) - 1)})
    write_csv(frame, tmp_path / "x.csv")
    raw = (tmp_path / "x.csv").read_text()
    assert "\n=HYPERLINK" not in raw and "'=HYPERLINK" in raw and "\n-5," in raw
    back = read_csv_cells(tmp_path / "x.csv")
    assert back["text"].tolist() == frame["text"].tolist()
    assert back["n"].tolist() == [str(i) for i in range(len(CELLS) - 1)]


def test_a_bare_carriage_return_is_quoted_not_taken_for_a_line_end(tmp_path):
    frame = pd.DataFrame({"text": ["\rCR", "old\rmac", "fine"], "n": [1, 2, 3]})
    write_csv(frame, tmp_path / "x.csv")
    assert read_csv_cells(tmp_path / "x.csv")["text"].tolist() == ["\rCR", "old\rmac", "fine"]


def test_xlsx_round_trip_restores_every_value_and_holds_no_formula(tmp_path):
    from openpyxl import load_workbook

    cells = [c for c in CELLS if c != "\rCR"]  # XML normalises a lone carriage return; CSV keeps it
    write_xlsx({"ae": pd.DataFrame({"text": cells, "n": range(len(cells))})}, tmp_path / "ae.xlsx")
    sheet = load_workbook(tmp_path / "ae.xlsx")["ae"]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert read_workbook(tmp_path / "ae.xlsx")["ae"]["text"].fillna("").tolist() == cells


def test_an_existing_file_is_refused_and_kept(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("precious")
    with pytest.raises(InputError, match=r"out\.csv already exist.*--force"):
        write_text(target, "new")
    assert target.read_text() == "precious"
    write_text(target, "new", force=True)
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left behind


def test_a_symlink_is_never_followed(tmp_path):
    secret = tmp_path / "elsewhere.txt"
    secret.write_text("do not touch")
    link = tmp_path / "out.csv"
    link.symlink_to(secret)
    with pytest.raises(InputError, match="already exist"):
        write_text(link, "x")
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere.txt")
    with pytest.raises(InputError, match="already exist"):
        write_text(dangling, "x")
    assert not (tmp_path / "nowhere.txt").exists()
    write_text(link, "replaced", force=True)  # the link itself is replaced by a file
    assert not link.is_symlink() and link.read_text() == "replaced"
    assert secret.read_text() == "do not touch"


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "half.csv"
    with pytest.raises(RuntimeError), open_output(target) as fh:
        fh.write("some rows")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_new_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "x.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o644


def test_check_outputs_names_every_existing_file_and_folders(tmp_path):
    (tmp_path / "a.csv").write_text("")
    (tmp_path / "b.csv").write_text("")
    (tmp_path / "c.csv").mkdir()
    with pytest.raises(InputError, match=r"a\.csv, .*b\.csv already exist"):
        check_outputs([tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "new.csv"])
    with pytest.raises(InputError, match="a folder is in the way"):
        check_outputs([tmp_path / "c.csv"], force=True)
    check_outputs([tmp_path / "a.csv"], force=True)


def test_write_csv_to_a_stream_neutralises_too():
    stream = io.StringIO()
    write_csv(pd.DataFrame({"value": ["=cmd|' /C calc'!A0", "-5"]}), stream)
    assert stream.getvalue() == "value\n'=cmd|' /C calc'!A0\n-5\n"
