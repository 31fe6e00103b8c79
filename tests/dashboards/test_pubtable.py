"""Tests for tkitrack.dashboards.pubtable: one table, the same content in HTML, DOCX, CSV and the terminal."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from tkitrack.dashboards.pubtable import Column, PubTable


@pytest.fixture
def table() -> PubTable:
    rows = pd.DataFrame(
        {
            "group": ["Sex", "Sex", "Histology"],
            "label": ["Female", "Male", "IFS-like <b>x</b>"],
            "all": ["2 (50%)", "2 (50%)", "1 (25%)"],
            "a": ["1 (50%)", "1 (50%)", "1 (50%)"],
            "b": ["1 (50%)", "1 (50%)", "0 (0%)"],
        }
    )
    columns = [
        Column("all", "All patients (N=4)"),
        Column("a", "IMT (N=2)", "Histology"),
        Column("b", "Other (N=2)", "Histology"),
    ]
    return PubTable(
        "demo", "Table 1. Demo", "Characteristic", columns, rows, ["Counts are patients.", "Synthetic data."]
    )


def test_frame_and_csv(table):
    frame = table.to_frame()
    assert list(frame.columns) == ["Section", "Characteristic", "All patients (N=4)", "Histology: IMT (N=2)",
                                   "Histology: Other (N=2)"]  # fmt: skip
    assert frame.iloc[0].tolist() == ["Sex", "Female", "2 (50%)", "1 (50%)", "1 (50%)"]
    csv = table.to_csv_frame()
    assert csv.iloc[0, :2].tolist() == ["Title", "Table 1. Demo"]
    assert csv.iloc[-2:, :2].to_numpy().tolist() == [["Note", "Counts are patients."], ["Note", "Synthetic data."]]
    assert len(csv) == 1 + 3 + 2


def test_html_has_title_spanner_groups_notes_and_escapes(table):
    html = table.to_html()
    assert 'id="tk-demo"' in html and "Table 1. Demo" in html
    assert html.count(">Histology<") >= 2  # the spanner and the row group
    assert "IFS-like &lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "Counts are patients." in html and "Synthetic data." in html
    assert "overflow-wrap: break-word" in html  # wraps to the page instead of overflowing it


def test_docx_round_trip(table):
    from docx import Document
    from docx.enum.section import WD_ORIENT

    buffer = io.BytesIO()
    table.to_docx().save(buffer)
    doc = Document(io.BytesIO(buffer.getvalue()))
    assert doc.paragraphs[0].text == "Table 1. Demo" and doc.paragraphs[0].runs[0].bold
    (t,) = doc.tables
    cells = [[c.text for c in row.cells] for row in t.rows]
    assert cells[0] == ["", "", "Histology", "Histology"]  # spanner merged over its two columns
    assert cells[1] == ["Characteristic", "All patients (N=4)", "IMT (N=2)", "Other (N=2)"]
    assert cells[2] == ["Sex"] * 4  # a row group is one merged row
    assert cells[3] == ["Female", "2 (50%)", "1 (50%)", "1 (50%)"]
    assert [p.text for p in doc.paragraphs[-2:]] == ["Counts are patients.", "Synthetic data."]
    assert doc.sections[-1].orientation == WD_ORIENT.PORTRAIT  # 3 columns fit upright


def test_docx_wide_table_is_landscape():
    from docx.enum.section import WD_ORIENT

    rows = pd.DataFrame({"group": "", "label": ["x"], **{f"c{i}": ["1"] for i in range(6)}})
    wide = PubTable("w", "Wide", "Row", [Column(f"c{i}", f"C{i}") for i in range(6)], rows)
    doc = wide.to_docx()
    assert doc.sections[-1].orientation == WD_ORIENT.LANDSCAPE
    assert doc.sections[-1].page_width > doc.sections[-1].page_height


def test_from_frame_and_missing_columns():
    t = PubTable.from_frame("x", "Listing", pd.DataFrame({"Patient": ["P1"], "Days on drug": ["182"]}), ["n."])
    assert t.stub == "Patient" and [c.label for c in t.columns] == ["Days on drug"]
    assert t.to_frame().columns.tolist() == ["Patient", "Days on drug"]  # no empty Section column
    assert re.search(r"182", t.to_html())
    with pytest.raises(ValueError, match="rows lack columns"):
        PubTable("y", "Bad", "", [Column("z", "Z")], pd.DataFrame({"group": [""], "label": ["a"]}))
