"""Tests for tkitrack.outcomes.swimmer: lanes, segments (half-open days) and markers on hand-built records."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.outcomes.swimmer import LANE_COLUMNS, MARKER_COLUMNS, SEGMENT_COLUMNS, derive_swimmer_data
from tkitrack.schemas.errors import InputError

T = pd.Timestamp


@pytest.fixture
def records() -> dict[str, pd.DataFrame]:
    """The letter's case shape: crizotinib from day 10, dose reduced for toxicity, stopped after CR; a second
    patient on alectinib (ongoing) who progresses and dies. Diagnosis is day 0; dates as datetime.date too."""
    return {
        "patients": pd.DataFrame(
            {
                "patient_id": ["P1", "P2"],
                "histology": ["IMT", "IMT"],
                "diagnosis_date": [T("2018-01-01").date(), T("2019-01-01").date()],
                "reference_date": [pd.NaT, T("2019-01-15")],
            }
        ),
        "exposure": pd.DataFrame(
            {
                "patient_id": ["P1", "P1", "P1", "P2"],
                "drug": ["crizotinib"] * 3 + ["alectinib"],
                "dose": [200, 100, 200, 300],
                "unit": ["mg", "mg", "mg", "mg"],
                "frequency": ["QD", "BID", "BID", "QD"],
                "start": [T("2018-01-11"), T("2018-03-01"), T("2018-05-01"), T("2019-02-01")],
                "end": [T("2018-02-28"), T("2018-04-10"), T("2018-07-01"), pd.NaT],
                "reason": ["dose_change", "toxicity", "complete_response", None],
            }
        ),
        "assessment": pd.DataFrame(
            {
                "patient_id": ["P1", "P1", "P1", "P2"],
                "date": [T("2018-03-01"), T("2018-05-01"), T("2018-06-01"), T("2019-05-01")],
                "response": ["PR", "CR", "CR", "PD"],
            }
        ),
        "disease_event": pd.DataFrame(
            {"patient_id": ["P2"], "kind": ["metastasis"], "date": [T("2019-06-01")], "site": ["lung"]}
        ),
        "procedure": pd.DataFrame(
            {
                "patient_id": ["P1", "P1"],
                "kind": ["biopsy", "resection"],
                "date": [T("2017-12-20"), T("2018-09-01")],
                "margin": [None, "R0"],
            }
        ),
        "followup": pd.DataFrame(
            {
                "patient_id": ["P1", "P2"],
                "date": [T("2022-01-01"), T("2019-08-01")],
                "vital_status": ["alive", "dead"],
                "death_date": [pd.NaT, T("2019-08-01")],
            }
        ),
        "ae": pd.DataFrame(
            {
                "patient_id": ["P1", "P1"],
                "term": ["Gait disturbance", "Nausea"],
                "grade": [2, 1],
                "start": [T("2018-06-01"), T("2018-01-20")],
                "end": [pd.NaT, T("2018-01-25")],
                "attributed_drug": ["crizotinib", None],
            }
        ),
    }


def _derive(records, **kw):
    r = records
    return derive_swimmer_data(
        r["patients"], r["exposure"], r["assessment"], r["disease_event"], r["procedure"], r["followup"], r["ae"], **kw
    )


def test_columns(records):
    d = _derive(records)
    assert list(d.lanes.columns) == ["patient_id", "histology", *LANE_COLUMNS[1:]]
    assert list(d.segments.columns) == list(SEGMENT_COLUMNS) and list(d.markers.columns) == list(MARKER_COLUMNS)


def test_segments_half_open_with_dose_levels_and_off_treatment(records):
    seg = _derive(records).segments
    p1 = seg.loc[seg["patient_id"] == "P1", ["start_day", "end_day", "on_treatment", "dose_level"]]
    assert p1.astype(object).where(p1.notna(), None).to_numpy().tolist() == [
        [-12, 10, False, None],  # lane start (biopsy on day -12) to first dose
        [10, 59, True, "starting"],  # 200 mg QD, last dose day 58
        [59, 100, True, "starting"],  # 100 mg BID = 200 mg/day: same daily dose, contiguous
        [100, 120, False, None],  # interruption
        [120, 182, True, "escalated"],  # 200 mg BID = 400 mg/day
        [182, 1461, False, None],  # off drug to last contact
    ]
    p2 = seg.loc[(seg["patient_id"] == "P2") & seg["on_treatment"]]
    assert p2[["start_day", "end_day"]].to_numpy().tolist() == [[31, 212]]  # open interval ends at death
    assert not p2["ongoing"].any()  # dead: not ongoing


def test_lanes(records):
    lanes = _derive(records).lanes.set_index("patient_id")
    assert lanes.loc["P1", "lane_start_day"] == -12  # biopsy before diagnosis
    assert lanes["lane_end_day"].tolist() == [1461, 212]
    assert lanes["alive"].tolist() == [True, False]
    assert lanes["ongoing_treatment"].tolist() == [False, False]
    assert lanes["ongoing_response"].tolist() == [True, False]
    assert lanes["ongoing_followup"].tolist() == [True, False]


def test_markers(records):
    mk = _derive(records, ae_min_grade=2).markers
    got = mk[["patient_id", "day", "kind"]].to_numpy().tolist()
    assert got == [
        ["P1", 59, "PR"],
        ["P1", 120, "CR"],
        ["P1", 151, "AE"],
        ["P1", 243, "surgery"],
        ["P2", 120, "PD"],
        ["P2", 151, "metastasis"],
        ["P2", 212, "death"],
    ]
    ae = mk.loc[mk["kind"] == "AE"].iloc[0]
    assert ae["grade"] == 2 and ae["detail"] == "Gait disturbance, grade 2, attributed to crizotinib"
    assert pd.isna(ae["end_day"])
    assert mk.loc[mk["kind"] == "surgery", "detail"].tolist() == ["Resection, margin R0"]
    all_grades = _derive(records).markers
    assert all_grades.loc[all_grades["kind"] == "AE", "end_day"].dropna().tolist() == [24]


def test_markers_leave_out_undated_records_and_patients_without_a_day_0(records):
    """An undated CR (P2) and every record of a patient without a diagnosis date (P3: no day 0 to count from)
    give no marker; the markers come typed (days as whole numbers), in patient and day order."""
    r = dict(records)
    r["patients"] = pd.concat([r["patients"], pd.DataFrame({"patient_id": ["P3"], "histology": ["IMT"],
                                                            "diagnosis_date": [pd.NaT], "reference_date": [pd.NaT]})])  # fmt: skip
    r["assessment"] = pd.concat([pd.DataFrame({"patient_id": ["P3", "P2"], "date": [T("2019-05-01"), pd.NaT],
                                               "response": ["PD", "CR"]}), r["assessment"]], ignore_index=True)  # fmt: skip
    mk = _derive(r, ae_min_grade=2).markers
    assert mk[["patient_id", "day", "kind"]].to_numpy().tolist() == [
        ["P1", 59, "PR"], ["P1", 120, "CR"], ["P1", 151, "AE"], ["P1", 243, "surgery"],
        ["P2", 120, "PD"], ["P2", 151, "metastasis"], ["P2", 212, "death"]]  # fmt: skip
    assert {c: str(t) for c, t in mk.dtypes.items() if c != "patient_id"} == {
        "day": "int64", "end_day": "Int64", "kind": "string", "grade": "Int64", "label": "string",
        "detail": "string", "record": "string", "record_id": "string"}  # fmt: skip


@pytest.mark.parametrize(
    ("origin", "p2_start"),
    [
        pytest.param("diagnosis", 31, id="diagnosis"),
        pytest.param("first_dose", 0, id="first-dose"),
        pytest.param("reference", 17, id="reference-date"),
    ],
)
def test_origins(records, origin, p2_start):
    d = _derive(records, origin=origin)
    seg = d.segments
    assert seg.loc[(seg["patient_id"] == "P2") & seg["on_treatment"], "start_day"].tolist() == [p2_start]
    assert d.origin == origin
    if origin == "reference":  # P1 has no reference date: falls back to its first dose
        assert seg.loc[(seg["patient_id"] == "P1") & seg["on_treatment"], "start_day"].iloc[0] == 0


def test_patient_without_records_and_bad_input(records):
    r = dict(records)
    r["patients"] = pd.concat(
        [records["patients"], pd.DataFrame({"patient_id": ["P3"], "diagnosis_date": [T("2020-01-01")]})]
    )
    d = derive_swimmer_data(r["patients"], r["exposure"], None, None, None, None, None)
    assert d.lanes.set_index("patient_id").loc["P3", "lane_end_day"] == 0
    assert d.markers.empty
    assert "P3" not in set(
        derive_swimmer_data(r["patients"], r["exposure"], None, None, None, None, None, origin="first_dose").lanes[
            "patient_id"
        ]
    )
    with pytest.raises(InputError, match="exposure frame lacks column"):
        derive_swimmer_data(r["patients"], r["exposure"].drop(columns="start"), None, None, None, None, None)
    with pytest.raises(InputError, match="origin='randomisation'"):
        derive_swimmer_data(r["patients"], None, None, None, None, None, None, origin="randomisation")


def test_segments_and_markers_name_the_record_they_come_from(records):
    """Every marker and on-treatment segment carries its record type and id, so a figure point leads back to it.

    Ids as the database gives them: exposure 11-14, assessment 21-24, disease_event 31, procedure 41-42 (the
    biopsy is not drawn), followup 51-52 (P2's death is followup 52), ae 61-62.
    """
    r = {k: v.copy() for k, v in records.items()}
    for name, first in (("exposure", 11), ("assessment", 21), ("disease_event", 31), ("procedure", 41),
                        ("followup", 51), ("ae", 61)):  # fmt: skip
        r[name]["id"] = range(first, first + len(r[name]))
    d = _derive(r)
    mk = d.markers[["patient_id", "kind", "record", "record_id"]].astype(object).values.tolist()
    assert mk == [
        ["P1", "AE", "ae", "62"],
        ["P1", "PR", "assessment", "21"],
        ["P1", "CR", "assessment", "22"],  # only the first CR is drawn
        ["P1", "AE", "ae", "61"],
        ["P1", "surgery", "procedure", "42"],
        ["P2", "PD", "assessment", "24"],
        ["P2", "metastasis", "disease_event", "31"],
        ["P2", "death", "followup", "52"],
    ]
    on = d.segments[d.segments["on_treatment"]]
    assert on["record_id"].tolist() == ["11", "12", "13", "14"]
    assert d.segments.loc[~d.segments["on_treatment"], "record_id"].isna().all()


def test_frames_without_ids_give_empty_record_ids(records):
    d = _derive(records)
    assert d.markers["record_id"].isna().all() and d.segments["record_id"].isna().all()
    assert d.markers["record"].tolist()[:2] == ["ae", "assessment"]
