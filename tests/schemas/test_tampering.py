"""Tampering outside tkitrack, on SQLite and PostgreSQL: the database refuses to rewrite the trail, and what an owner
can still do (dropping the triggers first) is found by the chain, the replay of the trail against the tables, or a
chain head published earlier (an anchor). Each attack is done with raw SQL, as with sqlite3 or psql."""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tkitrack.schemas.audit import GENESIS, Anchor, chain_head, verify_chain
from tkitrack.schemas.audit_guard import unguard_statements, writer_role_statements
from tkitrack.schemas.replay import NO_INSERT, ROW_MISSING, ROW_NOT_IN_TRAIL, VALUE_DIFFERS, Finding, replay_trail
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import add_records, delete_record, update_record

PATIENTS = [
    {"patient_id": "P1", "sex": "F", "birth_date": "2013-05-10", "diagnosis_date": "2019-06-14", "histology": "IMT"},
    {"patient_id": "P2", "sex": "M", "birth_date": "2015", "diagnosis_date": "2020-01-02", "histology": "IMT"},
    {"patient_id": "P3", "sex": "M", "birth_date": "2012-02", "diagnosis_date": "2019-03-04", "histology": "IMT"},
]  # fmt: skip
EXPOSURE = {"patient_id": "P1", "drug": "crizotinib", "dose": "200", "unit": "mg", "frequency": "QD",
            "start": "2019-07-01"}  # fmt: skip
AE = {"patient_id": "P1", "term": "Gait disturbance", "grade": "2", "start": "2019-12", "serious": "no",
      "attributed_drug": "crizotinib"}  # fmt: skip


@pytest.fixture
def seeded(engine):
    """3 patients, an exposure and an AE of P1 (grade edited 2 -> 3), P3 deleted: 5 entries (a batch entry per
    record type of the import: patients 1, exposure 2, ae 3; the update 4; the deletion 5)."""
    with transaction(engine) as session:
        add_records(session, {"patient": pd.DataFrame(PATIENTS), "exposure": pd.DataFrame([EXPOSURE]),
                              "ae": pd.DataFrame([AE])}, user="nurse", source="site.csv")  # fmt: skip
    with transaction(engine) as session:
        update_record(session, "ae", 1, {"grade": "3"}, reason="source says 3", user="monitor")
    with transaction(engine) as session:
        delete_record(session, "patient", "P3", reason="withdrew consent", user="dm")
    with transaction(engine) as session:
        head = chain_head(session)
    assert head[0] == 5
    return engine


