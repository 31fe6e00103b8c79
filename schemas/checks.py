"""Cross-record edit checks, each with a stable rule id and severity, reported as one query listing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tkitrack.schemas.checks_tumour import NEW_BASELINE_DAYS, derive_course_starts, find_sum_contradictions
from tkitrack.schemas.dosing import compute_bsa_mosteller, compute_mg_m2_day
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import LISTING_COLUMNS, concat_frames, listing
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.vocabulary import drugs

__all__ = ["EDIT_CHECKS", "EditCheck", "check_records", "dated_records"]

Frames = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class EditCheck:
    """One edit check: ``find(frames, today)`` returns the failing data points (see :func:`_hits`)."""

    rule_id: str
    severity: str
    record: str
    description: str
    find: Callable[[Frames, pd.Timestamp], pd.DataFrame]


def _hits(frame: pd.DataFrame, record: str, field: str, value, message) -> pd.DataFrame:
    """Failing rows of ``frame`` as listing rows (``value``/``message``: a Series aligned to frame, or text)."""
    return pd.DataFrame({
        "patient_id": frame["patient_id"].astype("object"),
        "record": record,
        "record_id": frame["id"].astype("object") if "id" in frame and record != "patient" else None,
        "row": frame["_row"] if "_row" in frame else pd.NA,
        "field": field,
        "value": value,
        "message": message,
    })  # fmt: skip


class _Shared(dict):
    """The frames of one :func:`check_records` run plus what several checks derive from them, computed once."""

    def __init__(self, frames: Frames) -> None:
        super().__init__(frames)
        self.derived: dict[str, object] = {}


def _shared(frames: Frames, name: str, build: Callable[[Frames], object]):
    """``build(frames)``, computed once per :func:`check_records` run (every time for a plain dict)."""
    derived = getattr(frames, "derived", None)
    if derived is None:
        return build(frames)
    if name not in derived:
        derived[name] = build(frames)
    return derived[name]


def _fmt(dates: pd.Series) -> pd.Series:
    return pd.to_datetime(dates).dt.strftime("%Y-%m-%d")


def _as_datetime(values: pd.Series) -> pd.Series:
    """``pd.to_datetime(values)``; a column that is datetime64[ns] already is returned as it is (to_datetime would
    still look through its values to decide whether to cache them)."""
    return values if values.dtype == "datetime64[ns]" else pd.to_datetime(values)


def dated_records(frames: Frames) -> pd.DataFrame:
    """Every date of every record in one long frame: patient_id, record, id, _row, field, date."""
    parts = []
    for record, model in RECORD_MODELS.items():
        frame = frames.get(record)
        if frame is None or not len(frame):
            continue
        for name in model.model_fields:
            if field_info(model, name).imputed and name != "birth_date":
                # only the columns used here: a whole-frame row selection copies every column per date field
                keep = [c for c in ("patient_id", "id", "_row", name) if c in frame]
                sub = frame.loc[frame[name].notna().to_numpy(), keep]
                parts.append(pd.DataFrame({
                    "patient_id": sub["patient_id"].astype("object"),
                    "record": record,
                    "id": sub["id"].astype("object") if "id" in sub else sub["patient_id"].astype("object"),
                    "_row": sub["_row"] if "_row" in sub else pd.NA,
                    "field": name,
                    "date": _as_datetime(sub[name]),
                }))  # fmt: skip
    cols = ["patient_id", "record", "id", "_row", "field", "date"]
    return concat_frames(parts) if parts else pd.DataFrame(columns=cols)


def _patient_dates(frames: Frames) -> pd.DataFrame:
    """Per patient: birth date, death date, last known date (last contact or death), first dose."""
    # a patient listed twice is its own query (PT010/PT011); the first row stands for it here
    pts = frames["patient"][["patient_id", "birth_date", "reference_date"]].drop_duplicates("patient_id")
    fu = frames["followup"]
    death = fu.groupby("patient_id")["death_date"].min()
    last = concat_frames(
        [fu[["patient_id", "date"]], fu[["patient_id", "death_date"]].set_axis(["patient_id", "date"], axis=1)]
    )
    last = last.groupby("patient_id")["date"].max()
    first_dose = frames["exposure"].groupby("patient_id")["start"].min()
    out = pts.set_index("patient_id")
    out["death_date"] = death
    out["last_known"] = last
    out["first_dose"] = first_dose
    out["reference"] = out["reference_date"].fillna(out["first_dose"])
    return out


def _ref001(frames: Frames, today) -> pd.DataFrame:
    known = frames["patient"]["patient_id"].unique()
    parts = []
    for rec, f in frames.items():
        if rec != "patient" and len(f):
            bad = f[~f["patient_id"].isin(known)]
            parts.append(_hits(bad, rec, "patient_id", bad["patient_id"], "patient " + bad["patient_id"].astype(str)
                               + " is not in the patient records; add the patient first or correct the id"))  # fmt: skip
    return concat_frames(parts) if parts else listing()


def _pt001(frames: Frames, today) -> pd.DataFrame:
    p = frames["patient"]
    bad = p[(p["birth_date"] > p["diagnosis_date"]).fillna(False).astype(bool)]
    return _hits(bad, "patient", "diagnosis_date", _fmt(bad["diagnosis_date"]),
                 "diagnosis " + _fmt(bad["diagnosis_date"]) + " is before birth " + _fmt(bad["birth_date"])
                 + "; correct the birth or diagnosis date")  # fmt: skip


def _pt002(frames: Frames, today) -> pd.DataFrame:
    p = frames["patient"]
    computed = (p["diagnosis_date"] - p["birth_date"]).dt.days / 365.25
    bad = p[((computed - p["age_at_diagnosis"]).abs() > 1).fillna(False).astype(bool)]
    return _hits(bad, "patient", "age_at_diagnosis", bad["age_at_diagnosis"].astype(str),
                 "age at diagnosis " + bad["age_at_diagnosis"].astype(str) + " years disagrees with birth and "
                 "diagnosis dates (" + computed[bad.index].round(1).astype(str) + " years); correct one of them")  # fmt: skip


def _dates_vs(frames: Frames, column: str, after: bool, records=None, exclude=()) -> pd.DataFrame:
    dates = _shared(frames, "dated_records", dated_records)
    if records is not None:
        dates = dates[dates["record"].isin(records)]
    if exclude:  # a selection of every row would copy the long frame for nothing
        dates = dates[~dates["record"].isin(exclude)]
    limits = _shared(frames, "patient_dates", _patient_dates)[column]
    lim = dates["patient_id"].map(limits)
    bad = (dates["date"] > lim) if after else (dates["date"] < lim)
    return dates[bad.fillna(False).astype(bool)].assign(limit=lim[bad.fillna(False).astype(bool)])


def _dt002(frames: Frames, today) -> pd.DataFrame:
    d = _dates_vs(frames, "birth_date", after=False)
    return _hits(d, "", "", _fmt(d["date"]), d["field"] + " " + _fmt(d["date"]) + " is before birth "
                 + _fmt(d["limit"]) + "; correct the date or the birth date").assign(
        record=d["record"].to_numpy(), field=d["field"].to_numpy(), record_id=d["id"].to_numpy())  # fmt: skip


def _dt003(frames: Frames, today) -> pd.DataFrame:
    d = _dates_vs(frames, "last_known", after=True, exclude=("exposure",))
    d = d[~((d["record"] == "followup") & d["field"].isin(["date", "death_date"]))]
    return _hits(d, "", "", _fmt(d["date"]), d["field"] + " " + _fmt(d["date"]) + " is after the last contact or "
                 "death " + _fmt(d["limit"]) + "; correct the date or add the later follow-up contact").assign(
        record=d["record"].to_numpy(), field=d["field"].to_numpy(), record_id=d["id"].to_numpy())  # fmt: skip


def _dt004(frames: Frames, today) -> pd.DataFrame:
    d = _shared(frames, "dated_records", dated_records)
    d = d[d["date"] > today]
    return _hits(d, "", "", _fmt(d["date"]), d["field"] + " " + _fmt(d["date"]) + " is in the future").assign(
        record=d["record"].to_numpy(), field=d["field"].to_numpy(), record_id=d["id"].to_numpy())  # fmt: skip


def _ex002(frames: Frames, today) -> pd.DataFrame:
    ex = frames["exposure"]
    pd_ = _shared(frames, "patient_dates", _patient_dates)
    death = ex["patient_id"].map(pd_["death_date"])
    last = ex["patient_id"].map(pd_["last_known"])
    after = ((ex["start"] > death) | (ex["end"] > death) | (ex["end"].isna() & death.notna())).fillna(False)
    after_last = ((ex["start"] > last) | (ex["end"] > last)).fillna(False) & ~after
    bad = ex[after.astype(bool)]
    bad2 = ex[after_last.astype(bool)]
    return concat_frames([
        _hits(bad, "exposure", "end", _fmt(bad["end"]).fillna("ongoing"),
              "exposure to " + bad["drug"].astype(str) + " runs past death on " + _fmt(death[bad.index])
              + "; end it on or before the death date"),
        _hits(bad2, "exposure", "end", _fmt(bad2["end"]).fillna(_fmt(bad2["start"])),
              "exposure to " + bad2["drug"].astype(str) + " is dated after the last contact "
              + _fmt(last[bad2.index]) + "; correct it or add the later follow-up contact"),
    ])  # fmt: skip


def _ex003(frames: Frames, today) -> pd.DataFrame:
    ex = frames["exposure"].sort_values(["patient_id", "drug", "start"], kind="stable")
    end = ex["end"].fillna(pd.Timestamp.max)
    prev_end = end.groupby([ex["patient_id"], ex["drug"]]).shift()
    prev_start = ex["start"].groupby([ex["patient_id"], ex["drug"]]).shift()
    bad_mask = (ex["start"] < prev_end).fillna(False).astype(bool)
    bad = ex[bad_mask]
    shown_end = _fmt(prev_end[bad_mask].where(prev_end[bad_mask] < pd.Timestamp.max)).fillna("ongoing")
    return _hits(bad, "exposure", "start", _fmt(bad["start"]),
                 bad["drug"].astype(str) + " interval starting " + _fmt(bad["start"]) + " overlaps the interval "
                 + _fmt(prev_start[bad_mask]) + " to " + shown_end
                 + "; one drug has one dose at a time: end the earlier interval before this one starts")  # fmt: skip


def _mg_m2_day(frames: Frames) -> tuple[pd.DataFrame, pd.Series]:
    ex = frames["exposure"]
    p = frames["patient"].drop_duplicates("patient_id").set_index("patient_id")
    h, w = ex["patient_id"].map(p["height_cm"]), ex["patient_id"].map(p["weight_kg"])
    bsa = compute_bsa_mosteller(h, w)
    return ex, pd.Series(compute_mg_m2_day(ex["dose"], ex["unit"], ex["frequency"], bsa, w), index=ex.index)


def _ex004(frames: Frames, today) -> pd.DataFrame:
    ex, daily = _shared(frames, "mg_m2_day", _mg_m2_day)
    cat = drugs().set_index("drug")
    lo, hi = ex["drug"].map(cat["min_mg_m2_day"]), ex["drug"].map(cat["max_mg_m2_day"])
    bad_mask = ((daily < lo) | (daily > hi)).fillna(False).astype(bool)
    bad = ex[bad_mask]
    return _hits(bad, "exposure", "dose", bad["dose"].astype(str) + " " + bad["unit"].astype(str),
                 bad["drug"].astype(str) + " at " + daily[bad_mask].round(0).astype(str) + " mg/m2/day is outside "
                 "the plausible " + lo[bad_mask].astype(str) + "-" + hi[bad_mask].astype(str)
                 + " mg/m2/day; check dose, unit, frequency and the patient's height and weight")  # fmt: skip


def _ex005(frames: Frames, today) -> pd.DataFrame:
    ex, daily = _shared(frames, "mg_m2_day", _mg_m2_day)
    has_range = ex["drug"].map(drugs().set_index("drug")["max_mg_m2_day"]).notna()
    bad = ex[daily.isna() & ex["unit"].isin(["mg", "mg/kg"]) & ex["frequency"].ne("ONCE") & has_range]
    return _hits(bad, "exposure", "dose", bad["dose"].astype(str) + " " + bad["unit"].astype(str),
                 "cannot check the dose of " + bad["drug"].astype(str) + " per m2: the patient has no height "
                 "and weight; add them to the patient record")  # fmt: skip


def _as001(frames: Frames, today) -> pd.DataFrame:
    a = frames["assessment"]
    ref = a["patient_id"].map(_shared(frames, "patient_dates", _patient_dates)["reference"])
    bad = a[((a["date"] < ref) & ~a["baseline"].fillna(False).astype(bool)).fillna(False).astype(bool)]
    return _hits(bad, "assessment", "date", _fmt(bad["date"]),
                 "assessment " + _fmt(bad["date"]) + " is before the first dose / reference date "
                 + _fmt(ref[bad.index]) + "; mark it baseline=true or correct the date")  # fmt: skip


def _as002(frames: Frames, today) -> pd.DataFrame:
    a = frames["assessment"]
    ref = a["patient_id"].map(_shared(frames, "patient_dates", _patient_dates)["reference"])
    late = ((a["date"] > ref) & a["baseline"].fillna(False).astype(bool)).fillna(False).astype(bool)
    # a new baseline before a new course (a switch or a re-challenge starting within 28 days) is expected
    probe = pd.DataFrame({"patient_id": a["patient_id"].astype("object"), "date": a["date"], "_pos": range(len(a))})
    probe = probe[late.to_numpy()]
    if len(probe):
        starts = derive_course_starts(frames["exposure"]).astype({"patient_id": "object"})
        nearest = pd.merge_asof(probe.sort_values("date"), starts.sort_values("start")[["patient_id", "start"]],
                                left_on="date", right_on="start", by="patient_id", direction="forward")  # fmt: skip
        ok = (nearest["start"] - nearest["date"]).dt.days <= NEW_BASELINE_DAYS
        late.iloc[nearest.loc[ok.fillna(False).astype(bool), "_pos"].to_numpy()] = False
    bad = a[late]
    return _hits(bad, "assessment", "baseline", "true",
                 "baseline assessment " + _fmt(bad["date"]) + " is after the first dose " + _fmt(ref[bad.index])
                 + f" and no new course starts within {NEW_BASELINE_DAYS} days of it; a baseline is taken before "
                 "treatment or before a new course")  # fmt: skip


def _assessment_keys(frames: Frames) -> dict[str, np.ndarray] | None:
    """The assessments' sort and group keys as integers, by position, computed once per run: ``patient`` (codes
    in the ids' sorted order, -1 for a missing id), ``reader`` (codes in the sorted order of the evaluators, a
    missing one as INVESTIGATOR), ``readers`` (how many) and ``date`` (nanoseconds, NaT as the largest). None
    when the dates are not datetime64[ns]."""
    a = frames["assessment"]
    if a["date"].dtype != "datetime64[ns]":
        return None
    patient = pd.factorize(a["patient_id"], sort=True, use_na_sentinel=True)[0]
    reader = pd.factorize(a["evaluator"].astype("object").fillna("INVESTIGATOR"), sort=True)[0]
    date = a["date"].to_numpy().view("int64").copy()
    date[a["date"].isna().to_numpy()] = np.iinfo(np.int64).max  # NaT after every date, as sort_values puts it
    return {"patient": patient, "reader": reader, "readers": int(reader.max(initial=-1)) + 1, "date": date}


def _as003_sequences(frames: Frames) -> tuple[pd.DataFrame, pd.Series]:
    """The assessments with a response ordered by patient and date (a stable sort: ties keep their order), and
    each one's (patient, reader) sequence number. Those without a patient id are left out: no sequence."""
    a = frames["assessment"]
    keys = _shared(frames, "assessment_keys", _assessment_keys)
    if keys is None:
        a = a[a["response"].notna()].sort_values(["patient_id", "date"], kind="stable")
        keys = [a["patient_id"], a["evaluator"].astype("string").fillna("INVESTIGATOR")]
        return a, a.groupby(keys, sort=False).ngroup()
    rows = np.flatnonzero(a["response"].notna().to_numpy() & (keys["patient"] >= 0))
    # np.lexsort is stable: the order of sort_values(["patient_id", "date"], kind="stable") (ids by their codes)
    order = rows[np.lexsort((keys["date"][rows], keys["patient"][rows]))]
    sequence = keys["patient"][order].astype("int64") * keys["readers"] + keys["reader"][order]
    used = [c for c in ("patient_id", "id", "_row", "date", "response") if c in a]  # not a copy of every column
    a = a[used].iloc[order]
    return a, pd.Series(sequence, index=a.index)


