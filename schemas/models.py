"""SQLModel tables for every clinical record: the one declaration of each field."""

from __future__ import annotations

import datetime as dt

from sqlmodel import SQLModel

from tkitrack.schemas.fields import constructed_field, date_flag, field, given_date, imputed_date

__all__ = [
    "RECORD_MODELS",
    "AdverseEvent",
    "DiseaseEvent",
    "Exposure",
    "FollowUp",
    "Ihc",
    "MolecularFinding",
    "Patient",
    "Procedure",
    "Record",
    "TumourAssessment",
]


class Patient(SQLModel, table=True):
    """One patient: demographics, diagnosis, and height/weight for body surface area."""

    __tablename__ = "patient"

    patient_id: str = field(label="Study-unique patient id", primary_key=True, max_length=64, required=True)
    site: str | None = field(label="Site (centre) code", max_length=64, free_text=True)
    mrn: str | None = field(label="Hospital record number (direct identifier)", max_length=64, identifier=True)
    initials: str | None = field(label="Patient initials (direct identifier)", max_length=8, identifier=True)
    sex: str | None = field(label="Sex (M, F, U)", vocab="sex", max_length=1)
    race: str | None = field(
        label="Race (CDISC RACE terms, e.g. WHITE, ASIAN, NOT REPORTED)", vocab="race", max_length=48
    )
    ethnicity: str | None = field(
        label="Ethnicity (CDISC ETHNIC: HISPANIC OR LATINO, NOT HISPANIC OR LATINO, NOT REPORTED, UNKNOWN)",
        vocab="ethnicity", max_length=32,
    )  # fmt: skip
    country: str | None = field(label="Country of the site (ISO 3166-1 alpha-3, e.g. FRA)", vocab="country",
                                max_length=3)  # fmt: skip
    arm: str | None = field(
        label="Planned arm (treatment assignment, e.g. CRIZOTINIB); empty when none was planned (case series)",
        max_length=64,
        free_text=True,
    )
    birth_date_dtc: str | None = given_date("Birth date", identifier=True)
    birth_date: dt.date | None = imputed_date("Birth date", "first")
    birth_date_dtf: str | None = date_flag("Birth date")
    age_at_diagnosis: float | None = field(label="Age at diagnosis (years)", ge=0, le=120)
    diagnosis_date_dtc: str | None = given_date("Diagnosis date")
    diagnosis_date: dt.date | None = imputed_date("Diagnosis date", "first")
    diagnosis_date_dtf: str | None = date_flag("Diagnosis date")
    reference_date_dtc: str | None = given_date("Reference date (randomisation or enrolment)")
    reference_date: dt.date | None = imputed_date("Reference date", "first")
    reference_date_dtf: str | None = date_flag("Reference date")
    histology: str | None = field(label="Histology code (vocab/histologies.csv)", vocab="histology", max_length=32)
    primary_site: str | None = field(label="Primary tumour site", max_length=128, free_text=True)
    fnclcc_grade: str | None = field(label="FNCLCC grade (1, 2, 3, NA)", vocab="fnclcc", max_length=2)
    height_cm: float | None = field(label="Height (cm)", gt=0, le=230)
    height_date_dtc: str | None = given_date("Height measured on")
    height_date: dt.date | None = imputed_date("Height measured on", "first")
    height_date_dtf: str | None = date_flag("Height measured on")
    weight_kg: float | None = field(label="Weight (kg)", gt=0, le=250)
    weight_date_dtc: str | None = given_date("Weight measured on")
    weight_date: dt.date | None = imputed_date("Weight measured on", "first")
    weight_date_dtf: str | None = date_flag("Weight measured on")
    note: str | None = field(
        label="Free-text note (source, how dates were built)", free_text=True, max_length=4000, sql_length=False
    )
    constructed_dates: str | None = constructed_field()
    deleted: bool = field(False, label="Deleted (soft delete; reason in the audit trail)", derived=True)


