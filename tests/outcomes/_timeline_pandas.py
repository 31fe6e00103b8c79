"""The pandas derivation of the timeline as it was before the rows were built in plain Python (commit 66937a0):
the reference the plain-Python rows must equal, row for row, on generated and published cohorts."""

from __future__ import annotations

import pandas as pd

__all__ = ["derive_timeline_pandas"]

TIMELINE_COLUMNS = ["patient_id", "date", "date_given", "day", "kind", "record", "record_id", "detail"]


def _text(series: pd.Series) -> pd.Series:
    return series.astype("string").fillna("")


def _fmt_num(series: pd.Series) -> pd.Series:
    return series.map(lambda v: "" if pd.isna(v) else f"{v:g}").astype("string")


def _rows(frame: pd.DataFrame, record: str, date: str, kind: str | pd.Series, detail: pd.Series) -> pd.DataFrame:
    sub = frame[frame[date].notna()]
    given = f"{date}_dtc"
    return pd.DataFrame({
        "patient_id": sub["patient_id"].astype("string"),
        "date": pd.to_datetime(sub[date]),
        "date_given": _text(sub[given]) if given in sub else pd.Series("", index=sub.index, dtype="string"),
        "kind": kind if isinstance(kind, str) else kind.loc[sub.index],
        "record": record,
        "record_id": sub["id"].astype("string") if "id" in sub and record != "patient" else sub["patient_id"],
        "detail": detail.loc[sub.index].astype("string"),
    })  # fmt: skip


def derive_timeline_pandas(frames: dict[str, pd.DataFrame], patient_id: str | None = None) -> pd.DataFrame:
    """Every dated fact of the given record frames, in date order, with days from diagnosis.

    Parameters
    ----------
    frames : dict of typed record frames (``patient``, ``exposure``, ``ae``, ``assessment``, ``procedure``,
        ``disease_event``, ``followup``, ``molecular``); missing ones count as empty.
    patient_id : keep only this patient.

    Returns
    -------
    DataFrame with ``patient_id, date, date_given, day, kind, record, record_id, detail``; ``day`` counts from the
    diagnosis date (day 0) and is empty without one. Exposure intervals give a ``start`` row and, when ended,
    a ``stop`` row with the reason; open intervals are marked ongoing.
    """
    f = {k: (v if patient_id is None else v[v["patient_id"] == patient_id]) for k, v in frames.items()}
    parts = []
    if "patient" in f and len(f["patient"]):
        p = f["patient"]
        parts.append(_rows(p, "patient", "diagnosis_date", "diagnosis",
                           _text(p["histology"]) + " " + _text(p["primary_site"])))  # fmt: skip
    if "molecular" in f and len(f["molecular"]):
        m = f["molecular"]
        fusion = _text(m["gene_5p"]) + "::" + _text(m["gene_3p"]) + " (" + _text(m["method"]) + ")"
        parts.append(_rows(m, "molecular", "specimen_date", "molecular", fusion))
    if "exposure" in f and len(f["exposure"]):
        ex = f["exposure"]
        dose = _text(ex["drug"]) + " " + _fmt_num(ex["dose"]) + " " + _text(ex["unit"]) + " " + _text(ex["frequency"])
        ongoing = ex["end"].isna()
        parts.append(_rows(ex, "exposure", "start", "start", dose + ongoing.map({True: " (ongoing)", False: ""})))
        parts.append(_rows(ex, "exposure", "end", "stop", dose + " stopped: " + _text(ex["reason"])))
    if "ae" in f and len(f["ae"]):
        ae = f["ae"]
        what = _text(ae["term"]) + " grade " + _fmt_num(ae["grade"].astype("float64"))
        parts.append(_rows(ae, "ae", "start", "AE onset", what + ae["serious"].map({True: " (serious)"}).fillna("")))
        parts.append(_rows(ae, "ae", "end", "AE resolved", what + " " + _text(ae["outcome"])))
    if "assessment" in f and len(f["assessment"]):
        a = f["assessment"]
        resp = a["response"].astype("string").fillna(a["baseline"].map({True: "baseline"}).astype("string")).fillna("")
        size = a["sum_diameters"].map(lambda v: "" if pd.isna(v) else f", sum {v:g} mm")
        parts.append(_rows(a, "assessment", "date", "assessment", _text(a["modality"]) + ": " + resp + size))
    if "procedure" in f and len(f["procedure"]):
        pr = f["procedure"]
        parts.append(_rows(pr, "procedure", "date", _text(pr["kind"]),
                           _text(pr["site"]) + " " + _text(pr["margin"])))  # fmt: skip
    if "disease_event" in f and len(f["disease_event"]):
        ev = f["disease_event"]
        parts.append(_rows(ev, "disease_event", "date", _text(ev["kind"]),
                           _text(ev["site"]) + " (" + _text(ev["confirmed_by"]) + ")"))  # fmt: skip
    if "followup" in f and len(f["followup"]):
        fu = f["followup"]
        parts.append(_rows(fu, "followup", "date", "last contact", _text(fu["vital_status"])))
        parts.append(_rows(fu, "followup", "death_date", "death", _text(fu["death_cause"])))
    parts = [x for x in parts if len(x)]
    if not parts:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["detail"] = out["detail"].str.strip()
    if "patient" in f and len(f["patient"]):
        dx = out["patient_id"].map(f["patient"].set_index("patient_id")["diagnosis_date"])
        out["day"] = (out["date"] - pd.to_datetime(dx)).dt.days.astype("Int64")
    else:
        out["day"] = pd.array([pd.NA] * len(out), dtype="Int64")
    order = {"diagnosis": 0, "molecular": 1, "stop": 2, "start": 3}
    out["_o"] = out["kind"].map(order).fillna(5)
    out = out.sort_values(["patient_id", "date", "_o"], kind="stable").drop(columns="_o")
    return out[TIMELINE_COLUMNS].reset_index(drop=True)
