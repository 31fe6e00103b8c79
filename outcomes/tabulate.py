"""The counts behind the publication tables, as tidy frames: by column group, never formatted.

A table's columns are groups of patients (all patients, each histology, each drug...); a patient can sit in
several. :func:`derive_column_membership` lays that out as rows ``patient_id, column`` and every summary here is
one grouped operation over it, whatever the cohort size. Formatting (labels, percentages, footnotes) is the
presentation layer's job (:mod:`tkitrack.dashboards.pubtable`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from tkitrack.outcomes.exposure import _select_drugs, check_frame
from tkitrack.outcomes.proportions import compute_proportion
from tkitrack.outcomes.safety import ANY_TERM, derive_ae_drug_onsets
from tkitrack.schemas.distinct import per_distinct_text

__all__ = [
    "AE_DISCONTINUATION",
    "AE_SERIOUS",
    "ANY_DRUG",
    "SYNTHETIC_NOTE",
    "derive_column_membership",
    "derive_data_source",
    "derive_prior_therapy",
    "derive_relative_dose_intensity",
    "summarise_ae_by_drug",
    "summarise_categories",
    "summarise_numbers",
    "summarise_response_by",
]

#: The note the sample cohort generator writes on each synthetic patient (sample_data.generate).
SYNTHETIC_NOTE = "synthetic patient"
#: Column label of :func:`summarise_ae_by_drug` for AEs during any drug.
ANY_DRUG = "Any drug"
#: Row labels of :func:`summarise_ae_by_drug` besides the CTCAE terms.
AE_SERIOUS = "Serious adverse event"
AE_DISCONTINUATION = "Adverse event leading to discontinuation"
_SURGERY = ("resection", "amputation")


def derive_data_source(patients: pd.DataFrame) -> pd.Series:
    """Per patient (indexed by id): "synthetic" for patients the sample generator made (their note starts with
    :data:`SYNTHETIC_NOTE`), else "recorded". Pooled estimates must say when synthetic patients are in them."""
    note = patients["note"] if "note" in patients.columns else pd.Series("", index=patients.index)
    synthetic = per_distinct_text(
        note.astype("string"), lambda s: s.str.strip().str.lower().str.startswith(SYNTHETIC_NOTE)
    ).fillna(False)
    return pd.Series(np.where(synthetic, "synthetic", "recorded"), index=patients["patient_id"].to_numpy())


def derive_prior_therapy(
    patients: pd.DataFrame, exposure: pd.DataFrame, procedure: pd.DataFrame, index: pd.DataFrame
) -> pd.DataFrame:
    """Per patient: systemic therapy and surgery before the first dose of the index therapy.

    A drug interval that starts before the index start is prior systemic therapy (named in ``prior_drugs``);
    a resection or amputation before it is prior surgery. Patients without an index therapy get
    ``status`` "no index therapy" and False flags.

    Returns ``patient_id, status, prior_systemic, prior_drugs, prior_surgery``.
    """
    ex = check_frame(exposure, "exposure", ["patient_id", "drug", "start"], dates=["start"])
    pr = check_frame(procedure, "procedure", ["patient_id", "kind", "date"], dates=["date"])
    start = patients["patient_id"].map(index.set_index("patient_id")["index_start"])
    out = pd.DataFrame({"patient_id": patients["patient_id"].to_numpy(), "index_start": start.to_numpy()})
    before = ex.merge(out, on="patient_id")
    before = before[before["start"] < before["index_start"]]
    drugs = before.groupby("patient_id")["drug"].agg(lambda d: ", ".join(sorted(set(d), key=str.lower)))
    surgery = pr[pr["kind"].isin(_SURGERY)].merge(out, on="patient_id")
    operated = set(surgery.loc[surgery["date"] < surgery["index_start"], "patient_id"])
    out["prior_drugs"] = out["patient_id"].map(drugs).fillna("")
    out["prior_systemic"] = out["prior_drugs"] != ""
    out["prior_surgery"] = out["patient_id"].isin(operated)
    out["status"] = np.where(out["index_start"].isna(), "no index therapy", "treated")
    return out[["patient_id", "status", "prior_systemic", "prior_drugs", "prior_surgery"]]


def derive_column_membership(columns: Mapping[str, pd.Series | None], patient_ids: pd.Series) -> pd.DataFrame:
    """Rows ``patient_id, column`` for table columns: ``{"All": None, "Histology": series, ...}``.

    ``None`` puts every patient in one column named by the key; a Series (indexed by patient id) puts each
    patient in the column named by their value (missing values are left out). Column order: as given, values
    sorted within a key. The ``group`` column holds the key (for spanners).
    """
    parts = []
    ids = pd.Index(patient_ids).unique()
    for key, values in columns.items():
        if values is None:
            parts.append(pd.DataFrame({"patient_id": ids, "column": key, "group": key}))
            continue
        v = values.reindex(ids).dropna()
        order = sorted(v.astype(str).unique(), key=str.lower)
        frame = pd.DataFrame({"patient_id": v.index, "column": v.astype(str).to_numpy(), "group": key})
        frame["column"] = pd.Categorical(frame["column"], categories=order)
        parts.append(frame.sort_values("column", kind="stable").astype({"column": str}))
    return pd.concat(parts, ignore_index=True)


def _column_order(membership: pd.DataFrame) -> list[tuple[str, str]]:
    return list(dict.fromkeys(zip(membership["group"], membership["column"], strict=True)))


def summarise_categories(
    values: pd.Series, membership: pd.DataFrame, *, order: Sequence[str] = (), missing: str = "not recorded"
) -> pd.DataFrame:
    """Patients per category in each column: ``group, column, category, n, N`` (N = patients in the column).

    ``values`` is indexed by patient id; missing values count as ``missing``. Categories follow ``order`` (then
    the others by frequency); every category appears in every column (n 0 where absent).
    """
    v = values.astype("object").where(values.notna(), missing).astype(str)
    m = membership.assign(category=membership["patient_id"].map(v).fillna(missing))
    counts = m.groupby(["group", "column", "category"], sort=False).size().rename("n").reset_index()
    totals = m.groupby(["group", "column"], sort=False).size().rename("N").reset_index()
    freq = m.drop_duplicates("patient_id")["category"].value_counts()
    cats = [c for c in order if c in set(m["category"])] + [c for c in freq.index if c not in order]
    grid = pd.MultiIndex.from_tuples(
        [(g, c, k) for g, c in _column_order(membership) for k in cats], names=["group", "column", "category"]
    )
    out = counts.set_index(["group", "column", "category"]).reindex(grid, fill_value=0).reset_index()
    return out.merge(totals, on=["group", "column"])


def summarise_numbers(values: pd.Series, membership: pd.DataFrame) -> pd.DataFrame:
    """Median, quartiles and range of a number per column: ``group, column, n, missing, median, q1, q3, min,
    max`` (``n`` patients with a value, ``missing`` those without)."""
    m = membership.assign(value=membership["patient_id"].map(values).astype("float64"))
    g = m.groupby(["group", "column"], sort=False)["value"]
    out = pd.DataFrame(
        {
            "n": g.count(),
            "missing": g.size() - g.count(),
            "median": g.median(),
            "q1": g.quantile(0.25),
            "q3": g.quantile(0.75),
            "min": g.min(),
            "max": g.max(),
        }
    )
    return out.reindex(pd.MultiIndex.from_tuples(_column_order(membership), names=["group", "column"])).reset_index()


def summarise_response_by(adrs: pd.DataFrame, membership: pd.DataFrame, *, conf: float = 0.95) -> pd.DataFrame:
    """Best overall response (confirmed CBOR and unconfirmed BOR) per column, with rates and exact CIs.

    Returns
    -------
    DataFrame
        ``group, column, section, measure, k, n, estimate, lower, upper``: sections "confirmed" and
        "unconfirmed" with one row per category (CR, PR, SD, NON-CR/NON-PD, PD, NE, MISSING), and "rates" with
        objective response (CR + PR) confirmed and unconfirmed and complete response confirmed and
        unconfirmed; proportions with Clopper-Pearson intervals at ``conf``.
    """
    rows = []
    cats = ("CR", "PR", "SD", "NON-CR/NON-PD", "PD", "NE", "MISSING")
    for section, code in (("confirmed", "CBOR"), ("unconfirmed", "BOR")):
        best = adrs[adrs["PARAMCD"] == code].drop_duplicates("USUBJID").set_index("USUBJID")["AVALC"]
        m = membership.assign(best=membership["patient_id"].map(best).fillna("MISSING"))
        wide = pd.crosstab([m["group"], m["column"]], m["best"]).reindex(columns=list(cats), fill_value=0)
        wide = wide.reindex(pd.MultiIndex.from_tuples(_column_order(membership)), fill_value=0)
        n = wide.sum(axis=1)
        for cat in cats:
            rows.append(pd.DataFrame({"section": section, "measure": cat, "k": wide[cat], "n": n}))
        rows.append(
            pd.DataFrame({"section": "rates", "measure": f"ORR {section}", "k": wide["CR"] + wide["PR"], "n": n})
        )
        rows.append(pd.DataFrame({"section": "rates", "measure": f"CR {section}", "k": wide["CR"], "n": n}))
    out = pd.concat(rows).rename_axis(["group", "column"]).reset_index()
    props = [compute_proportion(k, n, conf) for k, n in zip(out["k"], out["n"], strict=True)]  # one per cell
    out["estimate"] = [p.estimate for p in props]
    out["lower"] = [p.lower for p in props]
    out["upper"] = [p.upper for p in props]
    return out


def summarise_ae_by_drug(
    ae: pd.DataFrame, exposure: pd.DataFrame, *, window_days: int = 30, drugs: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Worst-grade incidence of treatment-emergent AEs per drug, with the patients who took it as denominator.

    An AE belongs to a drug when its onset falls within one of that drug's intervals or up to ``window_days``
    after it (:func:`tkitrack.outcomes.safety.derive_ae_treatment_phase`). Each patient counts once per term,
    at their worst grade; :data:`ANY_TERM` counts patients with any AE, :data:`AE_SERIOUS` those with a serious
    one and :data:`AE_DISCONTINUATION` those with an AE after which the drug was withdrawn.

    Returns
    -------
    tuple of DataFrame
        ``drug, N, term, n_any, n_grade3`` (grade >= 3) per drug and term (and for :data:`ANY_DRUG`, the AEs
        during any of the drugs among everyone who took one), rows ordered any-AE first, then terms by patients
        over all drugs; and the AEs in no drug's period (``patient_id, term, grade, start``),
        which the table must footnote.
    """
    ex = check_frame(exposure, "exposure", ["patient_id", "drug", "start", "end"], dates=["start", "end"])
    names = sorted(ex["drug"].dropna().unique(), key=str.lower) if drugs is None else list(drugs)
    a = ae.reset_index(drop=True)
    if "serious" not in a.columns:
        a["serious"] = False
    if "action" not in a.columns:
        a["action"] = None
    parts, in_any = [], np.zeros(len(a), dtype=bool)
    checked, hits = derive_ae_drug_onsets(a, ex, window_days=window_days)  # every AE against every drug, once
    for drug in [*names, ANY_DRUG]:  # a handful of drugs, then all of them together
        chosen = names if drug == ANY_DRUG else [drug]
        # derive_ae_treatment_phase(a, ex, window_days=window_days, drugs=chosen)'s on-treatment rows
        on_treatment = np.isin(np.arange(len(checked)), _select_drugs(hits, chosen)["row"].to_numpy())
        on = checked[on_treatment]
        in_any |= on_treatment
        takers = ex.loc[ex["drug"].str.lower().isin([d.lower() for d in chosen]), "patient_id"].nunique()
        serious = on[on["serious"].fillna(False).astype(bool)].assign(term=AE_SERIOUS)
        stopped = on[on["action"].astype("string").str.lower().eq("withdrawn").fillna(False)]
        frames = [on.assign(term=ANY_TERM), on, serious, stopped.assign(term=AE_DISCONTINUATION)]
        allrows = pd.concat(frames, ignore_index=True)
        worst = allrows.groupby(["term", "patient_id"], as_index=False)["grade"].max()
        per_term = worst.groupby("term").agg(
            n_any=("patient_id", "size"), n_grade3=("grade", lambda g: int((g >= 3).sum()))
        )
        parts.append(per_term.reset_index().assign(drug=drug, N=takers))
    cols = ["drug", "N", "term", "n_any", "n_grade3"]
    out = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    special = {ANY_TERM: 0, AE_SERIOUS: 2, AE_DISCONTINUATION: 3}
    total = out[out["drug"] == ANY_DRUG].groupby("term")["n_any"].sum()
    out["_rank"] = out["term"].map(special).fillna(1)
    out["_total"] = out["term"].map(total)
    out = out.sort_values(["_rank", "_total", "term"], ascending=[True, False, True], kind="stable")
    outside = a.loc[~in_any, [c for c in ("patient_id", "term", "grade", "start") if c in a.columns]]
    return out.drop(columns=["_rank", "_total"]).reset_index(drop=True), outside.reset_index(drop=True)


