"""Tests of tkitrack.outcomes.response: conformance with pharmaverse ADRS and hand-worked RECIST 1.1 cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tkitrack.outcomes.adsl import derive_adsl
from tkitrack.outcomes.response import derive_adrs, derive_ovr, derive_time_to_response
from tkitrack.schemas.errors import InputError

DATA = Path(__file__).resolve().parents[1] / "data" / "pharmaverse"
# Source: pharmaverse/pharmaversesdtm and pharmaverseadam (Apache-2.0), see tests/data/pharmaverse/PROVENANCE.md.
ORACLE_RS = pd.read_csv(DATA / "rs_onco_recist.csv")
INVESTIGATOR = "INVESTIGATOR"  # RSEVAL of the records the oracle ADRS was built from
OVRLRESP = "OVRLRESP"
REF = pd.Timestamp("2020-01-01")


def _oracle_adrs_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    dm, ds, ex = (pd.read_csv(DATA / f"{name}.csv") for name in ("dm", "ds", "ex"))
    lstalvdt = pd.read_csv(DATA / "adsl.csv")[["USUBJID", "LSTALVDT"]]
    return derive_adsl(dm, ds, ex, lstalvdt=lstalvdt), ORACLE_RS


@pytest.fixture(scope="module")
def derived_adrs() -> pd.DataFrame:
    adsl, rs = _oracle_adrs_inputs()
    return derive_adrs(rs, adsl)


@pytest.fixture(scope="module")
def oracle_adrs() -> pd.DataFrame:
    return pd.read_csv(DATA / "adrs_onco.csv")


def _compare(derived: pd.DataFrame, oracle: pd.DataFrame, keys: list[str], columns: list[str]) -> None:
    """Full-table comparison: no missing or extra rows, equal values; the message counts mismatches."""
    left = derived[keys + columns].copy()
    right = oracle[keys + columns].copy()
    for frame in (left, right):
        frame["ADT"] = pd.to_datetime(frame["ADT"])
        for column in columns:
            if column != "ADT" and frame[column].dtype == object:
                frame[column] = frame[column].fillna("")
    merged = left.merge(right, on=keys, how="outer", suffixes=("", "_oracle"), indicator=True)
    missing, extra = (merged["_merge"] == "right_only").sum(), (merged["_merge"] == "left_only").sum()
    assert missing == 0 and extra == 0, f"{missing} oracle rows not derived, {extra} derived rows not in oracle"
    counts = {}
    for column in columns:
        a, b = merged[column], merged[f"{column}_oracle"]
        counts[column] = int((~((a == b) | (a.isna() & b.isna()))).sum())
    bad = merged[[column for column in columns if counts[column]]]
    assert not any(counts.values()), f"mismatches per column out of {len(merged)} rows: {counts}\n{bad.head()}"


def test_inline_vocabulary_is_the_oracle_vocabulary():
    assert INVESTIGATOR in set(ORACLE_RS["RSEVAL"])
    assert set(ORACLE_RS["RSTESTCD"]) == {OVRLRESP}


@pytest.mark.parametrize("paramcd", ["BOR", "CBOR", "RSP", "CRSP"])
def test_key_parameters_equal_pharmaverse_for_all_306_subjects(derived_adrs, oracle_adrs, paramcd):
    derived = derived_adrs[derived_adrs["PARAMCD"] == paramcd]
    oracle = oracle_adrs[oracle_adrs["PARAMCD"] == paramcd]
    assert len(oracle) == 306
    _compare(derived, oracle, ["USUBJID", "PARAMCD"], ["AVALC", "AVAL", "ADT"])


def test_other_parameters_equal_pharmaverse(derived_adrs, oracle_adrs):
    # CBCP is not compared: the oracle has "N" everywhere (template quirk, see PROVENANCE.md).
    codes = ["PD", "CB", "CCB", "BCP", "DEATH", "LSTA"]
    derived = derived_adrs[derived_adrs["PARAMCD"].isin(codes)]
    _compare(derived, oracle_adrs[oracle_adrs["PARAMCD"].isin(codes)], ["USUBJID", "PARAMCD"], ["AVALC", "AVAL", "ADT"])


def test_ovr_records_and_flags_equal_pharmaverse(derived_adrs, oracle_adrs):
    derived = derived_adrs[derived_adrs["PARAMCD"] == "OVR"]
    oracle = oracle_adrs[oracle_adrs["PARAMCD"] == "OVR"]
    _compare(derived, oracle, ["USUBJID", "RSSEQ"], ["AVALC", "AVAL", "ADT", "ANL01FL", "ANL02FL"])


def _rs(visits: list[tuple[int | str, str]], subject: str = "P1") -> pd.DataFrame:
    """RS records of one subject; a visit is (days after REF, response) or (RSDTC text, response)."""
    dtc = [v if isinstance(v, str) else (REF + pd.Timedelta(days=v)).strftime("%Y-%m-%d") for v, _ in visits]
    return pd.DataFrame(
        {
            "USUBJID": subject,
            "RSTESTCD": OVRLRESP,
            "RSEVAL": INVESTIGATOR,
            "RSSTRESC": [r for _, r in visits],
            "RSDTC": dtc,
            "RSSEQ": range(1, len(visits) + 1),
        }
    )


ADSL = pd.DataFrame({"USUBJID": ["P1"], "RANDDT": [REF], "DTHDT": [pd.NaT]})


def _param(visits: list[tuple[int | str, str]], paramcd: str) -> tuple[str, int | None]:
    adrs = derive_adrs(_rs(visits), ADSL)
    row = adrs[adrs["PARAMCD"] == paramcd].iloc[0]
    day = None if pd.isna(row["ADT"]) else (row["ADT"] - REF).days
    return row["AVALC"], day


@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        pytest.param([(21, "SD")], ("NE", 21), id="sd-before-day-42-is-ne"),
        pytest.param([(42, "SD")], ("SD", 42), id="sd-on-day-42-counts"),
        pytest.param([(21, "NON-CR/NON-PD")], ("NE", 21), id="non-crpd-before-day-42-is-ne"),
        pytest.param([(21, "NON-CR/NON-PD"), (42, "NON-CR/NON-PD")], ("NON-CR/NON-PD", 42), id="non-crpd-on-day-42"),
        pytest.param([(21, "CR")], ("CR", 21), id="cr-needs-no-window"),
        pytest.param([(21, "SD"), (35, "PD")], ("PD", 35), id="early-sd-then-pd-is-pd"),
        pytest.param([(42, "SD"), (63, "PD"), (84, "PR"), (126, "PR")], ("SD", 42), id="pd-truncates-later-pr"),
        pytest.param([(-7, "PD"), (42, "SD")], ("SD", 42), id="record-before-reference-not-used"),
        pytest.param([(0, "CR")], ("CR", 0), id="assessment-on-day-1-counts"),
        pytest.param([(-1, "CR")], ("MISSING", None), id="assessment-the-day-before-day-1-does-not"),
        pytest.param([(41, "SD")], ("NE", 41), id="sd-one-day-before-the-window-is-ne"),
        pytest.param([(42, "SD"), (63, "PD"), (84, "CR"), (112, "CR")], ("SD", 42), id="relapse-before-cr-ends-it"),
        pytest.param([(21, "PD"), (84, "CR"), (112, "CR")], ("PD", 21), id="pd-before-any-cr-is-pd"),
        pytest.param([(42, "CR"), (42, "PD")], ("PD", 42), id="cr-and-pd-on-one-date-is-pd"),
        pytest.param([], ("MISSING", None), id="no-assessment-is-missing"),
    ],
)
def test_best_overall_response(visits, expected):
    assert _param(visits, "BOR") == expected


@pytest.mark.parametrize(
    ("visits", "cbor", "crsp"),
    [
        pytest.param([(42, "CR"), (70, "CR")], ("CR", 42), ("Y", 42), id="cr-confirmed-at-28-days"),
        pytest.param([(42, "CR"), (69, "CR")], ("SD", 42), ("N", None), id="cr-27-days-not-confirmed-is-sd"),
        pytest.param([(42, "CR"), (56, "NE"), (84, "CR")], ("CR", 42), ("Y", 42), id="cr-one-ne-between-allowed"),
        pytest.param([(42, "CR"), (49, "NE"), (56, "NE"), (84, "CR")], ("SD", 42), ("N", None), id="cr-two-ne-not"),
        pytest.param([(42, "CR"), (56, "SD"), (84, "CR")], ("SD", 42), ("N", None), id="cr-broken-by-sd"),
        pytest.param([(42, "PR"), (70, "PR")], ("PR", 42), ("Y", 42), id="pr-confirmed-by-pr"),
        pytest.param([(42, "PR"), (69, "PR")], ("SD", 42), ("N", None), id="pr-27-days-not-confirmed-is-sd"),
        pytest.param([(0, "CR"), (28, "CR")], ("CR", 0), ("Y", 0), id="cr-on-day-1-confirmed-at-28-days"),
        pytest.param([(14, "CR"), (41, "CR")], ("NE", 14), ("N", None), id="cr-27-days-before-the-window-is-ne"),
        pytest.param([(41, "PR"), (49, "NE")], ("NE", 41), ("N", None), id="unconfirmed-pr-day-41-is-ne"),
        pytest.param([(42, "PR"), (49, "NE")], ("SD", 42), ("N", None), id="unconfirmed-pr-day-42-is-sd"),
        pytest.param([(42, "PR"), (70, "CR")], ("PR", 42), ("Y", 42), id="pr-confirmed-by-cr"),
        pytest.param([(42, "PR"), (56, "SD"), (84, "PR")], ("SD", 42), ("N", None), id="pr-broken-by-sd"),
        pytest.param([(42, "PR"), (56, "NE"), (84, "PR")], ("PR", 42), ("Y", 42), id="pr-one-ne-between-allowed"),
        pytest.param([(42, "PR"), (49, "NE"), (56, "NE"), (84, "PR")], ("SD", 42), ("N", None), id="pr-two-ne-not"),
        pytest.param([(42, "PR"), (56, "CR"), (77, "PR")], ("SD", 42), ("N", None), id="no-pr-after-cr"),
        pytest.param([(21, "PR"), (35, "SD")], ("NE", 21), ("N", None), id="unconfirmed-pr-before-day-42-is-ne"),
        pytest.param([(21, "PR"), (63, "PD")], ("PD", 63), ("N", None), id="unconfirmed-pr-then-pd-is-pd"),
    ],
)
def test_confirmed_best_overall_response_and_confirmed_response(visits, cbor, crsp):
    assert _param(visits, "CBOR") == cbor
    assert _param(visits, "CRSP") == crsp


@pytest.mark.parametrize(
    ("responses", "kept"),
    [
        pytest.param(["CR", "NE"], "CR", id="ne-is-best"),
        pytest.param(["SD", "PD"], "PD", id="pd-is-worst"),
        pytest.param(["PR", "SD"], "SD", id="sd-worse-than-pr"),
        pytest.param(["NON-CR/NON-PD", "SD"], "NON-CR/NON-PD", id="non-crpd-worse-than-sd"),
    ],
)
def test_worst_response_per_date_is_analysed(responses, kept):
    ovr = derive_ovr(_rs([(42, r) for r in responses]), ADSL)
    assert ovr.loc[ovr["ANL01FL"] == "Y", "AVALC"].tolist() == [kept]


@pytest.mark.parametrize(
    ("rsdtc", "adt", "adtf"),
    [
        pytest.param("2020-02", "2020-02-29", "D", id="missing-day-last-of-month-leap-year"),
        pytest.param("2020-04", "2020-04-30", "D", id="missing-day-30-day-month"),
        pytest.param("2020-04-05", "2020-04-05", None, id="complete-date"),
        pytest.param("2020", None, None, id="missing-month-not-imputed"),
    ],
)
def test_missing_day_imputed_as_last_day_of_month(rsdtc, adt, adtf):
    ovr = derive_ovr(_rs([(rsdtc, "SD")]), ADSL)
    got, flag = ovr["ADT"].iloc[0], ovr["ADTF"].iloc[0]
    assert (None if pd.isna(got) else got.strftime("%Y-%m-%d")) == adt
    assert (None if pd.isna(flag) else flag) == adtf


def test_records_after_first_pd_are_flagged_out_but_count_for_last_assessment():
    visits = [(42, "SD"), (63, "PD"), (84, "SD")]
    ovr = derive_ovr(_rs(visits), ADSL)
    assert ovr["ANL02FL"].fillna("").tolist() == ["Y", "Y", ""]
    assert _param(visits, "LSTA") == ("SD", 84)
    assert _param(visits, "PD") == ("Y", 63)


def test_rules_are_parameters():
    visits = [(21, "SD")]
    adrs = derive_adrs(_rs(visits), ADSL, window_days=14)
    assert adrs.loc[adrs["PARAMCD"] == "BOR", "AVALC"].item() == "SD"
    adrs = derive_adrs(_rs([(42, "CR"), (63, "CR")]), ADSL, confirm_days=21)
    assert adrs.loc[adrs["PARAMCD"] == "CBOR", "AVALC"].item() == "CR"
    adrs = derive_adrs(_rs([(42, "CR"), (49, "NE"), (56, "NE"), (84, "CR")]), ADSL, max_ne=2)
    assert adrs.loc[adrs["PARAMCD"] == "CBOR", "AVALC"].item() == "CR"
    adrs = derive_adrs(_rs([(42, "SD"), (63, "PD"), (84, "PR")]), ADSL, truncate_at_first_pd=False)
    assert adrs.loc[adrs["PARAMCD"] == "BOR", "AVALC"].item() == "PR"


def test_inputs_are_not_mutated_or_reordered():
    rs = _rs([(84, "PR"), (42, "SD"), (126, "PR")])
    before_rs, before_adsl = rs.copy(), ADSL.copy()
    derive_adrs(rs, ADSL)
    pd.testing.assert_frame_equal(rs, before_rs)
    pd.testing.assert_frame_equal(ADSL, before_adsl)


def test_missing_column_names_the_column():
    with pytest.raises(InputError, match="RSSTRESC"):
        derive_adrs(_rs([(42, "SD")]).drop(columns="RSSTRESC"), ADSL)
    with pytest.raises(InputError, match="TRTSDT"):
        derive_adrs(_rs([(42, "SD")]), ADSL, reference_date="TRTSDT")


def test_seed_case_crizotinib_imt_complete_response():
    """Seed 003: crizotinib from day 0, residual lesion (PR) at 1 month, complete resolution at 4 months, no
    recurrence on MRI at 5 months, stopped at 6 months. "No recurrence 4 years later" is a follow-up contact, not
    a scan, so it is no RS record. The letter gives intervals only; the dates are built from them (start
    2018-01-15). The CR of month 4 is confirmed by the MRI 31 days later (>= 28)."""
    ex = pd.DataFrame(
        {
            "USUBJID": ["IMT-1"],
            "EXTRT": ["CRIZOTINIB"],
            "EXDOSE": [200.0],
            "EXSTDTC": ["2018-01-15"],
            "EXENDTC": ["2018-07-15"],
        }
    )
    adsl = derive_adsl(pd.DataFrame({"USUBJID": ["IMT-1"]}), ex=ex, reference="TRTSDT")
    rs = pd.DataFrame(
        {
            "USUBJID": "IMT-1",
            "RSTESTCD": OVRLRESP,
            "RSEVAL": INVESTIGATOR,
            "RSSTRESC": ["PR", "CR", "CR"],
            "RSDTC": ["2018-02-15", "2018-05-15", "2018-06-15"],
            "RSSEQ": [1, 2, 3],
        }
    )
    adrs = derive_adrs(rs, adsl, reference_date="TRTSDT").set_index("PARAMCD")
    got = {
        code: (adrs.at[code, "AVALC"], adrs.at[code, "ADT"].strftime("%Y-%m-%d"))
        for code in ("BOR", "CBOR", "RSP", "CRSP", "CB", "LSTA")
    }
    assert got == {
        "BOR": ("CR", "2018-05-15"),
        "CBOR": ("CR", "2018-05-15"),
        "RSP": ("Y", "2018-02-15"),
        "CRSP": ("Y", "2018-02-15"),
        "CB": ("Y", "2018-02-15"),
        "LSTA": ("CR", "2018-06-15"),
    }
    assert adrs.at["PD", "AVALC"] == "N"
    ttr = derive_time_to_response(adrs.reset_index(), adsl, reference_date="TRTSDT")
    assert ttr["AVAL"].tolist() == [32]


def _analysed_records(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    """Analysed OVR records (subject, day, response) in _analysed's order: by subject, then date."""
    used = pd.DataFrame(rows, columns=["USUBJID", "day", "AVALC"]).sort_values(["USUBJID", "day"], kind="stable")
    used["ADT"] = REF + pd.to_timedelta(used.pop("day"), unit="D")
    return used.reset_index(drop=True)


