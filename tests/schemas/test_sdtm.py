"""Tests of tkitrack.schemas.sdtm: reading SDTM folders, mapping them to records, and records back to SDTM.

The pharmaverse files in tests/data/pharmaverse/sdtm/ are byte-identical copies of pharmaverse/pharmaversesdtm
(Apache-2.0); see PROVENANCE-sdtm.md there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.frames import check_frame, concat_frames
from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.queries import validate_frames
from tkitrack.schemas.sdtm import read_sdtm, records_to_sdtm, sdtm_to_records
from tkitrack.schemas.sdtm_records import ctcae_key
from tkitrack.schemas.storage import transaction
from tkitrack.schemas.store import add_records, read_frames

SDTM = Path(__file__).resolve().parents[1] / "data" / "pharmaverse" / "sdtm"
# the whole pharmaverse folder, where this checkout has the project's shared/ folder beside it
ORACLE = Path(__file__).resolve().parents[3] / "shared" / "oracle" / "pharmaverse" / "sdtm"


@pytest.fixture(scope="module")
def sdtm() -> dict[str, pd.DataFrame]:
    return read_sdtm(SDTM)


@pytest.fixture(scope="module")
def records(sdtm) -> dict[str, pd.DataFrame]:
    return sdtm_to_records(sdtm)


def _typed(records: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {}
    for record, raw in records.items():
        frame, problems = parse_records(record, raw)
        assert problems.empty, problems.to_string()
        out[record] = frame
    return out


# --- read_sdtm -----------------------------------------------------------------------------------------------


def test_read_sdtm_finds_every_domain_with_all_rows_as_text(sdtm):
    assert {d: len(f) for d, f in sdtm.items()} == {
        "AE": 1191, "DM": 306, "DS": 850, "EX": 591, "RS": 66, "TR": 546, "TU": 75,
    }  # fmt: skip
    assert sdtm["RS"].attrs["files"] == ["rs_onco_recist.csv"]
    assert all(str(dtype) == "object" for f in sdtm.values() for dtype in f.dtypes)
    dm = sdtm["DM"].set_index("USUBJID")
    assert dm.loc["01-701-1015", ["BRTHDTC", "SEX", "DTHDTC", "AGE"]].tolist() == ["1950-12-26", "F", "", "63.0"]


def _write(path: Path, frame: pd.DataFrame) -> None:
    frame.to_csv(path, index=False)


def test_several_files_of_one_domain_take_each_subject_from_the_most_specific(tmp_path):
    _write(tmp_path / "dm.csv", pd.DataFrame({"USUBJID": ["A", "B"], "DOMAIN": "DM"}))
    # no DOMAIN column: the domain comes from the file name up to the first underscore
    _write(tmp_path / "rs_onco.csv", pd.DataFrame({"USUBJID": ["A", "A", "B"], "RSSEQ": [1, 2, 1],
                                                   "RSDTC": ["2014-01-01", "2014-02-01", "2014-03-01"]}))  # fmt: skip
    _write(tmp_path / "rs_onco_recist.csv", pd.DataFrame({"USUBJID": ["A"], "RSSEQ": [1], "RSDTC": ["2014-05-05"]}))
    _write(tmp_path / "suppdm.csv", pd.DataFrame({"STUDYID": ["S"], "RDOMAIN": ["DM"], "USUBJID": ["A"]}))
    (tmp_path / "readme.txt").write_text("not a dataset")
    found = read_sdtm(tmp_path)
    assert sorted(found) == ["DM", "RS", "SUPPDM"]  # supplemental qualifiers are SUPP + their RDOMAIN
    rs = found["RS"]
    assert rs[["USUBJID", "RSSEQ", "RSDTC"]].values.tolist() == [["A", "1", "2014-05-05"], ["B", "1", "2014-03-01"]]
    assert {k: rs.attrs[k] for k in ("files", "dropped", "kept")} == {
        "files": ["rs_onco_recist.csv", "rs_onco.csv"],
        "dropped": {"rs_onco_recist.csv": 0, "rs_onco.csv": 2},
        "kept": {"rs_onco_recist.csv": 1, "rs_onco.csv": 1},  # every row kept or dropped (reconciliation)
    }
    assert [p.rsplit("/", 1)[-1] for p in rs.attrs["paths"]] == rs.attrs["files"]


def test_sas_transport_files_read_like_csv(tmp_path, sdtm):
    pyreadstat = pytest.importorskip("pyreadstat")
    dm = pd.read_csv(SDTM / "dm.csv", keep_default_na=False)[["STUDYID", "DOMAIN", "USUBJID", "SITEID", "SEX",
                                                              "BRTHDTC", "AGE", "DTHDTC"]]  # fmt: skip
    pyreadstat.write_xport(dm, str(tmp_path / "dm.xpt"), table_name="DM")
    back = read_sdtm(tmp_path)["DM"]
    assert back["AGE"].iloc[0] == "63"  # numbers come back as text, whole numbers without ".0"
    for column in ("USUBJID", "SITEID", "SEX", "BRTHDTC", "DTHDTC"):
        assert back[column].tolist() == sdtm["DM"][column].tolist(), column


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param("dm.csv", "STUDYID,DOMAIN\nS,DM\n", "dm.csv: no USUBJID column", id="no-usubjid"),
        pytest.param("ex.xpt", "this is not a transport file", "ex.xpt", id="broken-xpt"),
        pytest.param("ae.csv", 'USUBJID,AETERM\n"A,"x\n"B', "ae.csv: line 2: ", id="broken-csv"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path, name, content, expected):
    (tmp_path / name).write_text(content)
    with pytest.raises(InputError, match=expected):
        read_sdtm(tmp_path)


def test_missing_or_empty_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_sdtm(tmp_path / "nowhere")
    with pytest.raises(InputError, match="holds no SDTM dataset"):
        read_sdtm(tmp_path)
    with pytest.raises(InputError, match="SDTM DM is required"):
        sdtm_to_records({"AE": pd.DataFrame({"USUBJID": ["A"], "AESTDTC": [""]})})


# --- sdtm_to_records on small inline cases --------------------------------------------------------------------


def _small() -> dict[str, pd.DataFrame]:
    dm = pd.DataFrame({"STUDYID": "S1", "USUBJID": ["A", "B"], "SITEID": ["01", "02"], "SEX": ["F", "M"],
                       "BRTHDTC": ["1950-01-01", "1960-06"], "AGE": ["64", "53"], "AGEU": "YEARS",
                       "DTHDTC": ["", "2014-03-10"], "DTHFL": ["", "Y"]})  # fmt: skip
    ds = pd.DataFrame({"USUBJID": ["A", "A", "B", "B"], "DSDECOD": ["RANDOMIZED", "COMPLETED", "RANDOMIZED", "DEATH"],
                       "DSSTDTC": ["2014-01-02", "2014-06-30", "2014-01-05", "2014-03-10"]})  # fmt: skip
    ex = pd.DataFrame({"USUBJID": ["A", "B"], "EXTRT": ["XANOMELINE", "PLACEBO"], "EXDOSE": ["54", "0"],
                       "EXDOSU": "mg", "EXDOSFRM": "PATCH", "EXDOSFRQ": "QD", "EXROUTE": "TRANSDERMAL",
                       "EXSTDTC": ["2014-01-02", "2014-01-05"], "EXENDTC": ["2014-06-01", "2014-03-01"]})  # fmt: skip
    ae = pd.DataFrame({
        "USUBJID": ["A", "A", "A", "B", "A"],
        "AEDECOD": ["DIARRHOEA", "SYNCOPE", "APPLICATION SITE PRURITUS", "MYOCARDIAL INFARCTION", "NAUSEA"],
        "AESEV": ["MODERATE", "MILD", "MILD", "SEVERE", "MILD"],
        "AETOXGR": ["", "", "", "", "2"],
        "AESER": ["N", "N", "N", "Y", "N"],
        "AEREL": ["PROBABLE", "REMOTE", "RELATED", "NONE", ""],
        "AEACN": ["DOSE NOT CHANGED", "", "DRUG WITHDRAWN", "", ""],
        "AEOUT": ["RECOVERED/RESOLVED", "", "", "FATAL", ""],
        "AESDTH": ["N", "N", "N", "Y", "N"],
        "AESTDTC": ["2014-02-01", "2014-03", "2014-04-01T10:30", "2014-03-10", "2014-02-02"],
        "AEENDTC": ["2014-02-05", "", "", "2014-03-10", ""],
    })  # fmt: skip
    rs = pd.DataFrame({
        "USUBJID": "A", "RSEVAL": ["INVESTIGATOR"] * 4 + ["INDEPENDENT ASSESSOR"] * 2,
        "RSACPTFL": ["", "", "", "", "Y", ""], "RSCAT": "RECIST 1.1",
        "RSTESTCD": ["OVRLRESP", "TRGRESP", "NEWLPROG", "OVRLRESP", "OVRLRESP", "OVRLRESP"],
        "RSSTRESC": ["PR", "PR", "EQUIVOCAL", "CR", "SD", "PD"], "VISIT": ["WEEK 6", "WEEK 6", "WEEK 6", "WEEK 12",
                                                                         "WEEK 6", "WEEK 6"],
        "RSDTC": ["2014-02-12", "2014-02-12", "2014-02-12", "2014-03-26", "2014-02-12", "2014-02-12"],
    })  # fmt: skip
    tu = pd.DataFrame({"USUBJID": "A", "TULNKID": ["T01", "T02"], "TULOC": ["LIVER", "LYMPH NODE"],
                       "TUMETHOD": "CT SCAN"})  # fmt: skip
    tr = pd.DataFrame({
        "USUBJID": "A", "TRGRPID": "TARGET", "TRLNKID": ["T01", "T01", "T02", "T02"] * 2,
        "TRTESTCD": ["LDIAM", "LPERP"] * 4, "TRSTRESN": ["30", "20", "25", "12", "20", "15", "18", "9"],
        "TREVAL": "INVESTIGATOR", "VISIT": ["SCREENING"] * 4 + ["WEEK 6"] * 4,
        "TRDTC": ["2013-12-20"] * 4 + ["2014-02-12"] * 4,
    })  # fmt: skip
    return {"DM": dm, "DS": ds, "EX": ex, "AE": ae, "RS": rs, "TU": tu, "TR": tr}


def test_patients_exposures_and_followup_from_dm_ds_ex():
    out = sdtm_to_records(_small())
    pt = out["patient"].set_index("patient_id")
    assert pt.loc["A", ["site", "sex", "birth_date", "reference_date", "histology", "age_at_diagnosis"]].tolist() == [
        "01", "F", "1950-01-01", "2014-01-02", "OTHER", ""]  # fmt: skip
    assert "DM.AGE 64 years is the age at the reference start" in pt.loc["A", "note"]
    ex = out["exposure"]
    assert ex[["drug", "dose", "unit", "frequency", "route", "formulation", "reason"]].values.tolist() == [
        ["xanomeline", "54", "mg", "QD", "TRANSDERMAL", "patch", ""], ["placebo", "0", "mg", "QD", "TRANSDERMAL",
                                                                        "patch", ""]]  # fmt: skip
    fu = out["followup"][["patient_id", "date", "vital_status", "death_date", "death_cause"]]
    # A: last known alive on the DS COMPLETED date; B died on the day of its last record, so only a death row
    assert fu.values.tolist() == [["A", "2014-06-30", "alive", "", ""],
                                  ["B", "2014-03-10", "dead", "2014-03-10", "MYOCARDIAL INFARCTION"]]  # fmt: skip


def test_the_last_ex_record_of_a_drug_with_an_end_is_the_discontinuation():
    """SDTM EX has no stop flag: earlier ends of a drug are holds or dose changes, the last ended one a stop.

    A: crizotinib held (a gap) and resumed, then ended: only the last record is a discontinuation; the
    vinblastine course before it ended too (its own drug's last record). B: crizotinib ongoing (no end): no
    discontinuation. Records are given out of date order to show that order in the file does not matter.
    """
    ex = pd.DataFrame({
        "USUBJID": ["A", "A", "A", "B", "B"],
        "EXTRT": ["CRIZOTINIB", "VINBLASTINE", "CRIZOTINIB", "CRIZOTINIB", "CRIZOTINIB"],
        "EXDOSE": ["200", "6", "200", "280", "230"], "EXDOSU": "mg", "EXDOSFRQ": "QD",
        "EXSTDTC": ["2019-06-01", "2018-01-05", "2019-01-01", "2019-01-01", "2019-03-01"],
        "EXENDTC": ["2019-12-31", "2018-06-30", "2019-04-30", "2019-02-28", ""],
    })  # fmt: skip
    out = sdtm_to_records({**_small(), "EX": ex})["exposure"]
    assert out[["patient_id", "drug", "start", "discontinued"]].values.tolist() == [
        ["A", "crizotinib", "2019-06-01", "true"],
        ["A", "vinblastine", "2018-01-05", "true"],
        ["A", "crizotinib", "2019-01-01", "false"],
        ["B", "crizotinib", "2019-01-01", "false"],
        ["B", "crizotinib", "2019-03-01", "false"],
    ]


@pytest.mark.parametrize(
    ("given", "grade", "rules"),
    [
        pytest.param("GRADE 3", "GRADE 3", {"FLD006", "FLD001"}, id="words"),  # not a number, so no grade
        pytest.param("7", "7", {"FLD003", "AE003"}, id="not-a-ctcae-grade"),
        pytest.param("2.5", "2.5", {"FLD006", "FLD001"}, id="fraction"),
        pytest.param("999999999999999999999", "999999999999999999999", {"FLD011", "FLD001"}, id="huge"),
        pytest.param("4", "4", {"AE003"}, id="no-grade-4-for-the-term"),
    ],
)
def test_an_aetoxgr_that_is_not_a_ctcae_grade_is_queried_not_replaced(given, grade, rules):
    """Issue 17.2: an invalid AETOXGR was replaced by the AESEV grade with a note saying there was none."""
    small = _small()
    small["AE"] = small["AE"].assign(AETOXGR=[given, "", "", "", "2"])  # row 0: DIARRHOEA, AESEV MODERATE
    ae = sdtm_to_records(small)["ae"]
    assert ae.loc[0, "grade"] == grade  # as given: never the severity's grade 2
    assert "AESEV" not in ae.loc[0, "note"]
    if given == "4":  # CTCAE diarrhoea has grades 1-5: use a term without grade 4 (syncope: grade 3 only)
        small["AE"].loc[0, "AEDECOD"] = "SYNCOPE"
        ae = sdtm_to_records(small)["ae"]
    frame, found = parse_records("ae", ae.iloc[[0]])
    found = concat_frames([found, check_frame("ae", frame)])
    assert set(found["rule_id"]) == rules and (found["severity"] == "error").all()


def test_adverse_events_grade_term_and_codes():
    ae = sdtm_to_records(_small())["ae"]
    got = ae[["term", "verbatim", "grade", "start", "serious", "attribution", "action", "outcome"]]
    assert got.values.tolist() == [
        ["Diarrhea", "false", "2", "2014-02-01", "false", "probable", "none", "recovered"],
        # CTCAE v5.0 syncope exists only as grade 3: a MILD syncope keeps the MedDRA term as verbatim
        ["SYNCOPE", "true", "1", "2014-03", "false", "unlikely", "", ""],
        ["APPLICATION SITE PRURITUS", "true", "1", "2014-04-01T10:30", "false", "", "withdrawn", ""],  # time kept
        ["Myocardial infarction", "false", "5", "2014-03-10", "true", "unrelated", "", "fatal"],
        ["Nausea", "false", "2", "2014-02-02", "false", "", "", ""],  # AETOXGR wins over AESEV
    ]  # fmt: skip
    assert ae["note"].tolist() == [
        "grade from AESEV MODERATE (no AETOXGR in SDTM)",
        "grade from AESEV MILD (no AETOXGR in SDTM); CTCAE v5.0 'Syncope' has no grade 1, so the MedDRA term is "
        "kept verbatim",
        "grade from AESEV MILD (no AETOXGR in SDTM); AEREL 'RELATED' has no tkitrack equivalent",
        "grade 5 from AEOUT FATAL / AESDTH Y",
        "",
    ]
    assert ae["attributed_drug"].tolist() == ["xanomeline", "xanomeline", "", "placebo", ""]


def test_ctcae_key_folds_british_spellings():
    keys = ctcae_key(pd.Series(["DIARRHOEA", "Diarrhea", "OEDEMA PERIPHERAL", "Anaemia", "PRURITUS GENERALISED"]))
    assert keys.tolist() == ["DIARRHEA", "DIARRHEA", "EDEMA PERIPHERAL", "ANEMIA", "PRURITUS GENERALIZED"]


def test_assessments_from_rs_and_tr():
    a = sdtm_to_records(_small())["assessment"]
    got = a[["date", "baseline", "sum_diameters", "target_response", "new_lesion", "response", "evaluator",
             "modality", "criteria"]]  # fmt: skip
    # screening: 30 (LDIAM, liver) + 12 (LPERP: the short axis of the lymph node) = 42; week 6: 20 + 9
    assert got.values.tolist() == [
        ["2013-12-20", "true", "42.0", "", "", "", "INVESTIGATOR", "CT", ""],
        ["2014-02-12", "false", "29.0", "PR", "", "PR", "INVESTIGATOR", "CT", "RECIST1.1"],
        ["2014-03-26", "false", "", "", "", "CR", "INVESTIGATOR", "", "RECIST1.1"],
    ]  # fmt: skip
    assert a["note"].iloc[1] == "SDTM visit Week 6; new lesion equivocal (NEWLPROG)"


def test_independent_reads_only_when_asked_and_only_the_accepted_one():
    a = sdtm_to_records(_small(), evaluators=("INVESTIGATOR", "INDEPENDENT"))["assessment"]
    assert a[["date", "response", "evaluator"]].values.tolist() == [
        ["2013-12-20", "", "INVESTIGATOR"], ["2014-02-12", "SD", "INDEPENDENT"], ["2014-02-12", "PR", "INVESTIGATOR"],
        ["2014-03-26", "CR", "INVESTIGATOR"],
    ]  # fmt: skip


def test_pharmaverse_sum_of_diameters_equals_adtr_sdiam(records):
    a = records["assessment"]
    got = a.loc[a["patient_id"] == "01-701-1015", ["date", "sum_diameters", "baseline"]].values.tolist()
    # pharmaverseadam adtr_onco (Apache-2.0), PARAMCD SDIAM of 01-701-1015: 96, 96, 38, 7 (baseline 2014-01-02)
    assert got == [["2014-01-02", "96.0", "true"], ["2014-01-23", "96.0", "false"], ["2014-02", "38.0", "false"],
                   ["2014-03-06", "7.0", "false"]]  # fmt: skip


# --- the pharmaverse folder as given: import, counts, round trip ------------------------------------------------


def test_pharmaverse_imports_as_given_with_every_row(engine: Engine, sdtm, records):
    with transaction(engine) as session:
        counts = add_records(session, records, user="tester", source=str(SDTM))
    with transaction(engine) as session:
        frames = read_frames(session)
    rs = sdtm["RS"]
    investigator = rs[(rs["RSTESTCD"] == "OVRLRESP") & (rs["RSEVAL"] == "INVESTIGATOR")]
    dm = sdtm["DM"]
    assert counts["patient"] == len(frames["patient"]) == len(dm) == 306
    assert len(frames["exposure"]) == len(sdtm["EX"]) == 591
    assert len(frames["ae"]) == len(sdtm["AE"]) == 1191
    assert frames["assessment"]["response"].notna().sum() == len(investigator) == 22
    fu = frames["followup"]
    dead = fu.loc[fu["vital_status"] == "dead"].sort_values("patient_id")
    assert dead["patient_id"].tolist() == sorted(dm.loc[dm["DTHFL"] == "Y", "USUBJID"]) and len(dead) == 3
    assert dead["death_date_dtc"].tolist() == dm.loc[dm["DTHFL"] == "Y"].sort_values("USUBJID")["DTHDTC"].tolist()
    assert set(fu["patient_id"]) == set(dm["USUBJID"])
    # 472 AEDECOD terms are CTCAE v5.0 terms; 23 of them (mild myocardial infarction, syncope, urinary tract
    # infection) have an AESEV grade CTCAE does not define for the term, so 449 keep the CTCAE term
    assert (~frames["ae"]["verbatim"]).sum() == 449


def test_round_trip_keeps_the_key_values(sdtm, records):
    back = records_to_sdtm(_typed(records))

    def key(frame, columns):
        return sorted(map(tuple, frame[columns].astype(str).to_numpy()))

    dm_cols = ["USUBJID", "SEX", "BRTHDTC", "DTHDTC", "DTHFL", "SITEID", "RFSTDTC", "RFXSTDTC", "RFXENDTC"]
    assert key(back["DM"], dm_cols) == key(sdtm["DM"], dm_cols)
    ds = sdtm["DS"][sdtm["DS"]["DSDECOD"].isin(["RANDOMIZED", "DEATH"])]
    milestones = back["DS"][back["DS"]["DSSCAT"] != "STUDY TREATMENT"]  # not the treatment discontinuations
    assert key(milestones, ["USUBJID", "DSDECOD", "DSSTDTC"]) == key(ds, ["USUBJID", "DSDECOD", "DSSTDTC"])
    ex_cols = ["USUBJID", "EXTRT", "EXDOSU", "EXDOSFRQ", "EXROUTE", "EXDOSFRM", "EXSTDTC", "EXENDTC"]
    assert key(back["EX"], ex_cols) == key(sdtm["EX"], ex_cols)
    assert (back["EX"]["EXDOSE"].to_numpy() == sdtm["EX"].sort_values(["USUBJID", "EXSTDTC"])["EXDOSE"]
            .astype(float).to_numpy()).all()  # fmt: skip
    ae = sdtm["AE"].assign(AEDECOD=ctcae_key(sdtm["AE"]["AEDECOD"]))
    ae_cols = ["USUBJID", "AEDECOD", "AESER", "AESTDTC", "AEENDTC", "AEOUT", "AESDTH"]
    # a term kept verbatim (not a CTCAE term) is exported uncoded: AEDECOD empty, the term in AETERM
    decod = back["AE"]["AEDECOD"].mask(back["AE"]["AEDECOD"] == "", back["AE"]["AETERM"])
    assert key(back["AE"].assign(AEDECOD=ctcae_key(decod)), ae_cols) == key(ae, ae_cols)
    rs = sdtm["RS"][sdtm["RS"]["RSEVAL"] == "INVESTIGATOR"]
    rs_cols = ["USUBJID", "RSTESTCD", "RSDTC", "RSSTRESC", "RSEVAL"]
    assert key(back["RS"], rs_cols) == key(rs, rs_cols)


def test_outcome_derivations_give_the_same_best_response_on_tkitrack_data(sdtm, records):
    tte = pytest.importorskip("tkitrack.outcomes.tte")
    original = tte.derive_adam({k: sdtm[k] for k in ("DM", "DS", "EX", "RS")})["adrs"]
    back = records_to_sdtm(_typed(records))
    derived = tte.derive_adam({k: back[k] for k in ("DM", "DS", "EX", "RS")})["adrs"]

    def bor(adrs):
        rows = adrs[adrs["PARAMCD"].isin(["BOR", "CBOR"])]
        return rows.set_index(["USUBJID", "PARAMCD"])["AVALC"].sort_index()

    assert len(bor(original)) > 0
    pd.testing.assert_series_equal(bor(derived), bor(original))


@pytest.mark.slow
@pytest.mark.skipif(not ORACLE.is_dir(), reason="the full pharmaverse oracle folder is not on this machine")
def test_full_oracle_folder_imports_as_given_and_queries_its_two_data_problems(engine: Engine):
    """The whole folder (rs_onco, tu_onco, tr_onco too) imports; its two data problems become queries, not losses."""
    found = read_sdtm(ORACLE)
    assert found["RS"].attrs["dropped"] == {"rs_onco_recist.csv": 0, "rs_onco.csv": 255}  # the 8 RECIST subjects
    with transaction(engine) as session:
        counts = add_records(session, sdtm_to_records(found), user="tester", source=str(ORACLE))
    assert (counts["patient"], counts["exposure"], counts["ae"]) == (306, 591, 1191)
    with transaction(engine) as session:
        frames = read_frames(session)
    a = frames["assessment"]
    check = a[a["response_given"] == "CHECK"]  # kept as given, the response left empty, never guessed
    assert check["patient_id"].tolist() == ["01-711-1143"] and check["response"].isna().all()
    listing = validate_frames(frames)
    assert not (listing["severity"] == "error").any()
    queries = listing[listing["rule_id"].isin(["AS003", "AS004"])]
    assert sorted(queries[["patient_id", "rule_id", "value"]].values.tolist()) == [
        ["01-711-1143", "AS004", "CHECK"],
        ["01-714-1375", "AS003", "PR"],
    ]


def test_second_rs_file_imports_as_given_with_queries_not_losses(engine: Engine, tmp_path):
    """tests/data copies: the SDTM subset plus pharmaverse's rs_onco.csv, with its CHECK and PR-after-CR rows."""
    folder = tmp_path / "sdtm"
    shutil.copytree(SDTM, folder)
    shutil.copy(SDTM.parent / "rs_onco" / "rs_onco.csv", folder / "rs_onco.csv")
    with transaction(engine) as session:
        counts = add_records(session, sdtm_to_records(read_sdtm(folder)), user="tester", source=str(folder))
    assert counts["patient"] == 306
    with transaction(engine) as session:
        listing = validate_frames(read_frames(session))
    assert not (listing["severity"] == "error").any()
    queries = listing[listing["rule_id"].isin(["AS003", "AS004"])]
    assert sorted(queries[["patient_id", "rule_id", "value"]].values.tolist()) == [
        ["01-711-1143", "AS004", "CHECK"],
        ["01-714-1375", "AS003", "PR"],
    ]


def test_records_to_sdtm_from_tkitrack_records():
    raws = {
        "patient": pd.DataFrame({"patient_id": ["P1"], "sex": ["F"], "birth_date": ["2013-05"], "site": ["S1"]}),
        "exposure": pd.DataFrame({"patient_id": ["P1", "P1"], "drug": ["crizotinib", "vincristine"],
                                  "dose": ["280", "1.5"], "unit": ["mg/m2", "mg/m2"], "frequency": ["BID", "QW"],
                                  "route": ["ORAL", "IV"], "start": ["2019-07-01", "2019-06"],
                                  "end": ["", "2019-06-28"]}),
        "ae": pd.DataFrame({"patient_id": ["P1"], "term": ["Gait disturbance"], "grade": ["2"],
                            "start": ["2019-12"], "attribution": ["possible"], "action": ["withdrawn"]}),
        "assessment": pd.DataFrame({"patient_id": ["P1", "P1"], "date": ["2019-06-20", "2019-10"],
                                    "baseline": ["true", "false"], "sum_diameters": ["41.5", ""],
                                    "new_lesion": ["", "true"], "response": ["", "PD"],
                                    "evaluator": ["INVESTIGATOR", "INDEPENDENT"]}),
        "followup": pd.DataFrame({"patient_id": ["P1", "P1"], "date": ["2020-03-01", "2020-04"],
                                  "vital_status": ["alive", "dead"], "death_date": ["", "2020-04"],
                                  "death_cause": ["", "progressive disease"]}),
    }  # fmt: skip
    out = records_to_sdtm(_typed(raws), study="IMT-01")
    dm = out["DM"].iloc[0]
    assert dm[["STUDYID", "USUBJID", "RFSTDTC", "RFXSTDTC", "RFXENDTC", "RFPENDTC", "DTHDTC", "DTHFL", "BRTHDTC"]
              ].tolist() == ["IMT-01", "P1", "2019-07-01", "2019-06", "2019-06-28", "2020-04", "2020-04", "Y", "2013-05"]  # fmt: skip
    # RFSTDTC is the first dose of the index therapy (crizotinib), not of the earlier chemotherapy
    assert out["EX"][["EXSEQ", "EXTRT", "EXROUTE", "EXSTDTC", "EXENDTC"]].values.tolist() == [
        [1, "VINCRISTINE", "INTRAVENOUS", "2019-06", "2019-06-28"], [2, "CRIZOTINIB", "ORAL", "2019-07-01", ""]]  # fmt: skip
    assert out["DS"][["DSDECOD", "DSTERM", "DSSTDTC"]].values.tolist() == [["DEATH", "progressive disease", "2020-04"]]
    assert out["AE"][["AEDECOD", "AETOXGR", "AEREL", "AEACN", "AESER", "AESTDTC"]].values.tolist() == [
        ["Gait disturbance", "2", "POSSIBLE", "DRUG WITHDRAWN", "N", "2019-12"]]  # fmt: skip
    assert out["RS"][["RSTESTCD", "RSSTRESC", "RSEVAL", "RSDTC"]].values.tolist() == [
        ["OVRLRESP", "PD", "INDEPENDENT ASSESSOR", "2019-10"], ["NEWLPROG", "Y", "INDEPENDENT ASSESSOR", "2019-10"]]  # fmt: skip
    assert out["TR"][["TRTESTCD", "TRSTRESN", "TREVAL", "TRDTC"]].values.tolist() == [
        ["SUMDIAM", 41.5, "INVESTIGATOR", "2019-06-20"]]  # fmt: skip


def test_an_ae_domain_without_aedecod_uses_aeterm_and_one_without_both_is_refused():
    """Issue 18.3: a missing AEDECOD ended in an internal error (KeyError) when a subject had died."""
    small = _small()
    small["AE"] = small["AE"].drop(columns="AEDECOD").assign(AETERM=small["AE"]["AEDECOD"])
    out = sdtm_to_records(small)
    assert out["followup"].set_index("patient_id").loc["B", "death_cause"] == "MYOCARDIAL INFARCTION"
    small["AE"] = small["AE"].drop(columns="AETERM")
    with pytest.raises(InputError, match="neither AEDECOD nor AETERM"):
        sdtm_to_records(small)
