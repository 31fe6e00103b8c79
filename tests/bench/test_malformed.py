"""Property-based: no malformed input shows internals, and `validate` and `import` agree on every input.

Hypothesis draws a mutation of bench/malformed.py (ragged rows, bad bytes, odd headers, workbooks with formulas,
SDTM folders with missing columns...) and a value (a known troublemaker or any text) and runs `tkitrack import`
(fresh SQLite database) and `tkitrack validate` on it. The larger seeded run is `python -m bench.malformed`
(docs/input-rules.md reports it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.malformed import MUTATIONS, NASTY, check_case, make_case, run_case

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    mutation=st.integers(0, len(MUTATIONS) - 1),
    seed=st.integers(0, 2**31),
    value=st.one_of(st.sampled_from(NASTY), _TEXT),
)
def test_no_malformed_input_shows_internals_and_both_commands_agree(tmp_path, sqlite_template, mutation, seed, value):
    work = tmp_path / f"m{mutation}-{seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    make_case(work / "case", seed, value=value, mutation=mutation)
    outs = run_case(work / "case", sqlite_template, work)
    assert check_case(outs) == []


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed-{s}") for s in (4, 13, 103, 1144)])
def test_cases_that_once_failed(tmp_path, sqlite_template, seed):
    """Seeds of the first corpus runs that found bugs (a missing AEDECOD, a 21-digit AETOXGR)."""
    make_case(tmp_path / "case", seed)
    assert check_case(run_case(tmp_path / "case", sqlite_template, tmp_path)) == []


def test_validate_and_import_agree_on_the_broken_sample(tmp_path, sqlite_template):
    outs = run_case(SAMPLE / "broken", sqlite_template, tmp_path)
    assert outs["import"]["exit"] == outs["validate"]["exit"] == 1
    assert outs["import"]["errors"] == outs["validate"]["errors"] and len(outs["import"]["errors"]) >= 20
    assert ("patient", "39", "patient_id", "PT010") in outs["validate"]["errors"]  # validate sees the duplicate too
