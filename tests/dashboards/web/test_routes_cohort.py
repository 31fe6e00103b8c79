"""Tests for tkitrack.dashboards.web.routes_cohort: swimmer lanes, KM with patient marks, tables, filters."""

from __future__ import annotations

import base64

import numpy as np
import pytest


def _array(value) -> list:
    """A plotly JSON array: a list, or plotly's binary form ``{"dtype": "f8", "bdata": base64}``."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return list(value)


def _traces(body: dict) -> list[dict]:
    return list(body["figure"]["data"])


def _lane_patients(body: dict) -> set[str]:
    return {k.split("\t")[0] for t in _traces(body) for k in (t.get("customdata") or []) if k}


@pytest.mark.parametrize(
    ("role", "query", "expected"),
    [
        pytest.param("dm", "", {"A-001", "A-002", "B-001"}, id="dm-all"),
        pytest.param("site_a", "", {"A-001", "A-002"}, id="site-a-own-site"),
        pytest.param("site_a", "?site=B", set(), id="site-a-asks-for-site-b"),
        pytest.param("dm", "?site=B", {"B-001"}, id="site-filter"),
        pytest.param("dm", "?histology=IMT", {"A-001", "A-002"}, id="histology"),
        pytest.param("dm", "?fusion_partner=TPM3", {"B-001"}, id="fusion-partner"),
        pytest.param("dm", "?fusion_partner=not+tested", {"A-002"}, id="untested"),
        pytest.param("dm", "?drug=crizotinib", {"A-001"}, id="drug"),
        pytest.param("dm", "?cutoff=2019-01-09", {"B-001"}, id="cutoff-day-before-a001-diagnosis"),
        pytest.param("dm", "?cutoff=2019-02-01", {"A-001", "B-001"}, id="cutoff-on-a001-first-dose"),
    ],
)
def test_swimmer_lanes_follow_scope_and_filters(shared_clients, role, query, expected):
    body = shared_clients[role].get(f"/cohort/swimmer.json{query}").json()
    if not expected:
        assert body == {"message": "no patient matches these filters"}
        return
    assert _lane_patients(body) == expected


def test_swimmer_points_name_their_records(shared_clients):
    body = shared_clients["dm"].get("/cohort/swimmer.json").json()
    assert (body["part"], body["parts"]) == (0, 1)  # three lanes: one part
    keys = {k for t in _traces(body) for k in (t.get("customdata") or []) if k}
    assert {k.split("\t")[1] for k in keys} >= {"exposure", "assessment", "followup", ""}
    death = next(t for t in _traces(body) if t["name"] == "Death")
    assert death["customdata"][0].startswith("B-001\tfollowup\t")


def test_cutoff_hides_what_happened_after_it(shared_clients):
    body = shared_clients["dm"].get("/cohort/swimmer.json?cutoff=2018-11-30").json()
    names = {t["name"] for t in _traces(body)}
    assert "Death" not in names and "Progression (first)" not in names  # B-001 died 2019-02, PD 2018-12


def test_km_has_a_clickable_mark_per_patient(shared_clients):
    fig = shared_clients["dm"].get("/cohort/km.json?endpoint=OS&group=histology").json()
    marks = [t for t in fig["data"] if t.get("name", "").endswith(": patients")]
    assert sorted(t["name"] for t in marks) == ["IMT: patients", "NTRK_SCN: patients"]
    by_patient = {key.split("\t")[0]: (x, y) for t in marks
                  for key, x, y in zip(t["customdata"], _array(t["x"]), _array(t["y"]), strict=True)}  # fmt: skip
    # OS from the first dose: B-001 dosed 2018-06-01, died 2019-02-01 -> AVAL 246 (end - start + 1), S drops to 0
    assert by_patient["B-001"] == (246, 0)
    # A-001 dosed 2019-02-01, alive at 2023-08-01 -> censored at 1643, S stays 1
    assert by_patient["A-001"] == (1643, 1)
    assert "A-002" not in by_patient  # never treated: no origin, no row


def test_km_with_nobody_left_says_so(shared_clients):
    body = shared_clients["dm"].get("/cohort/km.json?endpoint=RFS_STOP&drug=crizotinib").json()
    assert "message" in body and "data" not in body


@pytest.mark.parametrize("query", ["?endpoint=XYZ", "?group=shoe_size", "?cutoff=yesterday"])
def test_bad_parameters_are_a_400_with_a_message(shared_clients, query):
    response = shared_clients["dm"].get(f"/cohort/km.json{query}")
    assert response.status_code == 400 and response.json()["message"]


def test_tables_show_response_and_adverse_events(shared_clients):
    html = shared_clients["dm"].get("/cohort/tables").text
    # Best response CR for both (A-001: PR then CR; B-001: CR, PR, PD). Confirmed: A-001's PR is confirmed by the CR
    # 73 days later (its CR has no second CR), B-001's CR is followed by a PR (no PR after a CR): 1/2.
    # Clopper-Pearson by hand: 2/2 -> lower 0.025**(1/2) = 15.8%; 1/2 -> 1 - 0.975**(1/2) = 1.3% to 98.7%.
    assert "<td>objective response (CR+PR)</td><td>2/2 (100%, 95% CI 16-100%)</td>" in html
    assert "<td>confirmed objective response</td><td>1/2 (50%, 95% CI 1-99%)</td>" in html
    # 1 of the 2 patients with a dose (A-002 has none: not in the safety population), grade 2: any grade and
    # grade 1-2, as whole percentages (the table the CLI and report show)
    assert "<td>Gait disturbance</td><td>1 (50%)</td><td>1 (50%)</td><td>0 (0%)</td>" in html
    assert "percentages are of the 2 patients with at least one dose (safety population); 1 untreated patient" in html
    assert "<th>Adverse event (CTCAE v5.0 term)</th>" in html and "n_any" not in html

    html = shared_clients["site_b"].get("/cohort/tables").text
    assert "Gait disturbance" not in html and "no adverse event in this selection" in html


def test_cohort_page_offers_filters_from_the_scope(shared_clients):
    html = shared_clients["site_b"].get("/cohort?histology=NTRK_SCN").text
    assert "<option selected>NTRK_SCN</option>" in html
    assert "<option>IMT</option>" not in html  # site B has no IMT patient: site A's values are not offered
    assert 'data-src="/cohort/swimmer.json?histology=NTRK_SCN"' in html


def test_swimmer_parts_are_fetched_one_by_one(client_factory, monkeypatch):
    from tkitrack.dashboards.web import figures, routes_cohort

    class TwoLanes(figures.SwimmerParts):
        def __init__(self, frames, *, group_by):
            super().__init__(frames, group_by=group_by, chunk=2)

    monkeypatch.setattr(routes_cohort, "SwimmerParts", TwoLanes)
    client = client_factory("inv")  # a database of its own: nothing cached yet
    first = client.get("/cohort/swimmer.json?site=A&histology=IMT&drug=&part=0").json()
    assert (first["part"], first["parts"]) == (0, 1)
    body = client.get("/cohort/swimmer.json?fusion_partner=&part=0").json()
    assert (body["part"], body["parts"]) == (0, 2)
    second = client.get("/cohort/swimmer.json?fusion_partner=&part=1").json()
    assert second["part"] == 1 and _lane_patients(second) == {"B-001"}
    assert _lane_patients(body) == {"A-001", "A-002"}
    response = client.get("/cohort/swimmer.json?fusion_partner=&part=2")
    assert response.status_code == 400 and response.json() == {"message": "part must be 0 to 1"}
