"""Tests for tkitrack.cli.audit: `tkitrack audit log` and `tkitrack audit verify`, on both back ends."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tkitrack.schemas.storage import make_engine


@pytest.fixture
def logged(cli):
    """The CLI on a database with patient P1, an adverse event edited once, and patient P2."""
    for args in (
        ["patient", "add", "P1", "--birth-date", "2013-05-10"],
        ["ae", "add", "P1", "--term", "Gait disturbance", "--grade", "2", "--start", "2019-12-01"],
        ["ae", "edit", "1", "--grade", "1", "--reason", "source document says grade 1"],
        ["patient", "add", "P2"],
    ):
        assert cli(*args).exit_code == 0, args
    return cli


def _sql(db_url: str, statement: str) -> None:
    eng = make_engine(db_url)
    try:
        with eng.begin() as conn:
            conn.execute(text(statement))
    finally:
        eng.dispose()


def test_audit_log_lists_the_patient_entries(logged):
    result = logged("audit", "log", "P1", "--format", "json")
    assert result.exit_code == 0, result.output
    trail = json.loads(result.stdout)
    assert [(e["seq"], e["user"], e["action"], e["record"], e["record_id"], e["field"], e["old_value"],
             e["new_value"] if e["action"] == "update" else "...", e["reason"]) for e in trail] == [
        (1, "tester", "insert", "patient", "P1", "*", None, "...", "added from tkitrack patient add"),
        (2, "tester", "insert", "ae", "1", "*", None, "...", "added from tkitrack ae add"),
        (3, "tester", "update", "ae", "1", "grade", "2", "1", "source document says grade 1"),
    ]  # fmt: skip
    assert json.loads(trail[1]["new_value"])["term"] == "Gait disturbance"
    assert all(e["ts"].endswith("+00:00") for e in trail)
    table = logged("audit", "log", "P1")
    assert table.exit_code == 0
    assert "source document says grade 1" in table.stdout
    assert "P2" not in table.stdout
    unknown = logged("audit", "log", "P9")
    assert unknown.exit_code == 1
    assert "no audit entries for patient P9" in unknown.stderr


def test_audit_verify_passes_then_detects_an_update_and_a_removal(logged, db_url):
    result = logged("audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout == "audit trail intact: 4 entries, every hash and link verified\n"
    _sql(db_url, "UPDATE audit_log SET new_value = '3' WHERE seq = 3")
    result = logged("audit", "verify")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: audit trail broken at entry 3: entry 3 was altered after it was written (3 entries read)\n"
    )
    assert "Traceback" not in result.output
    _sql(db_url, "UPDATE audit_log SET new_value = '1' WHERE seq = 3")  # put back: intact again
    assert logged("audit", "verify").exit_code == 0
    _sql(db_url, "DELETE FROM audit_log WHERE seq = 4")  # the newest entry removed: the head tells
    result = logged("audit", "verify")
    assert result.exit_code == 1
    assert "audit trail broken at entry 4: the chain ends at entry 3 but its head says 4" in result.stderr
