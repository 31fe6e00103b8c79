"""The tkitrack web application (``tkitrack serve``): sign-in, roles, site isolation, patients and the cohort.

FastAPI with Jinja2 templates (autoescaped), htmx for partial updates and plotly.js for figures, all served from
the package (no CDN). :func:`~tkitrack.dashboards.web.app.create_app` is the app factory.
"""

from tkitrack.dashboards.web.app import create_app

__all__ = ["create_app"]
