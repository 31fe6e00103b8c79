"""Static rendering of plotly figures to PNG/SVG/PDF bytes with kaleido 1.x and the system Chromium.

This module finds the browser and renders; it writes no files (:mod:`tkitrack.dashboards.report` does).
Kaleido 1.x drives Chromium through choreographer, which looks for a browser on ``PATH`` and in
``BROWSER_PATH``; tkitrack resolves the browser itself first (``TKITRACK_CHROMIUM``, ``BROWSER_PATH``, then the
usual names on ``PATH`` and ``/usr/bin``) and hands the path to kaleido, so that a missing browser is reported
as one clear :class:`~tkitrack.schemas.errors.ConfigError` instead of kaleido's download advice. Rendering
never touches the network: plotly.js comes from the installed plotly package and MathJax is switched off.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from tkitrack.schemas.errors import ConfigError, InputError

__all__ = ["BROWSER_ENV_VARS", "BROWSER_NAMES", "IMAGE_FORMATS", "find_browser", "render_images"]

#: Environment variables naming a Chromium executable, in order of precedence.
BROWSER_ENV_VARS: tuple[str, ...] = ("TKITRACK_CHROMIUM", "BROWSER_PATH")
#: Executable names looked up on PATH, then under /usr/bin.
BROWSER_NAMES: tuple[str, ...] = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
#: Static formats rendered by kaleido (html is written by the report module without a browser).
IMAGE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf", "jpeg", "webp")

_INSTALL_HINT = "install it with `apt-get install chromium` or set TKITRACK_CHROMIUM to its path"


def _is_executable(path: str | Path) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def find_browser(browser: str | Path | None = None) -> Path:
    """Locate the Chromium executable used for static images.

    Parameters
    ----------
    browser : str or pathlib.Path, optional
        An explicit executable; when given, nothing else is tried.

    Returns
    -------
    pathlib.Path
        The first executable among ``browser``, ``$TKITRACK_CHROMIUM``, ``$BROWSER_PATH``, and
        :data:`BROWSER_NAMES` on ``PATH`` or under ``/usr/bin``.

    Raises
    ------
    ConfigError
        No executable browser was found; the message names what was tried and how to install one.
    """
    if browser is not None:
        if _is_executable(browser):
            return Path(browser)
        raise ConfigError(f"No Chromium executable at {str(browser)!r} for static images; {_INSTALL_HINT}.")
    for var in BROWSER_ENV_VARS:
        value = os.environ.get(var)
        if value:
            if _is_executable(value):
                return Path(value)
            raise ConfigError(f"{var}={value!r} is not an executable Chromium for static images; {_INSTALL_HINT}.")
    for name in BROWSER_NAMES:
        found = shutil.which(name) or (f"/usr/bin/{name}" if _is_executable(f"/usr/bin/{name}") else None)
        if found:
            return Path(found)
    raise ConfigError(
        f"No Chromium found for static images (tried {', '.join(BROWSER_ENV_VARS)} and "
        f"{', '.join(BROWSER_NAMES)} on PATH); {_INSTALL_HINT}."
    )


async def _render_all(specs: list[dict[str, Any]], browser: Path, timeout: float) -> list[bytes]:
    import kaleido  # heavy: imported only when an image is wanted

    async with kaleido.Kaleido(n=1, timeout=timeout, path=str(browser), mathjax=False) as k:
        return [await k.calc_fig(spec["fig"], opts=spec["opts"]) for spec in specs]


def _run_in_thread(coroutine: Any) -> Any:
    """Run a coroutine to completion on a fresh event loop in a worker thread (safe inside Jupyter too)."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="tkitrack-kaleido", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def render_images(
    figures: Sequence[go.Figure | dict],
    formats: Sequence[str] | str = "png",
    *,
    width: int | None = None,
    height: int | None = None,
    scale: float = 1.0,
    browser: str | Path | None = None,
    timeout: float = 90.0,
) -> list[bytes]:
    """Render figures to image bytes, starting Chromium once for all of them.

    Parameters
    ----------
    figures : sequence of plotly.graph_objects.Figure or dict
        The figures.
    formats : str or sequence of str
        One of :data:`IMAGE_FORMATS` for all figures, or one per figure.
    width, height : int, optional
        Pixel size; default the figure's layout size, else 1100 x 700.
    scale : float
        Resolution multiplier for raster formats.
    browser : str or pathlib.Path, optional
        Chromium executable; default :func:`find_browser`.
    timeout : float
        Seconds allowed per image.

    Returns
    -------
    list of bytes
        One encoded image per figure, in order.

    Raises
    ------
    ConfigError
        No browser found, or the browser could not render.
    InputError
        An unknown format.
    """
    formats = [formats] * len(figures) if isinstance(formats, str) else list(formats)
    if len(formats) != len(figures):
        raise InputError(f"{len(figures)} figures but {len(formats)} formats; give one format or one per figure.")
    bad = sorted({f for f in formats if f.lower() not in IMAGE_FORMATS})
    if bad:
        raise InputError(f"image format(s) {', '.join(bad)} not supported; use one of {', '.join(IMAGE_FORMATS)}.")
    exe = find_browser(browser)
    specs = []
    for fig, fmt in zip(figures, formats, strict=True):
        spec = fig.to_dict() if hasattr(fig, "to_dict") else dict(fig)
        layout = spec.get("layout", {})
        opts = {
            "format": fmt.lower(),
            "scale": scale,
            "width": width or layout.get("width") or 1100,
            "height": height or layout.get("height") or 700,
        }
        specs.append({"fig": spec, "opts": opts})
    if not specs:
        return []
    try:
        return list(_run_in_thread(_render_all(specs, exe, timeout)))
    except (OSError, RuntimeError, TimeoutError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(
            f"Chromium at {str(exe)!r} could not render the images ({type(exc).__name__}: {exc}); check that it "
            f"starts (`{exe} --headless --version`) or {_INSTALL_HINT}."
        ) from exc