def _sql(engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _refused(engine, statement: str) -> str:
    with pytest.raises(DBAPIError) as err:
        _sql(engine, statement)
    return str(err.value.orig)


def _unguard(engine) -> None:
    """What a database owner can do first: drop the triggers."""
    _sql(engine, *unguard_statements(engine.dialect.name))


def _check(engine, anchors=()):
    with transaction(engine) as session:
        return verify_chain(session, anchors=list(anchors)), replay_trail(session)


def _anchor(engine) -> Anchor:
    with transaction(engine) as session:
        seq, digest = chain_head(session)
    return Anchor(seq, digest)


def test_an_untouched_database_is_explained_by_its_trail(seeded):
    chain, replay = _check(seeded, [_anchor(seeded)])
    assert (chain.ok, chain.entries, chain.anchors, chain.batches, chain.batch_rows) == (True, 5, 1, 3, 5)
    assert (replay.ok, replay.records, replay.tables, replay.findings) == (True, 5, 10, [])


@pytest.mark.parametrize(
    ("attack", "expected"),
    [
        pytest.param("UPDATE ae SET grade = 4 WHERE id = 1", [Finding("ae", "1", "grade", "4", "3", VALUE_DIFFERS)],
                     id="ae-grade"),
        pytest.param("UPDATE exposure SET dose = 400 WHERE id = 1",
                     [Finding("exposure", "1", "dose", "400.0", "200.0", VALUE_DIFFERS)], id="dose"),
        pytest.param("UPDATE patient SET birth_date_dtc = '2011-05-10' WHERE patient_id = 'P1'",
                     [Finding("patient", "P1", "birth_date_dtc", "2011-05-10", "2013-05-10", VALUE_DIFFERS)],
                     id="birth-date-as-given"),
        pytest.param("UPDATE patient SET birth_date = '2011-05-10' WHERE patient_id = 'P1'",
                     [Finding("patient", "P1", "birth_date", "2011-05-10", "2013-05-10", VALUE_DIFFERS)],
                     id="birth-date-imputed"),
        pytest.param("UPDATE patient SET deleted = false WHERE patient_id = 'P3'",
                     [Finding("patient", "P3", "deleted", "false", "true", VALUE_DIFFERS)], id="un-delete"),
        pytest.param("UPDATE ae SET deleted = true WHERE id = 1",
                     [Finding("ae", "1", "deleted", "true", "false", VALUE_DIFFERS)], id="delete-without-trail"),
        pytest.param("DELETE FROM ae WHERE id = 1", [Finding("ae", "1", "*", None, "inserted at entry 3", ROW_MISSING)],
                     id="hard-delete"),
        pytest.param("INSERT INTO patient (patient_id, sex, deleted) VALUES ('P9', 'F', false)",
                     [Finding("patient", "P9", "*", '{"sex": "F", "deleted": "false"}', None, ROW_NOT_IN_TRAIL)],
                     id="insert-patient"),
    ],
)  # fmt: skip
def test_a_change_to_the_tables_is_found_by_the_replay(seeded, attack, expected):
    _sql(seeded, attack)
    chain, replay = _check(seeded)
    assert chain.ok  # the trail itself is untouched ...
    assert replay.findings == expected  # ... and does not explain the table
    assert replay.total == len(expected)


@pytest.mark.parametrize(
    ("attack", "expected"),
    [
        pytest.param("UPDATE record_state SET locked = false, locked_by = NULL, locked_ts = NULL",
                     [("ae 1", "locked", "false", "true", VALUE_DIFFERS)], id="unlock"),
        pytest.param("UPDATE record_state SET verified_by = 'someone else'",
                     [("ae 1", "verified_by", "someone else", "monitor", VALUE_DIFFERS)], id="verifier"),
        pytest.param("DELETE FROM record_state", [("ae 1", "locked", None, "true", ROW_MISSING),
                                                  ("ae 1", "verified", None, "true", ROW_MISSING)], id="delete-state"),
        pytest.param("INSERT INTO record_state (record, record_id, patient_id, verified, verified_by, locked) "
                     "VALUES ('patient', 'P1', 'P1', true, 'dm', false)",
                     [("patient P1", "verified", "true", None, ROW_NOT_IN_TRAIL)], id="insert-verified"),
    ],
)  # fmt: skip
def test_a_change_to_the_record_states_is_found_by_the_replay(seeded, attack, expected):
    """Verification and locks (issue 15) are replayed too: an unlock, a verifier, a removed or an invented state
    done outside tkitrack is found. P1's AE 1 is verified by the monitor and locked by the data manager."""
    from tkitrack.schemas.recordstate import set_locked, set_verified

    with transaction(seeded) as session:
        set_verified(session, "ae", 1, user="monitor", reason="SDV")
    with transaction(seeded) as session:
        set_locked(session, "ae", 1, user="dm", reason="database lock")
    assert _check(seeded)[1].ok
    _sql(seeded, attack)
    chain, replay = _check(seeded)
    assert chain.ok
    assert sorted((f.record_id, f.field, f.table_value, f.trail_value, f.problem) for f in replay.findings) == sorted(
        expected
    )
    assert {f.table for f in replay.findings} == {"record_state"}


def test_the_database_refuses_to_rewrite_the_trail(seeded):
    for statement in ("UPDATE audit_log SET new_value = 'x' WHERE seq = 4", "DELETE FROM audit_log WHERE seq = 5",
                      "DELETE FROM audit_log", "DELETE FROM audit_head", "UPDATE audit_head SET seq = 4",
                      "UPDATE audit_head SET hash = '" + "f" * 64 + "'", "UPDATE audit_head SET seq = 6",
                      "UPDATE audit_batch_row SET new_value = 'x'", "DELETE FROM audit_batch_row WHERE id = 3",
                      "DELETE FROM audit_batch_row"):  # fmt: skip
        assert "the audit trail is append-only" in _refused(seeded, statement), statement
    if seeded.dialect.name == "postgresql":
        for table in ("audit_log", "audit_head", "audit_log, audit_head", "audit_batch_row"):
            assert "the audit trail is append-only" in _refused(seeded, f"TRUNCATE {table}")
    chain, replay = _check(seeded, [_anchor(seeded)])
    assert chain.ok and replay.ok and chain.entries == 5
    with transaction(seeded) as session:  # the tool itself still appends and moves the head forward
        update_record(session, "ae", 1, {"grade": "2"}, reason="re-read", user="monitor")
    chain, replay = _check(seeded)
    assert (chain.ok, chain.head_seq, replay.ok) == (True, 6, True)


def test_removing_the_newest_entries_and_rolling_the_head_back_is_found(seeded):
    anchor = _anchor(seeded)
    _unguard(seeded)
    _sql(seeded, "DELETE FROM audit_log WHERE seq >= 4",
         "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3)")  # fmt: skip
    chain, replay = _check(seeded)
    assert chain.ok and chain.entries == 3  # a consistent, shorter chain ...
    assert sorted((f.table, f.record_id, f.field, f.table_value, f.trail_value) for f in replay.findings) == [
        ("ae", "1", "grade", "3", "2"), ("patient", "P3", "deleted", "true", "false"),
    ]  # fmt: skip
    chain, _ = _check(seeded, [anchor])  # ... that no longer holds the head published before
    assert not chain.ok
    assert chain.problem.startswith(f"anchor 5:{anchor.hash} (--anchor) is not entry 5 of the chain: the trail was "
                                    "truncated or rebuilt")  # fmt: skip


def test_truncating_both_audit_tables_is_found(seeded):
    anchor = _anchor(seeded)
    _unguard(seeded)
    if seeded.dialect.name == "postgresql":
        _sql(seeded, "TRUNCATE audit_log, audit_head, audit_batch_row")
    else:
        _sql(seeded, "DELETE FROM audit_log", "DELETE FROM audit_head", "DELETE FROM audit_batch_row")
    chain, replay = _check(seeded)
    assert (chain.ok, chain.problem) == (False, "the chain head (audit_head) was removed")
    assert replay.total == 5 and {f.problem for f in replay.findings} == {ROW_NOT_IN_TRAIL}
    _sql(seeded, f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')")  # an empty head put back
    chain, replay = _check(seeded, [anchor])
    assert not chain.ok and "is not entry 5 of the chain" in chain.problem
    assert replay.total == 5


def test_a_chain_rebuilt_with_recomputed_hashes_is_found_by_the_anchor(seeded):
    anchor = _anchor(seeded)
    _unguard(seeded)
    # the forger changes the grade in the table and in the trail's update entry, and recomputes every hash after it
    with seeded.begin() as conn:
        conn.execute(text("UPDATE ae SET grade = 1 WHERE id = 1"))
        conn.execute(text("UPDATE audit_log SET new_value = '1' WHERE table_name = 'ae' AND action = 'update'"))
        rows = conn.execute(text('SELECT seq, ts, "user", action, table_name, record_id, patient_id, field, '
                                 "old_value, new_value, reason FROM audit_log ORDER BY seq")).all()  # fmt: skip
        prev = GENESIS
        from tkitrack.schemas.audit import entry_hash

        keys = ("seq", "ts", "user", "action", "table_name", "record_id", "patient_id", "field", "old_value",
                "new_value", "reason")  # fmt: skip
        for row in rows:
            entry = {**dict(zip(keys, row, strict=True)), "prev_hash": prev}
            digest = entry_hash(entry)
            conn.execute(text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                         {"p": prev, "h": digest, "s": row[0]})  # fmt: skip
            prev = digest
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    chain, replay = _check(seeded)
    assert chain.ok and replay.ok  # chain and tables agree: only a head published outside the database can tell
    chain, _ = _check(seeded, [anchor])
    assert not chain.ok and chain.broken_seq == 5
    assert chain.problem.startswith(f"anchor 5:{anchor.hash} (--anchor) is not entry 5 of the chain")
    chain, _ = _check(seeded, [Anchor(None, anchor.hash)])  # a hash without its position: searched everywhere
    assert not chain.ok and "is not any entry of the chain" in chain.problem


def test_an_earlier_anchor_still_holds_after_more_changes(seeded):
    first = _anchor(seeded)
    with transaction(seeded) as session:
        update_record(session, "exposure", 1, {"dose": "250"}, reason="dose increase", user="nurse")
    chain, replay = _check(seeded, [first, Anchor(None, first.hash), Anchor(0, GENESIS)])
    assert (chain.ok, chain.entries, chain.anchors, replay.ok) == (True, 6, 2, True)
    chain, _ = _check(seeded, [Anchor(4, first.hash)])  # the right hash at the wrong position does not count
    assert not chain.ok


def test_an_update_entry_for_a_record_never_inserted_is_reported(seeded):
    _unguard(seeded)
    with seeded.begin() as conn:  # an entry moved to another record id (its hash recomputed is the rebuild case)
        conn.execute(text("UPDATE audit_log SET record_id = '7' WHERE table_name = 'ae' AND action = 'update'"))
    chain, replay = _check(seeded)
    assert not chain.ok and chain.broken_seq == 4
    assert [(f.record_id, f.problem) for f in replay.findings] == [("1", VALUE_DIFFERS), ("7", NO_INSERT)]


@pytest.mark.postgres
@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)  # roles: PostgreSQL only, no SQLite case
def test_postgres_writer_role_cannot_rewrite_the_trail(pg_admin, seeded):
    assert seeded.dialect.name == "postgresql"
    role = f"tkw_{uuid.uuid4().hex[:10]}"
    with seeded.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    with pg_admin.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
        for statement in writer_role_statements(role, schema):
            conn.execute(text(statement))
    try:
        _unguard(seeded)  # even without the triggers, the role's rights refuse it
        for statement in ("UPDATE audit_log SET new_value = 'x' WHERE seq = 4", "DELETE FROM audit_log",
                          "TRUNCATE audit_log", "DELETE FROM audit_head", "TRUNCATE audit_head",
                          "UPDATE audit_batch_row SET new_value = 'x'", "DELETE FROM audit_batch_row",
                          "TRUNCATE audit_batch_row"):  # fmt: skip
            with pytest.raises(DBAPIError) as err, seeded.begin() as conn:
                conn.execute(text(f"SET LOCAL ROLE {role}"))
                conn.execute(text(statement))
            assert "permission denied" in str(err.value.orig), statement
        with seeded.begin() as conn:  # the role can still use tkitrack: an edit writes the table, trail and head
            conn.execute(text(f"SET LOCAL ROLE {role}"))
            from sqlmodel import Session

            with Session(bind=conn) as session:
                update_record(session, "ae", 1, {"grade": "2"}, reason="re-read", user="monitor")
                session.flush()
        chain, replay = _check(seeded)
        assert (chain.ok, chain.head_seq, replay.ok) == (True, 6, True)
    finally:
        with pg_admin.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))


