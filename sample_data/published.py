"""The published cases of the seeds (letter, Ouyang 2025, Tan 2022) as template-format record frames."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from tkitrack.schemas.models import RECORD_MODELS
from tkitrack.schemas.outputs import check_outputs, write_csv
from tkitrack.schemas.templates import read_template

__all__ = ["PUBLISHED_PATIENTS", "read_published", "read_template_dir", "write_template_dir"]

#: Patient ids of the published cases, in the order of the README.
PUBLISHED_PATIENTS: tuple[str, ...] = (
    "LETTER-IMT-1",
    "OUYANG-2025-1",
    "OUYANG-2025-2",
    "TAN-2022-1",
    "TAN-2022-2",
    "TAN-2022-3",
    "TAN-2022-4",
)


def read_template_dir(folder: str) -> dict[str, pd.DataFrame]:
    """Read the ``<record>.csv`` template files of a package-data folder of ``tkitrack.sample_data``.

    Parameters
    ----------
    folder : str
        Folder inside the ``tkitrack.sample_data`` package (``"published"`` or ``"broken"``).

    Returns
    -------
    dict of str to pandas.DataFrame
        Record type -> frame of text cells (``""`` = missing), for the record files present.

    Examples
    --------
    >>> frames = read_template_dir("published")
    >>> sorted(frames)[:3]
    ['ae', 'assessment', 'disease_event']
    """
    root = resources.files("tkitrack.sample_data").joinpath(folder)
    with resources.as_file(root) as path:
        raws, _ = read_template(path)
    return raws


def read_published() -> dict[str, pd.DataFrame]:
    """The published cases as template-format text frames, one per record type.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``patient``, ``molecular``, ``ihc``, ``exposure``, ``ae``, ``assessment``, ``procedure``,
        ``disease_event``, ``followup``; columns are a subset of
        :func:`tkitrack.schemas.frames.input_columns`, every cell text, ``""`` = missing. Where a paper gives
        intervals but no dates, the dates were built from the intervals and the ``note`` column says so
        (see ``sample_data/published/README.md``).

    Examples
    --------
    >>> frames = read_published()
    >>> frames["patient"]["patient_id"].tolist()[:2]
    ['LETTER-IMT-1', 'OUYANG-2025-1']
    """
    return read_template_dir("published")


def write_template_dir(frames: dict[str, pd.DataFrame], directory: str | Path, *, force: bool = False) -> list[Path]:
    """Write record frames as template files ``<record>.csv`` (UTF-8, ``""`` = missing); return the paths.

    Parameters
    ----------
    frames : dict of str to pandas.DataFrame
        Record type -> template-format frame (for example from :func:`tkitrack.sample_data.generate.generate_cohort`).
    directory : str or pathlib.Path
        Folder to write into; created when missing. Existing record files are refused (all named, nothing
        written) unless ``force``.

    Returns
    -------
    list of pathlib.Path
        The files written, in record order.
    """
    folder = Path(directory)
    written = [folder / f"{record}.csv" for record in RECORD_MODELS if record in frames]
    check_outputs(written, force=force)
    for path in written:
        write_csv(frames[path.stem], path, force=force)
    return written
