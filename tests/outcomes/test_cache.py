"""Derived datasets kept per data version: reused while nothing changed, never served after a write."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes import cache as cache_mod
from tkitrack.outcomes.cache import Derived, cache_directory
from tkitrack.outcomes.cohort import (
    derive_adam_from_records,
    derive_endpoint,
    derive_patient_attributes,
    derive_swimmer_from_records,
)
from tkitrack.outcomes.stopping import derive_stopping_cohort
from tkitrack.sample_data.generate import generate_cohort
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import add_records, delete_record, read_frames


@pytest.fixture
def cohort_engine(engine):
    with transaction(engine) as session:
        add_records(session, generate_cohort(12, seed=3), user="tester", source="test cohort")
    return engine


def _same(a, b) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    else:
        assert type(a) is type(b)
        for f in fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if isinstance(x, pd.DataFrame):
                _same(x, y)
            else:
                assert x == y


def _entries(folder: Path) -> list[str]:
    return sorted(p.parent.name for p in folder.rglob("meta.json"))


def test_second_run_reads_every_product_from_disk_identical_to_a_fresh_derivation(cohort_engine, tmp_path):
    first = Derived(engine=cohort_engine, directory=tmp_path)
    products = {
        "adam": first.adam(),
        "attributes": first.patient_attributes(),
        "stopping": first.stopping_cohort(),
        "swimmer": first.swimmer(origin="diagnosis", ae_min_grade=2),
        "pfs": first.endpoint("PFS"),
        "tot": first.endpoint("TOT"),
        "relapse": first.competing_endpoint("RELAPSE_AFTER_CR"),
    }
    assert first.hits == []
    second = Derived(engine=cohort_engine, directory=tmp_path)
    again = {
        "adam": second.adam(),
        "attributes": second.patient_attributes(),
        "stopping": second.stopping_cohort(),
        "swimmer": second.swimmer(origin="diagnosis", ae_min_grade=2),
        "pfs": second.endpoint("PFS"),
        "tot": second.endpoint("TOT"),
        "relapse": second.competing_endpoint("RELAPSE_AFTER_CR"),
    }
    assert second.computed == []  # nothing derived again ...
    assert second._frames is None  # ... and the records were never read
    for name, value in products.items():
        _same(value, again[name])
    # and they are what the derivations give on the records (the cache adds nothing of its own)
    with transaction(cohort_engine) as session:
        frames = read_frames(session)
    _same(again["adam"], derive_adam_from_records(frames))
    _same(again["attributes"], derive_patient_attributes(frames))
    _same(again["swimmer"], derive_swimmer_from_records(frames, origin="diagnosis", ae_min_grade=2))
    _same(again["pfs"], derive_endpoint(frames, "PFS"))
    _same(again["stopping"], derive_stopping_cohort(frames["exposure"], frames["assessment"],
                                                    frames["disease_event"], frames["followup"]))  # fmt: skip


def test_a_write_moves_the_version_and_the_next_run_derives_the_new_data(cohort_engine, tmp_path):
    before = Derived(engine=cohort_engine, directory=tmp_path).endpoint("PFS")
    with transaction(cohort_engine) as session:
        exposure = read_frames(session, ["exposure"])["exposure"]
        gone = str(before["patient_id"].iloc[0])
        for record_id in exposure.loc[exposure["patient_id"] == gone, "id"]:
            delete_record(session, "exposure", int(record_id), reason="entered for the wrong patient", user="tester")
    after = Derived(engine=cohort_engine, directory=tmp_path)
    pfs = after.endpoint("PFS")
    assert after.computed == ["adam", "endpoint"] and after.hits == []
    assert gone not in set(pfs["patient_id"])  # no index therapy any more: no PFS row
    assert len(pfs) == len(before) - 1
    assert len({p.parent.parent.name for p in tmp_path.rglob("meta.json")}) == 1  # the old version was dropped


def test_a_write_between_reading_the_version_and_the_records_is_never_stored(cohort_engine, tmp_path):
    racing = Derived(engine=cohort_engine, directory=tmp_path)  # version read here
    with transaction(cohort_engine) as session:
        add_records(session, generate_cohort(2, seed=9, prefix="LATE"), user="tester", source="late import")
    racing.endpoint("PFS")  # records read now, with the late patients, under the old version
    assert racing.frames["patient"]["patient_id"].str.startswith("LATE").sum() == 2
    assert _entries(tmp_path) == []  # so nothing was kept under the old version
    fresh = Derived(engine=cohort_engine, directory=tmp_path)
    fresh.endpoint("PFS")
    assert fresh.computed == ["adam", "endpoint"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param({"code": "PFS"}, {"code": "OS"}, id="endpoint-code"),
        pytest.param(
            {"origin": "diagnosis", "ae_min_grade": 1},
            {"origin": "diagnosis", "ae_min_grade": 2},
            id="swimmer-ae-grade",
        ),
        pytest.param(
            {"origin": "diagnosis", "ae_min_grade": 1}, {"origin": "first_dose", "ae_min_grade": 1}, id="swimmer-origin"
        ),
    ],
)
def test_a_different_option_is_a_different_entry(cohort_engine, tmp_path, first, second):
    method = "endpoint" if "code" in first else "swimmer"
    one = Derived(engine=cohort_engine, directory=tmp_path)
    getattr(one, method)(**first)
    two = Derived(engine=cohort_engine, directory=tmp_path)
    getattr(two, method)(**second)
    assert two.computed[-1] == method and method not in two.hits
    three = Derived(engine=cohort_engine, directory=tmp_path)
    getattr(three, method)(**first)
    getattr(three, method)(**second)
    assert three.hits == [method, method] and three.computed == []


def test_get_keys_on_every_option_given(cohort_engine, tmp_path):
    calls = []

    def count(frames, cutoff):
        calls.append(cutoff)
        return frames["patient"][frames["patient"]["patient_id"] <= cutoff][["patient_id"]].reset_index(drop=True)

    d = Derived(engine=cohort_engine, directory=tmp_path)
    a = d.get("upto", lambda f: count(f, "SYN-00004"), cutoff="SYN-00004")
    b = d.get("upto", lambda f: count(f, "SYN-00008"), cutoff="SYN-00008")
    assert calls == ["SYN-00004", "SYN-00008"] and len(a) < len(b)
    d2 = Derived(engine=cohort_engine, directory=tmp_path)
    _same(d2.get("upto", lambda f: count(f, "SYN-00004"), cutoff="SYN-00004"), a)
    assert calls == ["SYN-00004", "SYN-00008"]


def test_changed_derivation_code_misses(cohort_engine, tmp_path, monkeypatch):
    Derived(engine=cohort_engine, directory=tmp_path).adam()
    monkeypatch.setattr(cache_mod, "_CODE_DIGEST", "another release")
    d = Derived(engine=cohort_engine, directory=tmp_path)
    d.adam()
    assert d.computed == ["adam"]


def test_a_damaged_entry_is_derived_again(cohort_engine, tmp_path):
    Derived(engine=cohort_engine, directory=tmp_path).endpoint("TOT")
    (meta,) = [m for m in tmp_path.rglob("meta.json") if m.parent.name.startswith("endpoint-")]
    next(meta.parent.glob("*.parquet")).write_bytes(b"not parquet")
    d = Derived(engine=cohort_engine, directory=tmp_path)
    d.endpoint("TOT")
    assert d.computed == ["endpoint"]


def test_off_keeps_nothing_on_disk(cohort_engine, tmp_path, monkeypatch):
    monkeypatch.setenv("TKITRACK_CACHE_DIR", "off")
    assert cache_directory() is None
    d = Derived(engine=cohort_engine)
    d.endpoint("TOT")
    d.endpoint("TOT")
    assert d.computed == ["adam", "endpoint"]  # each product once per run still (the endpoint reads the ADaM)
    assert d.version is None and not list(tmp_path.rglob("*.parquet"))


def test_default_directory_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("TKITRACK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_directory() == tmp_path / "tkitrack"


def test_frames_in_hand_are_derived_once_and_never_stored(cohort_engine, tmp_path):
    with transaction(cohort_engine) as session:
        frames = read_frames(session)
    d = Derived(frames, directory=tmp_path)
    assert d.adam() is d.adam()
    assert d.computed == ["adam"] and not list(tmp_path.rglob("*.parquet"))


def test_unknown_endpoint_says_which_exist(cohort_engine, tmp_path):
    from tkitrack.schemas.errors import InputError

    with pytest.raises(InputError, match="unknown endpoint 'XYZ'; choose one of OS, PFS"):
        Derived(engine=cohort_engine, directory=tmp_path).endpoint("xyz")


def test_cutoff_and_index_drug_are_part_of_every_key(cohort_engine, tmp_path):
    import datetime as dt

    full = Derived(engine=cohort_engine, directory=tmp_path).endpoint("OS")
    early = Derived(engine=cohort_engine, directory=tmp_path, cutoff=dt.date(2015, 6, 30))
    cut = early.endpoint("OS")
    assert early.computed == ["adam", "endpoint"] and early.hits == []
    assert not cut.equals(full)  # the records were cut before deriving
    named = Derived(engine=cohort_engine, directory=tmp_path, index_drug="crizotinib")
    named.endpoint("OS")  # the same drug as the default here, but another option: another entry
    assert named.computed == ["adam", "endpoint"] and named.hits == []
    again = Derived(engine=cohort_engine, directory=tmp_path, cutoff=dt.date(2015, 6, 30))
    _same(again.endpoint("OS"), cut)
    assert again.hits == ["endpoint"] and again.computed == []


def test_a_pubtable_is_kept_and_read_back_whole(cohort_engine, tmp_path):
    from tkitrack.dashboards.pubtable import Column, PubTable

    table = PubTable("t1", "Table 1. Counts", "Measure", [Column("c0", "All", ""), Column("c1", "n=3", "By drug")],
                     pd.DataFrame({"group": ["", "AEs"], "label": ["Patients", "Grade 3"], "c0": ["3", "1 (33%)"],
                                   "c1": ["2", ""]}), ["First note.", "Second note."])  # fmt: skip
    Derived(engine=cohort_engine, directory=tmp_path).get("table", lambda f: table)
    again = Derived(engine=cohort_engine, directory=tmp_path)
    back = again.get("table", lambda f: pytest.fail("derived again"))
    assert again.hits == ["table"]
    assert (back.name, back.title, back.stub, back.columns, back.footnotes) == (
        table.name, table.title, table.stub, table.columns, table.footnotes)  # fmt: skip
    pd.testing.assert_frame_equal(back.rows, table.rows, check_exact=True)


def test_a_report_of_unchanged_data_reads_no_record(cohort_engine, tmp_path, monkeypatch):
    """The second report of the same data version is written from the cache alone: every section's data, tables
    and figures' inputs come back from disk, and the page is the same but for the time it was generated."""
    import re

    from tkitrack.dashboards.cohort_report import write_cohort_report

    first = Derived(engine=cohort_engine, directory=tmp_path)
    write_cohort_report(None, tmp_path / "first.html", title="t", provenance={}, derived=first)
    assert "response_data" in first.computed and "table_characteristics" in first.computed

    def no_records(self):
        raise AssertionError("the records were read")

    monkeypatch.setattr(Derived, "frames", property(no_records))
    second = Derived(engine=cohort_engine, directory=tmp_path)
    write_cohort_report(None, tmp_path / "second.html", title="t", provenance={}, derived=second)
    assert second.computed == []
    assert set(second.hits) == set(first.computed) - {"adam"}  # ADaM itself was only the way to the others

    def page(name: str) -> str:
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "", (tmp_path / name).read_text(encoding="utf-8"))

    assert page("second.html") == page("first.html")


