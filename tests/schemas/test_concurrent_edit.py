"""Two people editing one record, on SQLite and PostgreSQL: the second save is refused with the first's change."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from tkitrack.schemas.audit import read_audit_log
from tkitrack.schemas.errors import ConcurrentEditError
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import add_records, delete_record, read_record, update_record

PATIENT = {"patient_id": ["P1"], "sex": ["F"], "birth_date": ["2013-05"], "diagnosis_date": ["2019-06-14"],
           "histology": ["IMT"], "height_cm": ["120"], "weight_kg": ["22"]}  # fmt: skip
EXPOSURE = {"patient_id": ["P1"], "drug": ["crizotinib"], "dose": ["200"], "unit": ["mg"], "frequency": ["QD"],
            "start": ["2019-07-01"]}  # fmt: skip
#: what both forms showed
SHOWN = {"drug": "crizotinib", "dose": "200", "unit": "mg", "frequency": "QD", "start": "2019-07-01", "end": ""}


@pytest.fixture
def seeded(engine):
    with transaction(engine) as s:
        add_records(s, {"patient": pd.DataFrame(PATIENT), "exposure": pd.DataFrame(EXPOSURE)}, user="importer",
                    source="test")  # fmt: skip
    return engine


def test_the_second_of_two_edits_from_the_same_form_is_refused_naming_the_first(seeded):
    with transaction(seeded) as s:
        update_record(s, "exposure", 1, {"dose": "250"}, reason="chart", user="nurse_a", expected=SHOWN)
    with pytest.raises(ConcurrentEditError) as err, transaction(seeded) as s:
        update_record(s, "exposure", 1, {"dose": "300"}, reason="other chart", user="nurse_b", expected=SHOWN)
    assert [(c["field"], c["seen"], c["current"], c["changed_by"]) for c in err.value.conflicts] == [
        ("dose", "200", 250.0, "nurse_a")]  # fmt: skip
    assert (
        "exposure 1 was changed by someone else after you opened it: dose is now 250.0, not 200 as you saw it (changed by nurse_a at "
        in str(err.value)
    )
    with pytest.raises(ConcurrentEditError), transaction(seeded) as s:
        delete_record(s, "exposure", 1, reason="duplicate", user="nurse_b", expected=SHOWN)
    with transaction(seeded) as s:
        assert read_record(s, "exposure", 1)["dose"] == 250 and read_record(s, "exposure", 1)["deleted"] is False
        assert read_audit_log(s, table="exposure")["user"].tolist() == ["importer", "nurse_a"]
    with transaction(seeded) as s:  # equal values in another spelling are not a conflict: 250 == 250.0
        update_record(s, "exposure", 1, {"frequency": "BID"}, reason="chart", user="nurse_b",
                      expected=SHOWN | {"dose": "250.0"})  # fmt: skip


@pytest.mark.parametrize("empty_db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_two_transactions_at_once_on_postgresql_one_waits_and_is_refused(seeded):
    """Both transactions are open at the same time; the row lock makes the second read the first's value."""
    first_in = threading.Event()
    release = threading.Event()
    outcome: dict[str, object] = {}

    def first() -> None:
        with transaction(seeded) as s:
            update_record(s, "exposure", 1, {"dose": "250"}, reason="chart", user="nurse_a", expected=SHOWN)
            first_in.set()
            release.wait(10)  # hold the row lock while the second edit starts

    def second() -> None:
        first_in.wait(10)
        try:
            with transaction(seeded) as s:
                update_record(s, "exposure", 1, {"dose": "300"}, reason="chart", user="nurse_b", expected=SHOWN)
            outcome["second"] = "saved"
        except ConcurrentEditError as err:
            outcome["second"] = err.conflicts[0]["changed_by"]

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_in.wait(10)
    threads[1].join(1.0)
    assert threads[1].is_alive()  # the second edit waits for the first's row lock
    release.set()
    for t in threads:
        t.join(30)
    assert outcome == {"second": "nurse_a"}
    with transaction(seeded) as s:
        assert read_record(s, "exposure", 1)["dose"] == 250


def test_a_value_never_edited_since_the_import_names_the_importer(seeded):
    """The field's last change is the import's batch entry (its row for exposure 1): who and when come from it."""
    with pytest.raises(ConcurrentEditError) as err, transaction(seeded) as s:
        update_record(s, "exposure", 1, {"dose": "300"}, reason="chart", user="nurse_b",
                      expected={**SHOWN, "dose": "150"})  # fmt: skip
    [conflict] = err.value.conflicts
    assert (conflict["field"], conflict["changed_by"]) == ("dose", "importer")
    with transaction(seeded) as s:
        trail = read_audit_log(s, patient_id="P1", table="exposure")
    assert conflict["changed_at"] == trail["ts"].iloc[0]  # the batch entry's time
