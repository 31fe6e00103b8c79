"""bench/reliability.py with tiny numbers (the measured run is `python -m bench.reliability`, docs/reliability.md):
its kill trials and writers at once run, and their checks find nothing wrong, on SQLite and PostgreSQL."""

from __future__ import annotations

from bench.reliability import concurrency, kill_trials


def test_kill_trials_find_no_half_import(db_url, tmp_path):
    found = kill_trials(db_url, 2, workdir=tmp_path, n_patients=2)
    assert found["trials"] == 2 == sum(found["outcomes"].values())
    assert found["half_imports"] == [] and found["failed_without_kill"] == []
    assert set(found["outcomes"]) <= {"nothing written (killed before the commit)", "complete (killed after the "
                                      "commit)", "complete (finished before the kill)"}  # fmt: skip
    assert found["chain_ok"] and found["chain_entries"] >= 2 * found["rows_per_import"] + 2


def test_writers_at_once_lose_and_duplicate_nothing(db_url, monkeypatch):
    monkeypatch.setenv("TKITRACK_LOCK_TIMEOUT", "600")
    found = concurrency(db_url, 2, 10)
    assert found["ops_done"] == 20
    assert found["ops"] == {"edit": 6, "add": 4, "contested": 2, "ae": 2, "delete": 2, "read": 4}
    assert (found["patients_added"], found["deleted"], found["ae_added"], found["reads"]) == (4, 2, 2, 4)
    assert found["edits_changed"] + found["edits_unchanged"] == 6
    assert (found["lost"], found["duplicated"], found["bad_output"], found["other_errors"]) == ([], [], [], [])
    assert all(r["problems"] == [] for r in found["replay"].values())
    assert found["contested"] == {"added": 1, "refused PT011": 1}
    assert found["chain_ok"]
