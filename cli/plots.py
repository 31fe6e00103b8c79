"""Figure commands: `swimmer`, `plot KIND`, `report`."""

from __future__ import annotations

from pathlib import Path

import typer

from tkitrack.cli._common import command, fail, open_db

__all__ = ["KINDS", "app", "build_report"]

app = typer.Typer()
KINDS = ("km", "cif", "waterfall", "spider", "ae", "timeline")
_SUFFIXES = (".html", ".png", ".svg", ".pdf")


def _frames():
    from tkitrack.schemas.storage import transaction
    from tkitrack.schemas.store import read_frames

    with transaction(open_db()) as session:
        return read_frames(session)


def _check_output(output: Path) -> None:
    if output.suffix.lower() not in _SUFFIXES:
        raise fail(f"-o {output}: the file must end in {', '.join(_SUFFIXES)}", 2)


def _swimmer_data(frames, origin: str, ae_min_grade: int):
    from tkitrack.outcomes.cohort import derive_swimmer_from_records

    return derive_swimmer_from_records(frames, origin=origin, ae_min_grade=ae_min_grade)


@command(app, "swimmer")
def swimmer(
    output: Path = typer.Option(..., "--output", "-o", help="FILE.html, .png, .svg or .pdf"),
    origin: str = typer.Option(
        "diagnosis", "--origin", help="Day 0: diagnosis, first_dose, or randomisation (the patient's reference date)"
    ),
    sort: str = typer.Option("duration", "--sort", help="duration, start or ID"),
    group_by: str | None = typer.Option(None, "--group-by", help="histology, fusion_partner, kinase_gene, sex, site"),
    ae_min_grade: int = typer.Option(1, "--ae-min-grade", min=1, max=5, help="Mark AEs of this grade or more"),
) -> None:
    """Swimmer plot: a lane per patient, drug and dose segments, responses, events and AEs, ongoing arrows."""
    from tkitrack.dashboards.report import write_figure
    from tkitrack.dashboards.swimmer import figure_swimmer

    _check_output(output)
    sort = sort.lower()
    origin = {"randomisation": "reference", "randomization": "reference"}.get(origin, origin)
    if origin not in ("diagnosis", "first_dose", "reference"):
        raise fail(f"--origin must be diagnosis, first_dose or reference, got {origin!r}", 2)
    if sort not in ("duration", "start", "id"):
        raise fail(f"--sort must be duration, start or id, got {sort!r}", 2)
    data = _swimmer_data(_frames(), origin, ae_min_grade)
    if group_by is not None and group_by not in data.lanes.columns:
        raise fail(f"--group-by {group_by!r} is not a patient attribute; use histology, fusion_partner, "
                   "kinase_gene, sex, site or age_group", 2)  # fmt: skip
    fig = figure_swimmer(data, sort=sort, group_by=group_by)
    write_figure(fig, output)
    typer.echo(f"wrote {output} ({len(data.lanes)} patients, {len(fig.data)} traces)")


