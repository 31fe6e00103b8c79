"""`tkitrack table NAME` writes publication tables as HTML, CSV and DOCX and shows them in the terminal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture
def filled(sqlite_url, run_cli):
    assert run_cli(sqlite_url, "import", str(SAMPLE / "published")).exit_code == 0
    return lambda *args, **kwargs: run_cli(sqlite_url, *args, **kwargs)


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


def test_formats_repeat_and_the_retired_comma_list_still_works(filled, tmp_path):
    new = filled("table", "ae", "-o", str(tmp_path / "new"), "-f", "csv", "--format", "html", "--no-show")
    assert new.exit_code == 0 and new.stderr == ""
    old = filled("table", "ae", "-o", str(tmp_path / "old"), "--format=csv,html", "--no-show")
    assert old.exit_code == 0, old.output
    assert "warning: --format html,csv is deprecated" in old.stderr
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["ae.csv", "ae.html"]
    assert (tmp_path / "old" / "ae.csv").read_bytes() == (tmp_path / "new" / "ae.csv").read_bytes()


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
        pytest.param(["table9"], "'table9' is not one of 'table1', 'response'", id="name"),
        pytest.param(["table1", "--format", "xlsx"], "'xlsx' is not one of 'html', 'csv', 'docx'", id="format"),
        pytest.param(["table1", "--format", "html,xlsx"], "'xlsx' is not one of 'html', 'csv', 'docx'", id="comma"),
        pytest.param(["response", "--conf-level", "1.5"], "--conf-level must lie between 0 and 1", id="conf"),
        pytest.param(["table1", "--by", "eye_colour"], "--by must be histology, index_drug, sex or source", id="by"),
    ],
)
def test_bad_options_exit_2(filled, tmp_path, args, message):
    result = filled("table", *args, "-o", str(tmp_path), env={"COLUMNS": "250"})
    assert result.exit_code == 2 and message in " ".join(result.stderr.split()) and "Traceback" not in result.output
