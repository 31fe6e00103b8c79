"""bench/million.py with 30 patients (the measured run is `python -m bench.million`, docs/benchmarks.md): the
import through the command line lands every patient once with one audit entry each, and the check notices when
it does not (a second import of the same ids is refused, so the database holds each id once, not twice)."""

from __future__ import annotations

from bench.million import check_import, write_patients


def test_patients_import_whole_and_the_check_can_fail(db_url, tmp_path):
    ids = write_patients(tmp_path / "files", 30)
    assert len(ids) == len(set(ids)) == 30 and ids[0].endswith("-0000")
    first = check_import(db_url, tmp_path / "files", ids)
    assert first["ok"] and first["exit"] == 0
    assert (first["patients"], first["distinct_ids"], first["audit_entries"]) == (30, 30, 30)
    again = check_import(db_url, tmp_path / "files", ids + [f"{i}-copy" for i in ids])
    assert not again["ok"] and again["exit"] == 1 and again["audit_entries"] == 30
