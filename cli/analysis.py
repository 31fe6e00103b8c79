"""Investigator commands: `derive`, `survival`, `cuminc`, `stopping`, `safety`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import typer

from tkitrack.cli._common import (
    command,
    cutoff_option,
    derived,
    fail,
    force_option,
    index_drug_option,
    parse_numbers,
    read_records,
    renamed,
    render,
    retired_option,
)

__all__ = ["app", "parse_event"]

app = typer.Typer()
_EVENT = re.compile(r"^\s*([^=!<>]+?)\s*(==|!=)\s*(.+?)\s*$")


def parse_event(expression: str, columns) -> tuple[str, str, str]:
    """Split ``COL==VALUE`` / ``COL!=VALUE`` into (column, operator, value); a bare column means COL is true/1."""
    from tkitrack.schemas.errors import InputError

    match = _EVENT.match(expression)
    col, op, value = match.groups() if match else (expression.strip(), "==", "1")
    if col not in columns:
        raise InputError(f"--event {expression!r}: column {col!r} not in the file; it has {', '.join(columns)}")
    return col, op, value.strip("'\"")


def _frames(cutoff: str | None = None):
    return read_records(cutoff)


#: ``--format`` of a summary: a terminal table, or nested JSON for scripts (not a flat listing, so no CSV).
_SummaryFormat = Literal["table", "json"]
_BY_HELP = ("Group by a patient attribute (histology, fusion_partner, kinase_gene, sex, ...); with --csv, a column "
            "of the file")  # fmt: skip


@command(app, "derive")
def derive(
    output: Path | None = typer.Option(None, "--output", "-o", help="Folder to write the ADaM datasets into"),
    sdtm: Path | None = typer.Option(None, "--sdtm", help="Derive from this SDTM folder instead of the database"),
    last_alive: Path | None = typer.Option(
        None, "--last-alive", help="(--sdtm) CSV with USUBJID, LSTALVDT, e.g. an ADSL"
    ),
    reference: Literal["auto", "RANDDT", "TRTSDT"] = typer.Option("auto", "--reference", case_sensitive=False,
                                                                  help="Time origin"),
    fmt: Literal["xpt", "json", "csv", "parquet"] = typer.Option("csv", "--format", "-f", help="File format"),
    study_id: str = typer.Option("TKITRACK", "--study-id", envvar="TKITRACK_STUDY_ID",
                                 help="STUDYID when deriving from the database (an SDTM folder has its own)"),
    index_drug: str | None = index_drug_option(),
    cutoff: str | None = cutoff_option(),
    force: bool = force_option(),
    old_adam: Path | None = retired_option("--adam"),
) -> None:  # fmt: skip
    """Derive ADaM datasets (ADSL, ADRS with BOR/CBOR/RSP/CRSP/..., ADTTE with OS, PFS, RSD (DoR), TTR, TTD, TFI,
    RFSSTP, ADAE, ADEX) and write them with define.xml and a manifest."""
    from tkitrack.outcomes.adam import derive_adam_datasets
    from tkitrack.outcomes.cohort import derive_adam_from_records
    from tkitrack.outcomes.tte import derive_adam
    from tkitrack.schemas.cdisc_files import write_datasets
    from tkitrack.schemas.errors import InputError

    ref = reference.upper()
    folder = renamed(output, old_adam, old="--adam DIR", new="-o DIR")
    if folder is None:
        raise fail("give the folder to write into: tkitrack derive -o DIR", 2)
    if sdtm is not None and cutoff is not None:
        raise fail("--cutoff applies to the database; cut an SDTM folder before deriving from it", 2)
    if sdtm is not None:
        from tkitrack.schemas.sdtm import read_sdtm

        domains = {k.lower(): v for k, v in read_sdtm(sdtm).items()}
        lstalv = None
        if last_alive is not None:  # the SDTM domains of last known alive (labs, vitals) may not be at hand
            import pandas as pd

            try:
                lstalv = pd.read_csv(last_alive, usecols=["USUBJID", "LSTALVDT"])
            except (OSError, ValueError) as err:
                raise InputError(f"--last-alive {last_alive}: needs columns USUBJID and LSTALVDT ({err})") from None
        out = derive_adam(domains, lstalvdt=lstalv, reference="RANDDT" if ref == "AUTO" else ref,
                          index_drug=index_drug)  # fmt: skip
    else:
        from tkitrack.schemas.sdtm import records_to_sdtm

        frames = _frames(cutoff)
        domains = records_to_sdtm(frames, study=study_id)
        out = derive_adam_from_records(frames, reference="TRTSDT" if ref == "AUTO" else ref, index_drug=index_drug)
    datasets = derive_adam_datasets(domains, out)
    study = str(datasets["ADSL"]["STUDYID"].iloc[0]) if len(datasets["ADSL"]) else study_id
    suffix = {"xpt": "xpt", "json": "json", "csv": "csv", "parquet": "parquet"}[fmt]
    from tkitrack.schemas.outputs import check_outputs

    check_outputs([folder / f"{k.lower()}.{suffix}" for k in datasets] + [folder / "define.xml", folder / "manifest.json"],
                  force=force)  # fmt: skip
    write_datasets(datasets, folder, fmt=fmt, study=study or study_id, standard="ADaM")
    typer.echo(f"wrote {', '.join(f'{k.lower()}.{suffix} ({len(v)} rows)' for k, v in datasets.items())}, "
               f"define.xml and manifest.json to {folder}")  # fmt: skip


def _read_csv(csv: Path, time: str, columns: tuple[str | None, ...]):
    """A CSV for `survival --csv` / `cuminc --csv`, with the named columns checked (errors name the option)."""
    import pandas as pd

    from tkitrack.schemas.errors import InputError

    try:
        data = pd.read_csv(csv)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"{csv}: cannot read it as CSV ({err})") from None
    for option, col in (("--time", time), *zip(("--by", "--status"), columns, strict=False)):
        if col is not None and col not in data.columns:
            raise InputError(f"{option} {col!r}: column not in {csv}; it has {', '.join(data.columns)}")
    return data


def _check_conf(conf_level: float) -> None:
    if not 0 < conf_level < 1:
        raise fail(f"--conf-level must lie between 0 and 1 (e.g. 0.95), got {conf_level}", 2)


@command(app, "survival")
def survival(
    endpoint: str = typer.Option(
        "PFS", "--endpoint", "-e", help="OS, PFS, DOR, TTR, TTD, TFI or RFSSTP (database; TOT = TTD, RFS_STOP = RFSSTP)"
    ),
    by: str | None = typer.Option(None, "--by", help=_BY_HELP),
    csv: Path | None = typer.Option(None, "--csv", help="Summarise any CSV instead of the database"),
    time: str | None = typer.Option(None, "--time", help="(--csv) time column"),
    event: str | None = typer.Option(None, "--event", help="(--csv) event: COL==VALUE, e.g. 'status==2'"),
    conf_type: Literal["log", "log-log", "plain"] = typer.Option("log", "--conf-type", help="CI transform"),
    conf_level: float = typer.Option(0.95, "--conf-level", help="Confidence level of every interval"),
    median_rule: Literal["first", "midpoint"] = typer.Option(
        "first", "--median-rule", help="first, or midpoint (R, flat at 0.5)"
    ),
    landmarks: str = typer.Option("", "--landmarks", help="Days for survival estimates, e.g. 365,730"),
    quartiles: bool = typer.Option(False, "--quartiles", help="Also the 25th and 75th percentiles with CIs"),
    rmst: float | None = typer.Option(None, "--rmst", help="Restricted mean survival time to this many days"),
    cox: bool = typer.Option(False, "--cox", help="Also Cox hazard ratios of each group (exploratory)"),
    cox_reference: str | None = typer.Option(None, "--cox-reference", help="Reference group (default: first)"),
    fmt: _SummaryFormat = typer.Option("table", "--format", "-f", help="Output format"),
    index_drug: str | None = index_drug_option(),
    cutoff: str | None = cutoff_option(),
    old_group: str | None = retired_option("--group"),
) -> None:
    """Kaplan-Meier summary: n, events, median (quartiles) with CI or 'not reached', landmarks, RMST, numbers at
    risk, median follow-up, log-rank and Cox (exploratory)."""
    import json

    from tkitrack.outcomes.endpoints import endpoint_info
    from tkitrack.outcomes.summary import summarise_endpoint
    from tkitrack.schemas.errors import InputError

    by = renamed(by, old_group, old="--group COL", new="--by COL")
    _check_conf(conf_level)
    marks = parse_numbers(landmarks, "--landmarks")
    if csv is not None and (cutoff is not None or index_drug is not None):
        raise fail("--cutoff and --index-drug apply to the database, not to --csv", 2)
    if csv is not None:
        import pandas as pd

        if not (time and event):
            raise fail("--csv needs --time COL and --event 'COL==VALUE'", 2)
        data = _read_csv(csv, time, (by,))
        col, op, value = parse_event(event, list(data.columns))
        hit = data[col].astype(str) == value
        if pd.api.types.is_numeric_dtype(data[col]):
            try:
                hit = data[col] == float(value)
            except ValueError:
                raise InputError(f"--event {event!r}: {col} is numeric, {value!r} is not a number") from None
        data["_event"] = ~hit if op == "!=" else hit
        title, grp = f"{csv.name}: {time}, event {event}", by
    else:
        from tkitrack.outcomes.cohort import GROUPINGS

        if by is not None and by not in GROUPINGS:
            raise fail(f"--by must be one of {', '.join(GROUPINGS)}, got {by!r}", 2)
        cohort = derived(cutoff, index_drug)
        data = cohort.endpoint(endpoint).rename(columns={"event": "_event"})
        time, grp = "time", by
        if by is not None:
            data = data.merge(cohort.patient_attributes()[["patient_id", by]], on="patient_id", how="left")
        info = endpoint_info(endpoint)
        title = f"{info.title}, days" + (f", by {by.replace('_', ' ')}" if by else "")
    s = summarise_endpoint(data, time=time, event="_event", group=grp, conf_type=conf_type, median_rule=median_rule,
                           landmarks=marks, cox=cox, conf=conf_level, rmst_horizon=rmst, cox_reference=cox_reference)  # fmt: skip
    if fmt == "json":
        out = {"title": title, "summary": json.loads(s.table.to_json(orient="records")),
               "numbers_at_risk": json.loads(s.risk.to_json(orient="records")),
               "median_followup_reverse_km": s.followup, "notes": s.notes}  # fmt: skip
        if s.logrank is not None:
            out["logrank"] = {"chisq": s.logrank.chisq, "df": s.logrank.df, "p": s.logrank.p, "text": s.logrank.text,
                              "label": s.logrank.label, "groups": json.loads(s.logrank.table.to_json(orient="records"))}  # fmt: skip
        if s.cox is not None:
            out["cox"] = {"comparisons": json.loads(s.cox.table.to_json(orient="records")), "n": s.cox.n,
                          "events": s.cox.events, "conf": s.cox.conf, "likelihood_ratio": {"chisq": s.cox.lr_chisq,
                          "df": s.cox.lr_df, "p": s.cox.lr_p}, "text": s.cox.text()}  # fmt: skip
        typer.echo(json.dumps(out, indent=2))
        return
    shown, risk = s.text_table(quartiles=quartiles), s.risk.astype({"time": int}).rename(columns={"time": "Day"})
    if by is not None and csv is None:  # coded attributes (histology, sex...) read as their labels
        from tkitrack.dashboards.labels import value_label

        shown["Group"] = [value_label(by, g) for g in shown["Group"]]
        risk = risk.rename(columns={g: value_label(by, g) for g in risk.columns[1:]})
    render(shown, "table", title=title)
    render(risk, "table", title="Numbers at risk")
    typer.echo(f"median follow-up (reverse Kaplan-Meier), days: {s.followup}")
    if s.logrank is not None:
        typer.echo(f"log-rank (exploratory): {s.logrank.text}")
    if s.cox is not None:
        typer.echo(f"Cox (exploratory; {s.cox.events} events in {s.cox.n} patients):")
        for line in s.cox.text():
            typer.echo(f"  {line}")
        if s.cox.lr_df:
            from tkitrack.outcomes.reporting import format_p_clause

            typer.echo(
                f"  likelihood-ratio test {s.cox.lr_chisq:.2f} on {s.cox.lr_df} df, {format_p_clause(s.cox.lr_p)}"
            )
    for note in s.notes:
        typer.echo(f"note: {note}")


@command(app, "cuminc")
def cuminc(
    endpoint: str = typer.Option(
        "RELAPSE_AFTER_CR", "--endpoint", "-e", help="RELAPSE_AFTER_CR or RELAPSE_AFTER_STOP (database; death competes)"
    ),
    by: str | None = typer.Option(None, "--by", help=_BY_HELP),
    csv: Path | None = typer.Option(None, "--csv", help="Summarise any CSV instead of the database"),
    time: str | None = typer.Option(None, "--time", help="(--csv) time column"),
    status: str | None = typer.Option(None, "--status", help="(--csv) status column: 0 censored, then codes"),
    event_code: int = typer.Option(1, "--event-code", help="(--csv) status code of the event of interest"),
    competing_code: str = typer.Option("2", "--competing-code", help="(--csv) competing status codes, e.g. 2,3"),
    conf_type: Literal["log-log", "log"] = typer.Option("log-log", "--conf-type", help="CI transform"),
    conf_level: float = typer.Option(0.95, "--conf-level", help="Confidence level of every interval"),
    landmarks: str = typer.Option("365,730", "--landmarks", help="Days for the estimates, e.g. 365,730"),
    fmt: _SummaryFormat = typer.Option("table", "--format", "-f", help="Output format"),
    old_group: str | None = retired_option("--group"),
) -> None:
    """Cumulative incidence with competing events (Aalen-Johansen, cmprsk's variance) by group, and Gray's test."""
    import json

    from tkitrack.outcomes.endpoints import endpoint_info
    from tkitrack.outcomes.summary import summarise_competing

    by = renamed(by, old_group, old="--group COL", new="--by COL")
    _check_conf(conf_level)
    marks = parse_numbers(landmarks, "--landmarks")
    competing = [int(x) for x in parse_numbers(competing_code, "--competing-code")]
    if csv is not None:
        if not (time and status):
            raise fail("--csv needs --time COL and --status COL", 2)
        data, grp, st = _read_csv(csv, time, (by, status)), by, status
        title = f"{csv.name}: cumulative incidence of {status} == {event_code}, {time}"
    else:
        from tkitrack.outcomes.cohort import GROUPINGS

        if by is not None and by not in GROUPINGS:
            raise fail(f"--by must be one of {', '.join(GROUPINGS)}, got {by!r}", 2)
        cohort = derived()
        data = cohort.competing_endpoint(endpoint)
        time, st, grp, event_code, competing = "time", "status", by, 1, [2]
        if by is not None:
            data = data.merge(cohort.patient_attributes()[["patient_id", by]], on="patient_id", how="left")
        title = f"{endpoint_info(endpoint).title}, days" + (f", by {by.replace('_', ' ')}" if by else "")
    s = summarise_competing(data, time=time, status=st, group=grp, event=event_code, competing=competing,
                            conf=conf_level, conf_type=conf_type, landmarks=marks)  # fmt: skip
    if fmt == "json":
        out = {"title": title, "summary": json.loads(s.table.to_json(orient="records")), "notes": s.notes}
        if s.gray is not None:
            out["gray_test"] = {"stat": s.gray.stat, "df": s.gray.df, "p": s.gray.p, "text": s.gray.text}
        typer.echo(json.dumps(out, indent=2))
        return
    shown = s.text_table()
    if by is not None and csv is None:
        from tkitrack.dashboards.labels import value_label

        shown["Group"] = [value_label(by, g) for g in shown["Group"]]
    render(shown, "table", title=title)
    if s.gray is not None:
        typer.echo(f"{s.gray.text} (exploratory)")
    for note in s.notes:
        typer.echo(f"note: {note}")


@command(app, "stopping")
def stopping(
    landmarks: str = typer.Option("90,180,365", "--landmarks", help="Days after CR at which status is fixed"),
    conf_type: Literal["log", "log-log", "plain"] = typer.Option(
        "log", "--conf-type", help="CI transform of the medians"
    ),
    conf_level: float = typer.Option(0.95, "--conf-level", help="Confidence level of every interval"),
    median_rule: Literal["first", "midpoint"] = typer.Option(
        "first", "--median-rule", help="first, or midpoint (R, flat at 0.5)"
    ),
    stop_reason: list[str] = typer.Option(None, "--stop-reason",
                                          help="Only stops for this reason (complete_response, toxicity, ...); repeat"),
    fmt: _SummaryFormat = typer.Option("table", "--format", "-f", help="Output format"),
    index_drug: str | None = index_drug_option(),
    cutoff: str | None = cutoff_option(),
) -> None:  # fmt: skip
    """Is it safe to stop after complete response? Landmark analysis, time-varying Cox, per-patient listing and the
    cumulative incidence of relapse after stopping in CR (death competing); each says its n, events and who is out."""
    import json

    from tkitrack.outcomes.cohort import derive_adam_from_records
    from tkitrack.outcomes.stopping import (
        derive_relapse_after_stop,
        derive_stopping_exclusions,
        fit_time_varying_cox,
        landmark_analysis,
        list_stopped_patients,
        restrict_stopping_cohort,
    )
    from tkitrack.outcomes.summary import summarise_competing
    from tkitrack.schemas.vocabulary import REASONS

    reasons = list(stop_reason or []) or None
    for r in reasons or []:
        if r not in REASONS:
            raise fail(f"--stop-reason {r!r} is not one of {', '.join(REASONS)}", 2)
    _check_conf(conf_level)
    data = derived(cutoff, index_drug)  # derived once per data version (outcomes/cache.py)
    cohort = data.stopping_cohort()
    excluded = derive_stopping_exclusions(cohort, reasons)
    used = restrict_stopping_cohort(cohort, reasons)
    marks = landmark_analysis(used, tuple(int(x) for x in parse_numbers(landmarks, "--landmarks")), median_rule=median_rule,
                              conf_type=conf_type, conf=conf_level)  # fmt: skip
    tv = fit_time_varying_cox(used, conf=conf_level)
    stopped = list_stopped_patients(used)
    adam = data.adam() if reasons is None else data.get(
        "adam", lambda f: derive_adam_from_records(f, index_drug=index_drug, stop_reasons=reasons),
        reference="TRTSDT", stop_reasons=sorted(reasons))  # fmt: skip
    rel = derive_relapse_after_stop(adam["adtte"])
    cif = summarise_competing(rel, conf=conf_level, landmarks=(365, 730)) if len(rel) else None
    only = f" for {' or '.join(reasons)}" if reasons else ""
    header = (f"{len(cohort)} patients with an index therapy; {len(used)} analysed (in CR on it), {len(stopped)} of "
              f"them stopped it{only}; {len(excluded)} left out. Relapse counted from the CR date; stopped vs "
              "continued is never compared from baseline")  # fmt: skip
    why = excluded.groupby("reason")["patient_id"].agg(lambda p: ", ".join(map(str, p))).to_dict()
    cif_row = cif.table.iloc[0].to_dict() if cif is not None else {"n": 0, "events": 0, "competing": 0}
    cif_text = (f"relapse after stopping in CR{only} (death competing): {int(cif_row['n'])} patients, "
                f"{int(cif_row['events'])} relapses, {int(cif_row['competing'])} deaths without relapse")  # fmt: skip
    if fmt == "json":
        typer.echo(json.dumps({
            "cohort": header,
            "excluded": json.loads(excluded.to_json(orient="records")),
            "landmarks": json.loads(marks.to_json(orient="records")),
            "time_varying_cox": {"hazard_ratio": tv.hazard_ratio, "lower": tv.lower, "upper": tv.upper,
                                 "n_patients": tv.n_patients, "n_events": tv.n_events,
                                 "n_events_off_drug": tv.n_events_off_drug, "n_stopped": tv.n_stopped,
                                 "warning": tv.warning_text},
            "stopped": json.loads(stopped.to_json(orient="records", date_format="iso")),
            "relapse_after_stop": {"text": cif_text, "summary": json.loads(cif.table.to_json(orient="records"))
                                   if cif is not None else [], "notes": cif.notes if cif is not None else []},
        }, indent=2, default=str))  # fmt: skip
        return
    typer.echo(header)
    for reason, who in why.items():
        typer.echo(f"left out ({reason}): {who}")
    from tkitrack.dashboards.tables_stopping import table_landmarks, table_stopped

    for pub in (table_landmarks(marks, conf=conf_level), table_stopped(stopped)):
        render(pub.to_frame(), "table", title=pub.title, wide=("Note",))
        for note in pub.footnotes:
            typer.echo(f"note: {note}")
    if tv.warning_text:
        typer.echo(f"time-varying Cox (stopping as a time-varying covariate): {tv.n_patients} patients, "
                   f"{tv.n_events} events; not shown: {tv.warning_text}")  # fmt: skip
    else:
        typer.echo(f"time-varying Cox: HR for off vs on drug {tv.hazard_ratio:.2f} ({conf_level * 100:g}% CI "
                   f"{tv.lower:.2f}-{tv.upper:.2f}); {tv.n_patients} patients, {tv.n_events} events (exploratory)")  # fmt: skip
    typer.echo(f"cumulative incidence of {cif_text}")
    if cif is not None:
        render(cif.text_table(), "table", title="Cumulative incidence of relapse after stopping in CR, days")


@command(app, "safety")
def safety(
    fmt: _SummaryFormat = typer.Option("table", "--format", "-f", help="Output format"),
    cutoff: str | None = cutoff_option(),
) -> None:
    """Exposure per patient and drug, AE incidence by CTCAE term and worst grade (patients with at least one dose as
    denominator), AEs on vs off treatment."""
    frames = _frames(cutoff)
    if fmt == "table":
        from tkitrack.dashboards.tables_safety import safety_listings

        for pub in safety_listings(frames):
            render(pub.to_frame(), "table", title=pub.title, wide=("Reasons for dose changes",))
            for note in pub.footnotes:
                typer.echo(f"note: {note}")
        return
    import json

    from tkitrack.outcomes.exposure import derive_exposure_summary
    from tkitrack.outcomes.safety import summarise_ae_incidence, summarise_ae_on_off_treatment

    exposure = derive_exposure_summary(frames["exposure"], frames["patient"], frames["followup"])
    cols = ["patient_id", "drug", "days_on_drug", "n_interruptions", "n_dose_changes", "dose_change_reasons",
            "stop_reason", "cumulative_dose_mg", "dose_intensity_mg_m2_day"]  # fmt: skip
    tables = {
        "exposure": exposure[cols].round(1),
        "ae_incidence": summarise_ae_incidence(frames["ae"], frames["patient"], frames["exposure"]),
        "ae_on_off_treatment": summarise_ae_on_off_treatment(frames["ae"], frames["exposure"]),
    }
    typer.echo(json.dumps({k: json.loads(t.to_json(orient="records")) for k, t in tables.items()}, indent=2))
