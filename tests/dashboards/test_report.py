"""Tests for tkitrack.dashboards.report: one offline HTML file, sections, provenance, rendering in Chromium."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from tkitrack.dashboards.compact import plotly_bundle
from tkitrack.dashboards.report import Section, build_report_sections, write_figure, write_report


def _sibling(name: str):
    """Load a sibling test module by path (its data builders), whatever pytest's import mode."""
    spec = importlib.util.spec_from_file_location(
        f"_tkitrack_dashboards_{name}", Path(__file__).with_name(f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


km_curves = _sibling("test_survival").km_curves
make_swimmer = _sibling("test_swimmer").make_swimmer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _sections() -> list[Section]:
    best = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P3"],
            "best_pct_change": [-100.0, -40.0, 25.0],
            "best_response": ["CR", "PR", "PD"],
        }
    )
    changes = pd.DataFrame(
        {"patient_id": ["P1", "P1", "P2", "P2"], "day": [0, 60, 0, 50], "pct_change": [0.0, -100.0, 0.0, -40.0]}
    )
    incidence = pd.DataFrame({"term": ["Gait disturbance", "Nausea"], "grade": [2, 1], "n_patients": [1, 3]})
    sections = build_report_sections(
        swimmer=make_swimmer(12),
        swimmer_group_by="histology",
        best_change=best,
        assessment_changes=changes,
        ae_incidence=incidence,
        ae_n_total=14,
        km_curves={"Progression-free survival": km_curves()},
    )
    cohort = pd.DataFrame({"histology": ["IMT", "IFS-like <b>x</b>"], "patients": [8, 4]})
    return [
        Section(
            "Cohort",
            "Twelve patients.\n\nSecond paragraph <script>alert(1)</script>.",
            tables=[("Patients by histology", cohort)],
        ),
        *sections,
    ]


@pytest.fixture
def report(tmp_path) -> Path:
    return write_report(
        _sections(),
        tmp_path / "out" / "report.html",
        title="Cohort report",
        provenance={"database": "sqlite:///demo.db", "data cut-off": "2024-06-30"},
    )


def test_report_is_one_offline_file_with_plotly_inlined_once(report):
    text = report.read_text(encoding="utf-8")
    _, basic = plotly_bundle([])  # every figure of this report is scatter or bar: the basic bundle draws them
    assert text.count(basic) == 1 and text.count(f"plotly.js (basic - minified) v{get_plotlyjs_version()}") == 1
    assert get_plotlyjs() not in text
    rest = text.replace(basic, "")  # plotly.js itself mentions its CDN in config defaults
    assert "<script src=" not in rest and "cdn.plot.ly" not in rest and "mathjax" not in rest.lower()
    assert not re.search(r"""(src|href)=["']https?://""", rest)


def test_report_sections_tables_figures_and_footer(report):
    text = report.read_text(encoding="utf-8")
    headings = re.findall(r"<h2>(.*?)</h2>", text)
    assert headings == [
        "1. Cohort",
        "2. Treatment and follow-up",
        "3. Tumour response",
        "4. Progression-free survival",
        "5. Adverse events",
    ]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "IFS-like &lt;b&gt;x&lt;/b&gt;" in text
    # a plain frame given to a section is shown as a reader table (great-tables), with its caption as title
    assert "Patients by histology" in text and 'id="tk-patients-by-histology"' in text

    assert len(re.findall(r'<div id="fig-s\d+-\d+"', text)) == 5  # swimmer, waterfall, spider, KM, AE
    assert "data cut-off" in text and "2024-06-30" in text and "version: plotly" in text


def test_write_figure_html_without_browser(tmp_path):
    path = write_figure(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), tmp_path / "f.html")
    assert "<script src=" not in path.read_text(encoding="utf-8").replace(get_plotlyjs(), "")


@pytest.mark.browser
def test_report_renders_in_chromium(report, tmp_path):
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: errors.append(f"network: {r.url}") if r.url.startswith("http") else None)
            page.goto(report.as_uri())
            page.wait_for_function("document.querySelectorAll('div[id^=fig-] svg.main-svg').length > 0")
            ids = page.eval_on_selector_all("div[id^=fig-]", "els => els.map(e => e.id)")
            assert len(ids) == 5
            for div in ids:
                page.wait_for_selector(f"#{div} svg.main-svg", state="attached", timeout=15000)
            rendered = page.eval_on_selector_all(
                "div[id^=fig-]", "els => els.map(e => e.querySelectorAll('svg.main-svg').length)"
            )
            assert all(n >= 1 for n in rendered)
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
