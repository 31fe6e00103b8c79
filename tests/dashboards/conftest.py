"""Record frames for the table and report tests: the published cases with a small synthetic cohort, typed as the
store reads them (parse_records), without a database."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pandas as pd
import pytest

from tkitrack.sample_data.generate import generate_cohort
from tkitrack.sample_data.published import read_published
from tkitrack.schemas.frames import concat_frames
from tkitrack.schemas.parse import parse_records


def typed_cohort(n_synthetic: int = 24, seed: int = 5) -> dict[str, pd.DataFrame]:
    """The 7 published cases plus ``n_synthetic`` generated patients, parsed into typed record frames."""
    published = read_published()
    synthetic = generate_cohort(n_synthetic, seed=seed) if n_synthetic else {}
    frames = {}
    for record in published.keys() | synthetic.keys():
        raw = concat_frames([f for f in (published.get(record), synthetic.get(record)) if f is not None])
        typed, problems = parse_records(record, raw)
        assert problems.empty, problems.to_string()
        frames[record] = typed
    return frames


@pytest.fixture(scope="session")
def cohort_frames() -> dict[str, pd.DataFrame]:
    return typed_cohort()


#: Anywhere in what a reader sees: frame artefacts, snake_case codes, raw histology codes.
RAW_ANYWHERE = re.compile(r"\bNaT\b|<NA>|\bnan\b|\bNaN\b|\b[a-z]+_[a-z_]+\b|ALK_IFS_LIKE|IFS_CCMN|NTRK_SCN")
#: A whole cell that is a raw value: None/True/False, a float count like "182.0", an unrounded "80.597015".
RAW_CELL = re.compile(r"^(None|True|False|-?\d+\.0|.*\d+\.\d{4,}.*)$")


def find_raw_artefacts(cells, prose=()) -> list[str]:
    """Every raw artefact in table ``cells`` and in ``prose`` (titles, headers, notes); empty when clean."""
    found = [c for c in map(str, cells) if RAW_CELL.match(c.strip())]
    for text in [*map(str, cells), *map(str, prose)]:
        found += RAW_ANYWHERE.findall(text)
    return found


@pytest.fixture(scope="session")
def raw_artefacts():
    return find_raw_artefacts


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]  # fmt: skip


class _Chromium:
    """Pages opened in Debian's headless Chromium through Playwright (the browser tests' one way in)."""

    @staticmethod
    @contextlib.contextmanager
    def open(path: Path, figure: str = "fig-s1-1"):
        """``with chromium.open(path, div) as (page, errors):`` the written page once figure ``div`` is drawn;
        ``errors`` collects the page's uncaught errors (test them after the block)."""
        from playwright.sync_api import sync_playwright

        errors: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(path.as_uri())
                page.wait_for_function(f"document.querySelector('#{figure} svg.main-svg') !== null", timeout=60000)
                yield page, errors
            finally:
                browser.close()

    @staticmethod
    def hover_label(page, figure: str) -> list[str]:
        """The lines of the hover label figure ``div`` shows now."""
        return page.evaluate(f"[...document.querySelectorAll('#{figure} .hoverlayer .hovertext text.nums tspan.line')]"
                             ".map(t => t.textContent)")  # fmt: skip


@pytest.fixture(scope="session")
def chromium() -> _Chromium:
    return _Chromium()
