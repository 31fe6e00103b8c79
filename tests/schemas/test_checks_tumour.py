"""Tests of tkitrack.schemas.checks_tumour through rule AS006 (and the new-baseline allowance of AS002):
hand-worked patients with the sums written inline, every RECIST 1.1 boundary hit exactly and missed by 0.1 mm."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tkitrack.schemas.checks import EDIT_CHECKS, check_records
from tkitrack.schemas.checks_tumour import derive_course_starts, find_sum_contradictions
from tkitrack.schemas.parse import parse_records

TODAY = dt.date(2024, 1, 1)
PATIENT = {"patient_id": "P1", "sex": "F", "birth_date": "2013-05-10", "diagnosis_date": "2019-06-14",
           "histology": "IMT", "height_cm": "120", "weight_kg": "22"}  # fmt: skip
CRIZOTINIB = {"patient_id": "P1", "drug": "crizotinib", "dose": "200", "unit": "mg", "frequency": "QD",
              "start": "2019-07-01", "end": "2020-01-10", "reason": "toxicity", "discontinued": "true"}  # fmt: skip
LORLATINIB = {"patient_id": "P1", "drug": "lorlatinib", "dose": "100", "unit": "mg/m2", "frequency": "QD",
              "start": "2020-03-01"}  # fmt: skip
FOLLOWUP = {"patient_id": "P1", "date": "2023-06-01", "vital_status": "alive"}


def _a(date: str, total: str = "", response: str = "", *, baseline: bool = False, **more: str) -> dict:
    return {"patient_id": "P1", "date": date, "sum_diameters": total, "response": response,
            "baseline": "true" if baseline else "false", **more}  # fmt: skip


def _parsed(record: str, rows: list[dict]) -> pd.DataFrame:
    frame, problems = parse_records(record, pd.DataFrame(rows))
    assert problems.empty, problems.to_dict("records")
    return frame


def _frames(assessments: list[dict], exposure: list[dict] | None = None) -> dict[str, pd.DataFrame]:
    return {"patient": _parsed("patient", [PATIENT]), "exposure": _parsed("exposure", exposure or [CRIZOTINIB]),
            "assessment": _parsed("assessment", assessments), "followup": _parsed("followup", [FOLLOWUP])}  # fmt: skip


def _hits(rule: str, assessments: list[dict], exposure: list[dict] | None = None) -> list[tuple]:
    checks = [c for c in EDIT_CHECKS if c.rule_id == rule]
    found = check_records(_frames(assessments, exposure), today=TODAY, checks=checks)
    return [(r["field"], r["value"], r["severity"]) for _, r in found.iterrows()]


BASE100 = _a("2019-06-20", "100", baseline=True)
PR = [("response", "PR", "warning")]
SD = [("response", "SD", "warning")]
CR = [("response", "CR", "warning")]


@pytest.mark.parametrize(
    ("assessments", "expected"),
    [
        # PR needs at least 30% below baseline
        pytest.param([BASE100, _a("2019-09-01", "70", "PR")], [], id="pr-exactly-30-percent-below"),
        pytest.param([BASE100, _a("2019-09-01", "70.1", "PR")], PR, id="pr-29.9-percent-below"),
        pytest.param([_a("2019-06-20", "60", baseline=True), _a("2019-09-01", "42", "PR")], [],
                     id="pr-letter-60-mm-to-42-mm-is-30-percent-without-float-noise"),
        pytest.param([_a("2019-06-20", "60", baseline=True), _a("2019-09-01", "42.1", "PR")], PR,
                     id="pr-letter-60-mm-to-42.1-mm"),
        pytest.param([BASE100, _a("2019-09-01", "90", "SD")], [], id="sd-at-minus-10-percent-is-fine"),
        # SD or PR at least 20% and at least 5 mm above the nadir is progression
        pytest.param([BASE100, _a("2019-09-01", "50", "PR"), _a("2019-11-01", "60", "SD")], SD,
                     id="sd-20-percent-and-10-mm-above-nadir"),
        pytest.param([BASE100, _a("2019-09-01", "50", "PR"), _a("2019-11-01", "59.9", "SD")], [],
                     id="sd-19.8-percent-above-nadir"),
        pytest.param([BASE100, _a("2019-09-01", "50", "PR"), _a("2019-11-01", "60", "PR")], PR,
                     id="pr-20-percent-above-nadir-still-40-below-baseline"),
        pytest.param([_a("2019-06-20", "20", baseline=True), _a("2019-09-01", "10", "PR"),
                      _a("2019-11-01", "15", "SD")], SD, id="sd-5-mm-and-50-percent-above-nadir"),
        pytest.param([_a("2019-06-20", "20", baseline=True), _a("2019-09-01", "10", "PR"),
                      _a("2019-11-01", "14.9", "SD")], [], id="sd-4.9-mm-above-nadir"),
        pytest.param([BASE100, _a("2019-09-01", "110", "SD"), _a("2019-11-01", "120", "SD")], SD,
                     id="nadir-is-the-smallest-earlier-sum-not-the-last-one"),
        pytest.param([BASE100, _a("2019-09-01", "90", "SD"), _a("2019-11-01", "107.9", "SD")], [],
                     id="sd-19.9-percent-above-a-nadir-of-90"),
        pytest.param([BASE100, _a("2019-09-01", "120", "SD")], SD, id="sd-20-percent-above-the-baseline-nadir"),
        # CR has a sum of 0
        pytest.param([BASE100, _a("2019-09-01", "0", "CR")], [], id="cr-sum-0"),
        pytest.param([BASE100, _a("2019-09-01", "1", "CR")], CR, id="cr-sum-1-mm"),
        pytest.param([_a("2019-09-01", "1", "CR")], CR, id="cr-sum-1-mm-without-baseline"),
        pytest.param([BASE100, _a("2019-09-01", "0", "CR"), _a("2019-11-01", "5", "SD")], SD,
                     id="reappearance-5-mm-after-cr-is-progression"),
        pytest.param([BASE100, _a("2019-09-01", "0", "CR"), _a("2019-11-01", "4.9", "SD")], [],
                     id="reappearance-4.9-mm-after-cr-is-not"),
        # an assessment on day 1 (the first dose) is a follow-up, compared with the baseline
        pytest.param([BASE100, _a("2019-07-01", "70", "PR")], [], id="day-1-pr-at-minus-30"),
        pytest.param([BASE100, _a("2019-07-01", "71", "PR")], PR, id="day-1-pr-at-minus-29"),
        pytest.param([_a("2019-07-01", "100", baseline=True), _a("2019-09-01", "71", "PR")], PR,
                     id="baseline-on-day-1-is-the-reference"),
        # a relapse before CR: PD is not queried, the later CR at 0 mm is fine, the nadir becomes 0
        pytest.param([BASE100, _a("2019-09-01", "130", "PD"), _a("2019-11-01", "0", "CR"),
                      _a("2020-01-01", "6", "SD")], SD, id="relapse-before-cr-then-regrowth"),
        # only RECIST 1.1 and investigator sums and responses; one reader at a time
        pytest.param([BASE100, _a("2019-09-01", "80", "PR", criteria="INVESTIGATOR")], PR,
                     id="investigator-call-checked"),
        pytest.param([BASE100, _a("2019-09-01", "0", "CMR", criteria="PERCIST"), _a("2019-11-01", "10", "PR")],
                     [], id="percist-sum-sets-no-nadir"),
        pytest.param([BASE100, _a("2019-09-01", "90", "iPR", criteria="iRECIST")], [], id="irecist-not-checked"),
        pytest.param([BASE100, _a("2019-09-01", "0", "CR", evaluator="INDEPENDENT"), _a("2019-11-01", "10", "PR")],
                     [], id="independent-reader-sets-no-investigator-nadir"),
        pytest.param([BASE100, _a("2019-09-01", "90", "PR", target_response="PR")],
                     [("response", "PR", "warning"), ("target_response", "PR", "warning")], id="target-response-too"),
        pytest.param([BASE100, _a("2019-09-01", "", "PR")], [], id="no-sum-nothing-to-check"),
    ],
)  # fmt: skip
def test_as006_recist_arithmetic(assessments, expected):
    assert _hits("AS006", assessments) == expected


NEW_COURSE = [BASE100, _a("2019-10-01", "0", "CR"), _a("2020-02-01", "30", "PD")]


@pytest.mark.parametrize(
    ("new_baseline", "lorlatinib_start", "as006", "as002"),
    [
        pytest.param(True, "2020-03-01", [], [], id="new-baseline-9-days-before-the-new-course"),
        pytest.param(True, "2020-03-19", [], [], id="new-baseline-exactly-28-days-before"),
        pytest.param(True, "2020-03-20", [], [("baseline", "true", "warning")], id="new-baseline-29-days-before"),
        pytest.param(False, "2020-03-01", PR, [], id="no-new-baseline-nadir-0-makes-pr-progression"),
    ],
)
def test_new_baseline_before_a_new_course(new_baseline, lorlatinib_start, as006, as002):
    """Crizotinib to CR (0 mm), stopped; regrowth to 30 mm (PD); lorlatinib from the new course start. With the
    40 mm scan flagged as a new baseline, 28 mm is -30% (a PR); without it the nadir is still 0 mm and a PR at
    28 mm contradicts the sums."""
    rows = [*NEW_COURSE, _a("2020-02-20", "40", "" if new_baseline else "PD", baseline=new_baseline),
            _a("2020-05-01", "28", "PR")]  # fmt: skip
    exposure = [CRIZOTINIB, {**LORLATINIB, "start": lorlatinib_start}]
    assert _hits("AS006", rows, exposure) == as006
    assert _hits("AS002", rows, exposure) == as002


def test_a_hold_is_not_a_new_course_for_a_new_baseline():
    hold = {**CRIZOTINIB, "discontinued": "false", "reason": "toxicity"}
    restart = {**CRIZOTINIB, "start": "2020-03-01", "end": "", "reason": "", "discontinued": "false"}
    rows = [*NEW_COURSE, _a("2020-02-20", "40", baseline=True)]
    assert _hits("AS002", rows, [hold, restart]) == [("baseline", "true", "warning")]
    rechallenge = [CRIZOTINIB, {**restart}]  # the first interval discontinued: the restart is a new course
    assert _hits("AS002", rows, rechallenge) == []


def test_course_starts():
    ex = _parsed("exposure", [CRIZOTINIB, {**CRIZOTINIB, "start": "2020-03-01", "end": "", "discontinued": "false"},
                              LORLATINIB, {**LORLATINIB, "start": "2020-02-01", "end": "2020-02-10",
                                           "discontinued": "false"}])  # fmt: skip
    starts = derive_course_starts(ex)
    assert list(zip(starts["drug"], starts["start"].dt.strftime("%Y-%m-%d"), strict=True)) == [
        ("crizotinib", "2019-07-01"), ("crizotinib", "2020-03-01"), ("lorlatinib", "2020-02-01")]  # fmt: skip


def test_message_says_what_was_found_and_what_to_do():
    found = check_records(_frames([BASE100, _a("2019-09-01", "70.1", "PR")]), today=TODAY,
                          checks=[c for c in EDIT_CHECKS if c.rule_id == "AS006"])  # fmt: skip
    assert found["message"].tolist() == [
        "PR (overall) on 2019-09-01 with a target-lesion sum of 70.1 mm is -29.9% from the baseline 100 mm "
        "(2019-06-20); RECIST 1.1 needs at least 30% below baseline for a PR: correct the sum or the response, or "
        "record a new baseline before a new course"
    ]
    found = check_records(_frames([BASE100, _a("2019-09-01", "50", "PR"), _a("2019-11-01", "60", "PR")]),
                          today=TODAY, checks=[c for c in EDIT_CHECKS if c.rule_id == "AS006"])  # fmt: skip
    assert found["message"].tolist() == [
        "PR (overall) on 2019-11-01 with a sum of 60 mm is 10 mm and 20.0% above the smallest earlier sum 50 mm; "
        "RECIST 1.1 calls an increase of at least 20% and at least 5 mm progression: correct the sum or the "
        "response, or record a new baseline before a new course"
    ]


def test_course_starts_agree_with_the_course_derivation():
    """schemas cannot import outcomes: the edit check's course starts must stay those of outcomes.courses."""
    from tkitrack.outcomes.courses import derive_courses

    ex = _parsed("exposure", [
        CRIZOTINIB, {**CRIZOTINIB, "start": "2020-03-01", "end": "2020-04-01", "discontinued": "false"},
        {**CRIZOTINIB, "start": "2020-05-01", "end": "", "discontinued": "false"},
        {**LORLATINIB, "start": "2020-02-01", "end": "2020-02-10", "discontinued": "true"},
        {**LORLATINIB, "start": "2020-02-20", "end": "2020-02-25"},
        {**CRIZOTINIB, "patient_id": "P2", "start": "2018-01-01", "end": "2018-02-01", "discontinued": "false"},
        {**CRIZOTINIB, "patient_id": "P2", "start": "2018-03-01", "end": ""},
    ])  # fmt: skip
    mine = derive_course_starts(ex).sort_values(["patient_id", "start", "drug"]).reset_index(drop=True)
    theirs = derive_courses(ex)[["patient_id", "drug", "start"]].sort_values(["patient_id", "start", "drug"])
    pd.testing.assert_frame_equal(mine, theirs.reset_index(drop=True), check_dtype=False)
    assert len(mine) == 5  # P1: crizotinib twice (re-challenge), lorlatinib twice; P2: one course with a hold


