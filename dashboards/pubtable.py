"""A publication table as data plus presentation, rendered the same way to HTML, DOCX, CSV and the terminal.

A :class:`PubTable` holds what a reader sees and nothing else: a title, column labels (grouped under spanners),
rows (stub label, optional row group) of ready text, and footnotes (methods, exclusions, synthetic patients).
Rendering is one function per format: great-tables for HTML (the report and the web pages), python-docx for
Word, a flat frame for CSV and rich. Writing files is :func:`tkitrack.dashboards.report.write_table`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Column", "PubTable"]

_HTML_CSS = """
#{id} table {{ table-layout: auto; }}
#{id} td, #{id} th {{ white-space: normal; overflow-wrap: break-word; hyphens: auto; }}
#{id} .gt_stub {{ min-width: 11rem; }}
#{id} .gt_col_heading {{ vertical-align: bottom; }}
"""


@dataclass(frozen=True)
class Column:
    """One data column: its key in :attr:`PubTable.rows`, the label a reader sees, and an optional spanner."""

    key: str
    label: str
    spanner: str = ""


@dataclass
class PubTable:
    """A table ready for a journal.

    Attributes
    ----------
    name : str
        Short name (``table1``, ``response``...): file names and HTML ids.
    title : str
        Numbered caption, e.g. "Table 1. Patient and disease characteristics".
    stub : str
        Heading of the row-label column.
    columns : list of Column
        Data columns in order.
    rows : pandas.DataFrame
        ``group`` (row group, "" for none), ``label`` (row label), then one text column per :class:`Column`.
    footnotes : list of str
        Methods, definitions and exclusions, in reading order.
    """

    name: str
    title: str
    stub: str
    columns: list[Column]
    rows: pd.DataFrame
    footnotes: list[str] = field(default_factory=list)

    @classmethod
    def from_frame(cls, name: str, title: str, frame: pd.DataFrame, footnotes: list[str] | None = None) -> PubTable:
        """A table from a frame already in reader text (:func:`tkitrack.dashboards.labels.present_frame`): its
        first column is the row label, the others the data columns under their names."""
        labels = [str(c) for c in frame.columns]
        rows = pd.DataFrame({"group": "", "label": frame.iloc[:, 0].astype(str).to_numpy()})
        columns = []
        for i, label in enumerate(labels[1:]):
            rows[f"c{i}"] = frame.iloc[:, i + 1].astype(str).to_numpy()
            columns.append(Column(f"c{i}", label))
        return cls(name, title, labels[0], columns, rows, list(footnotes or []))

    def cache_parts(self) -> tuple[dict[str, pd.DataFrame], dict]:
        """(frames, JSON values) that :meth:`from_cache_parts` reads back: how the derived-data cache keeps it."""
        meta = {"name": self.name, "title": self.title, "stub": self.stub, "footnotes": list(self.footnotes),
                "columns": [[c.key, c.label, c.spanner] for c in self.columns]}  # fmt: skip
        return {"rows": self.rows}, meta

    @classmethod
    def from_cache_parts(cls, frames: dict[str, pd.DataFrame], meta: dict) -> PubTable:
        """The table :meth:`cache_parts` gave."""
        columns = [Column(*c) for c in meta["columns"]]
        return cls(meta["name"], meta["title"], meta["stub"], columns, frames["rows"], list(meta["footnotes"]))

    def __post_init__(self) -> None:

        missing = [c.key for c in self.columns if c.key not in self.rows.columns]
        if missing or not {"group", "label"} <= set(self.rows.columns):
            raise ValueError(f"table {self.name}: rows lack columns {missing or ['group', 'label']}")

    # ---- flat: CSV and terminal ----------------------------------------------------------------------------

    def header(self, column: Column) -> str:
        """A column's full heading on one line: ``By drug: crizotinib (N=46)``."""
        return f"{column.spanner}: {column.label}" if column.spanner else column.label

    def to_frame(self) -> pd.DataFrame:
        """One row per table row: row group, label, then each column under its full heading (all text)."""
        out = pd.DataFrame({"Section": self.rows["group"].astype(str), self.stub or "": self.rows["label"].astype(str)})
        for c in self.columns:
            out[self.header(c)] = self.rows[c.key].fillna("").astype(str).to_numpy()
        if not out["Section"].str.len().any():
            out = out.drop(columns="Section")
        return out.reset_index(drop=True)

    def to_csv_frame(self) -> pd.DataFrame:
        """:meth:`to_frame` with the title as the first row's note and the footnotes as trailing "Note" rows."""
        body = self.to_frame()
        first = body.columns[0]
        notes = pd.DataFrame({first: ["Note"] * len(self.footnotes), body.columns[1]: self.footnotes})
        title = pd.DataFrame({first: ["Title"], body.columns[1]: [self.title]})
        return pd.concat([title, body, notes], ignore_index=True).fillna("")

    # ---- HTML (great-tables) -------------------------------------------------------------------------------

    def to_gt(self):
        """The table as a great-tables ``GT`` object (title, spanners, row groups, footnotes as source notes)."""
        import great_tables as gt

        data = self.rows[["group", "label", *[c.key for c in self.columns]]].copy()
        grouped = bool(data["group"].astype(str).str.len().any())
        table = gt.GT(data, rowname_col="label", groupname_col="group" if grouped else None)
        if not grouped:
            table = table.cols_hide("group")
        table = table.tab_header(title=self.title).tab_stubhead(label=self.stub)
        table = table.cols_label(**{c.key: c.label for c in self.columns})
        for spanner in dict.fromkeys(c.spanner for c in self.columns if c.spanner):
            table = table.tab_spanner(label=spanner, columns=[c.key for c in self.columns if c.spanner == spanner])
        for note in self.footnotes:
            table = table.tab_source_note(note)
        table = table.cols_align("left", columns=[c.key for c in self.columns])
        return table.with_id(f"tk-{self.name}").tab_options(
            table_width="100%",
            table_font_size="13px",
            heading_align="left",
            heading_title_font_size="15px",
            column_labels_font_weight="bold",
            data_row_padding="3px",
            source_notes_font_size="12px",
            row_group_font_weight="bold",
        )

    def to_html(self) -> str:
        """An HTML fragment (great-tables' markup and scoped CSS) that wraps to the page width."""
        fragment = self.to_gt().as_raw_html()
        return fragment.replace("</style>", _HTML_CSS.format(id=f"tk-{self.name}") + "</style>", 1)

    # ---- DOCX (python-docx) --------------------------------------------------------------------------------

    def to_docx(self, document=None):
        """Append the table to a python-docx ``Document`` (a new one by default) and return the document.

        Title in bold, a header row (and a spanner row above it when there are spanners), row groups as bold
        full-width rows, 9-point text, footnotes as small paragraphs below; landscape pages for wide tables.
        """
        from docx import Document
        from docx.enum.section import WD_ORIENT
        from docx.shared import Pt

        doc = document if document is not None else Document()
        if len(self.columns) > 5:
            section = doc.sections[-1]
            if section.orientation != WD_ORIENT.LANDSCAPE:
                section.orientation = WD_ORIENT.LANDSCAPE
                section.page_width, section.page_height = section.page_height, section.page_width
        title = doc.add_paragraph()
        title.add_run(self.title).bold = True
        spanned = any(c.spanner for c in self.columns)
        ncols = len(self.columns) + 1
        table = doc.add_table(rows=0, cols=ncols)
        table.style = "Table Grid"
        if spanned:
            cells = table.add_row().cells
            start = 1
            for spanner in _runs([c.spanner for c in self.columns]):
                label, width = spanner
                merged = cells[start].merge(cells[start + width - 1]) if width > 1 else cells[start]
                merged.text = label
                start += width
        head = table.add_row().cells
        head[0].text = self.stub
        for i, c in enumerate(self.columns, start=1):
            head[i].text = c.label
        for row in table.rows:
            for cell in row.cells:
                for run in (r for p in cell.paragraphs for r in p.runs):
                    run.bold = True
        group = None
        for r in self.rows.itertuples(index=False):
            values = r._asdict()
            if values["group"] and values["group"] != group:
                group = values["group"]
                cells = table.add_row().cells
                merged = cells[0].merge(cells[-1])
                merged.text = str(group)
                merged.paragraphs[0].runs[0].bold = True
            cells = table.add_row().cells
            cells[0].text = str(values["label"])
            for i, c in enumerate(self.columns, start=1):
                cells[i].text = "" if pd.isna(values[c.key]) else str(values[c.key])
        for row in table.rows:
            for cell in row.cells:
                for run in (r for p in cell.paragraphs for r in p.runs):
                    run.font.size = Pt(9)
        for note in self.footnotes:
            para = doc.add_paragraph()
            para.add_run(note).font.size = Pt(8)
        return doc


def _runs(values: list[str]) -> list[tuple[str, int]]:
    """Consecutive equal values as (value, count): the spanners over adjacent columns."""
    out: list[tuple[str, int]] = []
    for v in values:
        if out and out[-1][0] == v:
            out[-1] = (v, out[-1][1] + 1)
        else:
            out.append((v, 1))
    return out
