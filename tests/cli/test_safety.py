"""Bad input never shows internals, outputs never overwrite silently, exports hold no live formula (CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

MARKUP = ["[bold]P1[/bold]", "[/x]", "[link=file:///etc/passwd]x[/link]", ":warning:"]


def _folder(tmp_path: Path, pid: str = "P1", note: str = "[bold]note[/bold]") -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    pd.DataFrame([{"patient_id": pid, "sex": "F", "diagnosis_date": "2019-01-10", "histology": "IMT",
                   "primary_site": "[/x]", "note": note}]).to_csv(folder / "patient.csv", index=False)  # fmt: skip
    pd.DataFrame([{"patient_id": pid, "term": "[red]Leg ache[/red]", "verbatim": "true", "grade": "2",
                   "start": "2019-03"}]).to_csv(folder / "ae.csv", index=False)  # fmt: skip
    pd.DataFrame([{"patient_id": pid, "date": "2023-08-01", "vital_status": "alive"}]).to_csv(
        folder / "followup.csv", index=False
    )
    return folder


@pytest.mark.parametrize("pid", [pytest.param(p, id=f"id-{i}") for i, p in enumerate(MARKUP)])
def test_markup_in_records_prints_as_typed_in_every_table(cli, tmp_path, pid):
    """Issue 18.3: a record holding [bold] or [/x] could no longer be listed (exit 3)."""
    assert cli("import", str(_folder(tmp_path, pid))).exit_code == 0
    for args in (["patient", "list"], ["ae", "list"], ["timeline", pid], ["audit", "log"], ["audit", "log", pid]):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
        assert "Traceback" not in result.output and "internal error" not in result.output
        shown = result.stdout.replace("\n", "").replace("│", "").replace(" ", "")
        assert pid.replace(" ", "") in shown, args
    listed = cli("ae", "list").stdout.replace("\n", "").replace("│", "").replace(" ", "")
    assert "[red]Legache[/red]" in listed


def test_markup_in_a_refused_file_prints_in_the_error_table(cli, tmp_path):
    folder = _folder(tmp_path)
    frame = pd.read_csv(folder / "ae.csv", dtype=str)
    frame.loc[0, "grade"] = "[/bold]"
    frame.to_csv(folder / "ae.csv", index=False)
    result = cli("import", str(folder))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "[/bold]" in result.stderr and "FLD006" in result.stderr


def test_a_refused_import_prints_errors_first_and_warnings_by_rule(cli, tmp_path):
    """Issue 18.3: one real error was printed under 300 warnings."""
    folder = tmp_path / "in"
    folder.mkdir()
    ids = [f"P{i:03d}" for i in range(300)]
    pd.DataFrame({"patient_id": ids, "sex": "F"}).to_csv(folder / "patient.csv", index=False)  # PT003 x 300
    pd.DataFrame([{"patient_id": "P000", "term": "Nausea", "grade": "9", "start": "2019-03"}]).to_csv(
        folder / "ae.csv", index=False
    )
    result = cli("import", str(folder), "-o", str(tmp_path / "listing.csv"))
    assert result.exit_code == 1
    err = result.stderr
    assert err.index("FLD003") < err.index("warning(s) by rule") < err.index("PT003")
    summary = [line for line in err.splitlines() if "PT003" in line]
    assert len(summary) == 1 and "300" in summary[0]  # one line for 300 warnings
    listing = pd.read_csv(tmp_path / "listing.csv", dtype=str)
    assert (listing["rule_id"] == "PT003").sum() == 300 and (listing["rule_id"] == "FLD003").sum() == 1
    assert f"every query ({len(listing)}) written to" in err and len(listing) == 302  # FLD003, AE003, 300 PT003


@pytest.mark.parametrize(
    ("args", "made"),
    [
        pytest.param(["template", "-o", "{out}"], "{out}/patient.csv", id="template"),
        pytest.param(["export", "-o", "{out}"], "{out}/patient.csv", id="export"),
        pytest.param(["report", "-o", "{out}/r.html"], "{out}/r.html", id="report"),
        pytest.param(["validate", "-o", "{out}/q.csv"], "{out}/q.csv", id="validate-o"),
        pytest.param(["derive", "-o", "{out}"], "{out}/adsl.csv", id="derive"),
        pytest.param(["sample", "published", "-o", "{out}"], "{out}/patient.csv", id="sample-published"),
    ],
)
def test_outputs_are_never_replaced_without_force(cli, tmp_path, args, made):
    assert cli("import", str(_folder(tmp_path))).exit_code == 0
    out = tmp_path / "out"
    fill = [a.format(out=out) for a in args]
    first = cli(*fill)
    assert first.exit_code in (0, 1), first.output  # validate exits 1 on findings
    target = Path(made.format(out=out))
    target.write_text("precious, filled in by hand")
    again = cli(*fill)
    assert again.exit_code == 2 and "already exist" in again.stderr and "--force" in again.stderr
    assert target.read_text() == "precious, filled in by hand"
    assert cli(*fill, "--force").exit_code in (0, 1)
    assert target.read_text() != "precious, filled in by hand"


def test_export_does_not_write_through_a_symlink(cli, tmp_path):
    assert cli("import", str(_folder(tmp_path))).exit_code == 0
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("system file")
    (out / "ae.csv").symlink_to(victim)
    assert cli("export", "-o", str(out)).exit_code == 2
    assert cli("export", "-o", str(out), "--force").exit_code == 0
    assert victim.read_text() == "system file" and not (out / "ae.csv").is_symlink()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_cells_are_neutralised_and_restored_on_reimport(cli, run_cli, tmp_path, sqlite_template, fmt):
    """Issue 18.5: export, ADaM, list, audit log and validate -o kept cells starting with = + - @ as they were."""
    import shutil

    note = '=HYPERLINK("http://evil","click")'
    assert cli("import", str(_folder(tmp_path, pid="@P1", note=note))).exit_code == 0
    assert cli("export", "-o", str(tmp_path / "x"), "--format", fmt).exit_code == 0
    if fmt == "csv":
        text = (tmp_path / "x" / "patient.csv").read_text()
        assert "'=HYPERLINK" in text and "'@P1" in text and "\n=" not in text and ",=" not in text
    second = f"sqlite:///{shutil.copyfile(sqlite_template, tmp_path / 'second.db')}"
    assert run_cli(second, "import", str(tmp_path / "x")).exit_code == 0
    back = json.loads(run_cli(second, "patient", "list", "--format", "json").stdout)
    assert back[0]["patient_id"] == "@P1" and back[0]["note"] == note
    for args in (["patient", "list", "--format", "csv"], ["audit", "log", "--format", "csv"]):
        lines = cli(*args).stdout.splitlines()
        assert not [c for line in lines[1:] for c in line.split(",") if c and c[0] in "=+@"], args
        assert "'=HYPERLINK" in "\n".join(lines) or args[0] == "audit"


def test_a_long_id_and_a_nul_byte_get_clear_errors(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "patient.csv").write_bytes(b"patient_id,sex\n" + b"A" * 1_000_000 + b",F\nNUL\x00-42,F\n")
    result = cli("import", str(folder))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "FLD008" in result.stderr and "1,000,000 characters; at most 64" in result.stderr
    assert "FLD010" in result.stderr and len(result.stderr) < 20_000
    assert cli("patient", "list", "--format", "json").stdout.strip() == "[]"


def test_an_edit_longer_than_the_field_is_refused_on_both_back_ends(cli, dump, tmp_path):
    """Issue 17.2: PostgreSQL failed with exit 3 and SQL text, SQLite stored the value."""
    assert cli("import", str(_folder(tmp_path))).exit_code == 0
    before = dump()
    result = cli("patient", "edit", "P1", "--primary-site", "x" * 129, "--reason", "typo")
    assert result.exit_code == 1 and "FLD008" in result.stderr and "at most 128" in result.stderr
    assert "Traceback" not in result.output and "INSERT" not in result.output and "UPDATE" not in result.output
    assert dump() == before


def test_a_table_wider_than_the_terminal_loses_no_cell(monkeypatch, capsys):
    """Eleven columns cannot fit 60 characters: rich would crop the right-hand columns; every value must print."""
    import pandas as pd

    from tkitrack.cli._common import render

    monkeypatch.setenv("COLUMNS", "60")
    frame = pd.DataFrame([{f"column {i}": f"value-{i:02d}-end" for i in range(11)}])
    render(frame)
    out = capsys.readouterr().out
    for i in range(11):  # each whole: columns keep their 12-character minimum and none is cropped
        assert f"value-{i:02d}-end" in out, i
    assert "value-10-end" in out  # the last column is there whole, not cropped at the terminal's edge
