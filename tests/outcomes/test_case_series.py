"""Tests of the case-series ADTTE parameters (outcomes.case_series through tte.derive_adam) with hand-worked patients.

Every patient is written inline in SDTM shape (what both `derive` paths feed the derivation). Day counts are
worked by hand as ``ADT - STARTDT + 1`` (e.g. 2018-01-15 to 2018-05-15: 16 + 28 + 31 + 30 + 15 = 120 days, + 1).
"""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.outcomes.tte import derive_adam

# (drug, dose, start, end, discontinued, reason)
PATIENTS = {
    # the letter: crizotinib 200 mg daily, complete resolution at 4 months, stopped at 6, NED 4 years on
    "LETTER": dict(ex=[("CRIZOTINIB", 200, "2018-01-15", "2018-07-15", "Y", "COMPLETE RESPONSE")],
                   rs=[("2018-05-15", "CR"), ("2018-07-10", "CR")], ss=[("2022-07-15", "ALIVE", "NED")]),
    # elective stop in CR, relapse off drug, re-challenge
    "RELAPSE": dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "2020-12-31", "Y", "COMPLETE RESPONSE"),
                        ("CRIZOTINIB", 200, "2021-07-10", "", "", "")],
                    rs=[("2020-06-01", "CR"), ("2020-12-01", "CR"), ("2021-06-30", "PD")],
                    ss=[("2022-01-01", "ALIVE", "AWD")]),
    # stopped for toxicity in PR: no relapse-free survival after stopping in CR
    "PR_STOP": dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "2020-06-30", "Y", "TOXICITY")],
                    rs=[("2020-03-01", "PR"), ("2020-06-01", "PR")], ss=[("2021-01-01", "ALIVE", "AWD")]),
    # a hold for toxicity, a reduced restart, then an elective stop in CR: one course
    "HOLD": dict(ex=[("CRIZOTINIB", 280, "2020-01-01", "2020-02-29", "N", "TOXICITY"),
                     ("CRIZOTINIB", 200, "2020-03-15", "2020-09-30", "Y", "COMPLETE RESPONSE")],
                 rs=[("2020-05-01", "CR"), ("2020-09-15", "CR")], ss=[("2021-03-31", "ALIVE", "NED")]),
    # vinblastine first: day 1 is the first crizotinib dose; the PR on chemotherapy is before day 1
    "CHEMO": dict(ex=[("VINBLASTINE", 6, "2019-01-01", "2019-06-30", "Y", "PROGRESSION"),
                      ("CRIZOTINIB", 200, "2019-07-15", "", "", "")],
                  rs=[("2019-03-01", "PR"), ("2019-10-15", "CR")], ss=[("2020-07-14", "ALIVE", "NED")]),
    # a histology-proven recurrence recorded only as a disease event
    "RECUR": dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "", "", "")], rs=[("2020-04-01", "CR")],
                  ce=[("2020-10-01", "DISEASE RECURRENCE")], ss=[("2021-01-01", "ALIVE", "AWD")]),
    # stopped in CR, restarted without relapse; what follows the restart is not "after stopping"
    "RESTART": dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "2020-06-30", "Y", "COMPLETE RESPONSE"),
                        ("CRIZOTINIB", 200, "2020-12-01", "", "", "")],
                    rs=[("2020-04-01", "CR"), ("2020-06-15", "CR"), ("2020-09-01", "CR"), ("2021-01-15", "CR"),
                        ("2021-03-01", "PD")], ss=[("2021-06-01", "ALIVE", "AWD")]),
    # stopped in CR, died off drug
    "DEATH": dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "2020-06-30", "Y", "COMPLETE RESPONSE")],
                  rs=[("2020-03-01", "CR"), ("2020-06-01", "CR")], ss=[("2020-12-31", "DEAD", "")],
                  death="2020-12-31"),
    # never treated: no day 1, so no time-to-event row at all
    "UNTREATED": dict(ex=[], rs=[("2020-03-01", "CR")], ss=[("2021-01-01", "ALIVE", "NED")]),
    # boundaries on day 1: an assessment on day 1 counts; a disease event on day 1 is the disease treated
    "DAY1": dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "", "", "")], rs=[("2020-01-01", "PR"), ("2020-03-01", "SD")],
                 ce=[("2020-01-01", "DISEASE RECURRENCE")], ss=[("2020-06-01", "ALIVE", "AWD")]),
    # a relapse before the first CR does not undo the CR the drug was later stopped in
    "EARLY_RELAPSE": dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "2020-12-31", "Y", "COMPLETE RESPONSE")],
                          rs=[("2020-06-01", "CR"), ("2020-12-01", "CR")], ce=[("2020-03-01", "DISEASE RECURRENCE")],
                          ss=[("2021-06-30", "ALIVE", "NED")]),
    # progression on the day of the last dose: not stopped in CR
    "PROG_AT_STOP": dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "2020-06-30", "Y", "COMPLETE RESPONSE")],
                         rs=[("2020-03-01", "CR")], ce=[("2020-06-30", "DISEASE PROGRESSION")],
                         ss=[("2021-01-01", "ALIVE", "AWD")]),
    # progression on the day of the first CR: no progression-free CR at the stop either
    "PROG_AT_CR": dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "2020-06-30", "Y", "COMPLETE RESPONSE")],
                       rs=[("2020-03-01", "CR"), ("2020-06-01", "CR")], ce=[("2020-03-01", "METASTASIS")],
                       ss=[("2021-01-01", "ALIVE", "AWD")]),
}  # fmt: skip