def test_insert_entry_values_are_those_typed(seeded):
    with seeded.connect() as conn:
        values = conn.execute(
            text(
                "SELECT r.new_value FROM audit_batch_row r JOIN audit_log b ON b.seq = r.batch_seq "
                "WHERE b.table_name = 'patient' ORDER BY r.id"
            )
        ).scalars()
        assert json.loads(next(values))["birth_date"] == "2013-05-10"


def test_a_generated_cohort_with_edits_and_deletions_replays_without_findings(engine):
    from tkitrack.sample_data.generate import generate_cohort

    frames = generate_cohort(15, seed=3)  # every record type, partial dates, coded terms, free text
    with transaction(engine) as session:
        counts = add_records(session, frames, user="nurse", source="generated")
    first, second = frames["patient"]["patient_id"].iloc[:2]
    with transaction(engine) as session:
        update_record(session, "patient", first, {"height_cm": "131.5"}, reason="r", user="u")
        update_record(session, "ae", 1, {"grade": "3"}, reason="r", user="u")
        delete_record(session, "patient", second, reason="withdrew", user="u")
    chain, replay = _check(engine)
    assert chain.ok
    assert (replay.findings, replay.records) == ([], sum(counts.values()))


# The import audits each record type as one chain entry committing to a SHA-256 over its records' rows in
# audit_batch_row (seeded: patient batch = entry 1 with rows P1, P2, P3; exposure = 2; ae = 3).


