"""Tests for tkitrack.dashboards.swimmer: trace layout, lane positions, segment and marker coordinates, scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tkitrack.dashboards.compact import shape_period
from tkitrack.dashboards.layout import compute_lane_positions, compute_record_keys
from tkitrack.dashboards.palette import AE_GRADE_COLOURS, compute_colour_difference
from tkitrack.dashboards.swimmer import LEGEND_GROUPS, figure_swimmer
from tkitrack.outcomes.swimmer import SwimmerData, derive_swimmer_data

T = pd.Timestamp


def make_records(n: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Synthetic record frames for ``n`` patients, built with numpy (no per-patient loop).

    Categories cycle with the patient index so that the first ten patients already hold every drug, dose
    level, response, event kind and AE grade: a cohort of 10 has the same legend entries as one of 10,000.
    """
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    ids = np.char.add("P", np.char.zfill(i.astype(str), 5))
    dx = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, n), unit="D")
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "diagnosis_date": dx,
            "histology": np.where(i % 3 == 0, "IMT", np.where(i % 3 == 1, "IFS-like", "NTRK spindle")),
        }
    )
    start1 = dx + pd.to_timedelta(10 + i % 20, unit="D")
    end1 = start1 + pd.to_timedelta(60 + i % 50, unit="D")
    start2 = end1 + pd.to_timedelta(np.where(i % 2 == 0, 1, 30), unit="D")  # contiguous or interrupted
    end2 = (start2 + pd.to_timedelta(100 + i % 200, unit="D")).where(i % 4 != 0)  # every 4th ongoing
    drug = np.where((i // 3) % 2 == 1, "larotrectinib", "crizotinib")
    dose2 = np.where(i % 3 == 0, 150.0, np.where(i % 3 == 1, 200.0, 250.0))  # reduced, starting, escalated
    exposure = pd.DataFrame(
        {
            "patient_id": np.concatenate([ids, ids]),
            "drug": np.concatenate([drug, drug]),
            "dose": np.concatenate([np.full(n, 200.0), dose2]),
            "unit": "mg/m2",
            "frequency": "BID",
            "start": np.concatenate([start1, start2]),
            "end": np.concatenate([end1, end2]),
            "reason": np.concatenate([np.full(n, "dose_change"), np.full(n, "complete_response")]),
        }
    )
    response = np.array(["PR", "CR", "PD", "CR", "PR"])[i % 5]
    assessment = pd.DataFrame(
        {
            "patient_id": np.concatenate([ids, ids]),
            "date": np.concatenate([start1 + pd.Timedelta(days=60), start1 + pd.Timedelta(days=150)]),
            "response": np.concatenate([np.full(n, "SD"), response]),
        }
    )
    kinds = np.array(["recurrence", "metastasis", "progression"])[i % 3]
    disease_event = pd.DataFrame({"patient_id": ids, "kind": kinds, "date": start1 + pd.Timedelta(days=400)})
    procedure = pd.DataFrame(
        {
            "patient_id": ids,
            "kind": np.where(i % 2 == 0, "resection", "biopsy"),
            "date": dx - pd.Timedelta(days=5),
            "margin": "R1",
        }
    )
    ae = pd.DataFrame(
        {
            "patient_id": ids,
            "term": "Gait disturbance",
            "grade": 1 + i % 5,
            "start": start1 + pd.Timedelta(days=30),
            "end": pd.NaT,
            "attributed_drug": drug,
        }
    )
    dead = i % 7 == 6
    last = start1 + pd.to_timedelta(500 + i % 300, unit="D")
    followup = pd.DataFrame(
        {
            "patient_id": ids,
            "date": last,
            "vital_status": np.where(dead, "dead", "alive"),
            "death_date": last.where(dead),
        }
    )
    return {
        "patients": patients,
        "exposure": exposure,
        "assessment": assessment,
        "disease_event": disease_event,
        "procedure": procedure,
        "followup": followup,
        "ae": ae,
    }


def make_swimmer(n: int) -> SwimmerData:
    r = make_records(n)
    return derive_swimmer_data(
        r["patients"], r["exposure"], r["assessment"], r["disease_event"], r["procedure"], r["followup"], r["ae"]
    )


@pytest.fixture
def two_patients() -> SwimmerData:
    """P1: crizotinib 200 then 150 (reduced) with an interruption, PR then CR, AE grade 2, alive, off drug.
    P2: alectinib ongoing, PD, dies on day 212. Diagnosis is day 0."""
    patients = pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "diagnosis_date": [T("2018-01-01"), T("2019-01-01")],
            "histology": ["IMT", "IFS-like"],
        }
    )
    exposure = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2"],
            "drug": ["crizotinib", "crizotinib", "alectinib"],
            "dose": [200, 150, 300],
            "unit": "mg",
            "frequency": "QD",
            "start": [T("2018-01-11"), T("2018-03-01"), T("2019-02-01")],
            "end": [T("2018-02-19"), T("2018-04-10"), pd.NaT],
            "reason": ["toxicity", "complete_response", None],
        }
    )
    assessment = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2"],
            "date": [T("2018-02-10"), T("2018-03-31"), T("2019-05-01")],
            "response": ["PR", "CR", "PD"],
        }
    )
    ae = pd.DataFrame(
        {"patient_id": ["P1"], "term": ["Gait disturbance"], "grade": [2], "start": [T("2018-02-15")], "end": [pd.NaT]}
    )
    followup = pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "date": [T("2018-12-27"), T("2019-08-01")],
            "vital_status": ["alive", "dead"],
            "death_date": [pd.NaT, T("2019-08-01")],
        }
    )
    return derive_swimmer_data(patients, exposure, assessment, None, None, followup, ae)


