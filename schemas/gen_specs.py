"""Regenerate ``schemas/_specs.py`` from the table models and vocabularies: ``python -m tkitrack.schemas.gen_specs``.

A single-record write (:mod:`tkitrack.schemas.light`) starts without importing sqlmodel, pandas or pandera, so it
reads the field declarations of :mod:`tkitrack.schemas.models` (type, default, vocabulary, range, required,
imputation, length) and the vocabularies they name from this generated, import-free copy. The models stay the one
declaration: a test fails when the copy is stale.
"""

from __future__ import annotations

import pprint
from pathlib import Path

__all__ = ["render_specs", "write_specs"]

_HEADER = '''"""Field declarations and vocabularies, generated from tkitrack.schemas.models by schemas/gen_specs.py. Do not edit."""

# fmt: off
'''


def render_specs() -> str:
    """The text of ``_specs.py`` for the current models and vocabularies."""
    from tkitrack.schemas.fields import field_info
    from tkitrack.schemas.frames import column_dtypes, date_inputs, input_columns
    from tkitrack.schemas.models import RECORD_MODELS
    from tkitrack.schemas.vocabulary import ctcae, ctcae_grades, vocabulary

    specs, names = {}, set()
    for record, model in RECORD_MODELS.items():
        rows = []
        for name, f in model.model_fields.items():
            info = field_info(model, name)
            default = f.default if f.default is not ... else None
            rows.append((name, column_dtypes(record)[name], default, info.vocab, info.ge, info.gt, info.le,
                         bool(info.required), info.imputed, bool(info.derived), info.max_length))  # fmt: skip
            if info.vocab:
                names.add(info.vocab)
        specs[record] = rows
    codes = dict(zip(ctcae()["term"], ctcae()["meddra_code"], strict=True))
    terms = {term: (codes[term], tuple(sorted(grades))) for term, grades in ctcae_grades().items()}
    parts = [
        _HEADER,
        "# (name, dtype, default, vocab, ge, gt, le, required, imputed, derived, max_length) per record type, in\n"
        "# the models' column order.\n",
        "FIELDS = " + pprint.pformat(specs, width=116, sort_dicts=False) + "\n\n",
        "INPUT_COLUMNS = " + pprint.pformat({r: input_columns(r) for r in RECORD_MODELS}, width=116,
                                            sort_dicts=False) + "\n\n",
        "DATE_INPUTS = " + pprint.pformat({r: date_inputs(r) for r in RECORD_MODELS}, width=116,
                                          sort_dicts=False) + "\n\n",
        "VOCABULARIES = " + pprint.pformat({n: vocabulary(n).values for n in sorted(names) if n != "ctcae_term"},
                                           width=116) + "\n\n",
        "# CTCAE v5.0 term -> (MedDRA code, the grades that exist)\n",
        "CTCAE = " + pprint.pformat(terms, width=116) + "\n",
    ]  # fmt: skip
    return "".join(parts)


def write_specs() -> Path:
    path = Path(__file__).with_name("_specs.py")
    path.write_text(render_specs(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover
    print(write_specs())
