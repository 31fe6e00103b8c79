"""outcomes/timeline.py: one patient's history in date order, days from diagnosis."""

from __future__ import annotations

import pandas as pd

from tkitrack.outcomes.timeline import TIMELINE_COLUMNS, derive_timeline

T = pd.Timestamp


def _frames() -> dict[str, pd.DataFrame]:
    return {
        "patient": pd.DataFrame({"patient_id": ["P1", "P2"], "diagnosis_date": [T("2019-01-10"), T("2020-01-01")],
                                 "diagnosis_date_dtc": ["2019-01-10", "2020"], "histology": ["IMT", "IMT"],
                                 "primary_site": ["mesentery", None]}),
        "exposure": pd.DataFrame({"id": [1, 2], "patient_id": ["P1", "P1"], "drug": ["crizotinib"] * 2,
                                  "dose": [200.0, 150.0], "unit": ["mg"] * 2, "frequency": ["QD"] * 2,
                                  "start": [T("2019-02-01"), T("2019-05-01")], "start_dtc": ["2019-02-01", "2019-05"],
                                  "end": [T("2019-04-30"), pd.NaT], "end_dtc": ["2019-04-30", None],
                                  "reason": ["toxicity", None]}),
        "ae": pd.DataFrame({"id": [7], "patient_id": ["P1"], "term": ["Gait disturbance"], "grade": [2],
                            "start": [T("2019-04-20")], "start_dtc": ["2019-04-20"], "end": [pd.NaT],
                            "end_dtc": [None], "serious": [False], "outcome": [None]}),
    }  # fmt: skip


def test_events_in_date_order_with_days_from_diagnosis():
    t = derive_timeline(_frames(), "P1")
    assert list(t.columns) == TIMELINE_COLUMNS
    assert t[["day", "kind", "detail"]].values.tolist() == [
        [0, "diagnosis", "IMT mesentery"],
        [22, "start", "crizotinib 200 mg QD"],
        [100, "AE onset", "Gait disturbance grade 2"],
        [110, "stop", "crizotinib 200 mg QD stopped: toxicity"],
        [111, "start", "crizotinib 150 mg QD (ongoing)"],
    ]
    assert t["date_given"].tolist()[-1] == "2019-05"  # a partial date is shown as given


def test_other_patients_are_left_out_and_missing_records_are_fine():
    t = derive_timeline({"patient": _frames()["patient"]}, "P2")
    assert t[["patient_id", "kind", "date_given"]].values.tolist() == [["P2", "diagnosis", "2020"]]
    assert derive_timeline({}, "P9").empty


def _reference():
    """The former pandas derivation (tests/outcomes/_timeline_pandas.py), loaded by path."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_timeline_pandas", Path(__file__).with_name("_timeline_pandas.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.derive_timeline_pandas


def test_plain_rows_equal_the_former_pandas_derivation_on_stored_cohorts(engine):
    """Published cases and 60 generated patients, stored and read back typed: every patient's timeline, and the
    whole cohort's, equal the pandas derivation the rows replaced (same rows, order, days and text)."""
    from tkitrack.sample_data.generate import generate_cohort
    from tkitrack.sample_data.published import read_published
    from tkitrack.schemas.frames import concat_frames
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import add_records, read_frames

    published, synthetic = read_published(), generate_cohort(60, seed=11)
    raws = {r: concat_frames([f for f in (published.get(r), synthetic.get(r)) if f is not None])
            for r in published.keys() | synthetic.keys()}  # fmt: skip
    with transaction(engine) as session:
        add_records(session, raws, user="tester", source="test")
    with transaction(engine) as session:
        frames = read_frames(session)
    reference = _reference()
    ids = frames["patient"]["patient_id"].tolist()
    assert len(ids) == 67
    shown = 0
    for pid in [*ids, None]:
        ours, theirs = derive_timeline(frames, pid), reference(frames, pid)
        assert len(ours) == len(theirs), pid
        if len(theirs):  # a published case without any date (TAN-2022-1) has an empty timeline on both sides
            pd.testing.assert_frame_equal(ours.astype(object), theirs.astype(object), check_dtype=False)
            shown += pid is not None
    assert shown >= 60  # 63 of the 67 patients have a dated fact
    assert set(derive_timeline(frames)["record"]) == {
        "patient",
        "molecular",
        "exposure",
        "ae",
        "assessment",
        "procedure",
        "disease_event",
        "followup",
    }  # ihc has no date