def test_as006_sequences_of_interleaved_patients_and_readers_are_kept_apart():
    """Rows of two patients and two readers each, interleaved in the input: each (patient, reader) sequence has
    its own baseline and nadir. P1's investigator PR at 80 mm is -20% (flagged); P1's independent PR at 60 mm is
    -40%; P2's investigator SD at 40 mm is 10 mm and 33% above its nadir 30 mm (progression, flagged); P2's
    independent SD at 40 mm is -20% from its own 50 mm baseline and has no lower nadir."""
    p2 = {"patient_id": "P2"}
    ind = {"evaluator": "INDEPENDENT"}
    rows = [_a("2019-06-20", "50", baseline=True, **p2), _a("2019-06-20", "100", baseline=True, **ind), BASE100,
            _a("2019-06-20", "50", baseline=True, **p2, **ind), _a("2019-09-01", "80", "PR"),
            _a("2019-09-01", "30", "PR", **p2), _a("2019-09-01", "60", "PR", **ind),
            _a("2019-09-01", "40", "SD", **p2, **ind), _a("2019-11-01", "40", "SD", **p2)]  # fmt: skip
    checks = [c for c in EDIT_CHECKS if c.rule_id == "AS006"]
    found = check_records(_frames(rows), today=TODAY, checks=checks)
    assert [(r["patient_id"], r["field"], r["value"]) for _, r in found.iterrows()] == [
        ("P1", "response", "PR"), ("P2", "response", "SD")]  # fmt: skip
    assert "2019-09-01" in found["message"].iloc[0] and "2019-11-01" in found["message"].iloc[1]