def test_a_cold_report_derives_the_adam_first_and_once(cohort_engine, tmp_path):
    """The first report of a data version derives the ADaM (a registry's largest derivation) before anything else,
    while only the records are held, and the response section takes its best-response rows from that one
    derivation: the ADaM is derived once, and read back only as ADTTE alone, for the time-to-event section. A
    report of data whose ADaM is on disk (here: from `survival`) does not derive it first, and without a disk
    cache nothing is derived first."""
    from tkitrack.dashboards.cohort_report import write_cohort_report

    first = Derived(engine=cohort_engine, directory=tmp_path)
    assert first.keeps_on_disk and not first.stored("adam", reference="TRTSDT")
    write_cohort_report(None, tmp_path / "first.html", title="t", provenance={}, derived=first)
    assert first.computed[0] == "adam"
    assert first.computed.index("adam") < first.computed.index("validation") < first.computed.index("swimmer")
    assert first.computed.count("adam") == 1 and first.hits.count("adam") == 1
    assert first.stored("adam", reference="TRTSDT") and not first.stored("adam", reference="RANDDT")

    elsewhere = tmp_path / "other"
    Derived(engine=cohort_engine, directory=elsewhere).endpoint("PFS")  # the ADaM on disk, nothing else
    second = Derived(engine=cohort_engine, directory=elsewhere)
    write_cohort_report(None, tmp_path / "second.html", title="t", provenance={}, derived=second)
    assert second.computed[0] == "validation" and "adam" not in second.computed
    assert "adam" in second.hits  # read back for the response section, as before

    frames = Derived(engine=cohort_engine, directory=None)
    assert not frames.keeps_on_disk and not frames.stored("adam", reference="TRTSDT")
    write_cohort_report(None, tmp_path / "third.html", title="t", provenance={}, derived=frames)
    assert frames.computed[0] == "validation"


