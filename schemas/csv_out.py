"""The one CSV writer of every export (records, SDTM, ADaM): UTF-8, ``\\n`` line ends, no index, ISO dates.

Kept as the name the CDISC writers and tables import; the writing is :func:`tkitrack.schemas.outputs.write_csv`
(formula cells neutralised as OWASP recommends, never through a symlink, nothing half-written).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tkitrack.schemas.outputs import write_csv as _write_csv

__all__ = ["write_csv"]


def write_csv(frame: pd.DataFrame, path: str | Path, *, force: bool = True) -> None:
    """Write ``frame`` as CSV: UTF-8, one header row, ``\\n`` line ends, no index, dates as YYYY-MM-DD.

    ``force`` (default: replace, as these callers write into folders they checked or created) is passed to
    :func:`tkitrack.schemas.outputs.open_output`.
    """
    _write_csv(frame, path, force=force)
