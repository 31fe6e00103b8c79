"""Writers at once on SQLite and PostgreSQL: no lost update in the audit trail, stale edits refused with the other
person's change, and a patient added twice at once refused as kindly as one added twice in a row."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from bench._writers import add_patients, edit_field, field_trail_problems, run_processes, verify_chain_at
from tkitrack.schemas import store
from tkitrack.schemas.audit import read_audit_log
from tkitrack.schemas.errors import ConcurrentEditError, InputError, ValidationFailed
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import add_records, delete_record, read_record, update_record

PATIENT = {"patient_id": "P1", "sex": "F", "birth_date": "2013-05", "diagnosis_date": "2019-06-14", "histology": "IMT"}
AE = {"patient_id": "P1", "term": "Gait disturbance", "grade": "2", "start": "2019-12", "serious": "no"}


def _seed(engine) -> None:
    with transaction(engine) as session:
        add_records(session, {"patient": pd.DataFrame([PATIENT]), "ae": pd.DataFrame([AE])}, user="nurse",
                    source="test")  # fmt: skip


def _grade_trail(engine) -> list[tuple]:
    with transaction(engine) as session:
        trail = read_audit_log(session, table="ae")
    rows = trail[trail["field"] == "grade"]
    return list(rows[["user", "old_value", "new_value"]].itertuples(index=False, name=None))


def _rendezvous(monkeypatch, parties: int = 2, wait: float = 1.5) -> None:
    """Make each edit pause between reading the record and writing it until the other one got there too (or
    ``wait`` seconds passed): the moment a read outside the write transaction loses an update."""
    arrived = []
    lock = threading.Condition()
    real = store.read_frames

    def slow(*args, **kwargs):
        with lock:
            arrived.append(1)
            lock.notify_all()
            lock.wait_for(lambda: len(arrived) >= parties, timeout=wait)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "read_frames", slow)


def _in_threads(*calls) -> list:
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            results[i] = call()
        except Exception as err:
            results[i] = err

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
        time.sleep(0.05)  # the first one reads first
    for t in threads:
        t.join(60)
    return results


def _edit(engine, grade: str, user: str, expected=None):
    with transaction(engine) as session:
        return update_record(session, "ae", 1, {"grade": grade}, reason=f"{user} regraded", user=user,
                             expected=expected)  # fmt: skip


def test_two_edits_at_once_each_log_the_value_they_replaced(engine, monkeypatch):
    _seed(engine)
    _rendezvous(monkeypatch)
    first, second = _in_threads(lambda: _edit(engine, "3", "ann"), lambda: _edit(engine, "1", "bob"))
    assert first == {"grade": (2, 3)}
    assert second == {"grade": (3, 1)}  # bob's edit read ann's grade inside its write transaction
    assert _grade_trail(engine) == [("ann", "2", "3"), ("bob", "3", "1")]
    with transaction(engine) as session:
        assert read_record(session, "ae", 1)["grade"] == 1


def test_a_stale_edit_at_once_is_refused_with_the_other_persons_change(engine, monkeypatch, dump):
    _seed(engine)
    _rendezvous(monkeypatch)
    first, second = _in_threads(lambda: _edit(engine, "3", "ann", {"grade": "2"}),
                                lambda: _edit(engine, "1", "bob", {"grade": "2"}))  # fmt: skip
    assert first == {"grade": (2, 3)}
    assert isinstance(second, ConcurrentEditError)
    assert (second.field, second.seen, second.current, second.changed_by) == ("grade", "2", 3, "ann")
    assert _grade_trail(engine) == [("ann", "2", "3")]


def test_expected_values_that_still_hold_let_the_edit_through(engine):
    _seed(engine)
    # as a form shows them: text, a whole number written with a decimal, a partial date as typed, "no" for false
    diff = _edit(engine, "3", "ann", {"grade": "2.0", "start": "2019-12", "serious": "false", "end": ""})
    assert diff == {"grade": (2, 3)}


@pytest.mark.parametrize("seen", [pytest.param("1", id="other-number"), pytest.param("", id="seen-empty"),
                                  pytest.param("2.5", id="near-number")])  # fmt: skip
def test_a_stale_edit_is_refused_and_changes_nothing(engine, dump, seen):
    _seed(engine)
    before = dump()
    with pytest.raises(ConcurrentEditError) as caught:
        _edit(engine, "3", "bob", {"grade": seen})
    assert dump() == before
    err = caught.value
    assert err.conflicts == [{"field": "grade", "seen": seen, "current": 2, "changed_by": "nurse",
                              "changed_at": err.changed_at}]  # fmt: skip
    assert err.changed_at[:4] == pd.Timestamp.now(tz="UTC").strftime("%Y")
    shown = seen or "(empty)"
    assert str(err).startswith(f"ae 1 was changed by someone else after you opened it: grade is now 2, not {shown} "
                               "as you saw it (changed by nurse at ")  # fmt: skip
    assert str(err).endswith("UTC); nothing was saved. Reload the record, check their change, and make yours again "
                             "if it is still needed.")  # fmt: skip


def test_a_stale_delete_is_refused_and_names_who_changed_it(engine, dump):
    _seed(engine)
    _edit(engine, "3", "ann")
    before = dump()
    with pytest.raises(ConcurrentEditError) as caught, transaction(engine) as session:
        delete_record(session, "ae", "1", reason="entered twice", user="bob", expected={"grade": "2", "term": None})
    assert dump() == before
    assert [(c["field"], c["seen"], c["current"], c["changed_by"]) for c in caught.value.conflicts] == [
        ("grade", "2", 3, "ann"),
        ("term", None, "Gait disturbance", "nurse"),
    ]
    with transaction(engine) as session:
        assert delete_record(session, "ae", "1", reason="entered twice", user="bob", expected={"grade": "3"}) == 1


def test_expected_names_only_fields_of_the_record(engine):
    _seed(engine)
    with pytest.raises(InputError, match=r"ae has no field\(s\) colour to compare"):
        _edit(engine, "3", "ann", {"colour": "red"})


@pytest.mark.slow
def test_processes_editing_one_field_leave_a_trail_that_replays_to_the_final_value(engine, db_url, monkeypatch):
    monkeypatch.setenv("TKITRACK_LOCK_TIMEOUT", "600")  # a loaded test machine: wait rather than give up
    _seed(engine)
    engine.dispose()
    runs = run_processes(edit_field, [(db_url, "ae", "1", "grade", ["1", "2", "3"], 15, seed, f"user{seed}")
                                      for seed in range(4)])  # fmt: skip
    assert [r["errors"] for r in runs] == [[], [], [], []]
    assert sum(r["busy"] for r in runs) == 0
    assert sum(r["changed"] + r["unchanged"] for r in runs) == 60
    updates, problems = field_trail_problems(db_url, "ae", "1", "grade")
    assert problems == []
    assert updates == sum(r["changed"] for r in runs) > 10
    assert verify_chain_at(db_url)[0]


def test_a_patient_added_twice_at_once_is_refused_like_one_added_twice_in_a_row(engine, monkeypatch):
    _rendezvous(monkeypatch)  # in the edit checks, after both have looked for the patient

    def add(user):
        with transaction(engine) as session:
            return add_records(session, {"patient": pd.DataFrame([PATIENT])}, user=user, source="patient add")

    results = _in_threads(lambda: add("ann"), lambda: add("bob"))
    winners = [i for i, r in enumerate(results) if r == {"patient": 1}]
    assert len(winners) == 1, results  # whichever took the write lock first wins; the other is refused
    second = results[1 - winners[0]]
    assert isinstance(second, ValidationFailed)
    assert str(second) == "1 error(s) in patient add; nothing was written. Fix them and run the command again."
    errors = second.failures[second.failures["severity"] == "error"]  # warnings (PT003 no follow-up) ride along
    assert errors[["patient_id", "rule_id", "message"]].to_dict("records") == [
        {"patient_id": "P1", "rule_id": "PT011",
         "message": "patient P1 is already in the database; change it with `tkitrack patient edit`"}
    ]  # fmt: skip
    with transaction(engine) as session:
        assert list(read_audit_log(session)["user"]) == [["ann", "bob"][winners[0]]]


@pytest.mark.slow
def test_processes_adding_the_same_patients_get_the_friendly_message(engine, db_url, monkeypatch):
    monkeypatch.setenv("TKITRACK_LOCK_TIMEOUT", "600")
    engine.dispose()
    ids = [f"DUP{k}" for k in range(6)]
    runs = run_processes(add_patients, [(db_url, ids, f"user{w}") for w in range(4)])
    in_a_row = add_patients(db_url, ids, "late")  # each a duplicate added after the race: the message to match
    for pid in ids:
        assert sorted(run[pid][0] for run in runs) == [0, 1, 1, 1], (pid, [run[pid] for run in runs])
        assert in_a_row[pid][0] == 1
        assert "PT011" in in_a_row[pid][1] and "Integrity" not in in_a_row[pid][1]
        assert [run[pid][1] for run in runs if run[pid][0] == 1] == [in_a_row[pid][1]] * 3
    assert verify_chain_at(db_url)[:2] == (True, 6)
