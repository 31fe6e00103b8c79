"""`tkitrack template / import / validate / export` through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def _write(folder: Path, record: str, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{record}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _good(folder: Path) -> Path:
    _write(folder, "patient", [
        {"patient_id": "P1", "sex": "F", "birth_date": "2013-02", "diagnosis_date": "2019-01-10", "histology": "IMT",
         "height_cm": "118", "weight_kg": "21"},
        {"patient_id": "P2", "sex": "M", "birth_date": "2010", "diagnosis_date": "2018-05-02", "histology": "IMT",
         "height_cm": "130", "weight_kg": "27"},
    ])  # fmt: skip
    _write(folder, "exposure", [
        {"patient_id": "P1", "drug": "crizotinib", "dose": "200", "unit": "mg", "frequency": "QD",
         "start": "2019-02-01", "end": "2019-08-01", "reason": "toxicity"},
        {"patient_id": "P2", "drug": "crizotinib", "dose": "280", "unit": "mg/m2", "frequency": "BID",
         "start": "2018-06-01", "end": "", "reason": ""},
    ])  # fmt: skip
    _write(
        folder,
        "followup",
        [
            {"patient_id": "P1", "date": "2023-08-01", "vital_status": "alive"},
            {"patient_id": "P2", "date": "2020-01-15", "vital_status": "alive"},
        ],
    )
    return folder


def test_template_writes_every_record_type_and_a_dictionary(run_cli, tmp_path):
    result = run_cli("sqlite:///unused.db", "template", "-o", str(tmp_path / "t"))
    assert result.exit_code == 0, result.output
    for record in RECORD_MODELS:
        header = (tmp_path / "t" / f"{record}.csv").read_text().strip().split(",")
        assert header == input_columns(record)
    dictionary = pd.read_csv(tmp_path / "t" / "data_dictionary.csv")
    gait = dictionary[(dictionary["record"] == "exposure") & (dictionary["column"] == "unit")]
    assert gait["allowed"].item() == "mg | mg/m2 | mg/kg"
    assert set(dictionary["record"]) == set(RECORD_MODELS)


def test_import_lands_whole_and_is_audited(cli, tmp_path):
    result = cli("import", str(_good(tmp_path / "in")))
    assert result.exit_code == 0, result.output
    assert "imported 6 records" in result.output
    listed = json.loads(cli("exposure", "list", "--format", "json").stdout)
    assert [(r["patient_id"], r["dose"], r["end"]) for r in listed] == [
        ("P1", 200.0, "2019-08-01"),
        ("P2", 280.0, None),
    ]
    trail = json.loads(cli("audit", "log", "--format", "json").stdout)
    assert len(trail) == 7 and [t["action"] for t in trail] == ["insert"] * 6 + ["import"]
    detail = json.loads(trail[-1]["new_value"])
    assert [(f["file"].rsplit("/", 1)[-1], f["rows_read"], f["groups"]) for f in detail["files"]] == [
        (f"{r}.csv", n, [{"rows": n, "outcome": "imported", "record": r, "records": n, "reason": ""}])
        for r, n in (("exposure", 2), ("followup", 2), ("patient", 2))
    ]
    assert "6 source rows read: 6 imported (a record each), 0 merged into records, 0 not imported" in result.output
    assert cli("audit", "verify").exit_code == 0


def test_sdtm_import_with_every_evaluator_accounts_for_every_row(cli, tmp_path):
    sdtm = Path(__file__).resolve().parents[1] / "data" / "pharmaverse" / "sdtm"
    folder = tmp_path / "sdtm"
    folder.mkdir()
    subject = "01-701-1015"  # 9 RS rows: 3 investigator, 6 independent (3 accepted)
    for name in ("dm.csv", "rs_onco_recist.csv"):
        frame = pd.read_csv(sdtm / name, dtype=str, keep_default_na=False)
        frame[frame["USUBJID"] == subject].to_csv(folder / name, index=False)
    refused = cli("import", str(folder), "--evaluator", "some")
    assert refused.exit_code == 2
    assert "--evaluator must be one of INVESTIGATOR, INDEPENDENT, ALL, got 'SOME'" in refused.output
    result = cli("import", str(folder), "--evaluator", "all")
    assert result.exit_code == 0, result.output
    assert "10 source rows read: 1 imported (a record each), 6 merged into records, 3 not imported" in result.output
    listed = json.loads(cli("assess", "list", "--format", "json").stdout)
    assert sorted(r["evaluator"] for r in listed) == ["INDEPENDENT"] * 3 + ["INVESTIGATOR"] * 3
    trail = json.loads(cli("audit", "log", "--format", "json").stdout)
    rs = next(f for f in json.loads(trail[-1]["new_value"])["files"] if f["file"] == "rs_onco_recist.csv")
    assert rs["rows_read"] == 9 and [(g["rows"], g["outcome"], g["reason"]) for g in rs["groups"]] == [
        (3, "not imported", "3 RS rows of evaluator INDEPENDENT ASSESSOR: not imported; not the accepted read "
                            "(RSACPTFL is not Y)"),
        (6, "merged", "responses by subject, evaluator and date"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("record", "row", "field", "value", "rule"),
    [
        pytest.param("exposure", {"dose": "-200"}, "dose", "-200.0", "FLD003", id="negative-dose"),
        pytest.param("exposure", {"start": "2019-13-01"}, "start", "2019-13-01", "DT001", id="malformed-date"),
        pytest.param("exposure", {"end": "2018-01-01"}, "end", "2018-01-01", "EX001", id="end-before-start"),
        pytest.param("exposure", {"drug": "aspirin"}, "drug", "aspirin", "FLD002", id="unknown-drug"),
    ],
)
def test_one_bad_row_rejects_the_whole_import_and_changes_nothing(cli, dump, tmp_path, record, row, field, value, rule):
    folder = _good(tmp_path / "in")
    cli("import", str(_good(tmp_path / "first").joinpath("patient.csv")))  # something already in the database
    frame = pd.read_csv(folder / f"{record}.csv", dtype=str, keep_default_na=False)
    for key, val in row.items():
        frame.loc[1, key] = val
    frame.to_csv(folder / f"{record}.csv", index=False)
    (folder / "patient.csv").write_text("patient_id,sex\nP3,F\n")
    before = dump()
    result = cli("import", str(folder))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert rule in result.stderr and field in result.stderr and value in result.stderr
    assert f"{record}.csv" in result.stderr and str(folder) in result.stderr  # the file is named
    assert "nothing was written" in result.stderr
    assert dump() == before


def test_ae_grade_that_does_not_exist_is_named_with_its_row(cli, dump, tmp_path):
    folder = _good(tmp_path / "in")
    (folder / "patient.csv").unlink()
    cli("import", str(_good(tmp_path / "seed").joinpath("patient.csv")))
    _write(folder, "ae", [{"patient_id": "P1", "term": "Nausea", "grade": "2", "start": "2019-03"},
                          {"patient_id": "P1", "term": "Gait disturbance", "grade": "4", "start": "2019-07"}])  # fmt: skip
    before = dump()
    result = cli("import", str(folder))
    assert result.exit_code == 1
    row = [line for line in result.stderr.splitlines() if "AE003" in line]
    assert row and "│ 2 " in row[0] and "grade" in row[0]
    assert dump() == before


def test_sdtm_folder_imports_as_given(cli):
    sdtm = Path(__file__).resolve().parents[1] / "data" / "pharmaverse" / "sdtm"
    if not (sdtm / "dm.csv").exists():
        sdtm = sdtm.parent
    result = cli("import", str(sdtm))
    assert result.exit_code == 0, result.output
    assert "patient 306" in result.output
    assert "(SDTM)" in result.output


def test_validate_folder_exit_codes_and_previous_listing(run_cli, tmp_path):
    clean = _good(tmp_path / "clean")
    assert run_cli("sqlite:///unused.db", "validate", str(clean)).exit_code == 0
    bad = _good(tmp_path / "bad")
    frame = pd.read_csv(bad / "exposure.csv", dtype=str, keep_default_na=False)
    frame.loc[0, "end"] = "2019-01-01"
    frame.to_csv(bad / "exposure.csv", index=False)
    first = run_cli("sqlite:///unused.db", "validate", str(bad), "--format", "csv", "-o", str(tmp_path / "q1.csv"))
    assert first.exit_code == 1
    listing = pd.read_csv(tmp_path / "q1.csv")
    assert listing[["patient_id", "record", "row", "field", "rule_id"]].values.tolist() == [
        ["P1", "exposure", 1, "end", "EX001"]
    ]
    # fix the end date, break the dose: the old query is resolved, the new one is new
    frame.loc[0, "end"] = "2019-08-01"
    frame.loc[1, "dose"] = "0"
    frame.to_csv(bad / "exposure.csv", index=False)
    second = run_cli(
        "sqlite:///unused.db", "validate", str(bad), "--format", "json", "--previous", str(tmp_path / "q1.csv")
    )
    assert second.exit_code == 1
    rows = json.loads(second.stdout)
    status = {(r["rule_id"], r["status"]) for r in rows}
    assert ("EX001", "resolved") in status and ("EX006", "new") in status
    assert run_cli("sqlite:///unused.db", "validate", str(bad), "--format", "xml").exit_code == 2


def test_validate_the_sample_broken_files_gives_the_expected_listing(run_cli, tmp_path):
    out = tmp_path / "q.csv"
    result = run_cli("sqlite:///unused.db", "validate", str(SAMPLE / "broken"), "--format", "csv", "-o", str(out))
    assert result.exit_code == 1
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    expected = pd.read_csv(SAMPLE / "broken" / "expected_listing.csv", dtype=str, keep_default_na=False)
    key = ["patient_id", "record", "row", "field", "rule_id", "severity"]
    assert sorted(map(tuple, got[key].values.tolist())) == sorted(map(tuple, expected[key].values.tolist()))


def test_export_then_import_round_trips(cli, run_cli, tmp_path, sqlite_template):
    sqlite_url = f"sqlite:///{shutil.copyfile(sqlite_template, tmp_path / 'second.db')}"
    cli("import", str(SAMPLE / "published"))
    assert cli("export", "-o", str(tmp_path / "out")).exit_code == 0
    assert (tmp_path / "out" / "data_dictionary.csv").exists()
    result = run_cli(sqlite_url, "import", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    for record in ("patient", "exposure", "ae", "assessment", "followup"):
        a = json.loads(cli(_group(record), "list", "--format", "json").stdout)
        b = json.loads(run_cli(sqlite_url, _group(record), "list", "--format", "json").stdout)
        strip = [{k: v for k, v in r.items() if k != "id"} for r in a]
        assert strip == [{k: v for k, v in r.items() if k != "id"} for r in b], record


def _group(record: str) -> str:
    return {"assessment": "assess", "disease_event": "event"}.get(record, record)


def test_deidentified_export_leaks_no_identifier(cli, tmp_path):
    folder = _good(tmp_path / "in")
    frame = pd.read_csv(folder / "patient.csv", dtype=str, keep_default_na=False)
    frame["mrn"] = ["MRN-778812", "MRN-990154"]
    frame["initials"] = ["QXZ", "JWV"]
    frame.to_csv(folder / "patient.csv", index=False)
    assert cli("import", str(folder)).exit_code == 0
    result = cli("export", "-o", str(tmp_path / "deid"), "--deidentify", "--secret", "a-long-random-secret-of-32-chars")
    assert result.exit_code == 0, result.output
    blob = b"".join(p.read_bytes() for p in (tmp_path / "deid").iterdir())
    for identifier in ("MRN-778812", "MRN-990154", "QXZ", "JWV", "P1", "P2", "2019-02-01", "2013-02", "2019-01-10"):
        assert identifier.encode() not in blob, identifier


def test_bad_file_in_a_real_subprocess_gives_no_traceback(tmp_path, tkitrack_exe):
    exe = tkitrack_exe
    db = tmp_path / "x.db"
    subprocess.run([exe, "--db", str(db), "init"], check=True, capture_output=True)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "patient.csv").write_bytes(b"patient_id,sex\n\xff\xfe,F\n")
    proc = subprocess.run([exe, "--db", str(db), "import", str(tmp_path / "in")], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "patient.csv" in proc.stderr


@pytest.mark.parametrize("fmt", ["xpt", "parquet"])
def test_export_sdtm_then_import_gives_the_same_records(cli, run_cli, tmp_path, sqlite_template, fmt):
    """`export --sdtm` then `import` of that folder into an empty database: the same records, field by field."""
    sqlite_url = f"sqlite:///{shutil.copyfile(sqlite_template, tmp_path / 'second.db')}"
    assert cli("import", str(SAMPLE / "published")).exit_code == 0
    result = cli("export", "--sdtm", "-o", str(tmp_path / "sdtm"), "--format", fmt, "--study-id", "PUBLISHED-CASES")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        f"wrote 23 SDTM datasets ({fmt}), define.xml and manifest.json to "
    )  # CE (disease events) since issue 10; GF, MI, PR and SUPPCE, SUPPGF, SUPPMI, SUPPPR since issue 12
    assert "DM 7, DS 1, EX 1, AE 2, RS 3, TU 1, TR 1, SS 3, VS 0" in result.stdout  # the letter: stop, 3 responses
    # the published cases' 5 disease events, 10 molecular findings, 39 IHC results and 7 procedures
    assert "CE 5, GF 10, MI 39, PR 7" in result.stdout
    assert {p.name for p in (tmp_path / "sdtm").iterdir()} >= {f"{d}.{fmt}" for d in ("ce", "gf", "mi", "pr")}
    result = run_cli(sqlite_url, "import", str(tmp_path / "sdtm"))
    assert result.exit_code == 0, result.output
    for record in RECORD_MODELS:
        a = json.loads(cli(_group(record), "list", "--format", "json").stdout)
        b = json.loads(run_cli(sqlite_url, _group(record), "list", "--format", "json").stdout)
        key = lambda r: json.dumps({k: v for k, v in r.items() if k != "id"}, sort_keys=True)  # noqa: E731
        assert sorted(map(key, a)) == sorted(map(key, b)), record


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--sdtm", "-o", "out", "--format", "banana"], "'banana' is not one of 'csv', 'xlsx', 'parquet', "
                     "'xpt', 'json'", id="sdtm-banana"),
        pytest.param(["--sdtm", "-o", "out", "--format", "xlsx"], "--format must be one of xpt, json, csv, parquet "
                     "with --sdtm, got 'xlsx'", id="sdtm-xlsx"),
        pytest.param(["-o", "out", "--format", "xpt"], "--format must be csv, xlsx or parquet for the records export",
                     id="records-xpt"),
        pytest.param(["--sdtm", "a", "-o", "b"], "--sdtm DIR and --sdtm -o DIR both given", id="two-targets"),
        pytest.param([], "give the folder to write into", id="no-target"),
        pytest.param(["--sdtm", "-o", "a", "--deidentify"], "--deidentify applies to the records export", id="sdtm-deid"),
    ],
)  # fmt: skip
def test_export_options_are_checked_before_anything_is_written(cli, tmp_path, args, message):
    result = cli("export", *[str(tmp_path / a) if a in ("out", "a", "b") else a for a in args], env={"COLUMNS": "250"})
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert not any((tmp_path / name).exists() for name in ("out", "a", "b"))


def test_export_dash_o_is_the_old_positional_folder(cli, tmp_path):
    cli("import", str(SAMPLE / "published"))
    assert cli("export", "-o", str(tmp_path / "new")).exit_code == 0
    old = cli("export", str(tmp_path / "old"))  # the retired spelling, for one release more
    assert old.exit_code == 0
    assert (
        "warning: the folder argument is deprecated and will be removed in the next release; use -o DIR" in old.stderr
    )
    new = sorted(p.name for p in (tmp_path / "new").iterdir())
    assert new == sorted(p.name for p in (tmp_path / "old").iterdir()) and "patient.csv" in new
    sdtm_old = cli("export", "--sdtm", str(tmp_path / "sdtm-old"))
    assert sdtm_old.exit_code == 0
    assert (
        "warning: --sdtm DIR is deprecated and will be removed in the next release; use --sdtm -o DIR"
        in sdtm_old.stderr
    )
    assert cli("export", "--sdtm", "-o", str(tmp_path / "sdtm-new")).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "sdtm-old").iterdir()) == sorted(
        p.name for p in (tmp_path / "sdtm-new").iterdir()
    )


def test_sample_broken_writes_the_package_files_and_refuses_to_replace_them(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("sqlite:///unused.db", "sample", "broken")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (SAMPLE / "broken").iterdir() if p.suffix in {".csv", ".md"})
    assert sorted(p.name for p in (tmp_path / "broken").iterdir()) == names
    for name in names:  # byte for byte, so the README's listing is the package's
        assert (tmp_path / "broken" / name).read_bytes() == (SAMPLE / "broken" / name).read_bytes(), name
    assert f"wrote {len(names)} files to broken" in result.stdout
    (tmp_path / "broken" / "ae.csv").write_text("edited")
    again = run_cli("sqlite:///unused.db", "sample", "broken")
    assert again.exit_code != 0 and "ae.csv" in again.output and "--force" in again.output
    assert (tmp_path / "broken" / "ae.csv").read_text() == "edited"  # nothing replaced
    assert run_cli("sqlite:///unused.db", "sample", "broken", "--force").exit_code == 0
    assert (tmp_path / "broken" / "ae.csv").read_bytes() == (SAMPLE / "broken" / "ae.csv").read_bytes()


@pytest.mark.parametrize("rows", [4_999, 5_000])
def test_an_import_either_side_of_the_progress_bar_prints_its_summary_first(cli, tmp_path, rows):
    """From 5,000 rows the import shows a transient progress bar on a terminal; below it, or on a pipe, none at all
    (rich writes an empty line there when a bar stops, before rich 15 even a disabled one). Either way the output
    starts with the summary, as the README's blocks show it."""
    _write(tmp_path / "in", "patient", [{"patient_id": f"P{i}", "sex": "F", "diagnosis_date": "2019-01-10",
                                         "histology": "IMT"} for i in range(rows)])  # fmt: skip
    result = cli("import", str(tmp_path / "in"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"imported {rows} records from "), result.stdout[:200]
    assert "\x1b[?25l" not in result.stdout  # no bar's live display off a terminal


def test_an_import_on_a_terminal_shows_the_bar_and_still_lands_whole(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes the output for a terminal: the bar is drawn
    _write(tmp_path / "in", "patient", [{"patient_id": f"P{i}", "sex": "F", "diagnosis_date": "2019-01-10",
                                         "histology": "IMT"} for i in range(5_000)])  # fmt: skip
    result = cli("import", str(tmp_path / "in"))
    assert result.exit_code == 0, result.output
    assert "\x1b[?25l" in result.stdout  # the bar's live display started (it hides the cursor)
    assert "imported 5000 records from " in result.stdout
    assert "5000 source rows read: 5000 imported" in result.stdout