def test_release_lets_go_only_of_what_is_on_disk(cohort_engine, tmp_path):
    derived = Derived(engine=cohort_engine, directory=tmp_path)
    calls = []
    derived.get("on_disk", lambda f: calls.append("on_disk") or pd.DataFrame({"a": [1]}))
    derived.get("memory_only", lambda f: calls.append("memory_only") or {"not": "a frame"})  # not storable
    derived.release()
    assert derived.get("on_disk", lambda f: pytest.fail("derived again"))["a"].tolist() == [1]
    assert derived.hits == ["on_disk"]  # read back from disk, not kept in memory
    assert derived.get("memory_only", lambda f: pytest.fail("derived again")) == {"not": "a frame"}
    assert calls == ["on_disk", "memory_only"]
    in_hand = Derived(read_frames_of(cohort_engine))
    in_hand.get("x", lambda f: calls.append("x") or pd.DataFrame({"a": [2]}))
    in_hand.release()  # no disk cache: nothing is let go, nothing is derived twice
    in_hand.get("x", lambda f: pytest.fail("derived again"))
    assert calls[-1] == "x" and in_hand.hits == []


def read_frames_of(engine) -> dict[str, pd.DataFrame]:
    with transaction(engine) as session:
        return read_frames(session)


def test_competing_endpoints_reuse_the_stopping_cohort_and_the_adam_and_equal_a_fresh_derivation(cohort_engine):
    from tkitrack.outcomes.endpoints import derive_competing_endpoint

    derived = Derived(engine=cohort_engine, directory=None)
    got = {code: derived.competing_endpoint(code) for code in ("RELAPSE_AFTER_CR", "RELAPSE_AFTER_STOP")}
    derived.stopping_cohort(), derived.adam()
    assert derived.computed == ["stopping_cohort", "competing_endpoint", "adam", "competing_endpoint"]
    frames = derived.frames
    for code, value in got.items():
        _same(value, derive_competing_endpoint(frames, code))
    # with an index drug the competing endpoints are still those of the default index therapy, as before
    drug = str(frames["exposure"]["drug"].iloc[0])
    named = Derived(engine=cohort_engine, directory=None, index_drug=drug)
    for code, value in got.items():
        _same(named.competing_endpoint(code), value)
    with pytest.raises(InputError, match="unknown competing-risks endpoint"):
        derived.competing_endpoint("PFS")


