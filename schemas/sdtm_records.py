"""SDTM domains (DM, DS, EX, AE, RS, TR, TU, SS, VS, CE, GF, MI, PR and SUPP--) mapped to tkitrack template text frames for ``add_records``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from tkitrack.schemas.errors import InputError
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.sdtm_qualifiers import followups_from_ss, sizes_from_vs, supp_values
from tkitrack.schemas.sdtm_tumour import assessments_from_sdtm, impute_text, text
from tkitrack.schemas.vocabulary import ctcae, ctcae_grades

__all__ = [
    "AE_ACTIONS",
    "AE_OUTCOMES_SDTM",
    "AE_RELATIONS",
    "ROUTES_SDTM",
    "SEVERITY_GRADES",
    "ctcae_key",
    "infer_discontinued",
    "sdtm_to_records",
]

#: AESEV -> CTCAE grade, used only when AETOXGR is absent or blank (the note of each such AE says so).
SEVERITY_GRADES: dict[str, int] = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}
#: AEACN (CDISC CT "Action Taken with Study Treatment") -> tkitrack action.
AE_ACTIONS = {
    "DOSE NOT CHANGED": "none",
    "DOSE REDUCED": "dose_reduced",
    "DRUG INTERRUPTED": "interrupted",
    "DRUG WITHDRAWN": "withdrawn",
    "NOT APPLICABLE": "not_applicable",
}
#: AEOUT (CDISC CT "Outcome of Event") -> tkitrack outcome.
AE_OUTCOMES_SDTM = {
    "RECOVERED/RESOLVED": "recovered",
    "RECOVERING/RESOLVING": "recovering",
    "NOT RECOVERED/NOT RESOLVED": "not_recovered",
    "RECOVERED/RESOLVED WITH SEQUELAE": "recovered_with_sequelae",
    "FATAL": "fatal",
    "UNKNOWN": "unknown",
}
#: AEREL (sponsor-defined) -> tkitrack attribution; values not listed leave attribution empty (noted).
AE_RELATIONS = {
    "NOT RELATED": "unrelated",
    "NONE": "unrelated",
    "UNRELATED": "unrelated",
    "REMOTE": "unlikely",
    "UNLIKELY": "unlikely",
    "UNLIKELY RELATED": "unlikely",
    "POSSIBLE": "possible",
    "POSSIBLY RELATED": "possible",
    "PROBABLE": "probable",
    "PROBABLY RELATED": "probable",
    "DEFINITE": "definite",
    "DEFINITELY RELATED": "definite",
}
#: EXROUTE (CDISC CT "Route of Administration") -> tkitrack route.
ROUTES_SDTM = {"ORAL": "ORAL", "INTRAVENOUS": "IV", "SUBCUTANEOUS": "SC", "INTRAMUSCULAR": "IM"}


def ctcae_key(terms: pd.Series) -> pd.Series:
    """Match key of an AE term: upper case, British MedDRA spellings folded to CTCAE's US ones.

    ``DIARRHOEA`` and ``Diarrhea`` give the same key (oe -> e, ae -> e, -ised -> -ized); no two CTCAE v5.0
    terms share a key.
    """
    key = text(terms).str.upper()
    for old, new in (("OE", "E"), ("AE", "E"), ("ISED", "IZED"), ("ISATION", "IZATION")):
        key = key.str.replace(old, new, regex=False)
    return key


def _frame(record: str, columns: dict[str, pd.Series | str], index: pd.Index) -> pd.DataFrame:
    """A template text frame: every template column, blanks as empty text."""
    out = pd.DataFrame(index=index)
    for name in input_columns(record):
        value = columns.get(name, "")
        out[name] = text(value) if isinstance(value, pd.Series) else value
    return out.reset_index(drop=True)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return text(frame[name]) if name in frame.columns else pd.Series("", index=frame.index)


def _mapped(values: pd.Series, table: Mapping[str, str], label: str) -> tuple[pd.Series, pd.Series]:
    """Map controlled SDTM values; unmapped non-blank values give an empty cell and a note naming them."""
    upper = values.str.upper()
    out = upper.map(table).fillna("")
    unmapped = (upper != "") & (out == "")
    note = pd.Series("", index=values.index).mask(unmapped, label + " '" + values + "' has no tkitrack equivalent")
    return out, note


def _join_notes(*parts: pd.Series) -> pd.Series:
    """Join note fragments row by row with "; ", skipping empty ones."""
    out = parts[0]
    for part in parts[1:]:
        out = out.where(part == "", out.where(out == "", out + "; ") + part)
    return out


def _require(sdtm: Mapping[str, pd.DataFrame], domain: str, columns: Iterable[str]) -> pd.DataFrame | None:
    frame = sdtm.get(domain)
    if frame is None:
        return None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"SDTM {domain} has no column {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}. "
            f"Add the column (SDTMIG names) or leave the {domain} file out"
        )
    return frame


def _patients(dm: pd.DataFrame, ds: pd.DataFrame | None, sdtm: Mapping[str, pd.DataFrame], exact: bool) -> pd.DataFrame:
    study = _column(dm, "STUDYID").replace("", "an unnamed study")
    ref = pd.Series(dtype=object)
    if ds is not None:
        rand = ds[text(ds["DSDECOD"]).str.upper() == "RANDOMIZED"]
        ref = text(rand["DSSTDTC"]).groupby(text(rand["USUBJID"])).min()
    ids = text(dm["USUBJID"])
    age = _column(dm, "AGE")
    sex = _column(dm, "SEX").str.upper().replace({"UNDIFFERENTIATED": "U", "UNKNOWN": "U"})
    supp = supp_values(sdtm, "DM", dm, ["AGEDIAG", "DIAGDTC", "HISTOL", "PRIMSITE", "FNCLCCGR", "ARMFRTRT", "NOTE",
                                        "CONSTDT"])  # fmt: skip
    note = "imported from SDTM study " + study + " (DM); histology is not in SDTM, so it is OTHER"
    note = note.mask(age != "", note + "; DM.AGE " + age + " " + _column(dm, "AGEU").str.lower()
                     + " is the age at the reference start, not at diagnosis, so age_at_diagnosis is empty")  # fmt: skip
    note = note.mask(supp["HISTOL"] != "", "imported from SDTM study " + study + " (DM, SUPPDM)")
    histology = supp["HISTOL"] if exact else supp["HISTOL"].mask(supp["HISTOL"] == "", "OTHER")
    cols = {
        "patient_id": ids,
        "site": _column(dm, "SITEID"),
        "sex": sex,
        "race": _column(dm, "RACE").str.upper(),
        "ethnicity": _column(dm, "ETHNIC").str.upper(),
        "country": _column(dm, "COUNTRY").str.upper(),
        "arm": _column(dm, "ARM").where(supp["ARMFRTRT"] != "Y", ""),
        "birth_date": _column(dm, "BRTHDTC"),
        "age_at_diagnosis": supp["AGEDIAG"],
        "diagnosis_date": supp["DIAGDTC"],
        "reference_date": ids.map(ref),
        "histology": histology,
        "primary_site": supp["PRIMSITE"],
        "fnclcc_grade": supp["FNCLCCGR"],
        **sizes_from_vs(sdtm.get("VS"), ids),
        "note": supp["NOTE"] if exact else _join_notes(note, supp["NOTE"]),
        "constructed_dates": supp["CONSTDT"],
    }
    return _frame("patient", cols, dm.index)


def _exposures(ex: pd.DataFrame, sdtm: Mapping[str, pd.DataFrame], exact: bool) -> pd.DataFrame:
    from tkitrack.schemas.sdtm_out import EXPOSURE_REASONS

    route, route_note = _mapped(_column(ex, "EXROUTE"), {**ROUTES_SDTM, **{r: r for r in ("TOPICAL", "TRANSDERMAL")}},
                                "EXROUTE")  # fmt: skip
    cols = {
        "patient_id": text(ex["USUBJID"]),
        "drug": text(ex["EXTRT"]).str.lower(),
        "dose": _column(ex, "EXDOSE"),
        "unit": _column(ex, "EXDOSU").str.lower(),
        "frequency": _column(ex, "EXDOSFRQ").str.upper(),
        "route": route,
        "formulation": _column(ex, "EXDOSFRM").str.lower(),
        "start": _column(ex, "EXSTDTC"),
        "end": _column(ex, "EXENDTC"),
        "note": route_note,
    }
    supp = supp_values(sdtm, "EX", ex, ["DISCFL", "ENDRSN", "NOTE", "CONSTDT"], idvar="EXSEQ")
    inferred = infer_discontinued(cols["patient_id"], cols["drug"], cols["start"], cols["end"])
    flagged = supp["DISCFL"].str.upper().map({"Y": "true", "N": "false"})
    cols["discontinued"] = flagged.fillna(inferred)  # SUPPEX DISCFL where given, else the last ended record
    cols["reason"] = supp["ENDRSN"].str.upper().map({v: k for k, v in EXPOSURE_REASONS.items()}).fillna("")
    cols["note"] = supp["NOTE"] if exact else _join_notes(route_note, supp["NOTE"])
    cols["constructed_dates"] = supp["CONSTDT"]
    return _frame("exposure", cols, ex.index)


def infer_discontinued(patient: pd.Series, drug: pd.Series, start: pd.Series, end: pd.Series) -> pd.Series:
    """SDTM EX has no discontinuation flag: the last EX record of a drug with an end date is taken as the
    discontinuation; earlier ends are holds or dose changes (a gap before the next record of the drug)."""
    when = impute_text(start, "first")
    order = pd.DataFrame({"p": patient, "d": drug, "w": when}).sort_values(["p", "d", "w"], kind="stable")
    last = ~order.duplicated(["p", "d"], keep="last")
    is_last = last.reindex(patient.index)
    return (is_last & (end.fillna("") != "")).map({True: "true", False: "false"})


def _adverse_events(
    ae: pd.DataFrame,
    ex: pd.DataFrame | None,
    severity: Mapping[str, int],
    sdtm: Mapping[str, pd.DataFrame],
    exact: bool,
) -> pd.DataFrame:
    from tkitrack.schemas.sdtm_out import SERIOUS_SDTM

    supp = supp_values(sdtm, "AE", ae, ["AETERM1", "AETRTREL", "NOTE", "CONSTDT"], idvar="AESEQ")
    uncoded = (_column(ae, "AEDECOD") == "") & exact  # tkitrack leaves AEDECOD empty for a verbatim term
    decod = _column(ae, "AEDECOD").mask(lambda s: s == "", _column(ae, "AETERM"))
    table = ctcae()
    ctcae_term = ctcae_key(decod).map(dict(zip(ctcae_key(table["term"]), table["term"], strict=True)))
    sev = _column(ae, "AESEV").str.upper()
    sev_grade = sev.map(severity).astype("float64")
    tox_text = _column(ae, "AETOXGR")
    tox_given = tox_text != ""
    tox = pd.to_numeric(tox_text.mask(~tox_given), errors="coerce")
    tox = tox.where(tox.abs() < 1000)  # no grade is that large: kept as given below, so the import queries it
    fatal = (_column(ae, "AEOUT").str.upper() == "FATAL") | (_column(ae, "AESDTH").str.upper() == "Y")
    from_sev = ~tox_given & ~fatal & sev_grade.notna()  # a severity stands in only where no grade was given
    grade = tox.where(tox_given, sev_grade.mask(fatal, 5.0))
    pairs = pd.MultiIndex.from_tuples([(t, g) for t, grades in ctcae_grades().items() for g in grades])
    exists = pd.Series(
        pd.MultiIndex.from_arrays([ctcae_term.fillna(""), grade.fillna(0).astype(int)]).isin(pairs), index=ae.index
    )
    use_ctcae = ctcae_term.notna() & (exists | ~from_sev) & ~uncoded
    term = ctcae_term.where(use_ctcae, decod.where(~uncoded, _column(ae, "AETERM") + supp["AETERM1"]))
    whole = grade.notna() & (grade % 1 == 0)
    grade_text = grade.astype("string").where(~whole, grade.where(whole).astype("Int64").astype("string")).fillna("")
    # an AETOXGR that is not a number is kept as given, so that the import queries it (FLD006): never replaced
    grade_text = grade_text.mask(tox_given & tox.isna(), tox_text)
    grade_note = pd.Series("", index=ae.index)
    grade_note = grade_note.mask(from_sev, "grade from AESEV " + sev + " (no AETOXGR in SDTM)")
    grade_note = grade_note.mask(~tox_given & fatal, "grade 5 from AEOUT FATAL / AESDTH Y")
    verbatim_note = pd.Series("", index=ae.index).mask(
        ctcae_term.notna() & ~use_ctcae,
        "CTCAE v5.0 '"
        + ctcae_term.fillna("")
        + "' has no grade "
        + grade_text
        + ", so the MedDRA term is kept verbatim",
    )
    outcome, outcome_note = _mapped(_column(ae, "AEOUT"), AE_OUTCOMES_SDTM, "AEOUT")
    outcome = outcome.mask(fatal & (outcome == ""), "fatal")
    action, action_note = _mapped(_column(ae, "AEACN"), AE_ACTIONS, "AEACN")
    attribution, rel_note = _mapped(_column(ae, "AEREL"), AE_RELATIONS, "AEREL")
    drug = pd.Series("", index=ae.index)
    if ex is not None:
        per_subject = text(ex["EXTRT"]).str.lower().groupby(text(ex["USUBJID"])).agg(["nunique", "first"])
        single = per_subject.loc[per_subject["nunique"] == 1, "first"]
        drug = text(ae["USUBJID"]).map(single).fillna("").where(attribution != "", "")
    named = supp["AETRTREL"].str.lower()
    drug = named if exact else named.mask(named == "", drug)
    serious = _column(ae, "AESER").str.upper().map({"Y": "true", "N": "false"}).fillna("")
    criteria = {
        f: _column(ae, v).str.upper().map({"Y": "true", "N": "false"}).fillna("") for f, v in SERIOUS_SDTM.items()
    }
    cols = {
        "patient_id": text(ae["USUBJID"]),
        "term": term,
        "verbatim": (~use_ctcae).map({True: "true", False: "false"}),
        "grade": grade_text,
        "start": _column(ae, "AESTDTC"),
        "end": _column(ae, "AEENDTC"),
        "serious": serious,
        **criteria,
        "attributed_drug": drug,
        "attribution": attribution,
        "action": action,
        "outcome": outcome,
        "note": supp["NOTE"]
        if exact
        else _join_notes(grade_note, verbatim_note, outcome_note, action_note, rel_note, supp["NOTE"]),
        "constructed_dates": supp["CONSTDT"],
    }
    return _frame("ae", cols, ae.index)


def _dated(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Long frame (patient_id, text, date) of the given date columns, imputed with each column's rule."""
    parts = [
        pd.DataFrame({"patient_id": frame["patient_id"], "text": frame[c], "date": impute_text(frame[c], rule)})
        for c, rule in columns.items()
    ]
    out = pd.concat(parts, ignore_index=True)
    return out[out["date"].notna()]