CONFIRMATION_CASES = [
    ("P1", 0, "PR"), ("P1", 27, "PR"), ("P1", 28, "CR"), ("P1", 60, "PR"),  # PR after CR: not a confirmation
    ("P2", 0, "CR"), ("P2", 10, "NE"), ("P2", 20, "NE"), ("P2", 40, "CR"),  # two NE in between
    ("P3", 5, "PR"), ("P3", 33, "PR"), ("P3", 50, "SD"), ("P3", 80, "PR"),  # confirmed exactly 28 days later
    ("P4", 0, "CR"), ("P4", 30, "PD"), ("P4", 60, "CR"),  # PD in between
    ("P5", 0, "PR"),  # nothing later
]  # fmt: skip


@pytest.mark.parametrize("kind", ["CR", "PR"])
@pytest.mark.parametrize("max_ne", [0, 1, 2])
def test_confirmation_by_binary_search_is_the_merge_asof_one(kind, max_ne):
    from tkitrack.outcomes.response import _confirmed, _confirmed_in_order

    used = _analysed_records(CONFIRMATION_CASES)
    code = pd.factorize(used["USUBJID"])[0]
    fast = _confirmed_in_order(used, code, kind, confirm_days=28, max_ne=max_ne)
    slow = _confirmed(used, kind, confirm_days=28, max_ne=max_ne, subject=code)
    assert fast.index.tolist() == slow.index.tolist() and fast.tolist() == slow.tolist()
    # subject codes P1..P5 = 0..4: P1's PR on day 0 (by the CR on day 28; its PR of day 27 is followed by CR, PR),
    # P3's PR on day 5; P2's CR only with two NE allowed between
    by_hand = {"PR": {0: 0, 2: 5}, "CR": {1: 0} if max_ne >= 2 else {}}[kind]
    assert {c: (d - REF).days for c, d in fast.items()} == by_hand


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda u: u.assign(ADT=u["ADT"] + pd.Timedelta(hours=1) * (u.index == 3)), id="not-midnight"),
        pytest.param(
            lambda u: pd.concat([u, u.iloc[[2]]]).sort_values(["USUBJID", "ADT"], kind="stable").reset_index(drop=True),
            id="two-records-of-one-date",
        ),
    ],
)
def test_confirmation_of_other_records_is_that_of_merge_asof(change):
    from tkitrack.outcomes.response import _confirmed, _confirmed_in_order

    used = change(_analysed_records(CONFIRMATION_CASES))
    code = pd.factorize(used["USUBJID"])[0]
    for kind in ("CR", "PR"):
        fast = _confirmed_in_order(used, code, kind, confirm_days=28, max_ne=1)
        slow = _confirmed(used, kind, confirm_days=28, max_ne=1, subject=code)
        assert fast.index.tolist() == slow.index.tolist() and fast.tolist() == slow.tolist()


