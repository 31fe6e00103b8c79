"""Tests for tkitrack.schemas.audit on SQLite and PostgreSQL: the hash chain detects edited or removed entries."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import text

from tkitrack.schemas.audit import (
    GENESIS,
    append_entries,
    current_user,
    entry_hash,
    read_audit_log,
    verify_chain,
)
from tkitrack.schemas.audit_guard import unguard_statements
from tkitrack.schemas.errors import AuditError
from tkitrack.schemas.storage import transaction


def _entry(n: int, **kw) -> dict:
    return {"action": "insert", "table_name": "ae", "record_id": n, "patient_id": f"P{n % 2}", "field": "*",
            "new_value": json.dumps({"grade": n}), "reason": "added", **kw}  # fmt: skip


@pytest.fixture
def chained(engine):
    """An engine on a database whose trail holds 5 entries (two transactions), its triggers dropped as a database
    owner could (tests/schemas/test_tampering.py shows them refusing these changes)."""
    with transaction(engine) as session:
        append_entries(session, [_entry(1), _entry(2), _entry(3)], user="nurse")
    with transaction(engine) as session:
        append_entries(session, [_entry(4), _entry(5, action="update", field="grade", old_value=4)], user="monitor")
    for statement in unguard_statements(engine.dialect.name):
        _sql(engine, statement)
    return engine


def _verify(engine):
    with transaction(engine) as session:
        return verify_chain(session)


def _sql(engine, statement: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement))


def test_empty_trail_verifies(engine):
    report = _verify(engine)
    assert (report.ok, report.entries, report.broken_seq, report.problem) == (True, 0, None, None)


def test_chain_verifies(chained):
    report = _verify(chained)
    assert (report.ok, report.entries, report.broken_seq) == (True, 5, None)


def test_entries_link_by_hash(chained):
    with transaction(chained) as session:
        trail = read_audit_log(session)
    assert trail["seq"].tolist() == [1, 2, 3, 4, 5]
    assert trail.loc[0, "prev_hash"] == GENESIS
    assert trail["prev_hash"].tolist()[1:] == trail["hash"].tolist()[:-1]
    assert trail["user"].tolist() == ["nurse"] * 3 + ["monitor"] * 2
    assert trail["record_id"].tolist() == ["1", "2", "3", "4", "5"]  # stored as text
    assert trail.loc[4, ["old_value", "new_value"]].tolist() == ["4", '{"grade": 5}']
    with chained.connect() as conn:
        head = conn.execute(text("SELECT seq, hash FROM audit_head")).one()
    assert tuple(head) == (5, trail.loc[4, "hash"])


def test_timestamps_are_utc(chained):
    with transaction(chained) as session:
        trail = read_audit_log(session)
    for ts in trail["ts"]:
        assert dt.datetime.fromisoformat(ts).utcoffset() == dt.timedelta(0)


def test_altered_entry_is_detected_at_that_entry(chained):
    for column in ("new_value", "reason", "record_id", "ts"):
        with chained.connect() as conn:
            original = conn.execute(text(f"SELECT {column} FROM audit_log WHERE seq = 3")).scalar_one()
        _sql(chained, f"UPDATE audit_log SET {column} = 'tampered' WHERE seq = 3")
        report = _verify(chained)
        assert (report.ok, report.broken_seq) == (False, 3), column
        assert report.problem == "entry 3 was altered after it was written"
        _sql(chained, f"UPDATE audit_log SET {column} = '{original}' WHERE seq = 3")
        assert _verify(chained).ok  # put back, the chain holds again


def test_altered_user_is_detected(chained):
    _sql(chained, "UPDATE audit_log SET \"user\" = 'someone else' WHERE seq = 1")
    assert _verify(chained).broken_seq == 1


def test_altered_entry_with_a_recomputed_hash_breaks_the_next_link(chained):
    with transaction(chained) as session:
        row = read_audit_log(session).iloc[1].to_dict()
    row["new_value"] = '{"grade": 1}'
    forged = entry_hash(row)
    _sql(chained, f"UPDATE audit_log SET new_value = '{{\"grade\": 1}}', hash = '{forged}' WHERE seq = 2")
    report = _verify(chained)
    assert (report.ok, report.broken_seq, report.problem) == (False, 3, "entry 3 does not link to entry 2")


def test_deleted_middle_entry_is_detected(chained):
    _sql(chained, "DELETE FROM audit_log WHERE seq = 3")
    report = _verify(chained)
    assert (report.ok, report.broken_seq) == (False, 3)
    assert report.problem == "entry 3 is missing (next is 4)"


def test_deleted_first_entry_is_detected(chained):
    _sql(chained, "DELETE FROM audit_log WHERE seq = 1")
    assert _verify(chained).broken_seq == 1


def test_deleted_last_entry_is_detected_by_the_head(chained):
    _sql(chained, "DELETE FROM audit_log WHERE seq = 5")
    report = _verify(chained)
    assert (report.ok, report.entries, report.broken_seq) == (False, 4, 5)
    assert report.problem == "the chain ends at entry 4 but its head says 5: entry 5 onwards was removed"


def test_deleted_last_entry_and_rewound_head_is_detected_by_the_hash(chained):
    _sql(chained, "DELETE FROM audit_log WHERE seq = 5")
    _sql(chained, "UPDATE audit_head SET seq = 4")
    report = _verify(chained)
    assert (report.ok, report.broken_seq) == (False, 5)


def test_appending_continues_the_chain(chained):
    with transaction(chained) as session:
        assert append_entries(session, [_entry(6)], user="dm") == 1
    report = _verify(chained)
    assert (report.ok, report.entries) == (True, 6)


def test_reason_required_for_edits_and_deletions(engine):
    for action in ("update", "delete"):
        for reason in (None, "", "  "):
            with pytest.raises(AuditError, match=f'{action} of ae 1 needs a reason; pass --reason "..."'), \
                    transaction(engine) as session:  # fmt: skip
                append_entries(session, [_entry(2), _entry(1, action=action, reason=reason)], user="nurse")
    with transaction(engine) as session:
        assert read_audit_log(session).empty  # the whole batch was refused


def test_insert_needs_no_reason(engine):
    with transaction(engine) as session:
        assert append_entries(session, [_entry(1, reason=None)], user="nurse") == 1
        assert append_entries(session, [], user="nurse") == 0


def test_read_audit_log_filters(chained):
    with transaction(chained) as session:
        p1 = read_audit_log(session, patient_id="P1")
        grade = read_audit_log(session, table="ae", patient_id="P0")
        none = read_audit_log(session, table="exposure")
    assert p1["seq"].tolist() == [1, 3, 5]
    assert grade["seq"].tolist() == [2, 4]
    assert none.empty
    assert list(none.columns)[:3] == ["seq", "ts", "user"]


def test_entry_hash_is_sha256_over_the_fields_and_previous_hash():
    entry = {"seq": 1, "ts": "2024-01-01T00:00:00+00:00", "user": "u", "action": "insert", "table_name": "ae",
             "record_id": "1", "patient_id": "P1", "field": "*", "old_value": None, "new_value": "{}",
             "reason": "r", "prev_hash": GENESIS}  # fmt: skip
    by_hand = hashlib.sha256(
        ('[1,"2024-01-01T00:00:00+00:00","u","insert","ae","1","P1","*",null,"{}","r","' + GENESIS + '"]').encode()
    ).hexdigest()
    assert entry_hash(entry) == by_hand
    assert entry_hash({**entry, "prev_hash": "f" * 64}) != by_hand


def test_current_user_order(monkeypatch):
    monkeypatch.setenv("TKITRACK_USER", "env-user")
    assert current_user("flag-user") == "flag-user"
    assert current_user() == "env-user"
    monkeypatch.delenv("TKITRACK_USER")
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    assert current_user() == "os-user"


#: Values whose JSON text is easy to get wrong: quotes, backslashes, the separator json_cells splits on, other
#: control characters, non-ASCII (kept by the chain's encoder, escaped by json.dumps'), NaN and infinities,
#: booleans, None, and lists/dicts (several items add separators: each value is then encoded on its own).
_AWKWARD = ['say "hi"', "back\\slash", "a\x1fb", "tab\tnew\nline\x00", "é ü \u2028 😀", "", "%s %d", 0, -1, 2**40,
            1.5, 1e308, float("nan"), float("inf"), True, False, None, [1, "x"], {"a": 1, "b": [2, 3]}]  # fmt: skip


def test_json_cells_equal_json_dumps_of_each_value():
    from tkitrack.schemas.audit_chain import _ENCODE, json_cells

    plain = [v for v in _AWKWARD if not isinstance(v, list | dict)]
    for values in (_AWKWARD, plain, plain[:1], []):
        assert json_cells(values) == [_ENCODE(v) for v in values]
        assert json_cells(values, ensure_ascii=True) == [json.dumps(v) for v in values]


def test_json_objects_equal_json_dumps_of_each_row():
    from tkitrack.schemas.audit_chain import json_objects

    keys = ["grade", 'odd "key" %s', "term"]
    columns = [_AWKWARD, list(reversed(_AWKWARD)), [str(v) for v in _AWKWARD]]
    assert json_objects(keys, columns) == [
        json.dumps(dict(zip(keys, row, strict=True))) for row in zip(*columns, strict=True)
    ]
    assert json_objects([], []) == []


def test_json_objects_write_a_column_of_one_value_as_json_dumps_does(monkeypatch):
    """A column holding one value in every row of a chunk is written once per chunk: the texts stay json.dumps';
    values equal across types (True == 1 == 1.0, 0.0 == -0.0) are not taken for one value; the control character
    that ends each row in the joined text is escaped inside a value."""
    from tkitrack.schemas import audit_chain

    monkeypatch.setattr(audit_chain, "_CHUNK_ROWS", 3)
    keys = ["none", "text %s", "flag", "n", "mixed", "zero", "odd"]
    columns = [[None] * 7, ['100% "é"'] * 7, [False] * 7, [2**40] * 7, [True, 1, 1.0, True, True, 1, True],
               [0.0, -0.0, 0.0, 0.0, 0.0, 0.0, -0.0], ["a", "a", "a", "b\x1e", "b", "b", None]]  # fmt: skip
    texts = audit_chain.json_objects(keys, columns)
    assert texts == [json.dumps(dict(zip(keys, row, strict=True))) for row in zip(*columns, strict=True)]
    assert texts[0] == ('{"none": null, "text %s": "100% \\"\\u00e9\\"", "flag": false, "n": 1099511627776, '
                        '"mixed": true, "zero": 0.0, "odd": "a"}')  # fmt: skip
    assert texts[1].endswith('"mixed": 1, "zero": -0.0, "odd": "a"}') and texts[6].endswith('"odd": null}')
    constant = [[None] * 4, ["x"] * 4]  # every column constant: the fixed text alone, once per row
    assert audit_chain.json_objects(["a", "b"], constant) == ['{"a": null, "b": "x"}'] * 4
    # text equal to text of a str subclass (numpy's), None beside text: one text, and no constant, as json.dumps
    import numpy as np

    mixed = [["x", np.str_("x"), "x", "x"], [None, None, None, "None"]]
    assert audit_chain.json_objects(["a", "b"], mixed) == ['{"a": "x", "b": null}'] * 3 + ['{"a": "x", "b": "None"}']


def test_chain_built_column_wise_has_each_entry_hash():
    """Every entry's hash is entry_hash of its fields and the previous hash, whatever the values hold."""
    from tkitrack.schemas.audit_chain import chain_columns, chain_entry_columns

    entries = [_entry(i, patient_id=str(v) if v is not None else None, new_value=v, old_value=_AWKWARD[-i],
                      reason=f"r {v!r}") for i, v in enumerate(_AWKWARD, start=1)]  # fmt: skip
    for start in ("a" * 64, 'a head as altered: "quoted" \\ é\x01'):  # entry_hash JSON-encodes it too
        columns, seq, head = chain_columns(entries, seq=7, prev=start, user='dr "ü"\x1f')
        assert columns["seq"] == list(range(8, 8 + len(entries))) and seq == 7 + len(entries)
        prev = start
        for i in range(len(entries)):
            row = {k: columns[k][i] for k in columns}
            assert row["prev_hash"] == prev
            assert row["hash"] == entry_hash(row)
            prev = row["hash"]
        assert head == prev
    single, _, _ = chain_columns(entries[:1], seq=0, prev=GENESIS, user="u")  # one row: every column constant
    assert single["hash"] == [entry_hash({k: v[0] for k, v in single.items()})]
    by_column = {k: [e.get(k) for e in entries] for k in entries[0]}
    again, _, _ = chain_entry_columns(by_column, seq=7, prev="a" * 64, user='dr "ü"\x1f')
    assert {k: v for k, v in again.items() if k not in ("ts", "prev_hash", "hash")} == {
        k: v for k, v in columns.items() if k not in ("ts", "prev_hash", "hash")
    }