def _followups(
    dm: pd.DataFrame, ds: pd.DataFrame | None, records: dict[str, pd.DataFrame], ae: pd.DataFrame | None
) -> pd.DataFrame:
    """A last-contact row (alive) per subject and a death row per dead subject, in DM order."""
    subjects = pd.DataFrame({"patient_id": text(dm["USUBJID"]).to_numpy()})
    pid = subjects["patient_id"]
    subjects["death"] = _column(dm, "DTHDTC").to_numpy()
    dated = [
        _dated(records["exposure"], {"start": "first", "end": "last"}),
        _dated(records["ae"], {"start": "first", "end": "last"}),
        _dated(records["assessment"], {"date": "last"}),
        _dated(records["patient"], {"reference_date": "first"}),
    ]
    if ds is not None:
        is_death = text(ds["DSDECOD"]).str.upper() == "DEATH"
        ds_dates = pd.DataFrame({"patient_id": text(ds["USUBJID"]), "d": text(ds["DSSTDTC"])})
        from_ds = ds_dates[is_death].groupby("patient_id")["d"].min()
        subjects["death"] = subjects["death"].mask(subjects["death"] == "", pid.map(from_ds).fillna(""))
        dated.append(_dated(ds_dates[~is_death], {"d": "first"}))
    dead = (subjects["death"] != "") | (_column(dm, "DTHFL").str.upper() == "Y").to_numpy()
    dates = pd.concat(dated, ignore_index=True).sort_values("date", kind="stable")
    last = dates.groupby("patient_id").tail(1).set_index("patient_id")
    subjects["last"] = pid.map(last["text"]).fillna("")
    after_death = (pid.map(last["date"]) >= impute_text(subjects["death"], "first")).fillna(False)
    subjects["cause"] = ""
    if ae is not None:
        fatal = ae[(_column(ae, "AEOUT").str.upper() == "FATAL") | (_column(ae, "AESDTH").str.upper() == "Y")]
        term = _column(fatal, "AEDECOD").mask(lambda c: c == "", _column(fatal, "AETERM"))
        subjects["cause"] = pid.map(term.groupby(text(fatal["USUBJID"])).first()).fillna("")
    alive = subjects[(subjects["last"] != "") & ~(dead & after_death)]
    died = subjects[dead]
    rows = pd.concat([
        pd.DataFrame({"patient_id": alive["patient_id"], "date": alive["last"], "vital_status": "alive",
                      "note": "last date known alive in the SDTM domains"}),
        pd.DataFrame({"patient_id": died["patient_id"], "date": died["death"], "vital_status": "dead",
                      "death_date": died["death"], "death_cause": died["cause"],
                      "note": "death from DM.DTHDTC (else the DS DEATH date)"}),
    ]).sort_index(kind="stable")  # fmt: skip
    return _frame("followup", {c: rows[c] for c in rows.columns}, rows.index)