class Record(SQLModel):
    """Columns every clinical record shares besides the patient: id, note, deletion marker."""

    id: int | None = field(None, label="Record id", primary_key=True)
    patient_id: str = field(
        label="Patient id", foreign_key="patient.patient_id", index=True, max_length=64, required=True
    )
    note: str | None = field(
        label="Free-text note (source, how dates were built)", free_text=True, max_length=4000, sql_length=False
    )
    constructed_dates: str | None = constructed_field()
    deleted: bool = field(False, label="Deleted (soft delete; reason in the audit trail)", derived=True)


class MolecularFinding(Record, table=True):
    """A fusion (5' gene and exon :: 3' gene and exon) or other alteration, with how it was found."""

    __tablename__ = "molecular"

    gene_5p: str | None = field(
        label="5' partner gene (e.g. STRN); empty when uncertain", max_length=32, free_text=True, known="gene"
    )
    gene_5p_candidates: str | None = field(
        label="Candidate 5' partners when the source cannot tell which is fused (e.g. PTRH2|CLTC)",
        max_length=128,
        free_text=True,
        known="gene",
    )
    exon_5p: int | None = field(label="5' gene exon", ge=1, le=200)
    gene_3p: str = field(
        label="3' kinase gene (ALK, ROS1, NTRK1-3, ...)",
        vocab="kinase_gene",
        required=True,
        max_length=16,
        sql_length=False,
    )
    exon_3p: int | None = field(label="3' gene exon", ge=1, le=200)
    method: str | None = field(label="Method (RNA_NGS, FISH, WGS, RT_PCR, ...)", vocab="method", max_length=16)
    panel: str | None = field(label="Panel or probe name", max_length=128, free_text=True)
    fish_percent: float | None = field(label="FISH break-apart: % positive nuclei", ge=0, le=100)
    specimen_date_dtc: str | None = given_date("Specimen date")
    specimen_date: dt.date | None = imputed_date("Specimen date", "first")
    specimen_date_dtf: str | None = date_flag("Specimen date")
    specimen: str | None = field(label="Specimen (primary, recurrence, metastasis)", max_length=64, free_text=True)
    vaf: float | None = field(label="Variant allele fraction (%)", ge=0, le=100)
    tmb: float | None = field(label="Tumour mutational burden (mut/Mb)", ge=0)
    resistance_mutation: str | None = field(
        label="Resistance mutation at relapse (e.g. ALK G1202R)", max_length=128, sql_length=False, free_text=True
    )
    karyotype: str | None = field(
        label="Karyotype or rearrangement in ISCN (e.g. t(2;17)(p23.2;q23.1))", max_length=256, free_text=True
    )


class Ihc(Record, table=True):
    """An immunohistochemistry result for one marker."""

    __tablename__ = "ihc"

    marker: str = field(
        label="Marker (ALK D5F3, pan-TRK, ROS1, S100, CD34, SMA, desmin, ...)",
        required=True,
        max_length=64,
        sql_length=False,
        free_text=True,
    )
    result: str = field(
        label="Result (positive, negative, focal, equivocal)",
        vocab="ihc_result",
        required=True,
        max_length=16,
        sql_length=False,
    )
    pattern: str | None = field(
        label="Staining pattern (cytoplasmic, nuclear, membranous, ...)",
        max_length=64,
        sql_length=False,
        free_text=True,
    )
    specimen_date_dtc: str | None = given_date("Specimen date")
    specimen_date: dt.date | None = imputed_date("Specimen date", "first")
    specimen_date_dtf: str | None = date_flag("Specimen date")
    specimen: str | None = field(label="Specimen (primary, recurrence, metastasis)", max_length=64, free_text=True)


