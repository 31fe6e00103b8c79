"""Tests for tkitrack.dashboards.images and the static export of report.write_figures: formats, one browser."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from tkitrack.dashboards import images
from tkitrack.dashboards.report import write_figure, write_figures
from tkitrack.schemas.errors import ConfigError, InputError


@pytest.fixture
def fig() -> go.Figure:
    return go.Figure(
        go.Scatter(x=[0, 1, 2], y=[1, 0.5, 0.25], mode="lines+markers"), layout={"width": 400, "height": 300}
    )


@pytest.fixture
def no_browser_anywhere(monkeypatch):
    for var in images.BROWSER_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(images, "BROWSER_NAMES", ("tkitrack-no-such-browser",))


def test_missing_browser_raises_config_error_naming_the_fix(no_browser_anywhere, fig, tmp_path):
    with pytest.raises(ConfigError, match=r"No Chromium found .*apt-get install chromium"):
        images.find_browser()
    with pytest.raises(ConfigError, match="apt-get install chromium"):
        write_figure(fig, tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()


def test_browser_env_pointing_nowhere(monkeypatch, tmp_path):
    monkeypatch.setenv("TKITRACK_CHROMIUM", str(tmp_path / "missing" / "chromium"))
    with pytest.raises(ConfigError, match=r"TKITRACK_CHROMIUM=.*not an executable"):
        images.find_browser()
    with pytest.raises(ConfigError, match="No Chromium executable at"):
        images.find_browser(tmp_path / "nothing")


def test_find_browser_from_env(monkeypatch, tmp_path):
    exe = tmp_path / "chromium"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.delenv("TKITRACK_CHROMIUM", raising=False)
    monkeypatch.setenv("BROWSER_PATH", str(exe))
    assert images.find_browser() == exe


def test_unknown_suffix_and_format(fig, tmp_path):
    with pytest.raises(InputError, match=r"f\.bmp from its suffix"):
        write_figure(fig, tmp_path / "f.bmp")
    with pytest.raises(InputError, match="format"):
        images.render_images([fig], ["tiff"])


@pytest.mark.browser
def test_static_export_png_svg_pdf_with_one_browser_start(fig, tmp_path, monkeypatch):
    import kaleido

    opened = []
    original = kaleido.Kaleido.open

    async def counting_open(self):
        opened.append(1)
        return await original(self)

    monkeypatch.setattr(kaleido.Kaleido, "open", counting_open)
    paths = write_figures(
        [(fig, tmp_path / "a.png"), (fig, tmp_path / "b.svg"), (fig, tmp_path / "c.pdf"), (fig, tmp_path / "d.html")]
    )
    assert [p.name for p in paths] == ["a.png", "b.svg", "c.pdf", "d.html"]
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "b.svg").read_bytes()[:400]
    assert (tmp_path / "c.pdf").read_bytes()[:5] == b"%PDF-"
    assert opened == [1]  # Chromium started once for the three images
