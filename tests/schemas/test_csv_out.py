"""Tests of tkitrack.schemas.csv_out: the one CSV writer of the exports."""

from __future__ import annotations

import pandas as pd

from tkitrack.schemas.csv_out import write_csv


def test_utf8_unix_line_ends_no_index_iso_dates(tmp_path):
    frame = pd.DataFrame({"USUBJID": ["É-1", "B"], "ADT": pd.to_datetime(["2020-01-02", None]), "AVAL": [1.5, None]})
    write_csv(frame, tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_bytes() == "USUBJID,ADT,AVAL\nÉ-1,2020-01-02,1.5\nB,,\n".encode()
