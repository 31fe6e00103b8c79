"""Records out as SDTMIG 3.4 domains: DM, DS, EX, AE, SS, VS with their SUPP-- (RS, TU, TR: sdtm_out_tumour;
CE, GF, MI, PR: sdtm_out_clinical).

Mapping rules, variable by variable, are in docs/cdisc.md; the labels, types and origins in
``schemas/cdisc/variables.csv``. What SDTM has no variable for goes to SUPP-- (one row per value, IDVAR the
parent's --SEQ), so that :func:`~tkitrack.schemas.sdtm.sdtm_to_records` gives the same records back.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from tkitrack.schemas.dates import as_datetime
from tkitrack.schemas.distinct import per_distinct_text, text_codes
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.frames import column_dtypes
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.sdtm_records import AE_ACTIONS, AE_OUTCOMES_SDTM, AE_RELATIONS, ROUTES_SDTM
from tkitrack.schemas.vocabulary import ctcae, kinase_inhibitors

__all__ = [
    "DISCONTINUATION_DECOD",
    "DISEASE_EVENT_DECOD",
    "EXPOSURE_REASONS",
    "SERIOUS_SDTM",
    "add_seq",
    "derive_study_day",
    "epoch",
    "head",
    "num_text",
    "records_to_sdtm",
    "supp_rows",
    "txt",
    "yn",
]

#: tkitrack AE seriousness criterion -> SDTM variable.
SERIOUS_SDTM = {
    "serious_death": "AESDTH",
    "serious_life_threatening": "AESLIFE",
    "serious_hospitalisation": "AESHOSP",
    "serious_disability": "AESDISAB",
    "serious_congenital_anomaly": "AESCONG",
    "serious_medically_important": "AESMIE",
}
#: exposure.reason -> the text of SUPPEX ENDRSN (and back).
EXPOSURE_REASONS = {
    "toxicity": "TOXICITY",
    "progression": "PROGRESSION",
    "complete_response": "COMPLETE RESPONSE",
    "surgery": "SURGERY",
    "patient_choice": "PATIENT OR FAMILY CHOICE",
    "completed": "COMPLETED",
    "dose_change": "DOSE CHANGE",
    "other": "OTHER",
}
#: exposure.reason of a discontinuation -> DS.DSDECOD (CDISC CT NCOMPLT) of its treatment disposition record.
DISCONTINUATION_DECOD = {
    "toxicity": "ADVERSE EVENT",
    "progression": "PROGRESSIVE DISEASE",
    "complete_response": "PHYSICIAN DECISION",
    "surgery": "PHYSICIAN DECISION",
    "patient_choice": "WITHDRAWAL BY SUBJECT",
    "completed": "COMPLETED",
}
#: disease_event.kind -> CE.CEDECOD (and back).
DISEASE_EVENT_DECOD = {"recurrence": "DISEASE RECURRENCE", "progression": "DISEASE PROGRESSION",
                       "metastasis": "METASTASIS"}  # fmt: skip
_TEXT_MAX = 200  # bytes of a SAS transport character value
#: AE variables of the MedDRA hierarchy that SDTMIG expects but tkitrack cannot fill (MedDRA is licensed): present, empty.
_MEDDRA_NOT_SHIPPED = ("AEPTCD", "AEHLT", "AEHLTCD", "AEHLGT", "AEHLGTCD", "AEBDSYCD", "AESOCCD")
_EPOCHS = ("SCREENING", "TREATMENT", "FOLLOW-UP")


def txt(values: pd.Series | np.ndarray | list) -> np.ndarray:
    """Cells as text (booleans Y/N is the caller's job), missing as ""."""
    series = pd.Series(values)
    if isinstance(series.dtype, pd.StringDtype):  # str or missing: the same in one pass
        return series.to_numpy(dtype=object, na_value="")
    return series.astype("object").where(series.notna(), "").astype(str).to_numpy()


def num_text(values: pd.Series) -> np.ndarray:
    """Numbers as their shortest exact text (6 not 6.0, 0.016), missing as ""."""
    return txt(pd.Series(values).map(lambda v: repr(float(v)).removesuffix(".0"), na_action="ignore"))


def yn(values: pd.Series) -> np.ndarray:
    """Booleans as Y / N; missing as ""."""
    flags = values.astype("boolean")
    known = flags.notna().to_numpy()
    index = np.where(known, flags.to_numpy(dtype=bool, na_value=False), 2)  # 0 N, 1 Y, 2 missing
    return np.array(["N", "Y", ""], dtype=object)[index]


def head(frame: pd.DataFrame, study: str, domain: str) -> dict:
    """The identifier columns every domain starts with."""
    return {"STUDYID": study, "DOMAIN": domain, "USUBJID": txt(frame["patient_id"])}


def add_seq(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Insert --SEQ (1.. per subject, in row order) after USUBJID."""
    frame.insert(3, f"{prefix}SEQ", (frame.groupby("USUBJID", sort=False).cumcount() + 1).astype("int64"))
    return frame


def derive_study_day(dates: pd.Series, patients: pd.Series, rfstdt: pd.Series) -> pd.Series:
    """--DY of complete dates: ``date - RFSTDTC + 1`` on or after the reference start, ``date - RFSTDTC`` before it
    (there is no day 0). A partial date, or a subject without a complete RFSTDTC, gives no study day.

    ``dates`` are ISO 8601 text; ``rfstdt`` is the reference start (datetime64) per patient id.
    """
    found = text_codes(dates)
    if found is None:
        day = _complete_day(dates)
    else:  # each distinct date read once; a missing one (-1) is the None appended last
        codes, distinct = found
        day = pd.Series(_complete_day(pd.Series(np.append(distinct, None))).to_numpy()[codes], index=dates.index)
    ref = as_datetime(pd.Series(patients.to_numpy(), index=dates.index).map(rfstdt))
    diff = (day - ref).dt.days
    return (diff + (diff >= 0).astype("int64")).astype("Int64")


def _complete_day(dates: pd.Series) -> pd.Series:
    text = pd.Series(txt(dates), index=dates.index).str.slice(0, 10)
    return pd.to_datetime(text.where(text.str.len() == 10), format="%Y-%m-%d", errors="coerce")


def epoch(dates: pd.Series, patients: pd.Series, ref: pd.DataFrame) -> np.ndarray:
    """EPOCH of an imputed date: SCREENING before RFSTDTC, TREATMENT up to the last dose (open while ongoing),
    FOLLOW-UP after it; empty for a subject never treated or a missing date."""
    start = as_datetime(pd.Series(patients.to_numpy(), index=dates.index).map(ref["rfst"]))
    end = as_datetime(pd.Series(patients.to_numpy(), index=dates.index).map(ref["rfxen"]))
    when = as_datetime(dates)
    code = np.select([when < start, end.isna() | (when <= end), when > end], range(len(_EPOCHS)), default=len(_EPOCHS))
    code = np.where(when.isna() | start.isna(), len(_EPOCHS), code)
    return np.array([*_EPOCHS, ""], dtype=object)[code]  # one str object per epoch, not one per row


def _split(text: pd.Series) -> list[list[str]]:
    """Each value in pieces of at most 200 UTF-8 bytes (SDTMIG 4.5.3.2 for long text), cut inside a word so that
    no piece starts or ends with a blank, never inside a character: joined, the pieces give the value back."""
    values = list(text)
    out = [[value] for value in values]
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    for i in np.flatnonzero(lengths > _TEXT_MAX // 4).tolist():  # at most 4 UTF-8 bytes a character: the others fit
        out[i] = _pieces(values[i])
    return out


def _pieces(value: str) -> list[str]:
    """:func:`_split` of one value."""
    raw = value.encode("utf-8")
    if len(raw) <= _TEXT_MAX:
        return [value]
    parts, rest = [], raw
    while rest:
        cut = min(_TEXT_MAX, len(rest))
        # between two characters that are not blanks (readers strip the ends of transport values) ...
        while 0 < cut < len(rest) and (chr(rest[cut]).isspace() or chr(rest[cut - 1]).isspace()):
            cut -= 1
        if cut == 0:  # ... unless the piece is blank throughout
            cut = min(_TEXT_MAX, len(rest))
        while cut < len(rest) and (rest[cut] & 0xC0) == 0x80:  # and never inside a UTF-8 character
            cut -= 1
        parts.append(rest[:cut].decode("utf-8"))
        rest = rest[cut:]
    return parts


def supp_rows(parent: pd.DataFrame, domain: str, values: Mapping[str, tuple[str, pd.Series]], *,
              idvar: str | None = None, origin: str = "Collected") -> pd.DataFrame:  # fmt: skip
    """SUPP-- rows of one parent domain: one per non-empty value (QNAM, QLABEL, QVAL), text over 200 bytes
    split into QNAM, QNAM1, QNAM2, ... in order.

    ``parent`` holds USUBJID and, with ``idvar``, the identifying variable (``AESEQ``, ``RSLNKGRP``, ...);
    each value Series is aligned with ``parent``.
    """
    parts = []
    for qnam, (qlabel, series) in values.items():
        cells = pd.Series(txt(series), index=parent.index)
        keep = cells != ""
        if not keep.any():
            continue
        kept = cells[keep].to_numpy()
        sub = parent.loc[keep]
        long = np.flatnonzero(np.fromiter(map(len, kept), dtype=np.int64, count=len(kept)) > _TEXT_MAX // 4)
        reps = np.ones(len(kept), dtype=np.int64)  # pieces of each value: only a value of over 50 characters may
        split = dict(zip(long.tolist(), _split(kept[long]), strict=True))  # take more than 200 bytes
        for i, pieces in split.items():
            reps[i] = len(pieces)
        starts, rows = np.cumsum(reps) - reps, int(reps.sum())
        qnams = np.full(rows, qnam, dtype=object)
        qlabels = np.full(rows, qlabel, dtype=object)
        qvals = np.repeat(kept, reps)
        for i, pieces in split.items():
            for k, piece in enumerate(pieces):
                qvals[starts[i] + k] = piece
                if k:
                    qnams[starts[i] + k], qlabels[starts[i] + k] = f"{qnam}{k}", f"{qlabel[:36]} ({k + 1})"
        parts.append(pd.DataFrame({
            "STUDYID": np.repeat(txt(sub["STUDYID"]), reps), "RDOMAIN": domain,
            "USUBJID": np.repeat(txt(sub["USUBJID"]), reps), "IDVAR": idvar or "",
            "IDVARVAL": np.repeat(txt(sub[idvar]) if idvar else np.full(len(sub), ""), reps),
            "QNAM": qnams, "QLABEL": qlabels, "QVAL": qvals, "QORIG": origin, "QEVAL": "",
        }))  # fmt: skip
    if not parts:
        return pd.DataFrame(columns=["STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM", "QLABEL", "QVAL",
                                     "QORIG", "QEVAL"])  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _first(frame: pd.DataFrame, column: str, by: str, last: bool = False) -> pd.Series:
    """Per patient, ``column`` of the row with the first (or last) ``by`` date."""
    order = frame[list(dict.fromkeys(["patient_id", column, by]))].dropna(subset=[by]).sort_values(by, kind="stable")
    order = order[order[column].notna()]  # as groupby's first()/last(): the first (last) value that is not missing
    picked = order.drop_duplicates("patient_id", keep="last" if last else "first")
    return picked.set_index("patient_id")[column]


def _reference(pt: pd.DataFrame, ex: pd.DataFrame, fu: pd.DataFrame) -> pd.DataFrame:
    """Per patient: RFSTDTC (first dose of the index therapy: the first kinase inhibitor, else the first drug;
    else the reference date), RFXSTDTC / RFXENDTC (first dose and latest recorded end of any drug),
    RFPENDTC (last contact or death), and their imputed dates; ``rfxen`` (the end of the treatment epoch) is
    empty while an interval is open."""
    ids = pt["patient_id"]
    index = ex[ex["drug"].isin(kinase_inhibitors())]
    ref = pd.DataFrame(index=pd.Index(ids, name="patient_id"))
    rfstdtc = ids.map(_first(index, "start_dtc", "start")).fillna(ids.map(_first(ex, "start_dtc", "start")))
    ref["rfstdtc"] = rfstdtc.fillna(pt["reference_date_dtc"]).to_numpy()
    first = index.groupby("patient_id")["start"].min().combine_first(ex.groupby("patient_id")["start"].min())
    ref["rfst"] = ids.map(first).fillna(pt["reference_date"]).to_numpy()
    ref["rfxstdtc"] = ids.map(_first(ex, "start_dtc", "start")).to_numpy()
    ongoing = ex.loc[ex["end"].isna() & ex["start"].notna(), "patient_id"]
    ref["rfxendtc"] = ids.map(_first(ex, "end_dtc", "end", last=True)).to_numpy()
    ref["rfxen"] = ids.map(ex.groupby("patient_id")["end"].max()).where(~ids.isin(ongoing)).to_numpy()
    deaths = fu[["patient_id", "death_date_dtc", "death_date"]].set_axis(["patient_id", "date_dtc", "date"], axis=1)
    contacts = pd.concat([fu[["patient_id", "date_dtc", "date"]], deaths])
    ref["rfpendtc"] = ids.map(_first(contacts, "date_dtc", "date", last=True)).to_numpy()
    complete = pd.Series(ref["rfstdtc"].to_numpy()).astype("string").str.len().eq(10).fillna(False).to_numpy()
    ref["rfst_complete"] = pd.to_datetime(ref["rfst"]).where(complete)
    return ref


def _age(pt: pd.DataFrame, ref: pd.DataFrame) -> pd.Series:
    """Age in whole years at RFSTDTC; from a partial birth date only where both imputations give the same age."""
    from tkitrack.schemas.dates import read_partial_dates

    _, early, _ = read_partial_dates(pt["birth_date_dtc"].astype("string"), "first")
    _, late, _ = read_partial_dates(pt["birth_date_dtc"].astype("string"), "last")
    at = pd.to_datetime(pt["patient_id"].map(ref["rfst"]))

    def years(born: pd.Series) -> pd.Series:
        before = (at.dt.month < born.dt.month) | ((at.dt.month == born.dt.month) & (at.dt.day < born.dt.day))
        return (at.dt.year - born.dt.year - before.astype("int64")).astype("Int64")

    young, old = years(late), years(early)
    return young.where(young == old)


def _arm_code(arm: pd.Series) -> pd.Series:
    def code(names: pd.Series) -> pd.Series:
        return names.str.upper().str.replace(r"[^A-Z0-9]+", "_", regex=True).str.strip("_").str.slice(0, 20)

    return per_distinct_text(arm.astype("string"), code)  # a few arms, each coded once


def _dm(pt: pd.DataFrame, ex: pd.DataFrame, fu: pd.DataFrame, ref: pd.DataFrame, study: str) -> pd.DataFrame:
    ids = pt["patient_id"]
    index = ex[ex["drug"].isin(kinase_inhibitors())]
    actual = ids.map(_first(index, "drug", "start")).fillna(ids.map(_first(ex, "drug", "start")))
    actual = actual.astype("string").str.upper()  # all missing when nobody was treated
    arm = pt["arm"].astype("string").fillna(actual)  # no planned arm (a case series): the index therapy received
    deaths = _first(fu, "death_date_dtc", "death_date")
    dead = ids.map(deaths).notna() | ids.isin(fu.loc[fu["vital_status"] == "dead", "patient_id"])
    nrs = np.where(arm.isna(), "NOT ASSIGNED", np.where(actual.isna(), "ASSIGNED, NOT TREATED", ""))
    age = _age(pt, ref)
    return pd.DataFrame({
        **head(pt, study, "DM"), "SUBJID": txt(ids), "RFSTDTC": txt(ref["rfstdtc"]), "RFENDTC": txt(ref["rfpendtc"]),
        "RFXSTDTC": txt(ref["rfxstdtc"]), "RFXENDTC": txt(ref["rfxendtc"]), "RFICDTC": "",
        "RFPENDTC": txt(ref["rfpendtc"]), "DTHDTC": txt(ids.map(deaths)), "DTHFL": np.where(dead, "Y", ""),
        "SITEID": txt(pt["site"]), "BRTHDTC": txt(pt["birth_date_dtc"]), "AGE": age.array,
        "AGEU": np.where(age.notna(), "YEARS", ""), "SEX": txt(pt["sex"]), "RACE": txt(pt["race"]),
        "ETHNIC": txt(pt["ethnicity"]), "ARMCD": txt(_arm_code(arm)), "ARM": txt(arm), "ACTARMCD": txt(_arm_code(actual)),
        "ACTARM": txt(actual), "ARMNRS": nrs, "ACTARMUD": "", "COUNTRY": txt(pt["country"]),
    })  # fmt: skip


def _ds(pt: pd.DataFrame, ex: pd.DataFrame, fu: pd.DataFrame, ref: pd.DataFrame, study: str) -> pd.DataFrame:
    rand = pt[pt["reference_date_dtc"].notna()]
    died = fu[fu["death_date_dtc"].notna()].drop_duplicates("patient_id")
    stops = ex[ex["discontinued"].fillna(False).astype(bool)]
    stop_term = (stops["drug"].str.upper() + " DISCONTINUED" +
                 stops["reason"].map(EXPOSURE_REASONS).map(lambda r: f": {r}", na_action="ignore").fillna(""))  # fmt: skip
    parts = [
        (rand, pd.DataFrame({**head(rand, study, "DS"), "DSTERM": "RANDOMIZED", "DSDECOD": "RANDOMIZED",
                             "DSCAT": "PROTOCOL MILESTONE", "DSSCAT": "", "DSSTDTC": txt(rand["reference_date_dtc"])}),
         rand["reference_date"]),
        (stops, pd.DataFrame({**head(stops, study, "DS"), "DSTERM": txt(stop_term),
                              "DSDECOD": txt(stops["reason"].map(DISCONTINUATION_DECOD).fillna("OTHER")),
                              "DSCAT": "DISPOSITION EVENT", "DSSCAT": "STUDY TREATMENT", "DSSTDTC": txt(stops["end_dtc"])}),
         stops["end"]),
        (died, pd.DataFrame({**head(died, study, "DS"), "DSTERM": np.where(txt(died["death_cause"]) != "",
                                                                           txt(died["death_cause"]), "DEATH"),
                             "DSDECOD": "DEATH", "DSCAT": "DISPOSITION EVENT", "DSSCAT": "",
                             "DSSTDTC": txt(died["death_date_dtc"])}), died["death_date"]),
    ]  # fmt: skip
    frames = [f.assign(_when=d.to_numpy()) for _, f, d in parts]
    ds = pd.concat(frames, ignore_index=True).sort_values(["USUBJID", "_when"], kind="stable").reset_index(drop=True)
    ds["DSTERM"] = [p[0] for p in _split(ds["DSTERM"])]  # a long cause of death: whole in SUPPSS DTHCAUS
    ds["EPOCH"] = epoch(ds["_when"], ds["USUBJID"], ref)
    ds["DSSTDY"] = derive_study_day(ds["DSSTDTC"], ds["USUBJID"], ref["rfst_complete"]).array
    return add_seq(ds.drop(columns="_when"), "DS")


def _ex(ex: pd.DataFrame, ref: pd.DataFrame, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    ex = ex.sort_values(["patient_id", "start", "id"], kind="stable")
    out = pd.DataFrame({
        **head(ex, study, "EX"), "EXTRT": np.char.upper(txt(ex["drug"]).astype(str)), "EXDOSE": ex["dose"].to_numpy(),
        "EXDOSU": txt(ex["unit"]), "EXDOSFRM": np.char.upper(txt(ex["formulation"]).astype(str)),
        "EXDOSFRQ": txt(ex["frequency"]), "EXROUTE": txt(ex["route"].map(_invert(ROUTES_SDTM)).fillna(ex["route"])),
        "EPOCH": epoch(ex["start"], ex["patient_id"], ref), "EXSTDTC": txt(ex["start_dtc"]),
        "EXENDTC": txt(ex["end_dtc"]),
    })  # fmt: skip
    out["EXSTDY"] = derive_study_day(out["EXSTDTC"], out["USUBJID"], ref["rfst_complete"]).array
    out["EXENDY"] = derive_study_day(out["EXENDTC"], out["USUBJID"], ref["rfst_complete"]).array
    out = add_seq(out, "EX")
    supp = supp_rows(out, "EX", {
        "DISCFL": ("Discontinued at End of Interval", pd.Series(yn(ex["discontinued"].fillna(False)), index=out.index)),
        "ENDRSN": ("Reason the Interval Ended", pd.Series(txt(ex["reason"].map(EXPOSURE_REASONS)), index=out.index)),
        **_record_supp(ex, out.index),
    }, idvar="EXSEQ")  # fmt: skip
    return out, supp


def _record_supp(frame: pd.DataFrame, index: pd.Index) -> dict[str, tuple[str, pd.Series]]:
    """The free-text note and the constructed-date list every record has."""
    return {
        "CONSTDT": ("Dates Built from Intervals", pd.Series(txt(frame["constructed_dates"]), index=index)),
        "NOTE": ("Free-Text Note", pd.Series(txt(frame["note"]), index=index)),
    }


#: AE's row order (and ``ae_dates_only``'s): by patient, onset, record id.
_AE_ORDER = ["patient_id", "start", "id"]


def _ae(
    ae: pd.DataFrame, ref: pd.DataFrame, study: str, *, supp: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    ae = ae.sort_values(_AE_ORDER, kind="stable")
    soc = ae["term"].map(ctcae().drop_duplicates("term").set_index("term")["meddra_soc"])
    coded = ~ae["verbatim"].fillna(False).astype(bool)
    out = pd.DataFrame({
        **head(ae, study, "AE"), "AETERM": txt(ae["term"]), "AELLT": txt(ae["term"].where(coded)),
        "AELLTCD": txt(ae["term_code"].where(coded)), "AEDECOD": txt(ae["term"].where(coded)),
        "AEBODSYS": txt(soc.where(coded)), "AESOC": txt(soc.where(coded)),
        **dict.fromkeys(_MEDDRA_NOT_SHIPPED, ""), "AESER": yn(ae["serious"].fillna(False)),
        "AEACN": txt(ae["action"].map(_invert(AE_ACTIONS))), "AEREL": txt(ae["attribution"].map(_invert(AE_RELATIONS))),
        "AEOUT": txt(ae["outcome"].map(_invert(AE_OUTCOMES_SDTM))),
        **{sdtm: yn(ae[field]) for field, sdtm in SERIOUS_SDTM.items()},
        "AETOXGR": txt(ae["grade"].astype("Int64").astype("string")), "EPOCH": epoch(ae["start"], ae["patient_id"], ref),
        "AESTDTC": txt(ae["start_dtc"]), "AEENDTC": txt(ae["end_dtc"]),
    })  # fmt: skip
    out["AESTDY"] = derive_study_day(out["AESTDTC"], out["USUBJID"], ref["rfst_complete"]).array
    out["AEENDY"] = derive_study_day(out["AEENDTC"], out["USUBJID"], ref["rfst_complete"]).array
    out = add_seq(out, "AE")
    pieces = _split(pd.Series(out["AETERM"]))
    out["AETERM"] = [p[0] for p in pieces]
    if not supp:
        return out, None
    supp_ae = supp_rows(out, "AE", {
        "AETERM1": ("Reported Term (continued)", pd.Series(["".join(p[1:]) for p in pieces], index=out.index)),
        "AETRTREL": ("Drug the Event is Attributed to", pd.Series(txt(ae["attributed_drug"].str.upper()), index=out.index)),
        **_record_supp(ae, out.index),
    }, idvar="AESEQ")  # fmt: skip
    return out, supp_ae


def _ae_dates(ae: pd.DataFrame, study: str) -> pd.DataFrame:
    """AE's identifier and date columns alone, in :func:`_ae`'s row order (``records_to_sdtm(ae_dates_only=True)``)."""
    ae = ae.sort_values(_AE_ORDER, kind="stable")
    return pd.DataFrame({**head(ae, study, "AE"), "AESTDTC": txt(ae["start_dtc"]), "AEENDTC": txt(ae["end_dtc"])})


def _ss(fu: pd.DataFrame, ref: pd.DataFrame, study: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    fu = fu.sort_values(["patient_id", "date", "id"], kind="stable")
    status = fu["vital_status"].str.upper()
    out = pd.DataFrame({
        **head(fu, study, "SS"), "SSTESTCD": "SURVSTAT", "SSTEST": "Survival Status", "SSORRES": txt(status),
        "SSSTRESC": txt(status), "VISITNUM": np.nan, "EPOCH": epoch(fu["date"], fu["patient_id"], ref),
        "SSDTC": txt(fu["date_dtc"]),
    })  # fmt: skip
    out["SSDY"] = derive_study_day(out["SSDTC"], out["USUBJID"], ref["rfst_complete"]).array
    out = add_seq(out, "SS")
    supp = supp_rows(out, "SS", {
        "DISSTAT": ("Disease Status at Contact", pd.Series(txt(fu["disease_status"]), index=out.index)),
        "DTHCAUS": ("Cause of Death", pd.Series(txt(fu["death_cause"]), index=out.index)),
        **_record_supp(fu, out.index),
    }, idvar="SSSEQ")  # fmt: skip
    return out, supp


def _vs(pt: pd.DataFrame, ref: pd.DataFrame, study: str) -> pd.DataFrame:
    parts = []
    for test, label, unit, value, date in (("HEIGHT", "Height", "cm", "height_cm", "height_date"),
                                           ("WEIGHT", "Weight", "kg", "weight_kg", "weight_date")):  # fmt: skip
        sub = pt[pt[value].notna()]
        shown = num_text(sub[value])
        parts.append(pd.DataFrame({
            **head(sub, study, "VS"), "VSTESTCD": test, "VSTEST": label, "VSORRES": shown, "VSORRESU": unit,
            "VSSTRESC": shown, "VSSTRESN": sub[value].to_numpy(), "VSSTRESU": unit, "VISITNUM": np.nan,
            "EPOCH": epoch(sub[date], sub["patient_id"], ref), "VSDTC": txt(sub[f"{date}_dtc"]),
        }))  # fmt: skip
    vs = pd.concat(parts, ignore_index=True).sort_values("USUBJID", kind="stable").reset_index(drop=True)
    vs["VSDY"] = derive_study_day(vs["VSDTC"], vs["USUBJID"], ref["rfst_complete"]).array
    return add_seq(vs, "VS")


def _invert(table: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        out.setdefault(value, key)
    return out


def _without_free_text(record: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its narrative free-text fields (notes, procedure details, cause of death) emptied.

    Narrative: FieldInfo.free_text with room for sentences (512 characters or more). Shorter free text (site,
    formulation, AE term, ...) stays: the de-identified records export (schemas.deidentify) handles all of it.
    """
    from tkitrack.schemas.fields import field_info

    model = RECORD_MODELS[record]
    free = [c for c in frame.columns if c in model.model_fields and field_info(model, c).free_text
            and (field_info(model, c).max_length or 0) >= 512]  # fmt: skip
    return frame.assign(**{c: pd.Series(pd.NA, index=frame.index, dtype=frame[c].dtype) for c in free})


def _typed(frames: Mapping[str, pd.DataFrame], record: str) -> pd.DataFrame:
    """The record's typed frame, or an empty one with its columns when it was not given."""
    if record in frames:
        return frames[record]
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in column_dtypes(record).items()})


