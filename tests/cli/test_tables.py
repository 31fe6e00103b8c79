"""`tkitrack table NAME` writes publication tables as HTML, CSV and DOCX and shows them in the terminal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture
def filled(sqlite_url, run_cli):
    assert run_cli(sqlite_url, "import", str(SAMPLE / "published")).exit_code == 0
    return lambda *args: run_cli(sqlite_url, *args)


def test_table1_writes_three_formats_and_prints(filled, tmp_path):
    result = filled("table", "table1", "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"table1.html", "table1.csv", "table1.docx"}
    assert "Table 1. Patient and disease characteristics" in result.stdout
    assert "All patients (N=7)" in result.stdout and "note: " in result.stdout
    csv = pd.read_csv(out / "table1.csv", keep_default_na=False)
    assert csv.iloc[0, :2].tolist() == ["Title", "Table 1. Patient and disease characteristics"]
    female = csv[(csv["Section"] == "Sex") & (csv["Characteristic"] == "Female")]
    assert female["All patients (N=7)"].tolist() == ["4 (57%)"]  # the letter, Ouyang case 2, two Tan cases
    from docx import Document

    doc = Document(str(out / "table1.docx"))
    assert doc.paragraphs[0].text == "Table 1. Patient and disease characteristics" and len(doc.tables) == 1
    html = (out / "table1.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "ALK-rearranged infantile-fibrosarcoma-like tumour" in html


def test_all_tables_csv_only_without_terminal_output(filled, tmp_path):
    result = filled("table", "all", "-o", str(tmp_path / "out"), "--format", "csv", "--no-show")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "ae.csv",
        "exposure.csv",
        "response.csv",
        "table1.csv",
        "tte.csv",
    ]
    assert "note:" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["table9"], "unknown table 'table9'", id="name"),
        pytest.param(["table1", "--format", "xlsx"], "--format takes html, csv and/or docx", id="format"),
        pytest.param(["response", "--conf-level", "1.5"], "--conf-level must lie between 0 and 1", id="conf"),
        pytest.param(["table1", "--by", "eye_colour"], "--by must be histology, index_drug, sex or source", id="by"),
    ],
)
def test_bad_options_exit_2(filled, tmp_path, args, message):
    result = filled("table", *args, "-o", str(tmp_path))
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output