def test_a_batch_row_rewritten_with_its_table_is_found_by_the_batch_digest(seeded):
    _unguard(seeded)
    # the forger rewrites AE 1's grade as first entered (2 -> 1; the table holds the later update to 3): the
    # replay still explains the table ...
    _sql(seeded, "UPDATE audit_batch_row SET new_value = replace(new_value, '\"grade\": 2', '\"grade\": 1') "
                 "WHERE batch_seq = 3")  # fmt: skip
    with seeded.connect() as conn:
        assert '"grade": 1,' in conn.execute(text("SELECT new_value FROM audit_batch_row WHERE batch_seq = 3")).scalar()
    chain, replay = _check(seeded)
    assert replay.ok
    # ... but the batch entry committed to the rows as written
    assert (chain.ok, chain.broken_seq) == (False, 3)
    assert chain.problem == ("the 1 ae record(s) of batch entry 3 were altered, removed or added to after it was "
                             "written (1 row(s) found in audit_batch_row)")  # fmt: skip


def test_a_batch_row_removed_is_found(seeded):
    _unguard(seeded)
    _sql(seeded, "DELETE FROM audit_batch_row WHERE record_id = 'P2'")
    chain, replay = _check(seeded)
    assert (chain.ok, chain.broken_seq) == (False, 1)
    assert "the 3 patient record(s) of batch entry 1" in chain.problem and "(2 row(s) found" in chain.problem
    assert [(f.table, f.record_id, f.problem) for f in replay.findings] == [("patient", "P2", ROW_NOT_IN_TRAIL)]


