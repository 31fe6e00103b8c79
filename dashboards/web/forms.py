"""Data-entry forms built from the record models: one declaration of each field, no rule written twice.

A form shows every field a user types (:func:`tkitrack.schemas.frames.input_columns`) with its label, a choice
list for a vocabulary, and the value as typed (dates as given, partial dates too). What comes back is sent as
text to :func:`tkitrack.schemas.store.add_records` / :func:`~tkitrack.schemas.store.update_record`, whose field
rules and edit checks decide; their query listing is shown beside each field (:func:`errors_by_field`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import pandas as pd

from tkitrack.dashboards.web.render import _cell
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.vocabulary import REASONS, ctcae_grades, vocabulary

__all__ = [
    "COURSE_OPERATIONS",
    "RECORD_TITLES",
    "FormField",
    "ctcae_suggestions",
    "errors_by_field",
    "form_fields",
    "grades_for",
    "posted_values",
    "shown_values",
]

#: record type -> what the forms call it
RECORD_TITLES = {"patient": "Patient", "molecular": "Molecular finding", "ihc": "Immunohistochemistry",
                 "exposure": "Drug interval (start of a course)", "ae": "Adverse event", "assessment": "Tumour assessment",
                 "procedure": "Procedure", "disease_event": "Disease event", "followup": "Follow-up contact"}  # fmt: skip
_CHOICES_MAX = 80  # longer vocabularies are a text box with suggestions (datalist), not a menu
_LONG_TEXT = 512  # free text at least this long gets a text area


@dataclass(frozen=True)
class FormField:
    """One input of a form."""

    name: str
    label: str
    kind: str  # text, textarea, number, date, bool, select, list (text with suggestions)
    required: bool = False
    choices: tuple[str, ...] = field(default_factory=tuple)


def _kind(record: str, name: str) -> tuple[str, tuple[str, ...]]:
    model = RECORD_MODELS[record]
    if f"{name}_dtc" in model.model_fields:
        return "date", ()
    info = field_info(model, name)
    annotation = str(model.model_fields[name].annotation)
    if "bool" in annotation:
        return "bool", ("true", "false")
    if info.vocab:
        values = vocabulary(info.vocab).values
        return ("select" if len(values) <= _CHOICES_MAX else "list"), tuple(values)
    if "float" in annotation or "int" in annotation:
        return "number", ()
    if info.max_length is not None and info.max_length >= _LONG_TEXT:
        return "textarea", ()
    return "text", ()


def form_fields(record: str, *, with_patient_id: bool = False) -> list[FormField]:
    """The inputs of a record's form, in the order of the template columns."""
    model = RECORD_MODELS[record]
    out = []
    for name in input_columns(record):
        if name == "patient_id" and not with_patient_id:
            continue
        info = field_info(model, f"{name}_dtc" if f"{name}_dtc" in model.model_fields else name)
        kind, choices = _kind(record, name)
        out.append(FormField(name, info.label, kind, info.required or name == "patient_id", choices))
    return out


def shown_values(record: str, row: dict) -> dict[str, str]:
    """A stored record's values as a form shows them: dates as given, numbers without a trailing .0."""
    return {name: _cell(row.get(f"{name}_dtc", row.get(name))) for name in input_columns(record)}


def posted_values(record: str, form, *, prefix: str = "") -> dict[str, str]:
    """The typed values of a posted form for the record's fields (an absent field is empty)."""
    out = {}
    for name in input_columns(record):
        value = form.get(prefix + name)
        out[name] = value.strip() if isinstance(value, str) else ""
    return out


def errors_by_field(failures: pd.DataFrame | None, fields: list[str]) -> tuple[dict[str, list[dict]], list[dict]]:
    """A refused save's query listing as {field: [{rule_id, severity, message}]} plus the rest (other records,
    other fields), errors first."""
    per: dict[str, list[dict]] = {}
    other: list[dict] = []
    if failures is None or not len(failures):
        return per, other
    order = failures.assign(_e=failures["severity"].ne("error")).sort_values("_e", kind="stable")
    for row in order.itertuples(index=False):
        item = {"rule_id": row.rule_id, "severity": row.severity, "message": row.message, "record": row.record,
                "field": row.field}  # fmt: skip
        if row.field in fields:
            per.setdefault(str(row.field), []).append(item)
        else:
            other.append(item)
    return per, other


def grades_for(term: str) -> tuple[int, ...]:
    """The CTCAE v5.0 grades that exist for a term (case as in the vocabulary); () for an unknown term."""
    grades = ctcae_grades()
    exact = grades.get(term)
    if exact is None:
        lowered = {t.lower(): g for t, g in grades.items()}
        exact = lowered.get(term.strip().lower())
    return tuple(sorted(exact)) if exact else ()


def ctcae_suggestions(text: str, limit: int = 8) -> list[tuple[str, tuple[int, ...]]]:
    """CTCAE terms nearest to what was typed, with their grades: the exact term, terms containing the text, then
    the closest spellings (difflib ratio >= 0.6), so that a typo still finds the term ("gait disturbence")."""
    query = " ".join(text.split()).lower()
    if len(query) < 3:
        return []
    terms = list(ctcae_grades())
    lowered = {t.lower(): t for t in terms}
    picked: list[str] = []
    if query in lowered:
        picked.append(lowered[query])
    picked += [t for t in terms if query in t.lower() and t not in picked][:limit]
    close = difflib.get_close_matches(query, list(lowered), n=limit, cutoff=0.6)
    picked += [lowered[c] for c in close if lowered[c] not in picked]
    return [(t, grades_for(t)) for t in picked[:limit]]


#: Drug-course operations on an exposure interval (schemas/courses.py): name -> (title, fields)
COURSE_OPERATIONS: dict[str, tuple[str, list[FormField]]] = {
    "change": ("Change the dose", [
        FormField("date", "First day at the new dose (YYYY-MM-DD)", "date", True),
        FormField("dose", "New dose per administration", "number", True),
        FormField("unit", "New unit (empty: unchanged)", "select", False, tuple(vocabulary("unit").values)),
        FormField("frequency", "New frequency (empty: unchanged)", "select", False,
                  tuple(vocabulary("frequency").values)),
        FormField("reason", "Why", "select", True, REASONS),
        FormField("comment", "Comment (audit trail)", "text"),
    ]),
    "interrupt": ("Interrupt (hold) the drug", [
        FormField("last_dose", "Day of the last dose before the break (YYYY-MM-DD)", "date", True),
        FormField("reason", "Why", "select", True, REASONS),
        FormField("comment", "Comment (audit trail)", "text"),
    ]),
    "stop": ("Stop the drug for good", [
        FormField("last_dose", "Day of the last dose (YYYY-MM-DD)", "date", True),
        FormField("reason", "Why", "select", True, REASONS),
        FormField("comment", "Comment (audit trail)", "text"),
    ]),
    "resume": ("Resume the drug after an interruption", [
        FormField("date", "First day back on the drug (YYYY-MM-DD)", "date", True),
        FormField("dose", "Dose (empty: the last one)", "number"),
        FormField("unit", "Unit (empty: the last one)", "select", False, tuple(vocabulary("unit").values)),
        FormField("frequency", "Frequency (empty: the last one)", "select", False,
                  tuple(vocabulary("frequency").values)),
    ]),
}  # fmt: skip
