"""Shared fixtures of the schemas tests: a record set that uses every field the SDTM export maps."""

from __future__ import annotations

import pandas as pd
import pytest

LONG_NOTE = ("Parents report the gait change at home; école notes: « boite légèrement » " * 6).strip()
LONG_TERM = "Gonflement indolore des deux chevilles, noté par la kinésithérapeute; " * 3  # 210 characters, 216 bytes


@pytest.fixture
def rich_records() -> dict[str, pd.DataFrame]:
    """Every field of every record type, with the hard cases: long UTF-8 text, a verbatim term over 200 bytes,
    an independent read, a response kept as given, two assessments on one date, a death; partial dates, and a
    molecular finding, IHC, procedure and disease event on the day before and on the reference day (RFSTDTC:
    P1 2019-07-01, P2 2019-01-10; P3 has none)."""
    return {
        "patient": pd.DataFrame({
            "patient_id": ["P1", "P2", "P3"], "site": ["LYON", "ROMA", ""], "mrn": ["123", "", ""],
            "initials": ["AB", "", ""], "sex": ["F", "M", ""], "race": ["WHITE", "ASIAN", ""],
            "ethnicity": ["NOT HISPANIC OR LATINO", "UNKNOWN", ""], "country": ["FRA", "ITA", ""],
            "arm": ["Crizotinib 280 mg/m2 BID", "", ""], "birth_date": ["2013-05", "2010-03-10", ""],
            "age_at_diagnosis": ["", "8.75", "2"], "diagnosis_date": ["2019-05-20", "2018-12", ""],
            "reference_date": ["2019-06-25", "", ""], "histology": ["IMT", "NTRK_SCN", "OTHER"],
            "primary_site": ["mesentery", "left thigh", ""], "fnclcc_grade": ["", "2", ""],
            "height_cm": ["120.5", "", ""], "height_date": ["2019-06-20", "", ""], "weight_kg": ["22", "31.2", ""],
            "weight_date": ["2019-06-20", "2018-12-02", ""], "note": [LONG_NOTE, "", ""],
            "constructed_dates": ["diagnosis_date", "", ""],
        }),
        "exposure": pd.DataFrame({
            "patient_id": ["P1", "P1", "P1", "P2"], "drug": ["vincristine", "crizotinib", "crizotinib", "larotrectinib"],
            "dose": ["1.5", "280", "200", "100"], "unit": ["mg/m2", "mg/m2", "mg/m2", "mg/m2"],
            "frequency": ["QW", "BID", "BID", "BID"], "route": ["IV", "ORAL", "ORAL", "ORAL"],
            "formulation": ["", "oral solution", "capsule", ""], "start": ["2019-06", "2019-07-01", "2019-09-01", "2019-01-10"],
            "end": ["2019-06-28", "2019-08-31", "2020-01-10", "2020-03-05"],
            "reason": ["", "dose_change", "complete_response", "toxicity"], "discontinued": ["true", "false", "true", "true"], "note": ["", "", "stopped in CR", ""],
            "constructed_dates": ["start", "", "", ""],
        }),
        "ae": pd.DataFrame({
            "patient_id": ["P1", "P1", "P2"], "term": ["Gait disturbance", LONG_TERM.strip(), "Sepsis"],
            "verbatim": ["false", "true", "false"], "grade": ["2", "1", "5"], "start": ["2019-12", "2019-08-02", "2020-03-01"],
            "end": ["2020-01-15", "", "2020-03-09"], "serious": ["false", "false", "true"],
            "serious_death": ["", "", "true"], "serious_hospitalisation": ["", "", "true"],
            "serious_life_threatening": ["", "", "false"], "serious_disability": ["", "", "false"],
            "serious_congenital_anomaly": ["", "", "false"], "serious_medically_important": ["", "", "true"], "attributed_drug": ["crizotinib", "", "larotrectinib"],
            "attribution": ["probable", "", "unlikely"], "action": ["withdrawn", "none", "not_applicable"],
            "outcome": ["recovered", "recovering", "fatal"], "note": ["", LONG_NOTE, ""], "constructed_dates": ["start", "", ""],
        }),
        "assessment": pd.DataFrame({
            "patient_id": ["P1", "P1", "P1", "P1", "P1", "P2", "P2"],
            "date": ["2019-06-20", "2019-10", "2019-10", "2020-01-05", "2020-03-02", "2019-03-01", "2019-06-01"],
            "modality": ["MRI", "CT", "US", "PET-CT", "", "MRI", "CLINICAL"],
            "criteria": ["RECIST1.1", "RECIST1.1", "INVESTIGATOR", "PERCIST", "RECIST1.1", "iRECIST", ""],
            "baseline": ["true", "false", "false", "false", "false", "false", "false"],
            "sum_diameters": ["41.5", "20", "", "", "0", "", ""], "target_response": ["", "PR", "", "", "CR", "", ""],
            "nontarget_response": ["", "NON-CR/NON-PD", "", "", "", "", ""], "new_lesion": ["", "false", "", "", "", "true", ""],
            "response": ["", "PR", "SD", "CMR", "CR", "iUPD", ""], "evaluator": ["INVESTIGATOR", "INVESTIGATOR",
                                                                       "INDEPENDENT", "INVESTIGATOR", "INVESTIGATOR",
                                                                       "INVESTIGATOR", ""],  # not recorded
            "response_given": ["", "", "", "", "", "", "CHECK"], "note": ["", "", "central read", LONG_NOTE, "", "", ""],
            "constructed_dates": ["", "date", "", "", "", "", ""],
        }),
        "molecular": pd.DataFrame({
            "patient_id": ["P1", "P1", "P2", "P3"], "gene_5p": ["STRN", "", "ETV6", ""],
            "gene_5p_candidates": ["", "PTRH2|CLTC", "", ""], "exon_5p": ["3", "", "5", ""],
            "gene_3p": ["ALK", "ALK", "NTRK3", "ROS1"], "exon_3p": ["20", "", "15", ""],
            "method": ["RNA_NGS", "FISH", "RT_PCR", "OTHER"], "panel": ["Archer FusionPlex", "Vysis ALK break-apart", "", ""],
            "fish_percent": ["", "62.5", "", ""], "specimen_date": ["2019-06", "2019-07-01", "2019-01-09", ""],
            "specimen": ["primary", "recurrence", "primary", ""], "vaf": ["", "", "35.5", ""], "tmb": ["1.2", "", "", ""],
            "resistance_mutation": ["", "ALK G1202R", "", ""], "karyotype": ["t(2;17)(p23.2;q23.1)", "", "", ""],
            "note": ["", "", LONG_NOTE, ""], "constructed_dates": ["", "specimen_date", "", ""],
        }),
        "ihc": pd.DataFrame({
            "patient_id": ["P1", "P1", "P2", "P3"], "marker": ["ALK D5F3", "pan-TRK",
                                                             "pan-TRK (clone EPR17341), Abcam, 1:100, automated", "S100"],
            "result": ["positive", "negative", "focal", "equivocal"], "pattern": ["cytoplasmic", "", "nuclear", ""],
            "specimen_date": ["2019-06-15", "2019-06", "2019-01-10", ""], "specimen": ["primary", "primary", "", ""],
            "note": ["", "", "", "central review"], "constructed_dates": ["", "specimen_date", "", ""],
        }),
        "procedure": pd.DataFrame({
            "patient_id": ["P1", "P1", "P2", "P3"], "kind": ["biopsy", "resection", "amputation", "other"],
            "date": ["2019-06-30", "2019-07-01", "2020-02", ""], "margin": ["", "R1", "R0", ""],
            "site": ["mesentery", "mesentery", "left thigh", ""], "details": ["core needle", LONG_NOTE, "", "cryoablation"],
            "note": ["", "surgery report", "", ""], "constructed_dates": ["", "", "date", ""],
        }),
        "disease_event": pd.DataFrame({
            "patient_id": ["P1", "P2", "P2"], "kind": ["recurrence", "metastasis", "progression"],
            "date": ["2020-09-15", "2019-01-10", "2020-01"], "site": ["mesentery", "left axilla", ""],
            "confirmed_by": ["imaging", "histology", "clinical"], "note": ["MRI", "", ""],
            "constructed_dates": ["", "", "date"],
        }),
        "followup": pd.DataFrame({
            "patient_id": ["P1", "P1", "P2", "P3"], "date": ["2020-06-01", "2021-06", "2020-03-09", "2022"],
            "vital_status": ["alive", "alive", "dead", "unknown"], "disease_status": ["NED", "NED", "AWD", ""],
            "death_date": ["", "", "2020-03-09", ""], "death_cause": ["", "", "sepsis " + "x" * 240, ""],
            "note": ["phone call", "", "", ""], "constructed_dates": ["", "date", "", ""],
        }),
    }  # fmt: skip