def test_rows_encoded_a_chunk_at_a_time_chain_across_the_chunks(monkeypatch):
    """json_objects and the chain encode a chunk of rows at a time (bounded memory): with chunks of 4 rows the
    texts are json.dumps' and every hash links across the chunk boundaries."""
    from tkitrack.schemas import audit_chain

    monkeypatch.setattr(audit_chain, "_CHUNK_ROWS", 4)
    keys = ["grade", "term"]
    columns = [_AWKWARD, [str(v) for v in _AWKWARD]]
    texts = audit_chain.json_objects(keys, columns)
    assert texts == [json.dumps(dict(zip(keys, row, strict=True))) for row in zip(*columns, strict=True)]
    entries = [_entry(i, new_value=t) for i, t in enumerate(texts, start=1)]  # 19 entries: 5 chunks
    columns, seq, head = audit_chain.chain_columns(entries, seq=0, prev=GENESIS, user="u")
    prev = GENESIS
    for i in range(len(entries)):
        row = {k: columns[k][i] for k in columns}
        assert (row["seq"], row["prev_hash"], row["hash"]) == (i + 1, prev, entry_hash(row))
        prev = row["hash"]
    assert (seq, head) == (len(entries), prev)


def test_batch_digest_covers_each_row_length_prefixed():
    """Hand-written: per row, record id, patient id and value each as length:text (null as -), back to back; a
    change of any field, of the order or of the row count changes the digest, and moving text from one field to
    the next does too (the lengths)."""
    import hashlib

    from tkitrack.schemas.audit import batch_digest

    text_ = '1:12:P112:{"grade": 3}1:2--'
    rows = (["1", "2"], ["P1", None], ['{"grade": 3}', None])
    assert batch_digest(*rows) == hashlib.sha256(text_.encode()).hexdigest()
    assert batch_digest(["2", "1"], ["P1", None], ['{"grade": 3}', None]) != batch_digest(*rows)
    assert batch_digest(["1"], ["P1"], ['{"grade": 3}']) != batch_digest(*rows)
    assert batch_digest(["1", "2"], ["P1", "P2"], ['{"grade": 3}', None]) != batch_digest(*rows)
    assert batch_digest(["1", "2"], ["P1", None], ['{"grade": 4}', None]) != batch_digest(*rows)
    assert batch_digest(["1", "2"], ["P1", ""], ['{"grade": 3}', None]) != batch_digest(*rows)  # empty is not null
    assert batch_digest(["12"], ["P"], ["1"]) != batch_digest(["1"], ["2P"], ["1"])
    accented = batch_digest(["1"], ["P\u00e9"], [None])  # length in characters, bytes in UTF-8
    assert accented == hashlib.sha256("1:12:P\u00e9-".encode()).hexdigest()


