"""Tests of tkitrack.schemas.sdtm_out (DM, DS, EX, AE, SS, VS, CE, GF, MI, PR, SUPP--) and the exact import of what
it writes.

Hand-worked cases pin the study day (no day 0), EPOCH, AGE, the seriousness criteria, ARM/ARMNRS and the
splitting of long text; the round trips write every format to disk, import it into a fresh database (SQLite and
PostgreSQL) and compare every field of every record.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from tkitrack.sample_data.generate import generate_cohort
from tkitrack.sample_data.published import read_published
from tkitrack.schemas.cdisc_files import write_datasets
from tkitrack.schemas.export import record_text
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.sdtm import read_sdtm, read_sdtm_records, records_to_sdtm, sdtm_to_records
from tkitrack.schemas.sdtm_out import _split, derive_study_day, supp_rows
from tkitrack.schemas.storage import make_engine, transaction
from tkitrack.schemas.store import add_records, read_frames

SDTM = Path(__file__).resolve().parents[1] / "data" / "pharmaverse" / "sdtm"
RECORDS = tuple(RECORD_MODELS)  # every record type the data model holds


def _typed(raws: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {}
    for record, raw in raws.items():
        frame, problems = parse_records(record, raw)
        assert problems.empty, problems.to_string()
        out[record] = frame
    return out


def _store(engine: Engine, raws: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    with transaction(engine) as session:
        add_records(session, raws, user="tester", source="test")
    with transaction(engine) as session:
        return read_frames(session, RECORDS)


def _comparable(frames: dict[str, pd.DataFrame]) -> dict[str, list[tuple]]:
    """Every template field of every record (no ids; direct identifiers are never exported), sorted."""
    out = {}
    for record in RECORDS:
        text = record_text(record, frames[record]).drop(columns=["mrn", "initials"], errors="ignore")
        out[record] = sorted(map(tuple, text.astype(str).to_numpy()))
    return out


def _copy(template: Path, path: Path) -> Engine:
    """An engine on a copy of the session's migrated SQLite file."""
    return make_engine(f"sqlite:///{shutil.copyfile(template, path)}")


def _round_trip(engine: Engine, raws: dict, folder: Path, fmt: str, fresh: Engine) -> dict[str, pd.DataFrame]:
    original = _store(engine, raws)
    datasets = records_to_sdtm(original, study="RT-01")
    write_datasets(datasets, folder, fmt=fmt, study="RT-01", standard="SDTM")
    back = _store(fresh, read_sdtm_records(folder))
    assert _comparable(back) == _comparable(original)
    return original


def test_the_rich_records_fill_every_field_of_every_record_type(rich_records):
    """The round trips compare every field: each must hold a value somewhere, or a field the export dropped
    would come back empty on both sides and the comparison would not see it."""
    assert set(rich_records) == set(RECORDS)
    empty = {
        r: [c for c in input_columns(r) if c not in f.columns or (f[c] == "").all()] for r, f in rich_records.items()
    }
    assert {r: cols for r, cols in empty.items() if cols} == {}


@pytest.mark.parametrize("fmt", ["xpt", "json", "csv", "parquet"])
def test_every_record_comes_back_from_every_format(
    engine: Engine, tmp_path: Path, fmt: str, rich_records, sqlite_template
):
    target = _copy(sqlite_template, tmp_path / "back.db")
    original = _round_trip(engine, rich_records, tmp_path / fmt, fmt, target)
    target.dispose()
    assert {r: len(original[r]) for r in RECORDS} == {r: len(f) for r, f in rich_records.items()}


def test_published_cases_and_a_synthetic_cohort_come_back(engine: Engine, tmp_path: Path, sqlite_template):
    raws = {r: f for r, f in read_published().items() if r in RECORDS}
    cohort = generate_cohort(40, seed=3)
    raws = {r: pd.concat([raws.get(r), cohort.get(r)], ignore_index=True).fillna("") for r in RECORDS}
    target = _copy(sqlite_template, tmp_path / "back.db")
    _round_trip(engine, raws, tmp_path / "xpt", "xpt", target)
    target.dispose()


def test_the_import_into_postgresql_gives_the_same_records(
    engine: Engine, tmp_path: Path, rich_records, sqlite_template
):
    """The same round trip with the import landing in the other back end's database (the fixture's engine)."""
    source = _copy(sqlite_template, tmp_path / "source.db")
    _round_trip(source, rich_records, tmp_path / "json", "json", engine)
    source.dispose()


