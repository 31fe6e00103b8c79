"""Reader labels: what a code, a column or a unit is called in every table, figure and listing (STYLE rule 11).

One presentation layer for the whole package: a histology code reads as its vocabulary label, a sex code as a
word, a response code as its name with the abbreviation, a snake_case column as its declared field label (the
data-entry hints in parentheses left out) or as a label given here with its unit.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd

from tkitrack.outcomes.reporting import is_missing

__all__ = [
    "COLUMN_LABELS",
    "HISTOLOGY_SHORT",
    "RESPONSE_LABELS",
    "abbreviation_note",
    "column_label",
    "humanize",
    "label_columns",
    "present_frame",
    "present_value",
    "value_label",
    "value_labels",
]

RESPONSE_LABELS: dict[str, str] = {
    "CR": "Complete response (CR)",
    "PR": "Partial response (PR)",
    "SD": "Stable disease (SD)",
    "NON-CR/NON-PD": "Non-CR/non-PD",
    "PD": "Progressive disease (PD)",
    "NE": "Not evaluable (NE)",
    "MISSING": "No response assessment",
}
#: Abbreviations of the histologies for legends, lane headers and narrow columns.
HISTOLOGY_SHORT: dict[str, str] = {
    "IMT": "IMT",
    "EIMS": "EIMS",
    "ALK_IFS_LIKE": "ALK-IFS-like",
    "IFS_CCMN": "IFS/CMN",
    "NTRK_SCN": "NTRK-SCN",
    "OTHER": "Other",
}
_SEX = {"M": "Male", "F": "Female", "U": "Unknown"}
_FNCLCC = {"1": "Grade 1", "2": "Grade 2", "3": "Grade 3", "NA": "Not applicable"}
_AGE_GROUPS = {"<2": "Under 2 years", "2-11": "2 to 11 years", "12-17": "12 to 17 years", "18+": "18 years or older"}
_REASONS = {
    "complete_response": "Complete response (elective stop)",
    "completed": "Planned course completed",
    "patient_choice": "Patient or family choice",
    "dose_change": "Dose change",
}
_SPECIAL = {"ongoing": "Ongoing", "not recorded": "Not recorded", "not tested": "Not tested", "unknown": "Unknown"}

#: Reader labels (with units) of derived columns shown in tables; record fields fall back to their declaration.
COLUMN_LABELS: dict[str, str] = {
    "patient_id": "Patient",
    "drug": "Drug",
    "term": "Adverse event (CTCAE v5.0 term)",
    "grade": "CTCAE grade",
    "first_start": "First dose",
    "last_end": "Last dose",
    "ongoing": "Ongoing",
    "days_on_drug": "Days on drug",
    "n_intervals": "Dosing intervals",
    "n_interruptions": "Interruptions",
    "n_dose_changes": "Dose changes",
    "dose_change_reasons": "Reasons for dose changes",
    "stop_reason": "Reason for stopping",
    "cumulative_dose_mg": "Cumulative dose (mg)",
    "cumulative_dose_mg_m2": "Cumulative dose (mg/m²)",
    "dose_intensity_mg_m2_day": "Dose intensity (mg/m²/day)",
    "relative_dose_intensity": "Relative dose intensity (% of catalogue dose)",
    "n_any": "Patients, any grade",
    "pct_any": "% any grade",
    "n_events_on": "Events on treatment",
    "n_patients_on": "Patients on treatment",
    "n_events_off": "Events off treatment",
    "n_patients_off": "Patients off treatment",
    "worst_grade_on": "Worst grade on treatment",
    "worst_grade_off": "Worst grade off treatment",
    "N": "Patients in the denominator",
    "histology": "Histology",
    "fusion_partner": "Fusion partner (5')",
    "kinase_gene": "Kinase gene (3')",
    "sex": "Sex",
    "site": "Site",
    "age_group": "Age group",
    "index_drug": "Index therapy",
}


def humanize(code: object) -> str:
    """``complete_response`` -> ``Complete response``; empty for a missing value.

    >>> humanize("complete_response"), humanize("dose_change")
    ('Complete response', 'Dose change')
    """
    if is_missing(code):
        return ""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@cache
def _histologies() -> dict[str, str]:
    from tkitrack.schemas.vocabulary import histologies

    table = histologies()
    return {code: label[:1].upper() + label[1:] for code, label in zip(table["code"], table["label"], strict=True)}


def value_label(kind: str, code: object, *, short: bool = False) -> str:
    """A coded value as a reader sees it (``kind``: histology, sex, response, fnclcc, age_group, reason, drug...).

    Unknown codes are humanized, never dropped; missing values read "Not recorded". ``short=True`` gives the
    abbreviation used in legends and axis labels where there is one (histologies: :data:`HISTOLOGY_SHORT`),
    defined by :func:`abbreviation_note` in the figure's footnote.

    >>> value_label("histology", "ALK_IFS_LIKE"), value_label("sex", "F"), value_label("fnclcc", "NA")
    ('ALK-rearranged infantile-fibrosarcoma-like tumour', 'Female', 'Not applicable')
    >>> value_label("histology", "ALK_IFS_LIKE", short=True)
    'ALK-IFS-like'
    """
    if is_missing(code) or str(code) == "":
        return "Not recorded"
    text = str(code)
    if short and kind == "histology" and text in HISTOLOGY_SHORT:
        return HISTOLOGY_SHORT[text]
    if text in _SPECIAL:
        return _SPECIAL[text]
    table = {
        "histology": _histologies(),
        "sex": _SEX,
        "response": RESPONSE_LABELS,
        "fnclcc": _FNCLCC,
        "age_group": _AGE_GROUPS,
        "reason": _REASONS,
    }.get(kind)
    if table is not None and text in table:
        return table[text]
    if kind in ("drug", "term", "fusion_partner", "kinase_gene", "site"):
        return text  # names as recorded (gene symbols, drug and CTCAE term names keep their case)
    if kind == "primary_site":
        return text[:1].upper() + text[1:]
    return humanize(text)


def value_labels(kind: str, values: pd.Series, *, short: bool = False) -> pd.Series:
    """:func:`value_label` over a Series (each distinct value labelled once)."""
    present = values.notna()
    distinct = {v: value_label(kind, v, short=short) for v in pd.unique(values[present].astype("object"))}
    return values.astype("object").where(present).map(distinct).where(present, value_label(kind, None))


def abbreviation_note(kind: str, values: pd.Series) -> str:
    """The footnote that defines the short labels used for ``values`` ("" when none is abbreviated).

    >>> abbreviation_note("histology", pd.Series(["IMT", "ALK_IFS_LIKE", "IMT"]))
    'ALK-IFS-like: ALK-rearranged infantile-fibrosarcoma-like tumour; IMT: inflammatory myofibroblastic tumour.'
    """
    if kind != "histology":
        return ""
    codes = sorted({str(v) for v in values.dropna() if str(v) in HISTOLOGY_SHORT}, key=lambda c: HISTOLOGY_SHORT[c])
    from tkitrack.schemas.vocabulary import histologies

    raw = dict(zip(histologies()["code"], histologies()["label"], strict=True))
    parts = [f"{HISTOLOGY_SHORT[c]}: {raw.get(c, c)}" for c in codes if HISTOLOGY_SHORT[c].lower() != raw.get(c, c)]
    return "; ".join(parts) + "." if parts else ""


_HINT = re.compile(r"\s*\(([^()]*)\)")


def _reader(label: str) -> str:
    """Drop data-entry hints in parentheses (code lists, vocab paths), keep a short unit like ``(years)``."""

    def keep(match: re.Match) -> str:
        inner = match.group(1)
        return match.group(0) if len(inner) <= 12 and not re.search(r"[,;:/=]|vocab|\.\.\.", inner) else ""

    return _HINT.sub(keep, label).strip()


def column_label(column: str, record: str | None = None) -> str:
    """The reader label of a column: :data:`COLUMN_LABELS`, else the field declaration of ``record`` (or of any
    record model with that field), else the humanized name.

    >>> column_label("days_on_drug"), column_label("age_at_diagnosis", "patient"), column_label("unit", "exposure")
    ('Days on drug', 'Age at diagnosis (years)', 'Dose unit')
    """
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    from tkitrack.schemas.fields import field_info
    from tkitrack.schemas.models import RECORD_MODELS

    models = [RECORD_MODELS[record]] if record in RECORD_MODELS else list(RECORD_MODELS.values())
    for model in models:
        if column in model.model_fields:
            return _reader(field_info(model, column).label)
    return humanize(column)


def label_columns(frame: pd.DataFrame, record: str | None = None) -> pd.DataFrame:
    """The frame with reader labels as column names (values untouched)."""
    return frame.rename(columns={c: column_label(str(c), record) for c in frame.columns})


def present_value(value: object, kind: str | None = None, *, decimals: int = 1) -> str:
    """One cell as a reader sees it: "" for missing, Yes/No, ISO dates, whole numbers without ``.0``.

    >>> present_value(182.0), present_value(80.597015), present_value(True), present_value(pd.NaT)
    ('182', '80.6', 'Yes', '')
    """
    if is_missing(value):
        return ""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, bool) or (hasattr(value, "dtype") and str(getattr(value, "dtype", "")) == "bool"):
        return "Yes" if value else "No"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) or (hasattr(value, "dtype") and "float" in str(value.dtype)):
        return _number_text(float(value), decimals)
    return value_label(kind, value) if kind else str(value)


def present_frame(
    frame: pd.DataFrame,
    *,
    record: str | None = None,
    kinds: dict[str, str] | None = None,
    decimals: dict[str, int] | None = None,
) -> pd.DataFrame:
    """A frame as a reader sees it: reader column labels and every cell as text (:func:`present_value`).

    ``kinds`` maps columns to value kinds (``{"histology": "histology"}``) whose codes become labels;
    ``decimals`` sets the decimals of a number column (default 1). No NaT, <NA>, True/False or "182.0" survives.
    """
    kinds = kinds or {}
    decimals = decimals or {}
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:  # per column, each distinct value formatted once
        values = frame[col]
        present = values.notna()
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        distinct = pd.unique(values[present])
        if isinstance(distinct.dtype, pd.StringDtype):  # as an object array: a string array item by item is slow
            distinct = distinct.to_numpy(dtype=object)
        texts = _present_distinct(distinct, kinds.get(col), decimals.get(col, 1))
        lookup = dict(zip(distinct, texts, strict=True))
        out[column_label(str(col), record)] = values.where(present).map(lookup).where(present, "").astype(str)
    return out.reset_index(drop=True)


def _present_distinct(distinct, kind: str | None, decimals: int) -> list[str]:
    """:func:`present_value` of each of a column's distinct present values. Numbers and text without a ``kind``
    are written here as :func:`present_value` writes them, without its checks of each value (a registry's
    listing has some 100,000 distinct values in a column).
    """
    dtype = distinct.dtype
    if kind is None and isinstance(dtype, np.dtype) and dtype.kind == "f":
        return [_number_text(number, decimals) for number in distinct.tolist()]
    if kind is None and isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return [str(number) for number in distinct.tolist()]
    text = isinstance(dtype, pd.StringDtype) or pd.api.types.infer_dtype(distinct, skipna=False) == "string"
    if kind is None and text:
        return ["" if value in ("NaT", "<NA>") else str(value) for value in distinct]  # what is_missing sees
    return [present_value(value, kind, decimals=decimals) for value in distinct]


def _number_text(number: float, decimals: int) -> str:
    """A number as :func:`present_value` writes it: whole numbers without ``.0``, else ``decimals`` decimals."""
    return f"{round(number):d}" if number.is_integer() else f"{number:.{decimals}f}"
