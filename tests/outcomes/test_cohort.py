"""outcomes/cohort.py: grouping attributes, endpoints from tkitrack records, relapse after CR."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.outcomes.cohort import derive_patient_attributes, derive_relapse_after_cr

T = pd.Timestamp


def test_attributes_take_the_first_fusion_and_say_when_untested():
    frames = {
        "patient": pd.DataFrame({"patient_id": ["A", "B", "C"], "histology": ["IMT", None, "IMT"],
                                 "sex": ["F", "M", "F"], "site": ["S1", "S1", None],
                                 "age_at_diagnosis": [6.0, None, 19.0],
                                 "birth_date": [pd.NaT, T("2019-01-01"), pd.NaT],
                                 "diagnosis_date": [pd.NaT, T("2020-07-01"), pd.NaT]}),
        "molecular": pd.DataFrame({"id": [1, 2, 3], "patient_id": ["A", "A", "B"],
                                   "gene_5p": ["TPM3", "EML4", None], "gene_3p": ["ALK", "ALK", "ALK"],
                                   "specimen_date": [T("2020-01-01"), T("2021-01-01"), pd.NaT]}),
    }  # fmt: skip
    out = derive_patient_attributes(frames).set_index("patient_id")
    assert out.loc["A", ["fusion_partner", "kinase_gene", "age_group"]].tolist() == ["TPM3", "ALK", "2-11"]
    assert out.loc["B", ["fusion_partner", "histology", "age_group"]].tolist() == [
        "partner unknown",
        "not recorded",
        "<2",
    ]
    assert out.loc["C", ["fusion_partner", "kinase_gene", "age_group", "site"]].tolist() == [
        "not tested",
        "not tested",
        "18+",
        "not recorded",
    ]


@pytest.mark.parametrize(
    ("relapse", "death", "expected"),
    [
        pytest.param(T("2020-03-01"), pd.NaT, (60.0, 1), id="relapse"),
        pytest.param(pd.NaT, T("2020-02-01"), (31.0, 2), id="death-competes"),
        pytest.param(pd.NaT, pd.NaT, (366.0, 0), id="censored-at-last-contact"),
    ],
)
def test_relapse_after_cr_times_and_status(relapse, death, expected):
    cohort = pd.DataFrame({"patient_id": ["A", "B"], "cr_date": [T("2020-01-01"), pd.NaT],
                           "relapse_date": [relapse, pd.NaT], "death_date": [death, pd.NaT],
                           "last_contact_date": [T("2021-01-01"), T("2021-01-01")]})  # fmt: skip
    out = derive_relapse_after_cr(cohort)
    assert out["patient_id"].tolist() == ["A"]  # no CR, not in the competing-risks data
    assert (out["time"].item(), out["status"].item()) == expected


def test_adam_from_the_sdtm_datasets_it_reads_is_the_adam_of_every_dataset():
    from tkitrack.outcomes.cohort import derive_adam_from_records
    from tkitrack.outcomes.tte import derive_adam
    from tkitrack.sample_data.generate import generate_cohort
    from tkitrack.schemas.parse import parse_records
    from tkitrack.schemas.sdtm import records_to_sdtm

    frames = {}
    for record, raw in generate_cohort(80, seed=5).items():
        frames[record], problems = parse_records(record, raw)
        assert problems.empty
    every = derive_adam(records_to_sdtm(frames), reference="TRTSDT")
    adam = derive_adam_from_records(frames)
    assert len(adam["adsl"]) == 80 and len(adam["adrs"]) and len(adam["adtte"])
    for name, frame in every.items():
        pd.testing.assert_frame_equal(adam[name], frame, check_exact=True)


def _cohort_frames(n: int, seed: int) -> dict[str, pd.DataFrame]:
    from tkitrack.sample_data.generate import generate_cohort
    from tkitrack.schemas.parse import parse_records

    frames = {}
    for record, raw in generate_cohort(n, seed=seed).items():
        frames[record], problems = parse_records(record, raw)
        assert problems.empty
    return frames


def test_adam_reads_assessments_without_an_overall_response_as_the_whole_rs_does():
    """derive_adam_from_records builds RS as the first row of each assessment: an assessment without an overall
    response still gives its date (LSTALVDT) and its criteria (a PERCIST one adds the PERCIST parameters)."""
    from tkitrack.outcomes.cohort import derive_adam_from_records
    from tkitrack.outcomes.tte import derive_adam
    from tkitrack.schemas.sdtm import records_to_sdtm

    frames = _cohort_frames(40, seed=11)
    a = frames["assessment"].copy()
    alive = frames["followup"].groupby("patient_id")["death_date"].apply(lambda d: d.isna().all())
    responded = a.loc[a["response"].notna(), "patient_id"]
    late, percist = [p for p in responded.unique() if alive.get(p, False)][:2]
    last_late = a.index[a["patient_id"] == late][-1]
    a.loc[last_late, ["response", "target_response", "date_dtc"]] = [pd.NA, "PR", "2031-06-15"]
    a.loc[last_late, "date"] = pd.Timestamp("2031-06-15")
    last_percist = a.index[a["patient_id"] == percist][-1]
    a.loc[last_percist, ["response", "target_response", "criteria"]] = [pd.NA, "PR", "PERCIST"]
    frames["assessment"] = a

    full = records_to_sdtm(frames)
    late_rs = full["RS"][(full["RS"]["USUBJID"] == late) & (full["RS"]["RSDTC"] == "2031-06-15")]
    assert late_rs["RSTESTCD"].tolist()[0] == "TRGRESP" and "OVRLRESP" not in set(late_rs["RSTESTCD"])
    every = derive_adam(full, reference="TRTSDT")
    adam = derive_adam_from_records(frames)
    for name, frame in every.items():
        pd.testing.assert_frame_equal(adam[name], frame, check_exact=True)
    adsl = adam["adsl"].set_index("USUBJID")
    assert adsl.loc[late, "LSTALVDT"] == pd.Timestamp("2031-06-15")  # the date of an RS row that is no OVRLRESP
    assert "MBOR" in set(adam["adrs"]["PARAMCD"])  # PERCIST criteria found on an RS row that is no OVRLRESP


def test_adam_of_handed_over_datasets_lets_go_of_each_and_equals_the_adam_of_the_same_datasets():
    import gc
    import weakref

    from tkitrack.outcomes.cohort import ADAM_SDTM
    from tkitrack.outcomes.tte import derive_adam, derive_adam_of
    from tkitrack.schemas.sdtm import records_to_sdtm

    frames = _cohort_frames(60, seed=11)
    expected = derive_adam(records_to_sdtm(frames, domains=ADAM_SDTM), reference="TRTSDT")
    domains = {k.lower(): v for k, v in records_to_sdtm(frames, domains=ADAM_SDTM).items()}
    watched = {name: weakref.ref(frame) for name, frame in domains.items()}
    adam = derive_adam_of(domains, reference="TRTSDT")
    assert domains == {}  # taken over: nothing of it is left to the caller
    gc.collect()
    assert {name for name, ref in watched.items() if ref() is not None} == set()  # and nothing else holds them
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(adam[name], frame, check_exact=True)