def _trace(fig, name):
    matches = [t for t in fig.data if t.name == name]
    assert len(matches) == 1, f"expected one trace named {name!r}, found {[t.name for t in fig.data]}"
    return matches[0]


def _finite(values) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype="float64") if np.isfinite(v)]


def test_two_patient_segments_and_markers(two_patients):
    fig = figure_swimmer(two_patients, sort="duration")
    # P1 lane ends on day 360 (last contact), P2 on day 212 (death): P1 first (longest), P2 second.
    ticks = dict(zip(fig.layout.yaxis.ticktext, fig.layout.yaxis.tickvals, strict=True))
    assert ticks == {"P1": 0.0, "P2": 1.0}
    starting = _trace(fig, "crizotinib, starting dose")
    assert _finite(starting.x) == [10.0, 30.0, 50.0] and _finite(starting.y) == [0.0, 0.0, 0.0]
    reduced = _trace(fig, "crizotinib, reduced dose (dotted, narrower)")
    assert _finite(reduced.x) == [59.0, 79.5, 100.0]
    # the dose level shows in the legend sample: a dotted, narrower line (not only a shade)
    assert reduced.line.width < starting.line.width and (reduced.line.dash, starting.line.dash) == ("dot", "solid")
    alectinib = _trace(fig, "alectinib, starting dose")
    assert _finite(alectinib.x) == [31.0, 121.5, 212.0] and _finite(alectinib.y) == [1.0] * 3
    off = _trace(fig, "Off treatment")  # P1: 0-10, 50-59 (interruption), 100-360; P2: 0-31
    pairs = np.asarray(off.x, dtype="float64").reshape(-1, 4)[:, [0, 2]].tolist()
    assert sorted(pairs) == [[0.0, 10.0], [0.0, 31.0], [50.0, 59.0], [100.0, 360.0]]
    assert _finite(_trace(fig, "Partial response (first)").x) == [40.0]
    assert _finite(_trace(fig, "Complete response (first)").x) == [89.0]
    pd_trace = _trace(fig, "Progression (first)")
    assert _finite(pd_trace.x) == [120.0] and _finite(pd_trace.y) == [1.0]
    assert _finite(_trace(fig, "Death").x) == [212.0]
    ae = _trace(fig, "AE onset, grade 2")
    assert _finite(ae.x) == [45.0] and "Gait disturbance, grade 2" in ae.hovertext[0]
    # Arrows: P1 alive with a CR and no later PD -> response ongoing and in follow-up; P2 dead -> none.
    assert _trace(fig, "Response ongoing").y.tolist() == [0.0]
    assert _trace(fig, "Alive, in follow-up").y.tolist() == [0.0]
    assert not [t for t in fig.data if t.name == "Treatment ongoing"]
    assert fig.layout.xaxis.title.text == "Days from diagnosis"


def test_legend_groups_and_titles(two_patients):
    fig = figure_swimmer(two_patients)
    groups = [t.legendgroup for t in fig.data]
    assert set(groups) == {"lanes", "responses", "events"}
    titled = {t.legendgroup: t.legendgrouptitle.text for t in fig.data if t.legendgrouptitle.text}
    assert titled == {g: LEGEND_GROUPS[g] for g in ("lanes", "responses", "events")}
    assert fig.layout.legend.groupclick == "toggleitem"
    symbols = {t.name: t.marker.symbol for t in fig.data if t.mode == "markers"}
    assert len(set(symbols.values()) - {"circle"}) == len([s for s in symbols.values() if s != "circle"])


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        pytest.param("id", ["P1", "P2"], id="id"),
        pytest.param("duration", ["P1", "P2"], id="duration"),
        pytest.param("start", ["P1", "P2"], id="start"),
    ],
)
def test_sort_orders(two_patients, sort, expected):
    y, headers = compute_lane_positions(two_patients.lanes, two_patients.segments, sort=sort)
    assert y.sort_values().index.tolist() == expected and headers == []


