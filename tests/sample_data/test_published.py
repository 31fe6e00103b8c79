"""The published cases (sample_data/published): they parse, pass every rule, and say what the papers say."""

from __future__ import annotations

import pandas as pd
import pytest

from tkitrack.sample_data.published import PUBLISHED_PATIENTS, read_published, read_template_dir
from tkitrack.schemas.fields import field_info
from tkitrack.schemas.frames import input_columns
from tkitrack.schemas.models import RECORD_MODELS


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return read_published()


@pytest.fixture(scope="module")
def typed(frames, sample_checks) -> dict[str, pd.DataFrame]:
    return sample_checks.typed(frames)


def test_every_record_type_is_shipped(frames):
    assert set(frames) == set(RECORD_MODELS)
    assert frames["patient"]["patient_id"].tolist() == list(PUBLISHED_PATIENTS)


@pytest.mark.parametrize("record", list(RECORD_MODELS))
def test_columns_are_template_columns_with_required_ones(frames, record):
    cols = list(frames[record].columns)
    allowed = input_columns(record)
    assert set(cols) <= set(allowed)
    assert cols == [c for c in allowed if c in cols], "columns keep the template order"
    model = RECORD_MODELS[record]
    required = {c for c in allowed if field_info(model, c).required}
    assert required | {"patient_id", "note"} <= set(cols)


@pytest.mark.parametrize("record", list(RECORD_MODELS))
def test_every_row_says_where_it_comes_from(frames, record):
    notes = frames[record]["note"]
    assert (notes.str.len() > 20).all()
    assert notes.str.contains("Ref:|Ouyang|Tan et al|letter", regex=True).all()


def test_parse_records_and_check_frame_are_clean(frames, sample_checks):
    assert sample_checks.field(frames).empty


def test_cross_record_invariants_hold(frames, sample_checks):
    assert sample_checks.cross_record(frames) == []


def test_edit_checks_give_only_the_expected_warnings(frames, sample_checks):
    # the letter gives no height/weight (dose per m2 cannot be checked); Tan 2022's abstract gives no follow-up
    found = sample_checks.listing(frames)
    assert not (found["severity"] == "error").any(), found.to_string()
    got = sorted(zip(found["patient_id"], found["rule_id"], strict=True))
    assert got == [("LETTER-IMT-1", "EX005")] + [(f"TAN-2022-{i}", "PT003") for i in range(1, 5)]


def test_letter_course(typed):
    ex = typed["exposure"].iloc[0]
    assert (ex["patient_id"], ex["drug"], ex["dose"], ex["unit"], ex["frequency"]) == (
        "LETTER-IMT-1", "crizotinib", 200.0, "mg", "QD")  # fmt: skip
    assert (ex["end"] - ex["start"]).days in range(180, 183)  # 6 months
    assert ex["reason"] == "toxicity"
    a = typed["assessment"]
    a = a[a["patient_id"] == "LETTER-IMT-1"].sort_values("date")
    assert a["baseline"].tolist() == [True, False, False, False, False]
    assert a["response"].fillna("").tolist() == ["", "PR", "CR", "CR", "CR"]
    months = ((a["date"] - ex["start"]).dt.days / 30.44).round().astype(int).tolist()
    assert months[1:4] == [1, 4, 5]
    follow = typed["followup"].set_index("patient_id").loc["LETTER-IMT-1"]
    assert round((follow["date"] - ex["end"]).days / 365.25) == 4
    ae = typed["ae"].set_index("term")
    assert ae.loc["Gait disturbance", "grade"] == 2
    assert set(ae["attributed_drug"]) == {"crizotinib"}
    assert set(ae["outcome"]) == {"recovered"}
    assert (ae["start"] > a["date"].iloc[2]).all() and (ae["end"] > ex["end"]).all()


def test_fusions(typed):
    mol = typed["molecular"]
    ngs = mol[mol["method"].isin(["RNA_NGS", "WGS"]) & mol["gene_5p"].notna()]
    fusions = set(zip(ngs["patient_id"], ngs["gene_5p"], ngs["exon_5p"].astype("Float64"), strict=True))
    assert ("OUYANG-2025-1", "STRN", 3.0) in fusions and ("OUYANG-2025-2", "PLEKHH2", 6.0) in fusions
    assert ("LETTER-IMT-1", "CLTC", pd.NA) in {(p, g, pd.NA if pd.isna(e) else e) for p, g, e in fusions}
    o2 = mol[(mol["patient_id"] == "OUYANG-2025-2") & mol["vaf"].notna()].set_index("specimen")
    assert o2["vaf"].to_dict() == {"primary": 59.74, "metastasis (left axilla)": 42.47}
    assert (o2["tmb"] == 0).all()
    tan = mol[mol["patient_id"].str.startswith("TAN")]
    assert len(tan) == 4 and tan["gene_5p"].isna().all() and (tan["gene_3p"] == "ALK").all()


def test_case_2_timeline(typed):
    proc = typed["procedure"]
    proc = proc[proc["patient_id"] == "OUYANG-2025-2"].sort_values("date")
    assert proc["kind"].tolist() == ["cryotherapy", "biopsy", "resection", "resection", "amputation", "resection"]
    first_resection = proc.loc[proc["kind"] == "resection", "date"].iloc[0]
    ev = typed["disease_event"]
    ev = ev[ev["patient_id"] == "OUYANG-2025-2"].sort_values("date")
    assert ev["kind"].tolist() == ["recurrence", "recurrence", "metastasis"]
    assert round((ev["date"].iloc[0] - first_resection).days / 30.44) == 4
    assert ev["site"].iloc[2] == "left axilla"
    fu = typed["followup"].set_index("patient_id")
    assert round((fu.loc["OUYANG-2025-2", "date"] - pd.Timestamp("2016-09-01")).days / 30.44) == 96
    assert round((fu.loc["OUYANG-2025-1", "date"] - pd.Timestamp("2021-06-07")).days / 30.44) == 36
    assert not typed["exposure"]["patient_id"].str.startswith(("OUYANG", "TAN")).any()  # no ALK inhibitor


def test_tan_series_matches_the_abstract(typed):
    p = typed["patient"].set_index("patient_id").loc[[f"TAN-2022-{i}" for i in range(1, 5)]]
    assert (
        p["age_at_diagnosis"].median() == 2 and p["age_at_diagnosis"].min() == 2 and p["age_at_diagnosis"].max() == 10
    )
    assert sorted(p["sex"]) == ["F", "F", "M", "M"]
    assert (p["primary_site"] == "kidney").sum() == 2
    assert p["diagnosis_date"].isna().all()
    ihc = typed["ihc"]
    co = ihc[ihc["marker"].isin(["CD34", "S100"]) & ihc["patient_id"].str.startswith("TAN")]
    assert set(co["patient_id"]) == {"TAN-2022-1"} and (co["result"] == "positive").all()
    assert p.loc["TAN-2022-1", "primary_site"] == "kidney"
    ev = typed["disease_event"]
    assert sorted(ev.loc[ev["patient_id"] == "TAN-2022-1", "site"]) == ["liver", "lung"]


def test_read_template_dir_reads_only_record_files():
    assert set(read_template_dir("broken")) == set(RECORD_MODELS)  # expected_listing.csv is not a record


def test_write_template_dir_round_trips(frames, tmp_path):
    from tkitrack.sample_data.published import write_template_dir

    paths = write_template_dir(frames, tmp_path / "out")
    assert [p.name for p in paths] == [f"{r}.csv" for r in RECORD_MODELS]
    for record, path in zip(RECORD_MODELS, paths, strict=True):
        back = pd.read_csv(path, dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(back, frames[record])