def test_after_a_release_the_endpoints_read_adtte_alone_from_disk(cohort_engine, tmp_path, monkeypatch):
    """A report lets go of the ADaM after its response section; the endpoints derived later read ADTTE back
    once, not ADRS (millions of rows at registry scale), and give what the ADaM in memory gives."""
    d = Derived(engine=cohort_engine, directory=tmp_path)
    adam = d.adam()
    d.release()
    read: list[str] = []
    real = pd.read_parquet
    monkeypatch.setattr(pd, "read_parquet", lambda path, *a, **k: read.append(Path(path).name) or real(path, *a, **k))
    pfs, os_ = d.endpoint("PFS"), d.endpoint("OS")
    after = d.competing_endpoint("RELAPSE_AFTER_STOP")
    assert read == ["2.parquet"]  # adsl, adrs, adtte: the third, once
    assert d.hits == ["adam"] and d.computed == ["adam", "endpoint", "endpoint", "competing_endpoint"]
    in_hand = Derived(d.frames)
    for code, got in (("PFS", pfs), ("OS", os_)):
        pd.testing.assert_frame_equal(got, derive_endpoint({}, code, adam=adam), check_exact=True)
        pd.testing.assert_frame_equal(got, in_hand.endpoint(code), check_exact=True)
    pd.testing.assert_frame_equal(after, in_hand.competing_endpoint("RELAPSE_AFTER_STOP"), check_exact=True)
    d.release()  # the ADTTE read back goes too
    assert d._adtte_part is None


