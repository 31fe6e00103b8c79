"""Tests for tkitrack.cli.audit: `tkitrack audit log` and `tkitrack audit verify`, on both back ends."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tkitrack.schemas.audit_guard import unguard_statements
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


def _sql(db_url: str, *statements: str) -> None:
    eng = make_engine(db_url)
    try:
        with eng.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        eng.dispose()


def _refused(db_url: str, statement: str) -> str:
    with pytest.raises(DBAPIError) as err:
        _sql(db_url, statement)
    return str(err.value.orig)


def _dialect(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


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
    lines = result.stdout.splitlines()
    assert lines[:2] == ["audit trail intact: 4 entries, every hash and link verified",
                         "tables match the trail: 3 records in 10 tables replayed"]  # fmt: skip
    assert re.fullmatch(r"audit chain head: entry 4, hash [0-9a-f]{64}", lines[2]) and len(lines) == 3
    assert "the audit trail is append-only" in _refused(db_url, "UPDATE audit_log SET new_value = '3' WHERE seq = 3")
    _sql(db_url, *unguard_statements(_dialect(db_url)))  # a database owner drops the triggers first
    _sql(db_url, "UPDATE audit_log SET new_value = '3' WHERE seq = 3")
    result = logged("audit", "verify")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "error: audit trail broken at entry 3: entry 3 was altered after it was written (3 entries read); 1 "
        "value(s), row(s) or deletion state(s) in the tables are not explained by the audit trail (listed above)"
    )
    assert "  ae 1 grade: table '1', trail '3' (value not explained by the trail)" in result.stderr
    assert "Traceback" not in result.output
    _sql(db_url, "UPDATE audit_log SET new_value = '1' WHERE seq = 3")  # put back: intact again
    assert logged("audit", "verify").exit_code == 0
    _sql(db_url, "DELETE FROM audit_log WHERE seq = 4")  # the newest entry removed: the head tells
    result = logged("audit", "verify")
    assert result.exit_code == 1
    assert "audit trail broken at entry 4: the chain ends at entry 3 but its head says 4" in result.stderr
    assert "patient P2 *: table " in result.stderr  # and the replay: P2's row is no longer explained


def test_audit_verify_checks_published_heads(logged, db_url, tmp_path, monkeypatch):
    anchors = tmp_path / "anchors.tsv"
    monkeypatch.setenv("TKITRACK_ANCHORS", str(anchors))
    first = logged("audit", "verify")
    assert first.exit_code == 0, first.output
    head = first.stdout.splitlines()[-1].removeprefix("audit chain head: entry 4, hash ")
    kept = anchors.read_text().splitlines()
    assert len(kept) == 1 and kept[0].split("\t")[1:3] == ["4", head] and kept[0].endswith("\taudit verify")
    assert logged("patient", "add", "P3").exit_code == 0
    second = logged("audit", "verify")  # the earlier head is still entry 4 of the longer chain
    assert second.exit_code == 0, second.output
    assert "anchors: 1 published chain head(s) found in the chain" in second.stdout
    assert len(anchors.read_text().splitlines()) == 2
    assert logged("audit", "verify", "--anchor", f"4:{head}", "--anchor", head).exit_code == 0
    bad = logged("audit", "verify", "--anchor", "4:" + "a" * 64)
    assert bad.exit_code == 1
    assert f"anchor 4:{'a' * 64} (--anchor) is not entry 4 of the chain" in bad.stderr
    assert logged("audit", "verify", "--anchor", "zz").stderr == (
        "error: --anchor: 'zz' is not a chain head (64 hex digits, optionally SEQ:HASH)\n"
    )
    # the trail rebuilt from scratch (owner drops the triggers, empties both tables, puts an empty head back)
    _sql(db_url, *unguard_statements(_dialect(db_url)), "DELETE FROM audit_log", "DELETE FROM audit_head",
         f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{'0' * 64}')")  # fmt: skip
    result = logged("audit", "verify")
    assert result.exit_code == 1
    assert "is not entry 4 of the chain: the trail was truncated or rebuilt after that head was published" in (
        result.stderr
    )


def test_export_and_report_print_the_chain_head(logged, tmp_path, monkeypatch):
    anchors = tmp_path / "anchors.tsv"
    monkeypatch.setenv("TKITRACK_ANCHORS", str(anchors))
    result = logged("export", "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"audit chain head: entry 4, hash [0-9a-f]{64}", result.stdout.splitlines()[-1])
    assert anchors.read_text().split("\t")[-1] == f"export {tmp_path / 'out'}\n"
