"""Tests of tkitrack.outcomes.tte: ADTTE against pharmaverse adtte_onco and hand-worked event/censoring cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes.tte import (
    DEATH_EVENT,
    LASTA_CENSOR,
    LASTALIVE_CENSOR,
    PD_EVENT,
    RAND_CENSOR,
    TteSource,
    derive_adam,
    derive_param_tte,
)
from tkitrack.schemas.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "pharmaverse"
# Source: pharmaverse/pharmaversesdtm and pharmaverseadam (Apache-2.0), see tests/data/pharmaverse/PROVENANCE.md.
ORACLE_RS = pd.read_csv(DATA / "rs_onco_recist.csv")
INVESTIGATOR = "INVESTIGATOR"
OVRLRESP = "OVRLRESP"


@pytest.fixture(scope="module")
def adam() -> dict[str, pd.DataFrame]:
    sdtm = {name: pd.read_csv(DATA / f"{name}.csv") for name in ("dm", "ds", "ex")}
    sdtm["rs"] = ORACLE_RS
    lstalvdt = pd.read_csv(DATA / "adsl.csv")[["USUBJID", "LSTALVDT"]]
    return derive_adam(sdtm, lstalvdt=lstalvdt)


def test_adtte_equals_pharmaverse_for_all_512_rows(adam):
    oracle = pd.read_csv(DATA / "adtte_onco.csv")
    assert len(oracle) == 512
    keys = ["USUBJID", "PARAMCD"]
    columns = ["ADT", "STARTDT", "AVAL", "CNSR", "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR"]
    ours = adam["adtte"][adam["adtte"]["PARAMCD"].isin(["OS", "PFS", "RSD"])]  # the case-series codes come after
    left, right = ours[keys + columns].copy(), oracle[keys + columns].copy()
    for frame in (left, right):
        frame[["ADT", "STARTDT"]] = frame[["ADT", "STARTDT"]].apply(pd.to_datetime)
        frame["AVAL"] = frame["AVAL"].astype("float64")
        frame[["EVNTDESC", "CNSDTDSC"]] = frame[["EVNTDESC", "CNSDTDSC"]].fillna("")
    merged = left.merge(right, on=keys, how="outer", suffixes=("", "_oracle"), indicator=True)
    missing, extra = (merged["_merge"] == "right_only").sum(), (merged["_merge"] == "left_only").sum()
    assert missing == 0 and extra == 0, f"{missing} oracle rows not derived, {extra} derived rows not in oracle"
    counts = {c: int((merged[c] != merged[f"{c}_oracle"]).sum()) for c in columns}
    assert not any(counts.values()), f"mismatches per column out of 512 rows: {counts}"
    assert ours["PARAMCD"].value_counts().to_dict() == {"OS": 254, "PFS": 254, "RSD": 4}
    assert set(adam["adtte"]["PARAMCD"]) == {"OS", "PFS", "RSD", "TTR", "TTD", "TFI", "RFSSTP"}


def test_derive_adam_returns_the_three_datasets(adam):
    assert set(adam) == {"adsl", "adrs", "adtte"}
    assert len(adam["adsl"]) == 306


ADSL = pd.DataFrame(
    {
        "USUBJID": ["P1", "P2", "P3", "P4"],
        "RANDDT": pd.to_datetime(["2020-01-01"] * 4),
        "LSTALVDT": pd.to_datetime(["2020-06-30", "2019-12-20", "2020-01-01", None]),
        "DTHDT": pd.to_datetime([None, None, None, "2020-03-01"]),
    }
)
ADRS = pd.DataFrame(
    {
        "USUBJID": ["P1", "P1", "P2", "P4", "P4"],
        "PARAMCD": ["PD", "DEATH", "LSTA", "LSTA", "DEATH"],
        "AVALC": ["Y", "Y", "SD", "PR", "Y"],
        "ADT": pd.to_datetime(["2020-03-01", "2020-03-01", None, "2020-02-01", "2020-03-01"]),
        "ANL01FL": "Y",
        "ASEQ": [1, 2, 1, 1, 2],
    }
)


def _one(frame: pd.DataFrame, subject: str) -> tuple:
    row = frame.set_index("USUBJID").loc[subject]
    return row["ADT"].strftime("%Y-%m-%d"), int(row["AVAL"]), int(row["CNSR"]), row["EVNTDESC"]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            (PD_EVENT, DEATH_EVENT), ("2020-03-01", 61, 0, "Disease Progression"), id="tie-to-first-listed-pd"
        ),
        pytest.param((DEATH_EVENT, PD_EVENT), ("2020-03-01", 61, 0, "Death"), id="tie-to-first-listed-death"),
    ],
)
def test_event_ties_go_to_the_first_listed_source(events, expected):
    pfs = derive_param_tte(
        ADSL,
        event_sources=events,
        censor_sources=(LASTA_CENSOR, RAND_CENSOR),
        paramcd="PFS",
        source_datasets={"adrs": ADRS},
    )
    assert _one(pfs, "P1") == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        pytest.param("P2", ("2020-01-01", 1, 1, "Randomization"), id="no-assessment-censored-at-reference"),
        pytest.param("P3", ("2020-01-01", 1, 1, "Randomization"), id="nothing-after-reference"),
        pytest.param("P4", ("2020-03-01", 61, 0, "Death"), id="death-is-an-event"),
    ],
)
def test_pfs_censoring_at_later_of_last_assessment_and_reference(subject, expected):
    pfs = derive_param_tte(
        ADSL,
        event_sources=(PD_EVENT, DEATH_EVENT),
        censor_sources=(LASTA_CENSOR, RAND_CENSOR),
        paramcd="PFS",
        source_datasets={"adrs": ADRS},
    )
    assert _one(pfs, subject) == expected


@pytest.mark.parametrize(
    ("subject", "censor_ties", "expected"),
    [
        pytest.param("P1", "last", ("2020-03-01", 61, 0, "Death"), id="event-beats-later-censoring"),
        pytest.param("P2", "last", ("2020-01-01", 1, 1, "Randomization"), id="alive-before-reference-uses-reference"),
        pytest.param("P3", "last", ("2020-01-01", 1, 1, "Randomization"), id="censor-tie-to-last-listed"),
        pytest.param("P3", "first", ("2020-01-01", 1, 1, "Alive"), id="censor-tie-to-first-when-asked"),
    ],
)
def test_os_censoring(subject, censor_ties, expected):
    os_ = derive_param_tte(
        ADSL,
        event_sources=(DEATH_EVENT,),
        censor_sources=(LASTALIVE_CENSOR, RAND_CENSOR),
        paramcd="OS",
        source_datasets={"adrs": ADRS},
        censor_ties=censor_ties,
    )
    assert _one(os_, subject) == expected


def test_aval_counts_both_ends_unless_asked_and_subjects_without_dates_are_left_out():
    adsl = pd.concat([ADSL, pd.DataFrame({"USUBJID": ["P5"], "RANDDT": [pd.NaT]})], ignore_index=True)
    os_ = derive_param_tte(
        adsl,
        event_sources=(DEATH_EVENT,),
        censor_sources=(LASTALIVE_CENSOR, RAND_CENSOR),
        paramcd="OS",
        source_datasets={"adrs": ADRS},
    )
    assert os_["USUBJID"].tolist() == ["P1", "P2", "P3", "P4"]  # P5 has no date at all (a screen failure)
    assert os_["AVAL"].tolist() == [61, 1, 1, 61]  # ADT - STARTDT + 1
    short = derive_param_tte(
        ADSL,
        event_sources=(PD_EVENT,),
        censor_sources=(LASTA_CENSOR,),
        paramcd="X",
        source_datasets={"adrs": ADRS},
        add_one=False,
    )
    assert short.set_index("USUBJID")["AVAL"].to_dict() == {"P1": 60, "P4": 31}


def test_sources_are_data():
    death = TteSource("adsl", "DTHDT", "DTHDT.notna()", 0, "Death (ADSL)", None, "ADSL", "DTHDT")
    os_ = derive_param_tte(ADSL, event_sources=(death,), censor_sources=(LASTALIVE_CENSOR,), paramcd="OS")
    assert _one(os_, "P4") == ("2020-03-01", 61, 0, "Death (ADSL)")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"event_sources": (PD_EVENT,)}, "adrs", id="dataset-not-given"),
        pytest.param({"event_sources": (TteSource("adsl", "DTHDT", "NOSUCH == 1"),)}, "NOSUCH", id="bad-filter"),
        pytest.param({"event_sources": (LASTALIVE_CENSOR,)}, "cnsr", id="censor-given-as-event"),
        pytest.param({"start_date": "TRTSDT"}, "TRTSDT", id="missing-start-column"),
    ],
)
def test_bad_input_names_the_problem(kwargs, message):
    args = {"event_sources": (), "censor_sources": (RAND_CENSOR,), "paramcd": "X", **kwargs}
    with pytest.raises(InputError, match=message):
        derive_param_tte(ADSL, **args)


def test_filters_treat_missing_flags_as_false():
    adrs = ADRS.astype({"ANL01FL": "string", "AVALC": "string"})
    adrs.loc[0, "ANL01FL"] = pd.NA
    pfs = derive_param_tte(
        ADSL, event_sources=(PD_EVENT,), censor_sources=(RAND_CENSOR,), paramcd="PFS", source_datasets={"adrs": adrs}
    )
    assert _one(pfs, "P1") == ("2020-01-01", 1, 1, "Randomization")


def test_inputs_are_not_mutated():
    adsl, adrs = ADSL.copy(), ADRS.copy()
    derive_param_tte(
        adsl, event_sources=(PD_EVENT,), censor_sources=(LASTA_CENSOR,), paramcd="X", source_datasets={"adrs": adrs}
    )
    pd.testing.assert_frame_equal(adsl, ADSL)
    pd.testing.assert_frame_equal(adrs, ADRS)


def test_seed_case_crizotinib_imt_no_recurrence_four_years_after_stopping():
    """Seed 003 with first dose as time origin; dates built from the letter's intervals (start 2018-01-15)."""
    sdtm = {
        "dm": pd.DataFrame({"USUBJID": ["IMT-1"], "DTHDTC": [""]}),
        "ex": pd.DataFrame(
            {
                "USUBJID": ["IMT-1"],
                "EXTRT": ["CRIZOTINIB"],
                "EXDOSE": [200.0],
                "EXSTDTC": ["2018-01-15"],
                "EXENDTC": ["2018-07-15"],
            }
        ),
        "rs": pd.DataFrame(
            {
                "USUBJID": "IMT-1",
                "RSTESTCD": OVRLRESP,
                "RSEVAL": INVESTIGATOR,
                "RSSTRESC": ["PR", "CR", "CR", "CR"],
                "RSDTC": ["2018-02-15", "2018-05-15", "2018-06-15", "2022-07-15"],
                "RSSEQ": [1, 2, 3, 4],
            }
        ),
    }
    adam = derive_adam(sdtm, lstalvdt={"IMT-1": "2022-07-15"}, reference="TRTSDT")
    adtte = adam["adtte"].set_index("PARAMCD")
    got = {
        code: (
            adtte.at[code, "STARTDT"].strftime("%Y-%m-%d"),
            adtte.at[code, "ADT"].strftime("%Y-%m-%d"),
            int(adtte.at[code, "AVAL"]),
            int(adtte.at[code, "CNSR"]),
            adtte.at[code, "EVNTDESC"],
        )
        for code in ("OS", "PFS", "RSD")
    }
    assert got == {
        "OS": ("2018-01-15", "2022-07-15", 1643, 1, "Alive"),
        "PFS": ("2018-01-15", "2022-07-15", 1643, 1, "Last Tumor Assessment"),
        "RSD": ("2018-02-15", "2022-07-15", 1612, 1, "Last Tumor Assessment"),
    }
    assert adam["adrs"].set_index("PARAMCD").at["BOR", "AVALC"] == "CR"


