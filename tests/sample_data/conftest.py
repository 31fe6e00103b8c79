"""Shared helpers for the sample_data tests: validation as `tkitrack validate DIR` runs it, and cross-record
invariants checked independently of tkitrack.schemas.checks (so the data are checked twice, two ways)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tkitrack.schemas.dosing import compute_bsa_mosteller, compute_mg_m2_day
from tkitrack.schemas.frames import check_frame
from tkitrack.schemas.parse import parse_records
from tkitrack.schemas.queries import validate_frames
from tkitrack.schemas.vocabulary import drugs

_DATES = {
    "patient": ["diagnosis_date", "height_date", "weight_date", "reference_date"],
    "molecular": ["specimen_date"],
    "ihc": ["specimen_date"],
    "exposure": ["start", "end"],
    "ae": ["start", "end"],
    "assessment": ["date"],
    "procedure": ["date"],
    "disease_event": ["date"],
    "followup": ["date", "death_date"],
}


def typed_frames(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """parse_records on every frame (raises if any cell fails to parse)."""
    out = {}
    for record, raw in frames.items():
        typed, problems = parse_records(record, raw)
        assert problems.empty, problems.to_string()
        out[record] = typed
    return out


def field_problems(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Listing of parse_records + check_frame over every record frame."""
    parts = []
    for record, raw in frames.items():
        typed, problems = parse_records(record, raw)
        parts += [problems, check_frame(record, typed)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def cross_record_problems(frames: dict[str, pd.DataFrame]) -> list[tuple[str, str, str]]:
    """(rule, patient_id, detail) for every broken cross-record invariant; empty when the data are consistent."""
    t = typed_frames(frames)
    out: list[tuple[str, str, str]] = []
    pat = t["patient"].set_index("patient_id")
    known = set(pat.index)
    for record, frame in t.items():
        for p in set(frame["patient_id"]) - known:
            out.append(("REF001", p, record))
    birth = pat["birth_date"].where(
        pat["birth_date"].notna(),
        pat["diagnosis_date"] - pd.to_timedelta((pat["age_at_diagnosis"].fillna(0) + 1) * 365.25, unit="D"),
    )
    fu = t.get("followup", pd.DataFrame(columns=["patient_id", "date", "death_date", "vital_status"]))
    last = fu.groupby("patient_id")["date"].max()
    death = fu.groupby("patient_id")["death_date"].max()
    bad_birth = pat["birth_date"] > pat["diagnosis_date"]
    out += [("PT001", p, "birth after diagnosis") for p in pat.index[bad_birth.fillna(False)]]
    for record, cols in _DATES.items():
        frame = t.get(record)
        if frame is None or frame.empty:
            continue
        for col in cols:
            d = frame[col]
            pid = frame["patient_id"]
            b = pid.map(birth)
            lc = pid.map(pd.concat([last, death], axis=1).max(axis=1))
            for p in pid[(d < b).fillna(False)]:
                out.append(("DT002", p, f"{record}.{col} before birth"))
            limit = (d > lc).fillna(False) & ~((record == "followup") & (col == "date"))
            for p in pid[limit]:
                out.append(("DT003", p, f"{record}.{col} after last contact/death"))
    dead = fu.loc[fu["vital_status"] == "dead"]
    out += [("FU001", p, "dead without death date") for p in dead.loc[dead["death_date"].isna(), "patient_id"]]
    ex = t.get("exposure", pd.DataFrame())
    if len(ex):
        dd = ex["patient_id"].map(death)
        for p in ex.loc[(dd.notna() & (ex["end"].isna() | (ex["end"] > dd))).to_numpy(), "patient_id"]:
            out.append(("EX002", p, "exposure open or ending after death"))
        s = ex.sort_values(["patient_id", "drug", "start"])
        prev_end = s.groupby(["patient_id", "drug"])["end"].shift()
        first = s.groupby(["patient_id", "drug"]).cumcount() == 0
        overl = ~first & (prev_end.isna() | (s["start"] <= prev_end))
        out += [("EX003", p, "overlapping intervals") for p in s.loc[overl, "patient_id"]]
        bsa = ex["patient_id"].map(pd.Series(compute_bsa_mosteller(pat["height_cm"], pat["weight_kg"]), pat.index))
        weight = ex["patient_id"].map(pat["weight_kg"])
        daily = compute_mg_m2_day(ex["dose"], ex["unit"], ex["frequency"], bsa, weight)
        rng = drugs().set_index("drug")
        lo, hi = ex["drug"].map(rng["min_mg_m2_day"]), ex["drug"].map(rng["max_mg_m2_day"])
        implausible = pd.Series(daily, index=ex.index).pipe(lambda d: d.notna() & ((d < lo) | (d > hi)))
        out += [("EX004", p, "dose outside plausible range") for p in ex.loc[implausible, "patient_id"]]
    asm = t.get("assessment", pd.DataFrame())
    if len(asm):
        first_dose = ex.groupby("patient_id")["start"].min() if len(ex) else pd.Series(dtype="datetime64[ns]")
        fd = asm["patient_id"].map(first_dose)
        early = (asm["date"] < fd).fillna(False) & ~asm["baseline"]
        out += [("AS001", p, "assessment before first dose not baseline") for p in asm.loc[early, "patient_id"]]
        late_base = (asm["date"] >= fd).fillna(False) & asm["baseline"]
        out += [("AS002", p, "baseline on or after first dose") for p in asm.loc[late_base, "patient_id"]]
        post = asm.loc[~asm["baseline"] & asm["response"].notna()].sort_values(["patient_id", "date"])
        seen_cr = post["response"].eq("CR").groupby(post["patient_id"]).cummax()
        prev = post.groupby("patient_id")["response"].shift()
        seen_cr = (
            seen_cr
            & prev.notna()
            & post.groupby("patient_id")["response"].transform(lambda r: r.eq("CR").cummax().shift(fill_value=False))
        )
        out += [("AS003", p, "PR after CR") for p in post.loc[seen_cr & post["response"].eq("PR"), "patient_id"]]
        base = asm.loc[asm["baseline"]].groupby("patient_id")["sum_diameters"].first()
        b = post["patient_id"].map(base)
        sd = post["sum_diameters"]
        out += [
            ("AS-SUM", p, "PR without 30% decrease")
            for p in post.loc[(post["response"].eq("PR") & (sd > 0.7 * b)).fillna(False), "patient_id"]
        ]
        out += [
            ("AS-SUM", p, "CR with residual target sum")
            for p in post.loc[(post["response"].eq("CR") & (sd > 0)).fillna(False), "patient_id"]
        ]
    ae = t.get("ae", pd.DataFrame())
    if len(ae):
        g5 = ae.loc[ae["grade"].eq(5).fillna(False)]
        out += [("AE004", p, "grade 5 without death") for p in g5.loc[g5["patient_id"].map(death).isna(), "patient_id"]]
    return out


def validation_listing(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The query listing `tkitrack validate DIR` gives: parse, field, frame and edit checks; rows 1-based."""
    typed, problems = {}, []
    for record, raw in frames.items():
        frame, found = parse_records(record, raw)
        typed[record] = frame.assign(_row=np.arange(1, len(frame) + 1))
        if len(found):
            problems.append(found)
    parse_problems = pd.concat(problems, ignore_index=True) if problems else None
    return validate_frames(typed, parse_problems=parse_problems)


@pytest.fixture(scope="session")
def sample_checks():
    """The helper functions of this conftest, for the test modules (importlib import mode has no sibling imports)."""

    class _Checks:
        cross_record = staticmethod(cross_record_problems)
        field = staticmethod(field_problems)
        typed = staticmethod(typed_frames)
        listing = staticmethod(validation_listing)

    return _Checks