@command(app, "plot")
def plot(
    kind: str = typer.Argument(..., help="km, cif, waterfall, spider, ae or timeline"),
    output: Path = typer.Option(..., "--output", "-o", help="FILE.html, .png, .svg or .pdf"),
    endpoint: str = typer.Option("PFS", "--endpoint", help="(km) OS, PFS, DOR, TOT or RFS_STOP"),
    by: str | None = typer.Option(None, "--by", help="(km) group by a patient attribute"),
    patient: str | None = typer.Option(None, "--patient", help="(timeline) the patient"),
) -> None:
    """Draw one figure: Kaplan-Meier (km), relapse after CR (cif), waterfall, spider, AE summary, or timeline."""
    from tkitrack.dashboards.report import write_figure

    _check_output(output)
    if kind not in KINDS:
        raise fail(f"unknown plot {kind!r}; choose one of {', '.join(KINDS)}", 2)
    frames = _frames()
    if kind == "km":
        from tkitrack.dashboards.survival import figure_km
        from tkitrack.outcomes.cohort import GROUPINGS, derive_endpoint, derive_patient_attributes
        from tkitrack.outcomes.summary import summarise_endpoint

        data = derive_endpoint(frames, endpoint)
        if by is not None:
            if by not in GROUPINGS:
                raise fail(f"--by must be one of {', '.join(GROUPINGS)}", 2)
            data = data.merge(derive_patient_attributes(frames)[["patient_id", by]], on="patient_id")
        s = summarise_endpoint(data, group=by)
        fig = figure_km(s.curves, medians=True, title=f"{endpoint.upper()} (days from the first dose)")
    elif kind == "cif":
        from tkitrack.dashboards.survival import figure_cif
        from tkitrack.outcomes.cohort import derive_relapse_after_cr
        from tkitrack.outcomes.competing import compute_cif
        from tkitrack.outcomes.stopping import derive_stopping_cohort

        cohort = derive_stopping_cohort(frames["exposure"], frames["assessment"], frames["disease_event"],
                                        frames["followup"])  # fmt: skip
        comp = derive_relapse_after_cr(cohort)
        fig = figure_cif({"relapse after CR": compute_cif(comp["time"], comp["status"])},
                         title="Cumulative incidence of relapse after CR (death competing)")  # fmt: skip
    elif kind in ("waterfall", "spider"):
        from tkitrack.dashboards.response import figure_spider, figure_waterfall
        from tkitrack.outcomes.tumour import derive_best_percent_change, derive_percent_change

        if kind == "waterfall":
            fig = figure_waterfall(derive_best_percent_change(frames["assessment"]))
        else:
            fig = figure_spider(derive_percent_change(frames["assessment"]))
    elif kind == "ae":
        from tkitrack.dashboards.safety import figure_ae_summary
        from tkitrack.outcomes.safety import summarise_worst_grade

        fig = figure_ae_summary(summarise_worst_grade(frames["ae"]), n_total=len(frames["patient"]))
    else:
        from tkitrack.dashboards.safety import figure_patient_timeline

        if patient is None:
            raise fail("plot timeline needs --patient ID", 2)
        fig = figure_patient_timeline(_swimmer_data(frames, "diagnosis", 1), patient)
    write_figure(fig, output)
    typer.echo(f"wrote {output}")


def build_report(frames, output: Path, *, title: str, provenance: dict) -> Path:
    """Validate, derive and write the cohort report for these frames (shared by `report` and `demo`)."""
    from tkitrack.dashboards.cohort_report import write_cohort_report

    return write_cohort_report(frames, output, title=title, provenance=provenance)


def _data_version(engine) -> str:
    """The audit chain head: every change moves it, so it names the exact data a report was made from."""
    from sqlalchemy import select

    from tkitrack.schemas.audit import AuditHead
    from tkitrack.schemas.storage import transaction

    with transaction(engine) as session:
        head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    return "empty" if head is None else f"audit entry {head.seq}, hash {head.hash[:16]}"


@command(app, "report")
def report(
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML file to write"),
    title: str = typer.Option("tkitrack cohort report", "--title", help="Report title"),
) -> None:
    """Write the self-contained offline HTML report: cohort, response, swimmer, survival, stopping, AEs, validation."""
    from tkitrack.schemas.storage import current_revision, redact_url

    if output.suffix.lower() != ".html":
        raise fail(f"-o {output}: the report is an .html file", 2)
    engine = open_db()
    frames = _frames()
    provenance = {"database": redact_url(str(engine.url)), "schema revision": current_revision(engine),
                  "data version": _data_version(engine), "patients": len(frames["patient"])}  # fmt: skip
    path = build_report(frames, output, title=title, provenance=provenance)
    typer.echo(f"wrote {path.resolve()}; open it in a browser (it works offline)")