def records_to_sdtm(
    frames: Mapping[str, pd.DataFrame],
    *,
    study: str = "TKITRACK",
    free_text: bool = True,
    domains: Collection[str] | None = None,
    rs_first_rows: bool = False,
    ae_dates_only: bool = False,
) -> dict[str, pd.DataFrame]:
    """SDTMIG 3.4 domains from typed record frames (:func:`~tkitrack.schemas.store.read_frames`).

    Parameters
    ----------
    frames : mapping of str to DataFrame
        Typed frames: ``patient`` required; every other record type (``exposure``, ``ae``, ``assessment``,
        ``followup``, ``molecular``, ``ihc``, ``procedure``, ``disease_event``) used when given.
    study : str
        STUDYID of every row.
    free_text : bool
        False leaves out every free-text field (the notes in SUPP-- NOTE, the cause of death in SUPPSS DTHCAUS
        and DSTERM, which becomes DEATH): free text may name people, so a download for users who may not see
        identifiers should not carry it.
    domains : collection of str, optional
        Only these datasets (names as returned, ``SUPP--`` included; DM is always built), each the same as in the
        full set: for a caller that reads a few (the ADaM derivation). None builds every one.
    rs_first_rows : bool
        RS holds only the first row of each assessment: its overall response (OVRLRESP) when it has one, else
        the first of its other tests; every cell, RSSEQ included, is that of the whole RS. What the ADaM
        derivation reads (the overall responses, and each assessment's date and criteria) at a third of the
        rows; not for an SDTM export. Only with ``domains`` that leave out TU, TR and SUPPRS/SUPPTR.
    ae_dates_only : bool
        AE holds only its identifiers (STUDYID, DOMAIN, USUBJID) and dates (AESTDTC, AEENDTC), every event in
        AE's order, each cell that of the whole AE: what the ADaM derivation reads of it (the last date a
        patient is known alive), without coding, grading and flagging every event; not for an SDTM export. Only
        with ``domains`` that leave out SUPPAE.

    Returns
    -------
    dict
        ``DM, DS, EX, AE, RS, TU, TR, SS, VS`` (always, possibly empty), ``CE`` (disease events), ``GF``
        (molecular findings), ``MI`` (IHC), ``PR`` (procedures) and the ``SUPP--`` of each where they have rows.
        Dates are the partial ISO 8601 text as given; --DY from complete dates and RFSTDTC; EPOCH from the
        imputed dates. Direct identifiers (MRN, initials) are never exported.
    """
    from tkitrack.schemas.sdtm_out_tumour import rs_tu_tr

    if "patient" not in frames:
        raise InputError("records_to_sdtm needs the patient frame; read it with read_frames(session)")
    if not str(study).strip():
        raise InputError("the study identifier (STUDYID) is empty; give one, e.g. --study-id IMT-REGISTRY")
    typed = {r: _typed(frames, r) for r in RECORD_MODELS}
    if not free_text:
        typed = {r: _without_free_text(r, f) for r, f in typed.items()}
    wanted = None if domains is None else {str(d).upper() for d in domains} | {"DM"}

    def want(*names: str) -> bool:
        return wanted is None or any(n in wanted for n in names)

    pt, ex, ae, a, fu = (typed[r] for r in ("patient", "exposure", "ae", "assessment", "followup"))
    ref = _reference(pt, ex, fu)
    dm = _dm(pt, ex, fu, ref, study)
    out: dict[str, pd.DataFrame] = {"DM": dm}
    supps: dict[str, pd.DataFrame] = {}
    if want("SUPPDM"):
        supps["SUPPDM"] = _supp_dm(pt, dm)
    if want("DS"):
        out["DS"] = _ds(pt, ex, fu, ref, study)
    if want("EX", "SUPPEX"):
        out["EX"], supps["SUPPEX"] = _ex(ex, ref, study)
    if ae_dates_only and want("SUPPAE"):
        raise InputError("ae_dates_only leaves out the AE columns SUPPAE refers to; ask for it without it")
    if ae_dates_only and want("AE"):
        out["AE"] = _ae_dates(ae, study)
    elif want("AE", "SUPPAE"):
        out["AE"], supp_ae = _ae(ae, ref, study, supp=want("SUPPAE"))
        if supp_ae is not None:
            supps["SUPPAE"] = supp_ae
    rs_only = not want("TU", "TR", "SUPPRS", "SUPPTR")
    if rs_first_rows and not rs_only:
        raise InputError("rs_first_rows leaves out RS rows that TU, TR and SUPPRS/SUPPTR refer to; "
                         "ask for them without it")  # fmt: skip
    if want("RS", "TU", "TR", "SUPPRS", "SUPPTR"):
        rs, tu, tr, supp_rs, supp_tr = rs_tu_tr(a, pt, ref, study, rs_only=rs_only, rs_first_rows=rs_first_rows)
        out |= {"RS": rs} if tu is None else {"RS": rs, "TU": tu, "TR": tr}
        supps |= {} if supp_rs is None else {"SUPPRS": supp_rs, "SUPPTR": supp_tr}
    if want("SS", "SUPPSS"):
        out["SS"], supps["SUPPSS"] = _ss(fu, ref, study)
    if want("VS"):
        out["VS"] = _vs(pt, ref, study)
    for domain, (record, build) in _clinical_domains().items():
        if len(typed[record]) and want(domain, f"SUPP{domain}"):  # only with rows (a dataset without rows cannot
            out[domain], supps[f"SUPP{domain}"] = build(typed[record], ref, study)  # be read back from .xpt)
    order = ["DM", "DS", "EX", "AE", "RS", "TU", "TR", "SS", "VS", *_clinical_domains()]
    order += [f"SUPP{d}" for d in ("DM", "EX", "AE", "RS", "TR", "SS", *_clinical_domains())]
    every = {name: out[name] for name in order if name in out} | {
        name: supps[name] for name in order if name in supps and len(supps[name])}  # fmt: skip
    return every if wanted is None else {name: frame for name, frame in every.items() if name in wanted}


