"""`tkitrack queries ...` and `tkitrack record verify|lock|unlock` through CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

from .test_records import EXPOSURE, PATIENT, _ok


def test_a_data_manager_works_a_query_from_the_command_line(cli, tmp_path):
    _ok(cli(*PATIENT))
    _ok(cli(*EXPOSURE))
    assert _ok(cli("queries", "raise", "exposure", "1", "dose", "-m", "200 mg? check the prescription")) == (
        "query 1 raised on exposure 1 dose\n")  # fmt: skip
    assert _ok(cli("queries", "answer", "1", "-m", "confirmed")) == "query 1: answered\n"
    refused = cli("queries", "reopen", "2", "-m", "x")
    assert refused.exit_code == 1 and "query 2 does not exist" in refused.stderr
    assert _ok(cli("queries", "close", "1")) == "query 1: closed\n"
    wrong = cli("queries", "answer", "1", "-m", "again")
    assert wrong.exit_code == 2
    assert wrong.stderr == "error: query 1 is closed; only a query that is open or reopened can be answered\n"
    rows = json.loads(_ok(cli("queries", "list", "--format", "json", "--site", "LYON")))
    assert [(r["id"], r["patient_id"], r["record"], r["record_id"], r["field"], r["state"], r["raised_by"])
            for r in rows] == [(1, "P1", "exposure", "1", "dose", "closed", "tester")]  # fmt: skip
    assert json.loads(_ok(cli("queries", "list", "-f", "json", "--state", "open"))) == []
    assert json.loads(_ok(cli("queries", "list", "-f", "json", "--who", "someone"))) == []
    out = tmp_path / "queries.csv"
    assert _ok(cli("queries", "list", "-o", str(out))) == f"wrote 1 queries to {out}\n"
    assert [r["state"] for r in csv.DictReader(io.StringIO(out.read_text()))] == ["closed"]
    steps = json.loads(_ok(cli("queries", "show", "1", "-f", "json")))
    assert [(s["action"], s["new_state"], s["text"]) for s in steps] == [
        ("raise", "open", "200 mg? check the prescription"), ("answer", "answered", "confirmed"),
        ("close", "closed", None)]  # fmt: skip
    bad = cli("queries", "list", "--format", "xml")
    assert bad.exit_code == 2 and "xml" in bad.stderr


def test_a_locked_record_refuses_the_command_line_edit_until_unlocked(cli):
    _ok(cli(*PATIENT))
    _ok(cli(*EXPOSURE))
    assert _ok(cli("record", "lock", "all", "P1")) == "locked 2 record(s) (0 already were)\n"
    refused = cli("exposure", "edit", "1", "--dose", "250", "--reason", "chart")
    assert refused.exit_code == 3
    assert "exposure 1 is locked (by tester" in refused.stderr and "cannot be changed" in refused.stderr
    no_reason = cli("record", "unlock", "exposure", "1")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr
    assert _ok(cli("record", "unlock", "exposure", "1", "--reason", "chart found")) == (
        "unlocked 1 record(s) (0 already were)\n")  # fmt: skip
    assert _ok(cli("record", "verify", "exposure", "1")) == "verified 1 record(s) (0 already were)\n"
    assert "dose 200.0 -> 250" in _ok(cli("exposure", "edit", "1", "--dose", "250", "--reason", "chart"))
    log = json.loads(_ok(cli("audit", "log", "P1", "--record", "record_state", "-f", "json")))
    assert [(e["field"], e["new_value"], e["reason"]) for e in log] == [
        ("locked", "true", "locked"), ("locked", "true", "locked"), ("locked", "false", "chart found"),
        ("verified", "true", "source data verified"), ("verified", "false", "verification cleared: dose changed")]  # fmt: skip