def test_text_read_back_shares_equal_values_and_changes_nothing_else():
    """Parquet gives each text cell its own ``str``; read back, equal values are one object (a registry's ids
    repeat over millions of rows). Values, missing cells (None, NaN and NA each kept), dtypes and index are
    unchanged, and a column that mixes text with numbers is left alone (``1 == 1.0 == True`` would merge cells
    that print differently)."""
    import numpy as np

    from tkitrack.outcomes.cache import shared_text

    def fresh(*values):  # a new str per cell, as parquet makes them
        return [None if v is None else v if not isinstance(v, str) else "".join(list(v)) for v in values]

    frame = pd.DataFrame(
        {
            "obj": np.array(fresh("P-1", "P-2", "P-1", None, "P-1", "P-2"), dtype=object),
            "nan": np.array(fresh("CR", np.nan, "CR", "CR", "PR", "CR"), dtype=object),
            "string": pd.array(fresh("a", "a", None, "b", "a", "a"), dtype="string[python]"),
            "mixed": np.array(["1", 1, 1.0, True, "1", "1"], dtype=object),
            "distinct": np.array(fresh("u", "v", "w", "x", "y", "z"), dtype=object),
            "number": [1.0, 2.0, 1.0, 1.0, 2.0, 1.0],
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    before = frame.copy(deep=True)
    assert frame["obj"][10] is not frame["obj"][12]
    out = shared_text(frame)
    pd.testing.assert_frame_equal(out, before, check_exact=True)
    assert out["obj"][10] is out["obj"][12] is out["obj"][14] and out["obj"][13] is None
    assert out["nan"][10] is out["nan"][15] and isinstance(out["nan"][11], float) and np.isnan(out["nan"][11])
    assert out["string"][10] is out["string"][15] and out["string"][12] is pd.NA
    assert [type(v) for v in out["mixed"]] == [str, int, float, bool, str, str]  # untouched
    assert out["mixed"][10] is before["mixed"][10]
    assert out["string"].dtype == "string[python]" and out["obj"].dtype == object


def _parquet_pair(frame: pd.DataFrame, tmp_path: Path, rows: int) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    import pyarrow.parquet as pq

    from tkitrack.outcomes.cache import write_parquet

    frame.to_parquet(tmp_path / "whole.parquet")
    write_parquet(frame, tmp_path / "sliced.parquet", rows=rows)
    same_schema = pq.read_schema(tmp_path / "whole.parquet").equals(
        pq.read_schema(tmp_path / "sliced.parquet"), check_metadata=True
    )
    return pd.read_parquet(tmp_path / "whole.parquet"), pd.read_parquet(tmp_path / "sliced.parquet"), same_schema


def _mixed_frame(n: int) -> pd.DataFrame:
    import numpy as np

    ids = np.array([f"P-{i % 7}" for i in range(n)], dtype=object)
    ids[::5] = None
    return pd.DataFrame({
        "USUBJID": ids,
        "AVAL": np.arange(n, dtype="float64"),
        "ADT": pd.to_datetime("2020-01-01") + pd.to_timedelta(np.arange(n) % 40, unit="D"),
        "SEQ": pd.array([None if i % 3 == 0 else i for i in range(n)], dtype="Int64"),
        "FLAG": pd.array(["Y" if i % 2 else None for i in range(n)], dtype="string[python]"),
        "LATE": np.array([None] * (n - 1) + ["X"], dtype=object),  # only the last slice says it is text
        "EARLY": np.array(["X"] + [None] * (n - 1), dtype=object),  # later slices: missing values only
    })  # fmt: skip


@pytest.mark.parametrize("n", [9, 10, 11, 12])  # slices of 3 rows: n on a slice boundary, one over, one under
def test_parquet_written_in_slices_reads_back_as_the_whole_frame_would(tmp_path, n):
    frame = _mixed_frame(n).drop(columns="LATE")
    whole, sliced, same_schema = _parquet_pair(frame, tmp_path, rows=3)
    pd.testing.assert_frame_equal(sliced, whole, check_exact=True)
    pd.testing.assert_frame_equal(sliced, frame, check_exact=True)
    assert list(sliced.dtypes) == list(whole.dtypes) and isinstance(sliced.index, pd.RangeIndex)
    assert same_schema  # the same pandas metadata (the whole frame's index) and Arrow types
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "sliced.parquet").metadata.num_row_groups == -(-n // 3)


def test_parquet_slices_that_disagree_on_a_type_go_through_the_whole_frame(tmp_path):
    import numpy as np

    late = _mixed_frame(10)  # a column missing in the first slice: its type is only known from the whole
    whole, sliced, same_schema = _parquet_pair(late, tmp_path, rows=3)
    pd.testing.assert_frame_equal(sliced, whole, check_exact=True)
    assert same_schema
    numbers = pd.DataFrame({"x": np.array([1, 2, 3, 4, 5.5, 6], dtype=object)})  # ints, then a float
    whole, sliced, same_schema = _parquet_pair(numbers, tmp_path, rows=3)
    pd.testing.assert_frame_equal(sliced, whole, check_exact=True)
    assert same_schema and sliced["x"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.5, 6.0]
    shifted = pd.DataFrame({"x": np.arange(8.0)}, index=pd.RangeIndex(2, 10))  # not the default index
    whole, sliced, same_schema = _parquet_pair(shifted, tmp_path, rows=3)
    pd.testing.assert_frame_equal(sliced, whole, check_exact=True)
    assert same_schema and list(sliced.index) == list(range(2, 10))
