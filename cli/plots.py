"""Figure commands: `swimmer`, `plot KIND`, `report`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

import typer

from tkitrack.cli._common import (
    command,
    cutoff_option,
    derived,
    fail,
    force_option,
    index_drug_option,
    open_db,
    parse_numbers,
    patient_argument,
    publish_head,
    read_records,
    renamed,
    retired_option,
    shown_path,
)

__all__ = ["KINDS", "app", "build_report"]

app = typer.Typer()
Kind = Literal["km", "cif", "waterfall", "spider", "ae", "timeline"]
KINDS: tuple[str, ...] = get_args(Kind)
_SUFFIXES = (".html", ".png", ".svg", ".pdf")


def _frames(cutoff: str | None = None):
    return read_records(cutoff)


def _check_output(output: Path) -> None:
    if output.suffix.lower() not in _SUFFIXES:
        raise fail(f"-o {output}: the file must end in {', '.join(_SUFFIXES)}", 2)


def _swimmer_data(frames, origin: str, ae_min_grade: int):
    from tkitrack.outcomes.cohort import derive_swimmer_from_records

    return derive_swimmer_from_records(frames, origin=origin, ae_min_grade=ae_min_grade)


def _size_options(width: int | None, height: int | None, scale: float) -> None:
    if (width is not None and not 100 <= width <= 10000) or (height is not None and not 100 <= height <= 10000):
        raise fail(f"--width and --height are pixels between 100 and 10000, got {width} x {height}", 2)
    if not 0.1 <= scale <= 10:
        raise fail(f"--scale multiplies the pixels of a PNG (e.g. 2 for print), between 0.1 and 10; got {scale}", 2)


def _write(fig, output: Path, width: int | None, height: int | None, scale: float, *, force: bool = False) -> None:
    """Write the figure at the chosen size: HTML takes the layout size, images are rendered at it; an existing
    file is replaced only with --force."""
    from tkitrack.dashboards.report import write_figure

    if width is not None or height is not None:
        fig.update_layout(**{k: v for k, v in (("width", width), ("height", height)) if v is not None})
    write_figure(fig, output, width=width, height=height, scale=scale, force=force)


_WIDTH = typer.Option(None, "--width", help="Figure width in pixels (PNG/SVG/PDF export and HTML layout)")
_HEIGHT = typer.Option(None, "--height", help="Figure height in pixels")
_SCALE = typer.Option(1.0, "--scale", help="PNG resolution multiplier, e.g. 3 for print at 300 dpi")


@command(app, "swimmer")
def swimmer(
    output: Path = typer.Option(..., "--output", "-o", help="FILE.html, .png, .svg or .pdf"),
    origin: Literal["diagnosis", "first_dose", "reference", "randomisation", "randomization"] = typer.Option(
        "diagnosis", "--origin", help="Day 0: diagnosis, first dose, or the patient's reference date (randomisation)"
    ),
    sort: Literal["duration", "start", "id"] = typer.Option(
        "duration", "--sort", case_sensitive=False, help="Lane order"
    ),
    by: str | None = typer.Option(
        None, "--by", help="Group lanes by histology, fusion_partner, kinase_gene, sex, site or age_group"
    ),
    ae_min_grade: int = typer.Option(1, "--ae-min-grade", min=1, max=5, help="Mark AEs of this grade or more"),
    width: int | None = _WIDTH,
    height: int | None = _HEIGHT,
    scale: float = _SCALE,
    force: bool = force_option(),
    old_group_by: str | None = retired_option("--group-by"),
) -> None:
    """Swimmer plot: a lane per patient, drug and dose segments, responses, events and AEs, ongoing arrows."""
    from tkitrack.dashboards.swimmer import figure_swimmer
    from tkitrack.dashboards.tables import synthetic_note

    group_by = renamed(by, old_group_by, old="--group-by", new="--by")
    _check_output(output)
    _size_options(width, height, scale)
    sort = sort.lower()
    origin = {"randomisation": "reference", "randomization": "reference"}.get(origin, origin)
    if origin not in ("diagnosis", "first_dose", "reference"):
        raise fail(f"--origin must be diagnosis, first_dose or reference, got {origin!r}", 2)
    if sort not in ("duration", "start", "id"):
        raise fail(f"--sort must be duration, start or id, got {sort!r}", 2)
    cohort = derived()
    data = cohort.swimmer(origin=origin, ae_min_grade=ae_min_grade)
    if group_by is not None and group_by not in data.lanes.columns:
        raise fail(f"--by {group_by!r} is not a patient attribute; use histology, fusion_partner, "
                   "kinase_gene, sex, site or age_group", 2)  # fmt: skip
    notes = [n for n in [synthetic_note(cohort.patient_notes(), data.lanes["patient_id"])] if n]
    title = f"Treatment and follow-up from {_ORIGINS[origin]}"
    fig = figure_swimmer(data, sort=sort, group_by=group_by, title=title, footnotes=notes,
                         **({"width": width} if width else {}))  # fmt: skip
    _write(fig, output, width, height, scale, force=force)
    typer.echo(f"wrote {output} ({len(data.lanes)} patients, {len(fig.data)} traces)")


_ORIGINS = {"diagnosis": "diagnosis", "first_dose": "the first dose", "reference": "the reference date"}


@command(app, "plot")
def plot(
    kind: Kind = typer.Argument(..., help="The figure"),
    patient_id: str | None = patient_argument(False, "(timeline) the patient"),
    output: Path = typer.Option(..., "--output", "-o", help="FILE.html, .png, .svg or .pdf"),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="(km) OS, PFS, DOR, TOT, RFS_STOP; (cif) RELAPSE_AFTER_CR or RELAPSE_AFTER_STOP"
    ),
    by: str | None = typer.Option(None, "--by", help="(km, cif) group by a patient attribute"),
    landmarks: str = typer.Option("", "--landmarks", help="(km, cif) days marked with their estimate, e.g. 365"),
    width: int | None = _WIDTH,
    height: int | None = _HEIGHT,
    scale: float = _SCALE,
    force: bool = force_option(),
    old_patient: str | None = retired_option("--patient"),
) -> None:
    """Draw one figure: Kaplan-Meier (km), cumulative incidence (cif), waterfall, spider, AE summary, or timeline."""
    from tkitrack.dashboards.tables import synthetic_note

    patient = renamed(patient_id, old_patient, old="--patient", new="the argument PATIENT_ID (plot timeline P)")
    if patient is not None and kind != "timeline":
        raise fail(f"PATIENT_ID ({patient}) is for plot timeline only, not plot {kind}", 2)
    _check_output(output)
    _size_options(width, height, scale)
    frames = _frames()
    if kind in ("km", "cif"):
        from tkitrack.dashboards.cohort_report import figure_endpoint
        from tkitrack.outcomes.cohort import ENDPOINTS, GROUPINGS
        from tkitrack.outcomes.endpoints import COMPETING_ENDPOINTS

        code = (endpoint or ("PFS" if kind == "km" else "RELAPSE_AFTER_CR")).upper()
        allowed = tuple(ENDPOINTS) if kind == "km" else COMPETING_ENDPOINTS
        if code not in allowed:
            raise fail(f"plot {kind} --endpoint must be one of {', '.join(allowed)}, got {endpoint!r}", 2)
        if by is not None and by not in GROUPINGS:
            raise fail(f"--by must be one of {', '.join(GROUPINGS)}", 2)
        fig = figure_endpoint(frames, code, by=by, landmarks=parse_numbers(landmarks, "--landmarks"))
    elif kind in ("waterfall", "spider"):
        from tkitrack.dashboards.notes import excluded_note
        from tkitrack.dashboards.response import figure_spider, figure_waterfall
        from tkitrack.outcomes.cohort import derive_adam_from_records
        from tkitrack.outcomes.courses import derive_index_therapy
        from tkitrack.outcomes.tumour import (
            derive_best_percent_change,
            derive_best_response_from_adrs,
            derive_percent_change,
            derive_unmeasured,
        )

        treated = derive_index_therapy(frames["exposure"])["patient_id"]
        adrs = derive_adam_from_records(frames)["adrs"]
        notes = excluded_note(derive_unmeasured(frames["assessment"], treated))
        notes += [n for n in [synthetic_note(frames["patient"], treated)] if n]
        legend = "Best overall response (confirmed)"
        if kind == "waterfall":
            best = derive_best_percent_change(frames["assessment"])
            best = derive_best_response_from_adrs(best[best["patient_id"].isin(treated)], adrs)
            fig = figure_waterfall(best, legend_title=legend, footnotes=notes)
        else:
            change = derive_percent_change(frames["assessment"])
            change = derive_best_response_from_adrs(change[change["patient_id"].isin(treated)], adrs)
            fig = figure_spider(change, legend_title=legend, footnotes=notes)
    elif kind == "ae":
        from tkitrack.dashboards.safety import figure_ae_summary
        from tkitrack.outcomes.safety import summarise_worst_grade

        n = len(frames["patient"])
        notes = [f"Each patient counted once per term at the worst grade; bars are of all {n} patients."]
        notes += [x for x in [synthetic_note(frames["patient"])] if x]
        fig = figure_ae_summary(summarise_worst_grade(frames["ae"]), n_total=n, footnotes=notes)
    else:
        from tkitrack.dashboards.safety import figure_patient_timeline

        if patient is None:
            raise fail("plot timeline needs the patient: tkitrack plot timeline PATIENT_ID -o FILE", 2)
        fig = figure_patient_timeline(_swimmer_data(frames, "diagnosis", 1), patient)
    _write(fig, output, width, height, scale, force=force)
    typer.echo(f"wrote {output}")


def build_report(frames, output: Path, *, title: str, provenance: dict, force: bool = False,
                 index_drug: str | None = None, derived=None) -> Path:  # fmt: skip
    """Validate, derive and write the cohort report for these frames (shared by `report` and `demo`)."""
    from tkitrack.dashboards.cohort_report import write_cohort_report

    return write_cohort_report(frames, output, title=title, provenance=provenance, force=force, index_drug=index_drug,
                               derived=derived)  # fmt: skip


def _data_version(engine) -> tuple[int, str]:
    """The audit chain head: every change moves it, so it names the exact data a report was made from."""
    from tkitrack.schemas.audit import chain_head
    from tkitrack.schemas.storage import transaction

    with transaction(engine) as session:
        return chain_head(session)


@command(app, "report")
def report(
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML file to write"),
    title: str = typer.Option("tkitrack cohort report", "--title", help="Report title"),
    index_drug: str | None = index_drug_option(),
    cutoff: str | None = cutoff_option(),
    force: bool = force_option(),
) -> None:
    """Write the self-contained offline HTML report: cohort, response, swimmer, survival, stopping, AEs, validation."""
    from tkitrack.schemas.storage import current_revision, redact_url

    if output.suffix.lower() != ".html":
        raise fail(f"-o {output}: the report is an .html file", 2)
    from tkitrack.schemas.outputs import check_outputs

    check_outputs([output], force=force)  # before the work: an existing report is refused at once
    engine = open_db()
    head = _data_version(engine)  # read first: the data are this version or newer (a write moves it forward)
    cohort = derived(cutoff, index_drug)  # the records are read only for what is not derived yet
    provenance = {"database": redact_url(str(engine.url)), "schema revision": current_revision(engine),
                  "data version": "empty" if not head[0] else f"audit entry {head[0]}, hash {head[1]}",
                  "patients": len(cohort.patient_notes())}  # fmt: skip
    if cutoff is not None:
        provenance["data cut-off"] = cutoff
    if index_drug is not None:
        provenance["index therapy"] = index_drug
    path = build_report(
        None, output, title=title, provenance=provenance, force=force, index_drug=index_drug, derived=cohort
    )
    typer.echo(f"wrote {shown_path(path)}; open it in a browser (it works offline)")
    publish_head(engine, head, f"report {output}")
