"""Tests for tkitrack.cli.records and tkitrack.cli.exposure through CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tkitrack.schemas.storage import head_revision

HEAD = head_revision()

PATIENT = ["patient", "add", "P1", "--sex", "F", "--birth-date", "2013-05", "--diagnosis-date", "2019-06-14",
           "--histology", "IMT", "--height-cm", "120", "--weight-kg", "22", "--site", "LYON"]  # fmt: skip
EXPOSURE = ["exposure", "add", "P1", "--drug", "crizotinib", "--dose", "200", "--unit", "mg", "--frequency", "QD",
            "--start", "2019-07-01"]  # fmt: skip
AE = ["ae", "add", "P1", "--term", "Gait disturbance", "--grade", "2", "--start", "2019-12", "--attributed-drug",
      "crizotinib", "--attribution", "probable"]  # fmt: skip


#: Tests of command-line parsing and messages that touch no back-end-specific SQL run on SQLite only.
sqlite_only = pytest.mark.parametrize("empty_db_url", [pytest.param("sqlite", id="sqlite")], indirect=True)


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def _json(result) -> list[dict]:
    return json.loads(_ok(result))


@pytest.fixture
def patient(cli):
    """The CLI on a database holding patient P1."""
    assert _ok(cli(*PATIENT)) == "added patient for patient P1\n"
    return cli


@sqlite_only
def test_init_on_a_current_database_changes_nothing(cli):
    out = _ok(cli("init"))
    assert f"is already at schema {HEAD}" in out
    assert "records: patient 0, molecular 0, ihc 0, exposure 0, ae 0" in out


def test_patient_add_list_and_delete(patient):
    [row] = _json(patient("patient", "list", "--format", "json"))
    assert row == {
        "patient_id": "P1", "site": "LYON", "mrn": None, "initials": None, "sex": "F", "race": None, "ethnicity": None,
        "country": None, "arm": None, "birth_date": "2013-05",
        "age_at_diagnosis": None, "diagnosis_date": "2019-06-14", "reference_date": None, "histology": "IMT",
        "primary_site": None, "fnclcc_grade": None, "height_cm": 120.0, "height_date": None, "weight_kg": 22.0,
        "weight_date": None, "note": None, "constructed_dates": None,
    }  # fmt: skip
    table = _ok(patient("patient", "list"))
    assert "P1" in table
    assert "2013-05" in table  # dates shown as given
    # deleting the patient marks the patient's records deleted too
    assert _ok(patient(*AE))
    out = _ok(patient("patient", "delete", "P1", "--reason", "consent withdrawn"))
    assert out == "deleted patient P1 (2 record(s) marked deleted; kept in the audit trail)\n"
    assert _json(patient("patient", "list", "--format", "json")) == []
    assert _json(patient("ae", "list", "--format", "json")) == []


def test_exposure_add_change_stop_and_list(patient):
    assert _ok(patient(*EXPOSURE)) == "added exposure for patient P1\n"
    assert _ok(patient("exposure", "change", "1", "--date", "2019-09-01", "--dose", "150")) == (
        "exposure 1: dose 150 from 2019-09-01\n"
    )
    assert _ok(patient("exposure", "stop", "2", "--last-dose", "2020-01-10", "--reason", "complete_response")) == (
        "exposure 2: stopped, last dose 2020-01-10 (complete_response)\n"
    )
    # a restart after the stop, held once (interrupt) and resumed: only the stop is a discontinuation
    assert _ok(patient("exposure", "add", "P1", "--drug", "crizotinib", "--dose", "150", "--unit", "mg",
                       "--frequency", "QD", "--start", "2020-06-01"))  # fmt: skip
    assert _ok(patient("exposure", "interrupt", "3", "--last-dose", "2020-07-01", "--reason", "toxicity")) == (
        "exposure 3: interrupted, last dose 2020-07-01 (toxicity)\n"
    )
    assert _ok(patient("exposure", "resume", "P1", "--drug", "crizotinib", "--date", "2020-07-15"))
    rows = _json(patient("exposure", "list", "P1", "--format", "json"))
    old = patient("exposure", "list", "--patient", "P1", "--format", "json")  # retired spelling, one release more
    assert _json(old) == rows and "warning: --patient/-p is deprecated" in old.stderr
    keys = ("id", "drug", "dose", "unit", "frequency", "start", "end", "reason", "discontinued")
    assert [{k: r[k] for k in keys} for r in rows] == [
        {"id": 1, "drug": "crizotinib", "dose": 200.0, "unit": "mg", "frequency": "QD", "start": "2019-07-01",
         "end": "2019-08-31", "reason": "dose_change", "discontinued": False},
        {"id": 2, "drug": "crizotinib", "dose": 150.0, "unit": "mg", "frequency": "QD", "start": "2019-09-01",
         "end": "2020-01-10", "reason": "complete_response", "discontinued": True},
        {"id": 3, "drug": "crizotinib", "dose": 150.0, "unit": "mg", "frequency": "QD", "start": "2020-06-01",
         "end": "2020-07-01", "reason": "toxicity", "discontinued": False},
        {"id": 4, "drug": "crizotinib", "dose": 150.0, "unit": "mg", "frequency": "QD", "start": "2020-07-15",
         "end": None, "reason": None, "discontinued": False},
    ]  # fmt: skip


def test_ae_add_edit_delete_list(patient):
    assert _ok(patient(*AE)) == "added ae for patient P1\n"
    [row] = _json(patient("ae", "list", "--format", "json"))
    assert row == {
        "id": 1, "patient_id": "P1", "note": None, "constructed_dates": None, "term": "Gait disturbance",
        "verbatim": False, "grade": 2,
        "start": "2019-12", "end": None, "serious": False, "serious_death": None, "serious_life_threatening": None,
        "serious_hospitalisation": None, "serious_disability": None, "serious_congenital_anomaly": None,
        "serious_medically_important": None, "attributed_drug": "crizotinib",
        "attribution": "probable", "action": None, "outcome": None,
    }  # fmt: skip
    out = _ok(patient("ae", "edit", "1", "--grade", "1", "--end", "2020-02-15", "--reason", "SDV: grade 1 in notes"))
    assert out.splitlines() == ["ae 1: grade 2 -> 1", "ae 1: end (empty) -> 2020-02-15"]
    [row] = _json(patient("ae", "list", "--format", "json"))
    assert (row["grade"], row["end"]) == (1, "2020-02-15")
    assert _ok(patient("ae", "edit", "1", "--grade", "1", "--reason", "recheck")) == "ae 1: nothing changed\n"
    out = _ok(patient("ae", "delete", "1", "--reason", "entered twice"))
    assert out == "deleted ae 1 (1 record(s) marked deleted; kept in the audit trail)\n"
    assert _json(patient("ae", "list", "--format", "json")) == []
    [row] = _json(patient("ae", "list", "--deleted", "--format", "json"))
    assert (row["id"], row["deleted"]) == (1, True)
    rows = list(csv.DictReader(io.StringIO(_ok(patient("ae", "list", "--deleted", "--format", "csv")))))
    assert [(r["id"], r["term"], r["grade"], r["deleted"]) for r in rows] == [("1", "Gait disturbance", "1", "True")]


#: (id, command, rule, field, value, errors): bad input refused with the rule, field and value named.
BAD_INPUT = [
    ("grade-4-gait-disturbance", ["ae", "add", "P1", "--term", "Gait disturbance", "--grade", "4"],
     "AE003", "grade", "4", 1),
    ("unknown-ctcae-term", ["ae", "add", "P1", "--term", "Leg wobble", "--grade", "2"], "AE002", "term",
     "Leg wobble", 1),
    ("end-before-start", ["ae", "add", "P1", "--term", "Pain in extremity", "--grade", "1", "--start",
                          "2019-12-10", "--end", "2019-12-01"], "AE001", "end", "2019-12-01", 1),
    ("negative-dose", ["exposure", "add", "P1", "--drug", "crizotinib", "--dose", "-200", "--unit", "mg",
                       "--frequency", "QD"], "EX006", "dose", "-200.0", 2),  # and FLD003 (dose >= 0)
    ("malformed-date", ["exposure", "add", "P1", "--drug", "crizotinib", "--dose", "200", "--unit", "mg",
                        "--frequency", "QD", "--start", "2019-13-45"], "DT001", "start", "2019-13-45", 1),
]  # fmt: skip


def test_bad_input_is_refused_naming_rule_field_and_value(patient, dump):
    before = dump()
    for case, args, rule_id, field, value, errors in BAD_INPUT:
        result = patient(*args)
        assert result.exit_code == 1, case
        assert result.stdout == "", case
        queries = [line for line in result.stderr.splitlines() if f" {rule_id} " in line]
        assert len(queries) == 1, (case, result.stderr)
        cells = [c.strip() for c in queries[0].split("│")]
        assert cells[1:3] == ["P1", args[0]], case  # patient, record
        assert field in cells, case
        assert value in cells, case
        assert f"error: {errors} error(s) in tkitrack {args[0]} add; nothing was written." in result.stderr, case
        assert "Traceback" not in result.output, case
    assert dump() == before  # the database is exactly as it was


@sqlite_only
def test_usage_errors_exit_2_without_a_traceback(patient):
    assert _ok(patient(*AE))
    cases = [
        (["ae", "edit", "1", "--grade", "1"], "Missing option '--reason'"),
        (["ae", "edit", "1", "--reason", "x"], "give at least one field to change"),
        (["ae", "list", "--format", "xml"], "'xml' is not one of 'table', 'json', 'csv'"),
        (["ae", "edit", "one", "--grade", "1", "--reason", "x"], "ae id must be a whole number, got 'one'"),
        (["exposure", "stop", "1"], "Missing option '--last-dose'"),
    ]
    for args, says in cases:
        result = patient(*args, env={"COLUMNS": "250"})
        assert result.exit_code == 2, (args, result.output)
        assert says in " ".join(result.stderr.split()), (args, result.stderr)
        assert "Traceback" not in result.output


@sqlite_only
def test_missing_record_exits_1_naming_it(patient):
    result = patient("ae", "edit", "7", "--grade", "1", "--reason", "x")
    assert result.exit_code == 1
    assert result.stderr == "error: ae 7 does not exist; list them with `tkitrack ae list`\n"
    result = patient("exposure", "stop", "3", "--last-dose", "2020-01-01", "--reason", "toxicity")
    assert result.exit_code == 1
    assert "exposure 3 does not exist" in result.stderr