def sdtm_to_records(
    sdtm: Mapping[str, pd.DataFrame],
    *,
    evaluators: Iterable[str] = ("INVESTIGATOR",),
    severity_grades: Mapping[str, int] = SEVERITY_GRADES,
    exact: bool = False,
) -> dict[str, pd.DataFrame]:
    """Map SDTM domains to tkitrack template text frames (the input of :func:`~tkitrack.schemas.store.add_records`).

    Parameters
    ----------
    sdtm : mapping of str to DataFrame
        Domains by code (``DM`` required; ``DS``, ``EX``, ``AE``, ``RS``, ``TR``, ``TU`` optional), values as
        text, as :func:`~tkitrack.schemas.sdtm.read_sdtm` returns them.
    evaluators : iterable of str
        RS/TR evaluators imported as assessments: ``INVESTIGATOR`` and/or ``INDEPENDENT`` (an independent
        read counts only where RSACPTFL = Y marks it as the accepted one, when RSACPTFL is given).
    severity_grades : mapping
        AESEV -> grade, used when AETOXGR is blank (``MILD`` 1, ``MODERATE`` 2, ``SEVERE`` 3).
    exact : bool
        The domains were written by tkitrack (:func:`~tkitrack.schemas.sdtm_out.records_to_sdtm`): the
        SUPP-- qualifiers are taken as they are and nothing is inferred or noted (no OTHER histology, no
        attributed drug guessed, no import notes, a blank AEDECOD is a verbatim term, the baseline flag is
        RSBLFL / TRBLFL alone). Without it (any other SDTM), the rules below apply.

    Returns
    -------
    dict
        ``patient``, ``exposure``, ``ae``, ``assessment``, ``followup`` frames with the template columns, and
        ``disease_event``, ``molecular``, ``ihc``, ``procedure`` where CE, GF, MI, PR are given
        (:mod:`tkitrack.schemas.sdtm_clinical`: which of their rows are mapped, and how).

    Notes
    -----
    - patient: USUBJID -> patient_id, SITEID -> site, SEX, BRTHDTC -> birth_date; reference_date is the DS
      ``RANDOMIZED`` date; histology OTHER (SDTM has none). DM.AGE is the age at the reference start, so it is
      not copied to age_at_diagnosis (the note says so).
    - dates are passed on whole, a time included (``2014-04-01T10:30``), so that the import checks them whole
      and keeps them as given.
    - ae: AEDECOD matched to CTCAE v5.0 (case and British spelling folded); grade from AETOXGR, else (AETOXGR
      blank) AESEV (noted) or 5 when AEOUT is FATAL or AESDTH is Y. An AETOXGR that is not a CTCAE grade is
      passed on as given, so the import queries it (FLD006, FLD003 or AE003); it is never replaced. A CTCAE term whose AESEV-derived grade does not exist in
      CTCAE (a "mild myocardial infarction") keeps the MedDRA term as verbatim: a severity is not a CTCAE
      grade, and no grade is invented. Unknown AEACN / AEOUT / AEREL values are left empty and noted.
    - followup: a row per subject at the last date known alive (the latest date among DS other than death,
      EX, AE, RS/TR and randomisation, kept with its given precision); a dead subject gets a death row
      (DM.DTHDTC, else the DS DEATH date) and a contact row only when the last contact precedes death.
    """
    from tkitrack.schemas.sdtm_clinical import clinical_from_sdtm

    sdtm = {str(k).upper(): v for k, v in sdtm.items()}
    dm = _require(sdtm, "DM", ["USUBJID"])
    if dm is None:
        raise InputError(f"SDTM DM is required to import patients; given: {', '.join(sdtm) or 'no domains'}")
    ds = _require(sdtm, "DS", ["USUBJID", "DSDECOD", "DSSTDTC"])
    ex = _require(sdtm, "EX", ["USUBJID", "EXTRT", "EXDOSE", "EXSTDTC"])
    ae = _require(sdtm, "AE", ["USUBJID", "AESTDTC"])
    if ae is not None and not {"AEDECOD", "AETERM"} & set(ae.columns):
        raise InputError("SDTM AE has neither AEDECOD nor AETERM; give the MedDRA term (AEDECOD) or the reported "
                         "term (AETERM), or leave the AE file out")  # fmt: skip
    rs = _require(sdtm, "RS", ["USUBJID", "RSTESTCD", "RSSTRESC", "RSDTC"])
    tr = _require(sdtm, "TR", ["USUBJID", "TRTESTCD", "TRDTC"])
    out: dict[str, pd.DataFrame] = {"patient": _patients(dm, ds, sdtm, exact)}
    out["exposure"] = _exposures(ex, sdtm, exact) if ex is not None else _frame("exposure", {}, pd.RangeIndex(0))
    out["ae"] = (_adverse_events(ae, ex, severity_grades, sdtm, exact) if ae is not None
                 else _frame("ae", {}, pd.RangeIndex(0)))  # fmt: skip
    reference = out["patient"].set_index("patient_id")["reference_date"]
    cols = assessments_from_sdtm(rs, tr, sdtm.get("TU"), reference, tuple(e.upper() for e in evaluators),
                                 supp=sdtm, exact=exact)  # fmt: skip
    out["assessment"] = _frame("assessment", cols, cols["patient_id"].index)
    if "SS" in sdtm and "USUBJID" in sdtm["SS"].columns:
        rows = followups_from_ss(sdtm, dm, exact)
        out["followup"] = _frame("followup", {c: rows[c] for c in rows.columns}, rows.index)
    else:
        out["followup"] = _followups(dm, ds, out, ae)
    return out | clinical_from_sdtm(sdtm, exact)