def test_pharmaverse_imported_then_exported_keeps_every_value(engine: Engine, tmp_path: Path, sqlite_template):
    """pharmaverse SDTM -> records -> SDTM (XPT) -> records: every field the data model holds is unchanged."""
    first = _store(engine, sdtm_to_records(read_sdtm(SDTM)))
    write_datasets(records_to_sdtm(first, study="CDISCPILOT01"), tmp_path / "xpt", fmt="xpt", study="CDISCPILOT01",
                   standard="SDTM")  # fmt: skip
    target = _copy(sqlite_template, tmp_path / "back.db")
    back = _store(target, read_sdtm_records(tmp_path / "xpt"))
    target.dispose()
    assert _comparable(back) == _comparable(first)
    assert len(first["ae"]) == 1191 and len(first["exposure"]) == 591 and len(first["patient"]) == 306


# --- hand-worked cases ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        pytest.param("2019-06-30", -1, id="day-before-is--1"),
        pytest.param("2019-07-01", 1, id="reference-day-is-1"),
        pytest.param("2019-07-02", 2, id="day-after-is-2"),
        pytest.param("2019-07", None, id="partial-date-no-day"),
        pytest.param("", None, id="no-date"),
    ],
)
def test_study_day_has_no_day_zero(date, expected):
    got = derive_study_day(pd.Series([date]), pd.Series(["P1"]), pd.Series({"P1": pd.Timestamp("2019-07-01")}))
    assert (None if pd.isna(got.iloc[0]) else int(got.iloc[0])) == expected


def _one(patient: dict, exposure: list[dict], **records) -> dict[str, pd.DataFrame]:
    raws = {"patient": pd.DataFrame([{"patient_id": "P1", **patient}])}
    raws |= {"exposure": pd.DataFrame(exposure)} if exposure else {}
    raws |= {k: pd.DataFrame(v) for k, v in records.items()}
    return records_to_sdtm(_typed(raws), study="S")


CRIZ = {"patient_id": "P1", "drug": "crizotinib", "dose": "280", "unit": "mg/m2", "frequency": "BID"}


@pytest.mark.parametrize(
    ("onset", "end", "epoch"),
    [
        pytest.param("2019-06-30", "2019-12-31", "SCREENING", id="day-before-first-dose"),
        pytest.param("2019-07-01", "2019-12-31", "TREATMENT", id="first-dose-day"),
        pytest.param("2019-12-31", "2019-12-31", "TREATMENT", id="last-dose-day"),
        pytest.param("2020-01-01", "2019-12-31", "FOLLOW-UP", id="day-after-last-dose"),
        pytest.param("2023-01-01", "", "TREATMENT", id="ongoing-course"),
    ],
)
def test_epoch_of_an_adverse_event(onset, end, epoch):
    out = _one({}, [{**CRIZ, "start": "2019-07-01", "end": end}],
               ae=[{"patient_id": "P1", "term": "Nausea", "grade": "1", "start": onset}])  # fmt: skip
    assert out["AE"]["EPOCH"].tolist() == [epoch]


@pytest.mark.parametrize(
    ("birth", "age"),
    [
        pytest.param("2013-07-01", 6, id="birthday-on-reference-day"),
        pytest.param("2013-07-02", 5, id="birthday-the-day-after"),
        pytest.param("2013-05", 6, id="partial-month-both-imputations-agree"),
        pytest.param("2013-07", None, id="partial-month-straddles-the-birthday"),
        pytest.param("2013", None, id="year-only-straddles"),
        pytest.param("", None, id="no-birth-date"),
    ],
)
def test_age_in_whole_years_at_the_reference_start(birth, age):
    dm = _one({"birth_date": birth}, [{**CRIZ, "start": "2019-07-01"}])["DM"].iloc[0]
    assert (None if pd.isna(dm["AGE"]) else int(dm["AGE"])) == age
    assert dm["AGEU"] == ("YEARS" if age is not None else "")