def test_as006_reports_positions_of_a_frame_with_other_columns_and_index():
    """Only the columns the arithmetic uses are taken: other columns and a non-default index change nothing."""
    frame = pd.DataFrame({
        "patient_id": ["P1"] * 3, "date": pd.to_datetime(["2020-01-01", "2020-03-01", "2020-05-01"]),
        "criteria": [None] * 3, "evaluator": [None] * 3, "baseline": [True, False, False],
        "sum_diameters": [50.0, 35.1, 35.0], "response": [None, "PR", "PR"], "target_response": [None] * 3,
    }).astype({"criteria": "string", "evaluator": "string", "baseline": "boolean", "response": "string",
               "target_response": "string"})  # fmt: skip
    plain = find_sum_contradictions(frame)
    wide = find_sum_contradictions(frame.assign(note="x", id=[7, 8, 9]).set_axis([30, 10, 20]))
    pd.testing.assert_frame_equal(plain, wide)
    # -29.8% is not a PR; -30% exactly is
    assert plain["index"].tolist() == [1] and plain["field"].tolist() == ["response"]


def _random_assessments(seed: int, n: int = 400) -> pd.DataFrame:
    """Assessments of a few patients and readers with many ties: equal dates, missing ids, evaluators, dates
    and sums, baselines on follow-up dates, criteria outside RECIST."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    dates = pd.to_datetime(pick(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01", None]))
    return pd.DataFrame({
        "patient_id": pick(["P10", "P2", "P1", "p1", "P\u00e9", None]), "date": dates,
        "criteria": pick([None, "RECIST1.1", "INVESTIGATOR", "iRECIST"]),
        "evaluator": pick([None, "INVESTIGATOR", "INDEPENDENT", "A"]), "baseline": pick([True, False, None]),
        "sum_diameters": pick([0.0, 5.0, 30.0, 35.0, 36.0, 50.0, 70.0, 100.0, None]),
        "response": pick(["CR", "PR", "SD", "PD", None]), "target_response": pick(["CR", "PR", "SD", None]),
    }).astype({"patient_id": "string", "criteria": "string", "evaluator": "string", "baseline": "boolean",
               "response": "string", "target_response": "string"})  # fmt: skip


@pytest.mark.parametrize("seed", range(12))
def test_as003_and_as006_on_integer_keys_list_what_the_text_sort_lists(seed, monkeypatch):
    """The edit checks' integer keys (patient and reader codes in their text's order, NaT last) order and group
    the assessments exactly as sorting the text did: AS003's and AS006's listings equal those of the text path
    (kept as the fallback) on frames full of ties, missing ids, readers, dates and sums."""
    from tkitrack.schemas import checks

    frame = _random_assessments(seed)
    keys = checks._assessment_keys({"assessment": frame})
    assert keys is not None
    pd.testing.assert_frame_equal(find_sum_contradictions(frame, keys=keys), find_sum_contradictions(frame))
    unsummed = frame.assign(sum_diameters=None)  # no row kept (the text path's own handling of it)
    pd.testing.assert_frame_equal(find_sum_contradictions(unsummed, keys=keys), find_sum_contradictions(unsummed))
    as003 = [c for c in EDIT_CHECKS if c.rule_id == "AS003"]
    frames = {"assessment": frame.assign(id=range(1, len(frame) + 1))}
    fast = check_records(frames, today=TODAY, checks=as003)
    monkeypatch.setattr(checks, "_assessment_keys", lambda frames: None)  # the text sort
    pd.testing.assert_frame_equal(fast, check_records(frames, today=TODAY, checks=as003))


def test_as003_ties_missing_ids_and_readers_on_integer_keys():
    """Hand-worked: a PR on the CR's own date after it in the input follows it (a stable sort); a PR before it
    in the input does not; a missing evaluator is the investigator's sequence; a PR without a patient id is in
    no sequence; an undated CR sorts after every dated assessment of its patient."""
    from tkitrack.schemas.checks import _as003

    frame = pd.DataFrame({
        "id": [1, 2, 3, 4, 5, 6, 7, 8],
        "patient_id": ["P2", "P1", "P1", "P1", None, "P3", "P3", "P2"],
        "date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-01", "2020-02-01", "2020-03-01", None,
                                "2020-05-01", "2020-01-01"]),
        "evaluator": [None, None, None, "INVESTIGATOR", None, None, None, None],
        "response": ["PR", "CR", "PR", "PR", "PR", "CR", "PR", "CR"],
    }).astype({"patient_id": "string", "evaluator": "string", "response": "string"})  # fmt: skip
    found = _as003({"assessment": frame}, None)
    # P1: the CR (id 2) then the PRs 3 (same date, later row) and 4 (evaluator INVESTIGATOR = missing);
    # P2: the PR (id 1) comes before the CR of the same date (id 8): no CR before it; P3: the CR is undated
    assert found["record_id"].tolist() == [3, 4]
