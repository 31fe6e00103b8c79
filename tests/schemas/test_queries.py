"""schemas/queries.py: full validation listings and new / open / resolved between runs."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.frames import concat_frames, listing
from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.queries import compare_listings, validate_frames


def _q(rule: str, row: int, value: str = "x") -> dict:
    return {"patient_id": "P1", "record": "ae", "record_id": None, "row": row, "field": "grade", "rule_id": rule,
            "severity": "error", "value": value, "message": "m"}  # fmt: skip


def test_compare_marks_new_open_and_resolved():
    previous = listing([_q("AE003", 1), _q("AE001", 2)])
    current = listing([_q("AE003", 1, "changed value"), _q("FLD002", 3)])
    out = compare_listings(current, previous)
    assert sorted(zip(out["rule_id"], out["status"], strict=True)) == [
        ("AE001", "resolved"),
        ("AE003", "open"),
        ("FLD002", "new"),
    ]


def test_compare_refuses_a_listing_without_keys():
    with pytest.raises(InputError, match="lacks column"):
        compare_listings(listing(), pd.DataFrame({"rule_id": ["AE003"]}))


def test_validate_frames_collects_parse_field_frame_and_edit_failures_errors_first():
    patient, p1 = parse_records("patient", pd.DataFrame({"patient_id": ["P1"], "birth_date": ["2015-01-01"]}))
    ae, p2 = parse_records("ae", pd.DataFrame({"patient_id": ["P1", "P9"], "term": ["Gait disturbance", "Nausea"],
                                               "grade": ["4", "x"], "start": ["2014-06-01", "2019"]}))  # fmt: skip
    found = validate_frames({"patient": patient, "ae": ae}, parse_problems=concat_frames([p1, p2]))
    assert set(found["rule_id"]) == {"FLD006", "FLD001", "AE003", "REF001", "DT002", "PT003"}
    assert found["severity"].tolist()[-1] == "warning"  # PT003 (no follow-up) is a warning, listed last