def _as003(frames: Frames, today) -> pd.DataFrame:
    # one sequence per reader: an independent PR after an investigator CR is not a contradiction
    a, keys = _as003_sequences(frames)  # the (patient, reader) sequences numbered once for the four passes
    had_cr = a["response"].eq("CR").astype(int).groupby(keys).cumsum()
    had_pd = a["response"].eq("PD").astype(int).groupby(keys).cumsum()
    cr_date = a["date"].where(a["response"].eq("CR")).groupby(keys).ffill()
    pd_date = a["date"].where(a["response"].eq("PD")).groupby(keys).ffill()
    after_cr = (had_cr > 0) & ((had_pd == 0) | (pd_date < cr_date))
    bad = a[(a["response"].eq("PR") & after_cr).fillna(False).astype(bool)]
    return _hits(bad, "assessment", "response", "PR",
                 "PR on " + _fmt(bad["date"]) + " follows CR on " + _fmt(cr_date[bad.index])
                 + " with no PD between; after a CR the tumour can only stay CR or progress: correct one response")  # fmt: skip


def _as004(frames: Frames, today) -> pd.DataFrame:
    a = frames["assessment"]
    if "response_given" not in a:
        return listing()
    bad = a[a["response_given"].notna() & a["response"].isna()]
    return _hits(bad, "assessment", "response", bad["response_given"].astype(str),
                 "the source gave the overall response '" + bad["response_given"].astype(str) + "', which is not a "
                 "RECIST category; it is kept as given and the response left empty: ask the site for CR, PR, SD, "
                 "NON-CR/NON-PD, PD or NE")  # fmt: skip


