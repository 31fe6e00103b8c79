"""The one dashboards module that writes files: self-contained HTML reports and static figure images.

An HTML report holds plotly.js once, inlined (no CDN, no network: it opens on an isolated hospital network): the
smallest bundle that draws every figure (:func:`tkitrack.dashboards.compact.plotly_bundle`), then each section's
heading, text, tables and figures, and a footer with the provenance of the data and the tool versions. Figures
carry their hover details as indices into tables of distinct strings (:mod:`tkitrack.dashboards.compact`), and a
listing longer than :data:`MAX_LISTING_ROWS` rows shows its first rows and says where the rest is, so that a
registry's report stays a file a browser opens. Static PNG/SVG/PDF images go through
:func:`tkitrack.dashboards.images.render_images`, which starts Chromium once for any number of images.
"""

from __future__ import annotations

import html
import importlib.metadata
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly
import plotly.graph_objects as go

from tkitrack.dashboards.compact import UNPACK_JS, PackedFigure, figure_html, plotly_bundle, standalone_html
from tkitrack.dashboards.images import IMAGE_FORMATS, render_images
from tkitrack.dashboards.pubtable import PubTable
from tkitrack.dashboards.response import figure_spider, figure_waterfall
from tkitrack.dashboards.safety import figure_ae_summary
from tkitrack.dashboards.survival import figure_cif, figure_km
from tkitrack.dashboards.swimmer import figure_swimmer
from tkitrack.outcomes.swimmer import SwimmerData
from tkitrack.schemas.csv_out import write_csv
from tkitrack.schemas.errors import InputError
from tkitrack.schemas.outputs import check_outputs, open_output, write_bytes, write_text

__all__ = [
    "MAX_LISTING_ROWS",
    "TABLE_FORMATS",
    "Section",
    "build_report_sections",
    "tool_versions",
    "write_figure",
    "write_figures",
    "write_report",
    "write_table",
]

#: Rows of a table shown in the HTML report; longer listings show these and say how many more there are.
MAX_LISTING_ROWS = 200
#: File formats of :func:`write_table`.
TABLE_FORMATS: tuple[str, ...] = ("html", "csv", "docx")

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1180px;
       color: #222; line-height: 1.45; padding: 0 1rem; }