def test_confirmation_of_records_without_a_date_fails_as_merge_asof_does():
    from tkitrack.outcomes.response import _confirmed_in_order

    used = _analysed_records(CONFIRMATION_CASES)
    used.loc[3, "ADT"] = pd.NaT
    with pytest.raises(ValueError, match="null"):
        _confirmed_in_order(used, pd.factorize(used["USUBJID"])[0], "PR", confirm_days=28, max_ne=1)


def test_earliest_of_aligned_dates_ignores_missing_ones():
    from tkitrack.outcomes.response import _earliest_of

    a = pd.to_datetime(["2020-01-05", None, "2020-01-01", None]).to_numpy()
    b = pd.to_datetime(["2020-01-03", "2020-01-02", None, None]).to_numpy()
    assert list(pd.DatetimeIndex(_earliest_of(a, b)).strftime("%Y-%m-%d").fillna("-")) == [
        "2020-01-03", "2020-01-02", "2020-01-01", "-"]  # fmt: skip


def test_parameters_are_for_adsl_subjects_only_and_every_one_of_them():
    adsl = pd.DataFrame({"USUBJID": ["P2", "P1"], "RANDDT": [REF, REF], "DTHDT": [pd.NaT, REF + pd.Timedelta(days=90)]})
    rs = pd.concat([_rs([(42, "PR"), (70, "PR")], "P1"), _rs([(42, "CR")], "P9")])  # P9: not in ADSL
    adrs = derive_adrs(rs, adsl)
    params = adrs[adrs["PARAMCD"] != "OVR"]
    assert set(params["USUBJID"]) == {"P1", "P2"}
    got = params.set_index(["USUBJID", "PARAMCD"])["AVALC"]
    assert got[("P1", "CBOR")] == "PR" and got[("P1", "DEATH")] == "Y" and got[("P1", "LSTA")] == "PR"
    assert got[("P2", "BOR")] == "MISSING" and got[("P2", "RSP")] == "N" and pd.isna(got[("P2", "LSTA")])
