"""Field declarations with the metadata the frame schemas, templates and exports are built from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Field

__all__ = ["FieldInfo", "constructed_field", "date_flag", "field", "field_info", "given_date", "imputed_date"]


@dataclass(frozen=True)
class FieldInfo:
    """What tkitrack knows of a field besides its type: label, vocabulary, range and role."""

    label: str
    vocab: str | None = None
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    required: bool = False
    #: ``first`` / ``last``: the field is the imputed date of ``<name>_dtc``, imputed with that rule.
    imputed: str | None = None
    #: the field is filled by tkitrack (imputed date, flag, deletion marker), never typed in a template.
    derived: bool = False
    #: a direct identifier, dropped by the de-identified export.
    identifier: bool = False
    #: a date that a de-identified export turns into days from the patient's anchor.
    is_date: bool = False
    #: free text that may hold identifiers: left out of a de-identified export unless kept by name.
    free_text: bool = False
    #: the most characters a value may have (checked before the database sees it; the column's SQL length).
    max_length: int | None = None
    #: for free text: the vocabulary whose values a de-identified export keeps (others are withheld).
    known: str | None = None


def field(
    default: Any = None,
    *,
    label: str,
    vocab: str | None = None,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    required: bool = False,
    derived: bool = False,
    identifier: bool = False,
    free_text: bool = False,
    known: str | None = None,
    max_length: int | None = None,
    sql_length: bool = True,
    **kwargs: Any,
) -> Any:
    """A SQLModel ``Field`` carrying a :class:`FieldInfo` (read back with :func:`field_info`).

    ``free_text`` marks text that may hold identifiers (a de-identified export leaves it out unless the user keeps
    the column by name; ``known`` names a vocabulary whose values it keeps, withholding the rest); every text
    field declares its ``max_length``, checked before anything is written. ``sql_length=False`` keeps the
    column unbounded text in the database (as schema 0001 made it); the limit is then tkitrack's alone.
    """
    info = FieldInfo(label, vocab, ge, le, gt, required, None, derived, identifier, free_text=free_text,
                     max_length=max_length, known=known)  # fmt: skip
    if max_length is not None and sql_length:
        kwargs["max_length"] = max_length
    return Field(default, description=label, schema_extra={"json_schema_extra": {"tk": info}}, **kwargs)


def given_date(label: str, *, identifier: bool = False) -> Any:
    """The partial ISO 8601 text of a date as it was given (``2019``, ``2019-06``, ``2019-06-14``)."""
    info = FieldInfo(f"{label} (ISO 8601, partial allowed)", identifier=identifier, max_length=32)
    return Field(None, description=info.label, max_length=32, schema_extra={"json_schema_extra": {"tk": info}})


def imputed_date(label: str, rule: str = "first") -> Any:
    """The imputed date of ``<name>_dtc``: the ``first`` or ``last`` day of a partial month or year."""
    info = FieldInfo(f"{label}, imputed ({rule} day when partial)", imputed=rule, derived=True, is_date=True)
    return Field(None, description=info.label, schema_extra={"json_schema_extra": {"tk": info}})


def date_flag(label: str) -> Any:
    """The ADaM-style imputation flag of a date: ``D`` (day imputed), ``M`` (month and day), or empty."""
    info = FieldInfo(f"{label}: imputation flag (D day, M month and day)", derived=True, max_length=1)
    return Field(None, description=info.label, max_length=1, schema_extra={"json_schema_extra": {"tk": info}})


def constructed_field() -> Any:
    """Which of the record's dates were built from intervals, not given by the source (``start,end``).

    A paper or a site may give "4 months later" instead of a date; the date someone built from it is kept like
    any other, and named here so that every export can tell it from a recorded date.
    """
    info = FieldInfo(
        "Dates built from intervals, not given by the source (field names, comma-separated)", max_length=256
    )
    return Field(None, description=info.label, max_length=256, schema_extra={"json_schema_extra": {"tk": info}})


def field_info(model: type, name: str) -> FieldInfo:
    """The :class:`FieldInfo` of ``model.name`` (a bare label when the field was declared without one)."""
    extra = model.model_fields[name].json_schema_extra or {}
    info = extra.get("tk") if isinstance(extra, dict) else None
    return info if isinstance(info, FieldInfo) else FieldInfo(label=name)
