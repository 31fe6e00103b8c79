"""Regenerate ``cli/_fields.py`` from the table models: ``python -m tkitrack.cli.gen_fields``.

The command line must start without importing sqlmodel/pandas (``tkitrack --help`` stays fast), so the options of
the record commands come from this generated, import-free copy of the models' input fields. A test fails when
it is stale.
"""

from __future__ import annotations

import pprint
from pathlib import Path

__all__ = ["render_fields", "write_fields"]

_HEADER = '''"""Input fields of each record type, generated from tkitrack.schemas.models by cli/gen_fields.py. Do not edit."""

# (name, label, required) per record type, in template order.
FIELDS: dict[str, list[tuple[str, str, bool]]] = '''


def render_fields() -> str:
    """The text of ``_fields.py`` for the current models."""
    from tkitrack.schemas.fields import field_info
    from tkitrack.schemas.frames import input_columns
    from tkitrack.schemas.models import RECORD_MODELS

    fields = {}
    for record, model in RECORD_MODELS.items():
        rows = []
        for name in input_columns(record):
            source = f"{name}_dtc" if f"{name}_dtc" in model.model_fields else name
            info = field_info(model, source)
            rows.append((name, info.label, bool(info.required)))
        fields[record] = rows
    return _HEADER + pprint.pformat(fields, width=116, sort_dicts=False) + "\n"


def write_fields() -> Path:
    path = Path(__file__).with_name("_fields.py")
    path.write_text(render_fields(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover
    print(write_fields())
