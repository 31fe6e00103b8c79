"""The one CSV writer of every export (records, SDTM, ADaM): UTF-8, ``\\n`` line ends, no index, ISO dates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["write_csv"]


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write ``frame`` as CSV: UTF-8, one header row, ``\\n`` line ends, no index, dates as YYYY-MM-DD."""
    frame.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d")