def _as006(frames: Frames, today) -> pd.DataFrame:
    a = frames["assessment"]
    found = find_sum_contradictions(a, keys=_shared(frames, "assessment_keys", _assessment_keys))
    bad = a.iloc[found["index"].to_numpy(dtype=int)]
    return _hits(bad, "assessment", "", found["value"].to_numpy(), found["message"].to_numpy()).assign(
        field=found["field"].to_numpy())  # fmt: skip


def _ae004(frames: Frames, today) -> pd.DataFrame:
    ae = frames["ae"]
    fu = frames["followup"]
    dead = set(fu.loc[fu["vital_status"].eq("dead") | fu["death_date"].notna(), "patient_id"])
    bad = ae[ae["grade"].eq(5).fillna(False).astype(bool) & ~ae["patient_id"].isin(dead)]
    return _hits(bad, "ae", "grade", "5", "grade 5 (death) " + bad["term"].astype(str) + " but the patient has "
                 "no death recorded; record the death in follow-up or correct the grade")  # fmt: skip


def _ae005(frames: Frames, today) -> pd.DataFrame:
    ae = frames["ae"]
    bad = ae[ae["outcome"].eq("fatal").fillna(False).astype(bool) & ae["grade"].ne(5).fillna(True).astype(bool)]
    return _hits(bad, "ae", "outcome", "fatal", "outcome fatal needs grade 5 (grade given: "
                 + bad["grade"].astype(str) + "); correct the grade or the outcome")  # fmt: skip


