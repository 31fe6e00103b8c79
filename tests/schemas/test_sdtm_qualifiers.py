"""Tests of tkitrack.schemas.sdtm_qualifiers: SUPP-- back beside their parents, follow-ups from SS, VS sizes."""

from __future__ import annotations

import pandas as pd

from tkitrack.schemas.sdtm_qualifiers import followups_from_ss, sizes_from_vs, supp_values


def _supp(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QVAL"])


def test_pieces_join_in_numeric_order_per_parent_record():
    parent = pd.DataFrame({"USUBJID": ["A", "A", "B"], "AESEQ": ["1", "2", "1"]})
    pieces = [("A", "AESEQ", "1", f"NOTE{k if k else ''}", f"<{k}>") for k in (10, 2, 0, 1, 9, 3, 4, 5, 6, 7, 8)]
    supp = _supp([*pieces, ("A", "AESEQ", "2", "NOTE", "second"), ("B", "AESEQ", "1.0", "CONSTDT", "start"),
                  ("A", "AESEQ", "1", "NOTEBOOK", "not a piece of NOTE"), ("B", "EXSEQ", "1", "NOTE", "not an AE")])  # fmt: skip
    got = supp_values({"SUPPAE": supp}, "AE", parent, ["NOTE", "CONSTDT"], idvar="AESEQ")
    assert got["NOTE"].tolist() == ["".join(f"<{k}>" for k in range(11)), "second", ""]
    assert got["CONSTDT"].tolist() == ["", "", "start"]  # IDVARVAL 1.0 (a number read from a file) is 1


def test_subject_level_qualifiers_and_no_supp_at_all():
    dm = pd.DataFrame({"USUBJID": ["A", "B"]})
    supp = _supp([("B", "", "", "HISTOL", "IMT")])
    assert supp_values({"SUPPDM": supp}, "DM", dm, ["HISTOL"])["HISTOL"].tolist() == ["", "IMT"]
    assert supp_values({}, "DM", dm, ["HISTOL"])["HISTOL"].tolist() == ["", ""]


def test_followups_from_subject_status_with_their_qualifiers():
    ss = pd.DataFrame({"USUBJID": ["A", "A"], "SSSEQ": ["1", "2"], "SSTESTCD": "SURVSTAT",
                       "SSSTRESC": ["ALIVE", "DEAD"], "SSDTC": ["2020-01-01", "2020-05"]})  # fmt: skip
    supp = _supp([("A", "SSSEQ", "1", "DISSTAT", "AWD"), ("A", "SSSEQ", "2", "DTHCAUS", "progression")])
    dm = pd.DataFrame({"USUBJID": ["A"], "DTHDTC": ["2020-04-28"]})
    got = followups_from_ss({"SS": ss, "SUPPSS": supp}, dm, exact=True)
    assert got[["date", "vital_status", "disease_status", "death_date", "death_cause"]].values.tolist() == [
        ["2020-01-01", "alive", "AWD", "", ""], ["2020-05", "dead", "", "2020-04-28", "progression"]]  # fmt: skip


def test_first_height_and_weight_of_each_subject():
    vs = pd.DataFrame({"USUBJID": ["A", "A", "A"], "VSTESTCD": ["WEIGHT", "HEIGHT", "WEIGHT"],
                       "VSSTRESN": ["22", "120.5", "25"], "VSDTC": ["2019-06-20", "2019-06-21", "2020-01-01"]})  # fmt: skip
    got = sizes_from_vs(vs, pd.Series(["A", "B"]))
    assert [got[k].tolist() for k in ("height_cm", "height_date", "weight_kg", "weight_date")] == [
        ["120.5", ""], ["2019-06-21", ""], ["22", ""], ["2019-06-20", ""]]  # fmt: skip
