"""Tests for tkitrack.dashboards.web.figures: the page figures from record frames."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.dashboards.web.figures import figure_cohort_km, figure_cohort_swimmer, figure_patient
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.storage import make_engine, transaction
from tkitrack.schemas.store import read_frames

from .conftest import registry_template  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def frames(registry_template):  # noqa: F811
    engine = make_engine(f"sqlite:///{registry_template}")
    try:
        with transaction(engine) as s:
            return read_frames(s)
    finally:
        engine.dispose()


def test_patient_timeline_from_diagnosis(frames):
    fig = figure_patient(frames, "A-001")
    assert fig.layout.title.text == "A-001: days from diagnosis"
    ae = next(t for t in fig.data if t.name == "AE grade 2")
    assert ae.customdata[0].startswith("A-001\tae\t")


def test_patient_without_diagnosis_uses_the_first_dose(frames):
    f = {k: v.copy() for k, v in frames.items()}
    f["patient"]["diagnosis_date"] = pd.NaT
    assert figure_patient(f, "A-001").layout.title.text == "A-001: days from first dose"
    assert figure_patient(f, "A-002") is None  # no diagnosis date, no drug: nothing to place


def test_swimmer_is_grouped_and_fills_the_page(frames):
    [fig] = figure_cohort_swimmer(frames, group_by="histology")
    assert fig.layout.width is None and fig.layout.autosize
    assert {a.text for a in fig.layout.annotations} == {
        "<b>Histology: Inflammatory myofibroblastic tumour</b> (n=2)",
        "<b>Histology: NTRK-rearranged spindle-cell neoplasm</b> (n=1)",
    }


def _lanes(fig) -> list[str]:
    return list(fig.layout.yaxis.ticktext)


def test_swimmer_in_parts_keeps_one_order_one_x_range_and_whole_group_sizes(frames):
    """Two lanes per part: IMT (A-001 longest, then A-002) in part 1, NTRK_SCN (B-001) in part 2."""
    first, second = figure_cohort_swimmer(frames, group_by="histology", chunk=2)
    assert _lanes(first) == ["A-001", "A-002"] and _lanes(second) == ["B-001"]
    assert first.layout.xaxis.range == second.layout.xaxis.range
    assert first.layout.showlegend and not second.layout.showlegend
    assert first.layout.title.text == "3 patients: click a lane to open the patient (lanes 1-2 of 3)"
    assert second.layout.title.text == "Lanes 3-3 of 3"
    assert [a.text for a in second.layout.annotations] == [
        "<b>Histology: NTRK-rearranged spindle-cell neoplasm</b> (n=1)"
    ]
    _, two, _ = figure_cohort_swimmer(frames, group_by="histology", chunk=1)
    assert [a.text for a in two.layout.annotations] == [
        "<b>Histology: Inflammatory myofibroblastic tumour</b> (n=2, continued)"
    ]


@pytest.mark.parametrize(
    ("endpoint", "group", "says"),
    [pytest.param("EFS", None, "endpoint 'EFS' is not known", id="endpoint"),
     pytest.param("OS", "blood_group", "group 'blood_group' is not known", id="group")],
)  # fmt: skip
def test_km_refuses_unknown_endpoint_or_group(frames, endpoint, group, says):
    with pytest.raises(InputError, match=says):
        figure_cohort_km(frames, endpoint=endpoint, group=group)


def test_km_without_grouping(frames):
    fig, summary = figure_cohort_km(frames, endpoint="OS", group=None)
    assert fig.layout.title.text == "Overall survival from the first dose of the index therapy"
    assert fig.layout.yaxis.title.text == "Overall survival probability"

    marks = [t for t in fig.data if (t.name or "").endswith(": patients")]
    assert len(marks) == 1 and sorted(k.split("\t")[0] for k in marks[0].customdata) == ["A-001", "B-001"]
    assert int(summary.table["events"].iloc[0]) == 1