def _fu001(frames: Frames, today) -> pd.DataFrame:
    fu = frames["followup"]
    bad = fu[fu["vital_status"].eq("dead").fillna(False).astype(bool) & fu["death_date"].isna()]
    return _hits(bad, "followup", "death_date", "", "vital status dead but no death date; add the death date "
                 "(a partial date such as 2021-05 is accepted)")  # fmt: skip


def _fu002(frames: Frames, today) -> pd.DataFrame:
    fu = frames["followup"]
    bad = fu[fu["vital_status"].eq("alive").fillna(False).astype(bool) & fu["death_date"].notna()]
    return _hits(bad, "followup", "vital_status", "alive", "a death date " + _fmt(bad["death_date"])
                 + " is recorded with vital status alive; set vital_status=dead or remove the death date")  # fmt: skip


def _pt003(frames: Frames, today) -> pd.DataFrame:
    p = frames["patient"]
    bad = p[~p["patient_id"].isin(set(frames["followup"]["patient_id"]))]
    return _hits(bad, "patient", "patient_id", bad["patient_id"].astype(str),
                 "no follow-up contact recorded; add the last contact date with `tkitrack followup add`")  # fmt: skip


EDIT_CHECKS: tuple[EditCheck, ...] = (
    EditCheck("REF001", "error", "*", "every record belongs to a known patient", _ref001),
    EditCheck("PT001", "error", "patient", "diagnosis on or after birth", _pt001),
    EditCheck("PT002", "warning", "patient", "age at diagnosis agrees with the dates", _pt002),
    EditCheck("PT003", "warning", "patient", "a follow-up contact is recorded", _pt003),
    EditCheck("DT002", "error", "*", "no date before birth", _dt002),
    EditCheck("DT003", "error", "*", "no date after the last contact or death", _dt003),
    EditCheck("DT004", "warning", "*", "no date in the future", _dt004),
    EditCheck("EX002", "error", "exposure", "no exposure after death or after the last contact", _ex002),
    EditCheck("EX003", "error", "exposure", "no overlapping intervals of one drug", _ex003),
    EditCheck("EX004", "warning", "exposure", "dose plausible for the drug and body size", _ex004),
    EditCheck("EX005", "warning", "exposure", "height and weight known to check a mg or mg/kg dose", _ex005),
    EditCheck("AS001", "error", "assessment", "assessments after baseline unless flagged baseline", _as001),
    EditCheck("AS002", "warning", "assessment", "a baseline assessment is before the first dose", _as002),
    # a plausibility query, not a block: the source may hold it (pharmaverse does) and the confirmed-response
    # derivation already refuses a PR after a CR; the data manager resolves it with the site
    EditCheck("AS003", "warning", "assessment", "no PR after a CR without PD between", _as003),
    EditCheck("AS004", "warning", "assessment", "the overall response is a RECIST category", _as004),
    # a query, not a block: lymph-node targets may be CR with a sum above 0, and the site may hold the call
    EditCheck("AS006", "warning", "assessment", "the response agrees with RECIST 1.1 arithmetic on the sums", _as006),
    EditCheck("AE004", "error", "ae", "grade 5 only with a recorded death", _ae004),
    EditCheck("AE005", "error", "ae", "outcome fatal only with grade 5", _ae005),
    EditCheck("FU001", "error", "followup", "dead patients have a death date", _fu001),
    EditCheck("FU002", "error", "followup", "a death date goes with vital status dead", _fu002),
)


