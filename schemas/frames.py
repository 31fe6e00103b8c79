"""pandera frame schemas built from the table models, plus the frame-level rules, and the query listing."""

from __future__ import annotations

import datetime as dt
import types
import typing
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from tkitrack.schemas.errors import CONTROL_CHARACTERS, shorten
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.vocabulary import ctcae_grades, response_allowed, response_categories, vocabulary

__all__ = [
    "FRAME_RULES",
    "LISTING_COLUMNS",
    "SERIOUS_CRITERIA",
    "FrameRule",
    "check_frame",
    "column_dtypes",
    "concat_frames",
    "date_inputs",
    "frame_schema",
    "input_columns",
    "listing",
    "record_columns",
    "shown_values",
]

#: Columns of the query listing every check writes (one row per failed check per data point).
LISTING_COLUMNS = ["patient_id", "record", "record_id", "row", "field", "rule_id", "severity", "value", "message"]


def listing(rows: list[dict] | pd.DataFrame | None = None) -> pd.DataFrame:
    """A query listing with the standard columns (empty when ``rows`` is empty)."""
    frame = pd.DataFrame(rows if rows is not None else [], columns=LISTING_COLUMNS)
    return frame.astype({"row": "Int64"}) if len(frame) else frame.astype("object")


def shown_values(values: pd.Series, limit: int = 80) -> pd.Series:
    """User values as a listing shows them (see :func:`tkitrack.schemas.errors.shorten`): control characters as
    ``\\xNN`` and text longer than ``limit`` cut, with its length; other values unchanged (as text)."""
    text = values.astype("string")
    odd = (text.str.len().gt(limit) | text.str.contains(CONTROL_CHARACTERS, regex=True)).fillna(False).astype(bool)
    if odd.any():  # rare: only those cells are rewritten one by one
        text = text.copy()
        text[odd] = text[odd].map(lambda v: shorten(v, limit))
    return text