def test_rfstdtc_is_the_index_therapy_and_arm_comes_from_it_when_none_was_planned():
    vinc = {**CRIZ, "drug": "vincristine", "dose": "1.5", "frequency": "QW", "start": "2019-05-01", "end": "2019-06-01"}
    dm = _one({}, [vinc, {**CRIZ, "start": "2019-07-01"}])["DM"].iloc[0]
    assert dm[["RFSTDTC", "RFXSTDTC", "ARM", "ARMCD", "ACTARM", "ARMNRS"]].tolist() == [
        "2019-07-01", "2019-05-01", "CRIZOTINIB", "CRIZOTINIB", "CRIZOTINIB", ""]  # fmt: skip
    planned = _one({"arm": "Crizotinib 280 mg/m2 BID"}, [])["DM"].iloc[0]
    assert planned[["ARM", "ARMCD", "ACTARM", "ARMNRS"]].tolist() == [
        "Crizotinib 280 mg/m2 BID", "CRIZOTINIB_280_MG_M2", "", "ASSIGNED, NOT TREATED"]  # 20 characters  # fmt: skip
    assert _one({}, [])["DM"].iloc[0]["ARMNRS"] == "NOT ASSIGNED"


def test_seriousness_criteria_and_the_treatment_discontinuation():
    out = _one({}, [{**CRIZ, "start": "2019-07-01", "end": "2019-12-31", "reason": "toxicity", "discontinued": "true"}],
               ae=[{"patient_id": "P1", "term": "Sepsis", "grade": "4", "start": "2019-12-20", "serious": "true",
                    "serious_hospitalisation": "true", "serious_life_threatening": "false"}])  # fmt: skip
    ae = out["AE"].iloc[0]
    assert ae[["AESER", "AESHOSP", "AESLIFE", "AESDTH", "AESTDY"]].tolist() == ["Y", "Y", "N", "", 173]
    ds = out["DS"].iloc[0]
    assert ds[["DSTERM", "DSDECOD", "DSSCAT", "DSSTDTC", "DSSTDY", "EPOCH"]].tolist() == [
        "CRIZOTINIB DISCONTINUED: TOXICITY", "ADVERSE EVENT", "STUDY TREATMENT", "2019-12-31", 184, "TREATMENT"]  # fmt: skip
    supp = out["SUPPEX"].set_index("QNAM")["QVAL"]
    assert (supp["DISCFL"], supp["ENDRSN"]) == ("Y", "TOXICITY")


@pytest.mark.parametrize(
    ("value", "sizes"),
    [
        pytest.param("a" * 199 + " " + "b" * 50, [198, 52], id="never-a-blank-at-either-end-of-a-piece"),
        pytest.param("é" * 150, [200, 100], id="never-inside-a-two-byte-character"),
        pytest.param("a" * 200, [200], id="exactly-200-bytes-is-one-piece"),
        pytest.param("a" * 201, [200, 1], id="201-bytes-are-two"),
    ],
)
def test_long_text_is_split_into_pieces_that_join_back(value, sizes):
    pieces = _split(pd.Series([value]))[0]
    assert "".join(pieces) == value
    assert [len(p.encode("utf-8")) for p in pieces] == sizes
    assert all(p == p.strip() for p in pieces)  # a reader that strips the ends of values loses nothing


@pytest.mark.parametrize(
    ("value", "sizes"),
    [
        pytest.param("\U0001d11e" * 50, [200], id="50-four-byte-characters-are-200-bytes-one-piece"),
        pytest.param("\U0001d11e" * 51, [200, 4], id="51-four-byte-characters-are-two"),
        pytest.param("a" * 50, [50], id="50-characters"),
    ],
)
def test_text_of_50_characters_or_fewer_is_never_split(value, sizes):
    assert [len(p.encode("utf-8")) for p in _split(pd.Series([value]))[0]] == sizes


def test_supp_rows_put_the_pieces_of_a_long_value_in_order_between_short_ones():
    parent = pd.DataFrame({"STUDYID": "S", "USUBJID": ["P1", "P2", "P3", "P4"], "AESEQ": [1, 2, 3, 4]})
    note = pd.Series(["x", "a" * 199 + " " + "b" * 50, None, "é" * 60])  # 60 characters, 120 bytes: one piece
    supp = supp_rows(parent, "AE", {"NOTE": ("Free-Text Note", note)}, idvar="AESEQ")
    assert supp[["USUBJID", "IDVARVAL", "QNAM", "QLABEL"]].values.tolist() == [
        ["P1", "1", "NOTE", "Free-Text Note"], ["P2", "2", "NOTE", "Free-Text Note"],
        ["P2", "2", "NOTE1", "Free-Text Note (2)"], ["P4", "4", "NOTE", "Free-Text Note"]]  # fmt: skip
    assert supp["QVAL"].tolist() == ["x", "a" * 198, "a " + "b" * 50, "é" * 60]
    assert supp[["STUDYID", "RDOMAIN", "IDVAR", "QORIG", "QEVAL"]].drop_duplicates().values.tolist() == [
        ["S", "AE", "AESEQ", "Collected", ""]]  # fmt: skip


