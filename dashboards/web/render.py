"""Jinja2 templates with autoescaping: every value is text, never markup."""

from __future__ import annotations

from importlib import resources

import jinja2
import numpy as np
import pandas as pd
from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

__all__ = ["make_templates", "page", "table_rows"]


def _cell(value: object) -> str:
    if value is None:
        return ""
    try:
        if pd.isna(value):  # type: ignore[arg-type]
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"  # as typed on the command line and in templates
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d")  # type: ignore[union-attr]
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def table_rows(frame: pd.DataFrame, columns: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """A frame as header and rows of text cells (escaped by the template, never here)."""
    cols = columns or [str(c) for c in frame.columns]
    return cols, [[_cell(v) for v in row] for row in frame[cols].itertuples(index=False)]


def make_templates() -> Jinja2Templates:
    """The templates shipped in the package, autoescaped whatever their file name."""
    folder = resources.files("tkitrack.dashboards.web").joinpath("templates")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters["cell"] = _cell
    return Jinja2Templates(env=env)


def page(request: Request, template: str, context: dict | None = None, *, status: int = 200) -> HTMLResponse:
    """Render a template with the signed-in user (if any) and their CSRF token."""
    viewer = getattr(request.state, "viewer", None)
    base = {"viewer": viewer, "csrf": viewer.csrf if viewer is not None else ""}
    return request.app.state.templates.TemplateResponse(request, template, base | (context or {}), status_code=status)
