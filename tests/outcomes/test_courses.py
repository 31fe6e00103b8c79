"""Tests of tkitrack.outcomes.courses: courses, holds, re-challenges, switches and the index therapy, by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.outcomes.courses import ANY_DRUG, derive_courses, derive_exposure_from_ex, derive_index_therapy
from tkitrack.schemas.errors import InputError

T = pd.Timestamp

EXPOSURE = pd.DataFrame(
    [
        # vinblastine, then crizotinib with a hold and a reduced restart, an elective stop, a re-challenge
        ("P1", "vinblastine", "2019-01-01", "2019-06-30", True, "progression"),
        ("P1", "crizotinib", "2019-07-15", "2019-09-30", False, "toxicity"),
        ("P1", "crizotinib", "2019-10-10", "2020-06-30", True, "complete_response"),
        ("P1", "crizotinib", "2021-01-01", None, False, None),
        # a dose change (touching intervals, no gap) then an ongoing hold; then a switch to alectinib
        ("P2", "Crizotinib", "2020-01-01", "2020-01-31", False, "dose_change"),
        ("P2", "crizotinib", "2020-02-01", "2020-03-31", False, "toxicity"),
        ("P3", "crizotinib", "2020-01-01", "2020-03-31", True, "toxicity"),
        ("P3", "alectinib", "2020-03-31", None, None, None),
    ],
    columns=["patient_id", "drug", "start", "end", "discontinued", "reason"],
)


def test_courses_holds_rechallenges_and_switches():
    c = derive_courses(EXPOSURE)
    got = c[["patient_id", "course", "drug", "status", "n_intervals", "n_holds", "rechallenge", "switch"]]
    assert got.values.tolist() == [
        ["P1", 1, "vinblastine", "discontinued", 1, 0, False, False],
        ["P1", 2, "crizotinib", "discontinued", 2, 1, False, True],
        ["P1", 3, "crizotinib", "ongoing", 1, 0, True, False],
        ["P2", 1, "crizotinib", "on hold", 2, 0, False, False],
        ["P3", 1, "crizotinib", "discontinued", 1, 0, False, False],
        ["P3", 2, "alectinib", "ongoing", 1, 0, False, True],
    ]
    p1 = c[c["patient_id"] == "P1"].set_index("course")
    assert (p1.at[2, "start"], p1.at[2, "end"], p1.at[2, "stop_reason"]) == (T("2019-07-15"), T("2020-06-30"),
                                                                             "complete_response")  # fmt: skip
    assert pd.isna(p1.at[3, "end"]) and p1.at[2, "previous_drug"] == "vinblastine"
    assert pd.isna(c.loc[c["patient_id"] == "P2", "end"]).all()  # a hold is no stop: no last dose yet


def test_the_input_frame_is_not_changed():
    before = EXPOSURE.copy()
    derive_courses(EXPOSURE)
    pd.testing.assert_frame_equal(EXPOSURE, before)


@pytest.mark.parametrize(
    ("index_drug", "expected"),
    [
        pytest.param(None, [("P1", "crizotinib", 2, "2019-07-15"), ("P2", "crizotinib", 1, "2020-01-01"),
                            ("P3", "crizotinib", 1, "2020-01-01")], id="first-kinase-inhibitor-course"),
        pytest.param("alectinib", [("P3", "alectinib", 2, "2020-03-31")], id="named-drug"),
        pytest.param("VINBLASTINE", [("P1", "vinblastine", 1, "2019-01-01")], id="named-drug-any-case"),
        pytest.param(ANY_DRUG, [("P1", "vinblastine", 1, "2019-01-01"), ("P2", "crizotinib", 1, "2020-01-01"),
                                ("P3", "crizotinib", 1, "2020-01-01")], id="any-drug"),
    ],
)  # fmt: skip
def test_index_therapy(index_drug, expected):
    idx = derive_index_therapy(derive_courses(EXPOSURE), index_drug=index_drug)
    got = [(r.patient_id, r.index_drug, r.index_course, r.index_start.strftime("%Y-%m-%d")) for r in idx.itertuples()]
    assert got == expected


def test_exposure_from_sdtm_ex_reads_discfl_else_the_last_ended_record():
    sdtm = {
        "EX": pd.DataFrame({"USUBJID": ["A", "A", "B", "B"], "EXSEQ": [1, 2, 1, 2], "EXTRT": ["CRIZOTINIB"] * 4,
                            "EXDOSE": [200, 200, 200, 0], "EXSTDTC": ["2020-01-01", "2020-03-01", "2020-01", "2020-05-01"],
                            "EXENDTC": ["2020-02-01", "2020-04-30", "2020-02", "2020-05-10"]}),
        "SUPPEX": pd.DataFrame({"USUBJID": ["A"], "IDVAR": ["EXSEQ"], "IDVARVAL": ["1"], "QNAM": ["DISCFL"],
                                "QVAL": ["Y"]}),
    }  # fmt: skip
    ex = derive_exposure_from_ex(sdtm)
    assert ex[["patient_id", "start", "end", "discontinued"]].values.tolist() == [
        ["A", T("2020-01-01"), T("2020-02-01"), True],  # SUPPEX DISCFL Y
        ["A", T("2020-03-01"), T("2020-04-30"), True],  # no flag: the last ended record of the drug
        ["B", T("2020-01-01"), T("2020-02-29"), False],  # partial dates: first and last day; a zero dose left out
    ]


def test_an_interval_without_a_start_is_refused_with_the_patient():
    ex = EXPOSURE.assign(start=EXPOSURE["start"].where(EXPOSURE["patient_id"] != "P3"))
    with pytest.raises(InputError, match="patient P3 has an interval without a start date"):
        derive_courses(ex)
