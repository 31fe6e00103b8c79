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


def test_shared_courses_are_derived_once_per_exposure_frame_and_handed_out_as_copies(monkeypatch):
    import tkitrack.outcomes.courses as courses

    ex = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "drug": ["crizotinib", "larotrectinib", "entrectinib"],
                       "start": pd.to_datetime(["2020-01-01", "2020-06-01", "2020-02-01"]),
                       "end": pd.to_datetime(["2020-05-01", None, None]), "discontinued": [True, False, False]})  # fmt: skip
    other = ex.copy()
    expected = derive_courses(ex)
    calls = []
    real = courses._derive_courses
    monkeypatch.setattr(courses, "_derive_courses", lambda e: calls.append(e) or real(e))
    with courses.SharedCourses(ex):
        first = derive_courses(ex)
        first.loc[0, "drug"] = "changed"  # a caller's change to its copy is not seen by the next
        pd.testing.assert_frame_equal(derive_courses(ex), expected, check_exact=True)
        pd.testing.assert_frame_equal(derive_index_therapy(ex), derive_index_therapy(expected), check_exact=True)
        assert len(calls) == 1
        derive_courses(other)  # another frame, even an equal one: derived as always
        assert len(calls) == 2
    derive_courses(ex)  # outside the block nothing is shared
    assert len(calls) == 3


def test_a_report_derives_the_courses_of_its_records_once(monkeypatch):
    import tkitrack.outcomes.courses as courses
    from tkitrack.outcomes.cache import Derived
    from tkitrack.sample_data.generate import generate_cohort
    from tkitrack.schemas.parse import parse_records

    frames = {}
    for record, raw in generate_cohort(30, seed=3).items():
        frames[record], _ = parse_records(record, raw)
    seen = []
    real = courses._derive_courses
    monkeypatch.setattr(courses, "_derive_courses", lambda e: seen.append(e is frames["exposure"]) or real(e))
    d = Derived(frames)
    d.stopping_cohort()
    d.get("index", lambda f: derive_index_therapy(f["exposure"]))
    d.get("courses", lambda f: derive_courses(f["exposure"]))
    d.adam()  # its courses come from SDTM EX: another frame
    assert seen == [True, False]


def test_shared_index_therapy_is_derived_once_per_index_drug_and_handed_out_as_copies(monkeypatch):
    import tkitrack.outcomes.courses as courses

    ex = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "drug": ["crizotinib", "larotrectinib", "entrectinib"],
                       "start": pd.to_datetime(["2020-01-01", "2020-06-01", "2020-02-01"]),
                       "end": pd.to_datetime(["2020-05-01", None, None]), "discontinued": [True, False, False]})  # fmt: skip
    default, laro = derive_index_therapy(ex), derive_index_therapy(ex, index_drug="larotrectinib")
    assert default["index_drug"].tolist() == ["crizotinib", "entrectinib"] and laro["patient_id"].tolist() == ["P1"]
    calls = []
    real = courses._derive_index_therapy
    monkeypatch.setattr(courses, "_derive_index_therapy", lambda c, d: calls.append(d) or real(c, d))
    with courses.SharedCourses(ex):
        first = derive_index_therapy(ex)
        first.loc[0, "index_drug"] = "changed"  # a caller's change to its copy is not seen by the next
        pd.testing.assert_frame_equal(derive_index_therapy(ex), default, check_exact=True)
        pd.testing.assert_frame_equal(derive_index_therapy(ex, index_drug="larotrectinib"), laro, check_exact=True)
        pd.testing.assert_frame_equal(derive_index_therapy(ex, index_drug="larotrectinib"), laro, check_exact=True)
        assert calls == [None, "larotrectinib"]
        derive_index_therapy(ex.copy())  # another frame: derived as always
        assert calls == [None, "larotrectinib", None]
    derive_index_therapy(ex)  # outside the block nothing is shared
    assert calls == [None, "larotrectinib", None, None]