def sdtm_of(patients: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """SDTM DM, EX, SUPPEX, RS, CE, SS, SUPPSS of the inline patients."""
    dm, ex, suppex, rs, ce, ss, suppss = [], [], [], [], [], [], []
    for pid, p in patients.items():
        dm.append({"USUBJID": pid, "DTHDTC": p.get("death", "")})
        for seq, (drug, dose, start, end, disc, reason) in enumerate(p["ex"], 1):
            ex.append({"USUBJID": pid, "EXSEQ": seq, "EXTRT": drug, "EXDOSE": dose, "EXSTDTC": start,
                       "EXENDTC": end})  # fmt: skip
            for qnam, qval in (("DISCFL", disc), ("ENDRSN", reason)):
                if qval:
                    suppex.append({"USUBJID": pid, "IDVAR": "EXSEQ", "IDVARVAL": str(seq), "QNAM": qnam, "QVAL": qval})
        for seq, (date, response) in enumerate(p["rs"], 1):
            rs.append({"USUBJID": pid, "RSSEQ": seq, "RSTESTCD": "OVRLRESP", "RSEVAL": "INVESTIGATOR",
                       "RSSTRESC": response, "RSDTC": date})  # fmt: skip
        for seq, (date, decod) in enumerate(p.get("ce", []), 1):
            ce.append({"USUBJID": pid, "CESEQ": seq, "CEDECOD": decod, "CECAT": "DISEASE EVENT", "CESTDTC": date})
        for seq, (date, status, disease) in enumerate(p["ss"], 1):
            ss.append({"USUBJID": pid, "SSSEQ": seq, "SSTESTCD": "SURVSTAT", "SSSTRESC": status, "SSDTC": date})
            if disease:
                suppss.append({"USUBJID": pid, "IDVAR": "SSSEQ", "IDVARVAL": str(seq), "QNAM": "DISSTAT",
                               "QVAL": disease})  # fmt: skip
    frames = {"DM": dm, "EX": ex, "SUPPEX": suppex, "RS": rs, "CE": ce, "SS": ss, "SUPPSS": suppss}
    return {k: pd.DataFrame(v) for k, v in frames.items()}


@pytest.fixture(scope="module")
def adtte() -> pd.DataFrame:
    return derive_adam(sdtm_of(PATIENTS), reference="TRTSDT")["adtte"]


def _row(adtte: pd.DataFrame, pid: str, paramcd: str) -> tuple:
    row = adtte[(adtte["USUBJID"] == pid) & (adtte["PARAMCD"] == paramcd)]
    assert len(row) == 1, f"{pid} {paramcd}: {len(row)} rows"
    r = row.iloc[0]
    return (r["STARTDT"].strftime("%Y-%m-%d"), r["ADT"].strftime("%Y-%m-%d"), int(r["AVAL"]), int(r["CNSR"]),
            r["EVNTDESC"])  # fmt: skip


EXPECTED = [
    # the letter
    ("LETTER", "OS", ("2018-01-15", "2022-07-15", 1643, 1, "Alive")),
    ("LETTER", "PFS", ("2018-01-15", "2018-07-10", 177, 1, "Last Tumor Assessment")),
    ("LETTER", "RSD", ("2018-05-15", "2018-07-10", 57, 1, "Last Tumor Assessment")),
    ("LETTER", "TTR", ("2018-01-15", "2018-05-15", 121, 0, "Response")),
    ("LETTER", "TTD", ("2018-01-15", "2018-07-15", 182, 0, "Treatment Discontinuation")),
    ("LETTER", "TFI", ("2018-07-15", "2022-07-15", 1462, 1, "Alive")),
    ("LETTER", "RFSSTP", ("2018-07-15", "2022-07-15", 1462, 1, "Follow-up, No Evidence of Disease")),
    # elective stop in CR, relapse off drug, re-challenge
    ("RELAPSE", "TTD", ("2020-01-01", "2020-12-31", 366, 0, "Treatment Discontinuation")),
    ("RELAPSE", "TFI", ("2020-12-31", "2021-07-10", 192, 0, "Next Systemic Therapy")),
    ("RELAPSE", "RFSSTP", ("2020-12-31", "2021-06-30", 182, 0, "Relapse (Disease Progression)")),
    ("RELAPSE", "PFS", ("2020-01-01", "2021-06-30", 547, 0, "Disease Progression")),
    ("RELAPSE", "RSD", ("2020-06-01", "2021-06-30", 395, 0, "Disease Progression")),
    # stop in PR
    ("PR_STOP", "TFI", ("2020-06-30", "2021-01-01", 186, 1, "Alive")),
    # hold and reduced restart, then elective stop: the hold is time on treatment
    ("HOLD", "TTD", ("2020-01-01", "2020-09-30", 274, 0, "Treatment Discontinuation")),
    ("HOLD", "RFSSTP", ("2020-09-30", "2021-03-31", 183, 1, "Follow-up, No Evidence of Disease")),
    # chemotherapy first: day 1 is the inhibitor
    ("CHEMO", "TTR", ("2019-07-15", "2019-10-15", 93, 0, "Response")),
    ("CHEMO", "TTD", ("2019-07-15", "2020-07-14", 366, 1, "Alive")),
    ("CHEMO", "OS", ("2019-07-15", "2020-07-14", 366, 1, "Alive")),
    # recurrence recorded only as a disease event
    ("RECUR", "PFS", ("2020-01-01", "2020-10-01", 275, 0, "Disease Event")),
    ("RECUR", "RSD", ("2020-04-01", "2020-10-01", 184, 0, "Disease Event")),
    # restart without relapse: censored at the last assessment without progression before the restart
    ("RESTART", "RFSSTP", ("2020-06-30", "2020-09-01", 64, 1, "Last Tumor Assessment Without Progression")),
    ("RESTART", "TFI", ("2020-06-30", "2020-12-01", 155, 0, "Next Systemic Therapy")),
    # death off drug
    ("DEATH", "RFSSTP", ("2020-06-30", "2020-12-31", 185, 0, "Death")),
    ("DEATH", "TFI", ("2020-06-30", "2020-12-31", 185, 0, "Death")),
    ("DEATH", "OS", ("2020-01-01", "2020-12-31", 366, 0, "Death")),
    ("DEATH", "TTD", ("2020-01-01", "2020-06-30", 182, 0, "Treatment Discontinuation")),
    # day 1: the assessment counts (AVAL 1); the disease event does not end PFS
    ("DAY1", "TTR", ("2020-01-01", "2020-01-01", 1, 0, "Response")),
    ("DAY1", "PFS", ("2020-01-01", "2020-03-01", 61, 1, "Last Tumor Assessment")),
    # relapse before the first CR: still stopped in CR
    ("EARLY_RELAPSE", "RFSSTP", ("2020-12-31", "2021-06-30", 182, 1, "Follow-up, No Evidence of Disease")),
]


@pytest.mark.parametrize(("pid", "paramcd", "expected"), [pytest.param(*e, id=f"{e[0]}-{e[1]}") for e in EXPECTED])
def test_hand_worked_parameters(adtte, pid, paramcd, expected):
    assert _row(adtte, pid, paramcd) == expected


@pytest.mark.parametrize(
    ("pid", "absent"),
    [
        pytest.param("UNTREATED", {"OS", "PFS", "RSD", "TTR", "TTD", "TFI", "RFSSTP"}, id="never-treated-no-origin"),
        pytest.param("PR_STOP", {"RFSSTP"}, id="stop-in-PR-not-in-CR"),
        pytest.param("PROG_AT_STOP", {"RFSSTP"}, id="progression-on-the-last-dose-day"),
        pytest.param("PROG_AT_CR", {"RFSSTP"}, id="progression-on-the-first-CR-day"),
        pytest.param("CHEMO", {"TFI", "RFSSTP"}, id="index-course-ongoing"),
        pytest.param("RECUR", {"TFI", "RFSSTP"}, id="ongoing-after-recurrence"),
    ],
)
def test_patients_without_the_origin_or_population_have_no_row(adtte, pid, absent):
    assert not (set(adtte.loc[adtte["USUBJID"] == pid, "PARAMCD"]) & absent)


def test_rfsstp_population_is_stopped_in_cr_only(adtte):
    got = sorted(adtte.loc[adtte["PARAMCD"] == "RFSSTP", "USUBJID"])
    assert got == ["DEATH", "EARLY_RELAPSE", "HOLD", "LETTER", "RELAPSE", "RESTART"]


def test_stop_reason_filter_narrows_rfsstp():
    patients = {k: PATIENTS[k] for k in ("LETTER", "DEATH")}
    patients["TOX_CR"] = dict(ex=[("CRIZOTINIB", 200, "2020-01-01", "2020-06-30", "Y", "TOXICITY")],
                              rs=[("2020-03-01", "CR")], ss=[("2020-09-01", "ALIVE", "NED")])  # fmt: skip
    every = derive_adam(sdtm_of(patients), reference="TRTSDT")["adtte"]
    elective = derive_adam(sdtm_of(patients), reference="TRTSDT", stop_reasons=["complete_response"])["adtte"]
    assert sorted(every.loc[every["PARAMCD"] == "RFSSTP", "USUBJID"]) == ["DEATH", "LETTER", "TOX_CR"]
    assert sorted(elective.loc[elective["PARAMCD"] == "RFSSTP", "USUBJID"]) == ["DEATH", "LETTER"]
    # the toxicity stop in CR: 2020-06-30 to the NED contact 2020-09-01 is 63 days, + 1
    assert _row(every, "TOX_CR", "RFSSTP") == ("2020-06-30", "2020-09-01", 64, 1, "Follow-up, No Evidence of Disease")


def test_trtsdt_is_the_first_dose_of_the_index_therapy():
    adsl = derive_adam(sdtm_of(PATIENTS), reference="TRTSDT")["adsl"].set_index("USUBJID")
    assert adsl.at["CHEMO", "TRTSDT"] == pd.Timestamp("2019-07-15")  # not the vinblastine of 2019-01-01
    assert pd.isna(adsl.at["UNTREATED", "TRTSDT"])


def test_index_drug_names_another_drug():
    adam = derive_adam(sdtm_of({"CHEMO": PATIENTS["CHEMO"]}), reference="TRTSDT", index_drug="vinblastine")
    assert adam["adsl"].at[0, "TRTSDT"] == pd.Timestamp("2019-01-01")
    # vinblastine stopped 2019-06-30 (day 181 + 1), crizotinib the next therapy 2019-07-15 (15 days + 1)
    assert _row(adam["adtte"], "CHEMO", "TTD") == ("2019-01-01", "2019-06-30", 181, 0, "Treatment Discontinuation")
    assert _row(adam["adtte"], "CHEMO", "TFI") == ("2019-06-30", "2019-07-15", 16, 0, "Next Systemic Therapy")