def test_a_subset_of_domains_is_the_same_as_in_the_full_set(rich_records):
    typed = _typed(rich_records)
    full = records_to_sdtm(typed, study="S")
    wanted = ("DS", "EX", "SUPPEX", "AE", "RS", "SS", "SUPPSS", "CE")
    part = records_to_sdtm(typed, study="S", domains=wanted)
    assert list(part) == ["DM", "DS", "EX", "AE", "RS", "SS", "CE", "SUPPEX", "SUPPSS"]  # DM always: RFSTDTC
    for name, frame in part.items():
        pd.testing.assert_frame_equal(frame, full[name], check_exact=True)
    assert list(records_to_sdtm(typed, study="S", domains=["tr"])) == ["DM", "TR"]


def test_every_domain_is_written_even_when_empty():
    out = _one({}, [])
    assert [k for k in out if not k.startswith("SUPP")] == ["DM", "DS", "EX", "AE", "RS", "TU", "TR", "SS", "VS"]
    assert len(out["DM"]) == 1 and out["AE"].empty


def test_free_text_can_be_left_out(rich_records):
    typed = _typed(rich_records)
    full = records_to_sdtm(typed, study="S")
    bare = records_to_sdtm(typed, study="S", free_text=False)
    assert "NOTE" in set(full["SUPPDM"]["QNAM"]) and "DTHCAUS" in set(full["SUPPSS"]["QNAM"])
    assert "DETAIL" in set(full["SUPPPR"]["QNAM"])
    supp = pd.concat([f for n, f in bare.items() if n.startswith("SUPP")])
    assert not supp["QNAM"].str.match(r"^(NOTE|DTHCAUS|DETAIL)\d*$").any()  # DETAIL: procedure details
    assert bare["DS"].loc[bare["DS"]["DSDECOD"] == "DEATH", "DSTERM"].tolist() == ["DEATH"]
    assert full["DS"].loc[full["DS"]["DSDECOD"] == "DEATH", "DSTERM"].str.startswith("sepsis").all()
    assert bare["AE"].equals(full["AE"]) and bare["DM"].equals(full["DM"])  # nothing else changes


def test_rs_first_rows_are_the_first_row_of_each_assessment_of_the_whole_rs(rich_records):
    typed = _typed(rich_records)
    a = typed["assessment"].copy()
    a.loc[a.index[-1], ["response", "response_given", "target_response"]] = [pd.NA, pd.NA, "SD"]  # no OVRLRESP
    typed["assessment"] = a
    whole = records_to_sdtm(typed, study="S")["RS"]
    first = whole.drop_duplicates(["USUBJID", "RSLNKGRP"]).reset_index(drop=True)
    assert {"OVRLRESP", "TRGRESP"} <= set(first["RSTESTCD"]) and len(first) < len(whole)
    part = records_to_sdtm(typed, study="S", domains=["RS"], rs_first_rows=True)["RS"]
    pd.testing.assert_frame_equal(part, first, check_exact=True)  # RSSEQ numbers the whole RS
    from tkitrack.schemas.errors import InputError

    with pytest.raises(InputError, match="rs_first_rows"):
        records_to_sdtm(typed, study="S", domains=["RS", "TR"], rs_first_rows=True)


def test_ae_dates_only_are_the_whole_ae_s_identifiers_and_dates(rich_records):
    """Every event (partial dates and missing ends included), in AE's order, each cell that of the whole AE."""
    typed = _typed(rich_records)
    whole = records_to_sdtm(typed, study="S")["AE"]
    assert len(whole) > 1 and (whole["AEENDTC"] == "").any() and (whole["AESTDTC"].str.len() < 10).any()
    part = records_to_sdtm(typed, study="S", domains=["AE"], ae_dates_only=True)["AE"]
    columns = ["STUDYID", "DOMAIN", "USUBJID", "AESTDTC", "AEENDTC"]
    assert list(part.columns) == columns
    pd.testing.assert_frame_equal(part, whole[columns].reset_index(drop=True), check_exact=True)
    from tkitrack.schemas.errors import InputError

    with pytest.raises(InputError, match="ae_dates_only"):
        records_to_sdtm(typed, study="S", domains=["AE", "SUPPAE"], ae_dates_only=True)