class Exposure(Record, table=True):
    """One constant-dose interval of one drug (SDTM EX shape); interruptions are gaps between intervals."""

    __tablename__ = "exposure"

    drug: str = field(label="Drug (vocab/drugs.csv)", vocab="drug", max_length=64, required=True)
    dose: float = field(label="Dose per administration (0 only for placebo)", ge=0, required=True)
    unit: str = field(label="Dose unit (mg, mg/m2, mg/kg)", vocab="unit", max_length=8, required=True)
    frequency: str = field(
        label="Frequency (QD, BID, TID, QW, ...)", vocab="frequency", required=True, max_length=8, sql_length=False
    )
    route: str | None = field("ORAL", label="Route (ORAL, IV, ...)", vocab="route", max_length=16)
    formulation: str | None = field(
        label="Formulation (capsule, oral solution, pellets, ...)", max_length=64, free_text=True
    )
    start_dtc: str | None = given_date("Start of the interval")
    start: dt.date | None = imputed_date("Start of the interval", "first")
    start_dtf: str | None = date_flag("Start of the interval")
    end_dtc: str | None = given_date("End of the interval (empty: ongoing)")
    end: dt.date | None = imputed_date("End of the interval", "last")
    end_dtf: str | None = date_flag("End of the interval")
    reason: str | None = field(
        label="Why the interval ended (toxicity, complete_response, ...)",
        vocab="reason",
        max_length=32,
        sql_length=False,
    )
    discontinued: bool = field(
        False, label="Drug permanently discontinued at the end of this interval (not a hold or a dose change)"
    )


class AdverseEvent(Record, table=True):
    """An adverse event graded by CTCAE v5.0."""

    __tablename__ = "ae"

    term: str = field(
        label="CTCAE v5.0 term (free text only with verbatim=true)",
        max_length=256,
        required=True,
        free_text=True,
        known="ctcae_term",
    )
    term_code: str | None = field(
        label="MedDRA code of the CTCAE term (filled from the vocabulary)",
        derived=True,
        max_length=16,
        sql_length=False,
    )
    verbatim: bool = field(False, label="The term is free text, not a CTCAE term")
    grade: int = field(label="CTCAE grade (1-5; must exist for the term)", ge=1, le=5, required=True)
    start_dtc: str | None = given_date("Onset")
    start: dt.date | None = imputed_date("Onset", "first")
    start_dtf: str | None = date_flag("Onset")
    end_dtc: str | None = given_date("Resolution (empty: ongoing)")
    end: dt.date | None = imputed_date("Resolution", "last")
    end_dtf: str | None = date_flag("Resolution")
    serious: bool = field(False, label="Serious adverse event")
    serious_death: bool | None = field(label="Serious because it results in death")
    serious_life_threatening: bool | None = field(label="Serious because it is life-threatening")
    serious_hospitalisation: bool | None = field(label="Serious because it requires or prolongs hospitalisation")
    serious_disability: bool | None = field(label="Serious because of persistent or significant disability")
    serious_congenital_anomaly: bool | None = field(label="Serious because it is a congenital anomaly or birth defect")
    serious_medically_important: bool | None = field(label="Serious because it is another medically important event")
    attributed_drug: str | None = field(label="Drug the event is attributed to", vocab="drug", max_length=64)
    attribution: str | None = field(
        label="Attribution (unrelated ... definite)", vocab="attribution", max_length=16, sql_length=False
    )
    action: str | None = field(label="Action taken with the drug", vocab="action", max_length=16)
    outcome: str | None = field(label="Outcome", vocab="ae_outcome", max_length=32)