def derive_relative_dose_intensity(
    summary: pd.DataFrame, patients: pd.DataFrame, catalogue: pd.DataFrame
) -> pd.DataFrame:
    """Add the catalogue dose and the relative dose intensity to :func:`derive_exposure_summary` rows.

    The catalogue gives each drug's usual dose, unit and frequency (``vocab/drugs.csv``). The received dose per
    day is compared in the catalogue's unit: mg/m2/day (dose intensity, Mosteller BSA), mg/day, or mg/kg/day
    (cumulative mg over days on drug, per kg of the recorded weight). ``relative_dose_intensity`` is that ratio
    (1 = the catalogue dose); NaN when a height, weight or conversion is missing or the drug is not in the
    catalogue.

    Returns the summary plus ``catalogue_dose, catalogue_unit, catalogue_frequency, catalogue_per_day,
    received_per_day, relative_dose_intensity, months_on_drug`` (days / 30.4375).
    """
    from tkitrack.schemas.dosing import FREQUENCY_PER_DAY

    cat = catalogue.assign(key=catalogue["drug"].str.lower()).drop_duplicates("key").set_index("key")
    key = summary["drug"].str.lower()
    out = summary.copy()
    out["catalogue_dose"] = key.map(cat["usual_dose"]).astype("float64")
    out["catalogue_unit"] = key.map(cat["usual_unit"])
    out["catalogue_frequency"] = key.map(cat["usual_frequency"])
    per_day = out["catalogue_frequency"].astype("string").str.upper().map(FREQUENCY_PER_DAY).astype("float64")
    out["catalogue_per_day"] = out["catalogue_dose"] * per_day
    weight = out["patient_id"].map(patients.set_index("patient_id")["weight_kg"]).astype("float64")
    mg_day = out["cumulative_dose_mg"].astype("float64") / out["days_on_drug"].astype("float64")
    unit = out["catalogue_unit"].astype("string").str.lower()
    out["received_per_day"] = np.select(
        [unit.eq("mg/m2").fillna(False), unit.eq("mg").fillna(False), unit.eq("mg/kg").fillna(False)],
        [out["dose_intensity_mg_m2_day"].astype("float64"), mg_day, mg_day / weight],
        default=np.nan,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        out["relative_dose_intensity"] = out["received_per_day"] / out["catalogue_per_day"].where(
            out["catalogue_per_day"] > 0
        )
    out["months_on_drug"] = out["days_on_drug"].astype("float64") / 30.4375
    return out