def _supp_dm(pt: pd.DataFrame, dm: pd.DataFrame) -> pd.DataFrame:
    return supp_rows(dm, "DM", {
        "AGEDIAG": ("Age at Diagnosis (Years)", pd.Series(num_text(pt["age_at_diagnosis"]), index=dm.index)),
        "DIAGDTC": ("Date of Diagnosis", pd.Series(txt(pt["diagnosis_date_dtc"]), index=dm.index)),
        "HISTOL": ("Histology", pd.Series(txt(pt["histology"]), index=dm.index)),
        "PRIMSITE": ("Primary Tumour Site", pd.Series(txt(pt["primary_site"]), index=dm.index)),
        "FNCLCCGR": ("FNCLCC Grade", pd.Series(txt(pt["fnclcc_grade"]), index=dm.index)),
        "ARMFRTRT": ("Arm Taken from the Treatment Received",
                     pd.Series(np.where(pt["arm"].isna() & (dm["ARM"] != "").to_numpy(), "Y", ""), index=dm.index)),
        **_record_supp(pt, dm.index),
    })  # fmt: skip


def _clinical_domains() -> dict:
    from tkitrack.schemas import sdtm_out_clinical as c

    return {"CE": ("disease_event", c.ce), "GF": ("molecular", c.gf), "MI": ("ihc", c.mi), "PR": ("procedure", c.pr)}