class TumourAssessment(Record, table=True):
    """A scan or clinical assessment and its response."""

    __tablename__ = "assessment"

    date_dtc: str | None = given_date("Assessment date")
    date: dt.date | None = imputed_date("Assessment date", "last")
    date_dtf: str | None = date_flag("Assessment date")
    modality: str | None = field(
        label="Modality (MRI, CT, PET-CT, US, XRAY, CLINICAL)", vocab="modality", max_length=16, sql_length=False
    )
    criteria: str | None = field(
        "RECIST1.1",
        label="Criteria (RECIST1.1, iRECIST, PERCIST, INVESTIGATOR)",
        vocab="criteria",
        max_length=16,
        sql_length=False,
    )
    baseline: bool = field(False, label="Baseline assessment (before the reference date)")
    sum_diameters: float | None = field(label="Sum of target-lesion diameters (mm)", ge=0)
    target_response: str | None = field(label="Target-lesion response", vocab="response", max_length=16)
    nontarget_response: str | None = field(label="Non-target response", vocab="response", max_length=16)
    new_lesion: bool | None = field(label="New lesion present")
    response: str | None = field(
        label="Overall response in the categories of the criteria (RECIST: CR, PR, SD, NON-CR/NON-PD, PD, NE; "
        "PERCIST: CMR, PMR, SMD, PMD; iRECIST: iCR, iPR, iSD, iUPD, iCPD)",
        vocab="response",
        max_length=16,
    )
    evaluator: str | None = field("INVESTIGATOR", label="Evaluator", vocab="evaluator", max_length=16)
    response_given: str | None = field(
        label="Overall response as the source gave it, when it is not a RECIST category (kept, never guessed)",
        max_length=32,
        free_text=True,
    )


class Procedure(Record, table=True):
    """A surgical or other procedure: biopsy, resection (margin), amputation, ..."""

    __tablename__ = "procedure"

    kind: str = field(
        label="Kind (biopsy, resection, amputation, ...)",
        vocab="procedure_kind",
        required=True,
        max_length=32,
        sql_length=False,
    )
    date_dtc: str | None = given_date("Procedure date")
    date: dt.date | None = imputed_date("Procedure date", "first")
    date_dtf: str | None = date_flag("Procedure date")
    margin: str | None = field(label="Resection margin (R0, R1, R2, RX)", vocab="margin", max_length=2)
    site: str | None = field(label="Site", max_length=128, free_text=True)
    details: str | None = field(label="Details", free_text=True, max_length=4000, sql_length=False)


class DiseaseEvent(Record, table=True):
    """Recurrence, progression or metastasis, with how it was confirmed."""

    __tablename__ = "disease_event"

    kind: str = field(
        label="Kind (recurrence, progression, metastasis)",
        vocab="event_kind",
        required=True,
        max_length=32,
        sql_length=False,
    )
    date_dtc: str | None = given_date("Event date")
    date: dt.date | None = imputed_date("Event date", "first")
    date_dtf: str | None = date_flag("Event date")
    site: str | None = field(label="Site (e.g. left axilla)", max_length=128, free_text=True)
    confirmed_by: str | None = field(
        label="Confirmed by (histology, imaging, ...)", vocab="confirmed_by", max_length=16, sql_length=False
    )


class FollowUp(Record, table=True):
    """A contact: last known status, and death with its cause."""

    __tablename__ = "followup"

    date_dtc: str | None = given_date("Contact date")
    date: dt.date | None = imputed_date("Contact date", "last")
    date_dtf: str | None = date_flag("Contact date")
    vital_status: str = field(
        label="Vital status (alive, dead, unknown)",
        vocab="vital_status",
        required=True,
        max_length=16,
        sql_length=False,
    )
    disease_status: str | None = field(
        label="Disease status at this contact (NED no evidence of disease, AWD alive with disease, unknown)",
        vocab="disease_status", max_length=16,
    )  # fmt: skip
    death_date_dtc: str | None = given_date("Death date")
    death_date: dt.date | None = imputed_date("Death date", "first")
    death_date_dtf: str | None = date_flag("Death date")
    death_cause: str | None = field(label="Cause of death", free_text=True, max_length=512, sql_length=False)


#: Record type name (as used on the command line, in templates and exports) -> table model.
RECORD_MODELS: dict[str, type[SQLModel]] = {
    "patient": Patient,
    "molecular": MolecularFinding,
    "ihc": Ihc,
    "exposure": Exposure,
    "ae": AdverseEvent,
    "assessment": TumourAssessment,
    "procedure": Procedure,
    "disease_event": DiseaseEvent,
    "followup": FollowUp,
}