def test_batch_digest_without_nulls_as_written_row_by_row():
    """The column-wise path (no null: length prefixes looked up by length) gives the row-by-row text: lengths 0,
    9, 10, 4,095 and 4,096 (the lookup table's last length and the first beyond it), characters beyond ASCII, and
    rows across the digest's chunks (10,000 rows: the last row of one, the first of the next)."""
    import hashlib

    from tkitrack.schemas.audit import _row_lines, batch_digest

    assert _row_lines(["7"], ["P\u00e9"], ["x" * 4095]) == ("1:72:P\u00e94095:" + "x" * 4095).encode()
    assert _row_lines(["7"], [""], ["y" * 4096]) == ("1:70:4096:" + "y" * 4096).encode()
    assert _row_lines(["123456789", "1234567890"], ["P", "P"], ["", "{}"]) == b"9:1234567891:P0:10:12345678901:P2:{}"
    n = 10_001
    ids = [str(i) for i in range(1, n + 1)]
    pids = [f"P{i % 37}\u00e9" for i in range(n)]
    values = ["v" * (i % 5000) for i in range(n)]  # some of 4,096 characters or more in each chunk
    text_ = "".join(f"{len(a)}:{a}{len(b)}:{b}{len(c)}:{c}" for a, b, c in zip(ids, pids, values, strict=True))
    assert batch_digest(ids, pids, values) == hashlib.sha256(text_.encode()).hexdigest()
    values[10_000] = "w"  # the first row of the second chunk
    assert batch_digest(ids, pids, values) != hashlib.sha256(text_.encode()).hexdigest()