def test_grouping_leaves_a_header_row_per_group(two_patients):
    y, headers = compute_lane_positions(two_patients.lanes, two_patients.segments, group_by="histology")
    assert headers == [(0.0, "IFS-like", 1), (2.0, "IMT", 1)]
    assert y.to_dict() == {"P2": 1.0, "P1": 3.0}
    fig = figure_swimmer(two_patients, group_by="histology")
    assert [a.text for a in fig.layout.annotations] == [
        "<b>Histology: IFS-like</b> (n=1)",
        "<b>Histology: Inflammatory myofibroblastic tumour</b> (n=1)",  # the vocabulary label, not the code
    ]


def test_markers_on_the_same_day_are_spread_so_none_hides_another():
    # P1 has a PD, a recurrence, a resection and a grade-3 AE on day 100, and an AE alone on day 300
    day = pd.Timestamp("2020-01-01")
    patients = pd.DataFrame({"patient_id": ["P1"], "diagnosis_date": [day]})
    on = day + pd.Timedelta(days=100)
    data = derive_swimmer_data(
        patients,
        None,
        pd.DataFrame({"patient_id": ["P1"], "date": [on], "response": ["PD"]}),
        pd.DataFrame({"patient_id": ["P1"], "kind": ["recurrence"], "date": [on]}),
        pd.DataFrame({"patient_id": ["P1"], "kind": ["resection"], "date": [on]}),
        pd.DataFrame({"patient_id": ["P1"], "date": [day + pd.Timedelta(days=400)], "vital_status": ["alive"]}),
        pd.DataFrame(
            {
                "patient_id": ["P1", "P1"],
                "term": ["Nausea", "Fatigue"],
                "grade": [3, 1],
                "start": [on, day + pd.Timedelta(days=300)],
            }
        ),
    )
    fig = figure_swimmer(data)
    at_100 = {t.name: float(t.y[0]) for t in fig.data if t.mode == "markers" and 100 in list(t.x)}
    assert set(at_100) == {"Progression (first)", "Recurrence", "Surgery", "AE onset, grade 3"}
    assert len(set(at_100.values())) == 4  # four different heights on the lane: none hides another
    assert max(at_100.values()) - min(at_100.values()) <= 0.8 and abs(sum(at_100.values())) < 1e-9  # centred
    assert _finite(_trace(fig, "AE onset, grade 1").y) == [0.0]  # alone on its day: on the lane's line


def test_ae_grades_are_clearly_distinct_colours():
    # CIE76 distance between consecutive grades: the old grade 3 and 4 browns were 25 apart; now all > 30
    assert all(compute_colour_difference(AE_GRADE_COLOURS[g], AE_GRADE_COLOURS[g + 1]) > 30 for g in range(1, 5))


def test_patients_without_a_lane_are_named_in_a_footnote():
    patients = pd.DataFrame(
        {"patient_id": ["P1", "P2", "P3"], "diagnosis_date": [pd.Timestamp("2020-01-01"), pd.NaT, pd.NaT]}
    )
    followup = pd.DataFrame({"patient_id": ["P1"], "date": [pd.Timestamp("2021-01-01")], "vital_status": ["alive"]})
    data = derive_swimmer_data(patients, None, None, None, None, followup, None)
    fig = figure_swimmer(data, footnotes=["Synthetic data: all 3 patients are synthetic."])
    (note,) = [a for a in fig.layout.annotations if a.name == "footnotes"]
    assert note.text == ("Not shown: 2 patients without a diagnosis date (P2, P3).<br>"
                         "Synthetic data: all 3 patients are synthetic.")  # fmt: skip
    assert fig.layout.margin.b > 60


def test_bad_sort_and_group_raise(two_patients):
    from tkitrack.schemas.errors import InputError

    with pytest.raises(InputError, match="sort='size'"):
        figure_swimmer(two_patients, sort="size")
    with pytest.raises(InputError, match="group_by='cohort'"):
        figure_swimmer(two_patients, group_by="cohort")


