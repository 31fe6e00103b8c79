"""`tkitrack swimmer / plot / report` write the files they name, from the database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture
def filled(sqlite_url, run_cli):
    assert run_cli(sqlite_url, "import", str(SAMPLE / "published")).exit_code == 0
    return lambda *args: run_cli(sqlite_url, *args)


def test_swimmer_html_and_bad_options(filled, tmp_path):
    out = tmp_path / "s.html"
    result = filled("swimmer", "-o", str(out), "--by", "fusion_partner", "--sort", "id")
    assert result.exit_code == 0, result.output
    assert re.search(r"\((\d+) patients, (\d+) traces\)", result.stdout).group(1) == "3"  # 3 have a diagnosis date
    assert "plotly" in out.read_text()[:5_000_000]
    again = filled("swimmer", "-o", str(out), "--origin", "randomisation", "--sort", "ID")
    assert again.exit_code == 2 and "already exist" in again.stderr and "--force" in again.stderr  # no overwrite
    assert filled("swimmer", "-o", str(out), "--origin", "randomisation", "--sort", "ID", "--force").exit_code == 0
    assert filled("swimmer", "-o", str(tmp_path / "s.gif")).exit_code == 2
    assert filled("swimmer", "-o", str(out), "--sort", "colour", "--force").exit_code == 2
    assert filled("swimmer", "-o", str(out), "--by", "eye_colour", "--force").exit_code == 2
    old = filled("swimmer", "-o", str(out), "--group-by", "histology", "--force")  # retired, one release more
    assert old.exit_code == 0, old.output
    assert "warning: --group-by is deprecated and will be removed in the next release; use --by" in old.stderr


@pytest.mark.browser
def test_swimmer_png_uses_the_system_browser(filled, tmp_path):
    out = tmp_path / "s.png"
    assert filled("swimmer", "-o", str(out)).exit_code == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    import struct

    return struct.unpack(">II", path.read_bytes()[16:24])


@pytest.mark.browser
def test_png_at_a_chosen_size_and_scale(filled, tmp_path):
    # --width/--height set the pixels of the figure, --scale multiplies them (print resolution)
    out = tmp_path / "km.png"
    result = filled("plot", "km", "-o", str(out), "--endpoint", "OS", "--width", "1000", "--height", "600",
                    "--scale", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert _png_size(out) == (2000, 1200)
    swim = tmp_path / "s.png"
    assert filled("swimmer", "-o", str(swim), "--width", "800", "--scale", "1.5").exit_code == 0
    assert _png_size(swim)[0] == 1200


def test_size_options_are_checked(filled, tmp_path):
    out = tmp_path / "km.html"
    bad = filled("plot", "km", "-o", str(out), "--width", "20")
    assert bad.exit_code == 2 and "--width and --height are pixels between 100 and 10000" in bad.stderr
    bad = filled("plot", "km", "-o", str(out), "--scale", "0")
    assert bad.exit_code == 2 and "--scale" in bad.stderr
    ok = filled("plot", "km", "-o", str(out), "--width", "700", "--height", "450")
    assert ok.exit_code == 0 and '"width":700' in out.read_text().replace(" ", "")


def test_plot_km_titles_name_the_endpoint_and_its_origin(filled, tmp_path):
    out = tmp_path / "dor.html"
    assert filled("plot", "km", "-o", str(out), "--endpoint", "DOR").exit_code == 0
    text = out.read_text()
    assert "Duration of response from the first response (CR or PR)" in text
    assert "days from the first dose" not in text.lower()
    assert filled("plot", "km", "-o", str(out), "--endpoint", "RELAPSE_AFTER_CR").exit_code == 2
    cif = tmp_path / "cif.html"
    assert filled("plot", "cif", "-o", str(cif), "--endpoint", "RELAPSE_AFTER_STOP").exit_code == 0
    assert "Cumulative incidence of relapse from stopping the index therapy in complete response" in cif.read_text()


@pytest.mark.parametrize("kind", ["km", "cif", "waterfall", "spider", "ae"])
def test_plot_kinds(filled, tmp_path, kind):
    out = tmp_path / f"{kind}.html"
    result = filled("plot", kind, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000


def test_plot_timeline_needs_a_known_patient(filled, tmp_path):
    out = tmp_path / "t.html"
    assert filled("plot", "timeline", "LETTER-IMT-1", "-o", str(out)).exit_code == 0
    assert filled("plot", "timeline", "-o", str(out)).exit_code == 2
    unknown = filled("plot", "timeline", "NOPE", "-o", str(out))
    assert unknown.exit_code == 1 and "NOPE" in unknown.stderr
    old = filled("plot", "timeline", "-o", str(out), "--patient", "LETTER-IMT-1", "--force")
    assert old.exit_code == 0 and "warning: --patient is deprecated" in old.stderr
    not_for_km = filled("plot", "km", "LETTER-IMT-1", "-o", str(tmp_path / "km.html"))
    assert not_for_km.exit_code == 2 and "PATIENT_ID (LETTER-IMT-1) is for plot timeline only" in not_for_km.stderr
    assert filled("plot", "pie", "-o", str(out)).exit_code == 2


def test_report_is_one_offline_file_with_every_section(filled, tmp_path):
    out = tmp_path / "r.html"
    result = filled("report", "-o", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text()
    for heading in (
        "Cohort",
        "Response",
        "Treatment and follow-up",
        "Time-to-event endpoints",
        "Progression-free survival from the first dose of the index therapy",
        "Stopping the inhibitor after complete response",
        "Adverse events",
        "Data validation",
    ):
        assert f">{heading}" in html or heading in html, heading
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js is inlined: no network
    assert "version: tkitrack" in html
    assert re.search(r"audit entry \d+, hash [0-9a-f]{16}", html)  # the data version
    assert "Drug exposure" in html


def test_static_image_without_a_browser_is_one_clear_line(filled, tmp_path, monkeypatch):
    monkeypatch.setenv("TKITRACK_CHROMIUM", str(tmp_path / "no-such-chromium"))
    result = filled("swimmer", "-o", str(tmp_path / "s.png"))
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert "no-such-chromium" in line and "apt-get install chromium" in line
    assert not (tmp_path / "s.png").exists()