def concat_frames(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames of one record type (same columns and dtypes) with a fresh index.

    pandas warns (FutureWarning) that all-NA columns will count towards the result dtype in a future version;
    our parts always share the record's dtypes, so the result is the same either way and the warning is muted.
    """
    import warnings

    kept = [p for p in parts if len(p)] or parts[:1]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The behavior of DataFrame concatenation", category=FutureWarning)
        return pd.concat(kept, ignore_index=True)


def _base_type(annotation: object) -> type:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0]
    return annotation  # type: ignore[return-value]


_DTYPES = {str: "string", int: "Int64", float: "float64", bool: "boolean", dt.date: "datetime64[ns]"}


def record_columns(record: str) -> list[str]:
    """Every column of a record's table, in declaration order."""
    return list(RECORD_MODELS[record].model_fields)


def input_columns(record: str) -> list[str]:
    """The columns a user types (template and import): no ids, no derived fields; dates by their given text.

    A date ``X`` is typed in column ``X`` as partial ISO 8601 text (stored as ``X_dtc``).
    """
    model = RECORD_MODELS[record]
    out = []
    for name in model.model_fields:
        info = field_info(model, name)
        if info.derived or (name == "id" and record != "patient"):
            continue
        out.append(name[:-4] if name.endswith("_dtc") else name)
    return out


@cache
def column_dtypes(record: str) -> dict[str, str]:
    """pandas dtype of each column of a record frame."""
    model = RECORD_MODELS[record]
    return {name: _DTYPES[_base_type(f.annotation)] for name, f in model.model_fields.items()}


def _column_checks(record: str, name: str) -> list[pa.Check]:
    info = field_info(RECORD_MODELS[record], name)
    checks = []
    if info.vocab and info.vocab != "ctcae_term":
        voc = vocabulary(info.vocab)
        checks.append(pa.Check.isin(list(voc.values)))
    if info.ge is not None:
        checks.append(pa.Check.ge(info.ge))
    if info.gt is not None:
        checks.append(pa.Check.gt(info.gt))
    if info.le is not None:
        checks.append(pa.Check.le(info.le))
    return checks


@cache
def frame_schema(record: str) -> pa.DataFrameSchema:
    """The pandera schema of one record frame: a column per model field with its type, range and vocabulary.

    Only the field rules live here; frame-level rules are :data:`FRAME_RULES`, run by :func:`check_frame`.
    """
    model = RECORD_MODELS[record]
    columns = {}
    for name in model.model_fields:
        info = field_info(model, name)
        required = info.required or name == "deleted"
        columns[name] = pa.Column(
            column_dtypes(record)[name],
            checks=_column_checks(record, name),
            nullable=not required,
            required=name not in ("id",),
            description=info.label,
        )
    return pa.DataFrameSchema(columns, name=record, strict=False, coerce=False)


@dataclass(frozen=True)
class FrameRule:
    """A rule over several fields of one record frame: ``failing(frame)`` marks the rows that break it."""

    rule_id: str
    record: str
    field: str
    fields: tuple[str, ...]
    description: str
    failing: typing.Callable[[pd.DataFrame], pd.Series]
    message: typing.Callable[[pd.DataFrame], pd.Series]
    severity: str = "error"


def _end_before_start(df: pd.DataFrame) -> pd.Series:
    return (df["end"] < df["start"]).fillna(False).astype(bool)


def _end_message(df: pd.DataFrame) -> pd.Series:
    return (
        "end "
        + df["end"].dt.strftime("%Y-%m-%d")
        + " is before start "
        + df["start"].dt.strftime("%Y-%m-%d")
        + "; expected end >= start: correct either date, or leave end empty while ongoing"
    )


def _unknown_term(df: pd.DataFrame) -> pd.Series:
    known = df["term"].isin(vocabulary("ctcae_term").values)
    return ~known & ~df["verbatim"].fillna(False).astype(bool) & df["term"].notna()


@cache
def _allowed_pairs() -> pd.MultiIndex:
    pairs = [(term, g) for term, grades in ctcae_grades().items() for g in grades]
    return pd.MultiIndex.from_tuples(pairs, names=["term", "grade"])


def _grade_missing(df: pd.DataFrame) -> pd.Series:
    known = df["term"].isin(vocabulary("ctcae_term").values) & df["grade"].notna()
    pairs = pd.MultiIndex.from_arrays([df["term"].astype(object), df["grade"].astype("float64")])
    exists = pairs.isin(_allowed_pairs().set_levels(_allowed_pairs().levels[1].astype("float64"), level=1))
    return pd.Series(known.to_numpy() & ~exists, index=df.index)


def _grade_message(df: pd.DataFrame) -> pd.Series:
    grades = ctcae_grades()
    allowed = df["term"].map(lambda t: ", ".join(str(g) for g in sorted(grades.get(t, ()))))
    return (
        "CTCAE v5.0 '"
        + df["term"].astype(str)
        + "' has no grade "
        + df["grade"].astype(str)
        + "; its grades are "
        + allowed
        + ": use one of them"
    )


def _dose_not_positive(df: pd.DataFrame) -> pd.Series:
    return (df["dose"].le(0) & df["drug"].ne("placebo")).fillna(False).astype(bool)


def _response_outside_criteria(column: str) -> typing.Callable[[pd.DataFrame], pd.Series]:
    def rows(df: pd.DataFrame) -> pd.Series:  # unknown responses or criteria are FLD002's, not this rule's
        known = df[column].isin(vocabulary("response").values) & (
            df["criteria"].isna() | df["criteria"].isin(vocabulary("criteria").values)
        )
        return (known & ~response_allowed(df["criteria"], df[column])).astype(bool)

    def failing(df: pd.DataFrame) -> pd.Series:  # each (criteria, response) pair judged once: a registry has a few
        from tkitrack.schemas.distinct import per_distinct_rows

        return per_distinct_rows(df[[column, "criteria"]], rows)

    return failing


def _criteria_message(column: str) -> typing.Callable[[pd.DataFrame], pd.Series]:
    def message(df: pd.DataFrame) -> pd.Series:
        crit = df["criteria"].astype("object").where(df["criteria"].notna(), "RECIST1.1")
        allowed = crit.map(lambda c: ", ".join(response_categories(c)))  # distinct criteria only: a few
        return (
            "'" + df[column].astype(str) + "' is not a " + crit.astype(str) + " response; under " + crit.astype(str)
            + " use one of " + allowed + " (set criteria to the criteria that response belongs to)"
        )  # fmt: skip

    return message


def date_inputs(record: str) -> tuple[str, ...]:
    """The date fields of a record as typed (``start``, ``end``, ...): the names ``constructed_dates`` may list."""
    fields = RECORD_MODELS[record].model_fields
    return tuple(name[:-4] for name in fields if name.endswith("_dtc"))


def _constructed_unknown(record: str) -> typing.Callable[[pd.DataFrame], pd.Series]:
    dates = list(date_inputs(record))

    def failing(df: pd.DataFrame) -> pd.Series:  # split only the cells that name something (most are empty)
        names = df["constructed_dates"].dropna().astype("string").str.split(",").explode().str.strip()
        bad = names.notna() & ~names.isin(dates)
        return bad.groupby(level=0).any().reindex(df.index, fill_value=False).astype(bool)

    return failing


def _constructed_message(record: str) -> typing.Callable[[pd.DataFrame], pd.Series]:
    dates = ", ".join(date_inputs(record))
    return lambda df: (
        "'" + df["constructed_dates"].astype(str) + f"' names a field that is not a date of {record}; list the "
        f"constructed date fields separated by commas, from: {dates}"
    )


#: The AE seriousness criteria (ICH E2A; SDTM AESDTH, AESLIFE, AESHOSP, AESDISAB, AESCONG, AESMIE).
SERIOUS_CRITERIA = ("serious_death", "serious_life_threatening", "serious_hospitalisation", "serious_disability",
                    "serious_congenital_anomaly", "serious_medically_important")  # fmt: skip


def _criterion_not_serious(df: pd.DataFrame) -> pd.Series:
    met = df[list(SERIOUS_CRITERIA)].astype("boolean").fillna(False).any(axis=1)
    return (met & ~df["serious"].astype("boolean").fillna(False)).astype(bool)


def _serious_without_criterion(df: pd.DataFrame) -> pd.Series:
    met = df[list(SERIOUS_CRITERIA)].astype("boolean").fillna(False).any(axis=1)
    return (df["serious"].astype("boolean").fillna(False) & ~met).astype(bool)


def _candidates_conflict(df: pd.DataFrame) -> pd.Series:
    cand = df["gene_5p_candidates"].astype("string").str.split("|")
    too_few = cand.str.len().lt(2).fillna(False)
    both = df["gene_5p"].notna() & df["gene_5p_candidates"].notna()
    return (too_few | both).astype(bool)


def _listed_twice(df: pd.DataFrame) -> pd.Series:
    return (df["patient_id"].notna() & df["patient_id"].duplicated(keep="first")).astype(bool)


FRAME_RULES: tuple[FrameRule, ...] = (
    FrameRule(
        "PT010",
        "patient",
        "patient_id",
        ("patient_id",),
        "one row per patient in an input",
        _listed_twice,
        lambda df: (
            "patient " + df["patient_id"].astype(str) + " is listed twice in this input; keep one row per patient"
        ),
    ),
    FrameRule(
        "EX006",
        "exposure",
        "dose",
        ("dose", "drug"),
        "dose greater than 0 (0 only for placebo)",
        _dose_not_positive,
        lambda df: (
            "dose " + df["dose"].astype(str) + " of " + df["drug"].astype(str) + " is not greater than 0; "
            "a dose is > 0 (record an interruption as a gap between intervals, placebo as drug placebo)"
        ),
    ),
    FrameRule(
        "EX001",
        "exposure",
        "end",
        ("start", "end"),
        "exposure end on or after its start",
        _end_before_start,
        _end_message,
    ),
    FrameRule(
        "AE001",
        "ae",
        "end",
        ("start", "end"),
        "adverse event resolution on or after its onset",
        _end_before_start,
        _end_message,
    ),
    FrameRule(
        "AE002",
        "ae",
        "term",
        ("term", "verbatim"),
        "term is a CTCAE v5.0 term unless flagged verbatim",
        _unknown_term,
        lambda df: (
            "'" + df["term"].astype(str) + "' is not a CTCAE v5.0 term; use the CTCAE term "
            "(see `tkitrack vocab ctcae --search WORD`) or set verbatim=true for free text"
        ),
    ),
    FrameRule(
        "AE003", "ae", "grade", ("term", "grade"), "grade exists for the CTCAE term", _grade_missing, _grade_message
    ),
    FrameRule(
        "AE007",
        "ae",
        "serious",
        ("serious", *SERIOUS_CRITERIA),
        "a seriousness criterion is met only by a serious adverse event",
        _criterion_not_serious,
        lambda df: (
            "serious is false but a seriousness criterion is true; set serious=true, or clear the criterion "
            "(serious_death, serious_life_threatening, serious_hospitalisation, ...) if it was typed in error"
        ),
        severity="warning",  # imported SDTM has such rows (the CDISC pilot AE): kept as given and queried
    ),
    FrameRule(
        "AE008",
        "ae",
        "serious",
        ("serious", *SERIOUS_CRITERIA),
        "a serious adverse event names the criterion that makes it serious",
        _serious_without_criterion,
        lambda df: (
            "serious is true but no seriousness criterion is recorded (SDTM AESER=Y expects one of AESDTH, "
            "AESLIFE, AESHOSP, AESDISAB, AESCONG, AESMIE); set the criterion that applies, e.g. "
            "serious_hospitalisation=true"
        ),
        severity="warning",
    ),
    *(
        FrameRule(
            "AS005",
            "assessment",
            column,
            ("criteria", column),
            "a response in the categories of its criteria (PERCIST and iRECIST only under those criteria)",
            _response_outside_criteria(column),
            _criteria_message(column),
        )
        for column in ("response", "target_response", "nontarget_response")
    ),
    FrameRule(
        "MO001",
        "molecular",
        "gene_5p_candidates",
        ("gene_5p", "gene_5p_candidates"),
        "an uncertain 5' partner is two or more candidates, with gene_5p left empty",
        _candidates_conflict,
        lambda df: (
            "gene_5p '"
            + df["gene_5p"].astype(str)
            + "' with candidates '"
            + df["gene_5p_candidates"].astype(str)
            + "': give the partner in gene_5p when it is known, or two or more candidates separated by | "
            "(e.g. PTRH2|CLTC) with gene_5p empty when the source cannot tell"
        ),
    ),
    *(
        FrameRule(
            "DT005",
            record,
            "constructed_dates",
            ("constructed_dates",),
            "constructed_dates names date fields of the record",
            _constructed_unknown(record),
            _constructed_message(record),
        )
        for record in RECORD_MODELS
    ),
)


def _field_message(record: str, column: str, check: str, value: object) -> tuple[str, str]:
    model = RECORD_MODELS[record]
    info = field_info(model, column) if column in model.model_fields else None
    label = info.label if info else column
    value = shorten(value) if isinstance(value, str) else value
    if check == "not_nullable":
        return "FLD001", f"{label} is required; fill it in"
    if check.startswith("isin") and info and info.vocab:
        voc = vocabulary(info.vocab)
        shown = ", ".join(voc.values[:12]) + (", ..." if len(voc.values) > 12 else "")
        return "FLD002", f"'{value}' is not an allowed {column}; expected one of {shown} ({voc.source})"
    if check.startswith(("greater_than", "less_than")) and info:
        bounds = [
            f"at least {info.ge:g}" if info.ge is not None else "",
            f"greater than {info.gt:g}" if info.gt is not None else "",
            f"at most {info.le:g}" if info.le is not None else "",
        ]
        return "FLD003", f"{value} is out of range for {label}; expected {' and '.join(b for b in bounds if b)}"
    if check.startswith("column_in_dataframe"):
        return "FLD004", f"column {column} is missing; add it (see `tkitrack template DIR`)"
    if check.startswith("dtype"):
        return "FLD005", f"column {column} has the wrong type ({value}); expected {check}"
    return "FLD009", f"{value!r} fails {check} for {label}"


def _failure_listing(record: str, frame: pd.DataFrame, rownum: pd.Series, cases: pd.DataFrame) -> pd.DataFrame:
    """pandera's failure cases as query-listing rows: one per failing cell, with its patient, record and row.

    Cells are looked up by position (the frame's index is resolved once), and the message of each distinct
    (column, check, value) is built once: a million-row frame with ten thousand failures stays quick.
    """
    index = frame.index
    unique = index.is_unique
    pids = frame["patient_id"].array if "patient_id" in frame else None
    ids = frame["id"].array if "id" in frame and record != "patient" else None
    aligned = rownum.index.equals(index)
    rowvals = rownum.to_numpy() if aligned else None
    messages: dict[tuple, tuple[str, str]] = {}
    recs = []
    for column_name, check, failure, idx in zip(cases["column"], cases["check"], cases["failure_case"],
                                                cases["index"], strict=True):  # fmt: skip
        check = str(check)
        # a missing column is reported against the schema, with the column's name as the failure case
        column = str(failure if check.startswith("column_in_dataframe") else column_name)
        try:
            key = (column, check, failure)
            found = messages.get(key)
            if found is None:
                found = messages[key] = _field_message(record, column, check, failure)
        except TypeError:  # an unhashable failure case
            found = _field_message(record, column, check, failure)
        rule_id, message = found
        known = idx is not None and not pd.isna(idx) and idx in index
        pos = index.get_loc(idx) if known and unique else None
        if known and pos is None:  # a repeated index label: look it up as before
            patient = frame.at[idx, "patient_id"] if pids is not None else None
            record_id = frame.at[idx, "id"] if ids is not None else None
        else:
            patient = pids[pos] if known and pids is not None else None
            record_id = ids[pos] if known and ids is not None else None
        recs.append(
            {
                "patient_id": patient,
                "record": record,
                "record_id": record_id,
                "row": (int(rowvals[pos]) if aligned and pos is not None else int(rownum.loc[idx])) if known else None,
                "field": column,
                "rule_id": rule_id,
                "severity": "error",
                "value": None if pd.isna(failure) else shorten(failure),
                "message": message,
            }
        )
    return listing(recs)


def check_frame(record: str, frame: pd.DataFrame, *, rows: pd.Series | None = None) -> pd.DataFrame:
    """Run every field and frame rule on a typed record frame; return the query listing (empty when clean).

    Validation is lazy: every failure of every rule is reported, not the first. ``rows`` gives the 1-based
    file row of each frame row for messages (defaults to the frame's position + 1).
    """
    schema = frame_schema(record)
    out: list[pd.DataFrame] = []
    rownum = rows if rows is not None else pd.Series(np.arange(1, len(frame) + 1), index=frame.index)
    try:
        # on a shallow copy, in place: the schema coerces nothing and adds, drops or fills no column, and pandera's
        # own copy of the whole frame (a registry's assessments: a quarter of a GiB) is garbage that a reference
        # cycle (the frame's pandera accessor) keeps until the collector's next full sweep
        schema.validate(frame.copy(deep=False), lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        out.append(_failure_listing(record, frame, rownum, err.failure_cases))
    for rule in FRAME_RULES:
        if rule.record != record or not set(rule.fields).issubset(frame.columns):
            continue
        bad = rule.failing(frame)
        if bad.any():
            sub = frame.loc[bad]
            out.append(
                listing(
                    pd.DataFrame(
                        {
                            "patient_id": sub["patient_id"],
                            "record": record,
                            "record_id": sub.get("id", None),
                            "row": rownum.loc[sub.index],
                            "field": rule.field,
                            "rule_id": rule.rule_id,
                            "severity": rule.severity,
                            "value": sub[rule.field].astype("string").str.slice(0, 10 if rule.field == "end" else None),
                            "message": rule.message(sub),
                        }
                    )
                )
            )
    if not out:
        return listing()
    return concat_frames([o.astype("object") for o in out])