def test_trace_count_does_not_grow_with_patients():
    small = figure_swimmer(make_swimmer(10))
    large_data = make_swimmer(10_000)
    large = figure_swimmer(large_data, group_by="histology")
    assert len(small.data) == len(large.data)
    assert [t.name for t in small.data] == [t.name for t in large.data]
    assert isinstance(large.data[0].x, np.ndarray)  # arrays, not Python lists
    assert large.layout.height <= 3000 + 200  # height capped: lanes get thin instead
    assert not large.layout.yaxis.showticklabels
    # 10,000 lanes is above MARKER_LANES_MAX: each event is a glyph of p vertices in one fill-only path (the glyphs
    # one after another, then back through their first vertices: n * (p + 1) - 1 points)
    events = {t.name for t in small.data if t.mode == "markers"}
    glyphs = [t for t in large.data if t.name in events]
    drawn = sum((len(t.x) + 1) // (shape_period(t.x, t.y) + 1) for t in glyphs)
    assert (
        drawn
        == len(large_data.markers)
        + large_data.lanes[["ongoing_treatment", "ongoing_response"]].to_numpy().sum()
        + (large_data.lanes["ongoing_followup"] & ~large_data.lanes["ongoing_treatment"]).sum()
    )


def test_lane_height_adapts():
    few = figure_swimmer(make_swimmer(10))
    thousand = figure_swimmer(make_swimmer(1000))
    assert few.layout.yaxis.showticklabels and few.layout.height < 800  # set by the legend at 10 lanes
    assert 2000 < thousand.layout.height <= 3200
    assert thousand.data[1].line.width < few.data[1].line.width


def test_every_point_carries_the_record_it_comes_from():
    """customdata is ``patient<TAB>record<TAB>id`` on each drawn point (empty at the NaN separators)."""
    patients = pd.DataFrame({"patient_id": ["P1"], "diagnosis_date": [T("2018-01-01")]})
    exposure = pd.DataFrame({"id": [7], "patient_id": ["P1"], "drug": ["crizotinib"], "dose": [200], "unit": "mg",
                             "frequency": "QD", "start": [T("2018-01-11")], "end": [T("2018-02-19")],
                             "reason": ["toxicity"]})  # fmt: skip
    assessment = pd.DataFrame({"id": [3], "patient_id": ["P1"], "date": [T("2018-02-10")], "response": ["PR"]})
    ae = pd.DataFrame({"id": [9], "patient_id": ["P1"], "term": ["Nausea"], "grade": [2], "start": [T("2018-01-15")],
                       "end": [pd.NaT]})  # fmt: skip
    followup = pd.DataFrame({"id": [4], "patient_id": ["P1"], "date": [T("2018-12-27")], "vital_status": ["alive"]})
    fig = figure_swimmer(derive_swimmer_data(patients, exposure, assessment, None, None, followup, ae))
    assert list(_trace(fig, "crizotinib, starting dose").customdata) == ["P1\texposure\t7"] * 3 + [""]
    assert list(_trace(fig, "Off treatment").customdata) == ["P1\t\t", "P1\t\t", "P1\t\t", ""] * 2
    assert list(_trace(fig, "Partial response (first)").customdata) == ["P1\tassessment\t3"]
    assert list(_trace(fig, "AE onset, grade 2").customdata) == ["P1\tae\t9"]
    assert list(_trace(fig, "Alive, in follow-up").customdata) == ["P1\t\t"]
    assert compute_record_keys(pd.Series(["A", "B"]), np.array(["ae", ""]), pd.Series(["5", None])).tolist() == [
        "A\tae\t5",
        "B\t\t",
    ]


def test_hover_text_of_on_and_off_treatment_stretches_hand_worked():
    """Each stretch's text is made for its kind (on or off treatment) only, in the stretches' own order."""
    from tkitrack.dashboards.swimmer import _hover_segments

    seg = pd.DataFrame({
        "patient_id": pd.array(["P1", "P1", "P2", "P2"], dtype="string"), "start_day": [0, 10, 5, 40],
        "end_day": [10, 30, 40, 50], "on_treatment": [False, True, True, False],
        "drug": pd.array([None, "larotrectinib", "crizotinib", None], dtype="string"),
        "dose": pd.array([None, "100 mg", None, None], dtype="string"),
        "dose_level": pd.array([None, "starting", "reduced", None], dtype="string"),
        "reason": pd.array([None, None, "toxicity", None], dtype="string"), "ongoing": [False, True, False, False],
    }, index=[7, 3, 9, 1])  # fmt: skip
    assert _hover_segments(seg).tolist() == [
        "<b>P1</b><br>off treatment<br>days 0–10",
        "<b>P1</b><br>larotrectinib 100 mg (starting dose)<br>days 10–30<br>ongoing",
        "<b>P2</b><br>crizotinib  (reduced dose)<br>days 5–40<br>ended: toxicity",
        "<b>P2</b><br>off treatment<br>days 40–50",
    ]