def _empty_frames(frames: Frames) -> Frames:
    from tkitrack.schemas.frames import column_dtypes

    out = {}
    for record in RECORD_MODELS:
        f = frames.get(record)
        if f is None:
            f = pd.DataFrame({c: pd.Series(dtype=t) for c, t in column_dtypes(record).items()})
        out[record] = f
    return _Shared(out)


def check_records(frames: Frames, *, today: dt.date | None = None, checks=EDIT_CHECKS) -> pd.DataFrame:
    """Run every edit check over typed record frames; return the query listing (all failures, never the first).

    Missing record types count as empty. Rows carrying ``_row`` (their row in an input file) report it.
    """
    frames = _empty_frames(frames)
    # a patient listed twice (re-import; reported as PT010/PT011 by the store) is looked up once
    frames["patient"] = frames["patient"].drop_duplicates("patient_id")
    now = pd.Timestamp(today or dt.date.today())
    parts = []
    for check in checks:
        found = check.find(frames, now)
        if len(found):
            parts.append(found.assign(rule_id=check.rule_id, severity=check.severity))
    if not parts:
        return listing()
    out = concat_frames(parts)[LISTING_COLUMNS]
    out["row"] = pd.to_numeric(out["row"], errors="coerce").astype("Int64")
    return out.reset_index(drop=True)