def test_one_row_per_subject_keeps_the_first_or_last_of_equal_keys_in_row_order():
    from tkitrack.outcomes.tte import _one_per_subject

    day = pd.Timestamp("2020-01-01")
    rows = pd.DataFrame({"AT": [1, 0, 1, 1, 0], "ADT": [day, day, day, day + pd.Timedelta(days=1), day],
                         "NR": [2, 0, 2, 0, 0], "name": ["a", "b", "c", "d", "e"]})  # fmt: skip
    assert _one_per_subject(rows, ["ADT", "NR"], last=False)["name"].tolist() == ["b", "a"]
    assert _one_per_subject(rows, ["ADT", "NR"], last=True)["name"].tolist() == ["e", "d"]
    assert _one_per_subject(rows.iloc[:0], ["ADT", "NR"], last=True).empty


def test_sources_name_subjects_outside_adsl_and_ties_go_to_the_listed_order():
    adsl = pd.DataFrame({"USUBJID": ["P2", "P1"], "RANDDT": pd.to_datetime(["2020-01-01", "2020-01-01"]),
                         "LSTALVDT": pd.to_datetime(["2020-03-01", "2020-02-01"])})  # fmt: skip
    events = pd.DataFrame({"USUBJID": ["P9", "P1", "P1"], "ADT": pd.to_datetime(["2020-01-10"] * 3),
                           "SEQ": [1.0, 2.0, 3.0], "KIND": ["X", "B", "A"]})  # fmt: skip
    first = TteSource("ev", "ADT", 'KIND == "A"', 0, "A", None, "EV", "ADT", "SEQ")
    second = TteSource("ev", "ADT", 'KIND == "B"', 0, "B", None, "EV", "ADT", "SEQ")
    other = TteSource("ev", "ADT", 'KIND == "X"', 0, "X", None, "EV", "ADT", "SEQ")
    out = derive_param_tte(adsl, event_sources=[other, first, second], censor_sources=[LASTALIVE_CENSOR, RAND_CENSOR],
                           paramcd="T", source_datasets={"ev": events})  # fmt: skip
    assert out["USUBJID"].tolist() == ["P2", "P1"]  # ADSL order; P9 is nobody's
    assert out["EVNTDESC"].tolist() == ["Alive", "A"] and out["SRCSEQ"].tolist()[1] == 3.0
    assert out["AVAL"].tolist() == [61, 10]  # ADT - STARTDT + 1