def test_a_row_added_to_a_batch_with_its_record_is_found(seeded):
    _unguard(seeded)
    # a patient slipped into the table and into the import's batch: the replay is satisfied, the digest is not
    _sql(seeded, "INSERT INTO patient (patient_id, sex, deleted) VALUES ('P9', 'F', false)",
         "INSERT INTO audit_batch_row (batch_seq, record_id, patient_id, new_value) "
         "VALUES (1, 'P9', 'P9', '{\"sex\": \"F\"}')")  # fmt: skip
    chain, _ = _check(seeded)
    assert (chain.ok, chain.broken_seq) == (False, 1)
    assert "(4 row(s) found in audit_batch_row)" in chain.problem


def test_rows_that_name_no_batch_entry_are_found(seeded):
    _unguard(seeded)
    _sql(seeded, "INSERT INTO audit_batch_row (batch_seq, record_id, patient_id, new_value) "
                 "VALUES (4, '9', 'P1', '{}')")  # entry 4 is the grade update, not a batch  # fmt: skip
    chain, _ = _check(seeded)
    assert (chain.ok, chain.broken_seq) == (False, 4)
    assert chain.problem == ("1 audit_batch_row row(s) name entry 4, which is not a batch entry: rows were added "
                             "outside tkitrack")  # fmt: skip


def test_a_batch_entry_holds_who_when_and_which_file_for_each_of_its_records(seeded):
    from tkitrack.schemas.audit import read_audit_log

    with transaction(seeded) as session:
        trail = read_audit_log(session, patient_id="P1")
    inserts = trail[trail["action"] == "insert"]
    assert list(zip(inserts["seq"], inserts["table_name"], inserts["record_id"], inserts["user"], inserts["reason"],
                    strict=True)) == [(1, "patient", "P1", "nurse", "added from site.csv"),
                                      (2, "exposure", "1", "nurse", "added from site.csv"),
                                      (3, "ae", "1", "nurse", "added from site.csv")]  # fmt: skip
    assert list(trail["action"]) == ["insert", "insert", "insert", "update"]  # oldest first, the batch rows expanded
    with seeded.connect() as conn:
        entry = conn.execute(text("SELECT action, record_id, new_value FROM audit_log WHERE seq = 1")).one()
    assert entry[:2] == ("insert batch", "*") and json.loads(entry[2])["rows"] == 3
