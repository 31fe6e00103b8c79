"""Rule AS006 (a recorded response against RECIST 1.1 arithmetic on the sums) where the edit checks run: a
single-record add, an import and `validate`, on SQLite and PostgreSQL. A warning: it never blocks a write."""

from __future__ import annotations

import csv
import io

PATIENT = ["patient", "add", "P1", "--sex", "F", "--birth-date", "2013-05", "--diagnosis-date", "2019-06-14",
           "--histology", "IMT", "--height-cm", "120", "--weight-kg", "22"]  # fmt: skip
EXPOSURE = ["exposure", "add", "P1", "--drug", "crizotinib", "--dose", "100", "--unit", "mg", "--frequency", "BID",
            "--start", "2019-07-01"]  # fmt: skip
FOLLOWUP = ["followup", "add", "P1", "--date", "2021-01-01", "--vital-status", "alive"]
BASELINE = ["assess", "add", "P1", "--date", "2019-06-20", "--baseline", "true", "--sum-diameters", "100"]


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def _queries(result) -> list[tuple[str, str, str, str]]:
    rows = csv.DictReader(io.StringIO(result.stdout))
    return [(r["patient_id"], r["rule_id"], r["severity"], r["value"]) for r in rows]


def test_single_add_is_not_blocked_and_validate_lists_the_query(cli):
    for command in (PATIENT, EXPOSURE, FOLLOWUP, BASELINE):
        _ok(cli(*command))
    # 80 mm is -20% from the 100 mm baseline: RECIST 1.1 needs -30% for a PR
    assert _ok(cli("assess", "add", "P1", "--date", "2019-09-01", "--sum-diameters", "80", "--response", "PR")) == (
        "added assessment for patient P1\n"
    )
    result = cli("validate", "--format", "csv")
    assert _queries(result) == [("P1", "AS006", "warning", "PR")]
    assert result.exit_code == 0  # warnings only
    assert "the database: 0 error(s), 1 warning(s)" in result.stderr
    # corrected with a reason, the query is resolved
    _ok(cli("assess", "edit", "2", "--sum-diameters", "70", "--reason", "site re-measured: 70 mm"))
    assert _queries(cli("validate", "--format", "csv")) == []


def _write_template(folder, *, ae_grade: str) -> None:
    folder.mkdir()
    files = {
        "patient.csv": "patient_id,sex,birth_date,diagnosis_date,histology,height_cm,weight_kg\n"
        "P2,M,2012-01-01,2019-05-01,IMT,130,28\n",
        "exposure.csv": "patient_id,drug,dose,unit,frequency,start\nP2,crizotinib,250,mg,BID,2019-06-01\n",
        "assessment.csv": "patient_id,date,baseline,sum_diameters,response\n"
        "P2,2019-05-25,true,50,\nP2,2019-08-01,false,36,PR\n",
        "ae.csv": f"patient_id,term,grade,start\nP2,Gait disturbance,{ae_grade},2019-08-01\n",
        "followup.csv": "patient_id,date,vital_status\nP2,2022-06-01,alive\n",
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def test_import_lists_the_warning_when_refused_and_lands_when_it_is_the_only_query(cli, tmp_path):
    # Gait disturbance has no grade 4 (AE003, an error): the import is refused and its listing holds AS006 too
    _write_template(tmp_path / "bad", ae_grade="4")
    listing = tmp_path / "listing.csv"
    refused = cli("import", str(tmp_path / "bad"), "-o", str(listing))
    assert refused.exit_code == 1
    with listing.open(encoding="utf-8") as fh:
        rows = {(r["rule_id"], r["severity"], r["row"]) for r in csv.DictReader(fh)}
    assert ("AS006", "warning", "2") in rows and ("AE003", "error", "1") in rows
    assert _queries(cli("validate", "--format", "csv")) == []  # nothing was written

    _write_template(tmp_path / "good", ae_grade="1")
    _ok(cli("import", str(tmp_path / "good")))
    assert _queries(cli("validate", "--format", "csv")) == [("P2", "AS006", "warning", "PR")]
    file_listing = cli("validate", str(tmp_path / "good"), "--format", "csv")
    assert _queries(file_listing) == [("P2", "AS006", "warning", "PR")]
