"""`tkitrack vocab`: the CTCAE lookup the AE002 message points users to, drugs, other vocabularies."""

from __future__ import annotations

import json


def test_ctcae_search_shows_which_grades_exist(run_cli):
    one = run_cli("sqlite:///unused.db", "vocab", "ctcae", "--search", "gait")
    assert one.exit_code == 0
    assert "grade 3: Limiting self care ADL" in one.stdout and "grade 4: does not exist" in one.stdout
    many = json.loads(run_cli("sqlite:///unused.db", "vocab", "ctcae", "-s", "neuropathy", "-f", "json").stdout)
    terms = {r["term"]: r["grades"] for r in many}
    assert terms["Peripheral sensory neuropathy"] == "1, 2, 3, 4"
    assert run_cli("sqlite:///unused.db", "vocab", "ctcae", "-s", "zzzz").exit_code == 1


def test_drugs_and_named_vocabularies(run_cli):
    drugs = json.loads(run_cli("sqlite:///unused.db", "vocab", "drugs", "-f", "json").stdout)
    crizotinib = next(d for d in drugs if d["drug"] == "crizotinib")
    assert (crizotinib["usual_dose"], crizotinib["usual_unit"], crizotinib["usual_frequency"]) == (
        280.0,
        "mg/m2",
        "BID",
    )
    assert run_cli("sqlite:///unused.db", "vocab", "show", "unit").stdout.strip().endswith("mg, mg/m2, mg/kg")
    assert run_cli("sqlite:///unused.db", "vocab", "show", "colour").exit_code == 2