h1 { border-bottom: 2px solid #0072B2; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; color: #0072B2; }
nav ol { columns: 2; }
.tk-table { max-width: 100%; margin: 1rem 0; }
figure { margin: 1rem 0; }
figcaption, caption { font-size: .85rem; color: #555; text-align: left; caption-side: top; padding: .2rem 0; }
footer { margin-top: 3rem; border-top: 1px solid #ccc; font-size: .8rem; color: #555; }
footer dt { font-weight: 600; float: left; clear: left; width: 12rem; }
footer dd { margin-left: 12.5rem; }
"""


@dataclass
class Section:
    """One report section: a heading, paragraphs of text, tables and figures, rendered in that order.

    Attributes
    ----------
    heading : str
        Section title (also listed in the table of contents).
    text : str
        Plain text; blank lines separate paragraphs. Escaped, never interpreted as HTML.
    tables : list of PubTable, pandas.DataFrame or (caption, DataFrame) pairs
        Publication tables (great-tables HTML); a frame is shown with reader labels and values.
    figures : list of plotly.graph_objects.Figure, PackedFigure or (caption, figure) pairs
        Rendered as interactive plotly figures (a :class:`~tkitrack.dashboards.compact.PackedFigure` is one
        already packed, as a large report keeps them).
    """

    heading: str
    text: str = ""
    tables: list[PubTable | pd.DataFrame | tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[go.Figure | PackedFigure | tuple[str, go.Figure | PackedFigure]] = field(default_factory=list)


def tool_versions() -> dict[str, str]:
    """Versions of Python, tkitrack and the libraries behind the numbers and figures."""
    versions = {"python": platform.python_version()}
    for name in ("tkitrack", "pandas", "numpy", "scipy", "lifelines", "plotly"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    versions["plotly.js"] = plotly.offline.get_plotlyjs_version()
    return versions


def _captioned(item: object) -> tuple[str, object]:
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
        return item[0], item[1]
    return "", item


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    return "\n".join(f"<p>{html.escape(b).replace(chr(10), '<br>')}</p>" for b in blocks)


def _table(caption: str, table: PubTable | pd.DataFrame) -> str:
    """A publication table's HTML; a plain frame is first put in reader form (labels, no NaN/True/``.0``)."""
    if not isinstance(table, PubTable):
        from tkitrack.dashboards.labels import present_frame

        slug = re.sub(r"[^a-z0-9]+", "-", caption.lower()).strip("-") or "table"
        table = PubTable.from_frame(slug[:40], caption, present_frame(table))
    n = len(table.rows)
    if n > MAX_LISTING_ROWS:
        from dataclasses import replace

        note = (f"The report shows the first {MAX_LISTING_ROWS:,} of {n:,} rows; the command line lists every row "
                "(`tkitrack stopping`, `tkitrack safety`, `--format json`).")  # fmt: skip
        table = replace(table, rows=table.rows.head(MAX_LISTING_ROWS), footnotes=[*table.footnotes, note])
    return f'<div class="tk-table">{table.to_html()}</div>'


def _section_html(number: int, section: Section) -> str:
    parts = [
        f'<section id="s{number}">',
        f"<h2>{number}. {html.escape(section.heading)}</h2>",
        _paragraphs(section.text),
    ]
    for item in section.tables:
        caption, frame = _captioned(item) if not isinstance(item, PubTable) else ("", item)
        parts.append(_table(caption, frame))  # type: ignore[arg-type]

    for k, item in enumerate(section.figures, start=1):
        caption, fig = _captioned(item)
        div = figure_html(fig, f"fig-s{number}-{k}", {"displaylogo": False, "responsive": True})  # type: ignore[arg-type]
        figcaption = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        parts.append(f'<figure class="tk-figure">{figcaption}{div}</figure>')
    parts.append("</section>")
    return "\n".join(parts)


def write_report(
    sections: Sequence[Section],
    path: str | Path,
    *,
    title: str,
    provenance: Mapping[str, object],
    force: bool = False,
) -> Path:
    """Write one self-contained, offline HTML report (an existing file is replaced only with ``force``).

    Parameters
    ----------
    sections : sequence of Section
        The report body, in order.
    path : str or pathlib.Path
        Output file; parent folders are created.
    title : str
        Report title.
    provenance : mapping
        What the report rests on (database, data cut-off, sample data version, command line...), shown in the
        footer above the tool versions.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<li><a href="#s{i}">{html.escape(s.heading)}</a></li>' for i, s in enumerate(sections, 1))
    bundle, plotly_js = plotly_bundle([_captioned(f)[1] for s in sections for f in s.figures])  # type: ignore[misc]
    facts = {
        **{str(k): str(v) for k, v in provenance.items()},
        "generated": generated,
        **{f"version: {k}": v for k, v in tool_versions().items()},
        "figures drawn with": bundle,
    }
    footer = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts.items())
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script type="text/javascript">{plotly_js}</script>\n'
        f'<script type="text/javascript">{UNPACK_JS}</script>\n</head>\n<body>\n'
        f"<h1>{html.escape(title)}</h1>\n<nav><ol>{toc}</ol></nav>\n"
    )
    with open_output(path, force=force) as fh:  # a section's HTML at a time: a registry's page is never held whole
        fh.write(head)
        for i, section in enumerate(sections, 1):
            fh.write(("\n" if i > 1 else "") + _section_html(i, section))
        fh.write(f"\n<footer><h3>Provenance</h3><dl>{footer}</dl></footer>\n</body>\n</html>\n")
    return path


def write_figures(
    items: Sequence[tuple[go.Figure, str | Path]],
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float = 1.0,
    browser: str | Path | None = None,
    force: bool = False,
) -> list[Path]:
    """Write several figures, each format chosen by its file suffix; Chromium starts once for all images.

    ``.html`` files are written without a browser, packed as the report's figures are (plotly.js inlined:
    :func:`tkitrack.dashboards.compact.standalone_html`); ``.png``, ``.svg``, ``.pdf``, ``.jpeg``
    and ``.webp`` are rendered by kaleido with the system Chromium. Raises ConfigError when an image is
    asked for and no browser is found, InputError for an unknown suffix or (without ``force``) a file that exists.
    """
    paths = [Path(p) for _, p in items]
    suffixes = [p.suffix.lower().lstrip(".").replace("jpg", "jpeg") for p in paths]
    unknown = [p.name for p, s in zip(paths, suffixes, strict=True) if s != "html" and s not in IMAGE_FORMATS]
    if unknown:
        raise InputError(
            f"cannot tell the figure format of {', '.join(unknown)} from its suffix; use .html, "
            + ", ".join(f".{f}" for f in IMAGE_FORMATS)
            + "."
        )
    check_outputs(paths, force=force)  # before Chromium starts: an existing file is refused at once
    images = [(fig, p, s) for (fig, _), p, s in zip(items, paths, suffixes, strict=True) if s != "html"]
    rendered = (
        render_images(
            [f for f, _, _ in images],
            [s for _, _, s in images],
            width=width,
            height=height,
            scale=scale,
            browser=browser,
        )
        if images
        else []
    )
    for (_, p, _), data in zip(images, rendered, strict=True):
        write_bytes(p, data, force=force)
    for (fig, _), p, s in zip(items, paths, suffixes, strict=True):
        if s == "html":
            write_text(p, standalone_html(fig), force=force)
    return paths


def write_figure(fig: go.Figure, path: str | Path, **options: object) -> Path:
    """Write one figure as html, png, svg, pdf, jpeg or webp according to the suffix of ``path``.

    Options (``width``, ``height``, ``scale``, ``browser``, ``force``) are those of :func:`write_figures`.
    """
    return write_figures([(fig, path)], **options)[0]  # type: ignore[arg-type]


def write_table(table: PubTable, folder: str | Path, formats: Sequence[str] = TABLE_FORMATS) -> list[Path]:
    """Write a publication table as ``<folder>/<name>.html`` (a page of its own), ``.csv`` and ``.docx``.

    The CSV holds the title, one row per table row (columns under their full headings) and the footnotes as
    trailing "Note" rows; the DOCX is a Word document with the table and its footnotes (landscape when wide).
    """
    unknown = [f for f in formats if f not in TABLE_FORMATS]
    if unknown:
        raise InputError(f"table format(s) {', '.join(unknown)} not known; use {', '.join(TABLE_FORMATS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = folder / f"{table.name}.{fmt}"
        if fmt == "html":
            page = (
                '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                f"<title>{html.escape(table.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
                f"{table.to_html()}\n</body>\n</html>\n"
            )
            path.write_text(page, encoding="utf-8")
        elif fmt == "csv":
            write_csv(table.to_csv_frame(), path)
        else:
            table.to_docx().save(str(path))
        written.append(path)
    return written


def _curve_table(curves: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for name, f in curves.items():
        first = f.sort_values("time", kind="stable").iloc[0]
        n = int(first["n_risk"]) if "n_risk" in f.columns else None
        events = int(f["n_event"].sum()) if "n_event" in f.columns else None
        rows.append(
            {
                "group": name,
                "patients": n,
                "events": events,
                "censored": int(f["n_censor"].sum()) if "n_censor" in f.columns else None,
            }
        )
    return pd.DataFrame(rows)


def build_report_sections(
    *,
    swimmer: SwimmerData | None = None,
    swimmer_group_by: str | None = None,
    best_change: pd.DataFrame | None = None,
    assessment_changes: pd.DataFrame | None = None,
    ae_incidence: pd.DataFrame | None = None,
    ae_n_total: int | None = None,
    km_curves: Mapping[str, Mapping[str, pd.DataFrame]] | None = None,
    cif_curves: Mapping[str, Mapping[str, pd.DataFrame]] | None = None,
) -> list[Section]:
    """Report sections for the figures of this package, from already derived data; absent inputs are skipped.

    Parameters
    ----------
    swimmer : SwimmerData, optional
        Gives a "Treatment and follow-up" section with the swimmer plot.
    swimmer_group_by : str, optional
        Lane column to group the swimmer plot by.
    best_change, assessment_changes : pandas.DataFrame, optional
        Waterfall (``patient_id, best_pct_change, best_response``) and spider (``patient_id, day, pct_change``)
        data: a "Tumour response" section with a count table by best response.
    ae_incidence : pandas.DataFrame, optional
        ``term, grade, n_patients`` (worst grade per patient and term): an "Adverse events" section.
    ae_n_total : int, optional
        Safety population size for percentages.
    km_curves, cif_curves : mapping of endpoint title to {group: curve frame}, optional
        One section per endpoint with the curve figure and a table of patients, events and censored.

    Returns
    -------
    list of Section
        In the order swimmer, response, time-to-event, cumulative incidence, adverse events.
    """
    sections: list[Section] = []
    if swimmer is not None:
        lanes = swimmer.lanes
        text = (
            f"{len(lanes)} patients; {int(lanes['ongoing_treatment'].sum())} still on treatment, "
            f"{int((~lanes['alive']).sum())} died. Each lane runs from the "
            f"{swimmer.origin.replace('_', ' ')} (day 0) to the last contact; hover for details."
        )
        sections.append(
            Section("Treatment and follow-up", text, figures=[figure_swimmer(swimmer, group_by=swimmer_group_by)])
        )
    if best_change is not None or assessment_changes is not None:
        figures: list = []
        tables: list = []
        text = "Change in the target-lesion sum of diameters from baseline (RECIST 1.1 lines at -30% and +20%)."
        if best_change is not None:
            counts = best_change["best_response"].astype("string").fillna("MISSING").value_counts()
            tables.append(
                (
                    "Patients by best response (unconfirmed)",
                    counts.rename_axis("best response").reset_index(name="patients"),
                )
            )
            figures.append(figure_waterfall(best_change))
        if assessment_changes is not None:
            figures.append(figure_spider(assessment_changes))
        sections.append(Section("Tumour response", text, tables=tables, figures=figures))
    for heading, curves in (km_curves or {}).items():
        sections.append(
            Section(
                heading,
                "Kaplan-Meier estimate with 95% pointwise confidence band; the numbers "
                "at risk are given at the x-axis ticks.",
                tables=[_curve_table(curves)],
                figures=[figure_km(curves, medians=True, title=heading)],
            )
        )
    for heading, curves in (cif_curves or {}).items():
        sections.append(
            Section(
                heading,
                "Aalen-Johansen cumulative incidence; competing events are not treated as censoring.",
                figures=[figure_cif(curves, title=heading)],
            )
        )
    if ae_incidence is not None:
        sections.append(
            Section(
                "Adverse events",
                "Patients per CTCAE term, each counted once at the worst grade they had.",
                tables=[ae_incidence],
                figures=[figure_ae_summary(ae_incidence, n_total=ae_n_total)],
            )
        )
    return sections
