"""Tests for tkitrack.outcomes.endpoints: every endpoint has one declaration with its own origin."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.outcomes.cohort import ENDPOINTS
from tkitrack.outcomes.endpoints import (
    COMPETING_ENDPOINTS,
    ENDPOINT_INFO,
    derive_competing_endpoint,
    endpoint_info,
)
from tkitrack.outcomes.stopping import derive_relapse_after_stop
from tkitrack.schemas.errors import InputError


def test_every_endpoint_the_cohort_derives_is_declared():
    # a new endpoint in outcomes.cohort must get its name, origin and axis label here, or this fails
    assert set(ENDPOINTS) <= set(ENDPOINT_INFO)


@pytest.mark.parametrize(
    ("code", "title", "y_label"),
    [
        pytest.param("PFS", "Progression-free survival from the first dose of the index therapy",
                     "Progression-free survival probability", id="PFS"),
        pytest.param("DOR", "Duration of response from the first response (CR or PR)",
                     "Probability of remaining in response", id="DOR"),
        pytest.param("RFS_STOP", "Relapse-free survival from stopping the inhibitor",
                     "Relapse-free survival probability", id="RFS_STOP"),
        pytest.param("relapse_after_cr", "Cumulative incidence of relapse from the first complete response",
                     "Cumulative incidence of relapse", id="lower-case"),
    ],
)  # fmt: skip
def test_titles_name_the_origin(code, title, y_label):
    info = endpoint_info(code)
    assert (info.title, info.y_label) == (title, y_label)
    assert info.x_label == f"Days from {info.origin}"


def test_only_response_based_endpoints_start_elsewhere_than_the_first_dose():
    first_dose = {c for c, e in ENDPOINT_INFO.items() if e.origin == "the first dose of the index therapy"}
    assert first_dose == {"OS", "PFS", "TTR", "TOT", "TTD"}


def test_undeclared_code_gets_a_generic_description():
    info = endpoint_info("days_to_event", origin="enrolment")
    assert info.title == "days_to_event from enrolment" and info.kind == "survival"


def test_competing_endpoint_codes_and_unknown(tmp_path):
    assert COMPETING_ENDPOINTS == ("RELAPSE_AFTER_CR", "RELAPSE_AFTER_STOP")
    with pytest.raises(InputError, match="unknown competing-risks endpoint 'OS'"):
        derive_competing_endpoint({}, "OS")


def test_relapse_after_cr_from_records():
    # one patient: first dose 2020-01-01, CR 2020-03-01, stop 2020-06-30, recurrence 2020-12-31 (305 days after CR)
    frames = {
        "exposure": pd.DataFrame({"patient_id": ["P1"], "drug": ["crizotinib"], "start": ["2020-01-01"],
                                  "end": ["2020-06-30"], "reason": ["complete_response"], "discontinued": [True]}),
        "assessment": pd.DataFrame({"patient_id": ["P1"], "date": ["2020-03-01"], "response": ["CR"]}),
        "disease_event": pd.DataFrame({"patient_id": ["P1"], "kind": ["recurrence"], "date": ["2020-12-31"]}),
        "followup": pd.DataFrame({"patient_id": ["P1"], "date": ["2021-06-01"], "vital_status": ["alive"],
                                  "death_date": [None]}),
    }  # fmt: skip
    cr = derive_competing_endpoint(frames, "RELAPSE_AFTER_CR")
    assert cr[["time", "status"]].to_dict("records") == [{"time": 305.0, "status": 1}]


def test_relapse_after_stop_is_the_rfsstp_population_with_death_competing():
    adtte = pd.DataFrame({"USUBJID": ["A", "B", "C", "D"], "PARAMCD": ["RFSSTP"] * 3 + ["OS"],
                          "AVAL": [185, 40, 900, 10], "CNSR": [0, 0, 1, 0],
                          "EVNTDESC": ["Relapse (Disease Event)", "Death", "Alive", "Death"]})  # fmt: skip
    out = derive_relapse_after_stop(adtte)
    assert out.to_dict("records") == [{"patient_id": "A", "time": 185.0, "status": 1},
                                      {"patient_id": "B", "time": 40.0, "status": 2},
                                      {"patient_id": "C", "time": 900.0, "status": 0}]  # fmt: skip
